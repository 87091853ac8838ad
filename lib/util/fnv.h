/*
 * fnv: the FNV-1a hash, 32 and 64 bits, for hash tables and change
 * fingerprints inside one process.
 *
 * Contract
 * --------
 * - fnv_32a and fnv_64a hash n bytes at p, continuing from h: begin with
 *   FNV_32A_INIT / FNV_64A_INIT, and pass one call's result to the next
 *   to hash several pieces as one.
 * - Not for anything an attacker must not steer: FNV has no key.  The
 *   tables that use it bound their chains or hash what the local system
 *   gave (queue IDs, user names), not what a remote peer sent.
 *
 * Hand-written: it is four lines, and no library on every target ships it.
 */
#ifndef CQ_FNV_H
#define CQ_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV_32A_INIT UINT32_C(2166136261)
#define FNV_64A_INIT UINT64_C(14695981039346656037)

uint32_t fnv_32a(uint32_t h, const void *p, size_t n);
uint64_t fnv_64a(uint64_t h, const void *p, size_t n);

#endif

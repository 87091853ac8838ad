/*
 * fnv.c: FNV-1a (fnv.h), with the primes of the FNV specification.
 */
#include "config.h"

#include "util/fnv.h"

uint32_t
fnv_32a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= UINT32_C(16777619);
	}
	return h;
}

uint64_t
fnv_64a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

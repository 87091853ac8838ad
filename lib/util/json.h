/*
 * json: strings for the JSON the programs print (the listings, the
 * checks' report, the statistics): the one escaper, so that every JSON
 * output of the project treats a hostile queue file's bytes alike.
 *
 * Contract
 * --------
 * json_string: fp gets s as a JSON string: '"' and '\\' escaped, control
 * characters and DEL as \u00XX, valid UTF-8 as it is, and each byte that
 * is not part of valid UTF-8 as \u00XX (its value: the reader sees
 * U+0080-U+00FF, and the bytes can be recovered; Postfix writes '?'
 * instead).  The output is always valid UTF-8 and valid JSON.
 * json_chars: the same without the quotes around it, for a string written
 * in pieces.
 */
#ifndef CQ_JSON_H
#define CQ_JSON_H

#include <stdio.h>

void json_string(FILE *fp, const char *s);
void json_chars(FILE *fp, const char *s);

#endif

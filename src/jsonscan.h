/*
 * jsonscan.h: raw JSON text: checks it strictly, finds the byte spans of
 * members and elements in text that has been checked, so that a value can
 * be kept exactly as the producer wrote it, and quotes strings.
 *
 * Pure: no I/O, no globals.  Thread-safe.
 */
#ifndef SLUICE_JSONSCAN_H
#define SLUICE_JSONSCAN_H

#include <stddef.h>

#include "xmalloc.h"

struct jsonscan {
	const char *p;	 /* next byte to read */
	const char *end; /* one past the last byte */
	int object;	 /* 1 inside an object, 0 inside an array */
};

/* Deepest nesting of arrays and objects jsonscan_validate accepts. */
#define JSONSCAN_MAX_DEPTH 512

/*
 * Checks that text is exactly one JSON value (RFC 8259: strict grammar,
 * UTF-8, escapes, surrogate pairs), whatever the size of its numbers.
 * Returns 0, or -1 with the offset of the token where it goes wrong (the
 * start of a bad string or number, or an unexpected byte) in *errpos;
 * -2 when valid so far but nested deeper than JSONSCAN_MAX_DEPTH (*errpos:
 * the bracket one level too deep).
 */
int jsonscan_validate(const char *text, size_t len, size_t *errpos)
    __attribute__((warn_unused_result));

/* Positions the scanner inside the object or array that text holds. */
int jsonscan_enter(struct jsonscan *, const char *text, size_t len)
    __attribute__((warn_unused_result));
/*
 * Reads the next member (objects: its decoded key goes into key) or element.
 * Returns 1 with *val and *vlen set to the value's raw span, 0 at the end,
 * -1 on malformed text.
 */
int jsonscan_next(struct jsonscan *, struct buf *key, const char **val,
    size_t *vlen) __attribute__((warn_unused_result));

/* Appends the text of the string literal raw (validated) to out. */
int jsonscan_unquote(const char *raw, size_t len, struct buf *out)
    __attribute__((warn_unused_result));

/*
 * Decodes the UTF-8 sequence at s (len bytes left): its length, and the
 * code point in *cp; 0 if it is not valid UTF-8 (overlong, surrogate...).
 */
size_t jsonscan_utf8_next(const unsigned char *s, size_t len, unsigned *cp);

/* Appends s as a JSON string literal, quotes included. */
void json_quote(struct buf *, const char *s, size_t len);

#endif

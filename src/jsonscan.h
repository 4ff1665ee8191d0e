/*
 * jsonscan.h: raw JSON text: finds the byte spans of members and elements
 * in text that has already been validated (by jansson), so that a value can
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

/* Appends s as a JSON string literal, quotes included. */
void json_quote(struct buf *, const char *s, size_t len);

#endif

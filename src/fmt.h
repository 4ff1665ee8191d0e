/*
 * fmt.h: how identifiers and times are written in the API: message ids as
 * 13-character Crockford base32 (time-ordered, sortable as text) and times
 * as RFC 3339 UTC with milliseconds; and how %HH is read.
 *
 * Pure: thread-safe.
 */
#ifndef SLUICE_FMT_H
#define SLUICE_FMT_H

#include <stdint.h>

#define FMT_MSG_LEN 14	/* 13 characters and a NUL */
#define FMT_TIME_LEN 64

void fmt_msg(int64_t msg, char out[FMT_MSG_LEN]);
/* Returns 0 and the id, or -1 if s is not a message id. */
int fmt_msg_parse(const char *s, int64_t *msg)
    __attribute__((warn_unused_result));
/* qsort/bsearch order of message ids (int64_t) */
int fmt_msg_cmp(const void *a, const void *b);
void fmt_time(int64_t ms, char out[FMT_TIME_LEN]);
/* The current time, ms since the epoch. */
int64_t fmt_now_ms(void);
/* The value of a hex digit (either case), or -1 if c is not one. */
int fmt_hex_digit(int c);

#endif

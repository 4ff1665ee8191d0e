/*
 * xmalloc.h: allocation that aborts on out-of-memory, and a growable byte
 * buffer with a size cap.
 *
 * Thread-safe: no shared state.
 */
#ifndef SLUICE_XMALLOC_H
#define SLUICE_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
void *xmemdup(const void *, size_t);
char *xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));

/* A byte buffer that grows up to cap bytes (0: no cap); always NUL-ended. */
struct buf {
	char *data;  /* the bytes, NUL-terminated; NULL until first append */
	size_t len;  /* bytes used, not counting the terminator */
	size_t size; /* bytes allocated */
	size_t cap;  /* most bytes it may hold, 0 for no limit */
};

void buf_init(struct buf *, size_t cap);
/* Appends; returns -1 (and appends nothing) if the cap would be passed. */
int buf_add(struct buf *, const void *, size_t)
    __attribute__((warn_unused_result));
void buf_addstr(struct buf *, const char *);
void buf_printf(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands over the bytes (caller frees); the buffer is empty afterwards. */
char *buf_take(struct buf *, size_t *lenp);
void buf_reset(struct buf *);
void buf_free(struct buf *);

#endif

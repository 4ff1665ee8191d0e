/*
 * filter.h: CloudEvents Subscriptions API filters (dialects exact, prefix,
 * suffix, all, any, not) compiled once per subscription and evaluated
 * against events.
 *
 * Pure: no I/O, no globals.  A compiled filter is immutable: any thread may
 * evaluate it.
 */
#ifndef SLUICE_FILTER_H
#define SLUICE_FILTER_H

#include <jansson.h>

#include "xmalloc.h"

struct cloudevent;
struct filter;

/*
 * Compiles a subscription's filters: a JSON array of filter expressions,
 * ANDed (NULL or [] match everything).  On error returns NULL with *field
 * set to where it is (e.g. "filters[1].any[0]") and *cause to why; both
 * the caller's to free.
 */
struct filter *filter_compile(json_t *filters, char **field, char **cause);
void filter_free(struct filter *);
/*
 * Evaluates; returns 1 on a match and, if why is given, appends which
 * clauses made it match (e.g. "exact type=order.created").
 */
int filter_match(const struct filter *, const struct cloudevent *,
    struct buf *why);

#endif

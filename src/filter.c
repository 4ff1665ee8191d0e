/*
 * filter.c: the CloudEvents Subscriptions API filter dialects.  A filter
 * list compiles to a tree once, when the subscription is loaded; matching
 * an event walks the tree with no allocation unless the caller asks why.
 *
 * exact, prefix and suffix take an object of attribute: non-empty string
 * (several properties must all hold); all and any take a non-empty array;
 * not takes one filter.  An attribute the event lacks never matches (so "not" of it
 * does).  Integer and boolean attributes compare by their text.
 *
 * Pure: no I/O, no globals.  Compiled trees are immutable.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "cloudevent.h"
#include "filter.h"
#include "xmalloc.h"

enum filter_op { F_EXACT, F_PREFIX, F_SUFFIX, F_ALL, F_ANY, F_NOT };

static const char *const filter_names[] = { "exact", "prefix", "suffix",
	"all", "any", "not" };

struct filter {
	enum filter_op op;
	char *attr;		/* exact, prefix, suffix */
	char *value;
	size_t value_len;
	struct filter **kids;	/* all, any (and not: one) */
	size_t nkids;
};

void
filter_free(struct filter *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->nkids; i++)
		filter_free(f->kids[i]);
	free(f->kids);
	free(f->attr);
	free(f->value);
	free(f);
}

static void
filter_add(struct filter *parent, struct filter *kid)
{
	parent->kids = xrealloc(parent->kids,
	    (parent->nkids + 1) * sizeof *parent->kids);
	parent->kids[parent->nkids++] = kid;
}

static struct filter *filter_expr(json_t *, const char *, char **, char **);

/* exact/prefix/suffix: {"attr": "value", ...}, ANDed when several. */
static struct filter *
filter_compare(enum filter_op op, json_t *obj, const char *path,
    char **field, char **cause)
{
	struct filter *all, *f;
	const char *name;
	json_t *v;

	if (!json_is_object(obj) || json_object_size(obj) == 0) {
		*field = xstrdup(path);
		*cause = xasprintf("%s needs an object of attribute: string",
		    filter_names[op]);
		return NULL;
	}
	all = xcalloc(1, sizeof *all);
	all->op = F_ALL;
	json_object_foreach(obj, name, v) {
		if (!cloudevent_valid_name(name) || !json_is_string(v) ||
		    json_string_length(v) == 0) {
			*field = xasprintf("%s.%s", path, name);
			*cause = xstrdup(!json_is_string(v) ?
			    "the value must be a string" :
			    !cloudevent_valid_name(name) ?
			    "not an attribute name (lower-case letters and "
			    "digits)" : "the value must not be empty");
			filter_free(all);
			return NULL;
		}
		f = xcalloc(1, sizeof *f);
		f->op = op;
		f->attr = xstrdup(name);
		f->value_len = json_string_length(v);
		f->value = xmemdup(json_string_value(v), f->value_len + 1);
		filter_add(all, f);
	}
	if (all->nkids == 1) {
		f = all->kids[0];
		all->nkids = 0;
		filter_free(all);
		return f;
	}
	return all;
}

/* A list of filters, for all, any and the top level. */
static struct filter *
filter_list(enum filter_op op, json_t *arr, const char *path, int may_be_empty,
    char **field, char **cause)
{
	struct filter *f, *kid;
	char *sub;
	size_t i;

	if (!json_is_array(arr) || (!may_be_empty && json_array_size(arr) == 0)) {
		*field = xstrdup(path);
		*cause = may_be_empty ? xstrdup("must be an array of filter "
		    "expressions") : xasprintf("%s needs a non-empty array of "
		    "filters", filter_names[op]);
		return NULL;
	}
	f = xcalloc(1, sizeof *f);
	f->op = op;
	for (i = 0; i < json_array_size(arr); i++) {
		sub = xasprintf("%s[%zu]", path, i);
		kid = filter_expr(json_array_get(arr, i), sub, field, cause);
		free(sub);
		if (kid == NULL) {
			filter_free(f);
			return NULL;
		}
		filter_add(f, kid);
	}
	return f;
}

/* One expression: an object with exactly one dialect member. */
static struct filter *
filter_expr(json_t *e, const char *path, char **field, char **cause)
{
	struct filter *f, *kid;
	const char *dialect = NULL;
	json_t *v = NULL;
	char *sub;
	size_t op;

	if (!json_is_object(e) || json_object_size(e) != 1) {
		*field = xstrdup(path);
		*cause = xstrdup("a filter is an object with one dialect: "
		    "exact, prefix, suffix, all, any or not");
		return NULL;
	}
	json_object_foreach(e, dialect, v)
		break;
	for (op = 0; op < sizeof filter_names / sizeof filter_names[0]; op++)
		if (strcmp(dialect, filter_names[op]) == 0)
			break;
	sub = xasprintf("%s.%s", path, dialect);
	switch (op) {
	case F_EXACT:
	case F_PREFIX:
	case F_SUFFIX:
		f = filter_compare((enum filter_op)op, v, sub, field, cause);
		break;
	case F_ALL:
	case F_ANY:
		f = filter_list((enum filter_op)op, v, sub, 0, field, cause);
		break;
	case F_NOT:
		if ((kid = filter_expr(v, sub, field, cause)) == NULL) {
			f = NULL;
			break;
		}
		f = xcalloc(1, sizeof *f);
		f->op = F_NOT;
		filter_add(f, kid);
		break;
	default:
		*field = xstrdup(sub);
		*cause = xasprintf("unknown filter dialect \"%s\" (exact, "
		    "prefix, suffix, all, any, not)", dialect);
		f = NULL;
		break;
	}
	free(sub);
	return f;
}

struct filter *
filter_compile(json_t *filters, char **field, char **cause)
{
	json_t *empty = NULL;
	struct filter *f;

	*field = *cause = NULL;
	if (filters == NULL || json_is_null(filters))
		filters = empty = json_array();
	f = filter_list(F_ALL, filters, "filters", 1, field, cause);
	json_decref(empty);
	return f;
}

static void
filter_why(const struct filter *f, struct buf *why)
{
	size_t i;

	switch (f->op) {
	case F_EXACT:
	case F_PREFIX:
	case F_SUFFIX:
		buf_printf(why, "%s %s=%s", filter_names[f->op], f->attr,
		    f->value);
		break;
	case F_NOT:
		buf_addstr(why, "not(");
		filter_why(f->kids[0], why);
		buf_addstr(why, ")");
		break;
	default:
		for (i = 0; i < f->nkids; i++) {
			if (i > 0)
				buf_addstr(why, f->op == F_ANY ? " or " :
				    " and ");
			filter_why(f->kids[i], why);
		}
		break;
	}
}

int
filter_match(const struct filter *f, const struct cloudevent *ev,
    struct buf *why)
{
	const char *v;
	size_t i, n;
	int m = 0;

	switch (f->op) {
	case F_EXACT:
	case F_PREFIX:
	case F_SUFFIX:
		if ((v = cloudevent_get(ev, f->attr)) == NULL)
			return 0;
		n = strlen(v);
		if (f->op == F_EXACT)
			m = n == f->value_len && memcmp(v, f->value, n) == 0;
		else if (n < f->value_len)
			m = 0;
		else if (f->op == F_PREFIX)
			m = memcmp(v, f->value, f->value_len) == 0;
		else
			m = memcmp(v + n - f->value_len, f->value,
			    f->value_len) == 0;
		break;
	case F_NOT:
		m = !filter_match(f->kids[0], ev, NULL);
		break;
	case F_ALL:
		for (i = 0, m = 1; i < f->nkids && m; i++)
			m = filter_match(f->kids[i], ev, NULL);
		if (m && f->nkids == 0 && why != NULL)
			buf_addstr(why, "no filters: every event");
		break;
	case F_ANY:
		for (i = 0, m = 0; i < f->nkids && !m; i++)
			if (filter_match(f->kids[i], ev, NULL)) {
				m = 1;
				if (why != NULL)
					filter_why(f->kids[i], why);
				return 1;
			}
		break;
	}
	if (m && why != NULL && f->op != F_ALL)
		filter_why(f, why);
	else if (m && why != NULL && f->nkids > 0) {
		for (i = 0; i < f->nkids; i++) {
			if (i > 0)
				buf_addstr(why, " and ");
			filter_match(f->kids[i], ev, why);
		}
	}
	return m;
}

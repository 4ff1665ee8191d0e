/*
 * cloudevent.c: CloudEvents 1.0.2 envelopes.  Parses the three HTTP binding
 * modes (binary, structured, batched), applies every validation rule of the
 * spec and its type system, and writes events back in the JSON format.
 * Stored events keep each attribute's original text and type and the data
 * bytes exactly as received, so what is read back is what was sent.
 *
 * Pure: no I/O, no clock, no globals, never logs.  Thread-safe.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cloudevent.h"
#include "fmt.h"
#include "jsonscan.h"

/* The attributes the spec defines, with the type each must have. */
enum ce_kind { K_STRING, K_URIREF, K_URI, K_TIME, K_MEDIA, K_SPEC };
static const struct {
	const char *name;
	enum ce_kind kind;
	int required;
} ce_known[] = {
	{ "specversion", K_SPEC, 1 },
	{ "id", K_STRING, 1 },
	{ "source", K_URIREF, 1 },
	{ "type", K_STRING, 1 },
	{ "datacontenttype", K_MEDIA, 0 },
	{ "dataschema", K_URI, 0 },
	{ "subject", K_STRING, 0 },
	{ "time", K_TIME, 0 },
};
#define CE_NKNOWN (sizeof ce_known / sizeof ce_known[0])

/* ---- validators ---------------------------------------------------- */

int
cloudevent_valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}


int
cloudevent_valid_utf8(const unsigned char *s, size_t len)
{
	unsigned cp;
	size_t n;

	while (len > 0) {
		if ((n = jsonscan_utf8_next(s, len, &cp)) == 0)
			return 0;
		s += n;
		len -= n;
	}
	return 1;
}

/* The type system's String: UTF-8 without controls or noncharacters. */
int
cloudevent_valid_string(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned cp;
	size_t n;

	while (len > 0) {
		if ((n = jsonscan_utf8_next(s, len, &cp)) == 0)
			return 0;
		if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f))
			return 0;
		if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
			return 0;
		s += n;
		len -= n;
	}
	return 1;
}

int
cloudevent_valid_uri_ref(const char *s)
{
	return *s != '\0' && cloudevent_valid_string(s, strlen(s));
}

/* An absolute URI: scheme ":" rest, no whitespace. */
int
cloudevent_valid_uri(const char *s)
{
	const char *p = s;

	if (!isalpha((unsigned char)*p))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' ||
	    *p == '.')
		p++;
	if (*p != ':')
		return 0;
	for (; *p != '\0'; p++)
		if (isspace((unsigned char)*p))
			return 0;
	return cloudevent_valid_string(s, strlen(s));
}

static int
ce_digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* RFC 3339 date-time, e.g. 2024-02-29T23:59:60.5+01:00. */
int
cloudevent_valid_timestamp(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	int y, mo, d, h, mi, sec, oh, om;

	if (strlen(s) < 20 || ce_digits(s, 4, &y) || s[4] != '-' ||
	    ce_digits(s + 5, 2, &mo) || s[7] != '-' ||
	    ce_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    ce_digits(s + 11, 2, &h) || s[13] != ':' ||
	    ce_digits(s + 14, 2, &mi) || s[16] != ':' ||
	    ce_digits(s + 17, 2, &sec))
		return 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return 0;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 0;
	s += 19;
	if (*s == '.') {
		if (!isdigit((unsigned char)s[1]))
			return 0;
		for (s++; isdigit((unsigned char)*s); s++)
			;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		return 1;
	if ((*s != '+' && *s != '-') || strlen(s) != 6 ||
	    ce_digits(s + 1, 2, &oh) || s[3] != ':' || ce_digits(s + 4, 2, &om))
		return 0;
	return oh <= 23 && om <= 59;
}

static int
ce_tchar(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *
ce_token(const char *p)
{
	const char *s = p;

	while (ce_tchar((unsigned char)*p))
		p++;
	return p > s ? p : NULL;
}

static const char *
ce_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* RFC 2046 / RFC 7231 media type: type/subtype *(; name=value). */
int
cloudevent_valid_media_type(const char *s)
{
	const char *p;

	if ((p = ce_token(s)) == NULL || *p != '/' ||
	    (p = ce_token(p + 1)) == NULL)
		return 0;
	for (;;) {
		p = ce_ows(p);
		if (*p == '\0')
			return 1;
		if (*p != ';')
			return 0;
		p = ce_ows(p + 1);
		if (*p == '\0')
			return 1;
		if ((p = ce_token(p)) == NULL || *p != '=')
			return 0;
		p++;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0' || (unsigned char)*p < 0x20)
					return 0;
				if (*p == '\\' && *++p == '\0')
					return 0;
			}
			p++;
		} else if ((p = ce_token(p)) == NULL)
			return 0;
	}
}

/* Compares the media type of ct (before any parameter) with want. */
static int
ce_media_eq(const char *ct, const char *want)
{
	size_t n = strlen(want);

	ct = ce_ows(ct);
	if (strncasecmp(ct, want, n) != 0)
		return 0;
	ct = ce_ows(ct + n);
	return *ct == '\0' || *ct == ';';
}

/*
 * JSON format 1.0.2 section 3.1.1: a media type is JSON when, stripped of
 * parameters, it is any type with the subtype "json" or a subtype ending
 * in "+json" (compared without regard to case).
 */
int
cloudevent_media_is_json(const char *ct)
{
	const char *end, *slash, *sub;
	size_t n;

	ct = ce_ows(ct);
	end = ct + strcspn(ct, ";");
	while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	slash = memchr(ct, '/', (size_t)(end - ct));
	if (slash == NULL || slash == ct)
		return 0;
	sub = slash + 1;
	n = (size_t)(end - sub);
	return (n == 4 && strncasecmp(sub, "json", 4) == 0) ||
	    (n >= 5 && strncasecmp(end - 5, "+json", 5) == 0);
}

static int
ce_media_is_text(const char *ct)
{
	const char *end;

	ct = ce_ows(ct);
	if (strncasecmp(ct, "text/", 5) == 0 ||
	    ce_media_eq(ct, "application/xml"))
		return 1;
	end = ct + strcspn(ct, ";");
	while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return end - ct > 4 && strncasecmp(end - 4, "+xml", 4) == 0;
}

enum ce_mode
cloudevent_mode(const char *ct)
{
	if (ct == NULL)
		return CE_MODE_BINARY;
	if (ce_media_eq(ct, "application/cloudevents-batch+json"))
		return CE_MODE_BATCH;
	if (ce_media_eq(ct, "application/cloudevents+json"))
		return CE_MODE_STRUCTURED;
	return CE_MODE_BINARY;
}

/* ---- problems ------------------------------------------------------ */

static void
ce_fault(struct ce_problem *pr, int index, const char *attr,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
ce_fault(struct ce_problem *pr, int index, const char *attr,
    const char *fmt, ...)
{
	struct ce_fault *f;
	va_list ap;

	if (pr->status == 0)
		pr->status = 400;
	if (pr->nfaults == CE_MAX_FAULTS)
		return;
	if (pr->faults == NULL)
		pr->faults = xcalloc(CE_MAX_FAULTS, sizeof *pr->faults);
	f = &pr->faults[pr->nfaults++];
	f->index = index;
	f->attribute = xstrdup(attr);
	va_start(ap, fmt);
	f->reason = xvasprintf(fmt, ap);
	va_end(ap);
}

void
ce_problem_free(struct ce_problem *pr)
{
	size_t i;

	for (i = 0; i < pr->nfaults; i++) {
		free(pr->faults[i].attribute);
		free(pr->faults[i].reason);
	}
	free(pr->faults);
	free(pr->title);
	memset(pr, 0, sizeof *pr);
}

/* ---- events -------------------------------------------------------- */

void
cloudevent_free(struct cloudevent *ev)
{
	size_t i;

	if (ev == NULL)
		return;
	for (i = 0; i < ev->nattrs; i++) {
		free(ev->attrs[i].name);
		free(ev->attrs[i].value);
	}
	free(ev->attrs);
	free(ev->data);
	free(ev);
}

void
ce_list_free(struct ce_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		cloudevent_free(l->ev[i]);
	free(l->ev);
	l->ev = NULL;
	l->n = 0;
}

const struct ce_attr *
cloudevent_attr(const struct cloudevent *ev, const char *name)
{
	size_t i;

	for (i = 0; i < ev->nattrs; i++)
		if (strcmp(ev->attrs[i].name, name) == 0)
			return &ev->attrs[i];
	return NULL;
}

const char *
cloudevent_get(const struct cloudevent *ev, const char *name)
{
	const struct ce_attr *a = cloudevent_attr(ev, name);

	return a != NULL ? a->value : NULL;
}

static void
ce_add(struct cloudevent *ev, const char *name, enum ce_value_type type,
    const char *value, size_t len)
{
	struct ce_attr *a;

	/* Capacity doubles at each power of two: no quadratic copying. */
	if ((ev->nattrs & (ev->nattrs - 1)) == 0)
		ev->attrs = xrealloc(ev->attrs, (ev->nattrs ? 2 * ev->nattrs :
		    1) * sizeof *ev->attrs);
	a = &ev->attrs[ev->nattrs++];
	a->name = xstrdup(name);
	a->type = type;
	a->value = xstrndup(value, len);
}

static int
ce_known_index(const char *name)
{
	size_t i;

	for (i = 0; i < CE_NKNOWN; i++)
		if (strcmp(ce_known[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Checks one string-carried attribute value against its type. */
static void
ce_check_value(struct ce_problem *pr, int index, const char *name,
    const char *v, size_t len)
{
	int k = ce_known_index(name);

	if (!cloudevent_valid_string(v, len)) {
		ce_fault(pr, index, name,
		    "not a valid string (UTF-8 without control characters)");
		return;
	}
	if (k < 0)
		return;
	if (strlen(v) != len) {
		ce_fault(pr, index, name, "contains a NUL character");
		return;
	}
	switch (ce_known[k].kind) {
	case K_STRING:
		if (len == 0)
			ce_fault(pr, index, name, "must not be empty");
		break;
	case K_URIREF:
		if (!cloudevent_valid_uri_ref(v))
			ce_fault(pr, index, name,
			    "must be a non-empty URI-reference");
		break;
	case K_URI:
		if (!cloudevent_valid_uri(v))
			ce_fault(pr, index, name,
			    "must be an absolute URI (scheme:...)");
		break;
	case K_TIME:
		if (!cloudevent_valid_timestamp(v))
			ce_fault(pr, index, name,
			    "must be an RFC 3339 timestamp");
		break;
	case K_MEDIA:
		if (!cloudevent_valid_media_type(v))
			ce_fault(pr, index, name,
			    "must be an RFC 2046 media type");
		break;
	case K_SPEC:
		if (strcmp(v, "1.0") == 0)
			break;
		if (strcmp(v, "0.3") == 0)
			ce_fault(pr, index, name,
			    "CloudEvents 0.3 is not supported: "
			    "send specversion \"1.0\"");
		else
			ce_fault(pr, index, name,
			    "unsupported specversion \"%.32s\": "
			    "must be \"1.0\"", v);
		break;
	}
}

static void
ce_check_required(struct ce_problem *pr, int index,
    const struct cloudevent *ev)
{
	size_t i;

	for (i = 0; i < CE_NKNOWN; i++)
		if (ce_known[i].required &&
		    cloudevent_attr(ev, ce_known[i].name) == NULL)
			ce_fault(pr, index, ce_known[i].name,
			    "required attribute is missing");
}

/* Moves the required attributes to the front, in the spec's order. */
static void
ce_order(struct cloudevent *ev)
{
	size_t i, j, pos = 0;
	struct ce_attr t;

	for (i = 0; i < CE_NKNOWN && ce_known[i].required; i++)
		for (j = pos; j < ev->nattrs; j++)
			if (strcmp(ev->attrs[j].name, ce_known[i].name) == 0) {
				t = ev->attrs[j];
				memmove(&ev->attrs[pos + 1], &ev->attrs[pos],
				    (j - pos) * sizeof t);
				ev->attrs[pos++] = t;
				break;
			}
}

static void
ce_set_data(struct cloudevent *ev, enum ce_data_kind kind, const void *p,
    size_t len)
{
	ev->kind = kind;
	ev->data = xmalloc(len + 1);
	if (len > 0)
		memcpy(ev->data, p, len);
	ev->data[len] = '\0';
	ev->data_len = len;
}

/* ---- binary mode --------------------------------------------------- */

/* Undoes a quoted-string (RFC 7230) if v is exactly one; returns length. */
static size_t
ce_unquote_header(const char *v, size_t n, char *q)
{
	size_t i, o = 0;

	if (n < 2 || v[0] != '"')
		goto literal;
	for (i = 1; i < n; i++) {
		if (v[i] == '\\' && i + 1 < n)
			q[o++] = v[++i];
		else if (v[i] == '"')
			break;
		else
			q[o++] = v[i];
	}
	if (i == n - 1)
		return o;
literal:
	memcpy(q, v, n);
	return n;
}

/* Undoes a quoted-string, then percent-decodes once (stray % stays). */
static char *
ce_header_decode(const char *v, size_t *lenp)
{
	size_t n = strlen(v), i, o = 0;
	char *q = xmalloc(n + 1), *out = xmalloc(n + 1);
	int hi, lo;

	n = ce_unquote_header(v, n, q);
	for (i = 0; i < n; i++) {
		if (q[i] == '%' && i + 2 < n &&
		    (hi = fmt_hex_digit((unsigned char)q[i + 1])) >= 0 &&
		    (lo = fmt_hex_digit((unsigned char)q[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[o++] = q[i];
	}
	out[o] = '\0';
	free(q);
	*lenp = o;
	return out;
}

static void
ce_binary_header(struct cloudevent *ev, struct ce_problem *pr,
    const struct ce_header *h)
{
	char *name, *v;
	size_t i, len;

	if (h->name[3] == '\0') {
		ce_fault(pr, -1, "headers", "header %.64s names no attribute",
		    h->name);
		return;
	}
	name = xstrdup(h->name + 3);
	for (i = 0; name[i] != '\0'; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	if (!cloudevent_valid_name(name) || strcmp(name, "data") == 0)
		ce_fault(pr, -1, name, "not a valid attribute name "
		    "(lower-case letters and digits only, not \"data\")");
	else if (strcmp(name, "datacontenttype") == 0)
		ce_fault(pr, -1, name, "in binary mode the Content-Type "
		    "header carries datacontenttype: drop ce-datacontenttype");
	else if (cloudevent_attr(ev, name) != NULL)
		ce_fault(pr, -1, name, "header ce-%s is repeated", name);
	else {
		v = ce_header_decode(h->value, &len);
		ce_check_value(pr, -1, name, v, len);
		ce_add(ev, name, CE_VALUE_STRING, v, len);
		free(v);
	}
	free(name);
}

static struct cloudevent *
ce_parse_binary(const char *ct, const struct ce_header *hdrs, size_t nh,
    const void *body, size_t len, struct ce_problem *pr)
{
	struct cloudevent *ev = xcalloc(1, sizeof *ev);
	size_t i, at;
	int r;

	for (i = 0; i < nh; i++)
		if (strncasecmp(hdrs[i].name, "ce-", 3) == 0)
			ce_binary_header(ev, pr, &hdrs[i]);
	if (ct != NULL) {
		ce_check_value(pr, -1, "datacontenttype", ct, strlen(ct));
		ce_add(ev, "datacontenttype", CE_VALUE_STRING, ct, strlen(ct));
	}
	ce_check_required(pr, -1, ev);
	if (len == 0 || pr->status != 0)
		goto done;
	if (ct != NULL && cloudevent_media_is_json(ct)) {
		if ((r = jsonscan_validate(body, len, &at)) == -2)
			ce_fault(pr, -1, "data", "JSON nested deeper than %d "
			    "levels (at byte %zu)", JSONSCAN_MAX_DEPTH, at);
		else if (r != 0)
			ce_fault(pr, -1, "data", "Content-Type is JSON but the "
			    "body is not JSON (at byte %zu)", at);
		else
			ce_set_data(ev, CE_DATA_JSON, body, len);
	} else if (ct != NULL && ce_media_is_text(ct) &&
	    memchr(body, '\0', len) == NULL &&
	    cloudevent_valid_utf8(body, len))
		ce_set_data(ev, CE_DATA_TEXT, body, len);
	else
		ce_set_data(ev, CE_DATA_BINARY, body, len);
done:
	ce_order(ev);
	return ev;
}

/* ---- structured mode ----------------------------------------------- */

/* An integer literal in the CloudEvents Integer range. */
static int
ce_int_literal(const char *p, size_t len)
{
	long long v = 0;
	size_t i = 0;

	if (len > 0 && p[0] == '-')
		i++;
	if (i == len || len - i > 10 || (p[i] == '0' && len - i > 1))
		return 0;
	for (; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	if (p[0] == '-')
		v = -v;
	return v >= -2147483648LL && v <= 2147483647LL;
}

/* Decodes a JSON string literal (checked text) into a fresh buffer. */
static void
ce_unquote(const char *raw, size_t len, struct buf *out)
{
	buf_init(out, 0);
	if (jsonscan_unquote(raw, len, out) != 0 || out->data == NULL)
		buf_addstr(out, "");
}

static void
ce_member(struct cloudevent *ev, struct ce_problem *pr, int index,
    const char *name, const char *raw, size_t rlen)
{
	struct buf s;

	if (!cloudevent_valid_name(name)) {
		ce_fault(pr, index, name[0] ? name : "\"\"", "not a valid "
		    "attribute name (lower-case letters and digits only)");
		return;
	}
	if (raw[0] == 'n')
		return;
	if (raw[0] == '"') {
		ce_unquote(raw, rlen, &s);
		ce_check_value(pr, index, name, s.data, s.len);
		ce_add(ev, name, CE_VALUE_STRING, s.data, s.len);
		buf_free(&s);
	} else if (ce_known_index(name) >= 0)
		ce_fault(pr, index, name, "must be a JSON string");
	else if (raw[0] == 't' || raw[0] == 'f')
		ce_add(ev, name, CE_VALUE_BOOLEAN, raw, rlen);
	else if (raw[0] == '-' || isdigit((unsigned char)raw[0])) {
		if (ce_int_literal(raw, rlen))
			ce_add(ev, name, CE_VALUE_INTEGER, raw, rlen);
		else
			ce_fault(pr, index, name, "an Integer attribute must "
			    "be a whole number from -2147483648 to "
			    "2147483647");
	} else
		ce_fault(pr, index, name, "must be a string, integer or "
		    "boolean");
}

/* The raw spans of the data and data_base64 members (NULL: absent). */
struct ce_raw_data {
	const char *data, *b64;
	size_t dlen, blen;
};

static void
ce_structured_data(struct cloudevent *ev, struct ce_problem *pr,
    int index, const struct ce_raw_data *rd)
{
	const char *ct = cloudevent_get(ev, "datacontenttype");
	const char *data = rd->data, *b64 = rd->b64;
	unsigned char *bytes;
	struct buf s;
	size_t n;

	/*
	 * JSON format 1.0.2 section 3.1.1: the data and data_base64 members
	 * are exclusive by presence, so a null in either counts; and
	 * "data": null is an explicit null payload, not an absent one.  It
	 * stays the JSON value null whatever datacontenttype says, as
	 * "data": 5 with text/plain does (3.1.2 lets a non-JSON type refuse
	 * non-string data; we keep it): only a JSON string can be text of a
	 * non-JSON type.  "data_base64": null holds no bytes: unset.
	 */
	if (data != NULL && b64 != NULL) {
		ce_fault(pr, index, "data_base64",
		    "data and data_base64 are mutually exclusive (both "
		    "members are present)");
		return;
	}
	if (b64 != NULL && b64[0] == 'n')
		b64 = NULL;
	if (b64 != NULL) {
		ce_unquote(b64, rd->blen, &s);
		if (b64[0] != '"' ||
		    cloudevent_base64_decode(s.data, s.len, &bytes, &n) != 0)
			ce_fault(pr, index, "data_base64",
			    "must be a base64 string (RFC 4648)");
		else {
			ce_set_data(ev, CE_DATA_BINARY, bytes, n);
			free(bytes);
		}
		buf_free(&s);
	} else if (data != NULL && data[0] == '"' && ct != NULL &&
	    !cloudevent_media_is_json(ct)) {
		ce_unquote(data, rd->dlen, &s);
		ce_set_data(ev, CE_DATA_TEXT, s.data, s.len);
		buf_free(&s);
	} else if (data != NULL)
		ce_set_data(ev, CE_DATA_JSON, data, rd->dlen);
}

static int
ce_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names each member that occurs more than once; sorts names. */
static void
ce_check_repeats(struct ce_problem *pr, int index, char **names, size_t n)
{
	size_t i;

	if (n < 2)
		return;
	qsort(names, n, sizeof *names, ce_strcmp_p);
	for (i = 1; i < n; i++)
		if (strcmp(names[i - 1], names[i]) == 0 &&
		    (i + 1 == n || strcmp(names[i], names[i + 1]) != 0))
			ce_fault(pr, index, names[i], "member is repeated");
}

/* Parses one structured event from its raw (checked) JSON text. */
static struct cloudevent *
ce_parse_object(const char *text, size_t len, int index,
    struct ce_problem *pr)
{
	struct cloudevent *ev = xcalloc(1, sizeof *ev);
	struct ce_raw_data rd = { NULL, NULL, 0, 0 };
	size_t vlen, i, nseen = 0, before = pr->nfaults;
	struct jsonscan s;
	const char *val, *name;
	struct buf key;
	char **seen = NULL;
	int r;

	buf_init(&key, 0);
	if (jsonscan_enter(&s, text, len) != 0 || !s.object) {
		ce_fault(pr, index, "body", "an event must be a JSON object");
		goto done;
	}
	while ((r = jsonscan_next(&s, &key, &val, &vlen)) == 1) {
		name = key.data != NULL ? key.data : "";
		if (strlen(name) != key.len) {
			ce_fault(pr, index, "body", "a member name contains "
			    "a NUL character");
			continue;
		}
		if ((nseen & (nseen - 1)) == 0)
			seen = xrealloc(seen, (nseen ? 2 * nseen : 1) *
			    sizeof *seen);
		seen[nseen++] = xstrdup(name);
		if (strcmp(name, "data") == 0) {
			rd.data = val;
			rd.dlen = vlen;
		} else if (strcmp(name, "data_base64") == 0) {
			rd.b64 = val;
			rd.blen = vlen;
		} else
			ce_member(ev, pr, index, name, val, vlen);
	}
	if (r < 0)
		ce_fault(pr, index, "body", "malformed JSON");
	ce_check_repeats(pr, index, seen, nseen);
	ce_check_required(pr, index, ev);
	if (pr->nfaults == before)
		ce_structured_data(ev, pr, index, &rd);
done:
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	buf_free(&key);
	ce_order(ev);
	return ev;
}

static void
ce_list_add(struct ce_list *out, struct cloudevent *ev)
{
	if ((out->n & (out->n - 1)) == 0)
		out->ev = xrealloc(out->ev, (out->n ? 2 * out->n : 1) *
		    sizeof *out->ev);
	out->ev[out->n++] = ev;
}

static void
ce_parse_json(enum ce_mode mode, const char *body, size_t len,
    struct ce_list *out, struct ce_problem *pr)
{
	struct jsonscan s;
	const char *val;
	size_t vlen, at;
	int r, i = 0;

	if ((r = jsonscan_validate(body, len, &at)) != 0) {
		if (r == -2)
			ce_fault(pr, -1, "body", "JSON nested deeper than %d "
			    "levels (at byte %zu)", JSONSCAN_MAX_DEPTH, at);
		else
			ce_fault(pr, -1, "body", "not valid JSON (at byte %zu)",
			    at);
		return;
	}
	if (mode == CE_MODE_STRUCTURED) {
		ce_list_add(out, ce_parse_object(body, len, -1, pr));
		return;
	}
	if (jsonscan_enter(&s, body, len) != 0 || s.object) {
		ce_fault(pr, -1, "body", "a batch must be a JSON array");
		return;
	}
	while ((r = jsonscan_next(&s, NULL, &val, &vlen)) == 1)
		ce_list_add(out, ce_parse_object(val, vlen, i++, pr));
	if (r < 0)
		ce_fault(pr, -1, "body", "malformed JSON");
}

int
cloudevent_parse_http(const char *ct, const struct ce_header *hdrs,
    size_t nh, const void *body, size_t len, struct ce_list *out,
    struct ce_problem *pr)
{
	enum ce_mode mode = cloudevent_mode(ct);
	size_t i;

	memset(out, 0, sizeof *out);
	memset(pr, 0, sizeof *pr);
	if (ct != NULL && strncasecmp(ce_ows(ct), "application/cloudevents",
	    23) == 0 && mode == CE_MODE_BINARY) {
		pr->status = 415;
		pr->title = xstrdup("Unsupported event format");
		ce_fault(pr, -1, "Content-Type", "only the JSON event format "
		    "(application/cloudevents+json) and JSON batches are "
		    "accepted");
		pr->status = 415;
		return -1;
	}
	if (mode == CE_MODE_BINARY) {
		for (i = 0; i < nh; i++)
			if (strcasecmp(hdrs[i].name, "ce-specversion") == 0)
				break;
		if (i == nh) {
			pr->status = 415;
			pr->title = xstrdup("Unsupported Media Type");
			ce_fault(pr, -1, "Content-Type", "expected "
			    "application/cloudevents+json, "
			    "application/cloudevents-batch+json, or a "
			    "binary-mode event with ce-specversion");
			pr->status = 415;
			return -1;
		}
		ce_list_add(out, ce_parse_binary(ct, hdrs, nh, body, len, pr));
	} else
		ce_parse_json(mode, body, len, out, pr);
	if (pr->status == 0)
		return 0;
	pr->title = xstrdup("Invalid CloudEvent");
	ce_list_free(out);
	return -1;
}

/* ---- output -------------------------------------------------------- */

/* Writes the data member, after the attributes (first: there are none). */
static void
ce_write_data(struct buf *out, enum ce_data_kind kind, const void *data,
    size_t len, int first)
{
	char *b64;

	if (kind == CE_DATA_NONE)
		return;
	if (!first)
		buf_addstr(out, ",");
	switch (kind) {
	case CE_DATA_JSON:
		buf_addstr(out, "\"data\":");
		if (buf_add(out, data, len) != 0)
			return;
		break;
	case CE_DATA_TEXT:
		buf_addstr(out, "\"data\":");
		json_quote(out, (const char *)data, len);
		break;
	default:
		b64 = cloudevent_base64_encode(data, len);
		buf_addstr(out, "\"data_base64\":\"");
		buf_addstr(out, b64);
		buf_addstr(out, "\"");
		free(b64);
		break;
	}
}

int
cloudevent_write_stored(const struct ce_stored *st, struct buf *out)
{
	size_t n = strlen(st->attrs);

	if (n < 2 || st->attrs[0] != '{' || st->attrs[n - 1] != '}')
		return -1;
	if (buf_add(out, st->attrs, n - 1) != 0)
		return -1;
	ce_write_data(out, st->kind, st->data, st->len, n == 2);
	buf_addstr(out, "}");
	return 0;
}

void
cloudevent_write_json(const struct cloudevent *ev, int with_data,
    struct buf *out)
{
	const struct ce_attr *a;
	size_t i;

	buf_addstr(out, "{");
	for (i = 0; i < ev->nattrs; i++) {
		a = &ev->attrs[i];
		if (i > 0)
			buf_addstr(out, ",");
		json_quote(out, a->name, strlen(a->name));
		buf_addstr(out, ":");
		if (a->type == CE_VALUE_STRING)
			json_quote(out, a->value, strlen(a->value));
		else
			buf_addstr(out, a->value);
	}
	if (with_data)
		ce_write_data(out, ev->kind, ev->data, ev->data_len,
		    ev->nattrs == 0);
	buf_addstr(out, "}");
}

struct cloudevent *
cloudevent_from_stored(const char *attrs_json, enum ce_data_kind kind,
    const void *data, size_t len)
{
	size_t n = strlen(attrs_json), vlen;
	struct cloudevent *ev;
	struct jsonscan s;
	struct buf key, str;
	const char *val;
	int r;

	if (jsonscan_validate(attrs_json, n, NULL) != 0 ||
	    jsonscan_enter(&s, attrs_json, n) != 0 || !s.object)
		return NULL;
	ev = xcalloc(1, sizeof *ev);
	buf_init(&key, 0);
	while ((r = jsonscan_next(&s, &key, &val, &vlen)) == 1) {
		if (key.data == NULL || strcmp(key.data, "data") == 0 ||
		    strcmp(key.data, "data_base64") == 0)
			continue;
		if (val[0] == '"') {
			ce_unquote(val, vlen, &str);
			ce_add(ev, key.data, CE_VALUE_STRING, str.data, str.len);
			buf_free(&str);
		} else if (val[0] == 't' || val[0] == 'f')
			ce_add(ev, key.data, CE_VALUE_BOOLEAN, val, vlen);
		else if (val[0] == '-' || isdigit((unsigned char)val[0]))
			ce_add(ev, key.data, CE_VALUE_INTEGER, val, vlen);
	}
	buf_free(&key);
	if (r < 0) {
		cloudevent_free(ev);
		return NULL;
	}
	if (kind != CE_DATA_NONE)
		ce_set_data(ev, kind, data, len);
	return ev;
}

/* ---- base64 -------------------------------------------------------- */

static const char ce_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
cloudevent_base64_encode(const void *src, size_t len)
{
	const unsigned char *s = src;
	char *out = xmalloc(4 * ((len + 2) / 3) + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*o++ = ce_b64[s[i] >> 2];
		*o++ = ce_b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		*o++ = ce_b64[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		*o++ = ce_b64[s[i + 2] & 63];
	}
	if (i < len) {
		*o++ = ce_b64[s[i] >> 2];
		if (i + 1 < len) {
			*o++ = ce_b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
			*o++ = ce_b64[(s[i + 1] & 15) << 2];
		} else {
			*o++ = ce_b64[(s[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

int
cloudevent_base64_decode(const char *s, size_t len, unsigned char **outp,
    size_t *outlen)
{
	unsigned char *out;
	unsigned v = 0;
	size_t i, o = 0, pad = 0, bits = 0;
	const char *c;

	if (len % 4 != 0)
		return -1;
	out = xmalloc(len / 4 * 3 + 1);
	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			if (i + 2 < len || (++pad == 2 && s[len - 1] != '='))
				goto fail;
			continue;
		}
		if (pad > 0 || s[i] == '\0' ||
		    (c = strchr(ce_b64, s[i])) == NULL)
			goto fail;
		v = (v << 6) | (unsigned)(c - ce_b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	*outp = out;
	*outlen = o;
	return 0;
fail:
	free(out);
	return -1;
}

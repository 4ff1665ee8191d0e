/*
 * soapxml.c: CloudEvents in the XML format (working draft xml-format.md of
 * cloudevents/spec) inside SOAP envelopes, ce- header encoding for the HTTP
 * binary mode, and SOAP Fault detection in responses.
 *
 * The XML is written by hand, escaped, never parsed back: every attribute
 * value comes from a validated event, and data that XML 1.0 cannot carry as
 * text goes out base64-encoded.  Fault detection is a bounded scan, not a
 * parser: it looks for a Fault start tag whose prefix is bound to a SOAP
 * envelope namespace, which is what every SOAP stack writes.
 *
 * Pure: no I/O, no clock, no globals, never logs.  Thread-safe.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudevent.h"
#include "soapxml.h"

#define SOAPXML_NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define SOAPXML_NS_XS  "http://www.w3.org/2001/XMLSchema"

/* The context attributes the spec defines; the rest are extensions. */
static const char *const soapxml_core[] = {
    "specversion",
    "id",
    "source",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
};

static int soapxml_space(unsigned char);

static int
soapxml_is_core(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof soapxml_core / sizeof soapxml_core[0]; i++)
		if (strcmp(name, soapxml_core[i]) == 0)
			return 1;
	return 0;
}

void
soapxml_escape(struct buf *out, const char *s, size_t len)
{
	const char *rep;
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\r':
			rep = "&#13;";
			break;
		default:
			continue;
		}
		if (i > start && buf_add(out, s + start, i - start) != 0)
			return;
		buf_addstr(out, rep);
		start = i + 1;
	}
	if (i > start && buf_add(out, s + start, i - start) != 0)
		return;
}

/*
 * 1 if the bytes are UTF-8 made only of characters XML 1.0 allows:
 * tab, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF.
 */
static int
soapxml_xml_chars(const unsigned char *s, size_t len)
{
	unsigned cp;
	size_t i = 0, n, k;

	if (!cloudevent_valid_utf8(s, len))
		return 0;
	while (i < len) {
		if (s[i] < 0x80) {
			cp = s[i];
			n = 1;
		} else {
			n = s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : 2;
			cp = s[i] & (0x3f >> (n - 1));
			for (k = 1; k < n; k++)
				cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
			return 0;
		if (cp == 0xfffe || cp == 0xffff)
			return 0;
		i += n;
	}
	return 1;
}

/* ---- XML data: a well-formedness scan -------------------------------- */

#define XS_MAX_DEPTH    256
#define XS_MAX_ATTRS    64
#define XS_MAX_PREFIXES 32

/* A name in the input: pointer and length. */
struct xs_span {
	const unsigned char *p;
	size_t len;
};

struct xs_scan {
	const unsigned char *p, *end;
	struct xs_span stack[XS_MAX_DEPTH]; /* open elements */
	int depth;
	struct xs_span declared[XS_MAX_PREFIXES]; /* xmlns:p seen */
	struct xs_span used[XS_MAX_PREFIXES];     /* p: seen in names */
	int ndeclared, nused;
	int root_default; /* the root declares xmlns= */
};

static int
xs_starts(const struct xs_scan *x, const char *lit)
{
	size_t n = strlen(lit);

	return (size_t)(x->end - x->p) >= n && memcmp(x->p, lit, n) == 0;
}

static int
xs_name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    c == ':' || c >= 0x80;
}

/* Length of the name at x->p (0: none); does not move. */
static size_t
xs_name(const struct xs_scan *x)
{
	const unsigned char *q = x->p;

	if (q >= x->end || !xs_name_start(*q))
		return 0;
	for (q++; q < x->end &&
	     (xs_name_start(*q) || (*q >= '0' && *q <= '9') || *q == '-' ||
	         *q == '.');
	     q++)
		;
	return (size_t)(q - x->p);
}

static int
xs_space(struct xs_scan *x)
{
	const unsigned char *q = x->p;

	while (x->p < x->end && soapxml_space(*x->p))
		x->p++;
	return x->p > q;
}

/* Advances past the first occurrence of lit; -1 if there is none. */
static int
xs_past(struct xs_scan *x, const char *lit)
{
	const unsigned char *hit;
	size_t n = strlen(lit);

	hit = memmem(x->p, (size_t)(x->end - x->p), lit, n);
	if (hit == NULL)
		return -1;
	x->p = hit + n;
	return 0;
}

static int
xs_span_in(const struct xs_span *set, int n, const unsigned char *p, size_t len)
{
	int i;

	for (i = 0; i < n; i++)
		if (set[i].len == len && memcmp(set[i].p, p, len) == 0)
			return 1;
	return 0;
}

static int
xs_add(struct xs_span *set, int *n, const unsigned char *p, size_t len)
{
	if (xs_span_in(set, *n, p, len))
		return 0;
	if (*n == XS_MAX_PREFIXES)
		return -1;
	set[*n].p = p;
	set[(*n)++].len = len;
	return 0;
}

/* Notes the prefix of a qualified name (xml: is always bound). */
static int
xs_use(struct xs_scan *x, const unsigned char *name, size_t len)
{
	const unsigned char *colon = memchr(name, ':', len);
	size_t plen;

	if (colon == NULL)
		return 0;
	plen = (size_t)(colon - name);
	if (plen == 0 || plen == len - 1)
		return -1;
	if (plen == 3 && memcmp(name, "xml", 3) == 0)
		return 0;
	return xs_add(x->used, &x->nused, name, plen);
}

/* &lt; &gt; &amp; &apos; &quot; &#N; &#xN; (no DTD, so nothing else). */
static int
xs_reference(struct xs_scan *x)
{
	static const char *const ent[] = {
	    "lt;", "gt;", "amp;", "apos;", "quot;"};
	const unsigned char *q;
	unsigned long cp;
	size_t i;
	int hex;

	x->p++;
	for (i = 0; i < sizeof ent / sizeof ent[0]; i++)
		if (xs_starts(x, ent[i])) {
			x->p += strlen(ent[i]);
			return 0;
		}
	if (!xs_starts(x, "#"))
		return -1;
	x->p++;
	if ((hex = xs_starts(x, "x")))
		x->p++;
	for (q = x->p, cp = 0;
	     q < x->end && q - x->p < 8 && (hex ? isxdigit(*q) : isdigit(*q));
	     q++)
		cp = cp * (hex ? 16 : 10) +
		    (unsigned long)(isdigit(*q) ? *q - '0'
		                                : (*q | 0x20) - 'a' + 10);
	if (q == x->p || q >= x->end || *q != ';')
		return -1;
	x->p = q + 1;
	/* The character must be one XML allows. */
	if (cp == 0x9 || cp == 0xa || cp == 0xd ||
	    (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
	    (cp >= 0x10000 && cp <= 0x10ffff))
		return 0;
	return -1;
}

static int
xs_attribute(struct xs_scan *x, struct xs_span *seen, int nseen)
{
	const unsigned char *name = x->p;
	size_t len = xs_name(x);
	unsigned char quote;

	if (len == 0 || xs_span_in(seen, nseen, name, len))
		return -1;
	seen[nseen].p = name;
	seen[nseen].len = len;
	x->p += len;
	xs_space(x);
	if (!xs_starts(x, "="))
		return -1;
	x->p++;
	xs_space(x);
	if (x->p >= x->end || (*x->p != '"' && *x->p != '\''))
		return -1;
	quote = *x->p++;
	while (x->p < x->end && *x->p != quote) {
		if (*x->p == '<')
			return -1;
		if (*x->p == '&') {
			if (xs_reference(x) != 0)
				return -1;
		} else
			x->p++;
	}
	if (x->p >= x->end)
		return -1;
	x->p++;
	if (len == 5 && memcmp(name, "xmlns", 5) == 0) {
		if (x->depth == 0)
			x->root_default = 1;
		return 0;
	}
	if (len > 6 && memcmp(name, "xmlns:", 6) == 0)
		return xs_add(x->declared, &x->ndeclared, name + 6, len - 6);
	return xs_use(x, name, len);
}

/* A start tag at x->p ('<' then a name); 1 if it was empty (<a/>). */
static int
xs_start_tag(struct xs_scan *x)
{
	struct xs_span attrs[XS_MAX_ATTRS];
	const unsigned char *name;
	size_t len;
	int nattrs = 0, spaced;

	x->p++;
	name = x->p;
	if ((len = xs_name(x)) == 0 || xs_use(x, name, len) != 0)
		return -1;
	x->p += len;
	for (;;) {
		spaced = xs_space(x);
		if (xs_starts(x, "/>")) {
			x->p += 2;
			return 1;
		}
		if (xs_starts(x, ">"))
			break;
		if (!spaced || nattrs == XS_MAX_ATTRS ||
		    xs_attribute(x, attrs, nattrs++) != 0)
			return -1;
	}
	x->p++;
	if (x->depth == XS_MAX_DEPTH)
		return -1;
	x->stack[x->depth].p = name;
	x->stack[x->depth++].len = len;
	return 0;
}

static int
xs_end_tag(struct xs_scan *x)
{
	const struct xs_span *open = &x->stack[x->depth - 1];
	size_t len;

	x->p += 2;
	len = xs_name(x);
	if (len != open->len || memcmp(x->p, open->p, len) != 0)
		return -1;
	x->p += len;
	xs_space(x);
	if (!xs_starts(x, ">"))
		return -1;
	x->p++;
	x->depth--;
	return 0;
}

/* A comment or a processing instruction (not an XML declaration). */
static int
xs_misc(struct xs_scan *x)
{
	size_t len;

	if (xs_starts(x, "<!--")) {
		x->p += 4;
		if (xs_past(x, "--") != 0 || !xs_starts(x, ">"))
			return -1; /* "--" only as the end of a comment */
		x->p++;
		return 0;
	}
	x->p += 2;
	len = xs_name(x);
	if (len == 0 ||
	    (len == 3 && strncasecmp((const char *)x->p, "xml", 3) == 0))
		return -1;
	return xs_past(x, "?>");
}

/* Element content up to the root's end tag. */
static int
xs_content(struct xs_scan *x)
{
	while (x->depth > 0) {
		if (x->p >= x->end)
			return -1;
		if (*x->p == '&') {
			if (xs_reference(x) != 0)
				return -1;
		} else if (*x->p != '<') {
			if (xs_starts(x, "]]>"))
				return -1;
			x->p++;
		} else if (xs_starts(x, "</")) {
			if (xs_end_tag(x) != 0)
				return -1;
		} else if (xs_starts(x, "<![CDATA[")) {
			x->p += 9;
			if (xs_past(x, "]]>") != 0)
				return -1;
		} else if (xs_starts(x, "<!--") || xs_starts(x, "<?")) {
			if (xs_misc(x) != 0)
				return -1;
		} else if (xs_start_tag(x) < 0)
			return -1;
	}
	return 0;
}

/* The XML declaration, if any: only UTF-8 (or ASCII) is taken as is. */
static int
xs_declaration(struct xs_scan *x)
{
	const unsigned char *start = x->p, *enc;

	if (!xs_starts(x, "<?xml") || x->p + 5 >= x->end ||
	    !soapxml_space(x->p[5]))
		return 0;
	if (xs_past(x, "?>") != 0)
		return -1;
	enc = memmem(start, (size_t)(x->p - start), "encoding", 8);
	if (enc == NULL)
		return 0;
	for (enc += 8; enc < x->p &&
	     (soapxml_space(*enc) || *enc == '=' || *enc == '"' ||
	         *enc == '\'');
	     enc++)
		;
	if (strncasecmp((const char *)enc, "utf-8", 5) == 0 &&
	    (enc[5] == '"' || enc[5] == '\''))
		return 0;
	if (strncasecmp((const char *)enc, "us-ascii", 8) == 0 &&
	    (enc[8] == '"' || enc[8] == '\''))
		return 0;
	return -1;
}

int
soapxml_find_root(const void *data, size_t len, size_t *start, size_t *end,
    int *has_default_ns)
{
	struct xs_scan *x = xcalloc(1, sizeof *x);
	const unsigned char *base = data;
	int i, rc = -1, empty;

	x->p = base;
	x->end = base + len;
	if (xs_starts(x, "\xef\xbb\xbf"))
		x->p += 3;
	if (xs_declaration(x) != 0)
		goto fail;
	for (;;) {
		xs_space(x);
		if (xs_starts(x, "<!--") || xs_starts(x, "<?")) {
			if (xs_misc(x) != 0)
				goto fail;
		} else
			break;
	}
	if (!xs_starts(x, "<") || x->p + 1 >= x->end || !xs_name_start(x->p[1]))
		goto fail; /* no root element, or a DOCTYPE */
	*start = (size_t)(x->p - base);
	if ((empty = xs_start_tag(x)) < 0 || (!empty && xs_content(x) != 0))
		goto fail;
	*end = (size_t)(x->p - base);
	for (;;) {
		xs_space(x);
		if (x->p == x->end)
			break;
		if (!(xs_starts(x, "<!--") || xs_starts(x, "<?")) ||
		    xs_misc(x) != 0)
			goto fail;
	}
	/* Every prefix must be bound inside the data itself. */
	for (i = 0; i < x->nused; i++)
		if (!xs_span_in(x->declared, x->ndeclared, x->used[i].p,
		        x->used[i].len))
			goto fail;
	*has_default_ns = x->root_default;
	rc = 0;
fail:
	free(x);
	return rc;
}

/* application/xml, text/xml or anything +xml (parameters ignored). */
static int
soapxml_media_is_xml(const char *ct)
{
	size_t n;

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return (n == 15 && strncasecmp(ct, "application/xml", 15) == 0) ||
	    (n == 8 && strncasecmp(ct, "text/xml", 8) == 0) ||
	    (n > 4 && strncasecmp(ct + n - 4, "+xml", 4) == 0);
}

/* XML data as xs:any: its root element, kept out of our default namespace. */
static int
soapxml_write_any(const struct cloudevent *ev, struct buf *out)
{
	const char *d = (const char *)ev->data;
	size_t start, end, name;
	int has_default;

	if (!soapxml_media_is_xml(cloudevent_get(ev, "datacontenttype")) ||
	    !soapxml_xml_chars(ev->data, ev->data_len) ||
	    soapxml_find_root(
	        ev->data, ev->data_len, &start, &end, &has_default) != 0)
		return -1;
	for (name = start + 1;
	     name < end && !soapxml_space((unsigned char)d[name]) &&
	     d[name] != '>' && d[name] != '/';
	     name++)
		;
	buf_addstr(out, "<data xsi:type=\"xs:any\">");
	if (buf_add(out, d + start, name - start) != 0)
		return 0;
	if (!has_default)
		buf_addstr(out, " xmlns=\"\"");
	if (buf_add(out, d + name, end - name) != 0)
		return 0;
	buf_addstr(out, "</data>");
	return 0;
}

static void
soapxml_write_data(const struct cloudevent *ev, struct buf *out)
{
	char *b64;

	if (ev->kind == CE_DATA_NONE)
		return;
	if (soapxml_write_any(ev, out) == 0)
		return;
	if (ev->kind != CE_DATA_BINARY &&
	    soapxml_xml_chars(ev->data, ev->data_len)) {
		buf_addstr(out, "<data xsi:type=\"xs:string\">");
		soapxml_escape(out, (const char *)ev->data, ev->data_len);
		buf_addstr(out, "</data>");
		return;
	}
	b64 = cloudevent_base64_encode(ev->data, ev->data_len);
	buf_addstr(out, "<data xsi:type=\"xs:base64Binary\">");
	buf_addstr(out, b64);
	buf_addstr(out, "</data>");
	free(b64);
}

static void
soapxml_declare(struct buf *out)
{
	buf_addstr(out,
	    " xmlns=\"" SOAPXML_NS_CE "\" xmlns:ce=\"" SOAPXML_NS_CE
	    "\" xmlns:xsi=\"" SOAPXML_NS_XSI "\" xmlns:xs=\"" SOAPXML_NS_XS
	    "\"");
}

static void
soapxml_write_attr(
    struct buf *out, const char *name, enum ce_value_type vt, const char *value)
{
	const char *type;

	buf_printf(out, "<%s", name);
	if (!soapxml_is_core(name)) {
		type = vt == CE_VALUE_INTEGER ? "ce:integer"
		    : vt == CE_VALUE_BOOLEAN  ? "ce:boolean"
		                              : "ce:string";
		buf_printf(out, " xsi:type=\"%s\"", type);
	}
	buf_addstr(out, ">");
	soapxml_escape(out, value, strlen(value));
	buf_printf(out, "</%s>", name);
}

/* id, source or type: the attributes an event opens with. */
static int
soapxml_is_required(const char *name)
{
	return strcmp(name, "id") == 0 || strcmp(name, "source") == 0 ||
	    strcmp(name, "type") == 0;
}

void
soapxml_write_event(
    const struct cloudevent *ev, int declare_ns, struct buf *out)
{
	const struct ce_attr *a;
	const char *specversion;
	size_t i;
	int implied;

	/*
	 * JSON format 1.0.2 section 3.1.2: JSON data without a
	 * datacontenttype, written in another format, SHOULD name the
	 * implied application/json.  It goes where a datacontenttype
	 * would: after the required attributes, before the others.
	 */
	implied = ev->kind == CE_DATA_JSON &&
	    cloudevent_get(ev, "datacontenttype") == NULL;
	specversion = cloudevent_get(ev, "specversion");
	buf_addstr(out, "<event");
	if (declare_ns)
		soapxml_declare(out);
	buf_addstr(out, " specversion=\"");
	specversion = specversion != NULL ? specversion : "1.0";
	soapxml_escape(out, specversion, strlen(specversion));
	buf_addstr(out, "\">");
	for (i = 0; i < ev->nattrs; i++) {
		a = &ev->attrs[i];
		if (strcmp(a->name, "specversion") == 0)
			continue;
		if (implied && !soapxml_is_required(a->name)) {
			soapxml_write_attr(out, "datacontenttype",
			    CE_VALUE_STRING, "application/json");
			implied = 0;
		}
		soapxml_write_attr(out, a->name, a->type, a->value);
	}
	if (implied)
		soapxml_write_attr(out, "datacontenttype", CE_VALUE_STRING,
		    "application/json");
	soapxml_write_data(ev, out);
	buf_addstr(out, "</event>");
}

void
soapxml_write_batch(
    const struct cloudevent *const *evs, size_t n, struct buf *out)
{
	size_t i;

	buf_addstr(out, "<batch");
	soapxml_declare(out);
	buf_addstr(out, ">");
	for (i = 0; i < n; i++)
		soapxml_write_event(evs[i], 0, out);
	buf_addstr(out, "</batch>");
}

static const char *
soapxml_envelope_ns(const char *version)
{
	if (version != NULL && strcmp(version, "1.1") == 0)
		return SOAPXML_NS_SOAP11;
	if (version != NULL && strcmp(version, "1.2") == 0)
		return SOAPXML_NS_SOAP12;
	return NULL;
}

int
soapxml_write_envelope(const char *version, const struct cloudevent *const *evs,
    size_t n, int batch, struct buf *out)
{
	const char *ns = soapxml_envelope_ns(version);

	if (ns == NULL || n == 0)
		return -1;
	buf_printf(out,
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	    "<soap:Envelope xmlns:soap=\"%s\"><soap:Body>",
	    ns);
	if (batch || n > 1)
		soapxml_write_batch(evs, n, out);
	else
		soapxml_write_event(evs[0], 1, out);
	buf_addstr(out, "</soap:Body></soap:Envelope>");
	return 0;
}

char *
soapxml_content_type(const char *version, const char *action)
{
	struct buf b;
	const char *p;

	if (soapxml_envelope_ns(version) == NULL)
		return NULL;
	if (strcmp(version, "1.1") == 0)
		return xstrdup("text/xml; charset=utf-8");
	buf_init(&b, 0);
	buf_addstr(&b, "application/soap+xml; charset=utf-8");
	if (action != NULL) {
		/* A quoted-string: quotes, backslashes and controls dropped. */
		buf_addstr(&b, "; action=\"");
		for (p = action; *p != '\0'; p++)
			if (*p != '"' && *p != '\\' &&
			    (unsigned char)*p >= 0x20 && *p != 0x7f &&
			    buf_add(&b, p, 1) != 0)
				break;
		buf_addstr(&b, "\"");
	}
	return buf_take(&b, NULL);
}

/* ---- SOAP Fault detection -------------------------------------------- */

#define SOAPXML_MAX_PREFIXES 8
#define SOAPXML_MAX_PREFIX   64

static int
soapxml_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
	    c == ':' || c >= 0x80;
}

static int
soapxml_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The namespace URI at s[at] is an attribute value; if the attribute is
 * xmlns or xmlns:P, stores the prefix ("" for the default) and returns 1.
 */
static int
soapxml_binding(const unsigned char *s, size_t at, char *prefix)
{
	size_t end, start;

	if (at < 2 || (s[at - 1] != '"' && s[at - 1] != '\''))
		return 0;
	end = at - 1;
	while (end > 0 && soapxml_space(s[end - 1]))
		end--;
	if (end == 0 || s[end - 1] != '=')
		return 0;
	end--;
	while (end > 0 && soapxml_space(s[end - 1]))
		end--;
	start = end;
	while (start > 0 && soapxml_name_char(s[start - 1]))
		start--;
	if (end - start == 5 && memcmp(s + start, "xmlns", 5) == 0) {
		prefix[0] = '\0';
		return 1;
	}
	if (end - start > 6 && end - start - 6 < SOAPXML_MAX_PREFIX &&
	    memcmp(s + start, "xmlns:", 6) == 0) {
		memcpy(prefix, s + start + 6, end - start - 6);
		prefix[end - start - 6] = '\0';
		return 1;
	}
	return 0;
}

/* 1 if "<prefix:Fault" (or "<Fault") starts a tag somewhere in s. */
static int
soapxml_fault_tag(const unsigned char *s, size_t len, const char *prefix)
{
	char tag[SOAPXML_MAX_PREFIX + 8];
	const unsigned char *p = s, *hit;
	size_t tlen, left;

	if (prefix[0] != '\0')
		tlen = (size_t)snprintf(tag, sizeof tag, "<%s:Fault", prefix);
	else
		tlen = (size_t)snprintf(tag, sizeof tag, "<Fault");
	while ((left = len - (size_t)(p - s)) > tlen &&
	    (hit = memmem(p, left, tag, tlen)) != NULL) {
		if (hit + tlen < s + len &&
		    (soapxml_space(hit[tlen]) || hit[tlen] == '>' ||
		        hit[tlen] == '/'))
			return 1;
		p = hit + 1;
	}
	return 0;
}

int
soapxml_has_fault(const void *body, size_t len)
{
	static const char *const ns[] = {SOAPXML_NS_SOAP11, SOAPXML_NS_SOAP12};
	char prefixes[SOAPXML_MAX_PREFIXES][SOAPXML_MAX_PREFIX];
	const unsigned char *s = body, *p, *hit;
	size_t i, nlen, np = 0, j;

	for (i = 0; i < 2; i++) {
		nlen = strlen(ns[i]);
		p = s;
		while (np < SOAPXML_MAX_PREFIXES &&
		    (size_t)(s + len - p) >= nlen &&
		    (hit = memmem(p, (size_t)(s + len - p), ns[i], nlen)) !=
		        NULL) {
			if (soapxml_binding(s, (size_t)(hit - s), prefixes[np]))
				np++;
			p = hit + 1;
		}
	}
	for (j = 0; j < np; j++)
		if (soapxml_fault_tag(s, len, prefixes[j]))
			return 1;
	return 0;
}

/* ---- HTTP binary mode headers ---------------------------------------- */

char *
soapxml_header_encode(const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char *out, *o;

	out = o = xmalloc(strlen(value) * 3 + 1);
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == '%') {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		} else
			*o++ = (char)*p;
	}
	*o = '\0';
	return out;
}

char **
soapxml_binary_headers(const struct cloudevent *ev)
{
	char **list;
	size_t i, n = 0;

	list = xcalloc(2 * ev->nattrs + 1, sizeof *list);
	for (i = 0; i < ev->nattrs; i++) {
		if (strcmp(ev->attrs[i].name, "datacontenttype") == 0)
			continue;
		list[n++] = xasprintf("ce-%s", ev->attrs[i].name);
		list[n++] = soapxml_header_encode(ev->attrs[i].value);
	}
	list[n] = NULL;
	return list;
}

void
soapxml_strings_free(char **list)
{
	char **p;

	if (list == NULL)
		return;
	for (p = list; *p != NULL; p++)
		free(*p);
	free(list);
}

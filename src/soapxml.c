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

static void
soapxml_write_data(const struct cloudevent *ev, struct buf *out)
{
	char *b64;

	if (ev->kind == CE_DATA_NONE)
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

void
soapxml_write_event(
    const struct cloudevent *ev, int declare_ns, struct buf *out)
{
	const struct ce_attr *a;
	const char *specversion, *type;
	size_t i;

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
		buf_printf(out, "<%s", a->name);
		if (!soapxml_is_core(a->name)) {
			type = a->type == CE_VALUE_INTEGER ? "ce:integer"
			    : a->type == CE_VALUE_BOOLEAN  ? "ce:boolean"
			                                   : "ce:string";
			buf_printf(out, " xsi:type=\"%s\"", type);
		}
		buf_addstr(out, ">");
		soapxml_escape(out, a->value, strlen(a->value));
		buf_printf(out, "</%s>", a->name);
	}
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

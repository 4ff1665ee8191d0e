/*
 * jsonscan.c: strict checking of JSON text and the raw spans of its members
 * and elements.  A tree (jansson) forgets how numbers were written, refuses
 * numbers a double cannot hold and takes a NUL byte for the end of input;
 * this checks the grammar itself and recovers each value's exact bytes.
 *
 * Pure: no I/O, no globals.  Thread-safe.
 */
#include "autoconfig.h"

#include <string.h>

#include "jsonscan.h"

static const char *
jsonscan_ws(const char *p, const char *end)
{
	while (p < end &&
	    (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int
jsonscan_hex(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	int i;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static void
jsonscan_utf8(struct buf *out, unsigned cp)
{
	char s[4];
	size_t n;

	if (cp < 0x80) {
		s[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xc0 | (cp >> 6));
		s[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xe0 | (cp >> 12));
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		s[0] = (char)(0xf0 | (cp >> 18));
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (out != NULL && buf_add(out, s, n) != 0)
		return;
}

/* Reads a string at p (on its opening quote); decodes it into out if set. */
static const char *
jsonscan_string(const char *p, const char *end, struct buf *out)
{
	unsigned cp, lo;

	if (p >= end || *p != '"')
		return NULL;
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if (*p != '\\') {
			if (out != NULL && buf_add(out, p, 1) != 0)
				return NULL;
			continue;
		}
		if (++p >= end)
			return NULL;
		switch (*p) {
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (jsonscan_hex(p + 1, end, &cp) != 0)
				return NULL;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && end - p > 6 &&
			    p[1] == '\\' && p[2] == 'u' &&
			    jsonscan_hex(p + 3, end, &lo) == 0 && lo >= 0xdc00 &&
			    lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				p += 6;
			}
			break;
		default: cp = (unsigned char)*p; break;
		}
		jsonscan_utf8(out, cp);
	}
	return NULL;
}

/* Skips the value at p; returns the byte after it. */
static const char *
jsonscan_value(const char *p, const char *end)
{
	const char *s;
	int depth = 0;

	do {
		p = jsonscan_ws(p, end);
		if (p >= end)
			return NULL;
		switch (*p) {
		case '"':
			p = jsonscan_string(p, end, NULL);
			if (p == NULL)
				return NULL;
			break;
		case '{':
		case '[':
			depth++;
			p++;
			break;
		case '}':
		case ']':
			depth--;
			p++;
			break;
		case ',':
		case ':':
			p++;
			break;
		default:
			s = p;
			while (p < end && *p != '\0' &&
			    strchr(" \t\r\n,:]}", *p) == NULL)
				p++;
			if (p == s)
				return NULL;
			break;
		}
	} while (depth > 0);
	return depth == 0 ? p : NULL;
}

/* ---- strict checking (RFC 8259) ------------------------------------ */

size_t
jsonscan_utf8_next(const unsigned char *s, size_t len, unsigned *cp)
{
	size_t n, i;
	unsigned c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Length of the valid (multi-byte) UTF-8 sequence at p, or 0. */
static size_t
jsonscan_utf8_len(const char *p, const char *end)
{
	unsigned cp;

	return jsonscan_utf8_next((const unsigned char *)p,
	    (size_t)(end - p), &cp);
}

/* An escape after a backslash at p; returns the byte after it. */
static const char *
jsonscan_check_escape(const char *p, const char *end)
{
	unsigned hi, lo;

	if (p >= end)
		return NULL;
	if (strchr("\"\\/bfnrt", *p) != NULL && *p != '\0')
		return p + 1;
	if (*p != 'u' || jsonscan_hex(p + 1, end, &hi) != 0)
		return NULL;
	p += 5;
	if (hi >= 0xdc00 && hi < 0xe000)
		return NULL;
	if (hi < 0xd800 || hi >= 0xdc00)
		return p;
	/* A high surrogate must be followed by a low one. */
	if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
	    jsonscan_hex(p + 2, end, &lo) != 0 || lo < 0xdc00 || lo >= 0xe000)
		return NULL;
	return p + 6;
}

static const char *
jsonscan_check_string(const char *p, const char *end)
{
	size_t n;

	if (p >= end || *p != '"')
		return NULL;
	for (p++; p < end;) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\')
			p = jsonscan_check_escape(p + 1, end);
		else if (c < 0x80)
			p++;
		else if ((n = jsonscan_utf8_len(p, end)) == 0)
			return NULL;
		else
			p += n;
		if (p == NULL)
			return NULL;
	}
	return NULL;
}

static const char *
jsonscan_digits(const char *p, const char *end)
{
	if (p >= end || *p < '0' || *p > '9')
		return NULL;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

static const char *
jsonscan_check_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if ((p = jsonscan_digits(p, end)) == NULL)
		return NULL;
	if (p < end && *p == '.' && (p = jsonscan_digits(p + 1, end)) == NULL)
		return NULL;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		p = jsonscan_digits(p, end);
	}
	return p;
}

static const char *
jsonscan_check_scalar(const char *p, const char *end)
{
	static const char *const lit[] = { "true", "false", "null" };
	size_t i, n;

	if (*p == '"')
		return jsonscan_check_string(p, end);
	for (i = 0; i < sizeof lit / sizeof lit[0]; i++) {
		n = strlen(lit[i]);
		if (*p == lit[i][0])
			return (size_t)(end - p) >= n && memcmp(p, lit[i], n) == 0 ?
			    p + n : NULL;
	}
	return jsonscan_check_number(p, end);
}

/* A member's name and colon; returns the byte after the colon. */
static const char *
jsonscan_check_key(const char *p, const char *end)
{
	p = jsonscan_check_string(jsonscan_ws(p, end), end);
	if (p == NULL)
		return NULL;
	p = jsonscan_ws(p, end);
	return p < end && *p == ':' ? p + 1 : NULL;
}

int
jsonscan_validate(const char *text, size_t len, size_t *errpos)
{
	char stack[JSONSCAN_MAX_DEPTH];
	const char *p = text, *end = text + len, *q;
	int depth = 0;

	for (;;) {
		/* A value is expected at p. */
		if ((p = jsonscan_ws(p, end)) >= end)
			goto fail;
		if (*p == '{' || *p == '[') {
			if (depth == JSONSCAN_MAX_DEPTH)
				goto deep;
			stack[depth++] = *p == '{' ? '}' : ']';
			p = jsonscan_ws(p + 1, end);
			if (p < end && *p == stack[depth - 1]) {
				depth--;
				q = p + 1;
			} else if (stack[depth - 1] == ']')
				continue;
			else if ((q = jsonscan_check_key(p, end)) == NULL)
				goto fail;
			else {
				p = q;
				continue;
			}
		} else if ((q = jsonscan_check_scalar(p, end)) == NULL)
			goto fail;
		/* After a value: close containers, or find the next one. */
		for (p = jsonscan_ws(q, end); depth > 0;
		    p = jsonscan_ws(p + 1, end)) {
			if (p >= end || (*p != ',' && *p != stack[depth - 1]))
				goto fail;
			if (*p == ',')
				break;
			depth--;
		}
		if (depth == 0) {
			if (p == end)
				return 0;
			goto fail;
		}
		p++;
		if (stack[depth - 1] == '}' &&
		    (p = jsonscan_check_key(q = p, end)) == NULL) {
			p = q;
			goto fail;
		}
	}
fail:
	if (errpos != NULL)
		*errpos = p != NULL && p <= end ? (size_t)(p - text) : len;
	return -1;
deep:
	if (errpos != NULL)
		*errpos = (size_t)(p - text);
	return -2;
}

int
jsonscan_unquote(const char *raw, size_t len, struct buf *out)
{
	const char *end = raw + len;

	return jsonscan_string(raw, end, out) == end ? 0 : -1;
}

int
jsonscan_enter(struct jsonscan *s, const char *text, size_t len)
{
	s->end = text + len;
	s->p = jsonscan_ws(text, s->end);
	if (s->p >= s->end || (*s->p != '{' && *s->p != '['))
		return -1;
	s->object = *s->p == '{';
	s->p++;
	return 0;
}

int
jsonscan_next(struct jsonscan *s, struct buf *key, const char **val,
    size_t *vlen)
{
	const char *p = jsonscan_ws(s->p, s->end), *v;

	if (p < s->end && *p == ',')
		p = jsonscan_ws(p + 1, s->end);
	if (p >= s->end)
		return -1;
	if (*p == '}' || *p == ']') {
		s->p = p + 1;
		return 0;
	}
	if (s->object) {
		if (key != NULL)
			buf_reset(key);
		p = jsonscan_string(p, s->end, key);
		if (p == NULL)
			return -1;
		p = jsonscan_ws(p, s->end);
		if (p >= s->end || *p != ':')
			return -1;
		p = jsonscan_ws(p + 1, s->end);
	}
	v = jsonscan_value(p, s->end);
	if (v == NULL)
		return -1;
	*val = p;
	*vlen = (size_t)(v - p);
	s->p = v;
	return 1;
}

void
json_quote(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	char esc[7];

	buf_addstr(b, "\"");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (buf_add(b, s + run, i - run) != 0)
			return;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; esc[2] = '\0'; break;
		case '\\': esc[1] = '\\'; esc[2] = '\0'; break;
		case '\n': esc[1] = 'n'; esc[2] = '\0'; break;
		case '\r': esc[1] = 'r'; esc[2] = '\0'; break;
		case '\t': esc[1] = 't'; esc[2] = '\0'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			esc[6] = '\0';
			break;
		}
		buf_addstr(b, esc);
		run = i + 1;
	}
	if (buf_add(b, s + run, len - run) != 0)
		return;
	buf_addstr(b, "\"");
}

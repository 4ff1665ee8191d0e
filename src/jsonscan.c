/*
 * jsonscan.c: raw spans of JSON members and elements.  jansson validates and
 * builds trees but forgets how numbers and whitespace were written; this
 * walks the same text to recover each value's exact bytes.
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
			while (p < end && strchr(" \t\r\n,:]}", *p) == NULL)
				p++;
			break;
		}
	} while (depth > 0);
	return depth == 0 ? p : NULL;
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

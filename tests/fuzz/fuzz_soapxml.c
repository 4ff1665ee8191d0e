/*
 * fuzz_soapxml.c: libFuzzer target for what sluice reads from SOAP
 * endpoints and writes into headers: the input is a response body as a
 * sink may send it.  soapxml_has_fault and soapxml_find_root must take any
 * bytes, a body cut short too (a root's range lies inside them), and
 * soapxml_header_encode must give only visible ASCII without '"', every
 * '%' starting an escape, that decodes back to the input.
 *
 * Not part of the daemon; built with --enable-fuzzing (clang).
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "soapxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
fuzz_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Checks the header encoding of s (NUL-terminated) and its decoding. */
static void
fuzz_header(const char *s)
{
	char *enc = soapxml_header_encode(s);
	size_t i, n = 0, len = strlen(s);
	char *dec = malloc(len + 1);

	for (i = 0; enc[i] != '\0'; i++) {
		unsigned char c = (unsigned char)enc[i];

		if (c < 0x21 || c > 0x7e || c == '"')
			abort();
		if (c == '%') {
			if (fuzz_hex(enc[i + 1]) < 0 || fuzz_hex(enc[i + 2]) < 0)
				abort();
			c = (unsigned char)(fuzz_hex(enc[i + 1]) * 16 +
			    fuzz_hex(enc[i + 2]));
			i += 2;
		}
		if (n == len)
			abort();
		dec[n++] = (char)c;
	}
	if (n != len || memcmp(dec, s, len) != 0)
		abort();
	free(dec);
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t start = 0, end = 0;
	int ns = 0, fault;
	char *text;

	fault = soapxml_has_fault(data, size);
	if (fault != 0 && fault != 1)
		abort();
	if (soapxml_find_root(data, size, &start, &end, &ns) == 0 &&
	    (start >= end || end > size || (ns != 0 && ns != 1)))
		abort();
	(void)soapxml_has_fault(data, size / 2); /* a body cut short */
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_header(text);
	free(text);
	return 0;
}

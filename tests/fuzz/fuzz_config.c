/*
 * fuzz_config.c: libFuzzer target for the settings file parser: the input
 * is a config file's text.  config_load_text must take it (0) or refuse it
 * with a cause naming the file (-1), and leave settings config_free frees.
 *
 * Not part of the daemon; built with --enable-fuzzing (clang).
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char *text = malloc(size + 1), *cause = NULL;
	int rc;

	memcpy(text, data, size);
	text[size] = '\0';
	config_defaults(&cfg);
	rc = config_load_text(&cfg, text, "fuzz.conf", &cause);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == -1 && (cause == NULL || strstr(cause, "fuzz.conf") == NULL))
		abort();
	if (rc == 0 && cause != NULL)
		abort();
	free(cause);
	config_free(&cfg);
	free(text);
	return 0;
}

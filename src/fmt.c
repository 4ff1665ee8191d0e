/*
 * fmt.c: message ids and times as the API writes them.
 *
 * Pure but for fmt_now_ms reading the clock; thread-safe.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "fmt.h"

static const char fmt_b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void
fmt_msg(int64_t msg, char out[FMT_MSG_LEN])
{
	uint64_t v = (uint64_t)msg;
	int i;

	for (i = 12; i >= 0; i--) {
		out[i] = fmt_b32[v & 31];
		v >>= 5;
	}
	out[13] = '\0';
}

int
fmt_msg_parse(const char *s, int64_t *msg)
{
	uint64_t v = 0;
	const char *p;
	int i, c;

	if (strlen(s) != 13)
		return -1;
	for (i = 0; i < 13; i++) {
		c = s[i];
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if ((p = strchr(fmt_b32, c)) == NULL || c == '\0')
			return -1;
		if (i == 0 && p - fmt_b32 > 15)
			return -1;
		v = (v << 5) | (uint64_t)(p - fmt_b32);
	}
	*msg = (int64_t)v;
	return 0;
}

int
fmt_msg_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

void
fmt_time(int64_t ms, char out[FMT_TIME_LEN])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, FMT_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int64_t
fmt_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int
fmt_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

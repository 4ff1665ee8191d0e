/*
 * pause.c: the pause rules.  With backoff_factor 1 (the default) a failure
 * pauses for the fixed time of its class, as Zato does; a larger factor
 * grows the pause with each consecutive failure up to max_pause_ms (or the
 * base pause, if that is longer), and a success starts again from the base.
 *
 * Pure: thread-safe.
 */
#include "autoconfig.h"

#include <math.h>

#include "pause.h"

int64_t
pause_after(const struct pause_rule *r, enum pause_cause cause,
    int64_t failures, int64_t retry_after_ms)
{
	int64_t base = cause == PAUSE_TRANSPORT ? r->tcp_error_pause_ms :
	    r->app_error_pause_ms;
	/* max_pause_ms caps the growth; it never cuts the base pause */
	int64_t cap = r->max_pause_ms > base ? r->max_pause_ms : base;
	double p;

	if (cause == PAUSE_RETRY_AFTER)
		return retry_after_ms < r->max_pause_ms ? retry_after_ms :
		    r->max_pause_ms;
	if (r->backoff_factor <= 1 || failures <= 1)
		return base;
	p = (double)base * pow(r->backoff_factor, (double)(failures - 1));
	return p > (double)cap ? cap : (int64_t)p;
}

int64_t
pause_rate_spacing(int64_t rate, int64_t n)
{
	if (rate <= 0)
		return 0;
	return (n * 1000 + rate - 1) / rate;
}

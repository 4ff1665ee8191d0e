/*
 * test_pause.c: the pause rules of pause.h: the fixed pause of each error
 * class, backoff growing it per consecutive failure up to max_pause_ms,
 * Retry-After honoured up to max_pause_ms, and rate-limit spacing.
 */
#include "autoconfig.h"

#include <stdint.h>

#include "pause.h"
#include "tap.h"

static void
test_fixed(void)
{
	struct pause_rule r = { 10000, 3000, 1, 300000 };
	int64_t f;

	is_int(pause_after(&r, PAUSE_TRANSPORT, 1, -1), 10000,
	    "transport error: tcp_error_pause_ms");
	is_int(pause_after(&r, PAUSE_APP, 1, -1), 3000,
	    "application error: app_error_pause_ms");
	for (f = 2; f <= 50; f++) {
		if (pause_after(&r, PAUSE_TRANSPORT, f, -1) != 10000 ||
		    pause_after(&r, PAUSE_APP, f, -1) != 3000)
			break;
	}
	is_int(f, 51, "backoff_factor 1: the same pause after 2..50 failures");
	/* Fixed pauses are not capped by max_pause_ms (as Zato) */
	r.max_pause_ms = 1000;
	is_int(pause_after(&r, PAUSE_APP, 7, -1), 3000,
	    "backoff_factor 1: max_pause_ms does not cut the fixed pause");
	r.app_error_pause_ms = 0;
	r.tcp_error_pause_ms = 0;
	is_int(pause_after(&r, PAUSE_APP, 1, -1), 0, "app pause 0: no pause");
	is_int(pause_after(&r, PAUSE_TRANSPORT, 3, -1), 0,
	    "tcp pause 0: no pause");
}

static void
test_backoff(void)
{
	struct pause_rule r = { 1000, 500, 2, 10000 };

	is_int(pause_after(&r, PAUSE_APP, 1, -1), 500,
	    "backoff 2: first app failure is the base");
	is_int(pause_after(&r, PAUSE_APP, 2, -1), 1000, "second doubles");
	is_int(pause_after(&r, PAUSE_APP, 3, -1), 2000, "third doubles again");
	is_int(pause_after(&r, PAUSE_APP, 5, -1), 8000, "fifth: 500*2^4");
	is_int(pause_after(&r, PAUSE_APP, 6, -1), 10000,
	    "sixth: 16000 capped at max_pause_ms");
	is_int(pause_after(&r, PAUSE_APP, 1000, -1), 10000,
	    "1000th: capped, no overflow");
	is_int(pause_after(&r, PAUSE_TRANSPORT, 1, -1), 1000,
	    "backoff 2: first transport failure is the base");
	is_int(pause_after(&r, PAUSE_TRANSPORT, 3, -1), 4000,
	    "third transport failure: 1000*2^2");
	is_int(pause_after(&r, PAUSE_TRANSPORT, 5, -1), 10000,
	    "fifth transport failure: capped");
	is_int(pause_after(&r, PAUSE_TRANSPORT, 0, -1), 1000,
	    "failures 0 counts as the first");

	r.backoff_factor = 1.5;
	is_int(pause_after(&r, PAUSE_APP, 2, -1), 750, "factor 1.5: 500*1.5");
	is_int(pause_after(&r, PAUSE_APP, 3, -1), 1125,
	    "factor 1.5: 500*2.25");

	r.backoff_factor = 100;
	r.max_pause_ms = 86400000;
	is_int(pause_after(&r, PAUSE_APP, 4, -1), 86400000,
	    "factor 100: 500*10^6 capped at a day");
	is_int(pause_after(&r, PAUSE_APP, 100000, -1), 86400000,
	    "factor 100 after 100000 failures: capped, no overflow");

	/* A base above the cap: it does not grow, and is not cut. */
	r.backoff_factor = 2;
	r.app_error_pause_ms = 20000;
	r.max_pause_ms = 5000;
	is_int(pause_after(&r, PAUSE_APP, 2, -1), 20000,
	    "base above max_pause_ms: the base, not cut, not grown");
	r.max_pause_ms = 0;
	is_int(pause_after(&r, PAUSE_APP, 3, -1), 20000,
	    "max_pause_ms 0 with backoff: the base");
	/* one class's base above the cap, the other's below: each its own */
	r.app_error_pause_ms = 100;
	r.tcp_error_pause_ms = 10000;
	r.max_pause_ms = 500;
	is_int(pause_after(&r, PAUSE_APP, 4, -1), 500,
	    "app 100 doubling: 400, then capped at 500");
	is_int(pause_after(&r, PAUSE_TRANSPORT, 4, -1), 10000,
	    "transport base 10000 above the cap: stays 10000");
}

static void
test_retry_after(void)
{
	struct pause_rule r = { 10000, 3000, 1, 300000 };

	is_int(pause_after(&r, PAUSE_RETRY_AFTER, 1, 2000), 2000,
	    "Retry-After 2 s: 2000 ms");
	is_int(pause_after(&r, PAUSE_RETRY_AFTER, 9, 2000), 2000,
	    "Retry-After does not grow with failures");
	is_int(pause_after(&r, PAUSE_RETRY_AFTER, 1, 0), 0,
	    "Retry-After 0: no pause");
	is_int(pause_after(&r, PAUSE_RETRY_AFTER, 1, 3600000), 300000,
	    "Retry-After 1 h: capped at max_pause_ms");
	r.backoff_factor = 3;
	is_int(pause_after(&r, PAUSE_RETRY_AFTER, 4, 1500), 1500,
	    "Retry-After with backoff: as given");
	r.max_pause_ms = 1000;
	is_int(pause_after(&r, PAUSE_RETRY_AFTER, 1, 1500), 1000,
	    "Retry-After above a small max_pause_ms: capped");
}

static void
test_rate(void)
{
	is_int(pause_rate_spacing(0, 1), 0, "rate 0: no spacing");
	is_int(pause_rate_spacing(0, 100), 0, "rate 0, batch 100: no spacing");
	is_int(pause_rate_spacing(-1, 1), 0, "negative rate: no spacing");
	is_int(pause_rate_spacing(5, 1), 200, "5/s: 200 ms per message");
	is_int(pause_rate_spacing(5, 10), 2000, "5/s, batch of 10: 2 s");
	is_int(pause_rate_spacing(1, 1), 1000, "1/s: 1 s");
	is_int(pause_rate_spacing(3, 1), 334, "3/s: 333.3 rounded up");
	is_int(pause_rate_spacing(1000, 1), 1, "1000/s: 1 ms");
	is_int(pause_rate_spacing(100000, 1), 1,
	    "100000/s: rounded up to 1 ms, never 0");
	is_int(pause_rate_spacing(100000, 1000), 10,
	    "100000/s, batch 1000: 10 ms");
}

int
main(void)
{
	test_fixed();
	test_backoff();
	test_retry_after();
	test_rate();
	return tap_done();
}

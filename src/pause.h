/*
 * pause.h: how long a subscription pauses after a failed attempt, and the
 * rate-limit spacing between requests.  The rules, as pure functions.
 *
 * Pure: no I/O, no clock (times are parameters).  Thread-safe.
 */
#ifndef SLUICE_PAUSE_H
#define SLUICE_PAUSE_H

#include <stdint.h>

enum pause_cause {
	PAUSE_TRANSPORT, /* no complete HTTP response */
	PAUSE_APP,	 /* a complete non-2xx response or a SOAP Fault */
	PAUSE_RETRY_AFTER, /* 429/503 with Retry-After */
};

struct pause_rule {
	int64_t tcp_error_pause_ms;
	int64_t app_error_pause_ms;
	double backoff_factor; /* >= 1 */
	int64_t max_pause_ms;  /* cap for backoff and Retry-After */
};

/*
 * The pause after the failures-th consecutive failure (1 for the first):
 * the base pause for the cause times backoff_factor^(failures-1), capped
 * at max_pause_ms once backoff applies; Retry-After is honoured up to
 * max_pause_ms.
 */
int64_t pause_after(const struct pause_rule *, enum pause_cause,
    int64_t failures, int64_t retry_after_ms);
/* Milliseconds a request of n messages uses up at rate per second. */
int64_t pause_rate_spacing(int64_t rate, int64_t n);

#endif

/*
 * bench/curl-ceiling.c: how many requests a second libcurl alone sends to a
 * sink, with nothing else to do: the ceiling for any dispatcher built on
 * libcurl (sluiced is one) on this machine, beside wrk's rate in
 * bench/deliver.
 *
 *   curl-ceiling URL THREADS CONNECTIONS SECONDS
 *
 * Each thread drives one multi handle with CONNECTIONS / THREADS transfers
 * in flight, one request each, over kept-alive connections.  Every request
 * POSTs the same ~400-byte structured CloudEvent bench/deliver queues; a
 * finished transfer is removed and added again with its options untouched
 * (the least libcurl can do per request).  Prints one line:
 * "RESULT requests=N duration_us=D errors=E".
 */
#include <curl/curl.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char ceiling_body[] =
    "{\"specversion\":\"1.0\",\"type\":\"com.example.shop.order.placed\","
    "\"source\":\"https://shop.example.com/orders\",\"id\":\"ceiling-1\","
    "\"subject\":\"order/ceiling-1\",\"time\":\"2026-11-23T12:00:00Z\","
    "\"datacontenttype\":\"application/json\",\"data\":{\"order\":"
    "{\"customer\":\"c-1029\",\"currency\":\"EUR\",\"total\":\"129.90\","
    "\"lines\":[{\"sku\":\"BK-1001\",\"qty\":1,\"price\":\"99.90\"},"
    "{\"sku\":\"SH-0042\",\"qty\":2,\"price\":\"15.00\"}]},"
    "\"channel\":\"web\"}}";

/* One thread's share of the run. */
struct ceiling_thread {
	pthread_t thread;
	const char *url;	   /* the sink */
	int transfers;		   /* in flight at once */
	double until;		   /* monotonic second to stop at */
	struct curl_slist *headers; /* shared, read-only */
	long requests;		   /* finished with a 2xx */
	long errors;		   /* finished otherwise */
};

static double
ceiling_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
ceiling_discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static CURL *
ceiling_easy(struct ceiling_thread *t)
{
	CURL *e = curl_easy_init();

	if (e == NULL)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, t->url);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "curl-ceiling");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, ceiling_body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)(sizeof ceiling_body - 1));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ceiling_discard);
	return e;
}

static void *
ceiling_main(void *arg)
{
	struct ceiling_thread *t = arg;
	CURLM *m = curl_multi_init();
	CURL **easy = calloc((size_t)t->transfers, sizeof *easy);
	CURLMsg *msg;
	long status;
	int i, running, left;

	if (m == NULL || easy == NULL)
		goto done;
	for (i = 0; i < t->transfers; i++) {
		if ((easy[i] = ceiling_easy(t)) == NULL)
			goto done;
		curl_multi_add_handle(m, easy[i]);
	}
	while (ceiling_now() < t->until) {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			status = 0;
			curl_easy_getinfo(msg->easy_handle,
			    CURLINFO_RESPONSE_CODE, &status);
			if (msg->data.result == CURLE_OK && status / 100 == 2)
				t->requests++;
			else
				t->errors++;
			curl_multi_remove_handle(m, msg->easy_handle);
			curl_multi_add_handle(m, msg->easy_handle);
		}
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
done:
	for (i = 0; easy != NULL && i < t->transfers; i++) {
		if (easy[i] == NULL)
			break;
		curl_multi_remove_handle(m, easy[i]);
		curl_easy_cleanup(easy[i]);
	}
	free(easy);
	if (m != NULL)
		curl_multi_cleanup(m);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct ceiling_thread *t;
	struct curl_slist *headers = NULL;
	long requests = 0, errors = 0;
	int i, nthreads, conns, secs;
	double t0;

	if (argc != 5 || (nthreads = atoi(argv[2])) <= 0 ||
	    (conns = atoi(argv[3])) < nthreads || (secs = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: curl-ceiling URL THREADS CONNECTIONS "
		    "SECONDS\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_ALL);
	headers = curl_slist_append(headers,
	    "Content-Type: application/cloudevents+json");
	headers = curl_slist_append(headers, "Expect:");
	if ((t = calloc((size_t)nthreads, sizeof *t)) == NULL || headers == NULL)
		return 1;
	t0 = ceiling_now();
	for (i = 0; i < nthreads; i++) {
		t[i].url = argv[1];
		/* the connections shared out as evenly as they go */
		t[i].transfers = conns / nthreads + (i < conns % nthreads);
		t[i].until = t0 + secs;
		t[i].headers = headers;
		if (pthread_create(&t[i].thread, NULL, ceiling_main, &t[i]) != 0)
			return 1;
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(t[i].thread, NULL);
		requests += t[i].requests;
		errors += t[i].errors;
	}
	printf("RESULT requests=%ld duration_us=%.0f errors=%ld\n", requests,
	    (ceiling_now() - t0) * 1e6, errors);
	free(t);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	return 0;
}

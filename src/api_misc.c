/*
 * api_misc.c: unauthenticated health routes: /healthz (the process is up)
 * and /readyz (the store takes writes).
 *
 * Threads: HTTP threads; the readiness probe's job on the writer.
 */
#include "autoconfig.h"

#include <stdlib.h>

#include "api.h"
#include "app.h"
#include "http_server.h"
#include "store.h"
#include "xmalloc.h"

void
api_healthz(struct http_req *req)
{
	http_reply(req, 200, "text/plain", xstrdup("ok\n"), 3);
}

static int
readyz_apply(struct api_tx *t, void *arg)
{
	return STORE_OK;
}

static void
readyz_reply(struct http_req *req, void *arg, int rc)
{
	if (rc == STORE_OK)
		http_reply(req, 200, "text/plain", xstrdup("ready\n"), 6);
	else
		http_reply_problem(req, 503, NULL, NULL,
		    "the store does not take writes");
}

void
api_readyz(struct http_req *req)
{
	api_write(req, readyz_apply, readyz_reply, NULL, 0);
}

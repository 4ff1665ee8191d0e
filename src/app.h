/*
 * app.h: the one structure that ties the daemon's parts together.  Built by
 * main before any thread starts; its pointers do not change afterwards, so
 * every thread may read them.  Each part guards its own mutable state.
 */
#ifndef SLUICE_APP_H
#define SLUICE_APP_H

#include <stdint.h>

struct config;
struct store;
struct catalog;
struct http_server;
struct dispatcher;
struct metrics;
struct secretbox;

struct app {
	const struct config *cfg;     /* settings, immutable */
	struct store *store;	      /* the database */
	struct catalog *catalog;      /* topics (and subscriptions) in memory */
	struct http_server *http;     /* the HTTP server */
	struct dispatcher *dispatcher; /* the delivery workers */
	struct metrics *metrics;      /* counters for /metrics */
	struct secretbox *secrets;    /* seals subscription secrets */
	const char *node;	      /* node name for system events */
	int api_open;		      /* 1: /api/v1 may be served */
	int64_t started_at;	      /* ms since the epoch */
};

#endif

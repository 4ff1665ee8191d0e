/*
 * config.h: sluiced's settings.  One table (config.c) names each setting,
 * its type, bounds, default and help, and drives the config file, the
 * SLUICE_* environment, the command-line flags, --help and validation.
 *
 * Parsing is pure; a struct config is immutable once the daemon starts, so
 * any thread may read it.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdint.h>
#include <stdio.h>

struct config {
	char *config_file;     /* the file the settings came from, or NULL */
	char *backup;	       /* --backup FILE: copy the database and exit */
	char *listen;	       /* ADDR:PORT of the HTTP server */
	char *db;	       /* SQLite database path */
	char *secret_key_file; /* key sealing subscription secrets */
	char *admin_token;     /* bearer token for /api/v1, or NULL */
	int64_t workers;       /* delivery threads, 0: one per core */
	int64_t http_threads;      /* HTTP server threads */
	int64_t max_body;      /* largest request body, bytes */
	int64_t max_header;    /* memory for one connection's headers, bytes */
	int64_t max_connections;   /* open HTTP connections at most */
	int64_t idle_timeout;  /* close an idle connection after, ms */
	char *web_root;	       /* serve web/ from this folder, or NULL */
	char *log_level;       /* debug, info, warn, error */
	int log_json;	       /* 1: JSON lines */
	char *log_file;	       /* append logs here, or NULL: stderr */
	char *node;	       /* this node's name, for system events */
	char *synchronous;     /* full or normal */
	int64_t max_db_pages;  /* cap on the database size, 0: none */
	char *allowed_origins; /* webhook origins allowed to send, "*" all,
				  NULL none */
	int64_t retention;     /* keep delivered messages, ms */
	int64_t secret_rotation_grace; /* a replaced secret signs too, ms */
	char *ca_file;	       /* CA bundle for TLS to sinks, or NULL */
	int insecure_tls;      /* 1: do not verify sinks' certificates */
	char *sink_deny;       /* CIDR list sinks may not resolve to */
	int64_t stats_interval; /* io.sluice.server.stats period, ms; 0 off */
};

/* Fills cfg with every default. */
void config_defaults(struct config *);
/* Sets one setting by name (as in the file); -1 and *cause if invalid. */
int config_set(struct config *, const char *name, const char *value,
    char **cause) __attribute__((warn_unused_result));
/* Applies a config file's text: "name = value" lines, # comments. */
int config_load_text(struct config *, const char *text, const char *file,
    char **cause) __attribute__((warn_unused_result));
/*
 * Builds the settings from the config file, the environment and argv, in
 * that order of precedence from low to high.  Returns 0, 1 when --help or
 * --version was answered (printed to out), or -1 with *cause.
 */
int config_load(struct config *, int argc, char **argv, char **envp,
    FILE *out, char **cause) __attribute__((warn_unused_result));
void config_usage(FILE *);
void config_free(struct config *);

#endif

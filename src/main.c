/*
 * main.c: sluiced's start and stop.  Reads the settings, opens the store
 * (migrating it), loads the catalog, starts the HTTP server, then waits for
 * a signal: SIGTERM or SIGINT stop it cleanly (requests in flight finish,
 * the writer commits what it holds, the database is closed, exit 0);
 * SIGHUP reopens the log_file (after a rotation).  Settings that name
 * files (web_root, log_file) are checked before anything starts: a bad one
 * exits 2, like a bad value.
 *
 * Threads: the main thread owns start-up and shutdown and is the only one
 * that takes signals (they are blocked everywhere else).
 */
#include "autoconfig.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "catalog.h"
#include "config.h"
#include "deliver.h"
#include "dispatcher.h"
#include "fmt.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "secretbox.h"
#include "store.h"
#include "sysevent.h"
#include "xmalloc.h"

extern char **environ;

/*
 * Takes the lock file beside the database (DB.lock), so that a second
 * sluiced on the same database is refused: two dispatchers would send the
 * same queue twice, and each start would requeue the other's in-flight
 * deliveries.  The kernel drops the lock when the process ends, however it
 * ends.  Returns the descriptor to keep open, or -1 and *cause.
 */
static int
main_lock(const char *db, char **cause)
{
	char *path = xasprintf("%s.lock", db), pid[32];
	int fd, n;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		goto done;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			n = (int)pread(fd, pid, sizeof pid - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			*cause = xasprintf("database %s is in use by another "
			    "sluiced%s%s (it holds %s)", db, *pid ? " pid " : "",
			    pid, path);
		} else
			*cause = xasprintf("%s: %s", path, strerror(errno));
		close(fd);
		fd = -1;
		goto done;
	}
	n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("main", "%s: cannot record the pid: %s", path,
		    strerror(errno));
done:
	free(path);
	return fd;
}

/*
 * Is web_root a readable folder holding index.html?  Otherwise /admin/
 * would answer 404 for a typo nobody is told about.
 */
static int
main_check_web_root(const char *dir, char **cause)
{
	struct stat st;
	char *index;
	int fd;

	if (stat(dir, &st) != 0)
		goto sys;
	if (!S_ISDIR(st.st_mode)) {
		*cause = xasprintf("web_root: %s: not a directory", dir);
		return -1;
	}
	if (access(dir, R_OK | X_OK) != 0)
		goto sys;
	index = xasprintf("%s/index.html", dir);
	if ((fd = open(index, O_RDONLY | O_CLOEXEC)) < 0)
		*cause = xasprintf("web_root: %s: no readable index.html "
		    "(%s: %s)", dir, index, strerror(errno));
	else
		close(fd);
	free(index);
	return fd < 0 ? -1 : 0;
sys:
	*cause = xasprintf("web_root: %s: %s", dir, strerror(errno));
	return -1;
}

/*
 * Checks what the settings name on disk and opens the log file: -1 and
 * *cause for a bad setting (exit 2).
 */
static int
main_settings(const struct config *cfg, char **cause)
{
	char *why = NULL;

	if (cfg->backup == NULL && cfg->web_root != NULL &&
	    main_check_web_root(cfg->web_root, cause) != 0)
		return -1;
	if (cfg->sink_deny != NULL &&
	    deliver_deny_check(cfg->sink_deny, cause) != 0)
		return -1;
	/* read by libcurl only at the first https delivery */
	if (cfg->backup == NULL && cfg->ca_file != NULL &&
	    access(cfg->ca_file, R_OK) != 0) {
		*cause = xasprintf("ca_file: %s: %s", cfg->ca_file,
		    strerror(errno));
		return -1;
	}
	if (cfg->log_file != NULL && log_open(cfg->log_file, &why) != 0) {
		*cause = xasprintf("log_file: %s", why);
		free(why);
		return -1;
	}
	return 0;
}

/* SIGHUP: opens the log file again, for log rotation. */
static void
main_reopen_log(const struct config *cfg)
{
	char *cause = NULL;

	if (cfg->log_file == NULL) {
		log_info("main", "SIGHUP: logs go to stderr, nothing to "
		    "reopen");
		return;
	}
	if (log_reopen(&cause) != 0) {
		log_error("main", "SIGHUP: cannot reopen the log file, still "
		    "logging to the old one: %s", cause);
		free(cause);
		return;
	}
	log_info("main", "SIGHUP: reopened %s", cfg->log_file);
}

/* The store's commit hook: group-commit sizes and latency. */
static void
main_on_commit(void *cls, int jobs, double seconds)
{
	struct metrics *m = cls;

	metrics_observe(&m->commit_jobs, jobs, 1);
	metrics_observe(&m->commit_seconds, seconds, 0);
}

/*
 * --backup FILE: the database through SQLite's online backup, and its key
 * file as FILE.key (where a sluiced started on FILE looks for it).
 */
static int
main_backup(const struct config *cfg, const char *keyfile)
{
	char *cause = NULL, *dest_key = xasprintf("%s.key", cfg->backup);
	int64_t sealed = 0;
	int rc = 0;

	/* a copy without the key of its sealed secrets would not restore */
	if (access(keyfile, F_OK) != 0 && (rc = store_file_sealed(cfg->db,
	    &sealed, &cause)) == 0 && sealed > 0) {
		cause = xasprintf("%lld subscription secret(s) in %s are sealed "
		    "with a key file, but %s does not exist: give the "
		    "--secret-key-file sluiced runs with", (long long)sealed,
		    cfg->db, keyfile);
		rc = -1;
	}
	if (rc == 0)
		rc = store_backup(cfg->db, cfg->backup, &cause);
	if (rc == 0)
		rc = secretbox_copy(keyfile, dest_key, &cause);
	if (rc == 0 && access(keyfile, F_OK) == 0)
		log_info("main", "backed up %s to %s (and its key file to %s)",
		    cfg->db, cfg->backup, dest_key);
	else if (rc == 0)
		log_info("main", "backed up %s to %s", cfg->db, cfg->backup);
	else
		log_error("main", "backup: %s", cause);
	free(cause);
	free(dest_key);
	return rc;
}

/* Records a server operation as a system event. */
static void
main_sysevent(struct app *app, const char *operation, json_t *metadata)
{
	struct sysevent se = { "server", operation, app->node, "system",
		metadata };

	if (sysevent_emit(app, &se) != 0)
		log_warn("main", "could not record server.%s", operation);
	json_decref(metadata);
}

/* Publishes io.sluice.server.stats: totals and queue depths. */
static void
main_stats(struct app *app)
{
	struct store_totals t;

	if (store_totals(app->store, &t) != STORE_OK)
		return;
	main_sysevent(app, "stats", json_pack("{sIsIsIsIs{sIsIsIsI}}",
	    "uptime_s", (json_int_t)((fmt_now_ms() - app->started_at) / 1000),
	    "topics", (json_int_t)t.topics, "subscriptions",
	    (json_int_t)t.subscriptions, "events", (json_int_t)t.events,
	    "queue", "pending", (json_int_t)t.count[DS_PENDING], "inflight",
	    (json_int_t)t.count[DS_INFLIGHT], "delivered",
	    (json_int_t)t.count[DS_DELIVERED], "dead",
	    (json_int_t)t.count[DS_DEAD]));
}

/*
 * Waits for SIGTERM or SIGINT, publishing stats every stats_interval and
 * reopening the log file on SIGHUP.
 */
static int
main_wait(struct app *app)
{
	int64_t every = app->cfg->stats_interval, next = fmt_now_ms() + every;
	struct timespec ts;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (every > 0) {
			int64_t left = next - fmt_now_ms();

			if (left <= 0) {
				main_stats(app);
				next = fmt_now_ms() + every;
				continue;
			}
			ts.tv_sec = (time_t)(left / 1000);
			ts.tv_nsec = (long)(left % 1000) * 1000000;
			sig = sigtimedwait(&set, NULL, &ts);
		} else
			sig = sigwaitinfo(&set, NULL);
		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			main_reopen_log(app->cfg);
			continue;
		}
		return sig;
	}
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct store_options so = { 0 };
	struct app app = { 0 };
	enum log_level level = LOGL_INFO;
	char host[256], *cause = NULL, *keyfile = NULL;
	sigset_t set;
	int64_t sealed = 0;
	int rc, sig, lockfd = -1;

	rc = config_load(&cfg, argc, argv, environ, stdout, &cause);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "sluiced: %s\n", cause);
		free(cause);
		config_free(&cfg);
		return rc < 0 ? 2 : 0;
	}
	if (main_settings(&cfg, &cause) != 0) {
		fprintf(stderr, "sluiced: %s\n", cause);
		free(cause);
		config_free(&cfg);
		return 2;
	}
	if (log_level_parse(cfg.log_level, &level) != 0)
		level = LOGL_INFO;
	log_setup(level, cfg.log_json);
	keyfile = cfg.secret_key_file ? xstrdup(cfg.secret_key_file) :
	    xasprintf("%s.key", cfg.db);
	if (cfg.backup != NULL) {
		rc = main_backup(&cfg, keyfile);
		free(keyfile);
		config_free(&cfg);
		return rc == 0 ? 0 : 1;
	}

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (cfg.node == NULL) {
		if (gethostname(host, sizeof host) != 0)
			strcpy(host, "sluice");
		host[sizeof host - 1] = '\0';
		app.node = host;
	} else
		app.node = cfg.node;
	app.cfg = &cfg;
	app.started_at = fmt_now_ms();

	app.metrics = metrics_new();
	so.on_commit = main_on_commit;
	so.cls = app.metrics;
	so.path = cfg.db;
	so.sync_full = strcmp(cfg.synchronous, "full") == 0;
	so.max_pages = cfg.max_db_pages;
	if ((lockfd = main_lock(cfg.db, &cause)) < 0 ||
	    (app.store = store_open(&so, &cause)) == NULL)
		goto fail;
	/* a new key over sealed secrets would lose those subscriptions */
	if (access(keyfile, F_OK) != 0 &&
	    store_sealed_secrets(app.store, &sealed) == STORE_OK &&
	    sealed > 0) {
		cause = xasprintf("the key file %s is missing but %lld "
		    "subscription secret(s) in %s are sealed with it: restore "
		    "it (--backup writes it as FILE.key) or point "
		    "--secret-key-file at it", keyfile, (long long)sealed,
		    cfg.db);
		goto fail;
	}
	app.secrets = secretbox_open(keyfile, &cause);
	free(keyfile);
	keyfile = NULL;
	if (app.secrets == NULL)
		goto fail;
	app.catalog = catalog_new(app.store, app.secrets);
	if (catalog_reload(app.catalog) != 0) {
		cause = xstrdup("cannot read the topics and subscriptions");
		goto fail;
	}
	if (deliver_global_init(&cause) != 0 ||
	    (app.dispatcher = dispatcher_start(&app, &cause)) == NULL)
		goto fail;
	if ((app.http = http_server_start(&app, &cause)) == NULL)
		goto fail;
	main_sysevent(&app, "start", json_pack("{sssssi}", "version",
	    PACKAGE_VERSION, "listen", http_server_address(app.http),
	    "schema_version", store_schema_version(app.store)));
	log_info("main", "sluiced %s listening on http://%s (database %s, "
	    "schema version %d)", PACKAGE_VERSION,
	    http_server_address(app.http), cfg.db,
	    store_schema_version(app.store));

	sig = main_wait(&app);
	log_info("main", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	http_server_stop(app.http, 10000);
	main_sysevent(&app, "stop", json_pack("{ss}", "signal",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT"));
	dispatcher_stop(app.dispatcher);
	store_close(app.store);
	catalog_free(app.catalog);
	secretbox_free(app.secrets);
	deliver_global_cleanup();
	metrics_free(app.metrics);
	close(lockfd);
	log_info("main", "stopped");
	config_free(&cfg);
	return 0;
fail:
	log_error("main", "%s", cause);
	free(cause);
	free(keyfile);
	dispatcher_stop(app.dispatcher);
	store_close(app.store);
	catalog_free(app.catalog);
	secretbox_free(app.secrets);
	metrics_free(app.metrics);
	if (lockfd >= 0)
		close(lockfd);
	config_free(&cfg);
	return 1;
}

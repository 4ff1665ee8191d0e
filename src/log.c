/*
 * log.c: leveled logging to stderr or to the log_file.  A line is "TIME
 * LEVEL module: message" or, with JSON lines on, {"time":..,"level":..,
 * "module":..,"msg":..}.  Messages name ids, never payloads, tokens or
 * secrets.
 *
 * The settings are written once by log_setup and log_open before any thread
 * starts, then only read; each line goes out in one write(2), so threads do
 * not interleave.  log_reopen never changes the descriptor's number: it
 * dup2()s the new file over it, which the kernel does atomically, so a
 * concurrent line lands whole in either the old file or the new one.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "jsonscan.h"
#include "log.h"
#include "xmalloc.h"

static enum log_level log_min = LOGL_INFO;
static int log_json;
static int log_fd = STDERR_FILENO;
static char *log_path; /* the log file, or NULL: stderr */

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
log_setup(enum log_level level, int json)
{
	log_min = level;
	log_json = json;
}

/* Opens path for appending; -1 and *cause if it cannot. */
static int
log_open_fd(const char *path, char **cause)
{
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		*cause = xasprintf("%s: %s", path, strerror(errno));
	return fd;
}

int
log_open(const char *path, char **cause)
{
	int fd;

	if ((fd = log_open_fd(path, cause)) < 0)
		return -1;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	free(log_path);
	log_path = xstrdup(path);
	return 0;
}

int
log_reopen(char **cause)
{
	int fd;

	if (log_path == NULL)
		return 0;
	if ((fd = log_open_fd(log_path, cause)) < 0)
		return -1;
	if (dup2(fd, log_fd) < 0) {
		*cause = xasprintf("%s: %s", log_path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	/* dup2 clears close-on-exec; sluiced execs nothing, but keep it */
	(void)fcntl(log_fd, F_SETFD, FD_CLOEXEC);
	return 0;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++)
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

int
log_enabled(enum log_level level)
{
	return level >= log_min;
}

static void log_vline(enum log_level, const char *, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
log_vline(enum log_level level, const char *module, const char *fmt,
    va_list ap)
{
	struct timeval tv;
	struct tm tm;
	char when[40];
	struct buf b;
	char *msg;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof when - strlen(when), ".%03dZ",
	    (int)(tv.tv_usec / 1000));
	msg = xvasprintf(fmt, ap);
	buf_init(&b, 0);
	if (log_json) {
		buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"module\":",
		    when, log_names[level]);
		json_quote(&b, module, strlen(module));
		buf_addstr(&b, ",\"msg\":");
		json_quote(&b, msg, strlen(msg));
		buf_addstr(&b, "}\n");
	} else
		buf_printf(&b, "%s %s %s: %s\n", when, log_names[level],
		    module, msg);
	if (write(log_fd, b.data, b.len) < 0) {
		/* nowhere left to report it */
	}
	buf_free(&b);
	free(msg);
}

void
log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	va_list ap;

	if (level < log_min)
		return;
	va_start(ap, fmt);
	log_vline(level, module, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOGL_ERROR, module, fmt, ap);
	va_end(ap);
	exit(1);
}

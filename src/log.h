/*
 * log.h: leveled logging to stderr or to a file, as text or JSON lines.
 *
 * log_setup and log_open run once before threads start; after that every
 * function here is thread-safe (each line is one write), and log_reopen
 * may be called (from one thread at a time) while others log.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

enum log_level {
	LOGL_DEBUG,
	LOGL_INFO,
	LOGL_WARN,
	LOGL_ERROR,
};

void log_setup(enum log_level, int json);
/* Sends the log to path (appending, created 0640) instead of stderr. */
int log_open(const char *path, char **cause)
    __attribute__((warn_unused_result));
/*
 * Opens log_open's path again (after a rotation renamed it) and swaps it
 * in; on failure the old file stays in use.  0 without a log file.
 */
int log_reopen(char **cause) __attribute__((warn_unused_result));
int log_level_parse(const char *, enum log_level *);
int log_enabled(enum log_level);
void log_msg(enum log_level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fatalx(const char *module, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#define log_debug(...) log_msg(LOGL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOGL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOGL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOGL_ERROR, __VA_ARGS__)

#endif

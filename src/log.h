/*
 * log.h: leveled logging to stderr, as text or JSON lines.
 *
 * log_setup runs once before threads start; after that every function here
 * is thread-safe (each line is one write).
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

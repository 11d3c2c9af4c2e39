/* SPDX-License-Identifier: MIT */
/*
 * log.h - leveled logging to stderr (or syslog once daemonized).
 *
 * One process-wide level, set once at start-up before threads exist.
 * vlog() is thread-safe: each message is formatted into a stack buffer and
 * written with one write(2), so lines from different threads never interleave.
 */
#ifndef VALOR_COMMON_LOG_H
#define VALOR_COMMON_LOG_H

#include <stdarg.h>

enum vlog_level {
	VLOG_ERR = 0,	/* something failed; the program may go on */
	VLOG_WARN = 1,	/* unexpected, handled */
	VLOG_INFO = 2,	/* start-up, shutdown, what was negotiated */
	VLOG_DEBUG = 3,	/* per-request tracing (-d) */
};

/* Set the threshold; messages above it are dropped. Not thread-safe. */
void vlog_set_level(enum vlog_level level);
enum vlog_level vlog_get_level(void);

/* Prefix every line with @ident (kept by pointer: must outlive logging). */
void vlog_set_ident(const char *ident);

/* Send further messages to syslog instead of stderr (after daemonizing). */
void vlog_use_syslog(int on);

void vlog(enum vlog_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vlogv(enum vlog_level level, const char *fmt, va_list ap);

static inline int vlog_enabled(enum vlog_level level)
{
	return level <= vlog_get_level();
}

#define vlog_err(...) vlog(VLOG_ERR, __VA_ARGS__)
#define vlog_warn(...) vlog(VLOG_WARN, __VA_ARGS__)
#define vlog_info(...) vlog(VLOG_INFO, __VA_ARGS__)
#define vlog_debug(...)                                                        \
	do {                                                                   \
		if (vlog_enabled(VLOG_DEBUG))                                  \
			vlog(VLOG_DEBUG, __VA_ARGS__);                         \
	} while (0)

#endif

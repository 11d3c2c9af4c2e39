/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum vlog_level vlog_level = VLOG_INFO;
static const char *vlog_ident = "valor";
static int vlog_syslog;

static const char *const vlog_names[] = {
	[VLOG_ERR] = "error", [VLOG_WARN] = "warn",
	[VLOG_INFO] = "info", [VLOG_DEBUG] = "debug",
};

void vlog_set_level(enum vlog_level level) { vlog_level = level; }
enum vlog_level vlog_get_level(void) { return vlog_level; }
void vlog_set_ident(const char *ident) { vlog_ident = ident; }

void vlog_use_syslog(int on)
{
	vlog_syslog = on;
	if (on)
		openlog(vlog_ident, LOG_PID, LOG_DAEMON);
}

void vlogv(enum vlog_level level, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n;

	if (level > vlog_level)
		return;
	if (vlog_syslog) {
		vsyslog(prio[level], fmt, ap);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%06ld %s[%d] %s: ",
		     tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
		     vlog_ident, (int)getpid(), vlog_names[level]);
	if (n < 0)
		return;
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: concurrent threads do not interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void vlog(enum vlog_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlogv(level, fmt, ap);
	va_end(ap);
}

/* SPDX-License-Identifier: MIT */
/*
 * ctlsock.h - the control socket every long-running valorfs program serves.
 *
 * A unix stream socket. A client connects, writes one command line and
 * reads until EOF:
 *   "stats\n"       counters as an aligned text table
 *   "stats json\n"  the same as one JSON object
 * Unknown commands get "error: unknown command '...'\n". `valorctl stats
 * --socket PATH [--json]` is the client.
 *
 * The server side runs on a vloop (the program's control thread): accept,
 * read the line, call the program's report function, write, close. Reports
 * are small (tens of KiB); a client that does not read is dropped after
 * VCTL_TIMEOUT_MS.
 */
#ifndef VALOR_COMMON_CTLSOCK_H
#define VALOR_COMMON_CTLSOCK_H

#include <stddef.h>

#include "ring/loop.h"

#define VCTL_TIMEOUT_MS 2000
#define VCTL_REPLY_MAX (256 * 1024)

/* A growing text buffer for reports. */
struct vctl_buf {
	char *p;
	size_t len, cap;
	int oom;
};

void vctl_printf(struct vctl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Fill @out for @json (0 text, 1 JSON). Runs on the loop's thread. */
typedef void (*vctl_report_fn)(void *arg, int json, struct vctl_buf *out);

struct vctl;

/*
 * Listen on @path (an existing socket file is replaced; its directory is
 * created 0755 if missing). Returns 0 and *out, or -errno with a log line.
 */
int vctl_open(struct vctl **out, struct vloop *loop, const char *path,
	      vctl_report_fn report, void *arg);
/* Stop serving and remove the socket file. vctl_close(NULL) is a no-op. */
void vctl_close(struct vctl *c);

/*
 * Client: send @cmd, read the whole answer into a malloc'd NUL-terminated
 * string (*out, caller frees). Returns 0 or -errno.
 */
int vctl_query(const char *path, const char *cmd, char **out);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - how every long-running valorfs program becomes a daemon.
 *
 * The caller learns whether start-up worked: vdaemon_fork() forks before
 * anything is set up; the parent waits on a pipe and exits with the status
 * the child reports through vdaemon_ready() once it is serving (mounted,
 * listening), or 1 if the child dies first.
 */
#ifndef VALOR_COMMON_DAEMON_H
#define VALOR_COMMON_DAEMON_H

#include <stddef.h>

/*
 * Fork. Returns 0 in the child (the parent never returns) with *notify_fd
 * set, or -errno if the fork failed. The child starts a new session.
 * Call before creating any thread.
 */
int vdaemon_fork(int *notify_fd);

/* Report @status (0 = serving) to the waiting parent and close the pipe.
 * A no-op when *notify_fd is -1 (foreground). */
void vdaemon_ready(int *notify_fd, int status);

/*
 * Point stdin and stdout at /dev/null. stderr stays only when it is a
 * regular file (a log); a terminal or a pipe goes, and logging moves to
 * syslog, so a caller reading a pipe sees its end.
 */
void vdaemon_detach_stdio(void);

/* Write the calling process's pid to @path. 0, or -errno with a log line. */
int vdaemon_write_pidfile(const char *path);

/*
 * The life of a server process, after its command line was parsed:
 * SIGINT and SIGTERM (and the 0-terminated @more_signals, may be NULL) are
 * blocked so that only a signalfd sees them, SIGPIPE is ignored; without
 * @foreground the process forks and the parent exits with the start-up
 * verdict. Then @start(@arg) sets everything up (0: serving; the parent
 * exits 0), stdio is detached (a log file on stderr stays) and the working
 * directory becomes /; @run(@arg) serves until it returns (0, or -errno:
 * logged); @stop(@arg) undoes whatever @start did, also after a failed
 * start. Returns the exit status: 0, or 1 when the fork, @start or @run
 * failed.
 */
struct vdaemon_server {
	const char *name; /* for messages */
	int (*start)(void *arg);
	int (*run)(void *arg);
	void (*stop)(void *arg);
};
int vdaemon_serve(const struct vdaemon_server *srv, void *arg,
		  int foreground, const int *more_signals);

/* @in made absolute against the working directory: 0, -ENAMETOOLONG. */
int vdaemon_abspath(const char *in, char *out, size_t len);

/*
 * A path from the command line, made absolute (the daemon changes to /):
 * 0, or -EINVAL after printing "PROG: OPT wants a path, got 'ARG'" on
 * stderr (empty, or too long for @len bytes).
 */
int vdaemon_path_arg(const char *prog, const char *opt, const char *arg,
		     char *out, size_t len);

#endif

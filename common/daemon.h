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

#endif

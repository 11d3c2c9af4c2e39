/* SPDX-License-Identifier: MIT */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

int vdaemon_fork(int *notify_fd)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid > 0) {
		int status = 1, ws;
		ssize_t n;

		close(fds[1]);
		do {
			n = read(fds[0], &status, sizeof(status));
		} while (n < 0 && errno == EINTR);
		if (n != sizeof(status)) {
			/* The child died before it could say. */
			waitpid(pid, &ws, 0);
			status = 1;
		}
		_exit(status);
	}
	close(fds[0]);
	setsid();
	*notify_fd = fds[1];
	return 0;
}

void vdaemon_ready(int *notify_fd, int status)
{
	if (*notify_fd < 0)
		return;
	if (write(*notify_fd, &status, sizeof(status)) != sizeof(status))
		vlog_warn("cannot report start-up status: %s", strerror(errno));
	close(*notify_fd);
	*notify_fd = -1;
}

void vdaemon_detach_stdio(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct stat st;

	if (null < 0)
		return;
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	if (fstat(STDERR_FILENO, &st) || !S_ISREG(st.st_mode)) {
		dup2(null, STDERR_FILENO);
		vlog_use_syslog(1);
	}
	close(null);
}

int vdaemon_write_pidfile(const char *path)
{
	FILE *f = fopen(path, "we");
	int ret;

	if (!f) {
		ret = -errno;
		vlog_err("pidfile %s: %s", path, strerror(-ret));
		return ret;
	}
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f)) {
		ret = -errno;
		vlog_err("pidfile %s: %s", path, strerror(-ret));
		return ret;
	}
	return 0;
}

int vdaemon_serve(const struct vdaemon_server *srv, void *arg,
		  int foreground, const int *more_signals)
{
	int notify_fd = -1, ret, status = 0;
	sigset_t set;

	/* Signals arrive through the program's signalfd only. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	for (; more_signals && *more_signals; more_signals++)
		sigaddset(&set, *more_signals);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!foreground) {
		ret = vdaemon_fork(&notify_fd);
		if (ret < 0) {
			vlog_err("%s: cannot daemonize: %s", srv->name,
				 strerror(-ret));
			return 1;
		}
	}
	ret = srv->start(arg);
	if (ret < 0) {
		status = 1;
		goto out_stop;
	}
	vdaemon_ready(&notify_fd, 0);
	if (!foreground) {
		vdaemon_detach_stdio();
		if (chdir("/"))
			vlog_warn("chdir /: %s", strerror(errno));
	}
	ret = srv->run(arg);
	if (ret < 0) {
		vlog_err("%s: event loop failed: %s", srv->name,
			 strerror(-ret));
		status = 1;
	}
out_stop:
	srv->stop(arg);
	vdaemon_ready(&notify_fd, 1);
	return status;
}

int vdaemon_abspath(const char *in, char *out, size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (in[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		n = snprintf(out, len, "%s", in);
	else
		n = snprintf(out, len, "%s/%s", cwd, in);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int vdaemon_path_arg(const char *prog, const char *opt, const char *arg,
		     char *out, size_t len)
{
	if (!arg[0] || vdaemon_abspath(arg, out, len)) {
		fprintf(stderr, "%s: %s wants a path, got '%s'\n", prog, opt,
			arg);
		return -EINVAL;
	}
	return 0;
}

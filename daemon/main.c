/* SPDX-License-Identifier: MIT */
/*
 * valorfs - the FUSE client daemon.
 *
 *   valorfs [-f] [-s] [-d] [-o opt[,opt...]] SOURCE MOUNTPOINT
 *
 * Without -f the daemon forks before mounting and the parent waits: it exits
 * 0 only once the mount is live (INIT answered), or with the child's failure,
 * so a caller (mount(8), a script) learns whether the mount worked.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/config.h"
#include "daemon/session.h"

/* Fork; the parent waits for the child's verdict on @fd[0] and exits. */
static int valorfs_daemonize(int *notify_fd)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		int status = 1;
		ssize_t n;

		close(fds[1]);
		do {
			n = read(fds[0], &status, sizeof(status));
		} while (n < 0 && errno == EINTR);
		if (n != sizeof(status)) {
			/* The child died before it could say. */
			int ws;

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

static void valorfs_notify(int *fd, int status)
{
	if (*fd < 0)
		return;
	if (write(*fd, &status, sizeof(status)) != sizeof(status))
		vlog_warn("cannot report start-up status: %s", strerror(errno));
	close(*fd);
	*fd = -1;
}

static void valorfs_detach_stdio(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		return;
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	/*
	 * Keep stderr only when it is a log file. A terminal or a pipe goes:
	 * a pipe held open by the daemon would keep its reader (make run |
	 * tail, a script's $(...)) waiting for an end of file forever.
	 */
	{
		struct stat st;

		if (fstat(STDERR_FILENO, &st) || !S_ISREG(st.st_mode)) {
			dup2(null, STDERR_FILENO);
			vlog_use_syslog(1);
		}
	}
	close(null);
}

static int valorfs_write_pidfile(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		vlog_err("pidfile %s: %s", path, strerror(errno));
		return -errno;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct vfs_config cfg;
	struct vsession s;
	int notify_fd = -1;
	sigset_t set;
	int ret, status;

	vlog_set_ident("valorfs");
	vfs_config_defaults(&cfg);
	ret = vfs_config_parse_args(&cfg, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (cfg.debug)
		vlog_set_level(VLOG_DEBUG);

	/* Signals arrive through a signalfd in the session; block them in
	 * every thread from the start. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!cfg.foreground) {
		ret = valorfs_daemonize(&notify_fd);
		if (ret) {
			vlog_err("cannot daemonize: %s", strerror(-ret));
			return 1;
		}
	}

	ret = vsession_init(&s, &cfg);
	if (ret) {
		if (ret != -EINVAL)
			vlog_err("start-up failed: %s", strerror(-ret));
		goto out_release;
	}
	ret = vsession_mount(&s);
	if (ret)
		goto out_release;
	if (cfg.pidfile[0] && valorfs_write_pidfile(cfg.pidfile)) {
		ret = -EIO;
		goto out_release;
	}
	vlog_info("mounted %s on %s", cfg.source, cfg.mountpoint);
	valorfs_notify(&notify_fd, 0);
	if (!cfg.foreground) {
		valorfs_detach_stdio();
		if (chdir("/"))
			vlog_warn("chdir /: %s", strerror(errno));
	}
	status = vsession_run(&s);
	vsession_release(&s);
	if (cfg.pidfile[0])
		unlink(cfg.pidfile);
	vlog_info("exited");
	return status;

out_release:
	vsession_release(&s);
	valorfs_notify(&notify_fd, 1);
	return 1;
}

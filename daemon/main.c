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

#include "common/daemon.h"
#include "common/log.h"
#include "daemon/config.h"
#include "daemon/session.h"

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
		ret = vdaemon_fork(&notify_fd);
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
	if (cfg.pidfile[0] && vdaemon_write_pidfile(cfg.pidfile)) {
		ret = -EIO;
		goto out_release;
	}
	vlog_info("mounted %s on %s", cfg.source, cfg.mountpoint);
	vdaemon_ready(&notify_fd, 0);
	if (!cfg.foreground) {
		vdaemon_detach_stdio();
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
	vdaemon_ready(&notify_fd, 1);
	return 1;
}

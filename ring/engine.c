/* SPDX-License-Identifier: MIT */
/*
 * engine.c - what every threaded engine does the same way: choose CPUs,
 * clone /dev/fuse fds, create the workers, start their threads pinned and
 * with signals blocked (the main thread's signalfd takes them all).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/opts.h"
#include "daemon/session.h"

int vengine_cpu_list(const struct vfs_config *cfg, int *cpus, int max)
{
	cpu_set_t set;
	int n = 0;

	if (cfg->cpus[0])
		return vopts_parse_cpulist(cfg->cpus, cpus, max);
	if (sched_getaffinity(0, sizeof(set), &set))
		return -errno;
	for (int c = 0; c < CPU_SETSIZE && n < max; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	return n;
}

int vengine_clone_fd(int session_fd)
{
	uint32_t master = (uint32_t)session_fd;
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, FUSE_DEV_IOC_CLONE, &master)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int vengine_workers_on_clones(struct vsession *s, unsigned loop_flags,
			      const struct vengine_ops *eops)
{
	static int cpus[VCFG_MAX_CPUS];
	int ncpus, ret;
	unsigned n;

	ncpus = vengine_cpu_list(&s->cfg, cpus, VCFG_MAX_CPUS);
	if (ncpus <= 0) {
		vlog_err("no usable CPUs in '%s'", s->cfg.cpus);
		return -EINVAL;
	}
	n = s->cfg.threads ? s->cfg.threads : (unsigned)ncpus;
	s->workers = calloc(n, sizeof(*s->workers));
	if (!s->workers)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		int fd = vengine_clone_fd(s->fd);
		int own = 1;

		if (fd < 0) {
			vlog_warn("FUSE_DEV_IOC_CLONE failed (%s); workers share "
				  "one fd", strerror(-fd));
			fd = s->fd;
			own = 0;
		}
		ret = vworker_init(&s->workers[i], s, (int)i, cpus[i % ncpus],
				   fd, own, VLOOP_URING, loop_flags, eops);
		s->nworkers = i + 1;
		if (ret)
			return ret;
	}
	return 0;
}

void vengine_thread_enter(struct vworker *w)
{
	cpu_set_t set;

	w->thread = pthread_self();	/* before any request compares it */
	if (w->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			vlog_warn("worker %d: cannot pin to CPU %d: %s", w->id,
				  w->cpu, strerror(errno));
	}
	/* After pinning: the backend allocates on this CPU's node. */
	vworker_backend_enter(w);
}

int vengine_spawn(struct vworker *w, void *(*fn)(void *))
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = -pthread_create(&w->thread, NULL, fn, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret == 0)
		w->started = 1;
	return ret;
}

void vengine_cpus_string(const struct vsession *s, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < s->nworkers && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%d",
					i ? "," : "", s->workers[i].cpu);
}

/* SPDX-License-Identifier: MIT */
/*
 * engine_fd.c - the engines that read /dev/fuse with read(2) and answer with
 * writev(2): "sync" (one thread, the poll loop; what strace sees is exactly
 * one read and one writev per request) and "clone" (a worker per CPU, each
 * with its own fd from FUSE_DEV_IOC_CLONE, pinned, on its own event loop).
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/opts.h"
#include "daemon/session.h"

/* Requests read per readiness callback before yielding to other events. */
#define VENGINE_FD_BATCH 32

static int vengine_fd_send(struct vworker *w, struct vreq *r,
			   const struct iovec *iov, int iovcnt)
{
	ssize_t n;

	/* The pipe is the owner's: a reply from another thread uses writev. */
	if (w->splice.write_ok && pthread_equal(pthread_self(), w->thread)) {
		int ret = vsplice_send(&w->splice, w->fd, iov, iovcnt);

		if (ret != -EAGAIN)
			return ret;
	}

	do {
		n = writev(w->fd, iov, iovcnt);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

const struct vengine_ops vengine_fd_ops = {
	.name = "fd",
	.send = vengine_fd_send,
};

/* The fd is readable: take requests until it is empty or the batch ends. */
static void vengine_fd_readable(struct vloop_watch *wt, uint32_t revents)
{
	struct vworker *w = (struct vworker *)((char *)wt -
			    offsetof(struct vworker, watch));
	unsigned got = 0;

	while (got < VENGINE_FD_BATCH && !atomic_load(&w->s->stopping)) {
		struct vreq *r = vworker_req_get(w);
		ssize_t n;

		if (!r)
			break;	/* paused until a request comes back */
		if (w->splice.read_ok) {
			n = vsplice_read_req(&w->splice, w->fd, r->buf,
					     w->bufsize);
			if (n == -EAGAIN && !w->splice.read_ok)
				n = read(w->fd, r->buf, w->bufsize);
			else if (n < 0) {
				errno = (int)-n;
				n = -1;
			}
		} else {
			n = read(w->fd, r->buf, w->bufsize);
		}
		if (n < 0) {
			int err = errno;

			vworker_req_put(r);
			if (err == EINTR || err == ENOENT)
				continue;	/* ENOENT: it died in transit */
			if (err == EAGAIN)
				break;
			if (err == ENODEV || err == ECONNABORTED) {
				vworker_conn_gone(w, -err);
				break;
			}
			vlog_err("worker %d: read /dev/fuse: %s", w->id,
				 strerror(err));
			vworker_conn_gone(w, -err);
			break;
		}
		r->len = (size_t)n;
		got++;
		w->n_requests++;
		vreq_dispatch(r);
	}
	if (got)
		w->n_batches++;
}

static int vengine_fd_watch(struct vworker *w)
{
	int mode = w->s->cfg.splice;
	int ret = vsplice_init(&w->splice, mode == VSPLICE_READ ||
				       mode == VSPLICE_BOTH,
			       mode == VSPLICE_WRITE || mode == VSPLICE_BOTH,
			       w->bufsize);

	if (ret)
		vlog_warn("worker %d: splice off: %s", w->id, strerror(-ret));

	w->watch.fd = w->fd;
	w->watch.events = POLLIN;
	w->watch.cb = vengine_fd_readable;
	return vloop_watch_add(w->loop, &w->watch);
}

int vengine_sync_run(struct vsession *s)
{
	struct vworker *w = &s->workers[0];
	int ret;

	w->thread = pthread_self();
	w->started = 1;
	ret = vworker_backend_enter(w);
	if (ret)
		return ret;
	ret = vengine_fd_watch(w);
	if (ret)
		return ret;
	ret = vloop_run(w->loop);
	vworker_backend_leave(w);
	vloop_watch_del(w->loop, &w->watch);
	return ret;
}

/* ------------------------------------------------------------------ */
/* clone                                                               */

static void *vengine_clone_main(void *arg)
{
	struct vworker *w = arg;
	int ret;

	vengine_thread_enter(w);
	ret = vengine_fd_watch(w);
	if (ret) {
		vlog_err("worker %d: %s", w->id, strerror(-ret));
		vsession_stop(w->s);
		return NULL;
	}
	ret = vloop_run(w->loop);
	if (ret)
		vlog_err("worker %d: loop failed: %s", w->id, strerror(-ret));
	vworker_backend_leave(w);
	vloop_watch_del(w->loop, &w->watch);
	return NULL;
}

int vengine_fd_thread_start(struct vworker *w)
{
	return vengine_spawn(w, vengine_clone_main);
}

int vengine_clone_start(struct vsession *s)
{
	char cpus[256];
	int ret;

	ret = vengine_workers_on_clones(s, 0, &vengine_fd_ops);
	for (unsigned i = 0; !ret && i < s->nworkers; i++)
		ret = vengine_fd_thread_start(&s->workers[i]);
	if (ret)
		return ret;
	vengine_cpus_string(s, cpus, sizeof(cpus));
	vlog_info("engine clone: %u workers on CPUs %s, %s loop, queue depth %u",
		  s->nworkers, cpus,
		  vloop_backend_of(s->workers[0].loop) == VLOOP_URING ?
			  "io_uring" : "poll",
		  s->cfg.queue_depth);
	return 0;
}

void vengine_clone_stop(struct vsession *s)
{
	for (unsigned i = 0; i < s->nworkers; i++)
		if (s->workers[i].loop)
			vloop_stop(s->workers[i].loop);
	for (unsigned i = 0; i < s->nworkers; i++) {
		if (s->workers[i].started) {
			pthread_join(s->workers[i].thread, NULL);
			s->workers[i].started = 0;
		}
	}
}

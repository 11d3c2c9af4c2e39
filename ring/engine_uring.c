/* SPDX-License-Identifier: MIT */
/*
 * engine_uring.c - the "uring" engine: per worker, an io_uring with a READ
 * queued on its cloned /dev/fuse fd for every request slot, so the worker
 * holds many requests in flight and pays one io_uring_enter for a batch of
 * completions and new submissions. Replies are WRITEV SQEs on the same ring;
 * a request slot cycles READ -> dispatch -> WRITEV -> READ without touching
 * the pool.
 *
 * Only uring_reads slots (default 1) keep a READ queued: every READ parked on
 * the fd is a poll waiter, and the kernel wakes them all for each request,
 * so many parked READs cost one wake-up and one failed retry each per
 * request. The other slots wait on the worker's idle list; when a READ
 * completes another slot takes its place at once, so the worker still holds
 * up to queue_depth requests in flight.
 *
 * Replies that complete on another thread (a lock granted by another worker)
 * cannot use this worker's ring (one submitter per ring): they are written
 * with writev(2) and the slot is handed back through vloop_post.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
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

/* enum for vreq.eng_state */
enum vuring_state {
	VURING_IDLE = 0,	/* not queued (stopping, or no SQE) */
	VURING_POLL,		/* POLL_ADD queued after -EAGAIN */
	VURING_READ,		/* READ queued on the fd */
	VURING_BUSY,		/* dispatched: a handler or backend owns it */
	VURING_WRITE,		/* WRITEV of its reply queued */
	VURING_READ_PENDING,	/* READ to be queued when an SQE is free */
};

static void vuring_arm_read(struct vreq *r);
static void vuring_top_up(struct vworker *w);

static inline struct vreq *vuring_req(struct vloop_op *op)
{
	return (struct vreq *)((char *)op - offsetof(struct vreq, op));
}

static inline int vuring_on_owner(struct vworker *w)
{
	return pthread_equal(pthread_self(), w->thread);
}

static void vuring_completion(struct vloop_op *op, int res, uint32_t flags)
{
	struct vreq *r = vuring_req(op);
	struct vworker *w = r->w;

	w->inflight--;
	switch (r->eng_state) {
	case VURING_POLL:
		r->eng_state = VURING_IDLE;
		w->reads_armed--;	/* a waiting reader counts as armed */
		if (res < 0 && res != -EINTR && res != -EAGAIN) {
			if (res != -ECANCELED)
				vworker_conn_gone(w, res);
			return;
		}
		vuring_arm_read(r);
		return;
	case VURING_READ:
		r->eng_state = VURING_IDLE;
		w->reads_armed--;
		if (res > 0) {
			r->len = (size_t)res;
			r->eng_state = VURING_BUSY;
			w->n_requests++;
			vuring_top_up(w);	/* another slot reads meanwhile */
			vreq_dispatch(r);
			return;
		}
		if (res == -EINTR || res == -ENOENT || res == -EAGAIN) {
			/* EAGAIN: another reader took it; wait for readiness */
			if (res == -EAGAIN) {
				struct io_uring_sqe *sqe = vloop_sqe_get(w->loop);

				w->n_eagain++;
				if (sqe) {
					io_uring_prep_poll_add(sqe, w->fd, POLLIN);
					vloop_sqe_set_op(sqe, &r->op);
					w->inflight++;
					w->reads_armed++;
					r->eng_state = VURING_POLL;
					return;
				}
			}
			vuring_arm_read(r);
			return;
		}
		if (res == -ECANCELED)
			return;
		vworker_conn_gone(w, res == 0 ? -ENODEV : res);
		return;
	case VURING_WRITE:
		r->eng_state = VURING_IDLE;
		if (res < 0 && res != -ENOENT)
			vlog_warn("worker %d: reply to unique=%llu: %s", w->id,
				  (unsigned long long)r->in.unique,
				  strerror(-res));
		vreq_release(r);	/* comes back through vuring_release */
		return;
	default:
		vlog_err("worker %d: completion for a slot in state %d", w->id,
			 r->eng_state);
	}
}

/* Queue a READ of the next request into @r. Owner thread only. */
static void vuring_arm_read(struct vreq *r)
{
	struct vworker *w = r->w;
	struct io_uring_sqe *sqe;

	if (atomic_load(&w->s->stopping))
		return;
	sqe = vloop_sqe_get(w->loop);
	if (!sqe) {
		/* Submission queue stuck: retry from the next iteration. */
		r->eng_state = VURING_READ_PENDING;
		vloop_post(w->loop, &r->post);
		return;
	}
	io_uring_prep_read(sqe, w->fd, r->buf, (unsigned)w->bufsize, 0);
	vloop_sqe_set_op(sqe, &r->op);
	w->inflight++;
	w->reads_armed++;
	r->eng_state = VURING_READ;
}

/* Owner thread: keep uring_reads READs queued, from the idle slots. */
static void vuring_top_up(struct vworker *w)
{
	while (w->reads_armed < w->s->cfg.uring_reads && w->idle) {
		struct vreq *r = w->idle;

		w->idle = r->next;
		r->next = NULL;
		vuring_arm_read(r);
		if (r->eng_state != VURING_READ)
			break;	/* no SQE now: it was posted for later */
	}
}

/* Owner thread: a finished slot reads again, or waits idle. */
static void vuring_slot_free(struct vworker *w, struct vreq *r)
{
	r->eng_state = VURING_IDLE;
	if (w->reads_armed < w->s->cfg.uring_reads) {
		vuring_arm_read(r);
	} else {
		r->next = w->idle;
		w->idle = r;
	}
}

static void vuring_post_rearm(struct vloop_post *p)
{
	struct vreq *r = (struct vreq *)((char *)p -
			 offsetof(struct vreq, post));

	if (r->eng_state == VURING_READ_PENDING)
		vuring_arm_read(r);	/* an SQE was missing earlier */
	else
		vuring_slot_free(r->w, r);
}

static int vuring_send(struct vworker *w, struct vreq *r,
		       const struct iovec *iov, int iovcnt)
{
	struct io_uring_sqe *sqe;
	ssize_t n;

	if (vuring_on_owner(w) && (sqe = vloop_sqe_get(w->loop))) {
		io_uring_prep_writev(sqe, w->fd, iov, (unsigned)iovcnt, 0);
		vloop_sqe_set_op(sqe, &r->op);
		w->inflight++;
		r->eng_state = VURING_WRITE;
		return 1;
	}
	do {
		n = writev(w->fd, iov, iovcnt);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* A finished request: its slot reads again or waits, on the owner. */
static void vuring_release(struct vworker *w, struct vreq *r)
{
	r->eng_state = VURING_IDLE;
	if (vuring_on_owner(w))
		vuring_slot_free(w, r);
	else
		vloop_post(w->loop, &r->post);
}

static const struct vengine_ops vengine_uring_ops = {
	.name = "uring",
	.send = vuring_send,
	.release = vuring_release,
};

int vengine_uring_probe(unsigned flags)
{
	struct io_uring ring;
	int ret = io_uring_queue_init(2, &ring, flags);

	if (ret == 0)
		io_uring_queue_exit(&ring);
	return ret;
}

static void *vuring_main(void *arg)
{
	struct vworker *w = arg;
	int ret;

	vengine_thread_enter(w);
	for (unsigned i = 0; i < w->nreqs; i++) {
		w->reqs[i].op.cb = vuring_completion;
		w->reqs[i].post.fn = vuring_post_rearm;
		vuring_slot_free(w, &w->reqs[i]);
	}
	ret = vloop_run(w->loop);
	if (ret)
		vlog_err("worker %d: loop failed: %s", w->id, strerror(-ret));
	vworker_backend_leave(w);
	vworker_drain(w, 2000);
	return NULL;
}

int vengine_uring_start(struct vsession *s)
{
	char cpus[256];
	int ret;

	ret = vengine_workers_on_clones(s, 0, &vengine_uring_ops);
	for (unsigned i = 0; !ret && i < s->nworkers; i++)
		if (vloop_backend_of(s->workers[i].loop) != VLOOP_URING)
			ret = -EOPNOTSUPP;
	for (unsigned i = 0; !ret && i < s->nworkers; i++)
		ret = vengine_spawn(&s->workers[i], vuring_main);
	if (ret)
		return ret;
	vengine_cpus_string(s, cpus, sizeof(cpus));
	vlog_info("engine uring: %u workers on CPUs %s, %u READs in flight "
		  "each on cloned fds", s->nworkers, cpus, s->cfg.queue_depth);
	return 0;
}

void vengine_uring_stop(struct vsession *s)
{
	vengine_clone_stop(s);	/* same: stop the loops, join the threads */
}

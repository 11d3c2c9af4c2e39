/* SPDX-License-Identifier: MIT */
/*
 * loop.h - the per-thread event loop.
 *
 * One vloop belongs to one thread: every function here except vloop_wake()
 * and vloop_stop() must be called from the thread that runs the loop (or
 * before it runs). Two backends sit behind the same calls:
 *
 *   VLOOP_POLL   poll(2) + a timer heap + an eventfd for wake-ups. No
 *                io_uring anywhere; what the sync engine (-s) uses so that
 *                strace shows every system call.
 *   VLOOP_URING  an io_uring: fd watches are IORING_OP_POLL_ADD, timers are
 *                IORING_OP_TIMEOUT-free (the heap's nearest deadline bounds
 *                the wait), wake-ups are a POLL_ADD on an eventfd. Callers
 *                may also queue their own SQEs (vloop_sqe_get) and get their
 *                completions through struct vloop_op.
 *
 * Callbacks run on the loop's thread, never under any lock of the loop, and
 * may add or remove watches, timers and ops (including their own).
 */
#ifndef VALOR_RING_LOOP_H
#define VALOR_RING_LOOP_H

#include <stdint.h>

enum vloop_backend {
	VLOOP_POLL,
	VLOOP_URING,
};

struct vloop;

/* A persistent fd watch. Fields below "private" belong to the loop. */
struct vloop_watch {
	int fd;
	uint32_t events;	/* POLLIN | POLLOUT */
	/* Called with the ready events (may include POLLERR/POLLHUP). */
	void (*cb)(struct vloop_watch *w, uint32_t revents);
	/* private */
	int armed;		/* uring: a POLL_ADD is in flight */
	int active;		/* between watch_add and watch_del */
	int slot;		/* poll: index in the pollfd array */
	struct vloop *loop;
};

/* A one-shot timer. */
struct vloop_timer {
	void (*cb)(struct vloop_timer *t);
	/* private */
	uint64_t deadline_ns;	/* CLOCK_MONOTONIC */
	int heap_idx;		/* -1 when not armed */
};

/* A raw io_uring operation (VLOOP_URING only). */
struct vloop_op {
	/* Called with the CQE's res (>= 0 or -errno) and flags. */
	void (*cb)(struct vloop_op *op, int res, uint32_t cqe_flags);
};

/*
 * Create a loop. @entries sizes the io_uring (ignored for POLL); @flags are
 * extra io_uring setup flags (e.g. IORING_SETUP_SQE128), 0 for none.
 * Returns 0 and *out, or -errno (-ENOSYS/-EPERM where io_uring is refused).
 */
int vloop_new(struct vloop **out, enum vloop_backend backend,
	      unsigned entries, unsigned flags);
/* Free a loop that is not running. Watches and timers are dropped, not
 * called. vloop_free(NULL) is a no-op. */
void vloop_free(struct vloop *loop);

enum vloop_backend vloop_backend_of(const struct vloop *loop);

/* Start watching w->fd for w->events. 0 or -errno. */
int vloop_watch_add(struct vloop *loop, struct vloop_watch *w);
/* Stop watching; after return w->cb will not be called again. */
void vloop_watch_del(struct vloop *loop, struct vloop_watch *w);

/* Arm (or re-arm) @t to fire once after @after_ns. */
void vloop_timer_add(struct vloop *loop, struct vloop_timer *t,
		     uint64_t after_ns);
/* Disarm; no-op if not armed. */
void vloop_timer_cancel(struct vloop *loop, struct vloop_timer *t);
/* Initialize a timer before first use (heap_idx = -1). */
void vloop_timer_init(struct vloop_timer *t, void (*cb)(struct vloop_timer *));

/*
 * VLOOP_URING only: an SQE to fill, or NULL if the loop is POLL. The loop
 * flushes the SQ when it needs room and before it waits. Set its user_data
 * with vloop_sqe_set_op() so the completion reaches @op->cb.
 */
struct io_uring_sqe *vloop_sqe_get(struct vloop *loop);
void vloop_sqe_set_op(struct io_uring_sqe *sqe, struct vloop_op *op);
/* The io_uring itself (struct io_uring *), for registration calls; NULL
 * for POLL. */
void *vloop_uring(struct vloop *loop);

/*
 * Run until vloop_stop(). Returns 0 after a stop, -errno on a fatal
 * error of the loop itself.
 */
int vloop_run(struct vloop *loop);
/* Run one iteration: wait at most @timeout_ms (-1 forever, 0 none),
 * dispatch what is ready. Returns the number of callbacks run or -errno. */
int vloop_run_once(struct vloop *loop, int timeout_ms);

/* Thread-safe: make a waiting vloop_run_once() return soon. */
void vloop_wake(struct vloop *loop);
/* Thread-safe: make vloop_run() return after the current iteration. */
void vloop_stop(struct vloop *loop);

/*
 * Thread-safe: run @fn(@arg) on the loop's thread at its next iteration.
 * Uses a preallocated node supplied by the caller (no allocation); the node
 * must stay valid until @fn runs.
 */
struct vloop_post {
	void (*fn)(struct vloop_post *p);
	struct vloop_post *next;	/* private */
};
void vloop_post(struct vloop *loop, struct vloop_post *p);

/* CLOCK_MONOTONIC in ns. */
uint64_t vloop_now_ns(void);

#endif

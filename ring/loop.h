/* SPDX-License-Identifier: MIT */
/*
 * loop.h - the per-thread event loop.
 *
 * One vloop belongs to one thread: every function here except vloop_wake(),
 * vloop_stop() and vloop_post() must be called from the thread that runs the
 * loop (or before it runs). Two backends sit behind the same calls:
 *
 *   VLOOP_POLL   ppoll(2) + a timer heap + an eventfd for wake-ups. No
 *                io_uring anywhere; what the sync engine (-s) uses so that
 *                strace shows every system call.
 *   VLOOP_URING  an io_uring: fd watches are single-shot IORING_OP_POLL_ADDs
 *                that the loop re-arms after each callback, timers use the
 *                same heap (no IORING_OP_TIMEOUT: the nearest deadline bounds
 *                the wait), wake-ups are a POLL_ADD on an eventfd. Callers
 *                may also queue their own SQEs (vloop_sqe_get) and get their
 *                completions through struct vloop_op.
 *
 * Callbacks run on the loop's thread, never under any lock of the loop, and
 * may add or remove watches, timers, posts and ops (including their own).
 * They must not call vloop_run() or vloop_run_once() (the loop is not
 * reentrant) nor vloop_free().
 *
 * One iteration (vloop_run_once) is: queue pending POLL_ADDs (uring), wait
 * (bounded by @timeout_ms and the nearest timer), run fd/op callbacks, run
 * the timers that are due, run the posted nodes.
 *
 * Memory: the loop allocates only in vloop_new(), vloop_watch_add() and
 * vloop_timer_add() (tables that grow by doubling and never shrink), never
 * per event, per wake-up or per completion.
 */
#ifndef VALOR_RING_LOOP_H
#define VALOR_RING_LOOP_H

#include <stdint.h>

enum vloop_backend {
	VLOOP_POLL,
	VLOOP_URING,
};

struct vloop;
struct io_uring_sqe;

/*
 * A persistent, level-triggered fd watch: while it is active, cb runs once
 * per iteration in which w->fd is ready for w->events. The caller owns the
 * memory and zero-initializes it before its first vloop_watch_add() or
 * vloop_watch_del() (the private "active" flag must read 0). It may be
 * freed or reused as soon as vloop_watch_del() returns, even while the
 * uring backend still has a POLL_ADD for it in flight (the loop keeps its
 * own token, not @w).
 * To change events or fd: vloop_watch_del(), edit, vloop_watch_add().
 * Fields below "private" belong to the loop.
 */
struct vloop_watch {
	int fd;
	uint32_t events; /* POLLIN | POLLOUT (| POLLRDHUP, POLLPRI) */
	/* Called with the ready events, POLLERR/POLLHUP/POLLNVAL included. */
	void (*cb)(struct vloop_watch *w, uint32_t revents);
	/* private */
	int armed;  /* uring: a POLL_ADD is in flight for it */
	int active; /* between watch_add and watch_del */
	int slot;   /* poll: index in the pollfd array;
		     * uring: index of the loop's watch token */
	struct vloop *loop;
};

/* A one-shot timer, embedded by the caller, who owns its memory. An armed
 * timer must be cancelled (or have fired) before its memory goes away. */
struct vloop_timer {
	void (*cb)(struct vloop_timer *t);
	/* private */
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	int heap_idx;	      /* -1 when not armed */
};

/*
 * A raw io_uring operation (VLOOP_URING only), embedded by the caller in
 * whatever tracks the I/O. Its address is the SQE's user_data, so it must
 * stay valid until its (last, for multishot ops) completion ran, and it
 * must be at least 4-byte aligned (any struct holding it is: the loop uses
 * the two low bits of user_data to tell its own completions apart).
 */
struct vloop_op {
	/* Called with the CQE's res (>= 0 or -errno) and flags. */
	void (*cb)(struct vloop_op *op, int res, uint32_t cqe_flags);
};

/*
 * Create a loop. @entries sizes the io_uring (ignored for POLL); @flags are
 * extra io_uring setup flags (e.g. IORING_SETUP_SQE128), 0 for none. With
 * IORING_SETUP_SINGLE_ISSUER call it on the thread that will run the loop.
 * Returns 0 and *out, or -errno: -ENOSYS/-EPERM where io_uring is refused,
 * -EINVAL for flags the kernel does not know; callers may then fall back
 * to VLOOP_POLL. The POLL backend makes no io_uring system call at all.
 */
int vloop_new(struct vloop **out, enum vloop_backend backend, unsigned entries,
	      unsigned flags);
/*
 * Free a loop that is not running. Watches, timers and posted nodes are
 * dropped, not called, and their memory is not touched (they may already be
 * freed); a timer still armed must be re-initialized (vloop_timer_init)
 * before it is used with another loop. In-flight io_uring operations are
 * cancelled by the kernel; their vloop_op callbacks never run. The kernel
 * does that asynchronously, after io_uring_queue_exit() returns: memory
 * that an in-flight op reads or writes (a READ's buffer) must stay mapped
 * until the process exits, or the op must be known complete before it is
 * freed (e.g. the fd it works on was aborted and its completion reaped).
 * vloop_free(NULL) is a no-op.
 */
void vloop_free(struct vloop *loop);

enum vloop_backend vloop_backend_of(const struct vloop *loop);

/*
 * Start watching w->fd for w->events (w->cb must be set). 0 or -errno:
 * -EEXIST if @w is already active, -EBADF for a negative fd, -ENOMEM if the
 * watch table cannot grow.
 * For uring the POLL_ADD is queued at the start of the next iteration.
 */
int vloop_watch_add(struct vloop *loop, struct vloop_watch *w);
/*
 * Stop watching; after return w->cb will not be called again, even for a
 * readiness already reaped in the current iteration, and @w may be freed.
 * No-op if @w is not active. Safe from any callback, including w->cb.
 * For uring an in-flight POLL_ADD is removed (IORING_OP_POLL_REMOVE) at the
 * next iteration; until then the kernel holds a reference to the file, so
 * a close(w->fd) right after this takes full effect an iteration later.
 */
void vloop_watch_del(struct vloop *loop, struct vloop_watch *w);

/* Initialize a timer before first use (heap_idx = -1). */
void vloop_timer_init(struct vloop_timer *t, void (*cb)(struct vloop_timer *));
/*
 * Arm (or re-arm: the old deadline is dropped) @t to fire once after
 * @after_ns. Safe from any callback, including t->cb. Returns 0, or
 * -ENOMEM when arming a new timer needs the heap to grow and realloc fails
 * (re-arming an armed timer never fails); the heap has room for 64 timers
 * from vloop_new() on.
 */
int vloop_timer_add(struct vloop *loop, struct vloop_timer *t,
		    uint64_t after_ns);
/* Disarm; no-op if not armed. */
void vloop_timer_cancel(struct vloop *loop, struct vloop_timer *t);

static inline int vloop_timer_armed(const struct vloop_timer *t)
{
	return t->heap_idx >= 0;
}

/*
 * VLOOP_URING only: a zeroed SQE to fill (64 bytes, or 128 with
 * IORING_SETUP_SQE128), or NULL if the loop is POLL or the SQ stays full
 * after a submit (CQ overflow: -EBUSY from the kernel). When the SQ is full
 * the loop submits what is queued to make room, so fill each SQE completely
 * before calling any other loop function, and reserve space for a linked
 * chain first (io_uring_sq_space_left) so that no submit splits it. The
 * loop submits everything queued before it waits. Set the SQE's user_data
 * with vloop_sqe_set_op() so the completion reaches @op->cb; an SQE whose
 * user_data is left 0 completes silently.
 */
struct io_uring_sqe *vloop_sqe_get(struct vloop *loop);
void vloop_sqe_set_op(struct io_uring_sqe *sqe, struct vloop_op *op);
/* The io_uring itself (struct io_uring *), for registration calls; NULL
 * for POLL. */
void *vloop_uring(struct vloop *loop);

/*
 * Run until vloop_stop(). Returns 0 after a stop (the stop is consumed,
 * so the loop can be run again; a stop requested before vloop_run() makes
 * it return after one iteration), -errno on a fatal error of the loop
 * itself.
 */
int vloop_run(struct vloop *loop);
/* Run one iteration: wait at most @timeout_ms (-1 forever, 0 none),
 * dispatch what is ready. Returns the number of callbacks run (watch, op,
 * timer and post callbacks; 0 after a bare wake-up, a signal or a timeout)
 * or -errno. */
int vloop_run_once(struct vloop *loop, int timeout_ms);

/* Thread-safe, async-signal-safe: make a waiting vloop_run_once() return
 * soon (or the next one return at once). Wake-ups coalesce. */
void vloop_wake(struct vloop *loop);
/* Thread-safe: make vloop_run() return after the current iteration.
 * Everything the caller wrote before vloop_stop() is visible to the loop
 * thread once vloop_run() returns. */
void vloop_stop(struct vloop *loop);

/*
 * Thread-safe: run @p->fn(@p) on the loop's thread at its next iteration,
 * in the order the posts were made from any one thread. Uses a node
 * supplied by the caller (no allocation); the node must stay valid until
 * fn runs, may not be posted again before then, and may be reused or freed
 * by fn itself. Writes made before vloop_post() are visible to fn.
 */
struct vloop_post {
	void (*fn)(struct vloop_post *p);
	struct vloop_post *next; /* private */
};
void vloop_post(struct vloop *loop, struct vloop_post *p);

/* CLOCK_MONOTONIC in ns. */
uint64_t vloop_now_ns(void);

#endif

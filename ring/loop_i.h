/* SPDX-License-Identifier: MIT */
/*
 * loop_i.h - what loop.c (the backend-independent part: timers, posts,
 * wake-ups, the iteration) shares with the backends loop_poll.c and
 * loop_uring.c. Not for use outside ring/loop*.c.
 */
#ifndef VALOR_RING_LOOP_I_H
#define VALOR_RING_LOOP_I_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/loop.h"

/*
 * What a backend provides. Each backend allocates its own struct that
 * starts with a struct vloop (create) and frees it (destroy).
 */
struct vloop_ops {
	/* Allocate the backend's loop; must call vloop_base_init() first
	 * and, on failure after that, vloop_base_release(). 0 or -errno. */
	int (*create)(struct vloop **out, unsigned entries, unsigned flags);
	/* Undo create (including vloop_base_release()). */
	void (*destroy)(struct vloop *loop);
	int (*watch_add)(struct vloop *loop, struct vloop_watch *w);
	void (*watch_del)(struct vloop *loop, struct vloop_watch *w);
	/*
	 * Wait at most @wait_ns (-1: no bound), then run the ready watch and
	 * op callbacks; call vloop_wake_drain() when the wake fd was ready.
	 * Returns the number of callbacks run, or -errno if the loop itself
	 * failed (EINTR and timeouts are not failures).
	 */
	int (*wait_dispatch)(struct vloop *loop, int64_t wait_ns);
	/* NULL for backends without an SQ. */
	struct io_uring_sqe *(*sqe_get)(struct vloop *loop);
	void *(*uring)(struct vloop *loop);
};

extern const struct vloop_ops vloop_poll_ops;
extern const struct vloop_ops vloop_uring_ops;

/*
 * The backend-independent part of a loop.
 *
 * Fields up to "shared" are touched by the loop thread only. The fields
 * after it are written by other threads (vloop_wake/vloop_stop/vloop_post)
 * and sit on their own cache line so that posting threads do not bounce
 * the loop thread's line.
 */
struct vloop {
	const struct vloop_ops *ops;
	enum vloop_backend backend;
	int wake_fd; /* eventfd, EFD_NONBLOCK */
	int running; /* inside vloop_run_once(): reentrancy guard */

	/* Timer min-heap on deadline_ns; heap[i]->heap_idx == i. */
	struct vloop_timer **heap;
	unsigned nr_timers;
	unsigned heap_cap;

	/* shared */
	/*
	 * MPSC stack of posted nodes, newest first; pushed with a CAS by any
	 * thread, taken whole with an exchange by the loop thread (so there
	 * is no ABA: nodes are never popped one at a time).
	 */
	_Alignas(64) _Atomic(struct vloop_post *) posts;
	/*
	 * 1 while a write to wake_fd is outstanding (written and not yet
	 * drained): further wake-ups skip the write(2). See vloop_wake().
	 */
	atomic_int wake_pending;
	atomic_int stop; /* vloop_stop() was called */
};

/*
 * Zeroed memory for a backend's loop struct, aligned for struct vloop's
 * cache-line-aligned shared fields (calloc only guarantees 16 bytes).
 * Freed with free(). NULL when out of memory.
 */
void *vloop_alloc(size_t size);

/* Cannot-fail part of the common init: everything set to "empty" so that
 * vloop_base_release() can run on a half-built loop. */
void vloop_base_init(struct vloop *loop, enum vloop_backend backend,
		     const struct vloop_ops *ops);
/* Fallible part: the eventfd and the initial timer heap. 0 or -errno. */
int vloop_base_setup(struct vloop *loop);
void vloop_base_release(struct vloop *loop);

/*
 * The wake fd was seen readable: consume it. Must run before the loop
 * thread takes the post list in the same iteration (vloop_wake()).
 */
void vloop_wake_drain(struct vloop *loop);

#endif

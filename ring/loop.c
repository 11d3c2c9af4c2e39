/* SPDX-License-Identifier: MIT */
/*
 * loop.c - the backend-independent part of the event loop: the timer heap,
 * posted nodes, wake-ups, stop, and one iteration. The backends (poll(2) in
 * loop_poll.c, io_uring in loop_uring.c) only wait and dispatch fd and op
 * readiness; see loop_i.h.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ring/loop_i.h"

#define VLOOP_HEAP_INIT 64

uint64_t vloop_now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC is served by the vDSO: no system call. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- lifecycle ---------------------------------------------------------- */

void *vloop_alloc(size_t size)
{
	size_t align = _Alignof(struct vloop);
	void *p;

	size = (size + align - 1) / align * align;
	p = aligned_alloc(align, size);
	if (p)
		memset(p, 0, size);
	return p;
}

void vloop_base_init(struct vloop *loop, enum vloop_backend backend,
		     const struct vloop_ops *ops)
{
	loop->ops = ops;
	loop->backend = backend;
	loop->wake_fd = -1;
	loop->running = 0;
	loop->heap = NULL;
	loop->nr_timers = 0;
	loop->heap_cap = 0;
	atomic_init(&loop->posts, NULL);
	atomic_init(&loop->wake_pending, 0);
	atomic_init(&loop->stop, 0);
}

int vloop_base_setup(struct vloop *loop)
{
	loop->heap = calloc(VLOOP_HEAP_INIT, sizeof(*loop->heap));
	if (!loop->heap)
		return -ENOMEM;
	loop->heap_cap = VLOOP_HEAP_INIT;

	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0)
		return -errno;
	return 0;
}

void vloop_base_release(struct vloop *loop)
{
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	loop->wake_fd = -1;
	free(loop->heap);
	loop->heap = NULL;
	loop->nr_timers = 0;
	loop->heap_cap = 0;
}

int vloop_new(struct vloop **out, enum vloop_backend backend, unsigned entries,
	      unsigned flags)
{
	const struct vloop_ops *ops;

	switch (backend) {
	case VLOOP_POLL:
		ops = &vloop_poll_ops;
		break;
	case VLOOP_URING:
		ops = &vloop_uring_ops;
		break;
	default:
		return -EINVAL;
	}
	*out = NULL;
	return ops->create(out, entries, flags);
}

void vloop_free(struct vloop *loop)
{
	if (!loop)
		return;
	assert(!loop->running);
	loop->ops->destroy(loop);
}

enum vloop_backend vloop_backend_of(const struct vloop *loop)
{
	return loop->backend;
}

/* ---- watches and raw ops: straight to the backend ----------------------- */

int vloop_watch_add(struct vloop *loop, struct vloop_watch *w)
{
	if (w->active)
		return -EEXIST;
	if (w->fd < 0)
		return -EBADF;
	return loop->ops->watch_add(loop, w);
}

void vloop_watch_del(struct vloop *loop, struct vloop_watch *w)
{
	if (!w->active)
		return;
	assert(w->loop == loop);
	loop->ops->watch_del(loop, w);
}

struct io_uring_sqe *vloop_sqe_get(struct vloop *loop)
{
	if (!loop->ops->sqe_get)
		return NULL;
	return loop->ops->sqe_get(loop);
}

void *vloop_uring(struct vloop *loop)
{
	if (!loop->ops->uring)
		return NULL;
	return loop->ops->uring(loop);
}

/* ---- timers: a binary min-heap of caller-owned timers -------------------- */

static inline int vloop_heap_less(const struct vloop *loop, unsigned a,
				  unsigned b)
{
	return loop->heap[a]->deadline_ns < loop->heap[b]->deadline_ns;
}

static inline void vloop_heap_swap(struct vloop *loop, unsigned a, unsigned b)
{
	struct vloop_timer *t = loop->heap[a];

	loop->heap[a] = loop->heap[b];
	loop->heap[b] = t;
	loop->heap[a]->heap_idx = (int)a;
	loop->heap[b]->heap_idx = (int)b;
}

static void vloop_heap_up(struct vloop *loop, unsigned i)
{
	while (i > 0) {
		unsigned parent = (i - 1) / 2;

		if (!vloop_heap_less(loop, i, parent))
			break;
		vloop_heap_swap(loop, i, parent);
		i = parent;
	}
}

static void vloop_heap_down(struct vloop *loop, unsigned i)
{
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, min = i;

		if (l < loop->nr_timers && vloop_heap_less(loop, l, min))
			min = l;
		if (r < loop->nr_timers && vloop_heap_less(loop, r, min))
			min = r;
		if (min == i)
			break;
		vloop_heap_swap(loop, i, min);
		i = min;
	}
}

/* Restore the heap around @i after its deadline changed either way. */
static void vloop_heap_fix(struct vloop *loop, unsigned i)
{
	if (i > 0 && vloop_heap_less(loop, i, (i - 1) / 2))
		vloop_heap_up(loop, i);
	else
		vloop_heap_down(loop, i);
}

static void vloop_heap_remove(struct vloop *loop, struct vloop_timer *t)
{
	unsigned i = (unsigned)t->heap_idx, last = loop->nr_timers - 1;

	assert(i < loop->nr_timers && loop->heap[i] == t);
	t->heap_idx = -1;
	loop->nr_timers = last;
	if (i == last)
		return;
	loop->heap[i] = loop->heap[last];
	loop->heap[i]->heap_idx = (int)i;
	vloop_heap_fix(loop, i);
}

void vloop_timer_init(struct vloop_timer *t, void (*cb)(struct vloop_timer *))
{
	t->cb = cb;
	t->deadline_ns = 0;
	t->heap_idx = -1;
}

int vloop_timer_add(struct vloop *loop, struct vloop_timer *t,
		    uint64_t after_ns)
{
	uint64_t now = vloop_now_ns();

	/* Saturate instead of wrapping into the past. */
	t->deadline_ns =
		after_ns > UINT64_MAX - now ? UINT64_MAX : now + after_ns;
	if (t->heap_idx >= 0) {
		assert((unsigned)t->heap_idx < loop->nr_timers &&
		       loop->heap[t->heap_idx] == t);
		vloop_heap_fix(loop, (unsigned)t->heap_idx);
		return 0;
	}

	if (loop->nr_timers == loop->heap_cap) {
		unsigned cap = loop->heap_cap * 2;
		struct vloop_timer **heap;

		heap = realloc(loop->heap, cap * sizeof(*heap));
		if (!heap)
			return -ENOMEM;
		loop->heap = heap;
		loop->heap_cap = cap;
	}
	t->heap_idx = (int)loop->nr_timers;
	loop->heap[loop->nr_timers++] = t;
	vloop_heap_up(loop, (unsigned)t->heap_idx);
	return 0;
}

void vloop_timer_cancel(struct vloop *loop, struct vloop_timer *t)
{
	if (t->heap_idx < 0)
		return;
	vloop_heap_remove(loop, t);
}

/*
 * Run the timers due at @now, earliest first. At most as many as were
 * armed on entry: a callback that re-arms its timer with a deadline that
 * is already due (after_ns == 0 on a coarse clock) runs again in the next
 * iteration, not in a loop here.
 */
static int vloop_timers_run(struct vloop *loop, uint64_t now)
{
	unsigned budget = loop->nr_timers;
	int ran = 0;

	while (budget-- && loop->nr_timers &&
	       loop->heap[0]->deadline_ns <= now) {
		struct vloop_timer *t = loop->heap[0];

		vloop_heap_remove(loop, t);
		t->cb(t);
		ran++;
	}
	return ran;
}

/*
 * How long the backend may wait: the caller's @timeout_ms, shortened to
 * the nearest deadline. -1 means no bound.
 */
static int64_t vloop_wait_bound(const struct vloop *loop, int timeout_ms)
{
	int64_t wait_ns = timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000;

	if (loop->nr_timers) {
		uint64_t deadline = loop->heap[0]->deadline_ns;
		uint64_t now = vloop_now_ns();
		int64_t left;

		if (deadline <= now)
			return 0;
		left = deadline - now > (uint64_t)INT64_MAX
			       ? INT64_MAX
			       : (int64_t)(deadline - now);
		if (wait_ns < 0 || left < wait_ns)
			wait_ns = left;
	}
	return wait_ns;
}

/* ---- wake-ups, posts, stop ---------------------------------------------- */

/*
 * Wake-up protocol. A waker (vloop_wake, so also vloop_post and vloop_stop)
 * first publishes its condition (post list, stop flag), then exchanges
 * wake_pending to 1 and writes the eventfd only if it was 0. The loop,
 * once it saw the eventfd readable, first drains it, then stores
 * wake_pending = 0, then (later in the same iteration) takes the post list
 * and reads the stop flag.
 *
 * This is the store-load (Dekker) pattern: waker "write list; read flag",
 * loop "write flag; read list". All four accesses are seq_cst, so they sit
 * in one total order: if the waker read 1 (and skipped the write), its
 * exchange came before the loop's store of 0, hence its push before the
 * loop's take of the list, which therefore sees the node. If it read 0, it
 * writes the eventfd and the next wait returns. Draining before the store
 * of 0 matters: the other order could swallow a write made after the
 * store, leaving wake_pending stuck at 1 with the eventfd empty, and every
 * later wake-up lost.
 */
void vloop_wake(struct vloop *loop)
{
	uint64_t one = 1;
	int saved_errno;
	ssize_t n;

	/* seq_cst: see the protocol above. */
	if (atomic_exchange(&loop->wake_pending, 1))
		return;
	saved_errno = errno; /* async-signal-safe callers */
	/* EAGAIN (counter saturated) still leaves the fd readable. */
	n = write(loop->wake_fd, &one, sizeof(one));
	(void)n;
	errno = saved_errno;
}

void vloop_wake_drain(struct vloop *loop)
{
	uint64_t count;
	ssize_t n;

	n = read(loop->wake_fd, &count, sizeof(count));
	(void)n; /* EAGAIN: already drained; nothing else can fail */
	/* seq_cst: after the drain, before the list is taken (above). */
	atomic_store(&loop->wake_pending, 0);
}

void vloop_stop(struct vloop *loop)
{
	/*
	 * seq_cst: part of the wake-up protocol (the stop flag is a
	 * condition like the post list); it also orders everything the
	 * caller wrote before it with vloop_run()'s load.
	 */
	atomic_store(&loop->stop, 1);
	vloop_wake(loop);
}

void vloop_post(struct vloop *loop, struct vloop_post *p)
{
	struct vloop_post *head =
		atomic_load_explicit(&loop->posts, memory_order_relaxed);

	/*
	 * seq_cst on success: releases the node (and what the caller wrote
	 * before posting) to the loop's exchange, and is the "write list"
	 * half of the wake-up protocol. A failed CAS only reloads head.
	 */
	do {
		p->next = head;
	} while (!atomic_compare_exchange_weak_explicit(&loop->posts, &head, p,
							memory_order_seq_cst,
							memory_order_relaxed));
	vloop_wake(loop);
}

/* Run the nodes posted so far, oldest first. */
static int vloop_posts_run(struct vloop *loop)
{
	struct vloop_post *p, *fifo = NULL;
	int ran = 0;

	/*
	 * seq_cst load first, so that most iterations (nothing posted) skip
	 * the locked exchange; as a seq_cst read it is as good as the
	 * exchange for the wake-up protocol. The exchange (seq_cst) acquires
	 * the nodes.
	 */
	if (!atomic_load(&loop->posts))
		return 0;
	p = atomic_exchange(&loop->posts, NULL);
	while (p) { /* reverse: the stack is newest first */
		struct vloop_post *next = p->next;

		p->next = fifo;
		fifo = p;
		p = next;
	}
	while (fifo) {
		p = fifo;
		fifo = p->next; /* before fn: it may repost or free p */
		p->fn(p);
		ran++;
	}
	return ran;
}

/* ---- iteration ---------------------------------------------------------- */

int vloop_run_once(struct vloop *loop, int timeout_ms)
{
	int ran;

	assert(!loop->running);
	loop->running = 1;

	ran = loop->ops->wait_dispatch(loop,
				       vloop_wait_bound(loop, timeout_ms));
	if (ran < 0)
		goto out;
	ran += vloop_timers_run(loop, vloop_now_ns());
	ran += vloop_posts_run(loop);
out:
	loop->running = 0;
	return ran;
}

int vloop_run(struct vloop *loop)
{
	int ret;

	for (;;) {
		ret = vloop_run_once(loop, -1);
		if (ret < 0)
			return ret;
		/*
		 * seq_cst: "read stop" of the wake-up protocol, and the
		 * exchange consumes the stop so the loop can run again.
		 */
		if (atomic_load(&loop->stop) && atomic_exchange(&loop->stop, 0))
			return 0;
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * loop_poll.c - the VLOOP_POLL backend: one ppoll(2) over a pollfd array.
 *
 * No io_uring here, not even a probe: the sync engine relies on strace
 * showing every system call the process makes.
 *
 * Slot 0 of the array is the wake eventfd; slots 1.. are watches, with
 * watches[i] the owner of pfds[i] and watches[i]->slot == i. A deleted
 * watch leaves a tombstone (watches[i] == NULL, pfds[i].fd == -1, which
 * poll(2) ignores) instead of moving other entries, so that a callback may
 * delete any watch while the dispatch loop walks the array; tombstones are
 * compacted away before the next wait, outside any callback.
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#include "ring/loop_i.h"

#define VLOOP_POLL_INIT 16

struct vloop_poll {
	struct vloop base;
	struct pollfd *pfds;
	struct vloop_watch **watches; /* parallel to pfds; [0] unused */
	unsigned nr;		      /* slots in use, tombstones included */
	unsigned cap;
	unsigned nr_dead; /* tombstones among them */
};

static inline struct vloop_poll *vloop_poll_of(struct vloop *loop)
{
	return (struct vloop_poll *)loop;
}

static void vloop_poll_destroy(struct vloop *loop)
{
	struct vloop_poll *lp = vloop_poll_of(loop);

	free(lp->pfds);
	free(lp->watches);
	vloop_base_release(loop);
	free(lp);
}

/* @entries and @flags size and configure an io_uring: meaningless here. */
static int vloop_poll_create(struct vloop **out,
			     unsigned entries __attribute__((unused)),
			     unsigned flags __attribute__((unused)))
{
	struct vloop_poll *lp;
	int ret;

	lp = vloop_alloc(sizeof(*lp));
	if (!lp)
		return -ENOMEM;
	vloop_base_init(&lp->base, VLOOP_POLL, &vloop_poll_ops);

	ret = vloop_base_setup(&lp->base);
	if (ret < 0)
		goto out_destroy;
	lp->pfds = calloc(VLOOP_POLL_INIT, sizeof(*lp->pfds));
	lp->watches = calloc(VLOOP_POLL_INIT, sizeof(*lp->watches));
	if (!lp->pfds || !lp->watches) {
		ret = -ENOMEM;
		goto out_destroy;
	}
	lp->cap = VLOOP_POLL_INIT;
	lp->pfds[0].fd = lp->base.wake_fd;
	lp->pfds[0].events = POLLIN;
	lp->nr = 1;

	*out = &lp->base;
	return 0;

out_destroy:
	vloop_poll_destroy(&lp->base);
	return ret;
}

/* Grow both arrays to @cap slots. 0 or -ENOMEM (arrays unchanged). */
static int vloop_poll_grow(struct vloop_poll *lp, unsigned cap)
{
	struct pollfd *pfds;
	struct vloop_watch **watches;

	pfds = realloc(lp->pfds, cap * sizeof(*pfds));
	if (!pfds)
		return -ENOMEM;
	lp->pfds = pfds;
	watches = realloc(lp->watches, cap * sizeof(*watches));
	if (!watches)
		return -ENOMEM; /* pfds merely larger than needed */
	lp->watches = watches;
	lp->cap = cap;
	return 0;
}

static int vloop_poll_watch_add(struct vloop *loop, struct vloop_watch *w)
{
	struct vloop_poll *lp = vloop_poll_of(loop);
	unsigned i;
	int ret;

	if (lp->nr == lp->cap) {
		ret = vloop_poll_grow(lp, lp->cap * 2);
		if (ret < 0)
			return ret;
	}
	i = lp->nr++;
	lp->pfds[i].fd = w->fd;
	lp->pfds[i].events = (short)w->events;
	/* Not polled yet: must not look ready to a dispatch in progress. */
	lp->pfds[i].revents = 0;
	lp->watches[i] = w;
	w->slot = (int)i;
	w->armed = 0;
	w->active = 1;
	w->loop = loop;
	return 0;
}

static void vloop_poll_watch_del(struct vloop *loop, struct vloop_watch *w)
{
	struct vloop_poll *lp = vloop_poll_of(loop);
	unsigned i = (unsigned)w->slot;

	assert(i > 0 && i < lp->nr && lp->watches[i] == w);
	lp->watches[i] = NULL;
	lp->pfds[i].fd = -1;
	lp->nr_dead++;
	w->active = 0;
	w->slot = -1;
}

/* Squeeze the tombstones out, keeping order. Never during a dispatch. */
static void vloop_poll_compact(struct vloop_poll *lp)
{
	unsigned i, j = 1;

	for (i = 1; i < lp->nr; i++) {
		struct vloop_watch *w = lp->watches[i];

		if (!w)
			continue;
		if (i != j) {
			lp->pfds[j] = lp->pfds[i];
			lp->watches[j] = w;
			w->slot = (int)j;
		}
		j++;
	}
	lp->nr = j;
	lp->nr_dead = 0;
}

static int vloop_poll_wait_dispatch(struct vloop *loop, int64_t wait_ns)
{
	struct vloop_poll *lp = vloop_poll_of(loop);
	struct timespec ts, *tsp = NULL;
	unsigned i, nr;
	int ready, ran = 0;

	if (lp->nr_dead)
		vloop_poll_compact(lp);
	if (wait_ns >= 0) {
		ts.tv_sec = wait_ns / 1000000000;
		ts.tv_nsec = wait_ns % 1000000000;
		tsp = &ts;
	}

	nr = lp->nr;
	ready = ppoll(lp->pfds, nr, tsp, NULL);
	if (ready < 0)
		return errno == EINTR ? 0 : -errno;

	if (ready && lp->pfds[0].revents) {
		vloop_wake_drain(loop);
		ready--;
	}
	/*
	 * Only the slots that were polled; re-read the arrays each time: a
	 * callback may grow them (watch_add) or leave tombstones (watch_del).
	 */
	for (i = 1; i < nr && ready > 0; i++) {
		uint32_t revents = (uint16_t)lp->pfds[i].revents;
		struct vloop_watch *w;

		if (!revents)
			continue;
		ready--;
		w = lp->watches[i];
		if (!w) /* deleted by an earlier callback */
			continue;
		w->cb(w, revents);
		ran++;
	}
	return ran;
}

const struct vloop_ops vloop_poll_ops = {
	.create = vloop_poll_create,
	.destroy = vloop_poll_destroy,
	.watch_add = vloop_poll_watch_add,
	.watch_del = vloop_poll_watch_del,
	.wait_dispatch = vloop_poll_wait_dispatch,
	/* no sqe_get, no uring: vloop_sqe_get() and vloop_uring() give NULL */
};

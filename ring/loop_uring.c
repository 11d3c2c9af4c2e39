/* SPDX-License-Identifier: MIT */
/*
 * loop_uring.c - the VLOOP_URING backend.
 *
 * user_data: the two low bits tell completions apart (struct vloop_op is
 * at least 4-byte aligned, so its address has them clear):
 *
 *   ..00  a caller's struct vloop_op *, or 0 (completes silently)
 *   ..01  a watch's POLL_ADD: token generation << 32 | token index << 2
 *   ..10  the wake eventfd's POLL_ADD
 *   ..11  ours, nothing to do (POLL_REMOVE results; liburing's own
 *         LIBURING_UDATA_TIMEOUT, all ones, lands here too)
 *
 * Watches. A POLL_ADD is single-shot and may still be in flight when the
 * caller deletes the watch and frees it, so the SQE does not point at the
 * watch: it names a token, an entry of a table the loop owns. A token
 * stays allocated until the kernel is done with its POLL_ADD, whatever
 * happened to the watch; a detached token (watch deleted) never calls
 * back. The table grows (realloc) only in watch_add and is addressed by
 * index, so it may move under a callback; nothing is allocated per event.
 *
 * SQEs for POLL_ADD and POLL_REMOVE are not queued where the need arises
 * (watch_add, watch_del, after a callback) but on a FIFO of tokens that
 * the next iteration drains before it waits: a watch added and deleted
 * within one iteration costs no SQE, and running out of SQEs is handled
 * in one place (the rest of the FIFO waits for the next iteration).
 */
#include <assert.h>
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ring/loop_i.h"

#define VLOOP_URING_ENTRIES 64 /* when the caller passes 0 */
#define VLOOP_UTOK_INIT 16
#define VLOOP_UTOK_MAX (1u << 30) /* fits user_data bits 2..31 */

#define VLOOP_UD_OP 0x0ull
#define VLOOP_UD_WATCH 0x1ull
#define VLOOP_UD_WAKE 0x2ull
#define VLOOP_UD_IGNORE 0x3ull
#define VLOOP_UD_TAG_MASK 0x3ull

_Static_assert(_Alignof(struct vloop_op) >= 4,
	       "user_data tags need two clear low bits in vloop_op pointers");

/*
 * The life of a watch token. "Queued" means on the FIFO drained before
 * each wait; exactly the IDLE, CANCEL and DEAD tokens are queued.
 */
enum vloop_utok_state {
	/* On the free list. */
	VLOOP_UTOK_FREE,
	/* Attached to an active watch, no POLL_ADD in flight; queued so
	 * that the next iteration arms it. */
	VLOOP_UTOK_IDLE,
	/* Attached, POLL_ADD in flight. */
	VLOOP_UTOK_ARMED,
	/* Attached, its POLL_ADD completed and the callback is running;
	 * back to IDLE afterwards unless the callback deleted the watch. */
	VLOOP_UTOK_FIRED,
	/* Detached (watch deleted) with the POLL_ADD in flight; queued so
	 * that the next iteration sends a POLL_REMOVE. */
	VLOOP_UTOK_CANCEL,
	/* Detached, POLL_ADD and POLL_REMOVE sent: waits for the POLL_ADD's
	 * completion (-ECANCELED, or a result that raced the remove). */
	VLOOP_UTOK_REMOVED,
	/* Detached, nothing in flight, still queued: freed when the queue
	 * reaches it. */
	VLOOP_UTOK_DEAD,
};

struct vloop_utok {
	struct vloop_watch *w; /* the watch while attached, else NULL */
	uint32_t gen;	       /* bumped at each allocation */
	uint8_t state;	       /* enum vloop_utok_state */
	int next;	       /* free list or queue link, -1 ends */
};

/* All fields are the loop thread's. */
struct vloop_uring {
	struct vloop base;
	struct io_uring ring;
	int ring_ready;	   /* io_uring_queue_init() succeeded */
	unsigned sqe_size; /* 64, or 128 with IORING_SETUP_SQE128 */
	int wake_armed;	   /* POLL_ADD on base.wake_fd in flight */

	struct vloop_utok *toks;
	unsigned nr_toks; /* entries ever used (free ones included) */
	unsigned cap_toks;
	int free_head;
	int queue_head, queue_tail;
};

static inline struct vloop_uring *vloop_uring_of(struct vloop *loop)
{
	return (struct vloop_uring *)loop;
}

/* ---- tokens -------------------------------------------------------------- */

static const char *const vloop_utok_names[] = {
	[VLOOP_UTOK_FREE] = "free",	[VLOOP_UTOK_IDLE] = "idle",
	[VLOOP_UTOK_ARMED] = "armed",	[VLOOP_UTOK_FIRED] = "fired",
	[VLOOP_UTOK_CANCEL] = "cancel", [VLOOP_UTOK_REMOVED] = "removed",
	[VLOOP_UTOK_DEAD] = "dead",
};

#define VLOOP_BIT(s) (1u << (s))
/* vloop_utok_next[from] = the states @from may move to. */
static const unsigned vloop_utok_next[] = {
	[VLOOP_UTOK_FREE] = VLOOP_BIT(VLOOP_UTOK_IDLE),
	[VLOOP_UTOK_IDLE] =
		VLOOP_BIT(VLOOP_UTOK_ARMED) | VLOOP_BIT(VLOOP_UTOK_DEAD),
	[VLOOP_UTOK_ARMED] =
		VLOOP_BIT(VLOOP_UTOK_FIRED) | VLOOP_BIT(VLOOP_UTOK_CANCEL),
	[VLOOP_UTOK_FIRED] =
		VLOOP_BIT(VLOOP_UTOK_IDLE) | VLOOP_BIT(VLOOP_UTOK_FREE),
	[VLOOP_UTOK_CANCEL] =
		VLOOP_BIT(VLOOP_UTOK_REMOVED) | VLOOP_BIT(VLOOP_UTOK_DEAD),
	[VLOOP_UTOK_REMOVED] = VLOOP_BIT(VLOOP_UTOK_FREE),
	[VLOOP_UTOK_DEAD] = VLOOP_BIT(VLOOP_UTOK_FREE),
};

static void vloop_utok_set_state(struct vloop_uring *lu, unsigned idx,
				 enum vloop_utok_state state)
{
	struct vloop_utok *t = &lu->toks[idx];

	assert(vloop_utok_next[t->state] & VLOOP_BIT(state));
	vlog_debug("vloop %p: watch token %u: %s -> %s", (void *)lu, idx,
		   vloop_utok_names[t->state], vloop_utok_names[state]);
	t->state = (uint8_t)state;
}

static inline uint64_t vloop_utok_ud(const struct vloop_uring *lu, unsigned idx)
{
	return (uint64_t)lu->toks[idx].gen << 32 | (uint64_t)idx << 2 |
	       VLOOP_UD_WATCH;
}

static void vloop_utok_enqueue(struct vloop_uring *lu, unsigned idx)
{
	lu->toks[idx].next = -1;
	if (lu->queue_tail >= 0)
		lu->toks[lu->queue_tail].next = (int)idx;
	else
		lu->queue_head = (int)idx;
	lu->queue_tail = (int)idx;
}

/* A FREE token, off the free list or from growing the table; -ENOMEM. */
static int vloop_utok_alloc(struct vloop_uring *lu)
{
	unsigned idx;

	if (lu->free_head >= 0) {
		idx = (unsigned)lu->free_head;
		lu->free_head = lu->toks[idx].next;
		return (int)idx;
	}
	if (lu->nr_toks == lu->cap_toks) {
		unsigned cap =
			lu->cap_toks ? lu->cap_toks * 2 : VLOOP_UTOK_INIT;
		struct vloop_utok *toks;

		if (cap > VLOOP_UTOK_MAX)
			return -ENOMEM;
		toks = realloc(lu->toks, cap * sizeof(*toks));
		if (!toks)
			return -ENOMEM;
		lu->toks = toks;
		lu->cap_toks = cap;
	}
	idx = lu->nr_toks++;
	lu->toks[idx].w = NULL;
	lu->toks[idx].gen = 0;
	lu->toks[idx].state = VLOOP_UTOK_FREE;
	return (int)idx;
}

static void vloop_utok_free(struct vloop_uring *lu, unsigned idx)
{
	vloop_utok_set_state(lu, idx, VLOOP_UTOK_FREE);
	lu->toks[idx].w = NULL;
	lu->toks[idx].next = lu->free_head;
	lu->free_head = (int)idx;
}

/* ---- SQEs ---------------------------------------------------------------- */

/* An SQE, submitting what is queued if the SQ is full; NULL if still full. */
static struct io_uring_sqe *vloop_uring_sqe_take(struct vloop_uring *lu)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&lu->ring);

	if (sqe)
		return sqe;
	/* A short or failed submit (-EBUSY: CQ overflow) leaves it NULL. */
	io_uring_submit(&lu->ring);
	return io_uring_get_sqe(&lu->ring);
}

static struct io_uring_sqe *vloop_uring_sqe_get(struct vloop *loop)
{
	struct vloop_uring *lu = vloop_uring_of(loop);
	struct io_uring_sqe *sqe = vloop_uring_sqe_take(lu);

	/* Zeroed, upper half of an SQE128 included: user_data 0 and no
	 * stale fields from the slot's previous use. */
	if (sqe)
		memset(sqe, 0, lu->sqe_size);
	return sqe;
}

void vloop_sqe_set_op(struct io_uring_sqe *sqe, struct vloop_op *op)
{
	assert(((uintptr_t)op & VLOOP_UD_TAG_MASK) == VLOOP_UD_OP);
	io_uring_sqe_set_data(sqe, op);
}

static void *vloop_uring_ring(struct vloop *loop)
{
	return &vloop_uring_of(loop)->ring;
}

/*
 * Queue the SQEs the loop itself needs: the wake POLL_ADD, and one per
 * queued token. 0, or -EAGAIN if the SQ ran out (the rest stays queued).
 */
static int vloop_uring_prepare(struct vloop_uring *lu)
{
	struct io_uring_sqe *sqe;

	if (!lu->wake_armed) {
		sqe = vloop_uring_sqe_take(lu);
		if (!sqe)
			return -EAGAIN;
		io_uring_prep_poll_add(sqe, lu->base.wake_fd, POLLIN);
		io_uring_sqe_set_data64(sqe, VLOOP_UD_WAKE);
		lu->wake_armed = 1;
	}

	while (lu->queue_head >= 0) {
		unsigned idx = (unsigned)lu->queue_head;
		struct vloop_utok *t = &lu->toks[idx];

		sqe = NULL;
		if (t->state != VLOOP_UTOK_DEAD) {
			sqe = vloop_uring_sqe_take(lu);
			if (!sqe)
				return -EAGAIN;
		}
		lu->queue_head = t->next;
		if (lu->queue_head < 0)
			lu->queue_tail = -1;

		switch (t->state) {
		case VLOOP_UTOK_IDLE:
			io_uring_prep_poll_add(sqe, t->w->fd, t->w->events);
			io_uring_sqe_set_data64(sqe, vloop_utok_ud(lu, idx));
			vloop_utok_set_state(lu, idx, VLOOP_UTOK_ARMED);
			t->w->armed = 1;
			break;
		case VLOOP_UTOK_CANCEL:
			io_uring_prep_poll_remove(sqe, vloop_utok_ud(lu, idx));
			io_uring_sqe_set_data64(sqe, VLOOP_UD_IGNORE);
			vloop_utok_set_state(lu, idx, VLOOP_UTOK_REMOVED);
			break;
		case VLOOP_UTOK_DEAD:
			vloop_utok_free(lu, idx);
			break;
		default:
			assert(!"token queued in a state that is never queued");
			break;
		}
	}
	return 0;
}

/* ---- watches ------------------------------------------------------------- */

static int vloop_uring_watch_add(struct vloop *loop, struct vloop_watch *w)
{
	struct vloop_uring *lu = vloop_uring_of(loop);
	int idx = vloop_utok_alloc(lu);

	if (idx < 0)
		return idx;
	lu->toks[idx].w = w;
	lu->toks[idx].gen++;
	vloop_utok_set_state(lu, (unsigned)idx, VLOOP_UTOK_IDLE);
	vloop_utok_enqueue(lu, (unsigned)idx);

	w->slot = idx;
	w->armed = 0;
	w->active = 1;
	w->loop = loop;
	return 0;
}

static void vloop_uring_watch_del(struct vloop *loop, struct vloop_watch *w)
{
	struct vloop_uring *lu = vloop_uring_of(loop);
	unsigned idx = (unsigned)w->slot;
	struct vloop_utok *t = &lu->toks[idx];

	assert(idx < lu->nr_toks && t->w == w);
	t->w = NULL;
	w->active = 0;
	w->armed = 0;
	w->slot = -1;

	switch (t->state) {
	case VLOOP_UTOK_IDLE: /* queued, never armed: drop */
		vloop_utok_set_state(lu, idx, VLOOP_UTOK_DEAD);
		break;
	case VLOOP_UTOK_ARMED: /* have the kernel drop the poll */
		vloop_utok_set_state(lu, idx, VLOOP_UTOK_CANCEL);
		vloop_utok_enqueue(lu, idx);
		break;
	case VLOOP_UTOK_FIRED: /* from its own callback */
		vloop_utok_free(lu, idx);
		break;
	default:
		assert(!"attached token in a detached state");
		break;
	}
}

/* The POLL_ADD of token @ud completed with @res. Returns callbacks run. */
static int vloop_uring_watch_done(struct vloop_uring *lu, uint64_t ud, int res)
{
	unsigned idx = (unsigned)(ud >> 2) & (VLOOP_UTOK_MAX - 1);
	struct vloop_watch *w;
	uint32_t revents;
	int ran = 0;

	if (idx >= lu->nr_toks || lu->toks[idx].gen != (uint32_t)(ud >> 32)) {
		vlog_warn("vloop: completion for unknown watch token %u", idx);
		return 0;
	}

	switch (lu->toks[idx].state) {
	case VLOOP_UTOK_ARMED:
		break;
	case VLOOP_UTOK_CANCEL: /* done before the remove was sent */
		vloop_utok_set_state(lu, idx, VLOOP_UTOK_DEAD);
		return 0;
	case VLOOP_UTOK_REMOVED:
		vloop_utok_free(lu, idx);
		return 0;
	default:
		vlog_warn("vloop: completion for watch token %u in state %s",
			  idx, vloop_utok_names[lu->toks[idx].state]);
		return 0;
	}

	w = lu->toks[idx].w;
	vloop_utok_set_state(lu, idx, VLOOP_UTOK_FIRED);
	w->armed = 0;
	/* -ECANCELED while attached: not ours (ring teardown): re-arm. */
	if (res != -ECANCELED) {
		if (res >= 0)
			revents = (uint32_t)res;
		else
			revents = res == -EBADF ? POLLNVAL : POLLERR;
		w->cb(w, revents);
		ran = 1;
	}
	/* Re-read: the callback may have grown the table or deleted w (and
	 * maybe added a watch that reused the token, then IDLE already). */
	if (lu->toks[idx].state == VLOOP_UTOK_FIRED) {
		vloop_utok_set_state(lu, idx, VLOOP_UTOK_IDLE);
		vloop_utok_enqueue(lu, idx);
	}
	return ran;
}

/* ---- completions --------------------------------------------------------- */

static int vloop_uring_complete(struct vloop_uring *lu, uint64_t ud, int res,
				uint32_t flags)
{
	struct vloop_op *op;

	switch (ud & VLOOP_UD_TAG_MASK) {
	case VLOOP_UD_OP:
		op = (struct vloop_op *)(uintptr_t)ud;
		if (!op)
			return 0;
		op->cb(op, res, flags);
		return 1;
	case VLOOP_UD_WATCH:
		return vloop_uring_watch_done(lu, ud, res);
	case VLOOP_UD_WAKE:
		lu->wake_armed = 0;
		vloop_wake_drain(&lu->base);
		return 0;
	default:
		return 0;
	}
}

/*
 * Dispatch the CQEs present, at most one CQ ring's worth (callbacks that
 * complete ops inline cannot keep us here), then advance the CQ head once.
 * Each CQE is copied out before its callback runs.
 */
static int vloop_uring_reap(struct vloop_uring *lu)
{
	struct io_uring *ring = &lu->ring;
	unsigned head, seen = 0, max = ring->cq.ring_entries;
	struct io_uring_cqe *cqe;
	int ran = 0;

	io_uring_for_each_cqe(ring, head, cqe)
	{
		uint64_t ud = cqe->user_data;
		int res = cqe->res;
		uint32_t flags = cqe->flags;

		ran += vloop_uring_complete(lu, ud, res, flags);
		if (++seen == max)
			break;
	}
	if (seen)
		io_uring_cq_advance(ring, seen);
	return ran;
}

/* Errors of a wait that are wake-ups, not failures of the loop. */
static inline int vloop_uring_wait_err_ok(int err)
{
	return err == -EINTR || err == -ETIME || err == -EAGAIN ||
	       err == -EBUSY;
}

static int vloop_uring_wait_dispatch(struct vloop *loop, int64_t wait_ns)
{
	struct vloop_uring *lu = vloop_uring_of(loop);
	struct io_uring *ring = &lu->ring;
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int ret;

	/* Out of SQEs, or CQEs left from a capped batch: do not block. */
	if (vloop_uring_prepare(lu) < 0 || io_uring_cq_ready(ring))
		wait_ns = 0;

	if (wait_ns == 0) {
		/* Deferred task work only runs when we enter the kernel. */
		if (ring->flags & IORING_SETUP_DEFER_TASKRUN)
			ret = io_uring_submit_and_get_events(ring);
		else
			ret = io_uring_submit(ring);
	} else {
		if (wait_ns > 0) {
			ts.tv_sec = wait_ns / 1000000000;
			ts.tv_nsec = wait_ns % 1000000000;
		}
		ret = io_uring_submit_and_wait_timeout(
			ring, &cqe, 1, wait_ns > 0 ? &ts : NULL, NULL);
	}
	if (ret < 0 && !vloop_uring_wait_err_ok(ret)) {
		vlog_err("vloop: io_uring wait: %s", strerror(-ret));
		return ret;
	}
	return vloop_uring_reap(lu);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void vloop_uring_destroy(struct vloop *loop)
{
	struct vloop_uring *lu = vloop_uring_of(loop);

	/* Cancels whatever is in flight; nothing of the caller's is read. */
	if (lu->ring_ready)
		io_uring_queue_exit(&lu->ring);
	free(lu->toks);
	vloop_base_release(loop);
	free(lu);
}

static int vloop_uring_create(struct vloop **out, unsigned entries,
			      unsigned flags)
{
	struct vloop_uring *lu;
	int ret;

	lu = vloop_alloc(sizeof(*lu));
	if (!lu)
		return -ENOMEM;
	vloop_base_init(&lu->base, VLOOP_URING, &vloop_uring_ops);
	lu->free_head = -1;
	lu->queue_head = -1;
	lu->queue_tail = -1;
	lu->sqe_size = flags & IORING_SETUP_SQE128 ? 128 : 64;

	ret = vloop_base_setup(&lu->base);
	if (ret < 0)
		goto out_destroy;
	ret = io_uring_queue_init(entries ? entries : VLOOP_URING_ENTRIES,
				  &lu->ring, flags);
	if (ret < 0)
		goto out_destroy;
	lu->ring_ready = 1;

	*out = &lu->base;
	return 0;

out_destroy:
	vloop_uring_destroy(&lu->base);
	return ret;
}

const struct vloop_ops vloop_uring_ops = {
	.create = vloop_uring_create,
	.destroy = vloop_uring_destroy,
	.watch_add = vloop_uring_watch_add,
	.watch_del = vloop_uring_watch_del,
	.wait_dispatch = vloop_uring_wait_dispatch,
	.sqe_get = vloop_uring_sqe_get,
	.uring = vloop_uring_ring,
};

/* SPDX-License-Identifier: MIT */
/*
 * craq.c - CRAQ roles, the per-chunk lock table and update ops (craq.h).
 *
 * Locks, in order (never two of one kind):
 *	t->chain_lock	the chain table copy (held for a snapshot copy)
 *	bucket->lock	the slots of one bucket of the lock table
 *	t->pool_lock	the free op list
 * No callback (forward, done) runs under any of them.
 *
 * An op's life: vcraq_write() takes one from the pool, queues it on its
 * chunk's slot (or owns the slot at once), vcraq_op_start() applies and
 * forwards (or commits, at the tail), vcraq_on_commit() commits,
 * vcraq_op_finish() answers the sender, hands the slot to the next queued
 * op and returns the op to the pool.
 *
 * Ops become runnable through a per-thread run queue (vcraq_op_kick()):
 * when a synchronous in-process forward runs the successor's update from
 * inside the predecessor's, it is queued and started after the current op
 * returns, so the stack depth does not grow with queued writes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "storage/craq.h"

#define VCRAQ_WAYS 4 /* chunks per lock-table bucket */

/* One chunk's entry in the lock table. Fields protected by bucket->lock. */
struct vcraq_slot {
	struct vchunk_id id;
	int used;		  /* id valid */
	int busy;		  /* an op owns the chunk */
	struct vcraq_op *wq_head; /* ops waiting for the chunk, FIFO */
	struct vcraq_op *wq_tail;
	/* Head idempotency: the last committed client write of the chunk. */
	uint64_t last_client;
	uint64_t last_req;
	struct vcraq_reply last_reply;
};

struct vcraq_bucket {
	pthread_mutex_t lock;
	struct vcraq_slot ways[VCRAQ_WAYS];
};

/* The part of the chain table an op needs, copied at its start. */
struct vcraq_role {
	uint32_t chain_id;
	uint32_t chain_ver;
	int takes_writes; /* this target is SERVING or SYNCING */
	int serving;	  /* this target is SERVING */
	int is_head;
	int has_succ;
	uint32_t succ_idx;
	uint32_t succ_target;
	uint32_t succ_state;
};

struct vcraq_op {
	struct vcraq_op *next; /* pool, slot wait queue or run queue */
	struct vcraq_target *t;
	struct vcraq_slot *slot;
	struct vcraq_bucket *bucket;
	struct vcraq_update u;	 /* as applied here (and sent on) */
	struct vcraq_update fwd; /* as forwarded */
	vcraq_done_fn done;
	void *done_arg;
	void *full; /* malloc'd whole chunk of a FULL forward, or NULL */
	vcraq_locked_fn lock_fn; /* a chunk lock, not an update */
	void *lock_arg;
	struct vcraq_reply reply;
	int client; /* a client write at the head */
};

struct vcraq_target {
	struct vchunk_store *store;
	uint32_t target_id;
	struct vcraq_ops ops;

	pthread_mutex_t chain_lock;
	struct vcraq_chain chain; /* protected by chain_lock */

	uint32_t nbuckets;
	struct vcraq_bucket *buckets;

	pthread_mutex_t pool_lock;
	struct vcraq_op *free_ops; /* protected by pool_lock */
	struct vcraq_op *op_mem;
};

/* ---- Chain table -------------------------------------------------------- */

static int vcraq_state_takes_writes(uint32_t s)
{
	return s == VCRAQ_SERVING || s == VCRAQ_SYNCING;
}

static int vcraq_chain_find(const struct vcraq_chain *c, uint32_t target_id)
{
	uint32_t i;

	for (i = 0; i < c->nmembers; i++)
		if (c->members[i].target_id == target_id)
			return (int)i;
	return -EINVAL;
}

static int vcraq_chain_check(const struct vcraq_chain *c, uint32_t target_id)
{
	uint32_t i;

	if (!c || !c->nmembers || c->nmembers > VCRAQ_MAX_MEMBERS)
		return -EINVAL;
	for (i = 0; i < c->nmembers; i++)
		if (c->members[i].state > VCRAQ_OFFLINE)
			return -EINVAL;
	return vcraq_chain_find(c, target_id) < 0 ? -EINVAL : 0;
}

/* Copy this target's role out of the chain table. */
static void vcraq_role_get(struct vcraq_target *t, struct vcraq_role *r)
{
	const struct vcraq_chain *c = &t->chain;
	uint32_t i, me;
	int k;

	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&t->chain_lock);
	r->chain_id = c->chain_id;
	r->chain_ver = c->chain_ver;
	k = vcraq_chain_find(c, t->target_id);
	if (k >= 0) {
		me = (uint32_t)k;
		r->takes_writes =
			vcraq_state_takes_writes(c->members[me].state);
		r->serving = c->members[me].state == VCRAQ_SERVING;
		r->is_head = r->takes_writes;
		for (i = 0; i < me; i++)
			if (vcraq_state_takes_writes(c->members[i].state))
				r->is_head = 0;
		for (i = me + 1; i < c->nmembers; i++) {
			if (!vcraq_state_takes_writes(c->members[i].state))
				continue;
			r->has_succ = 1;
			r->succ_idx = i;
			r->succ_target = c->members[i].target_id;
			r->succ_state = c->members[i].state;
			break;
		}
	}
	pthread_mutex_unlock(&t->chain_lock);
}

int vcraq_target_set_chain(struct vcraq_target *t,
			   const struct vcraq_chain *chain)
{
	int ret;

	ret = vcraq_chain_check(chain, t->target_id);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&t->chain_lock);
	if (chain->chain_id != t->chain.chain_id ||
	    chain->chain_ver < t->chain.chain_ver)
		ret = -ESTALE;
	else
		t->chain = *chain;
	pthread_mutex_unlock(&t->chain_lock);
	return ret;
}

uint32_t vcraq_target_chain_ver(struct vcraq_target *t)
{
	uint32_t v;

	pthread_mutex_lock(&t->chain_lock);
	v = t->chain.chain_ver;
	pthread_mutex_unlock(&t->chain_lock);
	return v;
}

struct vchunk_store *vcraq_target_store(struct vcraq_target *t)
{
	return t->store;
}

/* ---- Lifecycle ---------------------------------------------------------- */

int vcraq_target_new(struct vchunk_store *store, uint32_t target_id,
		     const struct vcraq_chain *chain,
		     const struct vcraq_ops *ops, uint32_t max_inflight,
		     uint32_t nbuckets, struct vcraq_target **out)
{
	struct vcraq_target *t;
	uint32_t i;
	int ret;

	if (!store || !ops || !ops->forward || !out)
		return -EINVAL;
	ret = vcraq_chain_check(chain, target_id);
	if (ret < 0)
		return ret;
	if (!max_inflight)
		max_inflight = 1024;
	if (!nbuckets)
		nbuckets = 1024;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->store = store;
	t->target_id = target_id;
	t->ops = *ops;
	t->chain = *chain;
	t->nbuckets = nbuckets;
	pthread_mutex_init(&t->chain_lock, NULL);
	pthread_mutex_init(&t->pool_lock, NULL);

	t->buckets = calloc(nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		goto out_free_t;
	for (i = 0; i < nbuckets; i++)
		pthread_mutex_init(&t->buckets[i].lock, NULL);
	t->op_mem = calloc(max_inflight, sizeof(*t->op_mem));
	if (!t->op_mem)
		goto out_free_buckets;
	for (i = 0; i < max_inflight; i++) {
		t->op_mem[i].next = t->free_ops;
		t->free_ops = &t->op_mem[i];
	}
	*out = t;
	return 0;

out_free_buckets:
	for (i = 0; i < nbuckets; i++)
		pthread_mutex_destroy(&t->buckets[i].lock);
	free(t->buckets);
out_free_t:
	pthread_mutex_destroy(&t->pool_lock);
	pthread_mutex_destroy(&t->chain_lock);
	free(t);
	return -ENOMEM;
}

void vcraq_target_free(struct vcraq_target *t)
{
	uint32_t i;

	if (!t)
		return;
	for (i = 0; i < t->nbuckets; i++)
		pthread_mutex_destroy(&t->buckets[i].lock);
	free(t->buckets);
	free(t->op_mem);
	pthread_mutex_destroy(&t->pool_lock);
	pthread_mutex_destroy(&t->chain_lock);
	free(t);
}

/* ---- Op pool and run queue ---------------------------------------------- */

static struct vcraq_op *vcraq_op_get(struct vcraq_target *t)
{
	struct vcraq_op *op;

	pthread_mutex_lock(&t->pool_lock);
	op = t->free_ops;
	if (op)
		t->free_ops = op->next;
	pthread_mutex_unlock(&t->pool_lock);
	if (op)
		memset(op, 0, sizeof(*op));
	return op;
}

static void vcraq_op_put(struct vcraq_target *t, struct vcraq_op *op)
{
	free(op->full);
	op->full = NULL;
	pthread_mutex_lock(&t->pool_lock);
	op->next = t->free_ops;
	t->free_ops = op;
	pthread_mutex_unlock(&t->pool_lock);
}

static __thread struct vcraq_op *vcraq_runq_head, *vcraq_runq_tail;
static __thread int vcraq_runq_active;

static void vcraq_op_start(struct vcraq_op *op);

/* Run @op now, or after the op this thread is running returns. */
static void vcraq_op_kick(struct vcraq_op *op)
{
	op->next = NULL;
	if (vcraq_runq_tail)
		vcraq_runq_tail->next = op;
	else
		vcraq_runq_head = op;
	vcraq_runq_tail = op;
	if (vcraq_runq_active)
		return;
	vcraq_runq_active = 1;
	while ((op = vcraq_runq_head)) {
		vcraq_runq_head = op->next;
		if (!vcraq_runq_head)
			vcraq_runq_tail = NULL;
		op->next = NULL;
		vcraq_op_start(op);
	}
	vcraq_runq_active = 0;
}

/* ---- Per-chunk lock table ----------------------------------------------- */

static struct vcraq_bucket *vcraq_bucket_of(struct vcraq_target *t,
					    struct vchunk_id id)
{
	uint64_t h = id.inode * 0x9e3779b97f4a7c15ull ^
		     (uint64_t)id.index * 0xc2b2ae3d27d4eb4full;

	h ^= h >> 29;
	return &t->buckets[h % t->nbuckets];
}

static int vcraq_id_eq(struct vchunk_id a, struct vchunk_id b)
{
	return a.inode == b.inode && a.index == b.index;
}

/*
 * Take @op's chunk slot: 1 owned now, 0 queued behind the owner (kicked
 * when it finishes), -EAGAIN every way of the bucket is busy.
 */
static int vcraq_slot_acquire(struct vcraq_target *t, struct vcraq_op *op)
{
	struct vcraq_bucket *b = vcraq_bucket_of(t, op->u.id);
	struct vcraq_slot *s = NULL, *idle = NULL;
	int i, ret;

	pthread_mutex_lock(&b->lock);
	for (i = 0; i < VCRAQ_WAYS; i++) {
		struct vcraq_slot *w = &b->ways[i];

		if (w->used && vcraq_id_eq(w->id, op->u.id)) {
			s = w;
			break;
		}
		/* Prefer a never-used way, else any idle one (no waiters:
		 * ops wait only on busy slots). */
		if (!w->used && (!idle || idle->used))
			idle = w;
		else if (w->used && !w->busy && !idle)
			idle = w;
	}
	if (!s && idle) {
		/* Reusing an idle slot forgets its idempotency record. */
		memset(idle, 0, sizeof(*idle));
		idle->used = 1;
		idle->id = op->u.id;
		s = idle;
	}
	if (!s) {
		ret = -EAGAIN;
	} else if (s->busy) {
		if (s->wq_tail)
			s->wq_tail->next = op;
		else
			s->wq_head = op;
		s->wq_tail = op;
		ret = 0;
	} else {
		s->busy = 1;
		ret = 1;
	}
	op->slot = s;
	op->bucket = b;
	pthread_mutex_unlock(&b->lock);
	return ret;
}

/* Release @op's slot; the next waiter (now owning it) or NULL. */
static struct vcraq_op *vcraq_slot_release(struct vcraq_op *op)
{
	struct vcraq_slot *s = op->slot;
	struct vcraq_op *next;

	pthread_mutex_lock(&op->bucket->lock);
	next = s->wq_head;
	if (next) {
		s->wq_head = next->next;
		if (!s->wq_head)
			s->wq_tail = NULL;
		next->next = NULL;
	} else {
		s->busy = 0;
	}
	pthread_mutex_unlock(&op->bucket->lock);
	return next;
}

/* ---- Update ops --------------------------------------------------------- */

/* Answer @op's sender, pass the chunk on, free the op. */
static void vcraq_op_finish(struct vcraq_op *op, int status)
{
	struct vcraq_target *t = op->t;
	vcraq_done_fn done = op->done;
	void *done_arg = op->done_arg;
	struct vcraq_reply reply = op->reply;
	struct vcraq_op *next;

	if (!status && op->client && op->u.client_id && !reply.duplicate) {
		/* The slot is still ours: no other op touches these fields. */
		pthread_mutex_lock(&op->bucket->lock);
		op->slot->last_client = op->u.client_id;
		op->slot->last_req = op->u.request_id;
		op->slot->last_reply = reply;
		pthread_mutex_unlock(&op->bucket->lock);
	}
	next = vcraq_slot_release(op);
	vcraq_op_put(t, op);
	if (done)
		done(done_arg, status, status ? NULL : &reply);
	if (next)
		vcraq_op_kick(next);
}

/*
 * Build the FULL-chunk update sent on: the chunk as it is here now (the
 * update just applied included), same version.
 */
static int vcraq_op_make_full(struct vcraq_op *op, uint32_t chunk_len)
{
	struct vchunk_result res;
	ssize_t n = 0;

	op->fwd = op->u;
	op->fwd.kind = VCRAQ_UPD_WRITE;
	op->fwd.trunc_len = 0;
	op->fwd.off = 0;
	op->fwd.flags = VCHUNK_F_FULL;
	op->full = malloc(chunk_len ? chunk_len : 1);
	if (!op->full)
		return -ENOMEM;
	if (chunk_len) {
		n = vchunk_read(op->t->store, op->u.id, 0, chunk_len, op->full,
				VCHUNK_F_ANY, &res);
		if (n < 0)
			return (int)n;
	}
	op->fwd.len = (uint32_t)n;
	op->fwd.data = op->full;
	op->fwd.crc = vcrc32c(0, op->full, (size_t)n);
	return 0;
}

/* The version a client write gets at the head; *leftover: a pending one. */
static int vcraq_head_version(struct vcraq_op *op, int *leftover)
{
	struct vchunk_meta m;
	int ret;

	*leftover = 0;
	ret = vchunk_stat(op->t->store, op->u.id, &m);
	if (ret == -ENOENT) {
		op->u.update_ver = 1;
		return 0;
	}
	if (ret < 0)
		return ret;
	if (m.pending_ver) {
		*leftover = 1;
		op->u.update_ver = m.pending_ver + 1;
	} else {
		op->u.update_ver = m.committed_ver + 1;
	}
	return 0;
}

/* Owning the chunk: apply, then commit (tail) or forward. */
static void vcraq_op_start(struct vcraq_op *op)
{
	struct vcraq_target *t = op->t;
	struct vcraq_slot *s = op->slot;
	struct vchunk_result res;
	struct vcraq_role role;
	int leftover = 0, full, ret;

	if (op->lock_fn) {
		op->lock_fn(op->lock_arg, op);
		return;
	}
	/* The table may have changed while the op waited for the chunk. */
	vcraq_role_get(t, &role);
	if (op->u.chain_id != role.chain_id ||
	    op->u.chain_ver != role.chain_ver || !role.takes_writes ||
	    (op->client && !role.is_head)) {
		vcraq_op_finish(op, -ESTALE);
		return;
	}

	if (op->client) {
		/* Queued behind its original, or a retry after it: the slot
		 * is ours, so reading the record needs no lock. */
		if (op->u.client_id && s->last_client == op->u.client_id &&
		    s->last_req == op->u.request_id) {
			op->reply = s->last_reply;
			op->reply.duplicate = 1;
			vcraq_op_finish(op, 0);
			return;
		}
		ret = vcraq_head_version(op, &leftover);
		if (ret < 0) {
			vcraq_op_finish(op, ret);
			return;
		}
	}

	if (op->u.kind == VCRAQ_UPD_TRUNCATE)
		ret = vchunk_truncate(t->store, op->u.id, op->u.trunc_len,
				      op->u.update_ver, op->u.chain_ver, &res);
	else
		ret = vchunk_write(t->store, op->u.id, op->u.off, op->u.data,
				   op->u.len, op->u.crc, op->u.update_ver,
				   op->u.chain_ver, op->u.flags, &res);
	if (ret < 0) {
		vcraq_op_finish(op, ret);
		return;
	}
	op->reply.update_ver = op->u.update_ver;
	op->reply.length = op->u.len;
	op->reply.chunk_length = res.meta.length;
	if (res.duplicate && op->u.update_ver <= res.meta.committed_ver) {
		/* Committed here, so committed all the way to the tail. */
		op->reply.duplicate = 1;
		vcraq_op_finish(op, 0);
		return;
	}

	if (!role.has_succ) {
		ret = vchunk_commit(t->store, op->u.id, op->u.update_ver, &res);
		if (!ret)
			op->reply.chunk_length = res.meta.length;
		vcraq_op_finish(op, ret);
		return;
	}

	full = role.succ_state == VCRAQ_SYNCING || leftover ||
	       (op->u.flags & VCHUNK_F_FULL);
	if (full) {
		ret = vcraq_op_make_full(op, res.meta.length);
		if (ret < 0) {
			vcraq_op_finish(op, ret);
			return;
		}
	} else {
		op->fwd = op->u;
	}
	ret = t->ops.forward(t->ops.arg, t, role.succ_idx, role.succ_target,
			     &op->fwd, op);
	if (ret < 0)
		vcraq_op_finish(op, ret);
}

void vcraq_on_commit(struct vcraq_target *t, struct vcraq_op *op, int status)
{
	struct vchunk_result res;
	int ret = status;

	if (!ret) {
		ret = vchunk_commit(t->store, op->u.id, op->u.update_ver, &res);
		if (!ret)
			op->reply.chunk_length = res.meta.length;
	}
	vcraq_op_finish(op, ret);
}

static int vcraq_update_check(const struct vcraq_update *u)
{
	if (!u || (u->len && !u->data))
		return -EINVAL;
	if (u->kind == VCRAQ_UPD_TRUNCATE)
		return u->len || u->flags || u->trunc_len > VCHUNK_MAX_SIZE
			       ? -EINVAL
			       : 0;
	if (u->kind != VCRAQ_UPD_WRITE)
		return -EINVAL;
	if (u->flags & ~VCHUNK_F_FULL)
		return -EINVAL;
	if ((u->flags & VCHUNK_F_FULL) && u->off)
		return -EINVAL;
	if ((uint64_t)u->off + u->len > VCHUNK_MAX_SIZE)
		return -EFBIG;
	return 0;
}

int vcraq_write(struct vcraq_target *t, const struct vcraq_update *u,
		vcraq_done_fn done, void *done_arg)
{
	struct vcraq_role role;
	struct vcraq_op *op;
	int ret;

	if (!done)
		return -EINVAL;
	ret = vcraq_update_check(u);
	if (ret < 0)
		return ret;
	vcraq_role_get(t, &role);
	if (u->chain_id != role.chain_id || u->chain_ver != role.chain_ver ||
	    !role.takes_writes)
		return -ESTALE;
	/* Clients write at the head only; the head gets no forwards. */
	if (role.is_head != !u->update_ver)
		return -ENXIO;

	op = vcraq_op_get(t);
	if (!op)
		return -EAGAIN;
	op->t = t;
	op->u = *u;
	op->client = !u->update_ver;
	op->done = done;
	op->done_arg = done_arg;

	ret = vcraq_slot_acquire(t, op);
	if (ret < 0) {
		vcraq_op_put(t, op);
		return ret;
	}
	if (ret == 1)
		vcraq_op_kick(op);
	return 0;
}

/* ---- Chunk locks and inode scans ---------------------------------------- */

int vcraq_chunk_lock(struct vcraq_target *t, struct vchunk_id id,
		     vcraq_locked_fn fn, void *arg)
{
	struct vcraq_op *op;
	int ret;

	if (!fn)
		return -EINVAL;
	op = vcraq_op_get(t);
	if (!op)
		return -EAGAIN;
	op->t = t;
	op->u.id = id;
	op->lock_fn = fn;
	op->lock_arg = arg;
	ret = vcraq_slot_acquire(t, op);
	if (ret < 0) {
		vcraq_op_put(t, op);
		return ret;
	}
	if (ret == 1)
		vcraq_op_kick(op);
	return 0;
}

void vcraq_chunk_unlock(struct vcraq_target *t, struct vcraq_op *op)
{
	vcraq_op_finish(op, 0);
}

int vcraq_inode_busy(struct vcraq_target *t, uint64_t inode,
		     uint32_t first_index)
{
	int busy = 0;

	for (uint32_t i = 0; i < t->nbuckets && !busy; i++) {
		struct vcraq_bucket *b = &t->buckets[i];

		pthread_mutex_lock(&b->lock);
		for (int w = 0; w < VCRAQ_WAYS; w++) {
			const struct vcraq_slot *s = &b->ways[w];

			if (s->used && s->busy && s->id.inode == inode &&
			    s->id.index >= first_index)
				busy = 1;
		}
		pthread_mutex_unlock(&b->lock);
	}
	return busy;
}

uint32_t vcraq_target_state(struct vcraq_target *t)
{
	uint32_t st = VCRAQ_OFFLINE;
	int k;

	pthread_mutex_lock(&t->chain_lock);
	k = vcraq_chain_find(&t->chain, t->target_id);
	if (k >= 0)
		st = t->chain.members[k].state;
	pthread_mutex_unlock(&t->chain_lock);
	return st;
}

void vcraq_target_chain(struct vcraq_target *t, struct vcraq_chain *out)
{
	pthread_mutex_lock(&t->chain_lock);
	*out = t->chain;
	pthread_mutex_unlock(&t->chain_lock);
}

/* ---- Reads -------------------------------------------------------------- */

ssize_t vcraq_read(struct vcraq_target *t, struct vchunk_id id, uint32_t off,
		   uint32_t len, void *buf, struct vchunk_result *res)
{
	struct vcraq_role role;

	vcraq_role_get(t, &role);
	if (!role.serving)
		return -EBUSY;
	return vchunk_read(t->store, id, off, len, buf, 0, res);
}

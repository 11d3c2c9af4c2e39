/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of storage/craq: three targets (three mkdtemp directories,
 * three chunk stores) wired in one process. The forward callback delivers
 * an update to the successor at once (synchronous mode) or queues it until
 * the test pumps it (queued mode), so a write can be held in flight.
 * Covered: replication to every replica, "not committed" reads while a
 * write is in flight, per-chunk serialization at the head, idempotent
 * retries, stale chain versions (and recovery of the pending chunk they
 * leave), a chain shortened to two, a SYNCING target fed FULL chunks plus
 * the resync plan, and removal of chunks the predecessor deleted.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/crc32c.h"
#include "storage/chunk.h"
#include "storage/craq.h"

#define NT 3
#define CHAIN_ID 7
#define QCAP 64

struct fwd_msg {
	struct vcraq_target *from;
	uint32_t to_target;
	struct vcraq_update u;
	struct vcraq_op *op;
};

struct fx {
	char dir[NT][64];
	struct vchunk_store *st[NT];
	struct vcraq_target *t[NT];
	struct vcraq_chain chain;
	int queued;
	struct fwd_msg q[QCAP];
	int qhead, qtail;
	/* Forwards seen per destination target index, and FULL ones. */
	int fwd_count[NT];
	int fwd_full[NT];
};

/* The predecessor's op waiting for this delivery's answer. */
struct fwd_ctx {
	struct vcraq_target *from;
	struct vcraq_op *op;
};

struct client_res {
	int called;
	int status;
	struct vcraq_reply r;
};

/* ---- In-memory transport ------------------------------------------------ */

static void fx_succ_done(void *arg, int status, const struct vcraq_reply *r)
{
	struct fwd_ctx *c = arg;

	vcraq_on_commit(c->from, c->op, status);
	free(c);
}

static void fx_deliver(struct fx *f, const struct fwd_msg *m)
{
	struct fwd_ctx *c = malloc(sizeof(*c));
	int ret;

	assert_non_null(c);
	c->from = m->from;
	c->op = m->op;
	ret = vcraq_write(f->t[m->to_target - 1], &m->u, fx_succ_done, c);
	if (ret < 0) {
		free(c);
		vcraq_on_commit(m->from, m->op, ret);
	}
}

static int fx_forward(void *arg, struct vcraq_target *t, uint32_t succ_idx,
		      uint32_t succ_target, const struct vcraq_update *u,
		      struct vcraq_op *op)
{
	struct fx *f = arg;
	struct fwd_msg m = {
		.from = t, .to_target = succ_target, .u = *u, .op = op};

	assert_true(succ_target >= 1 && succ_target <= NT);
	assert_int_equal(f->chain.members[succ_idx].target_id, succ_target);
	/* Relaxed: counters read after the writer threads are joined. */
	__atomic_fetch_add(&f->fwd_count[succ_target - 1], 1, __ATOMIC_RELAXED);
	if (u->flags & VCHUNK_F_FULL)
		__atomic_fetch_add(&f->fwd_full[succ_target - 1], 1,
				   __ATOMIC_RELAXED);
	if (!f->queued) {
		fx_deliver(f, &m);
		return 0;
	}
	assert_true(f->qtail - f->qhead < QCAP);
	f->q[f->qtail++ % QCAP] = m;
	return 0;
}

/* Deliver one queued forward: 1, or 0 when the queue is empty. */
static int fx_pump_one(struct fx *f)
{
	struct fwd_msg m;

	if (f->qhead == f->qtail)
		return 0;
	m = f->q[f->qhead++ % QCAP];
	fx_deliver(f, &m);
	return 1;
}

static void fx_pump_all(struct fx *f)
{
	while (fx_pump_one(f))
		;
}

/* ---- Fixture ------------------------------------------------------------ */

static void fx_chain_set(struct fx *f, uint32_t ver, const uint32_t *states)
{
	uint32_t i;

	f->chain.chain_id = CHAIN_ID;
	f->chain.chain_ver = ver;
	f->chain.nmembers = NT;
	for (i = 0; i < NT; i++) {
		f->chain.members[i].target_id = i + 1;
		f->chain.members[i].state = states ? states[i] : VCRAQ_SERVING;
	}
}

/* Install f->chain on every target that is a member of it. */
static void fx_chain_push(struct fx *f)
{
	uint32_t i, k;

	for (k = 0; k < f->chain.nmembers; k++) {
		i = f->chain.members[k].target_id - 1;
		assert_int_equal(vcraq_target_set_chain(f->t[i], &f->chain), 0);
	}
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vcraq_ops ops = {.forward = fx_forward};
	int i;

	if (!f)
		return -1;
	ops.arg = f;
	fx_chain_set(f, 1, NULL);
	for (i = 0; i < NT; i++) {
		snprintf(f->dir[i], sizeof(f->dir[i]), "/tmp/test_craq.XXXXXX");
		if (!mkdtemp(f->dir[i]) ||
		    vchunk_store_open(f->dir[i], &f->st[i]))
			return -1;
		if (vcraq_target_new(f->st[i], (uint32_t)i + 1, &f->chain, &ops,
				     0, 0, &f->t[i]))
			return -1;
	}
	*state = f;
	return 0;
}

static int fx_rm(const char *p, const struct stat *sb, int type,
		 struct FTW *ftw)
{
	return remove(p);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	int i;

	for (i = 0; i < NT; i++) {
		vcraq_target_free(f->t[i]);
		vchunk_store_close(f->st[i]);
		if (f->dir[i][0])
			nftw(f->dir[i], fx_rm, 16, FTW_DEPTH | FTW_PHYS);
	}
	free(f);
	return 0;
}

/* ---- Helpers ------------------------------------------------------------ */

static void client_done(void *arg, int status, const struct vcraq_reply *r)
{
	struct client_res *c = arg;

	c->status = status;
	if (r)
		c->r = *r;
	/* Release: the waiter reads status and r after seeing called. */
	__atomic_fetch_add(&c->called, 1, __ATOMIC_RELEASE);
}

static struct vchunk_id cid(uint64_t inode, uint32_t index)
{
	struct vchunk_id id = {.inode = inode, .index = index};

	return id;
}

/* Submit a client write at the head (target index 0); vcraq_write's result. */
static int client_submit(struct fx *f, int ti, struct vchunk_id id,
			 uint32_t off, const void *data, uint32_t len,
			 uint64_t client, uint64_t req, uint32_t chain_ver,
			 struct client_res *c)
{
	struct vcraq_update u = {
		.id = id,
		.chain_id = CHAIN_ID,
		.chain_ver = chain_ver,
		.off = off,
		.len = len,
		.crc = vcrc32c(0, data, len),
		.client_id = client,
		.request_id = req,
		.data = data,
	};

	memset(c, 0, sizeof(*c));
	return vcraq_write(f->t[ti], &u, client_done, c);
}

/* A synchronous client write through the head: the answer's status. */
static int client_write(struct fx *f, struct vchunk_id id, uint32_t off,
			const void *data, uint32_t len, uint64_t req,
			struct client_res *c)
{
	int ret = client_submit(f, 0, id, off, data, len, 1, req,
				f->chain.chain_ver, c);

	if (ret < 0)
		return ret;
	fx_pump_all(f);
	assert_int_equal(c->called, 1);
	return c->status;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 31 + seed * 7 + (i >> 8)) ^ seed);
}

/* Every committed chunk of @a reads identical at @b; the records match. */
static void assert_stores_equal(struct vchunk_store *a, struct vchunk_store *b)
{
	struct vchunk_meta *ma, *mb;
	size_t na, nb, i;
	uint8_t *ba, *bb;

	assert_int_equal(vcraq_dump_collect(a, &ma, &na), 0);
	assert_int_equal(vcraq_dump_collect(b, &mb, &nb), 0);
	assert_int_equal(na, nb);
	for (i = 0; i < na; i++) {
		ssize_t ra, rb;

		assert_int_equal(ma[i].id.inode, mb[i].id.inode);
		assert_int_equal(ma[i].id.index, mb[i].id.index);
		assert_int_equal(ma[i].length, mb[i].length);
		assert_int_equal(ma[i].chain_ver, mb[i].chain_ver);
		assert_int_equal(ma[i].committed_ver, mb[i].committed_ver);
		assert_int_equal(ma[i].pending_ver, 0);
		assert_int_equal(mb[i].pending_ver, 0);
		ba = malloc(ma[i].length + 1);
		bb = malloc(ma[i].length + 1);
		assert_non_null(ba);
		assert_non_null(bb);
		ra = vchunk_read(a, ma[i].id, 0, ma[i].length, ba, 0, NULL);
		rb = vchunk_read(b, mb[i].id, 0, mb[i].length, bb, 0, NULL);
		assert_int_equal(ra, ma[i].length);
		assert_int_equal(rb, ra);
		assert_memory_equal(ba, bb, (size_t)ra);
		free(ba);
		free(bb);
	}
	free(ma);
	free(mb);
}

/* Chunk @id reads as @want (len bytes from 0) at replica @ti. */
static void assert_replica_reads(struct fx *f, int ti, struct vchunk_id id,
				 const uint8_t *want, uint32_t len)
{
	uint8_t *buf = malloc(len + 16);

	assert_non_null(buf);
	assert_int_equal(vchunk_read(f->st[ti], id, 0, len + 16, buf, 0, NULL),
			 len);
	assert_memory_equal(buf, want, len);
	free(buf);
}

/* ---- Tests -------------------------------------------------------------- */

static void test_craq__write_reaches_every_replica(void **state)
{
	struct fx *f = *state;
	struct client_res c;
	uint8_t want[20000] = {0}, d[12000];
	struct vchunk_result res;
	uint8_t buf[64];
	int i;

	fill(d, sizeof(d), 1);
	assert_int_equal(client_write(f, cid(1, 0), 5000, d, 12000, 1, &c), 0);
	assert_int_equal(c.r.update_ver, 1);
	assert_int_equal(c.r.chunk_length, 17000);
	memcpy(want + 5000, d, 12000);

	fill(d, sizeof(d), 2);
	assert_int_equal(client_write(f, cid(1, 0), 100, d, 9000, 2, &c), 0);
	assert_int_equal(c.r.update_ver, 2);
	memcpy(want + 100, d, 9000);

	for (i = 0; i < NT; i++) {
		assert_replica_reads(f, i, cid(1, 0), want, 17000);
		assert_int_equal(
			vcraq_read(f->t[i], cid(1, 0), 4000, 64, buf, &res),
			64);
		assert_memory_equal(buf, want + 4000, 64);
		assert_int_equal(res.meta.committed_ver, 2);
	}
	assert_stores_equal(f->st[0], f->st[1]);
	assert_stores_equal(f->st[0], f->st[2]);
	assert_int_equal(f->fwd_full[1] + f->fwd_full[2], 0);
}

static void test_craq__inflight_write_reads_einprogress(void **state)
{
	struct fx *f = *state;
	struct client_res c1, c2;
	uint8_t old[8192], d1[4096], d2[4096], buf[8192];
	struct vchunk_meta m;

	fill(old, sizeof(old), 3);
	assert_int_equal(client_write(f, cid(2, 3), 0, old, 8192, 1, &c1), 0);

	f->queued = 1;
	fill(d1, sizeof(d1), 4);
	fill(d2, sizeof(d2), 5);
	assert_int_equal(
		client_submit(f, 0, cid(2, 3), 0, d1, 4096, 1, 2, 1, &c1), 0);
	/* A second write of the chunk waits behind the first at the head. */
	assert_int_equal(
		client_submit(f, 0, cid(2, 3), 4096, d2, 4096, 1, 3, 1, &c2),
		0);
	assert_int_equal(vchunk_stat(f->st[0], cid(2, 3), &m), 0);
	assert_int_equal(m.pending_ver, 2);

	/* Head pending; middle and tail not reached yet. */
	assert_int_equal(vcraq_read(f->t[0], cid(2, 3), 0, 64, buf, NULL),
			 -EINPROGRESS);
	assert_int_equal(fx_pump_one(f), 1);
	assert_int_equal(vcraq_read(f->t[1], cid(2, 3), 0, 64, buf, NULL),
			 -EINPROGRESS);
	assert_int_equal(c1.called, 0);
	/* The tail serves the old committed data meanwhile. */
	assert_int_equal(vcraq_read(f->t[2], cid(2, 3), 0, 8192, buf, NULL),
			 8192);
	assert_memory_equal(buf, old, 8192);

	/* Tail commits; commits flow back; the queued write then runs. */
	assert_int_equal(fx_pump_one(f), 1);
	assert_int_equal(c1.called, 1);
	assert_int_equal(c1.status, 0);
	assert_int_equal(c1.r.update_ver, 2);
	assert_int_equal(c2.called, 0);
	assert_int_equal(vchunk_stat(f->st[0], cid(2, 3), &m), 0);
	assert_int_equal(m.pending_ver, 3);
	fx_pump_all(f);
	assert_int_equal(c2.called, 1);
	assert_int_equal(c2.status, 0);
	assert_int_equal(c2.r.update_ver, 3);

	memcpy(old, d1, 4096);
	memcpy(old + 4096, d2, 4096);
	for (int i = 0; i < NT; i++) {
		assert_int_equal(
			vcraq_read(f->t[i], cid(2, 3), 0, 8192, buf, NULL),
			8192);
		assert_memory_equal(buf, old, 8192);
	}
	assert_stores_equal(f->st[0], f->st[2]);
}

static void test_craq__retry_does_not_double_apply(void **state)
{
	struct fx *f = *state;
	struct client_res c, c2;
	uint8_t d[3000];
	struct vchunk_meta m;
	int i;

	fill(d, sizeof(d), 6);
	assert_int_equal(client_write(f, cid(3, 0), 0, d, 3000, 77, &c), 0);
	assert_int_equal(c.r.update_ver, 1);
	assert_int_equal(client_write(f, cid(3, 0), 0, d, 3000, 77, &c), 0);
	assert_int_equal(c.r.update_ver, 1);
	assert_int_equal(c.r.duplicate, 1);
	for (i = 0; i < NT; i++) {
		assert_int_equal(vchunk_stat(f->st[i], cid(3, 0), &m), 0);
		assert_int_equal(m.committed_ver, 1);
	}

	/* A retry queued behind its still running original. */
	f->queued = 1;
	assert_int_equal(
		client_submit(f, 0, cid(3, 0), 10, d, 100, 1, 78, 1, &c), 0);
	assert_int_equal(
		client_submit(f, 0, cid(3, 0), 10, d, 100, 1, 78, 1, &c2), 0);
	fx_pump_all(f);
	assert_int_equal(c.status, 0);
	assert_int_equal(c2.status, 0);
	assert_int_equal(c.r.update_ver, 2);
	assert_int_equal(c2.r.update_ver, 2);
	assert_int_equal(c2.r.duplicate, 1);
	for (i = 0; i < NT; i++) {
		assert_int_equal(vchunk_stat(f->st[i], cid(3, 0), &m), 0);
		assert_int_equal(m.committed_ver, 2);
	}
	/* A new request is a new version. */
	assert_int_equal(client_write(f, cid(3, 0), 0, d, 10, 79, &c), 0);
	assert_int_equal(c.r.update_ver, 3);
}

static void test_craq__stale_chain_version_is_estale(void **state)
{
	struct fx *f = *state;
	struct vcraq_update u = {.id = cid(4, 0),
				 .chain_id = CHAIN_ID,
				 .chain_ver = 1,
				 .len = 0,
				 .update_ver = 1};
	struct client_res c;
	uint8_t d[5000], buf[5000];

	fill(d, sizeof(d), 7);
	assert_int_equal(client_submit(f, 0, cid(4, 0), 0, d, 100, 1, 1, 0, &c),
			 -ESTALE);
	assert_int_equal(client_write(f, cid(4, 0), 0, d, 5000, 2, &c), 0);
	/* A client write at a non-head, a forward at the head. */
	assert_int_equal(client_submit(f, 1, cid(4, 0), 0, d, 100, 1, 3, 1, &c),
			 -ENXIO);
	assert_int_equal(vcraq_write(f->t[0], &u, client_done, &c), -ENXIO);

	/* Only the head learns version 2: the middle refuses its forward. */
	f->chain.chain_ver = 2;
	assert_int_equal(vcraq_target_set_chain(f->t[0], &f->chain), 0);
	u.chain_ver = 2;
	u.update_ver = 2;
	assert_int_equal(vcraq_write(f->t[1], &u, client_done, &c), -ESTALE);
	fill(d, 100, 8);
	assert_int_equal(client_write(f, cid(4, 0), 0, d, 100, 4, &c), -ESTALE);
	/* Old version at the head now: refused too. */
	assert_int_equal(client_submit(f, 0, cid(4, 0), 0, d, 100, 1, 5, 1, &c),
			 -ESTALE);
	/* An older table is refused. */
	f->chain.chain_ver = 1;
	assert_int_equal(vcraq_target_set_chain(f->t[0], &f->chain), -ESTALE);

	/* Everyone on version 2: the head's leftover pending chunk goes out
	 * as a FULL chunk and the replicas converge. */
	f->chain.chain_ver = 2;
	fx_chain_push(f);
	fill(d + 200, 300, 9);
	assert_int_equal(client_write(f, cid(4, 0), 200, d + 200, 300, 6, &c),
			 0);
	assert_int_equal(f->fwd_full[1], 1);
	assert_int_equal(f->fwd_full[2], 1);
	for (int i = 0; i < NT; i++) {
		assert_int_equal(
			vcraq_read(f->t[i], cid(4, 0), 0, 5000, buf, NULL),
			5000);
		assert_memory_equal(buf, d, 5000);
	}
	assert_stores_equal(f->st[0], f->st[1]);
	assert_stores_equal(f->st[0], f->st[2]);
}

static void test_craq__two_member_chain_keeps_writing(void **state)
{
	struct fx *f = *state;
	struct client_res c;
	uint8_t d[6000], old[6000];
	struct vchunk_meta m;

	fill(old, sizeof(old), 10);
	assert_int_equal(client_write(f, cid(5, 1), 0, old, 6000, 1, &c), 0);

	/* The middle is removed; version bumped. */
	f->chain.chain_ver = 2;
	f->chain.nmembers = 2;
	f->chain.members[1] = f->chain.members[2];
	fx_chain_push(f);

	fill(d, sizeof(d), 11);
	assert_int_equal(client_write(f, cid(5, 1), 0, d, 6000, 2, &c), 0);
	assert_int_equal(c.r.update_ver, 2);
	assert_int_equal(client_write(f, cid(5, 2), 0, d, 600, 3, &c), 0);
	assert_replica_reads(f, 0, cid(5, 1), d, 6000);
	assert_replica_reads(f, 2, cid(5, 1), d, 6000);
	assert_replica_reads(f, 1, cid(5, 1), old, 6000);
	assert_stores_equal(f->st[0], f->st[2]);
	assert_int_equal(vchunk_stat(f->st[2], cid(5, 1), &m), 0);
	assert_int_equal(m.chain_ver, 2);
	assert_int_equal(vchunk_stat(f->st[1], cid(5, 2), &m), -ENOENT);
}

struct plan_log {
	struct fx *f;
	struct vchunk_store *pred, *succ;
	int sends, removes, removes_live;
	uint64_t last_done, total;
	int apply_err;
};

static int plan_apply(void *arg, const struct vcraq_resync_item *it)
{
	struct plan_log *l = arg;
	int ret;

	if (l->sends + l->removes)
		assert_int_equal(it->done, l->last_done + 1);
	else
		assert_int_equal(it->done, 0);
	l->last_done = it->done;
	l->total = it->total;
	assert_true(it->done < it->total);
	if (it->action == VCRAQ_RESYNC_SEND)
		l->sends++;
	else
		l->removes++;
	if (it->action == VCRAQ_RESYNC_REMOVE && !it->inode_gone)
		l->removes_live++;
	ret = vcraq_resync_apply(l->pred, l->succ, it);
	if (ret < 0 && !l->apply_err)
		l->apply_err = ret;
	return 0;
}

static void run_plan(struct vchunk_store *pred, struct vchunk_store *succ,
		     struct plan_log *l)
{
	struct vchunk_meta *sd;
	size_t ns;

	memset(l, 0, sizeof(*l));
	l->pred = pred;
	l->succ = succ;
	assert_int_equal(vcraq_dump_collect(succ, &sd, &ns), 0);
	assert_int_equal(vcraq_resync_plan(pred, sd, ns, plan_apply, l), 0);
	free(sd);
}

static void test_craq__syncing_target_converges(void **state)
{
	struct fx *f = *state;
	uint32_t away[NT] = {VCRAQ_SERVING, VCRAQ_SERVING, VCRAQ_OFFLINE};
	uint32_t sync[NT] = {VCRAQ_SERVING, VCRAQ_SERVING, VCRAQ_SYNCING};
	struct client_res c;
	struct plan_log l;
	uint8_t a[9000], b[7000], d[3000], buf[64];
	int full_before;

	fill(a, sizeof(a), 12);
	fill(b, sizeof(b), 13);
	assert_int_equal(client_write(f, cid(6, 0), 0, a, 9000, 1, &c), 0);
	assert_int_equal(client_write(f, cid(6, 1), 0, b, 7000, 2, &c), 0);
	assert_int_equal(client_write(f, cid(7, 0), 0, b, 5000, 3, &c), 0);

	/* Target 3 goes away; writes go on without it. */
	fx_chain_set(f, 2, away);
	fx_chain_push(f);
	fill(d, sizeof(d), 14);
	assert_int_equal(client_write(f, cid(6, 0), 4000, d, 3000, 4, &c), 0);
	memcpy(a + 4000, d, 3000);
	assert_int_equal(client_write(f, cid(8, 0), 0, d, 3000, 5, &c), 0);
	/* Inode 7 is collected while it is away. */
	assert_int_equal(vchunk_remove_inode(f->st[0], 7), 1);
	assert_int_equal(vchunk_remove_inode(f->st[1], 7), 1);

	/* It returns SYNCING: live writes reach it as FULL chunks. */
	fx_chain_set(f, 3, sync);
	fx_chain_push(f);
	assert_int_equal(vcraq_read(f->t[2], cid(6, 1), 0, 64, buf, NULL),
			 -EBUSY);
	full_before = f->fwd_full[2];
	fill(d, sizeof(d), 15);
	assert_int_equal(client_write(f, cid(6, 1), 1000, d, 3000, 6, &c), 0);
	memcpy(b + 1000, d, 3000);
	assert_int_equal(f->fwd_full[2], full_before + 1);
	assert_int_equal(f->fwd_full[1], 0);
	assert_replica_reads(f, 2, cid(6, 1), b, 7000);

	/* The plan fills the rest: chunk (6,0) changed, (8,0) is new, inode 7
	 * is gone; (6,1) is already current. */
	run_plan(f->st[1], f->st[2], &l);
	assert_int_equal(l.apply_err, 0);
	assert_int_equal(l.sends, 2);
	assert_int_equal(l.removes, 1);
	assert_int_equal(l.removes_live, 0);
	assert_int_equal(l.total, 3);
	assert_int_equal(l.last_done, 2);

	assert_stores_equal(f->st[0], f->st[1]);
	assert_stores_equal(f->st[1], f->st[2]);
	assert_replica_reads(f, 2, cid(6, 0), a, 9000);

	/* A second plan finds nothing; serving again, it answers reads. */
	run_plan(f->st[1], f->st[2], &l);
	assert_int_equal(l.sends + l.removes, 0);
	fx_chain_set(f, 4, NULL);
	fx_chain_push(f);
	assert_int_equal(vcraq_read(f->t[2], cid(6, 1), 0, 64, buf, NULL), 64);
	assert_memory_equal(buf, b, 64);
	assert_int_equal(client_write(f, cid(6, 1), 0, d, 10, 7, &c), 0);
	assert_stores_equal(f->st[0], f->st[2]);
}

static void test_craq__plan_removes_deleted_chunks(void **state)
{
	struct fx *f = *state;
	struct client_res c;
	struct plan_log l;
	struct vchunk_meta m;
	uint8_t d[4096];

	fill(d, sizeof(d), 16);
	assert_int_equal(client_write(f, cid(9, 0), 0, d, 4096, 1, &c), 0);
	assert_int_equal(client_write(f, cid(9, 1), 0, d, 100, 2, &c), 0);
	assert_int_equal(client_write(f, cid(10, 0), 0, d, 200, 3, &c), 0);
	/* Deleted at the predecessor only. */
	assert_int_equal(vchunk_remove_inode(f->st[1], 9), 2);
	/* A stray chunk of a live inode, only at the successor. */
	assert_int_equal(vchunk_write(f->st[2], cid(10, 5), 0, d, 10,
				      vcrc32c(0, d, 10), 1, 1, 0, NULL),
			 0);

	run_plan(f->st[1], f->st[2], &l);
	assert_int_equal(l.sends, 0);
	assert_int_equal(l.removes, 3);
	assert_int_equal(l.removes_live, 1);
	assert_int_equal(l.total, 3);
	assert_int_equal(l.apply_err, -EOPNOTSUPP);
	assert_int_equal(vchunk_stat(f->st[2], cid(9, 0), &m), -ENOENT);
	assert_int_equal(vchunk_stat(f->st[2], cid(9, 1), &m), -ENOENT);
	assert_int_equal(vchunk_stat(f->st[2], cid(10, 0), &m), 0);
}

#define THR_N 4
#define THR_WRITES 40

struct thr_arg {
	struct fx *f;
	int k;
	uint8_t last[4096];
	int err;
};

/* Write a private chunk and a slice of a shared one, THR_WRITES times. */
static void *thr_writer(void *arg)
{
	struct thr_arg *a = arg;
	struct client_res c;
	uint8_t d[4096];
	int i, j, ret;

	for (i = 0; i < THR_WRITES && !a->err; i++) {
		fill(d, sizeof(d), (uint32_t)(a->k * 1000 + i));
		for (j = 0; j < 2; j++) {
			struct vchunk_id id =
				j ? cid(21, 0) : cid(20, (uint32_t)a->k);
			uint32_t off = j ? (uint32_t)a->k * 4096 : 0;

			do {
				ret = client_submit(
					a->f, 0, id, off, d, 4096,
					(uint64_t)a->k + 1,
					(uint64_t)i * 2 + (uint64_t)j, 1, &c);
			} while (ret == -EAGAIN);
			if (ret < 0) {
				a->err = ret;
				break;
			}
			/* Queued behind another thread's write: answered there.
			 */
			while (!__atomic_load_n(&c.called, __ATOMIC_ACQUIRE))
				sched_yield();
			if (c.status) {
				a->err = c.status;
				break;
			}
		}
		memcpy(a->last, d, sizeof(d));
	}
	return NULL;
}

static void test_craq__parallel_writers_converge(void **state)
{
	struct fx *f = *state;
	struct thr_arg a[THR_N];
	pthread_t th[THR_N];
	struct vchunk_meta m;
	int i, k;

	for (k = 0; k < THR_N; k++) {
		memset(&a[k], 0, sizeof(a[k]));
		a[k].f = f;
		a[k].k = k;
		assert_int_equal(
			pthread_create(&th[k], NULL, thr_writer, &a[k]), 0);
	}
	for (k = 0; k < THR_N; k++) {
		pthread_join(th[k], NULL);
		assert_int_equal(a[k].err, 0);
	}
	for (i = 0; i < NT; i++) {
		assert_int_equal(vchunk_stat(f->st[i], cid(21, 0), &m), 0);
		assert_int_equal(m.committed_ver, THR_N * THR_WRITES);
		assert_int_equal(m.pending_ver, 0);
		for (k = 0; k < THR_N; k++) {
			uint8_t buf[4096];

			assert_int_equal(vchunk_read(f->st[i], cid(21, 0),
						     (uint32_t)k * 4096, 4096,
						     buf, 0, NULL),
					 4096);
			assert_memory_equal(buf, a[k].last, 4096);
			assert_replica_reads(f, i, cid(20, (uint32_t)k),
					     a[k].last, 4096);
		}
	}
	assert_stores_equal(f->st[0], f->st[1]);
	assert_stores_equal(f->st[0], f->st[2]);
}

static void test_craq__truncate_reaches_every_replica(void **state)
{
	struct fx *f = *state;
	struct client_res c;
	uint8_t d[10000];
	struct vcraq_update u = {
		.kind = VCRAQ_UPD_TRUNCATE,
		.id = {5, 0},
		.chain_id = CHAIN_ID,
		.chain_ver = 1,
		.trunc_len = 3000,
		.client_id = 1,
		.request_id = 2,
	};

	fill(d, sizeof(d), 20);
	assert_int_equal(client_write(f, cid(5, 0), 0, d, 10000, 1, &c), 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(vcraq_write(f->t[0], &u, client_done, &c), 0);
	fx_pump_all(f);
	assert_int_equal(c.called, 1);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.r.update_ver, 2);
	assert_int_equal(c.r.chunk_length, 3000);
	for (int i = 0; i < NT; i++)
		assert_replica_reads(f, i, cid(5, 0), d, 3000);
	/* the same key again: a duplicate, nothing applied */
	memset(&c, 0, sizeof(c));
	assert_int_equal(vcraq_write(f->t[0], &u, client_done, &c), 0);
	fx_pump_all(f);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.r.duplicate, 1);
	assert_stores_equal(f->st[0], f->st[2]);
	/* a truncate carries no data */
	u.len = 1;
	u.data = d;
	assert_int_equal(vcraq_write(f->t[0], &u, client_done, &c), -EINVAL);
}

struct lock_res {
	int calls;
	struct vcraq_op *op;
};

static void lock_cb(void *arg, struct vcraq_op *op)
{
	struct lock_res *l = arg;

	l->calls++;
	l->op = op;
}

static void test_craq__chunk_lock_holds_updates(void **state)
{
	struct fx *f = *state;
	struct lock_res l = {0}, l2 = {0};
	struct client_res c;
	uint8_t d[100];

	fill(d, sizeof(d), 21);
	assert_int_equal(vcraq_chunk_lock(f->t[0], cid(6, 1), lock_cb, &l), 0);
	assert_int_equal(l.calls, 1);
	assert_int_equal(vcraq_inode_busy(f->t[0], 6, 0), 1);
	assert_int_equal(vcraq_inode_busy(f->t[0], 6, 2), 0);
	assert_int_equal(vcraq_inode_busy(f->t[0], 7, 0), 0);
	/* a write of the chunk and a second lock wait for the first lock */
	assert_int_equal(client_submit(f, 0, cid(6, 1), 0, d, 100, 1, 1, 1, &c),
			 0);
	assert_int_equal(vcraq_chunk_lock(f->t[0], cid(6, 1), lock_cb, &l2), 0);
	fx_pump_all(f);
	assert_int_equal(c.called, 0);
	assert_int_equal(l2.calls, 0);
	vcraq_chunk_unlock(f->t[0], l.op);
	assert_int_equal(c.called, 1);
	assert_int_equal(c.status, 0);
	assert_int_equal(l2.calls, 1);
	vcraq_chunk_unlock(f->t[0], l2.op);
	assert_int_equal(vcraq_inode_busy(f->t[0], 6, 0), 0);
	assert_int_equal(vcraq_target_state(f->t[1]), VCRAQ_SERVING);
}

int main(void)
{
#define T(name)                                                                \
	cmocka_unit_test_setup_teardown(test_craq__##name, fx_setup,           \
					fx_teardown)
	const struct CMUnitTest tests[] = {
		T(write_reaches_every_replica),
		T(inflight_write_reads_einprogress),
		T(retry_does_not_double_apply),
		T(stale_chain_version_is_estale),
		T(two_member_chain_keeps_writing),
		T(syncing_target_converges),
		T(plan_removes_deleted_chunks),
		T(parallel_writers_converge),
		T(truncate_reaches_every_replica),
		T(chunk_lock_holds_updates),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}

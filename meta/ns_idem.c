/* SPDX-License-Identifier: MIT */
/*
 * ns_idem.c - exactly-once mutations under client retries.
 *
 * A client may send a mutation again (same client id and req_id) after a
 * timeout or after the metad it talked to died, possibly to another metad.
 * The first attempt may or may not have committed. So every mutation that
 * carries a key looks up 'R' client req_id in its own transaction first:
 *   - present: the first attempt committed; return its outcome, run
 *     nothing (a retried MKDIR answers 0 with the same attributes, a
 *     retried UNLINK answers 0);
 *   - absent: run the op; if it succeeds, write the record in the same
 *     transaction, so the record exists exactly when the change does.
 * Two attempts running at once both read "absent"; both write the record,
 * so (PostgreSQL SERIALIZABLE, or LMDB's single writer) one of them
 * conflicts, reruns and then finds the record.
 *
 * Failures are not recorded: they changed nothing, so a retry simply runs
 * again.
 *
 * Record value ('R' client req_id), little-endian:
 *   u8 version, i64 commit time (wall clock ns), i32 return value,
 *   u8 what (bit 0: attr follows, bit 1: layout + trunc_ver follow),
 *   [attr: u64 ino size blocks, 4 * (i64 sec, u32 nsec) atime mtime ctime
 *    btime, u32 mode nlink uid gid rdev blksize, u64 generation],
 *   [u32 chunk_size stripe first_chain table_version, u64 trunc_ver].
 * Expiry index ('T' time client req_id): empty value (version byte).
 * Records are swept by vns_idem_expire() once older than metad's TTL.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "meta/ns_i.h"
#include "meta/ns_op.h"

#define NS_IDEM_ATTR 0x1u
#define NS_IDEM_FILE 0x2u
#define NS_IDEM_ATTR_LEN (3 * 8 + 4 * 12 + 6 * 4 + 8)
#define NS_IDEM_MAX (1 + 8 + 4 + 1 + NS_IDEM_ATTR_LEN + 4 * 4 + 8)

struct ns_idem_buf {
	uint8_t *p;
	size_t len, cap;
	int bad;
};

static void ns_idem_put(struct ns_idem_buf *b, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		b->p[b->len++] = (uint8_t)(v >> (8 * i));
}

static uint64_t ns_idem_get(struct ns_idem_buf *b, int bytes)
{
	uint64_t v = 0;

	if (b->len + (size_t)bytes > b->cap) {
		b->bad = 1;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)b->p[b->len++] << (8 * i);
	return v;
}

static void ns_idem_put_ts(struct ns_idem_buf *b, const struct timespec *t)
{
	ns_idem_put(b, (uint64_t)(int64_t)t->tv_sec, 8);
	ns_idem_put(b, (uint64_t)t->tv_nsec, 4);
}

static void ns_idem_get_ts(struct ns_idem_buf *b, struct timespec *t)
{
	t->tv_sec = (time_t)(int64_t)ns_idem_get(b, 8);
	t->tv_nsec = (long)ns_idem_get(b, 4);
}

static void ns_idem_put_attr(struct ns_idem_buf *b, const struct vattr *a)
{
	ns_idem_put(b, a->ino, 8);
	ns_idem_put(b, a->size, 8);
	ns_idem_put(b, a->blocks, 8);
	ns_idem_put_ts(b, &a->atime);
	ns_idem_put_ts(b, &a->mtime);
	ns_idem_put_ts(b, &a->ctime);
	ns_idem_put_ts(b, &a->btime);
	ns_idem_put(b, a->mode, 4);
	ns_idem_put(b, a->nlink, 4);
	ns_idem_put(b, a->uid, 4);
	ns_idem_put(b, a->gid, 4);
	ns_idem_put(b, a->rdev, 4);
	ns_idem_put(b, a->blksize, 4);
	ns_idem_put(b, a->generation, 8);
}

static void ns_idem_get_attr(struct ns_idem_buf *b, struct vattr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = ns_idem_get(b, 8);
	a->size = ns_idem_get(b, 8);
	a->blocks = ns_idem_get(b, 8);
	ns_idem_get_ts(b, &a->atime);
	ns_idem_get_ts(b, &a->mtime);
	ns_idem_get_ts(b, &a->ctime);
	ns_idem_get_ts(b, &a->btime);
	a->mode = (uint32_t)ns_idem_get(b, 4);
	a->nlink = (uint32_t)ns_idem_get(b, 4);
	a->uid = (uint32_t)ns_idem_get(b, 4);
	a->gid = (uint32_t)ns_idem_get(b, 4);
	a->rdev = (uint32_t)ns_idem_get(b, 4);
	a->blksize = (uint32_t)ns_idem_get(b, 4);
	a->generation = ns_idem_get(b, 8);
}

static void ns_idem_key(struct ns_key *k, uint64_t client, uint64_t req_id)
{
	ns_key_ino(k, 'R', client);
	ns_put_be64(k->b + 9, req_id);
	k->len = 17;
}

static void ns_idem_tkey(struct ns_key *k, int64_t t, uint64_t client,
			 uint64_t req_id)
{
	ns_key_ino(k, 'T', (uint64_t)t);
	ns_put_be64(k->b + 9, client);
	ns_put_be64(k->b + 17, req_id);
	k->len = 25;
}

/* Fill op's outputs from a record; returns the recorded value. */
static int ns_idem_replay(struct ns_op *op, const void *val, size_t vlen)
{
	struct ns_idem_buf b = {.p = (uint8_t *)val, .cap = vlen};
	uint32_t ver, what;
	struct vattr a;
	int32_t ret;

	ver = (uint32_t)ns_idem_get(&b, 1);
	(void)ns_idem_get(&b, 8); /* commit time */
	ret = (int32_t)(uint32_t)ns_idem_get(&b, 4);
	what = (uint32_t)ns_idem_get(&b, 1);
	if (what & NS_IDEM_ATTR)
		ns_idem_get_attr(&b, &a);
	if (what & NS_IDEM_FILE) {
		struct vns_layout l;
		uint64_t tv;

		l.chunk_size = (uint32_t)ns_idem_get(&b, 4);
		l.stripe = (uint32_t)ns_idem_get(&b, 4);
		l.first_chain = (uint32_t)ns_idem_get(&b, 4);
		l.table_version = (uint32_t)ns_idem_get(&b, 4);
		tv = ns_idem_get(&b, 8);
		if (op->file) {
			op->file->layout = l;
			op->file->trunc_ver = tv;
		}
	}
	if (b.bad || b.len != vlen || ver != NS_REC_VERSION || ret < 0) {
		vlog_err("ns: client %" PRIx64 " request %" PRIu64
			 ": corrupt exactly-once record",
			 op->cr->client, op->cr->req_id);
		return -EIO;
	}
	if ((what & NS_IDEM_ATTR) && op->attr)
		*op->attr = a;
	if ((what & NS_IDEM_ATTR) && op->file)
		op->file->attr = a;
	op->replayed = 1;
	atomic_fetch_add_explicit(&op->ns->replays, 1, memory_order_relaxed);
	return ret;
}

/* Write the record of op's outcome @ret and its expiry index. */
static int ns_idem_record(struct vkv_txn *txn, struct ns_op *op, int ret)
{
	uint8_t v[NS_IDEM_MAX];
	struct ns_idem_buf b = {.p = v, .cap = sizeof(v)};
	int64_t now = ns_now();
	uint32_t what = 0;
	struct ns_key k;
	uint8_t ver = NS_REC_VERSION;
	int rc;

	if (op->file)
		what = NS_IDEM_ATTR | NS_IDEM_FILE;
	else if (op->attr)
		what = NS_IDEM_ATTR;
	ns_idem_put(&b, NS_REC_VERSION, 1);
	ns_idem_put(&b, (uint64_t)now, 8);
	ns_idem_put(&b, (uint32_t)ret, 4);
	ns_idem_put(&b, what, 1);
	if (op->file) {
		const struct vns_layout *l = &op->file->layout;

		ns_idem_put_attr(&b, &op->file->attr);
		ns_idem_put(&b, l->chunk_size, 4);
		ns_idem_put(&b, l->stripe, 4);
		ns_idem_put(&b, l->first_chain, 4);
		ns_idem_put(&b, l->table_version, 4);
		ns_idem_put(&b, op->file->trunc_ver, 8);
	} else if (op->attr) {
		ns_idem_put_attr(&b, op->attr);
	}
	ns_idem_key(&k, op->cr->client, op->cr->req_id);
	rc = vkv_put(txn, k.b, k.len, v, b.len);
	if (rc < 0)
		return rc;
	ns_idem_tkey(&k, now, op->cr->client, op->cr->req_id);
	return vkv_put(txn, k.b, k.len, &ver, 1);
}

int ns_idem_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	const void *val;
	struct ns_key k;
	size_t vlen;
	int rc, ret;

	op->replayed = 0;
	ns_idem_key(&k, op->cr->client, op->cr->req_id);
	rc = vkv_get(txn, k.b, k.len, &val, &vlen);
	if (!rc)
		return ns_idem_replay(op, val, vlen);
	if (rc != -ENOENT)
		return rc;
	ret = op->body(txn, op);
	if (ret < 0)
		return ret;
	rc = ns_idem_record(txn, op, ret);
	return rc < 0 ? rc : ret;
}

/* ---- Expiry -------------------------------------------------------------- */

struct ns_idem_sweep {
	uint8_t (*keys)[25];
	size_t n, max;
};

static int ns_idem_sweep_cb(const void *key, size_t klen, const void *val,
			    size_t vlen, void *arg)
{
	struct ns_idem_sweep *s = arg;

	if (klen != 25)
		return 0; /* not ours: leave it */
	memcpy(s->keys[s->n++], key, 25);
	return s->n >= s->max;
}

static int ns_idem_expire_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_idem_sweep s = {.keys = op->buf, .max = op->cap};
	struct ns_key start, end, r;
	int rc;

	ns_key_ino(&start, 'T', 0);
	start.len = 1;
	ns_key_ino(&end, 'T', (uint64_t)op->now);
	rc = vkv_range(txn, start.b, start.len, end.b, end.len, op->cap,
		       ns_idem_sweep_cb, &s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < s.n; i++) {
		rc = vkv_del(txn, s.keys[i], 25);
		if (rc < 0 && rc != -ENOENT)
			return rc;
		ns_idem_key(&r, ns_get_be64(s.keys[i] + 9),
			    ns_get_be64(s.keys[i] + 17));
		rc = vkv_del(txn, r.b, r.len);
		if (rc < 0 && rc != -ENOENT)
			return rc;
	}
	return (int)s.n;
}

int vns_idem_expire(struct vns *ns, int64_t before_ns, size_t max)
{
	struct ns_op op = {.ns = ns, .now = before_ns};
	int rc;

	if (!max)
		return 0;
	if (max > 4096)
		max = 4096;
	if (before_ns < 0)
		return 0;
	op.cap = max;
	op.buf = malloc(max * 25);
	if (!op.buf)
		return -ENOMEM;
	rc = ns_op_run(&op, 0, ns_idem_expire_txn);
	free(op.buf);
	if (rc > 0)
		atomic_fetch_add_explicit(&ns->idem_expired, (uint64_t)rc,
					  memory_order_relaxed);
	return rc;
}

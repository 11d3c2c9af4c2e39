/* SPDX-License-Identifier: MIT */
/*
 * kv.h - the transactional key-value store metad's namespace is written on.
 *
 * Keys and values are byte strings compared with memcmp() order (shorter
 * first on a common prefix), so integers written big-endian sort as numbers
 * and a key prefix is one contiguous range. Two backends sit behind one
 * vtable reached through the inline wrappers below:
 *
 *   "lmdb:DIR"         LMDB environment in DIR (created if missing), the
 *                      embedded default for a single metad. Write
 *                      transactions run one at a time process-wide, so
 *                      they never conflict; readers run concurrently with
 *                      the writer on a snapshot.
 *   "postgresql://..." (or "postgres://...") a libpq connection URI. One
 *                      table valor_kv (k bytea primary key, v bytea not
 *                      null), every transaction SERIALIZABLE. Any number
 *                      of metad processes may share the database; a store
 *                      keeps no state besides its connections, like 3FS's
 *                      meta servers on FoundationDB.
 *
 * A transaction sees a consistent snapshot plus its own writes. Concurrent
 * transactions may conflict (PostgreSQL serialization failure or deadlock):
 * then vkv_commit() (or an operation before it) returns -EAGAIN, the
 * transaction's effects are discarded, and the caller must run the WHOLE
 * transaction again, reads included - which is what vkv_run() does.
 *
 * Thread rules:
 *  - A store is shared by any number of threads.
 *  - A transaction is used by one thread at a time, and a write transaction
 *    ends (commit/abort) on the thread that began it (LMDB's writer lock is
 *    owned by that thread).
 *  - A thread holds at most one write transaction at a time: a second
 *    write begin on the same thread waits for itself forever with LMDB.
 *    It may hold read-only transactions besides.
 *  - LMDB: one write transaction at a time per store (a mutex, then LMDB's
 *    own writer lock across processes); vkv_txn_begin() of a writer blocks
 *    until the current one ends. Readers never block.
 *  - PostgreSQL: each transaction holds one connection of the store's pool
 *    (VKV_PG_POOL_MAX connections, opened on demand, kept for reuse);
 *    vkv_txn_begin() waits while all of them are in use.
 *
 * Errors are -errno:
 *   -ENOENT     get/del of an absent key
 *   -EROFS      put/del in a read-only transaction (checked here, the same
 *               for both backends)
 *   -EINVAL     empty key, key longer than VKV_KEY_MAX, bad spec, a
 *               transaction used after it failed
 *   -EAGAIN     conflict: abort and retry the whole transaction
 *   -ENOSPC     LMDB map full (the transaction is dead; nothing was written)
 *   -ECONNRESET PostgreSQL connection lost (logged). Not retried by
 *               vkv_run(): a COMMIT whose reply was lost may have applied.
 *   -EIO        any other database error (logged)
 *   -ECONNREFUSED vkv_open() cannot reach the PostgreSQL server
 * PostgreSQL sends puts with the next statement or the commit (one round
 * trip), so a put's failure may be returned by a later operation of the
 * transaction or by vkv_commit() instead of the put itself.
 * -ENOENT, and the argument checks made here (-EINVAL, -EROFS), leave the
 * transaction usable. After any other failure it is dead (PostgreSQL has
 * aborted it): further operations return -EINVAL, and vkv_commit() returns
 * the first error and frees it, as vkv_abort() would.
 */
#ifndef VALOR_META_KV_H
#define VALOR_META_KV_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longest key: LMDB's compiled-in limit, so both backends agree. */
#define VKV_KEY_MAX 511

/* vkv_txn_begin() flags. */
#define VKV_RDONLY 0x1u

/* LMDB map size vkv_open() uses (the most the database may grow to; the
 * file grows as used). Exactly-once records of a few minutes of heavy
 * load take hundreds of MiB: leave room. */
#define VKV_LMDB_MAPSIZE (16ull << 30)
/* Connections a PostgreSQL store opens at most. */
#define VKV_PG_POOL_MAX 16

struct vkv;
struct vkv_txn;

/*
 * Range callback: one entry, in key order. The pointers are valid during
 * the call only (copy what you keep). Return 0 to go on, > 0 to stop (the
 * scan then succeeds), < 0 to stop and make vkv_range() return that value.
 * The callback must not use the transaction (no get/put/del inside).
 */
typedef int (*vkv_range_cb)(const void *key, size_t klen, const void *val,
			    size_t vlen, void *arg);

/* ---- Backend vtable (backends only; callers use the wrappers) ---------- */

struct vkv_ops {
	const char *name;
	void (*close)(struct vkv *kv);
	int (*txn_begin)(struct vkv *kv, unsigned flags, struct vkv_txn **out);
	int (*get)(struct vkv_txn *txn, const void *key, size_t klen,
		   const void **val, size_t *vlen);
	int (*put)(struct vkv_txn *txn, const void *key, size_t klen,
		   const void *val, size_t vlen);
	int (*del)(struct vkv_txn *txn, const void *key, size_t klen);
	int (*range)(struct vkv_txn *txn, const void *start, size_t slen,
		     const void *end, size_t elen, size_t limit,
		     vkv_range_cb cb, void *arg);
	int (*commit)(struct vkv_txn *txn);
	void (*abort)(struct vkv_txn *txn);
};

/*
 * The fields are public only so the wrappers can be inline; backends embed
 * these as the first member of their own store and transaction structs.
 */
struct vkv {
	const struct vkv_ops *ops;
};

struct vkv_txn {
	struct vkv *kv;
	unsigned flags; /* VKV_RDONLY */
};

/* ---- Backends ------------------------------------------------------------ */

/* kv_lmdb.c: @dir is created if missing (mode 0700). */
int vkv_lmdb_open(const char *dir, size_t mapsize, struct vkv **out);

/*
 * kv_pg.c: @conninfo is handed to libpq as is (URI or key=value). Opens one
 * connection and creates the table if missing; safe when several processes
 * open the same database at once.
 */
int vkv_pg_open(const char *conninfo, struct vkv **out);

/* ---- Store --------------------------------------------------------------- */

/*
 * Open the store @spec names (see top). On success *out is the caller's,
 * released with vkv_close(). Returns -EINVAL for an unknown scheme.
 */
static inline int vkv_open(const char *spec, struct vkv **out)
{
	static const char lmdb[] = "lmdb:";

	*out = NULL;
	if (!spec)
		return -EINVAL;
	if (!strncmp(spec, lmdb, sizeof(lmdb) - 1))
		return vkv_lmdb_open(spec + sizeof(lmdb) - 1, VKV_LMDB_MAPSIZE,
				     out);
	if (!strncmp(spec, "postgresql://", 13) ||
	    !strncmp(spec, "postgres://", 11))
		return vkv_pg_open(spec, out);
	return -EINVAL;
}

/* Close a store; every transaction must have ended. NULL is a no-op. */
static inline void vkv_close(struct vkv *kv)
{
	if (kv)
		kv->ops->close(kv);
}

static inline const char *vkv_backend_name(const struct vkv *kv)
{
	return kv->ops->name;
}

/* ---- Transactions -------------------------------------------------------- */

/*
 * Begin a transaction (flags 0 or VKV_RDONLY). *out is owned by the caller
 * until vkv_commit() or vkv_abort(), each of which frees it whatever it
 * returns. May block: see the thread rules.
 */
static inline int vkv_txn_begin(struct vkv *kv, unsigned flags,
				struct vkv_txn **out)
{
	*out = NULL;
	if (flags & ~VKV_RDONLY)
		return -EINVAL;
	return kv->ops->txn_begin(kv, flags, out);
}

static inline int vkv_key_ok(const void *key, size_t klen)
{
	return key && klen > 0 && klen <= VKV_KEY_MAX;
}

/*
 * Look @key up. On success *val and *vlen give the value, owned by the
 * transaction and valid until it ends (even across later puts). -ENOENT
 * if absent.
 */
static inline int vkv_get(struct vkv_txn *txn, const void *key, size_t klen,
			  const void **val, size_t *vlen)
{
	if (!vkv_key_ok(key, klen))
		return -EINVAL;
	return txn->kv->ops->get(txn, key, klen, val, vlen);
}

/* Insert or overwrite @key. Both buffers are copied; vlen may be 0. */
static inline int vkv_put(struct vkv_txn *txn, const void *key, size_t klen,
			  const void *val, size_t vlen)
{
	if (txn->flags & VKV_RDONLY)
		return -EROFS;
	if (!vkv_key_ok(key, klen) || (!val && vlen))
		return -EINVAL;
	return txn->kv->ops->put(txn, key, klen, val ? val : "", vlen);
}

/* Delete @key; -ENOENT if absent (the transaction stays usable). */
static inline int vkv_del(struct vkv_txn *txn, const void *key, size_t klen)
{
	if (txn->flags & VKV_RDONLY)
		return -EROFS;
	if (!vkv_key_ok(key, klen))
		return -EINVAL;
	return txn->kv->ops->del(txn, key, klen);
}

/*
 * Call @cb for each key in [start, end) in key order, at most @limit times
 * (0 = no limit). start NULL (or slen 0) = from the first key; end NULL =
 * to the last. Sees the transaction's own writes. Returns the number of
 * callbacks made (the stopping one included), or -errno, or the callback's
 * negative return.
 */
static inline int vkv_range(struct vkv_txn *txn, const void *start,
			    size_t slen, const void *end, size_t elen,
			    size_t limit, vkv_range_cb cb, void *arg)
{
	if ((start && slen > VKV_KEY_MAX) || (end && elen > VKV_KEY_MAX) ||
	    !cb)
		return -EINVAL;
	if (!start)
		slen = 0;
	return txn->kv->ops->range(txn, start, slen, end, elen, limit, cb,
				   arg);
}

/*
 * Commit and free @txn. 0 = durable and visible to later transactions;
 * -EAGAIN = conflict, nothing applied, run the whole transaction again;
 * other -errno as listed at the top. A read-only transaction may return
 * -EAGAIN too (PostgreSQL SERIALIZABLE).
 */
static inline int vkv_commit(struct vkv_txn *txn)
{
	return txn->kv->ops->commit(txn);
}

/* Discard and free @txn. NULL is a no-op. */
static inline void vkv_abort(struct vkv_txn *txn)
{
	if (txn)
		txn->kv->ops->abort(txn);
}

/* ---- Retry loop ---------------------------------------------------------- */

/*
 * Body of a vkv_run() transaction. Return >= 0 to commit (that value is
 * vkv_run()'s result), < 0 to abort (vkv_run() returns it, except -EAGAIN,
 * which retries). It may run several times, so it must not have effects
 * outside the transaction that a retry would repeat (or must reset them).
 */
typedef int (*vkv_txn_fn)(struct vkv_txn *txn, void *arg);

/* Sleep a random time in [0, 2^attempt ms), at most 64 ms. */
static inline void vkv_backoff(unsigned attempt, unsigned *seed)
{
	unsigned cap_us = 1000u << (attempt < 6 ? attempt : 6);
	unsigned us = (unsigned)rand_r(seed) % cap_us;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)us * 1000 };

	nanosleep(&ts, NULL);
}

/*
 * Run @fn in a transaction of @kv (flags as for vkv_txn_begin()) and commit
 * it, retrying up to @max_retries times after a conflict (-EAGAIN from fn,
 * an operation, or the commit) with a short randomized backoff. Returns
 * fn's result, or -EAGAIN when the retries ran out, or another -errno.
 */
static inline int vkv_run(struct vkv *kv, unsigned flags, vkv_txn_fn fn,
			  void *arg, unsigned max_retries)
{
	struct timespec now;
	unsigned seed;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &now);
	seed = (unsigned)now.tv_nsec ^ (unsigned)(uintptr_t)&now;
	for (unsigned attempt = 0;; attempt++) {
		struct vkv_txn *txn;
		int ret;

		if (attempt)
			vkv_backoff(attempt - 1, &seed);
		rc = vkv_txn_begin(kv, flags, &txn);
		if (rc < 0)
			return rc;
		ret = fn(txn, arg);
		if (ret < 0) {
			vkv_abort(txn);
			rc = ret;
		} else {
			rc = vkv_commit(txn);
			if (!rc)
				return ret;
		}
		if (rc != -EAGAIN || attempt >= max_retries)
			return rc;
	}
}

#endif

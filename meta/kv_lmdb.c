/* SPDX-License-Identifier: MIT */
/*
 * kv_lmdb.c - the embedded KV backend: one LMDB environment in a directory,
 * one named database ("valor_kv") with LMDB's default key order (memcmp,
 * shorter first), which is the order kv.h promises.
 *
 * Write transactions are serialized by a process-wide mutex taken before
 * LMDB's own writer lock (which also serializes other processes), so they
 * never conflict and commit never returns -EAGAIN. Read transactions use
 * MDB_NOTLS: they are not tied to a thread and run beside the writer.
 *
 * Group commit: the environment is opened MDB_NOSYNC, and a commit that
 * wrote anything returns only after an mdb_env_sync() that covers it. The
 * first committer to need a sync runs it; the others that committed
 * meanwhile wait for that sync or the next one. So every acknowledged
 * commit is on disk, as with LMDB's synchronous commits, but concurrent
 * writers (metad's workers) share one fsync instead of queueing one each
 * behind the writer lock, which is released before the sync.
 *
 * LMDB hands out pointers into its map that an update in the same write
 * transaction may invalidate; kv.h promises values valid until the
 * transaction ends, so a write transaction's get copies the value into a
 * list freed with the transaction. Read-only gets return the map pointer.
 */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "meta/kv.h"

#define VKV_LMDB_DB "valor_kv"

struct vkv_lmdb {
	struct vkv base;
	MDB_env *env;
	MDB_dbi dbi;
	/* Held from a write begin to its commit/abort: one writer at a time. */
	pthread_mutex_t wlock;
	char *dir; /* for log lines */
	/* Group commit; fields below are protected by slock. */
	pthread_mutex_t slock;
	pthread_cond_t synced_cond;
	uint64_t committed; /* commits numbered in commit order */
	uint64_t synced;    /* every commit up to this one is on disk */
	int syncing;	    /* a thread runs mdb_env_sync() */
};

/* A value copied out of a write transaction, freed when the txn ends. */
struct vkv_lmdb_copy {
	struct vkv_lmdb_copy *next;
	unsigned char data[];
};

struct vkv_lmdb_txn {
	struct vkv_txn base;
	MDB_txn *txn;
	struct vkv_lmdb_copy *copies;
	int err;   /* first fatal error (< 0); the txn is dead once set */
	int dirty; /* wrote something: its commit must be synced */
};

static const struct vkv_ops vkv_lmdb_ops;

static struct vkv_lmdb *vkv_lmdb_of(struct vkv *kv)
{
	return (struct vkv_lmdb *)kv;
}

static struct vkv_lmdb_txn *vkv_lmdb_txn_of(struct vkv_txn *txn)
{
	return (struct vkv_lmdb_txn *)txn;
}

/* Convert an LMDB return code to -errno, once, logging the unexpected. */
static int vkv_lmdb_err(struct vkv_lmdb *kv, const char *what, int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		vlog_warn("kv lmdb %s: %s: %s", kv->dir, what, mdb_strerror(rc));
		return -ENOSPC;
	case MDB_BAD_VALSIZE:
		return -EINVAL;
	case MDB_READERS_FULL:
		vlog_warn("kv lmdb %s: %s: %s", kv->dir, what, mdb_strerror(rc));
		return -EBUSY;
	default:
		vlog_err("kv lmdb %s: %s: %s", kv->dir, what, mdb_strerror(rc));
		return rc > 0 ? -rc : -EIO;
	}
}

/* ---- Store --------------------------------------------------------------- */

static void vkv_lmdb_free(struct vkv_lmdb *kv)
{
	if (kv->env)
		mdb_env_close(kv->env);
	pthread_mutex_destroy(&kv->wlock);
	pthread_mutex_destroy(&kv->slock);
	pthread_cond_destroy(&kv->synced_cond);
	free(kv->dir);
	free(kv);
}

int vkv_lmdb_open(const char *dir, size_t mapsize, struct vkv **out)
{
	struct vkv_lmdb *kv;
	MDB_txn *txn;
	int rc, err;

	*out = NULL;
	if (!dir || !*dir)
		return -EINVAL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;

	/* Cannot-fail init first, so vkv_lmdb_free() handles any state. */
	kv = calloc(1, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	kv->base.ops = &vkv_lmdb_ops;
	pthread_mutex_init(&kv->wlock, NULL);
	pthread_mutex_init(&kv->slock, NULL);
	pthread_cond_init(&kv->synced_cond, NULL);
	kv->dir = strdup(dir);
	if (!kv->dir) {
		err = -ENOMEM;
		goto out_free;
	}

	rc = mdb_env_create(&kv->env);
	if (rc) {
		kv->env = NULL;
		err = vkv_lmdb_err(kv, "mdb_env_create", rc);
		goto out_free;
	}
	rc = mdb_env_set_maxdbs(kv->env, 1);
	if (!rc)
		rc = mdb_env_set_mapsize(kv->env, mapsize);
	if (!rc)
		rc = mdb_env_open(kv->env, dir, MDB_NOTLS | MDB_NOSYNC, 0600);
	if (rc) {
		err = vkv_lmdb_err(kv, "mdb_env_open", rc);
		goto out_free;
	}

	rc = mdb_txn_begin(kv->env, NULL, 0, &txn);
	if (rc) {
		err = vkv_lmdb_err(kv, "mdb_txn_begin", rc);
		goto out_free;
	}
	rc = mdb_dbi_open(txn, VKV_LMDB_DB, MDB_CREATE, &kv->dbi);
	if (rc) {
		mdb_txn_abort(txn);
		err = vkv_lmdb_err(kv, "mdb_dbi_open", rc);
		goto out_free;
	}
	rc = mdb_txn_commit(txn);
	if (!rc)
		rc = mdb_env_sync(kv->env, 1);
	if (rc) {
		err = vkv_lmdb_err(kv, "mdb_txn_commit", rc);
		goto out_free;
	}
	*out = &kv->base;
	return 0;

out_free:
	vkv_lmdb_free(kv);
	return err;
}

static void vkv_lmdb_close(struct vkv *base)
{
	vkv_lmdb_free(vkv_lmdb_of(base));
}

/* ---- Transactions -------------------------------------------------------- */

static int vkv_lmdb_txn_begin(struct vkv *base, unsigned flags,
			      struct vkv_txn **out)
{
	struct vkv_lmdb *kv = vkv_lmdb_of(base);
	int rdonly = flags & VKV_RDONLY;
	struct vkv_lmdb_txn *t;
	int rc;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.kv = base;
	t->base.flags = flags;
	if (!rdonly)
		pthread_mutex_lock(&kv->wlock);
	rc = mdb_txn_begin(kv->env, NULL, rdonly ? MDB_RDONLY : 0, &t->txn);
	if (rc) {
		if (!rdonly)
			pthread_mutex_unlock(&kv->wlock);
		free(t);
		return vkv_lmdb_err(kv, "mdb_txn_begin", rc);
	}
	*out = &t->base;
	return 0;
}

/* Free @t after its MDB_txn ended, releasing the writer mutex if held. */
static void vkv_lmdb_txn_free(struct vkv_lmdb_txn *t)
{
	struct vkv_lmdb *kv = vkv_lmdb_of(t->base.kv);

	while (t->copies) {
		struct vkv_lmdb_copy *c = t->copies;

		t->copies = c->next;
		free(c);
	}
	if (!(t->base.flags & VKV_RDONLY))
		pthread_mutex_unlock(&kv->wlock);
	free(t);
}

/* Record a fatal error: the first one is what commit returns. */
static int vkv_lmdb_txn_fail(struct vkv_lmdb_txn *t, int err)
{
	if (!t->err)
		t->err = err;
	return err;
}

static int vkv_lmdb_get(struct vkv_txn *base, const void *key, size_t klen,
			const void **val, size_t *vlen)
{
	struct vkv_lmdb_txn *t = vkv_lmdb_txn_of(base);
	struct vkv_lmdb *kv = vkv_lmdb_of(base->kv);
	MDB_val k = { .mv_size = klen, .mv_data = (void *)key };
	struct vkv_lmdb_copy *c;
	MDB_val v;
	int rc;

	if (t->err)
		return -EINVAL;
	rc = mdb_get(t->txn, kv->dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc)
		return vkv_lmdb_txn_fail(t, vkv_lmdb_err(kv, "mdb_get", rc));
	if (base->flags & VKV_RDONLY) {
		*val = v.mv_data;
		*vlen = v.mv_size;
		return 0;
	}
	/* A later put in this txn may move the page: keep a copy. */
	c = malloc(sizeof(*c) + v.mv_size);
	if (!c)
		return -ENOMEM;
	memcpy(c->data, v.mv_data, v.mv_size);
	c->next = t->copies;
	t->copies = c;
	*val = c->data;
	*vlen = v.mv_size;
	return 0;
}

static int vkv_lmdb_put(struct vkv_txn *base, const void *key, size_t klen,
			const void *val, size_t vlen)
{
	struct vkv_lmdb_txn *t = vkv_lmdb_txn_of(base);
	struct vkv_lmdb *kv = vkv_lmdb_of(base->kv);
	MDB_val k = { .mv_size = klen, .mv_data = (void *)key };
	MDB_val v = { .mv_size = vlen, .mv_data = (void *)val };
	int rc;

	if (t->err)
		return -EINVAL;
	rc = mdb_put(t->txn, kv->dbi, &k, &v, 0);
	if (rc)
		return vkv_lmdb_txn_fail(t, vkv_lmdb_err(kv, "mdb_put", rc));
	t->dirty = 1;
	return 0;
}

static int vkv_lmdb_del(struct vkv_txn *base, const void *key, size_t klen)
{
	struct vkv_lmdb_txn *t = vkv_lmdb_txn_of(base);
	struct vkv_lmdb *kv = vkv_lmdb_of(base->kv);
	MDB_val k = { .mv_size = klen, .mv_data = (void *)key };
	int rc;

	if (t->err)
		return -EINVAL;
	rc = mdb_del(t->txn, kv->dbi, &k, NULL);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc)
		return vkv_lmdb_txn_fail(t, vkv_lmdb_err(kv, "mdb_del", rc));
	t->dirty = 1;
	return 0;
}

/* memcmp order, shorter first on a common prefix (LMDB's default). */
static int vkv_lmdb_keycmp(const MDB_val *a, const void *b, size_t blen)
{
	size_t n = a->mv_size < blen ? a->mv_size : blen;
	int c = memcmp(a->mv_data, b, n);

	if (c)
		return c;
	return a->mv_size < blen ? -1 : a->mv_size > blen;
}

static int vkv_lmdb_range(struct vkv_txn *base, const void *start,
			  size_t slen, const void *end, size_t elen,
			  size_t limit, vkv_range_cb cb, void *arg)
{
	struct vkv_lmdb_txn *t = vkv_lmdb_txn_of(base);
	struct vkv_lmdb *kv = vkv_lmdb_of(base->kv);
	MDB_val k = { .mv_size = slen, .mv_data = (void *)start };
	MDB_cursor *cur;
	MDB_val v;
	int rc, n = 0;

	if (t->err)
		return -EINVAL;
	rc = mdb_cursor_open(t->txn, kv->dbi, &cur);
	if (rc)
		return vkv_lmdb_txn_fail(t,
					 vkv_lmdb_err(kv, "mdb_cursor_open", rc));
	rc = mdb_cursor_get(cur, &k, &v, slen ? MDB_SET_RANGE : MDB_FIRST);
	while (!rc) {
		int stop;

		if (end && vkv_lmdb_keycmp(&k, end, elen) >= 0)
			break;
		n++;
		stop = cb(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
		if (stop) {
			mdb_cursor_close(cur);
			return stop < 0 ? stop : n;
		}
		if (limit && (size_t)n >= limit)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return vkv_lmdb_txn_fail(t,
					 vkv_lmdb_err(kv, "mdb_cursor_get", rc));
	return n;
}

/*
 * Return once commit number @seq is on disk: run a sync when none runs,
 * else wait for the one running (or the next). 0, or -EIO when the sync
 * failed (logged; the next caller tries again).
 */
static int vkv_lmdb_sync_to(struct vkv_lmdb *kv, uint64_t seq)
{
	int rc = 0;

	pthread_mutex_lock(&kv->slock);
	while (kv->synced < seq && !rc) {
		uint64_t target;

		if (kv->syncing) {
			pthread_cond_wait(&kv->synced_cond, &kv->slock);
			continue;
		}
		kv->syncing = 1;
		target = kv->committed;
		pthread_mutex_unlock(&kv->slock);
		rc = mdb_env_sync(kv->env, 1);
		pthread_mutex_lock(&kv->slock);
		kv->syncing = 0;
		if (!rc)
			kv->synced = target;
		pthread_cond_broadcast(&kv->synced_cond);
	}
	pthread_mutex_unlock(&kv->slock);
	return rc ? vkv_lmdb_err(kv, "mdb_env_sync", rc) : 0;
}

static int vkv_lmdb_commit(struct vkv_txn *base)
{
	struct vkv_lmdb_txn *t = vkv_lmdb_txn_of(base);
	struct vkv_lmdb *kv = vkv_lmdb_of(base->kv);
	uint64_t seq = 0;
	int rc;

	if (t->err) {
		rc = t->err;
		mdb_txn_abort(t->txn);
	} else {
		/* mdb_txn_commit() frees the txn even when it fails. */
		rc = vkv_lmdb_err(kv, "mdb_txn_commit", mdb_txn_commit(t->txn));
		if (!rc && t->dirty) {
			/* Numbered under the writer lock: commit order. */
			pthread_mutex_lock(&kv->slock);
			seq = ++kv->committed;
			pthread_mutex_unlock(&kv->slock);
		}
	}
	vkv_lmdb_txn_free(t); /* lets the next writer in */
	if (seq)
		rc = vkv_lmdb_sync_to(kv, seq);
	return rc;
}

static void vkv_lmdb_abort(struct vkv_txn *base)
{
	struct vkv_lmdb_txn *t = vkv_lmdb_txn_of(base);

	mdb_txn_abort(t->txn);
	vkv_lmdb_txn_free(t);
}

static const struct vkv_ops vkv_lmdb_ops = {
	.name = "lmdb",
	.close = vkv_lmdb_close,
	.txn_begin = vkv_lmdb_txn_begin,
	.get = vkv_lmdb_get,
	.put = vkv_lmdb_put,
	.del = vkv_lmdb_del,
	.range = vkv_lmdb_range,
	.commit = vkv_lmdb_commit,
	.abort = vkv_lmdb_abort,
};

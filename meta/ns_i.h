/* SPDX-License-Identifier: MIT */
/*
 * ns_i.h - what the namespace's files share: the handle, the decoded inode
 * record, key builders and record codecs (ns_inode.c).
 *
 * Inode record value (little-endian), version NS_REC_VERSION:
 *   u8 version, u32 mode, uid, gid, nlink, rdev, u64 size,
 *   i64 atime, mtime, ctime, btime (ns since the epoch),
 *   u64 parent (directories: the parent's ino, for the rename loop check
 *   and ".."; others 0), u64 trunc_ver,
 *   u32 chunk_size, stripe, first_chain, table_version,
 *   u16 target length, target bytes (symlinks).
 * Dentry value: u8 version, u64 ino, u32 type.
 * Counter and session values: u8 version, u64 value ('N' shards: the u64
 * is a two's-complement delta).
 * Lease value ('K'): u8 version, i64 expiry (wall clock ns).
 * Hold index ('O'): u8 version.
 * Garbage ('G'): u8 version [, u64 claim owner, i64 claim until].
 * Locks ('L'): u8 version, u32 n, n * (u8 kind, u64 client, u64 owner,
 * u32 pid, u32 type, u64 start, u64 end), sorted by (kind, client, owner,
 * start).
 * Exactly-once record ('R'): see ns_idem.c.
 */
#ifndef VALOR_META_NS_I_H
#define VALOR_META_NS_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "meta/kv.h"
#include "meta/ns.h"

#define NS_REC_VERSION 1
/* Slots of struct vns's lease cache (by client id hash). */
#define NS_LEASE_CACHE 256

struct vns {
	struct vkv *kv;
	pthread_mutex_t lock;
	/* Fields below are protected by lock. */
	uint64_t ino_next, ino_end; /* batch [next, end) */
	struct vns_layout layout;   /* cluster default: chunk_size, stripe */
	uint32_t table_version;	    /* chain table new files go on */
	uint32_t nchains;	    /* 0: none, regular files -ENOSPC */
	uint32_t lease_ms;
	unsigned seed;		    /* rand_r: first chains */
	/* Leases seen in the store (client, expiry), so that a session or
	 * lock op of a client with a fresh lease skips reading it. */
	struct {
		uint64_t client;
		int64_t exp;
	} lease_cache[NS_LEASE_CACHE];
	/* Relaxed counters (vns_get_stats). */
	_Atomic uint64_t replays, idem_expired, leases_expired,
		sessions_dropped, locks_dropped;
};

/* One decoded lock record entry (struct vns_lock plus its client). */
struct ns_lock_ent {
	struct vns_lock l;
	uint64_t client;
};

struct ns_inode {
	uint64_t ino;
	uint32_t mode, uid, gid, nlink, rdev;
	uint64_t size;
	int64_t atime, mtime, ctime, btime;
	uint64_t parent;
	uint64_t trunc_ver;
	struct vns_layout layout;
	uint32_t target_len;
	char target[VNS_SYMLINK_MAX + 1];
};

struct ns_key {
	size_t len;
	uint8_t b[VKV_KEY_MAX];
};

/* ---- Keys ---------------------------------------------------------------- */

void ns_key_ino(struct ns_key *k, char tag, uint64_t ino);
/* @tag + ino + name; name length checked by the caller (<= 255). */
void ns_key_name(struct ns_key *k, char tag, uint64_t ino, const char *name,
		 size_t nlen);
void ns_key_sess(struct ns_key *k, uint64_t ino, uint64_t client);
/* The first key after every key that starts with @p. */
void ns_key_prefix_end(const struct ns_key *p, struct ns_key *end);
void ns_put_be64(uint8_t *p, uint64_t v);
uint64_t ns_get_be64(const uint8_t *p);

/* ---- Records ------------------------------------------------------------- */

int64_t ns_now(void);
/* 0, -ENOENT, -EIO (corrupt, logged) or a KV error. */
int ns_inode_get(struct vkv_txn *txn, uint64_t ino, struct ns_inode *in);
int ns_inode_put(struct vkv_txn *txn, const struct ns_inode *in);
int ns_inode_decode(uint64_t ino, const void *val, size_t vlen,
		    struct ns_inode *in);
void ns_inode_to_attr(const struct ns_inode *in, struct vattr *a);
/* A new inode with times = now and nlink 1 (2 for a directory). */
void ns_inode_init(struct ns_inode *in, uint64_t ino, uint32_t mode,
		   const struct vns_cred *cr, const struct ns_inode *parent);

int ns_dentry_decode(uint64_t parent, const char *name, size_t nlen,
		     const void *val, size_t vlen, uint64_t *ino,
		     uint32_t *type);
int ns_dentry_get(struct vkv_txn *txn, uint64_t parent, const char *name,
		  size_t nlen, uint64_t *ino, uint32_t *type);
int ns_dentry_put(struct vkv_txn *txn, uint64_t parent, const char *name,
		  size_t nlen, uint64_t ino, uint32_t type);
int ns_dentry_del(struct vkv_txn *txn, uint64_t parent, const char *name,
		  size_t nlen);

/* u64 value records (counter, session). */
int ns_u64_get(struct vkv_txn *txn, const struct ns_key *k, uint64_t *v);
int ns_u64_put(struct vkv_txn *txn, const struct ns_key *k, uint64_t v);

/* 1 if no key starts with @p, 0 if some does, or -errno. */
int ns_prefix_empty(struct vkv_txn *txn, const struct ns_key *p);
/* Delete every key that starts with @p. */
int ns_prefix_delete(struct vkv_txn *txn, const struct ns_key *p);

/*
 * @in just lost its last name (nlink 0; written back here): keep it while
 * sessions are open, else make a regular file garbage and delete any
 * other inode with its xattrs.
 */
int ns_inode_release(struct vkv_txn *txn, struct ns_inode *in);
/* Delete @ino's inode record and xattrs. */
int ns_inode_delete(struct vkv_txn *txn, uint64_t ino);

/* ---- Inode numbers ------------------------------------------------------- */

/* Take a number from the batch, bumping the counter in its own
 * transaction when the batch is empty. Not inside a write transaction. */
int ns_ino_alloc(struct vns *ns, uint64_t *ino);
/* Give back a number an op took but did not use. */
void ns_ino_unused(struct vns *ns, uint64_t ino);

/* Name checks: length, or -EINVAL ("" "." ".." or '/'), -ENAMETOOLONG. */
int ns_name_check(const char *name);

/* ---- Counters, holds, leases (ns_lock.c, ns_dir.c) ----------------------- */

/* Add @delta to this thread's shard of the inode counter. */
int ns_count_add(struct vkv_txn *txn, int64_t delta);
/* vkv_run body: the counter's sum into *(uint64_t *)arg. */
int ns_count_sum_txn(struct vkv_txn *txn, void *arg);
/* Set (@on) or clear the 'O' client tag ino hold index entry. */
int ns_hold_set(struct vkv_txn *txn, uint64_t client, char tag, uint64_t ino,
		int on);
/* Make sure @client has an unexpired lease record (writes only when it
 * is absent or ran out, so concurrent ops of one client rarely conflict). */
int ns_lease_ensure(struct vkv_txn *txn, struct vns *ns, uint64_t client);
/* 1 when @client's lease is absent or ended before @now, 0 if live. */
int ns_lease_expired(struct vkv_txn *txn, uint64_t client, int64_t now);
/* Decode / encode the 'L' record of an inode; *n entries into @e. */
int ns_locks_get(struct vkv_txn *txn, uint64_t ino, struct ns_lock_ent *e,
		 size_t *n);
int ns_locks_put(struct vkv_txn *txn, uint64_t ino,
		 const struct ns_lock_ent *e, size_t n);

#endif

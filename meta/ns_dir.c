/* SPDX-License-Identifier: MIT */
/*
 * ns_dir.c - listings and whole-inode scans: readdir, extended attributes,
 * statfs, garbage collection.
 *
 * statfs sums the inode counter's shards ('N' shard): every create adds
 * 1 and every delete -1 to a shard picked once per thread, so concurrent
 * transactions on PostgreSQL rarely write the same key, and statfs reads
 * at most VNS_COUNT_SHARDS small records whatever the number of inodes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <linux/xattr.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "meta/ns_i.h"
#include "meta/ns_op.h"

/* Inodes statfs reports as the file system's capacity. */
#define NS_FILES_MAX (1ull << 48)

/* ---- readdir ------------------------------------------------------------- */

struct ns_readdir_ctx {
	uint64_t dir;
	struct vns_dirent *out;
	size_t n;
};

static int ns_readdir_cb(const void *key, size_t klen, const void *val,
			 size_t vlen, void *arg)
{
	struct ns_readdir_ctx *c = arg;
	struct vns_dirent *e = &c->out[c->n];
	size_t nlen = klen - 9;
	int rc;

	if (klen <= 9 || nlen > VNS_NAME_MAX)
		return -EIO;
	memcpy(e->name, (const uint8_t *)key + 9, nlen);
	e->name[nlen] = '\0';
	e->namelen = (uint32_t)nlen;
	rc = ns_dentry_decode(c->dir, e->name, nlen, val, vlen, &e->ino,
			      &e->type);
	if (rc < 0)
		return rc;
	c->n++;
	return 0;
}

static int ns_readdir_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_readdir_ctx c = {.dir = op->ino, .out = op->buf};
	struct ns_key start, prefix, end;
	int rc;

	rc = ns_dir_get(txn, op->ino, &op->a);
	if (rc < 0)
		return rc;
	ns_key_ino(&prefix, 'D', op->ino);
	ns_key_prefix_end(&prefix, &end);
	/* The smallest key after the cookie's: its name plus a NUL byte. */
	ns_key_name(&start, 'D', op->ino, op->name, op->nlen);
	if (op->nlen)
		start.b[start.len++] = 0;
	rc = vkv_range(txn, start.b, start.len, end.b, end.len, op->cap,
		       ns_readdir_cb, &c);
	if (rc < 0)
		return rc;
	for (size_t i = 0; op->aux && i < c.n; i++) {
		struct vattr *attrs = op->aux;

		rc = ns_inode_get(txn, c.out[i].ino, &op->b);
		if (rc == -ENOENT) {
			vlog_err("ns: %" PRIu64 "/%s names missing inode "
				 "%" PRIu64,
				 op->ino, c.out[i].name, c.out[i].ino);
			rc = -EIO;
		}
		if (rc < 0)
			return rc;
		ns_inode_to_attr(&op->b, &attrs[i]);
	}
	return (int)c.n;
}

int vns_readdir(struct vns *ns, uint64_t dir, const char *cookie,
		struct vns_dirent *out, size_t max)
{
	return vns_readdir_plus(ns, dir, cookie, out, NULL, max);
}

int vns_readdir_plus(struct vns *ns, uint64_t dir, const char *cookie,
		     struct vns_dirent *out, struct vattr *attrs, size_t max)
{
	struct ns_op op = {.ns = ns,
			   .ino = dir,
			   .name = cookie ? cookie : "",
			   .buf = out,
			   .aux = attrs,
			   .cap = max};

	op.nlen = strlen(op.name);
	if (op.nlen > VNS_NAME_MAX)
		return -EINVAL;
	if (!max)
		return 0;
	if (max > INT32_MAX)
		op.cap = INT32_MAX;
	return ns_op_run(&op, VKV_RDONLY, ns_readdir_txn);
}

/* ---- Extended attributes ------------------------------------------------- */

static int ns_xattr_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n > VNS_XATTR_NAME_MAX)
		return -ERANGE;
	return (int)n;
}

/* The inode's ctime changes with its xattrs. */
static int ns_xattr_touch(struct vkv_txn *txn, struct ns_inode *in)
{
	in->ctime = ns_now();
	return ns_inode_put(txn, in);
}

static int ns_setxattr_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_key k;
	const void *val;
	size_t vlen;
	uint8_t *v;
	int rc;

	rc = ns_inode_get(txn, op->ino, &op->a);
	if (rc < 0)
		return rc;
	if (!strcmp(op->name, VNS_LAYOUT_XATTR))
		return ns_layout_setxattr(txn, op, &op->a, 0);
	ns_key_name(&k, 'X', op->ino, op->name, op->nlen);
	rc = vkv_get(txn, k.b, k.len, &val, &vlen);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (!rc && (op->flags & XATTR_CREATE))
		return -EEXIST;
	if (rc == -ENOENT && (op->flags & XATTR_REPLACE))
		return -ENODATA;
	v = malloc(op->size + 1);
	if (!v)
		return -ENOMEM;
	v[0] = NS_REC_VERSION;
	if (op->size)
		memcpy(v + 1, op->value, op->size);
	rc = vkv_put(txn, k.b, k.len, v, op->size + 1);
	free(v);
	if (rc < 0)
		return rc;
	return ns_xattr_touch(txn, &op->a);
}

int vns_setxattr(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		 const char *name, const void *value, size_t size,
		 uint32_t flags)
{
	struct ns_op op = {.ns = ns,
			   .cr = cr,
			   .ino = ino,
			   .name = name,
			   .value = value,
			   .size = size,
			   .flags = flags};
	int rc;

	if (flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE) ||
	    flags == (XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (size > VNS_XATTR_SIZE_MAX)
		return -E2BIG;
	rc = ns_xattr_name(name);
	if (rc < 0)
		return rc;
	op.nlen = (size_t)rc;
	return ns_op_run(&op, 0, ns_setxattr_txn);
}

static int ns_getxattr_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_key k;
	const uint8_t *val;
	size_t vlen;
	int rc;

	rc = ns_inode_get(txn, op->ino, &op->a);
	if (rc < 0)
		return rc;
	if (!strcmp(op->name, VNS_LAYOUT_XATTR))
		return ns_layout_getxattr(op, &op->a);
	ns_key_name(&k, 'X', op->ino, op->name, op->nlen);
	rc = vkv_get(txn, k.b, k.len, (const void **)&val, &vlen);
	if (rc < 0)
		return rc == -ENOENT ? -ENODATA : rc;
	if (!vlen || val[0] != NS_REC_VERSION ||
	    vlen - 1 > VNS_XATTR_SIZE_MAX) {
		vlog_err("ns: inode %" PRIu64 " xattr %s: corrupt record",
			 op->ino, op->name);
		return -EIO;
	}
	if (op->cap && vlen - 1 > op->cap)
		return -ERANGE;
	if (op->cap)
		memcpy(op->buf, val + 1, vlen - 1);
	return (int)(vlen - 1);
}

int vns_getxattr(struct vns *ns, uint64_t ino, const char *name, void *buf,
		 size_t cap)
{
	struct ns_op op = {
		.ns = ns, .ino = ino, .name = name, .buf = buf, .cap = cap};
	int rc = ns_xattr_name(name);

	if (rc < 0)
		return rc == -ERANGE ? -ENODATA : rc;
	op.nlen = (size_t)rc;
	return ns_op_run(&op, VKV_RDONLY, ns_getxattr_txn);
}

struct ns_list_ctx {
	char *buf;
	size_t cap, len;
	int overflow;
};

static int ns_listxattr_cb(const void *key, size_t klen, const void *val,
			   size_t vlen, void *arg)
{
	struct ns_list_ctx *c = arg;
	size_t n = klen - 9;

	if (c->cap && c->len + n + 1 > c->cap)
		c->overflow = 1;
	else if (c->cap) {
		memcpy(c->buf + c->len, (const uint8_t *)key + 9, n);
		c->buf[c->len + n] = '\0';
	}
	c->len += n + 1;
	return 0;
}

static int ns_listxattr_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_list_ctx c = {.buf = op->buf, .cap = op->cap};
	struct ns_key prefix, end;
	int rc;

	rc = ns_inode_get(txn, op->ino, &op->a);
	if (rc < 0)
		return rc;
	ns_key_ino(&prefix, 'X', op->ino);
	ns_key_prefix_end(&prefix, &end);
	rc = vkv_range(txn, prefix.b, prefix.len, end.b, end.len, 0,
		       ns_listxattr_cb, &c);
	if (rc < 0)
		return rc;
	if (c.overflow)
		return -ERANGE;
	return c.len > INT32_MAX ? -E2BIG : (int)c.len;
}

int vns_listxattr(struct vns *ns, uint64_t ino, char *buf, size_t cap)
{
	struct ns_op op = {.ns = ns, .ino = ino, .buf = buf, .cap = cap};

	return ns_op_run(&op, VKV_RDONLY, ns_listxattr_txn);
}

static int ns_removexattr_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_key k;
	int rc;

	rc = ns_inode_get(txn, op->ino, &op->a);
	if (rc < 0)
		return rc;
	if (!strcmp(op->name, VNS_LAYOUT_XATTR))
		return ns_layout_setxattr(txn, op, &op->a, 1);
	ns_key_name(&k, 'X', op->ino, op->name, op->nlen);
	rc = vkv_del(txn, k.b, k.len);
	if (rc < 0)
		return rc == -ENOENT ? -ENODATA : rc;
	return ns_xattr_touch(txn, &op->a);
}

int vns_removexattr(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		    const char *name)
{
	struct ns_op op = {.ns = ns, .cr = cr, .ino = ino, .name = name};
	int rc = ns_xattr_name(name);

	if (rc < 0)
		return rc == -ERANGE ? -ENODATA : rc;
	op.nlen = (size_t)rc;
	return ns_op_run(&op, 0, ns_removexattr_txn);
}

/* ---- statfs ----------------------------------------------------------------
 */

/* This thread's shard of the inode counter, picked at random once. */
static _Thread_local int ns_count_shard = -1;

static void ns_count_key(struct ns_key *k, unsigned shard)
{
	k->b[0] = 'N';
	k->b[1] = (uint8_t)(shard >> 8);
	k->b[2] = (uint8_t)shard;
	k->len = 3;
}

int ns_count_add(struct vkv_txn *txn, int64_t delta)
{
	struct ns_key k;
	uint64_t v = 0;
	int rc;

	if (ns_count_shard < 0) {
		unsigned seed = (unsigned)ns_now() ^ (unsigned)(uintptr_t)&k;

		ns_count_shard = rand_r(&seed) % VNS_COUNT_SHARDS;
	}
	ns_count_key(&k, (unsigned)ns_count_shard);
	rc = ns_u64_get(txn, &k, &v);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	return ns_u64_put(txn, &k, v + (uint64_t)delta);
}

static int ns_count_cb(const void *key, size_t klen, const void *val,
		       size_t vlen, void *arg)
{
	const uint8_t *p = val;
	uint64_t v = 0;

	if (klen != 3 || vlen != 9 || p[0] != NS_REC_VERSION)
		return -EIO;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[1 + i] << (8 * i);
	*(uint64_t *)arg += v;
	return 0;
}

/* Sum of the shards into *(uint64_t *)arg (two's complement). */
int ns_count_sum_txn(struct vkv_txn *txn, void *arg)
{
	uint8_t start = 'N', end = 'N' + 1;
	uint64_t *n = arg;
	int rc;

	*n = 0;
	rc = vkv_range(txn, &start, 1, &end, 1, 0, ns_count_cb, n);
	if (rc == -EIO)
		vlog_err("ns: corrupt inode counter shard");
	return rc < 0 ? rc : 0;
}

int vns_statfs(struct vns *ns, struct vstatfs *st)
{
	uint64_t n = 0;
	int rc = vkv_run(ns->kv, VKV_RDONLY, ns_count_sum_txn, &n,
			 VNS_RETRIES);

	if (rc < 0)
		return rc;
	if ((int64_t)n < 0)
		n = 0;
	st->files = NS_FILES_MAX;
	st->ffree = n < NS_FILES_MAX ? NS_FILES_MAX - n : 0;
	st->namelen = VNS_NAME_MAX;
	return 0;
}

/* ---- Garbage collection ----------------------------------------------------
 */

struct ns_gc_ctx {
	struct vns_gc_entry *out;
	size_t n;
};

static int ns_gc_cb(const void *key, size_t klen, const void *val, size_t vlen,
		    void *arg)
{
	struct ns_gc_ctx *c = arg;

	if (klen != 9)
		return -EIO;
	c->out[c->n++].ino = ns_get_be64((const uint8_t *)key + 1);
	return 0;
}

static int ns_gc_list_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_gc_ctx c = {.out = op->buf};
	uint8_t start = 'G', end = 'G' + 1;
	int rc;

	rc = vkv_range(txn, &start, 1, &end, 1, op->cap, ns_gc_cb, &c);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < c.n; i++) {
		rc = ns_inode_get(txn, c.out[i].ino, &op->a);
		if (rc < 0)
			return rc == -ENOENT ? -EIO : rc;
		c.out[i].size = op->a.size;
		c.out[i].layout = op->a.layout;
	}
	return (int)c.n;
}

int vns_gc_list(struct vns *ns, struct vns_gc_entry *out, size_t max)
{
	struct ns_op op = {
		.ns = ns, .buf = out, .cap = max > INT32_MAX ? INT32_MAX : max};

	if (!max)
		return 0;
	return ns_op_run(&op, VKV_RDONLY, ns_gc_list_txn);
}

static int ns_gc_done_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_key k;
	int rc;

	ns_key_ino(&k, 'G', op->ino);
	rc = vkv_del(txn, k.b, k.len);
	if (rc < 0)
		return rc;
	return ns_inode_delete(txn, op->ino);
}

int vns_gc_done(struct vns *ns, uint64_t ino)
{
	struct ns_op op = {.ns = ns, .ino = ino};

	return ns_op_run(&op, 0, ns_gc_done_txn);
}

/* ---- GC claims ------------------------------------------------------------ */

/* Garbage entries looked at per claim transaction, at most. */
#define NS_GC_SCAN 1024

struct ns_gc_claim_ctx {
	struct vns_gc_entry *out;
	size_t n, max;
	uint64_t owner;
	int64_t now;
};

static int ns_gc_claim_cb(const void *key, size_t klen, const void *val,
			  size_t vlen, void *arg)
{
	struct ns_gc_claim_ctx *c = arg;
	const uint8_t *v = val;

	if (klen != 9 || !vlen || v[0] != NS_REC_VERSION ||
	    (vlen != 1 && vlen != 17))
		return -EIO;
	if (vlen == 17) {
		uint64_t owner = 0, until = 0;

		for (int i = 0; i < 8; i++) {
			owner |= (uint64_t)v[1 + i] << (8 * i);
			until |= (uint64_t)v[9 + i] << (8 * i);
		}
		if (owner != c->owner && (int64_t)until >= c->now)
			return 0; /* another collector's, still running */
	}
	c->out[c->n++].ino = ns_get_be64((const uint8_t *)key + 1);
	return c->n >= c->max;
}

static int ns_gc_claim_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_gc_claim_ctx c = {
		.out = op->buf, .max = op->cap, .owner = op->owner,
		.now = op->now};
	uint8_t start = 'G', end = 'G' + 1, v[17];
	struct ns_key k;
	int rc;

	rc = vkv_range(txn, &start, 1, &end, 1, NS_GC_SCAN, ns_gc_claim_cb,
		       &c);
	if (rc == -EIO)
		vlog_err("ns: corrupt garbage record");
	if (rc < 0)
		return rc;
	v[0] = NS_REC_VERSION;
	for (int i = 0; i < 8; i++) {
		v[1 + i] = (uint8_t)(op->owner >> (8 * i));
		v[9 + i] = (uint8_t)((uint64_t)op->hint >> (8 * i));
	}
	for (size_t i = 0; i < c.n; i++) {
		ns_key_ino(&k, 'G', c.out[i].ino);
		rc = vkv_put(txn, k.b, k.len, v, sizeof(v));
		if (rc < 0)
			return rc;
		rc = ns_inode_get(txn, c.out[i].ino, &op->a);
		if (rc < 0)
			return rc == -ENOENT ? -EIO : rc;
		c.out[i].size = op->a.size;
		c.out[i].layout = op->a.layout;
	}
	return (int)c.n;
}

int vns_gc_claim(struct vns *ns, uint64_t owner, int64_t now_ns,
		 int64_t until_ns, struct vns_gc_entry *out, size_t max)
{
	struct ns_op op = {.ns = ns,
			   .buf = out,
			   .cap = max > NS_GC_SCAN ? NS_GC_SCAN : max,
			   .owner = owner,
			   .now = now_ns,
			   .hint = (uint64_t)until_ns};

	if (!max)
		return 0;
	return ns_op_run(&op, 0, ns_gc_claim_txn);
}

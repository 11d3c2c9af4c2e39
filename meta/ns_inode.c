/* SPDX-License-Identifier: MIT */
/*
 * ns_inode.c - keys, record codecs, inode-number batches and the vns
 * handle's lifecycle.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "meta/ns_i.h"

#define NS_INODE_FIXED (1 + 5 * 4 + 8 + 4 * 8 + 8 + 8 + 4 * 4 + 2)
#define NS_DENTRY_LEN (1 + 8 + 4)
#define NS_U64_LEN (1 + 8)

static const char ns_counter_name[] = "ino";

/* ---- Keys ---------------------------------------------------------------- */

void ns_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t ns_get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void ns_key_ino(struct ns_key *k, char tag, uint64_t ino)
{
	k->b[0] = (uint8_t)tag;
	ns_put_be64(k->b + 1, ino);
	k->len = 9;
}

void ns_key_name(struct ns_key *k, char tag, uint64_t ino, const char *name,
		 size_t nlen)
{
	ns_key_ino(k, tag, ino);
	memcpy(k->b + 9, name, nlen);
	k->len += nlen;
}

void ns_key_sess(struct ns_key *k, uint64_t ino, uint64_t client)
{
	ns_key_ino(k, 'S', ino);
	ns_put_be64(k->b + 9, client);
	k->len = 17;
}

void ns_key_prefix_end(const struct ns_key *p, struct ns_key *end)
{
	*end = *p;
	/* Keys start with a tag letter, so the carry stops before b[0]. */
	while (end->len > 1 && end->b[end->len - 1] == 0xff)
		end->len--;
	end->b[end->len - 1]++;
}

/* ---- Little-endian codec ------------------------------------------------- */

struct ns_buf {
	uint8_t *p;
	size_t len, cap;
	int bad; /* read past the end */
};

static void ns_buf_put(struct ns_buf *b, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		b->p[b->len++] = (uint8_t)(v >> (8 * i));
}

static uint64_t ns_buf_get(struct ns_buf *b, int bytes)
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

int64_t ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec ns_ts(int64_t t)
{
	int64_t s = t / 1000000000, n = t % 1000000000;

	if (n < 0) {
		n += 1000000000;
		s--;
	}
	return (struct timespec){.tv_sec = (time_t)s, .tv_nsec = (long)n};
}

/* ---- Inodes -------------------------------------------------------------- */

int ns_inode_decode(uint64_t ino, const void *val, size_t vlen,
		    struct ns_inode *in)
{
	struct ns_buf b = {.p = (uint8_t *)val, .cap = vlen};
	uint32_t ver;

	memset(in, 0, offsetof(struct ns_inode, target));
	in->ino = ino;
	ver = (uint32_t)ns_buf_get(&b, 1);
	in->mode = (uint32_t)ns_buf_get(&b, 4);
	in->uid = (uint32_t)ns_buf_get(&b, 4);
	in->gid = (uint32_t)ns_buf_get(&b, 4);
	in->nlink = (uint32_t)ns_buf_get(&b, 4);
	in->rdev = (uint32_t)ns_buf_get(&b, 4);
	in->size = ns_buf_get(&b, 8);
	in->atime = (int64_t)ns_buf_get(&b, 8);
	in->mtime = (int64_t)ns_buf_get(&b, 8);
	in->ctime = (int64_t)ns_buf_get(&b, 8);
	in->btime = (int64_t)ns_buf_get(&b, 8);
	in->parent = ns_buf_get(&b, 8);
	in->trunc_ver = ns_buf_get(&b, 8);
	in->layout.chunk_size = (uint32_t)ns_buf_get(&b, 4);
	in->layout.stripe = (uint32_t)ns_buf_get(&b, 4);
	in->layout.first_chain = (uint32_t)ns_buf_get(&b, 4);
	in->layout.table_version = (uint32_t)ns_buf_get(&b, 4);
	in->target_len = (uint32_t)ns_buf_get(&b, 2);
	if (b.bad || ver != NS_REC_VERSION ||
	    in->target_len > VNS_SYMLINK_MAX ||
	    vlen != NS_INODE_FIXED + in->target_len) {
		vlog_err("ns: inode %" PRIu64 ": corrupt record (%zu bytes, "
			 "version %u)",
			 ino, vlen, ver);
		return -EIO;
	}
	memcpy(in->target, b.p + b.len, in->target_len);
	in->target[in->target_len] = '\0';
	return 0;
}

int ns_inode_get(struct vkv_txn *txn, uint64_t ino, struct ns_inode *in)
{
	struct ns_key k;
	const void *val;
	size_t vlen;
	int rc;

	ns_key_ino(&k, 'I', ino);
	rc = vkv_get(txn, k.b, k.len, &val, &vlen);
	if (rc < 0)
		return rc;
	return ns_inode_decode(ino, val, vlen, in);
}

int ns_inode_put(struct vkv_txn *txn, const struct ns_inode *in)
{
	uint8_t v[NS_INODE_FIXED + VNS_SYMLINK_MAX];
	struct ns_buf b = {.p = v, .cap = sizeof(v)};
	struct ns_key k;

	ns_buf_put(&b, NS_REC_VERSION, 1);
	ns_buf_put(&b, in->mode, 4);
	ns_buf_put(&b, in->uid, 4);
	ns_buf_put(&b, in->gid, 4);
	ns_buf_put(&b, in->nlink, 4);
	ns_buf_put(&b, in->rdev, 4);
	ns_buf_put(&b, in->size, 8);
	ns_buf_put(&b, (uint64_t)in->atime, 8);
	ns_buf_put(&b, (uint64_t)in->mtime, 8);
	ns_buf_put(&b, (uint64_t)in->ctime, 8);
	ns_buf_put(&b, (uint64_t)in->btime, 8);
	ns_buf_put(&b, in->parent, 8);
	ns_buf_put(&b, in->trunc_ver, 8);
	ns_buf_put(&b, in->layout.chunk_size, 4);
	ns_buf_put(&b, in->layout.stripe, 4);
	ns_buf_put(&b, in->layout.first_chain, 4);
	ns_buf_put(&b, in->layout.table_version, 4);
	ns_buf_put(&b, in->target_len, 2);
	memcpy(v + b.len, in->target, in->target_len);
	b.len += in->target_len;
	ns_key_ino(&k, 'I', in->ino);
	return vkv_put(txn, k.b, k.len, v, b.len);
}

void ns_inode_to_attr(const struct ns_inode *in, struct vattr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = in->ino;
	a->size = S_ISLNK(in->mode) ? in->target_len : in->size;
	a->blocks = (a->size + 511) / 512;
	a->atime = ns_ts(in->atime);
	a->mtime = ns_ts(in->mtime);
	a->ctime = ns_ts(in->ctime);
	a->btime = ns_ts(in->btime);
	a->mode = in->mode;
	a->nlink = in->nlink;
	a->uid = in->uid;
	a->gid = in->gid;
	a->rdev = in->rdev;
	a->blksize = S_ISREG(in->mode) && in->layout.chunk_size
			     ? in->layout.chunk_size
			     : 4096;
}

void ns_inode_init(struct ns_inode *in, uint64_t ino, uint32_t mode,
		   const struct vns_cred *cr, const struct ns_inode *parent)
{
	int64_t now = ns_now();

	memset(in, 0, offsetof(struct ns_inode, target));
	in->target[0] = '\0';
	in->ino = ino;
	in->mode = mode;
	in->uid = cr->uid;
	in->gid = cr->gid;
	in->nlink = S_ISDIR(mode) ? 2 : 1;
	in->atime = in->mtime = in->ctime = in->btime = now;
	if (parent && (parent->mode & S_ISGID)) {
		/* BSD group semantics in a set-group-ID directory. */
		in->gid = parent->gid;
		if (S_ISDIR(mode))
			in->mode |= S_ISGID;
	}
	if (S_ISDIR(mode) && parent)
		in->parent = parent->ino;
}

int ns_inode_delete(struct vkv_txn *txn, uint64_t ino)
{
	struct ns_key k;
	int rc;

	ns_key_ino(&k, 'I', ino);
	rc = vkv_del(txn, k.b, k.len);
	if (rc >= 0)
		rc = ns_count_add(txn, -1);
	if (rc < 0)
		return rc;
	ns_key_ino(&k, 'X', ino);
	return ns_prefix_delete(txn, &k);
}

int ns_inode_release(struct vkv_txn *txn, struct ns_inode *in)
{
	static const uint8_t gver = NS_REC_VERSION;
	struct ns_key k;
	int rc;

	ns_key_ino(&k, 'S', in->ino);
	rc = ns_prefix_empty(txn, &k);
	if (rc < 0)
		return rc;
	if (!rc) /* open somewhere: the last session close releases it */
		return ns_inode_put(txn, in);
	if (!S_ISREG(in->mode))
		return ns_inode_delete(txn, in->ino);
	/* Keep the record: the GC needs its size and layout. */
	rc = ns_inode_put(txn, in);
	if (rc < 0)
		return rc;
	ns_key_ino(&k, 'G', in->ino);
	return vkv_put(txn, k.b, k.len, &gver, 1);
}

/* ---- Dentries and small records ------------------------------------------ */

int ns_dentry_decode(uint64_t parent, const char *name, size_t nlen,
		     const void *val, size_t vlen, uint64_t *ino,
		     uint32_t *type)
{
	struct ns_buf b = {.p = (uint8_t *)val, .cap = vlen};
	uint32_t ver;

	ver = (uint32_t)ns_buf_get(&b, 1);
	*ino = ns_buf_get(&b, 8);
	*type = (uint32_t)ns_buf_get(&b, 4);
	if (b.bad || ver != NS_REC_VERSION || vlen != NS_DENTRY_LEN) {
		vlog_err("ns: dentry %" PRIu64 "/%.*s: corrupt record", parent,
			 (int)nlen, name);
		return -EIO;
	}
	return 0;
}

int ns_dentry_get(struct vkv_txn *txn, uint64_t parent, const char *name,
		  size_t nlen, uint64_t *ino, uint32_t *type)
{
	struct ns_key k;
	const void *val;
	size_t vlen;
	int rc;

	ns_key_name(&k, 'D', parent, name, nlen);
	rc = vkv_get(txn, k.b, k.len, &val, &vlen);
	if (rc < 0)
		return rc;
	return ns_dentry_decode(parent, name, nlen, val, vlen, ino, type);
}

int ns_dentry_put(struct vkv_txn *txn, uint64_t parent, const char *name,
		  size_t nlen, uint64_t ino, uint32_t type)
{
	uint8_t v[NS_DENTRY_LEN];
	struct ns_buf b = {.p = v, .cap = sizeof(v)};
	struct ns_key k;

	ns_buf_put(&b, NS_REC_VERSION, 1);
	ns_buf_put(&b, ino, 8);
	ns_buf_put(&b, type & S_IFMT, 4);
	ns_key_name(&k, 'D', parent, name, nlen);
	return vkv_put(txn, k.b, k.len, v, b.len);
}

int ns_dentry_del(struct vkv_txn *txn, uint64_t parent, const char *name,
		  size_t nlen)
{
	struct ns_key k;

	ns_key_name(&k, 'D', parent, name, nlen);
	return vkv_del(txn, k.b, k.len);
}

int ns_u64_get(struct vkv_txn *txn, const struct ns_key *k, uint64_t *v)
{
	struct ns_buf b;
	const void *val;
	size_t vlen;
	uint32_t ver;
	int rc;

	rc = vkv_get(txn, k->b, k->len, &val, &vlen);
	if (rc < 0)
		return rc;
	b = (struct ns_buf){.p = (uint8_t *)val, .cap = vlen};
	ver = (uint32_t)ns_buf_get(&b, 1);
	*v = ns_buf_get(&b, 8);
	if (b.bad || ver != NS_REC_VERSION || vlen != NS_U64_LEN) {
		vlog_err("ns: key '%c': corrupt counter record", k->b[0]);
		return -EIO;
	}
	return 0;
}

int ns_u64_put(struct vkv_txn *txn, const struct ns_key *k, uint64_t v)
{
	uint8_t val[NS_U64_LEN];
	struct ns_buf b = {.p = val, .cap = sizeof(val)};

	ns_buf_put(&b, NS_REC_VERSION, 1);
	ns_buf_put(&b, v, 8);
	return vkv_put(txn, k->b, k->len, val, b.len);
}

static int ns_prefix_any_cb(const void *key, size_t klen, const void *val,
			    size_t vlen, void *arg)
{
	return 1;
}

int ns_prefix_empty(struct vkv_txn *txn, const struct ns_key *p)
{
	struct ns_key end;
	int rc;

	ns_key_prefix_end(p, &end);
	rc = vkv_range(txn, p->b, p->len, end.b, end.len, 1, ns_prefix_any_cb,
		       NULL);
	return rc < 0 ? rc : rc == 0;
}

struct ns_keylist {
	uint8_t *buf; /* (u16 len, bytes)* */
	size_t len, cap;
};

static int ns_keylist_cb(const void *key, size_t klen, const void *val,
			 size_t vlen, void *arg)
{
	struct ns_keylist *l = arg;

	if (l->len + 2 + klen > l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4096;
		uint8_t *p;

		while (cap < l->len + 2 + klen)
			cap *= 2;
		p = realloc(l->buf, cap);
		if (!p)
			return -ENOMEM;
		l->buf = p;
		l->cap = cap;
	}
	l->buf[l->len] = (uint8_t)klen;
	l->buf[l->len + 1] = (uint8_t)(klen >> 8);
	memcpy(l->buf + l->len + 2, key, klen);
	l->len += 2 + klen;
	return 0;
}

int ns_prefix_delete(struct vkv_txn *txn, const struct ns_key *p)
{
	struct ns_keylist l = {0};
	struct ns_key end;
	size_t off;
	int rc;

	/* The range callback may not touch the txn: collect, then delete. */
	ns_key_prefix_end(p, &end);
	rc = vkv_range(txn, p->b, p->len, end.b, end.len, 0, ns_keylist_cb, &l);
	for (off = 0; rc >= 0 && off < l.len;) {
		size_t klen = l.buf[off] | (size_t)l.buf[off + 1] << 8;

		rc = vkv_del(txn, l.buf + off + 2, klen);
		off += 2 + klen;
	}
	free(l.buf);
	return rc < 0 ? rc : 0;
}

int ns_name_check(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return -EINVAL;
	if (n > VNS_NAME_MAX)
		return -ENAMETOOLONG;
	return (int)n;
}

/* ---- Inode numbers ------------------------------------------------------- */

static int ns_ino_bump_txn(struct vkv_txn *txn, void *arg)
{
	uint64_t *first = arg;
	struct ns_key k;
	int rc;

	ns_key_name(&k, 'C', 0, ns_counter_name, sizeof(ns_counter_name) - 1);
	rc = ns_u64_get(txn, &k, first);
	if (rc < 0)
		return rc == -ENOENT ? -EIO : rc;
	return ns_u64_put(txn, &k, *first + VNS_INO_BATCH);
}

int ns_ino_alloc(struct vns *ns, uint64_t *ino)
{
	uint64_t first;
	int rc;

	pthread_mutex_lock(&ns->lock);
	if (ns->ino_next < ns->ino_end) {
		*ino = ns->ino_next++;
		pthread_mutex_unlock(&ns->lock);
		return 0;
	}
	pthread_mutex_unlock(&ns->lock);
	/*
	 * The bump commits on its own, before the op that uses the number:
	 * a batch taken in a transaction that later aborted could be handed
	 * out again by another process.
	 */
	rc = vkv_run(ns->kv, 0, ns_ino_bump_txn, &first, VNS_RETRIES);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ns->lock);
	/* Another thread may have refilled meanwhile: the older batch's
	 * leftovers are lost, which only wastes numbers. */
	ns->ino_next = first + 1;
	ns->ino_end = first + VNS_INO_BATCH;
	*ino = first;
	pthread_mutex_unlock(&ns->lock);
	return 0;
}

void ns_ino_unused(struct vns *ns, uint64_t ino)
{
	pthread_mutex_lock(&ns->lock);
	if (ino + 1 == ns->ino_next)
		ns->ino_next = ino;
	pthread_mutex_unlock(&ns->lock);
}

/* ---- Lifecycle ----------------------------------------------------------- */

static int ns_open_txn(struct vkv_txn *txn, void *arg)
{
	static const struct vns_cred root = {0, 0};
	struct ns_inode *in = arg;
	struct ns_key k;
	uint64_t next;
	int rc;

	ns_key_name(&k, 'C', 0, ns_counter_name, sizeof(ns_counter_name) - 1);
	rc = ns_u64_get(txn, &k, &next);
	if (rc == -ENOENT)
		rc = ns_u64_put(txn, &k, VNS_ROOT_INO + 1);
	if (rc < 0)
		return rc;
	rc = ns_inode_get(txn, VNS_ROOT_INO, in);
	if (rc != -ENOENT)
		return rc;
	ns_inode_init(in, VNS_ROOT_INO, S_IFDIR | 0755, &root, NULL);
	in->parent = VNS_ROOT_INO;
	rc = ns_inode_put(txn, in);
	return rc < 0 ? rc : ns_count_add(txn, 1);
}

int vns_open(struct vkv *kv, struct vns **out)
{
	struct ns_inode *root;
	struct vns *ns;
	int rc;

	*out = NULL;
	ns = calloc(1, sizeof(*ns));
	root = malloc(sizeof(*root));
	if (!ns || !root) {
		rc = -ENOMEM;
		goto out_free;
	}
	ns->kv = kv;
	pthread_mutex_init(&ns->lock, NULL);
	ns->layout = (struct vns_layout){.chunk_size = 1u << 20, .stripe = 1};
	ns->lease_ms = 30000;
	ns->seed = (unsigned)ns_now() ^ (unsigned)(uintptr_t)ns;
	rc = vkv_run(kv, 0, ns_open_txn, root, VNS_RETRIES);
	if (rc < 0) {
		pthread_mutex_destroy(&ns->lock);
		goto out_free;
	}
	free(root);
	*out = ns;
	return 0;

out_free:
	free(root);
	free(ns);
	return rc;
}

void vns_close(struct vns *ns)
{
	if (!ns)
		return;
	pthread_mutex_destroy(&ns->lock);
	free(ns);
}

void vns_set_default_layout(struct vns *ns, const struct vns_layout *l)
{
	pthread_mutex_lock(&ns->lock);
	ns->layout.chunk_size = l->chunk_size;
	ns->layout.stripe = l->stripe ? l->stripe : 1;
	pthread_mutex_unlock(&ns->lock);
}

void vns_set_chains(struct vns *ns, uint32_t version, uint32_t nchains)
{
	pthread_mutex_lock(&ns->lock);
	ns->table_version = version;
	ns->nchains = nchains;
	pthread_mutex_unlock(&ns->lock);
}

void vns_set_lease(struct vns *ns, uint32_t lease_ms)
{
	pthread_mutex_lock(&ns->lock);
	ns->lease_ms = lease_ms ? lease_ms : 1;
	pthread_mutex_unlock(&ns->lock);
}

uint32_t vns_lease_ms(struct vns *ns)
{
	uint32_t v;

	pthread_mutex_lock(&ns->lock);
	v = ns->lease_ms;
	pthread_mutex_unlock(&ns->lock);
	return v;
}

void vns_get_stats(struct vns *ns, struct vns_stats *out)
{
	out->replays = atomic_load_explicit(&ns->replays, memory_order_relaxed);
	out->idem_expired =
		atomic_load_explicit(&ns->idem_expired, memory_order_relaxed);
	out->leases_expired =
		atomic_load_explicit(&ns->leases_expired, memory_order_relaxed);
	out->sessions_dropped = atomic_load_explicit(&ns->sessions_dropped,
						     memory_order_relaxed);
	out->locks_dropped =
		atomic_load_explicit(&ns->locks_dropped, memory_order_relaxed);
}

/* SPDX-License-Identifier: MIT */
/*
 * craq_resync.c - the resync plan of a syncing successor (craq.h): a merge
 * of two chunk-metadata dumps in key order (notes/3fs.md §3.6), and an
 * in-process applier of its items.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/craq.h"

struct vcraq_dump_buf {
	struct vchunk_meta *v;
	size_t n, cap;
};

static int vcraq_dump_buf_add(void *arg, const struct vchunk_meta *m)
{
	struct vcraq_dump_buf *b = arg;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct vchunk_meta *v = realloc(b->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = *m;
	return 0;
}

int vcraq_dump_collect(struct vchunk_store *st, struct vchunk_meta **out,
		       size_t *n)
{
	struct vcraq_dump_buf b = {0};
	int ret;

	ret = vchunk_dump(st, vcraq_dump_buf_add, &b);
	if (ret) {
		free(b.v);
		return ret < 0 ? ret : -EIO;
	}
	*out = b.v;
	*n = b.n;
	return 0;
}

/* Key order of chunk ids: inode, then index (as the dumps are sorted). */
static int vcraq_id_cmp(struct vchunk_id a, struct vchunk_id b)
{
	if (a.inode != b.inode)
		return a.inode < b.inode ? -1 : 1;
	if (a.index != b.index)
		return a.index < b.index ? -1 : 1;
	return 0;
}

/* The successor's copy differs from the predecessor's committed chunk. */
static int vcraq_meta_differs(const struct vchunk_meta *p,
			      const struct vchunk_meta *s)
{
	return p->committed_ver != s->committed_ver || s->pending_ver ||
	       p->chain_ver != s->chain_ver || p->length != s->length;
}

/* Does the sorted array @v hold a record of @inode? */
static int vcraq_has_inode(const struct vchunk_meta *v, size_t n,
			   uint64_t inode)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].id.inode < inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].id.inode == inode;
}

/*
 * One merge pass: with @cb NULL only count the items into *total; else
 * call @cb for each (done counted from 0).
 */
static int vcraq_resync_merge(const struct vchunk_meta *p, size_t np,
			      const struct vchunk_meta *s, size_t ns,
			      vcraq_resync_cb cb, void *arg, uint64_t *total)
{
	struct vcraq_resync_item it;
	size_t i = 0, j = 0;
	uint64_t count = 0;
	int ret;

	while (i < np || j < ns) {
		int c;

		if (i == np)
			c = 1;
		else if (j == ns)
			c = -1;
		else
			c = vcraq_id_cmp(p[i].id, s[j].id);

		memset(&it, 0, sizeof(it));
		if (c < 0) {
			it.action = VCRAQ_RESYNC_SEND;
			it.meta = p[i++];
		} else if (c > 0) {
			it.action = VCRAQ_RESYNC_REMOVE;
			it.meta = s[j++];
			it.inode_gone =
				!vcraq_has_inode(p, np, it.meta.id.inode);
		} else {
			int differs = vcraq_meta_differs(&p[i], &s[j]);

			it.action = VCRAQ_RESYNC_SEND;
			it.meta = p[i];
			i++;
			j++;
			if (!differs)
				continue;
		}
		if (cb) {
			it.done = count;
			it.total = *total;
			ret = cb(arg, &it);
			if (ret)
				return ret;
		}
		count++;
	}
	if (!cb)
		*total = count;
	return 0;
}

int vcraq_resync_plan(struct vchunk_store *pred, const struct vchunk_meta *succ,
		      size_t nsucc, vcraq_resync_cb cb, void *arg)
{
	struct vchunk_meta *p = NULL;
	uint64_t total = 0;
	size_t np = 0;
	int ret;

	if (!pred || !cb || (nsucc && !succ))
		return -EINVAL;
	ret = vcraq_dump_collect(pred, &p, &np);
	if (ret < 0)
		return ret;
	vcraq_resync_merge(p, np, succ, nsucc, NULL, NULL, &total);
	ret = vcraq_resync_merge(p, np, succ, nsucc, cb, arg, &total);
	free(p);
	return ret;
}

/* SEND: the predecessor's committed chunk replaces the successor's. */
static int vcraq_resync_send(struct vchunk_store *pred,
			     struct vchunk_store *succ, struct vchunk_id id)
{
	struct vchunk_result res;
	struct vchunk_meta m;
	void *buf;
	ssize_t n = 0;
	int ret;

	ret = vchunk_stat(pred, id, &m);
	if (ret < 0)
		return ret;
	if (m.pending_ver)
		return -EINPROGRESS;
	buf = malloc(m.length ? m.length : 1);
	if (!buf)
		return -ENOMEM;
	if (m.length) {
		n = vchunk_read(pred, id, 0, m.length, buf, 0, &res);
		if (n < 0) {
			ret = (int)n;
			goto out_free_buf;
		}
		/* Raced an update: send the record the data belongs to. */
		m = res.meta;
	}
	ret = vchunk_replace(succ, id, buf, (uint32_t)n, m.committed_ver,
			     m.chain_ver);
out_free_buf:
	free(buf);
	return ret;
}

int vcraq_resync_apply(struct vchunk_store *pred, struct vchunk_store *succ,
		       const struct vcraq_resync_item *it)
{
	int ret;

	switch (it->action) {
	case VCRAQ_RESYNC_SEND:
		return vcraq_resync_send(pred, succ, it->meta.id);
	case VCRAQ_RESYNC_REMOVE:
		if (!it->inode_gone)
			return -EOPNOTSUPP;
		ret = vchunk_remove_inode(succ, it->meta.id.inode);
		return ret < 0 ? ret : 0;
	default:
		return -EINVAL;
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * ops.c - FUSE op handlers and the dispatch table.
 *
 * Each handler takes a decoded request, resolves what it needs (handles),
 * and starts one backend call whose completion (a *_done function) builds
 * the reply. Handlers never block: the backend may complete at once (mem)
 * or later from the worker's loop (cluster).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "common/log.h"
#include "common/probes.h"
#include "daemon/htable.h"
#include "daemon/itable.h"
#include "daemon/session.h"
#include "proto/fuse_reply.h"
#include "ring/loop.h"

#define vreq_of(c) ((struct vreq *)((char *)(c) - offsetof(struct vreq, call)))

static inline struct vsession *vreq_s(struct vreq *r)
{
	return r->w->s;
}

static inline struct backend *vreq_bk(struct vreq *r)
{
	return r->w->s->bk;
}

/* ------------------------------------------------------------------ */
/* Replies                                                             */

void vreq_release(struct vreq *r)
{
	struct vsession *s = vreq_s(r);
	uint32_t op = r->in.opcode <= FUSE_OPCODE_MAX ? r->in.opcode : 0;

	vstats_op_add(&r->w->ops[op], vloop_now_ns() - r->t_start_ns,
		      r->reply_err);

	if (r->pending) {
		struct vreq **pp;

		pthread_mutex_lock(&s->pending_lock);
		for (pp = &s->pending; *pp; pp = &(*pp)->next) {
			if (*pp == r) {
				*pp = r->next;
				break;
			}
		}
		r->pending = 0;
		pthread_mutex_unlock(&s->pending_lock);
	}
	if (r->w->eops->release)
		r->w->eops->release(r->w, r);
	else
		vworker_req_put(r);
}

static void vreq_send(struct vreq *r, int err, const void *arg, size_t arglen,
		      const void *data, size_t datalen)
{
	struct fuse_out_header *h = &r->oh;
	struct iovec *iov = r->oiov;
	int n = 1, ret;

	if (err) {
		arglen = 0;
		datalen = 0;
	}
	r->reply_err = err;
	if (fuse_out_header_fill(h, r->in.unique, err, arglen + datalen)) {
		vlog_err("bad reply for %s unique=%" PRIu64 " error=%d",
			 fuse_opcode_name(r->in.opcode), r->in.unique, err);
		fuse_out_header_fill(h, r->in.unique, -EIO, 0);
		arglen = datalen = 0;
	}
	iov[0].iov_base = h;
	iov[0].iov_len = sizeof(*h);
	if (arglen) {
		iov[n].iov_base = (void *)arg;
		iov[n++].iov_len = arglen;
	}
	if (datalen) {
		iov[n].iov_base = (void *)data;
		iov[n++].iov_len = datalen;
	}
	if (vlog_enabled(VLOG_DEBUG))
		vlog_debug("   reply unique=%" PRIu64 " %s error=%d len=%u (%.1f us)",
			   r->in.unique, fuse_opcode_name(r->in.opcode), err,
			   h->len, (vloop_now_ns() - r->t_start_ns) / 1e3);
	VPROBE_REQ_REPLY(r->in.opcode, r->in.unique, err);
	ret = r->w->eops->send(r->w, r, iov, n);
	if (ret == 1)
		return;	/* the engine releases it when the write is done */
	if (ret < 0 && ret != -ENOENT)
		vlog_warn("reply to %s unique=%" PRIu64 " failed: %s",
			  fuse_opcode_name(r->in.opcode), r->in.unique,
			  strerror(-ret));
	vreq_release(r);
}

void vreq_reply_err(struct vreq *r, int err)
{
	vreq_send(r, err, NULL, 0, NULL, 0);
}

void vreq_reply(struct vreq *r, const void *arg, size_t arglen,
		const void *data, size_t datalen)
{
	vreq_send(r, 0, arg, arglen, data, datalen);
}

void vreq_done_noreply(struct vreq *r)
{
	vreq_release(r);
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

void vattr_to_fuse(const struct vattr *a, struct fuse_attr *out)
{
	memset(out, 0, sizeof(*out));
	out->ino = a->ino;
	out->size = a->size;
	out->blocks = a->blocks;
	out->atime = a->atime.tv_sec;
	out->atimensec = a->atime.tv_nsec;
	out->mtime = a->mtime.tv_sec;
	out->mtimensec = a->mtime.tv_nsec;
	out->ctime = a->ctime.tv_sec;
	out->ctimensec = a->ctime.tv_nsec;
	out->mode = a->mode;
	out->nlink = a->nlink;
	out->uid = a->uid;
	out->gid = a->gid;
	out->rdev = a->rdev;
	out->blksize = a->blksize ? a->blksize : 4096;
}

static void vreq_fill_entry(struct vsession *s, const struct vattr *a,
			    struct fuse_entry_out *e)
{
	uint64_t sec;
	uint32_t nsec;

	memset(e, 0, sizeof(*e));
	e->nodeid = a->ino;
	e->generation = a->generation;
	fuse_timeout_split(s->cfg.entry_timeout, &sec, &nsec);
	e->entry_valid = sec;
	e->entry_valid_nsec = nsec;
	fuse_timeout_split(s->cfg.attr_timeout, &sec, &nsec);
	e->attr_valid = sec;
	e->attr_valid_nsec = nsec;
	vattr_to_fuse(a, &e->attr);
}

/* Resolve a kernel fh into r->h; replies -EBADF and returns -1 if stale. */
static int vreq_handle(struct vreq *r, uint64_t fh, struct vhandle_ref *out)
{
	struct vhandle h;

	if (htable_get(vreq_s(r)->ht, fh, &h) || h.ino != r->in.nodeid) {
		vreq_reply_err(r, -EBADF);
		return -1;
	}
	out->ino = h.ino;
	out->bfh = h.bfh;
	return 0;
}

static void vreq_bcall_init(struct vreq *r, bcall_done_fn done)
{
	memset(&r->call, 0, sizeof(r->call));
	r->call.done = done;
}

/* ------------------------------------------------------------------ */
/* Completions                                                         */

static void ops_err_done(struct bcall *c)
{
	vreq_reply_err(vreq_of(c), c->err);
}

/* A reply that hands the kernel an inode: count the reference first. */
static void ops_entry_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);
	struct vsession *s = vreq_s(r);

	if (c->err) {
		vreq_reply_err(r, c->err);
		return;
	}
	if (itable_ref(s->it, c->attr.ino, 1)) {
		vreq_reply_err(r, -ENOMEM);
		return;
	}
	vreq_fill_entry(s, &c->attr, &r->out.entry);
	vreq_reply(r, &r->out.entry, sizeof(r->out.entry), NULL, 0);
}

static void ops_lookup_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);
	struct vsession *s = vreq_s(r);

	/* A zero nodeid with a timeout caches the miss (negative entry). */
	if (c->err == -ENOENT && s->cfg.negative_timeout > 0) {
		uint64_t sec;
		uint32_t nsec;

		memset(&r->out.entry, 0, sizeof(r->out.entry));
		fuse_timeout_split(s->cfg.negative_timeout, &sec, &nsec);
		r->out.entry.entry_valid = sec;
		r->out.entry.entry_valid_nsec = nsec;
		vreq_reply(r, &r->out.entry, sizeof(r->out.entry), NULL, 0);
		return;
	}
	ops_entry_done(c);
}

static void ops_attr_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);
	struct vsession *s = vreq_s(r);
	uint64_t sec;
	uint32_t nsec;

	if (c->err) {
		vreq_reply_err(r, c->err);
		return;
	}
	memset(&r->out.attr, 0, sizeof(r->out.attr));
	fuse_timeout_split(s->cfg.attr_timeout, &sec, &nsec);
	r->out.attr.attr_valid = sec;
	r->out.attr.attr_valid_nsec = nsec;
	vattr_to_fuse(&c->attr, &r->out.attr.attr);
	vreq_reply(r, &r->out.attr, sizeof(r->out.attr), NULL, 0);
}

static void ops_data_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);

	if (c->err)
		vreq_reply_err(r, c->err);
	else
		vreq_reply(r, NULL, 0, r->data, c->count);
}

/* GETXATTR / LISTXATTR: a size query gets fuse_getxattr_out. */
static void ops_xattr_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);

	if (c->err) {
		vreq_reply_err(r, c->err);
	} else if (c->cap == 0) {
		memset(&r->out.getxattr, 0, sizeof(r->out.getxattr));
		r->out.getxattr.size = (uint32_t)c->count;
		vreq_reply(r, &r->out.getxattr, sizeof(r->out.getxattr), NULL,
			   0);
	} else {
		vreq_reply(r, NULL, 0, r->data, c->count);
	}
}

static uint32_t ops_fopen_flags(struct vsession *s, uint32_t bk_flags,
				int is_dir)
{
	uint32_t f = bk_flags & ~VOPEN_DROP_CACHE;

	if (is_dir)
		return s->cfg.cache_dir ? f | FOPEN_CACHE_DIR : f;
	if (s->cfg.direct_io)
		f |= FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES;
	else if (s->cfg.keep_cache && !(bk_flags & VOPEN_DROP_CACHE))
		f |= FOPEN_KEEP_CACHE;
	return f;
}

/* Closing a backend handle we could not hand to the kernel. */
struct ops_orphan {
	struct bcall call;
};

static void ops_orphan_done(struct bcall *c)
{
	free(c);
}

static void ops_orphan_release(struct vreq *r, uint64_t ino, uint64_t bfh,
			       int is_dir)
{
	struct backend *b = vreq_bk(r);
	struct bcall *c = calloc(1, sizeof(*c));

	if (!c)
		return;	/* the backend handle leaks until unmount */
	c->done = ops_orphan_done;
	if (is_dir)
		b->ops->releasedir(b, ino, bfh, c);
	else
		b->ops->release(b, ino, bfh, 0, 0, c);
}

static int ops_handle_add(struct vreq *r, uint64_t ino, uint64_t bfh,
			  uint32_t flags, int is_dir, struct fuse_open_out *o)
{
	struct vsession *s = vreq_s(r);
	struct vhandle h = {
		.ino = ino, .bfh = bfh, .flags = flags, .is_dir = is_dir,
	};

	memset(o, 0, sizeof(*o));
	if (htable_add(s->ht, &h, &o->fh)) {
		ops_orphan_release(r, ino, bfh, is_dir);
		return -ENOMEM;
	}
	o->open_flags = ops_fopen_flags(s, r->call.open_flags, is_dir);
	return 0;
}

static void ops_open_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);
	int is_dir = r->in.opcode == FUSE_OPENDIR;
	int ret;

	if (c->err) {
		vreq_reply_err(r, c->err);
		return;
	}
	ret = ops_handle_add(r, r->in.nodeid, c->fh, r->in.u.open.flags, is_dir,
			     &r->out.open);
	if (ret)
		vreq_reply_err(r, ret);
	else
		vreq_reply(r, &r->out.open, sizeof(r->out.open), NULL, 0);
}

static void ops_create_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);
	struct vsession *s = vreq_s(r);
	int ret;

	if (c->err) {
		vreq_reply_err(r, c->err);
		return;
	}
	ret = ops_handle_add(r, c->attr.ino, c->fh, r->in.u.create.in.flags, 0,
			     &r->out.create.open);
	if (ret) {
		vreq_reply_err(r, ret);
		return;
	}
	if (itable_ref(s->it, c->attr.ino, 1)) {
		struct vhandle h;

		htable_del(s->ht, r->out.create.open.fh, &h);
		ops_orphan_release(r, h.ino, h.bfh, 0);
		vreq_reply_err(r, -ENOMEM);
		return;
	}
	vreq_fill_entry(s, &c->attr, &r->out.create.entry);
	vreq_reply(r, &r->out.create, sizeof(r->out.create), NULL, 0);
}

static void ops_write_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);

	if (c->err) {
		vreq_reply_err(r, c->err);
		return;
	}
	memset(&r->out.write, 0, sizeof(r->out.write));
	r->out.write.size = (uint32_t)c->count;
	vreq_reply(r, &r->out.write, sizeof(r->out.write), NULL, 0);
}

static void ops_statfs_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);
	struct fuse_kstatfs *k = &r->out.statfs.st;

	if (c->err) {
		vreq_reply_err(r, c->err);
		return;
	}
	memset(&r->out.statfs, 0, sizeof(r->out.statfs));
	k->blocks = c->st.blocks;
	k->bfree = c->st.bfree;
	k->bavail = c->st.bavail;
	k->files = c->st.files;
	k->ffree = c->st.ffree;
	k->bsize = c->st.bsize;
	k->frsize = c->st.frsize;
	k->namelen = c->st.namelen;
	vreq_reply(r, &r->out.statfs, sizeof(r->out.statfs), NULL, 0);
}

static void ops_getlk_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);

	if (c->err) {
		vreq_reply_err(r, c->err);
		return;
	}
	memset(&r->out.lk, 0, sizeof(r->out.lk));
	r->out.lk.lk.start = c->lock.start;
	r->out.lk.lk.end = c->lock.end;
	r->out.lk.lk.type = c->lock.type;
	r->out.lk.lk.pid = c->lock.pid;
	vreq_reply(r, &r->out.lk, sizeof(r->out.lk), NULL, 0);
}

static void ops_lseek_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);

	if (c->err) {
		vreq_reply_err(r, c->err);
		return;
	}
	r->out.lseek.offset = c->off;
	vreq_reply(r, &r->out.lseek, sizeof(r->out.lseek), NULL, 0);
}

static void ops_cfr_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);

	if (c->err) {
		vreq_reply_err(r, c->err);
	} else if (r->in.opcode == FUSE_COPY_FILE_RANGE_64) {
		r->out.cfr.bytes_copied = c->count;
		vreq_reply(r, &r->out.cfr, sizeof(r->out.cfr), NULL, 0);
	} else {
		memset(&r->out.write, 0, sizeof(r->out.write));
		r->out.write.size = (uint32_t)c->count;
		vreq_reply(r, &r->out.write, sizeof(r->out.write), NULL, 0);
	}
}

static void ops_release_done(struct bcall *c)
{
	vreq_reply_err(vreq_of(c), c->err);
}

/* ------------------------------------------------------------------ */
/* Handlers                                                            */

static void ops_lookup(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_lookup_done);
	b->ops->lookup(b, &r->ctx, r->in.nodeid, r->in.u.name.name, &r->call);
}

static void ops_forget_one(struct vsession *s, uint64_t ino, uint64_t n)
{
	if (ino == FUSE_ROOT_ID)
		return;	/* the root lives as long as the mount */
	if (itable_unref(s->it, ino, n) == 1)
		s->bk->ops->forget(s->bk, ino);
}

static void ops_forget(struct vreq *r)
{
	ops_forget_one(vreq_s(r), r->in.nodeid, r->in.u.forget.nlookup);
	vreq_done_noreply(r);
}

static void ops_batch_forget(struct vreq *r)
{
	const struct fuse_forget_one *it = r->in.u.batch_forget.items;

	for (uint32_t i = 0; i < r->in.u.batch_forget.count; i++)
		ops_forget_one(vreq_s(r), it[i].nodeid, it[i].nlookup);
	vreq_done_noreply(r);
}

static void ops_getattr(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_attr_done);
	b->ops->getattr(b, &r->ctx, r->in.nodeid, &r->call);
}

static void ops_setattr(struct vreq *r)
{
	const struct fuse_setattr_in *in = &r->in.u.setattr;
	struct backend *b = vreq_bk(r);
	struct vsetattr sa = { 0 };

	if (in->valid & FATTR_FH) {
		if (vreq_handle(r, in->fh, &r->h))
			return;
		sa.fh = r->h.bfh;
		sa.has_fh = 1;
	}
	if (in->valid & FATTR_MODE) {
		sa.valid |= VSET_MODE;
		sa.mode = in->mode & 07777;
	}
	if (in->valid & FATTR_UID) {
		sa.valid |= VSET_UID;
		sa.uid = in->uid;
	}
	if (in->valid & FATTR_GID) {
		sa.valid |= VSET_GID;
		sa.gid = in->gid;
	}
	if (in->valid & FATTR_SIZE) {
		sa.valid |= VSET_SIZE;
		sa.size = in->size;
	}
	if (in->valid & FATTR_ATIME_NOW) {
		sa.valid |= VSET_ATIME_NOW;
	} else if (in->valid & FATTR_ATIME) {
		sa.valid |= VSET_ATIME;
		sa.atime.tv_sec = (time_t)in->atime;
		sa.atime.tv_nsec = in->atimensec;
	}
	if (in->valid & FATTR_MTIME_NOW) {
		sa.valid |= VSET_MTIME_NOW;
	} else if (in->valid & FATTR_MTIME) {
		sa.valid |= VSET_MTIME;
		sa.mtime.tv_sec = (time_t)in->mtime;
		sa.mtime.tv_nsec = in->mtimensec;
	}
	if (in->valid & FATTR_CTIME) {
		sa.valid |= VSET_CTIME;
		sa.ctime.tv_sec = (time_t)in->ctime;
		sa.ctime.tv_nsec = in->ctimensec;
	}
	if (in->valid & FATTR_KILL_SUIDGID)
		sa.valid |= VSET_KILL_SUIDGID;
	vreq_bcall_init(r, ops_attr_done);
	b->ops->setattr(b, &r->ctx, r->in.nodeid, &sa, &r->call);
}

static void ops_readlink(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_data_done);
	r->call.buf = r->data;
	r->call.cap = r->data_cap;
	b->ops->readlink(b, &r->ctx, r->in.nodeid, &r->call);
}

static void ops_symlink(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_entry_done);
	b->ops->symlink(b, &r->ctx, r->in.nodeid, r->in.u.symlink.name,
			r->in.u.symlink.target, &r->call);
}

static void ops_mknod(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_entry_done);
	b->ops->mknod(b, &r->ctx, r->in.nodeid, r->in.u.mknod.name,
		      r->in.u.mknod.in.mode, r->in.u.mknod.in.rdev, &r->call);
}

static void ops_mkdir(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_entry_done);
	b->ops->mkdir(b, &r->ctx, r->in.nodeid, r->in.u.mkdir.name,
		      S_IFDIR | (r->in.u.mkdir.in.mode & 07777), &r->call);
}

static void ops_unlink(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_err_done);
	b->ops->unlink(b, &r->ctx, r->in.nodeid, r->in.u.name.name, &r->call);
}

static void ops_rmdir(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_err_done);
	b->ops->rmdir(b, &r->ctx, r->in.nodeid, r->in.u.name.name, &r->call);
}

static void ops_rename(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	if (r->in.u.rename.flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		vreq_reply_err(r, -EINVAL);	/* RENAME_WHITEOUT: overlayfs only */
		return;
	}
	vreq_bcall_init(r, ops_err_done);
	b->ops->rename(b, &r->ctx, r->in.nodeid, r->in.u.rename.oldname,
		       r->in.u.rename.newdir, r->in.u.rename.newname,
		       r->in.u.rename.flags, &r->call);
}

static void ops_link(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_entry_done);
	b->ops->link(b, &r->ctx, r->in.u.link.oldnodeid, r->in.nodeid,
		     r->in.u.link.name, &r->call);
}

static void ops_open(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_open_done);
	b->ops->open(b, &r->ctx, r->in.nodeid, r->in.u.open.flags, &r->call);
}

static void ops_create(struct vreq *r)
{
	const struct fuse_create_in *in = &r->in.u.create.in;
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_create_done);
	if (r->in.opcode == FUSE_TMPFILE)
		b->ops->tmpfile(b, &r->ctx, r->in.nodeid,
				S_IFREG | (in->mode & 07777), in->flags,
				&r->call);
	else
		b->ops->create(b, &r->ctx, r->in.nodeid, r->in.u.create.name,
			       S_IFREG | (in->mode & 07777), in->flags,
			       &r->call);
}

static void ops_read(struct vreq *r)
{
	const struct fuse_read_in *in = &r->in.u.read;
	struct backend *b = vreq_bk(r);

	if (in->size > r->data_cap) {
		vreq_reply_err(r, -EINVAL);
		return;
	}
	if (vreq_handle(r, in->fh, &r->h))
		return;
	vreq_bcall_init(r, ops_data_done);
	r->call.buf = r->data;
	r->call.cap = in->size;
	b->ops->read(b, r->h.ino, r->h.bfh, in->offset, in->size, &r->call);
}

static void ops_write(struct vreq *r)
{
	const struct fuse_write_in *in = &r->in.u.write.in;
	struct backend *b = vreq_bk(r);

	if (vreq_handle(r, in->fh, &r->h))
		return;
	vreq_bcall_init(r, ops_write_done);
	b->ops->write(b, &r->ctx, r->h.ino, r->h.bfh, in->offset,
		      r->in.u.write.data, in->size,
		      !!(in->write_flags & FUSE_WRITE_KILL_SUIDGID), &r->call);
}

static void ops_statfs(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_statfs_done);
	b->ops->statfs(b, r->in.nodeid, &r->call);
}

static void ops_release(struct vreq *r)
{
	const struct fuse_release_in *in = &r->in.u.release;
	struct backend *b = vreq_bk(r);
	struct vhandle h;

	if (htable_del(vreq_s(r)->ht, in->fh, &h)) {
		vreq_reply_err(r, -EBADF);
		return;
	}
	vreq_bcall_init(r, ops_release_done);
	if (r->in.opcode == FUSE_RELEASEDIR)
		b->ops->releasedir(b, h.ino, h.bfh, &r->call);
	else
		b->ops->release(b, h.ino, h.bfh, in->flags,
				(in->release_flags & FUSE_RELEASE_FLOCK_UNLOCK) ?
					in->lock_owner : 0,
				&r->call);
}

static void ops_fsync(struct vreq *r)
{
	const struct fuse_fsync_in *in = &r->in.u.fsync;
	struct backend *b = vreq_bk(r);
	int datasync = !!(in->fsync_flags & FUSE_FSYNC_FDATASYNC);

	if (vreq_handle(r, in->fh, &r->h))
		return;
	vreq_bcall_init(r, ops_err_done);
	if (r->in.opcode == FUSE_FSYNCDIR)
		b->ops->fsyncdir(b, r->h.ino, r->h.bfh, datasync, &r->call);
	else
		b->ops->fsync(b, r->h.ino, r->h.bfh, datasync, &r->call);
}

static void ops_setxattr(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_err_done);
	b->ops->setxattr(b, &r->ctx, r->in.nodeid, r->in.u.setxattr.name,
			 r->in.u.setxattr.value, r->in.u.setxattr.size,
			 r->in.u.setxattr.flags, &r->call);
}

static void ops_getxattr(struct vreq *r)
{
	struct backend *b = vreq_bk(r);
	uint32_t size = r->in.u.getxattr.size;

	vreq_bcall_init(r, ops_xattr_done);
	r->call.buf = r->data;
	r->call.cap = size < r->data_cap ? size : r->data_cap;
	if (r->in.opcode == FUSE_LISTXATTR)
		b->ops->listxattr(b, &r->ctx, r->in.nodeid, &r->call);
	else
		b->ops->getxattr(b, &r->ctx, r->in.nodeid,
				 r->in.u.getxattr.name, &r->call);
}

static void ops_removexattr(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_err_done);
	b->ops->removexattr(b, &r->ctx, r->in.nodeid, r->in.u.name.name,
			    &r->call);
}

static void ops_flush(struct vreq *r)
{
	const struct fuse_flush_in *in = &r->in.u.flush;
	struct backend *b = vreq_bk(r);

	if (vreq_handle(r, in->fh, &r->h))
		return;
	vreq_bcall_init(r, ops_err_done);
	b->ops->flush(b, r->h.ino, r->h.bfh, in->lock_owner, &r->call);
}

static void ops_init_again(struct vreq *r)
{
	vlog_warn("second INIT on an initialized session; refused");
	vreq_reply_err(r, -EPROTO);
}

static void ops_opendir(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_open_done);
	b->ops->opendir(b, &r->ctx, r->in.nodeid, r->in.u.open.flags,
			&r->call);
}

/* READDIR(PLUS) sink: append one entry to r->data. */
static int ops_readdir_fill(void *ctx, const char *name, size_t namelen,
			    uint64_t ino, uint32_t mode, uint64_t next_off,
			    const struct vattr *attr)
{
	struct vreq *r = ctx;
	struct vsession *s = vreq_s(r);
	size_t cap = r->in.u.read.size < r->data_cap ? r->in.u.read.size :
						       r->data_cap;
	uint32_t type = (mode & S_IFMT) >> 12;
	size_t pos;

	if (r->in.opcode == FUSE_READDIR) {
		pos = fuse_dirent_add(r->data, cap, r->data_len, name, namelen,
				      ino, type, next_off);
	} else {
		struct fuse_entry_out e;

		if (attr) {
			vreq_fill_entry(s, attr, &e);
		} else {
			/* ".", "..": nodeid 0 means no lookup is counted; the
			 * encoder takes the dirent's ino from attr.ino. */
			memset(&e, 0, sizeof(e));
			e.attr.ino = ino;
			e.attr.mode = mode;
		}
		pos = fuse_direntplus_add(r->data, cap, r->data_len, name,
					  namelen, &e, type, next_off);
		/* The kernel counts a lookup for every entry it links. */
		if (pos != r->data_len && attr && itable_ref(s->it, ino, 1)) {
			pos = r->data_len;	/* no memory: end the page */
		}
	}
	if (pos == r->data_len)
		return 1;
	r->data_len = pos;
	return 0;
}

static void ops_readdir_done(struct bcall *c)
{
	struct vreq *r = vreq_of(c);

	/* An error after some entries were produced still returns them. */
	if (c->err && r->data_len == 0)
		vreq_reply_err(r, c->err);
	else
		vreq_reply(r, NULL, 0, r->data, r->data_len);
}

static void ops_readdir(struct vreq *r)
{
	const struct fuse_read_in *in = &r->in.u.read;
	struct backend *b = vreq_bk(r);

	if (vreq_handle(r, in->fh, &r->h))
		return;
	r->data_len = 0;
	vreq_bcall_init(r, ops_readdir_done);
	b->ops->readdir(b, r->h.ino, r->h.bfh, in->offset,
			r->in.opcode == FUSE_READDIRPLUS, ops_readdir_fill, r,
			&r->call);
}

static void ops_access(struct vreq *r)
{
	struct backend *b = vreq_bk(r);

	vreq_bcall_init(r, ops_err_done);
	b->ops->access(b, &r->ctx, r->in.nodeid, r->in.u.access.mask,
		       &r->call);
}

static void ops_getlk(struct vreq *r)
{
	const struct fuse_lk_in *in = &r->in.u.lk;
	struct backend *b = vreq_bk(r);
	struct vlock lk = {
		.start = in->lk.start, .end = in->lk.end,
		.type = in->lk.type, .pid = in->lk.pid,
	};

	if (vreq_handle(r, in->fh, &r->h))
		return;
	vreq_bcall_init(r, ops_getlk_done);
	b->ops->getlk(b, r->h.ino, r->h.bfh, in->owner, &lk, &r->call);
}

static void ops_setlk(struct vreq *r)
{
	const struct fuse_lk_in *in = &r->in.u.lk;
	struct vsession *s = vreq_s(r);
	struct backend *b = vreq_bk(r);
	int wait = r->in.opcode == FUSE_SETLKW;
	struct vlock lk = {
		.start = in->lk.start, .end = in->lk.end,
		.type = in->lk.type, .pid = in->lk.pid,
	};

	if (vreq_handle(r, in->fh, &r->h))
		return;
	if (wait) {
		/* It may park: let INTERRUPT find it. */
		pthread_mutex_lock(&s->pending_lock);
		r->next = s->pending;
		s->pending = r;
		r->pending = 1;
		pthread_mutex_unlock(&s->pending_lock);
	}
	vreq_bcall_init(r, ops_err_done);
	b->ops->setlk(b, r->h.ino, r->h.bfh, in->owner, &lk, wait,
		      !!(in->lk_flags & FUSE_LK_FLOCK), &r->call);
}

static void ops_interrupt(struct vreq *r)
{
	struct vsession *s = vreq_s(r);
	uint64_t target = r->in.u.interrupt.unique;
	struct vreq *p;
	struct bcall *c = NULL;

	/*
	 * pending_lock is held across the backend's interrupt so the target
	 * cannot complete, be recycled and park again as another request in
	 * between. If interrupt completes it, done() runs here and
	 * vreq_release() takes pending_lock again: the mutex is recursive.
	 * Lock order: pending_lock, then the backend's locks (a backend never
	 * calls done() under its own locks).
	 */
	pthread_mutex_lock(&s->pending_lock);
	for (p = s->pending; p; p = p->next) {
		if (p->in.unique == target) {
			c = &p->call;
			break;
		}
	}
	if (c && s->bk->ops->interrupt(s->bk, c))
		vlog_debug("interrupted unique=%" PRIu64, target);
	pthread_mutex_unlock(&s->pending_lock);
	vreq_done_noreply(r);
}

static void ops_destroy(struct vreq *r)
{
	vlog_info("kernel sent DESTROY");
	vreq_reply_err(r, 0);
	vsession_stop(vreq_s(r));
}

static void ops_fallocate(struct vreq *r)
{
	const struct fuse_fallocate_in *in = &r->in.u.fallocate;
	struct backend *b = vreq_bk(r);

	if (vreq_handle(r, in->fh, &r->h))
		return;
	vreq_bcall_init(r, ops_err_done);
	b->ops->fallocate(b, r->h.ino, r->h.bfh, in->mode, in->offset,
			  in->length, &r->call);
}

static void ops_lseek(struct vreq *r)
{
	const struct fuse_lseek_in *in = &r->in.u.lseek;
	struct backend *b = vreq_bk(r);

	if (in->whence != SEEK_DATA && in->whence != SEEK_HOLE) {
		vreq_reply_err(r, -EINVAL);
		return;
	}
	if (vreq_handle(r, in->fh, &r->h))
		return;
	vreq_bcall_init(r, ops_lseek_done);
	b->ops->lseek(b, r->h.ino, r->h.bfh, in->offset, in->whence, &r->call);
}

static void ops_copy_file_range(struct vreq *r)
{
	const struct fuse_copy_file_range_in *in = &r->in.u.copy_file_range;
	struct vsession *s = vreq_s(r);
	struct backend *b = vreq_bk(r);
	struct vhandle hin, hout;
	uint64_t len = in->len;

	if (htable_get(s->ht, in->fh_in, &hin) || hin.ino != r->in.nodeid ||
	    htable_get(s->ht, in->fh_out, &hout) ||
	    hout.ino != in->nodeid_out) {
		vreq_reply_err(r, -EBADF);
		return;
	}
	if (in->flags) {
		vreq_reply_err(r, -EINVAL);
		return;
	}
	/* The 32-bit reply of the old opcode caps what one call may copy. */
	if (r->in.opcode == FUSE_COPY_FILE_RANGE && len > UINT32_MAX)
		len = UINT32_MAX & ~4095u;
	vreq_bcall_init(r, ops_cfr_done);
	b->ops->copy_file_range(b, &r->ctx, hin.ino, hin.bfh, in->off_in,
				hout.ino, hout.bfh, in->off_out, len, &r->call);
}

static void ops_syncfs(struct vreq *r)
{
	vreq_reply_err(r, 0);	/* every backend write is already durable here */
}

static void ops_enosys(struct vreq *r)
{
	vreq_reply_err(r, -ENOSYS);
}

static void ops_notify_reply(struct vreq *r)
{
	vreq_done_noreply(r);	/* no RETRIEVE is ever sent */
}

typedef void (*vop_fn)(struct vreq *r);

/* Opcode -> handler. Holes and opcodes past the end get -ENOSYS. */
static const vop_fn vops[] = {
	[FUSE_LOOKUP] = ops_lookup,
	[FUSE_FORGET] = ops_forget,
	[FUSE_GETATTR] = ops_getattr,
	[FUSE_SETATTR] = ops_setattr,
	[FUSE_READLINK] = ops_readlink,
	[FUSE_SYMLINK] = ops_symlink,
	[FUSE_MKNOD] = ops_mknod,
	[FUSE_MKDIR] = ops_mkdir,
	[FUSE_UNLINK] = ops_unlink,
	[FUSE_RMDIR] = ops_rmdir,
	[FUSE_RENAME] = ops_rename,
	[FUSE_LINK] = ops_link,
	[FUSE_OPEN] = ops_open,
	[FUSE_READ] = ops_read,
	[FUSE_WRITE] = ops_write,
	[FUSE_STATFS] = ops_statfs,
	[FUSE_RELEASE] = ops_release,
	[FUSE_FSYNC] = ops_fsync,
	[FUSE_SETXATTR] = ops_setxattr,
	[FUSE_GETXATTR] = ops_getxattr,
	[FUSE_LISTXATTR] = ops_getxattr,
	[FUSE_REMOVEXATTR] = ops_removexattr,
	[FUSE_FLUSH] = ops_flush,
	[FUSE_INIT] = ops_init_again,
	[FUSE_OPENDIR] = ops_opendir,
	[FUSE_READDIR] = ops_readdir,
	[FUSE_RELEASEDIR] = ops_release,
	[FUSE_FSYNCDIR] = ops_fsync,
	[FUSE_GETLK] = ops_getlk,
	[FUSE_SETLK] = ops_setlk,
	[FUSE_SETLKW] = ops_setlk,
	[FUSE_ACCESS] = ops_access,
	[FUSE_CREATE] = ops_create,
	[FUSE_INTERRUPT] = ops_interrupt,
	[FUSE_BMAP] = ops_enosys,	/* block devices only */
	[FUSE_DESTROY] = ops_destroy,
	[FUSE_IOCTL] = ops_enosys,
	[FUSE_POLL] = ops_enosys,	/* kernel then treats files as ready */
	[FUSE_NOTIFY_REPLY] = ops_notify_reply,
	[FUSE_BATCH_FORGET] = ops_batch_forget,
	[FUSE_FALLOCATE] = ops_fallocate,
	[FUSE_READDIRPLUS] = ops_readdir,
	[FUSE_RENAME2] = ops_rename,
	[FUSE_LSEEK] = ops_lseek,
	[FUSE_COPY_FILE_RANGE] = ops_copy_file_range,
	[FUSE_SETUPMAPPING] = ops_enosys,	/* DAX: virtiofs only */
	[FUSE_REMOVEMAPPING] = ops_enosys,
	[FUSE_SYNCFS] = ops_syncfs,
	[FUSE_TMPFILE] = ops_create,
	[FUSE_STATX] = ops_enosys,	/* kernel falls back to GETATTR */
	[FUSE_COPY_FILE_RANGE_64] = ops_copy_file_range,
};

void vreq_dispatch(struct vreq *r)
{
	struct vsession *s = vreq_s(r);
	int ret;

	r->t_start_ns = vloop_now_ns();
	r->pending = 0;
	r->reply_err = 0;
	VPROBE_REQ_ARRIVE(((const struct fuse_in_header *)r->buf)->opcode,
			  ((const struct fuse_in_header *)r->buf)->unique,
			  r->len);
	ret = fuse_decode(r->buf, r->len, &s->dctx, &r->in);
	if (vlog_enabled(VLOG_DEBUG)) {
		char line[512];

		if (ret == 0)
			fuse_req_format(line, sizeof(line), &r->in);
		else
			snprintf(line, sizeof(line), "malformed %s (%u bytes)",
				 fuse_opcode_name(r->in.opcode), (unsigned)r->len);
		vlog_debug("w%d %s", r->w->id, line);
	}
	if (ret) {
		/* Nothing readable to answer to: drop it. */
		if (r->in.unique == 0 || fuse_opcode_noreply(r->in.opcode) ||
		    r->in.opcode == FUSE_INTERRUPT) {
			vlog_warn("dropped a malformed request (%zu bytes): %s",
				  r->len, strerror(-ret));
			vreq_done_noreply(r);
			return;
		}
		/* A long name is an ordinary error, not a malformed request. */
		if (ret != -ENOSYS && ret != -ENAMETOOLONG && ret != -ERANGE)
			vlog_warn("malformed %s unique=%" PRIu64 ": %s",
				  fuse_opcode_name(r->in.opcode), r->in.unique,
				  strerror(-ret));
		vreq_reply_err(r, ret == -EPROTO ? -EIO : ret);
		return;
	}
	r->ctx.uid = r->in.uid;
	r->ctx.gid = r->in.gid;
	r->ctx.pid = r->in.pid;
	r->ctx.umask = 0;	/* the kernel applied it (no FUSE_DONT_MASK) */
	r->ctx.check_perms = !s->cfg.default_permissions;
	if (r->in.opcode >= sizeof(vops) / sizeof(vops[0]) ||
	    !vops[r->in.opcode]) {
		vreq_reply_err(r, -ENOSYS);
		return;
	}
	VPROBE_REQ_DISPATCH(r->in.opcode, r->in.unique, r->in.nodeid);
	vops[r->in.opcode](r);
}

/* ------------------------------------------------------------------ */
/* INIT                                                                */

/* What valorfs asks for when the kernel offers it. */
static uint64_t vsession_wanted_flags(const struct vsession *s)
{
	uint64_t f = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC |
		     FUSE_BIG_WRITES | FUSE_FLOCK_LOCKS | FUSE_AUTO_INVAL_DATA |
		     FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
		     FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS |
		     FUSE_HANDLE_KILLPRIV_V2 | FUSE_MAX_PAGES |
		     FUSE_CACHE_SYMLINKS | FUSE_INIT_EXT |
		     FUSE_DIRECT_IO_ALLOW_MMAP | FUSE_NO_EXPORT_SUPPORT;

	if (s->cfg.writeback_cache)
		f |= FUSE_WRITEBACK_CACHE;
	if (s->want_fuse_uring)
		f |= FUSE_OVER_IO_URING;
	/* Informational for the kernel, but say what we do. */
	if (s->cfg.splice == VSPLICE_READ || s->cfg.splice == VSPLICE_BOTH)
		f |= FUSE_SPLICE_READ;
	if (s->cfg.splice == VSPLICE_WRITE || s->cfg.splice == VSPLICE_BOTH)
		f |= FUSE_SPLICE_WRITE | FUSE_SPLICE_MOVE;
	return f;
}

static void vsession_log_flags(const char *what, uint64_t flags)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = {
		{ FUSE_ASYNC_READ, "async_read" },
		{ FUSE_POSIX_LOCKS, "posix_locks" },
		{ FUSE_ATOMIC_O_TRUNC, "atomic_o_trunc" },
		{ FUSE_BIG_WRITES, "big_writes" },
		{ FUSE_SPLICE_WRITE, "splice_write" },
		{ FUSE_SPLICE_MOVE, "splice_move" },
		{ FUSE_SPLICE_READ, "splice_read" },
		{ FUSE_FLOCK_LOCKS, "flock_locks" },
		{ FUSE_AUTO_INVAL_DATA, "auto_inval_data" },
		{ FUSE_DO_READDIRPLUS, "readdirplus" },
		{ FUSE_READDIRPLUS_AUTO, "readdirplus_auto" },
		{ FUSE_ASYNC_DIO, "async_dio" },
		{ FUSE_WRITEBACK_CACHE, "writeback_cache" },
		{ FUSE_PARALLEL_DIROPS, "parallel_dirops" },
		{ FUSE_HANDLE_KILLPRIV_V2, "killpriv_v2" },
		{ FUSE_MAX_PAGES, "max_pages" },
		{ FUSE_CACHE_SYMLINKS, "cache_symlinks" },
		{ FUSE_DIRECT_IO_ALLOW_MMAP, "direct_io_allow_mmap" },
		{ FUSE_NO_EXPORT_SUPPORT, "no_export_support" },
		{ FUSE_OVER_IO_URING, "over_io_uring" },
	};
	char buf[600];
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((flags & names[i].bit) && n < sizeof(buf))
			n += snprintf(buf + n, sizeof(buf) - n, " %s",
				      names[i].name);
	vlog_info("%s:%s", what, buf);
}

int vsession_negotiate(struct vsession *s, const struct fuse_init_in *in,
		       struct fuse_init_out *out, size_t *outlen)
{
	uint64_t offered = in->flags;
	uint32_t pages;

	memset(out, 0, sizeof(*out));
	out->major = FUSE_KERNEL_VERSION;
	out->minor = FUSE_KERNEL_MINOR_VERSION;
	if (in->major < 7) {
		vlog_err("kernel FUSE protocol %u.%u is too old", in->major,
			 in->minor);
		return -EPROTO;
	}
	if (in->major > 7) {
		/* Answer with our major only; the kernel retries with 7. */
		*outlen = FUSE_COMPAT_INIT_OUT_SIZE;
		return 0;
	}
	if (in->flags & FUSE_INIT_EXT)
		offered |= (uint64_t)in->flags2 << 32;
	s->kernel_flags = offered;
	s->proto_minor = in->minor < FUSE_KERNEL_MINOR_VERSION ?
				 in->minor : FUSE_KERNEL_MINOR_VERSION;
	s->flags = offered & vsession_wanted_flags(s);
	if (!(offered & FUSE_INIT_EXT))
		s->flags &= 0xffffffffULL;

	pages = s->cfg.max_write / 4096;
	if (pages > 65535)
		pages = 65535;
	s->max_pages = (s->flags & FUSE_MAX_PAGES) ? pages : 32;
	s->max_write = s->cfg.max_write;
	if (!(s->flags & FUSE_MAX_PAGES) && s->max_write > 32 * 4096)
		s->max_write = 32 * 4096;

	out->minor = s->proto_minor < FUSE_KERNEL_MINOR_VERSION ?
			     s->proto_minor : FUSE_KERNEL_MINOR_VERSION;
	out->max_readahead = in->max_readahead < s->cfg.max_readahead ?
				     in->max_readahead : s->cfg.max_readahead;
	out->flags = (uint32_t)s->flags;
	out->flags2 = (uint32_t)(s->flags >> 32);
	out->max_background = (uint16_t)s->cfg.max_background;
	out->congestion_threshold = (uint16_t)s->cfg.congestion_threshold;
	out->max_write = s->max_write;
	out->time_gran = 1;
	out->max_pages = (uint16_t)s->max_pages;

	s->dctx.minor = s->proto_minor;
	s->dctx.flags = s->flags;
	*outlen = in->minor < 23 ? FUSE_COMPAT_22_INIT_OUT_SIZE : sizeof(*out);

	vlog_info("kernel FUSE %u.%u, speaking 7.%u; max_write %u, "
		  "max_pages %u, max_readahead %u, max_background %u",
		  in->major, in->minor, out->minor, out->max_write,
		  out->max_pages, out->max_readahead, out->max_background);
	vsession_log_flags("kernel offered", offered);
	vsession_log_flags("granted", s->flags);
	return 0;
}

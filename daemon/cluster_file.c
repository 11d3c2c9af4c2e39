/* SPDX-License-Identifier: MIT */
/*
 * cluster_file.c - open files: inode states, reads and writes, lengths,
 * flush, fsync, release, truncation.
 *
 * Lengths (DESIGN §4.4): a write is acknowledged once every replica has it;
 * metad learns the new length later, from SET_LENGTH at flush (every
 * close), fsync and release, and before any SETATTR on the inode (so a
 * `touch -d` after writing is not overwritten by the length report). Until
 * then this client's GETATTR answers the larger of metad's size and the
 * end of its own writes, and the time of its last write. Other clients see
 * the new length when the file is closed here and opened there
 * (close-to-open).
 *
 * The page cache is kept across opens while metad reports the same mtime
 * and size as at the previous open by this client; otherwise the open asks
 * the kernel to drop it (VOPEN_DROP_CACHE).
 */
#include "daemon/cluster_i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

/* ---- inode states ------------------------------------------------------- */

static struct vcl_istripe *vcl_istripe_of(struct vcl *cl, uint64_t ino)
{
	return &cl->istripes[(ino * 0x9E3779B97F4A7C15ull) >> 58];
}

static struct vcl_inode **vcl_ibucket(struct vcl_istripe *st, uint64_t ino)
{
	return &st->head[(ino ^ (ino >> 6) ^ (ino >> 12)) & 63];
}

pthread_mutex_t *vcl_inode_lock(struct vcl *cl, uint64_t ino)
{
	return &vcl_istripe_of(cl, ino)->lock;
}

static struct vcl_inode *vcl_inode_lookup(struct vcl *cl, uint64_t ino,
					  int create)
{
	struct vcl_istripe *st = vcl_istripe_of(cl, ino);
	struct vcl_inode **b = vcl_ibucket(st, ino), *in;

	pthread_mutex_lock(&st->lock);
	for (in = *b; in; in = in->next)
		if (in->ino == ino)
			break;
	if (in) {
		in->refs++;
		if (create && !in->table_ref) {
			in->table_ref = 1;
			in->refs++;
		}
	} else if (create) {
		in = calloc(1, sizeof(*in));
		if (in) {
			in->ino = ino;
			in->refs = 2;
			in->table_ref = 1;
			in->next = *b;
			*b = in;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return in;
}

struct vcl_inode *vcl_inode_get(struct vcl *cl, uint64_t ino)
{
	return vcl_inode_lookup(cl, ino, 1);
}

struct vcl_inode *vcl_inode_find(struct vcl *cl, uint64_t ino)
{
	return vcl_inode_lookup(cl, ino, 0);
}

/* Drop one reference, stripe lock held; frees at zero. */
static void vcl_inode_unref_locked(struct vcl_istripe *st,
				   struct vcl_inode *in)
{
	struct vcl_inode **pp;

	if (--in->refs)
		return;
	for (pp = vcl_ibucket(st, in->ino); *pp; pp = &(*pp)->next) {
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	}
	free(in);
}

void vcl_inode_put(struct vcl *cl, struct vcl_inode *in)
{
	struct vcl_istripe *st;

	if (!in)
		return;
	st = vcl_istripe_of(cl, in->ino);
	pthread_mutex_lock(&st->lock);
	vcl_inode_unref_locked(st, in);
	pthread_mutex_unlock(&st->lock);
}

void vcl_inode_forget(struct vcl *cl, uint64_t ino)
{
	struct vcl_istripe *st = vcl_istripe_of(cl, ino);
	struct vcl_inode *in;

	pthread_mutex_lock(&st->lock);
	for (in = *vcl_ibucket(st, ino); in; in = in->next)
		if (in->ino == ino)
			break;
	if (in && in->table_ref) {
		in->table_ref = 0;
		vcl_inode_unref_locked(st, in);
	}
	pthread_mutex_unlock(&st->lock);
}

void vcl_inodes_release(struct vcl *cl)
{
	for (unsigned s = 0; s < VCL_ISTRIPES; s++) {
		struct vcl_istripe *st = &cl->istripes[s];

		for (unsigned b = 0; b < 64; b++) {
			while (st->head[b]) {
				struct vcl_inode *in = st->head[b];

				st->head[b] = in->next;
				free(in);
			}
		}
		pthread_mutex_destroy(&st->lock);
	}
}

static int vcl_inode_dirty(struct vcl *cl, struct vcl_inode *in)
{
	int dirty;

	pthread_mutex_lock(vcl_inode_lock(cl, in->ino));
	dirty = in->wr_seq != in->rep_seq;
	pthread_mutex_unlock(vcl_inode_lock(cl, in->ino));
	return dirty;
}

static uint64_t vcl_inode_size(struct vcl *cl, struct vcl_inode *in)
{
	uint64_t size;

	pthread_mutex_lock(vcl_inode_lock(cl, in->ino));
	size = in->meta_size;
	if (in->wr_seq != in->rep_seq && in->wr_end > size)
		size = in->wr_end;
	pthread_mutex_unlock(vcl_inode_lock(cl, in->ino));
	return size;
}

static int vcl_ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* ---- open and create ----------------------------------------------------- */

static void vcl_orphan_closed(struct vcl_mop *m, int err,
			      const struct wire_meta_rep *rep)
{
	vcl_mop_free(m);
}

/*
 * An open metad granted but that fails here: close its session again, in
 * the background (or the session would last as long as this client).
 */
static void vcl_close_orphan(struct vcl_wk *wk, uint64_t ino)
{
	struct vcl_mop *m = vcl_mop_alloc(wk, WIRE_META_CLOSE, NULL,
					  vcl_orphan_closed);

	if (!m)
		return; /* the session goes when this client's lease does */
	wk->req->ino = ino;
	vcl_mop_start(m);
}

/* The open of @c (handle in c->fh) fails with @err after metad's OPEN. */
static void vcl_open_fail(struct vcl_wk *wk, struct bcall *c, int err)
{
	struct vcl_file *f = (struct vcl_file *)(uintptr_t)c->fh;

	vcl_close_orphan(wk, f->in->ino);
	vcl_inode_put(wk->cl, f->in);
	free(f);
	c->fh = 0;
	vcl_complete(c, err);
}

static void vcl_open_truncated(struct vcl_io *io, int err)
{
	struct bcall *c = vcl_io_arg(io);

	/* Chunks past the new length would come back if the file grew
	 * again: the open fails rather than risk that. */
	if (err) {
		vcl_open_fail(vcl_self(), c, err);
		return;
	}
	vcl_complete(c, 0);
}

static void vcl_done_open(struct vcl_mop *m, int err,
			  const struct wire_meta_rep *rep)
{
	struct vcl *cl = m->wk->cl;
	struct bcall *c = m->c;
	uint32_t flags = (uint32_t)m->u64[0];
	struct vcl_inode *in;
	struct vcl_file *f;
	int truncated;

	if (err)
		return vcl_mop_complete(m, err);
	if (!S_ISREG(rep->attr.mode) || !rep->layout.chunk_size) {
		vlog_warn("inode %llu: metad gave no data layout",
			  (unsigned long long)rep->attr.ino);
		vcl_close_orphan(m->wk, rep->attr.ino);
		return vcl_mop_complete(m, -EIO);
	}
	f = calloc(1, sizeof(*f));
	in = f ? vcl_inode_get(cl, rep->attr.ino) : NULL;
	if (!in) {
		free(f);
		vcl_close_orphan(m->wk, rep->attr.ino);
		return vcl_mop_complete(m, -ENOMEM);
	}
	f->in = in;
	f->flags = flags;
	truncated = (flags & O_TRUNC) && rep->trunc_ver > 0;
	pthread_mutex_lock(vcl_inode_lock(cl, in->ino));
	vcl_layout_from_wire(&rep->layout, &in->layout);
	in->have_layout = 1;
	in->mode = rep->attr.mode;
	if (rep->trunc_ver != in->trunc_ver) {
		/* Truncated since: writes this client has not reported
		 * belong to the old contents. */
		in->trunc_ver = rep->trunc_ver;
		if (in->wr_end > rep->attr.size)
			in->wr_end = rep->attr.size;
	}
	in->meta_size = rep->attr.size;
	if (in->seen && (!vcl_ts_eq(in->seen_mtime, rep->attr.mtime) ||
			 in->seen_size != rep->attr.size))
		c->open_flags |= VOPEN_DROP_CACHE;
	in->seen = 1;
	in->seen_mtime = rep->attr.mtime;
	in->seen_size = rep->attr.size;
	pthread_mutex_unlock(vcl_inode_lock(cl, in->ino));
	c->fh = (uint64_t)(uintptr_t)f;
	if (m->op == WIRE_META_CREATE)
		vcl_attr_from_wire(cl, &rep->attr, &c->attr);
	if (truncated) {
		struct vcl_layout l = in->layout;
		struct vcl_wk *wk = m->wk;

		/* O_TRUNC of an existing file: its chunks go before the
		 * open is answered, so no write of ours races the removal. */
		c->open_flags |= VOPEN_DROP_CACHE;
		vcl_mop_free(m);
		err = vcl_io_start(wk, VCL_IO_CUT, in->ino, &l, 0, 0, NULL,
				   vcl_open_truncated, c);
		if (err)
			vcl_open_fail(wk, c, err);
		return;
	}
	vcl_mop_complete(m, 0);
}

void vcl_open(struct backend *b, const struct vctx *x, uint64_t ino,
	      uint32_t flags, struct bcall *c)
{
	struct vcl_mop *m = vcl_mop_new(c, WIRE_META_OPEN, x, vcl_done_open);

	if (!m)
		return;
	m->u64[0] = flags;
	m->wk->req->ino = ino;
	m->wk->req->oflags = flags;
	vcl_mop_start(m);
}

void vcl_create(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, uint32_t mode, uint32_t flags,
		struct bcall *c)
{
	struct vcl_mop *m;

	if (strlen(name) > WIRE_META_NAME_MAX) {
		vcl_complete(c, -ENAMETOOLONG);
		return;
	}
	m = vcl_mop_new(c, WIRE_META_CREATE, x, vcl_done_open);
	if (!m)
		return;
	m->u64[0] = flags;
	m->wk->req->ino = parent;
	m->wk->req->mode = mode;
	m->wk->req->oflags = flags;
	strcpy(m->wk->req->name, name);
	vcl_mop_start(m);
}

void vcl_tmpfile(struct backend *b, const struct vctx *x, uint64_t parent,
		 uint32_t mode, uint32_t flags, struct bcall *c)
{
	/* metad has no unnamed files yet: open(2) reports EOPNOTSUPP. */
	vcl_complete(c, -EOPNOTSUPP);
}

/* ---- read and write -------------------------------------------------------- */

static void vcl_read_done(struct vcl_io *io, int err)
{
	struct bcall *c = vcl_io_arg(io);

	if (err)
		c->count = 0;
	vcl_complete(c, err);
}

void vcl_read(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
	      uint32_t size, struct bcall *c)
{
	struct vcl *cl = vcl_of(b);
	struct vcl_file *f = (struct vcl_file *)(uintptr_t)fh;
	struct vcl_wk *wk;
	struct vcl_layout l;
	uint64_t fsize;
	int ret;

	wk = vcl_self_for(c);
	if (!wk)
		return;
	fsize = vcl_inode_size(cl, f->in);
	if (off >= fsize || !size) {
		c->count = 0;
		vcl_complete(c, 0);
		return;
	}
	if (size > fsize - off)
		size = (uint32_t)(fsize - off);
	c->count = size;
	pthread_mutex_lock(vcl_inode_lock(cl, ino));
	l = f->in->layout;
	pthread_mutex_unlock(vcl_inode_lock(cl, ino));
	ret = vcl_io_start(wk, VCL_IO_READ, ino, &l, off, size, c->buf,
			   vcl_read_done, c);
	if (ret) {
		vcl_complete(c, ret);
	}
}

static void vcl_kill_done(struct vcl_mop *m, int err,
			  const struct wire_meta_rep *rep)
{
	/* The write itself succeeded: report that whatever this did. */
	if (err)
		vlog_warn("inode %llu: clearing set-id bits after a write: %s",
			  (unsigned long long)m->wk->req->ino, strerror(-err));
	vcl_mop_complete(m, 0);
}

static void vcl_write_done(struct vcl_io *io, int err)
{
	struct bcall *c = vcl_io_arg(io);
	struct vcl_wk *wk = vcl_self();
	struct vcl_file *f = (struct vcl_file *)(uintptr_t)c->bk_priv;
	struct vcl_inode *in = f->in;
	uint64_t end = c->off + c->count;
	struct timespec now;
	struct vcl_mop *m;
	int kill;

	if (err) {
		c->count = 0;
		vcl_complete(c, err);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(vcl_inode_lock(wk->cl, in->ino));
	if (end > in->wr_end)
		in->wr_end = end;
	in->wr_seq++;
	in->wr_mtime = now;
	kill = c->open_flags && (in->mode & (S_ISUID | S_ISGID));
	if (kill)
		in->mode &= ~(uint32_t)(S_ISUID | S_ISGID);
	pthread_mutex_unlock(vcl_inode_lock(wk->cl, in->ino));
	c->open_flags = 0;
	c->err = 0;
	if (!kill) {
		c->done(c);
		return;
	}
	/* killpriv v2: a write by an unprivileged caller clears the
	 * set-id bits; done as root, the caller may not chmod. */
	m = vcl_mop_new(c, WIRE_META_SETATTR, NULL, vcl_kill_done);
	if (!m)
		return;
	m->wk->req->ino = in->ino;
	memset(&m->wk->req->sa, 0, sizeof(m->wk->req->sa));
	m->wk->req->sa.valid = VSET_KILL_SUIDGID;
	vcl_mop_start(m);
}

void vcl_write(struct backend *b, const struct vctx *x, uint64_t ino,
	       uint64_t fh, uint64_t off, const void *data, uint32_t size,
	       int kill_suidgid, struct bcall *c)
{
	struct vcl *cl = vcl_of(b);
	struct vcl_file *f = (struct vcl_file *)(uintptr_t)fh;
	struct vcl_wk *wk;
	struct vcl_layout l;
	int ret;

	wk = vcl_self_for(c);
	if (!wk)
		return;
	if (off + size < off) {
		vcl_complete(c, -EFBIG);
		return;
	}
	/* (O_APPEND: the kernel already put @off at the end it knows.)
	 * The call carries what the completion needs. */
	c->off = off;
	c->count = size;
	c->bk_priv = f;
	c->open_flags = kill_suidgid;
	if (!size) {
		vcl_complete(c, 0);
		return;
	}
	pthread_mutex_lock(vcl_inode_lock(cl, ino));
	l = f->in->layout;
	pthread_mutex_unlock(vcl_inode_lock(cl, ino));
	ret = vcl_io_start(wk, VCL_IO_WRITE, ino, &l, off, size, (void *)data,
			   vcl_write_done, c);
	if (ret) {
		vcl_complete(c, ret);
	}
}

/* ---- flush, fsync, release, setattr: operations in steps ---------------- */

enum vcl_fop_kind {
	VCL_FOP_FLUSH,
	VCL_FOP_FSYNC,
	VCL_FOP_RELEASE,
	VCL_FOP_SETATTR,
};

/*
 * One multi-step operation. Steps run in order; each either starts a call
 * whose completion comes back to vcl_fop_next(), or is skipped. The first
 * error is kept; release goes on to its last step regardless (the handle
 * goes away whatever metad says).
 */
struct vcl_fop {
	struct bcall *c;
	struct vcl_wk *wk;
	enum vcl_fop_kind kind;
	int step;
	int err;
	uint64_t ino;
	struct vcl_inode *in; /* the file's, or (own_in) referenced, or NULL */
	int own_in;
	struct vcl_file *f;   /* release: freed at the end */
	uint64_t lock_owner;
	uint64_t seq; /* SET_LENGTH: the writes it reports */
	/* setattr */
	struct vctx x;
	struct vsetattr sa;
	struct vcl_layout l;
	uint64_t old_size, trunc_ver;
	int opened;
	struct vattr attr;
};

static void vcl_fop_next(struct vcl_fop *o);
static void vcl_fop_truncated(struct vcl_fop *o);

static void vcl_fop_finish(struct vcl_fop *o)
{
	struct bcall *c = o->c;

	if (o->kind == VCL_FOP_SETATTR && !o->err)
		c->attr = o->attr;
	if (o->own_in)
		vcl_inode_put(o->wk->cl, o->in);
	if (o->f) {
		vcl_inode_put(o->wk->cl, o->f->in);
		free(o->f);
	}
	c->err = o->err;
	free(o);
	c->done(c);
}

static void vcl_fop_mop_done(struct vcl_mop *m, int err,
			     const struct wire_meta_rep *rep)
{
	struct vcl_fop *o = m->arg;
	struct vcl *cl = o->wk->cl;
	struct vcl_inode *in = o->in;

	switch (m->op) {
	case WIRE_META_UNLOCK:
		pthread_mutex_lock(vcl_inode_lock(cl, o->ino));
		in->unlocking--;
		pthread_mutex_unlock(vcl_inode_lock(cl, o->ino));
		break;
	case WIRE_META_SET_LENGTH:
		if (err)
			break;
		pthread_mutex_lock(vcl_inode_lock(cl, o->ino));
		if (in->wr_seq == o->seq)
			in->rep_seq = o->seq;
		in->meta_size = rep->attr.size;
		in->seen_mtime = rep->attr.mtime;
		in->seen_size = rep->attr.size;
		pthread_mutex_unlock(vcl_inode_lock(cl, o->ino));
		break;
	case WIRE_META_OPEN:
		if (err)
			break;
		o->opened = 1;
		o->old_size = rep->attr.size;
		o->trunc_ver = rep->trunc_ver;
		vcl_layout_from_wire(&rep->layout, &o->l);
		break;
	case WIRE_META_SETATTR:
		if (!err)
			vcl_attr_from_wire(cl, &rep->attr, &o->attr);
		break;
	default:
		break;
	}
	if (err && m->op == WIRE_META_OPEN && err != -EISDIR &&
	    err != -EINVAL) {
		vlog_warn("inode %llu: truncate: %s", (unsigned long long)o->ino,
			  strerror(-err));
	}
	vcl_mop_free(m);
	if (err && !o->err)
		o->err = err;
	vcl_fop_next(o);
}

static void vcl_fop_io_done(struct vcl_io *io, int err)
{
	struct vcl_fop *o = vcl_io_arg(io);

	if (err && !o->err)
		o->err = err;
	vcl_fop_next(o);
}

/* Start a metad step: @fill sets its fields; returns 0 or -errno. */
static int vcl_fop_meta(struct vcl_fop *o, uint16_t op,
			const struct vctx *x)
{
	struct vcl_mop *m = vcl_mop_alloc(o->wk, op, x, vcl_fop_mop_done);
	struct wire_meta_req *q = o->wk->req;

	if (!m)
		return -ENOMEM;
	m->arg = o;
	q->ino = o->ino;
	switch (op) {
	case WIRE_META_SET_LENGTH:
		pthread_mutex_lock(vcl_inode_lock(o->wk->cl, o->ino));
		q->size = o->in->wr_end;
		q->trunc_ver = o->in->trunc_ver;
		o->seq = o->in->wr_seq;
		pthread_mutex_unlock(vcl_inode_lock(o->wk->cl, o->ino));
		break;
	case WIRE_META_OPEN:
		q->oflags = O_RDONLY;
		break;
	case WIRE_META_SETATTR:
		memset(&q->sa, 0, sizeof(q->sa));
		q->sa.valid = o->sa.valid;
		q->sa.mode = o->sa.mode;
		q->sa.uid = o->sa.uid;
		q->sa.gid = o->sa.gid;
		q->sa.size = o->sa.size;
		q->sa.atime = o->sa.atime;
		q->sa.mtime = o->sa.mtime;
		q->sa.ctime = o->sa.ctime;
		break;
	default:
		break;
	}
	vcl_mop_start(m);
	return 0;
}

static int vcl_fop_unlock(struct vcl_fop *o, uint32_t kind, uint64_t owner)
{
	struct vcl_mop *m = vcl_mop_alloc(o->wk, WIRE_META_UNLOCK, NULL,
					  vcl_fop_mop_done);
	struct wire_meta_req *q = o->wk->req;

	if (!m)
		return -ENOMEM;
	m->arg = o;
	pthread_mutex_lock(vcl_inode_lock(o->wk->cl, o->ino));
	o->in->unlocking++;
	pthread_mutex_unlock(vcl_inode_lock(o->wk->cl, o->ino));
	q->ino = o->ino;
	memset(&q->lock, 0, sizeof(q->lock));
	q->lock.kind = (uint8_t)kind;
	q->lock.owner = owner;
	q->lock.type = F_UNLCK;
	q->lock.end = UINT64_MAX;
	vcl_mop_start(m);
	return 0;
}

/* One step: 1 when a call was started, 0 when the step had nothing to do,
 * -errno when it could not start. */
static int vcl_fop_step(struct vcl_fop *o)
{
	struct vcl *cl = o->wk->cl;
	int ret;

	switch (o->kind) {
	case VCL_FOP_FLUSH:
		switch (o->step) {
		case 0:
			if (!vcl_inode_dirty(cl, o->in))
				return 0;
			ret = vcl_fop_meta(o, WIRE_META_SET_LENGTH, NULL);
			return ret ? ret : 1;
		case 1:
			if (!o->lock_owner || !o->in->posix_locks)
				return 0;
			ret = vcl_fop_unlock(o, WIRE_LOCK_POSIX, o->lock_owner);
			return ret ? ret : 1;
		}
		return -ENOENT;
	case VCL_FOP_FSYNC:
		switch (o->step) {
		case 0:
			pthread_mutex_lock(vcl_inode_lock(cl, o->ino));
			o->l = o->in->layout;
			pthread_mutex_unlock(vcl_inode_lock(cl, o->ino));
			ret = vcl_io_start(o->wk, VCL_IO_SYNC, o->ino, &o->l, 0,
					   0, NULL, vcl_fop_io_done, o);
			return ret ? ret : 1;
		case 1:
			if (o->err || !vcl_inode_dirty(cl, o->in))
				return 0;
			ret = vcl_fop_meta(o, WIRE_META_SET_LENGTH, NULL);
			return ret ? ret : 1;
		}
		return -ENOENT;
	case VCL_FOP_RELEASE:
		switch (o->step) {
		case 0: /* first: another process may be waiting for it */
			if (!o->lock_owner || !o->f->flock)
				return 0;
			ret = vcl_fop_unlock(o, WIRE_LOCK_FLOCK,
					     (uint64_t)(uintptr_t)o->f);
			return ret ? ret : 1;
		case 1:
			if (!vcl_inode_dirty(cl, o->in))
				return 0;
			ret = vcl_fop_meta(o, WIRE_META_SET_LENGTH, NULL);
			return ret ? ret : 1;
		case 2:
			ret = vcl_fop_meta(o, WIRE_META_CLOSE, NULL);
			return ret ? ret : 1;
		}
		return -ENOENT;
	case VCL_FOP_SETATTR:
		switch (o->step) {
		case 0:
			if (!o->in || !vcl_inode_dirty(cl, o->in))
				return 0;
			ret = vcl_fop_meta(o, WIRE_META_SET_LENGTH, NULL);
			return ret ? ret : 1;
		case 1: /* a size change needs the layout and old size */
			if (!(o->sa.valid & VSET_SIZE) || o->err)
				return 0;
			ret = vcl_fop_meta(o, WIRE_META_OPEN, &o->x);
			return ret ? ret : 1;
		case 2:
			if (o->err)
				return 0;
			ret = vcl_fop_meta(o, WIRE_META_SETATTR, &o->x);
			return ret ? ret : 1;
		case 3: /* cut the chunks past the new end */
			if (o->err || !o->opened || o->sa.size >= o->old_size)
				return 0;
			ret = vcl_io_start(o->wk, VCL_IO_CUT, o->ino, &o->l,
					   o->sa.size, 0, NULL, vcl_fop_io_done,
					   o);
			return ret ? ret : 1;
		case 4:
			if (!o->opened)
				return 0;
			if (!o->err)
				vcl_fop_truncated(o);
			ret = vcl_fop_meta(o, WIRE_META_CLOSE, NULL);
			return ret ? ret : 1;
		}
		return -ENOENT;
	}
	return -ENOENT;
}

static void vcl_fop_next(struct vcl_fop *o)
{
	int ret;

	for (;;) {
		ret = vcl_fop_step(o);
		o->step++;
		if (ret == 1)
			return; /* comes back here when the call is done */
		if (ret == -ENOENT)
			break; /* past the last step */
		if (ret < 0 && !o->err)
			o->err = ret;
	}
	vcl_fop_finish(o);
}

static struct vcl_fop *vcl_fop_new(struct bcall *c, enum vcl_fop_kind kind,
				   uint64_t ino)
{
	struct vcl_wk *wk;
	struct vcl_fop *o;

	wk = vcl_self_for(c);
	if (!wk)
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o) {
		vcl_complete(c, -ENOMEM);
		return NULL;
	}
	o->c = c;
	o->wk = wk;
	o->kind = kind;
	o->ino = ino;
	return o;
}

/* The inode state after a truncation by this client: its unreported
 * writes past the new end are gone, and its truncate version moved. */
static void vcl_fop_truncated(struct vcl_fop *o)
{
	struct vcl *cl = o->wk->cl;
	struct vcl_inode *in = vcl_inode_find(cl, o->ino);

	if (!in)
		return;
	pthread_mutex_lock(vcl_inode_lock(cl, o->ino));
	if (in->wr_end > o->sa.size)
		in->wr_end = o->sa.size;
	in->trunc_ver = o->trunc_ver + 1;
	in->meta_size = o->attr.size;
	pthread_mutex_unlock(vcl_inode_lock(cl, o->ino));
	vcl_inode_put(cl, in);
}

void vcl_flush(struct backend *b, uint64_t ino, uint64_t fh,
	       uint64_t lock_owner, struct bcall *c)
{
	struct vcl_file *f = (struct vcl_file *)(uintptr_t)fh;
	struct vcl_fop *o = vcl_fop_new(c, VCL_FOP_FLUSH, ino);

	if (!o)
		return;
	o->in = f->in;
	o->lock_owner = lock_owner;
	vcl_fop_next(o);
}

void vcl_fsync(struct backend *b, uint64_t ino, uint64_t fh, int datasync,
	       struct bcall *c)
{
	struct vcl_file *f = (struct vcl_file *)(uintptr_t)fh;
	struct vcl_fop *o = vcl_fop_new(c, VCL_FOP_FSYNC, ino);

	if (!o)
		return;
	o->in = f->in;
	vcl_fop_next(o);
}

void vcl_release(struct backend *b, uint64_t ino, uint64_t fh, uint32_t flags,
		 uint64_t lock_owner, struct bcall *c)
{
	struct vcl_file *f = (struct vcl_file *)(uintptr_t)fh;
	struct vcl_fop *o = vcl_fop_new(c, VCL_FOP_RELEASE, ino);

	if (!o) {
		vcl_inode_put(vcl_of(b), f->in);
		free(f);
		return;
	}
	o->f = f; /* freed, with its inode reference, at the end */
	o->in = f->in;
	o->lock_owner = lock_owner;
	vcl_fop_next(o);
}

void vcl_setattr(struct backend *b, const struct vctx *x, uint64_t ino,
		 const struct vsetattr *sa, struct bcall *c)
{
	struct vcl_fop *o = vcl_fop_new(c, VCL_FOP_SETATTR, ino);

	if (!o)
		return;
	o->x = *x;
	o->sa = *sa;
	o->in = vcl_inode_find(vcl_of(b), ino);
	o->own_in = 1;
	vcl_fop_next(o);
}

/* ---- fallocate, lseek ------------------------------------------------------ */

/* The file's contents changed here (zeros written): like a write. */
static void vcl_inode_touched(struct vcl *cl, struct vcl_inode *in,
			      uint64_t end)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(vcl_inode_lock(cl, in->ino));
	if (end > in->wr_end)
		in->wr_end = end;
	in->wr_seq++;
	in->wr_mtime = now;
	pthread_mutex_unlock(vcl_inode_lock(cl, in->ino));
}

static void vcl_zero_done(struct vcl_io *io, int err)
{
	struct bcall *c = vcl_io_arg(io);
	struct vcl_file *f = c->bk_priv;

	if (!err)
		vcl_inode_touched(vcl_self()->cl, f->in, c->off);
	vcl_complete(c, err);
}

/*
 * Chunks are sparse and space is not reserved: KEEP_SIZE alone is a no-op
 * and mode 0 only grows the file. PUNCH_HOLE and ZERO_RANGE write zeros
 * (the range reads back as zeros; st_blocks follows the size in this
 * backend, so punching frees no space that stat(2) would show).
 */
void vcl_fallocate(struct backend *b, uint64_t ino, uint64_t fh,
		   uint32_t mode, uint64_t off, uint64_t len, struct bcall *c)
{
	struct vcl *cl = vcl_of(b);
	struct vcl_file *f = (struct vcl_file *)(uintptr_t)fh;
	struct vcl_wk *wk;
	uint64_t size = vcl_inode_size(cl, f->in), end = off + len;
	int keep = !!(mode & FALLOC_FL_KEEP_SIZE);
	struct vcl_layout l;
	int ret;

	mode &= ~(uint32_t)FALLOC_FL_KEEP_SIZE;
	if (end < off) {
		vcl_complete(c, -EFBIG);
		return;
	}
	if (mode == 0) {
		if (!keep && end > size)
			vcl_inode_touched(cl, f->in, end);
		vcl_complete(c, 0);
		return;
	}
	if ((mode != FALLOC_FL_PUNCH_HOLE && mode != FALLOC_FL_ZERO_RANGE) ||
	    (mode == FALLOC_FL_PUNCH_HOLE && !keep)) {
		vcl_complete(c, -EOPNOTSUPP);
		return;
	}
	wk = vcl_self_for(c);
	if (!wk)
		return;
	if (keep && end > size)
		end = size; /* nothing past the end changes */
	c->bk_priv = f;
	c->off = keep ? 0 : end; /* the new end, when it grows */
	if (end <= off) { /* all of it past the end, size kept */
		vcl_complete(c, 0);
		return;
	}
	pthread_mutex_lock(vcl_inode_lock(cl, ino));
	l = f->in->layout;
	pthread_mutex_unlock(vcl_inode_lock(cl, ino));
	ret = vcl_io_start(wk, VCL_IO_ZERO, ino, &l, off, end - off, NULL,
			   vcl_zero_done, c);
	if (ret) {
		vcl_complete(c, ret);
	}
}

/*
 * SEEK_DATA / SEEK_HOLE from the chunks that exist: data is [i * chunk,
 * i * chunk + length) of every chunk i a storage target holds; the rest
 * of the file, up to its size, is a hole. Precision is the chunk's length,
 * not zeros written inside it.
 */
struct vcl_seek {
	struct bcall *c;
	struct vcl_wk *wk;
	struct vcl_layout l;
	uint64_t ino, off, size;
	uint32_t whence;
	unsigned rounds;
};

static int vcl_seek_query(struct vcl_seek *sk, uint64_t from_chunk);

int vcl_seek_find(uint32_t whence, uint64_t off, uint64_t size,
		  uint32_t chunk_size, const struct vcl_chunk_rec *r, size_t n,
		  uint64_t complete, uint64_t *out, uint64_t *again)
{
	uint64_t cs = chunk_size, pos = off, c = pos / cs;
	size_t i = 0;

	if (whence == SEEK_DATA) {
		for (i = 0; i < n; i++) {
			uint64_t s0 = r[i].index * cs, e0 = s0 + r[i].length;

			if (r[i].index > complete)
				break;
			if (!r[i].length || e0 <= pos)
				continue;
			*out = pos > s0 ? pos : s0;
			return 1;
		}
		if (complete == UINT64_MAX || (complete + 1) * cs >= size) {
			*out = UINT64_MAX; /* no data past @off: ENXIO */
			return 1;
		}
		*again = complete + 1;
		return 0;
	}
	for (;;) {
		if (c * cs >= size) {
			*out = size;
			return 1;
		}
		if (c > complete) {
			*again = c;
			return 0;
		}
		while (i < n && r[i].index < c)
			i++;
		if (i == n || r[i].index != c) {
			*out = pos > c * cs ? pos : c * cs; /* a missing chunk */
			return 1;
		}
		if (r[i].length < cs) {
			*out = pos < c * cs + r[i].length ? c * cs + r[i].length
							  : pos;
			return 1;
		}
		c++;
		pos = c * cs;
	}
}

static void vcl_seek_done(struct vcl_io *io, int err)
{
	struct vcl_seek *sk = vcl_io_arg(io);
	struct bcall *c = sk->c;
	const struct vcl_chunk_rec *r;
	uint64_t complete, out = 0, again = 0;
	size_t n;

	if (!err) {
		vcl_io_map(io, &r, &n, &complete);
		if (!vcl_seek_find(sk->whence, sk->off, sk->size,
				   sk->l.chunk_size, r, n, complete, &out,
				   &again)) {
			/* Past a full page of chunk records: the next one. */
			if (sk->whence == SEEK_HOLE && again * sk->l.chunk_size >
							       sk->off)
				sk->off = again * sk->l.chunk_size;
			if (sk->whence == SEEK_DATA)
				sk->off = again * sk->l.chunk_size;
			err = vcl_seek_query(sk, again);
			if (!err)
				return;
		}
	}
	/* A hole at or past the end is the end; data there is none. */
	if (!err && out >= sk->size && sk->whence == SEEK_DATA)
		err = -ENXIO;
	if (!err)
		c->off = out < sk->size ? out : sk->size;
	free(sk);
	vcl_complete(c, err);
}

static int vcl_seek_query(struct vcl_seek *sk, uint64_t from_chunk)
{
	if (++sk->rounds > 1000000)
		return -EIO;
	return vcl_io_start(sk->wk, VCL_IO_MAP, sk->ino, &sk->l, from_chunk, 0,
			    NULL, vcl_seek_done, sk);
}

void vcl_lseek(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
	       uint32_t whence, struct bcall *c)
{
	struct vcl *cl = vcl_of(b);
	struct vcl_file *f = (struct vcl_file *)(uintptr_t)fh;
	struct vcl_wk *wk;
	uint64_t size = vcl_inode_size(cl, f->in);
	struct vcl_seek *sk;
	int ret;

	if (off >= size) {
		vcl_complete(c, -ENXIO);
		return;
	}
	wk = vcl_self_for(c);
	if (!wk)
		return;
	sk = calloc(1, sizeof(*sk));
	if (!sk) {
		vcl_complete(c, -ENOMEM);
		return;
	}
	sk->c = c;
	sk->wk = wk;
	sk->off = off;
	sk->size = size;
	sk->whence = whence;
	pthread_mutex_lock(vcl_inode_lock(cl, ino));
	sk->l = f->in->layout;
	pthread_mutex_unlock(vcl_inode_lock(cl, ino));
	sk->ino = ino;
	ret = vcl_seek_query(sk, off / sk->l.chunk_size);
	if (ret) {
		free(sk);
		vcl_complete(c, ret);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * cluster_meta.c - the namespace through metad.
 *
 * A metad call (struct vcl_mop) is encoded once and sent with a request id
 * metad uses to answer a retry with the outcome of the first try (it keeps
 * it in the same transaction as the change), so every call may be resent:
 * after a timeout or a lost connection it goes again, to the next metad
 * when there are several, until the backend's timeout passes. Statuses
 * that metad itself answered are final.
 */
#include "daemon/cluster_i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"


/* Local statuses worth another try: the server may answer next time. */
static int vcl_meta_retryable(int err)
{
	return err == -ETIMEDOUT || err == -ECONNRESET ||
	       err == -ECONNREFUSED || err == -ENOTCONN ||
	       err == -EHOSTUNREACH || err == -ECANCELED;
}

static void vcl_mop_send(struct vcl_mop *m);

static void vcl_mop_on_timer(struct vloop_timer *t)
{
	struct vcl_mop *m = (struct vcl_mop *)((char *)t -
					       offsetof(struct vcl_mop, timer));

	vcl_mop_send(m);
}

struct vcl_mop *vcl_mop_alloc(struct vcl_wk *wk, uint16_t op,
			      const struct vctx *x, vcl_mop_done_fn done)
{
	struct vcl_mop *m = wk->mop_free;

	if (m)
		wk->mop_free = m->next_free;
	else
		m = malloc(sizeof(*m));
	if (!m)
		return NULL;
	memset(m, 0, offsetof(struct vcl_mop, inl));
	m->wk = wk;
	m->op = op;
	m->done = done;
	m->req_id = atomic_fetch_add(&wk->cl->req_seq, 1) + 1;
	m->deadline_ns = vloop_now_ns() + wk->cl->timeout_ns;
	vrpc_call_init(&m->call);
	m->call.flags = VRPC_CALL_IDEMPOTENT;
	vloop_timer_init(&m->timer, vcl_mop_on_timer);
	wk->req->uid = x ? x->uid : 0;
	wk->req->gid = x ? x->gid : 0;
	wk->req->client = wk->cl->client_id;
	wk->req->req_id = m->req_id;
	return m;
}

struct vcl_mop *vcl_mop_new(struct bcall *c, uint16_t op, const struct vctx *x,
			    vcl_mop_done_fn done)
{
	struct vcl_wk *wk;
	struct vcl_mop *m;

	wk = vcl_self_for(c);
	if (!wk)
		return NULL;
	m = vcl_mop_alloc(wk, op, x, done);
	if (!m) {
		vcl_complete(c, -ENOMEM);
		return NULL;
	}
	m->c = c;
	return m;
}

void vcl_mop_free(struct vcl_mop *m)
{
	struct vcl_wk *wk = m->wk;

	if (m->body && m->body != m->inl)
		free(m->body);
	m->body = NULL;
	vloop_timer_cancel(wk->loop, &m->timer);
	m->next_free = wk->mop_free;
	wk->mop_free = m;
}

void vcl_mop_complete(struct vcl_mop *m, int err)
{
	struct bcall *c = m->c;

	vcl_mop_free(m);
	vcl_complete(c, err);
}

/* The error an application sees when metad stays out of reach. */
static void vcl_mop_give_up(struct vcl_mop *m, int err)
{
	vlog_warn("metad %s: no answer to %s for %llu s (%s): failing it "
		  "with EIO",
		  m->wk->meta_url[0] ? m->wk->meta_url : "(none known)",
		  wire_op_name(m->op),
		  (unsigned long long)(m->wk->cl->timeout_ns / 1000000000ull),
		  strerror(-err));
	m->done(m, -EIO, NULL);
}

static void vcl_mop_retry(struct vcl_mop *m, int err)
{
	uint64_t now = vloop_now_ns();

	if (m->wk->stopped || now >= m->deadline_ns) {
		vcl_mop_give_up(m, err);
		return;
	}
	atomic_fetch_add_explicit(&m->wk->cl->n_meta_retries, 1,
				  memory_order_relaxed);
	vloop_timer_add(m->wk->loop, &m->timer,
			(uint64_t)vcl_backoff_ms(m->attempt) * 1000000ull);
}

static void vcl_mop_on_reply(struct vrpc_call *call,
			     const struct vrpc_result *res, void *arg)
{
	struct vcl_mop *m = arg;
	int err = res->status;

	if (err && res->local && vcl_meta_retryable(err)) {
		vcl_mop_retry(m, err);
		return;
	}
	/* metad gave up on a transaction that kept conflicting: again.
	 * (LOCK's -EAGAIN is a refusal, for the caller.) */
	if (err == -EAGAIN && !res->local && m->op != WIRE_META_LOCK) {
		vcl_mop_retry(m, err);
		return;
	}
	if (err) {
		if (res->local)
			vlog_warn("metad %s: %s: %s", m->wk->meta_url,
				  wire_op_name(m->op), strerror(-err));
		m->done(m, err == -EACCES && res->local ? -EIO : err, NULL);
		return;
	}
	err = wire_meta_rep_decode(m->op, res->body, res->body_len,
				   m->wk->rep);
	if (err) {
		vlog_warn("metad %s: the %s reply does not decode (%s)",
			  m->wk->meta_url, wire_op_name(m->op),
			  strerror(-err));
		m->done(m, -EIO, NULL);
		return;
	}
	m->done(m, 0, m->wk->rep);
}

static void vcl_mop_send(struct vcl_mop *m)
{
	struct vrpc_client *cli;
	int ret;

	m->attempt++;
	m->wk->n_meta++;
	/* After a local failure try the next metad (if there are several). */
	cli = vcl_wk_meta(m->wk, m->attempt > 1);
	if (!cli) {
		vcl_mop_retry(m, -ENOTCONN);
		return;
	}
	ret = vrpc_call(cli, m->op, m->body, m->body_len, NULL, 0, NULL, 0,
			VCL_META_CALL_MS, vcl_mop_on_reply, m, &m->call);
	if (ret)
		vcl_mop_retry(m, ret);
}

void vcl_mop_start(struct vcl_mop *m)
{
	struct wire_meta_req *q = m->wk->req;
	size_t len = 0;
	int ret;

	m->body = m->inl;
	if (m->op == WIRE_META_SETXATTR || m->op == WIRE_META_SYMLINK) {
		m->body = malloc(WIRE_META_BODY_MAX);
		if (!m->body) {
			m->done(m, -ENOMEM, NULL);
			return;
		}
		ret = wire_meta_req_encode(m->op, q, m->body,
					   WIRE_META_BODY_MAX, &len);
	} else {
		ret = wire_meta_req_encode(m->op, q, m->body, VCL_MOP_INLINE,
					   &len);
	}
	if (ret) {
		vlog_warn("%s: cannot encode the request: %s",
			  wire_op_name(m->op), strerror(-ret));
		m->done(m, ret == -ENAMETOOLONG ? ret : -EINVAL, NULL);
		return;
	}
	m->body_len = (uint32_t)len;
	vcl_mop_send(m);
}

/* ---- attributes ------------------------------------------------------- */

static struct timespec vcl_ts_max(struct timespec a, struct timespec b)
{
	if (b.tv_sec > a.tv_sec ||
	    (b.tv_sec == a.tv_sec && b.tv_nsec > a.tv_nsec))
		return b;
	return a;
}

void vcl_attr_from_wire(struct vcl *cl, const struct wire_meta_attr *w,
			struct vattr *out)
{
	struct vcl_inode *in;

	out->ino = w->ino;
	out->size = w->size;
	out->blocks = w->blocks;
	out->atime = w->atime;
	out->mtime = w->mtime;
	out->ctime = w->ctime;
	out->btime = w->btime;
	out->mode = w->mode;
	out->nlink = w->nlink;
	out->uid = w->uid;
	out->gid = w->gid;
	out->rdev = w->rdev;
	out->blksize = w->blksize;
	out->generation = w->generation;
	if (!S_ISREG(w->mode))
		return;
	in = vcl_inode_find(cl, w->ino);
	if (!in)
		return;
	pthread_mutex_lock(vcl_inode_lock(cl, w->ino));
	in->meta_size = w->size;
	if (in->wr_seq != in->rep_seq) {
		/* Writes metad has not heard of yet. */
		if (in->wr_end > out->size) {
			out->size = in->wr_end;
			out->blocks = (out->size + 511) / 512;
		}
		out->mtime = vcl_ts_max(out->mtime, in->wr_mtime);
		out->ctime = vcl_ts_max(out->ctime, in->wr_mtime);
	}
	pthread_mutex_unlock(vcl_inode_lock(cl, w->ino));
	vcl_inode_put(cl, in);
}

void vcl_layout_from_wire(const struct wire_meta_layout *w,
			  struct vcl_layout *out)
{
	out->chunk_size = w->chunk_size;
	out->stripe = w->stripe;
	out->first_chain = w->first_chain;
	out->table_version = w->table_version;
}

/* ---- completions shared by several ops --------------------------------- */

static void vcl_done_attr(struct vcl_mop *m, int err,
			  const struct wire_meta_rep *rep)
{
	if (!err)
		vcl_attr_from_wire(m->wk->cl, &rep->attr, &m->c->attr);
	vcl_mop_complete(m, err);
}

static void vcl_done_plain(struct vcl_mop *m, int err,
			   const struct wire_meta_rep *rep)
{
	vcl_mop_complete(m, err);
}

/* Copy a name into a fixed wire field; -ENAMETOOLONG if it won't fit. */
static int vcl_name(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

/*
 * A namespace call on inode @ino (and @name, when not NULL): the op with
 * those fields set, for the caller to add the rest and start; or NULL after
 * answering @c (no worker, no memory, a name too long).
 */
static struct vcl_mop *vcl_ns_call(struct bcall *c, uint16_t op,
				   const struct vctx *x, uint64_t ino,
				   const char *name, vcl_mop_done_fn done)
{
	struct vcl_mop *m = vcl_mop_new(c, op, x, done);
	int ret;

	if (!m)
		return NULL;
	m->wk->req->ino = ino;
	if (name) {
		ret = vcl_name(m->wk->req->name, sizeof(m->wk->req->name),
			       name);
		if (ret) {
			vcl_mop_complete(m, ret);
			return NULL;
		}
	}
	return m;
}

/* ---- names -------------------------------------------------------------- */

void vcl_lookup(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, struct bcall *c)
{
	struct vcl_mop *m = vcl_ns_call(c, WIRE_META_LOOKUP, x, parent, name,
					vcl_done_attr);

	if (m)
		vcl_mop_start(m);
}

void vcl_getattr(struct backend *b, const struct vctx *x, uint64_t ino,
		 struct bcall *c)
{
	struct vcl_mop *m = vcl_ns_call(c, WIRE_META_GETATTR, x, ino, NULL,
					vcl_done_attr);

	if (m)
		vcl_mop_start(m);
}

static void vcl_done_readlink(struct vcl_mop *m, int err,
			      const struct wire_meta_rep *rep)
{
	struct bcall *c = m->c;
	size_t n;

	if (!err) {
		n = strlen(rep->target);
		if (n > c->cap) {
			err = -ENAMETOOLONG;
		} else {
			memcpy(c->buf, rep->target, n);
			c->count = n;
		}
	}
	vcl_mop_complete(m, err);
}

void vcl_readlink(struct backend *b, const struct vctx *x, uint64_t ino,
		  struct bcall *c)
{
	struct vcl_mop *m = vcl_ns_call(c, WIRE_META_READLINK, x, ino, NULL,
					vcl_done_readlink);

	if (m)
		vcl_mop_start(m);
}

void vcl_mknod(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, uint32_t mode, uint32_t rdev,
	       struct bcall *c)
{
	struct vcl_mop *m = vcl_ns_call(c, WIRE_META_MKNOD, x, parent, name,
					vcl_done_attr);

	if (!m)
		return;
	m->wk->req->mode = mode;
	m->wk->req->rdev = rdev;
	vcl_mop_start(m);
}

void vcl_mkdir(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, uint32_t mode, struct bcall *c)
{
	struct vcl_mop *m = vcl_ns_call(c, WIRE_META_MKDIR, x, parent, name,
					vcl_done_attr);

	if (!m)
		return;
	m->wk->req->mode = mode;
	vcl_mop_start(m);
}

void vcl_symlink(struct backend *b, const struct vctx *x, uint64_t parent,
		 const char *name, const char *target, struct bcall *c)
{
	struct vcl_mop *m = vcl_ns_call(c, WIRE_META_SYMLINK, x, parent, name,
					vcl_done_attr);
	int ret;

	if (!m)
		return;
	ret = vcl_name(m->wk->req->target, sizeof(m->wk->req->target), target);
	if (ret)
		return vcl_mop_complete(m, ret);
	vcl_mop_start(m);
}

void vcl_link(struct backend *b, const struct vctx *x, uint64_t ino,
	      uint64_t newparent, const char *newname, struct bcall *c)
{
	struct vcl_mop *m = vcl_ns_call(c, WIRE_META_LINK, x, ino, NULL,
					vcl_done_attr);
	int ret;

	if (!m)
		return;
	m->wk->req->ino2 = newparent;
	ret = vcl_name(m->wk->req->name2, sizeof(m->wk->req->name2), newname);
	if (ret)
		return vcl_mop_complete(m, ret);
	vcl_mop_start(m);
}

static void vcl_remove_name(uint16_t op, const struct vctx *x,
			    uint64_t parent, const char *name, struct bcall *c)
{
	struct vcl_mop *m = vcl_ns_call(c, op, x, parent, name, vcl_done_plain);

	if (m)
		vcl_mop_start(m);
}

void vcl_unlink(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, struct bcall *c)
{
	vcl_remove_name(WIRE_META_UNLINK, x, parent, name, c);
}

void vcl_rmdir(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, struct bcall *c)
{
	vcl_remove_name(WIRE_META_RMDIR, x, parent, name, c);
}

void vcl_rename(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, uint64_t newparent, const char *newname,
		uint32_t flags, struct bcall *c)
{
	struct vcl_mop *m = vcl_ns_call(c, WIRE_META_RENAME, x, parent, name,
					vcl_done_plain);
	int ret;

	if (!m)
		return;
	m->wk->req->ino2 = newparent;
	m->wk->req->flags = flags;
	ret = vcl_name(m->wk->req->name2, sizeof(m->wk->req->name2), newname);
	if (ret)
		return vcl_mop_complete(m, ret);
	vcl_mop_start(m);
}

/* ---- directories ------------------------------------------------------- */

/*
 * READDIR offsets: 0 is the start, 1 follows ".", 2 follows "..", and
 * 3 + k follows the k-th name (0-based) the handle handed out. metad pages
 * by name, so the cookie of offset 3 + k is names[k]: a name is a stable
 * position whatever else comes and goes in the directory.
 */
struct vcl_rd {
	struct vcl_dir *d;
	vfill_fn fill;
	void *fillctx;
	uint32_t pos; /* names consumed before the page asked for */
	int plus;
	int took;     /* entries the sink accepted in this call */
};

static void vcl_rd_page(struct vcl_mop *m);

static int vcl_dir_set_name(struct vcl_dir *d, uint32_t k, const char *name)
{
	char *s;

	if (k >= d->capnames) {
		uint32_t cap = d->capnames ? d->capnames * 2 : 64;
		char **nn;

		while (cap <= k)
			cap *= 2;
		nn = realloc(d->names, cap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		memset(nn + d->capnames, 0,
		       (cap - d->capnames) * sizeof(*nn));
		d->names = nn;
		d->capnames = cap;
	}
	if (d->names[k] && !strcmp(d->names[k], name))
		goto out;
	s = strdup(name);
	if (!s)
		return -ENOMEM;
	free(d->names[k]);
	d->names[k] = s;
out:
	if (k + 1 > d->nnames)
		d->nnames = k + 1;
	return 0;
}

static void vcl_done_readdir(struct vcl_mop *m, int err,
			     const struct wire_meta_rep *rep)
{
	struct vcl_rd *rd = m->arg;
	struct vcl_dir *d = rd->d;
	struct vattr a;
	uint32_t i;

	if (err) {
		free(rd);
		vcl_mop_complete(m, err);
		return;
	}
	for (i = 0; i < rep->nents; i++) {
		const struct wire_meta_dirent *e = &rep->ents[i];
		uint32_t k = rd->pos + i;

		if (rd->plus)
			vcl_attr_from_wire(m->wk->cl, &e->attr, &a);
		if (rd->fill(rd->fillctx, e->name, strlen(e->name), e->ino,
			     e->type, (uint64_t)k + 3, rd->plus ? &a : NULL))
			break; /* full: offered again from names[k - 1] */
		if (vcl_dir_set_name(d, k, e->name)) {
			err = -ENOMEM;
			break;
		}
		rd->took++;
	}
	if (err || i < rep->nents || rep->eof) {
		/* Only a page read to its end says where the end is. */
		if (!err && i == rep->nents && rep->eof) {
			d->eof = 1;
			d->nnames = rd->pos + i;
		}
		err = rd->took ? 0 : err;
		free(rd);
		vcl_mop_complete(m, err);
		return;
	}
	/* The sink has room for more: the next page. */
	rd->pos += i;
	vcl_rd_page(m);
}

/* Ask for the page after names[rd->pos - 1] with @m (a fresh request id:
 * READDIR changes nothing, a retry of it needs no memory at metad). */
static void vcl_rd_page(struct vcl_mop *m)
{
	struct vcl_rd *rd = m->arg;
	struct wire_meta_req *q = m->wk->req;

	if (m->body && m->body != m->inl)
		free(m->body);
	m->body = NULL;
	m->attempt = 0;
	m->req_id = atomic_fetch_add(&m->wk->cl->req_seq, 1) + 1;
	q->uid = q->gid = 0;
	q->client = m->wk->cl->client_id;
	q->req_id = m->req_id;
	q->ino = rd->d->ino;
	snprintf(q->name, sizeof(q->name), "%s",
		 rd->pos ? rd->d->names[rd->pos - 1] : "");
	q->max = WIRE_META_READDIR_MAX;
	q->plus = rd->plus;
	vcl_mop_start(m);
}

void vcl_opendir(struct backend *b, const struct vctx *x, uint64_t ino,
		 uint32_t flags, struct bcall *c)
{
	struct vcl_dir *d = calloc(1, sizeof(*d));

	if (!d) {
		vcl_complete(c, -ENOMEM);
		return;
	}
	d->ino = ino;
	c->fh = (uint64_t)(uintptr_t)d;
	vcl_complete(c, 0);
}

void vcl_readdir(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
		 int plus, vfill_fn fill, void *fillctx, struct bcall *c)
{
	struct vcl_dir *d = (struct vcl_dir *)(uintptr_t)fh;
	struct vcl_mop *m;
	struct vcl_rd *rd;
	uint32_t pos;

	/* "." and "..": the kernel fixes up ".."'s inode itself. */
	if (off == 0) {
		if (fill(fillctx, ".", 1, ino, S_IFDIR, 1, NULL))
			goto out_done;
		off = 1;
	}
	if (off == 1) {
		if (fill(fillctx, "..", 2, ino, S_IFDIR, 2, NULL))
			goto out_done;
		off = 2;
	}
	pos = (uint32_t)(off - 2);
	if (off - 2 > d->nnames || (d->eof && pos == d->nnames))
		goto out_done; /* the end, or an offset never handed out */
	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		vcl_complete(c, -ENOMEM);
		return;
	}
	m = vcl_mop_new(c, WIRE_META_READDIR, NULL, vcl_done_readdir);
	if (!m) {
		free(rd);
		return;
	}
	rd->d = d;
	rd->fill = fill;
	rd->fillctx = fillctx;
	rd->pos = pos;
	rd->plus = plus;
	m->arg = rd;
	vcl_rd_page(m);
	return;

out_done:
	vcl_complete(c, 0);
}

void vcl_releasedir(struct backend *b, uint64_t ino, uint64_t fh,
		    struct bcall *c)
{
	struct vcl_dir *d = (struct vcl_dir *)(uintptr_t)fh;

	for (uint32_t i = 0; i < d->capnames; i++)
		free(d->names[i]);
	free(d->names);
	free(d);
	vcl_complete(c, 0);
}

/* ---- whole file system, xattrs, access --------------------------------- */

static void vcl_done_statfs(struct vcl_mop *m, int err,
			    const struct wire_meta_rep *rep)
{
	struct vstatfs *st = &m->c->st;

	if (!err) {
		st->blocks = rep->st.blocks;
		st->bfree = rep->st.bfree;
		st->bavail = rep->st.bavail;
		st->files = rep->st.files;
		st->ffree = rep->st.ffree;
		st->bsize = rep->st.bsize;
		st->frsize = rep->st.frsize;
		st->namelen = rep->st.namelen;
	}
	vcl_mop_complete(m, err);
}

void vcl_statfs(struct backend *b, uint64_t ino, struct bcall *c)
{
	struct vcl_mop *m = vcl_ns_call(c, WIRE_META_STATFS, NULL, 0, NULL,
					vcl_done_statfs);

	if (m)
		vcl_mop_start(m);
}

/*
 * The namespaces metad keeps: user. and trusted. (the kernel already holds
 * trusted.* to CAP_SYS_ADMIN and user.* to files and directories). Others,
 * system.posix_acl_* included, are -EOPNOTSUPP: ACLs are not kept, and
 * saying so makes cp -a and friends fall back to chmod.
 */
static int vcl_xattr_ns(const char *name)
{
	if (!strncmp(name, "user.", 5))
		return name[5] ? 0 : -EINVAL;
	if (!strncmp(name, "trusted.", 8))
		return name[8] ? 0 : -EINVAL;
	return -EOPNOTSUPP;
}

static void vcl_done_xattr(struct vcl_mop *m, int err,
			   const struct wire_meta_rep *rep);

/* An xattr call (@name NULL for LISTXATTR), or NULL after answering @c. */
static struct vcl_mop *vcl_xattr_call(struct bcall *c, uint16_t op,
				      const struct vctx *x, uint64_t ino,
				      const char *name)
{
	struct vcl_mop *m;
	int ret = name ? vcl_xattr_ns(name) : 0;

	if (!ret && name && strlen(name) > WIRE_META_NAME_MAX)
		ret = -ERANGE;
	if (ret) {
		vcl_complete(c, ret);
		return NULL;
	}
	m = vcl_ns_call(c, op, x, ino, name,
			op == WIRE_META_SETXATTR || op == WIRE_META_REMOVEXATTR
				? vcl_done_plain
				: vcl_done_xattr);
	if (m && (op == WIRE_META_GETXATTR || op == WIRE_META_LISTXATTR))
		m->wk->req->cap = c->cap < WIRE_META_VALUE_MAX
					  ? (uint32_t)c->cap
					  : WIRE_META_VALUE_MAX;
	return m;
}

void vcl_setxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		  const char *name, const void *value, size_t size,
		  uint32_t flags, struct bcall *c)
{
	struct vcl_mop *m;

	if (size > WIRE_META_VALUE_MAX) {
		vcl_complete(c, -E2BIG);
		return;
	}
	m = vcl_xattr_call(c, WIRE_META_SETXATTR, x, ino, name);
	if (!m)
		return;
	m->wk->req->flags = flags;
	m->wk->req->value_len = (uint32_t)size;
	if (size)
		memcpy(m->wk->req->value, value, size);
	vcl_mop_start(m);
}

/* LISTXATTR for a caller other than root: trusted.* names left out. */
static uint32_t vcl_xattr_list_filter(uint8_t *v, uint32_t len)
{
	uint32_t in = 0, out = 0, n;

	while (in < len) {
		n = (uint32_t)strnlen((char *)v + in, len - in) + 1;
		if (strncmp((char *)v + in, "trusted.", 8)) {
			memmove(v + out, v + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

static void vcl_done_xattr(struct vcl_mop *m, int err,
			   const struct wire_meta_rep *rep)
{
	struct bcall *c = m->c;
	struct wire_meta_rep *r = m->wk->rep;

	if (!err && m->op == WIRE_META_LISTXATTR && m->u64[0] != 0 &&
	    r->value_len) {
		/* A size query (cap 0) keeps metad's size: an upper bound. */
		r->value_len = vcl_xattr_list_filter(r->value, r->value_len);
	}
	if (!err) {
		if (c->cap == 0) {
			c->count = rep->size;
		} else if (rep->value_len > c->cap) {
			err = -ERANGE;
		} else {
			memcpy(c->buf, rep->value, rep->value_len);
			c->count = rep->value_len;
		}
	}
	vcl_mop_complete(m, err);
}

void vcl_getxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		  const char *name, struct bcall *c)
{
	struct vcl_mop *m = vcl_xattr_call(c, WIRE_META_GETXATTR, x, ino, name);

	if (m)
		vcl_mop_start(m);
}

void vcl_listxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		   struct bcall *c)
{
	struct vcl_mop *m = vcl_xattr_call(c, WIRE_META_LISTXATTR, x, ino, NULL);

	if (!m)
		return;
	m->u64[0] = x->uid; /* nonzero: trusted.* is not listed */
	vcl_mop_start(m);
}

void vcl_removexattr(struct backend *b, const struct vctx *x, uint64_t ino,
		     const char *name, struct bcall *c)
{
	struct vcl_mop *m = vcl_xattr_call(c, WIRE_META_REMOVEXATTR, x, ino,
					   name);

	if (m)
		vcl_mop_start(m);
}

/* ACCESS comes only without default_permissions: check the mode bits
 * against the caller's uid and primary gid. */
static void vcl_done_access(struct vcl_mop *m, int err,
			    const struct wire_meta_rep *rep)
{
	uint32_t mask = (uint32_t)m->u64[0], uid = (uint32_t)m->u64[1];
	uint32_t gid = (uint32_t)m->u64[2], mode, bits;

	if (!err && mask != F_OK && uid != 0) {
		mode = rep->attr.mode;
		if (uid == rep->attr.uid)
			bits = (mode >> 6) & 7;
		else if (gid == rep->attr.gid)
			bits = (mode >> 3) & 7;
		else
			bits = mode & 7;
		if ((mask & bits) != mask)
			err = -EACCES;
	} else if (!err && mask & X_OK && uid == 0 &&
		   !(rep->attr.mode & 0111) && !S_ISDIR(rep->attr.mode)) {
		err = -EACCES;
	}
	vcl_mop_complete(m, err);
}

void vcl_access(struct backend *b, const struct vctx *x, uint64_t ino,
		uint32_t mask, struct bcall *c)
{
	struct vcl_mop *m = vcl_ns_call(c, WIRE_META_GETATTR, x, ino, NULL,
					vcl_done_access);

	if (!m)
		return;
	m->u64[0] = mask;
	m->u64[1] = x->uid;
	m->u64[2] = x->gid;
	vcl_mop_start(m);
}

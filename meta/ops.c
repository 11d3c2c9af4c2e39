/* SPDX-License-Identifier: MIT */
/*
 * ops.c - wire request -> namespace call -> wire reply (see ops.h).
 *
 * One small function per opcode in a static const table indexed by
 * opcode - WIRE_META_LOOKUP. Each reads the request fields of its op (the
 * table in proto/wire_meta.h), makes one vns_* call and fills the reply
 * fields of its op.
 */
#include "meta/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "proto/wire_meta_conv.h"
#include "proto/wire_msg.h"

struct mops_ctx {
	const struct mops_env *env;
	const struct wire_meta_req *q;
	struct wire_meta_rep *r;
	struct mops_scratch *s;
	struct vns_cred cr; /* uid, gid, exactly-once key */
};

typedef int (*mops_fn)(struct mops_ctx *c);

static void mops_attr_out(struct mops_ctx *c, const struct vattr *a)
{
	wire_meta_attr_from_vattr(&c->r->attr, a);
}

static int mops_lookup(struct mops_ctx *c)
{
	struct vattr a;
	int rc = vns_lookup(c->env->ns, &c->cr, c->q->ino, c->q->name, &a);

	if (!rc)
		mops_attr_out(c, &a);
	return rc;
}

static int mops_getattr(struct mops_ctx *c)
{
	struct vattr a;
	int rc = vns_getattr(c->env->ns, c->q->ino, &a);

	if (!rc)
		mops_attr_out(c, &a);
	return rc;
}

static int mops_setattr(struct mops_ctx *c)
{
	struct vsetattr sa;
	struct vattr a;
	int rc;

	wire_meta_setattr_to_vsetattr(&sa, &c->q->sa);
	rc = vns_setattr(c->env->ns, &c->cr, c->q->ino, &sa, &a);
	if (!rc)
		mops_attr_out(c, &a);
	return rc;
}

static void mops_file_out(struct mops_ctx *c, const struct vns_file *f)
{
	mops_attr_out(c, &f->attr);
	c->r->layout.chunk_size = f->layout.chunk_size;
	c->r->layout.stripe = f->layout.stripe;
	c->r->layout.first_chain = f->layout.first_chain;
	c->r->layout.table_version = f->layout.table_version;
	c->r->trunc_ver = f->trunc_ver;
}

static int mops_create(struct mops_ctx *c)
{
	struct vns_file f;
	int rc = vns_create(c->env->ns, &c->cr, c->q->ino, c->q->name,
			    c->q->mode, c->q->oflags, c->q->client, &f);

	if (!rc)
		mops_file_out(c, &f);
	return rc;
}

static int mops_mknod(struct mops_ctx *c)
{
	struct vattr a;
	int rc = vns_mknod(c->env->ns, &c->cr, c->q->ino, c->q->name,
			   c->q->mode, c->q->rdev, &a);

	if (!rc)
		mops_attr_out(c, &a);
	return rc;
}

static int mops_mkdir(struct mops_ctx *c)
{
	struct vattr a;
	int rc = vns_mkdir(c->env->ns, &c->cr, c->q->ino, c->q->name,
			   c->q->mode, &a);

	if (!rc)
		mops_attr_out(c, &a);
	return rc;
}

static int mops_symlink(struct mops_ctx *c)
{
	struct vattr a;
	int rc = vns_symlink(c->env->ns, &c->cr, c->q->ino, c->q->name,
			     c->q->target, &a);

	if (!rc)
		mops_attr_out(c, &a);
	return rc;
}

static int mops_readlink(struct mops_ctx *c)
{
	int rc = vns_readlink(c->env->ns, c->q->ino, c->r->target,
			      sizeof(c->r->target));

	return rc < 0 ? rc : 0;
}

static int mops_link(struct mops_ctx *c)
{
	struct vattr a;
	int rc = vns_link(c->env->ns, &c->cr, c->q->ino, c->q->ino2,
			  c->q->name2, &a);

	if (!rc)
		mops_attr_out(c, &a);
	return rc;
}

static int mops_unlink(struct mops_ctx *c)
{
	return vns_unlink(c->env->ns, &c->cr, c->q->ino, c->q->name);
}

static int mops_rmdir(struct mops_ctx *c)
{
	return vns_rmdir(c->env->ns, &c->cr, c->q->ino, c->q->name);
}

static int mops_rename(struct mops_ctx *c)
{
	return vns_rename(c->env->ns, &c->cr, c->q->ino, c->q->name, c->q->ino2,
			  c->q->name2, c->q->flags);
}

static int mops_open(struct mops_ctx *c)
{
	struct vns_file f;
	int rc = vns_session_open(c->env->ns, &c->cr, c->q->ino, c->q->oflags,
				  c->q->client, &f);

	if (!rc)
		mops_file_out(c, &f);
	return rc;
}

static int mops_close(struct mops_ctx *c)
{
	return vns_session_close(c->env->ns, &c->cr, c->q->ino, c->q->client);
}

static int mops_readdir(struct mops_ctx *c)
{
	struct mops_scratch *s = c->s;
	struct wire_meta_rep *r = c->r;
	int n = vns_readdir_plus(c->env->ns, c->q->ino, c->q->name, s->ents,
				 c->q->plus ? s->attrs : NULL, c->q->max);

	if (n < 0)
		return n;
	r->plus = c->q->plus;
	r->eof = (uint32_t)n < c->q->max;
	r->nents = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		r->ents[i].ino = s->ents[i].ino;
		r->ents[i].type = s->ents[i].type;
		memcpy(r->ents[i].name, s->ents[i].name,
		       s->ents[i].namelen + 1);
		if (c->q->plus)
			wire_meta_attr_from_vattr(&r->ents[i].attr,
						  &s->attrs[i]);
	}
	return 0;
}

static int mops_statfs(struct mops_ctx *c)
{
	struct vstatfs st = {0};
	int rc = vns_statfs(c->env->ns, &st);

	if (rc)
		return rc;
	st.bsize = st.frsize = MOPS_STATFS_BSIZE;
	st.blocks = c->env->space_total / MOPS_STATFS_BSIZE;
	st.bfree = st.bavail = c->env->space_free / MOPS_STATFS_BSIZE;
	wire_meta_statfs_from_vstatfs(&c->r->st, &st);
	return 0;
}

static int mops_setxattr(struct mops_ctx *c)
{
	return vns_setxattr(c->env->ns, &c->cr, c->q->ino, c->q->name,
			    c->q->value, c->q->value_len, c->q->flags);
}

static int mops_xattr_out(struct mops_ctx *c, int n)
{
	if (n < 0)
		return n;
	c->r->size = (uint32_t)n;
	c->r->value_len = c->q->cap ? (uint32_t)n : 0;
	return 0;
}

static int mops_getxattr(struct mops_ctx *c)
{
	return mops_xattr_out(c, vns_getxattr(c->env->ns, c->q->ino, c->q->name,
					      c->r->value, c->q->cap));
}

static int mops_listxattr(struct mops_ctx *c)
{
	return mops_xattr_out(c, vns_listxattr(c->env->ns, c->q->ino,
					       (char *)c->r->value, c->q->cap));
}

static int mops_removexattr(struct mops_ctx *c)
{
	return vns_removexattr(c->env->ns, &c->cr, c->q->ino, c->q->name);
}

static int mops_set_length(struct mops_ctx *c)
{
	struct vattr a;
	int rc = vns_set_length(c->env->ns, &c->cr, c->q->ino, c->q->size,
				c->q->trunc_ver, &a);

	if (!rc)
		mops_attr_out(c, &a);
	return rc;
}

static void mops_lock_in(const struct wire_meta_lock *w, struct vns_lock *l)
{
	l->kind = w->kind;
	l->owner = w->owner;
	l->pid = w->pid;
	l->type = w->type;
	l->start = w->start;
	l->end = w->end;
}

static int mops_lock(struct mops_ctx *c)
{
	struct vns_lock l;

	mops_lock_in(&c->q->lock, &l);
	return vns_lock_set(c->env->ns, &c->cr, c->q->ino, c->q->client, &l);
}

static int mops_unlock(struct mops_ctx *c)
{
	return vns_lock_release(c->env->ns, &c->cr, c->q->ino, c->q->client,
				c->q->lock.kind, c->q->lock.owner);
}

static int mops_getlk(struct mops_ctx *c)
{
	struct vns_lock l, out;
	int rc;

	mops_lock_in(&c->q->lock, &l);
	rc = vns_lock_get(c->env->ns, c->q->ino, c->q->client, &l, &out);
	if (rc)
		return rc;
	c->r->lock.kind = out.kind;
	c->r->lock.owner = out.owner;
	c->r->lock.pid = out.pid;
	c->r->lock.type = out.type;
	c->r->lock.start = out.type == F_UNLCK ? 0 : out.start;
	c->r->lock.end = out.type == F_UNLCK ? 0 : out.end;
	return 0;
}

static int mops_fsck(struct mops_ctx *c)
{
	int n = vns_fsck(c->env->ns, c->r->report, sizeof(c->r->report));

	if (n < 0)
		return n;
	c->r->violations = (uint32_t)n;
	return 0;
}

static int mops_renew(struct mops_ctx *c)
{
	int rc = vns_lease_renew(c->env->ns, c->q->client);

	if (!rc)
		c->r->lease_ms = vns_lease_ms(c->env->ns);
	return rc;
}

#define MOPS_IDX(op) ((size_t)((op)-WIRE_META_LOOKUP))

static const struct {
	mops_fn fn;
	const char *name;
} mops_table[] = {
	[MOPS_IDX(WIRE_META_LOOKUP)] = {mops_lookup, "LOOKUP"},
	[MOPS_IDX(WIRE_META_GETATTR)] = {mops_getattr, "GETATTR"},
	[MOPS_IDX(WIRE_META_SETATTR)] = {mops_setattr, "SETATTR"},
	[MOPS_IDX(WIRE_META_CREATE)] = {mops_create, "CREATE"},
	[MOPS_IDX(WIRE_META_MKNOD)] = {mops_mknod, "MKNOD"},
	[MOPS_IDX(WIRE_META_MKDIR)] = {mops_mkdir, "MKDIR"},
	[MOPS_IDX(WIRE_META_SYMLINK)] = {mops_symlink, "SYMLINK"},
	[MOPS_IDX(WIRE_META_READLINK)] = {mops_readlink, "READLINK"},
	[MOPS_IDX(WIRE_META_LINK)] = {mops_link, "LINK"},
	[MOPS_IDX(WIRE_META_UNLINK)] = {mops_unlink, "UNLINK"},
	[MOPS_IDX(WIRE_META_RMDIR)] = {mops_rmdir, "RMDIR"},
	[MOPS_IDX(WIRE_META_RENAME)] = {mops_rename, "RENAME"},
	[MOPS_IDX(WIRE_META_OPEN)] = {mops_open, "OPEN"},
	[MOPS_IDX(WIRE_META_CLOSE)] = {mops_close, "CLOSE"},
	[MOPS_IDX(WIRE_META_READDIR)] = {mops_readdir, "READDIR"},
	[MOPS_IDX(WIRE_META_STATFS)] = {mops_statfs, "STATFS"},
	[MOPS_IDX(WIRE_META_SETXATTR)] = {mops_setxattr, "SETXATTR"},
	[MOPS_IDX(WIRE_META_GETXATTR)] = {mops_getxattr, "GETXATTR"},
	[MOPS_IDX(WIRE_META_LISTXATTR)] = {mops_listxattr, "LISTXATTR"},
	[MOPS_IDX(WIRE_META_REMOVEXATTR)] = {mops_removexattr, "REMOVEXATTR"},
	[MOPS_IDX(WIRE_META_SET_LENGTH)] = {mops_set_length, "SET_LENGTH"},
	[MOPS_IDX(WIRE_META_LOCK)] = {mops_lock, "LOCK"},
	[MOPS_IDX(WIRE_META_UNLOCK)] = {mops_unlock, "UNLOCK"},
	[MOPS_IDX(WIRE_META_FSCK)] = {mops_fsck, "FSCK"},
	[MOPS_IDX(WIRE_META_GETLK)] = {mops_getlk, "GETLK"},
	[MOPS_IDX(WIRE_META_RENEW)] = {mops_renew, "RENEW"},
};

#define MOPS_N (sizeof(mops_table) / sizeof(mops_table[0]))

const char *mops_name(uint16_t op)
{
	if (op < WIRE_META_LOOKUP || MOPS_IDX(op) >= MOPS_N ||
	    !mops_table[MOPS_IDX(op)].name)
		return "?";
	return mops_table[MOPS_IDX(op)].name;
}

int mops_run(const struct mops_env *env, uint16_t op,
	     const struct wire_meta_req *q, struct wire_meta_rep *r,
	     struct mops_scratch *scratch)
{
	struct mops_ctx c = {.env = env,
			     .q = q,
			     .r = r,
			     .s = scratch,
			     .cr = {.uid = q->uid,
				    .gid = q->gid,
				    .client = q->client,
				    .req_id = q->req_id}};

	if (op < WIRE_META_LOOKUP || MOPS_IDX(op) >= MOPS_N ||
	    !mops_table[MOPS_IDX(op)].fn)
		return -ENOSYS;
	return mops_table[MOPS_IDX(op)].fn(&c);
}

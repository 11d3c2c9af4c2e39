/* SPDX-License-Identifier: MIT */
/*
 * ns.c - namespace operations on names and attributes: lookup, getattr,
 * setattr, mknod/mkdir/symlink, readlink, link, unlink, rmdir, rename.
 * Each public function runs exactly one transaction (vkv_run); its body is
 * the matching ns_*_txn(), which must be repeatable (a conflict reruns it).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "meta/ns_i.h"
#include "meta/ns_op.h"

/* Deepest directory tree the rename loop check walks before calling the
 * parent chain corrupt. */
#define NS_DEPTH_MAX 65536

int ns_op_run(struct ns_op *op, unsigned flags, vkv_txn_fn fn)
{
	op->replayed = 0;
	if (!(flags & VKV_RDONLY) && op->cr && op->cr->client &&
	    op->cr->req_id) {
		op->body = fn;
		return vkv_run(op->ns->kv, flags, ns_idem_txn, op, VNS_RETRIES);
	}
	return vkv_run(op->ns->kv, flags, fn, op, VNS_RETRIES);
}

/* May @cr remove or rename entry @victim out of directory @dir? */
int ns_sticky_check(const struct vns_cred *cr, const struct ns_inode *dir,
		    const struct ns_inode *victim)
{
	if (!(dir->mode & S_ISVTX) || !cr->uid || cr->uid == dir->uid ||
	    cr->uid == victim->uid)
		return 0;
	return -EPERM;
}

int ns_dir_get(struct vkv_txn *txn, uint64_t ino, struct ns_inode *in)
{
	int rc = ns_inode_get(txn, ino, in);

	if (rc < 0)
		return rc;
	return S_ISDIR(in->mode) ? 0 : -ENOTDIR;
}

static void ns_touch_dir(struct ns_inode *dir, int64_t now)
{
	dir->mtime = dir->ctime = now;
}

/* ---- lookup, getattr ------------------------------------------------------
 */

static int ns_lookup_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	uint32_t type;
	uint64_t ino;
	int rc;

	rc = ns_dir_get(txn, op->parent, &op->a);
	if (rc < 0)
		return rc;
	if (!strcmp(op->name, "."))
		ino = op->parent;
	else if (!strcmp(op->name, ".."))
		ino = op->a.parent;
	else {
		rc = ns_name_check(op->name);
		if (rc < 0)
			return rc;
		rc = ns_dentry_get(txn, op->parent, op->name, (size_t)rc, &ino,
				   &type);
		if (rc < 0)
			return rc;
	}
	rc = ns_inode_get(txn, ino, &op->b);
	if (rc == -ENOENT) {
		vlog_err("ns: %" PRIu64 "/%s names missing inode %" PRIu64,
			 op->parent, op->name, ino);
		rc = -EIO;
	}
	if (rc < 0)
		return rc;
	ns_inode_to_attr(&op->b, op->attr);
	return 0;
}

int vns_lookup(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	       const char *name, struct vattr *out)
{
	struct ns_op op = {.ns = ns,
			   .cr = cr,
			   .parent = parent,
			   .name = name,
			   .attr = out};

	return ns_op_run(&op, VKV_RDONLY, ns_lookup_txn);
}

static int ns_getattr_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	int rc = ns_inode_get(txn, op->ino, &op->a);

	if (rc < 0)
		return rc;
	ns_inode_to_attr(&op->a, op->attr);
	return 0;
}

int vns_getattr(struct vns *ns, uint64_t ino, struct vattr *out)
{
	struct ns_op op = {.ns = ns, .ino = ino, .attr = out};

	return ns_op_run(&op, VKV_RDONLY, ns_getattr_txn);
}

/* ---- setattr ---------------------------------------------------------------
 */

static int ns_is_owner(const struct vns_cred *cr, const struct ns_inode *in)
{
	return !cr->uid || cr->uid == in->uid;
}

static int ns_may_write(const struct vns_cred *cr, const struct ns_inode *in)
{
	if (ns_is_owner(cr, in))
		return 1;
	if (cr->gid == in->gid)
		return !!(in->mode & S_IWGRP);
	return !!(in->mode & S_IWOTH);
}

static void ns_kill_suidgid(struct ns_inode *in)
{
	in->mode &= ~(uint32_t)S_ISUID;
	if (in->mode & S_IXGRP)
		in->mode &= ~(uint32_t)S_ISGID;
}

/* Permission checks of @sa against @in, before any change. */
static int ns_setattr_check(const struct vns_cred *cr,
			    const struct ns_inode *in,
			    const struct vsetattr *sa)
{
	uint32_t v = sa->valid;

	if ((v & (VSET_MODE | VSET_ATIME | VSET_MTIME | VSET_CTIME)) &&
	    !ns_is_owner(cr, in))
		return -EPERM;
	if ((v & VSET_UID) && sa->uid != in->uid && cr->uid)
		return -EPERM;
	if ((v & VSET_GID) && sa->gid != in->gid && cr->uid &&
	    (cr->uid != in->uid || sa->gid != cr->gid))
		return -EPERM;
	if ((v & (VSET_ATIME_NOW | VSET_MTIME_NOW)) && !ns_may_write(cr, in))
		return -EACCES;
	if (v & VSET_SIZE) {
		if (S_ISDIR(in->mode))
			return -EISDIR;
		if (!S_ISREG(in->mode))
			return -EINVAL;
	}
	return 0;
}

static int ns_setattr_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	const struct vsetattr *sa = op->sa;
	struct ns_inode *in = &op->a;
	int64_t now = ns_now();
	uint32_t v = sa->valid;
	int rc;

	rc = ns_inode_get(txn, op->ino, in);
	if (rc < 0)
		return rc;
	rc = ns_setattr_check(op->cr, in, sa);
	if (rc < 0)
		return rc;
	if (v & VSET_MODE) {
		in->mode = (in->mode & S_IFMT) | (sa->mode & 07777);
		if (op->cr->uid && op->cr->gid != in->gid)
			in->mode &= ~(uint32_t)S_ISGID;
	}
	if (v & VSET_UID)
		in->uid = sa->uid;
	if (v & VSET_GID)
		in->gid = sa->gid;
	if (((v & (VSET_UID | VSET_GID)) && !S_ISDIR(in->mode)) ||
	    (v & VSET_KILL_SUIDGID))
		ns_kill_suidgid(in);
	if (v & VSET_SIZE) {
		in->size = sa->size;
		in->trunc_ver++;
		in->mtime = now;
	}
	if (v & VSET_ATIME)
		in->atime = (int64_t)sa->atime.tv_sec * 1000000000 +
			    sa->atime.tv_nsec;
	if (v & VSET_ATIME_NOW)
		in->atime = now;
	if (v & VSET_MTIME)
		in->mtime = (int64_t)sa->mtime.tv_sec * 1000000000 +
			    sa->mtime.tv_nsec;
	if (v & VSET_MTIME_NOW)
		in->mtime = now;
	in->ctime = (v & VSET_CTIME) ? (int64_t)sa->ctime.tv_sec * 1000000000 +
					       sa->ctime.tv_nsec
				     : now;
	rc = ns_inode_put(txn, in);
	if (rc < 0)
		return rc;
	ns_inode_to_attr(in, op->attr);
	return 0;
}

int vns_setattr(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		const struct vsetattr *sa, struct vattr *out)
{
	struct ns_op op = {
		.ns = ns, .cr = cr, .ino = ino, .sa = sa, .attr = out};

	return ns_op_run(&op, 0, ns_setattr_txn);
}

/* ---- mknod, mkdir, symlink -------------------------------------------------
 */

/*
 * Create op->name in op->parent as inode op->newino of op->mode (type
 * included); op->target for symlinks. op->b = the new inode on success.
 */
int ns_make_txn(struct vkv_txn *txn, struct ns_op *op)
{
	struct ns_inode *p = &op->a, *in = &op->b;
	int64_t now;
	uint32_t type;
	uint64_t ino;
	int rc;

	rc = ns_dir_get(txn, op->parent, p);
	if (rc < 0)
		return rc;
	if (!p->nlink)
		return -ENOENT; /* removed directory, still referenced */
	if (!op->name_absent) {
		rc = ns_dentry_get(txn, op->parent, op->name, op->nlen, &ino,
				   &type);
		if (rc != -ENOENT)
			return rc < 0 ? rc : -EEXIST;
	}
	ns_inode_init(in, op->newino, op->mode, op->cr, p);
	rc = ns_layout_assign(op, in, p);
	if (rc < 0)
		return rc;
	if (op->target) {
		in->target_len = (uint32_t)strlen(op->target);
		memcpy(in->target, op->target, in->target_len + 1);
	}
	in->rdev = op->rdev;
	rc = ns_inode_put(txn, in);
	if (rc >= 0)
		rc = ns_dentry_put(txn, op->parent, op->name, op->nlen, in->ino,
				   in->mode);
	if (rc >= 0)
		rc = ns_count_add(txn, 1);
	if (rc < 0)
		return rc;
	now = in->ctime;
	ns_touch_dir(p, now);
	if (S_ISDIR(in->mode))
		p->nlink++;
	return ns_inode_put(txn, p);
}

static int ns_make_attr_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	int rc = ns_make_txn(txn, op);

	if (rc < 0)
		return rc;
	ns_inode_to_attr(&op->b, op->attr);
	return 0;
}

/* Allocate a number, run the creation, give the number back on failure. */
static int ns_make(struct ns_op *op, vkv_txn_fn fn)
{
	int rc;

	if (!strcmp(op->name, ".") || !strcmp(op->name, ".."))
		return -EEXIST;
	rc = ns_name_check(op->name);
	if (rc < 0)
		return rc;
	op->nlen = (size_t)rc;
	rc = ns_ino_alloc(op->ns, &op->newino);
	if (rc < 0)
		return rc;
	ns_layout_prepare(op);
	rc = ns_op_run(op, 0, fn);
	if (rc < 0 || op->replayed)
		ns_ino_unused(op->ns, op->newino);
	return rc;
}

int vns_mknod(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	      const char *name, uint32_t mode, uint32_t rdev, struct vattr *out)
{
	struct ns_op op = {.ns = ns,
			   .cr = cr,
			   .parent = parent,
			   .name = name,
			   .attr = out};

	if (!(mode & S_IFMT))
		mode |= S_IFREG;
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		rdev = 0;
		break;
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		return -EINVAL;
	}
	op.mode = mode & (S_IFMT | 07777);
	op.rdev = rdev;
	return ns_make(&op, ns_make_attr_txn);
}

int vns_mkdir(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	      const char *name, uint32_t mode, struct vattr *out)
{
	struct ns_op op = {.ns = ns,
			   .cr = cr,
			   .parent = parent,
			   .name = name,
			   .attr = out,
			   .mode = S_IFDIR | (mode & 07777)};

	return ns_make(&op, ns_make_attr_txn);
}

int vns_symlink(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
		const char *name, const char *target, struct vattr *out)
{
	struct ns_op op = {.ns = ns,
			   .cr = cr,
			   .parent = parent,
			   .name = name,
			   .attr = out,
			   .target = target,
			   .mode = S_IFLNK | 0777};
	size_t n = target ? strlen(target) : 0;

	if (!n)
		return -ENOENT;
	if (n > VNS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return ns_make(&op, ns_make_attr_txn);
}

static int ns_readlink_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	int rc = ns_inode_get(txn, op->ino, &op->a);

	if (rc < 0)
		return rc;
	if (!S_ISLNK(op->a.mode))
		return -EINVAL;
	if (op->a.target_len >= op->cap)
		return -ENAMETOOLONG;
	memcpy(op->buf, op->a.target, op->a.target_len + 1);
	return (int)op->a.target_len;
}

int vns_readlink(struct vns *ns, uint64_t ino, char *buf, size_t cap)
{
	struct ns_op op = {.ns = ns, .ino = ino, .buf = buf, .cap = cap};

	return ns_op_run(&op, VKV_RDONLY, ns_readlink_txn);
}

/* ---- link, unlink, rmdir ------------------------------------------------- */

static int ns_link_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_inode *p = &op->a, *in = &op->b;
	uint32_t type;
	uint64_t ino;
	int rc;

	rc = ns_inode_get(txn, op->ino, in);
	if (rc < 0)
		return rc;
	if (S_ISDIR(in->mode))
		return -EPERM;
	if (!in->nlink)
		return -ENOENT; /* linkat() of an unlinked file */
	rc = ns_dir_get(txn, op->newparent, p);
	if (rc < 0)
		return rc;
	if (!p->nlink)
		return -ENOENT;
	rc = ns_dentry_get(txn, op->newparent, op->newname, op->newnlen, &ino,
			   &type);
	if (rc != -ENOENT)
		return rc < 0 ? rc : -EEXIST;
	if (in->nlink == UINT32_MAX)
		return -EMLINK;
	rc = ns_dentry_put(txn, op->newparent, op->newname, op->newnlen,
			   in->ino, in->mode);
	if (rc < 0)
		return rc;
	in->nlink++;
	in->ctime = ns_now();
	ns_touch_dir(p, in->ctime);
	rc = ns_inode_put(txn, in);
	if (rc >= 0)
		rc = ns_inode_put(txn, p);
	if (rc < 0)
		return rc;
	ns_inode_to_attr(in, op->attr);
	return 0;
}

int vns_link(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
	     uint64_t newparent, const char *newname, struct vattr *out)
{
	struct ns_op op = {.ns = ns,
			   .cr = cr,
			   .ino = ino,
			   .newparent = newparent,
			   .newname = newname,
			   .attr = out};
	int rc;

	if (newname && (!strcmp(newname, ".") || !strcmp(newname, "..")))
		return -EEXIST;
	rc = ns_name_check(newname);
	if (rc < 0)
		return rc;
	op.newnlen = (size_t)rc;
	return ns_op_run(&op, 0, ns_link_txn);
}

/*
 * Take @in's name away (the dentry is already gone or replaced): nlink - 1
 * and, at 0, release it. Directories are deleted outright (rmdir checked
 * emptiness).
 */
int ns_drop_name(struct vkv_txn *txn, struct ns_inode *in, int64_t now)
{
	if (S_ISDIR(in->mode))
		return ns_inode_delete(txn, in->ino);
	in->ctime = now;
	if (in->nlink)
		in->nlink--;
	if (in->nlink)
		return ns_inode_put(txn, in);
	return ns_inode_release(txn, in);
}

/* Remove op->name from op->parent; @want_dir for rmdir. */
static int ns_remove_txn(struct vkv_txn *txn, struct ns_op *op, int want_dir)
{
	struct ns_inode *p = &op->a, *in = &op->b;
	struct ns_key k;
	int64_t now = ns_now();
	uint32_t type;
	uint64_t ino;
	int rc;

	rc = ns_dir_get(txn, op->parent, p);
	if (rc < 0)
		return rc;
	rc = ns_dentry_get(txn, op->parent, op->name, op->nlen, &ino, &type);
	if (rc < 0)
		return rc;
	rc = ns_inode_get(txn, ino, in);
	if (rc < 0)
		return rc == -ENOENT ? -EIO : rc;
	if (want_dir && !S_ISDIR(in->mode))
		return -ENOTDIR;
	if (!want_dir && S_ISDIR(in->mode))
		return -EISDIR;
	rc = ns_sticky_check(op->cr, p, in);
	if (rc < 0)
		return rc;
	if (want_dir) {
		ns_key_ino(&k, 'D', ino);
		rc = ns_prefix_empty(txn, &k);
		if (rc <= 0)
			return rc < 0 ? rc : -ENOTEMPTY;
		p->nlink--;
	}
	rc = ns_dentry_del(txn, op->parent, op->name, op->nlen);
	if (rc >= 0)
		rc = ns_drop_name(txn, in, now);
	if (rc < 0)
		return rc;
	ns_touch_dir(p, now);
	return ns_inode_put(txn, p);
}

static int ns_unlink_txn(struct vkv_txn *txn, void *arg)
{
	return ns_remove_txn(txn, arg, 0);
}

static int ns_rmdir_txn(struct vkv_txn *txn, void *arg)
{
	return ns_remove_txn(txn, arg, 1);
}

static int ns_remove(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
		     const char *name, vkv_txn_fn fn)
{
	struct ns_op op = {.ns = ns, .cr = cr, .parent = parent, .name = name};
	int rc;

	if (name && !strcmp(name, ".."))
		return -ENOTEMPTY;
	rc = ns_name_check(name);
	if (rc < 0)
		return rc;
	op.nlen = (size_t)rc;
	return ns_op_run(&op, 0, fn);
}

int vns_unlink(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	       const char *name)
{
	return ns_remove(ns, cr, parent, name, ns_unlink_txn);
}

int vns_rmdir(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	      const char *name)
{
	return ns_remove(ns, cr, parent, name, ns_rmdir_txn);
}

/* ---- rename ----------------------------------------------------------------
 */

/* -EINVAL if directory @dir is @anc or below it (walks '..' up). */
static int ns_check_not_under(struct vkv_txn *txn, uint64_t dir, uint64_t anc,
			      struct ns_inode *tmp)
{
	for (int depth = 0; depth < NS_DEPTH_MAX; depth++) {
		int rc;

		if (dir == anc)
			return -EINVAL;
		if (dir == VNS_ROOT_INO)
			return 0;
		rc = ns_inode_get(txn, dir, tmp);
		if (rc < 0)
			return rc == -ENOENT ? -EIO : rc;
		dir = tmp->parent;
	}
	vlog_err("ns: parent chain above %" PRIu64 " loops", dir);
	return -EIO;
}

static int ns_rename_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_inode *p = &op->a, *s = &op->b, *d = &op->c, *np;
	int exchange = op->flags & RENAME_EXCHANGE;
	int64_t now = ns_now();
	uint64_t sino, dino = 0;
	uint32_t type;
	int rc, have_d;

	rc = ns_dir_get(txn, op->parent, p);
	if (rc < 0)
		return rc;
	np = p;
	if (op->newparent != op->parent) {
		np = &op->d;
		rc = ns_dir_get(txn, op->newparent, np);
		if (rc < 0)
			return rc;
	}
	rc = ns_dentry_get(txn, op->parent, op->name, op->nlen, &sino, &type);
	if (rc < 0)
		return rc;
	rc = ns_dentry_get(txn, op->newparent, op->newname, op->newnlen, &dino,
			   &type);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	have_d = rc == 0;
	if (have_d && (op->flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (!have_d && exchange)
		return -ENOENT;
	if (have_d && dino == sino)
		return 0; /* same inode: POSIX says do nothing */
	rc = ns_inode_get(txn, sino, s);
	if (rc >= 0 && have_d)
		rc = ns_inode_get(txn, dino, d);
	if (rc < 0)
		return rc == -ENOENT ? -EIO : rc;
	rc = ns_sticky_check(op->cr, p, s);
	if (rc >= 0 && have_d)
		rc = ns_sticky_check(op->cr, np, d);
	if (rc < 0)
		return rc;
	if (have_d && !exchange) {
		if (S_ISDIR(s->mode) && !S_ISDIR(d->mode))
			return -ENOTDIR;
		if (!S_ISDIR(s->mode) && S_ISDIR(d->mode))
			return -EISDIR;
	}
	/* Loop checks; they also rule out every aliasing of s/d with p/np. */
	if (S_ISDIR(s->mode) && p != np) {
		rc = ns_check_not_under(txn, np->ino, s->ino, &op->tmp);
		if (rc < 0)
			return rc;
	}
	if (exchange && S_ISDIR(d->mode) && p != np) {
		rc = ns_check_not_under(txn, p->ino, d->ino, &op->tmp);
		if (rc < 0)
			return rc;
	}
	if (have_d && !exchange && S_ISDIR(d->mode)) {
		struct ns_key k;

		ns_key_ino(&k, 'D', d->ino);
		rc = ns_prefix_empty(txn, &k);
		if (rc <= 0)
			return rc < 0 ? rc : -ENOTEMPTY;
	}

	/* Checks done: write. */
	rc = ns_dentry_put(txn, op->newparent, op->newname, op->newnlen, s->ino,
			   s->mode);
	if (rc < 0)
		return rc;
	if (exchange)
		rc = ns_dentry_put(txn, op->parent, op->name, op->nlen, d->ino,
				   d->mode);
	else
		rc = ns_dentry_del(txn, op->parent, op->name, op->nlen);
	if (rc < 0)
		return rc;
	if (S_ISDIR(s->mode) && p != np) {
		s->parent = np->ino;
		p->nlink--;
		np->nlink++;
	}
	if (exchange && S_ISDIR(d->mode) && p != np) {
		d->parent = p->ino;
		np->nlink--;
		p->nlink++;
	}
	s->ctime = now;
	rc = ns_inode_put(txn, s);
	if (rc < 0)
		return rc;
	if (have_d && exchange) {
		d->ctime = now;
		rc = ns_inode_put(txn, d);
	} else if (have_d) {
		if (S_ISDIR(d->mode))
			np->nlink--;
		rc = ns_drop_name(txn, d, now);
	}
	if (rc < 0)
		return rc;
	ns_touch_dir(p, now);
	ns_touch_dir(np, now);
	rc = ns_inode_put(txn, p);
	if (rc >= 0 && np != p)
		rc = ns_inode_put(txn, np);
	return rc;
}

int vns_rename(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	       const char *name, uint64_t newparent, const char *newname,
	       uint32_t flags)
{
	struct ns_op op = {.ns = ns,
			   .cr = cr,
			   .parent = parent,
			   .name = name,
			   .newparent = newparent,
			   .newname = newname,
			   .flags = flags};
	int rc;

	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    flags == (RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	rc = ns_name_check(name);
	if (rc < 0)
		return rc;
	op.nlen = (size_t)rc;
	rc = ns_name_check(newname);
	if (rc < 0)
		return rc;
	op.newnlen = (size_t)rc;
	return ns_op_run(&op, 0, ns_rename_txn);
}

/* SPDX-License-Identifier: MIT */
/*
 * mem_ns.c - namespace ops of the mem backend: names, links, rename,
 * create/tmpfile and directory reading. Every op that changes a directory
 * holds ns_lock in write mode, so it needs no inode lock (mem_i.h).
 */
#include "daemon/mem_i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* ------------------------------------------------------------------ */
/* Helpers, all under ns_lock */

/* Length of a valid entry name in *@len: 1..255 bytes, no '/'. */
static int mem_ns_name(const char *name, size_t *len)
{
	size_t n = strnlen(name, MEM_NAME_MAX + 1);

	if (n > MEM_NAME_MAX)
		return -ENAMETOOLONG;
	if (n == 0 || memchr(name, '/', n))
		return -EINVAL;
	*len = n;
	return 0;
}

static bool mem_ns_is_dot(const char *name, size_t len)
{
	return name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.'));
}

/* The directory @ino; with @live, not removed either. */
static int mem_ns_dir(struct mem_backend *mb, uint64_t ino, bool live,
		      struct mem_inode **out)
{
	struct mem_inode *d = mem_inode_find(mb, ino);

	if (!d)
		return -ENOENT;
	if (!mem_is_dir(d))
		return -ENOTDIR;
	if (live && d->nlink == 0)
		return -ENOENT;
	*out = d;
	return 0;
}

/*
 * Checks for adding @name to directory @parent, in Linux's order: the
 * name, the parent, search permission, -EEXIST, write permission.
 * ns_lock(write).
 */
static int mem_ns_prepare_new(struct mem_backend *mb, const struct vctx *x,
			      uint64_t parent, const char *name,
			      struct mem_inode **dir, size_t *len)
{
	int err;

	err = mem_ns_name(name, len);
	if (err)
		return err;
	err = mem_ns_dir(mb, parent, true, dir);
	if (err)
		return err;
	err = mem_may(x, *dir, X_OK);
	if (err)
		return err;
	if (mem_ns_is_dot(name, *len) || mem_dir_find(&(*dir)->dir, name, *len))
		return -EEXIST;
	return mem_may(x, *dir, W_OK);
}

/* In a sticky directory only root, the entry's owner and the directory's
 * owner may remove or replace the entry. Always enforced. */
static int mem_ns_sticky(const struct vctx *x, const struct mem_inode *dir,
			 const struct mem_inode *victim)
{
	if (!(dir->mode & S_ISVTX) || x->uid == 0 || x->uid == victim->uid ||
	    x->uid == dir->uid)
		return 0;
	return -EPERM;
}

static void mem_ns_touch(struct mem_inode *dir, const struct timespec *now)
{
	dir->mtime = *now;
	dir->ctime = *now;
}

/* @i goes out to the kernel as an entry. ns_lock(write). */
static void mem_ns_entry(struct mem_inode *i, struct bcall *c)
{
	i->kernel_ref = true;
	mem_inode_attr(i, &c->attr);
}

/*
 * Makes a new inode of @mode (type included) named @name in @parent.
 * Symlinks get @target. On success *@out has nlink 1 (2 for a directory).
 * ns_lock(write).
 */
static int mem_ns_make(struct mem_backend *mb, const struct vctx *x,
		       uint64_t parent, const char *name, uint32_t mode,
		       const char *target, struct mem_inode **out)
{
	struct mem_inode *dir, *i;
	struct timespec now;
	size_t len;
	int err;

	err = mem_ns_prepare_new(mb, x, parent, name, &dir, &len);
	if (err)
		return err;
	if (S_ISDIR(mode) && dir->nlink >= mb->link_max)
		return -EMLINK;
	i = mem_inode_new(mb, x, dir, mode);
	if (!i)
		return -ENOMEM;
	if (S_ISDIR(mode))
		mem_dir_init(&i->dir, dir);
	if (target) {
		i->target = strdup(target);
		if (!i->target) {
			err = -ENOMEM;
			goto out_free;
		}
	}
	err = mem_dir_add(&dir->dir, name, len, i);
	if (err)
		goto out_free;
	if (S_ISDIR(mode)) {
		i->nlink = 2;
		dir->nlink++;
	} else {
		i->nlink = 1;
	}
	mem_now(&now);
	mem_ns_touch(dir, &now);
	*out = i;
	return 0;

out_free:
	mem_inode_free(mb, i);
	return err;
}

/* Is @a the directory @d or one of its ancestors? */
static bool mem_ns_is_ancestor(const struct mem_inode *a,
			       const struct mem_inode *d)
{
	for (;;) {
		if (d == a)
			return true;
		if (d->dir.parent == d)
			return false;
		d = d->dir.parent;
	}
}

/* ------------------------------------------------------------------ */
/* Lookup and creation */

void mem_lookup(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *dir, *child;
	struct mem_dirent *de;
	size_t len = strnlen(name, MEM_NAME_MAX + 1);
	int err;

	if (len > MEM_NAME_MAX) {
		mem_complete(c, -ENAMETOOLONG);
		return;
	}
	pthread_rwlock_rdlock(&mb->ns_lock);
	err = mem_ns_dir(mb, parent, false, &dir);
	if (err)
		goto out_unlock_ns;
	pthread_rwlock_rdlock(&dir->lock);
	err = mem_may(x, dir, X_OK);
	pthread_rwlock_unlock(&dir->lock);
	if (err)
		goto out_unlock_ns;
	if (len == 1 && name[0] == '.') {
		child = dir;
	} else if (len == 2 && name[0] == '.' && name[1] == '.') {
		child = dir->dir.parent;
	} else {
		de = mem_dir_find(&dir->dir, name, len);
		if (!de) {
			err = -ENOENT;
			goto out_unlock_ns;
		}
		child = de->inode;
	}
	pthread_rwlock_wrlock(&child->lock);
	child->kernel_ref = true;
	mem_inode_attr(child, &c->attr);
	pthread_rwlock_unlock(&child->lock);
out_unlock_ns:
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_mknod(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, uint32_t mode, uint32_t rdev,
	       struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	uint32_t type = mode & S_IFMT;
	int err;

	if (type == 0)
		type = S_IFREG;	/* as mknod(2) */
	if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK &&
	    type != S_IFCHR && type != S_IFBLK) {
		mem_complete(c, -EINVAL);
		return;
	}
	pthread_rwlock_wrlock(&mb->ns_lock);
	err = mem_ns_make(mb, x, parent, name, type | (mode & 07777), NULL, &i);
	if (!err) {
		if (type == S_IFCHR || type == S_IFBLK)
			i->rdev = rdev;
		mem_ns_entry(i, c);
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_mkdir(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, uint32_t mode, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	int err;

	pthread_rwlock_wrlock(&mb->ns_lock);
	err = mem_ns_make(mb, x, parent, name, S_IFDIR | (mode & 07777), NULL,
			  &i);
	if (!err)
		mem_ns_entry(i, c);
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_symlink(struct backend *b, const struct vctx *x, uint64_t parent,
		 const char *name, const char *target, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	size_t tlen = strnlen(target, MEM_SYMLINK_MAX + 1);
	struct vctx sx = *x;
	struct mem_inode *i;
	int err;

	if (tlen == 0 || tlen > MEM_SYMLINK_MAX) {
		mem_complete(c, tlen ? -ENAMETOOLONG : -ENOENT);
		return;
	}
	sx.umask = 0;	/* symlinks are always 0777 */
	pthread_rwlock_wrlock(&mb->ns_lock);
	err = mem_ns_make(mb, &sx, parent, name, S_IFLNK | 0777, target, &i);
	if (!err)
		mem_ns_entry(i, c);
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

static int mem_ns_link_locked(struct mem_backend *mb, const struct vctx *x,
			      uint64_t ino, uint64_t newparent,
			      const char *newname, struct bcall *c)
{
	struct mem_inode *i, *dir;
	struct timespec now;
	size_t len;
	int err;

	i = mem_inode_find(mb, ino);
	if (!i)
		return -ENOENT;
	err = mem_ns_prepare_new(mb, x, newparent, newname, &dir, &len);
	if (err)
		return err;
	if (mem_is_dir(i))
		return -EPERM;
	/* An unlinked file stays unlinked, except an O_TMPFILE one. */
	if (i->nlink == 0 && !i->linkable)
		return -ENOENT;
	if (i->nlink >= mb->link_max)
		return -EMLINK;
	err = mem_dir_add(&dir->dir, newname, len, i);
	if (err)
		return err;
	i->nlink++;
	i->linkable = false;
	mem_now(&now);
	i->ctime = now;
	mem_ns_touch(dir, &now);
	mem_ns_entry(i, c);
	return 0;
}

void mem_link(struct backend *b, const struct vctx *x, uint64_t ino,
	      uint64_t newparent, const char *newname, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	int err;

	pthread_rwlock_wrlock(&mb->ns_lock);
	err = mem_ns_link_locked(mb, x, ino, newparent, newname, c);
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

/* ------------------------------------------------------------------ */
/* Removal */

/*
 * Finds the entry @name of @parent for removal (unlink, rmdir): search
 * permission, existence, then write permission and the sticky bit.
 * ns_lock(write).
 */
static int mem_ns_victim(struct mem_backend *mb, const struct vctx *x,
			 uint64_t parent, const char *name, int dot_err,
			 struct mem_inode **dir, struct mem_dirent **de)
{
	size_t len;
	int err;

	err = mem_ns_name(name, &len);
	if (err)
		return err;
	err = mem_ns_dir(mb, parent, false, dir);
	if (err)
		return err;
	err = mem_may(x, *dir, X_OK);
	if (err)
		return err;
	if (mem_ns_is_dot(name, len))
		return len == 1 ? dot_err : -ENOTEMPTY;
	*de = mem_dir_find(&(*dir)->dir, name, len);
	if (!*de)
		return -ENOENT;
	err = mem_may(x, *dir, W_OK);
	if (err)
		return err;
	return mem_ns_sticky(x, *dir, (*de)->inode);
}

void mem_unlink(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *dir, *i;
	struct mem_dirent *de;
	struct timespec now;
	int err;

	pthread_rwlock_wrlock(&mb->ns_lock);
	err = mem_ns_victim(mb, x, parent, name, -EISDIR, &dir, &de);
	if (err)
		goto out_unlock;
	i = de->inode;
	if (mem_is_dir(i)) {
		err = -EISDIR;
		goto out_unlock;
	}
	mem_dir_remove(&dir->dir, de);
	i->nlink--;
	mem_now(&now);
	i->ctime = now;
	mem_ns_touch(dir, &now);
	mem_inode_put_locked(mb, i);
out_unlock:
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_rmdir(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *dir, *i;
	struct mem_dirent *de;
	struct timespec now;
	int err;

	pthread_rwlock_wrlock(&mb->ns_lock);
	err = mem_ns_victim(mb, x, parent, name, -EINVAL, &dir, &de);
	if (err)
		goto out_unlock;
	i = de->inode;
	if (!mem_is_dir(i)) {
		err = -ENOTDIR;
		goto out_unlock;
	}
	if (i->dir.nlive) {
		err = -ENOTEMPTY;
		goto out_unlock;
	}
	mem_dir_remove(&dir->dir, de);
	i->nlink = 0;
	i->dir.parent = i;
	dir->nlink--;
	mem_now(&now);
	i->ctime = now;
	mem_ns_touch(dir, &now);
	mem_inode_put_locked(mb, i);
out_unlock:
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

/* ------------------------------------------------------------------ */
/* Rename */

struct mem_rename {
	struct mem_inode *p, *np;	/* old and new parent */
	struct mem_dirent *ode, *nde;	/* old entry, new entry (or NULL) */
	struct mem_inode *s, *t;	/* source, target (or NULL) */
	size_t nlen;
	uint32_t flags;
};

/* Permissions, types, loops and link counts: all of rename's refusals. */
static int mem_rename_check(struct mem_backend *mb, const struct vctx *x,
			    const struct mem_rename *r)
{
	bool exchange = r->flags & RENAME_EXCHANGE;
	bool sdir = mem_is_dir(r->s), tdir = r->t && mem_is_dir(r->t);
	bool moved = r->p != r->np;
	int err;

	err = mem_may(x, r->p, W_OK | X_OK);
	if (!err)
		err = mem_may(x, r->np, W_OK | X_OK);
	/* A directory that changes parent has its ".." rewritten. */
	if (!err && sdir && moved)
		err = mem_may(x, r->s, W_OK);
	if (!err && exchange && tdir && moved)
		err = mem_may(x, r->t, W_OK);
	if (!err)
		err = mem_ns_sticky(x, r->p, r->s);
	if (!err && r->t)
		err = mem_ns_sticky(x, r->np, r->t);
	if (err)
		return err;

	if (!exchange && r->t) {
		if (sdir && !tdir)
			return -ENOTDIR;
		if (!sdir && tdir)
			return -EISDIR;
		if (tdir && r->t->dir.nlive)
			return -ENOTEMPTY;
	}
	if (!r->t && r->np->nlink == 0)
		return -ENOENT;	/* into a removed directory */
	if (sdir && moved && mem_ns_is_ancestor(r->s, r->np))
		return -EINVAL;
	if (exchange && tdir && moved && mem_ns_is_ancestor(r->t, r->p))
		return -EINVAL;
	if (sdir && moved && !tdir && r->np->nlink >= mb->link_max)
		return -EMLINK;
	if (exchange && tdir && moved && !sdir && r->p->nlink >= mb->link_max)
		return -EMLINK;
	return 0;
}

/* Swaps two existing entries. Cannot fail. */
static void mem_rename_exchange(struct mem_rename *r)
{
	bool sdir = mem_is_dir(r->s), tdir = mem_is_dir(r->t);

	r->ode->inode = r->t;
	r->nde->inode = r->s;
	if (r->p == r->np)
		return;
	if (sdir) {
		r->s->dir.parent = r->np;
		if (!tdir) {
			r->p->nlink--;
			r->np->nlink++;
		}
	}
	if (tdir) {
		r->t->dir.parent = r->p;
		if (!sdir) {
			r->np->nlink--;
			r->p->nlink++;
		}
	}
}

/* Moves the source onto the new name, replacing any target. */
static int mem_rename_move(struct mem_rename *r, const char *newname)
{
	int err;

	if (r->t) {
		r->nde->inode = r->s;	/* the name keeps its cookie */
		if (mem_is_dir(r->t)) {
			r->t->nlink = 0;
			r->t->dir.parent = r->t;
			r->np->nlink--;
		} else {
			r->t->nlink--;
		}
	} else {
		err = mem_dir_add(&r->np->dir, newname, r->nlen, r->s);
		if (err)
			return err;
	}
	mem_dir_remove(&r->p->dir, r->ode);
	if (mem_is_dir(r->s) && r->p != r->np) {
		r->s->dir.parent = r->np;
		r->p->nlink--;
		r->np->nlink++;
	}
	return 0;
}

static int mem_rename_locked(struct mem_backend *mb, const struct vctx *x,
			     uint64_t parent, const char *name,
			     uint64_t newparent, const char *newname,
			     uint32_t flags)
{
	struct mem_rename r = { .flags = flags };
	struct timespec now;
	size_t len;
	int err;

	if ((flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
	    ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)))
		return -EINVAL;
	err = mem_ns_name(name, &len);
	if (!err)
		err = mem_ns_name(newname, &r.nlen);
	if (!err)
		err = mem_ns_dir(mb, parent, false, &r.p);
	if (!err)
		err = mem_ns_dir(mb, newparent, false, &r.np);
	if (!err)
		err = mem_may(x, r.p, X_OK);
	if (!err)
		err = mem_may(x, r.np, X_OK);
	if (err)
		return err;
	if (mem_ns_is_dot(name, len) || mem_ns_is_dot(newname, r.nlen))
		return -EBUSY;
	r.ode = mem_dir_find(&r.p->dir, name, len);
	if (!r.ode)
		return -ENOENT;
	r.s = r.ode->inode;
	r.nde = mem_dir_find(&r.np->dir, newname, r.nlen);
	r.t = r.nde ? r.nde->inode : NULL;
	if ((flags & RENAME_EXCHANGE) && !r.t)
		return -ENOENT;
	if ((flags & RENAME_NOREPLACE) && r.t)
		return -EEXIST;
	/* Same name, or two links to one inode: nothing to do (rename(2)). */
	if (r.s == r.t)
		return 0;
	err = mem_rename_check(mb, x, &r);
	if (err)
		return err;

	if (flags & RENAME_EXCHANGE) {
		mem_rename_exchange(&r);
	} else {
		err = mem_rename_move(&r, newname);
		if (err)
			return err;
	}
	mem_now(&now);
	r.s->ctime = now;
	if (r.t)
		r.t->ctime = now;
	mem_ns_touch(r.p, &now);
	mem_ns_touch(r.np, &now);
	if (r.t && !(flags & RENAME_EXCHANGE))
		mem_inode_put_locked(mb, r.t);
	return 0;
}

void mem_rename(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, uint64_t newparent, const char *newname,
		uint32_t flags, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	int err;

	pthread_rwlock_wrlock(&mb->ns_lock);
	err = mem_rename_locked(mb, x, parent, name, newparent, newname,
				flags);
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

/* ------------------------------------------------------------------ */
/* Create and tmpfile */

static int mem_create_locked(struct mem_backend *mb, const struct vctx *x,
			     uint64_t parent, const char *name, uint32_t mode,
			     uint32_t flags, struct bcall *c)
{
	struct mem_inode *dir, *i;
	struct mem_dirent *de;
	size_t len;
	int err;

	err = mem_ns_name(name, &len);
	if (!err)
		err = mem_ns_dir(mb, parent, true, &dir);
	if (!err)
		err = mem_may(x, dir, X_OK);
	if (err)
		return err;
	if (mem_ns_is_dot(name, len))
		return (flags & O_EXCL) ? -EEXIST : -EISDIR;
	de = mem_dir_find(&dir->dir, name, len);
	if (de) {
		/* Lost a race with another creator: open what is there. */
		if (flags & O_EXCL)
			return -EEXIST;
		i = de->inode;
		if (mem_is_dir(i))
			return -EISDIR;
		err = mem_open_check(x, i, flags);
		if (err)
			return err;
	} else {
		err = mem_ns_make(mb, x, parent, name, S_IFREG | (mode & 07777),
				  NULL, &i);
		if (err)
			return err;
		flags &= ~(uint32_t)O_TRUNC;
	}
	mem_open_locked(mb, i, flags, c);
	mem_ns_entry(i, c);
	return 0;
}

void mem_create(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, uint32_t mode, uint32_t flags,
		struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	int err;

	pthread_rwlock_wrlock(&mb->ns_lock);
	err = mem_create_locked(mb, x, parent, name, mode, flags, c);
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_tmpfile(struct backend *b, const struct vctx *x, uint64_t parent,
		 uint32_t mode, uint32_t flags, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *dir, *i;
	int err;

	pthread_rwlock_wrlock(&mb->ns_lock);
	err = mem_ns_dir(mb, parent, true, &dir);
	if (!err)
		err = mem_may(x, dir, W_OK | X_OK);
	if (err)
		goto out_unlock;
	i = mem_inode_new(mb, x, dir, S_IFREG | (mode & 07777));
	if (!i) {
		err = -ENOMEM;
		goto out_unlock;
	}
	i->linkable = true;
	mem_open_locked(mb, i, flags & ~(uint32_t)O_TRUNC, c);
	mem_ns_entry(i, c);
out_unlock:
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

/* ------------------------------------------------------------------ */
/* Directory handles and reading */

void mem_opendir(struct backend *b, const struct vctx *x, uint64_t ino,
		 uint32_t flags, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *dir;
	int err;

	pthread_rwlock_rdlock(&mb->ns_lock);
	err = mem_ns_dir(mb, ino, false, &dir);
	if (err)
		goto out_unlock_ns;
	if ((flags & O_ACCMODE) != O_RDONLY) {
		err = -EISDIR;
		goto out_unlock_ns;
	}
	pthread_rwlock_wrlock(&dir->lock);
	err = mem_may(x, dir, R_OK);
	if (!err) {
		dir->nopen++;
		c->fh = atomic_fetch_add_explicit(&mb->next_fh, 1,
						  memory_order_relaxed);
		c->open_flags = 0;
	}
	pthread_rwlock_unlock(&dir->lock);
out_unlock_ns:
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_releasedir(struct backend *b, uint64_t ino, uint64_t fh,
		    struct bcall *c)
{
	mem_handle_close(mem_of(b), ino, fh, c);
}

void mem_fsyncdir(struct backend *b, uint64_t ino, uint64_t fh, int datasync,
		  struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *dir;
	int err;

	pthread_rwlock_rdlock(&mb->ns_lock);
	err = mem_ns_dir(mb, ino, false, &dir);
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

/* Offers one real entry to @fill. 0 taken, 1 full. ns_lock(read). */
static int mem_readdir_one(const struct mem_dirent *de, int plus,
			   vfill_fn fill, void *fillctx)
{
	struct mem_inode *i = de->inode;
	struct vattr a;
	int full;

	if (!plus)
		return fill(fillctx, de->name, de->namelen, i->ino, i->type,
			    de->cookie, NULL);
	pthread_rwlock_rdlock(&i->lock);
	mem_inode_attr(i, &a);
	pthread_rwlock_unlock(&i->lock);
	full = fill(fillctx, de->name, de->namelen, i->ino, a.mode,
		    de->cookie, &a);
	if (!full) {
		pthread_rwlock_wrlock(&i->lock);
		i->kernel_ref = true;
		pthread_rwlock_unlock(&i->lock);
	}
	return full;
}

void mem_readdir(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
		 int plus, vfill_fn fill, void *fillctx, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *dir;
	int err;

	pthread_rwlock_rdlock(&mb->ns_lock);
	err = mem_ns_dir(mb, ino, false, &dir);
	if (err)
		goto out_unlock;
	if (off < 1 && fill(fillctx, ".", 1, dir->ino, S_IFDIR, 1, NULL))
		goto out_unlock;
	if (off < 2 && fill(fillctx, "..", 2, dir->dir.parent->ino, S_IFDIR, 2,
			    NULL))
		goto out_unlock;
	for (size_t k = mem_dir_seek(&dir->dir, off); k < dir->dir.nslots;
	     k++) {
		const struct mem_dirent *de = dir->dir.slots[k].de;

		if (de && mem_readdir_one(de, plus, fill, fillctx))
			break;
	}
out_unlock:
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

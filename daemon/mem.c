/* SPDX-License-Identifier: MIT */
/*
 * mem.c - the in-memory backend: lifecycle, inode table, attributes and
 * permission checks. Locking and file layout: see mem_i.h.
 */
#include "daemon/mem_i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM_ITAB_MIN 1024
#define MEM_FILES_MAX (1ull << 32)

void mem_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/* ------------------------------------------------------------------ */
/* Inode table: chained hash on ino. Inos are dense, so ino & mask
 * spreads them evenly. [ns] */

struct mem_inode *mem_inode_find(struct mem_backend *mb, uint64_t ino)
{
	struct mem_inode *i = mb->itab[ino & (mb->itab_size - 1)];

	while (i && i->ino != ino)
		i = i->hnext;
	return i;
}

/* Doubles the table; on allocation failure the chains just get longer. */
static void mem_itab_grow(struct mem_backend *mb)
{
	size_t nsize = mb->itab_size * 2;
	struct mem_inode **nt = calloc(nsize, sizeof(*nt));

	if (!nt)
		return;
	for (size_t k = 0; k < mb->itab_size; k++) {
		struct mem_inode *i = mb->itab[k], *next;

		for (; i; i = next) {
			next = i->hnext;
			i->hnext = nt[i->ino & (nsize - 1)];
			nt[i->ino & (nsize - 1)] = i;
		}
	}
	free(mb->itab);
	mb->itab = nt;
	mb->itab_size = nsize;
}

static void mem_itab_insert(struct mem_backend *mb, struct mem_inode *i)
{
	struct mem_inode **head;

	if (mb->ninodes >= mb->itab_size)
		mem_itab_grow(mb);
	head = &mb->itab[i->ino & (mb->itab_size - 1)];
	i->hnext = *head;
	*head = i;
	mb->ninodes++;
}

static void mem_itab_remove(struct mem_backend *mb, struct mem_inode *i)
{
	struct mem_inode **p = &mb->itab[i->ino & (mb->itab_size - 1)];

	while (*p != i)
		p = &(*p)->hnext;
	*p = i->hnext;
	mb->ninodes--;
}

/* ------------------------------------------------------------------ */
/* Inode lifecycle */

struct mem_inode *mem_inode_new(struct mem_backend *mb, const struct vctx *x,
				const struct mem_inode *parent, uint32_t mode)
{
	struct mem_inode *i = calloc(1, sizeof(*i));
	uint32_t perm = mode & 07777;

	if (!i)
		return NULL;
	if (pthread_rwlock_init(&i->lock, &mb->rwattr)) {
		free(i);
		return NULL;
	}
	if (x->umask)
		perm &= ~(x->umask & 0777);
	i->type = mode & S_IFMT;
	i->mode = i->type | perm;
	i->uid = x->uid;
	i->gid = x->gid;
	if (parent && (parent->mode & S_ISGID)) {
		i->gid = parent->gid;
		if (S_ISDIR(mode))
			i->mode |= S_ISGID;
		else if ((i->mode & (S_ISGID | S_IXGRP)) ==
				 (S_ISGID | S_IXGRP) &&
			 x->uid != 0 && x->gid != i->gid)
			i->mode &= ~S_ISGID;
	}
	mem_now(&i->btime);
	i->atime = i->mtime = i->ctime = i->btime;
	mem_locks_init(&i->locks);
	i->ino = mb->next_ino++;
	mem_itab_insert(mb, i);
	return i;
}

void mem_inode_free(struct mem_backend *mb, struct mem_inode *i)
{
	mem_itab_remove(mb, i);
	mem_data_free(mb, &i->data);
	mem_xattr_free_all(i->xattrs);
	if (mem_is_dir(i))
		mem_dir_release(&i->dir);
	mem_locks_release(&i->locks);
	free(i->target);
	pthread_rwlock_destroy(&i->lock);
	free(i);
}

bool mem_inode_unused(const struct mem_inode *i)
{
	return i->nlink == 0 && i->nopen == 0 && !i->kernel_ref;
}

void mem_inode_put_locked(struct mem_backend *mb, struct mem_inode *i)
{
	if (mem_inode_unused(i))
		mem_inode_free(mb, i);
}

void mem_inode_put(struct mem_backend *mb, uint64_t ino)
{
	struct mem_inode *i;

	pthread_rwlock_wrlock(&mb->ns_lock);
	/* Another thread may have freed it between our locks: look again. */
	i = mem_inode_find(mb, ino);
	if (i)
		mem_inode_put_locked(mb, i);
	pthread_rwlock_unlock(&mb->ns_lock);
}

void mem_inode_attr(const struct mem_inode *i, struct vattr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = i->ino;
	a->mode = i->mode;
	a->nlink = i->nlink;
	a->uid = i->uid;
	a->gid = i->gid;
	a->rdev = i->rdev;
	a->atime = i->atime;
	a->mtime = i->mtime;
	a->ctime = i->ctime;
	a->btime = i->btime;
	a->blksize = MEM_BLK_SIZE;
	if (mem_is_reg(i)) {
		a->size = i->size;
		a->blocks = i->data.alloc / 512;
	} else if (mem_is_dir(i)) {
		/* Like tmpfs: a size that grows with the entries. */
		a->size = (i->dir.nlive + 2) * 32;
		a->blocks = 0;
	} else if (i->target) {
		a->size = strlen(i->target);
	}
}

/* ------------------------------------------------------------------ */
/* Permissions */

int mem_perm(const struct vctx *x, const struct mem_inode *i, int mask)
{
	uint32_t bits;

	mask &= R_OK | W_OK | X_OK;
	if (x->uid == 0) {
		if (!(mask & X_OK) || mem_is_dir(i) ||
		    (i->mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
			return 0;
		return -EACCES;
	}
	if (x->uid == i->uid)
		bits = (i->mode >> 6) & 7;
	else if (x->gid == i->gid)
		bits = (i->mode >> 3) & 7;
	else
		bits = i->mode & 7;
	return ((uint32_t)mask & bits) == (uint32_t)mask ? 0 : -EACCES;
}

int mem_may(const struct vctx *x, const struct mem_inode *i, int mask)
{
	return x->check_perms ? mem_perm(x, i, mask) : 0;
}

bool mem_is_owner(const struct vctx *x, const struct mem_inode *i)
{
	return x->uid == 0 || x->uid == i->uid;
}

void mem_kill_suidgid(struct mem_inode *i)
{
	i->mode &= ~S_ISUID;
	if (i->mode & S_IXGRP)
		i->mode &= ~S_ISGID;
}

/* ------------------------------------------------------------------ */
/* Space accounting */

int mem_space_reserve(struct mem_backend *mb, uint64_t bytes)
{
	uint64_t cur = atomic_load_explicit(&mb->used, memory_order_relaxed);

	do {
		if (bytes > mb->max_bytes || cur > mb->max_bytes - bytes)
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak_explicit(
		&mb->used, &cur, cur + bytes, memory_order_relaxed,
		memory_order_relaxed));
	return 0;
}

void mem_space_release(struct mem_backend *mb, uint64_t bytes)
{
	atomic_fetch_sub_explicit(&mb->used, bytes, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* Ops on attributes */

void mem_forget(struct backend *b, uint64_t ino)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;

	pthread_rwlock_wrlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (i) {
		i->kernel_ref = false;
		mem_inode_put_locked(mb, i);
	}
	pthread_rwlock_unlock(&mb->ns_lock);
}

void mem_getattr(struct backend *b, const struct vctx *x, uint64_t ino,
		 struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	int err = 0;

	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (i) {
		pthread_rwlock_rdlock(&i->lock);
		mem_inode_attr(i, &c->attr);
		pthread_rwlock_unlock(&i->lock);
	} else {
		err = -ENOENT;
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

/* Explicit times: owner only. "Now": also anyone who may write. */
static int mem_setattr_check_times(const struct vctx *x,
				   const struct mem_inode *i, uint32_t v)
{
	bool explicit_time = ((v & VSET_ATIME) && !(v & VSET_ATIME_NOW)) ||
			     ((v & VSET_MTIME) && !(v & VSET_MTIME_NOW));

	if (!(v & (VSET_ATIME | VSET_MTIME | VSET_ATIME_NOW | VSET_MTIME_NOW)))
		return 0;
	if (mem_is_owner(x, i))
		return 0;
	if (explicit_time)
		return -EPERM;
	return mem_may(x, i, W_OK);
}

/* Everything setattr must refuse, before anything changes. [i] */
static int mem_setattr_check(const struct vctx *x, const struct mem_inode *i,
			     const struct vsetattr *sa)
{
	uint32_t v = sa->valid;
	int err;

	if ((v & VSET_MODE) && !mem_is_owner(x, i))
		return -EPERM;
	if ((v & VSET_UID) && x->uid != 0 &&
	    (x->uid != i->uid || sa->uid != i->uid))
		return -EPERM;
	if ((v & VSET_GID) && x->uid != 0 &&
	    (x->uid != i->uid || (sa->gid != i->gid && sa->gid != x->gid)))
		return -EPERM;
	if (v & VSET_SIZE) {
		if (mem_is_dir(i))
			return -EISDIR;
		if (!mem_is_reg(i))
			return -EINVAL;
		if (sa->size > MEM_OFF_MAX)
			return -EFBIG;
		/* ftruncate: the handle was opened for writing. */
		if (!sa->has_fh) {
			err = mem_may(x, i, W_OK);
			if (err)
				return err;
		}
	}
	return mem_setattr_check_times(x, i, v);
}

/* Applies a checked setattr. Cannot fail. [i] excl. */
static void mem_setattr_apply(struct mem_backend *mb, const struct vctx *x,
			      struct mem_inode *i, const struct vsetattr *sa)
{
	uint32_t v = sa->valid;
	struct timespec now;

	mem_now(&now);
	if ((v & VSET_SIZE) && sa->size != i->size) {
		mem_data_truncate(mb, &i->data, i->size, sa->size);
		i->size = sa->size;
		i->mtime = now;
	}
	if (v & VSET_UID)
		i->uid = sa->uid;
	if (v & VSET_GID)
		i->gid = sa->gid;
	if (v & VSET_MODE) {
		i->mode = i->type | (sa->mode & 07777);
		/* Only a member of the file's group may keep set-group-ID. */
		if (x->uid != 0 && x->gid != i->gid)
			i->mode &= ~S_ISGID;
	} else if (!mem_is_dir(i) &&
		   (v & (VSET_UID | VSET_GID | VSET_KILL_SUIDGID))) {
		/* chown and killpriv: like Linux, even for root. */
		mem_kill_suidgid(i);
	}
	if (v & VSET_ATIME_NOW)
		i->atime = now;
	else if (v & VSET_ATIME)
		i->atime = sa->atime;
	if (v & VSET_MTIME_NOW)
		i->mtime = now;
	else if (v & VSET_MTIME)
		i->mtime = sa->mtime;
	i->ctime = (v & VSET_CTIME) ? sa->ctime : now;
}

void mem_setattr(struct backend *b, const struct vctx *x, uint64_t ino,
		 const struct vsetattr *sa, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	int err;

	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (!i) {
		err = -ENOENT;
		goto out_unlock_ns;
	}
	pthread_rwlock_wrlock(&i->lock);
	err = mem_setattr_check(x, i, sa);
	if (!err) {
		if (sa->valid)
			mem_setattr_apply(mb, x, i, sa);
		mem_inode_attr(i, &c->attr);
	}
	pthread_rwlock_unlock(&i->lock);
out_unlock_ns:
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_readlink(struct backend *b, const struct vctx *x, uint64_t ino,
		  struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	size_t len;
	int err = 0;

	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (!i) {
		err = -ENOENT;
	} else if (i->type != S_IFLNK) {
		err = -EINVAL;
	} else {
		/* The target is [const]: no inode lock. */
		len = strlen(i->target);
		if (len > c->cap) {
			err = -ENAMETOOLONG;
		} else {
			memcpy(c->buf, i->target, len);
			c->count = len;
		}
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_access(struct backend *b, const struct vctx *x, uint64_t ino,
		uint32_t mask, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	int err = 0;

	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (!i) {
		err = -ENOENT;
	} else if (mask & (R_OK | W_OK | X_OK)) {
		pthread_rwlock_rdlock(&i->lock);
		err = mem_perm(x, i, (int)mask);
		pthread_rwlock_unlock(&i->lock);
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_statfs(struct backend *b, uint64_t ino, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	uint64_t used = atomic_load_explicit(&mb->used, memory_order_relaxed);
	uint64_t ninodes;

	pthread_rwlock_rdlock(&mb->ns_lock);
	ninodes = mb->ninodes;
	pthread_rwlock_unlock(&mb->ns_lock);

	memset(&c->st, 0, sizeof(c->st));
	c->st.bsize = MEM_STATFS_BSIZE;
	c->st.frsize = MEM_STATFS_BSIZE;
	c->st.namelen = MEM_NAME_MAX;
	c->st.blocks = mb->max_bytes / MEM_STATFS_BSIZE;
	c->st.bfree = used < mb->max_bytes ?
			      (mb->max_bytes - used) / MEM_STATFS_BSIZE : 0;
	c->st.bavail = c->st.bfree;
	c->st.files = MEM_FILES_MAX;
	c->st.ffree = ninodes < MEM_FILES_MAX ? MEM_FILES_MAX - ninodes : 0;
	mem_complete(c, 0);
}

/* ------------------------------------------------------------------ */
/* Lifecycle */

static void mem_destroy(struct backend *b)
{
	struct mem_backend *mb = mem_of(b);

	if (!mb)
		return;
	mem_lock_drop_parked(mb);
	for (size_t k = 0; k < mb->itab_size; k++) {
		while (mb->itab[k])
			mem_inode_free(mb, mb->itab[k]);
	}
	free(mb->itab);
	pthread_mutex_destroy(&mb->lk_mutex);
	pthread_rwlock_destroy(&mb->ns_lock);
	pthread_rwlockattr_destroy(&mb->rwattr);
	free(mb);
}

static const struct backend_ops mem_ops = {
	.name = "mem",
	.destroy = mem_destroy,
	.forget = mem_forget,
	.lookup = mem_lookup,
	.getattr = mem_getattr,
	.setattr = mem_setattr,
	.readlink = mem_readlink,
	.mknod = mem_mknod,
	.mkdir = mem_mkdir,
	.symlink = mem_symlink,
	.link = mem_link,
	.unlink = mem_unlink,
	.rmdir = mem_rmdir,
	.rename = mem_rename,
	.open = mem_open,
	.create = mem_create,
	.tmpfile = mem_tmpfile,
	.read = mem_read,
	.write = mem_write,
	.flush = mem_flush,
	.fsync = mem_fsync,
	.release = mem_release,
	.opendir = mem_opendir,
	.readdir = mem_readdir,
	.releasedir = mem_releasedir,
	.fsyncdir = mem_fsyncdir,
	.statfs = mem_statfs,
	.setxattr = mem_setxattr,
	.getxattr = mem_getxattr,
	.listxattr = mem_listxattr,
	.removexattr = mem_removexattr,
	.access = mem_access,
	.fallocate = mem_fallocate,
	.lseek = mem_lseek,
	.copy_file_range = mem_copy_file_range,
	.getlk = mem_getlk,
	.setlk = mem_setlk,
	.interrupt = mem_interrupt,
};

static uint64_t mem_default_max_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long psize = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || psize <= 0)
		return 1ull << 30;
	return (uint64_t)pages * (uint64_t)psize / 2;
}

struct backend *mem_backend_new(uint64_t max_bytes)
{
	static const struct vctx root_ctx = { .uid = 0, .gid = 0 };
	struct mem_backend *mb = calloc(1, sizeof(*mb));
	struct mem_inode *root;

	if (!mb)
		return NULL;
	/* Cannot-fail init first, so mem_destroy() handles any stage. */
	mb->base.ops = &mem_ops;
	mb->max_bytes = max_bytes ? max_bytes : mem_default_max_bytes();
	mb->link_max = MEM_LINK_MAX;
	mb->next_ino = MEM_ROOT_INO;
	atomic_init(&mb->used, 0);
	atomic_init(&mb->next_fh, 1);
	pthread_rwlockattr_init(&mb->rwattr);
	pthread_rwlockattr_setkind_np(
		&mb->rwattr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&mb->ns_lock, &mb->rwattr);
	pthread_mutex_init(&mb->lk_mutex, NULL);

	mb->itab = calloc(MEM_ITAB_MIN, sizeof(*mb->itab));
	if (!mb->itab)
		goto out_destroy;
	mb->itab_size = MEM_ITAB_MIN;
	root = mem_inode_new(mb, &root_ctx, NULL, S_IFDIR | 0755);
	if (!root)
		goto out_destroy;
	mem_dir_init(&root->dir, root);
	root->nlink = 2;
	return &mb->base;

out_destroy:
	mem_destroy(&mb->base);
	return NULL;
}

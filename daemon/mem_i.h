/* SPDX-License-Identifier: MIT */
/*
 * mem_i.h - internals of the in-memory backend, shared by its files:
 *
 *   mem.c        backend lifecycle, the inode table, attributes, permission
 *                checks, getattr/setattr/access/statfs/forget/readlink
 *   mem_dir.c    the directory structure (name hash + cookie-ordered slots)
 *   mem_ns.c     namespace ops: lookup, mknod, mkdir, symlink, link, unlink,
 *                rmdir, rename, create, tmpfile, opendir, readdir, ...
 *   mem_data.c   sparse file data (radix tree of blocks) and the data ops
 *   mem_xattr.c  extended attributes
 *   mem_lock.c   POSIX locks, flocks, parked SETLKW calls
 *
 * Locking
 * -------
 * Three kinds of lock, always taken in this order:
 *
 *   1. mb->ns_lock   (rwlock, writer-preferring: never taken twice by one
 *                     thread). Write mode for anything that changes the
 *                     namespace or the inode table (create, unlink, rename,
 *                     forget, freeing an inode); read mode for everything
 *                     else, which keeps every inode it finds alive until it
 *                     unlocks.
 *   2. i->lock       (rwlock per inode, writer-preferring). Needed only with
 *                     ns_lock held in read mode: shared to read the inode's
 *                     mutable fields, exclusive to change them. Two inode
 *                     locks (copy_file_range) are taken in ascending ino
 *                     order.
 *   3. mb->lk_mutex  (mutex) all byte-range/flock state and parked SETLKW
 *                     calls of every inode. Innermost: nothing is taken
 *                     under it.
 *
 * Field protection is written on the structs below as:
 *   [const]  set at creation, never changed;
 *   [ns]     written under ns_lock(write); read under ns_lock (any mode);
 *   [i]      written under ns_lock(write), or ns_lock(read) + i->lock
 *            exclusive; read under ns_lock(write), or ns_lock(read) +
 *            i->lock (any mode);
 *   [lk]     under lk_mutex.
 *
 * No callback runs under lk_mutex or an inode lock, and c->done() runs only
 * after every lock is released. The one exception is readdir's fill
 * callback, which runs under ns_lock(read) and so must not call back into
 * the backend.
 */
#ifndef VALOR_DAEMON_MEM_I_H
#define VALOR_DAEMON_MEM_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/backend.h"

#define MEM_ROOT_INO 1
#define MEM_NAME_MAX 255
#define MEM_SYMLINK_MAX 4095
#define MEM_XATTR_NAME_MAX 255
#define MEM_XATTR_SIZE_MAX 65536
#define MEM_XATTR_LIST_MAX 65536
/* Largest file offset + 1 (like s_maxbytes on a 64-bit kernel). */
#define MEM_OFF_MAX ((uint64_t)INT64_MAX)
/* Default upper bound on nlink; mb->link_max may lower it (tests). */
#define MEM_LINK_MAX UINT32_MAX

/* File data is stored in blocks of this size; statfs reports 4 KiB units. */
#define MEM_BLK_SHIFT 16
#define MEM_BLK_SIZE (1u << MEM_BLK_SHIFT)
#define MEM_BLK_MASK ((uint64_t)MEM_BLK_SIZE - 1)
#define MEM_STATFS_BSIZE 4096u

/* ------------------------------------------------------------------ */
/* File data: a radix tree of blocks (mem_data.c)                      */

/*
 * One block of file data. Only the first @cap bytes are stored; bytes
 * [cap, MEM_BLK_SIZE) read as zeros. @cap grows (by realloc, in powers of
 * two from 4 KiB) as writes reach further into the block, so small files
 * and the last block of a file do not cost a whole 64 KiB.
 */
struct mem_blk {
	uint32_t cap;
	uint8_t data[];
};

/*
 * Sparse file contents. @root is NULL (no data), a struct mem_blk for
 * block 0 when @height is 0, or a radix node of 512 slots when @height > 0
 * (slots of height-1 nodes are blocks). A tree of height h covers block
 * indexes [0, 512^h). A missing block is a hole.
 * Invariant: every stored byte at or beyond the file size is zero.
 */
struct mem_data {
	void *root;
	unsigned height;
	uint64_t alloc;		/* bytes in blocks (sum of cap) */
};

/* ------------------------------------------------------------------ */
/* Directories (mem_dir.c)                                             */

struct mem_inode;

/* One name in a directory. */
struct mem_dirent {
	struct mem_dirent *hnext;	/* name hash chain */
	struct mem_inode *inode;
	uint64_t cookie;		/* readdir position, unique in the dir */
	uint64_t hash;
	uint16_t namelen;
	char name[];			/* NUL-terminated */
};

/* A readdir position: @de is NULL once the entry was removed. */
struct mem_dslot {
	uint64_t cookie;
	struct mem_dirent *de;
};

/*
 * A directory's entries, all [ns]. Names are found through a chained hash
 * table; readdir walks @slots, which is sorted by cookie because cookies
 * only grow and entries are only appended. Removed entries leave a NULL
 * slot (tombstone) until more than half of the slots are dead, then the
 * array is compacted. Resuming at a cookie is a binary search.
 */
struct mem_dir {
	struct mem_inode *parent;	/* "..": itself for the root and for
					 * removed directories */
	uint64_t next_cookie;		/* 1 and 2 are "." and ".." */
	struct mem_dslot *slots;
	size_t nslots, slots_cap;
	size_t nlive;
	struct mem_dirent **htab;
	size_t hsize;			/* power of two, or 0 */
};

/* ------------------------------------------------------------------ */
/* Extended attributes (mem_xattr.c)                                   */

struct mem_xattr {
	struct mem_xattr *next;
	size_t size;
	uint8_t *value;			/* inside the same allocation */
	char name[];
};

/* ------------------------------------------------------------------ */
/* Locks (mem_lock.c)                                                  */

struct mem_plock;
struct mem_flock;
struct mem_waiter;

/* All [lk]. */
struct mem_locks {
	struct mem_plock *posix;	/* unordered, disjoint per owner */
	struct mem_flock *flocks;	/* at most one per handle */
	struct mem_waiter *wait_head;	/* parked SETLKW calls, FIFO */
	struct mem_waiter **wait_tail;	/* &wait_head while empty */
};

/* ------------------------------------------------------------------ */
/* Inodes (mem.c)                                                      */

struct mem_inode {
	uint64_t ino;			/* [const] */
	uint32_t type;			/* [const] S_IFMT bits of mode */
	uint32_t rdev;			/* [const] */
	struct timespec btime;		/* [const] */
	char *target;			/* [const] symlink target */
	struct mem_inode *hnext;	/* [ns] inode table chain */
	uint32_t nlink;			/* [ns] */
	bool linkable;			/* [ns] tmpfile never linked yet */
	struct mem_dir dir;		/* [ns] directories only */

	pthread_rwlock_t lock;
	uint32_t mode;			/* [i] (type bits also in @type) */
	uint32_t uid, gid;		/* [i] */
	struct timespec atime, mtime, ctime; /* [i] */
	uint64_t size;			/* [i] regular files */
	uint32_t nopen;			/* [i] open handles (files and dirs) */
	bool kernel_ref;		/* [i] the kernel may know this ino */
	struct mem_data data;		/* [i] */
	struct mem_xattr *xattrs;	/* [i] */

	struct mem_locks locks;		/* [lk] */
};

struct mem_backend {
	struct backend base;
	pthread_rwlockattr_t rwattr;	/* writer-preferring, for all rwlocks */

	pthread_rwlock_t ns_lock;
	struct mem_inode **itab;	/* [ns] hash of inodes by ino */
	size_t itab_size;		/* [ns] power of two */
	uint64_t ninodes;		/* [ns] */
	uint64_t next_ino;		/* [ns] */

	uint64_t max_bytes;		/* [const] */
	uint32_t link_max;		/* [const] after new(); tests lower it */
	/* Bytes in data blocks. Relaxed: a counter checked against max_bytes
	 * with compare-and-swap, ordering nothing else. */
	_Atomic uint64_t used;
	/* Next handle number for open/opendir. Relaxed: only uniqueness. */
	_Atomic uint64_t next_fh;

	pthread_mutex_t lk_mutex;
	struct mem_waiter *waiters;	/* [lk] every parked call, any inode */
};

static inline struct mem_backend *mem_of(struct backend *b)
{
	return (struct mem_backend *)b;
}

/* Complete @c with @err. Call with no lock held. */
static inline void mem_complete(struct bcall *c, int err)
{
	c->err = err;
	c->done(c);
}

/* Type tests read the [const] type: no inode lock needed. */
static inline bool mem_is_dir(const struct mem_inode *i)
{
	return i->type == S_IFDIR;
}

static inline bool mem_is_reg(const struct mem_inode *i)
{
	return i->type == S_IFREG;
}

/* mem.c */

void mem_now(struct timespec *ts);
/* The inode numbered @ino or NULL. ns_lock held (any mode). */
struct mem_inode *mem_inode_find(struct mem_backend *mb, uint64_t ino);
/*
 * A new inode of type and permissions @mode, owned by the caller (or by
 * @parent's group when it is set-group-ID), times set to now, nlink 0,
 * inserted into the table. @mode has x->umask applied here. Returns NULL
 * on allocation failure. ns_lock(write).
 */
struct mem_inode *mem_inode_new(struct mem_backend *mb, const struct vctx *x,
				const struct mem_inode *parent, uint32_t mode);
/* Removes @i from the table and frees it with everything it owns.
 * ns_lock(write); @i must have no parked lock waiters. */
void mem_inode_free(struct mem_backend *mb, struct mem_inode *i);
/* No name, no open handle, no kernel reference: @i can go. [ns]+[i] */
bool mem_inode_unused(const struct mem_inode *i);
/* Frees @i if mem_inode_unused(). ns_lock(write). */
void mem_inode_put_locked(struct mem_backend *mb, struct mem_inode *i);
/* Takes ns_lock(write) and frees inode @ino if it is (still) unused. Call
 * with no lock held. */
void mem_inode_put(struct mem_backend *mb, uint64_t ino);
/* Fills @a from @i. [ns]+[i] */
void mem_inode_attr(const struct mem_inode *i, struct vattr *a);
/*
 * Mode-bit check of @mask (R_OK|W_OK|X_OK) for @x on @i: owner, then group
 * (primary gid only), then other. Root passes R and W always, and X when
 * @i is a directory or has any x bit. 0 or -EACCES. [i]
 */
int mem_perm(const struct vctx *x, const struct mem_inode *i, int mask);
/* mem_perm() only if x->check_perms. [i] */
int mem_may(const struct vctx *x, const struct mem_inode *i, int mask);
/* Owner or root. [i] */
bool mem_is_owner(const struct vctx *x, const struct mem_inode *i);
/* Clear S_ISUID, and S_ISGID when group-exec is set. [i] */
void mem_kill_suidgid(struct mem_inode *i);
/* -ENOSPC unless @bytes more fit under max_bytes; then they are counted. */
int mem_space_reserve(struct mem_backend *mb, uint64_t bytes);
void mem_space_release(struct mem_backend *mb, uint64_t bytes);

void mem_forget(struct backend *b, uint64_t ino);
void mem_getattr(struct backend *b, const struct vctx *x, uint64_t ino,
		 struct bcall *c);
void mem_setattr(struct backend *b, const struct vctx *x, uint64_t ino,
		 const struct vsetattr *sa, struct bcall *c);
void mem_readlink(struct backend *b, const struct vctx *x, uint64_t ino,
		  struct bcall *c);
void mem_access(struct backend *b, const struct vctx *x, uint64_t ino,
		uint32_t mask, struct bcall *c);
void mem_statfs(struct backend *b, uint64_t ino, struct bcall *c);

/* mem_dir.c: all [ns] */

void mem_dir_init(struct mem_dir *d, struct mem_inode *parent);
/* Frees every entry (not the inodes they name). */
void mem_dir_release(struct mem_dir *d);
struct mem_dirent *mem_dir_find(const struct mem_dir *d, const char *name,
				size_t len);
/* Appends @name -> @inode with the next cookie. 0 or -ENOMEM (nothing
 * changed then). */
int mem_dir_add(struct mem_dir *d, const char *name, size_t len,
		struct mem_inode *inode);
/* Removes and frees @de. Cannot fail. */
void mem_dir_remove(struct mem_dir *d, struct mem_dirent *de);
/* Index of the first slot whose cookie is > @cookie (may be nslots). */
size_t mem_dir_seek(const struct mem_dir *d, uint64_t cookie);

/* mem_ns.c */

void mem_lookup(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, struct bcall *c);
void mem_mknod(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, uint32_t mode, uint32_t rdev,
	       struct bcall *c);
void mem_mkdir(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, uint32_t mode, struct bcall *c);
void mem_symlink(struct backend *b, const struct vctx *x, uint64_t parent,
		 const char *name, const char *target, struct bcall *c);
void mem_link(struct backend *b, const struct vctx *x, uint64_t ino,
	      uint64_t newparent, const char *newname, struct bcall *c);
void mem_unlink(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, struct bcall *c);
void mem_rmdir(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, struct bcall *c);
void mem_rename(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, uint64_t newparent, const char *newname,
		uint32_t flags, struct bcall *c);
void mem_create(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, uint32_t mode, uint32_t flags,
		struct bcall *c);
void mem_tmpfile(struct backend *b, const struct vctx *x, uint64_t parent,
		 uint32_t mode, uint32_t flags, struct bcall *c);
void mem_opendir(struct backend *b, const struct vctx *x, uint64_t ino,
		 uint32_t flags, struct bcall *c);
void mem_readdir(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
		 int plus, vfill_fn fill, void *fillctx, struct bcall *c);
void mem_releasedir(struct backend *b, uint64_t ino, uint64_t fh,
		    struct bcall *c);
void mem_fsyncdir(struct backend *b, uint64_t ino, uint64_t fh, int datasync,
		  struct bcall *c);

/* mem_data.c */

/* Frees all blocks of @d, returning their bytes to @mb. [i] */
void mem_data_free(struct mem_backend *mb, struct mem_data *d);
/* Resize to @newsize from @oldsize: frees blocks past the end and zeroes the
 * tail of the last one. Cannot fail. [i] */
void mem_data_truncate(struct mem_backend *mb, struct mem_data *d,
		       uint64_t oldsize, uint64_t newsize);
/* Open-flag checks shared by open and create on an existing file:
 * permissions per access mode and O_TRUNC, -EISDIR for writing a dir. [i] */
int mem_open_check(const struct vctx *x, const struct mem_inode *i,
		   uint32_t flags);
/* Counts a new open of @i, truncates on O_TRUNC, sets c->fh. [i] excl. */
void mem_open_locked(struct mem_backend *mb, struct mem_inode *i,
		     uint32_t flags, struct bcall *c);

/* Closes handle @fh of @ino (release, releasedir): uncounts the open, drops
 * the handle's locks, frees the inode if that was its last use. No lock
 * held; completes @c. */
void mem_handle_close(struct mem_backend *mb, uint64_t ino, uint64_t fh,
		      struct bcall *c);

void mem_open(struct backend *b, const struct vctx *x, uint64_t ino,
	      uint32_t flags, struct bcall *c);
void mem_read(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
	      uint32_t size, struct bcall *c);
void mem_write(struct backend *b, const struct vctx *x, uint64_t ino,
	       uint64_t fh, uint64_t off, const void *data, uint32_t size,
	       int kill_suidgid, struct bcall *c);
void mem_fsync(struct backend *b, uint64_t ino, uint64_t fh, int datasync,
	       struct bcall *c);
void mem_release(struct backend *b, uint64_t ino, uint64_t fh, uint32_t flags,
		 uint64_t lock_owner, struct bcall *c);
void mem_fallocate(struct backend *b, uint64_t ino, uint64_t fh, uint32_t mode,
		   uint64_t off, uint64_t len, struct bcall *c);
void mem_lseek(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
	       uint32_t whence, struct bcall *c);
void mem_copy_file_range(struct backend *b, const struct vctx *x,
			 uint64_t ino_in, uint64_t fh_in, uint64_t off_in,
			 uint64_t ino_out, uint64_t fh_out, uint64_t off_out,
			 uint64_t len, struct bcall *c);

/* mem_xattr.c */

/* Frees the list. */
void mem_xattr_free_all(struct mem_xattr *xa);
void mem_setxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		  const char *name, const void *value, size_t size,
		  uint32_t flags, struct bcall *c);
void mem_getxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		  const char *name, struct bcall *c);
void mem_listxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		   struct bcall *c);
void mem_removexattr(struct backend *b, const struct vctx *x, uint64_t ino,
		     const char *name, struct bcall *c);

/* mem_lock.c */

void mem_locks_init(struct mem_locks *l);
/* Frees every lock (no waiter may be parked). */
void mem_locks_release(struct mem_locks *l);
/*
 * Close of handle @fh on @i (lk_mutex held): drops its flocks, completes its
 * parked calls with -EINTR and, when @last (no handle left), every lock and
 * parked call of @i. Calls to complete are chained on *@wake through
 * bk_next with err set; run them with mem_lock_complete() after unlocking.
 */
void mem_lock_close_locked(struct mem_inode *i, uint64_t fh, bool last,
			   struct bcall **wake);
/* destroy() only: frees every parked call's bookkeeping without completing
 * it (requests are over) and empties every wait queue. */
void mem_lock_drop_parked(struct mem_backend *mb);
/* Completes a chain built by the *_locked lock functions. No lock held. */
void mem_lock_complete(struct bcall *wake);

void mem_getlk(struct backend *b, uint64_t ino, uint64_t fh, uint64_t owner,
	       const struct vlock *lk, struct bcall *c);
void mem_setlk(struct backend *b, uint64_t ino, uint64_t fh, uint64_t owner,
	       const struct vlock *lk, int wait, int is_flock,
	       struct bcall *c);
/* Drops @lock_owner's POSIX locks on @ino (close(2) semantics). */
void mem_flush(struct backend *b, uint64_t ino, uint64_t fh,
	       uint64_t lock_owner, struct bcall *c);
int mem_interrupt(struct backend *b, struct bcall *c);

#endif

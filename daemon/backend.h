/* SPDX-License-Identifier: MIT */
/*
 * backend.h - the seam between the FUSE layer and storage.
 *
 * Calls are asynchronous: every op takes a struct bcall, fills its result
 * fields and calls c->done(c) exactly once. A backend may call done() before
 * the op function returns (mem does) or later from its own event loop
 * (cluster does). After done() the backend must not touch @c again.
 *
 * Inode numbers: the backend names inodes with 64-bit numbers; 1 is the root.
 * The FUSE layer uses them as nodeids unchanged. The FUSE layer counts the
 * kernel's references (lookup counts) and calls forget() once the kernel holds
 * none, so a backend keeps an inode while it has names, open handles or
 * kernel references, and frees it after the last of those goes.
 *
 * Permissions: with default_permissions (the default) the kernel checks mode
 * bits before calling; the backend still enforces what the kernel cannot
 * know (sticky directories, owner-only setattr, EPERM on chown by non-root)
 * and, when vctx.check_perms is set (no default_permissions), mode bits too,
 * using the caller's uid and primary gid.
 *
 * Errors are -errno in c->err. Every string argument is NUL-terminated and
 * only valid until the op function returns; the backend copies what it keeps.
 */
#ifndef VALOR_DAEMON_BACKEND_H
#define VALOR_DAEMON_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Attributes of one inode, as the FUSE layer needs them for replies. */
struct vattr {
	uint64_t ino;
	uint64_t size;
	uint64_t blocks;	/* 512-byte units actually allocated */
	struct timespec atime, mtime, ctime, btime;
	uint32_t mode;		/* S_IFMT type bits | permission bits */
	uint32_t nlink;
	uint32_t uid, gid;
	uint32_t rdev;
	uint32_t blksize;
	uint64_t generation;
};

/* Who is asking. */
struct vctx {
	uint32_t uid, gid, pid;
	uint32_t umask;		/* already applied by the kernel when 0 */
	int check_perms;	/* enforce mode bits (no default_permissions) */
};

/* struct vsetattr.valid bits */
enum {
	VSET_MODE = 1 << 0,
	VSET_UID = 1 << 1,
	VSET_GID = 1 << 2,
	VSET_SIZE = 1 << 3,
	VSET_ATIME = 1 << 4,	/* set atime to .atime */
	VSET_MTIME = 1 << 5,	/* set mtime to .mtime */
	VSET_ATIME_NOW = 1 << 6,
	VSET_MTIME_NOW = 1 << 7,
	VSET_CTIME = 1 << 8,	/* set ctime to .ctime */
	VSET_KILL_SUIDGID = 1 << 9, /* clear set-user/group-id (killpriv v2) */
};

struct vsetattr {
	uint32_t valid;
	uint32_t mode;		/* permission bits only (07777) */
	uint32_t uid, gid;
	uint64_t size;
	struct timespec atime, mtime, ctime;
	uint64_t fh;		/* backend handle when has_fh, for ftruncate */
	int has_fh;
};

struct vstatfs {
	uint64_t blocks, bfree, bavail;	/* in units of frsize */
	uint64_t files, ffree;
	uint32_t bsize, frsize, namelen;
};

/* A POSIX byte-range lock or flock, in the FUSE layer's terms. */
struct vlock {
	uint64_t start;
	uint64_t end;		/* inclusive; UINT64_MAX = to EOF */
	uint32_t type;		/* F_RDLCK, F_WRLCK, F_UNLCK */
	uint32_t pid;
};

/*
 * READDIR sink, supplied by the caller. @attr is non-NULL only for
 * READDIRPLUS (and never for "." and ".."). @next_off is the cookie that
 * continues after this entry. Returns 0 if the entry was taken, 1 if the
 * reply is full (the backend stops; the entry is offered again next call).
 */
typedef int (*vfill_fn)(void *fillctx, const char *name, size_t namelen,
			uint64_t ino, uint32_t mode, uint64_t next_off,
			const struct vattr *attr);

struct bcall;
struct vloop;
typedef void (*bcall_done_fn)(struct bcall *c);

/*
 * bcall.open_flags bit (not a FOPEN_* flag; the FUSE layer strips it): the
 * file changed since the kernel may have cached its pages, so the page
 * cache is not kept across this open even with keep_cache.
 */
#define VOPEN_DROP_CACHE 0x80000000u

struct bcall {
	/* Set by the caller before the op. */
	bcall_done_fn done;
	void *buf;		/* out buffer: read, readlink, getxattr, listxattr */
	size_t cap;		/* its size; 0 for getxattr/listxattr = size query */

	/* Results, set by the backend before done(). */
	int err;		/* 0 or -errno */
	struct vattr attr;	/* lookup, getattr, setattr, mknod, mkdir, symlink,
				 * link, create, tmpfile, write (post-write attrs) */
	uint64_t fh;		/* open, create, tmpfile, opendir */
	uint32_t open_flags;	/* FOPEN_* hints from the backend (may be 0) */
	size_t count;		/* read/readlink/getxattr/listxattr: bytes in buf
				 * (or the size needed when cap == 0);
				 * write: bytes written; copy_file_range: bytes */
	uint64_t off;		/* lseek: resulting offset */
	struct vstatfs st;	/* statfs */
	struct vlock lock;	/* getlk: the conflicting lock, or type F_UNLCK */

	/* Private to the backend while the call is pending. */
	void *bk_priv;
	struct bcall *bk_next;
};

struct backend;

struct backend_ops {
	const char *name;
	void (*destroy)(struct backend *b);

	/* The kernel holds no more references to @ino. No reply. */
	void (*forget)(struct backend *b, uint64_t ino);

	void (*lookup)(struct backend *b, const struct vctx *x, uint64_t parent,
		       const char *name, struct bcall *c);
	void (*getattr)(struct backend *b, const struct vctx *x, uint64_t ino,
			struct bcall *c);
	void (*setattr)(struct backend *b, const struct vctx *x, uint64_t ino,
			const struct vsetattr *sa, struct bcall *c);
	/* Target into c->buf (not NUL-terminated), length in c->count;
	 * -ENAMETOOLONG if it does not fit c->cap. */
	void (*readlink)(struct backend *b, const struct vctx *x, uint64_t ino,
			 struct bcall *c);
	/* Any file type: S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK. */
	void (*mknod)(struct backend *b, const struct vctx *x, uint64_t parent,
		      const char *name, uint32_t mode, uint32_t rdev,
		      struct bcall *c);
	void (*mkdir)(struct backend *b, const struct vctx *x, uint64_t parent,
		      const char *name, uint32_t mode, struct bcall *c);
	void (*symlink)(struct backend *b, const struct vctx *x, uint64_t parent,
			const char *name, const char *target, struct bcall *c);
	/* New name @newname in @newparent for @ino; c->attr = @ino's attrs. */
	void (*link)(struct backend *b, const struct vctx *x, uint64_t ino,
		     uint64_t newparent, const char *newname, struct bcall *c);
	void (*unlink)(struct backend *b, const struct vctx *x, uint64_t parent,
		       const char *name, struct bcall *c);
	void (*rmdir)(struct backend *b, const struct vctx *x, uint64_t parent,
		      const char *name, struct bcall *c);
	/* @flags: 0, RENAME_NOREPLACE, RENAME_EXCHANGE (others -EINVAL).
	 * Moving a directory under itself is -EINVAL. */
	void (*rename)(struct backend *b, const struct vctx *x, uint64_t parent,
		       const char *name, uint64_t newparent,
		       const char *newname, uint32_t flags, struct bcall *c);

	/* @flags are open(2) flags; O_TRUNC truncates (atomic O_TRUNC).
	 * c->fh is the backend's handle, passed back to read/write/... */
	void (*open)(struct backend *b, const struct vctx *x, uint64_t ino,
		     uint32_t flags, struct bcall *c);
	/* Create and open; -EEXIST if it exists and O_EXCL is set, opens the
	 * existing file otherwise. c->attr and c->fh. */
	void (*create)(struct backend *b, const struct vctx *x, uint64_t parent,
		       const char *name, uint32_t mode, uint32_t flags,
		       struct bcall *c);
	/* An unnamed regular file in @parent (O_TMPFILE): nlink 0, open. */
	void (*tmpfile)(struct backend *b, const struct vctx *x, uint64_t parent,
			uint32_t mode, uint32_t flags, struct bcall *c);
	/* Up to @size bytes at @off into c->buf (cap >= size); c->count may be
	 * short at EOF; holes read as zeros. */
	void (*read)(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
		     uint32_t size, struct bcall *c);
	/* @kill_suidgid: clear S_ISUID/S_ISGID (killpriv v2).
	 * c->count = bytes written, c->attr = attributes after the write. */
	void (*write)(struct backend *b, const struct vctx *x, uint64_t ino,
		      uint64_t fh, uint64_t off, const void *data, uint32_t size,
		      int kill_suidgid, struct bcall *c);
	void (*flush)(struct backend *b, uint64_t ino, uint64_t fh,
		      uint64_t lock_owner, struct bcall *c);
	void (*fsync)(struct backend *b, uint64_t ino, uint64_t fh, int datasync,
		      struct bcall *c);
	/* Last close of the handle; releases any flock held through it. */
	void (*release)(struct backend *b, uint64_t ino, uint64_t fh,
			uint32_t flags, uint64_t lock_owner, struct bcall *c);

	void (*opendir)(struct backend *b, const struct vctx *x, uint64_t ino,
			uint32_t flags, struct bcall *c);
	/* Entries after cookie @off (0 = from the start, "." and ".." first)
	 * through @fill. Cookies stay valid while entries are added or removed:
	 * no entry is returned twice and none present throughout is missed. */
	void (*readdir)(struct backend *b, uint64_t ino, uint64_t fh,
			uint64_t off, int plus, vfill_fn fill, void *fillctx,
			struct bcall *c);
	void (*releasedir)(struct backend *b, uint64_t ino, uint64_t fh,
			   struct bcall *c);
	void (*fsyncdir)(struct backend *b, uint64_t ino, uint64_t fh,
			 int datasync, struct bcall *c);

	void (*statfs)(struct backend *b, uint64_t ino, struct bcall *c);

	/* @flags: 0, XATTR_CREATE, XATTR_REPLACE. Namespaces user. and
	 * trusted. (trusted. only for uid 0); others -EOPNOTSUPP. */
	void (*setxattr)(struct backend *b, const struct vctx *x, uint64_t ino,
			 const char *name, const void *value, size_t size,
			 uint32_t flags, struct bcall *c);
	/* cap 0: c->count = size needed. Else -ERANGE if it does not fit. */
	void (*getxattr)(struct backend *b, const struct vctx *x, uint64_t ino,
			 const char *name, struct bcall *c);
	/* NUL-separated names, same cap rules as getxattr. */
	void (*listxattr)(struct backend *b, const struct vctx *x, uint64_t ino,
			  struct bcall *c);
	void (*removexattr)(struct backend *b, const struct vctx *x,
			    uint64_t ino, const char *name, struct bcall *c);

	/* @mask: F_OK or R_OK|W_OK|X_OK bits. */
	void (*access)(struct backend *b, const struct vctx *x, uint64_t ino,
		       uint32_t mask, struct bcall *c);
	/* @mode: 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|KEEP_SIZE,
	 * FALLOC_FL_ZERO_RANGE; others -EOPNOTSUPP. */
	void (*fallocate)(struct backend *b, uint64_t ino, uint64_t fh,
			  uint32_t mode, uint64_t off, uint64_t len,
			  struct bcall *c);
	/* SEEK_SET/CUR/END are answered by the kernel; this gets SEEK_DATA
	 * and SEEK_HOLE. -ENXIO past EOF. c->off. */
	void (*lseek)(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
		      uint32_t whence, struct bcall *c);
	/* Server-side copy; c->count = bytes copied. */
	void (*copy_file_range)(struct backend *b, const struct vctx *x,
				uint64_t ino_in, uint64_t fh_in, uint64_t off_in,
				uint64_t ino_out, uint64_t fh_out,
				uint64_t off_out, uint64_t len, struct bcall *c);

	/* POSIX locks are owned by @owner (fcntl) ; flocks (is_flock) by the
	 * open file (@fh). getlk puts the first conflicting lock, or F_UNLCK,
	 * in c->lock. setlk with @wait parks the call until it can be granted;
	 * interrupt() then completes it with -EINTR. */
	void (*getlk)(struct backend *b, uint64_t ino, uint64_t fh,
		      uint64_t owner, const struct vlock *lk, struct bcall *c);
	void (*setlk)(struct backend *b, uint64_t ino, uint64_t fh,
		      uint64_t owner, const struct vlock *lk, int wait,
		      int is_flock, struct bcall *c);
	/* Complete the pending call @c with -EINTR if it is still parked;
	 * returns 1 if it was, 0 if it had already completed or is unknown.
	 * Thread-safe against the call completing concurrently. */
	int (*interrupt)(struct backend *b, struct bcall *c);

	/*
	 * Optional hooks for backends that talk to servers from event loops
	 * (cluster); NULL for mem. attach() gets the session's control loop
	 * (the main thread's; the only worker's in sync mode) before any
	 * worker starts, and detach() runs on that thread before the loop
	 * goes; a nonzero return of attach() stops the session.
	 * worker_start() runs on worker @id's thread before its loop runs
	 * (a nonzero return stops the session), worker_stop() on the same
	 * thread once the loop stopped; calls may still arrive afterwards
	 * (the backend then fails them).
	 */
	int (*attach)(struct backend *b, struct vloop *loop);
	void (*detach)(struct backend *b);
	int (*worker_start)(struct backend *b, unsigned id, struct vloop *loop);
	void (*worker_stop)(struct backend *b, unsigned id);
};

struct backend {
	const struct backend_ops *ops;
};

/*
 * The in-memory backend: the whole tree in RAM, thread-safe.
 * @max_bytes caps the data it stores (-ENOSPC past it; 0 = half of RAM).
 * Returns NULL on allocation failure. Free with b->ops->destroy(b).
 */
struct backend *mem_backend_new(uint64_t max_bytes);

/*
 * The cluster backend (daemon/cluster.c): the namespace on metad, data on
 * the storage chains, routing from the mgmtd at @mgmtd_url
 * (tcp://HOST:PORT). @secret_path: the cluster secret file, or NULL.
 * @timeout_s: how long a call keeps retrying a server that does not
 * answer before the application gets -EIO. Fetches the routing before it
 * returns (so a missing mgmtd fails the mount with a clear message): NULL
 * and *@err = -errno on failure.
 */
struct backend *cluster_backend_new(const char *mgmtd_url,
				    const char *secret_path, uint32_t timeout_s,
				    int *err);

#endif

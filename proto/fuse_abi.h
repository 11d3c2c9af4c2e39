/* SPDX-License-Identifier: MIT */
/*
 * fuse_abi.h - the FUSE kernel wire format, protocol 7.45, as valorfs uses it.
 *
 * Why our own header: Debian 12 ships linux-libc-dev 6.1, whose
 * <linux/fuse.h> stops at 7.38, while the target kernel (6.18) speaks 7.45.
 * Never include <linux/fuse.h> next to this file: the names collide on
 * purpose, so code reads like every other FUSE implementation.
 *
 * Layouts, sizes and numbers follow the kernel's uapi definition; every
 * fixed-size struct has a _Static_assert on its size at the end of the file
 * so an accidental edit fails the build rather than corrupting the wire.
 *
 * Conventions on the wire:
 *   - host byte order, all structs padded to 8 bytes so 32-bit daemons can
 *     talk to 64-bit kernels;
 *   - a request is fuse_in_header + op arguments (+ total_extlen * 8 bytes of
 *     extensions at the very end); a reply is fuse_out_header + out args;
 *   - "minor" gates fields: a field added in 7.N is only sent/read when the
 *     negotiated minor is >= N (older kernels send shorter structs).
 */
#ifndef VALOR_PROTO_FUSE_ABI_H
#define VALOR_PROTO_FUSE_ABI_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Versions and fixed ids                                                    */

#define FUSE_KERNEL_VERSION 7
#define FUSE_KERNEL_MINOR_VERSION 45

/* nodeid of the mount's root directory; never forgotten. */
#define FUSE_ROOT_ID 1

/*
 * Smallest buffer a /dev/fuse read() accepts. The real minimum is
 * max(8192, sizeof(in_header) + sizeof(write_in) + max_write): a smaller
 * read fails with EINVAL and leaves the request queued.
 */
#define FUSE_MIN_READ_BUFFER 8192

/* ------------------------------------------------------------------------ */
/* Opcodes                                                                   */

enum fuse_opcode {
	FUSE_LOOKUP = 1,
	FUSE_FORGET = 2, /* never answered */
	FUSE_GETATTR = 3,
	FUSE_SETATTR = 4,
	FUSE_READLINK = 5,
	FUSE_SYMLINK = 6,
	/* 7 was never assigned */
	FUSE_MKNOD = 8,
	FUSE_MKDIR = 9,
	FUSE_UNLINK = 10,
	FUSE_RMDIR = 11,
	FUSE_RENAME = 12,
	FUSE_LINK = 13,
	FUSE_OPEN = 14,
	FUSE_READ = 15,
	FUSE_WRITE = 16,
	FUSE_STATFS = 17,
	FUSE_RELEASE = 18,
	/* 19 was never assigned */
	FUSE_FSYNC = 20,
	FUSE_SETXATTR = 21,
	FUSE_GETXATTR = 22,
	FUSE_LISTXATTR = 23,
	FUSE_REMOVEXATTR = 24,
	FUSE_FLUSH = 25,
	FUSE_INIT = 26,
	FUSE_OPENDIR = 27,
	FUSE_READDIR = 28,
	FUSE_RELEASEDIR = 29,
	FUSE_FSYNCDIR = 30,
	FUSE_GETLK = 31,
	FUSE_SETLK = 32,
	FUSE_SETLKW = 33,
	FUSE_ACCESS = 34,
	FUSE_CREATE = 35,
	FUSE_INTERRUPT = 36,
	FUSE_BMAP = 37,
	FUSE_DESTROY = 38,
	FUSE_IOCTL = 39,
	FUSE_POLL = 40,
	FUSE_NOTIFY_REPLY = 41,
	FUSE_BATCH_FORGET = 42, /* never answered */
	FUSE_FALLOCATE = 43,
	FUSE_READDIRPLUS = 44,
	FUSE_RENAME2 = 45,
	FUSE_LSEEK = 46,
	FUSE_COPY_FILE_RANGE = 47,
	FUSE_SETUPMAPPING = 48,
	FUSE_REMOVEMAPPING = 49,
	FUSE_SYNCFS = 50,
	FUSE_TMPFILE = 51,
	FUSE_STATX = 52,
	FUSE_COPY_FILE_RANGE_64 = 53,

	/* Character devices in user space (CUSE) start their session here. */
	CUSE_INIT = 4096,

	/*
	 * Never sent. INIT / CUSE_INIT seen with the other byte order read as
	 * these values, so a peer of the wrong endianness is recognisable.
	 */
	CUSE_INIT_BSWAP_RESERVED = 1048576,   /* CUSE_INIT << 8 */
	FUSE_INIT_BSWAP_RESERVED = 436207616, /* FUSE_INIT << 24 */
};

/* Highest regular opcode this header knows (for tables indexed by opcode). */
#define FUSE_OPCODE_MAX FUSE_COPY_FILE_RANGE_64

/* Unsolicited messages (fuse_out_header.unique == 0, error = code). */
enum fuse_notify_code {
	FUSE_NOTIFY_POLL = 1,
	FUSE_NOTIFY_INVAL_INODE = 2,
	FUSE_NOTIFY_INVAL_ENTRY = 3,
	FUSE_NOTIFY_STORE = 4,
	FUSE_NOTIFY_RETRIEVE = 5,
	FUSE_NOTIFY_DELETE = 6,
	FUSE_NOTIFY_RESEND = 7,	   /* 7.40: requeue all requests in flight */
	FUSE_NOTIFY_INC_EPOCH = 8, /* 7.44: invalidate every cached dentry */
	FUSE_NOTIFY_PRUNE = 9,	   /* 7.45: drop unused inodes by nodeid */
	FUSE_NOTIFY_CODE_MAX,
};

/* ------------------------------------------------------------------------ */
/* INIT flags: bits 0..31 travel in flags, bits 32..63 in flags2 (only when  */
/* FUSE_INIT_EXT is set in both directions).                                 */

#define FUSE_ASYNC_READ (1ULL << 0)
#define FUSE_POSIX_LOCKS (1ULL << 1)
#define FUSE_FILE_OPS (1ULL << 2)
#define FUSE_ATOMIC_O_TRUNC (1ULL << 3)
#define FUSE_EXPORT_SUPPORT (1ULL << 4)
#define FUSE_BIG_WRITES (1ULL << 5)
#define FUSE_DONT_MASK (1ULL << 6)
#define FUSE_SPLICE_WRITE (1ULL << 7)
#define FUSE_SPLICE_MOVE (1ULL << 8)
#define FUSE_SPLICE_READ (1ULL << 9)
#define FUSE_FLOCK_LOCKS (1ULL << 10)
#define FUSE_HAS_IOCTL_DIR (1ULL << 11)
#define FUSE_AUTO_INVAL_DATA (1ULL << 12)
#define FUSE_DO_READDIRPLUS (1ULL << 13)
#define FUSE_READDIRPLUS_AUTO (1ULL << 14)
#define FUSE_ASYNC_DIO (1ULL << 15)
#define FUSE_WRITEBACK_CACHE (1ULL << 16)
#define FUSE_NO_OPEN_SUPPORT (1ULL << 17)
#define FUSE_PARALLEL_DIROPS (1ULL << 18)
#define FUSE_HANDLE_KILLPRIV (1ULL << 19)
#define FUSE_POSIX_ACL (1ULL << 20)
#define FUSE_ABORT_ERROR (1ULL << 21)
#define FUSE_MAX_PAGES (1ULL << 22)
#define FUSE_CACHE_SYMLINKS (1ULL << 23)
#define FUSE_NO_OPENDIR_SUPPORT (1ULL << 24)
#define FUSE_EXPLICIT_INVAL_DATA (1ULL << 25)
#define FUSE_MAP_ALIGNMENT (1ULL << 26)
#define FUSE_SUBMOUNTS (1ULL << 27)
#define FUSE_HANDLE_KILLPRIV_V2 (1ULL << 28)
#define FUSE_SETXATTR_EXT (1ULL << 29) /* 16-byte setxattr_in */
#define FUSE_INIT_EXT (1ULL << 30)     /* flags2 is valid */
#define FUSE_INIT_RESERVED (1ULL << 31)
#define FUSE_SECURITY_CTX (1ULL << 32)
#define FUSE_HAS_INODE_DAX (1ULL << 33)
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#define FUSE_HAS_EXPIRE_ONLY (1ULL << 35)
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#define FUSE_PASSTHROUGH (1ULL << 37)
#define FUSE_NO_EXPORT_SUPPORT (1ULL << 38)
#define FUSE_HAS_RESEND (1ULL << 39)
#define FUSE_ALLOW_IDMAP (1ULL << 40)
#define FUSE_OVER_IO_URING (1ULL << 41)
#define FUSE_REQUEST_TIMEOUT (1ULL << 42)

/* Older name of FUSE_DIRECT_IO_ALLOW_MMAP. */
#define FUSE_DIRECT_IO_RELAX FUSE_DIRECT_IO_ALLOW_MMAP

/* CUSE_INIT flag: the device takes ioctls of any shape. */
#define CUSE_UNRESTRICTED_IOCTL (1 << 0)

/* ------------------------------------------------------------------------ */
/* Per-op flag words                                                         */

/* fuse_setattr_in.valid: which fields of the request are meaningful. */
#define FATTR_MODE (1U << 0)
#define FATTR_UID (1U << 1)
#define FATTR_GID (1U << 2)
#define FATTR_SIZE (1U << 3)
#define FATTR_ATIME (1U << 4)
#define FATTR_MTIME (1U << 5)
#define FATTR_FH (1U << 6)
#define FATTR_ATIME_NOW (1U << 7)
#define FATTR_MTIME_NOW (1U << 8)
#define FATTR_LOCKOWNER (1U << 9)
#define FATTR_CTIME (1U << 10)
#define FATTR_KILL_SUIDGID (1U << 11)

/* fuse_open_out.open_flags: how the kernel should treat the open file. */
#define FOPEN_DIRECT_IO (1U << 0)  /* bypass the page cache */
#define FOPEN_KEEP_CACHE (1U << 1) /* keep cached pages on open */
#define FOPEN_NONSEEKABLE (1U << 2)
#define FOPEN_CACHE_DIR (1U << 3) /* cache readdir results */
#define FOPEN_STREAM (1U << 4)	  /* no file position at all */
#define FOPEN_NOFLUSH (1U << 5)	  /* no FLUSH on close */
#define FOPEN_PARALLEL_DIRECT_WRITES (1U << 6)
#define FOPEN_PASSTHROUGH (1U << 7) /* backing_id is valid */

/* fuse_open_in.open_flags / fuse_create_in.open_flags */
#define FUSE_OPEN_KILL_SUIDGID (1U << 0)

/* fuse_release_in.release_flags */
#define FUSE_RELEASE_FLUSH (1U << 0)
#define FUSE_RELEASE_FLOCK_UNLOCK (1U << 1)

/* fuse_getattr_in.getattr_flags: fh is meaningful. */
#define FUSE_GETATTR_FH (1U << 0)

/* fuse_lk_in.lk_flags: the lock is a flock(2) lock, not a POSIX one. */
#define FUSE_LK_FLOCK (1U << 0)

/* fuse_write_in.write_flags */
#define FUSE_WRITE_CACHE (1U << 0)	  /* writeback; fh may be any open */
#define FUSE_WRITE_LOCKOWNER (1U << 1)	  /* lock_owner is meaningful */
#define FUSE_WRITE_KILL_SUIDGID (1U << 2) /* clear suid/sgid */
#define FUSE_WRITE_KILL_PRIV FUSE_WRITE_KILL_SUIDGID /* older name */

/* fuse_read_in.read_flags */
#define FUSE_READ_LOCKOWNER (1U << 1)

/* fuse_ioctl_in.flags / fuse_ioctl_out.flags */
#define FUSE_IOCTL_COMPAT (1U << 0)
#define FUSE_IOCTL_UNRESTRICTED (1U << 1)
#define FUSE_IOCTL_RETRY (1U << 2)
#define FUSE_IOCTL_32BIT (1U << 3)
#define FUSE_IOCTL_DIR (1U << 4)
#define FUSE_IOCTL_COMPAT_X32 (1U << 5)
#define FUSE_IOCTL_MAX_IOV 256

/* fuse_poll_in.flags: the caller wants a FUSE_NOTIFY_POLL later. */
#define FUSE_POLL_SCHEDULE_NOTIFY (1U << 0)

/* fuse_fsync_in.fsync_flags */
#define FUSE_FSYNC_FDATASYNC (1U << 0)

/* fuse_attr.flags */
#define FUSE_ATTR_SUBMOUNT (1U << 0)
#define FUSE_ATTR_DAX (1U << 1)

/* fuse_setxattr_in.setxattr_flags (only with FUSE_SETXATTR_EXT) */
#define FUSE_SETXATTR_ACL_KILL_SGID (1U << 0)

/* fuse_notify_inval_entry_out.flags */
#define FUSE_EXPIRE_ONLY (1U << 0)

/* fuse_setupmapping_in.flags */
#define FUSE_SETUPMAPPING_FLAG_WRITE (1ULL << 0)
#define FUSE_SETUPMAPPING_FLAG_READ (1ULL << 1)

/*
 * High bit of fuse_in_header.unique on a request the kernel sent again after
 * FUSE_NOTIFY_RESEND (only with FUSE_HAS_RESEND).
 */
#define FUSE_UNIQUE_RESEND (1ULL << 63)

/*
 * fuse_in_header.uid/gid value on an idmapped mount (FUSE_ALLOW_IDMAP) when
 * the caller's ids have no mapping. Creating ops always carry mapped ids.
 */
#define FUSE_INVALID_UIDGID ((uint32_t)-1)

/* ------------------------------------------------------------------------ */
/* Attributes                                                                */

struct fuse_attr {
	uint64_t ino;
	uint64_t size;
	uint64_t blocks;
	uint64_t atime;
	uint64_t mtime;
	uint64_t ctime;
	uint32_t atimensec;
	uint32_t mtimensec;
	uint32_t ctimensec;
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t rdev;
	uint32_t blksize;
	uint32_t flags; /* FUSE_ATTR_* */
};

/* A timestamp inside fuse_statx. */
struct fuse_sx_time {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t __reserved;
};

/* statx(2)-shaped attributes (STATX, 7.39). */
struct fuse_statx {
	uint32_t mask;
	uint32_t blksize;
	uint64_t attributes;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint16_t mode;
	uint16_t __spare0[1];
	uint64_t ino;
	uint64_t size;
	uint64_t blocks;
	uint64_t attributes_mask;
	struct fuse_sx_time atime;
	struct fuse_sx_time btime;
	struct fuse_sx_time ctime;
	struct fuse_sx_time mtime;
	uint32_t rdev_major;
	uint32_t rdev_minor;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint64_t __spare2[14];
};

struct fuse_kstatfs {
	uint64_t blocks;
	uint64_t bfree;
	uint64_t bavail;
	uint64_t files;
	uint64_t ffree;
	uint32_t bsize;
	uint32_t namelen;
	uint32_t frsize;
	uint32_t padding;
	uint32_t spare[6];
};

/* A byte-range lock; end is inclusive (OFFSET_MAX = to end of file). */
struct fuse_file_lock {
	uint64_t start;
	uint64_t end;
	uint32_t type; /* F_RDLCK, F_WRLCK, F_UNLCK */
	uint32_t pid;  /* tgid of the owner */
};

/* ------------------------------------------------------------------------ */
/* Request headers and per-op arguments                                      */

struct fuse_in_header {
	uint32_t len; /* whole message, header included */
	uint32_t opcode;
	uint64_t unique; /* echo in the reply; 0 never appears */
	uint64_t nodeid;
	uint32_t uid;
	uint32_t gid;
	uint32_t pid;
	uint16_t total_extlen; /* extension bytes at the end, in units of 8 */
	uint16_t padding;
};

struct fuse_out_header {
	uint32_t len;  /* whole reply, header included */
	int32_t error; /* 0 or -errno; notify code when unique == 0 */
	uint64_t unique;
};

/* Reply to LOOKUP, MKNOD, MKDIR, SYMLINK, LINK (and first part of CREATE). */
struct fuse_entry_out {
	uint64_t nodeid;
	uint64_t generation;  /* (nodeid, generation) unique for the fs life */
	uint64_t entry_valid; /* dentry cache timeout, seconds */
	uint64_t attr_valid;  /* attribute cache timeout, seconds */
	uint32_t entry_valid_nsec;
	uint32_t attr_valid_nsec;
	struct fuse_attr attr;
};

/* FORGET: drop nlookup references to the header's nodeid. */
struct fuse_forget_in {
	uint64_t nlookup;
};

/* One item of BATCH_FORGET. */
struct fuse_forget_one {
	uint64_t nodeid;
	uint64_t nlookup;
};

/* BATCH_FORGET: followed by count fuse_forget_one items. */
struct fuse_batch_forget_in {
	uint32_t count;
	uint32_t dummy;
};

struct fuse_getattr_in {
	uint32_t getattr_flags; /* FUSE_GETATTR_FH */
	uint32_t dummy;
	uint64_t fh;
};

struct fuse_attr_out {
	uint64_t attr_valid;
	uint32_t attr_valid_nsec;
	uint32_t dummy;
	struct fuse_attr attr;
};

struct fuse_statx_in {
	uint32_t getattr_flags;
	uint32_t reserved;
	uint64_t fh;
	uint32_t sx_flags; /* AT_STATX_* sync flags */
	uint32_t sx_mask;  /* STATX_* fields wanted */
};

struct fuse_statx_out {
	uint64_t attr_valid;
	uint32_t attr_valid_nsec;
	uint32_t flags;
	uint64_t spare[2];
	struct fuse_statx stat;
};

/* MKNOD: followed by the name. Before 7.12 only mode and rdev were sent. */
struct fuse_mknod_in {
	uint32_t mode;
	uint32_t rdev;
	uint32_t umask;
	uint32_t padding;
};

/* MKDIR: followed by the name. */
struct fuse_mkdir_in {
	uint32_t mode;
	uint32_t umask;
};

/* RENAME: followed by old name and new name. */
struct fuse_rename_in {
	uint64_t newdir;
};

/* RENAME2: like RENAME plus RENAME_* flags. */
struct fuse_rename2_in {
	uint64_t newdir;
	uint32_t flags;
	uint32_t padding;
};

/* LINK: followed by the new name; nodeid in the header is the new parent. */
struct fuse_link_in {
	uint64_t oldnodeid;
};

struct fuse_setattr_in {
	uint32_t valid; /* FATTR_* */
	uint32_t padding;
	uint64_t fh;
	uint64_t size;
	uint64_t lock_owner;
	uint64_t atime;
	uint64_t mtime;
	uint64_t ctime;
	uint32_t atimensec;
	uint32_t mtimensec;
	uint32_t ctimensec;
	uint32_t mode;
	uint32_t unused4;
	uint32_t uid;
	uint32_t gid;
	uint32_t unused5;
};

/* OPEN, OPENDIR */
struct fuse_open_in {
	uint32_t flags;	     /* open(2) flags */
	uint32_t open_flags; /* FUSE_OPEN_KILL_SUIDGID */
};

/* CREATE, TMPFILE: followed by the name. */
struct fuse_create_in {
	uint32_t flags;
	uint32_t mode;
	uint32_t umask;
	uint32_t open_flags;
};

struct fuse_open_out {
	uint64_t fh;
	uint32_t open_flags; /* FOPEN_* */
	int32_t backing_id;  /* with FOPEN_PASSTHROUGH */
};

/* RELEASE, RELEASEDIR */
struct fuse_release_in {
	uint64_t fh;
	uint32_t flags;
	uint32_t release_flags; /* FUSE_RELEASE_* */
	uint64_t lock_owner;
};

struct fuse_flush_in {
	uint64_t fh;
	uint32_t unused;
	uint32_t padding;
	uint64_t lock_owner;
};

/* READ, READDIR, READDIRPLUS */
struct fuse_read_in {
	uint64_t fh;
	uint64_t offset;
	uint32_t size;
	uint32_t read_flags; /* FUSE_READ_LOCKOWNER */
	uint64_t lock_owner;
	uint32_t flags; /* open(2) flags of the file */
	uint32_t padding;
};

/* WRITE: followed by size bytes of data. */
struct fuse_write_in {
	uint64_t fh;
	uint64_t offset;
	uint32_t size;
	uint32_t write_flags; /* FUSE_WRITE_* */
	uint64_t lock_owner;
	uint32_t flags;
	uint32_t padding;
};

struct fuse_write_out {
	uint32_t size;
	uint32_t padding;
};

struct fuse_statfs_out {
	struct fuse_kstatfs st;
};

/* FSYNC, FSYNCDIR */
struct fuse_fsync_in {
	uint64_t fh;
	uint32_t fsync_flags; /* FUSE_FSYNC_FDATASYNC */
	uint32_t padding;
};

/*
 * SETXATTR: followed by the NUL-terminated name and size bytes of value.
 * Only the first FUSE_COMPAT_SETXATTR_IN_SIZE bytes are sent unless
 * FUSE_SETXATTR_EXT was negotiated.
 */
struct fuse_setxattr_in {
	uint32_t size;
	uint32_t flags;		 /* XATTR_CREATE / XATTR_REPLACE */
	uint32_t setxattr_flags; /* FUSE_SETXATTR_ACL_KILL_SGID */
	uint32_t padding;
};

/* GETXATTR (followed by the name), LISTXATTR */
struct fuse_getxattr_in {
	uint32_t size; /* 0 = just report the needed size */
	uint32_t padding;
};

struct fuse_getxattr_out {
	uint32_t size;
	uint32_t padding;
};

/* GETLK, SETLK, SETLKW */
struct fuse_lk_in {
	uint64_t fh;
	uint64_t owner;
	struct fuse_file_lock lk;
	uint32_t lk_flags; /* FUSE_LK_FLOCK */
	uint32_t padding;
};

struct fuse_lk_out {
	struct fuse_file_lock lk;
};

struct fuse_access_in {
	uint32_t mask; /* R_OK | W_OK | X_OK */
	uint32_t padding;
};

/*
 * INIT. Kernels before 7.36 send only the first 16 bytes (through flags);
 * flags2 is meaningful only when flags has FUSE_INIT_EXT.
 */
struct fuse_init_in {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint32_t flags2;
	uint32_t unused[11];
};

/* How many bytes of fuse_init_in a pre-7.36 kernel sends. */
#define FUSE_COMPAT_INIT_IN_SIZE 16

struct fuse_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran; /* ns, 1..1e9 */
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;	  /* INIT flag bits 32..63 */
	uint32_t max_stack_depth; /* with FUSE_PASSTHROUGH */
	uint16_t request_timeout; /* seconds, with FUSE_REQUEST_TIMEOUT */
	uint16_t unused[11];
};

/* Reply sizes older kernels expect (minor < 5, minor < 23). */
#define FUSE_COMPAT_INIT_OUT_SIZE 8
#define FUSE_COMPAT_22_INIT_OUT_SIZE 24

#define CUSE_INIT_INFO_MAX 4096

struct cuse_init_in {
	uint32_t major;
	uint32_t minor;
	uint32_t unused;
	uint32_t flags;
};

struct cuse_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t unused;
	uint32_t flags;
	uint32_t max_read;
	uint32_t max_write;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t spare[10];
};

/* INTERRUPT: the unique of the request to interrupt. Never answered OK. */
struct fuse_interrupt_in {
	uint64_t unique;
};

struct fuse_bmap_in {
	uint64_t block;
	uint32_t blocksize;
	uint32_t padding;
};

struct fuse_bmap_out {
	uint64_t block;
};

/* IOCTL: followed by in_size bytes of input. */
struct fuse_ioctl_in {
	uint64_t fh;
	uint32_t flags; /* FUSE_IOCTL_* */
	uint32_t cmd;
	uint64_t arg;
	uint32_t in_size;
	uint32_t out_size;
};

struct fuse_ioctl_iovec {
	uint64_t base;
	uint64_t len;
};

struct fuse_ioctl_out {
	int32_t result;
	uint32_t flags;
	uint32_t in_iovs;
	uint32_t out_iovs;
};

struct fuse_poll_in {
	uint64_t fh;
	uint64_t kh;	/* handle for FUSE_NOTIFY_POLL */
	uint32_t flags; /* FUSE_POLL_SCHEDULE_NOTIFY */
	uint32_t events;
};

struct fuse_poll_out {
	uint32_t revents;
	uint32_t padding;
};

struct fuse_fallocate_in {
	uint64_t fh;
	uint64_t offset;
	uint64_t length;
	uint32_t mode; /* FALLOC_FL_* */
	uint32_t padding;
};

struct fuse_lseek_in {
	uint64_t fh;
	uint64_t offset;
	uint32_t whence; /* SEEK_DATA / SEEK_HOLE */
	uint32_t padding;
};

struct fuse_lseek_out {
	uint64_t offset;
};

/* COPY_FILE_RANGE and COPY_FILE_RANGE_64 (header nodeid = source). */
struct fuse_copy_file_range_in {
	uint64_t fh_in;
	uint64_t off_in;
	uint64_t nodeid_out;
	uint64_t fh_out;
	uint64_t off_out;
	uint64_t len;
	uint64_t flags;
};

/* Reply to COPY_FILE_RANGE_64 (plain COPY_FILE_RANGE uses fuse_write_out). */
struct fuse_copy_file_range_out {
	uint64_t bytes_copied;
};

/* SETUPMAPPING / REMOVEMAPPING (virtiofs DAX window). */
struct fuse_setupmapping_in {
	uint64_t fh;
	uint64_t foffset; /* file offset of the mapping */
	uint64_t len;
	uint64_t flags;	  /* FUSE_SETUPMAPPING_FLAG_* */
	uint64_t moffset; /* offset in the DAX window */
};

/* REMOVEMAPPING: followed by count fuse_removemapping_one items. */
struct fuse_removemapping_in {
	uint32_t count;
};

struct fuse_removemapping_one {
	uint64_t moffset;
	uint64_t len;
};

struct fuse_syncfs_in {
	uint64_t padding;
};

/* ------------------------------------------------------------------------ */
/* Request extensions (after the op args, total_extlen * 8 bytes)            */

/* Generic header in front of every extension; size includes the header. */
struct fuse_ext_header {
	uint32_t size;
	uint32_t type; /* enum fuse_ext_type */
};

/*
 * Extension types. The security-context block predates the generic header
 * and is recognised by type values 0..FUSE_MAX_NR_SECCTX.
 */
enum fuse_ext_type {
	FUSE_MAX_NR_SECCTX = 31,
	FUSE_EXT_GROUPS = 32, /* struct fuse_supp_groups */
};

/* With FUSE_SECURITY_CTX: header, then nr_secctx (fuse_secctx, name, ctx). */
struct fuse_secctx_header {
	uint32_t size;
	uint32_t nr_secctx;
};

/* One security context; followed by a NUL-terminated xattr name, then size
 * bytes. */
struct fuse_secctx {
	uint32_t size;
	uint32_t padding;
};

/* With FUSE_CREATE_SUPP_GROUP: the caller's supplementary group. */
struct fuse_supp_groups {
	uint32_t nr_groups;
	uint32_t groups[];
};

/* ------------------------------------------------------------------------ */
/* Directory listings                                                        */

/* One READDIR entry; entries are padded to 8 bytes, name not terminated. */
struct fuse_dirent {
	uint64_t ino;
	uint64_t off; /* cookie for the READDIR that continues after */
	uint32_t namelen;
	uint32_t type; /* DT_* (mode >> 12) */
	char name[];
};

/* One READDIRPLUS entry: a LOOKUP reply glued to a dirent. */
struct fuse_direntplus {
	struct fuse_entry_out entry_out;
	struct fuse_dirent dirent;
};

/* Byte offset of the name in a dirent / direntplus. */
#define FUSE_NAME_OFFSET offsetof(struct fuse_dirent, name)
#define FUSE_NAME_OFFSET_DIRENTPLUS                                            \
	offsetof(struct fuse_direntplus, dirent.name)

/* Round @x up to the 8-byte entry alignment. */
static inline size_t fuse_dirent_align(size_t x)
{
	return (x + sizeof(uint64_t) - 1) & ~(sizeof(uint64_t) - 1);
}

/* Aligned size of a dirent / direntplus carrying @namelen name bytes. */
static inline size_t fuse_dirent_rec_len(size_t namelen)
{
	return fuse_dirent_align(FUSE_NAME_OFFSET + namelen);
}

static inline size_t fuse_direntplus_rec_len(size_t namelen)
{
	return fuse_dirent_align(FUSE_NAME_OFFSET_DIRENTPLUS + namelen);
}

/* ------------------------------------------------------------------------ */
/* Notifications (daemon -> kernel, unique = 0)                              */

struct fuse_notify_poll_wakeup_out {
	uint64_t kh;
};

struct fuse_notify_inval_inode_out {
	uint64_t ino;
	int64_t off; /* negative: attributes only */
	int64_t len; /* 0 or negative: to end of file */
};

/* Followed by namelen bytes of name and a NUL. */
struct fuse_notify_inval_entry_out {
	uint64_t parent;
	uint32_t namelen;
	uint32_t flags; /* FUSE_EXPIRE_ONLY */
};

/* Followed by namelen bytes of name and a NUL. */
struct fuse_notify_delete_out {
	uint64_t parent;
	uint64_t child;
	uint32_t namelen;
	uint32_t padding;
};

/* Followed by size bytes of data to place in the page cache. */
struct fuse_notify_store_out {
	uint64_t nodeid;
	uint64_t offset;
	uint32_t size;
	uint32_t padding;
};

struct fuse_notify_retrieve_out {
	uint64_t notify_unique;
	uint64_t nodeid;
	uint64_t offset;
	uint32_t size;
	uint32_t padding;
};

/* NOTIFY_REPLY request: same size as fuse_write_in, data follows. */
struct fuse_notify_retrieve_in {
	uint64_t dummy1;
	uint64_t offset;
	uint32_t size;
	uint32_t dummy2;
	uint64_t dummy3;
	uint64_t dummy4;
};

/* Followed by count uint64_t nodeids. */
struct fuse_notify_prune_out {
	uint32_t count;
	uint32_t padding;
	uint64_t spare;
};

/* ------------------------------------------------------------------------ */
/* /dev/fuse ioctls                                                          */

/* Argument of FUSE_DEV_IOC_BACKING_OPEN (passthrough). */
struct fuse_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

/*
 * ioctl numbers, spelled out: _IOR/_IOW/_IO(229, nr, type). The encoding is
 * dir << 30 | size << 16 | 229 << 8 | nr (dir: 2 = read, 1 = write).
 */
#define FUSE_DEV_IOC_MAGIC 229
/* _IOR(229, 0, uint32_t): attach this fd to the session of *arg. */
#define FUSE_DEV_IOC_CLONE 0x8004e500U
/* _IOW(229, 1, struct fuse_backing_map): returns a backing_id. */
#define FUSE_DEV_IOC_BACKING_OPEN 0x4010e501U
/* _IOW(229, 2, uint32_t): release a backing_id. */
#define FUSE_DEV_IOC_BACKING_CLOSE 0x4004e502U
/* _IO(229, 3): make mount(2) wait for the INIT reply (6.18+). */
#define FUSE_DEV_IOC_SYNC_INIT 0xe503U

/* ------------------------------------------------------------------------ */
/* FUSE-over-io_uring (7.42)                                                 */

#define FUSE_URING_IN_OUT_HEADER_SZ 128
#define FUSE_URING_OP_IN_OUT_SZ 128

/* Per-entry metadata shared between kernel and daemon. */
struct fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;  /* echo in COMMIT_AND_FETCH */
	uint32_t payload_sz; /* bytes used in the payload buffer */
	uint32_t padding;
	uint64_t reserved;
};

/* The header buffer (iov[0]) of a ring entry. */
struct fuse_uring_req_header {
	/* kernel -> daemon: fuse_in_header; daemon -> kernel: fuse_out_header
	 */
	char in_out[FUSE_URING_IN_OUT_HEADER_SZ];
	/* the op's first argument (e.g. fuse_read_in), if it has one */
	char op_in[FUSE_URING_OP_IN_OUT_SZ];
	struct fuse_uring_ent_in_out ring_ent_in_out;
};

/* sqe->cmd_op of IORING_OP_URING_CMD on /dev/fuse */
enum fuse_uring_cmd {
	FUSE_IO_URING_CMD_INVALID = 0,
	FUSE_IO_URING_CMD_REGISTER = 1, /* hand a new entry to a queue */
	FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2, /* reply and re-arm */
};

/* In sqe->cmd (needs IORING_SETUP_SQE128). */
struct fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id; /* 0 on REGISTER */
	uint16_t qid;	    /* queue = CPU index */
	uint8_t padding[6];
};

/* ------------------------------------------------------------------------ */
/* Compatibility sizes: how much older minors send or expect                 */

#define FUSE_COMPAT_ENTRY_OUT_SIZE 120 /* minor < 9 */
#define FUSE_COMPAT_ATTR_OUT_SIZE 96   /* minor < 9 */
#define FUSE_COMPAT_MKNOD_IN_SIZE 8    /* minor < 12 */
#define FUSE_COMPAT_WRITE_IN_SIZE 24   /* minor < 9 */
#define FUSE_COMPAT_STATFS_SIZE 48     /* minor < 4 */
#define FUSE_COMPAT_SETXATTR_IN_SIZE 8 /* without FUSE_SETXATTR_EXT */

/* ------------------------------------------------------------------------ */
/* Size checks: the wire format must not drift.                              */

_Static_assert(sizeof(struct fuse_attr) == 88, "fuse_attr");
_Static_assert(sizeof(struct fuse_sx_time) == 16, "fuse_sx_time");
_Static_assert(sizeof(struct fuse_statx) == 256, "fuse_statx");
_Static_assert(sizeof(struct fuse_kstatfs) == 80, "fuse_kstatfs");
_Static_assert(sizeof(struct fuse_file_lock) == 24, "fuse_file_lock");
_Static_assert(sizeof(struct fuse_in_header) == 40, "fuse_in_header");
_Static_assert(sizeof(struct fuse_out_header) == 16, "fuse_out_header");
_Static_assert(sizeof(struct fuse_entry_out) == 128, "fuse_entry_out");
_Static_assert(sizeof(struct fuse_forget_in) == 8, "fuse_forget_in");
_Static_assert(sizeof(struct fuse_forget_one) == 16, "fuse_forget_one");
_Static_assert(sizeof(struct fuse_batch_forget_in) == 8, "batch_forget_in");
_Static_assert(sizeof(struct fuse_getattr_in) == 16, "fuse_getattr_in");
_Static_assert(sizeof(struct fuse_attr_out) == 104, "fuse_attr_out");
_Static_assert(sizeof(struct fuse_statx_in) == 24, "fuse_statx_in");
_Static_assert(sizeof(struct fuse_statx_out) == 288, "fuse_statx_out");
_Static_assert(sizeof(struct fuse_mknod_in) == 16, "fuse_mknod_in");
_Static_assert(sizeof(struct fuse_mkdir_in) == 8, "fuse_mkdir_in");
_Static_assert(sizeof(struct fuse_rename_in) == 8, "fuse_rename_in");
_Static_assert(sizeof(struct fuse_rename2_in) == 16, "fuse_rename2_in");
_Static_assert(sizeof(struct fuse_link_in) == 8, "fuse_link_in");
_Static_assert(sizeof(struct fuse_setattr_in) == 88, "fuse_setattr_in");
_Static_assert(sizeof(struct fuse_open_in) == 8, "fuse_open_in");
_Static_assert(sizeof(struct fuse_create_in) == 16, "fuse_create_in");
_Static_assert(sizeof(struct fuse_open_out) == 16, "fuse_open_out");
_Static_assert(sizeof(struct fuse_release_in) == 24, "fuse_release_in");
_Static_assert(sizeof(struct fuse_flush_in) == 24, "fuse_flush_in");
_Static_assert(sizeof(struct fuse_read_in) == 40, "fuse_read_in");
_Static_assert(sizeof(struct fuse_write_in) == 40, "fuse_write_in");
_Static_assert(sizeof(struct fuse_write_out) == 8, "fuse_write_out");
_Static_assert(sizeof(struct fuse_statfs_out) == 80, "fuse_statfs_out");
_Static_assert(sizeof(struct fuse_fsync_in) == 16, "fuse_fsync_in");
_Static_assert(sizeof(struct fuse_setxattr_in) == 16, "fuse_setxattr_in");
_Static_assert(sizeof(struct fuse_getxattr_in) == 8, "fuse_getxattr_in");
_Static_assert(sizeof(struct fuse_getxattr_out) == 8, "fuse_getxattr_out");
_Static_assert(sizeof(struct fuse_lk_in) == 48, "fuse_lk_in");
_Static_assert(sizeof(struct fuse_lk_out) == 24, "fuse_lk_out");
_Static_assert(sizeof(struct fuse_access_in) == 8, "fuse_access_in");
_Static_assert(sizeof(struct fuse_init_in) == 64, "fuse_init_in");
_Static_assert(sizeof(struct fuse_init_out) == 64, "fuse_init_out");
_Static_assert(sizeof(struct cuse_init_in) == 16, "cuse_init_in");
_Static_assert(sizeof(struct cuse_init_out) == 72, "cuse_init_out");
_Static_assert(sizeof(struct fuse_interrupt_in) == 8, "fuse_interrupt_in");
_Static_assert(sizeof(struct fuse_bmap_in) == 16, "fuse_bmap_in");
_Static_assert(sizeof(struct fuse_bmap_out) == 8, "fuse_bmap_out");
_Static_assert(sizeof(struct fuse_ioctl_in) == 32, "fuse_ioctl_in");
_Static_assert(sizeof(struct fuse_ioctl_iovec) == 16, "fuse_ioctl_iovec");
_Static_assert(sizeof(struct fuse_ioctl_out) == 16, "fuse_ioctl_out");
_Static_assert(sizeof(struct fuse_poll_in) == 24, "fuse_poll_in");
_Static_assert(sizeof(struct fuse_poll_out) == 8, "fuse_poll_out");
_Static_assert(sizeof(struct fuse_fallocate_in) == 32, "fuse_fallocate_in");
_Static_assert(sizeof(struct fuse_lseek_in) == 24, "fuse_lseek_in");
_Static_assert(sizeof(struct fuse_lseek_out) == 8, "fuse_lseek_out");
_Static_assert(sizeof(struct fuse_copy_file_range_in) == 56, "cfr_in");
_Static_assert(sizeof(struct fuse_copy_file_range_out) == 8, "cfr_out");
_Static_assert(sizeof(struct fuse_setupmapping_in) == 40, "setupmapping_in");
_Static_assert(sizeof(struct fuse_removemapping_in) == 4, "removemapping_in");
_Static_assert(sizeof(struct fuse_removemapping_one) == 16,
	       "removemapping_one");
_Static_assert(sizeof(struct fuse_syncfs_in) == 8, "fuse_syncfs_in");
_Static_assert(sizeof(struct fuse_ext_header) == 8, "fuse_ext_header");
_Static_assert(sizeof(struct fuse_secctx_header) == 8, "fuse_secctx_header");
_Static_assert(sizeof(struct fuse_secctx) == 8, "fuse_secctx");
_Static_assert(sizeof(struct fuse_supp_groups) == 4, "fuse_supp_groups");
_Static_assert(sizeof(struct fuse_dirent) == 24, "fuse_dirent");
_Static_assert(sizeof(struct fuse_direntplus) == 152, "fuse_direntplus");
_Static_assert(FUSE_NAME_OFFSET == 24, "FUSE_NAME_OFFSET");
_Static_assert(FUSE_NAME_OFFSET_DIRENTPLUS == 152, "direntplus name offset");
_Static_assert(sizeof(struct fuse_notify_poll_wakeup_out) == 8, "poll_wakeup");
_Static_assert(sizeof(struct fuse_notify_inval_inode_out) == 24, "inval_inode");
_Static_assert(sizeof(struct fuse_notify_inval_entry_out) == 16, "inval_entry");
_Static_assert(sizeof(struct fuse_notify_delete_out) == 24, "notify_delete");
_Static_assert(sizeof(struct fuse_notify_store_out) == 24, "notify_store");
_Static_assert(sizeof(struct fuse_notify_retrieve_out) == 32, "retrieve_out");
_Static_assert(sizeof(struct fuse_notify_retrieve_in) == 40, "retrieve_in");
_Static_assert(sizeof(struct fuse_notify_prune_out) == 16, "notify_prune");
_Static_assert(sizeof(struct fuse_backing_map) == 16, "fuse_backing_map");
_Static_assert(sizeof(struct fuse_uring_ent_in_out) == 32, "uring_ent_in_out");
_Static_assert(sizeof(struct fuse_uring_req_header) == 288, "uring_req_header");
_Static_assert(offsetof(struct fuse_uring_req_header, ring_ent_in_out) == 256,
	       "uring ring_ent_in_out offset");
_Static_assert(sizeof(struct fuse_uring_cmd_req) == 24, "uring_cmd_req");
_Static_assert(sizeof(struct fuse_write_in) ==
		       sizeof(struct fuse_notify_retrieve_in),
	       "NOTIFY_REPLY reuses the WRITE layout");

#endif /* VALOR_PROTO_FUSE_ABI_H */

/* SPDX-License-Identifier: MIT */
/*
 * fuse_decode.h - turn one raw FUSE request into a typed, validated struct.
 *
 * Pure code: no I/O, no globals, no allocation. The decoder checks every
 * length before anything is read: the header, the fixed per-op argument,
 * names (NUL-terminated inside the message, at most the op's limit), counts
 * (BATCH_FORGET) and data sizes (WRITE, SETXATTR) against the bytes actually
 * received. Handlers only ever see a struct that passed these checks.
 *
 * Ownership: pointers in struct fuse_req_in (names, data, forget items)
 * point into the caller's buffer and are valid as long as that buffer is.
 * Fixed-size arguments are copied, so they stay valid after the buffer is
 * reused for the reply.
 */
#ifndef VALOR_PROTO_FUSE_DECODE_H
#define VALOR_PROTO_FUSE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "fuse_abi.h"

/* What the decoder must know about the session (from INIT). */
struct fuse_decode_ctx {
	uint32_t minor;		/* negotiated protocol minor; 0 before INIT */
	uint64_t flags;		/* negotiated INIT flags (flags | flags2 << 32) */
};

/* Longest dentry name accepted; longer ones decode to -ENAMETOOLONG. */
#define FUSE_DECODE_NAME_MAX 255
/* Longest xattr name accepted; longer ones decode to -ERANGE. */
#define FUSE_DECODE_XATTR_NAME_MAX 255
/* Longest symlink target accepted; longer ones decode to -ENAMETOOLONG. */
#define FUSE_DECODE_SYMLINK_MAX 4095

struct fuse_req_in {
	/* From fuse_in_header. */
	uint32_t len;
	uint32_t opcode;
	uint64_t unique;
	uint64_t nodeid;
	uint32_t uid, gid, pid;

	union {
		/* LOOKUP, UNLINK, RMDIR, REMOVEXATTR (name = xattr name) */
		struct {
			const char *name;
		} name;
		struct fuse_forget_in forget;
		struct {
			uint32_t count;
			const struct fuse_forget_one *items; /* 8-aligned if buf is */
		} batch_forget;
		struct fuse_getattr_in getattr;
		struct fuse_setattr_in setattr;
		struct {
			const char *name;
			const char *target;
		} symlink;
		struct {
			struct fuse_mknod_in in;
			const char *name;
		} mknod;
		struct {
			struct fuse_mkdir_in in;
			const char *name;
		} mkdir;
		/* RENAME (flags = 0) and RENAME2 */
		struct {
			uint64_t newdir;
			uint32_t flags;
			const char *oldname;
			const char *newname;
		} rename;
		struct {
			uint64_t oldnodeid;
			const char *name;
		} link;
		struct fuse_open_in open;	/* OPEN, OPENDIR */
		struct fuse_read_in read;	/* READ, READDIR, READDIRPLUS */
		struct {
			struct fuse_write_in in;
			const void *data;	/* in.size bytes */
		} write;
		struct fuse_release_in release; /* RELEASE, RELEASEDIR */
		struct fuse_fsync_in fsync;	/* FSYNC, FSYNCDIR */
		struct {
			uint32_t size;
			uint32_t flags;		/* XATTR_CREATE / XATTR_REPLACE */
			const char *name;
			const void *value;	/* size bytes */
		} setxattr;
		/* GETXATTR (name set), LISTXATTR (name NULL) */
		struct {
			uint32_t size;
			const char *name;
		} getxattr;
		struct fuse_flush_in flush;
		struct fuse_init_in init;	/* missing tail of an old INIT is zero */
		struct fuse_lk_in lk;		/* GETLK, SETLK, SETLKW */
		struct fuse_access_in access;
		/* CREATE and TMPFILE */
		struct {
			struct fuse_create_in in;
			const char *name;
		} create;
		struct fuse_interrupt_in interrupt;
		struct fuse_bmap_in bmap;
		struct fuse_fallocate_in fallocate;
		struct fuse_lseek_in lseek;
		/* COPY_FILE_RANGE and COPY_FILE_RANGE_64 */
		struct fuse_copy_file_range_in copy_file_range;
		struct fuse_syncfs_in syncfs;
		struct fuse_statx_in statx;
		struct fuse_poll_in poll;
		struct fuse_ioctl_in ioctl;
	} u;
};

/*
 * Decode @len bytes at @buf.
 *
 * Returns 0 on success. On failure returns -errno and, where the header was
 * readable, out->unique/opcode/nodeid are filled so the caller can send an
 * error reply with that errno:
 *   -EPROTO       fewer bytes than a header, or header len != @len
 *                 (out->unique is 0 when nothing could be read: drop it)
 *   -EINVAL       a per-op argument is short, a name is not NUL-terminated
 *                 within the message, a count or size overruns the message
 *   -ENAMETOOLONG a dentry name or symlink target over its limit
 *   -ERANGE       an xattr name over its limit
 *   -ENOSYS       an opcode this decoder does not know
 * @buf must be 8-byte aligned.
 */
int fuse_decode(const void *buf, size_t len, const struct fuse_decode_ctx *ctx,
		struct fuse_req_in *out);

/* Name of an opcode ("LOOKUP"), or "UNKNOWN". Never NULL. */
const char *fuse_opcode_name(uint32_t opcode);

/* True for opcodes that never get a reply (FORGET, BATCH_FORGET). */
int fuse_opcode_noreply(uint32_t opcode);

/*
 * Format the key arguments of a decoded request for -d logs, e.g.
 * "LOOKUP unique=4 nodeid=1 name=\"file\"". Always NUL-terminates;
 * returns the length it wanted (like snprintf).
 */
int fuse_req_format(char *out, size_t cap, const struct fuse_req_in *req);

#endif

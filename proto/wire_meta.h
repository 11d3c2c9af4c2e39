/* SPDX-License-Identifier: MIT */
/*
 * wire_meta.h - request and reply bodies of the metadata service (0x02xx).
 *
 * Every metadata op shares ONE request struct and ONE reply struct; the
 * opcode (the frame's) selects which fields travel, in the order listed in
 * the table below. Fields an op does not use are neither encoded nor
 * written by the decoder. This keeps the client and metad on one codec
 * while each op still has its own exact body: the decoder rejects
 * truncation, trailing bytes and over-limit names and values.
 *
 * Encoding follows wire_msg.h: little-endian at natural width, strings as
 * u16 length + bytes (no NUL), byte values as u32 length + bytes, booleans
 * and enums one byte, a timespec as i64 sec + u32 nsec (nsec < 1e9).
 *
 * Every request starts with the header: u32 uid, u32 gid, u64 client (a
 * random id per mount: owner of sessions and locks), u64 req_id (the
 * client's request counter; see META_API.md on retries).
 *
 * Request fields after the header, per op:
 *   LOOKUP      ino(parent) name
 *   GETATTR     ino
 *   SETATTR     ino sa (valid mode uid gid size atime mtime ctime)
 *   CREATE      ino(parent) name mode oflags
 *   MKNOD       ino(parent) name mode rdev
 *   MKDIR       ino(parent) name mode
 *   SYMLINK     ino(parent) name target
 *   READLINK    ino
 *   LINK        ino ino2(newparent) name2(newname)
 *   UNLINK      ino(parent) name
 *   RMDIR       ino(parent) name
 *   RENAME      ino(parent) name ino2(newparent) name2 flags
 *   OPEN        ino oflags
 *   CLOSE       ino
 *   READDIR     ino(dir) name(cookie, "" = start) max plus
 *   STATFS      -
 *   SETXATTR    ino name value flags
 *   GETXATTR    ino name cap
 *   LISTXATTR   ino cap
 *   REMOVEXATTR ino name
 *   SET_LENGTH  ino size(hint) trunc_ver
 *   LOCK        ino lock            (SETLK, non-blocking; F_UNLCK unlocks)
 *   UNLOCK      ino lock.kind lock.owner   (drop every lock of the owner)
 *   FSCK        -
 *   GETLK       ino lock
 *   RENEW       -                   (lease renewal of client's locks and
 *                                    sessions)
 *
 * Reply fields per op (status is the frame's; on error the body is empty):
 *   LOOKUP GETATTR SETATTR MKNOD MKDIR SYMLINK LINK SET_LENGTH
 *               attr
 *   CREATE OPEN attr layout trunc_ver
 *   READLINK    target
 *   READDIR     plus eof n * (ino type name [attr if plus])   n <= max
 *   STATFS      st
 *   GETXATTR LISTXATTR
 *               size value      (cap 0: size only, value empty)
 *   GETLK       lock            (type F_UNLCK = no conflict)
 *   FSCK        violations report
 *   RENEW       lease_ms
 *   others      (empty)
 *
 * Pure code: no I/O, no globals, no allocation. Both structs are large
 * (request ~70 KiB, reply ~120 KiB): heap-allocate them.
 */
#ifndef VALOR_PROTO_WIRE_META_H
#define VALOR_PROTO_WIRE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define WIRE_META_NAME_MAX 255
#define WIRE_META_TARGET_MAX 4095
#define WIRE_META_VALUE_MAX 65536
#define WIRE_META_READDIR_MAX 128
#define WIRE_META_REPORT_MAX 65536

/* struct wire_meta_lock.kind */
enum wire_meta_lock_kind {
	WIRE_LOCK_POSIX = 0, /* byte range; owner = lock owner, per process */
	WIRE_LOCK_FLOCK = 1, /* whole file; owner = the open file */
};

/* Attributes, field for field struct vattr (daemon/backend.h). */
struct wire_meta_attr {
	uint64_t ino, size, blocks;
	struct timespec atime, mtime, ctime, btime;
	uint32_t mode, nlink, uid, gid, rdev, blksize;
	uint64_t generation;
};

/* Field for field struct vsetattr without the fh (VSET_* bits). */
struct wire_meta_setattr {
	uint32_t valid;
	uint32_t mode, uid, gid;
	uint64_t size;
	struct timespec atime, mtime, ctime;
};

/* Field for field struct vns_layout (meta/ns.h). */
struct wire_meta_layout {
	uint32_t chunk_size, stripe, first_chain, table_version;
};

struct wire_meta_statfs {
	uint64_t blocks, bfree, bavail, files, ffree;
	uint32_t bsize, frsize, namelen;
};

/*
 * A lock. Ranges are inclusive, end UINT64_MAX = to EOF; type F_RDLCK,
 * F_WRLCK or F_UNLCK (<fcntl.h> values, encoded as u32). For a flock the
 * range is ignored (encoded, must be 0..UINT64_MAX).
 */
struct wire_meta_lock {
	uint8_t kind; /* enum wire_meta_lock_kind */
	uint64_t owner;
	uint32_t pid;
	uint32_t type;
	uint64_t start, end;
};

struct wire_meta_req {
	/* header, every op */
	uint32_t uid, gid;
	uint64_t client;
	uint64_t req_id;
	/* per op, see the table */
	uint64_t ino, ino2;
	char name[WIRE_META_NAME_MAX + 1];
	char name2[WIRE_META_NAME_MAX + 1];
	char target[WIRE_META_TARGET_MAX + 1];
	uint32_t mode, rdev, oflags, flags;
	struct wire_meta_setattr sa;
	uint64_t size, trunc_ver;
	uint32_t max; /* READDIR: 1..WIRE_META_READDIR_MAX */
	bool plus;
	uint32_t cap; /* GETXATTR/LISTXATTR: <= WIRE_META_VALUE_MAX */
	uint32_t value_len;
	uint8_t value[WIRE_META_VALUE_MAX];
	struct wire_meta_lock lock;
};

struct wire_meta_dirent {
	uint64_t ino;
	uint32_t type; /* S_IFMT bits */
	char name[WIRE_META_NAME_MAX + 1];
	struct wire_meta_attr attr; /* when the reply's plus */
};

struct wire_meta_rep {
	struct wire_meta_attr attr;
	struct wire_meta_layout layout;
	uint64_t trunc_ver;
	char target[WIRE_META_TARGET_MAX + 1];
	/* READDIR; the next page's cookie is the last entry's name */
	bool plus, eof;
	uint32_t nents;
	struct wire_meta_dirent ents[WIRE_META_READDIR_MAX];
	struct wire_meta_statfs st;
	/* GETXATTR / LISTXATTR: size = value size (or needed with cap 0) */
	uint32_t size;
	uint32_t value_len;
	uint8_t value[WIRE_META_VALUE_MAX];
	struct wire_meta_lock lock;
	/* FSCK: report is NUL-terminated text, one violation per line */
	uint32_t violations;
	char report[WIRE_META_REPORT_MAX + 1];
	uint32_t lease_ms;
};

/* Largest encoded body of any metadata request or reply. */
#define WIRE_META_BODY_MAX (WIRE_META_VALUE_MAX + 8192)

/* True if @op is a metadata op these codecs know. */
bool wire_meta_op_known(uint16_t op);
/* True if @op changes the namespace (for stats / retry policy). */
bool wire_meta_op_mutates(uint16_t op);

/*
 * Contracts as in wire_msg.h, plus -EOPNOTSUPP for an opcode that is not a
 * metadata op.
 */
int wire_meta_req_encode(uint16_t op, const struct wire_meta_req *m,
			 uint8_t *buf, size_t cap, size_t *len);
int wire_meta_req_decode(uint16_t op, const uint8_t *buf, size_t len,
			 struct wire_meta_req *out);
int wire_meta_rep_encode(uint16_t op, const struct wire_meta_rep *m,
			 uint8_t *buf, size_t cap, size_t *len);
int wire_meta_rep_decode(uint16_t op, const uint8_t *buf, size_t len,
			 struct wire_meta_rep *out);

#endif /* VALOR_PROTO_WIRE_META_H */

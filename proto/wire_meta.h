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
 * client's request counter; see "Retries" below).
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
 *
 * ---- The contract valor-metad keeps (man/valor-metad.8 says the same) ----
 *
 * Discovery: every metad registers with mgmtd as role WIRE_ROLE_META with
 * its --listen URL and heartbeats; clients take the URLs of routing nodes
 * with role META and alive, and may send any request to any of them
 * (metad keeps no state: a shared PostgreSQL holds it all).
 *
 * Retries (exactly-once): a mutation - SETATTR CREATE MKNOD MKDIR SYMLINK
 * LINK UNLINK RMDIR RENAME OPEN CLOSE SETXATTR REMOVEXATTR SET_LENGTH LOCK
 * UNLOCK - whose header has client != 0 and req_id != 0 records
 * (client, req_id) -> its outcome (status 0 and every reply field) in the
 * same KV transaction as its change. A request with the same (client,
 * req_id) arriving later, at any metad, is not run again: it gets the
 * recorded reply (a retried MKDIR answers 0 with the same attr, a retried
 * UNLINK 0). Failures are not recorded: they changed nothing, so a retry
 * runs again. Records are kept at least --dedup-ttl (default 300 s) after
 * their commit: a client must give up retrying a request before that.
 * req_id must be unique per client for the mount's life (a counter);
 * a retry reuses it, and only a retry does. Read-only ops ignore it.
 * Retry on no answer (timeout, lost connection, metad gone) and on
 * -EAGAIN (the KV transaction kept conflicting), except LOCK's -EAGAIN.
 *
 * Attributes: wire_meta_attr is daemon/backend.h's struct vattr; blocks =
 * ceil(size / 512); blksize = the file's chunk size (4096 for others);
 * generation 0. metad's size is the last one reported (SET_LENGTH) or
 * set: the client takes max(metad's size, what it wrote itself).
 *
 * Files: CREATE and OPEN open a session (client, ino) - a count, one per
 * call - and return attr, layout and trunc_ver; CLOSE closes one (-ENOENT
 * when the client has none). An unlinked file stays while any session is
 * open; the last CLOSE queues it for garbage collection. O_TRUNC in
 * oflags truncates to 0. SET_LENGTH(ino, size = hint, trunc_ver): size =
 * max(size, hint) unless the file was truncated since trunc_ver (then
 * the hint is stale and ignored); the reply is the attr after. SETATTR
 * with VSET_SIZE is a truncate (the client cuts the chunks on storage
 * first) and, like O_TRUNC, bumps trunc_ver.
 *
 * Layout of a new regular file: chunk_size = the directory's default or
 * metad's --chunk-size (default 1 MiB); stripe = the directory's default
 * or --stripe (default 4), cut to the number of chains in the table;
 * first_chain = a random INDEX into routing's table.chain_ids;
 * table_version = the table's version. Chunk i is on chain
 * table.chain_ids[(first_chain + i % stripe) % table.nchains]. Without a
 * chain table, creating a regular file (CREATE, MKNOD S_IFREG) fails with
 * -ENOSPC. A directory's default layout is the virtual xattr
 * "trusted.valor.layout" = "chunk_size=N stripe=M" (either may be left
 * out; 0 = metad's default; set by uid 0 only; removing it resets it);
 * directories made below inherit it. On a regular file the same xattr
 * reads "chunk_size=N stripe=M first_chain=F table_version=V" (read-only).
 * It is not listed by LISTXATTR.
 *
 * READDIR: entries in name (byte) order after the cookie ("" = from the
 * start); the next page's cookie is the last entry's name, a position
 * that survives entries coming and going. "." and ".." are not listed.
 * eof is set when fewer than max entries came back. plus adds each
 * entry's attr from the same snapshot.
 *
 * STATFS: bsize = frsize = 4096; blocks = sum of the targets' capacity /
 * replicas, bfree = bavail = sum of (capacity - used) / replicas, from
 * routing (replicas = the longest chain); files = 2^48, ffree = files -
 * the inode count (a sharded counter: cheap whatever the namespace size);
 * namelen 255.
 *
 * Locks (held in the KV: every metad sees them): LOCK sets (F_RDLCK,
 * F_WRLCK) or clears (F_UNLCK) lock.start..lock.end for holder (client,
 * lock.owner), never blocking: -EAGAIN when another holder's lock
 * conflicts (the client implements SETLKW by retrying). POSIX locks split
 * and merge like fcntl's; a flock covers the whole file (its range is
 * ignored); POSIX locks and flocks do not conflict with each other.
 * UNLOCK drops every lock of (client, lock.kind, lock.owner) on ino.
 * GETLK answers the first conflicting lock (its owner and pid) or type
 * F_UNLCK. RENEW answers lease_ms (metad's --lease, default 30000): the
 * client renews every lease_ms / 3. A client that does not renew for
 * lease_ms loses its locks (they stop blocking others at once) and its
 * sessions (closed by metad; unlinked files then become garbage). Opening
 * a session or taking a lock starts a lease if the client has none. A
 * client that could not renew for lease_ms must treat its locks as lost.
 *
 * FSCK: the namespace invariants (meta/ns.h vns_fsck) checked on one
 * snapshot; violations counted, report one line each.
 *
 * Status: 0 or -errno as POSIX would return it; besides: -EBADMSG for a
 * body that does not decode, -ENOSYS for an opcode metad does not serve,
 * -ENOSPC for a regular file without a chain table, -EAGAIN when a
 * transaction kept conflicting (retry), -EIO for a record that does not
 * decode (logged by metad).
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

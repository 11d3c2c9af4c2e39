/* SPDX-License-Identifier: MIT */
/*
 * ns.h - metad's namespace, written once over the transactional KV (kv.h).
 *
 * Every operation is ONE KV transaction run through vkv_run(), so it is
 * atomic and, on PostgreSQL, serializable against other metad processes
 * sharing the database. Each mutation returns the attributes the client
 * needs for its reply, in the FUSE layer's struct vattr (backend.h), so the
 * cluster backend maps 1:1.
 *
 * Keys (integers big-endian so ranges sort numerically):
 *   'I' ino                 inode record (see ns_i.h)
 *   'D' parent name         directory entry: ino, type
 *   'X' ino name            extended attribute value
 *   'S' ino client          open sessions of @client on @ino (a count)
 *   'G' ino                 garbage: a regular file with no name and no
 *                           session, whose chunks the GC must remove (the
 *                           value may carry a GC claim: owner, until)
 *   'C' "ino"               next inode number not yet handed out in a batch
 *   'N' shard(be16)         inode count delta of one shard (statfs): the
 *                           sum over shards is the number of inodes
 *   'L' ino                 byte-range and flock locks held on ino
 *   'K' client              the client's lease: when it expires
 *   'O' client tag ino      what the client holds, for lease expiry:
 *                           tag 'S' a session on ino, 'L' locks on ino
 *   'R' client req_id       outcome of a committed mutation (exactly-once)
 *   'T' time client req_id  the same record by commit time, for expiry
 * Values are little-endian with a leading version byte; a record that does
 * not decode makes the operation fail with -EIO (and a log line).
 *
 * Permissions: mode bits are checked by the kernel (default_permissions)
 * before it calls; this layer enforces what the kernel cannot: owner-only
 * chmod/utimes, chown by root only, sticky directories.
 *
 * Errors are -errno as POSIX would return them. Names are 1..VNS_NAME_MAX
 * bytes without '/'; "." and ".." are -EINVAL for mutations (-EEXIST for
 * creation), and lookup resolves them.
 *
 * Thread rules: a struct vns is shared by any number of threads. An op runs
 * a write transaction, so (kv.h) a thread must not call one while it holds
 * a write transaction of the same store.
 */
#ifndef VALOR_META_NS_H
#define VALOR_META_NS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/backend.h"

struct vkv;
struct vns;

#define VNS_ROOT_INO 1
#define VNS_NAME_MAX 255
#define VNS_SYMLINK_MAX 4095
#define VNS_XATTR_NAME_MAX 255
#define VNS_XATTR_SIZE_MAX 65536
/* Inode numbers one counter bump hands to one struct vns. */
#define VNS_INO_BATCH 1024
/* Conflict retries of each operation's transaction. */
#define VNS_RETRIES 16

/*
 * The caller's credentials, and the request's exactly-once key.
 *
 * Retries: when both client and req_id are nonzero, a mutation records
 * (client, req_id) -> its outcome (return value and the attributes or
 * file it returned) in the same transaction as its changes; a later call
 * with the same key and any op does not run again but returns the recorded
 * outcome, outputs included. Only successes are recorded: a failed
 * mutation changed nothing, so running it again is harmless. Records live
 * at least the TTL metad sweeps them with (vns_idem_expire). Read-only ops
 * ignore the key. 0/0: no record.
 */
struct vns_cred {
	uint32_t uid, gid;
	uint64_t client, req_id;
};

/*
 * Where a regular file's data lives (see DESIGN §8): chunk i is on chain
 * table.chain_ids[(first_chain + i % stripe) % table.nchains].
 * A directory's record holds its default layout in the same fields:
 * chunk_size and stripe (0 = the cluster's), first_chain and
 * table_version unused (0).
 */
struct vns_layout {
	uint32_t chunk_size;	/* bytes per chunk, a power of two */
	uint32_t stripe;	/* chains a file stripes over */
	uint32_t first_chain;	/* INDEX into the chain table of chunk 0 */
	uint32_t table_version; /* chain table version at create */
};

/* Bounds of a layout's chunk size. */
#define VNS_CHUNK_MIN 4096u
#define VNS_CHUNK_MAX (64u << 20)
/* The virtual xattr naming a directory's default layout. */
#define VNS_LAYOUT_XATTR "trusted.valor.layout"

/* What an open of a regular file needs (vns_session_open, vns_create). */
struct vns_file {
	struct vattr attr;
	struct vns_layout layout;
	/* Truncations so far; pass back to vns_set_length(). */
	uint64_t trunc_ver;
};

/* One directory entry from vns_readdir(). */
struct vns_dirent {
	uint64_t ino;
	uint32_t type; /* S_IFMT bits */
	uint32_t namelen;
	char name[VNS_NAME_MAX + 1]; /* NUL-terminated */
};

/* A garbage inode from vns_gc_list(): remove its chunks, then gc_done. */
struct vns_gc_entry {
	uint64_t ino;
	uint64_t size;
	struct vns_layout layout;
};

/* struct vns_lock.kind */
enum vns_lock_kind {
	VNS_LOCK_POSIX = 0, /* byte range; owner = the lock owner */
	VNS_LOCK_FLOCK = 1, /* whole file; owner = the open file */
};

/*
 * A lock (wire_meta_lock field for field). Inclusive range, end UINT64_MAX
 * = to EOF; type F_RDLCK, F_WRLCK, F_UNLCK. The holder is (client, owner):
 * owner numbers are per client. POSIX locks and flocks never conflict with
 * each other (as on Linux).
 */
struct vns_lock {
	uint8_t kind;
	uint64_t owner;
	uint32_t pid;
	uint32_t type;
	uint64_t start, end;
};

/* Most locks one inode holds: past it vns_lock_set() is -ENOLCK. */
#define VNS_LOCKS_MAX 1024

/* ---- Lifecycle ----------------------------------------------------------- */

/*
 * Open the namespace stored in @kv, creating the root directory (inode 1,
 * mode 0755, uid/gid 0) and the inode counter if absent. @kv stays the
 * caller's and must outlive the vns. Several vns (in one or many
 * processes) may share one store. *out is freed with vns_close().
 */
int vns_open(struct vkv *kv, struct vns **out);
/* NULL is a no-op. Unused inode numbers of the batch are lost. */
void vns_close(struct vns *ns);
/*
 * The cluster's default chunk size and stripe for new regular files
 * (first_chain and table_version are ignored). Default 1 MiB, stripe 1.
 */
void vns_set_default_layout(struct vns *ns, const struct vns_layout *l);
/*
 * The chain table new regular files are placed on: its version and its
 * number of chains. A new file gets stripe = min(stripe, @nchains), a
 * random first_chain in [0, @nchains) and table_version @version. With
 * @nchains 0 (the default: no table yet) creating a regular file fails
 * with -ENOSPC.
 */
void vns_set_chains(struct vns *ns, uint32_t version, uint32_t nchains);
/* Lease of clients' sessions and locks, in ms (default 30000). */
void vns_set_lease(struct vns *ns, uint32_t lease_ms);
uint32_t vns_lease_ms(struct vns *ns);

/* Counters since vns_open (relaxed; for the control socket). */
struct vns_stats {
	uint64_t replays;	   /* mutations answered from a record */
	uint64_t idem_expired;	   /* records swept */
	uint64_t leases_expired;   /* clients whose state was dropped */
	uint64_t sessions_dropped; /* by lease expiry */
	uint64_t locks_dropped;	   /* inodes whose locks lease expiry cut */
};
void vns_get_stats(struct vns *ns, struct vns_stats *out);

/* ---- Names --------------------------------------------------------------- */

int vns_lookup(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	       const char *name, struct vattr *out);
int vns_getattr(struct vns *ns, uint64_t ino, struct vattr *out);
/*
 * Apply @sa (backend.h VSET_* bits). chmod and explicit times: owner or
 * root (-EPERM); chown: root, or the owner changing only the group to his
 * own gid (-EPERM). A size change truncates or extends a regular file
 * (-EISDIR on directories, -EINVAL on other types) and bumps its truncate
 * version. *out = the attributes after.
 */
int vns_setattr(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		const struct vsetattr *sa, struct vattr *out);
/* Any type in @mode: S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK. */
int vns_mknod(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	      const char *name, uint32_t mode, uint32_t rdev,
	      struct vattr *out);
int vns_mkdir(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	      const char *name, uint32_t mode, struct vattr *out);
int vns_symlink(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
		const char *name, const char *target, struct vattr *out);
/*
 * Target into @buf, NUL-terminated; returns its length, -EINVAL if @ino is
 * not a symlink, -ENAMETOOLONG if it does not fit @cap (with the NUL).
 */
int vns_readlink(struct vns *ns, uint64_t ino, char *buf, size_t cap);
/* New name for @ino; *out = @ino's attributes (nlink + 1). */
int vns_link(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
	     uint64_t newparent, const char *newname, struct vattr *out);
/*
 * Remove a non-directory name. At nlink 0 the inode stays while sessions
 * are open; otherwise a regular file becomes garbage ('G') and any other
 * type is deleted.
 */
int vns_unlink(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	       const char *name);
int vns_rmdir(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	      const char *name);
/*
 * @flags 0, RENAME_NOREPLACE or RENAME_EXCHANGE (<linux/fs.h> values);
 * moving a directory under itself is -EINVAL.
 */
int vns_rename(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	       const char *name, uint64_t newparent, const char *newname,
	       uint32_t flags);

/*
 * Up to @max entries of directory @dir in name (byte) order, after the
 * entry named @cookie (NULL or "" = from the first). The cookie of the
 * next page is the name of the last entry returned: a name is a stable
 * position, so entries added or removed between pages never make the
 * listing repeat or skip an entry present throughout. "." and ".." are
 * not listed. Returns the number of entries (0 = end), -ENOTDIR.
 */
int vns_readdir(struct vns *ns, uint64_t dir, const char *cookie,
		struct vns_dirent *out, size_t max);
/* The same, with each entry's attributes in @attrs[i] (same snapshot). */
int vns_readdir_plus(struct vns *ns, uint64_t dir, const char *cookie,
		     struct vns_dirent *out, struct vattr *attrs, size_t max);

/* ---- Files --------------------------------------------------------------- */

/*
 * Create and open (a session of @client) a regular file; an existing one
 * is opened unless @oflags has O_EXCL (-EEXIST), O_TRUNC truncates it.
 * -EISDIR for an existing directory, -ENOSPC when there is no chain table
 * to place a new file on. Sessions and locks make sure @client has a
 * lease record, so that they expire if it never renews.
 */
int vns_create(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	       const char *name, uint32_t mode, uint32_t oflags,
	       uint64_t client, struct vns_file *out);
/* Open a session of @client on regular file @ino (O_TRUNC truncates). */
int vns_session_open(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		     uint32_t oflags, uint64_t client, struct vns_file *out);
/*
 * Close one session of @client; the last close of an unlinked file makes
 * it garbage. -ENOENT if @client has no session on @ino.
 */
int vns_session_close(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		      uint64_t client);
/*
 * After writes: size = max(size, @hint) when the file was not truncated
 * since @trunc_ver (from the open); else the size stays (the hint is
 * stale). *out = attributes after (may be NULL).
 */
int vns_set_length(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		   uint64_t hint, uint64_t trunc_ver, struct vattr *out);
int vns_get_layout(struct vns *ns, uint64_t ino, struct vns_layout *out);

/* ---- Locks and leases ---------------------------------------------------- */

/*
 * Set (F_RDLCK/F_WRLCK) or clear (F_UNLCK) @l for (@client, l->owner) on
 * @ino, non-blocking: -EAGAIN when another holder's lock conflicts (a
 * holder whose lease expired does not count). A POSIX lock replaces the
 * owner's locks over its range (splitting them) and merges with adjacent
 * ones of the same type; a flock replaces the owner's flock.
 * -EINVAL: bad kind, type or range; -ENOLCK: VNS_LOCKS_MAX reached.
 */
int vns_lock_set(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		 uint64_t client, const struct vns_lock *l);
/*
 * The first lock of another holder that conflicts with @l into *out, or
 * out->type = F_UNLCK when none does (F_GETLK).
 */
int vns_lock_get(struct vns *ns, uint64_t ino, uint64_t client,
		 const struct vns_lock *l, struct vns_lock *out);
/* Drop every lock of kind @kind of (@client, @owner) on @ino. */
int vns_lock_release(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		     uint64_t client, uint8_t kind, uint64_t owner);
/* Extend @client's lease to now + lease_ms (creating it). */
int vns_lease_renew(struct vns *ns, uint64_t client);
/*
 * Drop the sessions (closing them: unlinked files become garbage) and
 * locks of up to @max clients whose lease ended before @now_ns (wall
 * clock), and their lease records. Returns the number of clients.
 */
int vns_lease_expire(struct vns *ns, int64_t now_ns, size_t max);

/*
 * Delete up to @max exactly-once records committed before @before_ns
 * (wall clock). Returns how many.
 */
int vns_idem_expire(struct vns *ns, int64_t before_ns, size_t max);

/* ---- Extended attributes ------------------------------------------------- */

/*
 * VNS_LAYOUT_XATTR is virtual: on a directory it reads and sets the
 * default layout of what is created in it, as text "chunk_size=N stripe=M"
 * (either may be left out; 0 = the cluster's; root only, -EPERM), and
 * removing it resets both; on a regular file it reads the file's layout
 * "chunk_size=N stripe=M first_chain=F table_version=V" (read-only:
 * -EPERM). It is not listed by vns_listxattr.
 */
/* @flags 0, XATTR_CREATE (-EEXIST) or XATTR_REPLACE (-ENODATA). */
int vns_setxattr(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		 const char *name, const void *value, size_t size,
		 uint32_t flags);
/* Returns the value size; @cap 0 = size query; -ERANGE if it won't fit. */
int vns_getxattr(struct vns *ns, uint64_t ino, const char *name, void *buf,
		 size_t cap);
/* NUL-separated names; same size rules as vns_getxattr(). */
int vns_listxattr(struct vns *ns, uint64_t ino, char *buf, size_t cap);
int vns_removexattr(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		    const char *name);

/* ---- Whole file system --------------------------------------------------- */

/*
 * Fill the inode fields of @st (files, ffree, namelen); the caller fills
 * the space fields. Sums the sharded inode counters ('N'): one range read
 * of at most VNS_COUNT_SHARDS keys, whatever the number of inodes.
 */
int vns_statfs(struct vns *ns, struct vstatfs *st);
/* Shards of the inode counter (each thread adds to one of its own). */
#define VNS_COUNT_SHARDS 1024

/* Up to @max garbage inodes, in inode order. Returns how many. */
int vns_gc_list(struct vns *ns, struct vns_gc_entry *out, size_t max);
/*
 * Claim up to @max garbage inodes for collector @owner until @until_ns
 * (wall clock): inodes unclaimed, claimed by @owner, or whose claim ended
 * before @now_ns. Several metad sharing a database thus never collect one
 * inode at once unless a claim ran out. Returns how many.
 */
int vns_gc_claim(struct vns *ns, uint64_t owner, int64_t now_ns,
		 int64_t until_ns, struct vns_gc_entry *out, size_t max);
/* The chunks of garbage inode @ino are gone: delete it. -ENOENT if it is
 * not garbage. */
int vns_gc_done(struct vns *ns, uint64_t ino);

/* ---- Consistency check --------------------------------------------------- */

/*
 * Check the namespace invariants in one read-only transaction: every
 * dentry names an existing inode of its type; nlink equals the names
 * pointing at a file (2 + subdirectories for a directory); a directory has
 * one name and its parent field matches it; no directory cycle (every
 * directory reaches the root); an inode without a name is open (session)
 * or garbage; sessions, garbage and locks name existing inodes; the inode
 * counter matches. Appends one line per violation to @report (NUL-
 * terminated, cut at @cap bytes) and returns the number of violations, or
 * -errno.
 */
int vns_fsck(struct vns *ns, char *report, size_t cap);

#endif

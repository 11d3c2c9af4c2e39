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
 *                           session, whose chunks the GC must remove
 *   'C' "ino"               next inode number not yet handed out in a batch
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

/* The caller's credentials. */
struct vns_cred {
	uint32_t uid, gid;
};

/* Where a regular file's data lives (see DESIGN §5). */
struct vns_layout {
	uint32_t chunk_size;	/* bytes per chunk */
	uint32_t stripe;	/* chains a file stripes over */
	uint32_t first_chain;	/* chain of chunk 0 */
	uint32_t table_version; /* chain table version at create */
};

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
/* Layout of regular files created from now on through @ns. */
void vns_set_default_layout(struct vns *ns, const struct vns_layout *l);

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

/* ---- Files --------------------------------------------------------------- */

/*
 * Create and open (a session of @client) a regular file; an existing one
 * is opened unless @oflags has O_EXCL (-EEXIST), O_TRUNC truncates it.
 * -EISDIR for an existing directory.
 */
int vns_create(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	       const char *name, uint32_t mode, uint32_t oflags,
	       uint64_t client, struct vns_file *out);
/* Open a session of @client on regular file @ino (O_TRUNC truncates). */
int vns_session_open(struct vns *ns, uint64_t ino, uint32_t oflags,
		     uint64_t client, struct vns_file *out);
/*
 * Close one session of @client; the last close of an unlinked file makes
 * it garbage. -ENOENT if @client has no session on @ino.
 */
int vns_session_close(struct vns *ns, uint64_t ino, uint64_t client);
/*
 * After writes: size = max(size, @hint) when the file was not truncated
 * since @trunc_ver (from the open); else the size stays (the hint is
 * stale). *out = attributes after (may be NULL).
 */
int vns_set_length(struct vns *ns, uint64_t ino, uint64_t hint,
		   uint64_t trunc_ver, struct vattr *out);
int vns_get_layout(struct vns *ns, uint64_t ino, struct vns_layout *out);

/* ---- Extended attributes ------------------------------------------------- */

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
 * the space fields. Counts inode records: O(inodes), see ns_dir.c.
 */
int vns_statfs(struct vns *ns, struct vstatfs *st);

/* Up to @max garbage inodes, in inode order. Returns how many. */
int vns_gc_list(struct vns *ns, struct vns_gc_entry *out, size_t max);
/* The chunks of garbage inode @ino are gone: delete it. -ENOENT if it is
 * not garbage. */
int vns_gc_done(struct vns *ns, uint64_t ino);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * ns_fsck.c - the namespace invariants, checked over one snapshot.
 *
 * One read-only transaction scans the inode, dentry, session, garbage,
 * lock and counter records into an in-memory table (about 64 bytes per
 * inode), then checks each inode against what points at it. Nothing is
 * repaired: the report says what is wrong, one line per violation.
 *
 * Invariants:
 *  1. every dentry names an existing inode, of the type it records, from
 *     an existing directory;
 *  2. nlink of a non-directory = the names pointing at it; nlink of a
 *     directory = 2 + its subdirectories;
 *  3. a directory (but the root) has exactly one name, and its parent
 *     field is the directory holding that name;
 *  4. every directory reaches the root through its names: no cycle, no
 *     detached subtree;
 *  5. an inode with no name (but the root) is a regular file that some
 *     session holds open or that is queued as garbage;
 *  6. garbage has no name and no session; sessions, garbage and locks
 *     name existing inodes;
 *  7. the inode counter (statfs) equals the number of inodes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "meta/ns_i.h"
#include "meta/ns_op.h"

#define FSCK_SESSION 0x1u
#define FSCK_GARBAGE 0x2u
#define FSCK_CORRUPT 0x4u

enum fsck_walk {
	FSCK_UNSEEN = 0,  /* not walked yet */
	FSCK_ON_PATH = 1, /* on the path being walked */
	FSCK_ROOTED = 2,  /* reaches the root */
	FSCK_LOST = 3,	  /* does not: cycle or detached */
};

struct fsck_ino {
	uint64_t ino;	      /* 0: empty slot */
	uint64_t parent;      /* the record's parent field (directories) */
	uint64_t name_parent; /* directory holding its (first) name */
	uint32_t mode, nlink;
	uint32_t names, subdirs;
	uint8_t flags;
	uint8_t walk; /* enum fsck_walk */
};

struct fsck {
	struct fsck_ino *t;
	size_t cap, n; /* cap a power of two */
	char *report;
	size_t rcap, rlen;
	int violations;
	int err;
	struct ns_inode in; /* decode scratch */
};

/* ---- Table ----------------------------------------------------------------
 */

static size_t fsck_hash(uint64_t ino, size_t cap)
{
	ino *= 0x9e3779b97f4a7c15ull;
	return (size_t)(ino >> 17) & (cap - 1);
}

static struct fsck_ino *fsck_find(struct fsck *f, uint64_t ino)
{
	size_t i;

	if (!f->cap || !ino)
		return NULL;
	for (i = fsck_hash(ino, f->cap); f->t[i].ino;
	     i = (i + 1) & (f->cap - 1))
		if (f->t[i].ino == ino)
			return &f->t[i];
	return NULL;
}

static int fsck_grow(struct fsck *f)
{
	size_t cap = f->cap ? f->cap * 2 : 1024;
	struct fsck_ino *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t j = 0; j < f->cap; j++) {
		size_t i;

		if (!f->t[j].ino)
			continue;
		for (i = fsck_hash(f->t[j].ino, cap); t[i].ino;
		     i = (i + 1) & (cap - 1))
			;
		t[i] = f->t[j];
	}
	free(f->t);
	f->t = t;
	f->cap = cap;
	return 0;
}

static struct fsck_ino *fsck_add(struct fsck *f, uint64_t ino)
{
	size_t i;

	if ((f->n + 1) * 2 > f->cap && fsck_grow(f) < 0)
		return NULL;
	for (i = fsck_hash(ino, f->cap); f->t[i].ino;
	     i = (i + 1) & (f->cap - 1))
		;
	f->t[i].ino = ino;
	f->n++;
	return &f->t[i];
}

/* ---- Report ---------------------------------------------------------------
 */

static void fsck_violation(struct fsck *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fsck_violation(struct fsck *f, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	f->violations++;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* Keep room for the line, its newline and the final NUL. */
	if (!f->rcap || f->rlen + (size_t)n + 2 > f->rcap)
		return;
	memcpy(f->report + f->rlen, line, (size_t)n);
	f->rlen += (size_t)n;
	f->report[f->rlen++] = '\n';
	f->report[f->rlen] = '\0';
}

static const char *fsck_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	case S_IFCHR:
		return "char device";
	case S_IFBLK:
		return "block device";
	default:
		return "unknown type";
	}
}

/* ---- Scans ----------------------------------------------------------------
 */

static int fsck_inode_cb(const void *key, size_t klen, const void *val,
			 size_t vlen, void *arg)
{
	struct fsck *f = arg;
	uint64_t ino;
	struct fsck_ino *x;

	if (klen != 9) {
		fsck_violation(f, "malformed inode key (%zu bytes)", klen);
		return 0;
	}
	ino = ns_get_be64((const uint8_t *)key + 1);
	x = fsck_add(f, ino);
	if (!x)
		return -ENOMEM;
	if (ns_inode_decode(ino, val, vlen, &f->in) < 0) {
		x->flags |= FSCK_CORRUPT;
		fsck_violation(f, "inode %" PRIu64 ": corrupt record", ino);
		return 0;
	}
	x->mode = f->in.mode;
	x->nlink = f->in.nlink;
	x->parent = f->in.parent;
	return 0;
}

static int fsck_dentry_cb(const void *key, size_t klen, const void *val,
			  size_t vlen, void *arg)
{
	struct fsck *f = arg;
	const uint8_t *k = key;
	char name[VNS_NAME_MAX + 1];
	uint64_t parent, ino;
	struct fsck_ino *p, *x;
	size_t nlen = klen > 9 ? klen - 9 : 0;
	uint32_t type;

	if (klen <= 9 || nlen > VNS_NAME_MAX) {
		fsck_violation(f, "malformed dentry key (%zu bytes)", klen);
		return 0;
	}
	parent = ns_get_be64(k + 1);
	memcpy(name, k + 9, nlen);
	name[nlen] = '\0';
	if (ns_dentry_decode(parent, name, nlen, val, vlen, &ino, &type) < 0) {
		fsck_violation(f, "dentry %" PRIu64 "/%s: corrupt record",
			       parent, name);
		return 0;
	}
	p = fsck_find(f, parent);
	if (!p)
		fsck_violation(f,
			       "dentry %" PRIu64 "/%s: its directory %" PRIu64
			       " does not exist",
			       parent, name, parent);
	else if (!(p->flags & FSCK_CORRUPT) && !S_ISDIR(p->mode))
		fsck_violation(f,
			       "dentry %" PRIu64 "/%s: %" PRIu64
			       " is a %s, not a directory",
			       parent, name, parent, fsck_type(p->mode));
	x = fsck_find(f, ino);
	if (!x) {
		fsck_violation(f,
			       "dentry %" PRIu64 "/%s -> %" PRIu64
			       ": no such inode",
			       parent, name, ino);
		return 0;
	}
	if (!(x->flags & FSCK_CORRUPT) && (x->mode & S_IFMT) != type)
		fsck_violation(f,
			       "dentry %" PRIu64 "/%s -> %" PRIu64
			       ": says %s, the inode is a %s",
			       parent, name, ino, fsck_type(type),
			       fsck_type(x->mode));
	x->names++;
	if (S_ISDIR(x->mode)) {
		if (x->names > 1)
			fsck_violation(f,
				       "directory %" PRIu64
				       " has more than one name (also %" PRIu64
				       "/%s)",
				       ino, parent, name);
		else
			x->name_parent = parent;
		if (p)
			p->subdirs++;
	}
	return 0;
}

/* 'S' ino client, 'G' ino, 'L' ino: mark (or report) the inode. */
static int fsck_mark_cb(const void *key, size_t klen, const void *val,
			size_t vlen, void *arg)
{
	struct fsck *f = arg;
	const uint8_t *k = key;
	const char *what;
	struct fsck_ino *x;
	uint64_t ino;

	what = k[0] == 'S' ? "session" : k[0] == 'G' ? "garbage" : "locks";
	if (klen != (k[0] == 'S' ? 17u : 9u)) {
		fsck_violation(f, "malformed %s key (%zu bytes)", what, klen);
		return 0;
	}
	ino = ns_get_be64(k + 1);
	x = fsck_find(f, ino);
	if (!x) {
		fsck_violation(f,
			       "%s record for inode %" PRIu64
			       ", which does not exist",
			       what, ino);
		return 0;
	}
	if (k[0] == 'S')
		x->flags |= FSCK_SESSION;
	else if (k[0] == 'G')
		x->flags |= FSCK_GARBAGE;
	return 0;
}

static int fsck_scan(struct vkv_txn *txn, struct fsck *f, char tag,
		     vkv_range_cb cb)
{
	uint8_t start = (uint8_t)tag, end = (uint8_t)(tag + 1);
	int rc = vkv_range(txn, &start, 1, &end, 1, 0, cb, f);

	return rc < 0 ? rc : 0;
}

/* ---- Checks ---------------------------------------------------------------
 */

static void fsck_check_links(struct fsck *f, const struct fsck_ino *x)
{
	if (x->flags & FSCK_CORRUPT)
		return;
	if (S_ISDIR(x->mode)) {
		if (x->nlink != 2 + x->subdirs)
			fsck_violation(f,
				       "directory %" PRIu64 ": nlink %u, but "
				       "it has %u subdirectories (want %u)",
				       x->ino, x->nlink, x->subdirs,
				       2 + x->subdirs);
		if (x->ino == VNS_ROOT_INO) {
			if (x->names)
				fsck_violation(f, "the root has a name");
			return;
		}
		if (!x->names)
			fsck_violation(
				f, "directory %" PRIu64 " has no name (orphan)",
				x->ino);
		else if (x->parent != x->name_parent)
			fsck_violation(f,
				       "directory %" PRIu64
				       ": parent field %" PRIu64
				       ", but its name is in %" PRIu64,
				       x->ino, x->parent, x->name_parent);
		return;
	}
	if (x->nlink != x->names)
		fsck_violation(f,
			       "%s %" PRIu64 ": nlink %u, but %u names point "
			       "at it",
			       fsck_type(x->mode), x->ino, x->nlink, x->names);
	if (x->flags & FSCK_GARBAGE) {
		if (x->names || x->nlink)
			fsck_violation(f,
				       "garbage inode %" PRIu64
				       " still has names (nlink %u)",
				       x->ino, x->nlink);
		if (x->flags & FSCK_SESSION)
			fsck_violation(f,
				       "garbage inode %" PRIu64
				       " is still open (session)",
				       x->ino);
		if (!S_ISREG(x->mode))
			fsck_violation(f,
				       "garbage inode %" PRIu64
				       " is a %s, not a file",
				       x->ino, fsck_type(x->mode));
	}
	if (!x->names && !(x->flags & (FSCK_SESSION | FSCK_GARBAGE)))
		fsck_violation(f,
			       "%s %" PRIu64 " has no name, no session and "
			       "is not garbage (orphan)",
			       fsck_type(x->mode), x->ino);
}

/* Walk directory @x up its names to the root; report a cycle once. */
static void fsck_walk(struct fsck *f, struct fsck_ino *x)
{
	struct fsck_ino *cur = x;
	uint8_t verdict;

	while (cur && cur->walk == FSCK_UNSEEN && cur->ino != VNS_ROOT_INO) {
		cur->walk = FSCK_ON_PATH;
		cur = cur->name_parent ? fsck_find(f, cur->name_parent) : NULL;
	}
	if (cur && cur->ino == VNS_ROOT_INO)
		verdict = FSCK_ROOTED;
	else if (cur && cur->walk == FSCK_ROOTED)
		verdict = FSCK_ROOTED;
	else
		verdict = FSCK_LOST;
	if (cur && cur->walk == FSCK_ON_PATH)
		fsck_violation(f,
			       "directory cycle through %" PRIu64
			       " (not reachable from the root)",
			       cur->ino);
	else if (verdict == FSCK_LOST && x->names)
		fsck_violation(f,
			       "directory %" PRIu64
			       " is not reachable from the root",
			       x->ino);
	/* Mark the path walked with the verdict (this ends at a cycle too:
	 * a marked node is no longer on the path). */
	for (cur = x; cur && cur->walk == FSCK_ON_PATH;) {
		uint64_t up = cur->name_parent;

		cur->walk = verdict;
		cur = up ? fsck_find(f, up) : NULL;
	}
}

static int fsck_txn(struct vkv_txn *txn, void *arg)
{
	struct fsck *f = arg;
	uint64_t count = 0;
	int rc;

	/* A conflict rerun starts over. */
	free(f->t);
	f->t = NULL;
	f->cap = f->n = 0;
	f->violations = 0;
	f->rlen = 0;
	if (f->rcap)
		f->report[0] = '\0';

	rc = fsck_scan(txn, f, 'I', fsck_inode_cb);
	if (rc >= 0)
		rc = fsck_scan(txn, f, 'D', fsck_dentry_cb);
	if (rc >= 0)
		rc = fsck_scan(txn, f, 'S', fsck_mark_cb);
	if (rc >= 0)
		rc = fsck_scan(txn, f, 'G', fsck_mark_cb);
	if (rc >= 0)
		rc = fsck_scan(txn, f, 'L', fsck_mark_cb);
	if (rc >= 0)
		rc = ns_count_sum_txn(txn, &count);
	if (rc < 0)
		return rc;
	if (!fsck_find(f, VNS_ROOT_INO))
		fsck_violation(f, "the root directory (inode 1) is missing");
	if (count != f->n)
		fsck_violation(f,
			       "the inode counter says %" PRId64
			       ", there are %zu inodes",
			       (int64_t)count, f->n);
	for (size_t i = 0; i < f->cap; i++)
		if (f->t[i].ino)
			fsck_check_links(f, &f->t[i]);
	for (size_t i = 0; i < f->cap; i++)
		if (f->t[i].ino && S_ISDIR(f->t[i].mode) &&
		    f->t[i].walk == FSCK_UNSEEN)
			fsck_walk(f, &f->t[i]);
	return 0;
}

int vns_fsck(struct vns *ns, char *report, size_t cap)
{
	struct fsck *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return -ENOMEM;
	f->report = report;
	f->rcap = cap;
	if (cap)
		report[0] = '\0';
	rc = vkv_run(ns->kv, VKV_RDONLY, fsck_txn, f, VNS_RETRIES);
	if (rc >= 0)
		rc = f->violations;
	free(f->t);
	free(f);
	return rc;
}

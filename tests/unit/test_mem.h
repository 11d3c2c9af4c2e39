/* SPDX-License-Identifier: MIT */
/*
 * test_mem.h - harness shared by the mem backend's unit tests
 * (test_mem_ns.c, test_mem_attr.c, test_mem_data.c, test_mem_lock.c).
 *
 * Every mem op completes before it returns, except a SETLKW that parks, so
 * each t_*() helper runs one op on a fresh call, asserts that done() ran
 * exactly once and returns c->err. Results go to optional out-pointers.
 */
#ifndef VALOR_TESTS_UNIT_TEST_MEM_H
#define VALOR_TESTS_UNIT_TEST_MEM_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/backend.h"

#define T_ROOT 1

struct tcall {
	struct bcall c;		/* first: done() gets &t->c */
	int ndone;
};

static inline void t_done(struct bcall *c)
{
	((struct tcall *)c)->ndone++;
}

static inline void t_init(struct tcall *t)
{
	memset(t, 0, sizeof(*t));
	t->c.done = t_done;
}

/* done() ran exactly once: return the result. */
static inline int t_end(struct tcall *t)
{
	assert_int_equal(t->ndone, 1);
	return t->c.err;
}

/* Root without mode-bit checks (default_permissions), and users with. */
static const struct vctx t_root = { .uid = 0, .gid = 0, .pid = 1 };
static const struct vctx t_root_chk = { .uid = 0, .gid = 0, .pid = 1,
					.check_perms = 1 };

static inline struct vctx t_user(uint32_t uid, uint32_t gid)
{
	struct vctx x = { .uid = uid, .gid = gid, .pid = 100 + uid,
			  .check_perms = 1 };
	return x;
}

/* Out-values are always written (zero after a failure): the compiler can
 * see they are initialized, and a test that ignores an error sees zeros. */
static inline void t_attr_out(struct tcall *t, struct vattr *out)
{
	if (out)
		*out = t->c.attr;
}

static inline int t_lookup(struct backend *b, const struct vctx *x,
			   uint64_t parent, const char *name,
			   struct vattr *out)
{
	struct tcall t;

	t_init(&t);
	b->ops->lookup(b, x, parent, name, &t.c);
	t_attr_out(&t, out);
	return t_end(&t);
}

/* The ino of @name in @parent, or 0. */
static inline uint64_t t_ino(struct backend *b, uint64_t parent,
			     const char *name)
{
	struct vattr a;

	return t_lookup(b, &t_root, parent, name, &a) ? 0 : a.ino;
}

static inline int t_getattr(struct backend *b, uint64_t ino,
			    struct vattr *out)
{
	struct tcall t;

	t_init(&t);
	b->ops->getattr(b, &t_root, ino, &t.c);
	t_attr_out(&t, out);
	return t_end(&t);
}

/* A field of getattr, asserting it succeeds. */
static inline struct vattr t_attr(struct backend *b, uint64_t ino)
{
	struct vattr a;

	assert_int_equal(t_getattr(b, ino, &a), 0);
	return a;
}

static inline int t_setattr(struct backend *b, const struct vctx *x,
			    uint64_t ino, const struct vsetattr *sa,
			    struct vattr *out)
{
	struct tcall t;

	t_init(&t);
	b->ops->setattr(b, x, ino, sa, &t.c);
	t_attr_out(&t, out);
	return t_end(&t);
}

static inline int t_mknod(struct backend *b, const struct vctx *x,
			  uint64_t parent, const char *name, uint32_t mode,
			  uint32_t rdev, struct vattr *out)
{
	struct tcall t;

	t_init(&t);
	b->ops->mknod(b, x, parent, name, mode, rdev, &t.c);
	t_attr_out(&t, out);
	return t_end(&t);
}

static inline int t_mkdir(struct backend *b, const struct vctx *x,
			  uint64_t parent, const char *name, uint32_t mode,
			  struct vattr *out)
{
	struct tcall t;

	t_init(&t);
	b->ops->mkdir(b, x, parent, name, mode, &t.c);
	t_attr_out(&t, out);
	return t_end(&t);
}

static inline int t_symlink(struct backend *b, const struct vctx *x,
			    uint64_t parent, const char *name,
			    const char *target, struct vattr *out)
{
	struct tcall t;

	t_init(&t);
	b->ops->symlink(b, x, parent, name, target, &t.c);
	t_attr_out(&t, out);
	return t_end(&t);
}

static inline int t_link(struct backend *b, const struct vctx *x,
			 uint64_t ino, uint64_t newparent, const char *newname,
			 struct vattr *out)
{
	struct tcall t;

	t_init(&t);
	b->ops->link(b, x, ino, newparent, newname, &t.c);
	t_attr_out(&t, out);
	return t_end(&t);
}

static inline int t_unlink(struct backend *b, const struct vctx *x,
			   uint64_t parent, const char *name)
{
	struct tcall t;

	t_init(&t);
	b->ops->unlink(b, x, parent, name, &t.c);
	return t_end(&t);
}

static inline int t_rmdir(struct backend *b, const struct vctx *x,
			  uint64_t parent, const char *name)
{
	struct tcall t;

	t_init(&t);
	b->ops->rmdir(b, x, parent, name, &t.c);
	return t_end(&t);
}

static inline int t_rename(struct backend *b, const struct vctx *x,
			   uint64_t parent, const char *name,
			   uint64_t newparent, const char *newname,
			   uint32_t flags)
{
	struct tcall t;

	t_init(&t);
	b->ops->rename(b, x, parent, name, newparent, newname, flags, &t.c);
	return t_end(&t);
}

static inline int t_open(struct backend *b, const struct vctx *x,
			 uint64_t ino, uint32_t flags, uint64_t *fh)
{
	struct tcall t;

	t_init(&t);
	b->ops->open(b, x, ino, flags, &t.c);
	if (fh)
		*fh = t.c.fh;
	return t_end(&t);
}

static inline int t_create(struct backend *b, const struct vctx *x,
			   uint64_t parent, const char *name, uint32_t mode,
			   uint32_t flags, struct vattr *out, uint64_t *fh)
{
	struct tcall t;

	t_init(&t);
	b->ops->create(b, x, parent, name, mode, flags, &t.c);
	t_attr_out(&t, out);
	if (fh)
		*fh = t.c.fh;
	return t_end(&t);
}

static inline int t_tmpfile(struct backend *b, const struct vctx *x,
			    uint64_t parent, uint32_t mode, struct vattr *out,
			    uint64_t *fh)
{
	struct tcall t;

	t_init(&t);
	b->ops->tmpfile(b, x, parent, mode, O_RDWR, &t.c);
	t_attr_out(&t, out);
	if (fh)
		*fh = t.c.fh;
	return t_end(&t);
}

static inline int t_release(struct backend *b, uint64_t ino, uint64_t fh)
{
	struct tcall t;

	t_init(&t);
	b->ops->release(b, ino, fh, 0, 0, &t.c);
	return t_end(&t);
}

static inline int t_opendir(struct backend *b, const struct vctx *x,
			    uint64_t ino, uint64_t *fh)
{
	struct tcall t;

	t_init(&t);
	b->ops->opendir(b, x, ino, O_RDONLY, &t.c);
	if (fh)
		*fh = t.c.fh;
	return t_end(&t);
}

static inline int t_releasedir(struct backend *b, uint64_t ino, uint64_t fh)
{
	struct tcall t;

	t_init(&t);
	b->ops->releasedir(b, ino, fh, &t.c);
	return t_end(&t);
}

/* A new regular file (created as root, closed again); returns its ino. */
static inline uint64_t t_mkfile(struct backend *b, uint64_t parent,
				const char *name, uint32_t mode)
{
	struct vattr a;
	uint64_t fh;

	assert_int_equal(t_create(b, &t_root, parent, name, mode,
				  O_CREAT | O_EXCL | O_RDWR, &a, &fh),
			 0);
	assert_int_equal(t_release(b, a.ino, fh), 0);
	return a.ino;
}

/* A new directory made by root; returns its ino. */
static inline uint64_t t_mkdir_ino(struct backend *b, uint64_t parent,
				   const char *name, uint32_t mode)
{
	struct vattr a;

	assert_int_equal(t_mkdir(b, &t_root, parent, name, mode, &a), 0);
	return a.ino;
}

static inline int t_read(struct backend *b, uint64_t ino, uint64_t fh,
			 uint64_t off, uint32_t size, void *buf, size_t *count)
{
	struct tcall t;

	t_init(&t);
	t.c.buf = buf;
	t.c.cap = size;
	b->ops->read(b, ino, fh, off, size, &t.c);
	if (count)
		*count = t.c.count;
	return t_end(&t);
}

static inline int t_write(struct backend *b, const struct vctx *x,
			  uint64_t ino, uint64_t fh, uint64_t off,
			  const void *data, uint32_t size, int kill,
			  size_t *count)
{
	struct tcall t;

	t_init(&t);
	b->ops->write(b, x, ino, fh, off, data, size, kill, &t.c);
	if (count)
		*count = t.c.count;
	return t_end(&t);
}

/* Write that must succeed in full. */
static inline void t_write_ok(struct backend *b, uint64_t ino, uint64_t off,
			      const void *data, uint32_t size)
{
	size_t n = 0;

	assert_int_equal(t_write(b, &t_root, ino, 0, off, data, size, 0, &n),
			 0);
	assert_int_equal(n, size);
}

static inline int t_flush(struct backend *b, uint64_t ino, uint64_t fh,
			  uint64_t owner)
{
	struct tcall t;

	t_init(&t);
	b->ops->flush(b, ino, fh, owner, &t.c);
	return t_end(&t);
}

static inline int t_fsync(struct backend *b, uint64_t ino, uint64_t fh)
{
	struct tcall t;

	t_init(&t);
	b->ops->fsync(b, ino, fh, 0, &t.c);
	return t_end(&t);
}

static inline int t_statfs(struct backend *b, struct vstatfs *st)
{
	struct tcall t;

	t_init(&t);
	b->ops->statfs(b, T_ROOT, &t.c);
	*st = t.c.st;
	return t_end(&t);
}

static inline int t_setxattr(struct backend *b, const struct vctx *x,
			     uint64_t ino, const char *name, const void *val,
			     size_t size, uint32_t flags)
{
	struct tcall t;

	t_init(&t);
	b->ops->setxattr(b, x, ino, name, val, size, flags, &t.c);
	return t_end(&t);
}

static inline int t_getxattr(struct backend *b, const struct vctx *x,
			     uint64_t ino, const char *name, void *buf,
			     size_t cap, size_t *count)
{
	struct tcall t;

	t_init(&t);
	t.c.buf = buf;
	t.c.cap = cap;
	b->ops->getxattr(b, x, ino, name, &t.c);
	if (count)
		*count = t.c.count;
	return t_end(&t);
}

static inline int t_listxattr(struct backend *b, const struct vctx *x,
			      uint64_t ino, void *buf, size_t cap,
			      size_t *count)
{
	struct tcall t;

	t_init(&t);
	t.c.buf = buf;
	t.c.cap = cap;
	b->ops->listxattr(b, x, ino, &t.c);
	if (count)
		*count = t.c.count;
	return t_end(&t);
}

static inline int t_removexattr(struct backend *b, const struct vctx *x,
				uint64_t ino, const char *name)
{
	struct tcall t;

	t_init(&t);
	b->ops->removexattr(b, x, ino, name, &t.c);
	return t_end(&t);
}

static inline int t_access(struct backend *b, const struct vctx *x,
			   uint64_t ino, uint32_t mask)
{
	struct tcall t;

	t_init(&t);
	b->ops->access(b, x, ino, mask, &t.c);
	return t_end(&t);
}

static inline int t_fallocate(struct backend *b, uint64_t ino, uint32_t mode,
			      uint64_t off, uint64_t len)
{
	struct tcall t;

	t_init(&t);
	b->ops->fallocate(b, ino, 0, mode, off, len, &t.c);
	return t_end(&t);
}

static inline int t_lseek(struct backend *b, uint64_t ino, uint64_t off,
			  uint32_t whence, uint64_t *res)
{
	struct tcall t;

	t_init(&t);
	b->ops->lseek(b, ino, 0, off, whence, &t.c);
	if (res)
		*res = t.c.off;
	return t_end(&t);
}

static inline int t_copy(struct backend *b, uint64_t in, uint64_t off_in,
			 uint64_t out, uint64_t off_out, uint64_t len,
			 size_t *count)
{
	struct tcall t;

	t_init(&t);
	b->ops->copy_file_range(b, &t_root, in, 0, off_in, out, 0, off_out,
				len, &t.c);
	if (count)
		*count = t.c.count;
	return t_end(&t);
}

static inline int t_readlink(struct backend *b, uint64_t ino, char *buf,
			     size_t cap, size_t *count)
{
	struct tcall t;

	t_init(&t);
	t.c.buf = buf;
	t.c.cap = cap;
	b->ops->readlink(b, &t_root, ino, &t.c);
	if (count)
		*count = t.c.count;
	return t_end(&t);
}

static inline struct vlock t_lk(uint32_t type, uint64_t start, uint64_t end,
				uint32_t pid)
{
	struct vlock lk = { .start = start, .end = end, .type = type,
			    .pid = pid };
	return lk;
}

static inline int t_getlk(struct backend *b, uint64_t ino, uint64_t fh,
			  uint64_t owner, struct vlock lk, struct vlock *out)
{
	struct tcall t;

	t_init(&t);
	b->ops->getlk(b, ino, fh, owner, &lk, &t.c);
	if (out)
		*out = t.c.lock;
	return t_end(&t);
}

/* A SETLK/FLOCK that must complete at once (no parking). */
static inline int t_setlk(struct backend *b, uint64_t ino, uint64_t fh,
			  uint64_t owner, struct vlock lk, int is_flock)
{
	struct tcall t;

	t_init(&t);
	b->ops->setlk(b, ino, fh, owner, &lk, 0, is_flock, &t.c);
	return t_end(&t);
}

/* ------------------------------------------------------------------ */
/* Readdir collection */

#define T_DIR_MAX 512

struct tdir {
	int n;
	int limit;		/* entries per call; 0 = unlimited */
	int taken;		/* in the current call */
	char names[T_DIR_MAX][256];
	uint64_t ino[T_DIR_MAX];
	uint32_t mode[T_DIR_MAX];
	uint64_t next[T_DIR_MAX];
	int has_attr[T_DIR_MAX];
	uint64_t last_off;
};

static inline int t_fill(void *ctx, const char *name, size_t namelen,
			 uint64_t ino, uint32_t mode, uint64_t next_off,
			 const struct vattr *attr)
{
	struct tdir *d = ctx;

	if ((d->limit && d->taken == d->limit) || d->n == T_DIR_MAX)
		return 1;
	assert_true(namelen < 256);
	memcpy(d->names[d->n], name, namelen);
	d->names[d->n][namelen] = '\0';
	d->ino[d->n] = ino;
	d->mode[d->n] = mode;
	d->next[d->n] = next_off;
	d->has_attr[d->n] = attr != NULL;
	if (attr)
		assert_int_equal(attr->ino, ino);
	d->last_off = next_off;
	d->n++;
	d->taken++;
	return 0;
}

/* One READDIR call from @off; returns err, entries appended to @d. */
static inline int t_readdir(struct backend *b, uint64_t ino, uint64_t off,
			    int plus, struct tdir *d)
{
	struct tcall t;

	t_init(&t);
	d->taken = 0;
	b->ops->readdir(b, ino, 0, off, plus, t_fill, d, &t.c);
	return t_end(&t);
}

/* Index of @name in @d, or -1. */
static inline int t_dir_find(const struct tdir *d, const char *name)
{
	for (int k = 0; k < d->n; k++) {
		if (!strcmp(d->names[k], name))
			return k;
	}
	return -1;
}

static inline struct backend *t_new(uint64_t max_bytes)
{
	struct backend *b = mem_backend_new(max_bytes);

	assert_non_null(b);
	return b;
}

#endif

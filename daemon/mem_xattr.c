/* SPDX-License-Identifier: MIT */
/*
 * mem_xattr.c - extended attributes of the mem backend: the user. and
 * trusted. namespaces, a short list per inode under the inode lock.
 * Errors follow Linux: trusted.* is invisible (-ENODATA on reads, -EPERM on
 * writes) to non-root callers, user.* exists only on regular files and
 * directories.
 */
#include "daemon/mem_i.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MEM_XATTR_USER "user."
#define MEM_XATTR_TRUSTED "trusted."

static bool mem_xattr_has_prefix(const char *name, const char *prefix)
{
	return !strncmp(name, prefix, strlen(prefix));
}

void mem_xattr_free_all(struct mem_xattr *xa)
{
	while (xa) {
		struct mem_xattr *next = xa->next;

		free(xa);
		xa = next;
	}
}

/* May @x read (or, with @write, change) attribute @name of @i? [i] */
static int mem_xattr_check(const struct vctx *x, const struct mem_inode *i,
			   const char *name, bool write)
{
	size_t len = strnlen(name, MEM_XATTR_NAME_MAX + 1);

	if (len > MEM_XATTR_NAME_MAX)
		return -ERANGE;
	if (mem_xattr_has_prefix(name, MEM_XATTR_USER)) {
		if (len == strlen(MEM_XATTR_USER))
			return -EINVAL;
		if (!mem_is_reg(i) && !mem_is_dir(i))
			return write ? -EPERM : -ENODATA;
		if (write && mem_is_dir(i) && (i->mode & S_ISVTX) &&
		    !mem_is_owner(x, i))
			return -EPERM;
		return mem_may(x, i, write ? W_OK : R_OK);
	}
	if (mem_xattr_has_prefix(name, MEM_XATTR_TRUSTED)) {
		if (len == strlen(MEM_XATTR_TRUSTED))
			return -EINVAL;
		if (x->uid != 0)
			return write ? -EPERM : -ENODATA;
		return 0;
	}
	return -EOPNOTSUPP;
}

/* The link pointing at attribute @name (*result NULL if absent). */
static struct mem_xattr **mem_xattr_find(struct mem_inode *i, const char *name)
{
	struct mem_xattr **pp = &i->xattrs;

	while (*pp && strcmp((*pp)->name, name))
		pp = &(*pp)->next;
	return pp;
}

static int mem_setxattr_locked(struct mem_inode *i, const struct vctx *x,
			       const char *name, const void *value,
			       size_t size, uint32_t flags)
{
	struct mem_xattr **pp, *n;
	size_t nlen;
	int err;

	err = mem_xattr_check(x, i, name, true);
	if (err)
		return err;
	pp = mem_xattr_find(i, name);
	if ((flags & XATTR_CREATE) && *pp)
		return -EEXIST;
	if ((flags & XATTR_REPLACE) && !*pp)
		return -ENODATA;
	nlen = strlen(name);
	n = malloc(sizeof(*n) + nlen + 1 + size);
	if (!n)
		return -ENOMEM;
	memcpy(n->name, name, nlen + 1);
	n->value = (uint8_t *)n->name + nlen + 1;
	if (size)
		memcpy(n->value, value, size);
	n->size = size;
	if (*pp) {
		n->next = (*pp)->next;
		free(*pp);
	} else {
		n->next = NULL;
	}
	*pp = n;
	mem_now(&i->ctime);
	return 0;
}

void mem_setxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		  const char *name, const void *value, size_t size,
		  uint32_t flags, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	int err;

	if (flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE)) {
		mem_complete(c, -EINVAL);
		return;
	}
	if (size > MEM_XATTR_SIZE_MAX) {
		mem_complete(c, -E2BIG);
		return;
	}
	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (i) {
		pthread_rwlock_wrlock(&i->lock);
		err = mem_setxattr_locked(i, x, name, value, size, flags);
		pthread_rwlock_unlock(&i->lock);
	} else {
		err = -ENOENT;
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

/* Copies @size bytes out by the cap rules: cap 0 asks for the size. */
static int mem_xattr_out(struct bcall *c, const void *src, size_t size)
{
	c->count = size;
	if (c->cap == 0)
		return 0;
	if (size > c->cap)
		return -ERANGE;
	if (size)
		memcpy(c->buf, src, size);
	return 0;
}

void mem_getxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		  const char *name, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_xattr *xa;
	struct mem_inode *i;
	int err;

	c->count = 0;
	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (!i) {
		err = -ENOENT;
		goto out_unlock_ns;
	}
	pthread_rwlock_rdlock(&i->lock);
	err = mem_xattr_check(x, i, name, false);
	if (!err) {
		xa = *mem_xattr_find(i, name);
		err = xa ? mem_xattr_out(c, xa->value, xa->size) : -ENODATA;
	}
	pthread_rwlock_unlock(&i->lock);
out_unlock_ns:
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

static bool mem_xattr_visible(const struct vctx *x, const struct mem_xattr *xa)
{
	return x->uid == 0 || !mem_xattr_has_prefix(xa->name, MEM_XATTR_TRUSTED);
}

static int mem_listxattr_locked(const struct mem_inode *i,
				const struct vctx *x, struct bcall *c)
{
	const struct mem_xattr *xa;
	size_t total = 0, pos = 0;
	char *out = c->buf;

	for (xa = i->xattrs; xa; xa = xa->next) {
		if (mem_xattr_visible(x, xa))
			total += strlen(xa->name) + 1;
	}
	if (total > MEM_XATTR_LIST_MAX)
		return -E2BIG;
	c->count = total;
	if (c->cap == 0)
		return 0;
	if (total > c->cap)
		return -ERANGE;
	for (xa = i->xattrs; xa; xa = xa->next) {
		size_t n = strlen(xa->name) + 1;

		if (!mem_xattr_visible(x, xa))
			continue;
		memcpy(out + pos, xa->name, n);
		pos += n;
	}
	return 0;
}

void mem_listxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		   struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	int err;

	c->count = 0;
	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (i) {
		pthread_rwlock_rdlock(&i->lock);
		err = mem_listxattr_locked(i, x, c);
		pthread_rwlock_unlock(&i->lock);
	} else {
		err = -ENOENT;
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_removexattr(struct backend *b, const struct vctx *x, uint64_t ino,
		     const char *name, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_xattr **pp, *xa;
	struct mem_inode *i;
	int err;

	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (!i) {
		err = -ENOENT;
		goto out_unlock_ns;
	}
	pthread_rwlock_wrlock(&i->lock);
	err = mem_xattr_check(x, i, name, true);
	if (!err) {
		pp = mem_xattr_find(i, name);
		xa = *pp;
		if (xa) {
			*pp = xa->next;
			free(xa);
			mem_now(&i->ctime);
		} else {
			err = -ENODATA;
		}
	}
	pthread_rwlock_unlock(&i->lock);
out_unlock_ns:
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

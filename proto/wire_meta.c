// SPDX-License-Identifier: MIT
/*
 * wire_meta.c - metadata request/reply codecs (layout table in wire_meta.h).
 *
 * One put and one get function per body; each switches on the opcode and
 * lists that op's fields in wire order. Limits are checked on both sides
 * so what encodes decodes, and decoding is canonical.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wire_le.h"
#include "wire_meta.h"
#include "wire_msg.h"

#define WIRE_META_NSEC 1000000000u
#define WIRE_META_F_UNLCK 2 /* F_UNLCK on Linux; types are 0..2 */

bool wire_meta_op_known(uint16_t op)
{
	return op >= WIRE_META_LOOKUP && op <= WIRE_META_RENEW;
}

bool wire_meta_op_mutates(uint16_t op)
{
	switch (op) {
	case WIRE_META_SETATTR:
	case WIRE_META_CREATE:
	case WIRE_META_MKNOD:
	case WIRE_META_MKDIR:
	case WIRE_META_SYMLINK:
	case WIRE_META_LINK:
	case WIRE_META_UNLINK:
	case WIRE_META_RMDIR:
	case WIRE_META_RENAME:
	case WIRE_META_SETXATTR:
	case WIRE_META_REMOVEXATTR:
	case WIRE_META_SET_LENGTH:
		return true;
	default:
		return false;
	}
}

/* ---- shared pieces ---- */

static void wire_meta_put_ts(struct wire_w *w, const struct timespec *t)
{
	if (t->tv_nsec < 0 || t->tv_nsec >= (long)WIRE_META_NSEC)
		wire_w_fail(w, -EINVAL);
	wire_put_i64(w, (int64_t)t->tv_sec);
	wire_put_u32(w, (uint32_t)t->tv_nsec);
}

static void wire_meta_get_ts(struct wire_r *r, struct timespec *t)
{
	int64_t s = wire_get_i64(r);
	uint32_t ns = wire_get_u32(r);

	if (ns >= WIRE_META_NSEC)
		wire_r_fail(r, -EINVAL);
	t->tv_sec = (time_t)s;
	t->tv_nsec = (long)ns;
}

static void wire_meta_put_bool(struct wire_w *w, bool v)
{
	wire_put_u8(w, v ? 1 : 0);
}

static bool wire_meta_get_bool(struct wire_r *r)
{
	uint8_t v = wire_get_u8(r);

	if (v > 1)
		wire_r_fail(r, -EINVAL);
	return v == 1;
}

/* A name that must be non-empty (1..max bytes). */
static void wire_meta_put_name(struct wire_w *w, const char *s)
{
	if (!w->err && s[0] == '\0')
		wire_w_fail(w, -EINVAL);
	wire_put_str(w, s, WIRE_META_NAME_MAX);
}

static void wire_meta_get_name(struct wire_r *r, char *dst)
{
	wire_get_str(r, dst, WIRE_META_NAME_MAX);
	if (!r->err && dst[0] == '\0')
		wire_r_fail(r, -EINVAL);
}

static void wire_meta_put_value(struct wire_w *w, const uint8_t *v,
				uint32_t n)
{
	if (n > WIRE_META_VALUE_MAX) {
		wire_w_fail(w, -E2BIG);
		return;
	}
	wire_put_u32(w, n);
	wire_put_bytes(w, v, n);
}

static uint32_t wire_meta_get_value(struct wire_r *r, uint8_t *dst)
{
	uint32_t n = wire_get_u32(r);

	if (r->err)
		return 0;
	if (n > WIRE_META_VALUE_MAX) {
		wire_r_fail(r, -E2BIG);
		return 0;
	}
	wire_get_copy(r, dst, n);
	return r->err ? 0 : n;
}

static void wire_meta_put_attr(struct wire_w *w, const struct wire_meta_attr *a)
{
	wire_put_u64(w, a->ino);
	wire_put_u64(w, a->size);
	wire_put_u64(w, a->blocks);
	wire_meta_put_ts(w, &a->atime);
	wire_meta_put_ts(w, &a->mtime);
	wire_meta_put_ts(w, &a->ctime);
	wire_meta_put_ts(w, &a->btime);
	wire_put_u32(w, a->mode);
	wire_put_u32(w, a->nlink);
	wire_put_u32(w, a->uid);
	wire_put_u32(w, a->gid);
	wire_put_u32(w, a->rdev);
	wire_put_u32(w, a->blksize);
	wire_put_u64(w, a->generation);
}

static void wire_meta_get_attr(struct wire_r *r, struct wire_meta_attr *a)
{
	a->ino = wire_get_u64(r);
	a->size = wire_get_u64(r);
	a->blocks = wire_get_u64(r);
	wire_meta_get_ts(r, &a->atime);
	wire_meta_get_ts(r, &a->mtime);
	wire_meta_get_ts(r, &a->ctime);
	wire_meta_get_ts(r, &a->btime);
	a->mode = wire_get_u32(r);
	a->nlink = wire_get_u32(r);
	a->uid = wire_get_u32(r);
	a->gid = wire_get_u32(r);
	a->rdev = wire_get_u32(r);
	a->blksize = wire_get_u32(r);
	a->generation = wire_get_u64(r);
}

static void wire_meta_put_lock(struct wire_w *w, const struct wire_meta_lock *l)
{
	if (l->kind > WIRE_LOCK_FLOCK || l->type > WIRE_META_F_UNLCK ||
	    l->start > l->end)
		wire_w_fail(w, -EINVAL);
	wire_put_u8(w, l->kind);
	wire_put_u64(w, l->owner);
	wire_put_u32(w, l->pid);
	wire_put_u32(w, l->type);
	wire_put_u64(w, l->start);
	wire_put_u64(w, l->end);
}

static void wire_meta_get_lock(struct wire_r *r, struct wire_meta_lock *l)
{
	l->kind = wire_get_u8(r);
	l->owner = wire_get_u64(r);
	l->pid = wire_get_u32(r);
	l->type = wire_get_u32(r);
	l->start = wire_get_u64(r);
	l->end = wire_get_u64(r);
	if (l->kind > WIRE_LOCK_FLOCK || l->type > WIRE_META_F_UNLCK ||
	    l->start > l->end)
		wire_r_fail(r, -EINVAL);
}

/* ---- requests ---- */

static void wire_meta_put_req(struct wire_w *w, uint16_t op,
			      const struct wire_meta_req *m)
{
	const struct wire_meta_setattr *sa = &m->sa;

	wire_put_u32(w, m->uid);
	wire_put_u32(w, m->gid);
	wire_put_u64(w, m->client);
	wire_put_u64(w, m->req_id);
	switch (op) {
	case WIRE_META_LOOKUP:
	case WIRE_META_UNLINK:
	case WIRE_META_RMDIR:
	case WIRE_META_REMOVEXATTR:
		wire_put_u64(w, m->ino);
		wire_meta_put_name(w, m->name);
		break;
	case WIRE_META_GETATTR:
	case WIRE_META_READLINK:
	case WIRE_META_CLOSE:
		wire_put_u64(w, m->ino);
		break;
	case WIRE_META_SETATTR:
		wire_put_u64(w, m->ino);
		wire_put_u32(w, sa->valid);
		wire_put_u32(w, sa->mode);
		wire_put_u32(w, sa->uid);
		wire_put_u32(w, sa->gid);
		wire_put_u64(w, sa->size);
		wire_meta_put_ts(w, &sa->atime);
		wire_meta_put_ts(w, &sa->mtime);
		wire_meta_put_ts(w, &sa->ctime);
		break;
	case WIRE_META_CREATE:
		wire_put_u64(w, m->ino);
		wire_meta_put_name(w, m->name);
		wire_put_u32(w, m->mode);
		wire_put_u32(w, m->oflags);
		break;
	case WIRE_META_MKNOD:
		wire_put_u64(w, m->ino);
		wire_meta_put_name(w, m->name);
		wire_put_u32(w, m->mode);
		wire_put_u32(w, m->rdev);
		break;
	case WIRE_META_MKDIR:
		wire_put_u64(w, m->ino);
		wire_meta_put_name(w, m->name);
		wire_put_u32(w, m->mode);
		break;
	case WIRE_META_SYMLINK:
		wire_put_u64(w, m->ino);
		wire_meta_put_name(w, m->name);
		if (!w->err && m->target[0] == '\0')
			wire_w_fail(w, -EINVAL);
		wire_put_str(w, m->target, WIRE_META_TARGET_MAX);
		break;
	case WIRE_META_LINK:
		wire_put_u64(w, m->ino);
		wire_put_u64(w, m->ino2);
		wire_meta_put_name(w, m->name2);
		break;
	case WIRE_META_RENAME:
		wire_put_u64(w, m->ino);
		wire_meta_put_name(w, m->name);
		wire_put_u64(w, m->ino2);
		wire_meta_put_name(w, m->name2);
		wire_put_u32(w, m->flags);
		break;
	case WIRE_META_OPEN:
		wire_put_u64(w, m->ino);
		wire_put_u32(w, m->oflags);
		break;
	case WIRE_META_READDIR:
		wire_put_u64(w, m->ino);
		wire_put_str(w, m->name, WIRE_META_NAME_MAX);
		if (m->max < 1 || m->max > WIRE_META_READDIR_MAX)
			wire_w_fail(w, -E2BIG);
		wire_put_u32(w, m->max);
		wire_meta_put_bool(w, m->plus);
		break;
	case WIRE_META_STATFS:
	case WIRE_META_FSCK:
	case WIRE_META_RENEW:
		break;
	case WIRE_META_SETXATTR:
		wire_put_u64(w, m->ino);
		wire_meta_put_name(w, m->name);
		wire_meta_put_value(w, m->value, m->value_len);
		wire_put_u32(w, m->flags);
		break;
	case WIRE_META_GETXATTR:
	case WIRE_META_LISTXATTR:
		wire_put_u64(w, m->ino);
		if (op == WIRE_META_GETXATTR)
			wire_meta_put_name(w, m->name);
		if (m->cap > WIRE_META_VALUE_MAX)
			wire_w_fail(w, -E2BIG);
		wire_put_u32(w, m->cap);
		break;
	case WIRE_META_SET_LENGTH:
		wire_put_u64(w, m->ino);
		wire_put_u64(w, m->size);
		wire_put_u64(w, m->trunc_ver);
		break;
	case WIRE_META_LOCK:
	case WIRE_META_GETLK:
		wire_put_u64(w, m->ino);
		wire_meta_put_lock(w, &m->lock);
		break;
	case WIRE_META_UNLOCK:
		wire_put_u64(w, m->ino);
		if (m->lock.kind > WIRE_LOCK_FLOCK)
			wire_w_fail(w, -EINVAL);
		wire_put_u8(w, m->lock.kind);
		wire_put_u64(w, m->lock.owner);
		break;
	default:
		wire_w_fail(w, -EOPNOTSUPP);
	}
}

static void wire_meta_get_req(struct wire_r *r, uint16_t op,
			      struct wire_meta_req *m)
{
	struct wire_meta_setattr *sa = &m->sa;

	m->uid = wire_get_u32(r);
	m->gid = wire_get_u32(r);
	m->client = wire_get_u64(r);
	m->req_id = wire_get_u64(r);
	switch (op) {
	case WIRE_META_LOOKUP:
	case WIRE_META_UNLINK:
	case WIRE_META_RMDIR:
	case WIRE_META_REMOVEXATTR:
		m->ino = wire_get_u64(r);
		wire_meta_get_name(r, m->name);
		break;
	case WIRE_META_GETATTR:
	case WIRE_META_READLINK:
	case WIRE_META_CLOSE:
		m->ino = wire_get_u64(r);
		break;
	case WIRE_META_SETATTR:
		m->ino = wire_get_u64(r);
		sa->valid = wire_get_u32(r);
		sa->mode = wire_get_u32(r);
		sa->uid = wire_get_u32(r);
		sa->gid = wire_get_u32(r);
		sa->size = wire_get_u64(r);
		wire_meta_get_ts(r, &sa->atime);
		wire_meta_get_ts(r, &sa->mtime);
		wire_meta_get_ts(r, &sa->ctime);
		break;
	case WIRE_META_CREATE:
		m->ino = wire_get_u64(r);
		wire_meta_get_name(r, m->name);
		m->mode = wire_get_u32(r);
		m->oflags = wire_get_u32(r);
		break;
	case WIRE_META_MKNOD:
		m->ino = wire_get_u64(r);
		wire_meta_get_name(r, m->name);
		m->mode = wire_get_u32(r);
		m->rdev = wire_get_u32(r);
		break;
	case WIRE_META_MKDIR:
		m->ino = wire_get_u64(r);
		wire_meta_get_name(r, m->name);
		m->mode = wire_get_u32(r);
		break;
	case WIRE_META_SYMLINK:
		m->ino = wire_get_u64(r);
		wire_meta_get_name(r, m->name);
		wire_get_str(r, m->target, WIRE_META_TARGET_MAX);
		if (!r->err && m->target[0] == '\0')
			wire_r_fail(r, -EINVAL);
		break;
	case WIRE_META_LINK:
		m->ino = wire_get_u64(r);
		m->ino2 = wire_get_u64(r);
		wire_meta_get_name(r, m->name2);
		break;
	case WIRE_META_RENAME:
		m->ino = wire_get_u64(r);
		wire_meta_get_name(r, m->name);
		m->ino2 = wire_get_u64(r);
		wire_meta_get_name(r, m->name2);
		m->flags = wire_get_u32(r);
		break;
	case WIRE_META_OPEN:
		m->ino = wire_get_u64(r);
		m->oflags = wire_get_u32(r);
		break;
	case WIRE_META_READDIR:
		m->ino = wire_get_u64(r);
		wire_get_str(r, m->name, WIRE_META_NAME_MAX);
		m->max = wire_get_u32(r);
		if (!r->err && (m->max < 1 || m->max > WIRE_META_READDIR_MAX))
			wire_r_fail(r, -E2BIG);
		m->plus = wire_meta_get_bool(r);
		break;
	case WIRE_META_STATFS:
	case WIRE_META_FSCK:
	case WIRE_META_RENEW:
		break;
	case WIRE_META_SETXATTR:
		m->ino = wire_get_u64(r);
		wire_meta_get_name(r, m->name);
		m->value_len = wire_meta_get_value(r, m->value);
		m->flags = wire_get_u32(r);
		break;
	case WIRE_META_GETXATTR:
	case WIRE_META_LISTXATTR:
		m->ino = wire_get_u64(r);
		if (op == WIRE_META_GETXATTR)
			wire_meta_get_name(r, m->name);
		m->cap = wire_get_u32(r);
		if (!r->err && m->cap > WIRE_META_VALUE_MAX)
			wire_r_fail(r, -E2BIG);
		break;
	case WIRE_META_SET_LENGTH:
		m->ino = wire_get_u64(r);
		m->size = wire_get_u64(r);
		m->trunc_ver = wire_get_u64(r);
		break;
	case WIRE_META_LOCK:
	case WIRE_META_GETLK:
		m->ino = wire_get_u64(r);
		wire_meta_get_lock(r, &m->lock);
		break;
	case WIRE_META_UNLOCK:
		m->ino = wire_get_u64(r);
		m->lock.kind = wire_get_u8(r);
		if (!r->err && m->lock.kind > WIRE_LOCK_FLOCK)
			wire_r_fail(r, -EINVAL);
		m->lock.owner = wire_get_u64(r);
		break;
	default:
		wire_r_fail(r, -EOPNOTSUPP);
	}
}

/* ---- replies ---- */

static void wire_meta_put_rep(struct wire_w *w, uint16_t op,
			      const struct wire_meta_rep *m)
{
	const struct wire_meta_layout *l = &m->layout;
	const struct wire_meta_statfs *st = &m->st;
	uint32_t i;

	switch (op) {
	case WIRE_META_LOOKUP:
	case WIRE_META_GETATTR:
	case WIRE_META_SETATTR:
	case WIRE_META_MKNOD:
	case WIRE_META_MKDIR:
	case WIRE_META_SYMLINK:
	case WIRE_META_LINK:
	case WIRE_META_SET_LENGTH:
		wire_meta_put_attr(w, &m->attr);
		break;
	case WIRE_META_CREATE:
	case WIRE_META_OPEN:
		wire_meta_put_attr(w, &m->attr);
		wire_put_u32(w, l->chunk_size);
		wire_put_u32(w, l->stripe);
		wire_put_u32(w, l->first_chain);
		wire_put_u32(w, l->table_version);
		wire_put_u64(w, m->trunc_ver);
		break;
	case WIRE_META_READLINK:
		wire_put_str(w, m->target, WIRE_META_TARGET_MAX);
		break;
	case WIRE_META_READDIR:
		wire_meta_put_bool(w, m->plus);
		wire_meta_put_bool(w, m->eof);
		if (m->nents > WIRE_META_READDIR_MAX) {
			wire_w_fail(w, -E2BIG);
			break;
		}
		wire_put_u32(w, m->nents);
		for (i = 0; i < m->nents && !w->err; i++) {
			wire_put_u64(w, m->ents[i].ino);
			wire_put_u32(w, m->ents[i].type);
			wire_meta_put_name(w, m->ents[i].name);
			if (m->plus)
				wire_meta_put_attr(w, &m->ents[i].attr);
		}
		break;
	case WIRE_META_STATFS:
		wire_put_u64(w, st->blocks);
		wire_put_u64(w, st->bfree);
		wire_put_u64(w, st->bavail);
		wire_put_u64(w, st->files);
		wire_put_u64(w, st->ffree);
		wire_put_u32(w, st->bsize);
		wire_put_u32(w, st->frsize);
		wire_put_u32(w, st->namelen);
		break;
	case WIRE_META_GETXATTR:
	case WIRE_META_LISTXATTR:
		wire_put_u32(w, m->size);
		wire_meta_put_value(w, m->value, m->value_len);
		break;
	case WIRE_META_GETLK:
		wire_meta_put_lock(w, &m->lock);
		break;
	case WIRE_META_FSCK: {
		size_t n = strnlen(m->report, WIRE_META_REPORT_MAX + 1);

		if (n > WIRE_META_REPORT_MAX) {
			wire_w_fail(w, -ENAMETOOLONG);
			break;
		}
		wire_put_u32(w, m->violations);
		wire_put_u32(w, (uint32_t)n);
		wire_put_bytes(w, m->report, n);
		break;
	}
	case WIRE_META_RENEW:
		wire_put_u32(w, m->lease_ms);
		break;
	case WIRE_META_UNLINK:
	case WIRE_META_RMDIR:
	case WIRE_META_RENAME:
	case WIRE_META_CLOSE:
	case WIRE_META_SETXATTR:
	case WIRE_META_REMOVEXATTR:
	case WIRE_META_LOCK:
	case WIRE_META_UNLOCK:
		break;
	default:
		wire_w_fail(w, -EOPNOTSUPP);
	}
}

static void wire_meta_get_rep(struct wire_r *r, uint16_t op,
			      struct wire_meta_rep *m)
{
	struct wire_meta_layout *l = &m->layout;
	struct wire_meta_statfs *st = &m->st;
	uint32_t i;

	switch (op) {
	case WIRE_META_LOOKUP:
	case WIRE_META_GETATTR:
	case WIRE_META_SETATTR:
	case WIRE_META_MKNOD:
	case WIRE_META_MKDIR:
	case WIRE_META_SYMLINK:
	case WIRE_META_LINK:
	case WIRE_META_SET_LENGTH:
		wire_meta_get_attr(r, &m->attr);
		break;
	case WIRE_META_CREATE:
	case WIRE_META_OPEN:
		wire_meta_get_attr(r, &m->attr);
		l->chunk_size = wire_get_u32(r);
		l->stripe = wire_get_u32(r);
		l->first_chain = wire_get_u32(r);
		l->table_version = wire_get_u32(r);
		m->trunc_ver = wire_get_u64(r);
		break;
	case WIRE_META_READLINK:
		wire_get_str(r, m->target, WIRE_META_TARGET_MAX);
		break;
	case WIRE_META_READDIR:
		m->plus = wire_meta_get_bool(r);
		m->eof = wire_meta_get_bool(r);
		m->nents = wire_get_u32(r);
		if (r->err)
			break;
		if (m->nents > WIRE_META_READDIR_MAX) {
			wire_r_fail(r, -E2BIG);
			break;
		}
		for (i = 0; i < m->nents && !r->err; i++) {
			m->ents[i].ino = wire_get_u64(r);
			m->ents[i].type = wire_get_u32(r);
			wire_meta_get_name(r, m->ents[i].name);
			if (m->plus)
				wire_meta_get_attr(r, &m->ents[i].attr);
		}
		break;
	case WIRE_META_STATFS:
		st->blocks = wire_get_u64(r);
		st->bfree = wire_get_u64(r);
		st->bavail = wire_get_u64(r);
		st->files = wire_get_u64(r);
		st->ffree = wire_get_u64(r);
		st->bsize = wire_get_u32(r);
		st->frsize = wire_get_u32(r);
		st->namelen = wire_get_u32(r);
		break;
	case WIRE_META_GETXATTR:
	case WIRE_META_LISTXATTR:
		m->size = wire_get_u32(r);
		m->value_len = wire_meta_get_value(r, m->value);
		break;
	case WIRE_META_GETLK:
		wire_meta_get_lock(r, &m->lock);
		break;
	case WIRE_META_FSCK: {
		uint32_t n;
		const uint8_t *s;

		m->violations = wire_get_u32(r);
		n = wire_get_u32(r);
		if (r->err)
			break;
		if (n > WIRE_META_REPORT_MAX) {
			wire_r_fail(r, -ENAMETOOLONG);
			break;
		}
		s = wire_get_bytes(r, n);
		if (!s)
			break;
		if (n && memchr(s, '\0', n)) {
			wire_r_fail(r, -EBADMSG);
			break;
		}
		memcpy(m->report, s, n);
		m->report[n] = '\0';
		break;
	}
	case WIRE_META_RENEW:
		m->lease_ms = wire_get_u32(r);
		break;
	case WIRE_META_UNLINK:
	case WIRE_META_RMDIR:
	case WIRE_META_RENAME:
	case WIRE_META_CLOSE:
	case WIRE_META_SETXATTR:
	case WIRE_META_REMOVEXATTR:
	case WIRE_META_LOCK:
	case WIRE_META_UNLOCK:
		break;
	default:
		wire_r_fail(r, -EOPNOTSUPP);
	}
}

/* ---- public wrappers ---- */

int wire_meta_req_encode(uint16_t op, const struct wire_meta_req *m,
			 uint8_t *buf, size_t cap, size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_meta_put_req(&w, op, m);
	if (w.err)
		return w.err;
	*len = w.len;
	return 0;
}

int wire_meta_req_decode(uint16_t op, const uint8_t *buf, size_t len,
			 struct wire_meta_req *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_meta_get_req(&r, op, out);
	return wire_r_finish(&r);
}

int wire_meta_rep_encode(uint16_t op, const struct wire_meta_rep *m,
			 uint8_t *buf, size_t cap, size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_meta_put_rep(&w, op, m);
	if (w.err)
		return w.err;
	*len = w.len;
	return 0;
}

int wire_meta_rep_decode(uint16_t op, const uint8_t *buf, size_t len,
			 struct wire_meta_rep *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_meta_get_rep(&r, op, out);
	return wire_r_finish(&r);
}

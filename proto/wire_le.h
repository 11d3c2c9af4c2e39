/* SPDX-License-Identifier: MIT */
/*
 * wire_le.h - little-endian field writer and reader over a caller's buffer.
 *
 * The building blocks of every body codec in proto/: a writer appends
 * fixed-width little-endian integers, byte runs and length-prefixed strings
 * to a buffer of known capacity; a reader takes them back out of a buffer of
 * known length. Values are assembled byte by byte, so neither the host's
 * byte order nor the buffer's alignment matter, and no C struct layout ever
 * reaches the wire.
 *
 * Errors are sticky: the first failure is stored in `err` and every later
 * call does nothing (a reader returns zeros), so a codec makes all its calls
 * and checks `err` once at the end. The first error wins.
 *
 *   writer: -ENOSPC          a field did not fit in cap
 *           -ENAMETOOLONG    a string longer than its limit
 *   reader: -EBADMSG         a field runs past len, or a NUL inside a string
 *           -ENAMETOOLONG    a string longer than the caller's limit
 *   either: whatever the codec passes to wire_w_fail() / wire_r_fail()
 *
 * No allocation, no I/O; the structs live on the caller's stack.
 */
#ifndef VALOR_PROTO_WIRE_LE_H
#define VALOR_PROTO_WIRE_LE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Writer: appends at p[len], never past p[cap]. */
struct wire_w {
	uint8_t *p;
	size_t cap;
	size_t len; /* bytes written so far */
	int err;    /* 0 or the first -errno */
};

/* Reader: consumes p[off..len). */
struct wire_r {
	const uint8_t *p;
	size_t len;
	size_t off; /* bytes consumed so far */
	int err;    /* 0 or the first -errno */
};

/* Longest string put_str/get_str handle: the u16 length prefix. */
#define WIRE_LE_STR_MAX 0xffffu

static inline void wire_w_init(struct wire_w *w, uint8_t *buf, size_t cap)
{
	w->p = buf;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
}

static inline void wire_r_init(struct wire_r *r, const uint8_t *buf, size_t len)
{
	r->p = buf;
	r->len = len;
	r->off = 0;
	r->err = 0;
}

/* Record err (a -errno) unless an earlier error is already recorded. */
static inline void wire_w_fail(struct wire_w *w, int err)
{
	if (!w->err)
		w->err = err;
}

static inline void wire_r_fail(struct wire_r *r, int err)
{
	if (!r->err)
		r->err = err;
}

/*
 * Reserve n bytes at the end of the written data: a pointer to them, or NULL
 * (and -ENOSPC) when they do not fit.
 */
static inline uint8_t *wire_w_reserve(struct wire_w *w, size_t n)
{
	uint8_t *at;

	if (w->err)
		return NULL;
	if (n > w->cap - w->len) {
		w->err = -ENOSPC;
		return NULL;
	}
	at = w->p + w->len;
	w->len += n;
	return at;
}

/*
 * Consume n bytes: a pointer to them inside the reader's buffer, or NULL
 * (and -EBADMSG) when fewer than n are left.
 */
static inline const uint8_t *wire_r_take(struct wire_r *r, size_t n)
{
	const uint8_t *at;

	if (r->err)
		return NULL;
	if (n > r->len - r->off) {
		r->err = -EBADMSG;
		return NULL;
	}
	at = r->p + r->off;
	r->off += n;
	return at;
}

/* Bytes not yet consumed (0 after an error). */
static inline size_t wire_r_left(const struct wire_r *r)
{
	return r->err ? 0 : r->len - r->off;
}

/*
 * End of a decode: the sticky error if any, else -EBADMSG when bytes are
 * left over (a body must be consumed exactly), else 0.
 */
static inline int wire_r_finish(const struct wire_r *r)
{
	if (r->err)
		return r->err;
	return r->off == r->len ? 0 : -EBADMSG;
}

/* ---- writer ---- */

static inline void wire_put_u8(struct wire_w *w, uint8_t v)
{
	uint8_t *d = wire_w_reserve(w, 1);

	if (d)
		d[0] = v;
}

static inline void wire_put_u16(struct wire_w *w, uint16_t v)
{
	uint8_t *d = wire_w_reserve(w, 2);

	if (!d)
		return;
	d[0] = (uint8_t)v;
	d[1] = (uint8_t)(v >> 8);
}

static inline void wire_put_u32(struct wire_w *w, uint32_t v)
{
	uint8_t *d = wire_w_reserve(w, 4);
	int i;

	if (!d)
		return;
	for (i = 0; i < 4; i++)
		d[i] = (uint8_t)(v >> (8 * i));
}

static inline void wire_put_u64(struct wire_w *w, uint64_t v)
{
	uint8_t *d = wire_w_reserve(w, 8);
	int i;

	if (!d)
		return;
	for (i = 0; i < 8; i++)
		d[i] = (uint8_t)(v >> (8 * i));
}

/* Signed values travel as their two's complement bit pattern. */
static inline void wire_put_i32(struct wire_w *w, int32_t v)
{
	wire_put_u32(w, (uint32_t)v);
}

static inline void wire_put_i64(struct wire_w *w, int64_t v)
{
	wire_put_u64(w, (uint64_t)v);
}

/* n raw bytes, no length prefix (fixed-size fields such as nonces). */
static inline void wire_put_bytes(struct wire_w *w, const void *src, size_t n)
{
	uint8_t *d = wire_w_reserve(w, n);

	if (d && n)
		memcpy(d, src, n);
}

/*
 * A NUL-terminated string as u16 length + bytes. s must be terminated
 * within max + 1 bytes (max <= WIRE_LE_STR_MAX); a longer string is
 * -ENAMETOOLONG; at most max + 1 bytes of s are read.
 */
static inline void wire_put_str(struct wire_w *w, const char *s, size_t max)
{
	size_t n;

	if (w->err)
		return;
	if (max > WIRE_LE_STR_MAX)
		max = WIRE_LE_STR_MAX;
	/*
	 * strnlen(s, max + 1) by hand: gcc 12 warns (stringop-overread) when
	 * the bound exceeds a literal's size, though strnlen stops at its NUL.
	 */
	for (n = 0; n <= max && s[n]; n++)
		;
	if (n > max) {
		w->err = -ENAMETOOLONG;
		return;
	}
	wire_put_u16(w, (uint16_t)n);
	wire_put_bytes(w, s, n);
}

/* ---- reader: each get returns 0 once err is set ---- */

static inline uint8_t wire_get_u8(struct wire_r *r)
{
	const uint8_t *s = wire_r_take(r, 1);

	return s ? s[0] : 0;
}

static inline uint16_t wire_get_u16(struct wire_r *r)
{
	const uint8_t *s = wire_r_take(r, 2);

	if (!s)
		return 0;
	return (uint16_t)(s[0] | (uint16_t)s[1] << 8);
}

static inline uint32_t wire_get_u32(struct wire_r *r)
{
	const uint8_t *s = wire_r_take(r, 4);
	uint32_t v = 0;
	int i;

	if (!s)
		return 0;
	for (i = 0; i < 4; i++)
		v |= (uint32_t)s[i] << (8 * i);
	return v;
}

static inline uint64_t wire_get_u64(struct wire_r *r)
{
	const uint8_t *s = wire_r_take(r, 8);
	uint64_t v = 0;
	int i;

	if (!s)
		return 0;
	for (i = 0; i < 8; i++)
		v |= (uint64_t)s[i] << (8 * i);
	return v;
}

static inline int32_t wire_get_i32(struct wire_r *r)
{
	return (int32_t)wire_get_u32(r);
}

static inline int64_t wire_get_i64(struct wire_r *r)
{
	return (int64_t)wire_get_u64(r);
}

/*
 * n raw bytes: a pointer into the reader's buffer (valid as long as that
 * buffer is), or NULL after an error. n == 0 gives a non-NULL pointer.
 */
static inline const uint8_t *wire_get_bytes(struct wire_r *r, size_t n)
{
	return wire_r_take(r, n);
}

/* n raw bytes copied to dst; dst is zeroed on error. */
static inline void wire_get_copy(struct wire_r *r, void *dst, size_t n)
{
	const uint8_t *s = wire_r_take(r, n);

	if (s)
		memcpy(dst, s, n);
	else
		memset(dst, 0, n);
}

/*
 * A u16-length string into dst, which holds max + 1 bytes; dst is always
 * NUL-terminated (empty after an error). A string longer than max is
 * -ENAMETOOLONG, one containing a NUL byte -EBADMSG.
 */
static inline void wire_get_str(struct wire_r *r, char *dst, size_t max)
{
	const uint8_t *s;
	uint16_t n;

	dst[0] = '\0';
	n = wire_get_u16(r);
	if (r->err)
		return;
	if (n > max) {
		r->err = -ENAMETOOLONG;
		return;
	}
	s = wire_r_take(r, n);
	if (!s)
		return;
	if (n && memchr(s, '\0', n)) {
		r->err = -EBADMSG;
		return;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

#endif /* VALOR_PROTO_WIRE_LE_H */

// SPDX-License-Identifier: MIT
/*
 * test_wire_meta.c - metadata request/reply codecs (proto/wire_meta.h).
 *
 * Every op's request and reply is filled with values that use every byte,
 * encoded, decoded into a zeroed struct and re-encoded: the bytes must be
 * identical (canonical) and the fields equal. Then each body is cut at
 * every length (-EBADMSG), given a trailing byte (-EBADMSG), and handed
 * names and values over their limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/wire_le.h"
#include "proto/wire_meta.h"
#include "proto/wire_msg.h"

#define TEST_UNUSED __attribute__((unused))
#define BUFSZ (WIRE_META_BODY_MAX)

static void fill_attr(struct wire_meta_attr *a, uint64_t seed)
{
	a->ino = 0x0102030405060708ull + seed;
	a->size = 0x1112131415161718ull;
	a->blocks = 77;
	a->atime.tv_sec = 1700000000;
	a->atime.tv_nsec = 999999999;
	a->mtime.tv_sec = -5;
	a->mtime.tv_nsec = 1;
	a->ctime.tv_sec = 3;
	a->btime.tv_sec = 4;
	a->mode = 0100644;
	a->nlink = 2;
	a->uid = 1000;
	a->gid = 1001;
	a->rdev = 0x0803;
	a->blksize = 4096;
	a->generation = 9;
}

static void fill_req(struct wire_meta_req *m)
{
	m->uid = 1000;
	m->gid = 100;
	m->client = 0xdeadbeefcafef00dull;
	m->req_id = 42;
	m->ino = 0xa1a2a3a4a5a6a7a8ull;
	m->ino2 = 7;
	strcpy(m->name, "hello");
	strcpy(m->name2, "world.txt");
	strcpy(m->target, "../some/target");
	m->mode = 0100600;
	m->rdev = 0x1234;
	m->oflags = O_CREAT | O_TRUNC;
	m->flags = 1;
	m->sa.valid = 0x3ff;
	m->sa.mode = 0755;
	m->sa.uid = 5;
	m->sa.gid = 6;
	m->sa.size = 1ull << 40;
	m->sa.atime.tv_sec = 11;
	m->sa.mtime.tv_nsec = 12;
	m->sa.ctime.tv_sec = 13;
	m->size = 123456789;
	m->trunc_ver = 3;
	m->max = 64;
	m->plus = true;
	m->cap = 4096;
	m->value_len = 5;
	memcpy(m->value, "v\0l\xffu", 5);
	m->lock.kind = WIRE_LOCK_POSIX;
	m->lock.owner = 0x8877665544332211ull;
	m->lock.pid = 4321;
	m->lock.type = F_WRLCK;
	m->lock.start = 10;
	m->lock.end = UINT64_MAX;
}

static void fill_rep(struct wire_meta_rep *m, bool plus)
{
	uint32_t i;

	fill_attr(&m->attr, 0);
	m->layout.chunk_size = 1 << 20;
	m->layout.stripe = 4;
	m->layout.first_chain = 3;
	m->layout.table_version = 2;
	m->trunc_ver = 8;
	strcpy(m->target, "/abs/target");
	m->plus = plus;
	m->eof = true;
	m->nents = 5;
	for (i = 0; i < m->nents; i++) {
		m->ents[i].ino = 100 + i;
		m->ents[i].type = 0100000;
		m->ents[i].name[0] = (char)('a' + i);
		if (plus)
			fill_attr(&m->ents[i].attr, i);
	}
	m->st.blocks = 1000;
	m->st.bfree = 500;
	m->st.bavail = 400;
	m->st.files = 10;
	m->st.ffree = 1u << 30;
	m->st.bsize = 4096;
	m->st.frsize = 4096;
	m->st.namelen = 255;
	m->size = 5;
	m->value_len = 5;
	memcpy(m->value, "abcde", 5);
	m->lock.kind = WIRE_LOCK_FLOCK;
	m->lock.owner = 99;
	m->lock.type = F_RDLCK;
	m->lock.end = UINT64_MAX;
	m->violations = 2;
	strcpy(m->report, "dentry 1/x -> missing inode 5\nnlink 7: 2 != 1\n");
	m->lease_ms = 30000;
}

static uint8_t *copy_of(const uint8_t *b, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	assert_non_null(c);
	memcpy(c, b, n);
	return c;
}

/* Round trip + truncation + trailing byte for one request op. */
static void check_req(uint16_t op)
{
	struct wire_meta_req *a = calloc(1, sizeof(*a));
	struct wire_meta_req *b = calloc(1, sizeof(*b));
	uint8_t *buf = malloc(BUFSZ), *buf2 = malloc(BUFSZ), *c;
	size_t len, len2, cut;

	assert_non_null(a);
	assert_non_null(b);
	fill_req(a);
	assert_int_equal(wire_meta_req_encode(op, a, buf, BUFSZ, &len), 0);
	c = copy_of(buf, len);
	assert_int_equal(wire_meta_req_decode(op, c, len, b), 0);
	free(c);
	assert_int_equal(wire_meta_req_encode(op, b, buf2, BUFSZ, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	assert_int_equal(b->uid, a->uid);
	assert_int_equal(b->client, a->client);
	assert_int_equal(b->req_id, a->req_id);
	for (cut = 0; cut < len; cut++) {
		c = copy_of(buf, cut);
		assert_int_equal(wire_meta_req_decode(op, c, cut, b), -EBADMSG);
		free(c);
	}
	buf[len] = 0;
	c = copy_of(buf, len + 1);
	assert_int_equal(wire_meta_req_decode(op, c, len + 1, b), -EBADMSG);
	free(c);
	if (len > 0)
		assert_int_equal(wire_meta_req_encode(op, a, buf, len - 1, &len2),
				 -ENOSPC);
	free(a);
	free(b);
	free(buf);
	free(buf2);
}

static void check_rep(uint16_t op, bool plus)
{
	struct wire_meta_rep *a = calloc(1, sizeof(*a));
	struct wire_meta_rep *b = calloc(1, sizeof(*b));
	uint8_t *buf = malloc(BUFSZ), *buf2 = malloc(BUFSZ), *c;
	size_t len, len2, cut;

	assert_non_null(a);
	assert_non_null(b);
	fill_rep(a, plus);
	assert_int_equal(wire_meta_rep_encode(op, a, buf, BUFSZ, &len), 0);
	c = copy_of(buf, len);
	assert_int_equal(wire_meta_rep_decode(op, c, len, b), 0);
	free(c);
	assert_int_equal(wire_meta_rep_encode(op, b, buf2, BUFSZ, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	for (cut = 0; cut < len; cut++) {
		c = copy_of(buf, cut);
		assert_int_equal(wire_meta_rep_decode(op, c, cut, b), -EBADMSG);
		free(c);
	}
	buf[len] = 0;
	c = copy_of(buf, len + 1);
	assert_int_equal(wire_meta_rep_decode(op, c, len + 1, b), -EBADMSG);
	free(c);
	free(a);
	free(b);
	free(buf);
	free(buf2);
}

static void test_wire_meta__round_trip_every_op(void **state TEST_UNUSED)
{
	uint16_t op;

	for (op = WIRE_META_LOOKUP; op <= WIRE_META_RENEW; op++) {
		assert_true(wire_meta_op_known(op));
		assert_true(wire_op_known(op));
		check_req(op);
		check_rep(op, false);
		check_rep(op, true);
	}
	assert_false(wire_meta_op_known(WIRE_META_RENEW + 1));
	assert_false(wire_meta_op_known(WIRE_MGMTD_STATUS));
}

static void test_wire_meta__fields_survive(void **state TEST_UNUSED)
{
	struct wire_meta_req *a = calloc(1, sizeof(*a));
	struct wire_meta_req *b = calloc(1, sizeof(*b));
	struct wire_meta_rep *x = calloc(1, sizeof(*x));
	struct wire_meta_rep *y = calloc(1, sizeof(*y));
	uint8_t *buf = malloc(BUFSZ);
	size_t len;

	fill_req(a);
	assert_int_equal(
		wire_meta_req_encode(WIRE_META_RENAME, a, buf, BUFSZ, &len), 0);
	assert_int_equal(wire_meta_req_decode(WIRE_META_RENAME, buf, len, b),
			 0);
	assert_string_equal(b->name, "hello");
	assert_string_equal(b->name2, "world.txt");
	assert_int_equal(b->ino, a->ino);
	assert_int_equal(b->ino2, 7);
	assert_int_equal(b->flags, 1);

	assert_int_equal(
		wire_meta_req_encode(WIRE_META_SETXATTR, a, buf, BUFSZ, &len), 0);
	assert_int_equal(wire_meta_req_decode(WIRE_META_SETXATTR, buf, len, b),
			 0);
	assert_int_equal(b->value_len, 5);
	assert_memory_equal(b->value, "v\0l\xffu", 5);

	fill_rep(x, true);
	assert_int_equal(
		wire_meta_rep_encode(WIRE_META_READDIR, x, buf, BUFSZ, &len), 0);
	assert_int_equal(wire_meta_rep_decode(WIRE_META_READDIR, buf, len, y),
			 0);
	assert_int_equal(y->nents, 5);
	assert_string_equal(y->ents[4].name, "e");
	assert_int_equal(y->ents[4].attr.ino, x->ents[4].attr.ino);
	assert_int_equal(y->ents[0].attr.atime.tv_nsec, 999999999);
	assert_int_equal(y->ents[0].attr.mtime.tv_sec, -5);
	assert_true(y->eof);

	assert_int_equal(
		wire_meta_rep_encode(WIRE_META_CREATE, x, buf, BUFSZ, &len), 0);
	assert_int_equal(wire_meta_rep_decode(WIRE_META_CREATE, buf, len, y),
			 0);
	assert_int_equal(y->layout.chunk_size, 1 << 20);
	assert_int_equal(y->layout.table_version, 2);
	assert_int_equal(y->trunc_ver, 8);

	assert_int_equal(wire_meta_rep_encode(WIRE_META_FSCK, x, buf, BUFSZ,
					      &len),
			 0);
	assert_int_equal(wire_meta_rep_decode(WIRE_META_FSCK, buf, len, y), 0);
	assert_string_equal(y->report, x->report);
	assert_int_equal(y->violations, 2);
	free(a);
	free(b);
	free(x);
	free(y);
	free(buf);
}

/* Build a LOOKUP request body by hand with a name of @n bytes. */
static size_t lookup_body(uint8_t *buf, size_t cap, size_t n, char fillc)
{
	struct wire_w w;
	char name[300];

	memset(name, fillc, sizeof(name));
	wire_w_init(&w, buf, cap);
	wire_put_u32(&w, 1);
	wire_put_u32(&w, 2);
	wire_put_u64(&w, 3);
	wire_put_u64(&w, 4);
	wire_put_u64(&w, 1);
	wire_put_u16(&w, (uint16_t)n);
	wire_put_bytes(&w, name, n);
	assert_int_equal(w.err, 0);
	return w.len;
}

static void test_wire_meta__limits(void **state TEST_UNUSED)
{
	struct wire_meta_req *a = calloc(1, sizeof(*a));
	struct wire_meta_req *b = calloc(1, sizeof(*b));
	struct wire_meta_rep *x = calloc(1, sizeof(*x));
	uint8_t *buf = malloc(BUFSZ);
	size_t len;

	/* names: 255 ok, 256 too long, empty invalid, NUL inside bad */
	len = lookup_body(buf, BUFSZ, 255, 'n');
	assert_int_equal(wire_meta_req_decode(WIRE_META_LOOKUP, buf, len, b),
			 0);
	assert_int_equal(strlen(b->name), 255);
	len = lookup_body(buf, BUFSZ, 256, 'n');
	assert_int_equal(wire_meta_req_decode(WIRE_META_LOOKUP, buf, len, b),
			 -ENAMETOOLONG);
	len = lookup_body(buf, BUFSZ, 0, 'n');
	assert_int_equal(wire_meta_req_decode(WIRE_META_LOOKUP, buf, len, b),
			 -EINVAL);
	len = lookup_body(buf, BUFSZ, 3, '\0');
	assert_int_equal(wire_meta_req_decode(WIRE_META_LOOKUP, buf, len, b),
			 -EBADMSG);

	/* encoder side of the same rules */
	fill_req(a);
	a->name[0] = '\0';
	assert_int_equal(
		wire_meta_req_encode(WIRE_META_MKDIR, a, buf, BUFSZ, &len),
		-EINVAL);
	memset(a->name, 'x', sizeof(a->name));
	assert_int_equal(
		wire_meta_req_encode(WIRE_META_MKDIR, a, buf, BUFSZ, &len),
		-ENAMETOOLONG);
	fill_req(a);
	a->value_len = WIRE_META_VALUE_MAX + 1;
	assert_int_equal(
		wire_meta_req_encode(WIRE_META_SETXATTR, a, buf, BUFSZ, &len),
		-E2BIG);
	a->value_len = WIRE_META_VALUE_MAX;
	assert_int_equal(
		wire_meta_req_encode(WIRE_META_SETXATTR, a, buf, BUFSZ, &len), 0);
	assert_true(len <= WIRE_META_BODY_MAX);
	assert_int_equal(wire_meta_req_decode(WIRE_META_SETXATTR, buf, len, b),
			 0);
	assert_int_equal(b->value_len, WIRE_META_VALUE_MAX);
	fill_req(a);
	a->max = 0;
	assert_int_equal(
		wire_meta_req_encode(WIRE_META_READDIR, a, buf, BUFSZ, &len),
		-E2BIG);
	a->max = WIRE_META_READDIR_MAX + 1;
	assert_int_equal(
		wire_meta_req_encode(WIRE_META_READDIR, a, buf, BUFSZ, &len),
		-E2BIG);
	fill_req(a);
	a->lock.type = 7;
	assert_int_equal(
		wire_meta_req_encode(WIRE_META_LOCK, a, buf, BUFSZ, &len),
		-EINVAL);
	fill_req(a);
	a->lock.start = 5;
	a->lock.end = 4;
	assert_int_equal(
		wire_meta_req_encode(WIRE_META_GETLK, a, buf, BUFSZ, &len),
		-EINVAL);
	fill_req(a);
	a->sa.atime.tv_nsec = 1000000000;
	assert_int_equal(
		wire_meta_req_encode(WIRE_META_SETATTR, a, buf, BUFSZ, &len),
		-EINVAL);

	/* bad boolean in READDIR request: flip the last byte to 2 */
	fill_req(a);
	assert_int_equal(
		wire_meta_req_encode(WIRE_META_READDIR, a, buf, BUFSZ, &len), 0);
	buf[len - 1] = 2;
	assert_int_equal(wire_meta_req_decode(WIRE_META_READDIR, buf, len, b),
			 -EINVAL);

	/* reply: full readdir page with attrs fits the body limit */
	fill_rep(x, true);
	x->nents = WIRE_META_READDIR_MAX;
	for (len = 0; len < WIRE_META_READDIR_MAX; len++)
		memset(x->ents[len].name, 'z', WIRE_META_NAME_MAX);
	assert_int_equal(
		wire_meta_rep_encode(WIRE_META_READDIR, x, buf, BUFSZ, &len), 0);
	assert_true(len <= WIRE_META_BODY_MAX);
	x->nents = WIRE_META_READDIR_MAX + 1;
	assert_int_equal(
		wire_meta_rep_encode(WIRE_META_READDIR, x, buf, BUFSZ, &len),
		-E2BIG);

	/* not a metadata op */
	assert_int_equal(wire_meta_req_encode(WIRE_MGMTD_REGISTER, a, buf,
					      BUFSZ, &len),
			 -EOPNOTSUPP);
	assert_int_equal(wire_meta_rep_decode(WIRE_STORAGE_WRITE, buf, 0, x),
			 -EOPNOTSUPP);
	assert_string_equal(wire_op_name(WIRE_META_GETLK), "META_GETLK");
	assert_string_equal(wire_op_name(WIRE_META_RENEW), "META_RENEW");
	assert_true(wire_meta_op_mutates(WIRE_META_CREATE));
	assert_false(wire_meta_op_mutates(WIRE_META_GETATTR));
	free(a);
	free(b);
	free(x);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_meta__round_trip_every_op),
		cmocka_unit_test(test_wire_meta__fields_survive),
		cmocka_unit_test(test_wire_meta__limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * test_wire_storage.c - codecs of the storaged bodies (proto/wire_storage.h).
 *
 * A table lists every message with a filler giving it a valid value; the
 * table-driven tests encode, decode and compare, check the encoded length
 * against the documented size, and feed the decoder every truncation and a
 * trailing byte. Decoders get exactly sized heap copies so ASan catches
 * reads past the end. Over-limit and out-of-range values are checked per
 * message, at both the encoder and the decoder.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/wire_le.h"
#include "proto/wire_storage.h"

#define TEST_UNUSED __attribute__((unused))

typedef int (*enc_fn)(const void *m, uint8_t *buf, size_t cap, size_t *len);
typedef int (*dec_fn)(const uint8_t *buf, size_t len, void *out);

struct msg_case {
	const char *name;
	size_t size;			/* sizeof the struct */
	size_t len;			/* encoded length of the filled value */
	void (*fill)(void *m);		/* a valid value */
	enc_fn enc;
	dec_fn dec;
};

static void fill_write(void *p)
{
	struct wire_storage_write_req *m = p;

	m->w.chunk.inode = 0x0102030405060708ull;
	m->w.chunk.index = 77;
	m->w.chain_id = 3;
	m->w.chain_version = 9;
	m->w.offset = 4096;
	m->w.length = 8192;
	m->w.crc32c = 0xdeadbeef;
	m->w.flags = 0;
	m->w.update_version = 12;
	m->client_id = 0x1111222233334444ull;
	m->request_id = 0x5555666677778888ull;
}

static void fill_truncate(void *p)
{
	struct wire_storage_truncate_req *m = p;

	m->chunk.inode = 42;
	m->chunk.index = 1;
	m->chain_id = 2;
	m->chain_version = 5;
	m->length = WIRE_CHUNK_SIZE_MAX;
	m->update_version = 8;
	m->client_id = 99;
	m->request_id = 100;
}

static void fill_remove(void *p)
{
	struct wire_storage_remove_req *m = p;

	m->inode = 0xfeedfacecafebeefull;
	m->chain_id = 7;
	m->chain_version = 11;
}

static void fill_remove_resp(void *p)
{
	struct wire_storage_remove_resp *m = p;

	m->removed = 123456;
}

static void fill_sync(void *p)
{
	struct wire_storage_sync_req *m = p;

	m->inode = 5;
	m->chain_id = 6;
	m->chain_version = 7;
}

static void fill_last(void *p)
{
	struct wire_storage_last_req *m = p;

	m->inode = 1ull << 40;
	m->chain_id = 1;
	m->chain_version = 2;
}

static void fill_last_resp(void *p)
{
	struct wire_storage_last_resp *m = p;

	m->found = true;
	m->index = 31;
	m->length = 100000;
	m->committed_ver = 3;
}

static void fill_dump(void *p)
{
	struct wire_storage_dump_req *m = p;

	m->chain_id = 4;
	m->start.inode = 10;
	m->start.index = 20;
	m->max_records = WIRE_DUMP_META_MAX;
}

static void fill_dump_resp(void *p)
{
	struct wire_storage_dump_resp *m = p;
	uint32_t i;

	m->more = true;
	m->next.inode = 9;
	m->next.index = 1;
	m->nrecords = WIRE_DUMP_META_MAX;
	for (i = 0; i < m->nrecords; i++) {
		m->records[i].chunk.inode = 1 + i / 7;
		m->records[i].chunk.index = i % 7;
		m->records[i].length = i * 13;
		m->records[i].chain_version = i + 1;
		m->records[i].committed_ver = (uint64_t)i << 33;
		m->records[i].pending_ver = i & 1 ? i : 0;
	}
}

static void fill_space(void *p)
{
	struct wire_storage_space_req *m = p;

	m->target_id = 17;
}

static void fill_space_resp(void *p)
{
	struct wire_storage_space_resp *m = p;

	m->ntargets = 3;
	m->capacity = 1ull << 42;
	m->available = 1ull << 41;
	m->used = 12345678901ull;
}

static void fill_commit(void *p)
{
	struct wire_storage_commit_req *m = p;

	m->chunk.inode = 8;
	m->chunk.index = 9;
	m->chain_id = 10;
	m->chain_version = 11;
	m->update_version = 12;
}

static void fill_cut(void *p)
{
	struct wire_storage_cut_req *m = p;

	m->inode = 0x0a0b0c0d0e0f1011ull;
	m->chain_id = 4;
	m->chain_version = 5;
	m->index = 6;
	m->length = 4097;
	m->flags = WIRE_CUT_F_FORWARDED;
	m->client_id = 7;
	m->request_id = 8;
}

static void fill_resync(void *p)
{
	struct wire_storage_resync_req *m = p;

	m->chain_id = 1;
	m->chain_version = 2;
	m->action = WIRE_RESYNC_CHUNK;
	m->chunk.inode = 3;
	m->chunk.index = 4;
	m->length = 1 << 20;
	m->crc32c = 0xcafef00d;
	m->committed_ver = 5;
	m->chunk_chain_ver = 6;
	m->done = 7;
	m->total = 8;
}

#define CASE(NAME, TYPE, LEN, FILL)                                            \
	{                                                                      \
		#NAME, sizeof(struct TYPE), LEN, FILL,                         \
		    (enc_fn)wire_storage_##NAME##_encode,                      \
		    (dec_fn)wire_storage_##NAME##_decode                       \
	}

static const struct msg_case cases[] = {
	CASE(write_req, wire_storage_write_req, WIRE_STORAGE_WRITE_REQ_LEN,
	     fill_write),
	CASE(truncate_req, wire_storage_truncate_req,
	     WIRE_STORAGE_TRUNCATE_REQ_LEN, fill_truncate),
	CASE(remove_req, wire_storage_remove_req, WIRE_STORAGE_REMOVE_REQ_LEN,
	     fill_remove),
	CASE(remove_resp, wire_storage_remove_resp,
	     WIRE_STORAGE_REMOVE_RESP_LEN, fill_remove_resp),
	CASE(sync_req, wire_storage_sync_req, WIRE_STORAGE_SYNC_REQ_LEN,
	     fill_sync),
	CASE(last_req, wire_storage_last_req, WIRE_STORAGE_LAST_REQ_LEN,
	     fill_last),
	CASE(last_resp, wire_storage_last_resp, WIRE_STORAGE_LAST_RESP_LEN,
	     fill_last_resp),
	CASE(dump_req, wire_storage_dump_req, WIRE_STORAGE_DUMP_REQ_LEN,
	     fill_dump),
	CASE(dump_resp, wire_storage_dump_resp,
	     WIRE_STORAGE_DUMP_RESP_MAX_LEN, fill_dump_resp),
	CASE(space_req, wire_storage_space_req, WIRE_STORAGE_SPACE_REQ_LEN,
	     fill_space),
	CASE(space_resp, wire_storage_space_resp, WIRE_STORAGE_SPACE_RESP_LEN,
	     fill_space_resp),
	CASE(commit_req, wire_storage_commit_req, WIRE_STORAGE_COMMIT_REQ_LEN,
	     fill_commit),
	CASE(cut_req, wire_storage_cut_req, WIRE_STORAGE_CUT_REQ_LEN,
	     fill_cut),
	CASE(resync_req, wire_storage_resync_req, WIRE_STORAGE_RESYNC_REQ_LEN,
	     fill_resync),
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Encode the filled value of @c into a fresh heap buffer of its size. */
static uint8_t *encode_case(const struct msg_case *c, void **msg)
{
	uint8_t *buf = malloc(c->len + 16);
	size_t len = 0;

	*msg = calloc(1, c->size);
	assert_non_null(buf);
	assert_non_null(*msg);
	c->fill(*msg);
	assert_int_equal(c->enc(*msg, buf, c->len + 16, &len), 0);
	assert_int_equal(len, c->len);
	return buf;
}

static void test_roundtrip(void **state TEST_UNUSED)
{
	size_t i;

	for (i = 0; i < NCASES; i++) {
		const struct msg_case *c = &cases[i];
		void *m, *out = calloc(1, c->size);
		uint8_t *buf = encode_case(c, &m);
		uint8_t *exact = malloc(c->len), *again = malloc(c->len);
		size_t len = 0;

		assert_non_null(out);
		memcpy(exact, buf, c->len);
		assert_int_equal(c->dec(exact, c->len, out), 0);
		assert_memory_equal(m, out, c->size);
		/* canonical: re-encodes to the same bytes */
		assert_int_equal(c->enc(out, again, c->len, &len), 0);
		assert_int_equal(len, c->len);
		assert_memory_equal(again, buf, c->len);
		/* one byte short of room: -ENOSPC */
		assert_int_equal(c->enc(m, again, c->len - 1, &len), -ENOSPC);
		free(again);
		free(exact);
		free(buf);
		free(out);
		free(m);
	}
}

static void test_truncated_and_trailing(void **state TEST_UNUSED)
{
	size_t i, n;

	for (i = 0; i < NCASES; i++) {
		const struct msg_case *c = &cases[i];
		void *m, *out = calloc(1, c->size);
		uint8_t *buf = encode_case(c, &m);
		uint8_t *big;
		/* every length short of the body (dump_resp: a sample) */
		size_t step = c->len > 4096 ? 997 : 1;

		for (n = 0; n < c->len; n += step) {
			uint8_t *cut = malloc(n ? n : 1);

			memcpy(cut, buf, n);
			assert_int_equal(c->dec(cut, n, out), -EBADMSG);
			free(cut);
		}
		big = malloc(c->len + 1);
		memcpy(big, buf, c->len);
		big[c->len] = 0;
		assert_int_equal(c->dec(big, c->len + 1, out), -EBADMSG);
		free(big);
		free(buf);
		free(out);
		free(m);
	}
}

/* Golden bytes of one small message pin the documented layout. */
static void test_golden_remove(void **state TEST_UNUSED)
{
	struct wire_storage_remove_req m = {
		.inode = 0x0102030405060708ull,
		.chain_id = 0x0a0b0c0d,
		.chain_version = 0x11223344,
	};
	const uint8_t want[] = {8,    7,    6,	  5,	4,    3,    2,	  1,
				0x0d, 0x0c, 0x0b, 0x0a, 0x44, 0x33, 0x22, 0x11};
	uint8_t buf[32];
	size_t len = 0;

	assert_int_equal(wire_storage_remove_req_encode(&m, buf, sizeof(buf),
							&len),
			 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

/* The WRITE body starts with wire_msg.h's write body, byte for byte. */
static void test_write_embeds_basic(void **state TEST_UNUSED)
{
	struct wire_storage_write_req m = {0}, out = {0};
	uint8_t buf[WIRE_STORAGE_WRITE_REQ_LEN], basic[WIRE_WRITE_REQ_LEN];
	size_t len = 0, blen = 0;

	fill_write(&m);
	assert_int_equal(wire_storage_write_req_encode(&m, buf, sizeof(buf),
						       &len),
			 0);
	assert_int_equal(wire_write_req_encode(&m.w, basic, sizeof(basic),
					       &blen),
			 0);
	assert_memory_equal(buf, basic, blen);
	/* the basic body's rules apply: unknown flag, offset past a chunk */
	m.w.flags = 0x80;
	assert_int_equal(wire_storage_write_req_encode(&m, buf, sizeof(buf),
						       &len),
			 -EINVAL);
	m.w.flags = 0;
	m.w.offset = WIRE_CHUNK_SIZE_MAX;
	assert_int_equal(wire_storage_write_req_encode(&m, buf, sizeof(buf),
						       &len),
			 -E2BIG);
	/* and the decoder checks them too: patch flags in valid bytes */
	fill_write(&m);
	assert_int_equal(wire_storage_write_req_encode(&m, buf, sizeof(buf),
						       &len),
			 0);
	buf[WIRE_CHUNK_ID_LEN + 20] = 0x80; /* flags: after 5 u32 fields */
	assert_int_equal(wire_storage_write_req_decode(buf, len, &out),
			 -EINVAL);
}

static void test_limits(void **state TEST_UNUSED)
{
	struct wire_storage_truncate_req t = {0};
	struct wire_storage_last_resp l = {0};
	struct wire_storage_dump_req d = {0};
	struct wire_storage_space_resp s = {0};
	struct wire_storage_dump_resp *dr = calloc(1, sizeof(*dr));
	uint8_t buf[128];
	size_t len = 0;
	struct wire_w w;

	t.length = WIRE_CHUNK_SIZE_MAX + 1;
	assert_int_equal(wire_storage_truncate_req_encode(&t, buf, sizeof(buf),
							  &len),
			 -E2BIG);
	/* decoder: the same over-limit length built by hand */
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_u64(&w, 1);
	wire_put_u32(&w, 0);
	wire_put_u32(&w, 1);
	wire_put_u32(&w, 1);
	wire_put_u32(&w, WIRE_CHUNK_SIZE_MAX + 1);
	wire_put_u64(&w, 0);
	wire_put_u64(&w, 0);
	wire_put_u64(&w, 0);
	assert_int_equal(w.err, 0);
	assert_int_equal(wire_storage_truncate_req_decode(buf, w.len, &t),
			 -E2BIG);

	/* not found carries no figures; booleans are 0 or 1 */
	l.found = false;
	l.index = 1;
	assert_int_equal(wire_storage_last_resp_encode(&l, buf, sizeof(buf),
						       &len),
			 -EINVAL);
	l.index = 0;
	assert_int_equal(wire_storage_last_resp_encode(&l, buf, sizeof(buf),
						       &len),
			 0);
	buf[0] = 2;
	assert_int_equal(wire_storage_last_resp_decode(buf, len, &l), -EINVAL);

	/* dump page size 1..WIRE_DUMP_META_MAX */
	assert_int_equal(wire_storage_dump_req_encode(&d, buf, sizeof(buf),
						      &len),
			 -EINVAL);
	d.max_records = WIRE_DUMP_META_MAX + 1;
	assert_int_equal(wire_storage_dump_req_encode(&d, buf, sizeof(buf),
						      &len),
			 -E2BIG);
	d.max_records = 1;
	assert_int_equal(wire_storage_dump_req_encode(&d, buf, sizeof(buf),
						      &len),
			 0);
	buf[len - 4] = 0; /* max_records 0 on the wire */
	assert_int_equal(wire_storage_dump_req_decode(buf, len, &d), -EINVAL);

	/* dump reply: count over the limit is refused before the records */
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_u8(&w, 0);
	wire_put_u64(&w, 0);
	wire_put_u32(&w, 0);
	wire_put_u32(&w, WIRE_DUMP_META_MAX + 1);
	assert_int_equal(wire_storage_dump_resp_decode(buf, w.len, dr), -E2BIG);
	dr->nrecords = WIRE_DUMP_META_MAX + 1;
	assert_int_equal(wire_storage_dump_resp_encode(dr, buf, sizeof(buf),
						       &len),
			 -E2BIG);
	/* !more with a cursor is inconsistent */
	dr->nrecords = 0;
	dr->next.index = 1;
	assert_int_equal(wire_storage_dump_resp_encode(dr, buf, sizeof(buf),
						       &len),
			 -EINVAL);
	/* an over-long record length */
	dr->next.index = 0;
	dr->nrecords = 1;
	dr->records[0].length = WIRE_CHUNK_SIZE_MAX + 1;
	assert_int_equal(wire_storage_dump_resp_encode(dr, buf, sizeof(buf),
						       &len),
			 -E2BIG);
	free(dr);

	s.ntargets = WIRE_MAX_TARGETS_PER_NODE + 1;
	assert_int_equal(wire_storage_space_resp_encode(&s, buf, sizeof(buf),
							&len),
			 -E2BIG);
}

/* CUT and RESYNC reject flags, actions and shapes they do not know. */
static void test_cut_resync_rules(void **state TEST_UNUSED)
{
	struct wire_storage_cut_req c = {0}, cout;
	struct wire_storage_resync_req r = {0}, rout;
	uint8_t buf[128];
	size_t len = 0;

	fill_cut(&c);
	c.flags = 0x4;
	assert_int_equal(wire_storage_cut_req_encode(&c, buf, sizeof(buf),
						     &len),
			 -EINVAL);
	/* F_ALL carries no index or length */
	c.flags = WIRE_CUT_F_ALL;
	assert_int_equal(wire_storage_cut_req_encode(&c, buf, sizeof(buf),
						     &len),
			 -EINVAL);
	c.index = 0;
	c.length = 0;
	assert_int_equal(wire_storage_cut_req_encode(&c, buf, sizeof(buf),
						     &len),
			 0);
	buf[8 + 4 * 4] = 0x8; /* flags on the wire */
	assert_int_equal(wire_storage_cut_req_decode(buf, len, &cout), -EINVAL);
	fill_cut(&c);
	c.length = WIRE_CHUNK_SIZE_MAX + 1;
	assert_int_equal(wire_storage_cut_req_encode(&c, buf, sizeof(buf),
						     &len),
			 -E2BIG);

	fill_resync(&r);
	r.action = 0;
	assert_int_equal(wire_storage_resync_req_encode(&r, buf, sizeof(buf),
							&len),
			 -EINVAL);
	r.action = WIRE_RESYNC_DONE; /* no data with DONE */
	assert_int_equal(wire_storage_resync_req_encode(&r, buf, sizeof(buf),
							&len),
			 -EINVAL);
	r.length = 0;
	r.crc32c = 0;
	assert_int_equal(wire_storage_resync_req_encode(&r, buf, sizeof(buf),
							&len),
			 0);
	assert_int_equal(wire_storage_resync_req_decode(buf, len, &rout), 0);
	assert_int_equal(rout.action, WIRE_RESYNC_DONE);
	buf[8] = 9; /* action on the wire */
	assert_int_equal(wire_storage_resync_req_decode(buf, len, &rout),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncated_and_trailing),
		cmocka_unit_test(test_golden_remove),
		cmocka_unit_test(test_write_embeds_basic),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_cut_resync_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

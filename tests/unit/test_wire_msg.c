// SPDX-License-Identifier: MIT
/*
 * test_wire_msg.c - message body codecs (proto/wire_msg.h) and the
 * little-endian reader/writer under them (proto/wire_le.h).
 *
 * A table lists every message with a filler that builds a valid value of it,
 * either "typical" (a few elements, short strings) or "full" (every array at
 * its limit, every string at its maximum length). Table-driven tests encode,
 * decode, compare, and then break the bytes in each way a decoder must
 * catch. Structs are calloc'ed, so a decoded struct equals the original
 * byte for byte (padding, unused slots and string tails stay zero on both).
 * Decoders are always handed an exactly sized heap copy of the bytes, so
 * ASan flags any read past the end.
 *
 * Malformed bodies are built with the wire_le writer, field by field, in
 * the layout wire_msg.h documents; the golden-bytes test pins that layout
 * down independently of the codecs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/wire_le.h"
#include "proto/wire_msg.h"

/* cmocka hands every test a state pointer these tests have no use for. */
#define TEST_UNUSED __attribute__((unused))

/* ------------------------------------------------------------------------ */
/* Values                                                                    */

/* Deterministic values that use every byte of a field. */
static uint64_t test_rand_state;

static void test_rand_seed(uint64_t seed)
{
	test_rand_state = seed | 1;
}

static uint64_t test_rand(void)
{
	uint64_t x = test_rand_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	test_rand_state = x;
	return x;
}

static uint32_t test_rand32(void)
{
	return (uint32_t)(test_rand() >> 16);
}

/* A printable string of exactly n bytes (no NUL inside) into dst. */
static void test_fill_str(char *dst, size_t n, char base)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = (char)(base + (char)(i % 26));
	dst[n] = '\0';
}

/* Strings: "full" uses the maximum length, "typical" something short. */
static void test_set_str(char *dst, size_t max, bool full, const char *typ)
{
	if (full)
		test_fill_str(dst, max, 'a');
	else
		snprintf(dst, max + 1, "%s", typ);
}

/* ------------------------------------------------------------------------ */
/* Fillers: a valid message, typical or at every limit                       */

static void test_fill_register_req(void *p, bool full)
{
	struct wire_register_req *m = p;
	uint32_t i;

	m->node_id = full ? 0xfedcba98u : 0;
	m->role = WIRE_ROLE_STORAGE;
	test_set_str(m->url, WIRE_URL_MAX, full, "tcp://10.0.0.7:7200");
	test_set_str(m->hostname, WIRE_HOSTNAME_MAX, full, "store7");
	m->ntargets = full ? WIRE_MAX_TARGETS_PER_NODE : 3;
	for (i = 0; i < m->ntargets; i++) {
		struct wire_register_target *t = &m->targets[i];
		char typ[64];

		t->id = i == 0 ? 0 : test_rand32();
		snprintf(typ, sizeof(typ), "/srv/valor/target%u", i);
		test_set_str(t->path, WIRE_PATH_MAX, full, typ);
		t->capacity = test_rand();
		t->used = test_rand();
	}
}

static void test_fill_register_resp(void *p, bool full)
{
	struct wire_register_resp *m = p;
	uint32_t i;

	m->node_id = 0x01020304;
	m->ntargets = full ? WIRE_MAX_TARGETS_PER_NODE : 3;
	for (i = 0; i < m->ntargets; i++)
		m->target_ids[i] = test_rand32();
	m->heartbeat_interval_ms = 0x01020304;
	m->heartbeat_timeout_ms = full ? UINT32_MAX : 0x05060708;
}

static void test_fill_heartbeat_req(void *p, bool full)
{
	struct wire_heartbeat_req *m = p;
	uint32_t i;

	m->node_id = 0x99887766;
	m->routing_version = 0x8000000000000001ull;
	m->ntargets = full ? WIRE_MAX_TARGETS_PER_NODE : 4;
	for (i = 0; i < m->ntargets; i++) {
		struct wire_heartbeat_target *t = &m->targets[i];

		t->id = test_rand32();
		t->local_state = i % 3;
		t->used = test_rand();
		t->capacity = test_rand();
		t->sync_done = test_rand();
		t->sync_total = test_rand();
	}
}

static void test_fill_heartbeat_resp(void *p, bool full)
{
	struct wire_heartbeat_resp *m = p;

	m->routing_version = full ? UINT64_MAX : 0x0123456789abcdefull;
}

static void test_fill_routing_req(void *p, bool full)
{
	struct wire_routing_req *m = p;

	m->since_version = full ? UINT64_MAX : 41;
}

static void test_fill_routing_body(struct wire_routing *m, bool full)
{
	uint32_t i, j;

	m->version = 0xdeadbeefcafef00dull;
	m->unchanged = false;
	m->nnodes = full ? WIRE_MAX_NODES : 5;
	for (i = 0; i < m->nnodes; i++) {
		struct wire_routing_node *n = &m->nodes[i];
		char url[64];

		n->id = 0x20000001u + i;
		n->role = WIRE_ROLE_MGMTD + i % 4;
		snprintf(url, sizeof(url), "tcp://node%u:%u", i, 7000 + i);
		test_set_str(n->url, WIRE_URL_MAX, full, url);
		test_set_str(n->hostname, WIRE_HOSTNAME_MAX, full, "host");
		n->alive = i % 2;
	}
	m->ntargets = full ? WIRE_MAX_TARGETS : 20;
	for (i = 0; i < m->ntargets; i++) {
		struct wire_routing_target *t = &m->targets[i];

		t->id = 0x30000000u + i;
		t->node_id = test_rand32();
		t->public_state = i % 5;
		t->local_state = i % 3;
		t->capacity = test_rand();
		t->used = test_rand();
		t->sync_done = test_rand();
		t->sync_total = test_rand();
	}
	m->nchains = full ? WIRE_MAX_CHAINS : 10;
	for (i = 0; i < m->nchains; i++) {
		struct wire_routing_chain *c = &m->chains[i];

		c->id = 0x40000000u + i;
		c->version = test_rand32();
		c->ntargets = full ? WIRE_MAX_REPLICAS : i % 4;
		for (j = 0; j < c->ntargets; j++) {
			c->target_ids[j] = test_rand32();
			c->states[j] = (uint8_t)((i + j) % 5);
		}
	}
	m->table.version = 0x89abcdef;
	m->table.nchains = full ? WIRE_MAX_CHAINS : 7;
	for (i = 0; i < m->table.nchains; i++)
		m->table.chain_ids[i] = 0x40000000u + (i * 7) % 10;
}

static void test_fill_routing(void *p, bool full)
{
	test_fill_routing_body(p, full);
}

static void test_fill_chain_table_create_req(void *p, bool full)
{
	struct wire_chain_table_create_req *m = p;

	m->replicas = full ? WIRE_MAX_REPLICAS : 3;
	m->chains = full ? WIRE_MAX_CHAINS : 0;
}

static void test_fill_chain_table_create_resp(void *p, bool full)
{
	struct wire_chain_table_create_resp *m = p;

	m->table_version = full ? UINT32_MAX : 0x02030405;
	m->nchains = full ? WIRE_MAX_CHAINS : 0x0fff;
}

static void test_fill_status(void *p, bool full)
{
	struct wire_status *m = p;

	m->uptime_ms = 0x1122334455667788ull;
	m->heartbeat_timeout_ms = 0xabcdef01;
	test_fill_routing_body(&m->routing, full);
	for (uint32_t i = 0; i < m->routing.nnodes; i++) {
		m->nodes[i].state = i % 3;
		m->nodes[i].silent_ms = full ? UINT64_MAX : test_rand();
	}
}

static void test_fill_write_req(void *p, bool full)
{
	struct wire_write_req *m = p;

	m->chunk.inode = 0xfffffffffffffffeull;
	m->chunk.index = 0x87654321;
	m->chain_id = 0x77665544;
	m->chain_version = 0x80000003;
	m->offset = full ? 0 : 4096;
	m->length = full ? WIRE_CHUNK_SIZE_MAX : 8192;
	m->crc32c = 0xe3069283;
	m->flags = full ? WIRE_WRITE_F_FULL_CHUNK : 0;
	m->update_version = full ? UINT64_MAX : 0;
}

static void test_fill_write_resp(void *p, bool full)
{
	struct wire_write_resp *m = p;

	m->update_version = 0xa5a5a5a5a5a5a5a5ull;
	m->length = full ? WIRE_CHUNK_SIZE_MAX : 8192;
	m->chunk_length = full ? WIRE_CHUNK_SIZE_MAX : 12288;
}

static void test_fill_read_req(void *p, bool full)
{
	struct wire_read_req *m = p;

	m->chunk.inode = 0x100000001ull;
	m->chunk.index = 0x05040302;
	m->chain_id = 0xffffffff;
	m->chain_version = 0x81828384;
	m->offset = full ? WIRE_CHUNK_SIZE_MAX - 1 : 512;
	m->length = full ? 1 : 65536;
}

static void test_fill_read_resp(void *p, bool full)
{
	struct wire_read_resp *m = p;

	m->update_version = 0x0c0d0e0f10111213ull;
	m->length = full ? WIRE_CHUNK_SIZE_MAX : 0;
	m->crc32c = 0xffffffff;
}

/* ------------------------------------------------------------------------ */
/* The message table                                                         */

typedef int test_enc_fn(const void *m, uint8_t *buf, size_t cap, size_t *len);
typedef int test_dec_fn(const uint8_t *buf, size_t len, void *out);

struct test_kind {
	const char *name;
	size_t size;	/* sizeof the struct */
	size_t max_len; /* its *_MAX_LEN / *_LEN */
	test_enc_fn *enc;
	test_dec_fn *dec;
	void (*fill)(void *m, bool full);
};

/* Typed codecs behind untyped pointers, one pair per message. */
#define TEST_ADAPT(name)                                                       \
	static int test_enc_##name(const void *m, uint8_t *buf, size_t cap,    \
				   size_t *len)                                \
	{                                                                      \
		return wire_##name##_encode(m, buf, cap, len);                 \
	}                                                                      \
	static int test_dec_##name(const uint8_t *buf, size_t len, void *out)  \
	{                                                                      \
		return wire_##name##_decode(buf, len, out);                    \
	}

TEST_ADAPT(register_req)
TEST_ADAPT(register_resp)
TEST_ADAPT(heartbeat_req)
TEST_ADAPT(heartbeat_resp)
TEST_ADAPT(routing_req)
TEST_ADAPT(routing)
TEST_ADAPT(chain_table_create_req)
TEST_ADAPT(chain_table_create_resp)
TEST_ADAPT(status)
TEST_ADAPT(write_req)
TEST_ADAPT(write_resp)
TEST_ADAPT(read_req)
TEST_ADAPT(read_resp)

#define TEST_KIND(name, maxlen)                                                \
	{                                                                      \
#name, sizeof(struct wire_##name), maxlen, test_enc_##name,    \
			test_dec_##name, test_fill_##name                      \
	}

static const struct test_kind test_kinds[] = {
	TEST_KIND(register_req, WIRE_REGISTER_REQ_MAX_LEN),
	TEST_KIND(register_resp, WIRE_REGISTER_RESP_MAX_LEN),
	TEST_KIND(heartbeat_req, WIRE_HEARTBEAT_REQ_MAX_LEN),
	TEST_KIND(heartbeat_resp, WIRE_HEARTBEAT_RESP_LEN),
	TEST_KIND(routing_req, WIRE_ROUTING_REQ_LEN),
	TEST_KIND(routing, WIRE_ROUTING_MAX_LEN),
	TEST_KIND(chain_table_create_req, WIRE_CHAIN_TABLE_CREATE_REQ_LEN),
	TEST_KIND(chain_table_create_resp, WIRE_CHAIN_TABLE_CREATE_RESP_LEN),
	TEST_KIND(status, WIRE_STATUS_MAX_LEN),
	TEST_KIND(write_req, WIRE_WRITE_REQ_LEN),
	TEST_KIND(write_resp, WIRE_WRITE_RESP_LEN),
	TEST_KIND(read_req, WIRE_READ_REQ_LEN),
	TEST_KIND(read_resp, WIRE_READ_RESP_LEN),
};

#define TEST_NKINDS (sizeof(test_kinds) / sizeof(test_kinds[0]))

/* A zeroed struct of kind k (heap: some are hundreds of KiB). */
static void *test_new(const struct test_kind *k)
{
	void *m = calloc(1, k->size);

	assert_non_null(m);
	return m;
}

/* A zeroed struct of kind k filled with a valid value. */
static void *test_make(const struct test_kind *k, bool full)
{
	void *m = test_new(k);

	test_rand_seed(0x9e3779b97f4a7c15ull + k->size);
	k->fill(m, full);
	return m;
}

/* Encode m; the buffer is malloc'ed to exactly the encoded length. */
static uint8_t *test_encode(const struct test_kind *k, const void *m,
			    size_t *len)
{
	uint8_t *tmp = malloc(WIRE_MSG_BODY_MAX), *buf;
	int ret;

	assert_non_null(tmp);
	ret = k->enc(m, tmp, WIRE_MSG_BODY_MAX, len);
	if (ret)
		print_message("%s: encode %d\n", k->name, ret);
	assert_int_equal(ret, 0);
	assert_true(*len <= k->max_len);
	buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	memcpy(buf, tmp, *len);
	free(tmp);
	return buf;
}

/* Decode buf[0..len) from an exactly sized heap copy. */
static int test_decode(const struct test_kind *k, const uint8_t *buf,
		       size_t len, void *out)
{
	uint8_t *copy = malloc(len ? len : 1);
	int ret;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	ret = k->dec(copy, len, out);
	free(copy);
	return ret;
}

static const struct test_kind *test_kind_named(const char *name)
{
	size_t i;

	for (i = 0; i < TEST_NKINDS; i++)
		if (!strcmp(test_kinds[i].name, name))
			return &test_kinds[i];
	fail_msg("no kind %s", name);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                               */

static void test_wire_msg_round_trip(bool full)
{
	size_t i;

	for (i = 0; i < TEST_NKINDS; i++) {
		const struct test_kind *k = &test_kinds[i];
		void *m = test_make(k, full), *out = test_new(k);
		size_t len, len2;
		uint8_t *buf, *buf2;

		buf = test_encode(k, m, &len);
		assert_int_equal(test_decode(k, buf, len, out), 0);
		if (memcmp(m, out, k->size))
			fail_msg("%s: decoded struct differs", k->name);
		/* Canonical: the decoded value encodes to the same bytes. */
		buf2 = test_encode(k, out, &len2);
		assert_int_equal(len2, len);
		assert_memory_equal(buf2, buf, len);
		if (full && k->max_len > len)
			fail_msg("%s: full message %zu bytes, max %zu", k->name,
				 len, k->max_len);
		free(buf2);
		free(buf);
		free(out);
		free(m);
	}
}

static void test_wire_msg__round_trip_every_message(void **state TEST_UNUSED)
{
	test_wire_msg_round_trip(false);
}

/* At every limit, with maximal strings, each body is exactly its max. */
static void test_wire_msg__round_trip_full_at_limits(void **state TEST_UNUSED)
{
	test_wire_msg_round_trip(true);
}

static void
test_wire_msg__body_max_covers_every_message(void **state TEST_UNUSED)
{
	size_t i;

	for (i = 0; i < TEST_NKINDS; i++)
		assert_true(test_kinds[i].max_len <= WIRE_MSG_BODY_MAX);
	assert_int_equal(WIRE_MSG_BODY_MAX, 455465);
}

/* Decoding into a struct full of garbage gives the same value. */
static void
test_wire_msg__decode_overwrites_stale_fields(void **state TEST_UNUSED)
{
	const struct test_kind *k = test_kind_named("routing");
	struct wire_routing *m = test_make(k, false), *out = test_new(k);
	size_t len, i;
	uint8_t *buf = test_encode(k, m, &len);

	memset(out, 0x5a, sizeof(*out));
	assert_int_equal(test_decode(k, buf, len, out), 0);
	assert_int_equal(out->version, m->version);
	assert_int_equal(out->nnodes, m->nnodes);
	for (i = 0; i < m->nnodes; i++) {
		assert_string_equal(out->nodes[i].url, m->nodes[i].url);
		assert_string_equal(out->nodes[i].hostname,
				    m->nodes[i].hostname);
		assert_int_equal(out->nodes[i].alive, m->nodes[i].alive);
	}
	assert_int_equal(out->ntargets, m->ntargets);
	assert_memory_equal(out->targets, m->targets,
			    m->ntargets * sizeof(m->targets[0]));
	assert_int_equal(out->nchains, m->nchains);
	for (i = 0; i < m->nchains; i++) {
		const struct wire_routing_chain *a = &m->chains[i];
		const struct wire_routing_chain *b = &out->chains[i];

		assert_int_equal(b->ntargets, a->ntargets);
		assert_memory_equal(b->target_ids, a->target_ids,
				    a->ntargets * sizeof(a->target_ids[0]));
		assert_memory_equal(b->states, a->states, a->ntargets);
	}
	assert_int_equal(out->table.nchains, m->table.nchains);
	assert_memory_equal(out->table.chain_ids, m->table.chain_ids,
			    m->table.nchains * sizeof(m->table.chain_ids[0]));
	free(buf);
	free(out);
	free(m);
}

/* ------------------------------------------------------------------------ */
/* Truncation, trailing bytes, short buffers                                 */

/* Every strictly shorter prefix of a typical message is -EBADMSG. */
static void test_wire_msg__truncated_at_every_length(void **state TEST_UNUSED)
{
	size_t i, n;

	for (i = 0; i < TEST_NKINDS; i++) {
		const struct test_kind *k = &test_kinds[i];
		void *m = test_make(k, false), *out = test_new(k);
		size_t len;
		uint8_t *buf = test_encode(k, m, &len);

		for (n = 0; n < len; n++) {
			int ret = test_decode(k, buf, n, out);

			if (ret != -EBADMSG)
				fail_msg("%s: %zu of %zu bytes gave %d",
					 k->name, n, len, ret);
		}
		free(buf);
		free(out);
		free(m);
	}
}

/* Full-size messages: a sample of prefixes, the last 64 all included. */
static void test_wire_msg__truncated_full_messages(void **state TEST_UNUSED)
{
	size_t i, n;

	for (i = 0; i < TEST_NKINDS; i++) {
		const struct test_kind *k = &test_kinds[i];
		void *m = test_make(k, true), *out = test_new(k);
		size_t len;
		uint8_t *buf = test_encode(k, m, &len);

		for (n = 0; n < len; n += n + 64 >= len ? 1 : 4099) {
			int ret = test_decode(k, buf, n, out);

			if (ret != -EBADMSG)
				fail_msg("%s: %zu of %zu bytes gave %d",
					 k->name, n, len, ret);
		}
		free(buf);
		free(out);
		free(m);
	}
}

static void test_wire_msg__trailing_bytes_rejected(void **state TEST_UNUSED)
{
	size_t i, extra;

	for (i = 0; i < TEST_NKINDS; i++) {
		const struct test_kind *k = &test_kinds[i];
		void *m = test_make(k, false), *out = test_new(k);
		size_t len;
		uint8_t *buf = test_encode(k, m, &len), *big;

		big = calloc(1, len + 8);
		assert_non_null(big);
		memcpy(big, buf, len);
		for (extra = 1; extra <= 8; extra++)
			assert_int_equal(test_decode(k, big, len + extra, out),
					 -EBADMSG);
		free(big);
		free(buf);
		free(out);
		free(m);
	}
}

/* Every capacity below the encoded length is -ENOSPC, *len untouched. */
static void test_wire_msg__encode_too_small_is_enospc(void **state TEST_UNUSED)
{
	size_t i, cap;

	for (i = 0; i < TEST_NKINDS; i++) {
		const struct test_kind *k = &test_kinds[i];
		void *m = test_make(k, false);
		size_t len, len2;
		uint8_t *buf = test_encode(k, m, &len), *small;

		for (cap = 0; cap < len; cap++) {
			small = malloc(cap ? cap : 1);
			assert_non_null(small);
			len2 = 12345;
			assert_int_equal(k->enc(m, small, cap, &len2), -ENOSPC);
			assert_int_equal(len2, 12345);
			free(small);
		}
		small = malloc(len);
		assert_non_null(small);
		assert_int_equal(k->enc(m, small, len, &len2), 0);
		assert_int_equal(len2, len);
		assert_memory_equal(small, buf, len);
		free(small);
		free(buf);
		free(m);
	}
}

/* ------------------------------------------------------------------------ */
/* Hand-built bodies                                                         */

struct test_body {
	uint8_t b[4096];
	struct wire_w w;
};

static void test_body_init(struct test_body *t)
{
	wire_w_init(&t->w, t->b, sizeof(t->b));
}

static size_t test_body_len(const struct test_body *t)
{
	assert_int_equal(t->w.err, 0);
	return t->w.len;
}

/* Counts one over their limits, on the wire. */
static void test_wire_msg__decode_counts_over_limits(void **state TEST_UNUSED)
{
	struct test_body t;
	struct wire_register_resp rr;
	struct wire_heartbeat_req hb;
	struct wire_chain_table_create_resp ctr;
	struct wire_routing *ro = calloc(1, sizeof(*ro));

	assert_non_null(ro);

	test_body_init(&t); /* register resp: node, ntargets */
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, WIRE_MAX_TARGETS_PER_NODE + 1);
	assert_int_equal(wire_register_resp_decode(t.b, test_body_len(&t), &rr),
			 -E2BIG);

	test_body_init(&t); /* heartbeat: node, version, huge ntargets */
	wire_put_u32(&t.w, 1);
	wire_put_u64(&t.w, 1);
	wire_put_u32(&t.w, UINT32_MAX);
	assert_int_equal(wire_heartbeat_req_decode(t.b, test_body_len(&t), &hb),
			 -E2BIG);

	test_body_init(&t);
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, WIRE_MAX_CHAINS + 1);
	assert_int_equal(wire_chain_table_create_resp_decode(
				 t.b, test_body_len(&t), &ctr),
			 -E2BIG);

	test_body_init(&t); /* routing: too many nodes */
	wire_put_u64(&t.w, 1);
	wire_put_u8(&t.w, 0);
	wire_put_u32(&t.w, WIRE_MAX_NODES + 1);
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro),
			 -E2BIG);

	test_body_init(&t); /* routing: too many targets */
	wire_put_u64(&t.w, 1);
	wire_put_u8(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, WIRE_MAX_TARGETS + 1);
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro),
			 -E2BIG);

	test_body_init(&t); /* routing: too many chains */
	wire_put_u64(&t.w, 1);
	wire_put_u8(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, WIRE_MAX_CHAINS + 1);
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro),
			 -E2BIG);

	test_body_init(&t); /* routing: a chain with too many replicas */
	wire_put_u64(&t.w, 1);
	wire_put_u8(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, 5);			   /* chain id */
	wire_put_u32(&t.w, 1);			   /* version */
	wire_put_u32(&t.w, WIRE_MAX_REPLICAS + 1); /* ntargets */
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro),
			 -E2BIG);

	test_body_init(&t); /* routing: table too long */
	wire_put_u64(&t.w, 1);
	wire_put_u8(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 1); /* table version */
	wire_put_u32(&t.w, WIRE_MAX_CHAINS + 1);
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro),
			 -E2BIG);
	free(ro);
}

/* The same limits on the encode side. */
static void test_wire_msg__encode_counts_over_limits(void **state TEST_UNUSED)
{
	static const char *const names[] = {"register_req", "register_resp",
					    "heartbeat_req", "routing",
					    "status"};
	uint8_t *buf = malloc(WIRE_MSG_BODY_MAX);
	size_t i, len;

	assert_non_null(buf);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct test_kind *k = test_kind_named(names[i]);
		void *m = test_make(k, false);
		struct wire_routing *ro = NULL;

		if (!strcmp(names[i], "register_req"))
			((struct wire_register_req *)m)->ntargets =
				WIRE_MAX_TARGETS_PER_NODE + 1;
		else if (!strcmp(names[i], "register_resp"))
			((struct wire_register_resp *)m)->ntargets =
				WIRE_MAX_TARGETS_PER_NODE + 1;
		else if (!strcmp(names[i], "heartbeat_req"))
			((struct wire_heartbeat_req *)m)->ntargets = UINT32_MAX;
		else if (!strcmp(names[i], "routing"))
			ro = m;
		else
			ro = &((struct wire_status *)m)->routing;
		if (ro) {
			ro->chains[2].ntargets = WIRE_MAX_REPLICAS + 1;
			assert_int_equal(
				k->enc(m, buf, WIRE_MSG_BODY_MAX, &len),
				-E2BIG);
			ro->chains[2].ntargets = 1;
			ro->nnodes = WIRE_MAX_NODES + 1;
			assert_int_equal(
				k->enc(m, buf, WIRE_MSG_BODY_MAX, &len),
				-E2BIG);
			ro->nnodes = 0;
			ro->ntargets = WIRE_MAX_TARGETS + 1;
			assert_int_equal(
				k->enc(m, buf, WIRE_MSG_BODY_MAX, &len),
				-E2BIG);
			ro->ntargets = 0;
			ro->nchains = WIRE_MAX_CHAINS + 1;
			assert_int_equal(
				k->enc(m, buf, WIRE_MSG_BODY_MAX, &len),
				-E2BIG);
			ro->nchains = 0;
			ro->table.nchains = WIRE_MAX_CHAINS + 1;
		}
		assert_int_equal(k->enc(m, buf, WIRE_MSG_BODY_MAX, &len),
				 -E2BIG);
		free(m);
	}
	free(buf);
}

/* Role, states and booleans out of range, on the wire and in structs. */
static void test_wire_msg__bad_enums_rejected(void **state TEST_UNUSED)
{
	static const uint8_t bad_roles[] = {0, 5, 0xff};
	struct wire_register_req *rq = calloc(1, sizeof(*rq));
	struct wire_routing *ro = calloc(1, sizeof(*ro));
	struct wire_heartbeat_req hb = {0};
	uint8_t out[WIRE_HEARTBEAT_REQ_MAX_LEN];
	struct test_body t;
	size_t i, len;

	assert_non_null(rq);
	assert_non_null(ro);
	memset(out, 0, sizeof(out));
	for (i = 0; i < sizeof(bad_roles); i++) {
		test_body_init(&t); /* register req: node id, role, ... */
		wire_put_u32(&t.w, 0);
		wire_put_u8(&t.w, bad_roles[i]);
		wire_put_str(&t.w, "", 0);
		wire_put_str(&t.w, "", 0);
		wire_put_u32(&t.w, 0);
		assert_int_equal(
			wire_register_req_decode(t.b, test_body_len(&t), rq),
			-EINVAL);
		rq->role = bad_roles[i];
		assert_int_equal(
			wire_register_req_encode(rq, out, sizeof(out), &len),
			-EINVAL);
	}
	/* A role that only fits in the struct's u32 is not truncated. */
	rq->role = 0x100 | WIRE_ROLE_META;
	assert_int_equal(wire_register_req_encode(rq, out, sizeof(out), &len),
			 -EINVAL);

	test_body_init(&t); /* heartbeat target with local state 3 */
	wire_put_u32(&t.w, 1);
	wire_put_u64(&t.w, 1);
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, 10);
	wire_put_u8(&t.w, WIRE_LOCAL_OFFLINE + 1);
	wire_put_bytes(&t.w, out, 32);
	assert_int_equal(wire_heartbeat_req_decode(t.b, test_body_len(&t), &hb),
			 -EINVAL);
	hb.ntargets = 1;
	hb.targets[0].local_state = WIRE_LOCAL_OFFLINE + 1;
	assert_int_equal(wire_heartbeat_req_encode(&hb, out, sizeof(out), &len),
			 -EINVAL);

	/* Routing: public state 5, then alive 2, then unchanged 2. */
	test_body_init(&t);
	wire_put_u64(&t.w, 1);
	wire_put_u8(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, 1);
	wire_put_u8(&t.w, WIRE_PUBLIC_OFFLINE + 1);
	wire_put_u8(&t.w, WIRE_LOCAL_ONLINE);
	wire_put_bytes(&t.w, out, 32);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro),
			 -EINVAL);
	t.b[8 + 1 + 4 + 4 + 4 + 4] = WIRE_PUBLIC_OFFLINE; /* now valid */
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro), 0);

	test_body_init(&t);
	wire_put_u64(&t.w, 1);
	wire_put_u8(&t.w, 0);
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, 1);
	wire_put_u8(&t.w, WIRE_ROLE_META);
	wire_put_str(&t.w, "tcp://a:1", WIRE_URL_MAX);
	wire_put_str(&t.w, "a", WIRE_HOSTNAME_MAX);
	wire_put_u8(&t.w, 2); /* alive */
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro),
			 -EINVAL);

	/* A chain member's public state 5, on the wire and in the struct. */
	test_body_init(&t);
	wire_put_u64(&t.w, 1);
	wire_put_u8(&t.w, 0);
	wire_put_u32(&t.w, 0); /* nodes */
	wire_put_u32(&t.w, 0); /* targets */
	wire_put_u32(&t.w, 1); /* chains */
	wire_put_u32(&t.w, 7); /* chain id */
	wire_put_u32(&t.w, 2); /* version */
	wire_put_u32(&t.w, 2); /* members */
	wire_put_u32(&t.w, 10);
	wire_put_u8(&t.w, WIRE_PUBLIC_SERVING);
	wire_put_u32(&t.w, 11);
	wire_put_u8(&t.w, WIRE_PUBLIC_OFFLINE + 1);
	wire_put_u32(&t.w, 0); /* table version */
	wire_put_u32(&t.w, 0);
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro),
			 -EINVAL);
	t.b[8 + 1 + 4 + 4 + 4 + 4 + 4 + 4 + 5 + 4] = WIRE_PUBLIC_LASTSRV;
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro), 0);
	assert_int_equal(ro->chains[0].states[1], WIRE_PUBLIC_LASTSRV);
	ro->chains[0].states[0] = WIRE_PUBLIC_OFFLINE + 1;
	{
		uint8_t *big = malloc(WIRE_ROUTING_MAX_LEN);

		assert_non_null(big);
		assert_int_equal(wire_routing_encode(
					 ro, big, WIRE_ROUTING_MAX_LEN, &len),
				 -EINVAL);
		free(big);
	}

	test_body_init(&t);
	wire_put_u64(&t.w, 1);
	wire_put_u8(&t.w, 2); /* unchanged */
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro),
			 -EINVAL);
	t.b[8] = 1;
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro), 0);
	assert_true(ro->unchanged);

	free(ro);
	free(rq);
}

/* STATUS node lines: a state out of range, on the wire and in the struct. */
static void test_wire_msg__status_node_state_checked(void **state TEST_UNUSED)
{
	const struct test_kind *k = test_kind_named("status");
	struct wire_status *m = test_make(k, false), *out = test_new(k);
	uint8_t *big = malloc(WIRE_MSG_BODY_MAX), *buf;
	size_t len, at;

	assert_non_null(big);
	assert_true(m->routing.nnodes > 2);
	buf = test_encode(k, m, &len);
	/* The lines close the body: node 1's state byte, then its u64. */
	at = len - (m->routing.nnodes - 1) * WIRE_STATUS_NODE_LEN;
	assert_int_equal(buf[at], m->nodes[1].state);
	buf[at] = WIRE_NODE_FAILED + 1;
	assert_int_equal(test_decode(k, buf, len, out), -EINVAL);
	buf[at] = WIRE_NODE_FAILED;
	assert_int_equal(test_decode(k, buf, len, out), 0);
	assert_int_equal(out->nodes[1].state, WIRE_NODE_FAILED);
	assert_true(out->nodes[1].silent_ms == m->nodes[1].silent_ms);

	m->nodes[1].state = WIRE_NODE_FAILED + 1;
	assert_int_equal(k->enc(m, big, WIRE_MSG_BODY_MAX, &len), -EINVAL);
	free(buf);
	free(big);
	free(out);
	free(m);
}

/* unchanged routing carries no nodes, targets, chains or table. */
static void test_wire_msg__routing_unchanged_is_empty(void **state TEST_UNUSED)
{
	struct wire_routing *ro = calloc(1, sizeof(*ro));
	struct test_body t;
	uint8_t buf[64];
	size_t len;

	assert_non_null(ro);
	ro->version = 9;
	ro->unchanged = true;
	assert_int_equal(wire_routing_encode(ro, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 8 + 1 + 4 * 5);
	ro->table.nchains = 1;
	assert_int_equal(wire_routing_encode(ro, buf, sizeof(buf), &len),
			 -EINVAL);

	test_body_init(&t);
	wire_put_u64(&t.w, 1);
	wire_put_u8(&t.w, 1);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 1); /* table version */
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, 1000);
	assert_int_equal(wire_routing_decode(t.b, test_body_len(&t), ro),
			 -EINVAL);
	free(ro);
}

/* Strings: over the limit, unterminated, NUL inside. */
static void test_wire_msg__strings_checked(void **state TEST_UNUSED)
{
	struct wire_register_req *rq = calloc(1, sizeof(*rq));
	uint8_t *buf = malloc(WIRE_REGISTER_REQ_MAX_LEN);
	char longer[WIRE_PATH_MAX + 2];
	struct test_body t;
	size_t len;

	assert_non_null(rq);
	assert_non_null(buf);

	/* Encode: a url filling its array with no NUL. */
	rq->role = WIRE_ROLE_STORAGE;
	memset(rq->url, 'u', sizeof(rq->url));
	assert_int_equal(wire_register_req_encode(
				 rq, buf, WIRE_REGISTER_REQ_MAX_LEN, &len),
			 -ENAMETOOLONG);
	test_fill_str(rq->url, WIRE_URL_MAX, 'a');
	assert_int_equal(wire_register_req_encode(
				 rq, buf, WIRE_REGISTER_REQ_MAX_LEN, &len),
			 0);

	/* Decode: url one byte over; hostname with a NUL inside. */
	test_body_init(&t);
	wire_put_u32(&t.w, 0);
	wire_put_u8(&t.w, WIRE_ROLE_STORAGE);
	test_fill_str(longer, WIRE_URL_MAX + 1, 'a');
	wire_put_str(&t.w, longer, WIRE_URL_MAX + 1);
	wire_put_str(&t.w, "h", WIRE_HOSTNAME_MAX);
	wire_put_u32(&t.w, 0);
	assert_int_equal(wire_register_req_decode(t.b, test_body_len(&t), rq),
			 -ENAMETOOLONG);

	test_body_init(&t);
	wire_put_u32(&t.w, 0);
	wire_put_u8(&t.w, WIRE_ROLE_STORAGE);
	wire_put_str(&t.w, "tcp://x:1", WIRE_URL_MAX);
	wire_put_u16(&t.w, 3);
	wire_put_bytes(&t.w, "a\0b", 3);
	wire_put_u32(&t.w, 0);
	assert_int_equal(wire_register_req_decode(t.b, test_body_len(&t), rq),
			 -EBADMSG);

	/* Target path exactly at the limit passes, one over does not. */
	test_body_init(&t);
	wire_put_u32(&t.w, 0);
	wire_put_u8(&t.w, WIRE_ROLE_STORAGE);
	wire_put_str(&t.w, "", WIRE_URL_MAX);
	wire_put_str(&t.w, "", WIRE_HOSTNAME_MAX);
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, 0);
	test_fill_str(longer, WIRE_PATH_MAX, 'p');
	wire_put_str(&t.w, longer, WIRE_PATH_MAX);
	wire_put_u64(&t.w, 1);
	wire_put_u64(&t.w, 2);
	assert_int_equal(wire_register_req_decode(t.b, test_body_len(&t), rq),
			 0);
	assert_int_equal(strlen(rq->targets[0].path), WIRE_PATH_MAX);
	assert_int_equal(rq->targets[0].used, 2);

	test_body_init(&t);
	wire_put_u32(&t.w, 0);
	wire_put_u8(&t.w, WIRE_ROLE_STORAGE);
	wire_put_str(&t.w, "", WIRE_URL_MAX);
	wire_put_str(&t.w, "", WIRE_HOSTNAME_MAX);
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, 0);
	test_fill_str(longer, WIRE_PATH_MAX + 1, 'p');
	wire_put_str(&t.w, longer, WIRE_PATH_MAX + 1);
	wire_put_u64(&t.w, 1);
	wire_put_u64(&t.w, 2);
	assert_int_equal(wire_register_req_decode(t.b, test_body_len(&t), rq),
			 -ENAMETOOLONG);

	free(buf);
	free(rq);
}

static void test_wire_msg__chain_table_create_limits(void **state TEST_UNUSED)
{
	struct wire_chain_table_create_req m = {.replicas = 0, .chains = 1};
	struct wire_chain_table_create_req out;
	uint8_t buf[WIRE_CHAIN_TABLE_CREATE_REQ_LEN];
	struct test_body t;
	size_t len;

	assert_int_equal(
		wire_chain_table_create_req_encode(&m, buf, sizeof(buf), &len),
		-EINVAL);
	m.replicas = WIRE_MAX_REPLICAS + 1;
	assert_int_equal(
		wire_chain_table_create_req_encode(&m, buf, sizeof(buf), &len),
		-E2BIG);
	m.replicas = 1;
	m.chains = WIRE_MAX_CHAINS + 1;
	assert_int_equal(
		wire_chain_table_create_req_encode(&m, buf, sizeof(buf), &len),
		-E2BIG);

	test_body_init(&t);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	assert_int_equal(wire_chain_table_create_req_decode(
				 t.b, test_body_len(&t), &out),
			 -EINVAL);
	test_body_init(&t);
	wire_put_u32(&t.w, WIRE_MAX_REPLICAS + 1);
	wire_put_u32(&t.w, 0);
	assert_int_equal(wire_chain_table_create_req_decode(
				 t.b, test_body_len(&t), &out),
			 -E2BIG);
	test_body_init(&t);
	wire_put_u32(&t.w, 2);
	wire_put_u32(&t.w, WIRE_MAX_CHAINS + 1);
	assert_int_equal(wire_chain_table_create_req_decode(
				 t.b, test_body_len(&t), &out),
			 -E2BIG);
}

/* Chunk ranges, write flags, full-chunk offset, reply lengths. */
static void test_wire_msg__storage_ranges_and_flags(void **state TEST_UNUSED)
{
	struct wire_write_req w = {.chain_id = 1};
	struct wire_read_req r = {.chain_id = 1};
	struct wire_write_resp wr = {0};
	struct wire_read_resp rr = {0};
	uint8_t buf[64];
	struct test_body t;
	size_t len;

	w.offset = WIRE_CHUNK_SIZE_MAX - 10;
	w.length = 10;
	assert_int_equal(wire_write_req_encode(&w, buf, sizeof(buf), &len), 0);
	w.length = 11;
	assert_int_equal(wire_write_req_encode(&w, buf, sizeof(buf), &len),
			 -E2BIG);
	/* offset + length would wrap a u32. */
	w.offset = UINT32_MAX;
	w.length = 2;
	assert_int_equal(wire_write_req_encode(&w, buf, sizeof(buf), &len),
			 -E2BIG);
	w.offset = 0;
	w.length = 1;
	w.flags = 0x2;
	assert_int_equal(wire_write_req_encode(&w, buf, sizeof(buf), &len),
			 -EINVAL);
	w.flags = WIRE_WRITE_F_FULL_CHUNK;
	w.offset = 4096;
	assert_int_equal(wire_write_req_encode(&w, buf, sizeof(buf), &len),
			 -EINVAL);

	/* The same on the wire: chunk id, chain, cver, off, len, crc, flags */
	test_body_init(&t);
	wire_put_u64(&t.w, 1);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, 1);
	wire_put_u32(&t.w, UINT32_MAX);
	wire_put_u32(&t.w, UINT32_MAX);
	wire_put_u32(&t.w, 0);
	wire_put_u32(&t.w, 0);
	wire_put_u64(&t.w, 0);
	assert_int_equal(wire_write_req_decode(t.b, test_body_len(&t), &w),
			 -E2BIG);
	memset(t.b + 20, 0, 8); /* offset 0, length 0 */
	assert_int_equal(wire_write_req_decode(t.b, test_body_len(&t), &w), 0);
	t.b[32] = 0x80; /* unknown flag bit */
	assert_int_equal(wire_write_req_decode(t.b, test_body_len(&t), &w),
			 -EINVAL);

	r.offset = 1;
	r.length = WIRE_CHUNK_SIZE_MAX;
	assert_int_equal(wire_read_req_encode(&r, buf, sizeof(buf), &len),
			 -E2BIG);
	r.offset = 0;
	assert_int_equal(wire_read_req_encode(&r, buf, sizeof(buf), &len), 0);
	buf[20] = 1; /* offset 1 on the wire */
	assert_int_equal(wire_read_req_decode(buf, len, &r), -E2BIG);

	wr.chunk_length = WIRE_CHUNK_SIZE_MAX + 1;
	assert_int_equal(wire_write_resp_encode(&wr, buf, sizeof(buf), &len),
			 -E2BIG);
	rr.length = WIRE_CHUNK_SIZE_MAX + 1;
	assert_int_equal(wire_read_resp_encode(&rr, buf, sizeof(buf), &len),
			 -E2BIG);
	test_body_init(&t);
	wire_put_u64(&t.w, 1);
	wire_put_u32(&t.w, WIRE_CHUNK_SIZE_MAX + 1);
	wire_put_u32(&t.w, 0);
	assert_int_equal(wire_read_resp_decode(t.b, test_body_len(&t), &rr),
			 -E2BIG);
	assert_int_equal(wire_write_resp_decode(t.b, test_body_len(&t), &wr),
			 -E2BIG);
}

/* ------------------------------------------------------------------------ */
/* Layout pinned byte by byte                                                */

static void test_wire_msg__golden_bytes(void **state TEST_UNUSED)
{
	static const uint8_t hb_resp[] = {0x08, 0x07, 0x06, 0x05,
					  0x04, 0x03, 0x02, 0x01};
	static const uint8_t read_req[] = {
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* inode */
		0x02, 0x00, 0x00, 0x00,				/* index */
		0x03, 0x00, 0x00, 0x00,				/* chain */
		0x04, 0x01, 0x00, 0x00,				/* cver */
		0x00, 0x10, 0x00, 0x00,				/* offset */
		0x00, 0x00, 0x01, 0x00,				/* length */
	};
	static const uint8_t reg_req[] = {
		0x05, 0x00, 0x00, 0x00,				 /* node id */
		0x02,						 /* role meta */
		0x07, 0x00, 't',  'c',	'p', ':', '/', '/', 'h', /* url */
		0x01, 0x00, 'h',				 /* hostname */
		0x00, 0x00, 0x00, 0x00,				 /* ntargets */
	};
	static const uint8_t routing[] = {
		0x09, 0, 0, 0, 0,    0, 0, 0, /* version */
		0x00,			      /* unchanged */
		0,    0, 0, 0,		      /* nodes */
		0,    0, 0, 0,		      /* targets */
		1,    0, 0, 0,		      /* chains */
		0x05, 0, 0, 0,		      /* chain id */
		0x03, 0, 0, 0,		      /* chain version */
		2,    0, 0, 0,		      /* members */
		0x0a, 0, 0, 0, 0x00,	      /* target 10 serving */
		0x0b, 0, 0, 0, 0x04,	      /* target 11 offline */
		0x02, 0, 0, 0,		      /* table version */
		1,    0, 0, 0,		      /* table chains */
		0x05, 0, 0, 0,		      /* chain 5 */
	};
	struct wire_heartbeat_resp h = {.routing_version =
						0x0102030405060708ull};
	struct wire_read_req r = {
		.chunk = {.inode = 0x8877665544332211ull, .index = 2},
		.chain_id = 3,
		.chain_version = 0x104,
		.offset = 4096,
		.length = 65536,
	};
	struct wire_register_req *rq = calloc(1, sizeof(*rq));
	struct wire_routing *ro = calloc(1, sizeof(*ro));
	uint8_t buf[64], rbuf[128];
	size_t len;

	assert_non_null(rq);
	assert_non_null(ro);
	assert_int_equal(wire_heartbeat_resp_encode(&h, buf, sizeof(buf), &len),
			 0);
	assert_int_equal(len, sizeof(hb_resp));
	assert_memory_equal(buf, hb_resp, len);

	assert_int_equal(wire_read_req_encode(&r, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof(read_req));
	assert_memory_equal(buf, read_req, len);

	rq->node_id = 5;
	rq->role = WIRE_ROLE_META;
	strcpy(rq->url, "tcp://h");
	strcpy(rq->hostname, "h");
	assert_int_equal(wire_register_req_encode(rq, buf, sizeof(buf), &len),
			 0);
	assert_int_equal(len, sizeof(reg_req));
	assert_memory_equal(buf, reg_req, len);
	memset(rq, 0, sizeof(*rq));
	assert_int_equal(wire_register_req_decode(reg_req, sizeof(reg_req), rq),
			 0);
	assert_string_equal(rq->url, "tcp://h");
	assert_int_equal(rq->role, WIRE_ROLE_META);
	free(rq);

	ro->version = 9;
	ro->nchains = 1;
	ro->chains[0] = (struct wire_routing_chain){
		.id = 5,
		.version = 3,
		.ntargets = 2,
		.target_ids = {10, 11},
		.states = {WIRE_PUBLIC_SERVING, WIRE_PUBLIC_OFFLINE},
	};
	ro->table.version = 2;
	ro->table.nchains = 1;
	ro->table.chain_ids[0] = 5;
	assert_int_equal(wire_routing_encode(ro, rbuf, sizeof(rbuf), &len), 0);
	assert_int_equal(len, sizeof(routing));
	assert_memory_equal(rbuf, routing, len);
	free(ro);
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

static void test_wire_msg__op_and_state_names(void **state TEST_UNUSED)
{
	unsigned int op, known = 0;

	assert_string_equal(wire_op_name(WIRE_AUTH_HELLO), "AUTH_HELLO");
	assert_string_equal(wire_op_name(WIRE_MGMTD_REGISTER),
			    "MGMTD_REGISTER");
	assert_string_equal(wire_op_name(WIRE_MGMTD_STATUS), "MGMTD_STATUS");
	assert_string_equal(wire_op_name(WIRE_META_FSCK), "META_FSCK");
	assert_string_equal(wire_op_name(WIRE_STORAGE_COMMIT),
			    "STORAGE_COMMIT");
	assert_string_equal(wire_op_name(0), "UNKNOWN");
	assert_string_equal(wire_op_name(0x0106), "UNKNOWN");
	assert_string_equal(wire_op_name(0xffff), "UNKNOWN");
	assert_false(wire_op_known(0x0400));
	for (op = 0; op <= 0xffff; op++)
		known += wire_op_known((uint16_t)op);
	assert_int_equal(known,
			 3 + 5 + (WIRE_META_RENEW - WIRE_META_LOOKUP + 1) +
				 (WIRE_STORAGE_RESYNC - WIRE_STORAGE_WRITE + 1));

	assert_string_equal(wire_role_name(WIRE_ROLE_STORAGE), "storage");
	assert_string_equal(wire_role_name(0), "unknown");
	assert_string_equal(wire_role_name(5), "unknown");
	assert_string_equal(wire_local_state_name(WIRE_LOCAL_UPTODATE),
			    "uptodate");
	assert_string_equal(wire_local_state_name(3), "unknown");
	assert_string_equal(wire_public_state_name(WIRE_PUBLIC_LASTSRV),
			    "lastsrv");
	assert_string_equal(wire_public_state_name(UINT32_MAX), "unknown");
	assert_string_equal(wire_node_state_name(WIRE_NODE_FAILED), "failed");
	assert_string_equal(wire_node_state_name(3), "unknown");
}

/* ------------------------------------------------------------------------ */
/* wire_le.h                                                                 */

static void
test_wire_msg__le_round_trip_and_sticky_errors(void **state TEST_UNUSED)
{
	uint8_t buf[64];
	char s[8];
	struct wire_w w;
	struct wire_r r;
	const uint8_t *p;

	wire_w_init(&w, buf, sizeof(buf));
	wire_put_i32(&w, -2);
	wire_put_i64(&w, INT64_MIN);
	wire_put_u16(&w, 0xbeef);
	wire_put_str(&w, "abc", 7);
	wire_put_bytes(&w, "xyz", 3);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 4 + 8 + 2 + 5 + 3);
	assert_int_equal(buf[0], 0xfe);
	assert_int_equal(buf[3], 0xff);
	assert_int_equal(buf[11], 0x80);

	wire_r_init(&r, buf, w.len);
	assert_int_equal(wire_get_i32(&r), -2);
	assert_true(wire_get_i64(&r) == INT64_MIN);
	assert_int_equal(wire_get_u16(&r), 0xbeef);
	wire_get_str(&r, s, 7);
	assert_string_equal(s, "abc");
	p = wire_get_bytes(&r, 3);
	assert_ptr_equal(p, buf + 4 + 8 + 2 + 5);
	assert_int_equal(wire_r_left(&r), 0);
	assert_int_equal(wire_r_finish(&r), 0);

	/* One failure sticks: later reads return 0 and change nothing. */
	wire_r_init(&r, buf, 3);
	assert_int_equal(wire_get_u32(&r), 0);
	assert_int_equal(r.err, -EBADMSG);
	assert_int_equal(wire_get_u8(&r), 0);
	assert_null(wire_get_bytes(&r, 0));
	assert_int_equal(r.off, 0);
	wire_r_fail(&r, -EINVAL);
	assert_int_equal(wire_r_finish(&r), -EBADMSG);

	/* A string longer than the reader's limit. */
	wire_r_init(&r, buf + 14, 5);
	wire_get_str(&r, s, 2);
	assert_int_equal(r.err, -ENAMETOOLONG);
	assert_string_equal(s, "");

	/* Writer: overflow sticks, first error wins. */
	wire_w_init(&w, buf, 5);
	wire_put_u32(&w, 1);
	wire_put_u16(&w, 1);
	assert_int_equal(w.err, -ENOSPC);
	assert_int_equal(w.len, 4);
	wire_w_fail(&w, -EINVAL);
	assert_int_equal(w.err, -ENOSPC);
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_str(&w, "toolong", 3);
	assert_int_equal(w.err, -ENAMETOOLONG);
	assert_int_equal(w.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_msg__round_trip_every_message),
		cmocka_unit_test(test_wire_msg__round_trip_full_at_limits),
		cmocka_unit_test(test_wire_msg__body_max_covers_every_message),
		cmocka_unit_test(test_wire_msg__decode_overwrites_stale_fields),
		cmocka_unit_test(test_wire_msg__truncated_at_every_length),
		cmocka_unit_test(test_wire_msg__truncated_full_messages),
		cmocka_unit_test(test_wire_msg__trailing_bytes_rejected),
		cmocka_unit_test(test_wire_msg__encode_too_small_is_enospc),
		cmocka_unit_test(test_wire_msg__decode_counts_over_limits),
		cmocka_unit_test(test_wire_msg__encode_counts_over_limits),
		cmocka_unit_test(test_wire_msg__bad_enums_rejected),
		cmocka_unit_test(test_wire_msg__status_node_state_checked),
		cmocka_unit_test(test_wire_msg__routing_unchanged_is_empty),
		cmocka_unit_test(test_wire_msg__strings_checked),
		cmocka_unit_test(test_wire_msg__chain_table_create_limits),
		cmocka_unit_test(test_wire_msg__storage_ranges_and_flags),
		cmocka_unit_test(test_wire_msg__golden_bytes),
		cmocka_unit_test(test_wire_msg__op_and_state_names),
		cmocka_unit_test(
			test_wire_msg__le_round_trip_and_sticky_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_wire_frame.c - proto/wire_frame: the header's byte layout, every
 * rejection of the decoder, and the streaming receiver (byte by byte, in
 * place, skipping data, broken streams).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/wire_frame.h"

#define TWF_WATCHDOG_S 20

static int twf_setup(void **state)
{
	(void)state;
	alarm(TWF_WATCHDOG_S);
	return 0;
}

static int twf_teardown(void **state)
{
	(void)state;
	alarm(0);
	return 0;
}

static const struct wire_frame twf_sample = {
	.opcode = 0x1234,
	.flags = WIRE_F_REPLY,
	.status = -2,
	.req_id = 0x0102030405060708ull,
	.body_len = 0x100,
	.data_len = 0x20000,
};

/* ---- header -------------------------------------------------------------- */

static void test_wire_frame__encode_layout_is_little_endian(void **state)
{
	static const uint8_t want[WIRE_HDR_SIZE] = {
		'V',  'L',  'R',  'F',				/* magic */
		0x01, 0x00,					/* version */
		0x34, 0x12,					/* opcode */
		0x01, 0x00, 0x00, 0x00,				/* flags */
		0xfe, 0xff, 0xff, 0xff,				/* status -2 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* req_id */
		0x00, 0x01, 0x00, 0x00,				/* body_len */
		0x00, 0x00, 0x02, 0x00,				/* data_len */
	};
	uint8_t out[WIRE_HDR_SIZE];

	(void)state;
	assert_int_equal(wire_frame_encode(&twf_sample, out), 0);
	assert_memory_equal(out, want, sizeof(want));
}

static void test_wire_frame__round_trip(void **state)
{
	uint8_t buf[WIRE_HDR_SIZE + 7];
	struct wire_frame f;
	const char *why = NULL;

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(wire_frame_encode(&twf_sample, buf), 0);
	/* Extra bytes after the header are not the decoder's business. */
	assert_int_equal(wire_frame_decode(buf, sizeof(buf), &f, &why), 0);
	assert_null(why);
	assert_int_equal(f.opcode, twf_sample.opcode);
	assert_int_equal(f.flags, twf_sample.flags);
	assert_int_equal(f.status, twf_sample.status);
	assert_true(f.req_id == twf_sample.req_id);
	assert_int_equal(f.body_len, twf_sample.body_len);
	assert_int_equal(f.data_len, twf_sample.data_len);
}

static void test_wire_frame__short_header_is_ebadmsg(void **state)
{
	uint8_t buf[WIRE_HDR_SIZE];
	struct wire_frame f;
	const char *why;
	size_t n;

	(void)state;
	assert_int_equal(wire_frame_encode(&twf_sample, buf), 0);
	for (n = 0; n < WIRE_HDR_SIZE; n++) {
		why = NULL;
		memset(&f, 0x55, sizeof(f));
		assert_int_equal(wire_frame_decode(buf, n, &f, &why), -EBADMSG);
		assert_non_null(why);
		assert_int_equal(f.req_id, 0); /* zeroed on failure */
	}
}

static void test_wire_frame__bad_magic_or_version_is_eproto(void **state)
{
	uint8_t buf[WIRE_HDR_SIZE];
	struct wire_frame f;
	const char *why = NULL;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		assert_int_equal(wire_frame_encode(&twf_sample, buf), 0);
		buf[i] ^= 0x20;
		assert_int_equal(wire_frame_decode(buf, sizeof(buf), &f, &why),
				 -EPROTO);
	}
	assert_int_equal(wire_frame_encode(&twf_sample, buf), 0);
	buf[4] = 2; /* version 2 */
	assert_int_equal(wire_frame_decode(buf, sizeof(buf), &f, &why),
			 -EPROTO);
	assert_non_null(strstr(why, "version"));
	buf[4] = 1;
	buf[5] = 1; /* version 257 */
	assert_int_equal(wire_frame_decode(buf, sizeof(buf), &f, &why),
			 -EPROTO);
}

static void test_wire_frame__oversized_lengths_are_emsgsize(void **state)
{
	struct wire_frame f = twf_sample;
	uint8_t buf[WIRE_HDR_SIZE];
	struct wire_frame out;
	const char *why;

	(void)state;
	/* At the limits: fine. */
	f.body_len = WIRE_MAX_BODY;
	f.data_len = WIRE_MAX_DATA;
	assert_int_equal(wire_frame_encode(&f, buf), 0);
	assert_int_equal(wire_frame_decode(buf, sizeof(buf), &out, NULL), 0);

	/* One over, patched in the bytes (encode would refuse). */
	buf[24] = 0x01; /* body_len = 1 MiB + 1 */
	assert_int_equal(wire_frame_decode(buf, sizeof(buf), &out, &why),
			 -EMSGSIZE);
	assert_non_null(strstr(why, "body"));
	assert_int_equal(wire_frame_encode(&f, buf), 0);
	buf[28] = 0x01; /* data_len = 64 MiB + 1 */
	assert_int_equal(wire_frame_decode(buf, sizeof(buf), &out, &why),
			 -EMSGSIZE);
	assert_non_null(strstr(why, "data"));
	memset(buf + 24, 0xff, 8); /* both 4 GiB - 1 */
	assert_int_equal(wire_frame_decode(buf, sizeof(buf), &out, NULL),
			 -EMSGSIZE);
}

static void twf_expect_einval(const struct wire_frame *f)
{
	uint8_t buf[WIRE_HDR_SIZE], good[WIRE_HDR_SIZE];
	struct wire_frame g = *f, out;
	const char *why = NULL;

	/* Encode refuses it and leaves the buffer alone... */
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(wire_frame_encode(f, buf), -EINVAL);
	assert_int_equal(buf[0], 0x5a);
	/* ...and the decoder refuses the same bytes built by hand. */
	g.flags = 0;
	g.status = 0;
	assert_int_equal(wire_frame_encode(&g, good), 0);
	good[8] = (uint8_t)f->flags;
	good[9] = (uint8_t)(f->flags >> 8);
	good[10] = (uint8_t)(f->flags >> 16);
	good[11] = (uint8_t)(f->flags >> 24);
	good[12] = (uint8_t)f->status;
	good[13] = (uint8_t)((uint32_t)f->status >> 8);
	good[14] = (uint8_t)((uint32_t)f->status >> 16);
	good[15] = (uint8_t)((uint32_t)f->status >> 24);
	assert_int_equal(wire_frame_decode(good, sizeof(good), &out, &why),
			 -EINVAL);
	assert_non_null(why);
}

static void test_wire_frame__bad_flags_or_status_are_einval(void **state)
{
	struct wire_frame f = {.opcode = 1, .req_id = 9};

	(void)state;
	f.flags = 0x4; /* unknown bit */
	twf_expect_einval(&f);
	f.flags = WIRE_F_REPLY | WIRE_F_ONEWAY;
	twf_expect_einval(&f);
	f.flags = WIRE_F_REPLY;
	f.status = 1; /* positive errno */
	twf_expect_einval(&f);
	f.status = -4096; /* below MAX_ERRNO */
	twf_expect_einval(&f);
	f.status = INT32_MIN;
	twf_expect_einval(&f);
	f.flags = 0;
	f.status = -5; /* status in a request */
	twf_expect_einval(&f);

	/* The edges that are fine. */
	f.flags = WIRE_F_REPLY;
	f.status = -4095;
	assert_int_equal(wire_frame_check(&f, NULL), 0);
	f.status = -1;
	assert_int_equal(wire_frame_check(&f, NULL), 0);
	f.flags = WIRE_F_ONEWAY;
	f.status = 0;
	assert_int_equal(wire_frame_check(&f, NULL), 0);
}

/* ---- streaming receiver -------------------------------------------------- */

struct twf_frame {
	struct wire_frame hdr;
	uint8_t body[64];
	uint8_t data[64];
	int data_seen; /* data buffer was non-NULL at FRAME */
};

struct twf_sink {
	struct wire_rx rx;
	uint8_t body[64];
	uint8_t data[64];
	int skip_data; /* leave data unnamed */
	struct twf_frame frames[8];
	int nr;
	int hdr_events, data_events;
};

/* Build a frame with body "b..." and data "d..." of the given sizes. */
static size_t twf_build(uint8_t *out, uint16_t op, uint64_t id, uint32_t blen,
			uint32_t dlen)
{
	struct wire_frame f = {
		.opcode = op, .req_id = id, .body_len = blen, .data_len = dlen};
	uint32_t i;

	assert_int_equal(wire_frame_encode(&f, out), 0);
	for (i = 0; i < blen; i++)
		out[WIRE_HDR_SIZE + i] = (uint8_t)('b' + i);
	for (i = 0; i < dlen; i++)
		out[WIRE_HDR_SIZE + blen + i] = (uint8_t)('d' + i);
	return WIRE_HDR_SIZE + blen + dlen;
}

/* Step until bytes are needed; returns the error if the stream broke. */
static int twf_pump(struct twf_sink *s)
{
	int ev;

	for (;;) {
		ev = wire_rx_step(&s->rx);
		switch (ev) {
		case WIRE_RX_NEED:
			return 0;
		case WIRE_RX_HDR:
			s->hdr_events++;
			break;
		case WIRE_RX_DATA:
			s->data_events++;
			if (!s->skip_data)
				wire_rx_set_data(&s->rx, s->data);
			break;
		case WIRE_RX_FRAME: {
			struct twf_frame *f = &s->frames[s->nr++];

			assert_true(s->nr <= 8);
			f->hdr = s->rx.hdr;
			memcpy(f->body, wire_rx_body(&s->rx), f->hdr.body_len);
			f->data_seen = wire_rx_data(&s->rx) != NULL;
			if (f->data_seen)
				memcpy(f->data, wire_rx_data(&s->rx),
				       f->hdr.data_len);
			break;
		}
		default:
			return ev;
		}
	}
}

/* Feed all of @buf, stepping between parts (feed stops at each). */
static void twf_feed_all(struct twf_sink *s, const uint8_t *buf, size_t n)
{
	size_t used = 0;

	while (used < n) {
		assert_int_equal(twf_pump(s), 0);
		used += wire_rx_feed(&s->rx, buf + used, n - used);
	}
}

static void twf_check_frame(const struct twf_frame *f, uint64_t id,
			    uint32_t blen, uint32_t dlen, int data)
{
	uint32_t i;

	assert_true(f->hdr.req_id == id);
	assert_int_equal(f->hdr.body_len, blen);
	assert_int_equal(f->hdr.data_len, dlen);
	for (i = 0; i < blen; i++)
		assert_int_equal(f->body[i], (uint8_t)('b' + i));
	assert_int_equal(f->data_seen, data && dlen);
	for (i = 0; data && i < dlen; i++)
		assert_int_equal(f->data[i], (uint8_t)('d' + i));
}

static void test_wire_frame__rx_byte_by_byte(void **state)
{
	struct twf_sink *s = calloc(1, sizeof(*s));
	uint8_t stream[512];
	size_t len = 0, i;

	(void)state;
	len += twf_build(stream + len, 1, 10, 5, 7);
	len += twf_build(stream + len, 2, 11, 0, 0);
	len += twf_build(stream + len, 3, 12, 0, 9);
	len += twf_build(stream + len, 4, 13, 33, 0);
	wire_rx_init(&s->rx, s->body, sizeof(s->body));
	assert_true(wire_rx_idle(&s->rx));
	for (i = 0; i < len; i++) {
		assert_int_equal(twf_pump(s), 0);
		assert_int_equal(wire_rx_feed(&s->rx, stream + i, 1), 1);
	}
	assert_int_equal(twf_pump(s), 0);
	assert_true(wire_rx_idle(&s->rx));
	assert_int_equal(s->nr, 4);
	assert_int_equal(s->hdr_events, 4);
	assert_int_equal(s->data_events, 2);
	twf_check_frame(&s->frames[0], 10, 5, 7, 1);
	twf_check_frame(&s->frames[1], 11, 0, 0, 1);
	twf_check_frame(&s->frames[2], 12, 0, 9, 1);
	twf_check_frame(&s->frames[3], 13, 33, 0, 1);
	free(s);
}

/* want/got: the bytes go straight where the receiver points. */
static void test_wire_frame__rx_in_place(void **state)
{
	struct twf_sink *s = calloc(1, sizeof(*s));
	uint8_t stream[256];
	size_t len, pos = 0, n;
	void *buf;

	(void)state;
	len = twf_build(stream, 7, 99, 20, 40);
	wire_rx_init(&s->rx, s->body, sizeof(s->body));
	while (pos < len) {
		assert_int_equal(twf_pump(s), 0);
		n = wire_rx_want(&s->rx, &buf);
		assert_true(n > 0);
		assert_non_null(buf);
		if (n > len - pos)
			n = len - pos;
		if (n > 13) /* arbitrary short "reads" */
			n = 13;
		memcpy(buf, stream + pos, n);
		wire_rx_got(&s->rx, n);
		pos += n;
	}
	assert_int_equal(twf_pump(s), 0);
	assert_int_equal(s->nr, 1);
	twf_check_frame(&s->frames[0], 99, 20, 40, 1);
	/* The data went to the named buffer itself. */
	assert_int_equal(s->data[39], (uint8_t)('d' + 39));
	free(s);
}

static void test_wire_frame__rx_skips_unnamed_data(void **state)
{
	struct twf_sink *s = calloc(1, sizeof(*s));
	uint8_t stream[256];
	size_t len = 0, used = 0;
	void *buf;

	(void)state;
	len += twf_build(stream + len, 1, 1, 3, 50);
	len += twf_build(stream + len, 1, 2, 4, 0);
	wire_rx_init(&s->rx, s->body, sizeof(s->body));
	s->skip_data = 1;
	while (used < len) {
		assert_int_equal(twf_pump(s), 0);
		if (s->rx.hdr.data_len && s->data_events == 1 && s->nr == 0) {
			/* Skipping: want says how much, and no buffer. */
			assert_true(wire_rx_want(&s->rx, &buf) > 0);
			assert_null(buf);
		}
		used += wire_rx_feed(&s->rx, stream + used, 7);
	}
	assert_int_equal(twf_pump(s), 0);
	assert_int_equal(s->nr, 2);
	twf_check_frame(&s->frames[0], 1, 3, 50, 0);
	twf_check_frame(&s->frames[1], 2, 4, 0, 0);
	free(s);
}

/* A receiver that goes away mid-data: the rest is skipped. */
static void test_wire_frame__rx_skip_mid_data(void **state)
{
	struct twf_sink *s = calloc(1, sizeof(*s));
	uint8_t stream[256];
	size_t len, used = 0;

	(void)state;
	len = twf_build(stream, 1, 1, 0, 60);
	wire_rx_init(&s->rx, s->body, sizeof(s->body));
	memset(s->data, 0, sizeof(s->data));
	assert_int_equal(twf_pump(s), 0);
	used += wire_rx_feed(&s->rx, stream, WIRE_HDR_SIZE + 10);
	assert_int_equal(twf_pump(s), 0);
	used += wire_rx_feed(&s->rx, stream + used, 10);
	wire_rx_set_data(&s->rx, NULL);
	used += wire_rx_feed(&s->rx, stream + used, len - used);
	assert_int_equal(used, len);
	assert_int_equal(twf_pump(s), 0);
	assert_int_equal(s->nr, 1);
	assert_int_equal(s->frames[0].data_seen, 0);
	/* The first bytes landed, the rest never did. */
	assert_int_equal(s->data[0], 'd');
	assert_int_equal(s->data[30], 0);
	free(s);
}

static void test_wire_frame__rx_body_over_buffer_is_emsgsize(void **state)
{
	struct twf_sink *s = calloc(1, sizeof(*s));
	uint8_t stream[256], bigger[128];
	size_t len;

	(void)state;
	len = twf_build(stream, 1, 1, 100, 0);
	wire_rx_init(&s->rx, s->body, sizeof(s->body)); /* 64 bytes */
	assert_int_equal(wire_rx_feed(&s->rx, stream, len), WIRE_HDR_SIZE);
	assert_int_equal(wire_rx_step(&s->rx), WIRE_RX_HDR);
	assert_int_equal(wire_rx_step(&s->rx), -EMSGSIZE);
	assert_non_null(wire_rx_why(&s->rx));

	/* The same frame with a bigger buffer set at WIRE_RX_HDR. */
	wire_rx_reset(&s->rx);
	assert_int_equal(wire_rx_feed(&s->rx, stream, len), WIRE_HDR_SIZE);
	assert_int_equal(wire_rx_step(&s->rx), WIRE_RX_HDR);
	wire_rx_set_body(&s->rx, bigger, sizeof(bigger));
	assert_int_equal(wire_rx_step(&s->rx), WIRE_RX_NEED);
	assert_int_equal(wire_rx_feed(&s->rx, stream + WIRE_HDR_SIZE, 100),
			 100);
	assert_int_equal(wire_rx_step(&s->rx), WIRE_RX_FRAME);
	assert_ptr_equal(wire_rx_body(&s->rx), bigger);
	free(s);
}

static void test_wire_frame__rx_error_is_sticky(void **state)
{
	struct twf_sink *s = calloc(1, sizeof(*s));
	uint8_t stream[WIRE_HDR_SIZE * 2];
	void *buf;

	(void)state;
	twf_build(stream, 1, 1, 0, 0);
	twf_build(stream + WIRE_HDR_SIZE, 1, 2, 0, 0);
	stream[0] = 'X';
	wire_rx_init(&s->rx, s->body, sizeof(s->body));
	assert_int_equal(wire_rx_feed(&s->rx, stream, sizeof(stream)),
			 WIRE_HDR_SIZE);
	assert_int_equal(wire_rx_step(&s->rx), -EPROTO);
	assert_non_null(strstr(wire_rx_why(&s->rx), "magic"));
	/* Broken for good: no more bytes taken, same error. */
	assert_int_equal(wire_rx_want(&s->rx, &buf), 0);
	assert_int_equal(
		wire_rx_feed(&s->rx, stream + WIRE_HDR_SIZE, WIRE_HDR_SIZE), 0);
	assert_int_equal(wire_rx_step(&s->rx), -EPROTO);
	assert_false(wire_rx_idle(&s->rx));
	free(s);
}

static void test_wire_frame__rx_truncated_frame_is_not_idle(void **state)
{
	struct twf_sink *s = calloc(1, sizeof(*s));
	uint8_t stream[128];
	size_t len;

	(void)state;
	len = twf_build(stream, 1, 1, 10, 10);
	wire_rx_init(&s->rx, s->body, sizeof(s->body));
	assert_int_equal(twf_pump(s), 0);
	assert_int_equal(wire_rx_feed(&s->rx, stream, 5), 5);
	assert_false(wire_rx_idle(&s->rx));
	twf_feed_all(s, stream + 5, len - 6);
	assert_int_equal(twf_pump(s), 0);
	assert_false(wire_rx_idle(&s->rx));
	assert_int_equal(s->nr, 0);
	twf_feed_all(s, stream + len - 1, 1);
	assert_int_equal(twf_pump(s), 0);
	assert_int_equal(s->nr, 1);
	assert_true(wire_rx_idle(&s->rx));
	free(s);
}

#define TWF_TEST(fn)                                                           \
	cmocka_unit_test_setup_teardown(fn, twf_setup, twf_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TWF_TEST(test_wire_frame__encode_layout_is_little_endian),
		TWF_TEST(test_wire_frame__round_trip),
		TWF_TEST(test_wire_frame__short_header_is_ebadmsg),
		TWF_TEST(test_wire_frame__bad_magic_or_version_is_eproto),
		TWF_TEST(test_wire_frame__oversized_lengths_are_emsgsize),
		TWF_TEST(test_wire_frame__bad_flags_or_status_are_einval),
		TWF_TEST(test_wire_frame__rx_byte_by_byte),
		TWF_TEST(test_wire_frame__rx_in_place),
		TWF_TEST(test_wire_frame__rx_skips_unnamed_data),
		TWF_TEST(test_wire_frame__rx_skip_mid_data),
		TWF_TEST(test_wire_frame__rx_body_over_buffer_is_emsgsize),
		TWF_TEST(test_wire_frame__rx_error_is_sticky),
		TWF_TEST(test_wire_frame__rx_truncated_frame_is_not_idle),
	};

	return cmocka_run_group_tests_name("wire_frame", tests, NULL, NULL);
}

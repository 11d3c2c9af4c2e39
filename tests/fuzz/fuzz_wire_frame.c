// SPDX-License-Identifier: MIT
/*
 * fuzz_wire_frame.c - libFuzzer target for the frame header decoder and
 * the streaming receiver (proto/wire_frame.h).
 *
 * 1. The input's first 32 bytes (or fewer) are decoded from a heap copy of
 *    exactly that size, so AddressSanitizer flags any read past it. A
 *    header that decodes must encode back to the very same bytes, and one
 *    that does not must leave the output zeroed with a reason.
 * 2. The whole input (after one control byte) is streamed through a
 *    struct wire_rx in chunks whose sizes come from the control byte,
 *    alternating wire_rx_feed with want/got (as the TCP transport does),
 *    with data named into an exact-size heap buffer, skipped, or dropped
 *    half way. Every event is checked against the stream's invariants.
 *
 *   make fuzz && build/fuzz/fuzz_wire_frame -max_total_time=60
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BODY_SMALL 64
#define FUZZ_BODY_BIG (64u << 10)
#define FUZZ_DATA_MAX (256u << 10)

static volatile uint64_t fuzz_sink;

static void fuzz_touch(const void *p, size_t n)
{
	const volatile uint8_t *b = p;
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += b[i];
	fuzz_sink += sum;
}

static void fuzz_header(const uint8_t *data, size_t size)
{
	size_t n = size < WIRE_HDR_SIZE ? size : WIRE_HDR_SIZE;
	uint8_t *buf = malloc(n ? n : 1), out[WIRE_HDR_SIZE];
	const struct wire_frame zero = {0};
	struct wire_frame f;
	const char *why = NULL;
	int ret;

	if (!buf)
		return;
	memcpy(buf, data, n);
	ret = wire_frame_decode(buf, n, &f, &why);
	if (ret == 0) {
		if (n != WIRE_HDR_SIZE || wire_frame_check(&f, NULL))
			abort();
		if (wire_frame_encode(&f, out) || memcmp(out, buf, n))
			abort();
	} else {
		if (ret != -EBADMSG && ret != -EPROTO && ret != -EMSGSIZE &&
		    ret != -EINVAL)
			abort();
		if (!why || memcmp(&f, &zero, sizeof(f)))
			abort();
	}
	free(buf);
}

struct fuzz_stream {
	struct wire_rx rx;
	uint8_t small[FUZZ_BODY_SMALL];
	uint8_t *big;  /* FUZZ_BODY_BIG, set when a body needs it */
	uint8_t *dbuf; /* this frame's data buffer, exact size */
	uint8_t mode;  /* control byte */
	unsigned frames;
	int drop_after; /* drop the data sink after this many bytes, or -1 */
	uint32_t data_got;
};

/* Handle events until bytes are needed; 0, or -1 once the stream broke. */
static int fuzz_pump(struct fuzz_stream *s)
{
	int ev;

	for (;;) {
		ev = wire_rx_step(&s->rx);
		switch (ev) {
		case WIRE_RX_NEED:
			return 0;
		case WIRE_RX_HDR:
			if (wire_frame_check(&s->rx.hdr, NULL))
				abort();
			/* Grow the body buffer only on odd frames, so the
			 * "no room" refusal is exercised too. */
			if (s->rx.hdr.body_len > FUZZ_BODY_SMALL &&
			    s->rx.hdr.body_len <= FUZZ_BODY_BIG &&
			    (s->frames & 1)) {
				if (!s->big)
					s->big = malloc(FUZZ_BODY_BIG);
				if (s->big)
					wire_rx_set_body(&s->rx, s->big,
							 FUZZ_BODY_BIG);
			}
			break;
		case WIRE_RX_DATA:
			if (!s->rx.hdr.data_len)
				abort();
			free(s->dbuf);
			s->dbuf = NULL;
			s->data_got = 0;
			s->drop_after = -1;
			if (s->rx.hdr.data_len <= FUZZ_DATA_MAX &&
			    (s->mode & 0x40)) {
				s->dbuf = malloc(s->rx.hdr.data_len);
				wire_rx_set_data(&s->rx, s->dbuf);
				if (s->mode & 0x80)
					s->drop_after =
						(int)(s->rx.hdr.data_len / 2);
			}
			break;
		case WIRE_RX_FRAME:
			s->frames++;
			fuzz_touch(wire_rx_body(&s->rx), s->rx.hdr.body_len);
			if (wire_rx_data(&s->rx)) {
				if (wire_rx_data(&s->rx) != s->dbuf)
					abort();
				fuzz_touch(s->dbuf, s->rx.hdr.data_len);
			}
			if (!wire_rx_idle(&s->rx))
				abort();
			break;
		default:
			if (ev != -EBADMSG && ev != -EPROTO &&
			    ev != -EMSGSIZE && ev != -EINVAL)
				abort();
			if (!wire_rx_why(&s->rx) || wire_rx_step(&s->rx) != ev)
				abort();
			return -1;
		}
	}
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
	struct fuzz_stream *s;
	size_t pos = 0, chunk;
	void *buf;

	if (!size)
		return;
	s = calloc(1, sizeof(*s));
	if (!s)
		return;
	s->mode = data[0];
	data++;
	size--;
	wire_rx_init(&s->rx, s->small, sizeof(s->small));
	chunk = (s->mode & 0x1f) + 1;

	while (pos < size) {
		size_t n, want;

		if (fuzz_pump(s) < 0)
			break;
		want = wire_rx_want(&s->rx, &buf);
		if (!want)
			abort(); /* NEED must want something */
		n = size - pos < chunk ? size - pos : chunk;
		if (s->drop_after >= 0 && wire_rx_data(&s->rx) &&
		    s->data_got >= (uint32_t)s->drop_after) {
			wire_rx_set_data(&s->rx, NULL);
			want = wire_rx_want(&s->rx, &buf);
		}
		if ((pos / chunk) & 1) {
			n = wire_rx_feed(&s->rx, data + pos, n);
		} else {
			/* In place, as a readv would. */
			if (n > want)
				n = want;
			if (buf)
				memcpy(buf, data + pos, n);
			wire_rx_got(&s->rx, n);
		}
		if (!n || n > want)
			abort();
		if (wire_rx_data(&s->rx) || !buf)
			s->data_got += (uint32_t)n;
		pos += n;
	}
	fuzz_pump(s);
	free(s->dbuf);
	free(s->big);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_header(data, size);
	fuzz_stream(data, size);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * wire_frame.c - frame header codec and the streaming receiver.
 */
#include <errno.h>
#include <string.h>

#include "proto/wire_frame.h"

/* ---- little-endian helpers (byte by byte: any host, any alignment) ------- */

static inline void wire_frame_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void wire_frame_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void wire_frame_put64(uint8_t *p, uint64_t v)
{
	wire_frame_put32(p, (uint32_t)v);
	wire_frame_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t wire_frame_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t wire_frame_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t wire_frame_get64(const uint8_t *p)
{
	return (uint64_t)wire_frame_get32(p) | (uint64_t)wire_frame_get32(p + 4)
						       << 32;
}

/* ---- header -------------------------------------------------------------- */

int wire_frame_check(const struct wire_frame *f, const char **why)
{
	const char *reason;
	int ret;

	if (f->body_len > WIRE_MAX_BODY) {
		reason = "body length over the 1 MiB limit";
		ret = -EMSGSIZE;
	} else if (f->data_len > WIRE_MAX_DATA) {
		reason = "data length over the 64 MiB limit";
		ret = -EMSGSIZE;
	} else if (f->flags & ~WIRE_F_KNOWN) {
		reason = "unknown flag bits";
		ret = -EINVAL;
	} else if ((f->flags & WIRE_F_REPLY) && (f->flags & WIRE_F_ONEWAY)) {
		reason = "a reply cannot be one-way";
		ret = -EINVAL;
	} else if (f->status > 0 || f->status < WIRE_STATUS_MIN) {
		reason = "status is not 0 or -errno";
		ret = -EINVAL;
	} else if (f->status && !(f->flags & WIRE_F_REPLY)) {
		reason = "nonzero status in a request";
		ret = -EINVAL;
	} else {
		return 0;
	}
	if (why)
		*why = reason;
	return ret;
}

int wire_frame_encode(const struct wire_frame *f, uint8_t out[WIRE_HDR_SIZE])
{
	int ret = wire_frame_check(f, NULL);

	if (ret < 0)
		return ret;
	wire_frame_put32(out + 0, WIRE_MAGIC);
	wire_frame_put16(out + 4, WIRE_VERSION);
	wire_frame_put16(out + 6, f->opcode);
	wire_frame_put32(out + 8, f->flags);
	wire_frame_put32(out + 12, (uint32_t)f->status);
	wire_frame_put64(out + 16, f->req_id);
	wire_frame_put32(out + 24, f->body_len);
	wire_frame_put32(out + 28, f->data_len);
	return 0;
}

int wire_frame_decode(const void *buf, size_t len, struct wire_frame *out,
		      const char **why)
{
	const uint8_t *p = buf;
	const char *reason;
	int ret;

	memset(out, 0, sizeof(*out));
	if (len < WIRE_HDR_SIZE) {
		reason = "truncated header";
		ret = -EBADMSG;
		goto out_bad;
	}
	if (wire_frame_get32(p) != WIRE_MAGIC) {
		reason = "bad magic (not a valorfs peer?)";
		ret = -EPROTO;
		goto out_bad;
	}
	if (wire_frame_get16(p + 4) != WIRE_VERSION) {
		reason = "unsupported protocol version";
		ret = -EPROTO;
		goto out_bad;
	}
	out->opcode = wire_frame_get16(p + 6);
	out->flags = wire_frame_get32(p + 8);
	out->status = (int32_t)wire_frame_get32(p + 12);
	out->req_id = wire_frame_get64(p + 16);
	out->body_len = wire_frame_get32(p + 24);
	out->data_len = wire_frame_get32(p + 28);
	ret = wire_frame_check(out, &reason);
	if (ret < 0) {
		memset(out, 0, sizeof(*out));
		goto out_bad;
	}
	return 0;

out_bad:
	if (why)
		*why = reason;
	return ret;
}

/* ---- streaming receiver -------------------------------------------------- */

/*
 * The receiver's states. The *_EV states mean "this event was returned and
 * the next step acknowledges it"; bytes are taken only in HDR, BODY, DATA.
 */
enum wire_rx_state {
	WIRE_RX_S_HDR,	    /* assembling the header in hbuf */
	WIRE_RX_S_HDR_EV,   /* returned WIRE_RX_HDR */
	WIRE_RX_S_BODY,	    /* receiving hdr.body_len bytes into body */
	WIRE_RX_S_DATA_EV,  /* returned WIRE_RX_DATA */
	WIRE_RX_S_DATA,	    /* receiving hdr.data_len bytes into data */
	WIRE_RX_S_FRAME_EV, /* returned WIRE_RX_FRAME */
	WIRE_RX_S_ERR,	    /* broken for good: err, why */
};

void wire_rx_init(struct wire_rx *rx, void *body, uint32_t body_cap)
{
	memset(rx, 0, sizeof(*rx));
	rx->body = body;
	rx->body_cap = body ? body_cap : 0;
	rx->state = WIRE_RX_S_HDR;
}

void wire_rx_reset(struct wire_rx *rx)
{
	wire_rx_init(rx, rx->body, rx->body_cap);
}

static int wire_rx_fail(struct wire_rx *rx, int err, const char *why)
{
	rx->state = WIRE_RX_S_ERR;
	rx->err = err;
	rx->why = why;
	return err;
}

int wire_rx_step(struct wire_rx *rx)
{
	const char *why;
	int ret;

	for (;;) {
		switch (rx->state) {
		case WIRE_RX_S_HDR:
			if (rx->pos < WIRE_HDR_SIZE)
				return WIRE_RX_NEED;
			ret = wire_frame_decode(rx->hbuf, WIRE_HDR_SIZE,
						&rx->hdr, &why);
			if (ret < 0)
				return wire_rx_fail(rx, ret, why);
			rx->state = WIRE_RX_S_HDR_EV;
			return WIRE_RX_HDR;
		case WIRE_RX_S_HDR_EV:
			if (rx->hdr.body_len > rx->body_cap)
				return wire_rx_fail(rx, -EMSGSIZE,
						    "no room for the body");
			rx->state = WIRE_RX_S_BODY;
			rx->pos = 0;
			break;
		case WIRE_RX_S_BODY:
			if (rx->pos < rx->hdr.body_len)
				return WIRE_RX_NEED;
			rx->data = NULL;
			if (rx->hdr.data_len) {
				rx->state = WIRE_RX_S_DATA_EV;
				return WIRE_RX_DATA;
			}
			rx->state = WIRE_RX_S_FRAME_EV;
			return WIRE_RX_FRAME;
		case WIRE_RX_S_DATA_EV:
			rx->state = WIRE_RX_S_DATA;
			rx->pos = 0;
			break;
		case WIRE_RX_S_DATA:
			if (rx->pos < rx->hdr.data_len)
				return WIRE_RX_NEED;
			rx->state = WIRE_RX_S_FRAME_EV;
			return WIRE_RX_FRAME;
		case WIRE_RX_S_FRAME_EV:
			rx->state = WIRE_RX_S_HDR;
			rx->pos = 0;
			rx->data = NULL;
			memset(&rx->hdr, 0, sizeof(rx->hdr));
			break;
		default:
			return rx->err;
		}
	}
}

size_t wire_rx_want(const struct wire_rx *rx, void **buf)
{
	switch (rx->state) {
	case WIRE_RX_S_HDR:
		if (rx->pos >= WIRE_HDR_SIZE)
			break;
		*buf = (void *)(rx->hbuf + rx->pos);
		return WIRE_HDR_SIZE - rx->pos;
	case WIRE_RX_S_BODY:
		if (rx->pos >= rx->hdr.body_len)
			break;
		*buf = rx->body + rx->pos;
		return rx->hdr.body_len - rx->pos;
	case WIRE_RX_S_DATA:
		if (rx->pos >= rx->hdr.data_len)
			break;
		*buf = rx->data ? rx->data + rx->pos : NULL;
		return rx->hdr.data_len - rx->pos;
	default:
		break;
	}
	*buf = NULL;
	return 0;
}

void wire_rx_got(struct wire_rx *rx, size_t n)
{
	void *buf;
	size_t want = wire_rx_want(rx, &buf);

	/* Never past the part: the state machine relies on pos <= len. */
	rx->pos += (uint32_t)(n < want ? n : want);
}

size_t wire_rx_feed(struct wire_rx *rx, const void *src, size_t len)
{
	void *buf;
	size_t n = wire_rx_want(rx, &buf);

	if (n > len)
		n = len;
	if (n && buf)
		memcpy(buf, src, n);
	rx->pos += (uint32_t)n;
	return n;
}

void wire_rx_set_body(struct wire_rx *rx, void *body, uint32_t cap)
{
	rx->body = body;
	rx->body_cap = body ? cap : 0;
}

void wire_rx_set_data(struct wire_rx *rx, void *data)
{
	if (rx->state == WIRE_RX_S_DATA_EV ||
	    (rx->state == WIRE_RX_S_DATA && !data))
		rx->data = data;
}

int wire_rx_idle(const struct wire_rx *rx)
{
	return (rx->state == WIRE_RX_S_HDR && rx->pos == 0) ||
	       rx->state == WIRE_RX_S_FRAME_EV;
}

/* SPDX-License-Identifier: MIT */
/*
 * wire_frame.h - the cluster wire protocol's frame: a fixed 32-byte header,
 * then body_len bytes of body (encoded by proto/wire_msg.h), then data_len
 * bytes of bulk data (file contents, carried as is).
 *
 * Header layout, every integer little-endian, offsets in bytes:
 *
 *    0  u32 magic     WIRE_MAGIC ("VLRF" as bytes on the wire)
 *    4  u16 version   WIRE_VERSION
 *    6  u16 opcode    what the request asks; a reply repeats it
 *    8  u32 flags     WIRE_F_*; unknown bits are rejected
 *   12  i32 status    replies: 0 or -errno in [-4095, -1]; requests: 0
 *   16  u64 req_id    chosen by the caller, echoed by the reply
 *   24  u32 body_len  at most WIRE_MAX_BODY
 *   28  u32 data_len  at most WIRE_MAX_DATA
 *
 * The header is encoded and decoded field by field (never by copying a C
 * struct), so its layout does not depend on the compiler or the host.
 *
 * Opcodes up to WIRE_OP_TRANSPORT_MAX (the "0x00xx service") belong to the
 * transport: the authentication handshake, run before any other frame.
 * Message codecs (proto/wire_msg.h) use 0x0100 and up.
 *
 * Pure code: no I/O, no globals, no allocation, no logging; links with
 * the other proto/ sources alone (the fuzz target does).
 */
#ifndef VALOR_PROTO_WIRE_FRAME_H
#define VALOR_PROTO_WIRE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC 0x46524c56u /* bytes 'V' 'L' 'R' 'F' */
#define WIRE_VERSION 1
#define WIRE_HDR_SIZE 32
#define WIRE_MAX_BODY (1u << 20)  /* 1 MiB */
#define WIRE_MAX_DATA (64u << 20) /* 64 MiB */

/* flags */
#define WIRE_F_REPLY 0x1u  /* an answer to the request with the same req_id */
#define WIRE_F_ONEWAY 0x2u /* a request that gets no reply */
#define WIRE_F_KNOWN (WIRE_F_REPLY | WIRE_F_ONEWAY)

/* Largest errno a status may carry (Linux's MAX_ERRNO). */
#define WIRE_STATUS_MIN (-4095)

/*
 * The transport's opcodes (same numbers as WIRE_AUTH_* in proto/wire_msg.h;
 * the bodies are common/auth.h's). HELLO and PROOF are requests; ACK is a
 * reply (WIRE_F_REPLY), with status -EACCES when the proof failed.
 */
#define WIRE_OP_TRANSPORT_MAX 0x00ffu
#define WIRE_OP_HELLO 0x0001u /* server -> client, the first frame */
#define WIRE_OP_PROOF 0x0002u /* client -> server */
#define WIRE_OP_ACK 0x0003u   /* server -> client */

/* A decoded header (magic and version are implied). */
struct wire_frame {
	uint16_t opcode;
	uint32_t flags;
	int32_t status;
	uint64_t req_id;
	uint32_t body_len;
	uint32_t data_len;
};

/*
 * Check @f for what decode would reject. Returns 0, -EMSGSIZE (a length
 * over its limit) or -EINVAL (unknown flags, REPLY and ONEWAY together, a
 * status outside [-4095, 0], a nonzero status in a request). If @why is
 * not NULL it gets a static English reason on failure.
 */
int wire_frame_check(const struct wire_frame *f, const char **why);

/*
 * Encode @f into @out (WIRE_HDR_SIZE bytes). Refuses what
 * wire_frame_check() refuses (same return values), leaving @out untouched.
 */
int wire_frame_encode(const struct wire_frame *f, uint8_t out[WIRE_HDR_SIZE]);

/*
 * Decode the header at the start of @buf (@len bytes available; extra
 * bytes are ignored). Returns 0 and fills @out, or:
 *   -EBADMSG   fewer than WIRE_HDR_SIZE bytes
 *   -EPROTO    wrong magic or unsupported version
 *   -EMSGSIZE  body_len or data_len over its limit
 *   -EINVAL    bad flags or status (wire_frame_check)
 * On failure @out is zeroed and, if @why is not NULL, *@why is a static
 * English reason for the log.
 */
int wire_frame_decode(const void *buf, size_t len, struct wire_frame *out,
		      const char **why);

/* ---- streaming receiver ---------------------------------------------------
 *
 * struct wire_rx cuts a byte stream into frames without copying bulk data
 * twice: instead of being handed bytes, it says where the next bytes should
 * go (wire_rx_want), so a transport can read the body into a buffer it owns
 * and the data straight into the buffer the receiver of that frame named.
 * It can also be fed from a staging buffer (wire_rx_feed) for the small
 * parts, which lets the transport read several small frames at once.
 *
 * Drive it with wire_rx_step(): each call returns the next event, and the
 * following call acknowledges it and moves on:
 *
 *   WIRE_RX_NEED   bytes are needed: wire_rx_want()/wire_rx_got() or
 *                  wire_rx_feed(), then step again.
 *   WIRE_RX_HDR    a header passed wire_frame_decode(): rx->hdr is valid.
 *                  If the body buffer is smaller than hdr.body_len, set a
 *                  bigger one now (wire_rx_set_body), or the next step
 *                  fails with -EMSGSIZE. The transport may also refuse the
 *                  frame here (its own limits).
 *   WIRE_RX_DATA   the body is complete and hdr.data_len > 0 bytes of data
 *                  follow: name where they go (wire_rx_set_data), or leave
 *                  the default (NULL: the data is skipped, not stored).
 *   WIRE_RX_FRAME  the frame is complete: rx->hdr, wire_rx_body() and the
 *                  data buffer hold it until the next step.
 *   < 0            the stream is broken (wire_frame_decode's errors, or
 *                  -EMSGSIZE for a body buffer too small); every later
 *                  step returns the same error. wire_rx_why() says why.
 *
 * Nothing here allocates: the caller owns the body and data buffers.
 */
enum wire_rx_event {
	WIRE_RX_NEED = 0,
	WIRE_RX_HDR = 1,
	WIRE_RX_DATA = 2,
	WIRE_RX_FRAME = 3,
};

struct wire_rx {
	/* The current frame's header: valid from WIRE_RX_HDR on. */
	struct wire_frame hdr;
	/* private */
	uint8_t state;		     /* enum wire_rx_state in wire_frame.c */
	uint32_t pos;		     /* bytes of the current part received */
	uint8_t hbuf[WIRE_HDR_SIZE]; /* the header being assembled */
	uint8_t *body;		     /* body buffer, body_cap bytes */
	uint32_t body_cap;
	uint8_t *data;	 /* data sink of this frame, NULL skips */
	int err;	 /* sticky error, 0 while healthy */
	const char *why; /* reason for err */
};

/* Start a stream; @body (@body_cap bytes, may be 0 and NULL) receives
 * bodies until replaced. The caller keeps ownership of @body. */
void wire_rx_init(struct wire_rx *rx, void *body, uint32_t body_cap);
/* Forget any partial frame and error; keep the body buffer. */
void wire_rx_reset(struct wire_rx *rx);

/* Advance; returns the next event (enum wire_rx_event) or -errno. */
int wire_rx_step(struct wire_rx *rx);

/*
 * In WIRE_RX_NEED: how many bytes the current part still needs (> 0) and,
 * in *@buf, where they go, or NULL while skipping data nobody wanted (read
 * them anywhere and report them with wire_rx_got, or use wire_rx_feed).
 * Outside WIRE_RX_NEED: 0.
 */
size_t wire_rx_want(const struct wire_rx *rx, void **buf);
/* @n bytes (<= what wire_rx_want returned) were stored at *buf. */
void wire_rx_got(struct wire_rx *rx, size_t n);
/* Copy (or skip) up to @len bytes from @src into the current part.
 * Returns how many were consumed: 0 outside WIRE_RX_NEED. */
size_t wire_rx_feed(struct wire_rx *rx, const void *src, size_t len);

/* After WIRE_RX_HDR: bodies go to @body (@cap bytes) from now on. */
void wire_rx_set_body(struct wire_rx *rx, void *body, uint32_t cap);
/* After WIRE_RX_DATA: this frame's data goes to @data (hdr.data_len bytes
 * must fit), or is skipped when @data is NULL. Also allowed while the
 * data is arriving (WIRE_RX_NEED in that part), with NULL only: the rest is
 * skipped, e.g. because its receiver went away. */
void wire_rx_set_data(struct wire_rx *rx, void *data);
/* The data sink of the current frame (NULL: skipped). */
static inline void *wire_rx_data(const struct wire_rx *rx)
{
	return rx->data;
}
/* The current frame's body (hdr.body_len bytes), after WIRE_RX_FRAME. */
static inline const void *wire_rx_body(const struct wire_rx *rx)
{
	return rx->body;
}
/* Why the stream broke, or NULL. */
static inline const char *wire_rx_why(const struct wire_rx *rx)
{
	return rx->why;
}
/* 1 when between frames (no partial frame buffered or expected). */
int wire_rx_idle(const struct wire_rx *rx);

#endif

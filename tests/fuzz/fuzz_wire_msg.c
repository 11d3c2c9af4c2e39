// SPDX-License-Identifier: MIT
/*
 * fuzz_wire_msg.c - libFuzzer target for the message body decoders.
 *
 * The first input byte picks a message type (modulo the number of types);
 * the rest is the body. It is copied into a heap buffer of exactly its size,
 * so AddressSanitizer flags any read past the end. When a decode succeeds,
 * the value must survive a round trip, and the encoding must be canonical:
 *
 *   decode(body) = A;  encode(A) = body' ;  body' == body;
 *   decode(body') = B;  B == A (byte for byte, both decoded into zeroed
 *   structs, so padding, unused slots and string tails compare equal).
 *
 * A failed decode must return one of the documented errors. Any mismatch
 * aborts, which libFuzzer reports as a crash with the input saved.
 *
 *   make fuzz && build/fuzz/fuzz_wire_msg -max_total_time=60
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int fuzz_enc_fn(const void *m, uint8_t *buf, size_t cap, size_t *len);
typedef int fuzz_dec_fn(const uint8_t *buf, size_t len, void *out);

struct fuzz_kind {
	const char *name;
	size_t size;
	fuzz_enc_fn *enc;
	fuzz_dec_fn *dec;
};

/* Typed codecs behind untyped pointers, one pair per message. */
#define FUZZ_ADAPT(name)                                                       \
	static int fuzz_enc_##name(const void *m, uint8_t *buf, size_t cap,    \
				   size_t *len)                                \
	{                                                                      \
		return wire_##name##_encode(m, buf, cap, len);                 \
	}                                                                      \
	static int fuzz_dec_##name(const uint8_t *buf, size_t len, void *out)  \
	{                                                                      \
		return wire_##name##_decode(buf, len, out);                    \
	}

FUZZ_ADAPT(register_req)
FUZZ_ADAPT(register_resp)
FUZZ_ADAPT(heartbeat_req)
FUZZ_ADAPT(heartbeat_resp)
FUZZ_ADAPT(routing_req)
FUZZ_ADAPT(routing)
FUZZ_ADAPT(chain_table_create_req)
FUZZ_ADAPT(chain_table_create_resp)
FUZZ_ADAPT(status)
FUZZ_ADAPT(write_req)
FUZZ_ADAPT(write_resp)
FUZZ_ADAPT(read_req)
FUZZ_ADAPT(read_resp)

#define FUZZ_KIND(name)                                                        \
	{                                                                      \
#name, sizeof(struct wire_##name), fuzz_enc_##name,            \
			fuzz_dec_##name                                        \
	}

static const struct fuzz_kind fuzz_kinds[] = {
	FUZZ_KIND(register_req),
	FUZZ_KIND(register_resp),
	FUZZ_KIND(heartbeat_req),
	FUZZ_KIND(heartbeat_resp),
	FUZZ_KIND(routing_req),
	FUZZ_KIND(routing),
	FUZZ_KIND(chain_table_create_req),
	FUZZ_KIND(chain_table_create_resp),
	FUZZ_KIND(status),
	FUZZ_KIND(write_req),
	FUZZ_KIND(write_resp),
	FUZZ_KIND(read_req),
	FUZZ_KIND(read_resp),
};

#define FUZZ_NKINDS (sizeof(fuzz_kinds) / sizeof(fuzz_kinds[0]))

/*
 * Room for the largest struct of every kind, and for the largest body.
 * Static: the fuzzer runs one input at a time, and these are too big for
 * the stack.
 */
union fuzz_any {
	struct wire_register_req register_req;
	struct wire_status status;
	max_align_t align;
};

static union fuzz_any fuzz_a, fuzz_b;
static uint8_t fuzz_out[WIRE_MSG_BODY_MAX];

static void fuzz_fail(const struct fuzz_kind *k, const char *what, int ret)
{
	fprintf(stderr, "fuzz_wire_msg: %s: %s (%d)\n", k->name, what, ret);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_kind *k;
	size_t len = 0, out_len;
	uint8_t *body;
	int ret;

	if (size < 1)
		return 0;
	k = &fuzz_kinds[data[0] % FUZZ_NKINDS];
	len = size - 1;
	body = malloc(len ? len : 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, len);

	memset(&fuzz_a, 0, k->size);
	ret = k->dec(body, len, &fuzz_a);
	if (ret) {
		if (ret != -EBADMSG && ret != -E2BIG && ret != -EINVAL &&
		    ret != -ENAMETOOLONG)
			fuzz_fail(k, "undocumented decode error", ret);
		goto out_free_body;
	}

	/* Whatever decodes encodes, to the same bytes. */
	ret = k->enc(&fuzz_a, fuzz_out, sizeof(fuzz_out), &out_len);
	if (ret)
		fuzz_fail(k, "re-encode failed", ret);
	if (out_len != len || memcmp(fuzz_out, body, len))
		fuzz_fail(k, "encoding not canonical", 0);

	memset(&fuzz_b, 0, k->size);
	ret = k->dec(fuzz_out, out_len, &fuzz_b);
	if (ret)
		fuzz_fail(k, "second decode failed", ret);
	if (memcmp(&fuzz_a, &fuzz_b, k->size))
		fuzz_fail(k, "round trip changed the value", 0);

	/* The same value must not fit one byte short. */
	if (out_len &&
	    k->enc(&fuzz_a, fuzz_out, out_len - 1, &out_len) != -ENOSPC)
		fuzz_fail(k, "short buffer not -ENOSPC", 0);

out_free_body:
	free(body);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * fuzz_wire_cluster.c - libFuzzer target for the storaged and metad body
 * decoders (proto/wire_storage.h, proto/wire_meta.h).
 *
 * The first input byte picks a codec: one of the storage bodies, or a
 * metadata opcode's request or reply (modulo the number of codecs); the
 * rest is the body, copied into a heap buffer of exactly its size so that
 * AddressSanitizer flags any read past it. What decodes must re-encode to
 * the same bytes, decode again to the same value, and not fit a buffer one
 * byte short; a failed decode must return a documented error. Anything
 * else aborts, which libFuzzer reports with the input saved.
 *
 *   make fuzz && build/fuzz/fuzz_wire_cluster -max_total_time=60
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire_meta.h"
#include "proto/wire_msg.h"
#include "proto/wire_storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int fuzz_enc_fn(uint16_t op, const void *m, uint8_t *buf, size_t cap,
			size_t *len);
typedef int fuzz_dec_fn(uint16_t op, const uint8_t *buf, size_t len,
			void *out);

struct fuzz_codec {
	const char *name;
	uint16_t op; /* metadata codecs: the opcode; 0 otherwise */
	size_t size;
	fuzz_enc_fn *enc;
	fuzz_dec_fn *dec;
};

/* Storage codecs behind the common signature (the opcode is unused). */
#define FUZZ_STORAGE(name)                                                     \
	static int fuzz_enc_##name(uint16_t op, const void *m, uint8_t *buf,   \
				   size_t cap, size_t *len)                    \
	{                                                                      \
		return wire_storage_##name##_encode(m, buf, cap, len);         \
	}                                                                      \
	static int fuzz_dec_##name(uint16_t op, const uint8_t *buf,            \
				   size_t len, void *out)                      \
	{                                                                      \
		return wire_storage_##name##_decode(buf, len, out);            \
	}

FUZZ_STORAGE(write_req)
FUZZ_STORAGE(truncate_req)
FUZZ_STORAGE(remove_req)
FUZZ_STORAGE(remove_resp)
FUZZ_STORAGE(sync_req)
FUZZ_STORAGE(last_req)
FUZZ_STORAGE(last_resp)
FUZZ_STORAGE(dump_req)
FUZZ_STORAGE(dump_resp)
FUZZ_STORAGE(space_req)
FUZZ_STORAGE(space_resp)
FUZZ_STORAGE(commit_req)
FUZZ_STORAGE(cut_req)
FUZZ_STORAGE(resync_req)

static int fuzz_enc_meta_req(uint16_t op, const void *m, uint8_t *buf,
			     size_t cap, size_t *len)
{
	return wire_meta_req_encode(op, m, buf, cap, len);
}

static int fuzz_dec_meta_req(uint16_t op, const uint8_t *buf, size_t len,
			     void *out)
{
	return wire_meta_req_decode(op, buf, len, out);
}

static int fuzz_enc_meta_rep(uint16_t op, const void *m, uint8_t *buf,
			     size_t cap, size_t *len)
{
	return wire_meta_rep_encode(op, m, buf, cap, len);
}

static int fuzz_dec_meta_rep(uint16_t op, const uint8_t *buf, size_t len,
			     void *out)
{
	return wire_meta_rep_decode(op, buf, len, out);
}

#define FUZZ_S(name)                                                           \
	{                                                                      \
		#name, 0, sizeof(struct wire_storage_##name),                  \
			fuzz_enc_##name, fuzz_dec_##name                       \
	}

static const struct fuzz_codec fuzz_storage[] = {
	FUZZ_S(write_req),  FUZZ_S(truncate_req), FUZZ_S(remove_req),
	FUZZ_S(remove_resp), FUZZ_S(sync_req),	  FUZZ_S(last_req),
	FUZZ_S(last_resp),  FUZZ_S(dump_req),	  FUZZ_S(dump_resp),
	FUZZ_S(space_req),  FUZZ_S(space_resp),	  FUZZ_S(commit_req),
	FUZZ_S(cut_req),    FUZZ_S(resync_req),
};

#define FUZZ_NSTORAGE (sizeof(fuzz_storage) / sizeof(fuzz_storage[0]))
/* Every metadata opcode, request and reply. */
#define FUZZ_NMETA (WIRE_META_RENEW - WIRE_META_LOOKUP + 1)
#define FUZZ_NCODECS (FUZZ_NSTORAGE + 2 * FUZZ_NMETA)

/* Room for the largest of all (static: too big for the stack). */
union fuzz_any {
	struct wire_storage_dump_resp dump;
	struct wire_meta_req req;
	struct wire_meta_rep rep;
	max_align_t align;
};

static union fuzz_any fuzz_a, fuzz_b;
static uint8_t fuzz_out[WIRE_META_BODY_MAX + WIRE_STORAGE_DUMP_RESP_MAX_LEN];

static void fuzz_fail(const struct fuzz_codec *k, const char *what, int ret)
{
	fprintf(stderr, "fuzz_wire_cluster: %s (op 0x%04x): %s (%d)\n",
		k->name, k->op, what, ret);
	abort();
}

static void fuzz_pick(unsigned n, struct fuzz_codec *k)
{
	unsigned i = n % FUZZ_NCODECS;

	if (i < FUZZ_NSTORAGE) {
		*k = fuzz_storage[i];
		return;
	}
	i -= FUZZ_NSTORAGE;
	k->op = (uint16_t)(WIRE_META_LOOKUP + i / 2);
	if (i % 2) {
		k->name = "meta reply";
		k->size = sizeof(struct wire_meta_rep);
		k->enc = fuzz_enc_meta_rep;
		k->dec = fuzz_dec_meta_rep;
	} else {
		k->name = "meta request";
		k->size = sizeof(struct wire_meta_req);
		k->enc = fuzz_enc_meta_req;
		k->dec = fuzz_dec_meta_req;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_codec k;
	size_t len, out_len;
	uint8_t *body;
	int ret;

	if (size < 1)
		return 0;
	fuzz_pick(data[0], &k);
	len = size - 1;
	body = malloc(len ? len : 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, len);

	memset(&fuzz_a, 0, k.size);
	ret = k.dec(k.op, body, len, &fuzz_a);
	if (ret) {
		if (ret != -EBADMSG && ret != -E2BIG && ret != -EINVAL &&
		    ret != -ENAMETOOLONG)
			fuzz_fail(&k, "undocumented decode error", ret);
		goto out_free_body;
	}
	ret = k.enc(k.op, &fuzz_a, fuzz_out, sizeof(fuzz_out), &out_len);
	if (ret)
		fuzz_fail(&k, "re-encode failed", ret);
	if (out_len != len || memcmp(fuzz_out, body, len))
		fuzz_fail(&k, "encoding not canonical", 0);
	memset(&fuzz_b, 0, k.size);
	ret = k.dec(k.op, fuzz_out, out_len, &fuzz_b);
	if (ret)
		fuzz_fail(&k, "second decode failed", ret);
	if (memcmp(&fuzz_a, &fuzz_b, k.size))
		fuzz_fail(&k, "round trip changed the value", 0);
	if (out_len &&
	    k.enc(k.op, &fuzz_a, fuzz_out, out_len - 1, &out_len) != -ENOSPC)
		fuzz_fail(&k, "short buffer not -ENOSPC", 0);
out_free_body:
	free(body);
	return 0;
}

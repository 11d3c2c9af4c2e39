// SPDX-License-Identifier: MIT
/*
 * fuzz_fuse_decode.c - libFuzzer target for the request decoder.
 *
 * The input is one message. It is copied into a heap buffer of exactly its
 * size (malloc is 16-byte aligned, which satisfies the decoder's 8), so
 * AddressSanitizer flags any read past the end. Each input is decoded under
 * a few session contexts (before INIT, current with and without
 * SETXATTR_EXT, old minors that change argument sizes). After a successful
 * decode every pointer the decoder handed out is walked over its full stated
 * length, and the log formatter runs with a tiny and a roomy buffer.
 *
 * The reply encoders get the same input as a directory entry name.
 *
 *   make fuzz && build/fuzz/fuzz_fuse_decode -max_total_time=60
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fuse_decode.h"
#include "proto/fuse_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct fuse_decode_ctx fuzz_ctxs[] = {
	{.minor = 0, .flags = 0},
	{.minor = 45, .flags = FUSE_INIT_EXT},
	{.minor = 45, .flags = FUSE_INIT_EXT | FUSE_SETXATTR_EXT},
	{.minor = 8, .flags = 0},
	{.minor = 11, .flags = 0},
};

/* Keeps the compiler from dropping the reads below. */
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

/* A name must be terminated inside the message and within its limit. */
static void fuzz_name(const char *s, size_t limit, const uint8_t *buf,
		      size_t len)
{
	size_t n;

	if (!s)
		abort();
	n = strlen(s);
	if ((const uint8_t *)s < buf || (const uint8_t *)s + n >= buf + len)
		abort();
	if (n > limit)
		abort();
}

static void fuzz_check(const struct fuse_req_in *r, const uint8_t *buf,
		       size_t len)
{
	const typeof(r->u) *u = &r->u;

	switch (r->opcode) {
	case FUSE_LOOKUP:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_REMOVEXATTR:
		fuzz_name(u->name.name, 255, buf, len);
		break;
	case FUSE_SYMLINK:
		fuzz_name(u->symlink.name, 255, buf, len);
		fuzz_name(u->symlink.target, 4095, buf, len);
		break;
	case FUSE_MKNOD:
		fuzz_name(u->mknod.name, 255, buf, len);
		break;
	case FUSE_MKDIR:
		fuzz_name(u->mkdir.name, 255, buf, len);
		break;
	case FUSE_RENAME:
	case FUSE_RENAME2:
		fuzz_name(u->rename.oldname, 255, buf, len);
		fuzz_name(u->rename.newname, 255, buf, len);
		break;
	case FUSE_LINK:
		fuzz_name(u->link.name, 255, buf, len);
		break;
	case FUSE_CREATE:
		fuzz_name(u->create.name, 255, buf, len);
		break;
	case FUSE_TMPFILE:
		fuzz_name(u->create.name, SIZE_MAX, buf, len);
		break;
	case FUSE_WRITE:
		fuzz_touch(u->write.data, u->write.in.size);
		break;
	case FUSE_SETXATTR:
		fuzz_name(u->setxattr.name, 255, buf, len);
		fuzz_touch(u->setxattr.value, u->setxattr.size);
		break;
	case FUSE_GETXATTR:
		fuzz_name(u->getxattr.name, 255, buf, len);
		break;
	case FUSE_BATCH_FORGET:
		fuzz_touch(u->batch_forget.items,
			   (size_t)u->batch_forget.count *
				   sizeof(struct fuse_forget_one));
		break;
	default:
		break;
	}
}

static void fuzz_decode(const uint8_t *buf, size_t len)
{
	struct fuse_req_in req;
	char small[16], big[1024];
	size_t i;
	int ret, n;

	for (i = 0; i < sizeof(fuzz_ctxs) / sizeof(fuzz_ctxs[0]); i++) {
		ret = fuse_decode(buf, len, &fuzz_ctxs[i], &req);
		if (len < sizeof(struct fuse_in_header) && req.unique)
			abort();
		if (ret == -EPROTO || ret == -ENOSYS)
			continue;
		/* A failed decode still formats: its arguments are zeroed. */
		n = fuse_req_format(big, sizeof(big), &req);
		if (n < 0 || fuse_req_format(small, sizeof(small), &req) != n)
			abort();
		if (strlen(small) >= sizeof(small) ||
		    strlen(big) != ((size_t)n < sizeof(big) ? (size_t)n
							    : sizeof(big) - 1))
			abort();
		if (ret == 0)
			fuzz_check(&req, buf, len);
		(void)fuse_opcode_name(req.opcode);
		(void)fuse_opcode_noreply(req.opcode);
	}
}

/* Use the input as a dirent name: records must stay inside the buffer. */
static void fuzz_reply(const uint8_t *data, size_t size)
{
	static uint64_t out[256];
	struct fuse_entry_out e = {.nodeid = 2, .attr = {.ino = 2}};
	size_t cap = size ? data[0] * 8u : 0, pos;

	if (cap > sizeof(out))
		cap = sizeof(out);
	pos = fuse_dirent_add(out, cap, 0, (const char *)data, size, 1, 8, 1);
	if (pos > cap || pos % 8)
		abort();
	pos = fuse_direntplus_add(out, cap, pos, (const char *)data, size, &e,
				  8, 2);
	if (pos > cap || pos % 8)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	fuzz_decode(buf, size);
	free(buf);
	fuzz_reply(data, size);
	return 0;
}

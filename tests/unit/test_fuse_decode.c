// SPDX-License-Identifier: MIT
/*
 * test_fuse_decode.c - the request decoder against hand-built messages.
 *
 * Every message is assembled byte by byte in an 8-byte-aligned buffer the
 * way the kernel lays it out. A table describes each opcode's wire shape
 * (fixed argument, names, trailing data); table-driven tests build a valid
 * message per opcode and then break it in each way the decoder must catch.
 * The bytes after the message are zero, so a decoder that read past the end
 * would find a terminator there and wrongly succeed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/fuse_decode.h"

/* cmocka hands every test a state pointer these tests have no use for. */
#define TEST_UNUSED __attribute__((unused))

#define TEST_MSG_MAX 16384
#define TEST_UNIQUE 0x1122334455667788ULL
#define TEST_NODEID 42

/* ------------------------------------------------------------------------ */
/* Message builder                                                           */

struct test_msg {
	union {
		uint64_t align;
		uint8_t b[TEST_MSG_MAX];
	} u;
	size_t len;
};

static void test_msg_init(struct test_msg *m, uint32_t opcode)
{
	struct fuse_in_header h = {
		.opcode = opcode,
		.unique = TEST_UNIQUE,
		.nodeid = TEST_NODEID,
		.uid = 1000,
		.gid = 100,
		.pid = 4321,
	};

	memset(m->u.b, 0, sizeof(m->u.b));
	memcpy(m->u.b, &h, sizeof(h));
	m->len = sizeof(h);
}

/* Append @n bytes; returns where they landed. */
static const uint8_t *test_msg_put(struct test_msg *m, const void *p, size_t n)
{
	uint8_t *at = m->u.b + m->len;

	assert_true(m->len + n <= sizeof(m->u.b));
	if (n)
		memcpy(at, p, n);
	m->len += n;
	return at;
}

/* Append @s with its NUL (or without, to build a malformed name). */
static const char *test_msg_put_str(struct test_msg *m, const char *s,
				    int terminate)
{
	return (const char *)test_msg_put(m, s,
					  strlen(s) + (terminate ? 1 : 0));
}

static void test_msg_set_extlen(struct test_msg *m, uint16_t extlen)
{
	memcpy(m->u.b + offsetof(struct fuse_in_header, total_extlen), &extlen,
	       sizeof(extlen));
}

/* Set hdr.len to the bytes built so far and decode. */
static int test_msg_decode(struct test_msg *m,
			   const struct fuse_decode_ctx *ctx,
			   struct fuse_req_in *out)
{
	uint32_t len = (uint32_t)m->len;

	memcpy(m->u.b, &len, sizeof(len));
	return fuse_decode(m->u.b, m->len, ctx, out);
}

static const struct fuse_decode_ctx test_ctx_current = {
	.minor = FUSE_KERNEL_MINOR_VERSION,
	.flags = FUSE_INIT_EXT,
};

/* A string of @n copies of @ch (static storage, overwritten per call). */
static const char *test_str_rep(char ch, size_t n)
{
	static char s[TEST_MSG_MAX / 2];

	assert_true(n < sizeof(s));
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/* ------------------------------------------------------------------------ */
/* The opcode table                                                          */

enum test_name_kind {
	TN_NONE,
	TN_DENTRY, /* 1..255, else -EINVAL / -ENAMETOOLONG */
	TN_XATTR,  /* 1..255, else -EINVAL / -ERANGE */
	TN_TARGET, /* 1..4095, else -EINVAL / -ENAMETOOLONG */
	TN_ANY,	   /* anything terminated */
};

struct test_op {
	uint32_t opcode;
	size_t fixed;	  /* bytes of fixed argument on the wire */
	size_t min_fixed; /* fewest accepted, if less than fixed */
	size_t copy_off;  /* where its first copy_len bytes must land */
	size_t copy_len;
	enum test_name_kind n1, n2;
	size_t n1_off, n2_off; /* offsets of the const char * fields */
	int noreply;
};

#define DST(member) offsetof(struct fuse_req_in, u.member)

static const struct test_op test_ops[] = {
	{.opcode = FUSE_LOOKUP, .n1 = TN_DENTRY, .n1_off = DST(name.name)},
	{.opcode = FUSE_FORGET,
	 .fixed = 8,
	 .copy_off = DST(forget),
	 .copy_len = 8,
	 .noreply = 1},
	{.opcode = FUSE_GETATTR,
	 .fixed = 16,
	 .copy_off = DST(getattr),
	 .copy_len = 16},
	{.opcode = FUSE_SETATTR,
	 .fixed = 88,
	 .copy_off = DST(setattr),
	 .copy_len = 88},
	{.opcode = FUSE_READLINK},
	{.opcode = FUSE_SYMLINK,
	 .n1 = TN_DENTRY,
	 .n1_off = DST(symlink.name),
	 .n2 = TN_TARGET,
	 .n2_off = DST(symlink.target)},
	{.opcode = FUSE_MKNOD,
	 .fixed = 16,
	 .copy_off = DST(mknod.in),
	 .copy_len = 16,
	 .n1 = TN_DENTRY,
	 .n1_off = DST(mknod.name)},
	{.opcode = FUSE_MKDIR,
	 .fixed = 8,
	 .copy_off = DST(mkdir.in),
	 .copy_len = 8,
	 .n1 = TN_DENTRY,
	 .n1_off = DST(mkdir.name)},
	{.opcode = FUSE_UNLINK, .n1 = TN_DENTRY, .n1_off = DST(name.name)},
	{.opcode = FUSE_RMDIR, .n1 = TN_DENTRY, .n1_off = DST(name.name)},
	{.opcode = FUSE_RENAME,
	 .fixed = 8,
	 .copy_off = DST(rename),
	 .copy_len = 8,
	 .n1 = TN_DENTRY,
	 .n1_off = DST(rename.oldname),
	 .n2 = TN_DENTRY,
	 .n2_off = DST(rename.newname)},
	{.opcode = FUSE_LINK,
	 .fixed = 8,
	 .copy_off = DST(link),
	 .copy_len = 8,
	 .n1 = TN_DENTRY,
	 .n1_off = DST(link.name)},
	{.opcode = FUSE_OPEN, .fixed = 8, .copy_off = DST(open), .copy_len = 8},
	{.opcode = FUSE_READ,
	 .fixed = 40,
	 .copy_off = DST(read),
	 .copy_len = 40},
	{.opcode = FUSE_WRITE,
	 .fixed = 40,
	 .copy_off = DST(write.in),
	 .copy_len = 40},
	{.opcode = FUSE_STATFS},
	{.opcode = FUSE_RELEASE,
	 .fixed = 24,
	 .copy_off = DST(release),
	 .copy_len = 24},
	{.opcode = FUSE_FSYNC,
	 .fixed = 16,
	 .copy_off = DST(fsync),
	 .copy_len = 16},
	{.opcode = FUSE_SETXATTR,
	 .fixed = 8,
	 .copy_off = DST(setxattr),
	 .copy_len = 8,
	 .n1 = TN_XATTR,
	 .n1_off = DST(setxattr.name)},
	{.opcode = FUSE_GETXATTR,
	 .fixed = 8,
	 .copy_off = DST(getxattr),
	 .copy_len = 4,
	 .n1 = TN_XATTR,
	 .n1_off = DST(getxattr.name)},
	{.opcode = FUSE_LISTXATTR,
	 .fixed = 8,
	 .copy_off = DST(getxattr),
	 .copy_len = 4},
	{.opcode = FUSE_REMOVEXATTR, .n1 = TN_XATTR, .n1_off = DST(name.name)},
	{.opcode = FUSE_FLUSH,
	 .fixed = 24,
	 .copy_off = DST(flush),
	 .copy_len = 24},
	{.opcode = FUSE_INIT,
	 .fixed = 64,
	 .min_fixed = 8,
	 .copy_off = DST(init),
	 .copy_len = 64},
	{.opcode = FUSE_OPENDIR,
	 .fixed = 8,
	 .copy_off = DST(open),
	 .copy_len = 8},
	{.opcode = FUSE_READDIR,
	 .fixed = 40,
	 .copy_off = DST(read),
	 .copy_len = 40},
	{.opcode = FUSE_RELEASEDIR,
	 .fixed = 24,
	 .copy_off = DST(release),
	 .copy_len = 24},
	{.opcode = FUSE_FSYNCDIR,
	 .fixed = 16,
	 .copy_off = DST(fsync),
	 .copy_len = 16},
	{.opcode = FUSE_GETLK,
	 .fixed = 48,
	 .copy_off = DST(lk),
	 .copy_len = 48},
	{.opcode = FUSE_SETLK,
	 .fixed = 48,
	 .copy_off = DST(lk),
	 .copy_len = 48},
	{.opcode = FUSE_SETLKW,
	 .fixed = 48,
	 .copy_off = DST(lk),
	 .copy_len = 48},
	{.opcode = FUSE_ACCESS,
	 .fixed = 8,
	 .copy_off = DST(access),
	 .copy_len = 8},
	{.opcode = FUSE_CREATE,
	 .fixed = 16,
	 .copy_off = DST(create.in),
	 .copy_len = 16,
	 .n1 = TN_DENTRY,
	 .n1_off = DST(create.name)},
	{.opcode = FUSE_INTERRUPT,
	 .fixed = 8,
	 .copy_off = DST(interrupt),
	 .copy_len = 8},
	{.opcode = FUSE_BMAP,
	 .fixed = 16,
	 .copy_off = DST(bmap),
	 .copy_len = 16},
	{.opcode = FUSE_DESTROY},
	{.opcode = FUSE_IOCTL,
	 .fixed = 32,
	 .copy_off = DST(ioctl),
	 .copy_len = 32},
	{.opcode = FUSE_POLL,
	 .fixed = 24,
	 .copy_off = DST(poll),
	 .copy_len = 24},
	{.opcode = FUSE_NOTIFY_REPLY, .fixed = 40},
	{.opcode = FUSE_BATCH_FORGET,
	 .fixed = 8,
	 .copy_off = DST(batch_forget),
	 .copy_len = 4,
	 .noreply = 1},
	{.opcode = FUSE_FALLOCATE,
	 .fixed = 32,
	 .copy_off = DST(fallocate),
	 .copy_len = 32},
	{.opcode = FUSE_READDIRPLUS,
	 .fixed = 40,
	 .copy_off = DST(read),
	 .copy_len = 40},
	{.opcode = FUSE_RENAME2,
	 .fixed = 16,
	 .copy_off = DST(rename),
	 .copy_len = 12,
	 .n1 = TN_DENTRY,
	 .n1_off = DST(rename.oldname),
	 .n2 = TN_DENTRY,
	 .n2_off = DST(rename.newname)},
	{.opcode = FUSE_LSEEK,
	 .fixed = 24,
	 .copy_off = DST(lseek),
	 .copy_len = 24},
	{.opcode = FUSE_COPY_FILE_RANGE,
	 .fixed = 56,
	 .copy_off = DST(copy_file_range),
	 .copy_len = 56},
	{.opcode = FUSE_SETUPMAPPING, .fixed = 40},
	{.opcode = FUSE_REMOVEMAPPING, .fixed = 4},
	{.opcode = FUSE_SYNCFS,
	 .fixed = 8,
	 .copy_off = DST(syncfs),
	 .copy_len = 8},
	{.opcode = FUSE_TMPFILE,
	 .fixed = 16,
	 .copy_off = DST(create.in),
	 .copy_len = 16,
	 .n1 = TN_ANY,
	 .n1_off = DST(create.name)},
	{.opcode = FUSE_STATX,
	 .fixed = 24,
	 .copy_off = DST(statx),
	 .copy_len = 24},
	{.opcode = FUSE_COPY_FILE_RANGE_64,
	 .fixed = 56,
	 .copy_off = DST(copy_file_range),
	 .copy_len = 56},
	{.opcode = CUSE_INIT,
	 .fixed = 16,
	 .copy_off = DST(init),
	 .copy_len = 16},
};

#define TEST_NOPS (sizeof(test_ops) / sizeof(test_ops[0]))

/* Distinct, mostly non-zero bytes per opcode for the fixed argument. */
static void test_pattern(uint32_t opcode, uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(opcode * 31 + i * 7 + 1);
}

static void test_put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

/*
 * Make the size/count fields of @fixed agree with the data the builder
 * appends, and return how many trailing bytes that is.
 */
static size_t test_fixup(uint32_t opcode, uint8_t *fixed)
{
	switch (opcode) {
	case FUSE_WRITE:
		test_put32(fixed, offsetof(struct fuse_write_in, size), 13);
		return 13;
	case FUSE_SETXATTR:
		test_put32(fixed, offsetof(struct fuse_setxattr_in, size), 6);
		return 6;
	case FUSE_BATCH_FORGET:
		test_put32(fixed, offsetof(struct fuse_batch_forget_in, count),
			   2);
		return 2 * sizeof(struct fuse_forget_one);
	case FUSE_IOCTL:
		test_put32(fixed, offsetof(struct fuse_ioctl_in, in_size), 5);
		return 5;
	case FUSE_NOTIFY_REPLY:
		test_put32(fixed,
			   offsetof(struct fuse_notify_retrieve_in, size), 7);
		return 7;
	case FUSE_REMOVEMAPPING:
		test_put32(fixed, offsetof(struct fuse_removemapping_in, count),
			   1);
		return sizeof(struct fuse_removemapping_one);
	case FUSE_INIT:
		test_put32(fixed, offsetof(struct fuse_init_in, flags),
			   (uint32_t)FUSE_INIT_EXT | 0x1);
		return 0;
	default:
		return 0;
	}
}

/* Pointers into the built message, for checking the decoder's output. */
struct test_built {
	uint8_t fixed[128]; /* largest fixed argument: setattr_in, 88 */
	const char *n1, *n2;
	const uint8_t *tail;
	size_t tail_len;
};

/*
 * Build @op's message: @fixed_len bytes of fixed argument, then the names
 * (@t1/@t2: terminate them), then trailing data unless @with_tail is 0.
 */
static void test_op_build(struct test_msg *m, const struct test_op *op,
			  size_t fixed_len, const char *name1, int t1,
			  const char *name2, int t2, int with_tail,
			  struct test_built *b)
{
	uint8_t tail[64];
	size_t i;

	memset(b, 0, sizeof(*b));
	test_msg_init(m, op->opcode);
	assert_true(op->fixed <= sizeof(b->fixed));
	test_pattern(op->opcode, b->fixed, op->fixed);
	b->tail_len = test_fixup(op->opcode, b->fixed);
	test_msg_put(m, b->fixed, fixed_len);
	if (op->n1 != TN_NONE && name1)
		b->n1 = test_msg_put_str(m, name1, t1);
	if (op->n2 != TN_NONE && name2)
		b->n2 = test_msg_put_str(m, name2, t2);
	if (!with_tail)
		return;
	for (i = 0; i < b->tail_len; i++)
		tail[i] = (uint8_t)(0xa0 + i);
	b->tail = test_msg_put(m, tail, b->tail_len);
}

static const char *test_valid_name(enum test_name_kind kind)
{
	switch (kind) {
	case TN_XATTR:
		return "user.valor";
	case TN_TARGET:
		return "../some/target";
	case TN_ANY:
		return "/";
	default:
		return "entry.txt";
	}
}

static const char *test_req_str(const struct fuse_req_in *req, size_t off)
{
	const char *s;

	memcpy(&s, (const char *)req + off, sizeof(s));
	return s;
}

static void test_op_build_valid(struct test_msg *m, const struct test_op *op,
				struct test_built *b)
{
	test_op_build(m, op, op->fixed, test_valid_name(op->n1), 1,
		      test_valid_name(op->n2), 1, 1, b);
}

/* ------------------------------------------------------------------------ */
/* Table-driven tests                                                        */

static void test_fuse_decode__every_opcode_valid(void **state TEST_UNUSED)
{
	size_t i;

	for (i = 0; i < TEST_NOPS; i++) {
		const struct test_op *op = &test_ops[i];
		struct fuse_req_in req;
		struct test_built b;
		struct test_msg m;
		int ret;

		test_op_build_valid(&m, op, &b);
		ret = test_msg_decode(&m, &test_ctx_current, &req);
		if (ret)
			fail_msg("%s: decode returned %d",
				 fuse_opcode_name(op->opcode), ret);
		assert_int_equal(req.opcode, op->opcode);
		assert_int_equal(req.len, m.len);
		assert_true(req.unique == TEST_UNIQUE);
		assert_true(req.nodeid == TEST_NODEID);
		assert_int_equal(req.uid, 1000);
		assert_int_equal(req.gid, 100);
		assert_int_equal(req.pid, 4321);
		if (op->copy_len)
			assert_memory_equal((const char *)&req + op->copy_off,
					    b.fixed, op->copy_len);
		if (op->n1 != TN_NONE) {
			assert_ptr_equal(test_req_str(&req, op->n1_off), b.n1);
			assert_string_equal(test_req_str(&req, op->n1_off),
					    test_valid_name(op->n1));
		}
		if (op->n2 != TN_NONE) {
			assert_ptr_equal(test_req_str(&req, op->n2_off), b.n2);
			assert_string_equal(test_req_str(&req, op->n2_off),
					    test_valid_name(op->n2));
		}
		assert_int_equal(fuse_opcode_noreply(op->opcode), op->noreply);
		assert_string_not_equal(fuse_opcode_name(op->opcode),
					"UNKNOWN");
	}
}

static void
test_fuse_decode__table_covers_every_opcode(void **state TEST_UNUSED)
{
	size_t known = 0, i;
	uint32_t opc;

	for (opc = 0; opc <= FUSE_OPCODE_MAX; opc++) {
		if (strcmp(fuse_opcode_name(opc), "UNKNOWN") == 0)
			continue;
		known++;
		for (i = 0; i < TEST_NOPS; i++)
			if (test_ops[i].opcode == opc)
				break;
		if (i == TEST_NOPS)
			fail_msg("opcode %u has no test entry", opc);
	}
	/* 53 numbers, minus the never-assigned 7 and 19, plus CUSE_INIT. */
	assert_int_equal(known, 51);
	assert_int_equal(TEST_NOPS, 52);
	assert_string_equal(fuse_opcode_name(CUSE_INIT), "CUSE_INIT");
}

static void
test_fuse_decode__truncated_fixed_arg_is_einval(void **state TEST_UNUSED)
{
	size_t i, checked = 0;

	for (i = 0; i < TEST_NOPS; i++) {
		const struct test_op *op = &test_ops[i];
		size_t min = op->min_fixed ? op->min_fixed : op->fixed;
		struct fuse_req_in req;
		struct test_built b;
		struct test_msg m;
		int ret;

		if (!op->fixed)
			continue;
		/* Only the truncated argument: nothing after it to borrow. */
		test_op_build(&m, op, min - 1, NULL, 1, NULL, 1, 0, &b);
		ret = test_msg_decode(&m, &test_ctx_current, &req);
		if (ret != -EINVAL)
			fail_msg("%s with %zu of %zu bytes: %d",
				 fuse_opcode_name(op->opcode), min - 1, min,
				 ret);
		assert_true(req.unique == TEST_UNIQUE);
		assert_int_equal(req.opcode, op->opcode);
		checked++;
	}
	assert_int_equal(checked, 44);
}

static void
test_fuse_decode__unterminated_names_are_einval(void **state TEST_UNUSED)
{
	size_t i, checked = 0;

	for (i = 0; i < TEST_NOPS; i++) {
		const struct test_op *op = &test_ops[i];
		struct fuse_req_in req;
		struct test_built b;
		struct test_msg m;
		int ret;

		if (op->n1 == TN_NONE)
			continue;
		test_op_build(&m, op, op->fixed, test_valid_name(op->n1), 0,
			      NULL, 1, 0, &b);
		ret = test_msg_decode(&m, &test_ctx_current, &req);
		if (ret != -EINVAL)
			fail_msg("%s first name: %d",
				 fuse_opcode_name(op->opcode), ret);
		checked++;

		if (op->n2 == TN_NONE)
			continue;
		test_op_build(&m, op, op->fixed, test_valid_name(op->n1), 1,
			      test_valid_name(op->n2), 0, 0, &b);
		ret = test_msg_decode(&m, &test_ctx_current, &req);
		if (ret != -EINVAL)
			fail_msg("%s second name: %d",
				 fuse_opcode_name(op->opcode), ret);
		checked++;
	}
	/* 14 ops carry a name, 3 of them a second one. */
	assert_int_equal(checked, 17);
}

static int test_long_errno(enum test_name_kind kind)
{
	switch (kind) {
	case TN_XATTR:
		return -ERANGE;
	case TN_ANY:
		return 0;
	default:
		return -ENAMETOOLONG;
	}
}

static void test_fuse_decode__names_of_256_rejected(void **state TEST_UNUSED)
{
	size_t i;

	for (i = 0; i < TEST_NOPS; i++) {
		const struct test_op *op = &test_ops[i];
		char n256[257], n255[256];
		struct fuse_req_in req;
		struct test_built b;
		struct test_msg m;
		int ret;

		if (op->n1 == TN_NONE)
			continue;
		memset(n256, 'a', 256);
		n256[256] = '\0';
		memset(n255, 'b', 255);
		n255[255] = '\0';

		/* 255 is the longest accepted. */
		test_op_build(&m, op, op->fixed, n255, 1,
			      test_valid_name(op->n2), 1, 1, &b);
		assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req),
				 0);
		assert_int_equal(strlen(test_req_str(&req, op->n1_off)), 255);

		test_op_build(&m, op, op->fixed, n256, 1,
			      test_valid_name(op->n2), 1, 1, &b);
		ret = test_msg_decode(&m, &test_ctx_current, &req);
		if (ret != test_long_errno(op->n1))
			fail_msg("%s long first name: %d",
				 fuse_opcode_name(op->opcode), ret);

		/* A symlink target may be longer; covered separately. */
		if (op->n2 != TN_DENTRY)
			continue;
		test_op_build(&m, op, op->fixed, test_valid_name(op->n1), 1,
			      n256, 1, 1, &b);
		assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req),
				 -ENAMETOOLONG);
	}
}

static void test_fuse_decode__empty_names_rejected(void **state TEST_UNUSED)
{
	size_t i;

	for (i = 0; i < TEST_NOPS; i++) {
		const struct test_op *op = &test_ops[i];
		struct fuse_req_in req;
		struct test_built b;
		struct test_msg m;
		int ret;

		if (op->n1 == TN_NONE)
			continue;
		test_op_build(&m, op, op->fixed, "", 1, test_valid_name(op->n2),
			      1, 1, &b);
		ret = test_msg_decode(&m, &test_ctx_current, &req);
		if (ret != (op->n1 == TN_ANY ? 0 : -EINVAL))
			fail_msg("%s empty first name: %d",
				 fuse_opcode_name(op->opcode), ret);

		if (op->n2 == TN_NONE)
			continue;
		test_op_build(&m, op, op->fixed, test_valid_name(op->n1), 1, "",
			      1, 1, &b);
		assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req),
				 -EINVAL);
	}
}

/* ------------------------------------------------------------------------ */
/* Header and framing                                                        */

static void
test_fuse_decode__short_header_is_eproto_unique_zero(void **state TEST_UNUSED)
{
	struct fuse_req_in req;
	struct test_msg m;
	size_t len;

	test_msg_init(&m, FUSE_STATFS);
	for (len = 0; len < sizeof(struct fuse_in_header); len++) {
		memset(&req, 0xff, sizeof(req));
		assert_int_equal(
			fuse_decode(m.u.b, len, &test_ctx_current, &req),
			-EPROTO);
		assert_true(req.unique == 0);
	}
}

static void
test_fuse_decode__header_len_mismatch_is_eproto(void **state TEST_UNUSED)
{
	struct fuse_req_in req;
	struct test_msg m;
	uint32_t bad;

	test_msg_init(&m, FUSE_LOOKUP);
	test_msg_put_str(&m, "x", 1);

	bad = (uint32_t)m.len + 1;
	memcpy(m.u.b, &bad, sizeof(bad));
	assert_int_equal(fuse_decode(m.u.b, m.len, &test_ctx_current, &req),
			 -EPROTO);
	assert_true(req.unique == TEST_UNIQUE);
	assert_int_equal(req.opcode, FUSE_LOOKUP);

	bad = (uint32_t)m.len - 1;
	memcpy(m.u.b, &bad, sizeof(bad));
	assert_int_equal(fuse_decode(m.u.b, m.len, &test_ctx_current, &req),
			 -EPROTO);
	assert_true(req.unique == TEST_UNIQUE);
}

static void test_fuse_decode__unknown_opcode_is_enosys(void **state TEST_UNUSED)
{
	static const uint32_t bad[] = {0, 7, 19, 54, 4095, 4097, 0xffffffff};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fuse_req_in req;
		struct test_msg m;

		test_msg_init(&m, bad[i]);
		test_msg_put_str(&m, "padding", 1);
		assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req),
				 -ENOSYS);
		assert_true(req.unique == TEST_UNIQUE);
		assert_int_equal(req.opcode, bad[i]);
		assert_string_equal(fuse_opcode_name(bad[i]), "UNKNOWN");
		assert_int_equal(fuse_opcode_noreply(bad[i]), 0);
	}
}

static void test_fuse_decode__extensions_are_cut_off(void **state TEST_UNUSED)
{
	struct fuse_mkdir_in in = {.mode = 0755, .umask = 022};
	struct fuse_req_in req;
	uint8_t ext[16] = {16, 0, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0, 5};
	struct test_msg m;

	test_msg_init(&m, FUSE_MKDIR);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put_str(&m, "dir", 1);
	/* Pad the op part to 8 so the extension is aligned, as the kernel does.
	 */
	test_msg_put(&m, "\0\0\0\0", 4);
	test_msg_put(&m, ext, sizeof(ext));
	test_msg_set_extlen(&m, 2);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_string_equal(req.u.mkdir.name, "dir");
	assert_int_equal(req.u.mkdir.in.mode, 0755);

	/* An unterminated name must not find its NUL inside the extension. */
	test_msg_init(&m, FUSE_MKDIR);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put_str(&m, "dir", 0);
	test_msg_put(&m, ext, sizeof(ext));
	test_msg_set_extlen(&m, 2);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
}

static void test_fuse_decode__extlen_overrun_is_einval(void **state TEST_UNUSED)
{
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_LOOKUP);
	test_msg_put_str(&m, "1234567", 1);
	/* 8 bytes of payload: one unit fits, two do not. */
	test_msg_set_extlen(&m, 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req),
			 -EINVAL); /* name is now empty of payload */
	test_msg_set_extlen(&m, 2);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
	assert_true(req.unique == TEST_UNIQUE);
	test_msg_set_extlen(&m, 0xffff);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);

	/* STATFS has no argument, so one whole unit of extension is fine. */
	test_msg_init(&m, FUSE_STATFS);
	test_msg_put(&m, "\x08\0\0\0\x20\0\0\0", 8);
	test_msg_set_extlen(&m, 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	test_msg_set_extlen(&m, 2);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
}

static void test_fuse_decode__null_ctx_means_current(void **state TEST_UNUSED)
{
	struct fuse_getattr_in in = {.getattr_flags = FUSE_GETATTR_FH,
				     .fh = 77};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_GETATTR);
	test_msg_put(&m, &in, sizeof(in));
	assert_int_equal(test_msg_decode(&m, NULL, &req), 0);
	assert_true(req.u.getattr.fh == 77);
}

/* ------------------------------------------------------------------------ */
/* Per-op                                                                    */

static void test_fuse_decode__write_data_and_size(void **state TEST_UNUSED)
{
	struct fuse_write_in in = {.fh = 9,
				   .offset = 4096,
				   .size = 5,
				   .write_flags = FUSE_WRITE_CACHE};
	struct fuse_req_in req;
	const uint8_t *data;
	struct test_msg m;

	test_msg_init(&m, FUSE_WRITE);
	test_msg_put(&m, &in, sizeof(in));
	data = test_msg_put(&m, "hello", 5);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_ptr_equal(req.u.write.data, data);
	assert_memory_equal(req.u.write.data, "hello", 5);
	assert_int_equal(req.u.write.in.size, 5);
	assert_true(req.u.write.in.offset == 4096);
	assert_true(req.u.write.in.fh == 9);

	/* Data sits right after the header and write_in: 80 bytes in. */
	assert_ptr_equal(data, m.u.b + 80);

	/* Zero-length write. */
	in.size = 0;
	test_msg_init(&m, FUSE_WRITE);
	test_msg_put(&m, &in, sizeof(in));
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_int_equal(req.u.write.in.size, 0);
}

static void
test_fuse_decode__write_size_overrun_is_einval(void **state TEST_UNUSED)
{
	struct fuse_write_in in = {.fh = 9, .size = 6};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_WRITE);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put(&m, "hello", 5);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
	/* A failed decode leaves no half-filled arguments behind. */
	assert_int_equal(req.u.write.in.size, 0);
	assert_null(req.u.write.data);
	assert_true(req.unique == TEST_UNIQUE);

	in.size = 0xffffffff;
	test_msg_init(&m, FUSE_WRITE);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put(&m, "hello", 5);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);

	/* The data must not reach into the extensions either. */
	in.size = 8;
	test_msg_init(&m, FUSE_WRITE);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put(&m, "12345678", 8);
	test_msg_set_extlen(&m, 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
}

static void test_fuse_decode__write_compat_minor_8(void **state TEST_UNUSED)
{
	struct fuse_decode_ctx old = {.minor = 8};
	struct fuse_write_in in = {.fh = 3, .offset = 10, .size = 2};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_WRITE);
	test_msg_put(&m, &in, FUSE_COMPAT_WRITE_IN_SIZE);
	test_msg_put(&m, "ok", 2);
	assert_int_equal(test_msg_decode(&m, &old, &req), 0);
	assert_int_equal(req.u.write.in.size, 2);
	assert_memory_equal(req.u.write.data, "ok", 2);
	assert_true(req.u.write.in.lock_owner == 0);
}

static void test_fuse_decode__setxattr_compat_layout(void **state TEST_UNUSED)
{
	struct fuse_setxattr_in in = {.size = 3, .flags = 1};
	struct fuse_req_in req;
	struct test_msg m;
	const uint8_t *value;

	test_msg_init(&m, FUSE_SETXATTR);
	test_msg_put(&m, &in, FUSE_COMPAT_SETXATTR_IN_SIZE);
	test_msg_put_str(&m, "user.a", 1);
	value = test_msg_put(&m, "xyz", 3);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_string_equal(req.u.setxattr.name, "user.a");
	assert_int_equal(req.u.setxattr.size, 3);
	assert_int_equal(req.u.setxattr.flags, 1);
	assert_ptr_equal(req.u.setxattr.value, value);
}

static void test_fuse_decode__setxattr_ext_layout(void **state TEST_UNUSED)
{
	struct fuse_decode_ctx ext = {
		.minor = 45, .flags = FUSE_INIT_EXT | FUSE_SETXATTR_EXT};
	struct fuse_setxattr_in in = {
		.size = 4,
		.flags = 2,
		.setxattr_flags = FUSE_SETXATTR_ACL_KILL_SGID,
	};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_SETXATTR);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put_str(&m, "system.posix_acl_access", 1);
	test_msg_put(&m, "\x02\0\0\0", 4);
	assert_int_equal(test_msg_decode(&m, &ext, &req), 0);
	assert_string_equal(req.u.setxattr.name, "system.posix_acl_access");
	assert_int_equal(req.u.setxattr.size, 4);
	assert_int_equal(req.u.setxattr.flags, 2);
	assert_memory_equal(req.u.setxattr.value, "\x02\0\0\0", 4);

	/* The 16-byte layout must be complete when negotiated. */
	test_msg_init(&m, FUSE_SETXATTR);
	test_msg_put(&m, &in, 12);
	assert_int_equal(test_msg_decode(&m, &ext, &req), -EINVAL);
}

static void
test_fuse_decode__setxattr_value_overrun_is_einval(void **state TEST_UNUSED)
{
	struct fuse_setxattr_in in = {.size = 4};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_SETXATTR);
	test_msg_put(&m, &in, FUSE_COMPAT_SETXATTR_IN_SIZE);
	test_msg_put_str(&m, "user.a", 1);
	test_msg_put(&m, "xyz", 3);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
	assert_null(req.u.setxattr.name);

	/* Zero-length values are legal. */
	in.size = 0;
	test_msg_init(&m, FUSE_SETXATTR);
	test_msg_put(&m, &in, FUSE_COMPAT_SETXATTR_IN_SIZE);
	test_msg_put_str(&m, "user.empty", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_int_equal(req.u.setxattr.size, 0);
}

static void test_fuse_decode__getxattr_and_listxattr(void **state TEST_UNUSED)
{
	struct fuse_getxattr_in in = {.size = 200};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_GETXATTR);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put_str(&m, "trusted.x", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_int_equal(req.u.getxattr.size, 200);
	assert_string_equal(req.u.getxattr.name, "trusted.x");

	test_msg_init(&m, FUSE_LISTXATTR);
	in.size = 0;
	test_msg_put(&m, &in, sizeof(in));
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_int_equal(req.u.getxattr.size, 0);
	assert_null(req.u.getxattr.name);
}

static void test_fuse_decode__batch_forget_items(void **state TEST_UNUSED)
{
	struct fuse_batch_forget_in in = {.count = 3};
	struct fuse_forget_one items[3] = {
		{10, 1},
		{11, 2},
		{12, 300},
	};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_BATCH_FORGET);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put(&m, items, sizeof(items));
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_int_equal(req.u.batch_forget.count, 3);
	assert_true(((uintptr_t)req.u.batch_forget.items & 7) == 0);
	assert_true(req.u.batch_forget.items[0].nodeid == 10);
	assert_true(req.u.batch_forget.items[2].nodeid == 12);
	assert_true(req.u.batch_forget.items[2].nlookup == 300);
	assert_true(fuse_opcode_noreply(FUSE_BATCH_FORGET));

	in.count = 0;
	test_msg_init(&m, FUSE_BATCH_FORGET);
	test_msg_put(&m, &in, sizeof(in));
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_int_equal(req.u.batch_forget.count, 0);
}

static void
test_fuse_decode__batch_forget_count_overrun_is_einval(void **state TEST_UNUSED)
{
	struct fuse_batch_forget_in in = {.count = 3};
	struct fuse_forget_one items[3] = {{1, 1}, {2, 1}, {3, 1}};
	struct fuse_req_in req;
	struct test_msg m;

	/* Two and a half items for a count of 3. */
	test_msg_init(&m, FUSE_BATCH_FORGET);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put(&m, items, sizeof(items) - 8);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
	assert_int_equal(req.u.batch_forget.count, 0);

	/* A count whose byte size would wrap 32 bits. */
	in.count = 0x10000001;
	test_msg_init(&m, FUSE_BATCH_FORGET);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put(&m, items, sizeof(items));
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
	in.count = 0xffffffff;
	memcpy(m.u.b + sizeof(struct fuse_in_header), &in, sizeof(in));
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
}

static void test_fuse_decode__forget(void **state TEST_UNUSED)
{
	struct fuse_forget_in in = {.nlookup = 5};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_FORGET);
	test_msg_put(&m, &in, sizeof(in));
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_true(req.u.forget.nlookup == 5);
	assert_true(req.nodeid == TEST_NODEID);
	assert_true(fuse_opcode_noreply(FUSE_FORGET));
	assert_false(fuse_opcode_noreply(FUSE_LOOKUP));
	assert_false(fuse_opcode_noreply(FUSE_INTERRUPT));
}

static void test_fuse_decode__init_full_64_bytes(void **state TEST_UNUSED)
{
	struct fuse_init_in in = {
		.major = 7,
		.minor = 45,
		.max_readahead = 131072,
		.flags = 0x73fffffb,
		.flags2 = 0x5fd,
	};
	struct fuse_decode_ctx before = {0};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_INIT);
	test_msg_put(&m, &in, sizeof(in));
	assert_int_equal(m.len, 104);
	assert_int_equal(test_msg_decode(&m, &before, &req), 0);
	assert_int_equal(req.u.init.major, 7);
	assert_int_equal(req.u.init.minor, 45);
	assert_int_equal(req.u.init.max_readahead, 131072);
	assert_int_equal(req.u.init.flags, 0x73fffffb);
	assert_int_equal(req.u.init.flags2, 0x5fd);
}

static void
test_fuse_decode__init_old_16_bytes_zero_filled(void **state TEST_UNUSED)
{
	struct fuse_init_in in = {
		.major = 7,
		.minor = 26,
		.max_readahead = 65536,
		.flags = 0x1ff,
	};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_INIT);
	test_msg_put(&m, &in, FUSE_COMPAT_INIT_IN_SIZE);
	/* Garbage just past the message must not be copied in. */
	memset(m.u.b + m.len, 0x5a, 48);
	assert_int_equal(test_msg_decode(&m, NULL, &req), 0);
	assert_int_equal(req.u.init.minor, 26);
	assert_int_equal(req.u.init.flags, 0x1ff);
	assert_int_equal(req.u.init.flags2, 0);
	assert_int_equal(req.u.init.unused[10], 0);

	/* major + minor is the least a version negotiation needs. */
	test_msg_init(&m, FUSE_INIT);
	test_msg_put(&m, &in, 8);
	assert_int_equal(test_msg_decode(&m, NULL, &req), 0);
	assert_int_equal(req.u.init.major, 7);
	assert_int_equal(req.u.init.max_readahead, 0);
	test_msg_init(&m, FUSE_INIT);
	test_msg_put(&m, &in, 7);
	assert_int_equal(test_msg_decode(&m, NULL, &req), -EINVAL);
}

static void
test_fuse_decode__init_flags2_needs_init_ext(void **state TEST_UNUSED)
{
	struct fuse_init_in in = {
		.major = 7,
		.minor = 36,
		.flags = 0x1,
		.flags2 = 0xffff,
	};
	struct fuse_req_in req;
	struct test_msg m;

	in.unused[0] = 9;
	test_msg_init(&m, FUSE_INIT);
	test_msg_put(&m, &in, sizeof(in));
	assert_int_equal(test_msg_decode(&m, NULL, &req), 0);
	assert_int_equal(req.u.init.flags2, 0);
	assert_int_equal(req.u.init.unused[0], 0);

	/* A longer INIT from some future minor: the first 64 bytes count. */
	in.flags |= (uint32_t)FUSE_INIT_EXT;
	test_msg_init(&m, FUSE_INIT);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put(&m, "\1\2\3\4\5\6\7\x8", 8);
	assert_int_equal(test_msg_decode(&m, NULL, &req), 0);
	assert_int_equal(req.u.init.flags2, 0xffff);
}

static void test_fuse_decode__cuse_init(void **state TEST_UNUSED)
{
	struct cuse_init_in in = {.major = 7, .minor = 45, .flags = 1};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, CUSE_INIT);
	test_msg_put(&m, &in, sizeof(in));
	assert_int_equal(test_msg_decode(&m, NULL, &req), 0);
	assert_int_equal(req.u.init.major, 7);
	assert_int_equal(req.u.init.minor, 45);
	assert_int_equal(req.u.init.flags, 1);
}

static void test_fuse_decode__rename_and_rename2(void **state TEST_UNUSED)
{
	struct fuse_rename_in r1 = {.newdir = 99};
	struct fuse_rename2_in r2 = {.newdir = 98, .flags = 1 /* NOREPLACE */};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_RENAME);
	test_msg_put(&m, &r1, sizeof(r1));
	test_msg_put_str(&m, "old", 1);
	test_msg_put_str(&m, "new", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_true(req.u.rename.newdir == 99);
	assert_int_equal(req.u.rename.flags, 0);
	assert_string_equal(req.u.rename.oldname, "old");
	assert_string_equal(req.u.rename.newname, "new");

	test_msg_init(&m, FUSE_RENAME2);
	test_msg_put(&m, &r2, sizeof(r2));
	test_msg_put_str(&m, "a", 1);
	test_msg_put_str(&m, "b", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_true(req.u.rename.newdir == 98);
	assert_int_equal(req.u.rename.flags, 1);
	assert_string_equal(req.u.rename.oldname, "a");
	assert_string_equal(req.u.rename.newname, "b");

	/* The second name missing entirely. */
	test_msg_init(&m, FUSE_RENAME2);
	test_msg_put(&m, &r2, sizeof(r2));
	test_msg_put_str(&m, "a", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
}

static void test_fuse_decode__symlink_target_limits(void **state TEST_UNUSED)
{
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_SYMLINK);
	test_msg_put_str(&m, "link", 1);
	test_msg_put_str(&m, test_str_rep('t', FUSE_DECODE_SYMLINK_MAX), 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_string_equal(req.u.symlink.name, "link");
	assert_int_equal(strlen(req.u.symlink.target), 4095);

	test_msg_init(&m, FUSE_SYMLINK);
	test_msg_put_str(&m, "link", 1);
	test_msg_put_str(&m, test_str_rep('t', FUSE_DECODE_SYMLINK_MAX + 1), 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req),
			 -ENAMETOOLONG);

	/* The entry name keeps the 255 limit even though targets are longer. */
	test_msg_init(&m, FUSE_SYMLINK);
	test_msg_put_str(&m, test_str_rep('n', 256), 1);
	test_msg_put_str(&m, "t", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req),
			 -ENAMETOOLONG);
}

static void
test_fuse_decode__tmpfile_accepts_kernel_names(void **state TEST_UNUSED)
{
	struct fuse_create_in in = {.flags = 02, .mode = 0100600, .umask = 022};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_TMPFILE);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put_str(&m, "/", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_string_equal(req.u.create.name, "/");
	assert_int_equal(req.u.create.in.mode, 0100600);

	/* Unterminated is still malformed. */
	test_msg_init(&m, FUSE_TMPFILE);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put_str(&m, "/", 0);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
}

static void test_fuse_decode__create_and_link(void **state TEST_UNUSED)
{
	struct fuse_create_in cin = {.flags = 0101,
				     .mode = 0100644,
				     .umask = 022,
				     .open_flags = FUSE_OPEN_KILL_SUIDGID};
	struct fuse_link_in lin = {.oldnodeid = 1234};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_CREATE);
	test_msg_put(&m, &cin, sizeof(cin));
	test_msg_put_str(&m, "new.txt", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_int_equal(req.u.create.in.flags, 0101);
	assert_int_equal(req.u.create.in.mode, 0100644);
	assert_int_equal(req.u.create.in.umask, 022);
	assert_int_equal(req.u.create.in.open_flags, FUSE_OPEN_KILL_SUIDGID);
	assert_string_equal(req.u.create.name, "new.txt");

	test_msg_init(&m, FUSE_LINK);
	test_msg_put(&m, &lin, sizeof(lin));
	test_msg_put_str(&m, "hard", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_true(req.u.link.oldnodeid == 1234);
	assert_string_equal(req.u.link.name, "hard");
}

static void
test_fuse_decode__compat_sizes_for_old_minors(void **state TEST_UNUSED)
{
	struct fuse_decode_ctx m8 = {.minor = 8}, m11 = {.minor = 11};
	struct fuse_read_in rin = {.fh = 5, .offset = 6, .size = 7};
	struct fuse_mknod_in nin = {.mode = 020644, .rdev = 0x0801};
	struct fuse_create_in cin = {.flags = 1, .mode = 0100600};
	struct fuse_req_in req;
	struct test_msg m;

	/* GETATTR had no argument before 7.9. */
	test_msg_init(&m, FUSE_GETATTR);
	assert_int_equal(test_msg_decode(&m, &m8, &req), 0);
	assert_int_equal(req.u.getattr.getattr_flags, 0);
	/* ...but a current session must send it. */
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);

	test_msg_init(&m, FUSE_READ);
	test_msg_put(&m, &rin, FUSE_COMPAT_WRITE_IN_SIZE);
	assert_int_equal(test_msg_decode(&m, &m8, &req), 0);
	assert_int_equal(req.u.read.size, 7);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);

	test_msg_init(&m, FUSE_MKNOD);
	test_msg_put(&m, &nin, FUSE_COMPAT_MKNOD_IN_SIZE);
	test_msg_put_str(&m, "dev", 1);
	assert_int_equal(test_msg_decode(&m, &m11, &req), 0);
	assert_int_equal(req.u.mknod.in.mode, 020644);
	assert_int_equal(req.u.mknod.in.rdev, 0x0801);
	assert_int_equal(req.u.mknod.in.umask, 0);
	assert_string_equal(req.u.mknod.name, "dev");

	test_msg_init(&m, FUSE_CREATE);
	test_msg_put(&m, &cin, 8);
	test_msg_put_str(&m, "c", 1);
	assert_int_equal(test_msg_decode(&m, &m11, &req), 0);
	assert_int_equal(req.u.create.in.mode, 0100600);
	assert_string_equal(req.u.create.name, "c");
}

static void
test_fuse_decode__refused_ops_check_their_sizes(void **state TEST_UNUSED)
{
	struct fuse_ioctl_in io = {.cmd = 0x5401, .in_size = 8};
	struct fuse_notify_retrieve_in nr = {.size = 4};
	struct fuse_removemapping_in rm = {.count = 2};
	struct fuse_req_in req;
	struct test_msg m;

	test_msg_init(&m, FUSE_IOCTL);
	test_msg_put(&m, &io, sizeof(io));
	test_msg_put(&m, "1234567", 7);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
	test_msg_put(&m, "8", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	assert_int_equal(req.u.ioctl.cmd, 0x5401);

	test_msg_init(&m, FUSE_NOTIFY_REPLY);
	test_msg_put(&m, &nr, sizeof(nr));
	test_msg_put(&m, "abc", 3);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);

	test_msg_init(&m, FUSE_REMOVEMAPPING);
	test_msg_put(&m, &rm, sizeof(rm));
	test_msg_put(&m, test_str_rep('r', 31), 31);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), -EINVAL);
	test_msg_put(&m, "r", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
}

static void test_fuse_decode__no_arg_ops(void **state TEST_UNUSED)
{
	static const uint32_t ops[] = {FUSE_READLINK, FUSE_STATFS,
				       FUSE_DESTROY};
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct fuse_req_in req;
		struct test_msg m;

		test_msg_init(&m, ops[i]);
		assert_int_equal(m.len, 40);
		assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req),
				 0);
		assert_int_equal(req.opcode, ops[i]);
	}
}

/* ------------------------------------------------------------------------ */
/* Names and formatting                                                      */

static void test_fuse_decode__opcode_names(void **state TEST_UNUSED)
{
	assert_string_equal(fuse_opcode_name(FUSE_LOOKUP), "LOOKUP");
	assert_string_equal(fuse_opcode_name(FUSE_BATCH_FORGET),
			    "BATCH_FORGET");
	assert_string_equal(fuse_opcode_name(FUSE_STATX), "STATX");
	assert_string_equal(fuse_opcode_name(FUSE_COPY_FILE_RANGE_64),
			    "COPY_FILE_RANGE_64");
	assert_string_equal(fuse_opcode_name(CUSE_INIT), "CUSE_INIT");
	assert_string_equal(fuse_opcode_name(7), "UNKNOWN");
	assert_string_equal(fuse_opcode_name(54), "UNKNOWN");
}

static void test_fuse_decode__format_lookup(void **state TEST_UNUSED)
{
	struct fuse_req_in req;
	struct test_msg m;
	char out[128];
	int n;

	test_msg_init(&m, FUSE_LOOKUP);
	memcpy(m.u.b + offsetof(struct fuse_in_header, unique), &(uint64_t){4},
	       8);
	memcpy(m.u.b + offsetof(struct fuse_in_header, nodeid), &(uint64_t){1},
	       8);
	test_msg_put_str(&m, "file", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	n = fuse_req_format(out, sizeof(out), &req);
	assert_string_equal(out, "LOOKUP unique=4 nodeid=1 name=\"file\"");
	assert_int_equal(n, (int)strlen(out));
}

static void
test_fuse_decode__format_truncates_like_snprintf(void **state TEST_UNUSED)
{
	struct fuse_req_in req;
	struct test_msg m;
	char out[8];
	int full, n;

	test_msg_init(&m, FUSE_UNLINK);
	test_msg_put_str(&m, "gone", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	full = fuse_req_format(NULL, 0, &req);
	memset(out, 'Z', sizeof(out));
	n = fuse_req_format(out, sizeof(out), &req);
	assert_int_equal(n, full);
	assert_true(full > (int)sizeof(out));
	assert_string_equal(out, "UNLINK ");
}

static void test_fuse_decode__format_escapes_and_octal(void **state TEST_UNUSED)
{
	struct fuse_mkdir_in in = {.mode = 0755, .umask = 022};
	struct fuse_req_in req;
	struct test_msg m;
	char out[256];

	test_msg_init(&m, FUSE_MKDIR);
	test_msg_put(&m, &in, sizeof(in));
	test_msg_put_str(&m, "a\"b\n\\", 1);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	fuse_req_format(out, sizeof(out), &req);
	assert_non_null(strstr(out, "name=\"a\\\"b\\x0a\\\\\""));
	assert_non_null(strstr(out, " mode=0755 umask=022"));
}

static void test_fuse_decode__format_key_args(void **state TEST_UNUSED)
{
	struct fuse_write_in win = {.fh = 7, .offset = 8192, .size = 3};
	struct fuse_setattr_in sin = {
		.valid = FATTR_MODE | FATTR_SIZE, .mode = 0640, .size = 100};
	struct fuse_req_in req;
	struct test_msg m;
	char out[512];

	test_msg_init(&m, FUSE_WRITE);
	test_msg_put(&m, &win, sizeof(win));
	test_msg_put(&m, "abc", 3);
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	fuse_req_format(out, sizeof(out), &req);
	assert_non_null(strstr(out, "WRITE unique="));
	assert_non_null(strstr(out, " fh=7 offset=8192 size=3"));

	test_msg_init(&m, FUSE_SETATTR);
	test_msg_put(&m, &sin, sizeof(sin));
	assert_int_equal(test_msg_decode(&m, &test_ctx_current, &req), 0);
	fuse_req_format(out, sizeof(out), &req);
	assert_non_null(strstr(out, " mode=0640"));
	assert_non_null(strstr(out, " size=100"));
	assert_null(strstr(out, " uid="));

	/* Unknown opcodes still format, with their number. */
	memset(&req, 0, sizeof(req));
	req.opcode = 99;
	req.unique = 5;
	fuse_req_format(out, sizeof(out), &req);
	assert_string_equal(out, "UNKNOWN(99) unique=5 nodeid=0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fuse_decode__every_opcode_valid),
		cmocka_unit_test(test_fuse_decode__table_covers_every_opcode),
		cmocka_unit_test(
			test_fuse_decode__truncated_fixed_arg_is_einval),
		cmocka_unit_test(
			test_fuse_decode__unterminated_names_are_einval),
		cmocka_unit_test(test_fuse_decode__names_of_256_rejected),
		cmocka_unit_test(test_fuse_decode__empty_names_rejected),
		cmocka_unit_test(
			test_fuse_decode__short_header_is_eproto_unique_zero),
		cmocka_unit_test(
			test_fuse_decode__header_len_mismatch_is_eproto),
		cmocka_unit_test(test_fuse_decode__unknown_opcode_is_enosys),
		cmocka_unit_test(test_fuse_decode__extensions_are_cut_off),
		cmocka_unit_test(test_fuse_decode__extlen_overrun_is_einval),
		cmocka_unit_test(test_fuse_decode__null_ctx_means_current),
		cmocka_unit_test(test_fuse_decode__write_data_and_size),
		cmocka_unit_test(
			test_fuse_decode__write_size_overrun_is_einval),
		cmocka_unit_test(test_fuse_decode__write_compat_minor_8),
		cmocka_unit_test(test_fuse_decode__setxattr_compat_layout),
		cmocka_unit_test(test_fuse_decode__setxattr_ext_layout),
		cmocka_unit_test(
			test_fuse_decode__setxattr_value_overrun_is_einval),
		cmocka_unit_test(test_fuse_decode__getxattr_and_listxattr),
		cmocka_unit_test(test_fuse_decode__batch_forget_items),
		cmocka_unit_test(
			test_fuse_decode__batch_forget_count_overrun_is_einval),
		cmocka_unit_test(test_fuse_decode__forget),
		cmocka_unit_test(test_fuse_decode__init_full_64_bytes),
		cmocka_unit_test(
			test_fuse_decode__init_old_16_bytes_zero_filled),
		cmocka_unit_test(test_fuse_decode__init_flags2_needs_init_ext),
		cmocka_unit_test(test_fuse_decode__cuse_init),
		cmocka_unit_test(test_fuse_decode__rename_and_rename2),
		cmocka_unit_test(test_fuse_decode__symlink_target_limits),
		cmocka_unit_test(
			test_fuse_decode__tmpfile_accepts_kernel_names),
		cmocka_unit_test(test_fuse_decode__create_and_link),
		cmocka_unit_test(test_fuse_decode__compat_sizes_for_old_minors),
		cmocka_unit_test(
			test_fuse_decode__refused_ops_check_their_sizes),
		cmocka_unit_test(test_fuse_decode__no_arg_ops),
		cmocka_unit_test(test_fuse_decode__opcode_names),
		cmocka_unit_test(test_fuse_decode__format_lookup),
		cmocka_unit_test(
			test_fuse_decode__format_truncates_like_snprintf),
		cmocka_unit_test(test_fuse_decode__format_escapes_and_octal),
		cmocka_unit_test(test_fuse_decode__format_key_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

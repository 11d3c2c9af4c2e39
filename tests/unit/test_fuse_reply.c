// SPDX-License-Identifier: MIT
/*
 * test_fuse_reply.c - reply header rules, READDIR/READDIRPLUS record layout
 * and the timeout split, checked byte by byte against the wire format.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/fuse_reply.h"

/* cmocka hands every test a state pointer these tests have no use for. */
#define TEST_UNUSED __attribute__((unused))

/* A reply buffer, 8-byte aligned; bytes never written stay 0xcc. */
struct test_buf {
	union {
		uint64_t align;
		uint8_t b[1024];
	} u;
};

static void test_buf_init(struct test_buf *t)
{
	memset(t->u.b, 0xcc, sizeof(t->u.b));
}

/* ------------------------------------------------------------------------ */
/* fuse_out_header_fill                                                      */

static void test_fuse_reply__header_success(void **state TEST_UNUSED)
{
	struct fuse_out_header h;

	assert_int_equal(fuse_out_header_fill(&h, 77, 0, 104), 0);
	assert_int_equal(h.len, 16 + 104);
	assert_int_equal(h.error, 0);
	assert_true(h.unique == 77);

	assert_int_equal(fuse_out_header_fill(&h, 78, 0, 0), 0);
	assert_int_equal(h.len, 16);
}

static void test_fuse_reply__header_error(void **state TEST_UNUSED)
{
	struct fuse_out_header h;

	assert_int_equal(fuse_out_header_fill(&h, 5, -ENOENT, 0), 0);
	assert_int_equal(h.len, 16);
	assert_int_equal(h.error, -ENOENT);
	assert_true(h.unique == 5);

	/* -511 is the most negative errno the kernel takes. */
	assert_int_equal(fuse_out_header_fill(&h, 5, -511, 0), 0);
	assert_int_equal(h.error, -511);
}

static void
test_fuse_reply__header_rejects_bad_replies(void **state TEST_UNUSED)
{
	struct fuse_out_header h, before;

	memset(&h, 0xab, sizeof(h));
	before = h;

	/* Positive errno. */
	assert_int_equal(fuse_out_header_fill(&h, 1, ENOENT, 0), -EINVAL);
	/* Beyond the kernel's range. */
	assert_int_equal(fuse_out_header_fill(&h, 1, -512, 0), -EINVAL);
	assert_int_equal(fuse_out_header_fill(&h, 1, -100000, 0), -EINVAL);
	/* An error carrying a payload. */
	assert_int_equal(fuse_out_header_fill(&h, 1, -EIO, 8), -EINVAL);
	/* Too long for the 32-bit len field. */
	assert_int_equal(fuse_out_header_fill(&h, 1, 0, (size_t)UINT32_MAX),
			 -EINVAL);

	/* None of the refusals touched the header. */
	assert_memory_equal(&h, &before, sizeof(h));

	/* The largest payload that still fits. */
	assert_int_equal(fuse_out_header_fill(&h, 1, 0, UINT32_MAX - 16), 0);
	assert_int_equal(h.len, UINT32_MAX);
}

/* ------------------------------------------------------------------------ */
/* Sizes                                                                     */

static void test_fuse_reply__entry_sizes(void **state TEST_UNUSED)
{
	assert_int_equal(fuse_dirent_size(1), 32);
	assert_int_equal(fuse_dirent_size(8), 32);
	assert_int_equal(fuse_dirent_size(9), 40);
	assert_int_equal(fuse_dirent_size(255), 280);
	assert_int_equal(fuse_direntplus_size(1), 160);
	assert_int_equal(fuse_direntplus_size(8), 160);
	assert_int_equal(fuse_direntplus_size(9), 168);
	/* Huge lengths saturate instead of wrapping to something small. */
	assert_true(fuse_dirent_size(SIZE_MAX) == SIZE_MAX);
	assert_true(fuse_direntplus_size(SIZE_MAX - 100) == SIZE_MAX);
}

/* ------------------------------------------------------------------------ */
/* READDIR                                                                   */

static void test_fuse_reply__dirent_layout_and_padding(void **state TEST_UNUSED)
{
	struct test_buf t;
	struct fuse_dirent d;
	size_t pos;

	test_buf_init(&t);
	pos = fuse_dirent_add(t.u.b, sizeof(t.u.b), 0, "abc", 3, 1234, 4, 1);
	assert_int_equal(pos, 32);

	memcpy(&d, t.u.b, sizeof(d));
	assert_true(d.ino == 1234);
	assert_true(d.off == 1);
	assert_int_equal(d.namelen, 3);
	assert_int_equal(d.type, 4);
	assert_memory_equal(t.u.b + 24, "abc", 3);
	/* Padding is zero, and nothing past the record was written. */
	assert_memory_equal(t.u.b + 27, "\0\0\0\0\0", 5);
	assert_int_equal(t.u.b[32], 0xcc);

	/* The next record starts 8-aligned right after. */
	pos = fuse_dirent_add(t.u.b, sizeof(t.u.b), pos, "longer-name", 11, 5,
			      8, 2);
	assert_int_equal(pos, 32 + 40);
	memcpy(&d, t.u.b + 32, sizeof(d));
	assert_int_equal(d.namelen, 11);
	assert_true(d.off == 2);
	assert_memory_equal(t.u.b + 32 + 24, "longer-name", 11);
	assert_memory_equal(t.u.b + 32 + 35, "\0\0\0\0\0", 5);
	assert_int_equal(t.u.b[72], 0xcc);

	/* A name that fills its 8 bytes exactly gets no padding. */
	pos = fuse_dirent_add(t.u.b, sizeof(t.u.b), pos, "12345678", 8, 6, 8,
			      3);
	assert_int_equal(pos, 72 + 32);
	assert_int_equal(t.u.b[104], 0xcc);
}

static void test_fuse_reply__dirent_does_not_fit(void **state TEST_UNUSED)
{
	struct test_buf t;
	size_t pos;

	test_buf_init(&t);
	/* Exactly one 32-byte record fits in 32 bytes... */
	pos = fuse_dirent_add(t.u.b, 32, 0, "a", 1, 1, 8, 1);
	assert_int_equal(pos, 32);
	/* ...and nothing more, not even partly. */
	assert_int_equal(fuse_dirent_add(t.u.b, 32, pos, "b", 1, 2, 8, 2), 32);
	assert_int_equal(fuse_dirent_add(t.u.b, 63, pos, "b", 1, 2, 8, 2), 32);
	assert_int_equal(t.u.b[32], 0xcc);
	/* A position already past the end. */
	assert_int_equal(fuse_dirent_add(t.u.b, 16, 40, "b", 1, 2, 8, 2), 40);
	/* Zero capacity. */
	assert_int_equal(fuse_dirent_add(t.u.b, 0, 0, "b", 1, 2, 8, 2), 0);
}

static void
test_fuse_reply__dirent_refuses_names_kernel_rejects(void **state TEST_UNUSED)
{
	struct test_buf t;
	char big[1025];

	test_buf_init(&t);
	memset(big, 'x', sizeof(big));
	assert_int_equal(
		fuse_dirent_add(t.u.b, sizeof(t.u.b), 8, "", 0, 1, 8, 1), 8);
	assert_int_equal(
		fuse_dirent_add(t.u.b, sizeof(t.u.b), 8, "a/b", 3, 1, 8, 1), 8);
	assert_int_equal(fuse_direntplus_add(t.u.b, sizeof(t.u.b), 0, "a/b", 3,
					     &(struct fuse_entry_out){0}, 8, 1),
			 0);
	/* Over the kernel's dirent name limit: refused before the fit check. */
	assert_int_equal(
		fuse_dirent_add(t.u.b, SIZE_MAX, 0, big, 1025, 1, 8, 1), 0);
	assert_int_equal(t.u.b[0], 0xcc);
	assert_int_equal(t.u.b[8], 0xcc);
}

/* ------------------------------------------------------------------------ */
/* READDIRPLUS                                                               */

static void test_fuse_reply__direntplus_layout(void **state TEST_UNUSED)
{
	struct fuse_entry_out e = {
		.nodeid = 900,
		.generation = 3,
		.entry_valid = 1,
		.attr_valid = 2,
		.entry_valid_nsec = 500,
		.attr_valid_nsec = 600,
		.attr = {.ino = 4242, .size = 10, .mode = 0100644, .nlink = 1},
	};
	struct fuse_direntplus dp;
	struct test_buf t;
	size_t pos;

	test_buf_init(&t);
	pos = fuse_direntplus_add(t.u.b, sizeof(t.u.b), 0, "file.txt", 8, &e, 8,
				  7);
	assert_int_equal(pos, 160);
	memcpy(&dp, t.u.b, sizeof(dp));
	assert_memory_equal(&dp.entry_out, &e, sizeof(e));
	assert_true(dp.dirent.ino == 4242);
	assert_true(dp.dirent.off == 7);
	assert_int_equal(dp.dirent.namelen, 8);
	assert_int_equal(dp.dirent.type, 8);
	assert_memory_equal(t.u.b + 152, "file.txt", 8);
	assert_int_equal(t.u.b[160], 0xcc);

	/* Second record: 9-byte name, 7 bytes of zero padding. */
	pos = fuse_direntplus_add(t.u.b, sizeof(t.u.b), pos, "file2.txt", 9, &e,
				  8, 8);
	assert_int_equal(pos, 160 + 168);
	assert_memory_equal(t.u.b + 160 + 152, "file2.txt", 9);
	assert_memory_equal(t.u.b + 160 + 161, "\0\0\0\0\0\0\0", 7);
	assert_int_equal(t.u.b[328], 0xcc);
}

static void test_fuse_reply__direntplus_does_not_fit(void **state TEST_UNUSED)
{
	struct fuse_entry_out e = {.nodeid = 1, .attr = {.ino = 1}};
	struct test_buf t;

	test_buf_init(&t);
	assert_int_equal(fuse_direntplus_add(t.u.b, 159, 0, "a", 1, &e, 4, 1),
			 0);
	assert_int_equal(t.u.b[0], 0xcc);
	assert_int_equal(fuse_direntplus_add(t.u.b, 160, 0, "a", 1, &e, 4, 1),
			 160);
	assert_int_equal(fuse_direntplus_add(t.u.b, 300, 160, "b", 1, &e, 4, 2),
			 160);
	/* No entry to copy: refused, nothing written. */
	assert_int_equal(
		fuse_direntplus_add(t.u.b, 1024, 160, "b", 1, NULL, 4, 2), 160);
	assert_int_equal(t.u.b[160], 0xcc);
}

/* ------------------------------------------------------------------------ */
/* Timeouts                                                                  */

static void test_fuse_reply__timeout_split(void **state TEST_UNUSED)
{
	uint64_t sec;
	uint32_t nsec;

	fuse_timeout_split(1.5, &sec, &nsec);
	assert_true(sec == 1);
	assert_int_equal(nsec, 500000000);

	fuse_timeout_split(0.3, &sec, &nsec);
	assert_true(sec == 0);
	assert_int_equal(nsec, 300000000);

	fuse_timeout_split(86400, &sec, &nsec);
	assert_true(sec == 86400);
	assert_int_equal(nsec, 0);

	/* Rounds up into the next second rather than giving 1e9 ns. */
	fuse_timeout_split(1.9999999999, &sec, &nsec);
	assert_true(sec == 2);
	assert_int_equal(nsec, 0);

	fuse_timeout_split(0.000000001, &sec, &nsec);
	assert_true(sec == 0);
	assert_int_equal(nsec, 1);
}

static void
test_fuse_reply__timeout_negative_nan_and_huge(void **state TEST_UNUSED)
{
	uint64_t sec = 99;
	uint32_t nsec = 99;

	fuse_timeout_split(-1.0, &sec, &nsec);
	assert_true(sec == 0);
	assert_int_equal(nsec, 0);

	sec = 99;
	nsec = 99;
	fuse_timeout_split(NAN, &sec, &nsec);
	assert_true(sec == 0);
	assert_int_equal(nsec, 0);

	fuse_timeout_split(-INFINITY, &sec, &nsec);
	assert_true(sec == 0);

	fuse_timeout_split(INFINITY, &sec, &nsec);
	assert_true(sec == INT64_MAX);
	assert_int_equal(nsec, 0);

	fuse_timeout_split(1e300, &sec, &nsec);
	assert_true(sec == INT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fuse_reply__header_success),
		cmocka_unit_test(test_fuse_reply__header_error),
		cmocka_unit_test(test_fuse_reply__header_rejects_bad_replies),
		cmocka_unit_test(test_fuse_reply__entry_sizes),
		cmocka_unit_test(test_fuse_reply__dirent_layout_and_padding),
		cmocka_unit_test(test_fuse_reply__dirent_does_not_fit),
		cmocka_unit_test(
			test_fuse_reply__dirent_refuses_names_kernel_rejects),
		cmocka_unit_test(test_fuse_reply__direntplus_layout),
		cmocka_unit_test(test_fuse_reply__direntplus_does_not_fit),
		cmocka_unit_test(test_fuse_reply__timeout_split),
		cmocka_unit_test(
			test_fuse_reply__timeout_negative_nan_and_huge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Inode table (lookup counts) and handle table. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon/htable.h"
#include "daemon/itable.h"

static void test_itable__ref_unref(void **state)
{
	struct itable *t = itable_new();

	assert_non_null(t);
	assert_int_equal(itable_ref(t, 42, 1), 0);
	assert_int_equal(itable_ref(t, 42, 2), 0);
	assert_int_equal(itable_count(t, 42), 3);
	assert_int_equal(itable_unref(t, 42, 2), 0);
	assert_int_equal(itable_count(t, 42), 1);
	assert_int_equal(itable_unref(t, 42, 1), 1);
	assert_int_equal(itable_count(t, 42), 0);
	assert_int_equal(itable_unref(t, 42, 1), -ENOENT);
	assert_int_equal(itable_size(t), 0);
	itable_free(t);
}

static void test_itable__over_forget_clamps(void **state)
{
	struct itable *t = itable_new();

	itable_ref(t, 7, 2);
	assert_int_equal(itable_unref(t, 7, 10), 1);
	assert_int_equal(itable_size(t), 0);
	itable_free(t);
}

static void test_itable__many_and_grow(void **state)
{
	struct itable *t = itable_new();

	for (uint64_t i = 1; i <= 100000; i++)
		assert_int_equal(itable_ref(t, i * 977, i % 3 + 1), 0);
	assert_int_equal(itable_size(t), 100000);
	for (uint64_t i = 1; i <= 100000; i++)
		assert_int_equal(itable_count(t, i * 977), i % 3 + 1);
	for (uint64_t i = 1; i <= 100000; i += 2)
		assert_int_equal(itable_unref(t, i * 977, i % 3 + 1), 1);
	assert_int_equal(itable_size(t), 50000);
	itable_free(t);
}

static void tt_sum(void *arg, uint64_t ino)
{
	*(uint64_t *)arg += ino;
}

static void test_itable__drain_reports_each(void **state)
{
	struct itable *t = itable_new();
	uint64_t sum = 0;

	for (uint64_t i = 1; i <= 100; i++)
		itable_ref(t, i, i);
	itable_drain(t, tt_sum, &sum);
	assert_int_equal(sum, 5050);
	assert_int_equal(itable_size(t), 0);
	itable_free(t);
}

struct tt_arg {
	struct itable *t;
	int base;
};

static void *tt_worker(void *p)
{
	struct tt_arg *a = p;

	for (int round = 0; round < 200; round++) {
		for (uint64_t i = 0; i < 100; i++)
			itable_ref(a->t, (uint64_t)a->base + i, 1);
		for (uint64_t i = 0; i < 100; i++)
			if (itable_unref(a->t, (uint64_t)a->base + i, 1) != 1)
				return (void *)1;
	}
	return NULL;
}

static void test_itable__concurrent(void **state)
{
	struct itable *t = itable_new();
	pthread_t th[4];
	struct tt_arg a[4];
	void *res;

	for (int i = 0; i < 4; i++) {
		a[i].t = t;
		a[i].base = i * 1000;
		pthread_create(&th[i], NULL, tt_worker, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], &res);
		assert_null(res);
	}
	assert_int_equal(itable_size(t), 0);
	itable_free(t);
}

static void test_htable__add_get_del(void **state)
{
	struct htable *t = htable_new();
	struct vhandle h = { .ino = 5, .bfh = 99, .flags = 2 }, out;
	uint64_t fh;

	assert_int_equal(htable_add(t, &h, &fh), 0);
	assert_int_equal(htable_get(t, fh, &out), 0);
	assert_int_equal(out.ino, 5);
	assert_int_equal(out.bfh, 99);
	assert_int_equal(htable_del(t, fh, &out), 0);
	assert_int_equal(htable_get(t, fh, &out), -EBADF);
	assert_int_equal(htable_del(t, fh, &out), -EBADF);
	htable_free(t);
}

static void test_htable__stale_fh_rejected(void **state)
{
	struct htable *t = htable_new();
	struct vhandle h = { .ino = 1 }, out;
	uint64_t fh1, fh2;

	htable_add(t, &h, &fh1);
	htable_del(t, fh1, NULL);
	h.ino = 2;
	htable_add(t, &h, &fh2);
	/* Same slot, new generation: the old fh must not reach the new file */
	assert_int_equal((uint32_t)fh1, (uint32_t)fh2);
	assert_int_not_equal(fh1, fh2);
	assert_int_equal(htable_get(t, fh1, &out), -EBADF);
	assert_int_equal(htable_get(t, fh2, &out), 0);
	assert_int_equal(out.ino, 2);
	assert_int_equal(htable_get(t, 0xdeadbeef12345ULL, &out), -EBADF);
	htable_free(t);
}

static void test_htable__grows(void **state)
{
	struct htable *t = htable_new();
	static uint64_t fhs[5000];
	struct vhandle out;

	for (int i = 0; i < 5000; i++) {
		struct vhandle h = { .ino = (uint64_t)i + 10 };

		assert_int_equal(htable_add(t, &h, &fhs[i]), 0);
	}
	assert_int_equal(htable_size(t), 5000);
	for (int i = 0; i < 5000; i++) {
		assert_int_equal(htable_get(t, fhs[i], &out), 0);
		assert_int_equal(out.ino, (uint64_t)i + 10);
	}
	htable_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_itable__ref_unref),
		cmocka_unit_test(test_itable__over_forget_clamps),
		cmocka_unit_test(test_itable__many_and_grow),
		cmocka_unit_test(test_itable__drain_reports_each),
		cmocka_unit_test(test_itable__concurrent),
		cmocka_unit_test(test_htable__add_get_del),
		cmocka_unit_test(test_htable__stale_fh_rejected),
		cmocka_unit_test(test_htable__grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

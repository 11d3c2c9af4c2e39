/* SPDX-License-Identifier: MIT */
#include "stats.h"

static int vstats_bucket_of(uint64_t ns)
{
	uint64_t us = ns / 1000;
	int b = 0;

	while (us && b < VSTATS_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

uint64_t vstats_bucket_us(int i)
{
	return (uint64_t)1 << i;
}

void vstats_op_add(struct vstats_op *op, uint64_t ns, int err)
{
	atomic_fetch_add_explicit(&op->count, 1, memory_order_relaxed);
	if (err)
		atomic_fetch_add_explicit(&op->errors, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&op->ns_total, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&op->hist[vstats_bucket_of(ns)], 1,
				  memory_order_relaxed);
}

void vstats_op_sum(struct vstats_op *dst, const struct vstats_op *src)
{
	dst->count += atomic_load_explicit(&src->count, memory_order_relaxed);
	dst->errors += atomic_load_explicit(&src->errors, memory_order_relaxed);
	dst->ns_total +=
		atomic_load_explicit(&src->ns_total, memory_order_relaxed);
	for (int i = 0; i < VSTATS_BUCKETS; i++)
		dst->hist[i] += atomic_load_explicit(&src->hist[i],
						     memory_order_relaxed);
}

double vstats_op_quantile_us(const struct vstats_op *op, double q)
{
	uint64_t n = op->count, seen = 0, want;

	if (n == 0)
		return 0;
	want = (uint64_t)(q * (double)n);
	if (want >= n)
		want = n - 1;
	for (int i = 0; i < VSTATS_BUCKETS; i++) {
		seen += op->hist[i];
		if (seen > want)
			return (double)vstats_bucket_us(i);
	}
	return (double)vstats_bucket_us(VSTATS_BUCKETS - 1);
}

/* SPDX-License-Identifier: MIT */
/*
 * stats.h - counters and latency histograms that a hot path can bump
 * without locks and a reader on another thread can sum at any time.
 *
 * Every field is a relaxed atomic: writers are usually one thread (a
 * worker), sometimes another (a reply completed elsewhere), and readers only
 * need each value to be untorn, not a consistent snapshot across fields.
 */
#ifndef VALOR_COMMON_STATS_H
#define VALOR_COMMON_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Latency buckets: [0] < 1 us, [i] < 2^i us, last = everything above. */
#define VSTATS_BUCKETS 24

struct vstats_op {
	_Atomic uint64_t count;
	_Atomic uint64_t errors;
	_Atomic uint64_t ns_total;
	_Atomic uint64_t hist[VSTATS_BUCKETS];
};

/* Record one operation that took @ns and ended with @err (0 or -errno). */
void vstats_op_add(struct vstats_op *op, uint64_t ns, int err);

/* Add @src into @dst (plain sums, for aggregating workers). */
void vstats_op_sum(struct vstats_op *dst, const struct vstats_op *src);

/* The latency at quantile @q (0..1) in microseconds, from the histogram's
 * bucket upper bounds; 0 when empty. */
double vstats_op_quantile_us(const struct vstats_op *op, double q);

/* Upper bound in us of bucket @i (the last one returns its lower bound). */
uint64_t vstats_bucket_us(int i);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * pool.h - the worker threads metad runs KV transactions on.
 *
 * A transaction blocks (PostgreSQL round trips, LMDB's writer lock), so
 * the RPC loop never runs one: it hands a job to the pool, a worker runs
 * job->run, and the worker posts job->post to the loop (vloop_post), whose
 * thread then finishes the job (replies, frees). A slow transaction thus
 * holds one worker, never the loop.
 *
 * Jobs are caller-owned (embed struct mpool_job in whatever the work is
 * about): no allocation per job. Jobs run in submission order as workers
 * free up.
 *
 * Threading: mpool_submit() from any thread. job->run runs on a worker,
 * job->post.fn on the loop thread, after run returned, exactly once per
 * submission. mpool_new/mpool_free on the loop's thread, with the loop
 * not running in mpool_free.
 */
#ifndef VALOR_META_POOL_H
#define VALOR_META_POOL_H

#include <stdint.h>

#include "ring/loop.h"

#define MPOOL_MAX_THREADS 64

struct mpool;

struct mpool_job {
	/* On a worker thread. */
	void (*run)(struct mpool_job *job);
	/* post.fn: on the loop thread, after run. Set before submitting. */
	struct vloop_post post;
	/* private */
	struct mpool_job *next;
};

/*
 * Start @nthreads workers (1..MPOOL_MAX_THREADS) posting back to @loop.
 * 0 and *out, or -errno (-EINVAL, -ENOMEM, -EAGAIN from pthread_create).
 */
int mpool_new(struct vloop *loop, unsigned nthreads, struct mpool **out);

/*
 * Stop the workers once the jobs already submitted have run, and free.
 * Their posts are queued on the loop but never run unless the loop runs
 * again: finish every job (run the loop until none is in flight) first.
 * NULL: no-op.
 */
void mpool_free(struct mpool *p);

/* Queue @job. Never fails, never blocks on a transaction. */
void mpool_submit(struct mpool *p, struct mpool_job *job);

/* Jobs submitted and not yet run (relaxed, for stats). */
unsigned mpool_queued(struct mpool *p);
unsigned mpool_threads(const struct mpool *p);

#endif

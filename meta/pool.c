/* SPDX-License-Identifier: MIT */
/*
 * pool.c - worker threads for KV transactions (see pool.h).
 *
 * One FIFO of jobs under one mutex; idle workers wait on a condition
 * variable. Transactions take hundreds of microseconds to milliseconds,
 * so one queue lock is not what limits metad.
 */
#include "meta/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct mpool {
	struct vloop *loop;
	unsigned nthreads;
	pthread_t threads[MPOOL_MAX_THREADS];
	pthread_mutex_t lock;
	pthread_cond_t more;
	/* Fields below are protected by lock. */
	struct mpool_job *head, *tail;
	unsigned queued;
	int stop;
};

static void *mpool_worker_main(void *arg)
{
	struct mpool *p = arg;

	for (;;) {
		struct mpool_job *j;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->more, &p->lock);
		j = p->head;
		if (!j) { /* stop, and nothing left */
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->lock);
		j->run(j);
		/* After this the loop thread owns the job again. */
		vloop_post(p->loop, &j->post);
	}
}

int mpool_new(struct vloop *loop, unsigned nthreads, struct mpool **out)
{
	struct mpool *p;
	int ret;

	*out = NULL;
	if (!nthreads || nthreads > MPOOL_MAX_THREADS)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->loop = loop;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->more, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		ret = pthread_create(&p->threads[i], NULL, mpool_worker_main,
				     p);
		if (ret) {
			vlog_err("worker thread: %s", strerror(ret));
			mpool_free(p);
			return -ret;
		}
		p->nthreads++;
	}
	*out = p;
	return 0;
}

void mpool_free(struct mpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->more);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void mpool_submit(struct mpool *p, struct mpool_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	p->queued++;
	pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->lock);
}

unsigned mpool_queued(struct mpool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = p->queued;
	pthread_mutex_unlock(&p->lock);
	return n;
}

unsigned mpool_threads(const struct mpool *p)
{
	return p->nthreads;
}

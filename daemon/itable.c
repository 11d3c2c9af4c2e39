/* SPDX-License-Identifier: MIT */
#include "itable.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define ITABLE_STRIPES 64	/* power of two */

struct itable_ent {
	uint64_t ino;
	uint64_t count;
	struct itable_ent *next;
};

/*
 * One stripe: a chained hash table that doubles when its load passes 1.
 * Fields are protected by @lock.
 */
struct itable_stripe {
	pthread_mutex_t lock;
	struct itable_ent **buckets;
	size_t nbuckets;	/* power of two */
	size_t n;
} __attribute__((aligned(64)));

struct itable {
	struct itable_stripe s[ITABLE_STRIPES];
};

static inline uint64_t itable_hash(uint64_t ino)
{
	ino ^= ino >> 33;
	ino *= 0xff51afd7ed558ccdULL;
	ino ^= ino >> 33;
	return ino;
}

static struct itable_stripe *itable_stripe_of(struct itable *t, uint64_t h)
{
	return &t->s[h & (ITABLE_STRIPES - 1)];
}

struct itable *itable_new(void)
{
	struct itable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	for (int i = 0; i < ITABLE_STRIPES; i++) {
		struct itable_stripe *s = &t->s[i];

		pthread_mutex_init(&s->lock, NULL);
		s->nbuckets = 16;
		s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
		if (!s->buckets) {
			itable_free(t);
			return NULL;
		}
	}
	return t;
}

void itable_free(struct itable *t)
{
	if (!t)
		return;
	for (int i = 0; i < ITABLE_STRIPES; i++) {
		struct itable_stripe *s = &t->s[i];

		for (size_t b = 0; s->buckets && b < s->nbuckets; b++) {
			struct itable_ent *e = s->buckets[b], *next;

			for (; e; e = next) {
				next = e->next;
				free(e);
			}
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(t);
}

/* Bucket index within a stripe: the stripe used the low bits. */
static size_t itable_bucket(const struct itable_stripe *s, uint64_t h)
{
	return (h >> 6) & (s->nbuckets - 1);
}

static void itable_grow_locked(struct itable_stripe *s)
{
	size_t nb = s->nbuckets * 2;
	struct itable_ent **nbk = calloc(nb, sizeof(*nbk));

	if (!nbk)
		return;	/* keep the longer chains; correctness is unaffected */
	for (size_t b = 0; b < s->nbuckets; b++) {
		struct itable_ent *e = s->buckets[b], *next;

		for (; e; e = next) {
			size_t i = (itable_hash(e->ino) >> 6) & (nb - 1);

			next = e->next;
			e->next = nbk[i];
			nbk[i] = e;
		}
	}
	free(s->buckets);
	s->buckets = nbk;
	s->nbuckets = nb;
}

int itable_ref(struct itable *t, uint64_t ino, uint64_t n)
{
	uint64_t h = itable_hash(ino);
	struct itable_stripe *s = itable_stripe_of(t, h);
	struct itable_ent *e;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	for (e = s->buckets[itable_bucket(s, h)]; e; e = e->next)
		if (e->ino == ino)
			break;
	if (e) {
		e->count += n;
		goto out_unlock;
	}
	e = malloc(sizeof(*e));
	if (!e) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	e->ino = ino;
	e->count = n;
	if (s->n >= s->nbuckets)
		itable_grow_locked(s);
	{
		size_t b = itable_bucket(s, h);

		e->next = s->buckets[b];
		s->buckets[b] = e;
	}
	s->n++;
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int itable_unref(struct itable *t, uint64_t ino, uint64_t n)
{
	uint64_t h = itable_hash(ino);
	struct itable_stripe *s = itable_stripe_of(t, h);
	struct itable_ent **pp, *e;
	int ret = -ENOENT;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->buckets[itable_bucket(s, h)]; (e = *pp); pp = &e->next) {
		if (e->ino != ino)
			continue;
		if (e->count > n) {
			e->count -= n;
			ret = 0;
		} else {
			*pp = e->next;
			s->n--;
			free(e);
			ret = 1;
		}
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

uint64_t itable_count(struct itable *t, uint64_t ino)
{
	uint64_t h = itable_hash(ino);
	struct itable_stripe *s = itable_stripe_of(t, h);
	struct itable_ent *e;
	uint64_t c = 0;

	pthread_mutex_lock(&s->lock);
	for (e = s->buckets[itable_bucket(s, h)]; e; e = e->next) {
		if (e->ino == ino) {
			c = e->count;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return c;
}

size_t itable_size(struct itable *t)
{
	size_t n = 0;

	for (int i = 0; i < ITABLE_STRIPES; i++) {
		pthread_mutex_lock(&t->s[i].lock);
		n += t->s[i].n;
		pthread_mutex_unlock(&t->s[i].lock);
	}
	return n;
}

void itable_drain(struct itable *t, void (*fn)(void *arg, uint64_t ino),
		  void *arg)
{
	for (int i = 0; i < ITABLE_STRIPES; i++) {
		struct itable_stripe *s = &t->s[i];
		struct itable_ent *list = NULL, *e, *next;

		/* Detach the whole stripe, then call out with no lock held. */
		pthread_mutex_lock(&s->lock);
		for (size_t b = 0; b < s->nbuckets; b++) {
			for (e = s->buckets[b]; e; e = next) {
				next = e->next;
				e->next = list;
				list = e;
			}
			s->buckets[b] = NULL;
		}
		s->n = 0;
		pthread_mutex_unlock(&s->lock);
		for (e = list; e; e = next) {
			next = e->next;
			fn(arg, e->ino);
			free(e);
		}
	}
}

/* SPDX-License-Identifier: MIT */
#include "htable.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HTABLE_FREE_END UINT32_MAX

struct htable_slot {
	struct vhandle h;
	uint32_t gen;		/* bumped on every free; never 0 in use */
	uint32_t next_free;	/* free list link, HTABLE_FREE_END ends it */
	int used;
};

/* Everything below is protected by @lock. */
struct htable {
	pthread_mutex_t lock;
	struct htable_slot *slots;
	uint32_t nslots;
	uint32_t free_head;
	size_t used;
};

struct htable *htable_new(void)
{
	struct htable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->free_head = HTABLE_FREE_END;
	return t;
}

void htable_free(struct htable *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->slots);
	free(t);
}

static int htable_grow_locked(struct htable *t)
{
	uint32_t n = t->nslots ? t->nslots * 2 : 64;
	struct htable_slot *s;

	if (n < t->nslots || n > (1u << 30))
		return -ENOMEM;
	s = realloc(t->slots, (size_t)n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + t->nslots, 0, (size_t)(n - t->nslots) * sizeof(*s));
	/* Chain the new slots, lowest index first. */
	for (uint32_t i = n; i-- > t->nslots;) {
		s[i].gen = 1;
		s[i].next_free = t->free_head;
		t->free_head = i;
	}
	t->slots = s;
	t->nslots = n;
	return 0;
}

int htable_add(struct htable *t, const struct vhandle *h, uint64_t *fh)
{
	struct htable_slot *s;
	uint32_t i;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	if (t->free_head == HTABLE_FREE_END) {
		ret = htable_grow_locked(t);
		if (ret)
			goto out_unlock;
	}
	i = t->free_head;
	s = &t->slots[i];
	t->free_head = s->next_free;
	s->h = *h;
	s->used = 1;
	t->used++;
	*fh = (uint64_t)s->gen << 32 | i;
out_unlock:
	pthread_mutex_unlock(&t->lock);
	return ret;
}

static struct htable_slot *htable_find_locked(struct htable *t, uint64_t fh)
{
	uint32_t i = (uint32_t)fh;
	uint32_t gen = (uint32_t)(fh >> 32);

	if (i >= t->nslots || !t->slots[i].used || t->slots[i].gen != gen)
		return NULL;
	return &t->slots[i];
}

int htable_get(struct htable *t, uint64_t fh, struct vhandle *out)
{
	struct htable_slot *s;
	int ret = -EBADF;

	pthread_mutex_lock(&t->lock);
	s = htable_find_locked(t, fh);
	if (s) {
		*out = s->h;
		ret = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int htable_del(struct htable *t, uint64_t fh, struct vhandle *out)
{
	struct htable_slot *s;
	int ret = -EBADF;

	pthread_mutex_lock(&t->lock);
	s = htable_find_locked(t, fh);
	if (s) {
		if (out)
			*out = s->h;
		s->used = 0;
		if (++s->gen == 0)
			s->gen = 1;
		s->next_free = t->free_head;
		t->free_head = (uint32_t)(s - t->slots);
		t->used--;
		ret = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

size_t htable_size(struct htable *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->used;
	pthread_mutex_unlock(&t->lock);
	return n;
}

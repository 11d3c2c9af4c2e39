/* SPDX-License-Identifier: MIT */
/*
 * mem_dir.c - the directory structure of the mem backend: a chained hash
 * of names (O(1) lookup) plus an array of slots sorted by cookie (readdir
 * resumes with a binary search). Everything here runs under ns_lock; see
 * struct mem_dir in mem_i.h.
 */
#include "daemon/mem_i.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MEM_DIR_HASH_MIN 16
#define MEM_DIR_SLOTS_MIN 16
/* Compact no smaller arrays: a few tombstones cost less than moving. */
#define MEM_DIR_COMPACT_MIN 32

/* FNV-1a, 64 bits. */
static uint64_t mem_dir_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t k = 0; k < len; k++) {
		h ^= (unsigned char)name[k];
		h *= 0x100000001b3ull;
	}
	return h;
}

void mem_dir_init(struct mem_dir *d, struct mem_inode *parent)
{
	memset(d, 0, sizeof(*d));
	d->parent = parent;
	d->next_cookie = 3;
}

void mem_dir_release(struct mem_dir *d)
{
	for (size_t k = 0; k < d->nslots; k++)
		free(d->slots[k].de);
	free(d->slots);
	free(d->htab);
	memset(d, 0, sizeof(*d));
}

struct mem_dirent *mem_dir_find(const struct mem_dir *d, const char *name,
				size_t len)
{
	uint64_t h;
	struct mem_dirent *de;

	if (!d->hsize)
		return NULL;
	h = mem_dir_hash(name, len);
	for (de = d->htab[h & (d->hsize - 1)]; de; de = de->hnext) {
		if (de->hash == h && de->namelen == len &&
		    !memcmp(de->name, name, len))
			return de;
	}
	return NULL;
}

/* Doubles the name hash. 0, or -ENOMEM with the old table kept. */
static int mem_dir_hash_grow(struct mem_dir *d)
{
	size_t nsize = d->hsize ? d->hsize * 2 : MEM_DIR_HASH_MIN;
	struct mem_dirent **nt = calloc(nsize, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t k = 0; k < d->nslots; k++) {
		struct mem_dirent *de = d->slots[k].de;

		if (!de)
			continue;
		de->hnext = nt[de->hash & (nsize - 1)];
		nt[de->hash & (nsize - 1)] = de;
	}
	free(d->htab);
	d->htab = nt;
	d->hsize = nsize;
	return 0;
}

int mem_dir_add(struct mem_dir *d, const char *name, size_t len,
		struct mem_inode *inode)
{
	struct mem_dirent *de = malloc(sizeof(*de) + len + 1);
	struct mem_dirent **head;

	if (!de)
		return -ENOMEM;
	if (d->nslots == d->slots_cap) {
		size_t ncap = d->slots_cap ? d->slots_cap * 2 :
					     MEM_DIR_SLOTS_MIN;
		struct mem_dslot *ns = realloc(d->slots, ncap * sizeof(*ns));

		if (!ns)
			goto out_free;
		d->slots = ns;
		d->slots_cap = ncap;
	}
	/* Without a table we cannot insert; a full one just gets slower. */
	if (!d->hsize && mem_dir_hash_grow(d))
		goto out_free;
	if (d->nlive >= d->hsize)
		mem_dir_hash_grow(d);

	de->inode = inode;
	de->cookie = d->next_cookie++;
	de->hash = mem_dir_hash(name, len);
	de->namelen = (uint16_t)len;
	memcpy(de->name, name, len);
	de->name[len] = '\0';
	head = &d->htab[de->hash & (d->hsize - 1)];
	de->hnext = *head;
	*head = de;
	d->slots[d->nslots].cookie = de->cookie;
	d->slots[d->nslots].de = de;
	d->nslots++;
	d->nlive++;
	return 0;

out_free:
	free(de);
	return -ENOMEM;
}

size_t mem_dir_seek(const struct mem_dir *d, uint64_t cookie)
{
	size_t lo = 0, hi = d->nslots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->slots[mid].cookie <= cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Squeezes out the tombstones, keeping cookie order. */
static void mem_dir_compact(struct mem_dir *d)
{
	size_t n = 0;

	for (size_t k = 0; k < d->nslots; k++) {
		if (d->slots[k].de)
			d->slots[n++] = d->slots[k];
	}
	d->nslots = n;
	if (d->slots_cap > MEM_DIR_SLOTS_MIN && d->slots_cap / 4 > n) {
		size_t ncap = d->slots_cap / 2;
		struct mem_dslot *ns = realloc(d->slots, ncap * sizeof(*ns));

		if (ns) {	/* else keep the bigger array */
			d->slots = ns;
			d->slots_cap = ncap;
		}
	}
}

void mem_dir_remove(struct mem_dir *d, struct mem_dirent *de)
{
	struct mem_dirent **p = &d->htab[de->hash & (d->hsize - 1)];
	size_t k;

	while (*p != de)
		p = &(*p)->hnext;
	*p = de->hnext;

	k = mem_dir_seek(d, de->cookie - 1);
	d->slots[k].de = NULL;
	d->nlive--;
	free(de);

	if (d->nlive == 0)
		d->nslots = 0;
	else if (d->nslots >= MEM_DIR_COMPACT_MIN &&
		 d->nslots - d->nlive > d->nlive)
		mem_dir_compact(d);
}

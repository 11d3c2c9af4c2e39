/* SPDX-License-Identifier: MIT */
/*
 * mem_data.c - file data of the mem backend and the ops on it: open,
 * release, read, write, fallocate, lseek, copy_file_range.
 *
 * Data lives in 64 KiB blocks (struct mem_blk) hung off a radix tree of
 * 512-slot nodes whose height grows with the largest block index (6 levels
 * reach 2^63). A missing block is a hole. Reads never change anything, so
 * read takes the inode lock shared; in particular atime is not updated by
 * reads (only setattr changes it).
 */
#include "daemon/mem_i.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM_RADIX_SHIFT 9
#define MEM_RADIX_FAN (1u << MEM_RADIX_SHIFT)
#define MEM_RADIX_MASK ((uint64_t)MEM_RADIX_FAN - 1)
#define MEM_IDX_NONE UINT64_MAX
/* Smallest block allocation; blocks grow by doubling up to MEM_BLK_SIZE. */
#define MEM_BLK_MIN 4096u

struct mem_rnode {
	void *slot[MEM_RADIX_FAN];
};

/* Number of block indexes a tree of height @h covers. */
static uint64_t mem_radix_span(unsigned h)
{
	return 1ull << (MEM_RADIX_SHIFT * h);
}

static unsigned mem_radix_pos(uint64_t idx, unsigned h)
{
	return (unsigned)((idx >> (MEM_RADIX_SHIFT * (h - 1))) &
			  MEM_RADIX_MASK);
}

static uint64_t mem_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The block at @idx, or NULL for a hole. */
static struct mem_blk *mem_data_blk(const struct mem_data *d, uint64_t idx)
{
	void *p = d->root;

	if (idx >= mem_radix_span(d->height))
		return NULL;
	for (unsigned h = d->height; h > 0 && p; h--)
		p = ((struct mem_rnode *)p)->slot[mem_radix_pos(idx, h)];
	return p;
}

/* Raises the tree until it covers @idx. 0 or -ENOMEM. */
static int mem_data_grow(struct mem_data *d, uint64_t idx)
{
	while (idx >= mem_radix_span(d->height)) {
		if (d->root) {
			struct mem_rnode *n = calloc(1, sizeof(*n));

			if (!n)
				return -ENOMEM;
			n->slot[0] = d->root;
			d->root = n;
		}
		d->height++;
	}
	return 0;
}

/* The slot that holds block @idx, creating nodes on the way; NULL on
 * allocation failure (empty nodes left behind are harmless). */
static void **mem_data_slot(struct mem_data *d, uint64_t idx)
{
	void **slot = &d->root;

	if (mem_data_grow(d, idx))
		return NULL;
	for (unsigned h = d->height; h > 0; h--) {
		if (!*slot) {
			*slot = calloc(1, sizeof(struct mem_rnode));
			if (!*slot)
				return NULL;
		}
		slot = &((struct mem_rnode *)*slot)->slot[mem_radix_pos(idx, h)];
	}
	return slot;
}

static uint32_t mem_blk_cap(uint64_t need)
{
	uint32_t cap = MEM_BLK_MIN;

	while (cap < need)
		cap <<= 1;
	return cap;
}

/*
 * The block at @idx with at least @need (<= MEM_BLK_SIZE) bytes stored,
 * allocating or growing it (new bytes are zero). 0, -ENOSPC or -ENOMEM.
 */
static int mem_data_blk_get(struct mem_backend *mb, struct mem_data *d,
			    uint64_t idx, uint64_t need, struct mem_blk **out)
{
	void **slot = mem_data_slot(d, idx);
	struct mem_blk *bk, *nb;
	uint32_t cap, old;

	if (!slot)
		return -ENOMEM;
	bk = *slot;
	if (bk && bk->cap >= need) {
		*out = bk;
		return 0;
	}
	old = bk ? bk->cap : 0;
	cap = mem_blk_cap(need);
	if (mem_space_reserve(mb, cap - old))
		return -ENOSPC;
	nb = realloc(bk, sizeof(*nb) + cap);
	if (!nb) {
		mem_space_release(mb, cap - old);
		return -ENOMEM;
	}
	memset(nb->data + old, 0, cap - old);
	nb->cap = cap;
	*slot = nb;
	d->alloc += cap - old;
	*out = nb;
	return 0;
}

/* Frees the blocks [first, last] (relative, last < span(h)) of the subtree
 * in *@slot of height @h, and nodes left empty. Returns the bytes freed. */
static uint64_t mem_radix_punch(void **slot, unsigned h, uint64_t first,
				uint64_t last)
{
	struct mem_rnode *n = *slot;
	uint64_t freed = 0, sub;
	unsigned shift;

	if (!n)
		return 0;
	if (h == 0) {
		freed = ((struct mem_blk *)n)->cap;
		free(n);
		*slot = NULL;
		return freed;
	}
	shift = MEM_RADIX_SHIFT * (h - 1);
	sub = mem_radix_span(h - 1);
	for (uint64_t s = first >> shift; s <= last >> shift; s++) {
		uint64_t base = s << shift;
		uint64_t lo = first > base ? first - base : 0;
		uint64_t hi = mem_min(last - base, sub - 1);

		freed += mem_radix_punch(&n->slot[s], h - 1, lo, hi);
	}
	for (unsigned s = 0; s < MEM_RADIX_FAN; s++) {
		if (n->slot[s])
			return freed;
	}
	free(n);
	*slot = NULL;
	return freed;
}

/* Lowers the tree while only slot 0 of the root is used. */
static void mem_data_collapse(struct mem_data *d)
{
	while (d->height > 0 && d->root) {
		struct mem_rnode *n = d->root;

		for (unsigned s = 1; s < MEM_RADIX_FAN; s++) {
			if (n->slot[s])
				return;
		}
		d->root = n->slot[0];
		free(n);
		d->height--;
	}
	if (!d->root)
		d->height = 0;
}

/* Frees the blocks with index in [first, last]. */
static void mem_data_punch_blocks(struct mem_backend *mb, struct mem_data *d,
				  uint64_t first, uint64_t last)
{
	uint64_t span = mem_radix_span(d->height), freed;

	if (!d->root || first >= span || first > last)
		return;
	freed = mem_radix_punch(&d->root, d->height, first,
			       mem_min(last, span - 1));
	d->alloc -= freed;
	mem_space_release(mb, freed);
	mem_data_collapse(d);
}

void mem_data_free(struct mem_backend *mb, struct mem_data *d)
{
	mem_data_punch_blocks(mb, d, 0, MEM_IDX_NONE);
}

/* Zeroes [off, off + len) inside block @idx's stored bytes, if any. */
static void mem_data_zero_in(struct mem_data *d, uint64_t off, uint64_t len)
{
	struct mem_blk *bk = mem_data_blk(d, off >> MEM_BLK_SHIFT);
	uint64_t o = off & MEM_BLK_MASK;

	if (bk && o < bk->cap)
		memset(bk->data + o, 0, mem_min(len, bk->cap - o));
}

void mem_data_truncate(struct mem_backend *mb, struct mem_data *d,
		       uint64_t oldsize, uint64_t newsize)
{
	uint64_t first = (newsize + MEM_BLK_MASK) >> MEM_BLK_SHIFT;

	if (newsize >= oldsize)
		return;	/* a hole; the bytes past the old end are zero */
	if (newsize & MEM_BLK_MASK)
		mem_data_zero_in(d, newsize,
				 MEM_BLK_SIZE - (newsize & MEM_BLK_MASK));
	mem_data_punch_blocks(mb, d, first, MEM_IDX_NONE);
}

/* Smallest index >= @idx that is data (@data) or a hole (!@data) in the
 * subtree @p of height @h, or MEM_IDX_NONE. */
static uint64_t mem_radix_next(const void *p, unsigned h, uint64_t idx,
			       bool data)
{
	const struct mem_rnode *n = p;
	unsigned shift;

	if (!p)
		return data ? MEM_IDX_NONE : idx;
	if (h == 0)
		return data ? 0 : MEM_IDX_NONE;
	shift = MEM_RADIX_SHIFT * (h - 1);
	for (uint64_t s = idx >> shift; s < MEM_RADIX_FAN; s++) {
		uint64_t base = s << shift;
		uint64_t sub = s == idx >> shift ? idx - base : 0;
		uint64_t r = mem_radix_next(n->slot[s], h - 1, sub, data);

		if (r != MEM_IDX_NONE)
			return base + r;
	}
	return MEM_IDX_NONE;
}

static uint64_t mem_data_next_data(const struct mem_data *d, uint64_t idx)
{
	if (idx >= mem_radix_span(d->height))
		return MEM_IDX_NONE;
	return mem_radix_next(d->root, d->height, idx, true);
}

static uint64_t mem_data_next_hole(const struct mem_data *d, uint64_t idx)
{
	uint64_t span = mem_radix_span(d->height), r;

	if (idx >= span)
		return idx;
	r = mem_radix_next(d->root, d->height, idx, false);
	return r == MEM_IDX_NONE ? span : r;
}

/* Copies [off, off + n) to @dst; holes and unstored bytes read as 0. */
static void mem_data_read(const struct mem_data *d, uint64_t off, size_t n,
			  uint8_t *dst)
{
	while (n) {
		struct mem_blk *bk = mem_data_blk(d, off >> MEM_BLK_SHIFT);
		uint64_t o = off & MEM_BLK_MASK;
		size_t l = mem_min(n, MEM_BLK_SIZE - o);
		size_t avail = 0;

		if (bk && o < bk->cap)
			avail = mem_min(l, bk->cap - o);
		if (avail)
			memcpy(dst, bk->data + o, avail);
		memset(dst + avail, 0, l - avail);
		dst += l;
		off += l;
		n -= l;
	}
}

/* Stores @n bytes at @off. Returns how many were stored; when short,
 * *@err says why. */
static size_t mem_data_write(struct mem_backend *mb, struct mem_data *d,
			     uint64_t off, const uint8_t *src, size_t n,
			     int *err)
{
	size_t done = 0;

	*err = 0;
	while (done < n) {
		uint64_t pos = off + done, o = pos & MEM_BLK_MASK;
		size_t l = mem_min(n - done, MEM_BLK_SIZE - o);
		struct mem_blk *bk;

		*err = mem_data_blk_get(mb, d, pos >> MEM_BLK_SHIFT, o + l, &bk);
		if (*err)
			break;
		memcpy(bk->data + o, src + done, l);
		done += l;
	}
	return done;
}

/* Allocates [off, off + len), zeroing it too when @zero. */
static int mem_data_alloc(struct mem_backend *mb, struct mem_data *d,
			  uint64_t off, uint64_t len, bool zero)
{
	uint64_t end = off + len;

	while (off < end) {
		uint64_t o = off & MEM_BLK_MASK;
		uint64_t l = mem_min(end - off, MEM_BLK_SIZE - o);
		struct mem_blk *bk;
		int err;

		err = mem_data_blk_get(mb, d, off >> MEM_BLK_SHIFT, o + l, &bk);
		if (err)
			return err;
		if (zero)
			memset(bk->data + o, 0, l);
		off += l;
	}
	return 0;
}

/* Zeroes [off, off + len) and frees the whole blocks inside it. */
static void mem_data_punch(struct mem_backend *mb, struct mem_data *d,
			   uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	uint64_t first = (off + MEM_BLK_MASK) >> MEM_BLK_SHIFT;
	uint64_t stop = end >> MEM_BLK_SHIFT;	/* first block not whole */

	if (first > stop) {	/* inside one block */
		mem_data_zero_in(d, off, len);
		return;
	}
	if (off & MEM_BLK_MASK)
		mem_data_zero_in(d, off, MEM_BLK_SIZE - (off & MEM_BLK_MASK));
	if (end & MEM_BLK_MASK)
		mem_data_zero_in(d, end & ~MEM_BLK_MASK, end & MEM_BLK_MASK);
	if (first < stop)
		mem_data_punch_blocks(mb, d, first, stop - 1);
}

/* ------------------------------------------------------------------ */
/* Handles */

int mem_open_check(const struct vctx *x, const struct mem_inode *i,
		   uint32_t flags)
{
	uint32_t acc = flags & O_ACCMODE;
	int mask = 0;

	if (mem_is_dir(i) && (acc != O_RDONLY || (flags & O_TRUNC)))
		return -EISDIR;
	if (acc == O_RDONLY)
		mask = R_OK;
	else if (acc == O_WRONLY)
		mask = W_OK;
	else
		mask = R_OK | W_OK;
	if (flags & O_TRUNC)
		mask |= W_OK;
	return mem_may(x, i, mask);
}

void mem_open_locked(struct mem_backend *mb, struct mem_inode *i,
		     uint32_t flags, struct bcall *c)
{
	if ((flags & O_TRUNC) && mem_is_reg(i)) {
		struct timespec now;

		mem_data_truncate(mb, &i->data, i->size, 0);
		i->size = 0;
		mem_now(&now);
		i->mtime = now;
		i->ctime = now;
	}
	i->nopen++;
	c->fh = atomic_fetch_add_explicit(&mb->next_fh, 1,
					  memory_order_relaxed);
	c->open_flags = 0;
}

void mem_open(struct backend *b, const struct vctx *x, uint64_t ino,
	      uint32_t flags, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	int err;

	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (!i) {
		err = -ENOENT;
		goto out_unlock_ns;
	}
	pthread_rwlock_wrlock(&i->lock);
	err = mem_open_check(x, i, flags);
	if (!err)
		mem_open_locked(mb, i, flags, c);
	pthread_rwlock_unlock(&i->lock);
out_unlock_ns:
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_handle_close(struct mem_backend *mb, uint64_t ino, uint64_t fh,
		      struct bcall *c)
{
	struct bcall *wake = NULL;
	struct mem_inode *i;
	bool unused = false;
	int err = 0;

	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (i) {
		pthread_rwlock_wrlock(&i->lock);
		if (i->nopen)
			i->nopen--;
		pthread_mutex_lock(&mb->lk_mutex);
		mem_lock_close_locked(i, fh, i->nopen == 0, &wake);
		pthread_mutex_unlock(&mb->lk_mutex);
		unused = mem_inode_unused(i);
		pthread_rwlock_unlock(&i->lock);
	} else {
		err = -ENOENT;
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	if (unused)
		mem_inode_put(mb, ino);
	mem_complete(c, err);
	mem_lock_complete(wake);
}

void mem_release(struct backend *b, uint64_t ino, uint64_t fh, uint32_t flags,
		 uint64_t lock_owner, struct bcall *c)
{
	mem_handle_close(mem_of(b), ino, fh, c);
}

void mem_fsync(struct backend *b, uint64_t ino, uint64_t fh, int datasync,
	       struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	int err;

	pthread_rwlock_rdlock(&mb->ns_lock);
	err = mem_inode_find(mb, ino) ? 0 : -ENOENT;
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

/* ------------------------------------------------------------------ */
/* Data ops */

/* The regular file @ino for a data op. ns_lock(read). */
static int mem_data_file(struct mem_backend *mb, uint64_t ino,
			 struct mem_inode **out)
{
	struct mem_inode *i = mem_inode_find(mb, ino);

	if (!i)
		return -ENOENT;
	if (mem_is_dir(i))
		return -EISDIR;
	if (!mem_is_reg(i))
		return -EINVAL;
	*out = i;
	return 0;
}

void mem_read(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
	      uint32_t size, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	uint64_t n = 0;
	int err;

	pthread_rwlock_rdlock(&mb->ns_lock);
	err = mem_data_file(mb, ino, &i);
	if (!err) {
		pthread_rwlock_rdlock(&i->lock);
		if (off < i->size)
			n = mem_min(mem_min(size, c->cap), i->size - off);
		mem_data_read(&i->data, off, n, c->buf);
		pthread_rwlock_unlock(&i->lock);
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	c->count = n;
	mem_complete(c, err);
}

void mem_write(struct backend *b, const struct vctx *x, uint64_t ino,
	       uint64_t fh, uint64_t off, const void *data, uint32_t size,
	       int kill_suidgid, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	size_t done = 0;
	int err;

	pthread_rwlock_rdlock(&mb->ns_lock);
	err = mem_data_file(mb, ino, &i);
	if (err)
		goto out_unlock_ns;
	if (size && off >= MEM_OFF_MAX) {
		err = -EFBIG;
		goto out_unlock_ns;
	}
	pthread_rwlock_wrlock(&i->lock);
	done = mem_data_write(mb, &i->data, off, data,
			      mem_min(size, MEM_OFF_MAX - off), &err);
	if (done) {
		err = 0;	/* a short write is a success */
		if (off + done > i->size)
			i->size = off + done;
		mem_now(&i->mtime);
		i->ctime = i->mtime;
		if (kill_suidgid)
			mem_kill_suidgid(i);
	}
	mem_inode_attr(i, &c->attr);
	pthread_rwlock_unlock(&i->lock);
out_unlock_ns:
	pthread_rwlock_unlock(&mb->ns_lock);
	c->count = done;
	mem_complete(c, err);
}

static int mem_fallocate_locked(struct mem_backend *mb, struct mem_inode *i,
				uint32_t mode, uint64_t off, uint64_t len)
{
	bool keep = mode & FALLOC_FL_KEEP_SIZE;
	uint64_t end = off + len;
	int err = 0;

	switch (mode & ~(uint32_t)FALLOC_FL_KEEP_SIZE) {
	case 0:
		err = mem_data_alloc(mb, &i->data, off, len, false);
		break;
	case FALLOC_FL_ZERO_RANGE:
		err = mem_data_alloc(mb, &i->data, off, len, true);
		break;
	case FALLOC_FL_PUNCH_HOLE:
		if (!keep)
			return -EOPNOTSUPP;
		mem_data_punch(mb, &i->data, off, len);
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (err)
		return err;
	if (!keep && end > i->size)
		i->size = end;
	/* Only preallocation that leaves the size alone keeps the times. */
	if (mode != FALLOC_FL_KEEP_SIZE) {
		mem_now(&i->mtime);
		i->ctime = i->mtime;
	}
	return 0;
}

void mem_fallocate(struct backend *b, uint64_t ino, uint64_t fh, uint32_t mode,
		   uint64_t off, uint64_t len, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	int err;

	if (len == 0 || off > MEM_OFF_MAX || len > MEM_OFF_MAX) {
		mem_complete(c, -EINVAL);
		return;
	}
	if (len > MEM_OFF_MAX - off) {
		mem_complete(c, -EFBIG);
		return;
	}
	pthread_rwlock_rdlock(&mb->ns_lock);
	err = mem_data_file(mb, ino, &i);
	if (err == -EINVAL)
		err = -ENODEV;	/* fallocate(2) on a FIFO or device */
	if (!err) {
		pthread_rwlock_wrlock(&i->lock);
		err = mem_fallocate_locked(mb, i, mode, off, len);
		pthread_rwlock_unlock(&i->lock);
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

/* SEEK_DATA/SEEK_HOLE at block granularity; the end of file is a hole. */
static int mem_lseek_locked(const struct mem_inode *i, uint64_t off,
			    uint32_t whence, uint64_t *res)
{
	uint64_t idx = off >> MEM_BLK_SHIFT, r;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off >= i->size)
		return -ENXIO;
	if (whence == SEEK_DATA) {
		r = mem_data_next_data(&i->data, idx);
		/* r < 2^47 here: the shift cannot overflow. */
		if (r == MEM_IDX_NONE || r << MEM_BLK_SHIFT >= i->size)
			return -ENXIO;
		*res = r == idx ? off : r << MEM_BLK_SHIFT;
		return 0;
	}
	r = mem_data_next_hole(&i->data, idx);
	if (r > (i->size >> MEM_BLK_SHIFT))
		*res = i->size;
	else
		*res = r == idx ? off : mem_min(r << MEM_BLK_SHIFT, i->size);
	return 0;
}

void mem_lseek(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
	       uint32_t whence, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *i;
	int err;

	pthread_rwlock_rdlock(&mb->ns_lock);
	err = mem_data_file(mb, ino, &i);
	if (!err) {
		pthread_rwlock_rdlock(&i->lock);
		err = mem_lseek_locked(i, off, whence, &c->off);
		pthread_rwlock_unlock(&i->lock);
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

/*
 * Copies @len bytes from @src at @in to @dst at @out, a piece at most one
 * block of either side at a time. A hole in the source stays a hole where
 * the destination has none; stored destination bytes are zeroed. Returns
 * the bytes copied; *@err when short.
 */
static uint64_t mem_copy_data(struct mem_backend *mb, const struct mem_data *src,
			      uint64_t in, struct mem_data *dst, uint64_t out,
			      uint64_t len, int *err)
{
	uint64_t done = 0;

	*err = 0;
	while (done < len) {
		uint64_t ip = in + done, op = out + done;
		uint64_t io = ip & MEM_BLK_MASK, oo = op & MEM_BLK_MASK;
		uint64_t l = mem_min(len - done, MEM_BLK_SIZE -
					(io > oo ? io : oo));
		struct mem_blk *sb = mem_data_blk(src, ip >> MEM_BLK_SHIFT);
		struct mem_blk *db;
		uint64_t avail = 0;

		if (sb && io < sb->cap)
			avail = mem_min(l, sb->cap - io);
		if (!avail) {
			mem_data_zero_in(dst, op, l);
		} else {
			*err = mem_data_blk_get(mb, dst, op >> MEM_BLK_SHIFT,
						oo + l, &db);
			if (*err)
				break;
			memcpy(db->data + oo, sb->data + io, avail);
			memset(db->data + oo + avail, 0, l - avail);
		}
		done += l;
	}
	return done;
}

void mem_copy_file_range(struct backend *b, const struct vctx *x,
			 uint64_t ino_in, uint64_t fh_in, uint64_t off_in,
			 uint64_t ino_out, uint64_t fh_out, uint64_t off_out,
			 uint64_t len, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_inode *src, *dst, *first, *second;
	uint64_t n = 0;
	int err;

	pthread_rwlock_rdlock(&mb->ns_lock);
	err = mem_data_file(mb, ino_in, &src);
	if (!err)
		err = mem_data_file(mb, ino_out, &dst);
	if (err)
		goto out_unlock_ns;

	/* Two inode locks: ascending ino (mem_i.h). */
	first = src->ino <= dst->ino ? src : dst;
	second = first == src ? dst : src;
	if (src == dst) {
		pthread_rwlock_wrlock(&dst->lock);
	} else {
		if (first == dst)
			pthread_rwlock_wrlock(&first->lock);
		else
			pthread_rwlock_rdlock(&first->lock);
		if (second == dst)
			pthread_rwlock_wrlock(&second->lock);
		else
			pthread_rwlock_rdlock(&second->lock);
	}

	if (off_in < src->size)
		n = mem_min(len, src->size - off_in);
	if (n && off_out >= MEM_OFF_MAX) {
		err = -EFBIG;
		goto out_unlock;
	}
	n = mem_min(n, MEM_OFF_MAX - off_out);
	/* Overlapping ranges in one file: -EINVAL, as copy_file_range(2). */
	if (src == dst && n && off_in < off_out + n && off_out < off_in + n) {
		n = 0;
		err = -EINVAL;
		goto out_unlock;
	}
	n = mem_copy_data(mb, &src->data, off_in, &dst->data, off_out, n,
			  &err);
	if (n) {
		err = 0;
		if (off_out + n > dst->size)
			dst->size = off_out + n;
		mem_now(&dst->mtime);
		dst->ctime = dst->mtime;
	}
out_unlock:
	pthread_rwlock_unlock(&dst->lock);
	if (src != dst)
		pthread_rwlock_unlock(&src->lock);
out_unlock_ns:
	pthread_rwlock_unlock(&mb->ns_lock);
	c->count = n;
	mem_complete(c, err);
}

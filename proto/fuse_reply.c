// SPDX-License-Identifier: MIT
/*
 * fuse_reply.c - reply encoders (see fuse_reply.h).
 *
 * Directory entries follow the kernel's parser (fs/fuse/readdir.c): each
 * record is its header, namelen name bytes without a terminator, then zero
 * padding up to the next multiple of 8. The kernel rejects the whole READDIR
 * reply with EIO when a record has namelen 0, namelen over 1024, or a '/' in
 * the name, so such entries are refused here instead (reported like an entry
 * that does not fit: @pos comes back unchanged).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuse_reply.h"

/* Largest errno the kernel accepts in a reply (its -ERESTARTSYS bound). */
#define FUSE_REPLY_ERRNO_MAX 511

/*
 * Longest dirent name the kernel's READDIR parser accepts (newer kernels may
 * take more; valorfs names stop at 255 anyway).
 */
#define FUSE_REPLY_DIRENT_NAME_MAX 1024

int fuse_out_header_fill(struct fuse_out_header *h, uint64_t unique, int error,
			 size_t payload_len)
{
	if (error > 0 || error < -FUSE_REPLY_ERRNO_MAX)
		return -EINVAL;
	if (error && payload_len)
		return -EINVAL;
	/* The length field is 32 bits and counts the header too. */
	if (payload_len > UINT32_MAX - sizeof(*h))
		return -EINVAL;

	h->len = (uint32_t)(sizeof(*h) + payload_len);
	h->error = error;
	h->unique = unique;
	return 0;
}

/* Saturating, so a huge namelen can never wrap into a small size. */
static size_t fuse_reply_rec_size(size_t name_off, size_t namelen)
{
	if (namelen > SIZE_MAX - name_off - sizeof(uint64_t))
		return SIZE_MAX;
	return fuse_dirent_align(name_off + namelen);
}

size_t fuse_dirent_size(size_t namelen)
{
	return fuse_reply_rec_size(FUSE_NAME_OFFSET, namelen);
}

size_t fuse_direntplus_size(size_t namelen)
{
	return fuse_reply_rec_size(FUSE_NAME_OFFSET_DIRENTPLUS, namelen);
}

/* Whether the kernel would accept @name as a dirent name. */
static int fuse_reply_name_ok(const char *name, size_t namelen)
{
	if (!name || !namelen || namelen > FUSE_REPLY_DIRENT_NAME_MAX)
		return 0;
	return memchr(name, '/', namelen) == NULL;
}

/*
 * Write the dirent part (header, name, zero padding) at @p; @tail is the
 * number of bytes from @p to the end of the record.
 */
static void fuse_reply_put_dirent(uint8_t *p, const char *name, size_t namelen,
				  uint64_t ino, uint32_t type, uint64_t off,
				  size_t tail)
{
	struct fuse_dirent d = {
		.ino = ino,
		.off = off,
		.namelen = (uint32_t)namelen,
		.type = type,
	};

	memcpy(p, &d, FUSE_NAME_OFFSET);
	memcpy(p + FUSE_NAME_OFFSET, name, namelen);
	memset(p + FUSE_NAME_OFFSET + namelen, 0,
	       tail - FUSE_NAME_OFFSET - namelen);
}

size_t fuse_dirent_add(void *buf, size_t cap, size_t pos, const char *name,
		       size_t namelen, uint64_t ino, uint32_t type,
		       uint64_t off)
{
	size_t rec = fuse_dirent_size(namelen);

	if (!fuse_reply_name_ok(name, namelen))
		return pos;
	if (pos > cap || rec > cap - pos)
		return pos;

	fuse_reply_put_dirent((uint8_t *)buf + pos, name, namelen, ino, type,
			      off, rec);
	return pos + rec;
}

size_t fuse_direntplus_add(void *buf, size_t cap, size_t pos, const char *name,
			   size_t namelen, const struct fuse_entry_out *entry,
			   uint32_t type, uint64_t off)
{
	size_t rec = fuse_direntplus_size(namelen);
	uint8_t *p;

	if (!entry || !fuse_reply_name_ok(name, namelen))
		return pos;
	if (pos > cap || rec > cap - pos)
		return pos;

	p = (uint8_t *)buf + pos;
	memcpy(p, entry, sizeof(*entry));
	/* The dirent's ino is the attribute inode number, as for stat(2). */
	fuse_reply_put_dirent(p + sizeof(*entry), name, namelen,
			      entry->attr.ino, type, off, rec - sizeof(*entry));
	return pos + rec;
}

/*
 * The kernel stores the seconds in a signed 64-bit time, so the clamp stays
 * at INT64_MAX (about 292 billion years) rather than UINT64_MAX.
 */
void fuse_timeout_split(double seconds, uint64_t *sec, uint32_t *nsec)
{
	uint64_t s, ns;

	/* Also catches NaN, for which every comparison is false. */
	if (!(seconds > 0)) {
		*sec = 0;
		*nsec = 0;
		return;
	}
	if (seconds >= 9223372036854775807.0) {
		*sec = INT64_MAX;
		*nsec = 0;
		return;
	}

	s = (uint64_t)seconds;
	/* Round to the nearest nanosecond: 0.3 is 0.29999.. in binary. */
	ns = (uint64_t)((seconds - (double)s) * 1e9 + 0.5);
	if (ns >= 1000000000) {
		s++;
		ns -= 1000000000;
	}
	*sec = s;
	*nsec = (uint32_t)ns;
}

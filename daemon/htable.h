/* SPDX-License-Identifier: MIT */
/*
 * htable.h - open file and directory handles.
 *
 * The kernel is handed an opaque 64-bit fh at OPEN/OPENDIR/CREATE and gives it
 * back on every READ, WRITE, RELEASE... The fh is (generation << 32 | slot),
 * so a stale or forged fh is detected (-EBADF) rather than used. A slot keeps
 * the inode and the backend's own handle.
 *
 * Thread-safe under one mutex (handles are opened and closed far less often
 * than they are used, and a lookup is a few loads). Slots are recycled
 * through a free list; the array doubles when full.
 */
#ifndef VALOR_DAEMON_HTABLE_H
#define VALOR_DAEMON_HTABLE_H

#include <stddef.h>
#include <stdint.h>

struct vhandle {
	uint64_t ino;
	uint64_t bfh;		/* the backend's handle */
	uint32_t flags;		/* open(2) flags */
	uint32_t is_dir;
};

struct htable;

struct htable *htable_new(void);
void htable_free(struct htable *t);

/* Store @h; *fh is what the kernel gets. 0 or -ENOMEM. */
int htable_add(struct htable *t, const struct vhandle *h, uint64_t *fh);
/* Copy the handle behind @fh into @out. 0 or -EBADF. */
int htable_get(struct htable *t, uint64_t fh, struct vhandle *out);
/* Remove @fh, copying it into @out first. 0 or -EBADF. */
int htable_del(struct htable *t, uint64_t fh, struct vhandle *out);
/* Handles currently open. */
size_t htable_size(struct htable *t);

#endif

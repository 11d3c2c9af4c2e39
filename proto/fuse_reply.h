/* SPDX-License-Identifier: MIT */
/*
 * fuse_reply.h - encoders for FUSE replies. Pure code, no I/O.
 *
 * A reply is a fuse_out_header followed by the op's out-arguments. The
 * encoders here fill caller-owned memory and return how many bytes they used;
 * the engines decide how those bytes reach the kernel (writev, an io_uring
 * SQE, or a FUSE-over-io_uring payload buffer).
 */
#ifndef VALOR_PROTO_FUSE_REPLY_H
#define VALOR_PROTO_FUSE_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "fuse_abi.h"

/*
 * Fill @h for a reply to @unique of @payload_len bytes after the header.
 * @error is 0 or -errno; an error reply must carry payload_len 0.
 * Returns -EINVAL (leaving @h untouched) when @error is positive or below
 * -511, or when an error reply has a payload: the kernel would refuse it.
 */
int fuse_out_header_fill(struct fuse_out_header *h, uint64_t unique, int error,
			 size_t payload_len);

/*
 * Append one READDIR entry at @buf + @pos (@cap total bytes).
 * @off is the cookie a later READDIR passes back to continue after it.
 * Returns the new position, or @pos unchanged when the entry does not fit
 * (the caller stops and replies with what it has).
 */
size_t fuse_dirent_add(void *buf, size_t cap, size_t pos, const char *name,
		       size_t namelen, uint64_t ino, uint32_t type,
		       uint64_t off);

/* Same for READDIRPLUS: the entry carries @entry (attributes and timeouts). */
size_t fuse_direntplus_add(void *buf, size_t cap, size_t pos, const char *name,
			   size_t namelen, const struct fuse_entry_out *entry,
			   uint32_t type, uint64_t off);

/* Bytes one entry of @namelen takes in READDIR / READDIRPLUS replies. */
size_t fuse_dirent_size(size_t namelen);
size_t fuse_direntplus_size(size_t namelen);

/*
 * Split a timeout in seconds into FUSE's (sec, nsec) pair; negative or NaN
 * counts as 0.
 */
void fuse_timeout_split(double seconds, uint64_t *sec, uint32_t *nsec);

#endif

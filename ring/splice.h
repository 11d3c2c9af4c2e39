/* SPDX-License-Identifier: MIT */
/*
 * splice.h - moving FUSE requests and replies through a pipe.
 *
 * splice=read: a request is spliced from /dev/fuse into the worker's pipe
 * and its bytes read out of the pipe. The kernel dequeues the request
 * before it checks that its pages fit the pipe and fails with EIO if they do
 * not, losing the request, so the pipe is always empty before a splice and
 * sized for 80 + max_write (which caps max_write at pipe-max-size - 4 KiB).
 *
 * splice=write: a reply of at least VSPLICE_MIN_REPLY bytes is vmspliced
 * into the pipe (pages referenced, not copied) and spliced into /dev/fuse
 * with SPLICE_F_MOVE. The whole reply must be in the pipe: a short splice
 * is refused by the kernel and leaves the request answerable, so any error
 * drains the pipe and the caller falls back to writev(2).
 *
 * Both are per worker and used only by the fd engines (sync, clone).
 */
#ifndef VALOR_RING_SPLICE_H
#define VALOR_RING_SPLICE_H

#include <stddef.h>
#include <sys/uio.h>

/* Replies smaller than this go out with writev(2): splice loses on them. */
#define VSPLICE_MIN_REPLY (2 * 4096)

struct vsplice {
	int pipe[2];		/* -1 when not in use */
	size_t size;		/* pipe capacity in bytes */
	int read_ok;		/* splice requests in (turned off on error) */
	int write_ok;		/* splice replies out (turned off on error) */
	unsigned long n_read, n_write, n_fallback;
};

/* The largest pipe this process may create (pipe-max-size), in bytes. */
size_t vsplice_pipe_max(void);

/*
 * Set up @sp for @want_read/@want_write with requests of up to @bufsize
 * bytes. Returns 0 (features that cannot work are turned off with a log
 * line) or -errno.
 */
int vsplice_init(struct vsplice *sp, int want_read, int want_write,
		 size_t bufsize);
void vsplice_release(struct vsplice *sp);

/*
 * Read one request from @fd into @buf (@cap bytes) through the pipe.
 * Returns its length, or -errno as read(2) would (EAGAIN, ENODEV, ...).
 * -EIO from the pipe step turns splice reads off for this worker.
 */
ssize_t vsplice_read_req(struct vsplice *sp, int fd, void *buf, size_t cap);

/*
 * Send the reply @iov through the pipe. Returns 0, -ENOENT (request gone),
 * or -EAGAIN when the caller must send it with writev(2) instead.
 */
int vsplice_send(struct vsplice *sp, int fd, const struct iovec *iov,
		 int iovcnt);

#endif

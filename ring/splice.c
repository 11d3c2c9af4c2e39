/* SPDX-License-Identifier: MIT */
#include "splice.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

size_t vsplice_pipe_max(void)
{
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "re");
	unsigned long v = 1 << 20;

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 1 << 20;
		fclose(f);
	}
	return v;
}

int vsplice_init(struct vsplice *sp, int want_read, int want_write,
		 size_t bufsize)
{
	size_t want = bufsize + 4096;
	size_t max = vsplice_pipe_max();
	int got;

	memset(sp, 0, sizeof(*sp));
	sp->pipe[0] = sp->pipe[1] = -1;
	if (!want_read && !want_write)
		return 0;
	if (pipe2(sp->pipe, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	if (want > max)
		want = max;
	got = fcntl(sp->pipe[0], F_SETPIPE_SZ, (int)want);
	if (got < 0) {
		vlog_warn("splice: cannot size the pipe to %zu bytes: %s", want,
			  strerror(errno));
		got = fcntl(sp->pipe[0], F_GETPIPE_SZ);
	}
	sp->size = got > 0 ? (size_t)got : 65536;
	sp->write_ok = want_write;
	/* A request must fit the pipe whole (header page + data pages). */
	sp->read_ok = want_read && sp->size >= bufsize;
	if (want_read && !sp->read_ok)
		vlog_warn("splice=read off: a %zu-byte request does not fit a "
			  "%zu-byte pipe (lower max_write)", bufsize, sp->size);
	return 0;
}

void vsplice_release(struct vsplice *sp)
{
	if (sp->pipe[0] >= 0)
		close(sp->pipe[0]);
	if (sp->pipe[1] >= 0)
		close(sp->pipe[1]);
	sp->pipe[0] = sp->pipe[1] = -1;
}

/* Throw away whatever a failed step left in the pipe. */
static void vsplice_drain(struct vsplice *sp)
{
	char junk[4096];

	while (read(sp->pipe[0], junk, sizeof(junk)) > 0)
		;
}

ssize_t vsplice_read_req(struct vsplice *sp, int fd, void *buf, size_t cap)
{
	ssize_t n, got = 0;

	n = splice(fd, NULL, sp->pipe[1], NULL, cap, SPLICE_F_NONBLOCK);
	if (n < 0) {
		int err = errno;

		if (err == EINVAL) {
			/* This kernel or fd cannot splice requests: stop. */
			vlog_warn("splice=read failed (%s); reading with read(2)",
				  strerror(err));
			sp->read_ok = 0;
			return -EAGAIN;
		}
		return -err;
	}
	while (got < n) {
		ssize_t m = read(sp->pipe[0], (char *)buf + got, (size_t)(n - got));

		if (m <= 0) {
			vlog_err("splice=read: pipe gave %zd of %zd bytes",
				 got, n);
			vsplice_drain(sp);
			sp->read_ok = 0;
			return -EIO;
		}
		got += m;
	}
	sp->n_read++;
	return got;
}

int vsplice_send(struct vsplice *sp, int fd, const struct iovec *iov,
		 int iovcnt)
{
	size_t total = 0;
	ssize_t n;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	/* Each iovec may start mid-page: leave a spare slot per iovec. */
	if (total < VSPLICE_MIN_REPLY ||
	    total + (size_t)(iovcnt + 1) * 4096 > sp->size)
		return -EAGAIN;
	n = vmsplice(sp->pipe[1], iov, (unsigned long)iovcnt, SPLICE_F_NONBLOCK);
	if (n != (ssize_t)total)
		goto out_fallback;
	n = splice(sp->pipe[0], NULL, fd, NULL, total, SPLICE_F_MOVE);
	if (n == (ssize_t)total) {
		sp->n_write++;
		return 0;
	}
	if (n < 0 && errno == ENOENT) {
		vsplice_drain(sp);
		return -ENOENT;
	}
out_fallback:
	vsplice_drain(sp);
	sp->n_fallback++;
	return -EAGAIN;
}

/* SPDX-License-Identifier: MIT */
#include "ctlsock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"

struct vctl {
	struct vloop *loop;
	struct vloop_watch watch;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	vctl_report_fn report;
	void *arg;
};

void vctl_printf(struct vctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t ncap = b->cap ? b->cap * 2 : 4096;
			char *np;

			while (ncap - b->len <= (size_t)n)
				ncap *= 2;
			if (ncap > VCTL_REPLY_MAX) {
				b->oom = 1;
				return;
			}
			np = realloc(b->p, ncap);
			if (!np) {
				b->oom = 1;
				return;
			}
			b->p = np;
			b->cap = ncap;
		}
	}
}

/* Write all of @p to a client, waiting at most VCTL_TIMEOUT_MS. */
static void vctl_write_all(int fd, const char *p, size_t len)
{
	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n = write(fd, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN &&
		    poll(&pfd, 1, VCTL_TIMEOUT_MS) > 0)
			continue;
		return;	/* a client that does not read is dropped */
	}
}

static void vctl_serve(struct vctl *c, int cfd)
{
	struct pollfd pfd = { .fd = cfd, .events = POLLIN };
	struct vctl_buf out = { 0 };
	char line[128];
	size_t got = 0;

	/* One short line; a silent client is dropped after the timeout. */
	while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
		ssize_t n;

		if (poll(&pfd, 1, VCTL_TIMEOUT_MS) <= 0)
			return;
		n = read(cfd, line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	line[got] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (!strcmp(line, "stats"))
		c->report(c->arg, 0, &out);
	else if (!strcmp(line, "stats json"))
		c->report(c->arg, 1, &out);
	else
		vctl_printf(&out, "error: unknown command '%.64s'\n", line);
	if (out.oom)
		vctl_write_all(cfd, "error: report too large\n", 24);
	else if (out.p)
		vctl_write_all(cfd, out.p, out.len);
	free(out.p);
}

static void vctl_accept(struct vloop_watch *w, uint32_t revents)
{
	struct vctl *c = (struct vctl *)((char *)w - offsetof(struct vctl, watch));

	for (;;) {
		int cfd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (cfd < 0)
			return;	/* EAGAIN: no more, or a transient error */
		vctl_serve(c, cfd);
		close(cfd);
	}
}

int vctl_open(struct vctl **out, struct vloop *loop, const char *path,
	      vctl_report_fn report, void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vctl *c;
	char dir[sizeof(sa.sun_path)];
	char *slash;
	int ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		vlog_err("control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->loop = loop;
	c->report = report;
	c->arg = arg;
	strcpy(c->path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST) {
			ret = -errno;
			vlog_err("control socket directory %s: %s", dir,
				 strerror(-ret));
			goto out_free;
		}
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		ret = -errno;
		goto out_free;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(c->fd, 16)) {
		ret = -errno;
		vlog_err("control socket %s: %s", path, strerror(-ret));
		goto out_free;
	}
	chmod(path, 0600);
	c->watch.fd = c->fd;
	c->watch.events = POLLIN;
	c->watch.cb = vctl_accept;
	ret = vloop_watch_add(loop, &c->watch);
	if (ret)
		goto out_unlink;
	*out = c;
	return 0;

out_unlink:
	unlink(path);
out_free:
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return ret;
}

void vctl_close(struct vctl *c)
{
	if (!c)
		return;
	vloop_watch_del(c->loop, &c->watch);
	close(c->fd);
	unlink(c->path);
	free(c);
}

int vctl_query(const char *path, const char *cmd, char **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 0, cap = 4096;
	char *buf;
	int fd, ret = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	buf = malloc(cap);
	while (buf) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = cap < VCTL_REPLY_MAX * 2 ? realloc(buf, cap * 2) :
							      NULL;

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

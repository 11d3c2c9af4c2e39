/* SPDX-License-Identifier: MIT */
/*
 * tcp.c - the TCP transport on the event loop (either backend: it only
 * uses fd watches and timers).
 *
 * Output: a FIFO of caller-owned struct vconn_send, gathered into one
 * sendmsg(2) of up to VTCP_IOV_BATCH iovecs; nothing is copied. A send
 * made while the queue is empty is written at once. A POLLOUT watch is
 * active only while the kernel's buffer is full.
 *
 * Input: struct wire_rx (proto/wire_frame.h) says where the next bytes go.
 * Each readv(2) fills that place directly when it is big (a body, or data
 * going to the buffer its receiver named) and puts what follows into a
 * staging buffer; small frames are cut out of the staging buffer, so a
 * burst of replies costs one system call, not three per frame. The staging
 * buffer is always emptied before the read callback returns: the watch is
 * level-triggered on the socket, and bytes already read would otherwise
 * wait for more to arrive.
 *
 * Handshake (common/auth.h): the server sends HELLO at once; frames of the
 * handshake are the only ones accepted (at most VTCP_HS_BODY_MAX bytes of
 * body, no data) until it completes, and no frame reaches the owner
 * before. A server conn belongs to its listener until then.
 *
 * Lifetime: the owner's callbacks may close the conn. Every entry from the
 * loop (watch and timer callbacks) holds c->busy while it runs, and
 * vtcp_close() only frees a conn that nobody is running on; the code
 * re-checks c->released/c->state after every callback it makes.
 */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/log.h"
#include "proto/wire_msg.h"
#include "rdma/transport.h"
#include "ring/loop.h"

/* One numbering of the handshake on the wire, whoever names it. */
_Static_assert(WIRE_OP_HELLO == WIRE_AUTH_HELLO &&
		       WIRE_OP_PROOF == WIRE_AUTH_PROOF &&
		       WIRE_OP_ACK == WIRE_AUTH_ACK,
	       "handshake opcodes differ between wire_frame.h and wire_msg.h");

#define VTCP_SOCKBUF (4 << 20)	  /* SO_SNDBUF / SO_RCVBUF */
#define VTCP_STAGE (64 << 10)	  /* staging buffer for small reads */
#define VTCP_DIRECT_MIN (8 << 10) /* read parts this big in place */
#define VTCP_BODY_INIT 4096	  /* body buffer, grown up to 1 MiB */
#define VTCP_READ_BUDGET 16	  /* readv calls per readable event */
#define VTCP_IOV_BATCH 128	  /* iovecs per sendmsg */
#define VTCP_ACCEPT_BUDGET 64	  /* accepts per readable event */
#define VTCP_HS_TIMEOUT_MS 5000	  /* default handshake bound */
#define VTCP_HS_BODY_MAX 64	  /* largest handshake body */
#define VTCP_EMFILE_PAUSE_MS 100  /* listener back-off when out of fds */
#define VTCP_BACKLOG 1024

#define vtcp_container_of(ptr, type, member)                                   \
	((type *)((char *)ptr - offsetof(type, member)))

/*
 * The life of a connection. Transitions are checked by vtcp_set_state().
 */
enum vtcp_state {
	/* Client: non-blocking connect(2) in progress; ww waits for it. */
	VTCP_CONNECTING,
	/* Client: connected, waiting for the server's HELLO. */
	VTCP_HELLO_WAIT,
	/* Client: PROOF sent, waiting for the server's ACK. */
	VTCP_ACK_WAIT,
	/* Server: HELLO sent, waiting for the client's PROOF. */
	VTCP_PROOF_WAIT,
	/* Authenticated: frames go to the owner, sends are accepted. */
	VTCP_UP,
	/* Failed: fd closed, queue failed, on_close delivered. */
	VTCP_DEAD,
};

static const char *const vtcp_state_names[] = {
	[VTCP_CONNECTING] = "connecting",
	[VTCP_HELLO_WAIT] = "hello-wait",
	[VTCP_ACK_WAIT] = "ack-wait",
	[VTCP_PROOF_WAIT] = "proof-wait",
	[VTCP_UP] = "up",
	[VTCP_DEAD] = "dead",
};

#define VTCP_BIT(s) (1u << (s))
static const unsigned vtcp_state_next[] = {
	[VTCP_CONNECTING] = VTCP_BIT(VTCP_HELLO_WAIT) | VTCP_BIT(VTCP_DEAD),
	[VTCP_HELLO_WAIT] = VTCP_BIT(VTCP_ACK_WAIT) | VTCP_BIT(VTCP_UP) |
			    VTCP_BIT(VTCP_DEAD),
	[VTCP_ACK_WAIT] = VTCP_BIT(VTCP_UP) | VTCP_BIT(VTCP_DEAD),
	[VTCP_PROOF_WAIT] = VTCP_BIT(VTCP_UP) | VTCP_BIT(VTCP_DEAD),
	[VTCP_UP] = VTCP_BIT(VTCP_DEAD),
	[VTCP_DEAD] = 0,
};

struct vtcp_listener;

/* All fields are the loop thread's. */
struct vtcp_conn {
	struct vconn base;
	struct vloop *loop;
	int fd;
	enum vtcp_state state;
	/* Server conn still authenticating: its listener, and links in the
	 * listener's list. NULL once handed to on_accept. */
	struct vtcp_listener *listener;
	struct vtcp_conn *lprev, *lnext;

	struct vloop_watch rw; /* POLLIN, from connected on */
	struct vloop_watch ww; /* POLLOUT, while connecting or blocked */
	/* Handshake deadline, or (pending_err set) a failure to report. */
	struct vloop_timer timer;
	int pending_err;
	int busy;     /* loop entries running on this conn */
	int released; /* vtcp_close() called: free when busy drops to 0 */

	/* Output FIFO; sq_head is the one being written. */
	struct vconn_send *sq_head, *sq_tail;

	/* Input. */
	struct wire_rx rx;
	uint8_t *body;
	uint32_t body_cap;
	uint8_t *stage;
	uint32_t stage_off, stage_len;
	uint8_t *scratch;
	size_t scratch_cap;

	/* Handshake. hs_out[0] carries HELLO (server) or PROOF (client),
	 * hs_out[1] the server's ACK. */
	struct vauth_hs hs;
	uint32_t hs_timeout_ms;
	uint8_t hs_out[2][WIRE_HDR_SIZE + VAUTH_PROOF_LEN];
	struct iovec hs_iov[2];
	struct vconn_send hs_send[2];

	char peer[64];
};

struct vtcp_listener {
	struct vlistener base;
	struct vloop *loop;
	int fd;
	struct vloop_watch w;
	struct vloop_timer pause; /* re-enable accepting after EMFILE */
	struct vlisten_opts opts;
	struct vtcp_conn *hs_conns; /* authenticating, not yet accepted */
	int busy;
	int released;
	char name[VURL_STR_MAX];
};

static inline struct vtcp_conn *vtcp_of(const struct vconn *c)
{
	return vtcp_container_of(c, struct vtcp_conn, base);
}

static void vtcp_conn_free(struct vtcp_conn *c);
static void vtcp_close(struct vconn *vc);
static void vtcp_flush(struct vtcp_conn *c);

/* ---- state and lifetime -------------------------------------------------- */

static void vtcp_set_state(struct vtcp_conn *c, enum vtcp_state state)
{
	assert(vtcp_state_next[c->state] & VTCP_BIT(state));
	vlog_debug("tcp %s: %s -> %s", c->peer, vtcp_state_names[c->state],
		   vtcp_state_names[state]);
	c->state = state;
}

static void vtcp_unbusy(struct vtcp_conn *c)
{
	assert(c->busy > 0);
	if (--c->busy == 0 && c->released)
		vtcp_conn_free(c);
}

/* 1 when the code running on @c must stop touching the conn's I/O. */
static inline int vtcp_gone(const struct vtcp_conn *c)
{
	return c->released || c->state == VTCP_DEAD;
}

/* Stop every source of callbacks and close the socket. Idempotent. */
static void vtcp_io_stop(struct vtcp_conn *c)
{
	vloop_watch_del(c->loop, &c->rw);
	vloop_watch_del(c->loop, &c->ww);
	vloop_timer_cancel(c->loop, &c->timer);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void vtcp_listener_unlink(struct vtcp_conn *c)
{
	struct vtcp_listener *l = c->listener;

	if (!l)
		return;
	if (c->lprev)
		c->lprev->lnext = c->lnext;
	else
		l->hs_conns = c->lnext;
	if (c->lnext)
		c->lnext->lprev = c->lprev;
	c->lprev = c->lnext = NULL;
	c->listener = NULL;
}

static void vtcp_listener_link(struct vtcp_listener *l, struct vtcp_conn *c)
{
	c->listener = l;
	c->lprev = NULL;
	c->lnext = l->hs_conns;
	if (l->hs_conns)
		l->hs_conns->lprev = c;
	l->hs_conns = c;
}

/*
 * The conn failed: log why, stop its I/O, fail its queued sends, tell the
 * owner. Only from a loop entry (busy held). A server conn still
 * authenticating has no owner yet: it is simply dropped.
 */
static void vtcp_fail(struct vtcp_conn *c, int err, enum vlog_level level,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void vtcp_fail(struct vtcp_conn *c, int err, enum vlog_level level,
		      const char *fmt, ...)
{
	struct vconn_send *s;
	char why[256];
	va_list ap;

	if (vtcp_gone(c))
		return;
	assert(c->busy > 0);
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vlog(level, "tcp %s: closing connection: %s", c->peer, why);

	vtcp_set_state(c, VTCP_DEAD);
	vtcp_io_stop(c);
	if (c->listener) {
		vtcp_close(&c->base);
		return;
	}
	/* Re-read the head each time: a done callback may close the conn
	 * (vtcp_close then drops the rest without callbacks). */
	while (!c->released && (s = c->sq_head)) {
		c->sq_head = s->next;
		if (!c->sq_head)
			c->sq_tail = NULL;
		s->next = NULL;
		s->queued = 0;
		if (s->done)
			s->done(s, err);
	}
	if (!c->released)
		c->base.cbs->on_close(&c->base, err);
}

/* A failure found outside a loop entry: reported by the timer, next
 * iteration, so that no callback runs inside the owner's call. */
static void vtcp_fail_later(struct vtcp_conn *c, int err)
{
	if (c->pending_err)
		return;
	c->pending_err = err;
	/* Re-arming an armed timer never fails; a new one could (-ENOMEM),
	 * and then the read side still reports the broken socket. */
	vloop_timer_add(c->loop, &c->timer, 0);
}

static void vtcp_conn_free(struct vtcp_conn *c)
{
	free(c->body);
	free(c->stage);
	free(c->scratch);
	free(c);
}

static void vtcp_close(struct vconn *vc)
{
	struct vtcp_conn *c = vtcp_of(vc);
	struct vconn_send *s;

	if (c->released)
		return;
	c->released = 1;
	vtcp_io_stop(c);
	vtcp_listener_unlink(c);
	while ((s = c->sq_head)) {
		c->sq_head = s->next;
		s->next = NULL;
		s->queued = 0;
	}
	c->sq_tail = NULL;
	if (!c->busy)
		vtcp_conn_free(c);
}

/* ---- setup --------------------------------------------------------------- */

static void vtcp_on_readable(struct vloop_watch *w, uint32_t revents);
static void vtcp_on_writable(struct vloop_watch *w, uint32_t revents);
static void vtcp_on_timer(struct vloop_timer *t);

static void vtcp_hs_send_done(struct vconn_send *s, int err)
{
	(void)s;
	(void)err; /* the conn's own failure path reports it */
}

/* Cannot-fail init first, then the buffers: vtcp_conn_free() undoes any
 * half-built conn. */
static struct vtcp_conn *vtcp_conn_alloc(struct vloop *loop,
					 const struct vauth_secret *secret,
					 uint32_t hs_timeout_ms)
{
	struct vtcp_conn *c = calloc(1, sizeof(*c));
	int i;

	if (!c)
		return NULL;
	c->base.ops = &vtcp_transport_ops;
	c->loop = loop;
	c->fd = -1;
	c->rw.cb = vtcp_on_readable;
	c->ww.cb = vtcp_on_writable;
	vloop_timer_init(&c->timer, vtcp_on_timer);
	vauth_hs_init(&c->hs, secret);
	c->hs_timeout_ms = hs_timeout_ms ? hs_timeout_ms : VTCP_HS_TIMEOUT_MS;
	for (i = 0; i < 2; i++) {
		c->hs_iov[i].iov_base = c->hs_out[i];
		c->hs_send[i].iov = &c->hs_iov[i];
		c->hs_send[i].iovcnt = 1;
		c->hs_send[i].done = vtcp_hs_send_done;
	}
	snprintf(c->peer, sizeof(c->peer), "?");

	c->body = malloc(VTCP_BODY_INIT);
	c->stage = malloc(VTCP_STAGE);
	if (!c->body || !c->stage) {
		vtcp_conn_free(c);
		return NULL;
	}
	c->body_cap = VTCP_BODY_INIT;
	wire_rx_init(&c->rx, c->body, c->body_cap);
	return c;
}

/* Best effort: the kernel caps the buffers at net.core.[rw]mem_max. */
static void vtcp_sockbufs(int fd)
{
	int sz = VTCP_SOCKBUF;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static void vtcp_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- output -------------------------------------------------------------- */

/* Skip fully written (or empty) iovecs; 1 when @s is complete. */
static int vtcp_send_settle(struct vconn_send *s)
{
	while (s->cur < s->iovcnt && s->off >= s->iov[s->cur].iov_len) {
		s->cur++;
		s->off = 0;
	}
	return s->cur >= s->iovcnt;
}

/* Gather the unwritten part of the sends from @s on into @iov. */
static int vtcp_gather(struct vconn_send *s, struct iovec *iov, int max)
{
	int n = 0, i;

	for (; s && n < max; s = s->next) {
		for (i = s->cur; i < s->iovcnt && n < max; i++) {
			size_t skip = i == s->cur ? s->off : 0;

			if (s->iov[i].iov_len <= skip)
				continue;
			iov[n].iov_base = (char *)s->iov[i].iov_base + skip;
			iov[n].iov_len = s->iov[i].iov_len - skip;
			n++;
		}
	}
	return n;
}

/* Account @n written bytes to @s and the sends after it. Returns the
 * first send that is not complete (NULL: all are). */
static struct vconn_send *vtcp_advance(struct vconn_send *s, size_t n)
{
	while (s) {
		vtcp_send_settle(s);
		while (n && s->cur < s->iovcnt) {
			size_t left = s->iov[s->cur].iov_len - s->off;
			size_t k = n < left ? n : left;

			s->off += k;
			n -= k;
			vtcp_send_settle(s);
		}
		if (s->cur < s->iovcnt)
			return s;
		s = s->next;
	}
	return NULL;
}

/* One sendmsg of the sends from @s on. Bytes written, or -errno. */
static ssize_t vtcp_write(struct vtcp_conn *c, struct vconn_send *s)
{
	struct iovec iov[VTCP_IOV_BATCH];
	struct msghdr msg = {.msg_iov = iov};
	ssize_t n;

	msg.msg_iovlen = (size_t)vtcp_gather(s, iov, VTCP_IOV_BATCH);
	if (!msg.msg_iovlen)
		return 0;
	do {
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static void vtcp_want_write(struct vtcp_conn *c, int on)
{
	int ret;

	if (!on) {
		vloop_watch_del(c->loop, &c->ww);
		return;
	}
	if (c->ww.active)
		return;
	c->ww.fd = c->fd;
	c->ww.events = POLLOUT;
	ret = vloop_watch_add(c->loop, &c->ww);
	if (ret < 0)
		vtcp_fail_later(c, ret);
}

/*
 * Queue @s, writing it at once when nothing is ahead of it. Returns 1
 * (written, not queued), 0 (queued) or -ENOTCONN (write failed: the
 * failure is reported from the loop).
 */
static int vtcp_queue(struct vtcp_conn *c, struct vconn_send *s)
{
	ssize_t n;

	s->next = NULL;
	s->cur = 0;
	s->off = 0;
	if (!c->sq_head && c->state != VTCP_CONNECTING) {
		n = vtcp_write(c, s);
		if (n < 0 && n != -EAGAIN) {
			vtcp_fail_later(c, (int)n);
			return -ENOTCONN;
		}
		if (!vtcp_advance(s, n < 0 ? 0 : (size_t)n))
			return 1;
	}
	s->queued = 1;
	if (c->sq_tail)
		c->sq_tail->next = s;
	else
		c->sq_head = s;
	c->sq_tail = s;
	if (c->state != VTCP_CONNECTING)
		vtcp_want_write(c, 1);
	return 0;
}

/* Write the queue until it is empty or the kernel is full; from the loop. */
static void vtcp_flush(struct vtcp_conn *c)
{
	struct vconn_send *s, *rest, *done, *next;
	ssize_t n;

	while (!vtcp_gone(c) && c->sq_head) {
		n = vtcp_write(c, c->sq_head);
		if (n == -EAGAIN) {
			vtcp_want_write(c, 1);
			return;
		}
		if (n < 0) {
			vtcp_fail(c, (int)n, VLOG_INFO, "write: %s",
				  strerror((int)-n));
			return;
		}
		rest = vtcp_advance(c->sq_head, (size_t)n);
		/* Unlink every completed send before any callback runs: a
		 * callback may cancel, queue or close. */
		done = c->sq_head;
		c->sq_head = rest;
		if (!rest)
			c->sq_tail = NULL;
		for (s = done; s != rest; s = s->next)
			s->queued = 0;
		/* The chain stays linked through ->next until each send's
		 * own callback: read the link first, the callback may reuse
		 * the send. If one closes the conn, the rest are dropped
		 * without a callback, as vconn_close() promises. */
		for (s = done; s != rest; s = next) {
			next = s->next;
			s->next = NULL;
			if (vtcp_gone(c))
				continue;
			if (s->done)
				s->done(s, 0);
		}
		if (vtcp_gone(c))
			return;
	}
	if (!vtcp_gone(c) && !c->sq_head)
		vtcp_want_write(c, 0);
}

static int vtcp_send(struct vconn *vc, struct vconn_send *s)
{
	struct vtcp_conn *c = vtcp_of(vc);

	if (s->iovcnt <= 0 || s->iovcnt > 1024 || s->queued)
		return -EINVAL;
	if (c->state != VTCP_UP || c->released || c->pending_err)
		return -ENOTCONN;
	return vtcp_queue(c, s);
}

static int vtcp_send_cancel(struct vconn *vc, struct vconn_send *s)
{
	struct vtcp_conn *c = vtcp_of(vc);
	struct vconn_send **pp, *prev = NULL;

	if (!s->queued)
		return -ENOENT;
	if (s == c->sq_head && (s->cur || s->off))
		return -EBUSY;
	for (pp = &c->sq_head; *pp; prev = *pp, pp = &(*pp)->next) {
		if (*pp != s)
			continue;
		*pp = s->next;
		if (c->sq_tail == s)
			c->sq_tail = prev;
		s->next = NULL;
		s->queued = 0;
		if (!c->sq_head)
			vtcp_want_write(c, 0);
		return 0;
	}
	return -ENOENT;
}

/* A handshake frame (header + @len bytes of body) on hs_send[@slot]. */
static int vtcp_hs_send(struct vtcp_conn *c, int slot, uint16_t opcode,
			uint32_t flags, int32_t status, const void *body,
			uint32_t len)
{
	struct wire_frame f = {
		.opcode = opcode,
		.flags = flags,
		.status = status,
		.body_len = len,
	};
	int ret;

	assert(len <= VAUTH_PROOF_LEN);
	ret = wire_frame_encode(&f, c->hs_out[slot]);
	if (ret < 0)
		return ret;
	memcpy(c->hs_out[slot] + WIRE_HDR_SIZE, body, len);
	c->hs_iov[slot].iov_len = WIRE_HDR_SIZE + len;
	if (c->hs_send[slot].queued)
		return -EBUSY;
	ret = vtcp_queue(c, &c->hs_send[slot]);
	return ret < 0 ? ret : 0;
}

/* ---- handshake ----------------------------------------------------------- */

static void vtcp_up_client(struct vtcp_conn *c)
{
	vloop_timer_cancel(c->loop, &c->timer);
	vtcp_set_state(c, VTCP_UP);
	vlog_debug("tcp %s: connected", c->peer);
	c->base.cbs->on_up(&c->base);
}

/* The client proved itself (or no secret): hand the conn to the owner. */
static void vtcp_up_server(struct vtcp_conn *c)
{
	struct vtcp_listener *l = c->listener;
	int ret;

	vloop_timer_cancel(c->loop, &c->timer);
	vtcp_set_state(c, VTCP_UP);
	vtcp_listener_unlink(c);
	l->busy++;
	ret = l->opts.on_accept(&l->base, &c->base, l->opts.arg);
	l->busy--;
	if (ret < 0) {
		vlog_info("tcp %s: connection refused by the server (%s)",
			  c->peer, strerror(-ret));
		vtcp_close(&c->base);
	}
}

static void vtcp_hs_client(struct vtcp_conn *c, const struct wire_frame *h,
			   const void *body)
{
	uint8_t proof[VAUTH_PROOF_LEN];
	const char *why = NULL;
	int ret;

	if (c->state == VTCP_HELLO_WAIT) {
		if (h->opcode != WIRE_OP_HELLO || h->flags) {
			vtcp_fail(c, -EPROTO, VLOG_WARN,
				  "expected HELLO, got opcode %#x: not a "
				  "valorfs server?",
				  h->opcode);
			return;
		}
		ret = vauth_client_hello(&c->hs, body, h->body_len, proof,
					 &why);
		if (ret < 0) {
			vtcp_fail(c, ret, VLOG_ERR, "authentication: %s", why);
			return;
		}
		if (ret == 0) {
			vtcp_up_client(c);
			return;
		}
		vtcp_set_state(c, VTCP_ACK_WAIT);
		ret = vtcp_hs_send(c, 0, WIRE_OP_PROOF, 0, 0, proof,
				   VAUTH_PROOF_LEN);
		if (ret < 0)
			vtcp_fail(c, ret, VLOG_INFO, "sending the proof: %s",
				  strerror(-ret));
		return;
	}

	/* VTCP_ACK_WAIT */
	if (h->opcode != WIRE_OP_ACK || h->flags != WIRE_F_REPLY) {
		vtcp_fail(c, -EPROTO, VLOG_WARN,
			  "expected the server's ACK, got opcode %#x",
			  h->opcode);
		return;
	}
	if (h->status < 0) {
		vtcp_fail(c, -EACCES, VLOG_ERR,
			  "the server refused our proof: our --secret differs "
			  "from the server's");
		return;
	}
	ret = vauth_client_ack(&c->hs, body, h->body_len, &why);
	if (ret < 0) {
		vtcp_fail(c, ret, VLOG_ERR, "authentication: %s", why);
		return;
	}
	vtcp_up_client(c);
}

/* Tell a client its proof failed (best effort, one try), then drop it. */
static void vtcp_hs_refuse(struct vtcp_conn *c, int err, const char *why)
{
	struct wire_frame f = {
		.opcode = WIRE_OP_ACK,
		.flags = WIRE_F_REPLY,
		.status = -EACCES,
	};
	uint8_t hdr[WIRE_HDR_SIZE];

	if (!c->sq_head && !wire_frame_encode(&f, hdr) &&
	    send(c->fd, hdr, sizeof(hdr), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		vlog_debug("tcp %s: refusal not sent: %s", c->peer,
			   strerror(errno));
	vtcp_fail(c, err, VLOG_WARN, "client failed authentication: %s", why);
}

static void vtcp_hs_server(struct vtcp_conn *c, const struct wire_frame *h,
			   const void *body)
{
	uint8_t ack[VAUTH_ACK_LEN];
	const char *why = NULL;
	int ret;

	if (h->opcode != WIRE_OP_PROOF || h->flags) {
		vtcp_fail(c, -EACCES, VLOG_WARN,
			  "client sent opcode %#x before authenticating "
			  "(no --secret on the client?)",
			  h->opcode);
		return;
	}
	ret = vauth_server_proof(&c->hs, body, h->body_len, ack, &why);
	if (ret < 0) {
		vtcp_hs_refuse(c, ret, why);
		return;
	}
	ret = vtcp_hs_send(c, 1, WIRE_OP_ACK, WIRE_F_REPLY, 0, ack,
			   VAUTH_ACK_LEN);
	if (ret < 0) {
		vtcp_fail(c, ret, VLOG_INFO, "sending the ACK: %s",
			  strerror(-ret));
		return;
	}
	vtcp_up_server(c);
}

/* ---- input --------------------------------------------------------------- */

/* A header arrived: apply the transport's limits, make room for the body. */
static int vtcp_rx_hdr(struct vtcp_conn *c)
{
	const struct wire_frame *h = &c->rx.hdr;
	uint32_t cap;
	uint8_t *body;

	if (c->state != VTCP_UP) {
		if (h->body_len > VTCP_HS_BODY_MAX || h->data_len) {
			vtcp_fail(c, -EPROTO, VLOG_WARN,
				  "oversized frame (opcode %#x, body %u, data "
				  "%u) during the handshake",
				  h->opcode, h->body_len, h->data_len);
			return -EPROTO;
		}
		return 0;
	}
	if (h->opcode <= WIRE_OP_TRANSPORT_MAX) {
		vtcp_fail(c, -EPROTO, VLOG_WARN,
			  "handshake opcode %#x after the handshake",
			  h->opcode);
		return -EPROTO;
	}
	if (h->body_len <= c->body_cap)
		return 0;
	cap = c->body_cap;
	while (cap < h->body_len)
		cap = cap > WIRE_MAX_BODY / 2 ? WIRE_MAX_BODY : cap * 2;
	body = realloc(c->body, cap);
	if (!body) {
		vtcp_fail(c, -ENOMEM, VLOG_ERR, "no memory for a %u-byte body",
			  h->body_len);
		return -ENOMEM;
	}
	c->body = body;
	c->body_cap = cap;
	wire_rx_set_body(&c->rx, body, cap);
	return 0;
}

static void vtcp_rx_frame(struct vtcp_conn *c)
{
	const struct wire_frame *h = &c->rx.hdr;
	const void *body = wire_rx_body(&c->rx);

	switch (c->state) {
	case VTCP_UP:
		c->base.cbs->on_frame(&c->base, h, body, wire_rx_data(&c->rx));
		break;
	case VTCP_HELLO_WAIT:
	case VTCP_ACK_WAIT:
		vtcp_hs_client(c, h, body);
		break;
	case VTCP_PROOF_WAIT:
		vtcp_hs_server(c, h, body);
		break;
	default:
		break;
	}
}

/*
 * Run the receiver over what the staging buffer holds, delivering frames.
 * Returns 0 with the staging buffer empty and more bytes needed, or -1 if
 * the conn failed or was closed meanwhile.
 */
static int vtcp_rx_process(struct vtcp_conn *c)
{
	int ev;

	for (;;) {
		if (vtcp_gone(c))
			return -1;
		ev = wire_rx_step(&c->rx);
		switch (ev) {
		case WIRE_RX_NEED:
			if (c->stage_off == c->stage_len) {
				c->stage_off = c->stage_len = 0;
				return 0;
			}
			c->stage_off += (uint32_t)wire_rx_feed(
				&c->rx, c->stage + c->stage_off,
				c->stage_len - c->stage_off);
			break;
		case WIRE_RX_HDR:
			if (vtcp_rx_hdr(c) < 0)
				return -1;
			break;
		case WIRE_RX_DATA:
			/* Only UP conns get here: handshake frames carry
			 * no data (vtcp_rx_hdr). */
			wire_rx_set_data(&c->rx, c->base.cbs->on_data(
							 &c->base, &c->rx.hdr,
							 wire_rx_body(&c->rx)));
			break;
		case WIRE_RX_FRAME:
			vtcp_rx_frame(c);
			break;
		default:
			vtcp_fail(c, ev, VLOG_WARN, "bad frame: %s",
				  wire_rx_why(&c->rx));
			return -1;
		}
	}
}

static void vtcp_read(struct vtcp_conn *c)
{
	struct iovec iov[2];
	int reads = 0, cnt;
	size_t want, total;
	void *buf;
	ssize_t n;

	for (;;) {
		if (vtcp_rx_process(c) < 0)
			return;
		if (reads++ == VTCP_READ_BUDGET)
			return; /* level-triggered: the rest comes next time */
		want = wire_rx_want(&c->rx, &buf);
		cnt = 0;
		if (buf && want >= VTCP_DIRECT_MIN) {
			iov[cnt].iov_base = buf;
			iov[cnt++].iov_len = want;
		}
		iov[cnt].iov_base = c->stage;
		iov[cnt++].iov_len = VTCP_STAGE;
		total = (cnt == 2 ? want : 0) + VTCP_STAGE;

		n = readv(c->fd, iov, cnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			vtcp_fail(c, -errno, VLOG_INFO, "read: %s",
				  strerror(errno));
			return;
		}
		if (n == 0) {
			int idle = wire_rx_idle(&c->rx);

			vtcp_fail(c, -ECONNRESET,
				  idle && c->state == VTCP_UP ? VLOG_DEBUG
							      : VLOG_INFO,
				  "peer closed the connection%s",
				  idle ? "" : " in the middle of a frame");
			return;
		}
		if (cnt == 2) {
			size_t k = (size_t)n < want ? (size_t)n : want;

			wire_rx_got(&c->rx, k);
			c->stage_len = (uint32_t)((size_t)n - k);
		} else {
			c->stage_len = (uint32_t)n;
		}
		c->stage_off = 0;
		if ((size_t)n < total) {
			/* Drained the socket: no need for an EAGAIN read. */
			vtcp_rx_process(c);
			return;
		}
	}
}

/* ---- loop entries -------------------------------------------------------- */

static void vtcp_on_readable(struct vloop_watch *w, uint32_t revents)
{
	struct vtcp_conn *c = vtcp_container_of(w, struct vtcp_conn, rw);

	(void)revents; /* errors and hang-ups show up in readv */
	c->busy++;
	vtcp_read(c);
	vtcp_unbusy(c);
}

/* The non-blocking connect finished one way or the other. */
static void vtcp_connected(struct vtcp_conn *c)
{
	socklen_t len = sizeof(int);
	int err = 0, ret;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		vtcp_fail(c, -err, VLOG_DEBUG, "connect: %s", strerror(err));
		return;
	}
	vloop_watch_del(c->loop, &c->ww);
	vtcp_set_state(c, VTCP_HELLO_WAIT);
	c->rw.fd = c->fd;
	c->rw.events = POLLIN;
	ret = vloop_watch_add(c->loop, &c->rw);
	if (ret < 0)
		vtcp_fail(c, ret, VLOG_ERR, "watch: %s", strerror(-ret));
}

static void vtcp_on_writable(struct vloop_watch *w, uint32_t revents)
{
	struct vtcp_conn *c = vtcp_container_of(w, struct vtcp_conn, ww);

	(void)revents;
	c->busy++;
	if (c->state == VTCP_CONNECTING)
		vtcp_connected(c);
	else
		vtcp_flush(c);
	vtcp_unbusy(c);
}

static void vtcp_on_timer(struct vloop_timer *t)
{
	struct vtcp_conn *c = vtcp_container_of(t, struct vtcp_conn, timer);

	c->busy++;
	if (c->pending_err)
		vtcp_fail(c, c->pending_err, VLOG_INFO, "write: %s",
			  strerror(-c->pending_err));
	else
		vtcp_fail(c, -ETIMEDOUT, VLOG_WARN,
			  "handshake not done within %u ms", c->hs_timeout_ms);
	vtcp_unbusy(c);
}

/* ---- connect ------------------------------------------------------------- */

static int vtcp_connect(struct vloop *loop, const struct vurl *url,
			const struct vconn_opts *opts, struct vconn **out)
{
	struct sockaddr_storage ss;
	struct vtcp_conn *c;
	socklen_t sslen;
	int ret;

	*out = NULL;
	ret = vurl_resolve(url, 0, &ss, &sslen);
	if (ret < 0)
		return ret;
	c = vtcp_conn_alloc(loop, opts->secret, opts->handshake_timeout_ms);
	if (!c)
		return -ENOMEM;
	vconn_set_cbs(&c->base, opts->cbs, opts->arg);
	vurl_sockaddr_str((struct sockaddr *)&ss, c->peer, sizeof(c->peer));

	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (c->fd < 0) {
		ret = -errno;
		goto out_free;
	}
	vtcp_nodelay(c->fd);
	vtcp_sockbufs(c->fd); /* before connect: sets the window scale */

	if (connect(c->fd, (struct sockaddr *)&ss, sslen) == 0) {
		c->state = VTCP_HELLO_WAIT;
		c->rw.fd = c->fd;
		c->rw.events = POLLIN;
		ret = vloop_watch_add(loop, &c->rw);
	} else if (errno == EINPROGRESS) {
		c->state = VTCP_CONNECTING;
		c->ww.fd = c->fd;
		c->ww.events = POLLOUT;
		ret = vloop_watch_add(loop, &c->ww);
	} else {
		ret = -errno;
	}
	if (ret < 0)
		goto out_close;
	ret = vloop_timer_add(loop, &c->timer,
			      (uint64_t)c->hs_timeout_ms * 1000000ull);
	if (ret < 0)
		goto out_close;
	*out = &c->base;
	return 0;

out_close:
	vtcp_io_stop(c);
out_free:
	vtcp_conn_free(c);
	return ret;
}

/* ---- listen -------------------------------------------------------------- */

static inline struct vtcp_listener *vtcp_listener_of(struct vlistener *l)
{
	return vtcp_container_of(l, struct vtcp_listener, base);
}

/* A new server conn on @fd: say HELLO, and hand it over at once if there
 * is nothing to authenticate. */
static void vtcp_accept_one(struct vtcp_listener *l, int fd,
			    const struct sockaddr *sa)
{
	uint8_t hello[VAUTH_HELLO_LEN];
	struct vtcp_conn *c;
	int ret;

	c = vtcp_conn_alloc(l->loop, l->opts.secret,
			    l->opts.handshake_timeout_ms);
	if (!c) {
		vlog_err("tcp %s: out of memory for a connection", l->name);
		close(fd);
		return;
	}
	c->fd = fd;
	vurl_sockaddr_str(sa, c->peer, sizeof(c->peer));
	vtcp_nodelay(fd);
	c->state = VTCP_PROOF_WAIT;
	vtcp_listener_link(l, c);

	c->rw.fd = fd;
	c->rw.events = POLLIN;
	ret = vloop_watch_add(l->loop, &c->rw);
	if (ret < 0)
		goto out_close;
	ret = vloop_timer_add(l->loop, &c->timer,
			      (uint64_t)c->hs_timeout_ms * 1000000ull);
	if (ret < 0)
		goto out_close;

	vauth_server_hello(&c->hs, hello);
	c->busy++;
	ret = vtcp_hs_send(c, 0, WIRE_OP_HELLO, 0, 0, hello, sizeof(hello));
	if (ret < 0)
		vtcp_fail(c, ret, VLOG_INFO, "sending HELLO: %s",
			  strerror(-ret));
	else if (!l->opts.secret)
		vtcp_up_server(c);
	vtcp_unbusy(c);
	return;

out_close:
	vlog_err("tcp %s: cannot watch a new connection: %s", l->name,
		 strerror(-ret));
	vtcp_close(&c->base);
}

static void vtcp_listener_resume(struct vloop_timer *t)
{
	struct vtcp_listener *l =
		vtcp_container_of(t, struct vtcp_listener, pause);

	if (vloop_watch_add(l->loop, &l->w) < 0)
		vloop_timer_add(l->loop, &l->pause,
				VTCP_EMFILE_PAUSE_MS * 1000000ull);
}

static void vtcp_on_accept(struct vloop_watch *w, uint32_t revents)
{
	struct vtcp_listener *l = vtcp_container_of(w, struct vtcp_listener, w);
	struct sockaddr_storage ss;
	socklen_t len;
	int i, fd;

	(void)revents;
	l->busy++;
	for (i = 0; i < VTCP_ACCEPT_BUDGET && !l->released; i++) {
		len = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			vtcp_accept_one(l, fd, (struct sockaddr *)&ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		/* Out of fds (or worse): the level-triggered watch would
		 * spin, so stop accepting for a while. */
		vlog_warn("tcp %s: accept: %s; pausing %d ms", l->name,
			  strerror(errno), VTCP_EMFILE_PAUSE_MS);
		vloop_watch_del(l->loop, &l->w);
		vloop_timer_add(l->loop, &l->pause,
				VTCP_EMFILE_PAUSE_MS * 1000000ull);
		break;
	}
	if (--l->busy == 0 && l->released)
		free(l);
}

static int vtcp_listen(struct vloop *loop, const struct vurl *url,
		       const struct vlisten_opts *opts, struct vlistener **out)
{
	struct sockaddr_storage ss;
	struct vtcp_listener *l;
	char addr[VURL_STR_MAX];
	socklen_t sslen;
	int ret, one = 1;

	*out = NULL;
	ret = vurl_resolve(url, 1, &ss, &sslen);
	if (ret < 0)
		return ret;
	vurl_format(url, addr, sizeof(addr));
	if (!opts->secret &&
	    !vurl_sockaddr_is_loopback((struct sockaddr *)&ss)) {
		vlog_err("refusing to listen on %s without a secret: anyone "
			 "who can reach it could use the cluster; give "
			 "--secret FILE or listen on a loopback address",
			 addr);
		return -EPERM;
	}

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->base.ops = &vtcp_transport_ops;
	l->loop = loop;
	l->opts = *opts;
	l->w.cb = vtcp_on_accept;
	vloop_timer_init(&l->pause, vtcp_listener_resume);
	snprintf(l->name, sizeof(l->name), "%s", addr);

	l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (l->fd < 0) {
		ret = -errno;
		goto out_free;
	}
	/* Restart on the same port while old connections sit in TIME_WAIT. */
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	vtcp_sockbufs(l->fd); /* inherited by accepted sockets */
	if (bind(l->fd, (struct sockaddr *)&ss, sslen) < 0 ||
	    listen(l->fd, VTCP_BACKLOG) < 0) {
		ret = -errno;
		vlog_err("cannot listen on %s: %s", addr, strerror(-ret));
		goto out_close;
	}
	l->w.fd = l->fd;
	l->w.events = POLLIN;
	ret = vloop_watch_add(loop, &l->w);
	if (ret < 0)
		goto out_close;
	vlog_debug("tcp: listening on %s", addr);
	*out = &l->base;
	return 0;

out_close:
	close(l->fd);
out_free:
	free(l);
	return ret;
}

static int vtcp_listener_port(struct vlistener *vl)
{
	struct vtcp_listener *l = vtcp_listener_of(vl);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

static void vtcp_listener_close(struct vlistener *vl)
{
	struct vtcp_listener *l = vtcp_listener_of(vl);

	if (l->released)
		return;
	l->released = 1;
	while (l->hs_conns)
		vtcp_close(&l->hs_conns->base); /* unlinks itself */
	vloop_watch_del(l->loop, &l->w);
	vloop_timer_cancel(l->loop, &l->pause);
	close(l->fd);
	l->fd = -1;
	if (!l->busy)
		free(l);
}

/* ---- the rest of the vtable ---------------------------------------------- */

static void vtcp_rx_skip(struct vconn *vc)
{
	wire_rx_set_data(&vtcp_of(vc)->rx, NULL);
}

static void *vtcp_scratch(struct vconn *vc, size_t len)
{
	struct vtcp_conn *c = vtcp_of(vc);
	uint8_t *p;

	if (len <= c->scratch_cap)
		return c->scratch;
	if (len > WIRE_MAX_DATA)
		return NULL;
	p = realloc(c->scratch, len);
	if (!p)
		return NULL;
	c->scratch = p;
	c->scratch_cap = len;
	return p;
}

static const char *vtcp_peer(const struct vconn *vc)
{
	return vtcp_of(vc)->peer;
}

const struct vtransport_ops vtcp_transport_ops = {
	.name = "tcp",
	.connect = vtcp_connect,
	.listen = vtcp_listen,
	.listener_port = vtcp_listener_port,
	.listener_close = vtcp_listener_close,
	.send = vtcp_send,
	.send_cancel = vtcp_send_cancel,
	.rx_skip = vtcp_rx_skip,
	.scratch = vtcp_scratch,
	.peer = vtcp_peer,
	.close = vtcp_close,
};

/* SPDX-License-Identifier: MIT */
/*
 * transport.h - byte transports for the cluster protocol, behind one vtable.
 *
 * A transport moves frames (proto/wire_frame.h) between two event loops:
 * TCP (rdma/tcp.c, vtcp_transport_ops) and, later, RDMA verbs behind the
 * same calls. Callers use the inline wrappers below (vtransport_connect,
 * vconn_send, ...), never the ops directly; vtransport_for() picks the
 * transport of a URL.
 *
 * Threading: a connection or listener belongs to the loop it was made on;
 * every call and every callback happens on that loop's thread.
 *
 * Life of a connection (struct vconn):
 *   - made by vtransport_connect() (client side) or handed to the
 *     listener's on_accept (server side);
 *   - authenticates first (common/auth.h): a client gets on_up once the
 *     server proved itself, a server conn reaches on_accept only after the
 *     client did; a peer that fails is dropped before any frame is
 *     delivered, and sends are refused (-ENOTCONN) until then;
 *   - delivers each frame through on_data (where should the bulk data go?)
 *     and on_frame (here it is);
 *   - fails at most once: on_close(err) runs, queued sends get their done
 *     callback with an error first; the conn is then dead but its memory
 *     stays until the owner calls vconn_close(), which it must do in the
 *     end, in on_close or later.
 * The owner may also call vconn_close() at any time, from any of the
 * conn's callbacks too: nothing of the conn runs or is touched afterwards
 * (queued sends are dropped without a callback: the caller knows them).
 *
 * Callbacks never run inside a call the owner makes on the same conn
 * (vconn_send, vconn_close, ...): failures found there are reported from
 * the loop later.
 */
#ifndef VALOR_RDMA_TRANSPORT_H
#define VALOR_RDMA_TRANSPORT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/url.h"
#include "proto/wire_frame.h"

struct vloop;
struct vconn;
struct vlistener;
struct vauth_secret;

/*
 * One queued send: @iov[0..@iovcnt) written in order, as one unit, never
 * interleaved with other sends. Caller-owned, typically embedded in the
 * object that made the request; the iovec array and the memory it points
 * to must stay untouched until the send is done (no copy is made). Fields
 * below "private" belong to the transport.
 */
struct vconn_send {
	const struct iovec *iov;
	int iovcnt;
	/*
	 * Called once the whole send is in the kernel (err 0) or when the
	 * conn failed before that (err < 0), only if vconn_send() returned
	 * 0. Runs on the loop, never inside vconn_send(); the send may be
	 * reused or freed from here.
	 */
	void (*done)(struct vconn_send *s, int err);
	/* private */
	struct vconn_send *next;
	int cur;    /* first iovec not fully written */
	size_t off; /* bytes of iov[cur] already written */
	int queued; /* on a conn's queue */
};

/* What a conn tells its owner. All members must be set. */
struct vconn_cbs {
	/* Client side: connected and authenticated; sends are accepted. */
	void (*on_up)(struct vconn *c);
	/*
	 * Header and body of a frame arrived and hdr->data_len > 0 bytes of
	 * bulk data follow: return where they go (hdr->data_len bytes, valid
	 * and untouched by anyone else until on_frame or on_close), e.g. the
	 * caller's READ buffer, or vconn_scratch(), or NULL to skip them.
	 * @body (hdr->body_len bytes) is valid during the call only.
	 */
	void *(*on_data)(struct vconn *c, const struct wire_frame *hdr,
			 const void *body);
	/*
	 * A whole frame. @body is valid during the call only; @data is what
	 * on_data returned (NULL when skipped, or when data_len is 0).
	 */
	void (*on_frame)(struct vconn *c, const struct wire_frame *hdr,
			 const void *body, void *data);
	/* The conn failed (err: -ECONNRESET when the peer closed, -ETIMEDOUT,
	 * -EACCES for a failed handshake, -EPROTO/-EMSGSIZE/... for a bad
	 * frame, or a socket error). Call vconn_close() here or later. */
	void (*on_close)(struct vconn *c, int err);
};

struct vconn_opts {
	/* NULL: no challenge-response; must then be NULL on the server too.
	 * Kept by pointer: must outlive the conn. */
	const struct vauth_secret *secret;
	const struct vconn_cbs *cbs;
	void *arg;		       /* vconn_arg() */
	uint32_t handshake_timeout_ms; /* connect + authenticate; 0: 5000 */
};

struct vlisten_opts {
	/* NULL: no challenge-response, and listening is refused (-EPERM)
	 * on anything but a loopback address. Must outlive the listener. */
	const struct vauth_secret *secret;
	/*
	 * A client connected and authenticated. Set the conn's callbacks
	 * (vconn_set_cbs) and return 0 to keep it, or return < 0 to have it
	 * closed. The conn belongs to the caller from here on, also past
	 * vlistener_close().
	 */
	int (*on_accept)(struct vlistener *l, struct vconn *c, void *arg);
	void *arg;
	uint32_t handshake_timeout_ms; /* a client's proof; 0: 5000 */
};

/*
 * A transport. Use the wrappers below; their comments are the contract,
 * which every transport implements.
 */
struct vtransport_ops {
	const char *name;
	int (*connect)(struct vloop *loop, const struct vurl *url,
		       const struct vconn_opts *opts, struct vconn **out);
	int (*listen)(struct vloop *loop, const struct vurl *url,
		      const struct vlisten_opts *opts, struct vlistener **out);
	int (*listener_port)(struct vlistener *l);
	void (*listener_close)(struct vlistener *l);
	int (*send)(struct vconn *c, struct vconn_send *s);
	int (*send_cancel)(struct vconn *c, struct vconn_send *s);
	void (*rx_skip)(struct vconn *c);
	void *(*scratch)(struct vconn *c, size_t len);
	const char *(*peer)(const struct vconn *c);
	void (*close)(struct vconn *c);
};

/* The head of every transport's connection (its own struct starts with
 * it). Read through vconn_arg(); set through vconn_set_cbs(). */
struct vconn {
	const struct vtransport_ops *ops;
	const struct vconn_cbs *cbs;
	void *arg;
};

/* The head of every transport's listener. */
struct vlistener {
	const struct vtransport_ops *ops;
};

extern const struct vtransport_ops vtcp_transport_ops;

/* ---- RDMA: compiled out until the verbs transport exists ------------------
 * With VALOR_HAVE_RDMA the build provides rdma_transport_ops; without it
 * these stubs stand in, so callers need no #ifdef: rdma:// URLs fail with
 * -EOPNOTSUPP at connect or listen time.
 */
#ifdef VALOR_HAVE_RDMA
extern const struct vtransport_ops rdma_transport_ops;
#else
static inline int rdma_stub_connect(struct vloop *loop, const struct vurl *url,
				    const struct vconn_opts *opts,
				    struct vconn **out)
{
	(void)loop;
	(void)url;
	(void)opts;
	*out = NULL;
	return -EOPNOTSUPP;
}

static inline int rdma_stub_listen(struct vloop *loop, const struct vurl *url,
				   const struct vlisten_opts *opts,
				   struct vlistener **out)
{
	(void)loop;
	(void)url;
	(void)opts;
	*out = NULL;
	return -EOPNOTSUPP;
}

/* No conn or listener can exist: these are never reached. */
static inline int rdma_stub_listener_port(struct vlistener *l)
{
	(void)l;
	return -EOPNOTSUPP;
}

static inline void rdma_stub_listener_close(struct vlistener *l)
{
	(void)l;
}

static inline int rdma_stub_send(struct vconn *c, struct vconn_send *s)
{
	(void)c;
	(void)s;
	return -EOPNOTSUPP;
}

static inline int rdma_stub_send_cancel(struct vconn *c, struct vconn_send *s)
{
	(void)c;
	(void)s;
	return -EOPNOTSUPP;
}

static inline void rdma_stub_rx_skip(struct vconn *c)
{
	(void)c;
}

static inline void *rdma_stub_scratch(struct vconn *c, size_t len)
{
	(void)c;
	(void)len;
	return NULL;
}

static inline const char *rdma_stub_peer(const struct vconn *c)
{
	(void)c;
	return "rdma";
}

static inline void rdma_stub_close(struct vconn *c)
{
	(void)c;
}

static const struct vtransport_ops rdma_transport_ops
	__attribute__((unused)) = {
		.name = "rdma (not built)",
		.connect = rdma_stub_connect,
		.listen = rdma_stub_listen,
		.listener_port = rdma_stub_listener_port,
		.listener_close = rdma_stub_listener_close,
		.send = rdma_stub_send,
		.send_cancel = rdma_stub_send_cancel,
		.rx_skip = rdma_stub_rx_skip,
		.scratch = rdma_stub_scratch,
		.peer = rdma_stub_peer,
		.close = rdma_stub_close,
};
#endif

/* The transport for @u's scheme. */
static inline const struct vtransport_ops *vtransport_for(const struct vurl *u)
{
	return u->scheme == VURL_RDMA ? &rdma_transport_ops
				      : &vtcp_transport_ops;
}

/* ---- wrappers ------------------------------------------------------------ */

/*
 * Start connecting to @url. Returns 0 and *@out (on_up or on_close follows,
 * from the loop), or -errno when it failed at once (-ECONNREFUSED,
 * -EHOSTUNREACH, -EINVAL for port 0, -EOPNOTSUPP for a transport not
 * built, ...), with nothing to close. Host names are resolved here, which
 * may block on DNS.
 */
static inline int vtransport_connect(const struct vtransport_ops *t,
				     struct vloop *loop, const struct vurl *url,
				     const struct vconn_opts *opts,
				     struct vconn **out)
{
	return t->connect(loop, url, opts, out);
}

/*
 * Listen on @url (port 0: the kernel picks one; see vlistener_port).
 * Returns 0 and *@out, or -errno: -EPERM (no secret and not a loopback
 * address; logged), -EADDRINUSE, -EOPNOTSUPP, ...
 */
static inline int vtransport_listen(const struct vtransport_ops *t,
				    struct vloop *loop, const struct vurl *url,
				    const struct vlisten_opts *opts,
				    struct vlistener **out)
{
	return t->listen(loop, url, opts, out);
}

/* The port @l is bound to, or -errno. */
static inline int vlistener_port(struct vlistener *l)
{
	return l->ops->listener_port(l);
}

/* Stop accepting; drops clients still authenticating (accepted conns
 * stay). Not from @l's own on_accept. NULL is a no-op. */
static inline void vlistener_close(struct vlistener *l)
{
	if (l)
		l->ops->listener_close(l);
}

static inline void *vconn_arg(const struct vconn *c)
{
	return c->arg;
}

static inline void vconn_set_cbs(struct vconn *c, const struct vconn_cbs *cbs,
				 void *arg)
{
	c->cbs = cbs;
	c->arg = arg;
}

/*
 * Queue @s (iov, iovcnt and done set by the caller) behind earlier sends,
 * writing what the kernel takes at once. Returns:
 *   1          all written already: done will NOT be called, @s is free;
 *   0          queued: done(s, err) will be called exactly once, later;
 *   -ENOTCONN  not authenticated yet, or the conn failed (on_close comes
 *              or came); -EINVAL for an empty or oversized iovec array.
 *              done is not called.
 */
static inline int vconn_send(struct vconn *c, struct vconn_send *s)
{
	return c->ops->send(c, s);
}

/*
 * Take back a queued send. 0: removed before any byte went out (done will
 * not be called); -EBUSY: partly written, it cannot be taken back without
 * breaking the stream (close the conn, or wait for done); -ENOENT: not
 * queued (done already ran or vconn_send returned 1).
 */
static inline int vconn_send_cancel(struct vconn *c, struct vconn_send *s)
{
	return c->ops->send_cancel(c, s);
}

/*
 * Stop writing the current frame's data into the buffer on_data returned
 * (its owner is going away); the rest of that data is skipped and
 * on_frame gets data NULL. No-op when no data is being received.
 */
static inline void vconn_rx_skip(struct vconn *c)
{
	c->ops->rx_skip(c);
}

/*
 * A buffer of at least @len bytes owned by the conn (grown on demand, kept
 * for later frames, freed with the conn), for on_data to return when the
 * receiver has no buffer of its own. Its contents last until the next
 * frame's data. NULL when out of memory.
 */
static inline void *vconn_scratch(struct vconn *c, size_t len)
{
	return c->ops->scratch(c, len);
}

/* The peer's address ("127.0.0.1:41234") for logs. */
static inline const char *vconn_peer(const struct vconn *c)
{
	return c->ops->peer(c);
}

/* Close and free @c (see the life of a connection above). NULL: no-op. */
static inline void vconn_close(struct vconn *c)
{
	if (c)
		c->ops->close(c);
}

#endif

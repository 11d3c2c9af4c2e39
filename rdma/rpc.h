/* SPDX-License-Identifier: MIT */
/*
 * rpc.h - request/response over a transport (rdma/transport.h).
 *
 * A request is a frame (proto/wire_frame.h): an opcode, an opaque body
 * (proto/wire_msg.h encodes it; this layer never looks inside) and
 * optional bulk data; the reply carries the same req_id, a status (0 or
 * -errno), a body and optional data. Opcodes up to WIRE_OP_TRANSPORT_MAX
 * (0x00ff) are the transport's; calls use 0x0100 and up (proto/wire_msg.h).
 *
 * Client (struct vrpc_client): one connection to one server, many calls in
 * flight on it. Each call is a caller-owned struct vrpc_call (no
 * allocation per call) with its own timeout on a loop timer. Replies are
 * matched by request id; reply data lands straight in the buffer the call
 * named. When the connection drops, calls in flight fail with -ECONNRESET
 * (calls flagged VRPC_CALL_IDEMPOTENT are sent again instead) and the
 * client reconnects with exponential backoff; calls made meanwhile wait
 * for the connection until their timeout.
 *
 * Server (struct vrpc_server): listens, authenticates clients, and hands
 * each request to the handler its opcode selects in a table; the handler
 * answers with vrpc_reply() exactly once, then or later. Unknown opcodes
 * are answered -ENOSYS.
 *
 * Threading: a client or server belongs to the loop it was made on; every
 * call (vrpc_call, vrpc_reply, ...) is made on that loop's thread, and
 * every callback runs there. Work done elsewhere comes back with
 * vloop_post() before it replies.
 */
#ifndef VALOR_RDMA_RPC_H
#define VALOR_RDMA_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "proto/wire_frame.h"
#include "rdma/transport.h"
#include "ring/loop.h"

struct vauth_secret;
struct vrpc_client;
struct vrpc_server;
struct vrpc_call;

/* Most data iovecs one call or reply may carry. */
#define VRPC_MAX_DATA_IOV 8

/* Intrusive doubly-linked list node (private to rpc.c). */
struct vrpc_list {
	struct vrpc_list *prev, *next;
};

/* ---- client -------------------------------------------------------------- */

struct vrpc_client_opts {
	/* Timeout of calls made with timeout_ms == 0. 0: 10000. */
	uint32_t default_timeout_ms;
	/* Bound on connecting plus authenticating. 0: 5000. */
	uint32_t connect_timeout_ms;
	/* Reconnect delays: the first retry after a loss or failure waits
	 * backoff_min_ms, each further failure doubles it up to
	 * backoff_max_ms. 0: 100 and 5000. */
	uint32_t backoff_min_ms;
	uint32_t backoff_max_ms;
	/* Optional: told when the connection comes up (up = 1) or goes
	 * down (up = 0). May make calls; must not free the client. */
	void (*on_state)(struct vrpc_client *cli, int up, void *arg);
	void *arg;
};

/* What a call ended with, handed to its callback. */
struct vrpc_result {
	/*
	 * The server's status (0 or -errno), or one made here (local = 1):
	 * -ETIMEDOUT (no reply in time), -ECONNRESET (connection lost with
	 * the call in flight), -EACCES (authentication failed: the secrets
	 * differ or only one side has one), -ECANCELED (client freed),
	 * -EOVERFLOW (the reply's data did not fit reply_cap, or no memory
	 * for it; the data was dropped).
	 */
	int status;
	int local;
	/* The reply body; valid during the callback only. NULL/0 if local. */
	const void *body;
	uint32_t body_len;
	/* The reply data: reply_buf, or when the call gave none, a buffer of
	 * the connection's valid during the callback only. NULL/0 if none. */
	void *data;
	uint32_t data_len;
};

typedef void (*vrpc_done_fn)(struct vrpc_call *call,
			     const struct vrpc_result *res, void *arg);

/* call->flags */
#define VRPC_CALL_IDEMPOTENT                                                   \
	0x1u /* safe to send again after a                                     \
	      * connection loss: retried, not failed */

/*
 * One call, owned by the caller (embed it in whatever tracks the request).
 * vrpc_call_init() it once; then it may be used for one call at a time:
 * from vrpc_call() until its callback runs it must stay put and untouched.
 * The callback may reuse or free it.
 */
struct vrpc_call {
	unsigned flags; /* VRPC_CALL_*: set before vrpc_call() */
	/* private */
	struct vrpc_list link; /* wait list or pending-hash chain */
	struct vrpc_client *cli;
	vrpc_done_fn cb;
	void *arg;
	uint64_t req_id;
	uint8_t state;	  /* enum vrpc_call_state in rpc.c */
	uint8_t sending;  /* the transport still holds send */
	uint8_t overflow; /* reply data did not fit: dropped */
	void *reply_buf;
	size_t reply_cap;
	struct vloop_timer timer;
	struct vconn_send send;
	struct iovec iov[2 + VRPC_MAX_DATA_IOV];
	uint8_t hdr[WIRE_HDR_SIZE];
};

/* Prepare @call for its first use (flags 0). */
void vrpc_call_init(struct vrpc_call *call);

/*
 * A client of the server at @url (tcp://HOST:PORT or rdma://HOST:PORT).
 * @secret (NULL: none; the server must agree) and @opts (NULL: defaults;
 * copied) are kept by pointer and by value. Connecting starts at once and
 * goes on in the background: a server that is not up yet is not an error.
 * Returns 0 and *@out, or -errno: -EINVAL (bad URL, logged), -EOPNOTSUPP
 * (transport not built), -ENOMEM.
 */
int vrpc_client_new(struct vloop *loop, const char *url,
		    const struct vauth_secret *secret,
		    const struct vrpc_client_opts *opts,
		    struct vrpc_client **out);

/*
 * Fail every call not done yet with -ECANCELED (their callbacks run before
 * this returns; they must not make calls on @cli), close the connection,
 * free. Not from one of the client's own callbacks. NULL: no-op.
 */
void vrpc_client_free(struct vrpc_client *cli);

/* 1 while the connection is up and authenticated. */
int vrpc_client_is_up(const struct vrpc_client *cli);

/* "tcp://127.0.0.1:7000", for logs. */
const char *vrpc_client_url(const struct vrpc_client *cli);

/*
 * Call @opcode with @body_len bytes of @body and the bulk data in
 * @data[0..@data_n) (at most VRPC_MAX_DATA_IOV iovecs, WIRE_MAX_DATA bytes
 * in all). Nothing is copied: @body and the data must stay valid until
 * @cb runs (the @data array itself may go once vrpc_call returns).
 *
 * Reply data goes straight into @reply_buf when it fits @reply_cap bytes
 * (else the call ends with -EOVERFLOW); with @reply_buf NULL it lands in
 * a buffer of the connection, lent to the callback.
 *
 * @timeout_ms > 0 bounds the whole call (waiting for a connection
 * included); 0 takes the client's default; < 0 means no bound.
 *
 * Returns 0: @cb(@call, result, @arg) will run exactly once, later, from
 * the loop (never inside vrpc_call). Or -errno, and @cb never runs:
 * -EBUSY (@call is in use), -EINVAL (bad arguments, a reserved opcode),
 * -EMSGSIZE (body or data over the frame limits), -ENOMEM (timer),
 * -ESHUTDOWN (the client is being freed).
 */
int vrpc_call(struct vrpc_client *cli, uint16_t opcode, const void *body,
	      uint32_t body_len, const struct iovec *data, int data_n,
	      void *reply_buf, size_t reply_cap, int timeout_ms,
	      vrpc_done_fn cb, void *arg, struct vrpc_call *call);

/* ---- server -------------------------------------------------------------- */

/*
 * One request, as a handler sees it. The server owns the memory; the
 * handler owns the request until it passes it to vrpc_reply(). Fields are
 * read-only, except on_sent/sent_arg.
 */
struct vrpc_req {
	uint16_t opcode;
	uint32_t flags; /* WIRE_F_ONEWAY: the client wants no reply */
	uint64_t req_id;
	/* The request's body and data, copied out of the connection: valid
	 * until the reply has been sent (so a handler may echo them). */
	const void *body;
	uint32_t body_len;
	void *data;
	uint32_t data_len;
	/*
	 * Optional, set before vrpc_reply(): called once the reply's data
	 * iovecs are no longer used (err 0: sent; < 0: the connection went
	 * first, or the reply failed). May run before vrpc_reply returns.
	 */
	void (*on_sent)(void *arg, int err);
	void *sent_arg;
};

struct vrpc_handler {
	/* Take the request; answer it with vrpc_reply() exactly once, now
	 * or later. */
	void (*fn)(struct vrpc_req *req, void *arg);
	const char *name; /* for logs */
};

/*
 * Serve @url: requests with opcode i go to @handlers[i] (i < @nr_handlers;
 * a designated-initializer table, holes allowed) with @arg. @handlers and
 * @secret are kept by pointer. Without a secret only loopback addresses
 * are allowed: anything else gives -EPERM, logged. Port 0 lets the kernel
 * pick (vrpc_server_port). Returns 0 and *@out, or -errno (-EINVAL for a
 * bad URL, -EADDRINUSE, -EOPNOTSUPP, ...).
 */
int vrpc_server_new(struct vloop *loop, const char *url,
		    const struct vauth_secret *secret,
		    const struct vrpc_handler *handlers, unsigned nr_handlers,
		    void *arg, struct vrpc_server **out);

/* The port the server listens on, or -errno. */
int vrpc_server_port(struct vrpc_server *srv);

/*
 * Stop listening, close every connection, free everything, requests still
 * held by handlers included: handlers must not touch them afterwards.
 * Not from a handler. NULL: no-op.
 */
void vrpc_server_free(struct vrpc_server *srv);

/*
 * Answer @req and give it back (from the server's loop thread, exactly
 * once per request): @status (0 or -errno in [-4095, -1]), @body_len bytes
 * of @body (copied before return), and bulk data from @data[0..@data_n)
 * (at most VRPC_MAX_DATA_IOV iovecs; the array is copied, the bytes are
 * not: they must stay valid until req->on_sent runs; set it to learn
 * when. req->data itself qualifies, it lives that long). One-way requests
 * send nothing. Returns 0 when the reply is on its way, or -errno, the
 * request being consumed all the same: -ENOTCONN (the client is gone),
 * -EINVAL (bad status or iovecs: the client gets -EIO instead),
 * -EMSGSIZE (body or data over the frame limits: the client gets
 * -EMSGSIZE), -ENOMEM (the client gets -ENOMEM).
 */
int vrpc_reply(struct vrpc_req *req, int status, const void *body,
	       uint32_t body_len, const struct iovec *data, int data_n);

/* The client's address ("127.0.0.1:41234"), or "(gone)"; valid until the
 * next return to the loop. */
const char *vrpc_req_peer(const struct vrpc_req *req);

#endif

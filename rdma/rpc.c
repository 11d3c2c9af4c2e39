/* SPDX-License-Identifier: MIT */
/*
 * rpc.c - RPC client and server over a transport.
 *
 * Client. Calls are caller-owned; the client only links them: on the
 * wait list (no connection yet, FIFO) or in the pending hash (sent, keyed
 * by req_id, chained through the same link). Nothing is allocated per
 * call; the hash grows by doubling when it gets crowded. A call's memory
 * is handed back (its callback runs) only once the transport holds no
 * pointer into it: a send still queued is cancelled, and one the kernel
 * has half taken forces a reconnect (the stream cannot be cut mid-frame).
 *
 * Server. Requests live in pooled struct vrpc_sreq (allocated when the
 * pool is empty, kept for reuse up to VRPC_POOL_MAX), each with its own
 * copies of the request body and data and of the reply body, so handlers
 * may answer long after the frame arrived. A request is always on exactly
 * one list: the pool, its connection's, or the orphans (its connection
 * died while a handler held it).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/url.h"
#include "rdma/rpc.h"

#define VRPC_DEF_TIMEOUT_MS 10000
#define VRPC_DEF_CONNECT_MS 5000
#define VRPC_DEF_BACKOFF_MIN_MS 100
#define VRPC_DEF_BACKOFF_MAX_MS 5000
#define VRPC_HASH_INIT 1024	   /* pending-hash buckets (power of 2) */
#define VRPC_POOL_MAX 1024	   /* idle server requests kept */
#define VRPC_KEEP_BODY (64u << 10) /* larger body buffers are freed */
#define VRPC_KEEP_DATA (4u << 20)  /* larger data buffers are freed */
#define VRPC_MS 1000000ull

#define vrpc_container_of(ptr, type, member)                                   \
	((type *)((char *)ptr - offsetof(type, member)))

/* ---- lists --------------------------------------------------------------- */

static inline void vrpc_list_init(struct vrpc_list *h)
{
	h->prev = h->next = h;
}

static inline int vrpc_list_empty(const struct vrpc_list *h)
{
	return h->next == h;
}

static inline void vrpc_list_add_tail(struct vrpc_list *h, struct vrpc_list *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void vrpc_list_del(struct vrpc_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

/* Move every node of @from to the end of @to. */
static void vrpc_list_splice(struct vrpc_list *from, struct vrpc_list *to)
{
	if (vrpc_list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	vrpc_list_init(from);
}

/* ==== client ============================================================== */

/*
 * The client's connection. Transitions are checked by
 * vrpc_client_set_state().
 */
enum vrpc_client_state {
	/* A conn is being set up (connect + handshake); calls wait. */
	VRPC_CLI_CONNECTING,
	/* The conn is up: calls go out at once. */
	VRPC_CLI_UP,
	/* No conn; the retry timer will make one. Calls wait. */
	VRPC_CLI_BACKOFF,
	/* vrpc_client_free() is running. */
	VRPC_CLI_CLOSING,
};

static const char *const vrpc_client_state_names[] = {
	[VRPC_CLI_CONNECTING] = "connecting",
	[VRPC_CLI_UP] = "up",
	[VRPC_CLI_BACKOFF] = "backoff",
	[VRPC_CLI_CLOSING] = "closing",
};

#define VRPC_BIT(s) (1u << (s))
static const unsigned vrpc_client_state_next[] = {
	[VRPC_CLI_CONNECTING] = VRPC_BIT(VRPC_CLI_UP) |
				VRPC_BIT(VRPC_CLI_BACKOFF) |
				VRPC_BIT(VRPC_CLI_CLOSING),
	[VRPC_CLI_UP] = VRPC_BIT(VRPC_CLI_BACKOFF) | VRPC_BIT(VRPC_CLI_CLOSING),
	[VRPC_CLI_BACKOFF] = VRPC_BIT(VRPC_CLI_CONNECTING) |
			     VRPC_BIT(VRPC_CLI_BACKOFF) |
			     VRPC_BIT(VRPC_CLI_CLOSING),
	[VRPC_CLI_CLOSING] = 0,
};

/* Where a call is (struct vrpc_call.state). */
enum vrpc_call_state {
	VRPC_CALL_IDLE,	   /* free for vrpc_call() */
	VRPC_CALL_WAITING, /* on the wait list: no connection */
	VRPC_CALL_SENT,	   /* in the pending hash: sent or being sent */
};

/* All fields are the loop thread's. */
struct vrpc_client {
	struct vloop *loop;
	struct vurl url;
	char name[VURL_STR_MAX];
	const struct vtransport_ops *tp;
	const struct vauth_secret *secret;
	struct vrpc_client_opts opts;

	enum vrpc_client_state state;
	struct vconn *conn;	  /* set in CONNECTING and UP */
	struct vloop_timer retry; /* armed in BACKOFF */
	uint32_t backoff_ms;	  /* delay of the next retry */
	unsigned failures;	  /* attempts failed in a row */
	uint64_t next_id;

	struct vrpc_list waiting;  /* VRPC_CALL_WAITING calls, FIFO */
	struct vrpc_list *buckets; /* VRPC_CALL_SENT calls by req_id */
	unsigned nbuckets;	   /* power of 2 */
	unsigned npending;
	struct vrpc_call *rx_call; /* its reply data is being received */
};

static void vrpc_client_set_state(struct vrpc_client *cli,
				  enum vrpc_client_state state)
{
	assert(vrpc_client_state_next[cli->state] & VRPC_BIT(state));
	vlog_debug("rpc %s: %s -> %s", cli->name,
		   vrpc_client_state_names[cli->state],
		   vrpc_client_state_names[state]);
	cli->state = state;
}

/* ---- pending hash -------------------------------------------------------- */

static inline struct vrpc_list *vrpc_bucket(struct vrpc_client *cli,
					    uint64_t id)
{
	return &cli->buckets[id & (cli->nbuckets - 1)];
}

/* Double the buckets when chains get long; on ENOMEM keep the old ones. */
static void vrpc_hash_grow(struct vrpc_client *cli)
{
	unsigned i, n = cli->nbuckets * 2;
	struct vrpc_list *b, *old = cli->buckets;

	b = malloc(n * sizeof(*b));
	if (!b)
		return;
	for (i = 0; i < n; i++)
		vrpc_list_init(&b[i]);
	cli->buckets = b;
	cli->nbuckets = n;
	for (i = 0; i < n / 2; i++) {
		while (!vrpc_list_empty(&old[i])) {
			struct vrpc_list *l = old[i].next;
			struct vrpc_call *call =
				vrpc_container_of(l, struct vrpc_call, link);

			vrpc_list_del(l);
			vrpc_list_add_tail(vrpc_bucket(cli, call->req_id), l);
		}
	}
	free(old);
}

static void vrpc_hash_add(struct vrpc_client *cli, struct vrpc_call *call)
{
	if (cli->npending >= 2 * cli->nbuckets)
		vrpc_hash_grow(cli);
	vrpc_list_add_tail(vrpc_bucket(cli, call->req_id), &call->link);
	cli->npending++;
}

static void vrpc_hash_del(struct vrpc_client *cli, struct vrpc_call *call)
{
	vrpc_list_del(&call->link);
	cli->npending--;
}

static struct vrpc_call *vrpc_hash_find(struct vrpc_client *cli, uint64_t id)
{
	struct vrpc_list *h = vrpc_bucket(cli, id), *l;

	for (l = h->next; l != h; l = l->next) {
		struct vrpc_call *call =
			vrpc_container_of(l, struct vrpc_call, link);

		if (call->req_id == id)
			return call;
	}
	return NULL;
}

/* ---- call completion ----------------------------------------------------- */

static void vrpc_client_reset(struct vrpc_client *cli, int err,
			      const char *why);

/* Hand @call back to its owner with @res. @call must be off every list,
 * and the transport must hold nothing of it. */
static void vrpc_call_complete(struct vrpc_call *call,
			       const struct vrpc_result *res)
{
	vrpc_done_fn cb = call->cb;
	void *arg = call->arg;

	vloop_timer_cancel(call->cli->loop, &call->timer);
	call->state = VRPC_CALL_IDLE;
	call->sending = 0;
	cb(call, res, arg);
}

static void vrpc_call_fail(struct vrpc_call *call, int status)
{
	struct vrpc_result res = {.status = status, .local = 1};

	vrpc_call_complete(call, &res);
}

/*
 * Make the transport let go of @call, which is already out of the hash:
 * its receive buffer and its queued send. A send the kernel took in part
 * cannot be cancelled: the connection is reset instead.
 */
static void vrpc_call_detach(struct vrpc_client *cli, struct vrpc_call *call,
			     const char *why)
{
	if (cli->rx_call == call) {
		vconn_rx_skip(cli->conn);
		cli->rx_call = NULL;
	}
	if (!call->sending)
		return;
	call->sending = 0;
	if (vconn_send_cancel(cli->conn, &call->send) == -EBUSY)
		vrpc_client_reset(cli, -ECONNRESET, why);
}

static void vrpc_call_timeout(struct vloop_timer *t)
{
	struct vrpc_call *call = vrpc_container_of(t, struct vrpc_call, timer);
	struct vrpc_client *cli = call->cli;

	if (call->state == VRPC_CALL_WAITING) {
		vrpc_list_del(&call->link);
	} else {
		vrpc_hash_del(cli, call);
		vrpc_call_detach(cli, call,
				 "a call timed out while its request was "
				 "half sent");
	}
	vlog_debug("rpc %s: call %llu timed out", cli->name,
		   (unsigned long long)call->req_id);
	vrpc_call_fail(call, -ETIMEDOUT);
}

static void vrpc_call_sent(struct vconn_send *s, int err)
{
	struct vrpc_call *call = vrpc_container_of(s, struct vrpc_call, send);

	/* Errors are handled when the conn reports its loss (on_close). */
	(void)err;
	call->sending = 0;
}

/* Put @call on the wire (client UP). */
static void vrpc_call_start(struct vrpc_client *cli, struct vrpc_call *call)
{
	int ret;

	call->state = VRPC_CALL_SENT;
	vrpc_hash_add(cli, call);
	ret = vconn_send(cli->conn, &call->send);
	/* < 0: the conn is failing; its on_close fails or retries the
	 * call, which is in the hash. */
	call->sending = ret == 0;
}

/* ---- connection ---------------------------------------------------------- */

static const struct vconn_cbs vrpc_client_conn_cbs;

static void vrpc_client_arm_retry(struct vrpc_client *cli)
{
	uint32_t delay = cli->backoff_ms;

	cli->backoff_ms = delay > cli->opts.backoff_max_ms / 2
				  ? cli->opts.backoff_max_ms
				  : delay * 2;
	/* Arming may fail (-ENOMEM growing the loop's timer heap); the
	 * next vrpc_call() then tries again (vrpc_call's BACKOFF check). */
	if (vloop_timer_add(cli->loop, &cli->retry, delay * VRPC_MS) < 0)
		vlog_err("rpc %s: cannot arm the reconnect timer", cli->name);
}

/*
 * Start a connection attempt (state BACKOFF, retry timer not armed).
 * Returns 0, or the error of an attempt that failed at once (the client
 * is then back in BACKOFF with the retry timer armed).
 */
static int vrpc_client_connect(struct vrpc_client *cli)
{
	struct vconn_opts copts = {
		.secret = cli->secret,
		.cbs = &vrpc_client_conn_cbs,
		.arg = cli,
		.handshake_timeout_ms = cli->opts.connect_timeout_ms,
	};
	int ret;

	ret = vtransport_connect(cli->tp, cli->loop, &cli->url, &copts,
				 &cli->conn);
	if (ret < 0) {
		cli->conn = NULL;
		vlog(cli->failures++ ? VLOG_DEBUG : VLOG_WARN,
		     "rpc %s: cannot connect: %s; retrying", cli->name,
		     strerror(-ret));
		vrpc_client_set_state(cli, VRPC_CLI_BACKOFF);
		vrpc_client_arm_retry(cli);
		return ret;
	}
	vrpc_client_set_state(cli, VRPC_CLI_CONNECTING);
	return 0;
}

static void vrpc_client_retry(struct vloop_timer *t)
{
	struct vrpc_client *cli =
		vrpc_container_of(t, struct vrpc_client, retry);

	if (cli->state == VRPC_CLI_BACKOFF)
		vrpc_client_connect(cli);
}

/*
 * The connection is gone (it failed, or we reset it): close it, fail the
 * calls in flight with -ECONNRESET or queue the idempotent ones again,
 * and schedule a reconnect. @err -EACCES (authentication refused) also
 * fails the waiting calls: they cannot succeed until someone fixes the
 * secrets.
 */
static void vrpc_client_lost(struct vrpc_client *cli, int err)
{
	int was_up = cli->state == VRPC_CLI_UP;
	int status = err == -EACCES ? -EACCES : -ECONNRESET;
	struct vrpc_list failed;
	unsigned i;

	vconn_close(cli->conn); /* drops our queued sends, no callbacks */
	cli->conn = NULL;
	cli->rx_call = NULL;
	vrpc_client_set_state(cli, VRPC_CLI_BACKOFF);
	vrpc_client_arm_retry(cli);

	vrpc_list_init(&failed);
	for (i = 0; i < cli->nbuckets; i++) {
		while (!vrpc_list_empty(&cli->buckets[i])) {
			struct vrpc_list *l = cli->buckets[i].next;
			struct vrpc_call *call =
				vrpc_container_of(l, struct vrpc_call, link);

			vrpc_hash_del(cli, call);
			call->sending = 0;
			if (call->flags & VRPC_CALL_IDEMPOTENT) {
				call->state = VRPC_CALL_WAITING;
				vrpc_list_add_tail(&cli->waiting, l);
			} else {
				vrpc_list_add_tail(&failed, l);
			}
		}
	}
	if (err == -EACCES)
		vrpc_list_splice(&cli->waiting, &failed);

	if (was_up && cli->opts.on_state)
		cli->opts.on_state(cli, 0, cli->opts.arg);
	/* Pop before each callback: it may reuse the call at once. */
	while (!vrpc_list_empty(&failed)) {
		struct vrpc_list *l = failed.next;

		vrpc_list_del(l);
		vrpc_call_fail(vrpc_container_of(l, struct vrpc_call, link),
			       status);
	}
}

static void vrpc_client_reset(struct vrpc_client *cli, int err, const char *why)
{
	vlog_warn("rpc %s: resetting the connection: %s", cli->name, why);
	vrpc_client_lost(cli, err);
}

static void vrpc_client_on_up(struct vconn *c)
{
	struct vrpc_client *cli = vconn_arg(c);

	vrpc_client_set_state(cli, VRPC_CLI_UP);
	vlog(cli->failures ? VLOG_INFO : VLOG_DEBUG, "rpc %s: connected",
	     cli->name);
	cli->failures = 0;
	cli->backoff_ms = cli->opts.backoff_min_ms;
	while (!vrpc_list_empty(&cli->waiting) && cli->state == VRPC_CLI_UP) {
		struct vrpc_list *l = cli->waiting.next;

		vrpc_list_del(l);
		vrpc_call_start(cli,
				vrpc_container_of(l, struct vrpc_call, link));
	}
	if (cli->state == VRPC_CLI_UP && cli->opts.on_state)
		cli->opts.on_state(cli, 1, cli->opts.arg);
}

static void vrpc_client_on_close(struct vconn *c, int err)
{
	struct vrpc_client *cli = vconn_arg(c);

	if (cli->state == VRPC_CLI_UP)
		vlog_warn("rpc %s: connection lost: %s; reconnecting",
			  cli->name, strerror(-err));
	else
		vlog(cli->failures++ && err != -EACCES ? VLOG_DEBUG : VLOG_WARN,
		     "rpc %s: cannot connect: %s; retrying", cli->name,
		     strerror(-err));
	vrpc_client_lost(cli, err);
}

static void *vrpc_client_on_data(struct vconn *c, const struct wire_frame *h,
				 const void *body)
{
	struct vrpc_client *cli = vconn_arg(c);
	struct vrpc_call *call;
	void *buf;

	(void)body;
	if (!(h->flags & WIRE_F_REPLY))
		return NULL; /* dropped in on_frame */
	call = vrpc_hash_find(cli, h->req_id);
	if (!call)
		return NULL;
	if (call->reply_buf) {
		if (h->data_len > call->reply_cap) {
			call->overflow = 1;
			return NULL;
		}
		buf = call->reply_buf;
	} else {
		buf = vconn_scratch(c, h->data_len);
		if (!buf) {
			call->overflow = 1;
			return NULL;
		}
	}
	cli->rx_call = call;
	return buf;
}

static void vrpc_client_on_frame(struct vconn *c, const struct wire_frame *h,
				 const void *body, void *data)
{
	struct vrpc_client *cli = vconn_arg(c);
	struct vrpc_result res = {0};
	struct vrpc_call *call;

	cli->rx_call = NULL;
	if (!(h->flags & WIRE_F_REPLY)) {
		vlog_warn("rpc %s: the server sent a request (opcode %u); "
			  "dropped",
			  cli->name, h->opcode);
		return;
	}
	call = vrpc_hash_find(cli, h->req_id);
	if (!call) {
		vlog_info("rpc %s: reply %llu (opcode %u) matches no call in "
			  "flight (timed out?); dropped",
			  cli->name, (unsigned long long)h->req_id, h->opcode);
		return;
	}
	vrpc_hash_del(cli, call);
	if (call->overflow) {
		res.status = -EOVERFLOW;
		res.local = 1;
		vlog_warn("rpc %s: reply %llu carries %u bytes of data, more "
			  "than the call's %zu-byte buffer; dropped",
			  cli->name, (unsigned long long)h->req_id, h->data_len,
			  call->reply_cap);
	} else {
		res.status = h->status;
		res.body = h->body_len ? body : NULL;
		res.body_len = h->body_len;
		res.data = h->data_len ? data : NULL;
		res.data_len = h->data_len;
	}
	/* A reply before the whole request went out: only a broken server
	 * does that, but the call's memory must be free before its owner
	 * gets it back. */
	vrpc_call_detach(cli, call,
			 "reply arrived before its request was "
			 "fully sent");
	vrpc_call_complete(call, &res);
}

static void vrpc_conn_no_up(struct vconn *c)
{
	(void)c; /* server conns are handed over already up */
}

static const struct vconn_cbs vrpc_client_conn_cbs = {
	.on_up = vrpc_client_on_up,
	.on_data = vrpc_client_on_data,
	.on_frame = vrpc_client_on_frame,
	.on_close = vrpc_client_on_close,
};

/* ---- client API ---------------------------------------------------------- */

void vrpc_call_init(struct vrpc_call *call)
{
	memset(call, 0, sizeof(*call));
	call->link.prev = call->link.next = &call->link;
	call->state = VRPC_CALL_IDLE;
	vloop_timer_init(&call->timer, vrpc_call_timeout);
}

int vrpc_client_new(struct vloop *loop, const char *url,
		    const struct vauth_secret *secret,
		    const struct vrpc_client_opts *opts,
		    struct vrpc_client **out)
{
	struct vrpc_client *cli;
	const char *why = NULL;
	unsigned i;
	int ret;

	*out = NULL;
	cli = calloc(1, sizeof(*cli));
	if (!cli)
		return -ENOMEM;
	ret = vurl_parse(&cli->url, url, &why);
	if (ret < 0) {
		vlog_err("rpc: bad server address \"%s\": %s", url, why);
		goto out_free;
	}
	if (!cli->url.port) {
		vlog_err("rpc: bad server address \"%s\": port 0", url);
		ret = -EINVAL;
		goto out_free;
	}
	vurl_format(&cli->url, cli->name, sizeof(cli->name));
	cli->loop = loop;
	cli->tp = vtransport_for(&cli->url);
	cli->secret = secret;
	if (opts)
		cli->opts = *opts;
	if (!cli->opts.default_timeout_ms)
		cli->opts.default_timeout_ms = VRPC_DEF_TIMEOUT_MS;
	if (!cli->opts.connect_timeout_ms)
		cli->opts.connect_timeout_ms = VRPC_DEF_CONNECT_MS;
	if (!cli->opts.backoff_min_ms)
		cli->opts.backoff_min_ms = VRPC_DEF_BACKOFF_MIN_MS;
	if (!cli->opts.backoff_max_ms)
		cli->opts.backoff_max_ms = VRPC_DEF_BACKOFF_MAX_MS;
	if (cli->opts.backoff_max_ms < cli->opts.backoff_min_ms)
		cli->opts.backoff_max_ms = cli->opts.backoff_min_ms;
	cli->backoff_ms = cli->opts.backoff_min_ms;
	vloop_timer_init(&cli->retry, vrpc_client_retry);
	vrpc_list_init(&cli->waiting);
	cli->state = VRPC_CLI_BACKOFF;

	cli->nbuckets = VRPC_HASH_INIT;
	cli->buckets = malloc(cli->nbuckets * sizeof(*cli->buckets));
	if (!cli->buckets) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < cli->nbuckets; i++)
		vrpc_list_init(&cli->buckets[i]);

	/* The first attempt right here: what can never work fails now. */
	ret = vrpc_client_connect(cli);
	if (ret == -EOPNOTSUPP || ret == -EINVAL) {
		vlog_err("rpc %s: the %s transport %s", cli->name,
			 vurl_scheme_name(cli->url.scheme),
			 ret == -EOPNOTSUPP ? "is not built in"
					    : "refuses this address");
		vloop_timer_cancel(loop, &cli->retry);
		goto out_free;
	}
	*out = cli;
	return 0;

out_free:
	free(cli->buckets);
	free(cli);
	return ret;
}

void vrpc_client_free(struct vrpc_client *cli)
{
	struct vrpc_list all;
	unsigned i;

	if (!cli)
		return;
	vrpc_client_set_state(cli, VRPC_CLI_CLOSING);
	vloop_timer_cancel(cli->loop, &cli->retry);
	vconn_close(cli->conn);
	cli->conn = NULL;
	cli->rx_call = NULL;

	vrpc_list_init(&all);
	for (i = 0; i < cli->nbuckets; i++)
		vrpc_list_splice(&cli->buckets[i], &all);
	vrpc_list_splice(&cli->waiting, &all);
	cli->npending = 0;
	while (!vrpc_list_empty(&all)) {
		struct vrpc_list *l = all.next;

		vrpc_list_del(l);
		vrpc_call_fail(vrpc_container_of(l, struct vrpc_call, link),
			       -ECANCELED);
	}
	free(cli->buckets);
	free(cli);
}

int vrpc_client_is_up(const struct vrpc_client *cli)
{
	return cli->state == VRPC_CLI_UP;
}

const char *vrpc_client_url(const struct vrpc_client *cli)
{
	return cli->name;
}

int vrpc_call(struct vrpc_client *cli, uint16_t opcode, const void *body,
	      uint32_t body_len, const struct iovec *data, int data_n,
	      void *reply_buf, size_t reply_cap, int timeout_ms,
	      vrpc_done_fn cb, void *arg, struct vrpc_call *call)
{
	struct wire_frame f = {.opcode = opcode};
	uint64_t data_len = 0;
	int i, n = 0, ret;

	if (call->state != VRPC_CALL_IDLE)
		return -EBUSY;
	if (cli->state == VRPC_CLI_CLOSING)
		return -ESHUTDOWN;
	if (!cb || data_n < 0 || data_n > VRPC_MAX_DATA_IOV ||
	    (data_n && !data) || (body_len && !body) ||
	    opcode <= WIRE_OP_TRANSPORT_MAX)
		return -EINVAL;
	for (i = 0; i < data_n; i++)
		data_len += data[i].iov_len;
	if (body_len > WIRE_MAX_BODY || data_len > WIRE_MAX_DATA)
		return -EMSGSIZE;

	f.req_id = ++cli->next_id;
	f.body_len = body_len;
	f.data_len = (uint32_t)data_len;
	ret = wire_frame_encode(&f, call->hdr);
	if (ret < 0)
		return ret;
	call->iov[n].iov_base = call->hdr;
	call->iov[n++].iov_len = WIRE_HDR_SIZE;
	if (body_len) {
		call->iov[n].iov_base = (void *)body;
		call->iov[n++].iov_len = body_len;
	}
	for (i = 0; i < data_n; i++)
		if (data[i].iov_len)
			call->iov[n++] = data[i];
	call->send.iov = call->iov;
	call->send.iovcnt = n;
	call->send.done = vrpc_call_sent;

	if (!timeout_ms)
		timeout_ms = (int)cli->opts.default_timeout_ms;
	if (timeout_ms > 0) {
		ret = vloop_timer_add(cli->loop, &call->timer,
				      (uint64_t)timeout_ms * VRPC_MS);
		if (ret < 0)
			return ret;
	}
	call->cli = cli;
	call->cb = cb;
	call->arg = arg;
	call->req_id = f.req_id;
	call->reply_buf = reply_buf;
	call->reply_cap = reply_buf ? reply_cap : 0;
	call->overflow = 0;
	call->sending = 0;

	if (cli->state == VRPC_CLI_UP) {
		vrpc_call_start(cli, call);
		return 0;
	}
	call->state = VRPC_CALL_WAITING;
	vrpc_list_add_tail(&cli->waiting, &call->link);
	if (cli->state == VRPC_CLI_BACKOFF && !vloop_timer_armed(&cli->retry))
		vrpc_client_arm_retry(cli);
	return 0;
}

/* ==== server ============================================================== */

/* Where a server request is (struct vrpc_sreq.state). */
enum vrpc_sreq_state {
	VRPC_SREQ_FREE,	   /* in the pool */
	VRPC_SREQ_RX,	   /* its data is arriving */
	VRPC_SREQ_HANDLER, /* a handler holds it */
	VRPC_SREQ_SENDING, /* its reply is queued on the conn */
};

struct vrpc_sconn;

struct vrpc_sreq {
	struct vrpc_req pub;
	struct vrpc_list link; /* pool, sconn->reqs or srv->orphans */
	struct vrpc_server *srv;
	struct vrpc_sconn *sc; /* NULL once the conn is gone */
	enum vrpc_sreq_state state;
	uint8_t *bbuf, *dbuf, *tbuf; /* request body, data; reply body */
	uint32_t bcap, dcap, tcap;
	uint8_t hdr[WIRE_HDR_SIZE];
	struct iovec iov[2 + VRPC_MAX_DATA_IOV];
	struct vconn_send send;
};

struct vrpc_sconn {
	struct vrpc_list node; /* in srv->conns */
	struct vrpc_server *srv;
	struct vconn *c;
	struct vrpc_list reqs; /* RX, HANDLER and SENDING requests */
	struct vrpc_sreq *rx;  /* the one whose data is arriving */
};

struct vrpc_server {
	struct vloop *loop;
	struct vlistener *listener;
	const struct vrpc_handler *handlers;
	unsigned nr_handlers;
	void *arg;
	struct vrpc_list conns;
	struct vrpc_list pool;
	unsigned pool_len;
	struct vrpc_list orphans;
	char name[VURL_STR_MAX];
};

static inline struct vrpc_sreq *vrpc_sreq_of(struct vrpc_req *req)
{
	return vrpc_container_of(req, struct vrpc_sreq, pub);
}

/* Grow *@buf to hold @need bytes (at least 256; powers of 2). */
static int vrpc_grow(uint8_t **buf, uint32_t *cap, uint32_t need)
{
	uint32_t n = *cap ? *cap : 256;
	uint8_t *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n = n > UINT32_MAX / 2 ? need : n * 2;
	p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

static void vrpc_sreq_destroy(struct vrpc_sreq *r)
{
	free(r->bbuf);
	free(r->dbuf);
	free(r->tbuf);
	free(r);
}

static void vrpc_sreq_sent(struct vconn_send *s, int err);

/* A request from the pool, or a new one; NULL when out of memory. */
static struct vrpc_sreq *vrpc_sreq_get(struct vrpc_server *srv)
{
	struct vrpc_sreq *r;

	if (!vrpc_list_empty(&srv->pool)) {
		struct vrpc_list *l = srv->pool.next;

		vrpc_list_del(l);
		srv->pool_len--;
		return vrpc_container_of(l, struct vrpc_sreq, link);
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->srv = srv;
	vrpc_list_init(&r->link);
	r->send.iov = r->iov;
	r->send.done = vrpc_sreq_sent;
	return r;
}

/* Back to the pool (off any list first), then tell on_sent. */
static void vrpc_sreq_put(struct vrpc_sreq *r, int err)
{
	struct vrpc_server *srv = r->srv;
	void (*on_sent)(void *, int) = r->pub.on_sent;
	void *sent_arg = r->pub.sent_arg;

	vrpc_list_del(&r->link);
	memset(&r->pub, 0, sizeof(r->pub));
	r->sc = NULL;
	r->state = VRPC_SREQ_FREE;
	if (srv->pool_len >= VRPC_POOL_MAX) {
		vrpc_sreq_destroy(r);
	} else {
		/* Keep ordinary buffers, not the odd huge one. */
		if (r->bcap > VRPC_KEEP_BODY) {
			free(r->bbuf);
			r->bbuf = NULL;
			r->bcap = 0;
		}
		if (r->tcap > VRPC_KEEP_BODY) {
			free(r->tbuf);
			r->tbuf = NULL;
			r->tcap = 0;
		}
		if (r->dcap > VRPC_KEEP_DATA) {
			free(r->dbuf);
			r->dbuf = NULL;
			r->dcap = 0;
		}
		vrpc_list_add_tail(&srv->pool, &r->link);
		srv->pool_len++;
	}
	if (on_sent)
		on_sent(sent_arg, err);
}

/* Fill @r from a request header and body (copied). 0 or -ENOMEM. */
static int vrpc_sreq_fill(struct vrpc_sreq *r, const struct wire_frame *h,
			  const void *body)
{
	if (vrpc_grow(&r->bbuf, &r->bcap, h->body_len) < 0)
		return -ENOMEM;
	if (h->body_len)
		memcpy(r->bbuf, body, h->body_len);
	r->pub.opcode = h->opcode;
	r->pub.flags = h->flags;
	r->pub.req_id = h->req_id;
	r->pub.body = r->bbuf;
	r->pub.body_len = h->body_len;
	r->pub.data = NULL;
	r->pub.data_len = 0;
	return 0;
}

static void vrpc_sreq_sent(struct vconn_send *s, int err)
{
	vrpc_sreq_put(vrpc_container_of(s, struct vrpc_sreq, send), err);
}

/*
 * The conn is gone (failed, or the server is closing): close it; requests
 * held by handlers become orphans, the others go back to the pool. The
 * sconn is freed before any on_sent runs, so that no callback can reach
 * it.
 */
static void vrpc_sconn_drop(struct vrpc_sconn *sc, int err)
{
	struct vrpc_server *srv = sc->srv;
	struct vrpc_list done;

	vconn_close(sc->c);
	vrpc_list_init(&done);
	while (!vrpc_list_empty(&sc->reqs)) {
		struct vrpc_list *l = sc->reqs.next;
		struct vrpc_sreq *r =
			vrpc_container_of(l, struct vrpc_sreq, link);

		vrpc_list_del(l);
		r->sc = NULL;
		vrpc_list_add_tail(r->state == VRPC_SREQ_HANDLER ? &srv->orphans
								 : &done,
				   l);
	}
	vrpc_list_del(&sc->node);
	free(sc);
	while (!vrpc_list_empty(&done))
		vrpc_sreq_put(
			vrpc_container_of(done.next, struct vrpc_sreq, link),
			err);
}

static void vrpc_sconn_on_close(struct vconn *c, int err)
{
	vrpc_sconn_drop(vconn_arg(c), err);
}

static void *vrpc_sconn_on_data(struct vconn *c, const struct wire_frame *h,
				const void *body)
{
	struct vrpc_sconn *sc = vconn_arg(c);
	struct vrpc_sreq *r;

	if (h->flags & WIRE_F_REPLY)
		return NULL; /* dropped in on_frame */
	r = vrpc_sreq_get(sc->srv);
	if (!r)
		return NULL;
	vrpc_list_add_tail(&sc->reqs, &r->link);
	r->sc = sc;
	r->state = VRPC_SREQ_RX;
	if (vrpc_sreq_fill(r, h, body) < 0 ||
	    vrpc_grow(&r->dbuf, &r->dcap, h->data_len) < 0) {
		vrpc_sreq_put(r, -ENOMEM);
		return NULL;
	}
	r->pub.data = r->dbuf;
	r->pub.data_len = h->data_len;
	sc->rx = r;
	return r->dbuf;
}

static void vrpc_sconn_on_frame(struct vconn *c, const struct wire_frame *h,
				const void *body, void *data)
{
	struct vrpc_sconn *sc = vconn_arg(c);
	struct vrpc_server *srv = sc->srv;
	const struct vrpc_handler *hd;
	struct vrpc_sreq *r;

	if (h->flags & WIRE_F_REPLY) {
		vlog_warn("rpc server %s: client %s sent a reply (req %llu); "
			  "dropped",
			  srv->name, vconn_peer(c),
			  (unsigned long long)h->req_id);
		return;
	}
	r = h->data_len ? sc->rx : NULL;
	sc->rx = NULL;
	if (r && r->pub.data != data) {
		vrpc_sreq_put(r, -EIO); /* its data was skipped */
		r = NULL;
	}
	if (!h->data_len) {
		r = vrpc_sreq_get(srv);
		if (r) {
			vrpc_list_add_tail(&sc->reqs, &r->link);
			r->sc = sc;
			if (vrpc_sreq_fill(r, h, body) < 0) {
				vrpc_sreq_put(r, -ENOMEM);
				r = NULL;
			}
		}
	}
	if (!r) {
		vlog_err("rpc server %s: no memory for request %llu from %s; "
			 "dropped",
			 srv->name, (unsigned long long)h->req_id,
			 vconn_peer(c));
		return;
	}
	r->state = VRPC_SREQ_HANDLER;

	hd = h->opcode < srv->nr_handlers ? &srv->handlers[h->opcode] : NULL;
	if (!hd || !hd->fn) {
		vlog_debug("rpc server %s: unknown opcode %u from %s",
			   srv->name, h->opcode, vconn_peer(c));
		vrpc_reply(&r->pub, -ENOSYS, NULL, 0, NULL, 0);
		return;
	}
	vlog_debug("rpc server %s: %s (req %llu) from %s", srv->name,
		   hd->name ? hd->name : "?", (unsigned long long)h->req_id,
		   vconn_peer(c));
	hd->fn(&r->pub, srv->arg);
}

static const struct vconn_cbs vrpc_sconn_cbs = {
	.on_up = vrpc_conn_no_up,
	.on_data = vrpc_sconn_on_data,
	.on_frame = vrpc_sconn_on_frame,
	.on_close = vrpc_sconn_on_close,
};

static int vrpc_server_on_accept(struct vlistener *l, struct vconn *c,
				 void *arg)
{
	struct vrpc_server *srv = arg;
	struct vrpc_sconn *sc;

	(void)l;
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	sc->srv = srv;
	sc->c = c;
	vrpc_list_init(&sc->reqs);
	vrpc_list_add_tail(&srv->conns, &sc->node);
	vconn_set_cbs(c, &vrpc_sconn_cbs, sc);
	vlog_debug("rpc server %s: client %s connected", srv->name,
		   vconn_peer(c));
	return 0;
}

/* ---- server API ---------------------------------------------------------- */

int vrpc_server_new(struct vloop *loop, const char *url,
		    const struct vauth_secret *secret,
		    const struct vrpc_handler *handlers, unsigned nr_handlers,
		    void *arg, struct vrpc_server **out)
{
	struct vlisten_opts lopts = {
		.secret = secret,
		.on_accept = vrpc_server_on_accept,
	};
	struct vrpc_server *srv;
	const char *why = NULL;
	struct vurl u;
	int ret;

	*out = NULL;
	ret = vurl_parse(&u, url, &why);
	if (ret < 0) {
		vlog_err("rpc server: bad listen address \"%s\": %s", url, why);
		return ret;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->handlers = handlers;
	srv->nr_handlers = handlers ? nr_handlers : 0;
	srv->arg = arg;
	vrpc_list_init(&srv->conns);
	vrpc_list_init(&srv->pool);
	vrpc_list_init(&srv->orphans);
	vurl_format(&u, srv->name, sizeof(srv->name));

	lopts.arg = srv;
	ret = vtransport_listen(vtransport_for(&u), loop, &u, &lopts,
				&srv->listener);
	if (ret < 0) {
		if (ret == -EOPNOTSUPP)
			vlog_err("rpc server %s: the %s transport is not "
				 "built in",
				 srv->name, vurl_scheme_name(u.scheme));
		free(srv);
		return ret;
	}
	*out = srv;
	return 0;
}

int vrpc_server_port(struct vrpc_server *srv)
{
	return vlistener_port(srv->listener);
}

static void vrpc_sreq_list_destroy(struct vrpc_list *h)
{
	while (!vrpc_list_empty(h)) {
		struct vrpc_list *l = h->next;

		vrpc_list_del(l);
		vrpc_sreq_destroy(vrpc_container_of(l, struct vrpc_sreq, link));
	}
}

void vrpc_server_free(struct vrpc_server *srv)
{
	if (!srv)
		return;
	vlistener_close(srv->listener);
	srv->listener = NULL;
	while (!vrpc_list_empty(&srv->conns))
		vrpc_sconn_drop(vrpc_container_of(srv->conns.next,
						  struct vrpc_sconn, node),
				-ECANCELED);
	vrpc_sreq_list_destroy(&srv->orphans);
	vrpc_sreq_list_destroy(&srv->pool);
	free(srv);
}

int vrpc_reply(struct vrpc_req *req, int status, const void *body,
	       uint32_t body_len, const struct iovec *data, int data_n)
{
	struct vrpc_sreq *r = vrpc_sreq_of(req);
	struct wire_frame f = {
		.opcode = req->opcode,
		.flags = WIRE_F_REPLY,
		.req_id = req->req_id,
	};
	uint64_t data_len = 0;
	int i, n = 0, ret = 0;

	assert(r->state == VRPC_SREQ_HANDLER);
	if (!r->sc) {
		vrpc_sreq_put(r, -ENOTCONN);
		return -ENOTCONN;
	}
	if (req->flags & WIRE_F_ONEWAY) {
		vrpc_sreq_put(r, 0);
		return 0;
	}

	if (status > 0 || status < WIRE_STATUS_MIN || data_n < 0 ||
	    data_n > VRPC_MAX_DATA_IOV || (data_n && !data) ||
	    (body_len && !body)) {
		ret = -EINVAL;
		status = -EIO;
	} else {
		for (i = 0; i < data_n; i++)
			data_len += data[i].iov_len;
		if (body_len > WIRE_MAX_BODY || data_len > WIRE_MAX_DATA) {
			ret = -EMSGSIZE;
			status = -EMSGSIZE;
		} else if (vrpc_grow(&r->tbuf, &r->tcap, body_len) < 0) {
			ret = -ENOMEM;
			status = -ENOMEM;
		}
	}
	if (ret < 0) {
		vlog_err("rpc server %s: bad reply to opcode %u: %s",
			 r->srv->name, req->opcode, strerror(-ret));
		body_len = 0;
		data_n = 0;
		data_len = 0;
	}

	f.status = status;
	f.body_len = body_len;
	f.data_len = (uint32_t)data_len;
	wire_frame_encode(&f, r->hdr); /* valid by construction */
	r->iov[n].iov_base = r->hdr;
	r->iov[n++].iov_len = WIRE_HDR_SIZE;
	if (body_len) {
		memcpy(r->tbuf, body, body_len);
		r->iov[n].iov_base = r->tbuf;
		r->iov[n++].iov_len = body_len;
	}
	for (i = 0; i < data_n; i++)
		if (data[i].iov_len)
			r->iov[n++] = data[i];
	r->send.iovcnt = n;

	r->state = VRPC_SREQ_SENDING;
	i = vconn_send(r->sc->c, &r->send);
	if (i != 0)
		vrpc_sreq_put(r, i < 0 ? i : 0);
	return i < 0 ? i : ret;
}

const char *vrpc_req_peer(const struct vrpc_req *req)
{
	const struct vrpc_sreq *r =
		vrpc_container_of(req, struct vrpc_sreq, pub);

	return r->sc ? vconn_peer(r->sc->c) : "(gone)";
}

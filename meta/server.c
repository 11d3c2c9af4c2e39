/* SPDX-License-Identifier: MIT */
/*
 * server.c - metad's RPC front (see server.h).
 *
 * Context life cycle (enum msrv_ctx_state):
 *   FREE    on the free list
 *   QUEUED  given to the pool: a worker decodes, runs and encodes
 *   DONE    posted back; on the loop thread: reply, count, back to FREE
 * Requests that find no free context and no room for a new one wait in
 * a FIFO of request pointers (rpc.c lets a handler keep a request until
 * it answers).
 */
#include "meta/server.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/stats.h"
#include "meta/ops.h"
#include "proto/wire_meta.h"
#include "proto/wire_msg.h"
#include "rdma/rpc.h"

#define MSRV_CONTAINER(p, type, member)                                        \
	((type *)((char *)(p)-offsetof(type, member)))

#define MSRV_NOPS (WIRE_META_RENEW - WIRE_META_LOOKUP + 1)
#define MSRV_DEFAULT_INFLIGHT 64

enum msrv_ctx_state {
	MSRV_CTX_FREE,	 /* on the free list */
	MSRV_CTX_QUEUED, /* owned by the pool */
	MSRV_CTX_DONE,	 /* posted back, not replied yet */
};

/* One request being served. Heap: about 320 KiB. */
struct msrv_ctx {
	struct mpool_job job;
	struct msrv *srv;
	struct vrpc_req *req;
	struct mops_env env; /* copied at dispatch (loop thread) */
	uint64_t t0;
	int status;
	int bad_body; /* the body did not decode */
	size_t out_len;
	enum msrv_ctx_state state;
	struct msrv_ctx *next_free;
	struct wire_meta_req q;
	struct wire_meta_rep r;
	struct mops_scratch scratch;
	uint8_t out[WIRE_META_BODY_MAX];
};

struct msrv {
	struct vloop *loop;
	struct mpool *pool;
	struct vns *ns;
	struct vrpc_server *rpc;
	unsigned max_inflight;
	int draining;
	/* Loop thread only. */
	struct msrv_ctx *free_list;
	unsigned nctx, inflight;
	struct vrpc_req **waitq; /* ring */
	unsigned wq_cap, wq_head, wq_len, wq_max;
	uint64_t space_total, space_avail;
	uint64_t bad_bodies, waited;
	struct vstats_op ops[MSRV_NOPS];
};

static void msrv_dispatch(struct msrv *s, struct vrpc_req *req);

/* ---- worker side ----------------------------------------------------------
 */

static void msrv_job_run(struct mpool_job *job)
{
	struct msrv_ctx *c = MSRV_CONTAINER(job, struct msrv_ctx, job);
	uint16_t op = c->req->opcode;
	int rc;

	c->out_len = 0;
	c->bad_body = 0;
	rc = wire_meta_req_decode(op, c->req->body, c->req->body_len, &c->q);
	if (rc < 0) {
		c->bad_body = rc;
		c->status = -EBADMSG;
		return;
	}
	c->status = mops_run(&c->env, op, &c->q, &c->r, &c->scratch);
	if (c->status)
		return;
	rc = wire_meta_rep_encode(op, &c->r, c->out, sizeof(c->out),
				  &c->out_len);
	if (rc < 0) {
		vlog_err("%s: reply does not encode: %s", mops_name(op),
			 strerror(-rc));
		c->status = -EIO;
		c->out_len = 0;
	}
}

/* ---- loop side ------------------------------------------------------------
 */

static void msrv_job_done(struct vloop_post *p)
{
	struct msrv_ctx *c = MSRV_CONTAINER(p, struct msrv_ctx, job.post);
	struct msrv *s = c->srv;
	struct vrpc_req *req = c->req;
	uint16_t op = req->opcode;
	uint64_t ns = vloop_now_ns() - c->t0;

	c->state = MSRV_CTX_DONE;
	if (c->bad_body) {
		s->bad_bodies++;
		vlog_warn("%s from %s: malformed body (%u bytes): %s",
			  mops_name(op), vrpc_req_peer(req), req->body_len,
			  strerror(-c->bad_body));
	}
	vstats_op_add(&s->ops[op - WIRE_META_LOOKUP], ns, c->status);
	vlog_debug("%s from %s (client %016llx req %llu): %s in %llu us",
		   mops_name(op), vrpc_req_peer(req),
		   (unsigned long long)c->q.client,
		   (unsigned long long)c->q.req_id,
		   c->status ? strerror(-c->status) : "ok",
		   (unsigned long long)(ns / 1000));
	vrpc_reply(req, c->status, c->status ? NULL : c->out,
		   c->status ? 0 : (uint32_t)c->out_len, NULL, 0);
	c->req = NULL;
	c->state = MSRV_CTX_FREE;
	c->next_free = s->free_list;
	s->free_list = c;
	s->inflight--;
	/* A context is free: start the oldest waiting request. */
	if (s->wq_len && !s->draining) {
		struct vrpc_req *next = s->waitq[s->wq_head];

		s->wq_head = (s->wq_head + 1) % s->wq_cap;
		s->wq_len--;
		msrv_dispatch(s, next);
	}
}

static struct msrv_ctx *msrv_ctx_get(struct msrv *s)
{
	struct msrv_ctx *c = s->free_list;

	if (c) {
		s->free_list = c->next_free;
		return c;
	}
	if (s->nctx >= s->max_inflight)
		return NULL;
	c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	memset(c, 0, offsetof(struct msrv_ctx, q));
	c->srv = s;
	c->job.run = msrv_job_run;
	c->job.post.fn = msrv_job_done;
	s->nctx++;
	return c;
}

/* Park @req until a context frees up. 0, or -ENOMEM. */
static int msrv_wait(struct msrv *s, struct vrpc_req *req)
{
	if (s->wq_len == s->wq_cap) {
		unsigned cap = s->wq_cap ? 2 * s->wq_cap : 256;
		struct vrpc_req **q = malloc(cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		for (unsigned i = 0; i < s->wq_len; i++)
			q[i] = s->waitq[(s->wq_head + i) % s->wq_cap];
		free(s->waitq);
		s->waitq = q;
		s->wq_cap = cap;
		s->wq_head = 0;
	}
	s->waitq[(s->wq_head + s->wq_len) % s->wq_cap] = req;
	s->wq_len++;
	if (s->wq_len > s->wq_max)
		s->wq_max = s->wq_len;
	s->waited++;
	return 0;
}

static void msrv_dispatch(struct msrv *s, struct vrpc_req *req)
{
	struct msrv_ctx *c = s->draining ? NULL : msrv_ctx_get(s);

	if (!c) {
		if (msrv_wait(s, req) < 0)
			vrpc_reply(req, -ENOMEM, NULL, 0, NULL, 0);
		return;
	}
	c->req = req;
	c->t0 = vloop_now_ns();
	c->env.ns = s->ns;
	c->env.space_total = s->space_total;
	c->env.space_free = s->space_avail;
	c->state = MSRV_CTX_QUEUED;
	s->inflight++;
	mpool_submit(s->pool, &c->job);
}

static void msrv_on_request(struct vrpc_req *req, void *arg)
{
	msrv_dispatch(arg, req);
}

/* Every metadata opcode goes to the same handler; rpc.c answers the rest
 * -ENOSYS. */
#define MSRV_H(op, name) [op] = {msrv_on_request, name}
static const struct vrpc_handler msrv_handlers[] = {
	MSRV_H(WIRE_META_LOOKUP, "LOOKUP"),
	MSRV_H(WIRE_META_GETATTR, "GETATTR"),
	MSRV_H(WIRE_META_SETATTR, "SETATTR"),
	MSRV_H(WIRE_META_CREATE, "CREATE"),
	MSRV_H(WIRE_META_MKNOD, "MKNOD"),
	MSRV_H(WIRE_META_MKDIR, "MKDIR"),
	MSRV_H(WIRE_META_SYMLINK, "SYMLINK"),
	MSRV_H(WIRE_META_READLINK, "READLINK"),
	MSRV_H(WIRE_META_LINK, "LINK"),
	MSRV_H(WIRE_META_UNLINK, "UNLINK"),
	MSRV_H(WIRE_META_RMDIR, "RMDIR"),
	MSRV_H(WIRE_META_RENAME, "RENAME"),
	MSRV_H(WIRE_META_OPEN, "OPEN"),
	MSRV_H(WIRE_META_CLOSE, "CLOSE"),
	MSRV_H(WIRE_META_READDIR, "READDIR"),
	MSRV_H(WIRE_META_STATFS, "STATFS"),
	MSRV_H(WIRE_META_SETXATTR, "SETXATTR"),
	MSRV_H(WIRE_META_GETXATTR, "GETXATTR"),
	MSRV_H(WIRE_META_LISTXATTR, "LISTXATTR"),
	MSRV_H(WIRE_META_REMOVEXATTR, "REMOVEXATTR"),
	MSRV_H(WIRE_META_SET_LENGTH, "SET_LENGTH"),
	MSRV_H(WIRE_META_LOCK, "LOCK"),
	MSRV_H(WIRE_META_UNLOCK, "UNLOCK"),
	MSRV_H(WIRE_META_FSCK, "FSCK"),
	MSRV_H(WIRE_META_GETLK, "GETLK"),
	MSRV_H(WIRE_META_RENEW, "RENEW"),
};

#define MSRV_NHANDLERS (sizeof(msrv_handlers) / sizeof(msrv_handlers[0]))

/* ---- lifecycle ------------------------------------------------------------
 */

int msrv_new(struct vloop *loop, struct mpool *pool, struct vns *ns,
	     const struct msrv_opts *o, struct msrv **out)
{
	struct msrv *s;
	int ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->pool = pool;
	s->ns = ns;
	s->max_inflight =
		o->max_inflight ? o->max_inflight : MSRV_DEFAULT_INFLIGHT;
	ret = vrpc_server_new(loop, o->listen, o->secret, msrv_handlers,
			      MSRV_NHANDLERS, s, &s->rpc);
	if (ret < 0) {
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

int msrv_drain(struct msrv *s, int timeout_ms)
{
	uint64_t end = vloop_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	s->draining = 1;
	while (s->inflight && vloop_now_ns() < end)
		if (vloop_run_once(s->loop, 50) < 0)
			break;
	return (int)s->inflight;
}

void msrv_free(struct msrv *s)
{
	struct msrv_ctx *c;

	if (!s)
		return;
	/* Waiting requests are dropped with their connections. */
	vrpc_server_free(s->rpc);
	if (s->inflight)
		vlog_warn("%u requests still running at exit: their memory "
			  "is left to the process's end",
			  s->inflight);
	while ((c = s->free_list)) {
		s->free_list = c->next_free;
		free(c);
	}
	free(s->waitq);
	free(s);
}

int msrv_port(struct msrv *s)
{
	return vrpc_server_port(s->rpc);
}

void msrv_set_space(struct msrv *s, uint64_t total, uint64_t avail)
{
	s->space_total = total;
	s->space_avail = avail;
}

/* ---- report ---------------------------------------------------------------
 */

void msrv_report(struct msrv *s, int json, struct vctl_buf *b)
{
	uint64_t total = 0, errors = 0;

	for (int i = 0; i < MSRV_NOPS; i++) {
		total += s->ops[i].count;
		errors += s->ops[i].errors;
	}
	if (json) {
		vctl_printf(b,
			    "\"requests\":%llu,\"request_errors\":%llu,"
			    "\"inflight\":%u,\"contexts\":%u,"
			    "\"waiting\":%u,\"waited\":%llu,"
			    "\"waiting_max\":%u,\"pool_queued\":%u,"
			    "\"workers\":%u,\"bad_bodies\":%llu,\"ops\":{",
			    (unsigned long long)total,
			    (unsigned long long)errors, s->inflight, s->nctx,
			    s->wq_len, (unsigned long long)s->waited, s->wq_max,
			    mpool_queued(s->pool), mpool_threads(s->pool),
			    (unsigned long long)s->bad_bodies);
		for (int i = 0; i < MSRV_NOPS; i++) {
			const struct vstats_op *o = &s->ops[i];
			uint64_t cnt = o->count;

			vctl_printf(b,
				    "%s\"%s\":{\"count\":%llu,\"errors\":%llu,"
				    "\"avg_us\":%.1f,\"p50_us\":%.0f,"
				    "\"p99_us\":%.0f}",
				    i ? "," : "",
				    mops_name((uint16_t)(WIRE_META_LOOKUP + i)),
				    (unsigned long long)cnt,
				    (unsigned long long)o->errors,
				    cnt ? o->ns_total / 1e3 / (double)cnt : 0.0,
				    vstats_op_quantile_us(o, 0.5),
				    vstats_op_quantile_us(o, 0.99));
		}
		vctl_printf(b, "}");
		return;
	}
	vctl_printf(b,
		    "requests %llu (%llu errors), %u in flight on %u "
		    "workers, %u waiting (at most %u, %llu waited), %llu "
		    "malformed\n\n",
		    (unsigned long long)total, (unsigned long long)errors,
		    s->inflight, mpool_threads(s->pool), s->wq_len, s->wq_max,
		    (unsigned long long)s->waited,
		    (unsigned long long)s->bad_bodies);
	vctl_printf(b, "%-14s %12s %10s %10s %10s %10s\n", "op", "count",
		    "errors", "avg_us", "p50_us", "p99_us");
	for (int i = 0; i < MSRV_NOPS; i++) {
		const struct vstats_op *o = &s->ops[i];
		uint64_t cnt = o->count;

		vctl_printf(b, "%-14s %12llu %10llu %10.1f %10.0f %10.0f\n",
			    mops_name((uint16_t)(WIRE_META_LOOKUP + i)),
			    (unsigned long long)cnt,
			    (unsigned long long)o->errors,
			    cnt ? o->ns_total / 1e3 / (double)cnt : 0.0,
			    vstats_op_quantile_us(o, 0.5),
			    vstats_op_quantile_us(o, 0.99));
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * server.c - the storage server's lifecycle, routing, local states,
 * pooled contexts, dispatch and report (server.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/log.h"
#include "rdma/mgmtc.h"
#include "storage/server_i.h"

/* ---- Pools ---------------------------------------------------------------- */

void *vstor_ctx_get(struct vstor *s)
{
	struct vstor_ctx *c = s->free_ctx;

	if (c)
		s->free_ctx = c->next;
	else
		c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	memset(c->mem, 0, sizeof(c->mem));
	return c->mem;
}

void vstor_ctx_put(struct vstor *s, void *p)
{
	struct vstor_ctx *c;

	if (!p)
		return;
	c = vstor_container_of(p, struct vstor_ctx, mem);
	c->next = s->free_ctx;
	s->free_ctx = c;
}

/* Buffers up to this size are kept for reuse, at most VSTOR_BUFS_KEPT. */
#define VSTOR_BUF_KEEP ((size_t)1 << 20)
#define VSTOR_BUFS_KEPT 16

struct vstor_buf *vstor_buf_get(struct vstor *s, size_t len)
{
	struct vstor_buf *b = s->free_bufs, **pp = &s->free_bufs;
	size_t cap;

	for (; b; pp = &b->next, b = b->next) {
		if (b->cap >= len) {
			*pp = b->next;
			s->nfree_bufs--;
			return b;
		}
	}
	cap = len < VSTOR_BUF_KEEP ? VSTOR_BUF_KEEP : len;
	b = malloc(sizeof(*b) + (cap ? cap : 1));
	if (b)
		b->cap = cap;
	return b;
}

void vstor_buf_put(struct vstor *s, struct vstor_buf *b)
{
	if (!b)
		return;
	if (b->cap > VSTOR_BUF_KEEP || s->nfree_bufs >= VSTOR_BUFS_KEPT) {
		free(b);
		return;
	}
	b->next = s->free_bufs;
	s->free_bufs = b;
	s->nfree_bufs++;
}

/* ---- Replies -------------------------------------------------------------- */

void vstor_reply(struct vstor *s, struct vrpc_req *req, uint64_t t0,
		 int status, const void *body, uint32_t body_len,
		 const struct iovec *data, int data_n)
{
	uint32_t op = (uint32_t)req->opcode - VSTOR_OP_FIRST;

	if (op < VSTOR_NOPS)
		vstats_op_add(&s->ops[op], vloop_now_ns() - t0, status);
	vlog_debug("%s: %s", wire_op_name(req->opcode),
		   status ? strerror(-status) : "ok");
	s->net.reply(s->net.arg, req, status, status ? NULL : body,
		     status ? 0 : body_len, status ? NULL : data,
		     status ? 0 : data_n);
}

int vstor_bad_body(struct vstor *s, struct vrpc_req *req, int err)
{
	s->c.bad_requests++;
	vlog_warn("%s: malformed body (%u bytes): %s",
		  wire_op_name(req->opcode), req->body_len, strerror(-err));
	return -EBADMSG;
}

void vstor_refresh(struct vstor *s)
{
	if (s->net.refresh)
		s->net.refresh(s->net.arg);
}

int vstor_peer_status(struct vstor *s, const struct vrpc_result *res)
{
	int st = res->status;

	if (!st)
		return 0;
	if (res->local) /* timeout, lost connection, shutdown */
		return st == -EOVERFLOW ? -EIO : -EAGAIN;
	switch (st) {
	case -ESTALE:
	case -ENXIO:
	case -EBUSY:
		/* The peer sees another chain: whoever is behind catches up
		 * and the caller retries. */
		vstor_refresh(s);
		return -EAGAIN;
	case -ENOMEM:
	case -ENOTCONN:
	case -ECONNRESET:
	case -ETIMEDOUT:
		return -EAGAIN;
	default:
		return st;
	}
}

/* ---- Chains --------------------------------------------------------------- */

static int vstor_takes_writes(uint32_t st)
{
	return st == VCRAQ_SERVING || st == VCRAQ_SYNCING;
}

struct vstor_chain *vstor_chain_find(struct vstor *s, uint32_t chain_id)
{
	for (uint32_t i = 0; i < s->nchains; i++)
		if (s->chains[i]->chain_id == chain_id)
			return s->chains[i];
	return NULL;
}

int vstor_chain_check(struct vstor *s, uint32_t chain_id, uint32_t chain_ver,
		      struct vstor_chain **out)
{
	struct vstor_chain *ch = vstor_chain_find(s, chain_id);

	if (!ch || ch->my_idx < 0) {
		vstor_refresh(s);
		return -ESTALE;
	}
	if (chain_ver != ch->view.chain_ver) {
		if (chain_ver > ch->view.chain_ver)
			vstor_refresh(s);
		return -ESTALE;
	}
	*out = ch;
	return 0;
}

uint32_t vstor_chain_my_state(const struct vstor_chain *ch)
{
	return ch->my_idx < 0 ? VCRAQ_OFFLINE
			      : ch->view.members[ch->my_idx].state;
}

int vstor_chain_is_head(const struct vstor_chain *ch)
{
	if (ch->my_idx < 0 || !vstor_takes_writes(vstor_chain_my_state(ch)))
		return 0;
	for (int i = 0; i < ch->my_idx; i++)
		if (vstor_takes_writes(ch->view.members[i].state))
			return 0;
	return 1;
}

int vstor_chain_succ(const struct vstor_chain *ch)
{
	if (ch->my_idx < 0)
		return -1;
	for (uint32_t i = (uint32_t)ch->my_idx + 1; i < ch->view.nmembers; i++)
		if (vstor_takes_writes(ch->view.members[i].state))
			return (int)i;
	return -1;
}

uint32_t vstor_chain_downstream(const struct vstor_chain *ch)
{
	uint32_t n = 0;

	if (ch->my_idx < 0)
		return 0;
	for (uint32_t i = (uint32_t)ch->my_idx + 1; i < ch->view.nmembers; i++)
		n += vstor_takes_writes(ch->view.members[i].state);
	return n;
}

/* Open (creating) the store of chain @chain_id under target @ti. */
static struct vstor_chain *vstor_chain_open(struct vstor *s, uint32_t ti,
					    const struct vcraq_chain *view)
{
	struct vcraq_ops ops = {.forward = vstor_forward};
	char dir[PATH_MAX + 32];
	struct vstor_chain *ch, **v;
	int ret;

	if (s->nchains == s->chains_cap) {
		uint32_t cap = s->chains_cap ? s->chains_cap * 2 : 8;

		v = realloc(s->chains, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->chains = v;
		s->chains_cap = cap;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->s = s;
	ch->ti = ti;
	ch->chain_id = view->chain_id;
	ch->my_idx = -1;
	snprintf(dir, sizeof(dir), "%s/chain-%u", s->targets[ti].path,
		 view->chain_id);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		ret = -errno;
		goto out_err;
	}
	ret = vchunk_store_open(dir, &ch->store);
	if (ret < 0)
		goto out_err;
	ops.arg = ch;
	ret = vcraq_target_new(ch->store, s->targets[ti].id, view, &ops, 0, 0,
			       &ch->craq);
	if (ret < 0) {
		vchunk_store_close(ch->store);
		goto out_err;
	}
	ch->view = *view;
	s->chains[s->nchains++] = ch;
	vlog_info("target %u serves chain %u from %s", s->targets[ti].id,
		  view->chain_id, dir);
	return ch;

out_err:
	vlog_err("chain %u on target %u (%s): %s", view->chain_id,
		 s->targets[ti].id, dir, strerror(-ret));
	free(ch);
	return NULL;
}

/* The routing chain @c as a craq view; @urls[i] of each member. */
static void vstor_view_of(const struct wire_routing *r,
			  const struct wire_routing_chain *c,
			  struct vcraq_chain *v,
			  char urls[][WIRE_URL_MAX + 1])
{
	memset(v, 0, sizeof(*v));
	v->chain_id = c->id;
	v->chain_ver = c->version;
	v->nmembers = c->ntargets < VCRAQ_MAX_MEMBERS ? c->ntargets
						      : VCRAQ_MAX_MEMBERS;
	for (uint32_t i = 0; i < v->nmembers; i++) {
		const char *url = vrouting_target_url(r, c->target_ids[i]);

		v->members[i].target_id = c->target_ids[i];
		v->members[i].state =
			c->states[i] <= VCRAQ_OFFLINE ? c->states[i]
						      : VCRAQ_OFFLINE;
		snprintf(urls[i], WIRE_URL_MAX + 1, "%s", url ? url : "");
	}
}

static int vstor_view_find(const struct vcraq_chain *v, uint32_t target_id)
{
	for (uint32_t i = 0; i < v->nmembers; i++)
		if (v->members[i].target_id == target_id)
			return (int)i;
	return -1;
}

/* Install one routing chain for local target @ti. */
static void vstor_chain_install(struct vstor *s, uint32_t ti,
				const struct wire_routing *r,
				const struct wire_routing_chain *c)
{
	char urls[VCRAQ_MAX_MEMBERS][WIRE_URL_MAX + 1];
	struct vstor_chain *ch = vstor_chain_find(s, c->id);
	struct vcraq_chain v;
	uint32_t old_state;
	int ret;

	vstor_view_of(r, c, &v, urls);
	if (ch && ch->ti != ti) {
		vlog_err("chain %u holds targets %u and %u of this node: "
			 "serving it from target %u only",
			 c->id, s->targets[ch->ti].id, s->targets[ti].id,
			 s->targets[ch->ti].id);
		return;
	}
	if (!ch) {
		ch = vstor_chain_open(s, ti, &v);
		if (!ch)
			return;
		old_state = VCRAQ_OFFLINE;
	} else {
		if (v.chain_ver < ch->view.chain_ver)
			return;
		old_state = vstor_chain_my_state(ch);
		ret = vcraq_target_set_chain(ch->craq, &v);
		if (ret < 0) {
			vlog_warn("chain %u version %u: %s", c->id,
				  v.chain_ver, strerror(-ret));
			return;
		}
		ch->view = v;
	}
	memcpy(ch->urls, urls, sizeof(urls));
	ch->my_idx = vstor_view_find(&v, s->targets[ti].id);
	if (vstor_chain_my_state(ch) != old_state)
		vlog_info("target %u is %s in chain %u (version %u)",
			  s->targets[ti].id,
			  wire_public_state_name(vstor_chain_my_state(ch)),
			  c->id, v.chain_ver);
	/* Successor side: figures of a resync belong to one chain version
	 * while we are SYNCING; anything else starts them over. */
	if (vstor_chain_my_state(ch) != VCRAQ_SYNCING ||
	    ch->sync_ver != v.chain_ver) {
		ch->sync_complete = 0;
		ch->sync_done = ch->sync_total = 0;
		ch->sync_ver = v.chain_ver;
	}
	vstor_resync_check(ch);
}

/* Does routing show target @id SERVING or SYNCING in some chain? */
static int vstor_routing_serves(const struct wire_routing *r, uint32_t id)
{
	for (uint32_t i = 0; i < r->nchains; i++) {
		const struct wire_routing_chain *c = &r->chains[i];

		for (uint32_t k = 0; k < c->ntargets; k++)
			if (c->target_ids[k] == id &&
			    vstor_takes_writes(c->states[k]))
				return 1;
	}
	return 0;
}

void vstor_set_routing(struct vstor *s, const struct wire_routing *r)
{
	if (r->version <= s->routing_version)
		return;
	s->routing_version = r->version;
	for (uint32_t ti = 0; ti < s->ntargets; ti++) {
		struct vstor_target *t = &s->targets[ti];

		if (!t->id)
			continue;
		if (t->fenced) {
			if (vstor_routing_serves(r, t->id))
				continue;
			t->fenced = 0;
			vlog_info("target %u: mgmtd shows it serving nowhere; "
				  "taking requests (routing version %llu)",
				  t->id, (unsigned long long)r->version);
		}
		for (uint32_t i = 0; i < r->nchains; i++) {
			const struct wire_routing_chain *c = &r->chains[i];

			for (uint32_t k = 0; k < c->ntargets; k++)
				if (c->target_ids[k] == t->id)
					vstor_chain_install(s, ti, r, c);
		}
	}
	vstor_states_update(s);
}

void vstor_set_ids(struct vstor *s, uint32_t node_id,
		   const uint32_t *target_ids)
{
	s->node_id = node_id;
	for (uint32_t i = 0; i < s->ntargets; i++) {
		if (s->targets[i].id && s->targets[i].id != target_ids[i])
			vlog_err("target %s changed id from %u to %u",
				 s->targets[i].path, s->targets[i].id,
				 target_ids[i]);
		s->targets[i].id = target_ids[i];
	}
}

/* ---- Local states --------------------------------------------------------- */

static uint32_t vstor_target_local(const struct vstor *s, uint32_t ti)
{
	uint32_t st = WIRE_LOCAL_UPTODATE;

	/* Fenced: routing showed it serving (a restart mgmtd has not seen
	 * yet): OFFLINE moves it out of its chains. Before any routing,
	 * ONLINE changes nothing a chain relies on. */
	if (s->targets[ti].fenced)
		return s->routing_version ? WIRE_LOCAL_OFFLINE
					  : WIRE_LOCAL_ONLINE;
	if (!s->routing_version)
		return WIRE_LOCAL_ONLINE;
	for (uint32_t i = 0; i < s->nchains; i++) {
		const struct vstor_chain *ch = s->chains[i];
		uint32_t my;

		if (ch->ti != ti || ch->my_idx < 0)
			continue;
		my = vstor_chain_my_state(ch);
		if (my == VCRAQ_OFFLINE || my == VCRAQ_WAITING ||
		    (my == VCRAQ_SYNCING && !ch->sync_complete))
			st = WIRE_LOCAL_ONLINE;
	}
	return st;
}

void vstor_states_update(struct vstor *s)
{
	int changed = 0;

	for (uint32_t ti = 0; ti < s->ntargets; ti++) {
		uint32_t st = vstor_target_local(s, ti);

		if (st == s->targets[ti].local_state)
			continue;
		vlog_info("target %u reports %s", s->targets[ti].id,
			  wire_local_state_name(st));
		s->targets[ti].local_state = st;
		changed = 1;
	}
	if (changed && s->net.heartbeat)
		s->net.heartbeat(s->net.arg);
}

void vstor_target_sync(const struct vstor *s, uint32_t ti, uint64_t *done,
		       uint64_t *total)
{
	*done = *total = 0;
	for (uint32_t i = 0; i < s->nchains; i++) {
		const struct vstor_chain *ch = s->chains[i];

		if (ch->ti != ti || vstor_chain_my_state(ch) != VCRAQ_SYNCING)
			continue;
		*done += ch->sync_done;
		*total += ch->sync_total;
	}
}

void vstor_fill_target(struct vstor *s, uint32_t i,
		       struct wire_heartbeat_target *t)
{
	struct statvfs sv;

	if (i >= s->ntargets)
		return;
	t->local_state = s->targets[i].local_state;
	if (!statvfs(s->targets[i].path, &sv)) {
		t->capacity = (uint64_t)sv.f_blocks * sv.f_frsize;
		t->used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	}
	vstor_target_sync(s, i, &t->sync_done, &t->sync_total);
}

/* ---- Lifecycle ------------------------------------------------------------ */

int vstor_new(struct vloop *loop, const struct vstor_opts *o,
	      const struct vstor_net *net, struct vstor **out)
{
	struct vstor *s;

	if (!loop || !o || !net || !net->call || !net->reply || !out ||
	    !o->ntargets || o->ntargets > WIRE_MAX_TARGETS_PER_NODE ||
	    !o->target_paths)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->net = *net;
	s->o = *o;
	s->o.target_paths = NULL;
	if (!s->o.forward_timeout_ms)
		s->o.forward_timeout_ms = 2000;
	if (!s->o.peer_timeout_ms)
		s->o.peer_timeout_ms = 5000;
	s->ntargets = o->ntargets;
	s->targets = calloc(o->ntargets, sizeof(*s->targets));
	s->dump = calloc(1, sizeof(*s->dump));
	s->dump_out = malloc(WIRE_STORAGE_DUMP_RESP_MAX_LEN);
	if (!s->targets || !s->dump || !s->dump_out)
		goto out_free;
	for (uint32_t i = 0; i < o->ntargets; i++) {
		if (!o->target_paths[i] ||
		    strlen(o->target_paths[i]) >= sizeof(s->targets[i].path))
			goto out_inval;
		snprintf(s->targets[i].path, sizeof(s->targets[i].path), "%s",
			 o->target_paths[i]);
		s->targets[i].fenced = 1;
		s->targets[i].local_state = WIRE_LOCAL_ONLINE;
	}
	*out = s;
	return 0;

out_inval:
	free(s->dump_out);
	free(s->dump);
	free(s->targets);
	free(s);
	return -EINVAL;
out_free:
	free(s->dump_out);
	free(s->dump);
	free(s->targets);
	free(s);
	return -ENOMEM;
}

void vstor_free(struct vstor *s)
{
	struct vstor_ctx *c;
	struct vstor_buf *b;

	if (!s)
		return;
	for (uint32_t i = 0; i < s->nchains; i++) {
		struct vstor_chain *ch = s->chains[i];

		vstor_resync_abort(ch);
		vcraq_target_free(ch->craq);
		vchunk_store_close(ch->store);
		free(ch);
	}
	free(s->chains);
	while ((c = s->free_ctx)) {
		s->free_ctx = c->next;
		free(c);
	}
	while ((b = s->free_bufs)) {
		s->free_bufs = b->next;
		free(b);
	}
	free(s->dump_out);
	free(s->dump);
	free(s->targets);
	free(s);
}

/* ---- Dispatch ------------------------------------------------------------- */

void vstor_handle(struct vstor *s, struct vrpc_req *req)
{
	switch (req->opcode) {
	case WIRE_STORAGE_WRITE:
	case WIRE_STORAGE_FORWARD:
		vstor_on_write(s, req);
		return;
	case WIRE_STORAGE_TRUNCATE:
		vstor_on_truncate(s, req);
		return;
	case WIRE_STORAGE_READ:
		vstor_on_read(s, req);
		return;
	case WIRE_STORAGE_SYNC:
		vstor_on_sync(s, req);
		return;
	case WIRE_STORAGE_REMOVE:
		vstor_on_remove(s, req);
		return;
	case WIRE_STORAGE_CUT:
		vstor_on_cut(s, req);
		return;
	case WIRE_STORAGE_QUERY_LAST_CHUNK:
		vstor_on_last(s, req);
		return;
	case WIRE_STORAGE_DUMP_META:
		vstor_on_dump(s, req);
		return;
	case WIRE_STORAGE_SPACE:
		vstor_on_space(s, req);
		return;
	case WIRE_STORAGE_RESYNC:
		vstor_on_resync(s, req);
		return;
	default:
		/* COMMIT is reserved: commits travel as FORWARD replies. */
		vstor_reply(s, req, vloop_now_ns(), -ENOSYS, NULL, 0, NULL, 0);
		return;
	}
}

/* ---- Report --------------------------------------------------------------- */

void vstor_counters(const struct vstor *s, struct vstor_counters *out)
{
	struct vchunk_stats cs;

	*out = s->c;
	out->bad_blocks = 0;
	for (uint32_t i = 0; i < s->nchains; i++) {
		vchunk_store_stats(s->chains[i]->store, &cs);
		out->bad_blocks += cs.bad_blocks;
	}
}

#define VSTOR_COUNTERS(X)                                                      \
	X(bytes_written)                                                       \
	X(bytes_read)                                                          \
	X(forwards)                                                            \
	X(forward_errors)                                                      \
	X(bad_blocks)                                                          \
	X(repairs)                                                             \
	X(repair_fails)                                                        \
	X(resync_jobs)                                                         \
	X(resync_done)                                                         \
	X(resync_sent)                                                         \
	X(resync_removed)                                                      \
	X(resync_recv)                                                         \
	X(bad_requests)

void vstor_report(struct vstor *s, int json, struct vctl_buf *b)
{
	struct vstor_counters c;
	int first = 1;

	vstor_counters(s, &c);
	if (json) {
		vctl_printf(b,
			    "{\"program\":\"valor-storaged\",\"pid\":%d,"
			    "\"node_id\":%u,\"routing_version\":%llu,",
			    (int)getpid(), s->node_id,
			    (unsigned long long)s->routing_version);
#define X(f) vctl_printf(b, "\"%s\":%llu,", #f, (unsigned long long)c.f);
		VSTOR_COUNTERS(X)
#undef X
		vctl_printf(b, "\"targets\":[");
		for (uint32_t i = 0; i < s->ntargets; i++) {
			uint64_t d, t;

			vstor_target_sync(s, i, &d, &t);
			vctl_printf(b,
				    "%s{\"id\":%u,\"state\":\"%s\","
				    "\"sync_done\":%llu,\"sync_total\":%llu}",
				    i ? "," : "", s->targets[i].id,
				    wire_local_state_name(
					    s->targets[i].local_state),
				    (unsigned long long)d,
				    (unsigned long long)t);
		}
		vctl_printf(b, "],\"ops\":{");
		for (int i = 0; i < VSTOR_NOPS; i++) {
			const struct vstats_op *o = &s->ops[i];
			uint64_t cnt = o->count;

			if (!cnt)
				continue;
			vctl_printf(b,
				    "%s\"%s\":{\"count\":%llu,\"errors\":%llu,"
				    "\"avg_us\":%.1f,\"p50_us\":%.0f,"
				    "\"p99_us\":%.0f}",
				    first ? "" : ",",
				    wire_op_name((uint16_t)(VSTOR_OP_FIRST + i)),
				    (unsigned long long)cnt,
				    (unsigned long long)o->errors,
				    o->ns_total / 1e3 / (double)cnt,
				    vstats_op_quantile_us(o, 0.5),
				    vstats_op_quantile_us(o, 0.99));
			first = 0;
		}
		vctl_printf(b, "}}");
		return;
	}
	vctl_printf(b, "node %u, routing version %llu, %u chain(s)\n",
		    s->node_id, (unsigned long long)s->routing_version,
		    s->nchains);
	for (uint32_t i = 0; i < s->ntargets; i++) {
		uint64_t d, t;

		vstor_target_sync(s, i, &d, &t);
		vctl_printf(b, "target %u %s: %s%s, sync %llu/%llu\n",
			    s->targets[i].id, s->targets[i].path,
			    wire_local_state_name(s->targets[i].local_state),
			    s->targets[i].fenced ? " (fenced)" : "",
			    (unsigned long long)d, (unsigned long long)t);
	}
#define X(f) vctl_printf(b, "%-16s %llu\n", #f, (unsigned long long)c.f);
	VSTOR_COUNTERS(X)
#undef X
	vctl_printf(b, "\n%-26s %12s %10s %10s %10s %10s\n", "op", "count",
		    "errors", "avg_us", "p50_us", "p99_us");
	for (int i = 0; i < VSTOR_NOPS; i++) {
		const struct vstats_op *o = &s->ops[i];
		uint64_t cnt = o->count;

		vctl_printf(b, "%-26s %12llu %10llu %10.1f %10.0f %10.0f\n",
			    wire_op_name((uint16_t)(VSTOR_OP_FIRST + i)),
			    (unsigned long long)cnt,
			    (unsigned long long)o->errors,
			    cnt ? o->ns_total / 1e3 / (double)cnt : 0.0,
			    vstats_op_quantile_us(o, 0.5),
			    vstats_op_quantile_us(o, 0.99));
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * mgmtc.c - the link to mgmtd (see mgmtc.h).
 *
 * One timer drives everything: every interval it sends a REGISTER (not
 * registered yet), a HEARTBEAT (registered) or, for role 0, a GET_ROUTING.
 * A heartbeat reply that announces a routing version newer than ours starts
 * a pull. At most one control call (register/heartbeat) and one pull are in
 * flight; a refresh asked for while a pull runs is remembered and done when
 * it returns.
 */
#include "rdma/mgmtc.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/log.h"
#include "rdma/rpc.h"

#define VMGMTC_CONTAINER(p, type, member)                                      \
	((type *)((char *)(p)-offsetof(type, member)))

struct vmgmtc {
	struct vmgmtc_opts o;
	char mgmtd_url[WIRE_URL_MAX + 1];
	char url[WIRE_URL_MAX + 1];
	char hostname[WIRE_HOSTNAME_MAX + 1];
	char (*paths)[WIRE_PATH_MAX + 1];

	struct vloop *loop;
	struct vrpc_client *cli;
	struct vloop_timer tick;
	uint32_t interval_ms;

	uint32_t node_id; /* 0: not registered */
	uint32_t target_ids[WIRE_MAX_TARGETS_PER_NODE];
	uint64_t announced; /* newest routing version a heartbeat named */
	int last_err;

	struct vrpc_call ctl_call; /* register or heartbeat */
	int ctl_busy;
	struct vrpc_call rt_call; /* GET_ROUTING */
	int rt_busy;
	int rt_again; /* a refresh was asked for during the pull */
	int freeing;  /* vmgmtc_free() runs: callbacks only return */
	uint8_t rt_body[WIRE_ROUTING_REQ_LEN];

	struct vmgmtc_stats st;

	/* Heap-sized members last. */
	struct wire_routing *cur;     /* NULL until the first routing */
	struct wire_routing *scratch; /* decode target */
	union {
		struct wire_register_req reg;
		struct wire_heartbeat_req hb;
	} q;
	uint8_t body[WIRE_REGISTER_REQ_MAX_LEN > WIRE_HEARTBEAT_REQ_MAX_LEN
			     ? WIRE_REGISTER_REQ_MAX_LEN
			     : WIRE_HEARTBEAT_REQ_MAX_LEN];
};

static void vmgmtc_tick_in(struct vmgmtc *m, uint64_t ms)
{
	vloop_timer_add(m->loop, &m->tick, ms * 1000000ull);
}

/* A call to mgmtd failed: count it, keep it, say it once per change. */
static void vmgmtc_failed(struct vmgmtc *m, const char *what, int err)
{
	m->st.errors++;
	if (err != m->last_err)
		vlog(err == -ETIMEDOUT || err == -ECONNRESET ||
				     err == -ECONNREFUSED
			     ? VLOG_INFO
			     : VLOG_WARN,
		     "%s to mgmtd %s: %s", what, m->mgmtd_url, strerror(-err));
	m->last_err = err;
}

static void vmgmtc_default_target(const char *path,
				  struct wire_heartbeat_target *t)
{
	struct statvfs sv;

	t->local_state = WIRE_LOCAL_UPTODATE;
	if (statvfs(path, &sv))
		return;
	t->capacity = (uint64_t)sv.f_blocks * sv.f_frsize;
	t->used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
}

static void vmgmtc_fill(struct vmgmtc *m, uint32_t i,
			struct wire_heartbeat_target *t)
{
	memset(t, 0, sizeof(*t));
	t->id = m->target_ids[i];
	if (m->o.fill_target)
		m->o.fill_target(m->o.arg, i, t);
	else
		vmgmtc_default_target(m->paths[i], t);
}

/* ---- routing ----------------------------------------------------------- */

static void vmgmtc_pull(struct vmgmtc *m);

static void vmgmtc_on_routing(struct vrpc_call *call,
			      const struct vrpc_result *res, void *arg)
{
	struct vmgmtc *m = arg;
	struct wire_routing *tmp;
	int ret;

	m->rt_busy = 0;
	if (m->freeing)
		return;
	ret = res->status;
	if (!ret)
		ret = wire_routing_decode(res->body, res->body_len,
					  m->scratch);
	if (ret) {
		vmgmtc_failed(m, "GET_ROUTING", ret);
	} else {
		m->last_err = 0;
		m->st.routing_pulls++;
		if (!m->scratch->unchanged &&
		    (!m->cur || m->scratch->version > m->cur->version)) {
			tmp = m->cur;
			m->cur = m->scratch;
			m->scratch = tmp;
			if (!m->scratch)
				m->scratch = calloc(1, sizeof(*m->scratch));
			m->st.routing_version = m->cur->version;
			vlog_debug("routing version %llu",
				   (unsigned long long)m->cur->version);
			if (m->o.on_routing)
				m->o.on_routing(m->o.arg, m->cur);
		}
	}
	if (m->rt_again) {
		m->rt_again = 0;
		vmgmtc_pull(m);
	}
}

static void vmgmtc_pull(struct vmgmtc *m)
{
	struct wire_routing_req q = {
		.since_version = m->cur ? m->cur->version : 0,
	};
	size_t len;
	int ret;

	if (m->rt_busy) {
		m->rt_again = 1;
		return;
	}
	if (!m->scratch)
		return; /* out of memory earlier: try at the next tick */
	if (wire_routing_req_encode(&q, m->rt_body, sizeof(m->rt_body), &len))
		return;
	ret = vrpc_call(m->cli, WIRE_MGMTD_GET_ROUTING, m->rt_body,
			(uint32_t)len, NULL, 0, NULL, 0,
			(int)m->o.call_timeout_ms, vmgmtc_on_routing, m,
			&m->rt_call);
	if (ret == 0)
		m->rt_busy = 1;
	else
		vmgmtc_failed(m, "GET_ROUTING", ret);
}

/* ---- register and heartbeat ------------------------------------------- */

static void vmgmtc_on_register(struct vrpc_call *call,
			       const struct vrpc_result *res, void *arg)
{
	struct vmgmtc *m = arg;
	struct wire_register_resp resp;
	int ret;

	m->ctl_busy = 0;
	if (m->freeing)
		return;
	ret = res->status;
	if (!ret)
		ret = wire_register_resp_decode(res->body, res->body_len,
						&resp);
	if (!ret && resp.ntargets != m->o.ntargets)
		ret = -EPROTO;
	if (ret) {
		vmgmtc_failed(m, "REGISTER", ret);
		return;
	}
	m->last_err = 0;
	m->st.registrations++;
	m->node_id = resp.node_id;
	m->st.node_id = resp.node_id;
	memcpy(m->target_ids, resp.target_ids,
	       resp.ntargets * sizeof(resp.target_ids[0]));
	if (resp.heartbeat_interval_ms)
		m->interval_ms = resp.heartbeat_interval_ms;
	vlog_info("registered with mgmtd %s as %s node %u (%u target(s))",
		  m->mgmtd_url, wire_role_name(m->o.role), m->node_id,
		  resp.ntargets);
	if (m->o.on_registered)
		m->o.on_registered(m->o.arg, m->node_id, m->target_ids);
	vmgmtc_tick_in(m, 0); /* report the local states at once */
	vmgmtc_pull(m);
}

static void vmgmtc_on_heartbeat(struct vrpc_call *call,
				const struct vrpc_result *res, void *arg)
{
	struct vmgmtc *m = arg;
	struct wire_heartbeat_resp resp;
	int ret;

	m->ctl_busy = 0;
	if (m->freeing)
		return;
	ret = res->status;
	if (!ret)
		ret = wire_heartbeat_resp_decode(res->body, res->body_len,
						 &resp);
	if (ret == -ENOENT && !res->local) {
		vlog_warn("mgmtd does not know node %u: registering again",
			  m->node_id);
		m->node_id = 0;
		vmgmtc_tick_in(m, 0);
		return;
	}
	if (ret) {
		vmgmtc_failed(m, "HEARTBEAT", ret);
		return;
	}
	m->last_err = 0;
	m->st.heartbeats++;
	if (resp.routing_version > m->announced)
		m->announced = resp.routing_version;
	if (!m->cur || m->announced > m->cur->version)
		vmgmtc_pull(m);
}

static int vmgmtc_send_register(struct vmgmtc *m)
{
	struct wire_register_req *q = &m->q.reg;
	struct wire_heartbeat_target t;
	size_t len;
	int ret;

	memset(q, 0, sizeof(*q));
	q->node_id = 0; /* mgmtd finds a returning node by url and role */
	q->role = m->o.role;
	memcpy(q->url, m->url, sizeof(q->url));
	memcpy(q->hostname, m->hostname, sizeof(q->hostname));
	q->ntargets = m->o.ntargets;
	for (uint32_t i = 0; i < m->o.ntargets; i++) {
		memcpy(q->targets[i].path, m->paths[i],
		       sizeof(q->targets[i].path));
		vmgmtc_fill(m, i, &t);
		q->targets[i].capacity = t.capacity;
		q->targets[i].used = t.used;
	}
	ret = wire_register_req_encode(q, m->body, sizeof(m->body), &len);
	if (ret < 0)
		return ret;
	ret = vrpc_call(m->cli, WIRE_MGMTD_REGISTER, m->body, (uint32_t)len,
			NULL, 0, NULL, 0, (int)m->o.call_timeout_ms,
			vmgmtc_on_register, m, &m->ctl_call);
	if (ret == 0)
		m->ctl_busy = 1;
	return ret;
}

static int vmgmtc_send_heartbeat(struct vmgmtc *m)
{
	struct wire_heartbeat_req *q = &m->q.hb;
	size_t len;
	int ret;

	memset(q, 0, sizeof(*q));
	q->node_id = m->node_id;
	q->routing_version = m->cur ? m->cur->version : 0;
	q->ntargets = m->o.ntargets;
	for (uint32_t i = 0; i < m->o.ntargets; i++)
		vmgmtc_fill(m, i, &q->targets[i]);
	ret = wire_heartbeat_req_encode(q, m->body, sizeof(m->body), &len);
	if (ret < 0)
		return ret;
	ret = vrpc_call(m->cli, WIRE_MGMTD_HEARTBEAT, m->body, (uint32_t)len,
			NULL, 0, NULL, 0, (int)m->o.call_timeout_ms,
			vmgmtc_on_heartbeat, m, &m->ctl_call);
	if (ret == 0)
		m->ctl_busy = 1;
	return ret;
}

static void vmgmtc_on_tick(struct vloop_timer *tm)
{
	struct vmgmtc *m = VMGMTC_CONTAINER(tm, struct vmgmtc, tick);
	int ret = 0;

	if (!m->o.role) {
		vmgmtc_tick_in(m, m->o.poll_ms);
		vmgmtc_pull(m);
		return;
	}
	vmgmtc_tick_in(m, m->interval_ms);
	if (m->ctl_busy)
		return; /* the last one has not come back yet */
	if (m->node_id)
		ret = vmgmtc_send_heartbeat(m);
	else
		ret = vmgmtc_send_register(m);
	if (ret < 0)
		vmgmtc_failed(m, m->node_id ? "HEARTBEAT" : "REGISTER", ret);
}

/* ---- public ------------------------------------------------------------ */

static int vmgmtc_copy(char *dst, size_t cap, const char *src,
		       const char *what)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap) {
		vlog_err("mgmtd link: %s '%s' is longer than %zu bytes", what,
			 src, cap - 1);
		return -EINVAL;
	}
	memcpy(dst, src ? src : "", n + 1);
	return 0;
}

int vmgmtc_new(struct vloop *loop, const struct vmgmtc_opts *o,
	       struct vmgmtc **out)
{
	struct vrpc_client_opts copts = {
		.backoff_min_ms = 100,
		.backoff_max_ms = 1000,
	};
	struct vmgmtc *m;
	int ret;

	if (!o->mgmtd_url || o->ntargets > WIRE_MAX_TARGETS_PER_NODE ||
	    (o->ntargets && !o->target_paths))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->o = *o;
	if (!m->o.poll_ms)
		m->o.poll_ms = 1000;
	if (!m->o.call_timeout_ms)
		m->o.call_timeout_ms = 2000;
	m->loop = loop;
	m->interval_ms = 1000; /* until mgmtd says */
	vrpc_call_init(&m->ctl_call);
	vrpc_call_init(&m->rt_call);
	vloop_timer_init(&m->tick, vmgmtc_on_tick);

	ret = vmgmtc_copy(m->mgmtd_url, sizeof(m->mgmtd_url), o->mgmtd_url,
			  "mgmtd URL");
	if (!ret)
		ret = vmgmtc_copy(m->url, sizeof(m->url), o->url, "URL");
	if (!ret && o->hostname)
		ret = vmgmtc_copy(m->hostname, sizeof(m->hostname),
				  o->hostname, "host name");
	else if (!ret && gethostname(m->hostname, sizeof(m->hostname) - 1))
		snprintf(m->hostname, sizeof(m->hostname), "localhost");
	if (ret)
		goto out_free;
	ret = -ENOMEM;
	m->scratch = calloc(1, sizeof(*m->scratch));
	m->paths = calloc(o->ntargets ? o->ntargets : 1, sizeof(*m->paths));
	if (!m->scratch || !m->paths)
		goto out_free;
	for (uint32_t i = 0; i < o->ntargets; i++) {
		ret = vmgmtc_copy(m->paths[i], sizeof(m->paths[i]),
				  o->target_paths[i], "target path");
		if (ret)
			goto out_free;
	}
	ret = vrpc_client_new(loop, m->mgmtd_url, o->secret, &copts, &m->cli);
	if (ret < 0) {
		vlog_err("mgmtd %s: %s", m->mgmtd_url, strerror(-ret));
		goto out_free;
	}
	vmgmtc_tick_in(m, 0);
	*out = m;
	return 0;

out_free:
	free(m->paths);
	free(m->scratch);
	free(m);
	return ret;
}

void vmgmtc_free(struct vmgmtc *m)
{
	if (!m)
		return;
	vloop_timer_cancel(m->loop, &m->tick);
	/* Fails the calls in flight; their callbacks only clear flags. */
	m->freeing = 1;
	vrpc_client_free(m->cli);
	free(m->paths);
	free(m->cur);
	free(m->scratch);
	free(m);
}

void vmgmtc_refresh(struct vmgmtc *m)
{
	vmgmtc_pull(m);
}

void vmgmtc_heartbeat_now(struct vmgmtc *m)
{
	if (m->o.role)
		vmgmtc_tick_in(m, 0);
}

const struct wire_routing *vmgmtc_routing(const struct vmgmtc *m)
{
	return m->cur;
}

uint32_t vmgmtc_node_id(const struct vmgmtc *m)
{
	return m->node_id;
}

int vmgmtc_last_error(const struct vmgmtc *m)
{
	return m->last_err;
}

void vmgmtc_stats(const struct vmgmtc *m, struct vmgmtc_stats *out)
{
	*out = m->st;
}

int vmgmtc_wait_routing(struct vmgmtc *m, int timeout_ms)
{
	uint64_t deadline = vloop_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	uint64_t now;
	int ret;

	while (!m->cur) {
		now = vloop_now_ns();
		if (now >= deadline)
			return m->last_err ? m->last_err : -ETIMEDOUT;
		ret = vloop_run_once(m->loop,
				     (int)((deadline - now) / 1000000ull) + 1);
		if (ret < 0)
			return ret;
		/* Authentication failures do not heal by waiting. */
		if (m->last_err == -EACCES)
			return -EACCES;
	}
	return 0;
}

/* ---- lookups ----------------------------------------------------------- */

const struct wire_routing_node *vrouting_node(const struct wire_routing *r,
					      uint32_t node_id)
{
	for (uint32_t i = 0; i < r->nnodes; i++)
		if (r->nodes[i].id == node_id)
			return &r->nodes[i];
	return NULL;
}

const struct wire_routing_target *
vrouting_target(const struct wire_routing *r, uint32_t target_id)
{
	for (uint32_t i = 0; i < r->ntargets; i++)
		if (r->targets[i].id == target_id)
			return &r->targets[i];
	return NULL;
}

const struct wire_routing_chain *vrouting_chain(const struct wire_routing *r,
						uint32_t chain_id)
{
	for (uint32_t i = 0; i < r->nchains; i++)
		if (r->chains[i].id == chain_id)
			return &r->chains[i];
	return NULL;
}

const char *vrouting_target_url(const struct wire_routing *r,
				uint32_t target_id)
{
	const struct wire_routing_target *t = vrouting_target(r, target_id);
	const struct wire_routing_node *n;

	if (!t)
		return NULL;
	n = vrouting_node(r, t->node_id);
	return n && n->url[0] ? n->url : NULL;
}

int vrouting_chain_head(const struct wire_routing_chain *c)
{
	for (uint32_t i = 0; i < c->ntargets; i++)
		if (vrouting_takes_writes(c->states[i]))
			return (int)i;
	return -1;
}

int vrouting_chain_tail(const struct wire_routing_chain *c)
{
	for (uint32_t i = c->ntargets; i-- > 0;)
		if (vrouting_takes_writes(c->states[i]))
			return (int)i;
	return -1;
}

uint32_t vrouting_chunk_chain(const struct wire_routing *r, uint32_t first,
			      uint32_t stripe, uint64_t index)
{
	uint64_t n = r->table.nchains;

	if (!n)
		return 0;
	if (!stripe)
		stripe = 1;
	return r->table.chain_ids[(first + index % stripe) % n];
}

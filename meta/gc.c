/* SPDX-License-Identifier: MIT */
/*
 * gc.c - the garbage collector (see gc.h).
 *
 * Round state machine (enum mgc_state), loop thread only:
 *   IDLE      waiting for the timer or a kick
 *   CLAIMING  the claim transaction runs on the pool
 *   REMOVING  REMOVE calls in flight (calls_out of them)
 *   DELETING  the vns_gc_done transactions run on the pool
 * and back to IDLE. One round at a time; its buffers are kept and reused.
 */
#include "meta/gc.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "proto/wire_storage.h"
#include "rdma/mgmtc.h"
#include "rdma/rpc.h"

#define MGC_CONTAINER(p, type, member)                                         \
	((type *)((char *)(p)-offsetof(type, member)))

enum mgc_state {
	MGC_IDLE,     /* between rounds */
	MGC_CLAIMING, /* claim transaction on the pool */
	MGC_REMOVING, /* REMOVE calls in flight */
	MGC_DELETING, /* gc_done transactions on the pool */
};

struct mgc_call {
	struct vrpc_call call;
	struct mgc *g;
	uint32_t ent; /* index into ents */
	uint8_t body[WIRE_STORAGE_REMOVE_REQ_LEN];
};

/* A storage node we talk to, by URL; kept for the collector's life. */
struct mgc_peer {
	char url[WIRE_URL_MAX + 1];
	struct vrpc_client *cli;
};

struct mgc {
	struct vloop *loop;
	struct mpool *pool;
	struct vns *ns;
	struct mgc_opts o;
	struct mgc_routing r;
	struct vloop_timer timer;
	enum mgc_state state;
	int kicked;
	int stopping; /* mgc_free: no new round */
	int freeing;  /* clients being freed: callbacks only return */
	int warned_version;
	int last_err; /* of the last REMOVE, for logging changes only */

	struct mpool_job job; /* claim or delete */
	int job_rc;
	int job_count;	/* inodes the delete job removed */
	int64_t now_ns; /* of the claim */

	struct vns_gc_entry *ents;
	int nents;
	uint32_t *pending; /* per entry: calls in flight */
	uint8_t *failed;   /* per entry: some chain did not confirm */
	struct mgc_call *calls;
	size_t calls_cap;
	size_t calls_out;
	uint64_t *done; /* inodes to delete */
	int ndone;

	struct mgc_peer *peers;
	size_t npeers;
	struct mgc_stats st;
};

static int64_t mgc_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void mgc_set_state(struct mgc *g, enum mgc_state s)
{
	vlog_debug("gc: state %d -> %d", g->state, s);
	g->state = s;
}

static void mgc_round_end(struct mgc *g)
{
	mgc_set_state(g, MGC_IDLE);
	if (g->stopping)
		return;
	/* A full batch collected: there is likely more, go on at once. */
	if (g->nents == (int)g->o.batch && g->job_count == g->nents)
		g->kicked = 1;
	vloop_timer_add(g->loop, &g->timer,
			g->kicked ? 0
				  : (uint64_t)g->o.interval_ms * 1000000ull);
}

/* ---- step 3: delete ----------------------------------------------------- */

static void mgc_delete_run(struct mpool_job *job)
{
	struct mgc *g = MGC_CONTAINER(job, struct mgc, job);

	g->job_rc = 0;
	g->job_count = 0;
	for (int i = 0; i < g->ndone; i++) {
		int rc = vns_gc_done(g->ns, g->done[i]);

		if (rc == 0)
			g->job_count++;
		else if (rc != -ENOENT) /* another collector finished it */
			g->job_rc = rc;
	}
}

static void mgc_delete_done(struct vloop_post *p)
{
	struct mgc *g = MGC_CONTAINER(p, struct mgc, job.post);

	g->st.collected += (uint64_t)g->job_count;
	if (g->job_rc < 0) {
		g->st.kv_errors++;
		vlog_warn("gc: deleting collected inodes: %s (retried next "
			  "round)",
			  strerror(-g->job_rc));
	}
	mgc_round_end(g);
}

static void mgc_removes_finished(struct mgc *g)
{
	g->ndone = 0;
	for (int i = 0; i < g->nents; i++)
		if (!g->failed[i])
			g->done[g->ndone++] = g->ents[i].ino;
	if (!g->ndone || g->freeing) {
		mgc_round_end(g);
		return;
	}
	mgc_set_state(g, MGC_DELETING);
	g->job.run = mgc_delete_run;
	g->job.post.fn = mgc_delete_done;
	mpool_submit(g->pool, &g->job);
}

/* ---- step 2: REMOVE ----------------------------------------------------- */

static void mgc_call_done(struct vrpc_call *call, const struct vrpc_result *res,
			  void *arg)
{
	struct mgc_call *c = arg;
	struct mgc *g = c->g;
	struct wire_storage_remove_resp rr;

	if (res->status) {
		g->failed[c->ent] = 1;
		g->st.remove_errors++;
		if (res->status == -ESTALE) {
			g->st.stale++;
			if (!g->freeing && g->r.refresh)
				g->r.refresh(g->r.arg);
		}
		/* Say it once per kind of failure, not once a round. */
		if (res->status != g->last_err)
			vlog(res->status == -ESTALE ? VLOG_INFO : VLOG_WARN,
			     "gc: REMOVE of inode %" PRIu64 ": %s (retried "
			     "every round; further failures like this one "
			     "are only counted)",
			     g->ents[c->ent].ino, strerror(-res->status));
		g->last_err = res->status;
	} else {
		g->last_err = 0;
		g->st.removes++;
		if (!wire_storage_remove_resp_decode(res->body, res->body_len,
						     &rr))
			g->st.chunks += rr.removed;
	}
	g->pending[c->ent]--;
	if (--g->calls_out == 0 && !g->freeing)
		mgc_removes_finished(g);
}

static struct vrpc_client *mgc_peer(struct mgc *g, const char *url)
{
	struct vrpc_client_opts co = {
		.default_timeout_ms = g->o.call_timeout_ms,
		.connect_timeout_ms = g->o.call_timeout_ms,
	};
	struct mgc_peer *p;

	for (size_t i = 0; i < g->npeers; i++)
		if (!strcmp(g->peers[i].url, url))
			return g->peers[i].cli;
	p = realloc(g->peers, (g->npeers + 1) * sizeof(*p));
	if (!p)
		return NULL;
	g->peers = p;
	p = &g->peers[g->npeers];
	snprintf(p->url, sizeof(p->url), "%s", url);
	if (vrpc_client_new(g->loop, url, g->o.secret, &co, &p->cli) < 0)
		return NULL;
	g->npeers++;
	return p->cli;
}

/* Chains of entry @e's stripe: how many (cut to the table). */
static uint32_t mgc_stripe(const struct wire_routing *r,
			   const struct vns_gc_entry *e)
{
	uint32_t s = e->layout.stripe ? e->layout.stripe : 1;

	return s > r->table.nchains ? r->table.nchains : s;
}

/* Send entry @i's REMOVEs; failures to send mark it failed. */
static void mgc_send(struct mgc *g, const struct wire_routing *r, uint32_t i,
		     size_t *ncall)
{
	const struct vns_gc_entry *e = &g->ents[i];
	uint32_t stripe = mgc_stripe(r, e);

	for (uint32_t s = 0; s < stripe; s++) {
		uint32_t idx = (e->layout.first_chain + s) % r->table.nchains;
		struct wire_storage_remove_req q = {
			.inode = e->ino, .chain_id = r->table.chain_ids[idx]};
		const struct wire_routing_chain *ch =
			vrouting_chain(r, q.chain_id);
		struct mgc_call *c = &g->calls[(*ncall)];
		struct vrpc_client *cli;
		const char *url = NULL;
		size_t len;
		int head;

		head = ch ? vrouting_chain_head(ch) : -1;
		if (head >= 0)
			url = vrouting_target_url(r, ch->target_ids[head]);
		cli = url ? mgc_peer(g, url) : NULL;
		if (!cli) {
			g->st.no_route++;
			g->failed[i] = 1;
			continue;
		}
		q.chain_version = ch->version;
		if (wire_storage_remove_req_encode(&q, c->body, sizeof(c->body),
						   &len) < 0) {
			g->failed[i] = 1;
			continue;
		}
		c->g = g;
		c->ent = i;
		vrpc_call_init(&c->call);
		if (vrpc_call(cli, WIRE_STORAGE_REMOVE, c->body, (uint32_t)len,
			      NULL, 0, NULL, 0, 0, mgc_call_done, c,
			      &c->call) < 0) {
			g->failed[i] = 1;
			g->st.remove_errors++;
			continue;
		}
		(*ncall)++;
		g->pending[i]++;
		g->calls_out++;
	}
}

/* ---- step 1: claim ------------------------------------------------------ */

static void mgc_claim_run(struct mpool_job *job)
{
	struct mgc *g = MGC_CONTAINER(job, struct mgc, job);

	g->job_rc = vns_gc_claim(g->ns, g->o.owner, g->now_ns,
				 g->now_ns + (int64_t)g->o.claim_ms * 1000000,
				 g->ents, g->o.batch);
}

static void mgc_claim_done(struct vloop_post *p)
{
	struct mgc *g = MGC_CONTAINER(p, struct mgc, job.post);
	const struct wire_routing *r = g->r.get(g->r.arg);
	size_t need = 0, ncall = 0;

	if (g->job_rc < 0) {
		g->st.kv_errors++;
		vlog_warn("gc: claiming garbage: %s", strerror(-g->job_rc));
	}
	g->nents = 0;
	g->job_count = 0;
	if (g->job_rc <= 0 || g->stopping) {
		mgc_round_end(g);
		return;
	}
	g->nents = g->job_rc;
	g->st.claimed += (uint64_t)g->nents;
	if (!r || !r->table.nchains) {
		g->st.no_route += (uint64_t)g->nents;
		mgc_round_end(g);
		return;
	}
	for (int i = 0; i < g->nents; i++) {
		need += mgc_stripe(r, &g->ents[i]);
		if (g->ents[i].layout.table_version != r->table.version &&
		    !g->warned_version) {
			g->warned_version = 1;
			vlog_warn("gc: inode %" PRIu64 " was placed on chain "
				  "table version %u, routing has %u: removing "
				  "from the current table's chains",
				  g->ents[i].ino,
				  g->ents[i].layout.table_version,
				  r->table.version);
		}
	}
	if (need > g->calls_cap) {
		struct mgc_call *c = realloc(g->calls, need * sizeof(*c));

		if (!c) {
			mgc_round_end(g);
			return;
		}
		g->calls = c;
		g->calls_cap = need;
	}
	memset(g->pending, 0, (size_t)g->nents * sizeof(*g->pending));
	memset(g->failed, 0, (size_t)g->nents);
	mgc_set_state(g, MGC_REMOVING);
	g->calls_out = 0;
	for (int i = 0; i < g->nents; i++)
		mgc_send(g, r, (uint32_t)i, &ncall);
	if (!g->calls_out)
		mgc_removes_finished(g);
}

static void mgc_on_timer(struct vloop_timer *t)
{
	struct mgc *g = MGC_CONTAINER(t, struct mgc, timer);

	if (g->state != MGC_IDLE || g->stopping)
		return;
	g->kicked = 0;
	g->st.rounds++;
	g->now_ns = mgc_wall_ns();
	mgc_set_state(g, MGC_CLAIMING);
	g->job.run = mgc_claim_run;
	g->job.post.fn = mgc_claim_done;
	mpool_submit(g->pool, &g->job);
}

/* ---- lifecycle ------------------------------------------------------------
 */

int mgc_new(struct vloop *loop, struct mpool *pool, struct vns *ns,
	    const struct mgc_opts *o, const struct mgc_routing *r,
	    struct mgc **out)
{
	struct mgc *g;

	*out = NULL;
	if (!o->owner || !r->get)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->loop = loop;
	g->pool = pool;
	g->ns = ns;
	g->o = *o;
	g->r = *r;
	if (!g->o.interval_ms)
		g->o.interval_ms = 1000;
	if (!g->o.batch)
		g->o.batch = 128;
	if (!g->o.claim_ms)
		g->o.claim_ms = 30000;
	if (!g->o.call_timeout_ms)
		g->o.call_timeout_ms = 5000;
	g->ents = calloc(g->o.batch, sizeof(*g->ents));
	g->pending = calloc(g->o.batch, sizeof(*g->pending));
	g->failed = calloc(g->o.batch, 1);
	g->done = calloc(g->o.batch, sizeof(*g->done));
	if (!g->ents || !g->pending || !g->failed || !g->done) {
		mgc_free(g, 0);
		return -ENOMEM;
	}
	vloop_timer_init(&g->timer, mgc_on_timer);
	vloop_timer_add(loop, &g->timer,
			(uint64_t)g->o.interval_ms * 1000000ull);
	*out = g;
	return 0;
}

void mgc_kick(struct mgc *g)
{
	g->kicked = 1;
	if (g->state == MGC_IDLE && !g->stopping)
		vloop_timer_add(g->loop, &g->timer, 0);
}

int mgc_busy(const struct mgc *g)
{
	return g->state != MGC_IDLE;
}

void mgc_free(struct mgc *g, int timeout_ms)
{
	uint64_t end;

	if (!g)
		return;
	g->stopping = 1;
	vloop_timer_cancel(g->loop, &g->timer);
	end = vloop_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	while (g->state != MGC_IDLE && vloop_now_ns() < end)
		if (vloop_run_once(g->loop, 50) < 0)
			break;
	if (g->state == MGC_CLAIMING || g->state == MGC_DELETING) {
		/* A worker still uses g: leave it to the process's end. */
		vlog_warn("gc: a transaction is still running at exit");
		return;
	}
	g->freeing = 1;
	for (size_t i = 0; i < g->npeers; i++)
		vrpc_client_free(g->peers[i].cli); /* cancels calls */
	free(g->peers);
	free(g->calls);
	free(g->ents);
	free(g->pending);
	free(g->failed);
	free(g->done);
	free(g);
}

void mgc_get_stats(const struct mgc *g, struct mgc_stats *out)
{
	*out = g->st;
}

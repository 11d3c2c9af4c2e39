/* SPDX-License-Identifier: MIT */
/*
 * cluster.c - the cluster backend: lifecycle, routing snapshots, the
 * workers' connections (see cluster_i.h for the threading rules).
 */
#include "daemon/cluster_i.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/log.h"

static __thread struct vcl_wk *vcl_tls;

struct vcl_wk *vcl_self(void)
{
	return vcl_tls;
}

struct vcl_wk *vcl_self_for(struct bcall *c)
{
	if (vcl_tls && !vcl_tls->stopped)
		return vcl_tls;
	vcl_complete(c, -EIO);
	return NULL;
}

uint32_t vcl_backoff_ms(unsigned n)
{
	uint32_t ms = VCL_RETRY_MIN_MS;

	while (n-- > 1 && ms < VCL_RETRY_MAX_MS)
		ms *= 2;
	return ms < VCL_RETRY_MAX_MS ? ms : VCL_RETRY_MAX_MS;
}

/* ---- routing snapshots -------------------------------------------------- */

static void vcl_route_free(struct vcl_route *rt)
{
	if (!rt)
		return;
	free(rt->table);
	free(rt->chains);
	free(rt->nodes);
	free(rt->meta);
	free(rt);
}

void vcl_route_put(struct vcl_route *rt)
{
	/* acq_rel: the last holder sees every write made before a put. */
	if (rt && atomic_fetch_sub_explicit(&rt->refs, 1,
					    memory_order_acq_rel) == 1)
		vcl_route_free(rt);
}

static int vcl_cmp_chain(const void *a, const void *b)
{
	const struct vcl_chain *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int vcl_cmp_node(const void *a, const void *b)
{
	const struct vcl_node *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

const struct vcl_chain *vcl_route_chain(const struct vcl_route *rt,
					uint32_t chain_id)
{
	struct vcl_chain key = {.id = chain_id};

	return bsearch(&key, rt->chains, rt->nchains, sizeof(key),
		       vcl_cmp_chain);
}

const struct vcl_node *vcl_route_node(const struct vcl_route *rt,
				      uint32_t node_id)
{
	struct vcl_node key = {.id = node_id};

	return bsearch(&key, rt->nodes, rt->nnodes, sizeof(key),
		       vcl_cmp_node);
}

uint32_t vcl_route_stripe_chain(const struct vcl_route *rt, uint32_t first,
				uint32_t pos)
{
	if (!rt->ntable)
		return 0;
	return rt->table[((uint64_t)first + pos) % rt->ntable];
}

struct vcl_route *vcl_route_build(const struct wire_routing *r)
{
	struct vcl_route *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return NULL;
	atomic_init(&rt->refs, 1);
	rt->version = r->version;
	rt->table_version = r->table.version;
	rt->table = calloc(r->table.nchains + 1, sizeof(*rt->table));
	rt->chains = calloc(r->nchains + 1, sizeof(*rt->chains));
	rt->nodes = calloc(r->nnodes + 1, sizeof(*rt->nodes));
	rt->meta = calloc(r->nnodes + 1, sizeof(*rt->meta));
	if (!rt->table || !rt->chains || !rt->nodes || !rt->meta) {
		vcl_route_free(rt);
		return NULL;
	}
	rt->ntable = r->table.nchains;
	memcpy(rt->table, r->table.chain_ids,
	       r->table.nchains * sizeof(*rt->table));
	for (uint32_t i = 0; i < r->nnodes; i++) {
		struct vcl_node *n = &rt->nodes[i];

		n->id = r->nodes[i].id;
		n->role = r->nodes[i].role;
		n->alive = r->nodes[i].alive;
		snprintf(n->url, sizeof(n->url), "%s", r->nodes[i].url);
	}
	rt->nnodes = r->nnodes;
	qsort(rt->nodes, rt->nnodes, sizeof(*rt->nodes), vcl_cmp_node);
	for (uint32_t i = 0; i < rt->nnodes; i++)
		if (rt->nodes[i].role == WIRE_ROLE_META &&
		    rt->nodes[i].alive && rt->nodes[i].url[0])
			rt->meta[rt->nmeta++] = i;
	for (uint32_t i = 0; i < r->nchains; i++) {
		const struct wire_routing_chain *w = &r->chains[i];
		struct vcl_chain *c = &rt->chains[i];

		c->id = w->id;
		c->version = w->version;
		c->nmembers = w->ntargets;
		c->head = c->tail = -1;
		for (uint32_t m = 0; m < w->ntargets; m++) {
			const struct wire_routing_target *t =
				vrouting_target(r, w->target_ids[m]);

			c->target[m] = w->target_ids[m];
			c->node[m] = t ? t->node_id : 0;
			c->state[m] = w->states[m];
			if (vrouting_takes_writes(w->states[m])) {
				if (c->head < 0)
					c->head = (int)m;
				c->tail = (int)m;
			}
			if (w->states[m] == WIRE_PUBLIC_SERVING)
				c->serving[c->nserving++] = (uint8_t)m;
		}
		if (w->ntargets > rt->replicas)
			rt->replicas = w->ntargets;
	}
	rt->nchains = r->nchains;
	qsort(rt->chains, rt->nchains, sizeof(*rt->chains), vcl_cmp_chain);
	return rt;
}

static void vcl_route_publish(struct vcl *cl, const struct wire_routing *r)
{
	struct vcl_route *rt = vcl_route_build(r), *old;

	if (!rt) {
		vlog_err("routing version %llu: out of memory; keeping %llu",
			 (unsigned long long)r->version,
			 (unsigned long long)(cl->rt ? cl->rt->version : 0));
		return;
	}
	pthread_mutex_lock(&cl->rt_lock);
	old = cl->rt;
	cl->rt = rt;
	atomic_fetch_add(&cl->rt_gen, 1);
	pthread_mutex_unlock(&cl->rt_lock);
	vcl_route_put(old);
	vlog_debug("routing version %llu: %u chains, %u metad",
		   (unsigned long long)rt->version, rt->nchains, rt->nmeta);
}

struct vcl_route *vcl_wk_route(struct vcl_wk *wk)
{
	struct vcl *cl = wk->cl;
	uint64_t gen = atomic_load(&cl->rt_gen);
	struct vcl_route *old;

	if (gen == wk->rt_gen && wk->rt)
		return wk->rt;
	old = wk->rt;
	pthread_mutex_lock(&cl->rt_lock);
	wk->rt = cl->rt;
	if (wk->rt)
		atomic_fetch_add(&wk->rt->refs, 1);
	wk->rt_gen = atomic_load(&cl->rt_gen);
	pthread_mutex_unlock(&cl->rt_lock);
	vcl_route_put(old);
	return wk->rt;
}

static void vcl_on_routing(void *arg, const struct wire_routing *r)
{
	vcl_route_publish(arg, r);
}

static void vcl_refresh_run(struct vloop_post *p)
{
	struct vcl *cl = (struct vcl *)((char *)p -
					offsetof(struct vcl, refresh_post));

	atomic_store(&cl->refresh_posted, 0);
	if (cl->mgmtc)
		vmgmtc_refresh(cl->mgmtc);
}

void vcl_refresh(struct vcl *cl)
{
	atomic_fetch_add_explicit(&cl->n_refreshes, 1, memory_order_relaxed);
	if (!cl->ctl)
		return;
	if (!atomic_exchange(&cl->refresh_posted, 1))
		vloop_post(cl->ctl, &cl->refresh_post);
}

/* ---- connections --------------------------------------------------------- */

static void vcl_wk_reap(struct vloop_timer *t)
{
	struct vcl_wk *wk = (struct vcl_wk *)((char *)t -
					      offsetof(struct vcl_wk, reap));

	while (wk->ndead)
		vrpc_client_free(wk->dead[--wk->ndead]);
}

/*
 * Retire @cli: its calls may be completing right now (we may be inside one
 * of its callbacks), so it is freed from a timer, not here.
 */
static void vcl_wk_drop(struct vcl_wk *wk, struct vrpc_client *cli)
{
	if (!cli)
		return;
	if (wk->ndead == sizeof(wk->dead) / sizeof(wk->dead[0])) {
		vlog_warn("worker %u: too many connections retired at once; "
			  "keeping one open", wk->id);
		return;
	}
	wk->dead[wk->ndead++] = cli;
	vloop_timer_add(wk->loop, &wk->reap, 0);
}

static const struct vrpc_client_opts vcl_cli_opts = {
	.default_timeout_ms = VCL_DATA_CALL_MS,
	.connect_timeout_ms = 3000,
	.backoff_min_ms = 50,
	.backoff_max_ms = 1000,
};

struct vrpc_client *vcl_wk_meta(struct vcl_wk *wk, int failover)
{
	struct vcl_route *rt = vcl_wk_route(wk);
	const struct vcl_node *n;

	if (!rt || !rt->nmeta)
		return wk->meta; /* keep trying the last one known */
	if (failover)
		wk->meta_pick++;
	/* Spread workers (and clients) over the metad. */
	n = &rt->nodes[rt->meta[(wk->meta_pick + wk->id +
				 (uint32_t)wk->cl->client_id) %
				rt->nmeta]];
	if (wk->meta && !strcmp(wk->meta_url, n->url))
		return wk->meta;
	vcl_wk_drop(wk, wk->meta);
	wk->meta = NULL;
	if (vrpc_client_new(wk->loop, n->url, wk->cl->secret, &vcl_cli_opts,
			    &wk->meta))
		return NULL;
	snprintf(wk->meta_url, sizeof(wk->meta_url), "%s", n->url);
	return wk->meta;
}

struct vrpc_client *vcl_wk_node(struct vcl_wk *wk, uint32_t node_id)
{
	struct vcl_route *rt = vcl_wk_route(wk);
	const struct vcl_node *n = rt ? vcl_route_node(rt, node_id) : NULL;
	struct vcl_conn *c = NULL;

	if (!n || !n->url[0])
		return NULL;
	for (unsigned i = 0; i < wk->nconns; i++) {
		if (wk->conns[i].node_id == node_id) {
			c = &wk->conns[i];
			break;
		}
	}
	if (c && !strcmp(c->url, n->url))
		return c->cli;
	if (c) { /* the node moved: reconnect */
		vcl_wk_drop(wk, c->cli);
		c->cli = NULL;
	} else {
		if (wk->nconns == wk->capconns) {
			unsigned cap = wk->capconns ? wk->capconns * 2 : 8;
			struct vcl_conn *nc =
				realloc(wk->conns, cap * sizeof(*nc));

			if (!nc)
				return NULL;
			wk->conns = nc;
			wk->capconns = cap;
		}
		c = &wk->conns[wk->nconns++];
		memset(c, 0, sizeof(*c));
		c->node_id = node_id;
	}
	snprintf(c->url, sizeof(c->url), "%s", n->url);
	if (vrpc_client_new(wk->loop, n->url, wk->cl->secret, &vcl_cli_opts,
			    &c->cli)) {
		c->cli = NULL;
		c->url[0] = '\0';
	}
	return c->cli;
}

/* ---- hooks --------------------------------------------------------------- */

static int vcl_attach(struct backend *b, struct vloop *loop)
{
	struct vcl *cl = vcl_of(b);
	struct vmgmtc_opts o = {
		.mgmtd_url = cl->mgmtd_url,
		.secret = cl->secret,
		.on_routing = vcl_on_routing,
		.arg = cl,
		.poll_ms = 1000,
	};
	int ret;

	cl->ctl = loop;
	cl->refresh_post.fn = vcl_refresh_run;
	ret = vmgmtc_new(loop, &o, &cl->mgmtc);
	if (ret) {
		cl->ctl = NULL;
		return ret;
	}
	vcl_lease_start(cl);
	return 0;
}

static void vcl_detach(struct backend *b)
{
	struct vcl *cl = vcl_of(b);

	vcl_lease_stop(cl);
	vmgmtc_free(cl->mgmtc);
	cl->mgmtc = NULL;
	/* A refresh posted now would name a loop about to go. */
	atomic_store(&cl->refresh_posted, 1);
	cl->ctl = NULL;
}

static int vcl_worker_start(struct backend *b, unsigned id,
			    struct vloop *loop)
{
	struct vcl *cl = vcl_of(b);
	struct vcl_wk *wk = calloc(1, sizeof(*wk));

	if (!wk)
		return -ENOMEM;
	wk->req = calloc(1, sizeof(*wk->req));
	wk->rep = calloc(1, sizeof(*wk->rep));
	if (!wk->req || !wk->rep) {
		free(wk->req);
		free(wk->rep);
		free(wk);
		return -ENOMEM;
	}
	wk->cl = cl;
	wk->id = id;
	wk->loop = loop;
	vloop_timer_init(&wk->reap, vcl_wk_reap);
	pthread_mutex_lock(&cl->wk_lock);
	wk->next = cl->wks;
	cl->wks = wk;
	pthread_mutex_unlock(&cl->wk_lock);
	vcl_tls = wk;
	return 0;
}

/* Free the connections: calls in flight fail (-ECANCELED) and complete. */
static void vcl_wk_close(struct vcl_wk *wk)
{
	vloop_timer_cancel(wk->loop, &wk->reap);
	while (wk->ndead)
		vrpc_client_free(wk->dead[--wk->ndead]);
	vrpc_client_free(wk->meta);
	wk->meta = NULL;
	for (unsigned i = 0; i < wk->nconns; i++)
		vrpc_client_free(wk->conns[i].cli);
	free(wk->conns);
	wk->conns = NULL;
	wk->nconns = wk->capconns = 0;
}

static void vcl_worker_stop(struct backend *b, unsigned id)
{
	struct vcl_wk *wk = vcl_tls;

	if (!wk)
		return;
	wk->stopped = 1;
	vcl_wk_close(wk);
}

static void vcl_forget(struct backend *b, uint64_t ino)
{
	vcl_inode_forget(vcl_of(b), ino);
}

static void vcl_destroy(struct backend *b)
{
	struct vcl *cl = vcl_of(b);
	struct vcl_wk *wk, *next;

	for (wk = cl->wks; wk; wk = next) {
		struct vcl_mop *m, *mn;

		next = wk->next;
		if (!wk->stopped)
			vcl_wk_close(wk);
		for (m = wk->mop_free; m; m = mn) {
			mn = m->next_free;
			free(m);
		}
		vcl_route_put(wk->rt);
		free(wk->req);
		free(wk->rep);
		free(wk);
	}
	vlog_info("cluster: %llu metad retries, %llu storage retries, "
		  "%llu routing refreshes",
		  (unsigned long long)atomic_load(&cl->n_meta_retries),
		  (unsigned long long)atomic_load(&cl->n_data_retries),
		  (unsigned long long)atomic_load(&cl->n_refreshes));
	vcl_inodes_release(cl);
	vcl_route_put(cl->rt);
	vauth_secret_free(cl->secret);
	pthread_mutex_destroy(&cl->rt_lock);
	pthread_mutex_destroy(&cl->wk_lock);
	free(cl);
}

static void vcl_fsyncdir(struct backend *b, uint64_t ino, uint64_t fh,
			 int datasync, struct bcall *c)
{
	/* Every metad change is committed before it is answered. */
	vcl_complete(c, 0);
}

static void vcl_copy_file_range(struct backend *b, const struct vctx *x,
				uint64_t ino_in, uint64_t fh_in,
				uint64_t off_in, uint64_t ino_out,
				uint64_t fh_out, uint64_t off_out,
				uint64_t len, struct bcall *c)
{
	/* The kernel copies through read and write instead. */
	vcl_complete(c, -EOPNOTSUPP);
}

static const struct backend_ops vcl_ops = {
	.name = "cluster",
	.destroy = vcl_destroy,
	.forget = vcl_forget,
	.lookup = vcl_lookup,
	.getattr = vcl_getattr,
	.setattr = vcl_setattr,
	.readlink = vcl_readlink,
	.mknod = vcl_mknod,
	.mkdir = vcl_mkdir,
	.symlink = vcl_symlink,
	.link = vcl_link,
	.unlink = vcl_unlink,
	.rmdir = vcl_rmdir,
	.rename = vcl_rename,
	.open = vcl_open,
	.create = vcl_create,
	.tmpfile = vcl_tmpfile,
	.read = vcl_read,
	.write = vcl_write,
	.flush = vcl_flush,
	.fsync = vcl_fsync,
	.release = vcl_release,
	.opendir = vcl_opendir,
	.readdir = vcl_readdir,
	.releasedir = vcl_releasedir,
	.fsyncdir = vcl_fsyncdir,
	.statfs = vcl_statfs,
	.setxattr = vcl_setxattr,
	.getxattr = vcl_getxattr,
	.listxattr = vcl_listxattr,
	.removexattr = vcl_removexattr,
	.access = vcl_access,
	.fallocate = vcl_fallocate,
	.lseek = vcl_lseek,
	.copy_file_range = vcl_copy_file_range,
	.getlk = vcl_getlk,
	.setlk = vcl_setlk,
	.interrupt = vcl_interrupt,
	.attach = vcl_attach,
	.detach = vcl_detach,
	.worker_start = vcl_worker_start,
	.worker_stop = vcl_worker_stop,
};

/* Pull the first routing on a loop of our own (before the mount). */
static int vcl_first_routing(struct vcl *cl)
{
	struct vmgmtc_opts o = {
		.mgmtd_url = cl->mgmtd_url,
		.secret = cl->secret,
		.on_routing = vcl_on_routing,
		.arg = cl,
	};
	struct vloop *loop;
	struct vmgmtc *m;
	int ret;

	ret = vloop_new(&loop, VLOOP_POLL, 0, 0);
	if (ret)
		return ret;
	ret = vmgmtc_new(loop, &o, &m);
	if (ret)
		goto out_loop;
	ret = vmgmtc_wait_routing(m, 5000);
	vmgmtc_free(m);
out_loop:
	vloop_free(loop);
	return ret;
}

struct backend *cluster_backend_new(const char *mgmtd_url,
				    const char *secret_path, uint32_t timeout_s,
				    int *err)
{
	struct vcl *cl = calloc(1, sizeof(*cl));
	int ret;

	if (!cl) {
		*err = -ENOMEM;
		return NULL;
	}
	cl->b.ops = &vcl_ops;
	pthread_mutex_init(&cl->rt_lock, NULL);
	pthread_mutex_init(&cl->wk_lock, NULL);
	for (unsigned i = 0; i < VCL_ISTRIPES; i++)
		pthread_mutex_init(&cl->istripes[i].lock, NULL);
	vrpc_call_init(&cl->lease_call);
	vloop_timer_init(&cl->lease_timer, NULL);
	cl->timeout_ns = (uint64_t)(timeout_s ? timeout_s : 60) * 1000000000ull;
	snprintf(cl->mgmtd_url, sizeof(cl->mgmtd_url), "%s", mgmtd_url);
	while (!cl->client_id)
		if (getrandom(&cl->client_id, sizeof(cl->client_id), 0) !=
		    sizeof(cl->client_id))
			cl->client_id = (uint64_t)vloop_now_ns() ^
					((uint64_t)getpid() << 32);
	atomic_init(&cl->req_seq, 0);
	atomic_init(&cl->wr_seq, 0);
	if (secret_path && secret_path[0]) {
		ret = vauth_secret_load(secret_path, &cl->secret);
		if (ret) {
			vlog_err("secret %s: %s", secret_path, strerror(-ret));
			goto out_free;
		}
	}
	ret = vcl_first_routing(cl);
	if (ret) {
		vlog_err("cannot reach mgmtd at %s: %s%s", cl->mgmtd_url,
			 strerror(-ret),
			 ret == -EACCES ? " (secrets differ, or only one "
					  "side has one)"
					: "");
		goto out_free;
	}
	if (!cl->rt->ntable)
		vlog_warn("the cluster has no chain table yet: files cannot "
			  "be written until one is made (valorctl --mgmtd %s "
			  "chain-table create --replicas N)",
			  cl->mgmtd_url);
	if (!cl->rt->nmeta)
		vlog_warn("no metad is registered with mgmtd %s yet: "
			  "requests wait for one",
			  cl->mgmtd_url);
	vlog_info("cluster: mgmtd %s, routing version %llu, %u chains, %u "
		  "metad, client id %016llx",
		  cl->mgmtd_url, (unsigned long long)cl->rt->version,
		  cl->rt->ntable, cl->rt->nmeta,
		  (unsigned long long)cl->client_id);
	return &cl->b;

out_free:
	*err = ret;
	vauth_secret_free(cl->secret);
	vcl_route_put(cl->rt);
	free(cl);
	return NULL;
}

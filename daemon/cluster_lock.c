/* SPDX-License-Identifier: MIT */
/*
 * cluster_lock.c - POSIX locks and flocks held in metad, and the lease that
 * keeps this client's locks and open sessions alive there.
 *
 * metad grants or refuses at once (-EAGAIN); a blocking request (SETLKW,
 * flock without LOCK_NB) is parked here and asks again, backing off from
 * 10 ms to 200 ms, until it is granted or INTERRUPT cancels it. Each try
 * is a new request (a retry of the same id would get the recorded refusal
 * back). A flock belongs to the open file: its owner is our handle.
 *
 * The lease: metad drops the locks and sessions of a client that stopped
 * renewing (the client died); RENEW goes out from the control loop every
 * third of the lease metad announces, from the mount on.
 */
#include "daemon/cluster_i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define VCL_LOCK_RETRY_MIN_MS 10
#define VCL_LOCK_RETRY_MAX_MS 200
#define VCL_LEASE_DEFAULT_MS 30000

/*
 * A blocking lock request between tries. Lives on its worker; listed in
 * vcl_lkw_list so INTERRUPT (any thread) can find it by its bcall.
 */
struct vcl_lkw {
	struct bcall *c;
	struct vcl_wk *wk;
	struct vcl_file *f;
	uint64_t ino;
	struct wire_meta_lock lock;
	int is_flock;
	int wait;      /* SETLKW / blocking flock: retried while refused */
	unsigned attempt;
	int done;      /* answered: free once no post is pending */
	int posted;    /* an interrupt post is queued (under vcl_lkw_lock) */
	int interrupted;
	struct vloop_timer timer;
	struct vloop_post post;
	struct vcl_lkw *next; /* under vcl_lkw_lock */
};

/* Lock order: vcl_lkw_lock, then nothing else. Never held across done(). */
static pthread_mutex_t vcl_lkw_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vcl_lkw *vcl_lkw_list;

static void vcl_lkw_unlist_locked(struct vcl_lkw *w)
{
	struct vcl_lkw **pp;

	for (pp = &vcl_lkw_list; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
}

/* Answer the lock request and drop it (its post, if queued, frees it). */
static void vcl_lkw_answer(struct vcl_lkw *w, int err)
{
	struct bcall *c = w->c;
	int free_now;

	vloop_timer_cancel(w->wk->loop, &w->timer);
	pthread_mutex_lock(&vcl_lkw_lock);
	vcl_lkw_unlist_locked(w);
	w->done = 1;
	free_now = !w->posted;
	pthread_mutex_unlock(&vcl_lkw_lock);
	if (free_now)
		free(w);
	vcl_complete(c, err);
}

static void vcl_lkw_try(struct vcl_lkw *w);

static void vcl_lkw_on_timer(struct vloop_timer *t)
{
	struct vcl_lkw *w = (struct vcl_lkw *)((char *)t -
					       offsetof(struct vcl_lkw, timer));

	vcl_lkw_try(w);
}

static void vcl_lkw_on_post(struct vloop_post *p)
{
	struct vcl_lkw *w = (struct vcl_lkw *)((char *)p -
					       offsetof(struct vcl_lkw, post));
	int done;

	pthread_mutex_lock(&vcl_lkw_lock);
	w->posted = 0;
	done = w->done;
	pthread_mutex_unlock(&vcl_lkw_lock);
	if (done) {
		free(w);
		return;
	}
	/* Parked between tries: cancel now. A try in flight finishes first
	 * (if it is granted the caller gets the lock, as POSIX allows). */
	if (vloop_timer_armed(&w->timer))
		vcl_lkw_answer(w, -EINTR);
}

static void vcl_lock_granted(struct vcl_wk *wk, struct vcl_file *f,
			     const struct wire_meta_lock *l)
{
	if (l->type == F_UNLCK)
		return;
	if (l->kind == WIRE_LOCK_FLOCK) {
		f->flock = 1;
		return;
	}
	pthread_mutex_lock(vcl_inode_lock(wk->cl, f->in->ino));
	f->in->posix_locks = 1;
	pthread_mutex_unlock(vcl_inode_lock(wk->cl, f->in->ino));
}

static void vcl_lkw_done(struct vcl_mop *m, int err,
			 const struct wire_meta_rep *rep)
{
	struct vcl_lkw *w = m->arg;

	vcl_mop_free(m);
	if (err == -EAGAIN && w->wait && !w->interrupted) {
		uint32_t ms = VCL_LOCK_RETRY_MIN_MS;

		for (unsigned i = 1; i < w->attempt && ms < VCL_LOCK_RETRY_MAX_MS;
		     i++)
			ms *= 2;
		if (ms > VCL_LOCK_RETRY_MAX_MS)
			ms = VCL_LOCK_RETRY_MAX_MS;
		vloop_timer_add(w->wk->loop, &w->timer,
				(uint64_t)ms * 1000000ull);
		return;
	}
	if (err == -EAGAIN && w->wait)
		err = -EINTR; /* refused, and interrupted meanwhile */
	if (!err)
		vcl_lock_granted(w->wk, w->f, &w->lock);
	vcl_lkw_answer(w, err);
}

static void vcl_lkw_try(struct vcl_lkw *w)
{
	struct vcl_mop *m;
	int busy;

	if (w->wk->stopped) {
		vcl_lkw_answer(w, -EIO);
		return;
	}
	if (w->interrupted) {
		vcl_lkw_answer(w, -EINTR);
		return;
	}
	pthread_mutex_lock(vcl_inode_lock(w->wk->cl, w->ino));
	busy = w->f->in->unlocking > 0;
	pthread_mutex_unlock(vcl_inode_lock(w->wk->cl, w->ino));
	if (busy) { /* after the unlock a release has in flight */
		vloop_timer_add(w->wk->loop, &w->timer, 1000000ull);
		return;
	}
	m = vcl_mop_alloc(w->wk, WIRE_META_LOCK, NULL, vcl_lkw_done);
	if (!m) {
		vcl_lkw_answer(w, -ENOMEM);
		return;
	}
	w->attempt++;
	m->arg = w;
	w->wk->req->ino = w->ino;
	w->wk->req->lock = w->lock;
	vcl_mop_start(m);
}

static void vcl_lock_fill(struct wire_meta_lock *l, const struct vlock *lk,
			  uint64_t owner, int is_flock)
{
	memset(l, 0, sizeof(*l));
	l->kind = is_flock ? WIRE_LOCK_FLOCK : WIRE_LOCK_POSIX;
	l->owner = owner;
	l->pid = lk->pid;
	l->type = lk->type;
	l->start = is_flock ? 0 : lk->start;
	l->end = is_flock ? UINT64_MAX : lk->end;
}

static int vcl_lock_valid(const struct vlock *lk, int is_flock)
{
	if (lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK)
		return 0;
	return is_flock || lk->start <= lk->end;
}

void vcl_setlk(struct backend *b, uint64_t ino, uint64_t fh, uint64_t owner,
	       const struct vlock *lk, int wait, int is_flock,
	       struct bcall *c)
{
	struct vcl_file *f = (struct vcl_file *)(uintptr_t)fh;
	struct vcl_wk *wk;
	struct vcl_lkw *w;

	wk = vcl_self_for(c);
	if (!wk)
		return;
	if (!vcl_lock_valid(lk, is_flock)) {
		vcl_complete(c, -EINVAL);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		vcl_complete(c, -ENOMEM);
		return;
	}
	w->c = c;
	w->wk = wk;
	w->f = f;
	w->ino = ino;
	w->is_flock = is_flock;
	vcl_lock_fill(&w->lock, lk, is_flock ? (uint64_t)(uintptr_t)f : owner,
		      is_flock);
	vloop_timer_init(&w->timer, vcl_lkw_on_timer);
	w->post.fn = vcl_lkw_on_post;
	w->wait = wait;
	pthread_mutex_lock(&vcl_lkw_lock);
	w->next = vcl_lkw_list;
	vcl_lkw_list = w;
	pthread_mutex_unlock(&vcl_lkw_lock);
	vcl_lkw_try(w);
}

int vcl_interrupt(struct backend *b, struct bcall *c)
{
	struct vcl_lkw *w;
	int found = 0;

	pthread_mutex_lock(&vcl_lkw_lock);
	for (w = vcl_lkw_list; w; w = w->next) {
		if (w->c == c && !w->done)
			break;
	}
	if (w) {
		found = 1;
		w->interrupted = 1;
		if (!w->posted) {
			w->posted = 1;
			vloop_post(w->wk->loop, &w->post);
		}
	}
	pthread_mutex_unlock(&vcl_lkw_lock);
	return found;
}

static void vcl_done_getlk(struct vcl_mop *m, int err,
			   const struct wire_meta_rep *rep)
{
	struct bcall *c = m->c;

	if (!err) {
		c->lock.start = rep->lock.start;
		c->lock.end = rep->lock.end;
		c->lock.type = rep->lock.type;
		c->lock.pid = rep->lock.pid;
	}
	vcl_mop_complete(m, err);
}

void vcl_getlk(struct backend *b, uint64_t ino, uint64_t fh, uint64_t owner,
	       const struct vlock *lk, struct bcall *c)
{
	struct vcl_mop *m;

	if (!vcl_lock_valid(lk, 0) || lk->type == F_UNLCK) {
		vcl_complete(c, -EINVAL);
		return;
	}
	m = vcl_mop_new(c, WIRE_META_GETLK, NULL, vcl_done_getlk);
	if (!m)
		return;
	m->wk->req->ino = ino;
	vcl_lock_fill(&m->wk->req->lock, lk, owner, 0);
	vcl_mop_start(m);
}

/* ---- the lease (control loop) --------------------------------------------- */

static void vcl_lease_arm(struct vcl *cl, uint32_t ms)
{
	vloop_timer_add(cl->ctl, &cl->lease_timer, (uint64_t)ms * 1000000ull);
}

static void vcl_lease_on_reply(struct vrpc_call *call,
			       const struct vrpc_result *res, void *arg)
{
	struct vcl *cl = arg;
	struct wire_meta_rep *rep;
	uint32_t next = 1000;

	cl->lease_busy = 0;
	if (!cl->ctl)
		return; /* detached */
	if (!res->status) {
		rep = calloc(1, sizeof(*rep));
		if (rep && !wire_meta_rep_decode(WIRE_META_RENEW, res->body,
						 res->body_len, rep) &&
		    rep->lease_ms)
			cl->lease_ms = rep->lease_ms;
		free(rep);
		next = cl->lease_ms / 3;
	} else {
		vlog_info("lease renewal at metad %s: %s", cl->lease_url,
			  strerror(-res->status));
	}
	vcl_lease_arm(cl, next ? next : 1000);
}

static void vcl_lease_tick(struct vloop_timer *t)
{
	struct vcl *cl = (struct vcl *)((char *)t -
					offsetof(struct vcl, lease_timer));
	struct wire_meta_req *q;
	const struct vcl_node *n = NULL;
	size_t len;
	int ret;

	if (cl->lease_busy)
		return;
	pthread_mutex_lock(&cl->rt_lock);
	if (cl->rt && cl->rt->nmeta)
		n = &cl->rt->nodes[cl->rt->meta[cl->client_id %
						cl->rt->nmeta]];
	if (n && strcmp(n->url, cl->lease_url)) {
		vrpc_client_free(cl->lease_cli);
		cl->lease_cli = NULL;
		snprintf(cl->lease_url, sizeof(cl->lease_url), "%s", n->url);
	}
	pthread_mutex_unlock(&cl->rt_lock);
	if (!cl->lease_cli && cl->lease_url[0] &&
	    vrpc_client_new(cl->ctl, cl->lease_url, cl->secret, NULL,
			    &cl->lease_cli))
		cl->lease_cli = NULL;
	q = calloc(1, sizeof(*q));
	if (!cl->lease_cli || !q) {
		free(q);
		vcl_lease_arm(cl, 1000);
		return;
	}
	q->client = cl->client_id;
	q->req_id = atomic_fetch_add(&cl->req_seq, 1) + 1;
	ret = wire_meta_req_encode(WIRE_META_RENEW, q, cl->lease_body,
				   sizeof(cl->lease_body), &len);
	free(q);
	if (!ret)
		ret = vrpc_call(cl->lease_cli, WIRE_META_RENEW, cl->lease_body,
				(uint32_t)len, NULL, 0, NULL, 0,
				VCL_META_CALL_MS, vcl_lease_on_reply, cl,
				&cl->lease_call);
	if (ret) {
		vcl_lease_arm(cl, 1000);
		return;
	}
	cl->lease_busy = 1;
}

void vcl_lease_start(struct vcl *cl)
{
	cl->lease_ms = VCL_LEASE_DEFAULT_MS;
	vloop_timer_init(&cl->lease_timer, vcl_lease_tick);
	vcl_lease_arm(cl, 0);
}

void vcl_lease_stop(struct vcl *cl)
{
	struct vloop *ctl = cl->ctl;

	if (!ctl)
		return;
	vloop_timer_cancel(ctl, &cl->lease_timer);
	cl->ctl = NULL; /* the reply callback run by the free sees it */
	vrpc_client_free(cl->lease_cli);
	cl->lease_cli = NULL;
	cl->ctl = ctl;
}

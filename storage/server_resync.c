/* SPDX-License-Identifier: MIT */
/*
 * server_resync.c - filling a SYNCING successor (notes/3fs.md §3.6).
 *
 * Predecessor side, one job per chain while we are SERVING and our
 * successor is SYNCING (under one chain version):
 *	DUMP	 page through the successor's records (DUMP_META)
 *	PLAN	 compare them with ours (vcraq_resync_plan): the chunks to send
 *		 and to remove
 *	SEND	 for each item, under our chunk lock (so a live write of the
 *		 chunk, which reaches the successor as a FULL chunk, cannot
 *		 interleave): read our chunk and send it whole (RESYNC CHUNK),
 *		 or tell the successor to remove it (RESYNC REMOVE). Whether
 *		 we hold the chunk is decided under the lock, not by the plan:
 *		 a chunk written or removed since the dump goes the right way.
 *		 A version left pending here by an update that failed earlier
 *		 is sent as it is and then committed here: the successor was
 *		 the only member downstream that could lack it.
 *	DONE	 RESYNC DONE: the successor reports itself up to date.
 * A failure (the successor unreachable, a refused message) retries the
 * whole job after VSTOR_RESYNC_RETRY_MS; only what still differs is sent.
 * A routing change that ends the job's premise (another chain version,
 * another successor, we no longer serve) stops it: a job with a call or a
 * lock wait in flight is detached from its chain and frees itself when
 * that returns.
 *
 * Successor side: RESYNC replaces or removes a chunk (vchunk_replace and
 * vchunk_remove; no update of the chunk can run here meanwhile, since the
 * predecessor holds the chunk while it sends), keeps the progress figures
 * the heartbeat reports and, on DONE, makes the target report UPTODATE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/log.h"
#include "storage/server_i.h"

#define VSTOR_RESYNC_RETRY_MS 1000

enum vstor_resync_state {
	VSTOR_RS_DUMP = 0, /* paging the successor's records */
	VSTOR_RS_SEND,	   /* sending items[pos] */
	VSTOR_RS_DONE,	   /* RESYNC DONE sent */
};

struct vstor_resync {
	struct vstor_chain *ch; /* NULL once detached */
	struct vstor *s;
	uint32_t chain_ver;
	uint32_t succ_target;
	char url[WIRE_URL_MAX + 1];
	enum vstor_resync_state state;
	int busy;    /* a call or a lock wait in flight */
	int stopped; /* detached: free when the busy step returns */
	uint32_t failures;
	struct vstor_call call;
	struct vloop_timer timer; /* retry after a failure */
	struct vloop_timer pace;  /* resync_pause_ms between chunks */

	struct wire_storage_dump_resp *page;
	struct wire_chunk_id next;
	struct vchunk_meta *succ;
	size_t nsucc, capsucc;
	struct vcraq_resync_item *items;
	size_t nitems, capitems, pos;

	struct vcraq_op *lock;
	struct vchunk_id id; /* the item's chunk */
	struct vchunk_meta meta;
	int have;	 /* we hold the chunk (send), else remove */
	int commit_after; /* commit our leftover pending version after it */
	struct vstor_buf *buf;
	uint8_t body[WIRE_STORAGE_RESYNC_REQ_LEN > WIRE_STORAGE_DUMP_REQ_LEN
			     ? WIRE_STORAGE_RESYNC_REQ_LEN
			     : WIRE_STORAGE_DUMP_REQ_LEN];
};

static void vstor_resync_step(struct vstor_resync *j);

static void vstor_resync_free(struct vstor_resync *j)
{
	if (j->lock) {
		/* Only a detached job or shutdown gets here holding it. */
		if (j->ch)
			vcraq_chunk_unlock(j->ch->craq, j->lock);
		j->lock = NULL;
	}
	vloop_timer_cancel(j->s->loop, &j->timer);
	vloop_timer_cancel(j->s->loop, &j->pace);
	vstor_buf_put(j->s, j->buf);
	free(j->page);
	free(j->succ);
	free(j->items);
	free(j);
}

static void vstor_resync_restart(struct vstor_resync *j)
{
	j->state = VSTOR_RS_DUMP;
	j->next.inode = 0;
	j->next.index = 0;
	j->nsucc = 0;
	j->nitems = 0;
	j->pos = 0;
	vstor_resync_step(j);
}

static void vstor_resync_on_timer(struct vloop_timer *t)
{
	struct vstor_resync *j = vstor_container_of(t, struct vstor_resync,
						    timer);

	vstor_resync_restart(j);
}

static void vstor_resync_on_pace(struct vloop_timer *t)
{
	struct vstor_resync *j = vstor_container_of(t, struct vstor_resync,
						    pace);

	vstor_resync_step(j);
}

static void vstor_resync_fail(struct vstor_resync *j, const char *what,
			      int err)
{
	j->failures++;
	vlog(j->failures == 1 ? VLOG_WARN : VLOG_DEBUG,
	     "resync of target %u on chain %u: %s: %s; retrying", j->succ_target,
	     j->ch->chain_id, what, strerror(-err));
	vloop_timer_add(j->s->loop, &j->timer,
			VSTOR_RESYNC_RETRY_MS * 1000000ull);
}

/* A busy step returned: 1 when the job is gone (it was stopped). */
static int vstor_resync_idle(struct vstor_resync *j)
{
	j->busy = 0;
	if (!j->stopped)
		return 0;
	if (j->lock) {
		vcraq_chunk_unlock(j->ch->craq, j->lock);
		j->lock = NULL;
	}
	j->ch = NULL;
	vstor_resync_free(j);
	return 1;
}

static int vstor_resync_call(struct vstor_resync *j, uint16_t opcode,
			     size_t len, const struct iovec *data, int data_n,
			     vstor_call_fn done)
{
	struct vstor *s = j->s;
	int ret;

	j->call.done = done;
	ret = s->net.call(s->net.arg, j->url, opcode, j->body, (uint32_t)len,
			  data, data_n, NULL, 0, (int)s->o.peer_timeout_ms,
			  &j->call);
	if (!ret)
		j->busy = 1;
	return ret;
}

/* ---- DUMP and PLAN ---------------------------------------------------------- */

static int vstor_resync_collect(void *arg, const struct vcraq_resync_item *it)
{
	struct vstor_resync *j = arg;

	if (j->nitems == j->capitems) {
		size_t cap = j->capitems ? j->capitems * 2 : 256;
		struct vcraq_resync_item *v =
			realloc(j->items, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		j->items = v;
		j->capitems = cap;
	}
	j->items[j->nitems++] = *it;
	return 0;
}

static void vstor_resync_plan(struct vstor_resync *j)
{
	int ret;

	j->nitems = 0;
	ret = vcraq_resync_plan(j->ch->store, j->succ, j->nsucc,
				vstor_resync_collect, j);
	if (ret) {
		vstor_resync_fail(j, "plan", ret < 0 ? ret : -EIO);
		return;
	}
	vlog_info("resync of target %u on chain %u (version %u): %zu of %zu "
		  "chunk(s) there differ",
		  j->succ_target, j->ch->chain_id, j->chain_ver, j->nitems,
		  j->nsucc);
	j->state = VSTOR_RS_SEND;
	j->pos = 0;
	vstor_resync_step(j);
}

static int vstor_resync_add_succ(struct vstor_resync *j,
				 const struct wire_chunk_meta *w)
{
	struct vchunk_meta *m;

	if (j->nsucc == j->capsucc) {
		size_t cap = j->capsucc ? j->capsucc * 2 : 1024;
		struct vchunk_meta *v = realloc(j->succ, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		j->succ = v;
		j->capsucc = cap;
	}
	m = &j->succ[j->nsucc++];
	m->id.inode = w->chunk.inode;
	m->id.index = w->chunk.index;
	m->length = w->length;
	m->chain_ver = w->chain_version;
	m->committed_ver = w->committed_ver;
	m->pending_ver = w->pending_ver;
	return 0;
}

static void vstor_resync_dumped(struct vstor_call *c,
				const struct vrpc_result *res)
{
	struct vstor_resync *j = vstor_container_of(c, struct vstor_resync,
						    call);
	int ret;

	if (vstor_resync_idle(j))
		return;
	ret = res->status;
	if (!ret)
		ret = wire_storage_dump_resp_decode(res->body, res->body_len,
						    j->page);
	for (uint32_t i = 0; !ret && i < j->page->nrecords; i++)
		ret = vstor_resync_add_succ(j, &j->page->records[i]);
	if (ret) {
		vstor_resync_fail(j, "DUMP_META", ret);
		return;
	}
	if (j->page->more) {
		j->next = j->page->next;
		vstor_resync_step(j);
		return;
	}
	vstor_resync_plan(j);
}

/* ---- SEND ------------------------------------------------------------------- */

static void vstor_resync_sent(struct vstor_call *c,
			      const struct vrpc_result *res)
{
	struct vstor_resync *j = vstor_container_of(c, struct vstor_resync,
						    call);
	struct vstor *s = j->s;
	int ret;

	if (vstor_resync_idle(j))
		return;
	ret = res->status;
	if (!ret && j->commit_after) {
		ret = vchunk_commit(j->ch->store, j->id, j->meta.pending_ver,
				    NULL);
		if (ret < 0)
			vlog_warn("resync: committing %llu:%u here: %s",
				  (unsigned long long)j->id.inode, j->id.index,
				  strerror(-ret));
		ret = 0;
	}
	vcraq_chunk_unlock(j->ch->craq, j->lock);
	j->lock = NULL;
	if (ret) {
		vstor_resync_fail(j, "RESYNC", ret);
		return;
	}
	if (j->have)
		s->c.resync_sent++;
	else
		s->c.resync_removed++;
	j->pos++;
	if (s->o.resync_pause_ms)
		vloop_timer_add(s->loop, &j->pace,
				s->o.resync_pause_ms * 1000000ull);
	else
		vstor_resync_step(j);
}

/* Holding the item's chunk: send it whole, or its removal. */
static void vstor_resync_locked(void *arg, struct vcraq_op *op)
{
	struct vstor_resync *j = arg;
	struct vstor *s = j->s;
	struct wire_storage_resync_req q = {0};
	struct iovec iov;
	ssize_t n = 0;
	size_t len = 0;
	int ret;

	j->lock = op;
	if (vstor_resync_idle(j))
		return;
	ret = vchunk_stat(j->ch->store, j->id, &j->meta);
	j->have = ret == 0;
	j->commit_after = j->have && j->meta.pending_ver;
	q.chain_id = j->ch->chain_id;
	q.chain_version = j->chain_ver;
	q.chunk.inode = j->id.inode;
	q.chunk.index = j->id.index;
	q.done = j->pos;
	q.total = j->nitems;
	if (ret < 0 && ret != -ENOENT)
		goto out_fail;
	if (j->have) {
		if (!j->buf || j->buf->cap < j->meta.length) {
			vstor_buf_put(s, j->buf);
			j->buf = vstor_buf_get(s, j->meta.length);
			if (!j->buf) {
				ret = -ENOMEM;
				goto out_fail;
			}
		}
		if (j->meta.length) {
			n = vchunk_read(j->ch->store, j->id, 0, j->meta.length,
					j->buf->data,
					j->commit_after ? VCHUNK_F_ANY : 0,
					NULL);
			if (n < 0) {
				ret = (int)n;
				goto out_fail;
			}
		}
		q.action = WIRE_RESYNC_CHUNK;
		q.length = (uint32_t)n;
		q.crc32c = vcrc32c(0, j->buf->data, (size_t)n);
		q.committed_ver = j->commit_after ? j->meta.pending_ver
						  : j->meta.committed_ver;
		q.chunk_chain_ver = j->meta.chain_ver;
	} else {
		q.action = WIRE_RESYNC_REMOVE;
	}
	ret = wire_storage_resync_req_encode(&q, j->body, sizeof(j->body),
					     &len);
	if (ret < 0)
		goto out_fail;
	iov.iov_base = j->have ? j->buf->data : NULL;
	iov.iov_len = (size_t)n;
	ret = vstor_resync_call(j, WIRE_STORAGE_RESYNC, len, &iov, n ? 1 : 0,
				vstor_resync_sent);
	if (!ret)
		return;
out_fail:
	vcraq_chunk_unlock(j->ch->craq, j->lock);
	j->lock = NULL;
	vstor_resync_fail(j, "reading the chunk", ret);
}

static void vstor_resync_finished(struct vstor_call *c,
				  const struct vrpc_result *res)
{
	struct vstor_resync *j = vstor_container_of(c, struct vstor_resync,
						    call);
	struct vstor_chain *ch;

	if (vstor_resync_idle(j))
		return;
	if (res->status) {
		vstor_resync_fail(j, "RESYNC DONE", res->status);
		return;
	}
	ch = j->ch;
	ch->done_ver = j->chain_ver;
	ch->done_succ = j->succ_target;
	ch->job = NULL;
	j->s->c.resync_done++;
	vlog_info("resync of target %u on chain %u done: %zu chunk(s) sent "
		  "or removed",
		  j->succ_target, ch->chain_id, j->nitems);
	vstor_resync_free(j);
}

/* Issue the next call of the job's state. */
static void vstor_resync_step(struct vstor_resync *j)
{
	struct wire_storage_resync_req q = {0};
	struct wire_storage_dump_req d;
	size_t len = 0;
	int ret;

	switch (j->state) {
	case VSTOR_RS_DUMP:
		d.chain_id = j->ch->chain_id;
		d.start = j->next;
		d.max_records = WIRE_DUMP_META_MAX;
		ret = wire_storage_dump_req_encode(&d, j->body, sizeof(j->body),
						   &len);
		if (!ret)
			ret = vstor_resync_call(j, WIRE_STORAGE_DUMP_META, len,
						NULL, 0, vstor_resync_dumped);
		if (ret)
			vstor_resync_fail(j, "DUMP_META", ret);
		return;
	case VSTOR_RS_SEND:
		if (j->pos == j->nitems) {
			j->state = VSTOR_RS_DONE;
			vstor_resync_step(j);
			return;
		}
		j->id = j->items[j->pos].meta.id;
		j->busy = 1;
		ret = vcraq_chunk_lock(j->ch->craq, j->id, vstor_resync_locked,
				       j);
		if (ret < 0) {
			j->busy = 0;
			vstor_resync_fail(j, "chunk lock", ret);
		}
		return;
	case VSTOR_RS_DONE:
		q.chain_id = j->ch->chain_id;
		q.chain_version = j->chain_ver;
		q.action = WIRE_RESYNC_DONE;
		q.done = q.total = j->nitems;
		ret = wire_storage_resync_req_encode(&q, j->body,
						     sizeof(j->body), &len);
		if (!ret)
			ret = vstor_resync_call(j, WIRE_STORAGE_RESYNC, len,
						NULL, 0, vstor_resync_finished);
		if (ret)
			vstor_resync_fail(j, "RESYNC DONE", ret);
		return;
	}
}

/* ---- Start and stop --------------------------------------------------------- */

static void vstor_resync_stop(struct vstor_chain *ch)
{
	struct vstor_resync *j = ch->job;

	if (!j)
		return;
	ch->job = NULL;
	vloop_timer_cancel(j->s->loop, &j->timer);
	vloop_timer_cancel(j->s->loop, &j->pace);
	if (j->busy) {
		j->stopped = 1; /* frees itself when the step returns */
		return;
	}
	vstor_resync_free(j);
}

void vstor_resync_abort(struct vstor_chain *ch)
{
	vstor_resync_stop(ch);
}

void vstor_resync_check(struct vstor_chain *ch)
{
	struct vstor *s = ch->s;
	int succ = vstor_chain_succ(ch);
	uint32_t succ_target = 0;
	struct vstor_resync *j;
	int want;

	want = vstor_chain_my_state(ch) == VCRAQ_SERVING && succ >= 0 &&
	       ch->view.members[succ].state == VCRAQ_SYNCING &&
	       ch->urls[succ][0];
	if (want)
		succ_target = ch->view.members[succ].target_id;
	j = ch->job;
	if (j && (!want || j->chain_ver != ch->view.chain_ver ||
		  j->succ_target != succ_target))
		vstor_resync_stop(ch);
	if (!want || ch->job ||
	    (ch->done_ver == ch->view.chain_ver &&
	     ch->done_succ == succ_target))
		return;

	j = calloc(1, sizeof(*j));
	if (j)
		j->page = calloc(1, sizeof(*j->page));
	if (!j || !j->page) {
		free(j);
		vlog_err("resync of chain %u: out of memory", ch->chain_id);
		return;
	}
	j->ch = ch;
	j->s = s;
	j->chain_ver = ch->view.chain_ver;
	j->succ_target = succ_target;
	memcpy(j->url, ch->urls[succ], sizeof(j->url));
	vloop_timer_init(&j->timer, vstor_resync_on_timer);
	vloop_timer_init(&j->pace, vstor_resync_on_pace);
	ch->job = j;
	s->c.resync_jobs++;
	vlog_info("chain %u (version %u): target %u is syncing; filling it "
		  "from target %u",
		  ch->chain_id, j->chain_ver, succ_target,
		  s->targets[ch->ti].id);
	vstor_resync_restart(j);
}

/* ---- Successor side --------------------------------------------------------- */

void vstor_on_resync(struct vstor *s, struct vrpc_req *req)
{
	uint64_t t0 = vloop_now_ns();
	struct wire_storage_resync_req q;
	struct vstor_chain *ch;
	struct vchunk_id id;
	int ret;

	ret = wire_storage_resync_req_decode(req->body, req->body_len, &q);
	if (ret < 0) {
		ret = vstor_bad_body(s, req, ret);
		goto out_reply;
	}
	ret = vstor_chain_check(s, q.chain_id, q.chain_version, &ch);
	if (ret < 0)
		goto out_reply;
	if (vstor_chain_my_state(ch) != VCRAQ_SYNCING) {
		ret = -ESTALE;
		goto out_reply;
	}
	if (req->data_len != q.length) {
		ret = -EINVAL;
		goto out_reply;
	}
	id.inode = q.chunk.inode;
	id.index = q.chunk.index;
	switch (q.action) {
	case WIRE_RESYNC_CHUNK:
		if (vcrc32c(0, req->data, q.length) != q.crc32c) {
			ret = -EBADMSG;
			break;
		}
		ret = vchunk_replace(ch->store, id, req->data, q.length,
				     q.committed_ver, q.chunk_chain_ver);
		break;
	case WIRE_RESYNC_REMOVE:
		ret = vchunk_remove(ch->store, id);
		ret = ret < 0 ? ret : 0;
		break;
	default: /* DONE */
		ch->sync_complete = 1;
		break;
	}
	if (ret < 0) {
		vlog_err("RESYNC of %llu:%u on chain %u: %s",
			 (unsigned long long)id.inode, id.index, ch->chain_id,
			 strerror(-ret));
		goto out_reply;
	}
	s->c.resync_recv++;
	ch->sync_total = q.total;
	ch->sync_done = q.action == WIRE_RESYNC_DONE ? q.total : q.done + 1;
	if (q.action == WIRE_RESYNC_DONE) {
		vlog_info("chain %u: resync done (%llu chunk(s)); target %u is "
			  "up to date",
			  ch->chain_id, (unsigned long long)q.total,
			  s->targets[ch->ti].id);
		vstor_states_update(s);
	}
out_reply:
	vstor_reply(s, req, t0, ret, NULL, 0, NULL, 0);
}

/* SPDX-License-Identifier: MIT */
/*
 * server_inode.c - the inode-wide operations of the storage server:
 * SYNC, REMOVE and CUT (server.h, wire_storage.h).
 *
 * Each is done at one member and then passed to its successor, and
 * answered once the successor answered: at the head the answer means
 * "done on every replica taking writes". They are not per-chunk updates,
 * so they take no version; what keeps the replicas equal:
 *   - removals refuse (-EAGAIN) while an update or lock holds a chunk they
 *     would remove (vcraq_inode_busy). At the head a chunk is held from
 *     its update's start until every replica committed it, so a removal
 *     the head accepted meets no update of those chunks downstream;
 *   - a removal is done and sent on in one step on the loop thread, and a
 *     member's messages to its successor share one connection, so an
 *     update the head accepts after a removal reaches every member after
 *     the removal;
 *   - the cut of a partial last chunk in CUT is a versioned TRUNCATE
 *     through CRAQ, done before the removal step.
 * Removals are idempotent: a retry removes what is left.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "storage/server_i.h"

struct vstor_ictx {
	struct vstor_call call;
	struct vstor *s;
	struct vrpc_req *req;
	struct vstor_chain *ch;
	uint64_t t0;
	uint32_t removed;
	struct wire_storage_cut_req cut;
	uint8_t body[WIRE_STORAGE_CUT_REQ_LEN];
};
_Static_assert(sizeof(struct vstor_ictx) <= VSTOR_CTX_SIZE, "fits a context block");

static struct vstor_ictx *vstor_ictx_new(struct vstor *s,
					 struct vrpc_req *req,
					 struct vstor_chain *ch, uint64_t t0)
{
	struct vstor_ictx *x = vstor_ctx_get(s);

	if (!x)
		return NULL;
	x->s = s;
	x->req = req;
	x->ch = ch;
	x->t0 = t0;
	return x;
}

static void vstor_ictx_reply(struct vstor_ictx *x, int status)
{
	struct vstor *s = x->s;
	struct wire_storage_remove_resp resp = {.removed = x->removed};
	uint8_t body[WIRE_STORAGE_REMOVE_RESP_LEN];
	size_t len = 0;

	if (!status && x->req->opcode != WIRE_STORAGE_SYNC)
		status = wire_storage_remove_resp_encode(&resp, body,
							 sizeof(body), &len);
	vstor_reply(s, x->req, x->t0, status, body, (uint32_t)len, NULL, 0);
	vstor_ctx_put(s, x);
}

static void vstor_ictx_downstream_done(struct vstor_call *c,
				       const struct vrpc_result *res)
{
	struct vstor_ictx *x = vstor_container_of(c, struct vstor_ictx, call);

	vstor_ictx_reply(x, vstor_peer_status(x->s, res));
}

/* Send x->body (@len bytes, @opcode) to the successor, or answer 0. */
static void vstor_ictx_pass_on(struct vstor_ictx *x, uint16_t opcode,
			       size_t len)
{
	struct vstor *s = x->s;
	struct vstor_chain *ch = x->ch;
	int succ = vstor_chain_succ(ch);
	uint32_t hops = vstor_chain_downstream(ch);
	int ret;

	if (succ < 0) {
		vstor_ictx_reply(x, 0);
		return;
	}
	if (!ch->urls[succ][0]) {
		vstor_ictx_reply(x, -EAGAIN);
		return;
	}
	x->call.done = vstor_ictx_downstream_done;
	ret = s->net.call(s->net.arg, ch->urls[succ], opcode, x->body,
			  (uint32_t)len, NULL, 0, NULL, 0,
			  (int)(s->o.peer_timeout_ms * (hops ? hops : 1)),
			  &x->call);
	if (ret < 0)
		vstor_ictx_reply(x, -EAGAIN);
}

/* ---- SYNC ------------------------------------------------------------------ */

void vstor_on_sync(struct vstor *s, struct vrpc_req *req)
{
	uint64_t t0 = vloop_now_ns();
	struct wire_storage_sync_req q;
	struct vstor_chain *ch;
	struct vstor_ictx *x;
	uint32_t my;
	size_t len = 0;
	int ret;

	ret = wire_storage_sync_req_decode(req->body, req->body_len, &q);
	if (ret < 0) {
		ret = vstor_bad_body(s, req, ret);
		goto out_reply;
	}
	ret = vstor_chain_check(s, q.chain_id, q.chain_version, &ch);
	if (ret < 0)
		goto out_reply;
	my = vstor_chain_my_state(ch);
	if (my != VCRAQ_SERVING && my != VCRAQ_SYNCING) {
		ret = -ESTALE;
		goto out_reply;
	}
	ret = vchunk_sync_inode(ch->store, q.inode);
	if (ret < 0) {
		vlog_err("sync of inode %llu on chain %u: %s",
			 (unsigned long long)q.inode, ch->chain_id,
			 strerror(-ret));
		ret = -EIO;
		goto out_reply;
	}
	x = vstor_ictx_new(s, req, ch, t0);
	if (!x) {
		ret = -EAGAIN;
		goto out_reply;
	}
	ret = wire_storage_sync_req_encode(&q, x->body, sizeof(x->body), &len);
	if (ret < 0) {
		vstor_ictx_reply(x, ret);
		return;
	}
	vstor_ictx_pass_on(x, WIRE_STORAGE_SYNC, len);
	return;

out_reply:
	vstor_reply(s, req, t0, ret, NULL, 0, NULL, 0);
}

/* ---- REMOVE and CUT -------------------------------------------------------- */

/* Remove here what x->cut names, then pass the removal on. */
static void vstor_cut_remove_step(struct vstor_ictx *x)
{
	struct vstor_chain *ch = x->ch;
	const struct wire_storage_cut_req *c = &x->cut;
	struct wire_storage_cut_req fwd = *c;
	/* Nothing is above the last possible index. */
	int all = !!(c->flags & WIRE_CUT_F_ALL);
	uint32_t first = all ? 0 : c->index + 1;
	size_t len = 0;
	int n;

	if (all || c->index != UINT32_MAX) {
		if (vcraq_inode_busy(ch->craq, c->inode, first)) {
			vstor_ictx_reply(x, -EAGAIN);
			return;
		}
		n = vchunk_remove_from(ch->store, c->inode, first);
		if (n < 0) {
			vlog_err("removing chunks of inode %llu from %u on "
				 "chain %u: %s",
				 (unsigned long long)c->inode, first,
				 ch->chain_id, strerror(-n));
			vstor_ictx_reply(x, -EIO);
			return;
		}
		x->removed = (uint32_t)n;
	}
	fwd.flags |= WIRE_CUT_F_FORWARDED;
	fwd.chain_version = ch->view.chain_ver;
	if (wire_storage_cut_req_encode(&fwd, x->body, sizeof(x->body), &len)) {
		vstor_ictx_reply(x, -EINVAL);
		return;
	}
	vstor_ictx_pass_on(x, WIRE_STORAGE_CUT, len);
}

static void vstor_cut_truncated(void *arg, int status,
				const struct vcraq_reply *r)
{
	struct vstor_ictx *x = arg;

	if (status) {
		vstor_ictx_reply(x, status);
		return;
	}
	vstor_cut_remove_step(x);
}

/* At the head: cut the last chunk kept (when longer), then remove. */
static void vstor_cut_start(struct vstor_ictx *x)
{
	const struct wire_storage_cut_req *c = &x->cut;
	struct vstor_chain *ch = x->ch;
	struct vchunk_meta m;
	struct vcraq_update u;
	int ret;

	if (c->flags & WIRE_CUT_F_ALL ||
	    vchunk_stat(ch->store, (struct vchunk_id){c->inode, c->index},
			&m) ||
	    m.length <= c->length) {
		vstor_cut_remove_step(x);
		return;
	}
	memset(&u, 0, sizeof(u));
	u.kind = VCRAQ_UPD_TRUNCATE;
	u.id.inode = c->inode;
	u.id.index = c->index;
	u.chain_id = c->chain_id;
	u.chain_ver = c->chain_version;
	u.trunc_len = c->length;
	u.client_id = c->client_id;
	u.request_id = c->request_id;
	ret = vcraq_write(ch->craq, &u, vstor_cut_truncated, x);
	if (ret < 0)
		vstor_ictx_reply(x, ret);
}

/* Common entry of REMOVE and CUT once x->cut is filled. */
static void vstor_cut_begin(struct vstor *s, struct vrpc_req *req,
			    uint64_t t0, const struct wire_storage_cut_req *c)
{
	struct vstor_chain *ch;
	struct vstor_ictx *x;
	int fwd = !!(c->flags & WIRE_CUT_F_FORWARDED);
	uint32_t my;
	int ret;

	ret = vstor_chain_check(s, c->chain_id, c->chain_version, &ch);
	if (ret < 0)
		goto out_reply;
	my = vstor_chain_my_state(ch);
	if (my != VCRAQ_SERVING && my != VCRAQ_SYNCING) {
		ret = -ESTALE;
		goto out_reply;
	}
	/* Clients start at the head; members pass on below it. */
	if (vstor_chain_is_head(ch) == fwd) {
		ret = -ENXIO;
		goto out_reply;
	}
	x = vstor_ictx_new(s, req, ch, t0);
	if (!x) {
		ret = -EAGAIN;
		goto out_reply;
	}
	x->cut = *c;
	if (fwd)
		vstor_cut_remove_step(x);
	else
		vstor_cut_start(x);
	return;

out_reply:
	vstor_reply(s, req, t0, ret, NULL, 0, NULL, 0);
}

void vstor_on_remove(struct vstor *s, struct vrpc_req *req)
{
	uint64_t t0 = vloop_now_ns();
	struct wire_storage_remove_req q;
	struct wire_storage_cut_req c;
	int ret;

	ret = wire_storage_remove_req_decode(req->body, req->body_len, &q);
	if (ret < 0) {
		vstor_reply(s, req, t0, vstor_bad_body(s, req, ret), NULL, 0,
			    NULL, 0);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.inode = q.inode;
	c.chain_id = q.chain_id;
	c.chain_version = q.chain_version;
	c.flags = WIRE_CUT_F_ALL;
	vstor_cut_begin(s, req, t0, &c);
}

void vstor_on_cut(struct vstor *s, struct vrpc_req *req)
{
	uint64_t t0 = vloop_now_ns();
	struct wire_storage_cut_req c;
	int ret;

	ret = wire_storage_cut_req_decode(req->body, req->body_len, &c);
	if (ret < 0) {
		vstor_reply(s, req, t0, vstor_bad_body(s, req, ret), NULL, 0,
			    NULL, 0);
		return;
	}
	vstor_cut_begin(s, req, t0, &c);
}

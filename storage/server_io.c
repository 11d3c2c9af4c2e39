/* SPDX-License-Identifier: MIT */
/*
 * server_io.c - the chunk handlers of the storage server (server.h):
 * WRITE/FORWARD/TRUNCATE through CRAQ and the forward to the successor,
 * READ with repair from another replica, QUERY_LAST_CHUNK, SPACE and
 * DUMP_META.
 *
 * Buffers: a WRITE's payload is the request's own data buffer (the RPC
 * layer reads it off the socket straight into it); the store writes from
 * it and the forward sends from it, so it is never copied. A READ is read
 * into a pooled buffer that is sent from and returned once the reply is out.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/crc32c.h"
#include "common/log.h"
#include "storage/server_i.h"

/* ---- WRITE, FORWARD, TRUNCATE --------------------------------------------- */

/* One update answered to its sender (a client or the predecessor). */
struct vstor_wctx {
	struct vstor *s;
	struct vrpc_req *req;
	struct vstor_chain *ch;
	struct vchunk_id id;
	uint64_t t0;
	int client;
};
_Static_assert(sizeof(struct vstor_wctx) <= VSTOR_CTX_SIZE, "fits a context block");

static int vstor_repair_background(struct vstor *s, struct vstor_chain *ch,
				   struct vchunk_id id);

static void vstor_write_done(void *arg, int status, const struct vcraq_reply *r)
{
	struct vstor_wctx *w = arg;
	struct vstor *s = w->s;
	struct wire_write_resp resp;
	uint8_t body[WIRE_WRITE_RESP_LEN];
	size_t len = 0;

	/* A partly covered block of the chunk is bad here: repair the chunk
	 * from another replica and let the writer retry. */
	if (status == -EIO && !vstor_repair_background(s, w->ch, w->id))
		status = -EAGAIN;
	if (!status) {
		resp.update_version = r->update_ver;
		resp.length = r->length;
		resp.chunk_length = r->chunk_length;
		status = wire_write_resp_encode(&resp, body, sizeof(body), &len);
		if (w->client && !r->duplicate)
			s->c.bytes_written += r->length;
	}
	vstor_reply(s, w->req, w->t0, status, body, (uint32_t)len, NULL, 0);
	vstor_ctx_put(s, w);
}

/* Hand @u to the replica; answers @req whatever happens. */
static void vstor_update_submit(struct vstor *s, struct vrpc_req *req,
				uint64_t t0, struct vstor_chain *ch,
				const struct vcraq_update *u)
{
	struct vstor_wctx *w = vstor_ctx_get(s);
	int ret;

	if (!w) {
		vstor_reply(s, req, t0, -EAGAIN, NULL, 0, NULL, 0);
		return;
	}
	w->s = s;
	w->req = req;
	w->ch = ch;
	w->id = u->id;
	w->t0 = t0;
	w->client = !u->update_ver;
	ret = vcraq_write(ch->craq, u, vstor_write_done, w);
	if (ret < 0) {
		vstor_ctx_put(s, w);
		vstor_reply(s, req, t0, ret, NULL, 0, NULL, 0);
	}
}

void vstor_on_write(struct vstor *s, struct vrpc_req *req)
{
	uint64_t t0 = vloop_now_ns();
	struct wire_storage_write_req q;
	struct vstor_chain *ch;
	struct vcraq_update u;
	int fwd = req->opcode == WIRE_STORAGE_FORWARD;
	int ret;

	ret = wire_storage_write_req_decode(req->body, req->body_len, &q);
	if (ret < 0) {
		ret = vstor_bad_body(s, req, ret);
		goto out_reply;
	}
	/* The head versions client writes; forwards carry the version. */
	if (fwd != (q.w.update_version != 0) || req->data_len != q.w.length) {
		ret = -EINVAL;
		goto out_reply;
	}
	ret = vstor_chain_check(s, q.w.chain_id, q.w.chain_version, &ch);
	if (ret < 0)
		goto out_reply;
	memset(&u, 0, sizeof(u));
	u.kind = VCRAQ_UPD_WRITE;
	u.id.inode = q.w.chunk.inode;
	u.id.index = q.w.chunk.index;
	u.chain_id = q.w.chain_id;
	u.chain_ver = q.w.chain_version;
	u.off = q.w.offset;
	u.len = q.w.length;
	u.crc = q.w.crc32c;
	u.flags = q.w.flags & WIRE_WRITE_F_FULL_CHUNK ? VCHUNK_F_FULL : 0;
	u.update_ver = q.w.update_version;
	u.client_id = q.client_id;
	u.request_id = q.request_id;
	u.data = req->data;
	vstor_update_submit(s, req, t0, ch, &u);
	return;

out_reply:
	vstor_reply(s, req, t0, ret, NULL, 0, NULL, 0);
}

void vstor_on_truncate(struct vstor *s, struct vrpc_req *req)
{
	uint64_t t0 = vloop_now_ns();
	struct wire_storage_truncate_req q;
	struct vstor_chain *ch;
	struct vcraq_update u;
	int ret;

	ret = wire_storage_truncate_req_decode(req->body, req->body_len, &q);
	if (ret < 0) {
		ret = vstor_bad_body(s, req, ret);
		goto out_reply;
	}
	if (req->data_len) {
		ret = -EINVAL;
		goto out_reply;
	}
	ret = vstor_chain_check(s, q.chain_id, q.chain_version, &ch);
	if (ret < 0)
		goto out_reply;
	memset(&u, 0, sizeof(u));
	u.kind = VCRAQ_UPD_TRUNCATE;
	u.id.inode = q.chunk.inode;
	u.id.index = q.chunk.index;
	u.chain_id = q.chain_id;
	u.chain_ver = q.chain_version;
	u.trunc_len = q.length;
	u.update_ver = q.update_version;
	u.client_id = q.client_id;
	u.request_id = q.request_id;
	vstor_update_submit(s, req, t0, ch, &u);
	return;

out_reply:
	vstor_reply(s, req, t0, ret, NULL, 0, NULL, 0);
}

/* One update on its way to the successor. */
struct vstor_fctx {
	struct vstor_call call;
	struct vstor_chain *ch;
	struct vcraq_op *op;
	uint8_t body[WIRE_STORAGE_WRITE_REQ_LEN > WIRE_STORAGE_TRUNCATE_REQ_LEN
			     ? WIRE_STORAGE_WRITE_REQ_LEN
			     : WIRE_STORAGE_TRUNCATE_REQ_LEN];
};
_Static_assert(sizeof(struct vstor_fctx) <= VSTOR_CTX_SIZE, "fits a context block");

static void vstor_forward_done(struct vstor_call *c,
			       const struct vrpc_result *res)
{
	struct vstor_fctx *f = vstor_container_of(c, struct vstor_fctx, call);
	struct vstor_chain *ch = f->ch;
	struct vstor *s = ch->s;
	struct vcraq_op *op = f->op;
	int st = vstor_peer_status(s, res);

	if (st) {
		s->c.forward_errors++;
		vlog_debug("forward on chain %u: %s (%s)", ch->chain_id,
			   strerror(-res->status), strerror(-st));
	}
	vstor_ctx_put(s, f);
	vcraq_on_commit(ch->craq, op, st);
}

/* Encode @u as the FORWARD (or versioned TRUNCATE) body in @f. */
static int vstor_forward_encode(struct vstor_fctx *f,
				const struct vcraq_update *u, uint16_t *opcode,
				size_t *len)
{
	if (u->kind == VCRAQ_UPD_TRUNCATE) {
		struct wire_storage_truncate_req t = {
			.chunk = {u->id.inode, u->id.index},
			.chain_id = u->chain_id,
			.chain_version = u->chain_ver,
			.length = u->trunc_len,
			.update_version = u->update_ver,
			.client_id = u->client_id,
			.request_id = u->request_id,
		};

		*opcode = WIRE_STORAGE_TRUNCATE;
		return wire_storage_truncate_req_encode(&t, f->body,
							sizeof(f->body), len);
	}
	struct wire_storage_write_req w = {
		.w = {
			.chunk = {u->id.inode, u->id.index},
			.chain_id = u->chain_id,
			.chain_version = u->chain_ver,
			.offset = u->off,
			.length = u->len,
			.crc32c = u->crc,
			.flags = u->flags & VCHUNK_F_FULL
					 ? WIRE_WRITE_F_FULL_CHUNK
					 : 0,
			.update_version = u->update_ver,
		},
		.client_id = u->client_id,
		.request_id = u->request_id,
	};

	*opcode = WIRE_STORAGE_FORWARD;
	return wire_storage_write_req_encode(&w, f->body, sizeof(f->body), len);
}

int vstor_forward(void *arg, struct vcraq_target *t, uint32_t succ_idx,
		  uint32_t succ_target, const struct vcraq_update *u,
		  struct vcraq_op *op)
{
	struct vstor_chain *ch = arg;
	struct vstor *s = ch->s;
	struct iovec iov = {(void *)u->data, u->len};
	struct vstor_fctx *f;
	uint16_t opcode;
	uint32_t hops;
	size_t len = 0;
	int ret;

	if (succ_idx >= VCRAQ_MAX_MEMBERS || !ch->urls[succ_idx][0])
		return -EAGAIN; /* no address for it (yet) */
	f = vstor_ctx_get(s);
	if (!f)
		return -EAGAIN;
	f->ch = ch;
	f->op = op;
	f->call.done = vstor_forward_done;
	ret = vstor_forward_encode(f, u, &opcode, &len);
	if (ret < 0) {
		vstor_ctx_put(s, f);
		return -EINVAL;
	}
	/* Each member downstream may wait for its own successor. */
	hops = vstor_chain_downstream(ch);
	ret = s->net.call(s->net.arg, ch->urls[succ_idx], opcode, f->body,
			  (uint32_t)len, u->len ? &iov : NULL, u->len ? 1 : 0,
			  NULL, 0,
			  (int)(s->o.forward_timeout_ms * (hops ? hops : 1)),
			  &f->call);
	if (ret < 0) {
		s->c.forward_errors++;
		vstor_ctx_put(s, f);
		vlog_debug("forward on chain %u to target %u: %s", ch->chain_id,
			   succ_target, strerror(-ret));
		return -EAGAIN;
	}
	s->c.forwards++;
	return 0;
}

/* ---- READ and repair ------------------------------------------------------ */

struct vstor_rctx {
	struct vstor *s;
	struct vrpc_req *req;
	struct vstor_chain *ch;
	uint64_t t0;
	struct wire_read_req q;
	struct vstor_buf *buf; /* what the reply sends from */
	uint8_t resp[WIRE_READ_RESP_LEN];
	/* repair */
	struct vstor_call call;
	struct vcraq_op *lock;
	struct vchunk_meta meta; /* our record, under the lock */
	uint32_t tried;		 /* member indexes asked (bits) */
	uint8_t body[WIRE_READ_REQ_LEN];
};
_Static_assert(sizeof(struct vstor_rctx) <= VSTOR_CTX_SIZE, "fits a context block");

static void vstor_read_sent(void *arg, int err)
{
	struct vstor_rctx *r = arg;
	struct vstor *s = r->s;

	vstor_buf_put(s, r->buf);
	vstor_ctx_put(s, r);
}

/* Answer with @n bytes at @data (inside r->buf) of version @ver. */
static void vstor_read_answer(struct vstor_rctx *r, const void *data,
			      uint32_t n, uint64_t ver)
{
	struct vstor *s = r->s;
	struct wire_read_resp resp = {
		.update_version = ver,
		.length = n,
		.crc32c = vcrc32c(0, data, n),
	};
	struct iovec iov = {(void *)data, n};
	size_t len = 0;

	wire_read_resp_encode(&resp, r->resp, sizeof(r->resp), &len);
	s->c.bytes_read += n;
	r->req->on_sent = vstor_read_sent;
	r->req->sent_arg = r;
	vstor_reply(s, r->req, r->t0, 0, r->resp, (uint32_t)len, &iov,
		    n ? 1 : 0);
}

static void vstor_read_fail(struct vstor_rctx *r, int err)
{
	struct vstor *s = r->s;

	if (r->req) /* NULL: a repair nobody waits for */
		vstor_reply(s, r->req, r->t0, err, NULL, 0, NULL, 0);
	vstor_buf_put(s, r->buf);
	vstor_ctx_put(s, r);
}

static void vstor_repair_next(struct vstor_rctx *r);

static void vstor_repair_end(struct vstor_rctx *r, int err)
{
	struct vstor *s = r->s;

	vcraq_chunk_unlock(r->ch->craq, r->lock);
	r->lock = NULL;
	if (err) {
		s->c.repair_fails++;
		vlog_err("chunk %llu:%u of chain %u has a bad block and no "
			 "replica could repair it: %s",
			 (unsigned long long)r->q.chunk.inode, r->q.chunk.index,
			 r->ch->chain_id, strerror(-err));
		vstor_read_fail(r, -EIO);
	}
}

static void vstor_repair_fetched(struct vstor_call *c,
				 const struct vrpc_result *res)
{
	struct vstor_rctx *r = vstor_container_of(c, struct vstor_rctx, call);
	struct vstor *s = r->s;
	struct vstor_chain *ch = r->ch;
	struct wire_read_resp resp;
	struct vchunk_id id = {r->q.chunk.inode, r->q.chunk.index};
	uint32_t n, off;
	int ret;

	ret = res->status;
	if (!ret)
		ret = wire_read_resp_decode(res->body, res->body_len, &resp);
	if (!ret && (resp.length != res->data_len ||
		     vcrc32c(0, r->buf->data, resp.length) != resp.crc32c))
		ret = -EBADMSG;
	if (ret) {
		vlog_debug("repair read of %llu:%u: %s",
			   (unsigned long long)id.inode, id.index,
			   strerror(-ret));
		vstor_repair_next(r);
		return;
	}
	ret = vchunk_replace(ch->store, id, r->buf->data, resp.length,
			     resp.update_version, r->meta.chain_ver);
	if (ret < 0)
		vlog_err("chunk %llu:%u: cannot store the repaired copy: %s",
			 (unsigned long long)id.inode, id.index,
			 strerror(-ret));
	else
		s->c.repairs++;
	vlog_warn("chunk %llu:%u of chain %u had a bad block: %s from "
		  "another replica (version %llu)",
		  (unsigned long long)id.inode, id.index, ch->chain_id,
		  ret < 0 ? "served" : "repaired",
		  (unsigned long long)resp.update_version);
	vstor_repair_end(r, 0);
	if (!r->req) {
		vstor_read_sent(r, 0);
		return;
	}
	off = r->q.offset < resp.length ? r->q.offset : resp.length;
	n = resp.length - off < r->q.length ? resp.length - off : r->q.length;
	vstor_read_answer(r, r->buf->data + off, n, resp.update_version);
}

/* Ask the next SERVING member for the whole chunk. */
static void vstor_repair_next(struct vstor_rctx *r)
{
	struct vstor *s = r->s;
	struct vstor_chain *ch = r->ch;
	struct wire_read_req q = {
		.chunk = r->q.chunk,
		.chain_id = ch->chain_id,
		.chain_version = ch->view.chain_ver,
		.offset = 0,
		.length = r->meta.length,
	};
	size_t len = 0;
	int ret;

	for (uint32_t i = 0; i < ch->view.nmembers; i++) {
		if (r->tried & (1u << i) ||
		    ch->view.members[i].state != VCRAQ_SERVING ||
		    !ch->urls[i][0])
			continue;
		r->tried |= 1u << i;
		q.chain_version = ch->view.chain_ver;
		if (wire_read_req_encode(&q, r->body, sizeof(r->body), &len))
			break;
		r->call.done = vstor_repair_fetched;
		ret = s->net.call(s->net.arg, ch->urls[i], WIRE_STORAGE_READ,
				  r->body, (uint32_t)len, NULL, 0, r->buf->data,
				  r->buf->cap, (int)s->o.peer_timeout_ms,
				  &r->call);
		if (!ret)
			return;
	}
	vstor_repair_end(r, -ENODATA);
}

static void vstor_repair_locked(void *arg, struct vcraq_op *op)
{
	struct vstor_rctx *r = arg;
	struct vstor *s = r->s;
	struct vchunk_id id = {r->q.chunk.inode, r->q.chunk.index};
	struct vstor_buf *b;
	int ret;

	r->lock = op;
	ret = vchunk_stat(r->ch->store, id, &r->meta);
	if (ret < 0) {
		vstor_repair_end(r, ret);
		return;
	}
	b = vstor_buf_get(s, r->meta.length);
	if (!b) {
		vstor_repair_end(r, -ENOMEM);
		return;
	}
	vstor_buf_put(s, r->buf);
	r->buf = b;
	r->tried = r->ch->my_idx >= 0 ? 1u << r->ch->my_idx : 0;
	vstor_repair_next(r);
}

/*
 * If chunk @id has a bad block here, start repairing it (nobody waits for
 * the answer): 0 started, -errno no bad block found or no resources.
 */
static int vstor_repair_background(struct vstor *s, struct vstor_chain *ch,
				   struct vchunk_id id)
{
	struct vchunk_result res;
	struct vchunk_meta m;
	struct vstor_rctx *r;
	ssize_t n;
	int ret;

	if (vchunk_stat(ch->store, id, &m) || !m.length)
		return -ENOENT;
	r = vstor_ctx_get(s);
	if (!r)
		return -ENOMEM;
	r->s = s;
	r->ch = ch;
	r->t0 = vloop_now_ns();
	r->q.chunk.inode = id.inode;
	r->q.chunk.index = id.index;
	r->buf = vstor_buf_get(s, m.length);
	if (!r->buf) {
		vstor_ctx_put(s, r);
		return -ENOMEM;
	}
	n = vchunk_read(ch->store, id, 0, m.length, r->buf->data, VCHUNK_F_ANY,
			&res);
	if (n != -EIO || res.bad_block < 0) {
		vstor_buf_put(s, r->buf);
		vstor_ctx_put(s, r);
		return -ENOENT;
	}
	vlog_warn("chunk %llu:%u of chain %u: a write met a bad block; "
		  "repairing it from another replica",
		  (unsigned long long)id.inode, id.index, ch->chain_id);
	ret = vcraq_chunk_lock(ch->craq, id, vstor_repair_locked, r);
	if (ret < 0) {
		vstor_buf_put(s, r->buf);
		vstor_ctx_put(s, r);
	}
	return ret;
}

void vstor_on_read(struct vstor *s, struct vrpc_req *req)
{
	uint64_t t0 = vloop_now_ns();
	struct vchunk_result res;
	struct vstor_chain *ch;
	struct vstor_rctx *r;
	struct wire_read_req q;
	ssize_t n;
	int ret;

	ret = wire_read_req_decode(req->body, req->body_len, &q);
	if (ret < 0) {
		ret = vstor_bad_body(s, req, ret);
		goto out_reply;
	}
	ret = vstor_chain_check(s, q.chain_id, q.chain_version, &ch);
	if (ret < 0)
		goto out_reply;
	r = vstor_ctx_get(s);
	if (!r) {
		ret = -EAGAIN;
		goto out_reply;
	}
	r->s = s;
	r->req = req;
	r->ch = ch;
	r->t0 = t0;
	r->q = q;
	r->buf = vstor_buf_get(s, q.length);
	if (!r->buf) {
		vstor_ctx_put(s, r);
		ret = -EAGAIN;
		goto out_reply;
	}
	n = vcraq_read(ch->craq, (struct vchunk_id){q.chunk.inode, q.chunk.index},
		       q.offset, q.length, r->buf->data, &res);
	if (n == -ENOENT) /* a hole: the client zero-fills */
		n = 0;
	if (n == -EIO) {
		ret = vcraq_chunk_lock(ch->craq,
				       (struct vchunk_id){q.chunk.inode,
							  q.chunk.index},
				       vstor_repair_locked, r);
		if (ret < 0)
			vstor_read_fail(r, -EIO);
		return;
	}
	if (n < 0) {
		vstor_read_fail(r, (int)n);
		return;
	}
	vstor_read_answer(r, r->buf->data, (uint32_t)n,
			  n ? res.meta.committed_ver : 0);
	return;

out_reply:
	vstor_reply(s, req, t0, ret, NULL, 0, NULL, 0);
}

/* ---- Queries -------------------------------------------------------------- */

void vstor_on_last(struct vstor *s, struct vrpc_req *req)
{
	uint64_t t0 = vloop_now_ns();
	struct wire_storage_last_req q;
	struct wire_storage_last_resp resp = {0};
	struct vstor_chain *ch;
	struct vchunk_meta m;
	uint8_t body[WIRE_STORAGE_LAST_RESP_LEN];
	size_t len = 0;
	int ret;

	ret = wire_storage_last_req_decode(req->body, req->body_len, &q);
	if (ret < 0) {
		ret = vstor_bad_body(s, req, ret);
		goto out_reply;
	}
	ret = vstor_chain_check(s, q.chain_id, q.chain_version, &ch);
	if (ret < 0)
		goto out_reply;
	if (vstor_chain_my_state(ch) != VCRAQ_SERVING) {
		ret = -EBUSY;
		goto out_reply;
	}
	ret = vchunk_last(ch->store, q.inode, &resp.index, &resp.length);
	if (ret == -ENOENT) {
		resp.index = resp.length = 0;
		ret = 0;
	} else if (!ret) {
		resp.found = true;
		if (!vchunk_stat(ch->store,
				 (struct vchunk_id){q.inode, resp.index}, &m))
			resp.committed_ver = m.committed_ver;
	}
	if (!ret)
		ret = wire_storage_last_resp_encode(&resp, body, sizeof(body),
						    &len);
out_reply:
	vstor_reply(s, req, t0, ret, body, (uint32_t)len, NULL, 0);
}

void vstor_on_space(struct vstor *s, struct vrpc_req *req)
{
	uint64_t t0 = vloop_now_ns();
	struct wire_storage_space_req q;
	struct wire_storage_space_resp resp = {0};
	uint8_t body[WIRE_STORAGE_SPACE_RESP_LEN];
	struct statvfs sv;
	size_t len = 0;
	int ret;

	ret = wire_storage_space_req_decode(req->body, req->body_len, &q);
	if (ret < 0) {
		ret = vstor_bad_body(s, req, ret);
		goto out_reply;
	}
	for (uint32_t i = 0; i < s->ntargets; i++) {
		if (q.target_id && s->targets[i].id != q.target_id)
			continue;
		if (statvfs(s->targets[i].path, &sv)) {
			ret = -errno;
			goto out_reply;
		}
		resp.ntargets++;
		resp.capacity += (uint64_t)sv.f_blocks * sv.f_frsize;
		resp.available += (uint64_t)sv.f_bavail * sv.f_frsize;
		resp.used += (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	}
	if (q.target_id && !resp.ntargets) {
		ret = -ENOENT;
		goto out_reply;
	}
	ret = wire_storage_space_resp_encode(&resp, body, sizeof(body), &len);
out_reply:
	vstor_reply(s, req, t0, ret, body, (uint32_t)len, NULL, 0);
}

struct vstor_dump_acc {
	struct wire_storage_dump_resp *d;
	uint32_t max;
};

static int vstor_dump_add(void *arg, const struct vchunk_meta *m)
{
	struct vstor_dump_acc *a = arg;
	struct wire_storage_dump_resp *d = a->d;
	struct wire_chunk_meta *w;

	if (d->nrecords == a->max) {
		d->more = true;
		d->next.inode = m->id.inode;
		d->next.index = m->id.index;
		return 1;
	}
	w = &d->records[d->nrecords++];
	w->chunk.inode = m->id.inode;
	w->chunk.index = m->id.index;
	w->length = m->length;
	w->chain_version = m->chain_ver;
	w->committed_ver = m->committed_ver;
	w->pending_ver = m->pending_ver;
	return 0;
}

void vstor_on_dump(struct vstor *s, struct vrpc_req *req)
{
	uint64_t t0 = vloop_now_ns();
	struct wire_storage_dump_req q;
	struct vstor_dump_acc acc;
	struct vstor_chain *ch;
	size_t len = 0;
	int ret;

	ret = wire_storage_dump_req_decode(req->body, req->body_len, &q);
	if (ret < 0) {
		ret = vstor_bad_body(s, req, ret);
		goto out_reply;
	}
	ch = vstor_chain_find(s, q.chain_id);
	if (!ch || ch->my_idx < 0) {
		ret = -ESTALE;
		goto out_reply;
	}
	s->dump->more = false;
	s->dump->next.inode = 0;
	s->dump->next.index = 0;
	s->dump->nrecords = 0;
	acc.d = s->dump;
	acc.max = q.max_records;
	ret = vchunk_dump_from(ch->store,
			       (struct vchunk_id){q.start.inode, q.start.index},
			       vstor_dump_add, &acc);
	if (ret > 0)
		ret = 0;
	if (!ret)
		ret = wire_storage_dump_resp_encode(s->dump, s->dump_out,
						    WIRE_STORAGE_DUMP_RESP_MAX_LEN,
						    &len);
out_reply:
	vstor_reply(s, req, t0, ret, s->dump_out, (uint32_t)len, NULL, 0);
}

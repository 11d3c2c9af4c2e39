// SPDX-License-Identifier: MIT
/*
 * wire_storage.c - codecs of the storaged message bodies (wire_storage.h).
 *
 * Each message has a put (check, then fields in struct order) and a get
 * (fields, then the same check); the public encode/decode pairs wrap them
 * with the writer/reader of wire_le.h. The WRITE body of wire_msg.h is
 * embedded by calling its own codec over a fixed-size slice.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire_le.h"
#include "proto/wire_msg.h"
#include "proto/wire_storage.h"

static void ws_put_chunk_id(struct wire_w *w, const struct wire_chunk_id *c)
{
	wire_put_u64(w, c->inode);
	wire_put_u32(w, c->index);
}

static void ws_get_chunk_id(struct wire_r *r, struct wire_chunk_id *c)
{
	c->inode = wire_get_u64(r);
	c->index = wire_get_u32(r);
}

static void ws_put_bool(struct wire_w *w, bool v)
{
	wire_put_u8(w, v ? 1 : 0);
}

static bool ws_get_bool(struct wire_r *r)
{
	uint8_t v = wire_get_u8(r);

	if (v > 1)
		wire_r_fail(r, -EINVAL);
	return v == 1;
}

static int ws_w_end(const struct wire_w *w, size_t *len)
{
	if (w->err)
		return w->err;
	*len = w->len;
	return 0;
}

/* Define the public encode/decode pair of message NAME over its put/get. */
#define WS_CODEC(NAME)                                                         \
	int wire_storage_##NAME##_encode(const struct wire_storage_##NAME *m,  \
					 uint8_t *buf, size_t cap,             \
					 size_t *len)                          \
	{                                                                      \
		struct wire_w w;                                               \
		wire_w_init(&w, buf, cap);                                     \
		ws_put_##NAME(&w, m);                                          \
		return ws_w_end(&w, len);                                      \
	}                                                                      \
	int wire_storage_##NAME##_decode(const uint8_t *buf, size_t len,       \
					 struct wire_storage_##NAME *out)      \
	{                                                                      \
		struct wire_r r;                                               \
		wire_r_init(&r, buf, len);                                     \
		ws_get_##NAME(&r, out);                                        \
		return wire_r_finish(&r);                                      \
	}

/* ---- WRITE / FORWARD ---- */

static void ws_put_write_req(struct wire_w *w,
			     const struct wire_storage_write_req *m)
{
	uint8_t *at = wire_w_reserve(w, WIRE_WRITE_REQ_LEN);
	size_t n = 0;
	int err;

	if (!at)
		return;
	err = wire_write_req_encode(&m->w, at, WIRE_WRITE_REQ_LEN, &n);
	if (!err && n != WIRE_WRITE_REQ_LEN)
		err = -EINVAL;
	if (err) {
		wire_w_fail(w, err);
		return;
	}
	wire_put_u64(w, m->client_id);
	wire_put_u64(w, m->request_id);
}

static void ws_get_write_req(struct wire_r *r, struct wire_storage_write_req *m)
{
	const uint8_t *at = wire_r_take(r, WIRE_WRITE_REQ_LEN);
	int err;

	if (!at)
		return;
	err = wire_write_req_decode(at, WIRE_WRITE_REQ_LEN, &m->w);
	if (err) {
		wire_r_fail(r, err);
		return;
	}
	m->client_id = wire_get_u64(r);
	m->request_id = wire_get_u64(r);
}

WS_CODEC(write_req)

/* ---- TRUNCATE ---- */

static void ws_put_truncate_req(struct wire_w *w,
				const struct wire_storage_truncate_req *m)
{
	if (m->length > WIRE_CHUNK_SIZE_MAX) {
		wire_w_fail(w, -E2BIG);
		return;
	}
	ws_put_chunk_id(w, &m->chunk);
	wire_put_u32(w, m->chain_id);
	wire_put_u32(w, m->chain_version);
	wire_put_u32(w, m->length);
	wire_put_u64(w, m->update_version);
	wire_put_u64(w, m->client_id);
	wire_put_u64(w, m->request_id);
}

static void ws_get_truncate_req(struct wire_r *r,
				struct wire_storage_truncate_req *m)
{
	ws_get_chunk_id(r, &m->chunk);
	m->chain_id = wire_get_u32(r);
	m->chain_version = wire_get_u32(r);
	m->length = wire_get_u32(r);
	m->update_version = wire_get_u64(r);
	m->client_id = wire_get_u64(r);
	m->request_id = wire_get_u64(r);
	if (!r->err && m->length > WIRE_CHUNK_SIZE_MAX)
		wire_r_fail(r, -E2BIG);
}

WS_CODEC(truncate_req)

/* ---- REMOVE, SYNC, QUERY_LAST_CHUNK requests (same layout) ---- */

#define WS_INODE_REQ(NAME)                                                     \
	static void ws_put_##NAME(struct wire_w *w,                            \
				  const struct wire_storage_##NAME *m)         \
	{                                                                      \
		wire_put_u64(w, m->inode);                                     \
		wire_put_u32(w, m->chain_id);                                  \
		wire_put_u32(w, m->chain_version);                             \
	}                                                                      \
	static void ws_get_##NAME(struct wire_r *r,                            \
				  struct wire_storage_##NAME *m)               \
	{                                                                      \
		m->inode = wire_get_u64(r);                                    \
		m->chain_id = wire_get_u32(r);                                 \
		m->chain_version = wire_get_u32(r);                            \
	}                                                                      \
	WS_CODEC(NAME)

WS_INODE_REQ(remove_req)
WS_INODE_REQ(sync_req)
WS_INODE_REQ(last_req)

static void ws_put_remove_resp(struct wire_w *w,
			       const struct wire_storage_remove_resp *m)
{
	wire_put_u32(w, m->removed);
}

static void ws_get_remove_resp(struct wire_r *r,
			       struct wire_storage_remove_resp *m)
{
	m->removed = wire_get_u32(r);
}

WS_CODEC(remove_resp)

/* ---- QUERY_LAST_CHUNK reply ---- */

static int ws_last_resp_check(const struct wire_storage_last_resp *m)
{
	if (m->length > WIRE_CHUNK_SIZE_MAX)
		return -E2BIG;
	if (!m->found && (m->index || m->length || m->committed_ver))
		return -EINVAL;
	return 0;
}

static void ws_put_last_resp(struct wire_w *w,
			     const struct wire_storage_last_resp *m)
{
	int err = ws_last_resp_check(m);

	if (err) {
		wire_w_fail(w, err);
		return;
	}
	ws_put_bool(w, m->found);
	wire_put_u32(w, m->index);
	wire_put_u32(w, m->length);
	wire_put_u64(w, m->committed_ver);
}

static void ws_get_last_resp(struct wire_r *r, struct wire_storage_last_resp *m)
{
	int err;

	m->found = ws_get_bool(r);
	m->index = wire_get_u32(r);
	m->length = wire_get_u32(r);
	m->committed_ver = wire_get_u64(r);
	if (r->err)
		return;
	err = ws_last_resp_check(m);
	if (err)
		wire_r_fail(r, err);
}

WS_CODEC(last_resp)

/* ---- DUMP_META ---- */

static int ws_dump_req_check(const struct wire_storage_dump_req *m)
{
	if (m->max_records == 0)
		return -EINVAL;
	if (m->max_records > WIRE_DUMP_META_MAX)
		return -E2BIG;
	return 0;
}

static void ws_put_dump_req(struct wire_w *w,
			    const struct wire_storage_dump_req *m)
{
	int err = ws_dump_req_check(m);

	if (err) {
		wire_w_fail(w, err);
		return;
	}
	wire_put_u32(w, m->chain_id);
	ws_put_chunk_id(w, &m->start);
	wire_put_u32(w, m->max_records);
}

static void ws_get_dump_req(struct wire_r *r, struct wire_storage_dump_req *m)
{
	int err;

	m->chain_id = wire_get_u32(r);
	ws_get_chunk_id(r, &m->start);
	m->max_records = wire_get_u32(r);
	if (r->err)
		return;
	err = ws_dump_req_check(m);
	if (err)
		wire_r_fail(r, err);
}

WS_CODEC(dump_req)

static int ws_dump_resp_check(const struct wire_storage_dump_resp *m)
{
	uint32_t i;

	if (m->nrecords > WIRE_DUMP_META_MAX)
		return -E2BIG;
	if (!m->more && (m->next.inode || m->next.index))
		return -EINVAL;
	for (i = 0; i < m->nrecords; i++)
		if (m->records[i].length > WIRE_CHUNK_SIZE_MAX)
			return -E2BIG;
	return 0;
}

static void ws_put_dump_resp(struct wire_w *w,
			     const struct wire_storage_dump_resp *m)
{
	int err = ws_dump_resp_check(m);
	uint32_t i;

	if (err) {
		wire_w_fail(w, err);
		return;
	}
	ws_put_bool(w, m->more);
	ws_put_chunk_id(w, &m->next);
	wire_put_u32(w, m->nrecords);
	for (i = 0; i < m->nrecords; i++) {
		const struct wire_chunk_meta *c = &m->records[i];

		ws_put_chunk_id(w, &c->chunk);
		wire_put_u32(w, c->length);
		wire_put_u32(w, c->chain_version);
		wire_put_u64(w, c->committed_ver);
		wire_put_u64(w, c->pending_ver);
	}
}

static void ws_get_dump_resp(struct wire_r *r, struct wire_storage_dump_resp *m)
{
	uint32_t i;
	int err;

	m->more = ws_get_bool(r);
	ws_get_chunk_id(r, &m->next);
	m->nrecords = wire_get_u32(r);
	if (r->err)
		return;
	if (m->nrecords > WIRE_DUMP_META_MAX) {
		wire_r_fail(r, -E2BIG);
		return;
	}
	for (i = 0; i < m->nrecords && !r->err; i++) {
		struct wire_chunk_meta *c = &m->records[i];

		ws_get_chunk_id(r, &c->chunk);
		c->length = wire_get_u32(r);
		c->chain_version = wire_get_u32(r);
		c->committed_ver = wire_get_u64(r);
		c->pending_ver = wire_get_u64(r);
	}
	if (r->err)
		return;
	err = ws_dump_resp_check(m);
	if (err)
		wire_r_fail(r, err);
}

WS_CODEC(dump_resp)

/* ---- SPACE ---- */

static void ws_put_space_req(struct wire_w *w,
			     const struct wire_storage_space_req *m)
{
	wire_put_u32(w, m->target_id);
}

static void ws_get_space_req(struct wire_r *r, struct wire_storage_space_req *m)
{
	m->target_id = wire_get_u32(r);
}

WS_CODEC(space_req)

static void ws_put_space_resp(struct wire_w *w,
			      const struct wire_storage_space_resp *m)
{
	if (m->ntargets > WIRE_MAX_TARGETS_PER_NODE) {
		wire_w_fail(w, -E2BIG);
		return;
	}
	wire_put_u32(w, m->ntargets);
	wire_put_u64(w, m->capacity);
	wire_put_u64(w, m->available);
	wire_put_u64(w, m->used);
}

static void ws_get_space_resp(struct wire_r *r,
			      struct wire_storage_space_resp *m)
{
	m->ntargets = wire_get_u32(r);
	m->capacity = wire_get_u64(r);
	m->available = wire_get_u64(r);
	m->used = wire_get_u64(r);
	if (!r->err && m->ntargets > WIRE_MAX_TARGETS_PER_NODE)
		wire_r_fail(r, -E2BIG);
}

WS_CODEC(space_resp)

/* ---- COMMIT ---- */

static void ws_put_commit_req(struct wire_w *w,
			      const struct wire_storage_commit_req *m)
{
	ws_put_chunk_id(w, &m->chunk);
	wire_put_u32(w, m->chain_id);
	wire_put_u32(w, m->chain_version);
	wire_put_u64(w, m->update_version);
}

static void ws_get_commit_req(struct wire_r *r,
			      struct wire_storage_commit_req *m)
{
	ws_get_chunk_id(r, &m->chunk);
	m->chain_id = wire_get_u32(r);
	m->chain_version = wire_get_u32(r);
	m->update_version = wire_get_u64(r);
}

WS_CODEC(commit_req)

/* ---- CUT ---- */

static int ws_cut_req_check(const struct wire_storage_cut_req *m)
{
	if (m->length > WIRE_CHUNK_SIZE_MAX)
		return -E2BIG;
	if (m->flags & ~WIRE_CUT_F_KNOWN)
		return -EINVAL;
	if ((m->flags & WIRE_CUT_F_ALL) && (m->index || m->length))
		return -EINVAL;
	return 0;
}

static void ws_put_cut_req(struct wire_w *w, const struct wire_storage_cut_req *m)
{
	int err = ws_cut_req_check(m);

	if (err) {
		wire_w_fail(w, err);
		return;
	}
	wire_put_u64(w, m->inode);
	wire_put_u32(w, m->chain_id);
	wire_put_u32(w, m->chain_version);
	wire_put_u32(w, m->index);
	wire_put_u32(w, m->length);
	wire_put_u32(w, m->flags);
	wire_put_u64(w, m->client_id);
	wire_put_u64(w, m->request_id);
}

static void ws_get_cut_req(struct wire_r *r, struct wire_storage_cut_req *m)
{
	int err;

	m->inode = wire_get_u64(r);
	m->chain_id = wire_get_u32(r);
	m->chain_version = wire_get_u32(r);
	m->index = wire_get_u32(r);
	m->length = wire_get_u32(r);
	m->flags = wire_get_u32(r);
	m->client_id = wire_get_u64(r);
	m->request_id = wire_get_u64(r);
	if (r->err)
		return;
	err = ws_cut_req_check(m);
	if (err)
		wire_r_fail(r, err);
}

WS_CODEC(cut_req)

/* ---- RESYNC ---- */

static int ws_resync_req_check(const struct wire_storage_resync_req *m)
{
	if (m->action < WIRE_RESYNC_CHUNK || m->action > WIRE_RESYNC_DONE)
		return -EINVAL;
	if (m->length > WIRE_CHUNK_SIZE_MAX)
		return -E2BIG;
	if (m->action != WIRE_RESYNC_CHUNK && (m->length || m->crc32c))
		return -EINVAL;
	return 0;
}

static void ws_put_resync_req(struct wire_w *w,
			      const struct wire_storage_resync_req *m)
{
	int err = ws_resync_req_check(m);

	if (err) {
		wire_w_fail(w, err);
		return;
	}
	wire_put_u32(w, m->chain_id);
	wire_put_u32(w, m->chain_version);
	wire_put_u8(w, m->action);
	ws_put_chunk_id(w, &m->chunk);
	wire_put_u32(w, m->length);
	wire_put_u32(w, m->crc32c);
	wire_put_u64(w, m->committed_ver);
	wire_put_u32(w, m->chunk_chain_ver);
	wire_put_u64(w, m->done);
	wire_put_u64(w, m->total);
}

static void ws_get_resync_req(struct wire_r *r,
			      struct wire_storage_resync_req *m)
{
	int err;

	m->chain_id = wire_get_u32(r);
	m->chain_version = wire_get_u32(r);
	m->action = wire_get_u8(r);
	ws_get_chunk_id(r, &m->chunk);
	m->length = wire_get_u32(r);
	m->crc32c = wire_get_u32(r);
	m->committed_ver = wire_get_u64(r);
	m->chunk_chain_ver = wire_get_u32(r);
	m->done = wire_get_u64(r);
	m->total = wire_get_u64(r);
	if (r->err)
		return;
	err = ws_resync_req_check(m);
	if (err)
		wire_r_fail(r, err);
}

WS_CODEC(resync_req)

// SPDX-License-Identifier: MIT
/*
 * wire_msg.c - message body codecs (contracts and layout in wire_msg.h).
 *
 * Each message has a static put function (struct -> writer) and a static
 * get function (reader -> struct) that list the fields in wire order, so
 * the two can be read side by side; the public encode/decode wrappers only
 * set up the cursor and collect the sticky error. A message that contains
 * another (STATUS contains ROUTING) calls the inner put/get.
 *
 * Counts are checked against their limits before any loop runs, on both
 * sides, so no loop can index past a fixed array whatever the input.
 * Enums, booleans and flags are range-checked on both sides too: what the
 * encoder accepts the decoder accepts, and decoding is canonical (one byte
 * string per struct value), which the fuzz target relies on.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wire_le.h"
#include "wire_msg.h"

/* ---- names ---- */

/*
 * Opcode names, one table per service indexed by the low byte; the
 * service table is indexed by the high byte.
 */
static const char *const wire_msg_auth_ops[] = {
	[WIRE_AUTH_HELLO & 0xff] = "AUTH_HELLO",
	[WIRE_AUTH_PROOF & 0xff] = "AUTH_PROOF",
	[WIRE_AUTH_ACK & 0xff] = "AUTH_ACK",
};

static const char *const wire_msg_mgmtd_ops[] = {
	[WIRE_MGMTD_REGISTER & 0xff] = "MGMTD_REGISTER",
	[WIRE_MGMTD_HEARTBEAT & 0xff] = "MGMTD_HEARTBEAT",
	[WIRE_MGMTD_GET_ROUTING & 0xff] = "MGMTD_GET_ROUTING",
	[WIRE_MGMTD_CHAIN_TABLE_CREATE & 0xff] = "MGMTD_CHAIN_TABLE_CREATE",
	[WIRE_MGMTD_STATUS & 0xff] = "MGMTD_STATUS",
};

static const char *const wire_msg_meta_ops[] = {
	[WIRE_META_LOOKUP & 0xff] = "META_LOOKUP",
	[WIRE_META_GETATTR & 0xff] = "META_GETATTR",
	[WIRE_META_SETATTR & 0xff] = "META_SETATTR",
	[WIRE_META_CREATE & 0xff] = "META_CREATE",
	[WIRE_META_MKNOD & 0xff] = "META_MKNOD",
	[WIRE_META_MKDIR & 0xff] = "META_MKDIR",
	[WIRE_META_SYMLINK & 0xff] = "META_SYMLINK",
	[WIRE_META_READLINK & 0xff] = "META_READLINK",
	[WIRE_META_LINK & 0xff] = "META_LINK",
	[WIRE_META_UNLINK & 0xff] = "META_UNLINK",
	[WIRE_META_RMDIR & 0xff] = "META_RMDIR",
	[WIRE_META_RENAME & 0xff] = "META_RENAME",
	[WIRE_META_OPEN & 0xff] = "META_OPEN",
	[WIRE_META_CLOSE & 0xff] = "META_CLOSE",
	[WIRE_META_READDIR & 0xff] = "META_READDIR",
	[WIRE_META_STATFS & 0xff] = "META_STATFS",
	[WIRE_META_SETXATTR & 0xff] = "META_SETXATTR",
	[WIRE_META_GETXATTR & 0xff] = "META_GETXATTR",
	[WIRE_META_LISTXATTR & 0xff] = "META_LISTXATTR",
	[WIRE_META_REMOVEXATTR & 0xff] = "META_REMOVEXATTR",
	[WIRE_META_SET_LENGTH & 0xff] = "META_SET_LENGTH",
	[WIRE_META_LOCK & 0xff] = "META_LOCK",
	[WIRE_META_UNLOCK & 0xff] = "META_UNLOCK",
	[WIRE_META_FSCK & 0xff] = "META_FSCK",
	[WIRE_META_GETLK & 0xff] = "META_GETLK",
	[WIRE_META_RENEW & 0xff] = "META_RENEW",
};

static const char *const wire_msg_storage_ops[] = {
	[WIRE_STORAGE_WRITE & 0xff] = "STORAGE_WRITE",
	[WIRE_STORAGE_READ & 0xff] = "STORAGE_READ",
	[WIRE_STORAGE_SYNC & 0xff] = "STORAGE_SYNC",
	[WIRE_STORAGE_TRUNCATE & 0xff] = "STORAGE_TRUNCATE",
	[WIRE_STORAGE_REMOVE & 0xff] = "STORAGE_REMOVE",
	[WIRE_STORAGE_QUERY_LAST_CHUNK & 0xff] = "STORAGE_QUERY_LAST_CHUNK",
	[WIRE_STORAGE_DUMP_META & 0xff] = "STORAGE_DUMP_META",
	[WIRE_STORAGE_SPACE & 0xff] = "STORAGE_SPACE",
	[WIRE_STORAGE_FORWARD & 0xff] = "STORAGE_FORWARD",
	[WIRE_STORAGE_COMMIT & 0xff] = "STORAGE_COMMIT",
	[WIRE_STORAGE_CUT & 0xff] = "STORAGE_CUT",
	[WIRE_STORAGE_RESYNC & 0xff] = "STORAGE_RESYNC",
};

struct wire_msg_service {
	const char *const *names;
	size_t n;
};

#define WIRE_MSG_SERVICE(t)                                                    \
	{                                                                      \
		t, sizeof(t) / sizeof(t[0])                                    \
	}

static const struct wire_msg_service wire_msg_services[] = {
	[0x00] = WIRE_MSG_SERVICE(wire_msg_auth_ops),
	[0x01] = WIRE_MSG_SERVICE(wire_msg_mgmtd_ops),
	[0x02] = WIRE_MSG_SERVICE(wire_msg_meta_ops),
	[0x03] = WIRE_MSG_SERVICE(wire_msg_storage_ops),
};

/* The opcode's name, or NULL if it is not one of enum wire_op. */
static const char *wire_msg_op_lookup(uint16_t op)
{
	unsigned int svc = op >> 8, idx = op & 0xff;
	const struct wire_msg_service *s;

	if (svc >= sizeof(wire_msg_services) / sizeof(wire_msg_services[0]))
		return NULL;
	s = &wire_msg_services[svc];
	return idx < s->n ? s->names[idx] : NULL;
}

const char *wire_op_name(uint16_t op)
{
	const char *name = wire_msg_op_lookup(op);

	return name ? name : "UNKNOWN";
}

bool wire_op_known(uint16_t op)
{
	return wire_msg_op_lookup(op) != NULL;
}

static const char *const wire_msg_role_names[] = {
	[WIRE_ROLE_MGMTD] = "mgmtd",
	[WIRE_ROLE_META] = "meta",
	[WIRE_ROLE_STORAGE] = "storage",
	[WIRE_ROLE_CLIENT] = "client",
};

static const char *const wire_msg_local_names[] = {
	[WIRE_LOCAL_UPTODATE] = "uptodate",
	[WIRE_LOCAL_ONLINE] = "online",
	[WIRE_LOCAL_OFFLINE] = "offline",
};

static const char *const wire_msg_public_names[] = {
	[WIRE_PUBLIC_SERVING] = "serving", [WIRE_PUBLIC_SYNCING] = "syncing",
	[WIRE_PUBLIC_WAITING] = "waiting", [WIRE_PUBLIC_LASTSRV] = "lastsrv",
	[WIRE_PUBLIC_OFFLINE] = "offline",
};

static const char *const wire_msg_node_names[] = {
	[WIRE_NODE_PENDING] = "pending",
	[WIRE_NODE_ALIVE] = "alive",
	[WIRE_NODE_FAILED] = "failed",
};

#define WIRE_MSG_NAME(table, v)                                                \
	((v) < sizeof(table) / sizeof(table[0]) && table[v] ? table[v]         \
							    : "unknown")

const char *wire_role_name(uint32_t role)
{
	return WIRE_MSG_NAME(wire_msg_role_names, role);
}

const char *wire_local_state_name(uint32_t state)
{
	return WIRE_MSG_NAME(wire_msg_local_names, state);
}

const char *wire_public_state_name(uint32_t state)
{
	return WIRE_MSG_NAME(wire_msg_public_names, state);
}

const char *wire_node_state_name(uint32_t state)
{
	return WIRE_MSG_NAME(wire_msg_node_names, state);
}

/* ---- shared field helpers ---- */

/* Valid enum ranges, inclusive. */
#define WIRE_MSG_ROLE_FIRST WIRE_ROLE_MGMTD
#define WIRE_MSG_ROLE_LAST WIRE_ROLE_CLIENT
#define WIRE_MSG_LOCAL_LAST WIRE_LOCAL_OFFLINE
#define WIRE_MSG_PUBLIC_LAST WIRE_PUBLIC_OFFLINE
#define WIRE_MSG_NODE_LAST WIRE_NODE_FAILED

/* An enum in [min, last] as one byte; -EINVAL outside. */
static void wire_msg_put_enum(struct wire_w *w, uint32_t v, uint32_t min,
			      uint32_t last)
{
	if (v < min || v > last) {
		wire_w_fail(w, -EINVAL);
		return;
	}
	wire_put_u8(w, (uint8_t)v);
}

static uint32_t wire_msg_get_enum(struct wire_r *r, uint32_t min, uint32_t last)
{
	uint8_t v = wire_get_u8(r);

	if (r->err)
		return 0;
	if (v < min || v > last) {
		wire_r_fail(r, -EINVAL);
		return 0;
	}
	return v;
}

static void wire_msg_put_bool(struct wire_w *w, bool v)
{
	wire_put_u8(w, v ? 1 : 0);
}

/* A boolean is exactly 0 or 1 on the wire; anything else is -EINVAL. */
static bool wire_msg_get_bool(struct wire_r *r)
{
	return wire_msg_get_enum(r, 0, 1) == 1;
}

/*
 * A count with its limit: writes it and returns true when the elements may
 * follow; on false the writer holds -E2BIG (or an earlier error).
 */
static bool wire_msg_put_count(struct wire_w *w, uint32_t n, uint32_t max)
{
	if (n > max) {
		wire_w_fail(w, -E2BIG);
		return false;
	}
	wire_put_u32(w, n);
	return !w->err;
}

/* Reads a count; 0 with -E2BIG when over max, 0 after any error. */
static uint32_t wire_msg_get_count(struct wire_r *r, uint32_t max)
{
	uint32_t n = wire_get_u32(r);

	if (r->err)
		return 0;
	if (n > max) {
		wire_r_fail(r, -E2BIG);
		return 0;
	}
	return n;
}

/* offset + length within a chunk, computed without overflow. */
static bool wire_msg_range_ok(uint32_t offset, uint32_t length)
{
	return (uint64_t)offset + length <= WIRE_CHUNK_SIZE_MAX;
}

static int wire_msg_w_end(const struct wire_w *w, size_t *len)
{
	if (w->err)
		return w->err;
	*len = w->len;
	return 0;
}

/* ---- REGISTER ---- */

static void wire_msg_put_register_req(struct wire_w *w,
				      const struct wire_register_req *m)
{
	uint32_t i;

	wire_put_u32(w, m->node_id);
	wire_msg_put_enum(w, m->role, WIRE_MSG_ROLE_FIRST, WIRE_MSG_ROLE_LAST);
	wire_put_str(w, m->url, WIRE_URL_MAX);
	wire_put_str(w, m->hostname, WIRE_HOSTNAME_MAX);
	if (!wire_msg_put_count(w, m->ntargets, WIRE_MAX_TARGETS_PER_NODE))
		return;
	for (i = 0; i < m->ntargets && !w->err; i++) {
		const struct wire_register_target *t = &m->targets[i];

		wire_put_u32(w, t->id);
		wire_put_str(w, t->path, WIRE_PATH_MAX);
		wire_put_u64(w, t->capacity);
		wire_put_u64(w, t->used);
	}
}

static void wire_msg_get_register_req(struct wire_r *r,
				      struct wire_register_req *m)
{
	uint32_t i;

	m->node_id = wire_get_u32(r);
	m->role = wire_msg_get_enum(r, WIRE_MSG_ROLE_FIRST, WIRE_MSG_ROLE_LAST);
	wire_get_str(r, m->url, WIRE_URL_MAX);
	wire_get_str(r, m->hostname, WIRE_HOSTNAME_MAX);
	m->ntargets = wire_msg_get_count(r, WIRE_MAX_TARGETS_PER_NODE);
	for (i = 0; i < m->ntargets && !r->err; i++) {
		struct wire_register_target *t = &m->targets[i];

		t->id = wire_get_u32(r);
		wire_get_str(r, t->path, WIRE_PATH_MAX);
		t->capacity = wire_get_u64(r);
		t->used = wire_get_u64(r);
	}
}

static void wire_msg_put_register_resp(struct wire_w *w,
				       const struct wire_register_resp *m)
{
	uint32_t i;

	wire_put_u32(w, m->node_id);
	if (!wire_msg_put_count(w, m->ntargets, WIRE_MAX_TARGETS_PER_NODE))
		return;
	for (i = 0; i < m->ntargets; i++)
		wire_put_u32(w, m->target_ids[i]);
	wire_put_u32(w, m->heartbeat_interval_ms);
	wire_put_u32(w, m->heartbeat_timeout_ms);
}

static void wire_msg_get_register_resp(struct wire_r *r,
				       struct wire_register_resp *m)
{
	uint32_t i;

	m->node_id = wire_get_u32(r);
	m->ntargets = wire_msg_get_count(r, WIRE_MAX_TARGETS_PER_NODE);
	for (i = 0; i < m->ntargets; i++)
		m->target_ids[i] = wire_get_u32(r);
	m->heartbeat_interval_ms = wire_get_u32(r);
	m->heartbeat_timeout_ms = wire_get_u32(r);
}

int wire_register_req_encode(const struct wire_register_req *m, uint8_t *buf,
			     size_t cap, size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_register_req(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_register_req_decode(const uint8_t *buf, size_t len,
			     struct wire_register_req *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_register_req(&r, out);
	return wire_r_finish(&r);
}

int wire_register_resp_encode(const struct wire_register_resp *m, uint8_t *buf,
			      size_t cap, size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_register_resp(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_register_resp_decode(const uint8_t *buf, size_t len,
			      struct wire_register_resp *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_register_resp(&r, out);
	return wire_r_finish(&r);
}

/* ---- HEARTBEAT ---- */

static void wire_msg_put_heartbeat_req(struct wire_w *w,
				       const struct wire_heartbeat_req *m)
{
	uint32_t i;

	wire_put_u32(w, m->node_id);
	wire_put_u64(w, m->routing_version);
	if (!wire_msg_put_count(w, m->ntargets, WIRE_MAX_TARGETS_PER_NODE))
		return;
	for (i = 0; i < m->ntargets && !w->err; i++) {
		const struct wire_heartbeat_target *t = &m->targets[i];

		wire_put_u32(w, t->id);
		wire_msg_put_enum(w, t->local_state, 0, WIRE_MSG_LOCAL_LAST);
		wire_put_u64(w, t->used);
		wire_put_u64(w, t->capacity);
		wire_put_u64(w, t->sync_done);
		wire_put_u64(w, t->sync_total);
	}
}

static void wire_msg_get_heartbeat_req(struct wire_r *r,
				       struct wire_heartbeat_req *m)
{
	uint32_t i;

	m->node_id = wire_get_u32(r);
	m->routing_version = wire_get_u64(r);
	m->ntargets = wire_msg_get_count(r, WIRE_MAX_TARGETS_PER_NODE);
	for (i = 0; i < m->ntargets && !r->err; i++) {
		struct wire_heartbeat_target *t = &m->targets[i];

		t->id = wire_get_u32(r);
		t->local_state = wire_msg_get_enum(r, 0, WIRE_MSG_LOCAL_LAST);
		t->used = wire_get_u64(r);
		t->capacity = wire_get_u64(r);
		t->sync_done = wire_get_u64(r);
		t->sync_total = wire_get_u64(r);
	}
}

static void wire_msg_put_heartbeat_resp(struct wire_w *w,
					const struct wire_heartbeat_resp *m)
{
	wire_put_u64(w, m->routing_version);
}

static void wire_msg_get_heartbeat_resp(struct wire_r *r,
					struct wire_heartbeat_resp *m)
{
	m->routing_version = wire_get_u64(r);
}

int wire_heartbeat_req_encode(const struct wire_heartbeat_req *m, uint8_t *buf,
			      size_t cap, size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_heartbeat_req(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_heartbeat_req_decode(const uint8_t *buf, size_t len,
			      struct wire_heartbeat_req *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_heartbeat_req(&r, out);
	return wire_r_finish(&r);
}

int wire_heartbeat_resp_encode(const struct wire_heartbeat_resp *m,
			       uint8_t *buf, size_t cap, size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_heartbeat_resp(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_heartbeat_resp_decode(const uint8_t *buf, size_t len,
			       struct wire_heartbeat_resp *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_heartbeat_resp(&r, out);
	return wire_r_finish(&r);
}

/* ---- GET_ROUTING ---- */

static void wire_msg_put_routing_req(struct wire_w *w,
				     const struct wire_routing_req *m)
{
	wire_put_u64(w, m->since_version);
}

static void wire_msg_get_routing_req(struct wire_r *r,
				     struct wire_routing_req *m)
{
	m->since_version = wire_get_u64(r);
}

static void wire_msg_put_routing_node(struct wire_w *w,
				      const struct wire_routing_node *n)
{
	wire_put_u32(w, n->id);
	wire_msg_put_enum(w, n->role, WIRE_MSG_ROLE_FIRST, WIRE_MSG_ROLE_LAST);
	wire_put_str(w, n->url, WIRE_URL_MAX);
	wire_put_str(w, n->hostname, WIRE_HOSTNAME_MAX);
	wire_msg_put_bool(w, n->alive);
}

static void wire_msg_get_routing_node(struct wire_r *r,
				      struct wire_routing_node *n)
{
	n->id = wire_get_u32(r);
	n->role = wire_msg_get_enum(r, WIRE_MSG_ROLE_FIRST, WIRE_MSG_ROLE_LAST);
	wire_get_str(r, n->url, WIRE_URL_MAX);
	wire_get_str(r, n->hostname, WIRE_HOSTNAME_MAX);
	n->alive = wire_msg_get_bool(r);
}

static void wire_msg_put_routing_target(struct wire_w *w,
					const struct wire_routing_target *t)
{
	wire_put_u32(w, t->id);
	wire_put_u32(w, t->node_id);
	wire_msg_put_enum(w, t->public_state, 0, WIRE_MSG_PUBLIC_LAST);
	wire_msg_put_enum(w, t->local_state, 0, WIRE_MSG_LOCAL_LAST);
	wire_put_u64(w, t->capacity);
	wire_put_u64(w, t->used);
	wire_put_u64(w, t->sync_done);
	wire_put_u64(w, t->sync_total);
}

static void wire_msg_get_routing_target(struct wire_r *r,
					struct wire_routing_target *t)
{
	t->id = wire_get_u32(r);
	t->node_id = wire_get_u32(r);
	t->public_state = wire_msg_get_enum(r, 0, WIRE_MSG_PUBLIC_LAST);
	t->local_state = wire_msg_get_enum(r, 0, WIRE_MSG_LOCAL_LAST);
	t->capacity = wire_get_u64(r);
	t->used = wire_get_u64(r);
	t->sync_done = wire_get_u64(r);
	t->sync_total = wire_get_u64(r);
}

static void wire_msg_put_routing_chain(struct wire_w *w,
				       const struct wire_routing_chain *c)
{
	uint32_t i;

	wire_put_u32(w, c->id);
	wire_put_u32(w, c->version);
	if (!wire_msg_put_count(w, c->ntargets, WIRE_MAX_REPLICAS))
		return;
	for (i = 0; i < c->ntargets; i++) {
		wire_put_u32(w, c->target_ids[i]);
		wire_msg_put_enum(w, c->states[i], 0, WIRE_MSG_PUBLIC_LAST);
	}
}

static void wire_msg_get_routing_chain(struct wire_r *r,
				       struct wire_routing_chain *c)
{
	uint32_t i;

	c->id = wire_get_u32(r);
	c->version = wire_get_u32(r);
	c->ntargets = wire_msg_get_count(r, WIRE_MAX_REPLICAS);
	for (i = 0; i < c->ntargets; i++) {
		c->target_ids[i] = wire_get_u32(r);
		c->states[i] =
			(uint8_t)wire_msg_get_enum(r, 0, WIRE_MSG_PUBLIC_LAST);
	}
}

static void wire_msg_put_routing(struct wire_w *w, const struct wire_routing *m)
{
	uint32_t i;

	/* "unchanged" carries the version alone: nothing to merge. */
	if (m->unchanged &&
	    (m->nnodes || m->ntargets || m->nchains || m->table.nchains)) {
		wire_w_fail(w, -EINVAL);
		return;
	}
	wire_put_u64(w, m->version);
	wire_msg_put_bool(w, m->unchanged);

	if (!wire_msg_put_count(w, m->nnodes, WIRE_MAX_NODES))
		return;
	for (i = 0; i < m->nnodes && !w->err; i++)
		wire_msg_put_routing_node(w, &m->nodes[i]);

	if (!wire_msg_put_count(w, m->ntargets, WIRE_MAX_TARGETS))
		return;
	for (i = 0; i < m->ntargets && !w->err; i++)
		wire_msg_put_routing_target(w, &m->targets[i]);

	if (!wire_msg_put_count(w, m->nchains, WIRE_MAX_CHAINS))
		return;
	for (i = 0; i < m->nchains && !w->err; i++)
		wire_msg_put_routing_chain(w, &m->chains[i]);

	wire_put_u32(w, m->table.version);
	if (!wire_msg_put_count(w, m->table.nchains, WIRE_MAX_CHAINS))
		return;
	for (i = 0; i < m->table.nchains && !w->err; i++)
		wire_put_u32(w, m->table.chain_ids[i]);
}

static void wire_msg_get_routing(struct wire_r *r, struct wire_routing *m)
{
	uint32_t i;

	m->version = wire_get_u64(r);
	m->unchanged = wire_msg_get_bool(r);

	m->nnodes = wire_msg_get_count(r, WIRE_MAX_NODES);
	for (i = 0; i < m->nnodes && !r->err; i++)
		wire_msg_get_routing_node(r, &m->nodes[i]);

	m->ntargets = wire_msg_get_count(r, WIRE_MAX_TARGETS);
	for (i = 0; i < m->ntargets && !r->err; i++)
		wire_msg_get_routing_target(r, &m->targets[i]);

	m->nchains = wire_msg_get_count(r, WIRE_MAX_CHAINS);
	for (i = 0; i < m->nchains && !r->err; i++)
		wire_msg_get_routing_chain(r, &m->chains[i]);

	m->table.version = wire_get_u32(r);
	m->table.nchains = wire_msg_get_count(r, WIRE_MAX_CHAINS);
	for (i = 0; i < m->table.nchains && !r->err; i++)
		m->table.chain_ids[i] = wire_get_u32(r);

	if (!r->err && m->unchanged &&
	    (m->nnodes || m->ntargets || m->nchains || m->table.nchains))
		wire_r_fail(r, -EINVAL);
}

int wire_routing_req_encode(const struct wire_routing_req *m, uint8_t *buf,
			    size_t cap, size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_routing_req(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_routing_req_decode(const uint8_t *buf, size_t len,
			    struct wire_routing_req *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_routing_req(&r, out);
	return wire_r_finish(&r);
}

int wire_routing_encode(const struct wire_routing *m, uint8_t *buf, size_t cap,
			size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_routing(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_routing_decode(const uint8_t *buf, size_t len,
			struct wire_routing *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_routing(&r, out);
	return wire_r_finish(&r);
}

/* ---- CHAIN_TABLE_CREATE ---- */

/* replicas in 1..WIRE_MAX_REPLICAS, chains <= WIRE_MAX_CHAINS. */
static int wire_msg_chain_table_create_check(uint32_t replicas, uint32_t chains)
{
	if (replicas == 0)
		return -EINVAL;
	if (replicas > WIRE_MAX_REPLICAS || chains > WIRE_MAX_CHAINS)
		return -E2BIG;
	return 0;
}

static void
wire_msg_put_chain_table_create_req(struct wire_w *w,
				    const struct wire_chain_table_create_req *m)
{
	int err = wire_msg_chain_table_create_check(m->replicas, m->chains);

	if (err) {
		wire_w_fail(w, err);
		return;
	}
	wire_put_u32(w, m->replicas);
	wire_put_u32(w, m->chains);
}

static void
wire_msg_get_chain_table_create_req(struct wire_r *r,
				    struct wire_chain_table_create_req *m)
{
	int err;

	m->replicas = wire_get_u32(r);
	m->chains = wire_get_u32(r);
	if (r->err)
		return;
	err = wire_msg_chain_table_create_check(m->replicas, m->chains);
	if (err)
		wire_r_fail(r, err);
}

static void wire_msg_put_chain_table_create_resp(
	struct wire_w *w, const struct wire_chain_table_create_resp *m)
{
	wire_put_u32(w, m->table_version);
	wire_msg_put_count(w, m->nchains, WIRE_MAX_CHAINS);
}

static void
wire_msg_get_chain_table_create_resp(struct wire_r *r,
				     struct wire_chain_table_create_resp *m)
{
	m->table_version = wire_get_u32(r);
	m->nchains = wire_msg_get_count(r, WIRE_MAX_CHAINS);
}

int wire_chain_table_create_req_encode(
	const struct wire_chain_table_create_req *m, uint8_t *buf, size_t cap,
	size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_chain_table_create_req(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_chain_table_create_req_decode(const uint8_t *buf, size_t len,
				       struct wire_chain_table_create_req *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_chain_table_create_req(&r, out);
	return wire_r_finish(&r);
}

int wire_chain_table_create_resp_encode(
	const struct wire_chain_table_create_resp *m, uint8_t *buf, size_t cap,
	size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_chain_table_create_resp(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_chain_table_create_resp_decode(
	const uint8_t *buf, size_t len,
	struct wire_chain_table_create_resp *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_chain_table_create_resp(&r, out);
	return wire_r_finish(&r);
}

/* ---- STATUS ---- */

/* One node line per routing node, no count of its own. */
static void wire_msg_put_status(struct wire_w *w, const struct wire_status *m)
{
	uint32_t i;

	wire_put_u64(w, m->uptime_ms);
	wire_put_u32(w, m->heartbeat_timeout_ms);
	wire_msg_put_routing(w, &m->routing);
	for (i = 0; i < m->routing.nnodes && !w->err; i++) {
		wire_msg_put_enum(w, m->nodes[i].state, 0, WIRE_MSG_NODE_LAST);
		wire_put_u64(w, m->nodes[i].silent_ms);
	}
}

static void wire_msg_get_status(struct wire_r *r, struct wire_status *m)
{
	uint32_t i;

	m->uptime_ms = wire_get_u64(r);
	m->heartbeat_timeout_ms = wire_get_u32(r);
	wire_msg_get_routing(r, &m->routing);
	/* nnodes is 0 after a failed routing read: no loop past its limit. */
	for (i = 0; i < m->routing.nnodes && !r->err; i++) {
		m->nodes[i].state = wire_msg_get_enum(r, 0, WIRE_MSG_NODE_LAST);
		m->nodes[i].silent_ms = wire_get_u64(r);
	}
}

int wire_status_encode(const struct wire_status *m, uint8_t *buf, size_t cap,
		       size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_status(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_status_decode(const uint8_t *buf, size_t len, struct wire_status *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_status(&r, out);
	return wire_r_finish(&r);
}

/* ---- storage WRITE / READ ---- */

static void wire_msg_put_chunk_id(struct wire_w *w,
				  const struct wire_chunk_id *c)
{
	wire_put_u64(w, c->inode);
	wire_put_u32(w, c->index);
}

static void wire_msg_get_chunk_id(struct wire_r *r, struct wire_chunk_id *c)
{
	c->inode = wire_get_u64(r);
	c->index = wire_get_u32(r);
}

/*
 * Known flags only; the range inside the chunk; a full-chunk write starts
 * at 0.
 */
static int wire_msg_write_req_check(const struct wire_write_req *m)
{
	if (m->flags & ~WIRE_WRITE_F_ALL)
		return -EINVAL;
	if (!wire_msg_range_ok(m->offset, m->length))
		return -E2BIG;
	if ((m->flags & WIRE_WRITE_F_FULL_CHUNK) && m->offset)
		return -EINVAL;
	return 0;
}

static void wire_msg_put_write_req(struct wire_w *w,
				   const struct wire_write_req *m)
{
	int err = wire_msg_write_req_check(m);

	if (err) {
		wire_w_fail(w, err);
		return;
	}
	wire_msg_put_chunk_id(w, &m->chunk);
	wire_put_u32(w, m->chain_id);
	wire_put_u32(w, m->chain_version);
	wire_put_u32(w, m->offset);
	wire_put_u32(w, m->length);
	wire_put_u32(w, m->crc32c);
	wire_put_u32(w, m->flags);
	wire_put_u64(w, m->update_version);
}

static void wire_msg_get_write_req(struct wire_r *r, struct wire_write_req *m)
{
	int err;

	wire_msg_get_chunk_id(r, &m->chunk);
	m->chain_id = wire_get_u32(r);
	m->chain_version = wire_get_u32(r);
	m->offset = wire_get_u32(r);
	m->length = wire_get_u32(r);
	m->crc32c = wire_get_u32(r);
	m->flags = wire_get_u32(r);
	m->update_version = wire_get_u64(r);
	if (r->err)
		return;
	err = wire_msg_write_req_check(m);
	if (err)
		wire_r_fail(r, err);
}

static int wire_msg_write_resp_check(const struct wire_write_resp *m)
{
	if (m->length > WIRE_CHUNK_SIZE_MAX ||
	    m->chunk_length > WIRE_CHUNK_SIZE_MAX)
		return -E2BIG;
	return 0;
}

static void wire_msg_put_write_resp(struct wire_w *w,
				    const struct wire_write_resp *m)
{
	int err = wire_msg_write_resp_check(m);

	if (err) {
		wire_w_fail(w, err);
		return;
	}
	wire_put_u64(w, m->update_version);
	wire_put_u32(w, m->length);
	wire_put_u32(w, m->chunk_length);
}

static void wire_msg_get_write_resp(struct wire_r *r, struct wire_write_resp *m)
{
	int err;

	m->update_version = wire_get_u64(r);
	m->length = wire_get_u32(r);
	m->chunk_length = wire_get_u32(r);
	if (r->err)
		return;
	err = wire_msg_write_resp_check(m);
	if (err)
		wire_r_fail(r, err);
}

static void wire_msg_put_read_req(struct wire_w *w,
				  const struct wire_read_req *m)
{
	if (!wire_msg_range_ok(m->offset, m->length)) {
		wire_w_fail(w, -E2BIG);
		return;
	}
	wire_msg_put_chunk_id(w, &m->chunk);
	wire_put_u32(w, m->chain_id);
	wire_put_u32(w, m->chain_version);
	wire_put_u32(w, m->offset);
	wire_put_u32(w, m->length);
}

static void wire_msg_get_read_req(struct wire_r *r, struct wire_read_req *m)
{
	wire_msg_get_chunk_id(r, &m->chunk);
	m->chain_id = wire_get_u32(r);
	m->chain_version = wire_get_u32(r);
	m->offset = wire_get_u32(r);
	m->length = wire_get_u32(r);
	if (!r->err && !wire_msg_range_ok(m->offset, m->length))
		wire_r_fail(r, -E2BIG);
}

static void wire_msg_put_read_resp(struct wire_w *w,
				   const struct wire_read_resp *m)
{
	if (m->length > WIRE_CHUNK_SIZE_MAX) {
		wire_w_fail(w, -E2BIG);
		return;
	}
	wire_put_u64(w, m->update_version);
	wire_put_u32(w, m->length);
	wire_put_u32(w, m->crc32c);
}

static void wire_msg_get_read_resp(struct wire_r *r, struct wire_read_resp *m)
{
	m->update_version = wire_get_u64(r);
	m->length = wire_get_u32(r);
	m->crc32c = wire_get_u32(r);
	if (!r->err && m->length > WIRE_CHUNK_SIZE_MAX)
		wire_r_fail(r, -E2BIG);
}

int wire_write_req_encode(const struct wire_write_req *m, uint8_t *buf,
			  size_t cap, size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_write_req(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_write_req_decode(const uint8_t *buf, size_t len,
			  struct wire_write_req *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_write_req(&r, out);
	return wire_r_finish(&r);
}

int wire_write_resp_encode(const struct wire_write_resp *m, uint8_t *buf,
			   size_t cap, size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_write_resp(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_write_resp_decode(const uint8_t *buf, size_t len,
			   struct wire_write_resp *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_write_resp(&r, out);
	return wire_r_finish(&r);
}

int wire_read_req_encode(const struct wire_read_req *m, uint8_t *buf,
			 size_t cap, size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_read_req(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_read_req_decode(const uint8_t *buf, size_t len,
			 struct wire_read_req *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_read_req(&r, out);
	return wire_r_finish(&r);
}

int wire_read_resp_encode(const struct wire_read_resp *m, uint8_t *buf,
			  size_t cap, size_t *len)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	wire_msg_put_read_resp(&w, m);
	return wire_msg_w_end(&w, len);
}

int wire_read_resp_decode(const uint8_t *buf, size_t len,
			  struct wire_read_resp *out)
{
	struct wire_r r;

	wire_r_init(&r, buf, len);
	wire_msg_get_read_resp(&r, out);
	return wire_r_finish(&r);
}

/* SPDX-License-Identifier: MIT */
/*
 * wire_msg.h - opcodes and message bodies of the valorfs cluster protocol.
 *
 * A message travels as a frame (proto/wire_frame.h: header with opcode,
 * request id, status as -errno, body and data lengths), then the body encoded
 * here, then bulk data (WRITE payloads, READ replies). This file owns the
 * bodies: plain C structs with fixed-capacity arrays and explicit counts, and
 * one encoder and one decoder per message.
 *
 * Encoding: every field little-endian at its natural width, in the order of
 * the struct; enums and booleans as one byte; counts as u32 before their
 * elements; strings as a u16 byte count then the bytes (no NUL on the wire,
 * no NUL allowed inside). Nothing is padded or aligned, and no C struct is
 * ever copied onto the wire. The encoding is canonical: a body that decodes
 * re-encodes to exactly the same bytes.
 *
 * Contracts shared by every codec below:
 *
 *   int wire_X_encode(const struct wire_X *m, uint8_t *buf, size_t cap,
 *                     size_t *len);
 *	Writes the body into buf[0..cap) and stores its length in *len.
 *	0 on success; -ENOSPC if it does not fit in cap (buf contents are then
 *	unspecified, *len untouched); -E2BIG a count over its limit;
 *	-ENAMETOOLONG a string over its limit (or not NUL-terminated within
 *	it); -EINVAL an enum or flag value out of range. The encoder checks the
 *	same rules as the decoder, so whatever encodes also decodes.
 *
 *   int wire_X_decode(const uint8_t *buf, size_t len, struct wire_X *out);
 *	Parses exactly len bytes. 0 on success; -EBADMSG truncated, trailing
 *	bytes, or a NUL inside a string; -E2BIG a count over its limit;
 *	-ENAMETOOLONG a string over its limit; -EINVAL an enum, boolean or flag
 *	value out of range. Never reads outside buf[0..len). On error *out is
 *	partly written and must not be used. On success only the fields, the
 *	used array elements and each string up to its NUL are written: array
 *	slots past the counts and bytes past a string's NUL keep what was there.
 *
 * Pure code: no I/O, no globals, no allocation, no locks; safe from any
 * thread. Depends only on libc and proto/ headers (the fuzz build links
 * proto/ alone).
 *
 * Sizes: struct wire_routing and struct wire_status are about 470 KiB and
 * struct wire_register_req about 66 KiB. Allocate them on the heap
 * (calloc(1, sizeof(*m)) / free) or embed them in a heap object, never on a
 * worker's stack; the others are small (heartbeat request 2.5 KiB).
 * The *_MAX_LEN macros at the end give each body's largest encoded size;
 * WIRE_MSG_BODY_MAX is the largest of all, and the frame layer must accept
 * bodies at least that long.
 */
#ifndef VALOR_PROTO_WIRE_MSG_H
#define VALOR_PROTO_WIRE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Opcodes (the frame's u16 opcode). The high byte is the service, the low
 * byte the operation; a reply carries the request's opcode (and the frame's
 * REPLY flag). Values are part of the protocol: never renumber, only add.
 */
enum wire_op {
	/*
	 * 0x00xx: connection authentication, before any other message. The
	 * bodies belong to the transport: common/auth.h builds and checks
	 * them, rdma/tcp.c frames them.
	 */
	WIRE_AUTH_HELLO = 0x0001, /* server -> client: challenge nonce */
	WIRE_AUTH_PROOF = 0x0002, /* client -> server: nonce + HMAC proof */
	WIRE_AUTH_ACK = 0x0003,	  /* server -> client: server's HMAC proof */

	/* 0x01xx: mgmtd. */
	WIRE_MGMTD_REGISTER = 0x0101,
	WIRE_MGMTD_HEARTBEAT = 0x0102,
	WIRE_MGMTD_GET_ROUTING = 0x0103,
	WIRE_MGMTD_CHAIN_TABLE_CREATE = 0x0104,
	WIRE_MGMTD_STATUS = 0x0105,

	/* 0x02xx: metad. Bodies come with the metadata issue. */
	WIRE_META_LOOKUP = 0x0201,
	WIRE_META_GETATTR = 0x0202,
	WIRE_META_SETATTR = 0x0203,
	WIRE_META_CREATE = 0x0204,
	WIRE_META_MKNOD = 0x0205,
	WIRE_META_MKDIR = 0x0206,
	WIRE_META_SYMLINK = 0x0207,
	WIRE_META_READLINK = 0x0208,
	WIRE_META_LINK = 0x0209,
	WIRE_META_UNLINK = 0x020a,
	WIRE_META_RMDIR = 0x020b,
	WIRE_META_RENAME = 0x020c,
	WIRE_META_OPEN = 0x020d,
	WIRE_META_CLOSE = 0x020e,
	WIRE_META_READDIR = 0x020f,
	WIRE_META_STATFS = 0x0210,
	WIRE_META_SETXATTR = 0x0211,
	WIRE_META_GETXATTR = 0x0212,
	WIRE_META_LISTXATTR = 0x0213,
	WIRE_META_REMOVEXATTR = 0x0214,
	WIRE_META_SET_LENGTH = 0x0215,
	WIRE_META_LOCK = 0x0216,
	WIRE_META_UNLOCK = 0x0217,
	WIRE_META_FSCK = 0x0218,
	WIRE_META_GETLK = 0x0219,
	WIRE_META_RENEW = 0x021a, /* lease of a client's locks and sessions */

	/* 0x03xx: storaged. WRITE and READ bodies are defined below. */
	WIRE_STORAGE_WRITE = 0x0301,
	WIRE_STORAGE_READ = 0x0302,
	WIRE_STORAGE_SYNC = 0x0303,
	WIRE_STORAGE_TRUNCATE = 0x0304,
	WIRE_STORAGE_REMOVE = 0x0305,
	WIRE_STORAGE_QUERY_LAST_CHUNK = 0x0306,
	WIRE_STORAGE_DUMP_META = 0x0307,
	WIRE_STORAGE_SPACE = 0x0308,
	WIRE_STORAGE_FORWARD = 0x0309, /* chain forward to the successor */
	WIRE_STORAGE_COMMIT = 0x030a,  /* commit flowing back up the chain */
	WIRE_STORAGE_CUT = 0x030b,     /* cut a file on one chain (truncate) */
	WIRE_STORAGE_RESYNC = 0x030c,  /* predecessor -> syncing successor */
};

/* Name of an opcode for logs ("MGMTD_REGISTER"); "UNKNOWN" if not one. */
const char *wire_op_name(uint16_t op);
/* True if op is one of enum wire_op. */
bool wire_op_known(uint16_t op);

/* ---- Identities and states ------------------------------------------- */

/* Role of a node. 0 is not a role, so a zeroed struct never passes. */
enum wire_role {
	WIRE_ROLE_MGMTD = 1,
	WIRE_ROLE_META = 2,
	WIRE_ROLE_STORAGE = 3,
	WIRE_ROLE_CLIENT = 4,
};

/*
 * A target's own view of itself, reported by storaged in heartbeats
 * (3FS local states).
 */
enum wire_local_state {
	WIRE_LOCAL_UPTODATE = 0, /* holds every committed chunk version */
	WIRE_LOCAL_ONLINE = 1,	 /* running, but may be behind (resyncing) */
	WIRE_LOCAL_OFFLINE = 2,	 /* not running, or the disk failed */
};

/*
 * A target's state in the chain table, decided by mgmtd from the local
 * states (3FS public states; see notes/3fs.md §3.5 for the transitions).
 */
enum wire_public_state {
	WIRE_PUBLIC_SERVING = 0, /* serves reads, receives writes */
	WIRE_PUBLIC_SYNCING = 1, /* receives writes, being filled; no reads */
	WIRE_PUBLIC_WAITING = 2, /* up, waiting for a serving predecessor */
	WIRE_PUBLIC_LASTSRV = 3, /* was the last serving target, now down */
	WIRE_PUBLIC_OFFLINE = 4, /* down */
};

/* A node's liveness as mgmtd sees it (STATUS only). */
enum wire_node_state {
	/* In the map from before mgmtd started, not heard from since. */
	WIRE_NODE_PENDING = 0,
	WIRE_NODE_ALIVE = 1,  /* registered or heartbeated within the timeout */
	WIRE_NODE_FAILED = 2, /* silent longer than the timeout */
};

/* "mgmtd", "meta", "storage", "client"; "unknown" otherwise. */
const char *wire_role_name(uint32_t role);
/* "uptodate", "online", "offline"; "unknown" otherwise. */
const char *wire_local_state_name(uint32_t state);
/* "serving", "syncing", "waiting", "lastsrv", "offline"; "unknown". */
const char *wire_public_state_name(uint32_t state);
/* "pending", "alive", "failed"; "unknown" otherwise. */
const char *wire_node_state_name(uint32_t state);

/*
 * Ids are u32; 0 means "none" or, in a registration, "assign one".
 * Node ids, target ids and chain ids are separate spaces.
 */
typedef uint32_t wire_node_id_t;
typedef uint32_t wire_target_id_t;
typedef uint32_t wire_chain_id_t;

/* ---- Limits ---------------------------------------------------------- */

#define WIRE_MAX_TARGETS_PER_NODE 64
#define WIRE_MAX_NODES 256
#define WIRE_MAX_TARGETS 4096
#define WIRE_MAX_CHAINS 4096
#define WIRE_MAX_REPLICAS 8

/* Longest strings in bytes, NUL excluded; the C arrays hold one more. */
#define WIRE_URL_MAX 128     /* "tcp://host:port", "rdma://host:port" */
#define WIRE_HOSTNAME_MAX 64 /* as HOST_NAME_MAX */
#define WIRE_PATH_MAX 1024   /* a target's directory */

/* Largest chunk any offset + length in a storage message may reach. */
#define WIRE_CHUNK_SIZE_MAX (64u << 20)

/* ---- mgmtd (0x01xx) --------------------------------------------------- */

/* A target a storage node offers in its registration. */
struct wire_register_target {
	wire_target_id_t id;	      /* 0: new target, mgmtd assigns an id */
	char path[WIRE_PATH_MAX + 1]; /* its directory on the node */
	uint64_t capacity;	      /* bytes */
	uint64_t used;		      /* bytes */
};

/*
 * REGISTER request: a server introduces itself (again after a restart, with
 * its saved ids). Clients register with no targets.
 */
struct wire_register_req {
	wire_node_id_t node_id;	    /* 0: new node, mgmtd assigns an id */
	uint32_t role;		    /* enum wire_role */
	char url[WIRE_URL_MAX + 1]; /* where it listens; "" if nowhere */
	char hostname[WIRE_HOSTNAME_MAX + 1];
	uint32_t ntargets; /* <= WIRE_MAX_TARGETS_PER_NODE */
	struct wire_register_target targets[WIRE_MAX_TARGETS_PER_NODE];
};

/* REGISTER reply: the ids to use from now on and the heartbeat rules. */
struct wire_register_resp {
	wire_node_id_t node_id;
	uint32_t ntargets; /* same count and order as the request's targets */
	wire_target_id_t target_ids[WIRE_MAX_TARGETS_PER_NODE];
	uint32_t heartbeat_interval_ms;
	uint32_t heartbeat_timeout_ms; /* silent this long: node failed */
};

/* One target's line in a heartbeat. */
struct wire_heartbeat_target {
	wire_target_id_t id;
	uint32_t local_state; /* enum wire_local_state */
	uint64_t used;	      /* bytes */
	uint64_t capacity;    /* bytes */
	uint64_t sync_done;   /* resync progress, in chunks; 0/0 when idle */
	uint64_t sync_total;
};

/* HEARTBEAT request, every heartbeat_interval_ms. */
struct wire_heartbeat_req {
	wire_node_id_t node_id;
	uint64_t routing_version; /* newest routing version the node has */
	uint32_t ntargets;	  /* <= WIRE_MAX_TARGETS_PER_NODE */
	struct wire_heartbeat_target targets[WIRE_MAX_TARGETS_PER_NODE];
};

/*
 * HEARTBEAT reply: the current routing version; the node pulls routing when
 * it is newer than what it has. An unknown node_id is answered with frame
 * status -ENOENT, which tells the node to register again.
 */
struct wire_heartbeat_resp {
	uint64_t routing_version;
};

/* GET_ROUTING request: send routing if it changed after since_version. */
struct wire_routing_req {
	uint64_t since_version; /* 0: always send it */
};

struct wire_routing_node {
	wire_node_id_t id;
	uint32_t role; /* enum wire_role */
	char url[WIRE_URL_MAX + 1];
	char hostname[WIRE_HOSTNAME_MAX + 1];
	bool alive; /* heartbeating within the timeout */
};

struct wire_routing_target {
	wire_target_id_t id;
	wire_node_id_t node_id;
	/* enum wire_public_state: the least available of its states in the
	 * chains that hold it (exact per chain: wire_routing_chain.states) */
	uint32_t public_state;
	uint32_t local_state; /* enum wire_local_state, last reported */
	uint64_t capacity;
	uint64_t used;
	uint64_t sync_done;
	uint64_t sync_total;
};

/*
 * A chain: its members head first, each with its public state in this
 * chain (enum wire_public_state). A target in several chains may be serving
 * in one and syncing in another; wire_routing_target.public_state only sums
 * those up. On the wire each member is its target id (u32) then its state
 * (one byte).
 */
struct wire_routing_chain {
	wire_chain_id_t id;
	uint32_t version;  /* bumped on every membership or state change */
	uint32_t ntargets; /* <= WIRE_MAX_REPLICAS */
	wire_target_id_t target_ids[WIRE_MAX_REPLICAS]; /* head first */
	uint8_t states[WIRE_MAX_REPLICAS]; /* states[i] of target_ids[i] */
};

/*
 * The chain table: files place chunk i on chain_ids[(first + i % stripe) %
 * nchains]. version 0 with no chains: no table created yet.
 */
struct wire_chain_table {
	uint32_t version;
	uint32_t nchains; /* <= WIRE_MAX_CHAINS */
	wire_chain_id_t chain_ids[WIRE_MAX_CHAINS];
};

/*
 * GET_ROUTING reply: the cluster as mgmtd sees it, at one version.
 * When version <= the request's since_version, mgmtd sets unchanged and
 * sends no nodes, targets or chains (and an empty table); the caller keeps
 * its copy. Heap only: see the top of this file.
 */
struct wire_routing {
	uint64_t version;
	bool unchanged;
	uint32_t nnodes; /* <= WIRE_MAX_NODES */
	struct wire_routing_node nodes[WIRE_MAX_NODES];
	uint32_t ntargets; /* <= WIRE_MAX_TARGETS */
	struct wire_routing_target targets[WIRE_MAX_TARGETS];
	uint32_t nchains; /* <= WIRE_MAX_CHAINS */
	struct wire_routing_chain chains[WIRE_MAX_CHAINS];
	struct wire_chain_table table;
};

/*
 * CHAIN_TABLE_CREATE request (admin): build chains of `replicas` targets
 * each on distinct nodes, and a table over them.
 */
struct wire_chain_table_create_req {
	uint32_t replicas; /* 1..WIRE_MAX_REPLICAS */
	uint32_t chains;   /* 0: as many as the targets allow, evenly */
};

struct wire_chain_table_create_resp {
	uint32_t table_version;
	uint32_t nchains; /* <= WIRE_MAX_CHAINS */
};

/* A node's line in STATUS, beside its routing entry. */
struct wire_status_node {
	uint32_t state;	    /* enum wire_node_state */
	uint64_t silent_ms; /* since its last registration or heartbeat */
};

/*
 * STATUS reply (the request has an empty body): routing plus mgmtd's own
 * figures, for valorctl. nodes[i] belongs to routing.nodes[i]; on the wire
 * the routing.nnodes node lines follow the routing, with no count of their
 * own. Heap only.
 */
struct wire_status {
	uint64_t uptime_ms;
	uint32_t heartbeat_timeout_ms;
	struct wire_routing routing;
	struct wire_status_node nodes[WIRE_MAX_NODES];
};

/* ---- storaged (0x03xx) ------------------------------------------------ */

/* A chunk: chunk `index` of inode `inode`. */
struct wire_chunk_id {
	uint64_t inode;
	uint32_t index;
};

/*
 * Full-chunk write: the data replaces the whole chunk (resync from the
 * predecessor); offset must be 0 and the chunk is cut to length.
 */
#define WIRE_WRITE_F_FULL_CHUNK 0x1u
#define WIRE_WRITE_F_ALL WIRE_WRITE_F_FULL_CHUNK

/*
 * WRITE request (client -> head, and FORWARD head -> successor with the same
 * body). `length` bytes of data follow the body in the frame's data part;
 * the RPC layer must check data_len == length. crc32c is the CRC32C
 * (Castagnoli) of those bytes. offset + length <= WIRE_CHUNK_SIZE_MAX.
 */
struct wire_write_req {
	struct wire_chunk_id chunk;
	wire_chain_id_t chain_id;
	uint32_t chain_version; /* the sender's; a stale one gets -ESTALE */
	uint32_t offset;	/* byte offset in the chunk */
	uint32_t length;	/* bytes of data */
	uint32_t crc32c;
	uint32_t flags;		 /* WIRE_WRITE_F_* */
	uint64_t update_version; /* 0 from the client; set by the head */
};

/* WRITE reply (no data part). */
struct wire_write_resp {
	uint64_t update_version; /* the version this write committed as */
	uint32_t length;	 /* bytes written */
	uint32_t chunk_length;	 /* chunk length after the write */
};

/* READ request: read [offset, offset + length) of a chunk. */
struct wire_read_req {
	struct wire_chunk_id chunk;
	wire_chain_id_t chain_id;
	uint32_t chain_version;
	uint32_t offset;
	uint32_t length; /* offset + length <= WIRE_CHUNK_SIZE_MAX */
};

/*
 * READ reply: `length` bytes follow in the data part (fewer than asked at
 * the end of the chunk; 0 for a hole past it). crc32c covers those bytes.
 */
struct wire_read_resp {
	uint64_t update_version; /* committed version the data belongs to */
	uint32_t length;
	uint32_t crc32c;
};

/* ---- Encoded sizes ---------------------------------------------------- */

#define WIRE_STR_MAX_LEN(max) (2 + (max))

#define WIRE_REGISTER_TARGET_MAX_LEN (4 + WIRE_STR_MAX_LEN(WIRE_PATH_MAX) + 16)
#define WIRE_REGISTER_REQ_MAX_LEN                                              \
	(4 + 1 + WIRE_STR_MAX_LEN(WIRE_URL_MAX) +                              \
	 WIRE_STR_MAX_LEN(WIRE_HOSTNAME_MAX) + 4 +                             \
	 WIRE_MAX_TARGETS_PER_NODE * WIRE_REGISTER_TARGET_MAX_LEN)
#define WIRE_REGISTER_RESP_MAX_LEN                                             \
	(4 + 4 + 4 * WIRE_MAX_TARGETS_PER_NODE + 4 + 4)
#define WIRE_HEARTBEAT_TARGET_LEN (4 + 1 + 32)
#define WIRE_HEARTBEAT_REQ_MAX_LEN                                             \
	(4 + 8 + 4 + WIRE_MAX_TARGETS_PER_NODE * WIRE_HEARTBEAT_TARGET_LEN)
#define WIRE_HEARTBEAT_RESP_LEN 8
#define WIRE_ROUTING_REQ_LEN 8

#define WIRE_ROUTING_NODE_MAX_LEN                                              \
	(4 + 1 + WIRE_STR_MAX_LEN(WIRE_URL_MAX) +                              \
	 WIRE_STR_MAX_LEN(WIRE_HOSTNAME_MAX) + 1)
#define WIRE_ROUTING_TARGET_LEN (4 + 4 + 1 + 1 + 32)
#define WIRE_ROUTING_CHAIN_MAX_LEN (4 + 4 + 4 + (4 + 1) * WIRE_MAX_REPLICAS)
#define WIRE_CHAIN_TABLE_MAX_LEN (4 + 4 + 4 * WIRE_MAX_CHAINS)
#define WIRE_ROUTING_MAX_LEN                                                   \
	(8 + 1 + 4 + WIRE_MAX_NODES * WIRE_ROUTING_NODE_MAX_LEN + 4 +          \
	 WIRE_MAX_TARGETS * WIRE_ROUTING_TARGET_LEN + 4 +                      \
	 WIRE_MAX_CHAINS * WIRE_ROUTING_CHAIN_MAX_LEN +                        \
	 WIRE_CHAIN_TABLE_MAX_LEN)
#define WIRE_CHAIN_TABLE_CREATE_REQ_LEN 8
#define WIRE_CHAIN_TABLE_CREATE_RESP_LEN 8
#define WIRE_STATUS_NODE_LEN (1 + 8)
#define WIRE_STATUS_MAX_LEN                                                    \
	(8 + 4 + WIRE_ROUTING_MAX_LEN + WIRE_MAX_NODES * WIRE_STATUS_NODE_LEN)

#define WIRE_CHUNK_ID_LEN 12
#define WIRE_WRITE_REQ_LEN (WIRE_CHUNK_ID_LEN + 4 * 6 + 8)
#define WIRE_WRITE_RESP_LEN 16
#define WIRE_READ_REQ_LEN (WIRE_CHUNK_ID_LEN + 4 * 4)
#define WIRE_READ_RESP_LEN 16

/* Largest body of any message in this file (a full STATUS, 455,465 bytes). */
#define WIRE_MSG_BODY_MAX WIRE_STATUS_MAX_LEN

/* ---- Codecs (contracts at the top of this file) ------------------------ */

int wire_register_req_encode(const struct wire_register_req *m, uint8_t *buf,
			     size_t cap, size_t *len);
int wire_register_req_decode(const uint8_t *buf, size_t len,
			     struct wire_register_req *out);
int wire_register_resp_encode(const struct wire_register_resp *m, uint8_t *buf,
			      size_t cap, size_t *len);
int wire_register_resp_decode(const uint8_t *buf, size_t len,
			      struct wire_register_resp *out);

int wire_heartbeat_req_encode(const struct wire_heartbeat_req *m, uint8_t *buf,
			      size_t cap, size_t *len);
int wire_heartbeat_req_decode(const uint8_t *buf, size_t len,
			      struct wire_heartbeat_req *out);
int wire_heartbeat_resp_encode(const struct wire_heartbeat_resp *m,
			       uint8_t *buf, size_t cap, size_t *len);
int wire_heartbeat_resp_decode(const uint8_t *buf, size_t len,
			       struct wire_heartbeat_resp *out);

int wire_routing_req_encode(const struct wire_routing_req *m, uint8_t *buf,
			    size_t cap, size_t *len);
int wire_routing_req_decode(const uint8_t *buf, size_t len,
			    struct wire_routing_req *out);
int wire_routing_encode(const struct wire_routing *m, uint8_t *buf, size_t cap,
			size_t *len);
int wire_routing_decode(const uint8_t *buf, size_t len,
			struct wire_routing *out);

int wire_chain_table_create_req_encode(
	const struct wire_chain_table_create_req *m, uint8_t *buf, size_t cap,
	size_t *len);
int wire_chain_table_create_req_decode(const uint8_t *buf, size_t len,
				       struct wire_chain_table_create_req *out);
int wire_chain_table_create_resp_encode(
	const struct wire_chain_table_create_resp *m, uint8_t *buf, size_t cap,
	size_t *len);
int wire_chain_table_create_resp_decode(
	const uint8_t *buf, size_t len,
	struct wire_chain_table_create_resp *out);

int wire_status_encode(const struct wire_status *m, uint8_t *buf, size_t cap,
		       size_t *len);
int wire_status_decode(const uint8_t *buf, size_t len, struct wire_status *out);

int wire_write_req_encode(const struct wire_write_req *m, uint8_t *buf,
			  size_t cap, size_t *len);
int wire_write_req_decode(const uint8_t *buf, size_t len,
			  struct wire_write_req *out);
int wire_write_resp_encode(const struct wire_write_resp *m, uint8_t *buf,
			   size_t cap, size_t *len);
int wire_write_resp_decode(const uint8_t *buf, size_t len,
			   struct wire_write_resp *out);
int wire_read_req_encode(const struct wire_read_req *m, uint8_t *buf,
			 size_t cap, size_t *len);
int wire_read_req_decode(const uint8_t *buf, size_t len,
			 struct wire_read_req *out);
int wire_read_resp_encode(const struct wire_read_resp *m, uint8_t *buf,
			  size_t cap, size_t *len);
int wire_read_resp_decode(const uint8_t *buf, size_t len,
			  struct wire_read_resp *out);

#endif /* VALOR_PROTO_WIRE_MSG_H */

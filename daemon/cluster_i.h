/* SPDX-License-Identifier: MIT */
/*
 * cluster_i.h - internals of the cluster backend (cluster.h), shared by
 * cluster.c (lifecycle, routing, connections), cluster_meta.c (namespace
 * through metad), cluster_io.c (data through the storage chains),
 * cluster_file.c (open files, lengths, flush/fsync/release) and
 * cluster_lock.c (cluster-wide locks).
 *
 * Threads and ownership:
 *  - Every backend call runs on a worker thread and is served by that
 *    worker's context (struct vcl_wk, found through a thread-local): its
 *    loop, its connections to metad and the storage nodes, its scratch
 *    message structs. Completions run on the same worker, from its loop;
 *    nothing blocks the worker while a server answers.
 *  - The control loop (the session's main thread; the single worker in
 *    sync mode) runs the link to mgmtd and the lock lease renewal. It
 *    publishes routing snapshots (struct vcl_route): immutable, refcounted,
 *    swapped under rt_lock; a worker re-reads the pointer when rt_gen moved.
 *  - Inode states (struct vcl_inode) are shared by all workers: striped
 *    table, fields protected by their stripe's mutex.
 */
#ifndef VALOR_DAEMON_CLUSTER_I_H
#define VALOR_DAEMON_CLUSTER_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "daemon/backend.h"
#include "proto/wire_meta.h"
#include "proto/wire_msg.h"
#include "proto/wire_storage.h"
#include "rdma/mgmtc.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

/* One attempt of a metad call, and of a storage call. */
#define VCL_META_CALL_MS 5000
#define VCL_DATA_CALL_MS 10000
/* Pause before retrying a call, doubling from MIN up to MAX. */
#define VCL_RETRY_MIN_MS 20
#define VCL_RETRY_MAX_MS 1000
/* Encoded metad request bodies up to this size live in the op itself. */
#define VCL_MOP_INLINE 1024
/* Inode-state table stripes (a power of two). */
#define VCL_ISTRIPES 64

struct vcl;
struct vcl_wk;

/* ---- routing snapshot (cluster.c) -------------------------------------- */

struct vcl_chain {
	uint32_t id, version;
	uint32_t nmembers;
	uint32_t target[WIRE_MAX_REPLICAS];
	uint32_t node[WIRE_MAX_REPLICAS]; /* node of each member, 0 unknown */
	uint8_t state[WIRE_MAX_REPLICAS];
	int head, tail; /* member index, -1 none */
	uint32_t nserving;
	uint8_t serving[WIRE_MAX_REPLICAS]; /* member indexes, SERVING */
};

struct vcl_node {
	uint32_t id, role;
	int alive;
	char url[WIRE_URL_MAX + 1];
};

/* Immutable once published; freed when the last reference goes. */
struct vcl_route {
	atomic_int refs;
	uint64_t version;
	uint32_t table_version;
	uint32_t ntable;
	uint32_t *table; /* chain ids, table order */
	uint32_t nchains;
	struct vcl_chain *chains; /* sorted by id */
	uint32_t nnodes;
	struct vcl_node *nodes; /* sorted by id */
	uint32_t nmeta;
	uint32_t *meta; /* indexes into nodes: alive metad, by id */
	uint32_t replicas; /* members of the widest chain (statfs) */
};

/* An indexed copy of @r (one reference), or NULL without memory. */
struct vcl_route *vcl_route_build(const struct wire_routing *r);
/* Drop a reference; the last one frees. NULL: no-op. Any thread. */
void vcl_route_put(struct vcl_route *rt);
const struct vcl_chain *vcl_route_chain(const struct vcl_route *rt,
					uint32_t chain_id);
const struct vcl_node *vcl_route_node(const struct vcl_route *rt,
				      uint32_t node_id);
/* Chain of position @pos of a file's stripe (chunk i: pos = i % stripe). */
uint32_t vcl_route_stripe_chain(const struct vcl_route *rt, uint32_t first,
				uint32_t pos);

/* ---- the backend -------------------------------------------------------- */

/* A file's data placement, as metad hands it out (wire_meta_layout). */
struct vcl_layout {
	uint32_t chunk_size, stripe, first_chain, table_version;
};

/* What the client knows of a regular file beyond metad (cluster_file.c). */
struct vcl_inode {
	uint64_t ino;
	int refs;      /* the table's (until forget) + each open file's */
	int table_ref; /* the table holds one of refs */
	struct vcl_inode *next;
	/* below: protected by the stripe's mutex */
	struct vcl_layout layout;
	int have_layout;
	uint64_t trunc_ver;
	uint64_t meta_size;  /* size metad last reported */
	uint64_t wr_end;     /* end of the furthest write acknowledged here */
	uint64_t wr_seq;     /* writes acknowledged (bumped per write) */
	uint64_t rep_seq;    /* wr_seq when the length was last reported */
	struct timespec wr_mtime; /* time of the last write, while dirty */
	struct timespec seen_mtime; /* mtime/size at the last open: the */
	uint64_t seen_size;	    /* page cache is kept while unchanged */
	int seen;
	int posix_locks; /* a POSIX lock was granted here: flush unlocks */
	int unlocking;	 /* release's flock unlocks in flight: new lock
			  * requests wait (metad may reorder requests) */
	uint32_t mode;	 /* at the last open: writes by others clear suid */
};

struct vcl_istripe {
	pthread_mutex_t lock;
	struct vcl_inode *head[64];
};

/* An open regular file: the backend's fh. */
struct vcl_file {
	struct vcl_inode *in;
	uint32_t flags; /* open(2) flags */
	int flock;	/* a flock was taken through it */
};

/* An open directory: names handed out so far, for READDIR offsets. */
struct vcl_dir {
	uint64_t ino;
	pthread_mutex_t lock; /* one READDIR at a time per handle */
	uint32_t nnames, capnames;
	char **names; /* names[k] = entry at offset k + 3 */
	int eof;      /* the last page said end of directory */
};

struct vcl {
	struct backend b;
	char mgmtd_url[WIRE_URL_MAX + 1];
	struct vauth_secret *secret;
	uint64_t client_id;	      /* random, nonzero: one per mount */
	atomic_uint_fast64_t req_seq; /* metad request ids */
	atomic_uint_fast64_t wr_seq;  /* storage request ids */
	uint64_t timeout_ns;	      /* give up on a server after this */

	/* Routing: the current snapshot, swapped under rt_lock. */
	pthread_mutex_t rt_lock;
	struct vcl_route *rt;
	atomic_uint_fast64_t rt_gen;

	/* Control loop (attach): mgmtd link, refresh requests, leases. */
	struct vloop *ctl;
	struct vmgmtc *mgmtc;
	struct vloop_post refresh_post;
	atomic_int refresh_posted;
	struct vrpc_client *lease_cli;
	char lease_url[WIRE_URL_MAX + 1];
	struct vrpc_call lease_call;
	int lease_busy;
	struct vloop_timer lease_timer;
	uint32_t lease_ms;
	uint8_t lease_body[64];

	/* Worker contexts, for stats and destroy. */
	pthread_mutex_t wk_lock;
	struct vcl_wk *wks;

	struct vcl_istripe istripes[VCL_ISTRIPES];

	/* Counters (relaxed). */
	atomic_uint_fast64_t n_meta_retries, n_data_retries, n_refreshes;
};

static inline struct vcl *vcl_of(struct backend *b)
{
	return (struct vcl *)b;
}

/* A storage node connection of one worker. */
struct vcl_conn {
	uint32_t node_id;
	char url[WIRE_URL_MAX + 1];
	struct vrpc_client *cli;
};

struct vcl_mop;

struct vcl_wk {
	struct vcl *cl;
	unsigned id;
	struct vloop *loop;
	int stopped; /* worker_stop ran: calls fail with -EIO */
	struct vcl_wk *next;

	struct vcl_route *rt; /* referenced */
	uint64_t rt_gen;

	struct vrpc_client *meta;
	char meta_url[WIRE_URL_MAX + 1];
	unsigned meta_pick; /* rotates over the alive metad on failures */

	struct vcl_conn *conns;
	unsigned nconns, capconns;
	/* Clients replaced while a callback may run: freed from a timer. */
	struct vrpc_client *dead[16];
	unsigned ndead;
	struct vloop_timer reap;

	struct vcl_mop *mop_free;
	/* Scratch: filled and encoded, or decoded and read, synchronously. */
	struct wire_meta_req *req;
	struct wire_meta_rep *rep;

	uint64_t n_meta, n_data;
};

/* The calling worker's context, or NULL on a thread without one. */
struct vcl_wk *vcl_self(void);

/*
 * The calling worker's context for a call, or NULL after answering @c with
 * -EIO (a thread without one, or a worker already stopped).
 */
struct vcl_wk *vcl_self_for(struct bcall *c);

/* Answer @c with @err (0 or -errno). */
static inline void vcl_complete(struct bcall *c, int err)
{
	c->err = err;
	c->done(c);
}

/* cluster.c */
/* The worker's routing, refreshed if a newer one was published (NULL if
 * none yet). */
struct vcl_route *vcl_wk_route(struct vcl_wk *wk);
/* Ask the control loop to pull routing now (any thread). */
void vcl_refresh(struct vcl *cl);
/* The worker's client to metad (rotating on @failover), or NULL. */
struct vrpc_client *vcl_wk_meta(struct vcl_wk *wk, int failover);
/* The worker's client to storage node @node_id, or NULL. */
struct vrpc_client *vcl_wk_node(struct vcl_wk *wk, uint32_t node_id);
/* Backoff delay for attempt @n (1-based), in ms. */
uint32_t vcl_backoff_ms(unsigned n);

/* ---- metad calls (cluster_meta.c) --------------------------------------- */

typedef void (*vcl_mop_done_fn)(struct vcl_mop *m, int err,
				const struct wire_meta_rep *rep);

/*
 * One metad request in flight, retried with the same req_id until it gets
 * an answer or the backend's timeout passes. @rep in done() is the worker's
 * scratch: valid during the call only.
 */
struct vcl_mop {
	struct vcl_wk *wk;
	struct bcall *c;
	uint16_t op;
	uint64_t req_id;
	uint64_t deadline_ns;
	unsigned attempt;
	vcl_mop_done_fn done;
	struct vrpc_call call;
	struct vloop_timer timer;
	uint8_t *body;
	uint32_t body_len;
	struct vcl_mop *next_free;
	/* Op-specific state, owned by whoever started the op. */
	void *arg;
	uint64_t u64[4];
	uint8_t inl[VCL_MOP_INLINE];
};

/*
 * Begin a metad call on the calling worker: returns the op with wk->req's
 * header filled (uid/gid from @x, or 0), or NULL after completing @c with
 * an error (no worker context, no memory). Fill wk->req's fields for @op,
 * then vcl_mop_start().
 */
struct vcl_mop *vcl_mop_new(struct bcall *c, uint16_t op, const struct vctx *x,
			    vcl_mop_done_fn done);
/* The same on @wk for a step of a longer operation: NULL without memory,
 * and nothing is completed (m->c is NULL: done() must not complete it). */
struct vcl_mop *vcl_mop_alloc(struct vcl_wk *wk, uint16_t op,
			      const struct vctx *x, vcl_mop_done_fn done);
/* Encode wk->req and send. On failure done() runs (from the loop). */
void vcl_mop_start(struct vcl_mop *m);
void vcl_mop_free(struct vcl_mop *m);
/* Finish @m: c->err = @err, done(c), free @m. */
void vcl_mop_complete(struct vcl_mop *m, int err);

/* Attributes from a metad reply, merged with what this client wrote. */
void vcl_attr_from_wire(struct vcl *cl, const struct wire_meta_attr *w,
			struct vattr *out);
void vcl_layout_from_wire(const struct wire_meta_layout *w,
			  struct vcl_layout *out);

/* Namespace ops (backend_ops entries). */
void vcl_lookup(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, struct bcall *c);
void vcl_getattr(struct backend *b, const struct vctx *x, uint64_t ino,
		 struct bcall *c);
void vcl_readlink(struct backend *b, const struct vctx *x, uint64_t ino,
		  struct bcall *c);
void vcl_mknod(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, uint32_t mode, uint32_t rdev,
	       struct bcall *c);
void vcl_mkdir(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, uint32_t mode, struct bcall *c);
void vcl_symlink(struct backend *b, const struct vctx *x, uint64_t parent,
		 const char *name, const char *target, struct bcall *c);
void vcl_link(struct backend *b, const struct vctx *x, uint64_t ino,
	      uint64_t newparent, const char *newname, struct bcall *c);
void vcl_unlink(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, struct bcall *c);
void vcl_rmdir(struct backend *b, const struct vctx *x, uint64_t parent,
	       const char *name, struct bcall *c);
void vcl_rename(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, uint64_t newparent, const char *newname,
		uint32_t flags, struct bcall *c);
void vcl_opendir(struct backend *b, const struct vctx *x, uint64_t ino,
		 uint32_t flags, struct bcall *c);
void vcl_readdir(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
		 int plus, vfill_fn fill, void *fillctx, struct bcall *c);
void vcl_releasedir(struct backend *b, uint64_t ino, uint64_t fh,
		    struct bcall *c);
void vcl_statfs(struct backend *b, uint64_t ino, struct bcall *c);
void vcl_setxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		  const char *name, const void *value, size_t size,
		  uint32_t flags, struct bcall *c);
void vcl_getxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		  const char *name, struct bcall *c);
void vcl_listxattr(struct backend *b, const struct vctx *x, uint64_t ino,
		   struct bcall *c);
void vcl_removexattr(struct backend *b, const struct vctx *x, uint64_t ino,
		     const char *name, struct bcall *c);
void vcl_access(struct backend *b, const struct vctx *x, uint64_t ino,
		uint32_t mask, struct bcall *c);

/* ---- data (cluster_io.c) ------------------------------------------------ */

enum vcl_io_kind {
	VCL_IO_READ,
	VCL_IO_WRITE,
	VCL_IO_SYNC,   /* one piece per stripe chain */
	VCL_IO_REMOVE, /* one piece per stripe chain: every chunk goes */
	VCL_IO_CUT,    /* one piece per stripe chain: cut to @off bytes */
	VCL_IO_ZERO,   /* WRITE of zeros, in pieces of at most 1 MiB */
	VCL_IO_MAP,    /* one piece per stripe chain: which chunks exist */
};

/* One chunk of a file as VCL_IO_MAP found it. */
struct vcl_chunk_rec {
	uint64_t index;
	uint32_t length;
};

struct vcl_io;
typedef void (*vcl_io_done_fn)(struct vcl_io *io, int err);

/*
 * Start @kind on inode @ino with layout @l from the calling worker:
 *   READ   [@off, @off + @len) into @buf (zero-filled where chunks are
 *          short: the caller bounded @len by the file's size);
 *   WRITE  [@off, @off + @len) from @buf (kept until done);
 *   SYNC, REMOVE   every chain of the stripe (@off, @len unused);
 *   CUT    every chain of the stripe: the file cut to @off bytes (0: all
 *          its chunks go).
 *   ZERO   zeros written over [@off, @off + @len) (punch hole, zero range);
 *   MAP    the chunks of the file from chunk @off on, as chunk records:
 *          read them with vcl_io_map() from @done.
 * @done(io, err) runs exactly once, maybe before this returns (a piece
 * that fails at once); io->arg is @arg.
 * Returns 0, or -errno and @done does not run.
 */
int vcl_io_start(struct vcl_wk *wk, enum vcl_io_kind kind, uint64_t ino,
		 const struct vcl_layout *l, uint64_t off, uint64_t len,
		 void *buf, vcl_io_done_fn done, void *arg);
void *vcl_io_arg(const struct vcl_io *io);
/*
 * MAP results, valid during @done: the records found (sorted by index, at
 * most one per index) and the highest index they are complete up to
 * (UINT64_MAX: every chunk of the file from @off on is listed).
 */
void vcl_io_map(const struct vcl_io *io, const struct vcl_chunk_rec **recs,
		size_t *n, uint64_t *complete_to);

/* ---- files (cluster_file.c) --------------------------------------------- */

/* The inode's state, created if missing (+1 reference), or NULL. */
struct vcl_inode *vcl_inode_get(struct vcl *cl, uint64_t ino);
/* Existing state only (+1 reference), or NULL. */
struct vcl_inode *vcl_inode_find(struct vcl *cl, uint64_t ino);
void vcl_inode_put(struct vcl *cl, struct vcl_inode *in);
pthread_mutex_t *vcl_inode_lock(struct vcl *cl, uint64_t ino);
/* Drop the table's reference (forget). */
void vcl_inode_forget(struct vcl *cl, uint64_t ino);
void vcl_inodes_release(struct vcl *cl);

void vcl_open(struct backend *b, const struct vctx *x, uint64_t ino,
	      uint32_t flags, struct bcall *c);
void vcl_create(struct backend *b, const struct vctx *x, uint64_t parent,
		const char *name, uint32_t mode, uint32_t flags,
		struct bcall *c);
void vcl_tmpfile(struct backend *b, const struct vctx *x, uint64_t parent,
		 uint32_t mode, uint32_t flags, struct bcall *c);
void vcl_read(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
	      uint32_t size, struct bcall *c);
void vcl_write(struct backend *b, const struct vctx *x, uint64_t ino,
	       uint64_t fh, uint64_t off, const void *data, uint32_t size,
	       int kill_suidgid, struct bcall *c);
void vcl_flush(struct backend *b, uint64_t ino, uint64_t fh,
	       uint64_t lock_owner, struct bcall *c);
void vcl_fsync(struct backend *b, uint64_t ino, uint64_t fh, int datasync,
	       struct bcall *c);
void vcl_release(struct backend *b, uint64_t ino, uint64_t fh, uint32_t flags,
		 uint64_t lock_owner, struct bcall *c);
void vcl_setattr(struct backend *b, const struct vctx *x, uint64_t ino,
		 const struct vsetattr *sa, struct bcall *c);
void vcl_fallocate(struct backend *b, uint64_t ino, uint64_t fh,
		   uint32_t mode, uint64_t off, uint64_t len, struct bcall *c);
void vcl_lseek(struct backend *b, uint64_t ino, uint64_t fh, uint64_t off,
	       uint32_t whence, struct bcall *c);
/*
 * SEEK_DATA/SEEK_HOLE (@whence) from @off in a file of @size bytes whose
 * chunks from @off's on are @r[0..@n) (sorted, complete up to chunk
 * @complete). 1: *@out is the answer (UINT64_MAX: no data, ENXIO; a hole
 * answer is at most @size); 0: records past @complete are needed, ask
 * again from chunk *@again. Pure (unit-tested).
 */
int vcl_seek_find(uint32_t whence, uint64_t off, uint64_t size,
		  uint32_t chunk_size, const struct vcl_chunk_rec *r, size_t n,
		  uint64_t complete, uint64_t *out, uint64_t *again);

/* ---- locks (cluster_lock.c) --------------------------------------------- */

void vcl_getlk(struct backend *b, uint64_t ino, uint64_t fh, uint64_t owner,
	       const struct vlock *lk, struct bcall *c);
void vcl_setlk(struct backend *b, uint64_t ino, uint64_t fh, uint64_t owner,
	       const struct vlock *lk, int wait, int is_flock,
	       struct bcall *c);
int vcl_interrupt(struct backend *b, struct bcall *c);
/* Control loop: renew this client's lease at metad from now on. */
void vcl_lease_start(struct vcl *cl);
void vcl_lease_stop(struct vcl *cl);

#endif

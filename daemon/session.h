/* SPDX-License-Identifier: MIT */
/*
 * session.h - one mounted valorfs: the FUSE connection, its workers and the
 * requests they hold.
 *
 * Life of a request (DESIGN §4.1): an engine fills a request's buffer from
 * the kernel and calls vreq_dispatch(); proto/ decodes and validates it; the
 * static dispatch table calls the op's handler; the handler starts a backend
 * call whose completion builds the reply; vreq_reply*() hands the reply to the
 * engine's send function and returns the request to its worker's pool.
 * Every request is answered exactly once (FORGET-type requests are released
 * without an answer).
 *
 * Threads: each worker runs its own vloop on its own thread (the sync engine
 * runs its only worker on the main thread). A request belongs to the worker
 * that read it: its reply goes out on that worker's fd (the kernel wants the
 * answer on the fd the request came from). A backend may complete a call on
 * another thread (a lock released by another worker); replying and freeing
 * a request are therefore thread-safe.
 */
#ifndef VALOR_DAEMON_SESSION_H
#define VALOR_DAEMON_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>

#include "config.h"
#include "common/stats.h"
#include "common/ctlsock.h"
#include "daemon/backend.h"
#include "proto/fuse_abi.h"
#include "proto/fuse_decode.h"
#include "ring/loop.h"
#include "ring/splice.h"

struct vsession;
struct vworker;
struct vreq;

/* How a worker's replies reach the kernel. */
struct vengine_ops {
	const char *name;
	/*
	 * Write the reply @iov (header first) for @r. @iov points into @r
	 * (r->oiov), and so does everything it describes, so an engine may
	 * let the kernel read it after send returns. Returns 0 when the reply
	 * has been written (the caller releases @r), 1 when the engine keeps
	 * @r and calls vreq_release() itself once the write completed, or
	 * -errno; -ENOENT (request gone: interrupted, aborted) is not an error.
	 */
	int (*send)(struct vworker *w, struct vreq *r, const struct iovec *iov,
		    int iovcnt);
	/*
	 * Optional: take back a finished request instead of the pool (the
	 * uring engine re-arms its READ with it). Any thread.
	 */
	void (*release)(struct vworker *w, struct vreq *r);
};

/* Structured out-arguments (the large ones, READ data, go in r->data). */
union vreq_out {
	struct fuse_entry_out entry;
	struct fuse_attr_out attr;
	struct fuse_open_out open;
	struct fuse_write_out write;
	struct fuse_statfs_out statfs;
	struct fuse_getxattr_out getxattr;
	struct fuse_lk_out lk;
	struct fuse_lseek_out lseek;
	struct fuse_init_out init;
	struct fuse_copy_file_range_out cfr;
	struct {
		struct fuse_entry_out entry;
		struct fuse_open_out open;
	} create;
};

struct vreq {
	struct vworker *w;
	struct fuse_req_in in;	/* decoded request */
	struct vctx ctx;	/* the caller's credentials */
	uint8_t *buf;		/* raw request bytes (w->bufsize) */
	size_t len;		/* bytes in buf */
	void *data;		/* out-data area (READ, READDIR, xattrs...) */
	size_t data_cap;
	size_t data_len;	/* READDIR: bytes filled so far */
	struct bcall call;
	union vreq_out out;
	uint64_t t_start_ns;
	struct vhandle_ref {
		uint64_t ino, bfh;
	} h, h2;		/* resolved handles (copy_file_range uses 2) */
	struct vreq *next;	/* pool free list / session pending list */
	int pending;		/* on the session's interruptible list */
	/* The reply being sent; kept here so it outlives send(). */
	struct fuse_out_header oh;
	struct iovec oiov[3];
	/* Engine-private per-request state. */
	struct vloop_op op;
	struct vloop_post post;
	int reply_err;		/* what the reply carried, for the stats */
	int eng_state;
	uint64_t eng_id;	/* fuse-uring: the entry's commit_id */
};

struct vworker {
	struct vsession *s;
	int id;
	int cpu;		/* pinned CPU, -1 if not pinned */
	int numa_node;
	int fd;			/* /dev/fuse fd this worker reads and replies on */
	int own_fd;		/* fd is a clone this worker must close */
	const struct vengine_ops *eops;
	struct vloop *loop;
	struct vloop_watch watch;
	struct vloop_post resume_post;
	atomic_int resume_queued;
	pthread_t thread;
	int started;
	size_t bufsize;		/* per request: max_write + 4096 */
	struct vreq *reqs;	/* queue_depth requests */
	void *mem;		/* their buffers, on this worker's NUMA node */
	size_t mem_size;
	unsigned nreqs;

	/* Below: protected by pool_lock. */
	pthread_mutex_t pool_lock;
	struct vreq *free_list;
	unsigned nfree;
	int paused;		/* fd watch removed because the pool is empty */

	/* fd engines with -o splice=: the worker's pipe. */
	struct vsplice splice;

	/* Engine-private state, freed by eng_priv_free at release. */
	void *eng_priv;
	void (*eng_priv_free)(struct vworker *w);

	/* io_uring ops of this worker the kernel still holds (owner thread
	 * only); vworker_drain() waits for it to reach zero. */
	unsigned inflight;
	/* uring engine, owner thread only: READs queued, and request slots
	 * waiting for their turn to read (linked through vreq.next). */
	unsigned reads_armed;
	struct vreq *idle;

	/* Counters, only written by this worker's thread. */
	uint64_t n_requests;
	uint64_t n_batches;
	uint64_t n_eagain;	/* uring: READs that found nothing to read */
	/* Per opcode (slot 0: opcodes past the table), any thread adds. */
	struct vstats_op ops[FUSE_OPCODE_MAX + 1];
};

struct vsession {
	struct vfs_config cfg;
	int fd;			/* the mounted /dev/fuse fd */
	int used_fusermount;
	struct backend *bk;
	int attached;		/* bk->ops->attach() ran (detach at the end) */
	struct itable *it;
	struct htable *ht;

	/* Negotiated at INIT, read-only afterwards. */
	struct fuse_decode_ctx dctx;
	uint32_t proto_minor;
	uint64_t kernel_flags;	/* what the kernel offered */
	uint64_t flags;		/* what we accepted */
	uint32_t max_write;
	uint32_t max_pages;
	size_t bufsize;

	int engine;		/* enum vengine actually running */
	int want_fuse_uring;	/* asked for FUSE_OVER_IO_URING at INIT */
	atomic_int restart_uring; /* fuse-uring registration failed */
	unsigned nworkers;
	struct vworker *workers;

	int mounted;		/* our mount is in place */
	atomic_int conn_gone;	/* the kernel ended the connection (ENODEV) */
	atomic_int stopping;	/* set once; workers leave their loops */
	int stop_efd;		/* eventfd the main thread waits on */
	int exit_status;

	struct vctl *ctl;	/* control socket (valorctl stats) */
	char ctl_path[108];
	uint64_t t_start_ns;

	/* Requests parked in the backend that INTERRUPT may cancel. */
	pthread_mutex_t pending_lock;
	struct vreq *pending;
};

/* --- session.c --- */

/* Set up @s from @cfg (backend, tables); nothing is mounted yet. */
int vsession_init(struct vsession *s, const struct vfs_config *cfg);
/* Undo vsession_init and whatever was started after it. */
void vsession_release(struct vsession *s);
/* Mount, read and answer INIT on s->fd. 0 or -errno. */
int vsession_mount(struct vsession *s);
/* Start the engine's workers (or, for sync, prepare the one that runs on
 * the calling thread) and run until the file system is unmounted or
 * vsession_stop() is called. Returns the exit status. */
int vsession_run(struct vsession *s);
/* Thread- and signal-safe-ish request to stop: sets stopping and wakes the
 * main thread, which unmounts and stops the workers. */
void vsession_stop(struct vsession *s);
/* Wake the main thread without stopping (engine restart requests). */
void vsession_kick(struct vsession *s);

/* --- worker / request pool (session.c) --- */

/* @loop_flags: extra io_uring setup flags (IORING_SETUP_SQE128 for
 * fuse-uring), 0 otherwise. */
int vworker_init(struct vworker *w, struct vsession *s, int id, int cpu,
		 int fd, int own_fd, enum vloop_backend lb,
		 unsigned loop_flags, const struct vengine_ops *eops);
void vworker_release(struct vworker *w);
/* A free request, or NULL when all are in flight. Worker thread only. */
struct vreq *vworker_req_get(struct vworker *w);
/* Return @r to its worker's pool. Any thread. */
void vworker_req_put(struct vreq *r);
/*
 * Owner thread, after its loop stopped: cancel every io_uring op on w->fd and
 * reap completions until w->inflight is zero (at most @timeout_ms), so no
 * late completion writes into request memory after release.
 */
void vworker_drain(struct vworker *w, int timeout_ms);
/*
 * On the worker's thread: let the backend set up its per-worker state
 * before the loop runs (0, or -errno after stopping the session), and tear
 * it down once the loop stopped.
 */
int vworker_backend_enter(struct vworker *w);
void vworker_backend_leave(struct vworker *w);
/* Called by engines when the fd reports the connection is gone. */
void vworker_conn_gone(struct vworker *w, int err);

/* --- stats.c --- */

/* Open the control socket on @loop (the main thread's). Failure is logged
 * and leaves s->ctl NULL: the file system works without it. */
void vsession_ctl_socket_open(struct vsession *s, struct vloop *loop);
void vsession_ctl_socket_close(struct vsession *s);

/* --- ops.c --- */

/* Decode r->buf[0..r->len) and run its handler. */
void vreq_dispatch(struct vreq *r);

/* Reply with an error (-errno) or 0 and no payload. */
void vreq_reply_err(struct vreq *r, int err);
/* Reply with @arg (@arglen) and then @data (@datalen); either may be empty. */
void vreq_reply(struct vreq *r, const void *arg, size_t arglen,
		const void *data, size_t datalen);
/* Release a request that gets no reply (FORGET, INTERRUPT). */
void vreq_done_noreply(struct vreq *r);
/* Finish @r after its reply left: off the pending list, back to its
 * engine or pool. Any thread. */
void vreq_release(struct vreq *r);

/* Fill a fuse_attr from backend attributes. */
void vattr_to_fuse(const struct vattr *a, struct fuse_attr *out);

/* INIT handling (ops.c): fills r->out.init and the session's negotiated
 * fields; returns the out length, or -errno. */
int vsession_negotiate(struct vsession *s, const struct fuse_init_in *in,
		       struct fuse_init_out *out, size_t *outlen);

/* Engines (ring/engine_*.c). */
int vengine_sync_run(struct vsession *s);
int vengine_clone_start(struct vsession *s);
void vengine_clone_stop(struct vsession *s);
extern const struct vengine_ops vengine_fd_ops;
int vengine_uring_start(struct vsession *s);
int vengine_fuse_uring_start(struct vsession *s);
/* Start worker @w reading its fd with read(2) on its own thread. */
int vengine_fd_thread_start(struct vworker *w);

/* ring/engine.c: shared by the threaded engines. */
/* CPUs from cpus= or the process's affinity mask; count or -errno. */
int vengine_cpu_list(const struct vfs_config *cfg, int *cpus, int max);
/* A new O_NONBLOCK /dev/fuse fd joined to @session_fd, or -errno. */
int vengine_clone_fd(int session_fd);
/* s->workers: threads= workers (default one per CPU), each on its own
 * cloned fd with an io_uring loop, pinned round-robin over the CPUs. */
int vengine_workers_on_clones(struct vsession *s, unsigned loop_flags,
			      const struct vengine_ops *eops);
/* First thing in a worker thread: record it and pin it to w->cpu. */
void vengine_thread_enter(struct vworker *w);
/* Start @fn(@w) on a new thread with every signal blocked. 0 or -errno. */
int vengine_spawn(struct vworker *w, void *(*fn)(void *));
/* "0,1,..." of the workers' CPUs, for the start-up log. */
void vengine_cpus_string(const struct vsession *s, char *out, size_t cap);
void vengine_uring_stop(struct vsession *s);
/* 0 if this process may create an io_uring with @flags, else -errno. */
int vengine_uring_probe(unsigned flags);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * server.h - metad's RPC front: every metadata opcode (0x02xx) of
 * proto/wire_meta.h, served from the loop thread, executed on the pool.
 *
 * A request arrives on the loop thread; it gets a context (preallocated
 * on first use and reused, at most max_inflight of them; beyond that the
 * request waits in a FIFO, so memory stays bounded under any load), and
 * the context goes to a worker, which decodes the body, runs the op
 * (meta/ops.h: one KV transaction) and encodes the reply. Back on the loop
 * thread the reply is sent and counted. A slow transaction holds a worker
 * and its context, never the loop.
 *
 * Malformed bodies are answered -EBADMSG (counted, logged), unknown
 * opcodes -ENOSYS (by rpc.c).
 *
 * Threading: everything here on the loop thread.
 */
#ifndef VALOR_META_SERVER_H
#define VALOR_META_SERVER_H

#include <stdint.h>

#include "common/ctlsock.h"
#include "meta/ns.h"
#include "meta/pool.h"
#include "ring/loop.h"

struct vauth_secret;
struct msrv;

struct msrv_opts {
	const char *listen;		   /* URL; copied by rpc.c */
	const struct vauth_secret *secret; /* NULL: none; kept by pointer */
	unsigned max_inflight;		   /* contexts; 0: 64 */
};

/*
 * Listen on o->listen and serve @ns through @pool. @loop, @pool and @ns
 * must outlive the server. 0 and *out, or -errno (logged by the caller:
 * -EADDRINUSE, -EPERM for a non-loopback address without a secret, ...).
 */
int msrv_new(struct vloop *loop, struct mpool *pool, struct vns *ns,
	     const struct msrv_opts *o, struct msrv **out);

/*
 * Stop starting requests (new ones wait, and are dropped with the
 * connection at msrv_free, so clients retry elsewhere) and run @loop until
 * the requests already on workers are answered, at most @timeout_ms.
 * Returns how many are still running.
 */
int msrv_drain(struct msrv *s, int timeout_ms);
/* Close every connection and free. Drain first. NULL: no-op. */
void msrv_free(struct msrv *s);

/* The port the server listens on, or -errno. */
int msrv_port(struct msrv *s);

/* Space STATFS reports, in bytes after replication (from routing). */
void msrv_set_space(struct msrv *s, uint64_t total, uint64_t avail);

/* Per-op counts, errors and latency, queue figures: control socket. */
void msrv_report(struct msrv *s, int json, struct vctl_buf *b);

#endif

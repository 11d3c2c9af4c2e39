/* SPDX-License-Identifier: MIT */
/*
 * engine_fuse_uring.c - the kernel's FUSE-over-io_uring (protocol 7.42+).
 *
 * After INIT (answered on /dev/fuse with FUSE_OVER_IO_URING granted), one
 * queue per possible CPU is registered: a worker pinned to that CPU with an
 * SQE128 ring hands the kernel queue_depth entries by REGISTER commands. The
 * kernel completes an entry's command when it has a request for that queue
 * (the CPU of the calling task); the worker answers and fetches the next
 * with one COMMIT_AND_FETCH. FORGET and INTERRUPT still come on /dev/fuse,
 * so a plain reader thread stays on it.
 *
 * Buffers: each request buffer is [4 KiB prefix][payload]. The payload (the
 * entry's iov[1]) receives names and WRITE data; the fixed header and first
 * argument arrive in the entry's header buffer and are copied into the
 * prefix right in front of the payload, so the decoder sees one contiguous
 * message and WRITE data is never copied. READ data is produced straight into
 * the payload, which is where the kernel takes the reply from.
 *
 * If a REGISTER fails the kernel quietly returns to /dev/fuse; the worker
 * then asks the main thread to restart the session on the uring engine.
 */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/session.h"

/* enum for vreq.eng_state */
enum vfur_state {
	VFUR_IDLE = 0,		/* not handed to the kernel */
	VFUR_REGISTERED,	/* REGISTER or COMMIT_AND_FETCH in flight */
	VFUR_BUSY,		/* a request is being served */
	VFUR_REPLIED,		/* reply in the buffers, commit queued */
	VFUR_REPLIED_REMOTE,	/* reply in the buffers, owner must commit */
};

/* Per-worker entry state, indexed like w->reqs. */
struct vfur_ent {
	struct fuse_uring_req_header *hdr;
	struct iovec iov[2];
	uint8_t *base;		/* the request buffer: prefix + payload */
};

struct vfur_worker {
	struct vfur_ent *ents;
	struct fuse_uring_req_header *hdrs;
	unsigned qid;
};

static struct vfur_worker *vfur_of(struct vworker *w)
{
	return (struct vfur_worker *)w->eng_priv;
}

static inline struct vreq *vfur_req(struct vloop_op *op)
{
	return (struct vreq *)((char *)op - offsetof(struct vreq, op));
}

static unsigned vfur_index(struct vworker *w, struct vreq *r)
{
	return (unsigned)(r - w->reqs);
}

static void vfur_submit(struct vworker *w, struct vreq *r, int cmd)
{
	struct vfur_worker *fw = vfur_of(w);
	struct vfur_ent *e = &fw->ents[vfur_index(w, r)];
	struct io_uring_sqe *sqe = vloop_sqe_get(w->loop);
	struct fuse_uring_cmd_req *req;

	if (!sqe) {
		/* Retry from the next iteration; the entry stays ours. */
		vloop_post(w->loop, &r->post);
		return;
	}
	if (cmd == FUSE_IO_URING_CMD_REGISTER)
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, w->fd, e->iov, 2, 0);
	else
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, w->fd, NULL, 0, 0);
	sqe->cmd_op = (uint32_t)cmd;
	req = (struct fuse_uring_cmd_req *)sqe->cmd;
	memset(req, 0, sizeof(*req));
	req->qid = (uint16_t)fw->qid;
	req->commit_id = cmd == FUSE_IO_URING_CMD_REGISTER ? 0 : r->eng_id;
	vloop_sqe_set_op(sqe, &r->op);
	w->inflight++;
	r->next = NULL;
	r->eng_state = VFUR_REGISTERED;
	/* Remember which command to resend if the SQ was full. */
	r->len = (size_t)cmd;
}

static void vfur_post(struct vloop_post *p)
{
	struct vreq *r = (struct vreq *)((char *)p -
			 offsetof(struct vreq, post));

	if (atomic_load(&r->w->s->stopping))
		return;
	if (r->eng_state == VFUR_REGISTERED && r->len == FUSE_IO_URING_CMD_REGISTER)
		vfur_submit(r->w, r, FUSE_IO_URING_CMD_REGISTER);
	else
		vfur_submit(r->w, r, FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
}

/* Copy the reply into the entry: header into in_out, args into payload. */
static void vfur_fill_reply(struct vworker *w, struct vreq *r,
			    const struct iovec *iov, int iovcnt)
{
	struct vfur_ent *e = &vfur_of(w)->ents[vfur_index(w, r)];
	uint8_t *payload = e->base + 4096;
	size_t off = 0;

	memcpy(e->hdr->in_out, iov[0].iov_base, sizeof(struct fuse_out_header));
	for (int i = 1; i < iovcnt; i++) {
		if (iov[i].iov_base != payload + off)
			memmove(payload + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	e->hdr->ring_ent_in_out.payload_sz = (uint32_t)off;
}

static int vfur_send(struct vworker *w, struct vreq *r,
		     const struct iovec *iov, int iovcnt)
{
	vfur_fill_reply(w, r, iov, iovcnt);
	if (pthread_equal(pthread_self(), w->thread)) {
		vfur_submit(w, r, FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
		r->eng_state = VFUR_REPLIED;
	} else {
		r->eng_state = VFUR_REPLIED_REMOTE;	/* release posts it */
	}
	return 0;
}

static void vfur_release(struct vworker *w, struct vreq *r)
{
	if (r->eng_state == VFUR_REPLIED)
		return;		/* committed; the kernel owns it now */
	if (r->eng_state == VFUR_BUSY) {
		/* Dropped without a reply: every ring request needs one. */
		struct fuse_out_header h = {
			.len = sizeof(h), .error = -EIO, .unique = r->in.unique,
		};
		struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };

		vfur_fill_reply(w, r, &iov, 1);
	}
	r->eng_state = VFUR_REGISTERED;
	r->len = FUSE_IO_URING_CMD_COMMIT_AND_FETCH;
	if (pthread_equal(pthread_self(), w->thread))
		vfur_submit(w, r, FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
	else
		vloop_post(w->loop, &r->post);
}

/* A request arrived in entry @r: make it one contiguous message. */
static void vfur_request(struct vworker *w, struct vreq *r)
{
	struct vfur_ent *e = &vfur_of(w)->ents[vfur_index(w, r)];
	const struct fuse_in_header *ih = (const void *)e->hdr->in_out;
	uint32_t payload_sz = e->hdr->ring_ent_in_out.payload_sz;
	uint8_t *payload = e->base + 4096;
	size_t arg0;

	r->eng_id = e->hdr->ring_ent_in_out.commit_id;
	r->eng_state = VFUR_BUSY;
	if (ih->len < sizeof(*ih) + (size_t)payload_sz ||
	    (arg0 = ih->len - sizeof(*ih) - payload_sz) >
		    FUSE_URING_OP_IN_OUT_SZ ||
	    payload_sz > w->bufsize - 4096) {
		vlog_err("worker %d: ring request with bad sizes (len %u, "
			 "payload %u)", w->id, ih->len, payload_sz);
		r->in.unique = ih->unique;
		r->in.opcode = ih->opcode;
		vreq_reply_err(r, -EIO);
		return;
	}
	r->buf = payload - sizeof(*ih) - arg0;
	memcpy(r->buf, ih, sizeof(*ih));
	memcpy(r->buf + sizeof(*ih), e->hdr->op_in, arg0);
	r->len = ih->len;
	w->n_requests++;
	vreq_dispatch(r);
}

static void vfur_completion(struct vloop_op *op, int res, uint32_t flags)
{
	struct vreq *r = vfur_req(op);
	struct vworker *w = r->w;
	struct vsession *s = w->s;

	w->inflight--;
	if (res == 0) {
		vfur_request(w, r);
		return;
	}
	r->eng_state = VFUR_IDLE;
	if (res == -ENOTCONN || res == -ECANCELED || res == -ENODEV ||
	    atomic_load(&s->stopping) || atomic_load(&s->restart_uring))
		return;		/* unmounted, shutting down or falling back */
	if (res == -EAGAIN || res == -EINTR) {
		vfur_submit(w, r, (int)r->len);
		return;
	}
	if (r->len == FUSE_IO_URING_CMD_REGISTER) {
		if (!atomic_exchange(&s->restart_uring, 1)) {
			vlog_warn("FUSE-over-io_uring: REGISTER on queue %u "
				  "failed (%s); the kernel went back to "
				  "/dev/fuse: switching to engine uring",
				  vfur_of(w)->qid, strerror(-res));
			vsession_kick(s);
		}
		return;
	}
	vlog_err("worker %d: COMMIT_AND_FETCH failed: %s", w->id,
		 strerror(-res));
}

static void *vfur_main(void *arg)
{
	struct vworker *w = arg;
	int ret;

	vengine_thread_enter(w);
	for (unsigned i = 0; i < w->nreqs; i++) {
		w->reqs[i].op.cb = vfur_completion;
		w->reqs[i].post.fn = vfur_post;
		vfur_submit(w, &w->reqs[i], FUSE_IO_URING_CMD_REGISTER);
	}
	ret = vloop_run(w->loop);
	if (ret)
		vlog_err("queue %d: loop failed: %s", w->id, strerror(-ret));
	vworker_backend_leave(w);
	vworker_drain(w, 2000);
	return NULL;
}

static const struct vengine_ops vengine_fuse_uring_ops = {
	.name = "fuse-uring",
	.send = vfur_send,
	.release = vfur_release,
};

static void vfur_priv_free(struct vworker *w)
{
	struct vfur_worker *fw = vfur_of(w);

	if (!fw)
		return;
	free(fw->hdrs);
	free(fw->ents);
	free(fw);
	w->eng_priv = NULL;
}

static int vfur_worker_setup(struct vworker *w, unsigned qid)
{
	struct vfur_worker *fw = calloc(1, sizeof(*fw));
	/* Tests force a failed REGISTER (a payload the kernel refuses) to
	 * exercise the fallback to the uring engine. */
	const char *short_payload = getenv("VALORFS_TEST_FAIL_REGISTER");

	if (!fw)
		return -ENOMEM;
	w->eng_priv = fw;
	w->eng_priv_free = vfur_priv_free;
	fw->qid = qid;
	fw->ents = calloc(w->nreqs, sizeof(*fw->ents));
	if (posix_memalign((void **)&fw->hdrs, 4096,
			   w->nreqs * sizeof(*fw->hdrs)))
		fw->hdrs = NULL;
	if (!fw->ents || !fw->hdrs)
		return -ENOMEM;
	memset(fw->hdrs, 0, w->nreqs * sizeof(*fw->hdrs));
	for (unsigned i = 0; i < w->nreqs; i++) {
		struct vfur_ent *e = &fw->ents[i];

		e->hdr = &fw->hdrs[i];
		e->base = w->reqs[i].buf;
		e->iov[0].iov_base = e->hdr;
		e->iov[0].iov_len = sizeof(*e->hdr);
		e->iov[1].iov_base = e->base + 4096;
		e->iov[1].iov_len = w->bufsize - 4096;
		if (short_payload && atoi(short_payload) == (int)qid)
			e->iov[1].iov_len = 4096;
	}
	return 0;
}

int vengine_fuse_uring_start(struct vsession *s)
{
	unsigned nq = (unsigned)get_nprocs_conf();
	int ret = 0;

	/* Every possible CPU needs a queue, or requests from it hang. */
	s->workers = calloc(nq + 1, sizeof(*s->workers));
	if (!s->workers)
		return -ENOMEM;
	for (unsigned q = 0; q < nq; q++) {
		ret = vworker_init(&s->workers[q], s, (int)q, (int)q, s->fd, 0,
				   VLOOP_URING, IORING_SETUP_SQE128,
				   &vengine_fuse_uring_ops);
		s->nworkers = q + 1;
		if (!ret && vloop_backend_of(s->workers[q].loop) != VLOOP_URING)
			ret = -EOPNOTSUPP;
		if (ret)
			return ret;
		ret = vfur_worker_setup(&s->workers[q], q);
		if (ret)
			return ret;
	}
	/* FORGET, BATCH_FORGET and INTERRUPT still arrive on /dev/fuse. */
	ret = vworker_init(&s->workers[nq], s, (int)nq, -1, s->fd, 0,
			   VLOOP_POLL, 0, &vengine_fd_ops);
	s->nworkers = nq + 1;
	if (ret)
		return ret;

	for (unsigned q = 0; !ret && q < nq; q++)
		ret = vengine_spawn(&s->workers[q], vfur_main);
	if (!ret)
		ret = vengine_fd_thread_start(&s->workers[nq]);
	if (ret)
		return ret;
	vlog_info("engine fuse-uring: %u queues (one per possible CPU), "
		  "%u entries each of %zu KiB, plus a /dev/fuse reader for "
		  "FORGET and INTERRUPT", nq, s->cfg.queue_depth,
		  (s->bufsize - 4096) / 1024);
	return 0;
}

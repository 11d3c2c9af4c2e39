/* SPDX-License-Identifier: MIT */
/*
 * cluster_io.c - file data on the storage chains.
 *
 * An I/O (struct vcl_io) is cut into pieces, one per chunk it touches (or
 * per chain of the file's stripe for SYNC and REMOVE); all pieces are in
 * flight at once and the I/O completes when the last one does. Chunk i of
 * a file lives on chain table[(first + i % stripe) % nchains].
 *
 * Where a piece goes (storaged's contract, proto/wire_storage.h):
 *   WRITE, CUT, SYNC, REMOVE       the chain's head (first member serving
 *                                  or syncing);
 *   READ                           a serving member picked by chunk, the
 *                                  tail when the chunk is not committed.
 * What a piece does with an answer:
 *   -ESTALE, -ENXIO, -EBUSY, a lost connection or a timeout: the routing
 *     is stale or a server died: ask mgmtd for routing, retry;
 *   -EAGAIN, -EBADMSG (payload damaged on the way): retry;
 *   READ -EINPROGRESS: ask the tail; READ -EIO: ask another member;
 *   anything else is the application's error.
 * Retries back off (20 ms doubling to 1 s) until the backend's timeout.
 * A WRITE keeps its request id across retries, so the head applies it
 * once; the other ops are idempotent.
 */
#include "daemon/cluster_i.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/log.h"

struct vcl_piece {
	struct vcl_io *io;
	uint64_t index;	   /* chunk; SYNC/REMOVE/CUT: position in the stripe */
	uint32_t coff, len; /* range in the chunk */
	uint8_t *buf;	   /* READ destination, WRITE source */
	uint64_t request_id;
	uint32_t crc;
	unsigned attempt;
	unsigned skip;	 /* READ: members given up on */
	int at_tail;	 /* READ: the chunk was pending: ask the tail */
	int last_err;
	struct vrpc_call call;
	struct vloop_timer timer;
	struct iovec iov;
	uint8_t body[64];
};

_Static_assert(WIRE_STORAGE_WRITE_REQ_LEN <= 64 &&
		       WIRE_STORAGE_CUT_REQ_LEN <= 64 && WIRE_READ_REQ_LEN <= 64,
	       "a piece's body buffer holds every request it sends");

struct vcl_io {
	struct vcl_wk *wk;
	enum vcl_io_kind kind;
	uint64_t ino;
	struct vcl_layout l;
	uint64_t deadline_ns;
	/* CUT: the last chunk kept and its length, or WIRE_CUT_F_ALL */
	uint32_t cut_index, cut_len, cut_flags;
	/* MAP: records collected, and the index they are complete up to */
	uint64_t map_from, map_complete;
	struct vcl_chunk_rec *map;
	size_t nmap, capmap;
	unsigned npieces, pending;
	int err;
	vcl_io_done_fn done;
	void *arg;
	struct vcl_piece p[];
};

static const uint16_t vcl_io_opcode[] = {
	[VCL_IO_READ] = WIRE_STORAGE_READ,
	[VCL_IO_WRITE] = WIRE_STORAGE_WRITE,
	[VCL_IO_SYNC] = WIRE_STORAGE_SYNC,
	[VCL_IO_REMOVE] = WIRE_STORAGE_REMOVE,
	[VCL_IO_CUT] = WIRE_STORAGE_CUT,
	[VCL_IO_ZERO] = WIRE_STORAGE_WRITE,
	[VCL_IO_MAP] = WIRE_STORAGE_DUMP_META,
};

/* Zeros for ZERO pieces (each at most this long). */
#define VCL_ZERO_MAX (1u << 20)
static const uint8_t vcl_zeros[VCL_ZERO_MAX];

/* Chunk records a MAP piece asks a member for. */
#define VCL_MAP_PAGE 1024

void *vcl_io_arg(const struct vcl_io *io)
{
	return io->arg;
}

static int vcl_rec_cmp(const void *a, const void *b)
{
	const struct vcl_chunk_rec *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

void vcl_io_map(const struct vcl_io *io, const struct vcl_chunk_rec **recs,
		size_t *n, uint64_t *complete_to)
{
	*recs = io->map;
	*n = io->nmap;
	*complete_to = io->map_complete;
}

static void vcl_io_end(struct vcl_io *io)
{
	size_t i, j;

	if (io->kind == VCL_IO_MAP && io->nmap) {
		/* Chains overlap nowhere, but a resync may list a chunk
		 * twice: keep one record per index. */
		qsort(io->map, io->nmap, sizeof(io->map[0]), vcl_rec_cmp);
		for (i = 1, j = 0; i < io->nmap; i++)
			if (io->map[i].index != io->map[j].index)
				io->map[++j] = io->map[i];
		io->nmap = j + 1;
	}
	io->done(io, io->err);
	free(io->map);
	free(io);
}

/* A MAP piece's page: keep the file's records, note how far they go. */
static int vcl_piece_map_done(struct vcl_piece *p,
			      const struct vrpc_result *res)
{
	struct vcl_io *io = p->io;
	struct wire_storage_dump_resp *d = malloc(sizeof(*d));
	uint64_t last = io->map_from;
	int complete = 1, ret;

	if (!d)
		return -ENOMEM;
	ret = wire_storage_dump_resp_decode(res->body, res->body_len, d);
	if (ret) {
		free(d);
		return -EIO;
	}
	for (uint32_t i = 0; i < d->nrecords; i++) {
		const struct wire_chunk_meta *r = &d->records[i];

		if (r->chunk.inode != io->ino)
			break;
		if (io->nmap == io->capmap) {
			size_t cap = io->capmap ? io->capmap * 2 : 64;
			struct vcl_chunk_rec *m =
				realloc(io->map, cap * sizeof(*m));

			if (!m) {
				free(d);
				return -ENOMEM;
			}
			io->map = m;
			io->capmap = cap;
		}
		io->map[io->nmap].index = r->chunk.index;
		io->map[io->nmap++].length = r->length;
		last = r->chunk.index;
	}
	/* A full page of this file's chunks may go on past its end. */
	if (d->more && (!d->nrecords ||
			d->records[d->nrecords - 1].chunk.inode == io->ino))
		complete = 0;
	if (!complete && last < io->map_complete)
		io->map_complete = last;
	free(d);
	return 0;
}

static void vcl_piece_send(struct vcl_piece *p);
static void vcl_io_end(struct vcl_io *io);

static void vcl_piece_finish(struct vcl_piece *p, int err)
{
	struct vcl_io *io = p->io;

	if (err && !io->err)
		io->err = err;
	if (--io->pending)
		return;
	vcl_io_end(io);
}

static void vcl_piece_on_timer(struct vloop_timer *t)
{
	vcl_piece_send((struct vcl_piece *)((char *)t -
					    offsetof(struct vcl_piece, timer)));
}

/* Try again later; the routing is refreshed first when @refresh. */
static void vcl_piece_retry(struct vcl_piece *p, int err, int refresh,
			    uint32_t delay_ms)
{
	struct vcl_io *io = p->io;

	p->last_err = err;
	if (io->wk->stopped) {
		vcl_piece_finish(p, -EIO);
		return;
	}
	if (vloop_now_ns() >= io->deadline_ns) {
		vlog_warn("inode %llu chunk %llu: %s still failing after %llu "
			  "s (%s): EIO",
			  (unsigned long long)io->ino,
			  (unsigned long long)p->index,
			  wire_op_name(vcl_io_opcode[io->kind]),
			  (unsigned long long)(io->wk->cl->timeout_ns /
					       1000000000ull),
			  strerror(-err));
		vcl_piece_finish(p, -EIO);
		return;
	}
	if (refresh)
		vcl_refresh(io->wk->cl);
	atomic_fetch_add_explicit(&io->wk->cl->n_data_retries, 1,
				  memory_order_relaxed);
	vloop_timer_add(io->wk->loop, &p->timer,
			(uint64_t)delay_ms * 1000000ull);
}

static int vcl_transient(int err)
{
	return err == -ETIMEDOUT || err == -ECONNRESET ||
	       err == -ECONNREFUSED || err == -ENOTCONN ||
	       err == -EHOSTUNREACH || err == -ECANCELED || err == -EPIPE;
}

static int vcl_piece_read_done(struct vcl_piece *p,
			       const struct vrpc_result *res)
{
	struct wire_read_resp r;
	int ret;

	ret = wire_read_resp_decode(res->body, res->body_len, &r);
	if (ret)
		return -EIO;
	if (r.length > p->len || res->data_len != r.length)
		return -EIO;
	if (r.length && vcrc32c(0, p->buf, r.length) != r.crc32c)
		return -EBADMSG;
	/* Past the chunk's end (or no chunk at all): a hole. */
	if (r.length < p->len)
		memset(p->buf + r.length, 0, p->len - r.length);
	return 0;
}

static void vcl_piece_on_reply(struct vrpc_call *call,
			       const struct vrpc_result *res, void *arg)
{
	struct vcl_piece *p = arg;
	struct vcl_io *io = p->io;
	int err = res->status;
	unsigned next = p->attempt + 1;

	if (!err && io->kind == VCL_IO_MAP)
		err = vcl_piece_map_done(p, res);
	if (!err && io->kind == VCL_IO_READ) {
		err = vcl_piece_read_done(p, res);
		if (err == -EBADMSG) {
			vcl_piece_retry(p, err, 0, 0);
			return;
		}
	}
	if (!err) {
		vcl_piece_finish(p, 0);
		return;
	}
	if (res->local) {
		if (vcl_transient(err))
			vcl_piece_retry(p, err, 1, vcl_backoff_ms(next));
		else
			vcl_piece_finish(p, err == -EOVERFLOW ? -EIO : err);
		return;
	}
	switch (err) {
	case -ESTALE:
	case -ENXIO:
	case -EBUSY:
		vcl_piece_retry(p, err, 1, vcl_backoff_ms(next));
		return;
	case -EAGAIN:
	case -EBADMSG:
	case -ETIMEDOUT:
		vcl_piece_retry(p, err, 0, vcl_backoff_ms(next));
		return;
	case -EINPROGRESS:
		if (io->kind == VCL_IO_READ) {
			p->at_tail = 1;
			vcl_piece_retry(p, err, 0, p->attempt > 3 ? 10 : 0);
			return;
		}
		break;
	case -EIO:
		if (io->kind == VCL_IO_READ && p->skip + 1 < WIRE_MAX_REPLICAS) {
			p->skip++;
			p->at_tail = 0;
			vcl_piece_retry(p, err, 0, 0);
			return;
		}
		break;
	case -ENOENT:
		if (io->kind == VCL_IO_READ) {
			memset(p->buf, 0, p->len);
			vcl_piece_finish(p, 0);
			return;
		}
		if (io->kind != VCL_IO_WRITE) {
			vcl_piece_finish(p, 0);
			return;
		}
		break;
	}
	vlog_warn("inode %llu chunk %llu: %s: %s",
		  (unsigned long long)io->ino, (unsigned long long)p->index,
		  wire_op_name(vcl_io_opcode[io->kind]), strerror(-err));
	vcl_piece_finish(p, err);
}

/* Encode the piece's request for @chain; body length or -errno. */
static int vcl_piece_encode(struct vcl_piece *p, const struct vcl_chain *ch)
{
	struct vcl_io *io = p->io;
	size_t len = 0;
	int ret = -EINVAL;

	switch (io->kind) {
	case VCL_IO_MAP: {
		struct wire_storage_dump_req q = {
			.chain_id = ch->id,
			.start = {io->ino, (uint32_t)io->map_from},
			.max_records = VCL_MAP_PAGE,
		};
		ret = wire_storage_dump_req_encode(&q, p->body, sizeof(p->body),
						   &len);
		break;
	}
	case VCL_IO_ZERO:
	case VCL_IO_WRITE: {
		struct wire_storage_write_req q = {
			.w = {.chunk = {io->ino, (uint32_t)p->index},
			      .chain_id = ch->id,
			      .chain_version = ch->version,
			      .offset = p->coff,
			      .length = p->len,
			      .crc32c = p->crc},
			.client_id = io->wk->cl->client_id,
			.request_id = p->request_id,
		};
		ret = wire_storage_write_req_encode(&q, p->body,
						    sizeof(p->body), &len);
		break;
	}
	case VCL_IO_READ: {
		struct wire_read_req q = {
			.chunk = {io->ino, (uint32_t)p->index},
			.chain_id = ch->id,
			.chain_version = ch->version,
			.offset = p->coff,
			.length = p->len,
		};
		ret = wire_read_req_encode(&q, p->body, sizeof(p->body), &len);
		break;
	}
	case VCL_IO_CUT: {
		struct wire_storage_cut_req q = {
			.inode = io->ino,
			.chain_id = ch->id,
			.chain_version = ch->version,
			.index = io->cut_index,
			.length = io->cut_len,
			.flags = io->cut_flags,
			.client_id = io->wk->cl->client_id,
			.request_id = p->request_id,
		};
		ret = wire_storage_cut_req_encode(&q, p->body, sizeof(p->body),
						  &len);
		break;
	}
	case VCL_IO_SYNC: {
		struct wire_storage_sync_req q = {
			.inode = io->ino,
			.chain_id = ch->id,
			.chain_version = ch->version,
		};
		ret = wire_storage_sync_req_encode(&q, p->body,
						   sizeof(p->body), &len);
		break;
	}
	case VCL_IO_REMOVE: {
		struct wire_storage_remove_req q = {
			.inode = io->ino,
			.chain_id = ch->id,
			.chain_version = ch->version,
		};
		ret = wire_storage_remove_req_encode(&q, p->body,
						     sizeof(p->body), &len);
		break;
	}
	}
	return ret ? ret : (int)len;
}

/* The member a piece goes to, or -1 (none available now). */
static int vcl_piece_member(struct vcl_piece *p, const struct vcl_chain *ch)
{
	if (p->io->kind != VCL_IO_READ && p->io->kind != VCL_IO_MAP)
		return ch->head;
	if (p->at_tail && ch->tail >= 0 &&
	    ch->state[ch->tail] == WIRE_PUBLIC_SERVING)
		return ch->tail;
	if (!ch->nserving)
		return -1;
	/* Spread reads over the replicas by chunk; skip the failed ones. */
	return ch->serving[(p->io->ino * 31 + p->index + p->skip) %
			   ch->nserving];
}

static void vcl_piece_send(struct vcl_piece *p)
{
	struct vcl_io *io = p->io;
	struct vcl_wk *wk = io->wk;
	struct vcl_route *rt = vcl_wk_route(wk);
	const struct vcl_chain *ch;
	struct vrpc_client *cli;
	uint32_t pos, chain;
	int member, len, ret, writes;

	p->attempt++;
	wk->n_data++;
	if (!rt || !rt->ntable) {
		vcl_piece_retry(p, -ENOSPC, 1, vcl_backoff_ms(p->attempt));
		return;
	}
	pos = io->kind == VCL_IO_READ || io->kind == VCL_IO_WRITE ||
			      io->kind == VCL_IO_ZERO
		      ? (uint32_t)(p->index % io->l.stripe)
		      : (uint32_t)p->index;
	chain = vcl_route_stripe_chain(rt, io->l.first_chain, pos);
	ch = vcl_route_chain(rt, chain);
	member = ch ? vcl_piece_member(p, ch) : -1;
	if (member < 0) {
		vcl_piece_retry(p, -EHOSTUNREACH, 1,
				vcl_backoff_ms(p->attempt));
		return;
	}
	cli = vcl_wk_node(wk, ch->node[member]);
	if (!cli) {
		vcl_piece_retry(p, -EHOSTUNREACH, 1,
				vcl_backoff_ms(p->attempt));
		return;
	}
	len = vcl_piece_encode(p, ch);
	if (len < 0) {
		vcl_piece_finish(p, len);
		return;
	}
	writes = io->kind == VCL_IO_WRITE || io->kind == VCL_IO_ZERO;
	if (writes) {
		p->iov.iov_base = p->buf;
		p->iov.iov_len = p->len;
	}
	ret = vrpc_call(cli, vcl_io_opcode[io->kind], p->body, (uint32_t)len,
			writes ? &p->iov : NULL, writes ? 1 : 0,
			io->kind == VCL_IO_READ ? p->buf : NULL,
			io->kind == VCL_IO_READ ? p->len : 0, VCL_DATA_CALL_MS,
			vcl_piece_on_reply, p, &p->call);
	if (ret)
		vcl_piece_retry(p, ret, 0, vcl_backoff_ms(p->attempt));
}

/* Pieces of [off, off + len) cut at chunk boundaries. */
static unsigned vcl_io_count(uint64_t off, uint64_t len, uint32_t cs)
{
	if (!len)
		return 0;
	return (unsigned)((off + len - 1) / cs - off / cs + 1);
}

int vcl_io_start(struct vcl_wk *wk, enum vcl_io_kind kind, uint64_t ino,
		 const struct vcl_layout *l, uint64_t off, uint64_t len,
		 void *buf, vcl_io_done_fn done, void *arg)
{
	uint32_t cs = l->chunk_size;
	unsigned n, stripe = l->stripe ? l->stripe : 1;
	uint32_t unit;
	struct vcl_io *io;

	if (!cs || cs > WIRE_CHUNK_SIZE_MAX)
		return -EINVAL;
	unit = kind == VCL_IO_ZERO && cs > VCL_ZERO_MAX ? VCL_ZERO_MAX : cs;
	switch (kind) {
	case VCL_IO_READ:
	case VCL_IO_WRITE:
	case VCL_IO_ZERO:
		n = vcl_io_count(off, len, unit);
		break;
	default:
		n = stripe;
		break;
	}
	io = calloc(1, sizeof(*io) + (size_t)(n ? n : 1) * sizeof(io->p[0]));
	if (!io)
		return -ENOMEM;
	io->wk = wk;
	io->kind = kind;
	io->ino = ino;
	io->l = *l;
	io->l.stripe = stripe;
	io->deadline_ns = vloop_now_ns() + wk->cl->timeout_ns;
	io->done = done;
	io->arg = arg;
	io->npieces = n;
	io->map_from = off;
	io->map_complete = UINT64_MAX;
	if (kind == VCL_IO_CUT && off) {
		io->cut_index = (uint32_t)((off - 1) / cs);
		io->cut_len = (uint32_t)(off - (uint64_t)io->cut_index * cs);
	} else if (kind == VCL_IO_CUT) {
		io->cut_flags = WIRE_CUT_F_ALL;
	}
	for (unsigned i = 0; i < n; i++) {
		struct vcl_piece *p = &io->p[i];

		p->io = io;
		vrpc_call_init(&p->call);
		vloop_timer_init(&p->timer, vcl_piece_on_timer);
		if (kind == VCL_IO_READ || kind == VCL_IO_WRITE ||
		    kind == VCL_IO_ZERO) {
			/* Piece i covers [pos, end): cut at @unit boundaries,
			 * which are chunk boundaries too (both powers of 2). */
			uint64_t pos = off + (i ? (uint64_t)unit - off % unit +
							  (uint64_t)(i - 1) * unit
						: 0);
			uint64_t end = (pos / unit + 1) * unit;

			if (end > off + len)
				end = off + len;
			p->index = pos / cs;
			p->coff = (uint32_t)(pos % cs);
			p->len = (uint32_t)(end - pos);
			p->buf = kind == VCL_IO_ZERO
					 ? (uint8_t *)vcl_zeros
					 : (uint8_t *)buf + (pos - off);
		} else {
			p->index = i;
		}
		if (kind == VCL_IO_WRITE || kind == VCL_IO_ZERO)
			p->crc = vcrc32c(0, p->buf, p->len);
		if (kind == VCL_IO_WRITE || kind == VCL_IO_ZERO ||
		    kind == VCL_IO_CUT)
			p->request_id =
				atomic_fetch_add(&wk->cl->wr_seq, 1) + 1;
	}
	/* One extra count so a piece finishing at once cannot free @io
	 * while the loop below still walks it. */
	io->pending = n + 1;
	for (unsigned i = 0; i < n; i++)
		vcl_piece_send(&io->p[i]);
	if (--io->pending == 0)
		vcl_io_end(io);
	return 0;
}

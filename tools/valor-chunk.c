/* SPDX-License-Identifier: MIT */
/*
 * valor-chunk - a test client of valor-storaged: chunk I/O by hand, a
 * stream of writes that rides through failovers, and a replica checker.
 *
 *   valor-chunk --mgmtd URL [--secret FILE] [--timeout S] [--first N]
 *               [--stripe N] COMMAND [options]
 *
 * Commands (chunk i of inode N lives on the chain of wire_storage.h's
 * placement rule, with --first and --stripe as the file's layout):
 *   write  --inode N --index I [--offset O] (--file F | --length L [--seed S])
 *   read   --inode N --index I [--offset O] [--length L] [--member K]
 *          [--out F]           (default: any SERVING member; K: index in
 *                               the chain, any state)
 *   stream --inode N --chunks C [--chunk-size B] [--seed S] [--delay-ms D]
 *          write C whole chunks of pattern data, retrying as the client
 *          contract says (refresh routing on -ESTALE/-ENXIO, back off on
 *          -EAGAIN and lost connections, same idempotency key)
 *   check  --inode N --chunks C [--chunk-size B] [--seed S]
 *          read the stream back from SERVING members and compare
 *   cut    --inode N --size F [--chunk-size B]   (CUT on every chain)
 *   remove --inode N                  (REMOVE on every chain)
 *   sync   --inode N                  (SYNC on every chain)
 *   last   --inode N                  (QUERY_LAST_CHUNK on every chain)
 *   verify every chunk of every chain on every member (DUMP_META, then
 *          READ of each chunk): the records and bytes must be identical
 *   raw    --url URL --opcode N [--body-hex HEX]   send one request with
 *          any body to one server (no mgmtd needed) and print the status
 *          it answered: for testing how servers take malformed input
 *
 * The client follows routing through rdma/mgmtc.h (role 0: it registers
 * nothing), one loop, one synchronous call at a time.
 *
 * Exit status: 0 ok; 1 an operation failed or replicas differ; 2 usage;
 * 3 mgmtd unreachable; 4 authentication failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "common/url.h"
#include "proto/wire_msg.h"
#include "proto/wire_storage.h"
#include "rdma/mgmtc.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

enum vchk_exit {
	VCHK_OK = 0,
	VCHK_EFAIL = 1,
	VCHK_EUSAGE = 2,
	VCHK_EREACH = 3,
	VCHK_EAUTH = 4,
};

struct vchk_opts {
	const char *mgmtd;
	const char *secret;
	int timeout_ms; /* overall bound of one operation with its retries */
	uint32_t first, stripe;
	const char *cmd;
	uint64_t inode;
	uint32_t index, offset, length, chunks, chunk_size, delay_ms;
	int have_length, have_index, have_inode;
	int member; /* -1: any serving */
	uint64_t seed, size;
	int have_size;
	const char *file, *out;
	const char *url, *body_hex;
	uint32_t opcode;
};

struct vchk_peer {
	struct vchk_peer *next;
	char url[WIRE_URL_MAX + 1];
	struct vrpc_client *cli;
};

struct vchk {
	struct vchk_opts o;
	struct vloop *loop;
	struct vauth_secret *secret;
	struct vmgmtc *mgmtc;
	struct vchk_peer *peers;
	uint64_t client_id, next_req;
	uint64_t retries, refreshes;
	/* the call in flight */
	struct vrpc_call call;
	int done, status, local;
	uint8_t body[WIRE_STORAGE_DUMP_RESP_MAX_LEN];
	uint32_t body_len, data_len;
};

/* ---- calls ----------------------------------------------------------------- */

static struct vrpc_client *vchk_client(struct vchk *c, const char *url)
{
	struct vrpc_client_opts o = {.backoff_min_ms = 100,
				     .backoff_max_ms = 500};
	struct vchk_peer *p;

	for (p = c->peers; p; p = p->next)
		if (!strcmp(p->url, url))
			return p->cli;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	snprintf(p->url, sizeof(p->url), "%s", url);
	if (vrpc_client_new(c->loop, url, c->secret, &o, &p->cli) < 0) {
		free(p);
		return NULL;
	}
	p->next = c->peers;
	c->peers = p;
	return p->cli;
}

static void vchk_call_done(struct vrpc_call *call, const struct vrpc_result *r,
			   void *arg)
{
	struct vchk *c = arg;

	c->done = 1;
	c->status = r->status;
	c->local = r->local;
	c->body_len = 0;
	c->data_len = r->data_len;
	if (!r->status && r->body_len && r->body_len <= sizeof(c->body)) {
		memcpy(c->body, r->body, r->body_len);
		c->body_len = r->body_len;
	}
}

/*
 * One synchronous call: 0 or -errno (the server's status, or a local one).
 * Reply data lands in @rbuf (@rcap bytes); c->data_len tells how much.
 */
static int vchk_call(struct vchk *c, const char *url, uint16_t op,
		     const void *body, size_t len, const void *data,
		     uint32_t dlen, void *rbuf, size_t rcap, int timeout_ms)
{
	struct vrpc_client *cli = vchk_client(c, url);
	struct iovec iov = {(void *)data, dlen};
	int ret;

	if (!cli)
		return -ENOMEM;
	vrpc_call_init(&c->call);
	c->done = 0;
	ret = vrpc_call(cli, op, body, (uint32_t)len, dlen ? &iov : NULL,
			dlen ? 1 : 0, rbuf, rcap, timeout_ms, vchk_call_done, c,
			&c->call);
	if (ret < 0)
		return ret;
	while (!c->done) {
		ret = vloop_run_once(c->loop, -1);
		if (ret < 0)
			return ret;
	}
	return c->status;
}

/* ---- routing ---------------------------------------------------------------- */

static const struct wire_routing *vchk_routing(struct vchk *c)
{
	return vmgmtc_routing(c->mgmtc);
}

/* Pull routing and wait (at most @ms) for a version newer than ours. */
static void vchk_refresh(struct vchk *c, int ms)
{
	uint64_t v = vchk_routing(c) ? vchk_routing(c)->version : 0;
	uint64_t end = vloop_now_ns() + (uint64_t)ms * 1000000ull;

	c->refreshes++;
	vmgmtc_refresh(c->mgmtc);
	while (vloop_now_ns() < end) {
		vloop_run_once(c->loop, 50);
		if (vchk_routing(c) && vchk_routing(c)->version != v)
			return;
	}
}

static void vchk_sleep(struct vchk *c, int ms)
{
	uint64_t end = vloop_now_ns() + (uint64_t)ms * 1000000ull;

	while (vloop_now_ns() < end)
		vloop_run_once(c->loop, 20);
}

static const struct wire_routing_chain *vchk_chain_of(struct vchk *c,
						      uint64_t index)
{
	const struct wire_routing *r = vchk_routing(c);
	uint32_t id = vrouting_chunk_chain(r, c->o.first,
					   c->o.stripe ? c->o.stripe
						       : r->table.nchains,
					   index);

	return id ? vrouting_chain(r, id) : NULL;
}

static const char *vchk_member_url(struct vchk *c,
				   const struct wire_routing_chain *ch, int k)
{
	if (k < 0 || (uint32_t)k >= ch->ntargets)
		return NULL;
	return vrouting_target_url(vchk_routing(c), ch->target_ids[k]);
}

/*
 * What the contract says to do with @err: 1 refresh and retry, 2 back off
 * and retry, 0 final.
 */
static int vchk_retry_kind(struct vchk *c, int err)
{
	switch (err) {
	case -ESTALE:
	case -ENXIO:
	case -EBUSY:
		return 1;
	case -EAGAIN:
	case -EBADMSG:
	case -EINPROGRESS:
	case -ETIMEDOUT:
	case -ECONNRESET:
	case -ECONNREFUSED:
	case -ENOTCONN:
		return 2;
	default:
		return c->local ? 2 : 0;
	}
}

/*
 * Run an update at the head of the chain of chunk @index (or of chain
 * @chain_id when nonzero) until it succeeds, fails for good or the
 * timeout passes. @mk encodes the body for the chain (id, version).
 */
typedef int (*vchk_mk_fn)(struct vchk *c, const struct wire_routing_chain *ch,
			  void *arg, uint8_t *buf, size_t *len);

static int vchk_update(struct vchk *c, uint64_t index, uint32_t chain_id,
		       uint16_t op, vchk_mk_fn mk, void *arg, const void *data,
		       uint32_t dlen)
{
	uint64_t end = vloop_now_ns() + (uint64_t)c->o.timeout_ms * 1000000ull;
	uint8_t body[128];
	int backoff = 50, ret = -ETIMEDOUT, kind;

	while (vloop_now_ns() < end) {
		const struct wire_routing_chain *ch =
			chain_id ? vrouting_chain(vchk_routing(c), chain_id)
				 : vchk_chain_of(c, index);
		const char *url = NULL;
		size_t len = 0;

		if (ch)
			url = vchk_member_url(c, ch, vrouting_chain_head(ch));
		if (!url) {
			ret = -ENXIO;
			vchk_refresh(c, 300);
			continue;
		}
		ret = mk(c, ch, arg, body, &len);
		if (ret < 0)
			return ret;
		ret = vchk_call(c, url, op, body, len, data, dlen, NULL, 0,
				5000);
		if (!ret)
			return 0;
		kind = vchk_retry_kind(c, ret);
		if (!kind)
			return ret;
		c->retries++;
		if (kind == 1) {
			vchk_refresh(c, 300);
		} else {
			vchk_sleep(c, backoff);
			if (backoff < 1000)
				backoff *= 2;
			/* A member may have died: routing will say so. */
			vmgmtc_refresh(c->mgmtc);
		}
	}
	return ret;
}

/* ---- data ------------------------------------------------------------------- */

/* Pattern bytes of (seed, inode, index) from byte @off on. */
static void vchk_pattern(uint64_t seed, uint64_t inode, uint32_t index,
			 uint32_t off, uint8_t *p, size_t n)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull ^ inode * 0xbf58476d1ce4e5b9ull ^
		     (uint64_t)index * 0x94d049bb133111ebull;

	for (size_t i = 0; i < n; i++) {
		uint64_t v = x + (off + i) / 8;

		v ^= v >> 31;
		v *= 0x7fb5d329728ea185ull;
		v ^= v >> 27;
		p[i] = (uint8_t)(v >> (8 * ((off + i) % 8)));
	}
}

struct vchk_wr {
	uint64_t inode;
	uint32_t index, off, len, crc;
	uint64_t req;
};

static int vchk_mk_write(struct vchk *c, const struct wire_routing_chain *ch,
			 void *arg, uint8_t *buf, size_t *len)
{
	struct vchk_wr *w = arg;
	struct wire_storage_write_req q = {
		.w = {
			.chunk = {w->inode, w->index},
			.chain_id = ch->id,
			.chain_version = ch->version,
			.offset = w->off,
			.length = w->len,
			.crc32c = w->crc,
		},
		.client_id = c->client_id,
		.request_id = w->req,
	};

	return wire_storage_write_req_encode(&q, buf, 128, len);
}

static int vchk_write_chunk(struct vchk *c, uint64_t inode, uint32_t index,
			    uint32_t off, const void *data, uint32_t len)
{
	struct vchk_wr w = {inode, index, off, len, vcrc32c(0, data, len),
			    ++c->next_req};

	return vchk_update(c, index, 0, WIRE_STORAGE_WRITE, vchk_mk_write, &w,
			   data, len);
}

/*
 * Read [off, off+len) of a chunk from member @member (-1: a SERVING one,
 * the tail after -EINPROGRESS), retrying like the client does. The bytes
 * read, or -errno.
 */
static ssize_t vchk_read_chunk(struct vchk *c, uint64_t inode, uint32_t index,
			       uint32_t off, uint32_t len, int member,
			       void *buf, uint64_t *ver)
{
	uint64_t end = vloop_now_ns() + (uint64_t)c->o.timeout_ms * 1000000ull;
	struct wire_read_resp resp;
	int ret = -ETIMEDOUT, at_tail = 0, kind, rr = (int)(index % 7);

	while (vloop_now_ns() < end) {
		const struct wire_routing_chain *ch = vchk_chain_of(c, index);
		struct wire_read_req q;
		const char *url = NULL;
		uint8_t body[WIRE_READ_REQ_LEN];
		size_t blen = 0;
		int k = member;

		if (ch && k < 0) {
			/* a SERVING member, round robin; the tail when told */
			k = at_tail ? vrouting_chain_tail(ch) : -1;
			for (uint32_t i = 0; k < 0 && i < ch->ntargets; i++) {
				uint32_t j = (uint32_t)(rr + (int)i) %
					     ch->ntargets;

				if (ch->states[j] == WIRE_PUBLIC_SERVING)
					k = (int)j;
			}
		}
		if (ch)
			url = vchk_member_url(c, ch, k);
		if (!url) {
			ret = -ENXIO;
			vchk_refresh(c, 300);
			continue;
		}
		q.chunk.inode = inode;
		q.chunk.index = index;
		q.chain_id = ch->id;
		q.chain_version = ch->version;
		q.offset = off;
		q.length = len;
		wire_read_req_encode(&q, body, sizeof(body), &blen);
		ret = vchk_call(c, url, WIRE_STORAGE_READ, body, blen, NULL, 0,
				buf, len, 5000);
		if (!ret) {
			ret = wire_read_resp_decode(c->body, c->body_len, &resp);
			if (!ret && (resp.length != c->data_len ||
				     vcrc32c(0, buf, resp.length) !=
					     resp.crc32c))
				ret = -EBADMSG;
			if (!ret) {
				if (ver)
					*ver = resp.update_version;
				return resp.length;
			}
		}
		kind = vchk_retry_kind(c, ret);
		if (!kind || (member >= 0 && ret == -EBUSY))
			return ret;
		c->retries++;
		if (ret == -EINPROGRESS)
			at_tail = 1;
		rr++;
		if (kind == 1)
			vchk_refresh(c, 300);
		else
			vchk_sleep(c, 50);
	}
	return ret;
}

/* ---- commands --------------------------------------------------------------- */

static int vchk_load_file(const char *path, uint8_t **out, uint32_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    n > (long)WIRE_CHUNK_SIZE_MAX || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EFBIG;
	}
	p = malloc(n ? (size_t)n : 1);
	if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*out = p;
	*len = (uint32_t)n;
	return 0;
}

static int vchk_cmd_write(struct vchk *c)
{
	uint8_t *data = NULL;
	uint32_t len = c->o.length;
	int ret;

	if (c->o.file) {
		ret = vchk_load_file(c->o.file, &data, &len);
		if (ret < 0) {
			fprintf(stderr, "valor-chunk: %s: %s\n", c->o.file,
				strerror(-ret));
			return VCHK_EFAIL;
		}
	} else {
		data = malloc(len ? len : 1);
		if (!data)
			return VCHK_EFAIL;
		vchk_pattern(c->o.seed, c->o.inode, c->o.index, c->o.offset,
			     data, len);
	}
	ret = vchk_write_chunk(c, c->o.inode, c->o.index, c->o.offset, data,
			       len);
	free(data);
	if (ret < 0) {
		fprintf(stderr, "valor-chunk: write %" PRIu64 ":%u: %s\n",
			c->o.inode, c->o.index, strerror(-ret));
		return VCHK_EFAIL;
	}
	printf("wrote %u bytes at %u of chunk %" PRIu64 ":%u\n", len,
	       c->o.offset, c->o.inode, c->o.index);
	return VCHK_OK;
}

static int vchk_cmd_read(struct vchk *c)
{
	uint32_t len = c->o.have_length ? c->o.length : WIRE_CHUNK_SIZE_MAX;
	uint8_t *buf = malloc(len ? len : 1);
	FILE *f = stdout;
	ssize_t n;

	if (!buf)
		return VCHK_EFAIL;
	n = vchk_read_chunk(c, c->o.inode, c->o.index, c->o.offset, len,
			    c->o.member, buf, NULL);
	if (n < 0) {
		fprintf(stderr, "valor-chunk: read %" PRIu64 ":%u: %s\n",
			c->o.inode, c->o.index, strerror((int)-n));
		free(buf);
		return VCHK_EFAIL;
	}
	if (c->o.out && !(f = fopen(c->o.out, "wb"))) {
		fprintf(stderr, "valor-chunk: %s: %s\n", c->o.out,
			strerror(errno));
		free(buf);
		return VCHK_EFAIL;
	}
	if (fwrite(buf, 1, (size_t)n, f) != (size_t)n)
		n = -EIO;
	if (f != stdout)
		fclose(f);
	free(buf);
	return n < 0 ? VCHK_EFAIL : VCHK_OK;
}

static int vchk_cmd_stream(struct vchk *c, int check)
{
	uint32_t cs = c->o.chunk_size, bad = 0;
	uint8_t *want = malloc(cs), *got = malloc(cs);
	uint64_t t0 = vloop_now_ns();
	int ret = 0;

	if (!want || !got) {
		free(want);
		free(got);
		return VCHK_EFAIL;
	}
	for (uint32_t i = 0; i < c->o.chunks; i++) {
		uint32_t idx = c->o.index + i;
		ssize_t n;

		vchk_pattern(c->o.seed, c->o.inode, idx, 0, want, cs);
		if (!check) {
			ret = vchk_write_chunk(c, c->o.inode, idx, 0, want, cs);
			if (ret < 0) {
				fprintf(stderr,
					"valor-chunk: stream: chunk %u: %s\n",
					idx, strerror(-ret));
				break;
			}
			if (c->o.delay_ms)
				vchk_sleep(c, (int)c->o.delay_ms);
			continue;
		}
		n = vchk_read_chunk(c, c->o.inode, idx, 0, cs, -1, got, NULL);
		if (n != (ssize_t)cs || memcmp(want, got, cs)) {
			if (bad++ < 10)
				fprintf(stderr,
					"valor-chunk: check: chunk %u: %s\n",
					idx,
					n < 0 ? strerror((int)-n)
					      : "wrong data");
		}
	}
	free(want);
	free(got);
	if (check) {
		printf("checked %u chunk(s) of %u bytes: %u bad, %" PRIu64
		       " retries\n",
		       c->o.chunks, cs, bad, c->retries);
		return bad ? VCHK_EFAIL : VCHK_OK;
	}
	if (ret < 0)
		return VCHK_EFAIL;
	printf("wrote %u chunk(s) of %u bytes in %.1f s: %" PRIu64
	       " retries, %" PRIu64 " routing refreshes\n",
	       c->o.chunks, cs, (vloop_now_ns() - t0) / 1e9, c->retries,
	       c->refreshes);
	return VCHK_OK;
}

/* ---- per-chain commands ----------------------------------------------------- */

struct vchk_inode_op {
	uint64_t inode;
	uint32_t index, length, flags;
	uint64_t req;
};

static int vchk_mk_inode(struct vchk *c, const struct wire_routing_chain *ch,
			 void *arg, uint8_t *buf, size_t *len, uint16_t op)
{
	struct vchk_inode_op *x = arg;
	struct wire_storage_cut_req cut = {
		.inode = x->inode,
		.chain_id = ch->id,
		.chain_version = ch->version,
		.index = x->index,
		.length = x->length,
		.flags = x->flags,
		.client_id = c->client_id,
		.request_id = x->req,
	};
	struct wire_storage_remove_req rm = {x->inode, ch->id, ch->version};

	if (op == WIRE_STORAGE_CUT)
		return wire_storage_cut_req_encode(&cut, buf, 128, len);
	return wire_storage_remove_req_encode(&rm, buf, 128, len);
}

static int vchk_mk_cut(struct vchk *c, const struct wire_routing_chain *ch,
		       void *arg, uint8_t *buf, size_t *len)
{
	return vchk_mk_inode(c, ch, arg, buf, len, WIRE_STORAGE_CUT);
}

/* REMOVE and SYNC share the body layout. */
static int vchk_mk_plain(struct vchk *c, const struct wire_routing_chain *ch,
			 void *arg, uint8_t *buf, size_t *len)
{
	return vchk_mk_inode(c, ch, arg, buf, len, WIRE_STORAGE_REMOVE);
}

/* The chain ids of the file's stripe (distinct), *n of them. */
static uint32_t vchk_stripe_chains(struct vchk *c, uint32_t *ids)
{
	const struct wire_routing *r = vchk_routing(c);
	uint32_t stripe = c->o.stripe ? c->o.stripe : r->table.nchains, n = 0;

	for (uint32_t i = 0; i < stripe && i < WIRE_MAX_CHAINS; i++) {
		uint32_t id = vrouting_chunk_chain(r, c->o.first, stripe, i);
		uint32_t k;

		for (k = 0; k < n && ids[k] != id; k++)
			;
		if (k == n && id)
			ids[n++] = id;
	}
	return n;
}

static int vchk_cmd_inode(struct vchk *c)
{
	static uint32_t ids[WIRE_MAX_CHAINS];
	struct vchk_inode_op x = {.inode = c->o.inode, .req = ++c->next_req};
	uint32_t n = vchk_stripe_chains(c, ids);
	int ret = 0, failed = 0;
	uint16_t op;
	vchk_mk_fn mk = vchk_mk_plain;

	if (!strcmp(c->o.cmd, "cut")) {
		op = WIRE_STORAGE_CUT;
		mk = vchk_mk_cut;
		if (!c->o.size) {
			x.flags = WIRE_CUT_F_ALL;
		} else {
			x.index = (uint32_t)((c->o.size - 1) / c->o.chunk_size);
			x.length = (uint32_t)(c->o.size -
					      (uint64_t)x.index * c->o.chunk_size);
		}
	} else if (!strcmp(c->o.cmd, "remove")) {
		op = WIRE_STORAGE_REMOVE;
	} else if (!strcmp(c->o.cmd, "sync")) {
		op = WIRE_STORAGE_SYNC;
	} else {
		op = WIRE_STORAGE_QUERY_LAST_CHUNK;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (op == WIRE_STORAGE_QUERY_LAST_CHUNK) {
			const struct wire_routing_chain *ch =
				vrouting_chain(vchk_routing(c), ids[i]);
			struct wire_storage_last_req q = {c->o.inode, ch->id,
							  ch->version};
			struct wire_storage_last_resp resp;
			const char *url =
				vchk_member_url(c, ch, vrouting_chain_tail(ch));
			uint8_t body[WIRE_STORAGE_LAST_REQ_LEN];
			size_t len = 0;

			wire_storage_last_req_encode(&q, body, sizeof(body),
						     &len);
			ret = url ? vchk_call(c, url, op, body, len, NULL, 0,
					      NULL, 0, 5000)
				  : -ENXIO;
			if (!ret)
				ret = wire_storage_last_resp_decode(
					c->body, c->body_len, &resp);
			if (!ret)
				printf("chain %u: %s index %u length %u\n",
				       ch->id, resp.found ? "last" : "none",
				       resp.index, resp.length);
		} else {
			ret = vchk_update(c, 0, ids[i], op, mk, &x, NULL, 0);
			if (!ret)
				printf("chain %u: %s done\n", ids[i],
				       wire_op_name(op));
		}
		if (ret < 0) {
			fprintf(stderr, "valor-chunk: %s on chain %u: %s\n",
				c->o.cmd, ids[i], strerror(-ret));
			failed = 1;
		}
	}
	return failed ? VCHK_EFAIL : VCHK_OK;
}

/* ---- verify ----------------------------------------------------------------- */

struct vchk_dump {
	struct wire_chunk_meta *v;
	size_t n, cap;
};

static int vchk_dump_member(struct vchk *c, const char *url, uint32_t chain_id,
			    struct vchk_dump *d)
{
	static struct wire_storage_dump_resp page;
	struct wire_storage_dump_req q = {.chain_id = chain_id,
					  .max_records = WIRE_DUMP_META_MAX};
	uint8_t body[WIRE_STORAGE_DUMP_REQ_LEN];
	size_t len = 0;
	int ret;

	d->n = 0;
	for (;;) {
		wire_storage_dump_req_encode(&q, body, sizeof(body), &len);
		ret = vchk_call(c, url, WIRE_STORAGE_DUMP_META, body, len, NULL,
				0, NULL, 0, 5000);
		if (!ret)
			ret = wire_storage_dump_resp_decode(c->body, c->body_len,
							    &page);
		if (ret < 0)
			return ret;
		for (uint32_t i = 0; i < page.nrecords; i++) {
			if (d->n == d->cap) {
				size_t cap = d->cap ? d->cap * 2 : 1024;
				void *v = realloc(d->v, cap * sizeof(*d->v));

				if (!v)
					return -ENOMEM;
				d->v = v;
				d->cap = cap;
			}
			d->v[d->n++] = page.records[i];
		}
		if (!page.more)
			return 0;
		q.start = page.next;
	}
}

static int vchk_meta_eq(const struct wire_chunk_meta *a,
			const struct wire_chunk_meta *b)
{
	return a->chunk.inode == b->chunk.inode &&
	       a->chunk.index == b->chunk.index && a->length == b->length &&
	       a->committed_ver == b->committed_ver &&
	       a->pending_ver == b->pending_ver;
}

/* Compare every member of chain @ch (a copy: routing may change under
 * us); the number of differences. *@stale is set when a member answered
 * -ESTALE: the chain changed meanwhile and the caller verifies it again. */
static uint64_t vchk_verify_chain(struct vchk *c,
				  const struct wire_routing_chain *ch,
				  uint64_t *nchunks, int *stale)
{
	struct vchk_dump d[WIRE_MAX_REPLICAS] = {{0}};
	uint8_t *ref = NULL, *got = NULL;
	uint64_t diffs = 0;
	uint32_t m = ch->ntargets < WIRE_MAX_REPLICAS ? ch->ntargets
						      : WIRE_MAX_REPLICAS;
	int ret;

	for (uint32_t k = 0; k < m; k++) {
		const char *url = vchk_member_url(c, ch, (int)k);

		if (ch->states[k] != WIRE_PUBLIC_SERVING) {
			printf("chain %u member %u (target %u) is %s: not "
			       "verified\n",
			       ch->id, k, ch->target_ids[k],
			       wire_public_state_name(ch->states[k]));
			diffs++;
			goto out;
		}
		ret = url ? vchk_dump_member(c, url, ch->id, &d[k]) : -ENXIO;
		if (ret == -ESTALE)
			*stale = 1;
		if (ret < 0) {
			printf("chain %u member %u (target %u): DUMP_META: "
			       "%s\n",
			       ch->id, k, ch->target_ids[k], strerror(-ret));
			diffs++;
			goto out;
		}
	}
	*nchunks += d[0].n;
	for (uint32_t k = 1; k < m; k++) {
		if (d[k].n != d[0].n) {
			printf("chain %u: target %u holds %zu chunk(s), target "
			       "%u %zu\n",
			       ch->id, ch->target_ids[0], d[0].n,
			       ch->target_ids[k], d[k].n);
			diffs++;
			goto out;
		}
	}
	ref = malloc(WIRE_CHUNK_SIZE_MAX);
	got = malloc(WIRE_CHUNK_SIZE_MAX);
	if (!ref || !got) {
		diffs++;
		goto out;
	}
	for (size_t i = 0; i < d[0].n; i++) {
		const struct wire_chunk_meta *a = &d[0].v[i];
		ssize_t n0 = -1;

		for (uint32_t k = 1; k < m; k++) {
			if (!vchk_meta_eq(a, &d[k].v[i])) {
				printf("chain %u chunk %" PRIu64 ":%u: "
				       "records differ on target %u (length "
				       "%u/%u, version %" PRIu64 "/%" PRIu64
				       ")\n",
				       ch->id, a->chunk.inode, a->chunk.index,
				       ch->target_ids[k], a->length,
				       d[k].v[i].length, a->committed_ver,
				       d[k].v[i].committed_ver);
				diffs++;
			}
		}
		for (uint32_t k = 0; k < m; k++) {
			uint8_t *buf = k ? got : ref;
			const char *url = vchk_member_url(c, ch, (int)k);
			struct wire_read_req q = {
				.chunk = a->chunk,
				.chain_id = ch->id,
				.chain_version = ch->version,
				.length = a->length,
			};
			uint8_t body[WIRE_READ_REQ_LEN];
			size_t len = 0;
			ssize_t n;

			wire_read_req_encode(&q, body, sizeof(body), &len);
			ret = vchk_call(c, url, WIRE_STORAGE_READ, body, len,
					NULL, 0, buf, WIRE_CHUNK_SIZE_MAX,
					5000);
			if (ret == -ESTALE)
				*stale = 1;
			n = ret < 0 ? ret : (ssize_t)c->data_len;
			if (n < 0) {
				printf("chain %u chunk %" PRIu64 ":%u: READ at "
				       "target %u: %s\n",
				       ch->id, a->chunk.inode, a->chunk.index,
				       ch->target_ids[k], strerror((int)-n));
				diffs++;
				continue;
			}
			if (!k) {
				n0 = n;
			} else if (n != n0 || memcmp(ref, got, (size_t)n)) {
				printf("chain %u chunk %" PRIu64 ":%u: bytes "
				       "differ on target %u\n",
				       ch->id, a->chunk.inode, a->chunk.index,
				       ch->target_ids[k]);
				diffs++;
			}
		}
	}
out:
	free(ref);
	free(got);
	for (uint32_t k = 0; k < m; k++)
		free(d[k].v);
	return diffs;
}

static int vchk_cmd_verify(struct vchk *c)
{
	const struct wire_routing *r = vchk_routing(c);
	uint64_t diffs = 0, chunks = 0, d = 0, n = 0;
	uint32_t nchains = r->nchains;
	const struct wire_routing_chain *now;
	struct wire_routing_chain ch;
	uint32_t *ids;
	int stale;

	/* Chain ids first: a refresh during the walk replaces the routing. */
	ids = malloc((nchains ? nchains : 1) * sizeof(*ids));
	if (!ids)
		return VCHK_EFAIL;
	for (uint32_t i = 0; i < nchains; i++)
		ids[i] = r->chains[i].id;
	for (uint32_t i = 0; i < nchains; i++) {
		/* A member answering -ESTALE means the chain moved on (a
		 * state change, a new version): verify it again, a few
		 * times, under the routing of the moment. */
		for (int attempt = 0;; attempt++) {
			now = vrouting_chain(vchk_routing(c), ids[i]);
			if (!now) {
				printf("chain %u: gone from the routing\n",
				       ids[i]);
				d = 1;
				break;
			}
			ch = *now;
			stale = 0;
			n = 0;
			d = vchk_verify_chain(c, &ch, &n, &stale);
			if (!d || !stale || attempt == 4)
				break;
			printf("chain %u changed during the check (-ESTALE): "
			       "verifying it again\n",
			       ids[i]);
			vchk_refresh(c, 1000);
		}
		chunks += n;
		diffs += d;
	}
	free(ids);
	printf("verified %u chain(s), %" PRIu64 " chunk(s): %s (%" PRIu64
	       " difference(s))\n",
	       nchains, chunks, diffs ? "REPLICAS DIFFER" : "identical",
	       diffs);
	return diffs ? VCHK_EFAIL : VCHK_OK;
}

/* ---- raw --------------------------------------------------------------------- */

static int vchk_cmd_raw(struct vchk *c)
{
	size_t n = c->o.body_hex ? strlen(c->o.body_hex) / 2 : 0;
	uint8_t *body = malloc(n ? n : 1);
	int ret;

	if (!body)
		return VCHK_EFAIL;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(c->o.body_hex + 2 * i, "%2x", &v) != 1) {
			fprintf(stderr, "valor-chunk: --body-hex: not hex\n");
			free(body);
			return VCHK_EUSAGE;
		}
		body[i] = (uint8_t)v;
	}
	ret = vchk_call(c, c->o.url, (uint16_t)c->o.opcode, body, n, NULL, 0,
			NULL, 0, 5000);
	free(body);
	if (c->local) {
		fprintf(stderr, "valor-chunk: raw: %s: %s\n", c->o.url,
			strerror(-ret));
		return ret == -EACCES ? VCHK_EAUTH : VCHK_EREACH;
	}
	printf("%s: status %d (%s)\n", wire_op_name((uint16_t)c->o.opcode),
	       ret, ret ? strerror(-ret) : "ok");
	return VCHK_OK;
}

/* ---- command line ----------------------------------------------------------- */

static void vchk_usage(FILE *f)
{
	fprintf(f,
		"usage: valor-chunk --mgmtd URL [--secret FILE] [--timeout S] "
		"[--first N] [--stripe N]\n"
		"                   COMMAND [options]\n"
		"commands:\n"
		"  write  --inode N --index I [--offset O] (--file F | --length "
		"L [--seed S])\n"
		"  read   --inode N --index I [--offset O] [--length L] "
		"[--member K] [--out F]\n"
		"  stream --inode N --chunks C [--index I] [--chunk-size B] "
		"[--seed S] [--delay-ms D]\n"
		"  check  --inode N --chunks C [--index I] [--chunk-size B] "
		"[--seed S]\n"
		"  cut    --inode N --size F [--chunk-size B]\n"
		"  remove --inode N\n"
		"  sync   --inode N\n"
		"  last   --inode N\n"
		"  verify\n"
		"  raw    --url URL --opcode N [--body-hex HEX]\n"
		"exit status: 0 ok, 1 failed or replicas differ, 2 usage, 3 "
		"mgmtd unreachable,\n"
		"4 authentication failed\n");
}

static int vchk_num(const char *opt, const char *arg, uint64_t max,
		    uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || arg[0] == '-' || v > max) {
		fprintf(stderr,
			"valor-chunk: %s wants a number up to %" PRIu64
			", got '%s'\n",
			opt, max, arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int vchk_parse(struct vchk_opts *o, int argc, char **argv)
{
	enum {
		O_MGMTD = 256, O_SECRET, O_TIMEOUT, O_FIRST, O_STRIPE, O_INODE,
		O_INDEX, O_OFFSET, O_LENGTH, O_FILE, O_SEED, O_MEMBER, O_OUT,
		O_CHUNKS, O_CS, O_DELAY, O_SIZE, O_URL, O_OPCODE, O_HEX,
	};
	static const struct option lo[] = {
		{"mgmtd", required_argument, NULL, O_MGMTD},
		{"secret", required_argument, NULL, O_SECRET},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"first", required_argument, NULL, O_FIRST},
		{"stripe", required_argument, NULL, O_STRIPE},
		{"inode", required_argument, NULL, O_INODE},
		{"index", required_argument, NULL, O_INDEX},
		{"offset", required_argument, NULL, O_OFFSET},
		{"length", required_argument, NULL, O_LENGTH},
		{"file", required_argument, NULL, O_FILE},
		{"seed", required_argument, NULL, O_SEED},
		{"member", required_argument, NULL, O_MEMBER},
		{"out", required_argument, NULL, O_OUT},
		{"chunks", required_argument, NULL, O_CHUNKS},
		{"chunk-size", required_argument, NULL, O_CS},
		{"delay-ms", required_argument, NULL, O_DELAY},
		{"size", required_argument, NULL, O_SIZE},
		{"url", required_argument, NULL, O_URL},
		{"opcode", required_argument, NULL, O_OPCODE},
		{"body-hex", required_argument, NULL, O_HEX},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *const cmds[] = {"write", "read", "stream", "check",
					   "cut", "remove", "sync", "last",
					   "verify", "raw", NULL};
	uint64_t v = 0;
	int c, ret = 0;

	o->timeout_ms = 60000;
	o->member = -1;
	o->chunk_size = 1 << 20;
	/* Options may come before and after the command. */
	while (!ret && (c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_MGMTD:
			o->mgmtd = optarg;
			break;
		case O_SECRET:
			o->secret = optarg;
			break;
		case O_TIMEOUT:
			ret = vchk_num("--timeout", optarg, 3600, &v);
			o->timeout_ms = (int)v * 1000;
			break;
		case O_FIRST:
			ret = vchk_num("--first", optarg, WIRE_MAX_CHAINS, &v);
			o->first = (uint32_t)v;
			break;
		case O_STRIPE:
			ret = vchk_num("--stripe", optarg, WIRE_MAX_CHAINS, &v);
			o->stripe = (uint32_t)v;
			break;
		case O_INODE:
			ret = vchk_num("--inode", optarg, UINT64_MAX,
				       &o->inode);
			o->have_inode = 1;
			break;
		case O_INDEX:
			ret = vchk_num("--index", optarg, UINT32_MAX, &v);
			o->index = (uint32_t)v;
			o->have_index = 1;
			break;
		case O_OFFSET:
			ret = vchk_num("--offset", optarg, WIRE_CHUNK_SIZE_MAX,
				       &v);
			o->offset = (uint32_t)v;
			break;
		case O_LENGTH:
			ret = vchk_num("--length", optarg, WIRE_CHUNK_SIZE_MAX,
				       &v);
			o->length = (uint32_t)v;
			o->have_length = 1;
			break;
		case O_FILE:
			o->file = optarg;
			break;
		case O_SEED:
			ret = vchk_num("--seed", optarg, UINT64_MAX, &o->seed);
			break;
		case O_MEMBER:
			ret = vchk_num("--member", optarg,
				       WIRE_MAX_REPLICAS - 1, &v);
			o->member = (int)v;
			break;
		case O_OUT:
			o->out = optarg;
			break;
		case O_CHUNKS:
			ret = vchk_num("--chunks", optarg, 1u << 24, &v);
			o->chunks = (uint32_t)v;
			break;
		case O_CS:
			ret = vchk_num("--chunk-size", optarg,
				       WIRE_CHUNK_SIZE_MAX, &v);
			if (!ret && (v < 4096 || (v & (v - 1)))) {
				fprintf(stderr, "valor-chunk: --chunk-size "
						"wants a power of two from "
						"4096\n");
				ret = -EINVAL;
			}
			o->chunk_size = (uint32_t)v;
			break;
		case O_DELAY:
			ret = vchk_num("--delay-ms", optarg, 60000, &v);
			o->delay_ms = (uint32_t)v;
			break;
		case O_SIZE:
			ret = vchk_num("--size", optarg, UINT64_MAX / 2,
				       &o->size);
			o->have_size = 1;
			break;
		case O_URL:
			o->url = optarg;
			break;
		case O_OPCODE:
			ret = vchk_num("--opcode", optarg, 0xffff, &v);
			o->opcode = (uint32_t)v;
			break;
		case O_HEX:
			o->body_hex = optarg;
			break;
		case 'h':
			vchk_usage(stdout);
			return 1;
		default:
			ret = -EINVAL;
			break;
		}
	}
	if (ret)
		goto out;
	if (optind >= argc) {
		fprintf(stderr, "valor-chunk: no command\n");
		ret = -EINVAL;
		goto out;
	}
	o->cmd = argv[optind];
	for (c = 0; cmds[c] && strcmp(cmds[c], o->cmd); c++)
		;
	if (!cmds[c]) {
		fprintf(stderr, "valor-chunk: unknown command '%s'\n", o->cmd);
		ret = -EINVAL;
	} else if (optind + 1 < argc) {
		fprintf(stderr, "valor-chunk: unexpected argument '%s'\n",
			argv[optind + 1]);
		ret = -EINVAL;
	} else if (!strcmp(o->cmd, "raw")) {
		if (!o->url || !o->opcode) {
			fprintf(stderr, "valor-chunk: raw wants --url and "
					"--opcode\n");
			ret = -EINVAL;
		}
	} else if (!o->mgmtd) {
		fprintf(stderr, "valor-chunk: --mgmtd URL is required\n");
		ret = -EINVAL;
	} else if (strcmp(o->cmd, "verify") && !o->have_inode) {
		fprintf(stderr, "valor-chunk: %s wants --inode\n", o->cmd);
		ret = -EINVAL;
	} else if ((!strcmp(o->cmd, "write") || !strcmp(o->cmd, "read")) &&
		   !o->have_index) {
		fprintf(stderr, "valor-chunk: %s wants --index\n", o->cmd);
		ret = -EINVAL;
	} else if (!strcmp(o->cmd, "write") && !o->file && !o->have_length) {
		fprintf(stderr, "valor-chunk: write wants --file or --length\n");
		ret = -EINVAL;
	} else if ((!strcmp(o->cmd, "stream") || !strcmp(o->cmd, "check")) &&
		   !o->chunks) {
		fprintf(stderr, "valor-chunk: %s wants --chunks\n", o->cmd);
		ret = -EINVAL;
	} else if (!strcmp(o->cmd, "cut") && !o->have_size) {
		fprintf(stderr, "valor-chunk: cut wants --size\n");
		ret = -EINVAL;
	}
out:
	if (ret)
		fprintf(stderr, "Try 'valor-chunk --help'.\n");
	return ret;
}

int main(int argc, char **argv)
{
	struct vchk *c = calloc(1, sizeof(*c));
	struct vmgmtc_opts mo = {0};
	struct vchk_peer *p;
	int ret, rc;

	vlog_set_ident("valor-chunk");
	vlog_set_level(VLOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (!c)
		return VCHK_EFAIL;
	ret = vchk_parse(&c->o, argc, argv);
	if (ret) {
		free(c);
		return ret > 0 ? VCHK_OK : VCHK_EUSAGE;
	}
	if (getrandom(&c->client_id, sizeof(c->client_id), 0) !=
		    sizeof(c->client_id) ||
	    !c->client_id)
		c->client_id = ((uint64_t)getpid() << 32) | 1;
	rc = VCHK_EFAIL;
	if (vloop_new(&c->loop, VLOOP_POLL, 0, 0) < 0)
		goto out_free;
	if (c->o.secret) {
		ret = vauth_secret_load(c->o.secret, &c->secret);
		if (ret < 0) {
			fprintf(stderr, "valor-chunk: --secret %s: %s\n",
				c->o.secret, strerror(-ret));
			rc = VCHK_EUSAGE;
			goto out_loop;
		}
	}
	if (!strcmp(c->o.cmd, "raw")) {
		rc = vchk_cmd_raw(c);
		goto out_mgmtc;
	}
	mo.mgmtd_url = c->o.mgmtd;
	mo.secret = c->secret;
	mo.poll_ms = 1000;
	ret = vmgmtc_new(c->loop, &mo, &c->mgmtc);
	if (ret < 0) {
		fprintf(stderr, "valor-chunk: --mgmtd %s: %s\n", c->o.mgmtd,
			strerror(-ret));
		rc = VCHK_EUSAGE;
		goto out_loop;
	}
	ret = vmgmtc_wait_routing(c->mgmtc, 5000);
	if (ret < 0) {
		fprintf(stderr, "valor-chunk: mgmtd %s: %s\n", c->o.mgmtd,
			ret == -EACCES ? "authentication failed (the secrets "
					 "differ, or only one side has one)"
				       : strerror(-ret));
		rc = ret == -EACCES ? VCHK_EAUTH : VCHK_EREACH;
		goto out_mgmtc;
	}
	if (!vchk_routing(c)->table.nchains) {
		fprintf(stderr, "valor-chunk: mgmtd %s has no chain table yet "
				"(valorctl chain-table create)\n",
			c->o.mgmtd);
		goto out_mgmtc;
	}
	if (!strcmp(c->o.cmd, "write"))
		rc = vchk_cmd_write(c);
	else if (!strcmp(c->o.cmd, "read"))
		rc = vchk_cmd_read(c);
	else if (!strcmp(c->o.cmd, "stream"))
		rc = vchk_cmd_stream(c, 0);
	else if (!strcmp(c->o.cmd, "check"))
		rc = vchk_cmd_stream(c, 1);
	else if (!strcmp(c->o.cmd, "verify"))
		rc = vchk_cmd_verify(c);
	else
		rc = vchk_cmd_inode(c);
out_mgmtc:
	vmgmtc_free(c->mgmtc);
	while ((p = c->peers)) {
		c->peers = p->next;
		vrpc_client_free(p->cli);
		free(p);
	}
out_loop:
	vloop_free(c->loop);
	vauth_secret_free(c->secret);
out_free:
	free(c);
	return rc;
}

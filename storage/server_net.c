/* SPDX-License-Identifier: MIT */
/*
 * server_net.c - the storage server's network over rdma/rpc.h
 * (vstor_rpcnet_new in server.h): one rpc client per peer URL, kept for
 * the life of the process (a node talks to the few peers of its chains).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "storage/server_i.h"

struct vstor_peer {
	struct vstor_peer *next;
	struct vstor_rpcnet *net;
	char url[WIRE_URL_MAX + 1];
	struct vrpc_client *cli;
	int up;
	uint64_t down_since_ns; /* while !up */
};

struct vstor_rpcnet {
	struct vloop *loop;
	const struct vauth_secret *secret;
	struct vstor_peer *peers;
	int freeing;
	void (*refresh)(void *);
	void (*heartbeat)(void *);
	void *hook_arg;
};

static void vstor_peer_on_state(struct vrpc_client *cli, int up, void *arg)
{
	struct vstor_peer *p = arg;

	if (up == p->up)
		return;
	p->up = up;
	if (!up)
		p->down_since_ns = vloop_now_ns();
	vlog(up ? VLOG_DEBUG : VLOG_INFO, "peer %s is %s", p->url,
	     up ? "up" : "unreachable");
}

static struct vstor_peer *vstor_peer_get(struct vstor_rpcnet *n,
					 const char *url)
{
	struct vrpc_client_opts o = {
		.backoff_min_ms = 100,
		.backoff_max_ms = 1000,
		.on_state = vstor_peer_on_state,
	};
	struct vstor_peer *p;

	for (p = n->peers; p; p = p->next)
		if (!strcmp(p->url, url))
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->net = n;
	snprintf(p->url, sizeof(p->url), "%s", url);
	p->down_since_ns = vloop_now_ns();
	o.arg = p;
	if (vrpc_client_new(n->loop, url, n->secret, &o, &p->cli) < 0) {
		free(p);
		return NULL;
	}
	p->next = n->peers;
	n->peers = p;
	return p;
}

static void vstor_rpcnet_done(struct vrpc_call *call,
			      const struct vrpc_result *res, void *arg)
{
	struct vstor_call *c = arg;

	c->done(c, res);
}

static int vstor_rpcnet_call(void *arg, const char *url, uint16_t opcode,
			     const void *body, uint32_t body_len,
			     const struct iovec *data, int data_n,
			     void *reply_buf, size_t reply_cap, int timeout_ms,
			     struct vstor_call *c)
{
	struct vstor_rpcnet *n = arg;
	struct vstor_peer *p;

	if (n->freeing)
		return -ESHUTDOWN;
	p = vstor_peer_get(n, url);
	if (!p)
		return -ENOMEM;
	if (!p->up &&
	    vloop_now_ns() - p->down_since_ns > VSTOR_PEER_DOWN_MS * 1000000ull)
		return -ENOTCONN;
	vrpc_call_init(&c->rpc);
	return vrpc_call(p->cli, opcode, body, body_len, data, data_n,
			 reply_buf, reply_cap, timeout_ms, vstor_rpcnet_done, c,
			 &c->rpc);
}

static int vstor_rpcnet_reply(void *arg, struct vrpc_req *req, int status,
			      const void *body, uint32_t body_len,
			      const struct iovec *data, int data_n)
{
	return vrpc_reply(req, status, body, body_len, data, data_n);
}

static void vstor_rpcnet_refresh(void *arg)
{
	struct vstor_rpcnet *n = arg;

	if (n->refresh)
		n->refresh(n->hook_arg);
}

static void vstor_rpcnet_heartbeat(void *arg)
{
	struct vstor_rpcnet *n = arg;

	if (n->heartbeat)
		n->heartbeat(n->hook_arg);
}

int vstor_rpcnet_new(struct vloop *loop, const struct vauth_secret *secret,
		     struct vstor_net *out)
{
	struct vstor_rpcnet *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->loop = loop;
	n->secret = secret;
	memset(out, 0, sizeof(*out));
	out->call = vstor_rpcnet_call;
	out->reply = vstor_rpcnet_reply;
	out->refresh = vstor_rpcnet_refresh;
	out->heartbeat = vstor_rpcnet_heartbeat;
	out->arg = n;
	return 0;
}

void vstor_rpcnet_hooks(void *net_arg, void (*refresh)(void *),
			void (*heartbeat)(void *), void *arg)
{
	struct vstor_rpcnet *n = net_arg;

	n->refresh = refresh;
	n->heartbeat = heartbeat;
	n->hook_arg = arg;
}

void vstor_rpcnet_free(void *net_arg)
{
	struct vstor_rpcnet *n = net_arg;
	struct vstor_peer *p;

	if (!n)
		return;
	/* Calls in flight fail now (their callbacks run); new ones are
	 * refused. */
	n->freeing = 1;
	n->refresh = NULL;
	n->heartbeat = NULL;
	for (p = n->peers; p; p = p->next)
		vrpc_client_free(p->cli);
	while ((p = n->peers)) {
		n->peers = p->next;
		free(p);
	}
	free(n);
}

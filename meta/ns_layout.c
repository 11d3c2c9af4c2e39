/* SPDX-License-Identifier: MIT */
/*
 * ns_layout.c - where new regular files go, and directories' default
 * layouts (the virtual xattr VNS_LAYOUT_XATTR).
 *
 * A new regular file takes chunk_size and stripe from its directory's
 * default layout, each field that is 0 there from the cluster's (metad's
 * --chunk-size and --stripe); stripe is then cut to the number of chains
 * in the table, first_chain is a random index into the table and
 * table_version the table's version. A new directory inherits its
 * parent's default layout, so a setting on a directory covers the tree
 * created below it afterwards.
 */
#include <errno.h>
#include <linux/xattr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "meta/ns_i.h"
#include "meta/ns_op.h"

void ns_layout_prepare(struct ns_op *op)
{
	struct vns *ns = op->ns;

	pthread_mutex_lock(&ns->lock);
	op->layout = ns->layout;
	op->layout.first_chain = 0;
	op->layout.table_version = ns->table_version;
	op->nchains = ns->nchains;
	op->first_pick = (uint32_t)rand_r(&ns->seed);
	pthread_mutex_unlock(&ns->lock);
}

int ns_layout_assign(struct ns_op *op, struct ns_inode *in,
		     const struct ns_inode *parent)
{
	struct vns_layout *l = &in->layout;

	if (S_ISDIR(in->mode)) {
		l->chunk_size = parent->layout.chunk_size;
		l->stripe = parent->layout.stripe;
		l->first_chain = l->table_version = 0;
		return 0;
	}
	if (!S_ISREG(in->mode))
		return 0;
	if (!op->nchains) {
		vlog_warn("ns: no chain table yet: regular files cannot be "
			  "created until one exists (valorctl chain-table "
			  "create --replicas N)");
		return -ENOSPC;
	}
	l->chunk_size = parent->layout.chunk_size ? parent->layout.chunk_size
						  : op->layout.chunk_size;
	l->stripe = parent->layout.stripe ? parent->layout.stripe
					  : op->layout.stripe;
	if (!l->stripe)
		l->stripe = 1;
	if (l->stripe > op->nchains)
		l->stripe = op->nchains;
	l->first_chain = op->first_pick % op->nchains;
	l->table_version = op->layout.table_version;
	return 0;
}

/* Copy @text (its length, no NUL) to op's buffer, xattr size rules. */
static int ns_layout_out(struct ns_op *op, const char *text)
{
	size_t n = strlen(text);

	if (op->cap && n > op->cap)
		return -ERANGE;
	if (op->cap)
		memcpy(op->buf, text, n);
	return (int)n;
}

int ns_layout_getxattr(struct ns_op *op, const struct ns_inode *in)
{
	const struct vns_layout *l = &in->layout;
	char text[128];

	if (S_ISDIR(in->mode)) {
		if (!l->chunk_size && !l->stripe)
			return -ENODATA;
		snprintf(text, sizeof(text), "chunk_size=%u stripe=%u",
			 l->chunk_size, l->stripe);
	} else if (S_ISREG(in->mode)) {
		snprintf(text, sizeof(text),
			 "chunk_size=%u stripe=%u first_chain=%u "
			 "table_version=%u",
			 l->chunk_size, l->stripe, l->first_chain,
			 l->table_version);
	} else {
		return -ENODATA;
	}
	return ns_layout_out(op, text);
}

/* "chunk_size=N stripe=M" (any order, either optional, spaces or commas
 * between) into @l. -EINVAL on anything else or out-of-range values. */
static int ns_layout_parse(const char *v, size_t len, struct vns_layout *l)
{
	char buf[128], *save = NULL, *tok;

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, len);
	buf[len] = '\0';
	memset(l, 0, sizeof(*l));
	for (tok = strtok_r(buf, " ,\n\t", &save); tok;
	     tok = strtok_r(NULL, " ,\n\t", &save)) {
		char *eq = strchr(tok, '='), *end;
		unsigned long long x;

		if (!eq || eq[1] < '0' || eq[1] > '9')
			return -EINVAL;
		*eq = '\0';
		x = strtoull(eq + 1, &end, 10);
		if (*end || x > UINT32_MAX)
			return -EINVAL;
		if (!strcmp(tok, "chunk_size")) {
			if (x && (x < VNS_CHUNK_MIN || x > VNS_CHUNK_MAX ||
				  (x & (x - 1))))
				return -EINVAL;
			l->chunk_size = (uint32_t)x;
		} else if (!strcmp(tok, "stripe")) {
			if (x > 4096)
				return -EINVAL;
			l->stripe = (uint32_t)x;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

int ns_layout_setxattr(struct vkv_txn *txn, struct ns_op *op,
		       struct ns_inode *in, int remove)
{
	struct vns_layout l;
	int rc;

	if (op->cr && op->cr->uid)
		return -EPERM;
	if (!S_ISDIR(in->mode))
		return S_ISREG(in->mode) ? -EPERM : -EINVAL;
	if (remove) {
		if (!in->layout.chunk_size && !in->layout.stripe)
			return -ENODATA;
		memset(&l, 0, sizeof(l));
	} else {
		int have = in->layout.chunk_size || in->layout.stripe;

		if (have && (op->flags & XATTR_CREATE))
			return -EEXIST;
		if (!have && (op->flags & XATTR_REPLACE))
			return -ENODATA;
		rc = ns_layout_parse(op->value, op->size, &l);
		if (rc < 0)
			return rc;
	}
	in->layout = l;
	in->ctime = ns_now();
	return ns_inode_put(txn, in);
}

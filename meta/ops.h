/* SPDX-License-Identifier: MIT */
/*
 * ops.h - one metadata request, decoded, turned into namespace calls.
 *
 * mops_run() is what a worker thread does for each request: it maps the
 * wire request (proto/wire_meta.h) onto the vns_* call of its opcode and
 * fills the wire reply. Each op is one KV transaction (meta/ns.h); every
 * mutation carries the request's exactly-once key (client, req_id).
 * Pure translation: no I/O besides the KV, no allocation.
 *
 * Threading: any thread; @env is read only.
 */
#ifndef VALOR_META_OPS_H
#define VALOR_META_OPS_H

#include <stdint.h>

#include "meta/ns.h"
#include "proto/wire_meta.h"

/* What a request may need besides the namespace. */
struct mops_env {
	struct vns *ns;
	/* STATFS space in bytes, replication already divided out. */
	uint64_t space_total, space_free;
};

/* The block size STATFS reports space in. */
#define MOPS_STATFS_BSIZE 4096u

/* Scratch a READDIR needs (heap it: about 50 KiB). */
struct mops_scratch {
	struct vns_dirent ents[WIRE_META_READDIR_MAX];
	struct vattr attrs[WIRE_META_READDIR_MAX];
};

/*
 * Run @op (a WIRE_META_* opcode) for @q into @r. Returns the frame's
 * status: 0 (then @r's fields for @op are set) or -errno (-ENOSYS for an
 * opcode metad does not serve).
 */
int mops_run(const struct mops_env *env, uint16_t op,
	     const struct wire_meta_req *q, struct wire_meta_rep *r,
	     struct mops_scratch *scratch);

/* "LOOKUP" ... for logs and stats; "?" when unknown. */
const char *mops_name(uint16_t op);

#endif

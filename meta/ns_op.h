/* SPDX-License-Identifier: MIT */
/*
 * ns_op.h - the argument block every namespace transaction body gets.
 *
 * One struct for all ops keeps each public function a few lines: it fills
 * what its body reads and runs it with ns_op_run(). The scratch inodes
 * (a..d, tmp) hold up to 4 KiB symlink targets each, so an op lives on
 * the caller's stack (about 21 KiB) - fine for metad's worker threads.
 * Bodies may run several times (conflict retries) and rewrite every
 * output on each run.
 */
#ifndef VALOR_META_NS_OP_H
#define VALOR_META_NS_OP_H

#include "meta/ns_i.h"

struct ns_op {
	struct vns *ns;
	const struct vns_cred *cr;
	/* The op's own body when ns_op_run() wraps it for exactly-once. */
	vkv_txn_fn body;
	int replayed; /* the outcome came from a record */
	uint64_t ino, parent, newparent, newino, client;
	const char *name, *newname, *target;
	size_t nlen, newnlen;
	uint32_t mode, rdev, flags, oflags;
	int name_absent; /* ns_make_txn: the caller looked the name up */
	const struct vsetattr *sa;
	struct vns_layout layout; /* cluster default, table_version */
	uint32_t nchains;	  /* of the chain table; 0: none */
	uint32_t first_pick;	  /* random, reduced mod nchains */
	/* locks */
	const struct vns_lock *lock;
	struct vns_lock *lock_out;
	uint64_t owner;
	uint8_t kind;
	int64_t now;
	/* in/out buffers: readlink, xattrs, readdir, gc, locks */
	void *buf;
	void *aux;
	const void *value;
	size_t cap, size;
	uint64_t hint, trunc_ver;
	/* results */
	struct vattr *attr;
	struct vns_file *file;
	struct vstatfs *st;
	struct ns_inode a, b, c, d, tmp;
};

/*
 * Run @fn as op's transaction. A write transaction of a request with an
 * exactly-once key (op->cr->client and req_id nonzero) first looks for
 * the request's record and replays it (op->replayed, outputs filled from
 * it) instead of running @fn; else a success of @fn records its outcome.
 */
int ns_op_run(struct ns_op *op, unsigned flags, vkv_txn_fn fn);
/* ns_idem.c: the wrapper body and the record codec. */
int ns_idem_txn(struct vkv_txn *txn, void *arg);
/* Snapshot the default layout and chain table into op (before the txn). */
void ns_layout_prepare(struct ns_op *op);
/* The layout of a new inode in op->b from its parent op->a (in the txn);
 * -ENOSPC for a regular file without a chain table. */
int ns_layout_assign(struct ns_op *op, struct ns_inode *in,
		     const struct ns_inode *parent);
/* VNS_LAYOUT_XATTR get (size rules of vns_getxattr) and set/remove. */
int ns_layout_getxattr(struct ns_op *op, const struct ns_inode *in);
int ns_layout_setxattr(struct vkv_txn *txn, struct ns_op *op,
		       struct ns_inode *in, int remove);
int ns_dir_get(struct vkv_txn *txn, uint64_t ino, struct ns_inode *in);
int ns_sticky_check(const struct vns_cred *cr, const struct ns_inode *dir,
		    const struct ns_inode *victim);
/* Body shared by mknod/mkdir/symlink/create: new inode in op->b. */
int ns_make_txn(struct vkv_txn *txn, struct ns_op *op);
/* @in lost a name (its dentry is gone): nlink - 1, release at 0. */
int ns_drop_name(struct vkv_txn *txn, struct ns_inode *in, int64_t now);

#endif

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
	uint64_t ino, parent, newparent, newino, client;
	const char *name, *newname, *target;
	size_t nlen, newnlen;
	uint32_t mode, rdev, flags, oflags;
	const struct vsetattr *sa;
	struct vns_layout layout;
	/* in/out buffers: readlink, xattrs, readdir, gc */
	void *buf;
	const void *value;
	size_t cap, size;
	uint64_t hint, trunc_ver;
	/* results */
	struct vattr *attr;
	struct vns_file *file;
	struct vstatfs *st;
	struct ns_inode a, b, c, d, tmp;
};

int ns_op_run(struct ns_op *op, unsigned flags, vkv_txn_fn fn);
int ns_dir_get(struct vkv_txn *txn, uint64_t ino, struct ns_inode *in);
int ns_sticky_check(const struct vns_cred *cr, const struct ns_inode *dir,
		    const struct ns_inode *victim);
/* Body shared by mknod/mkdir/symlink/create: new inode in op->b. */
int ns_make_txn(struct vkv_txn *txn, struct ns_op *op);
/* @in lost a name (its dentry is gone): nlink - 1, release at 0. */
int ns_drop_name(struct vkv_txn *txn, struct ns_inode *in, int64_t now);

#endif

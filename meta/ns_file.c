/* SPDX-License-Identifier: MIT */
/*
 * ns_file.c - regular files: create+open, write sessions, length updates.
 *
 * A session ('S' ino client -> count) records that @client has the file
 * open (count = its opens). While any exists, an unlinked file keeps its
 * inode; the close that removes the last one makes it garbage.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "meta/ns_i.h"
#include "meta/ns_op.h"

/* Add a session of op->client on regular file @in (written back, with
 * O_TRUNC applied) and fill op->file. */
static int ns_session_add(struct vkv_txn *txn, struct ns_op *op,
			  struct ns_inode *in)
{
	struct ns_key k;
	uint64_t n = 0;
	int rc;

	ns_key_sess(&k, in->ino, op->client);
	rc = ns_u64_get(txn, &k, &n);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	rc = ns_u64_put(txn, &k, n + 1);
	if (rc >= 0 && !n)
		rc = ns_hold_set(txn, op->client, 'S', in->ino, 1);
	if (rc >= 0)
		rc = ns_lease_ensure(txn, op->ns, op->client);
	if (rc < 0)
		return rc;
	if ((op->oflags & O_TRUNC) && in->size) {
		in->size = 0;
		in->trunc_ver++;
		in->mtime = in->ctime = ns_now();
		rc = ns_inode_put(txn, in);
		if (rc < 0)
			return rc;
	}
	ns_inode_to_attr(in, &op->file->attr);
	op->file->layout = in->layout;
	op->file->trunc_ver = in->trunc_ver;
	return 0;
}

static int ns_open_check(const struct ns_inode *in)
{
	if (S_ISDIR(in->mode))
		return -EISDIR;
	return S_ISREG(in->mode) ? 0 : -EINVAL;
}

static int ns_create_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	uint32_t type;
	uint64_t ino;
	int rc;

	op->name_absent = 0;
	rc = ns_dentry_get(txn, op->parent, op->name, op->nlen, &ino, &type);
	if (rc == -ENOENT) {
		op->name_absent = 1; /* one lookup, not two */
		rc = ns_make_txn(txn, op);
		if (rc < 0)
			return rc;
		return ns_session_add(txn, op, &op->b);
	}
	if (rc < 0)
		return rc;
	if (op->oflags & O_EXCL)
		return -EEXIST;
	rc = ns_inode_get(txn, ino, &op->b);
	if (rc < 0)
		return rc == -ENOENT ? -EIO : rc;
	rc = ns_open_check(&op->b);
	if (rc < 0)
		return rc;
	rc = ns_session_add(txn, op, &op->b);
	/* Positive: the number op->newino was not used. */
	return rc < 0 ? rc : 1;
}

int vns_create(struct vns *ns, const struct vns_cred *cr, uint64_t parent,
	       const char *name, uint32_t mode, uint32_t oflags,
	       uint64_t client, struct vns_file *out)
{
	struct ns_op op = {.ns = ns,
			   .cr = cr,
			   .parent = parent,
			   .name = name,
			   .mode = S_IFREG | (mode & 07777),
			   .oflags = oflags,
			   .client = client,
			   .file = out};
	int rc;

	if (name && (!strcmp(name, ".") || !strcmp(name, "..")))
		return -EISDIR;
	rc = ns_name_check(name);
	if (rc < 0)
		return rc;
	op.nlen = (size_t)rc;
	rc = ns_ino_alloc(ns, &op.newino);
	if (rc < 0)
		return rc;
	ns_layout_prepare(&op);
	rc = ns_op_run(&op, 0, ns_create_txn);
	if (rc || op.replayed)
		ns_ino_unused(ns, op.newino);
	return rc < 0 ? rc : 0;
}

static int ns_session_open_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_key k;
	int rc;

	rc = ns_inode_get(txn, op->ino, &op->a);
	if (rc < 0)
		return rc;
	rc = ns_open_check(&op->a);
	if (rc < 0)
		return rc;
	if (!op->a.nlink) {
		/* Unlinked: only reachable while some session holds it. */
		ns_key_ino(&k, 'S', op->ino);
		rc = ns_prefix_empty(txn, &k);
		if (rc)
			return rc < 0 ? rc : -ENOENT;
	}
	return ns_session_add(txn, op, &op->a);
}

int vns_session_open(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		     uint32_t oflags, uint64_t client, struct vns_file *out)
{
	struct ns_op op = {.ns = ns,
			   .cr = cr,
			   .ino = ino,
			   .oflags = oflags,
			   .client = client,
			   .file = out};

	return ns_op_run(&op, 0, ns_session_open_txn);
}

static int ns_session_close_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_key k;
	uint64_t n;
	int rc;

	ns_key_sess(&k, op->ino, op->client);
	rc = ns_u64_get(txn, &k, &n);
	if (rc < 0)
		return rc;
	rc = n > 1 ? ns_u64_put(txn, &k, n - 1) : vkv_del(txn, k.b, k.len);
	if (rc < 0 || n > 1)
		return rc;
	rc = ns_hold_set(txn, op->client, 'S', op->ino, 0);
	if (rc < 0)
		return rc;
	rc = ns_inode_get(txn, op->ino, &op->a);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	if (op->a.nlink)
		return 0;
	/* Releases only when this was the last session of any client. */
	return ns_inode_release(txn, &op->a);
}

int vns_session_close(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		      uint64_t client)
{
	struct ns_op op = {.ns = ns, .cr = cr, .ino = ino, .client = client};

	return ns_op_run(&op, 0, ns_session_close_txn);
}

static int ns_set_length_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_inode *in = &op->a;
	int rc;

	rc = ns_inode_get(txn, op->ino, in);
	if (rc < 0)
		return rc;
	rc = ns_open_check(in);
	if (rc < 0)
		return rc;
	if (in->trunc_ver == op->trunc_ver && op->hint > in->size) {
		in->size = op->hint;
		in->mtime = in->ctime = ns_now();
		rc = ns_inode_put(txn, in);
		if (rc < 0)
			return rc;
	}
	if (op->attr)
		ns_inode_to_attr(in, op->attr);
	return 0;
}

int vns_set_length(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		   uint64_t hint, uint64_t trunc_ver, struct vattr *out)
{
	struct ns_op op = {.ns = ns,
			   .cr = cr,
			   .ino = ino,
			   .hint = hint,
			   .trunc_ver = trunc_ver,
			   .attr = out};

	return ns_op_run(&op, 0, ns_set_length_txn);
}

static int ns_get_layout_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	int rc = ns_inode_get(txn, op->ino, &op->a);

	if (rc < 0)
		return rc;
	op->layout = op->a.layout;
	return ns_open_check(&op->a);
}

int vns_get_layout(struct vns *ns, uint64_t ino, struct vns_layout *out)
{
	struct ns_op op = {.ns = ns, .ino = ino};
	int rc = ns_op_run(&op, VKV_RDONLY, ns_get_layout_txn);

	if (rc >= 0)
		*out = op.layout;
	return rc;
}

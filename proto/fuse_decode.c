// SPDX-License-Identifier: MIT
/*
 * fuse_decode.c - length-checked decoding of FUSE requests (see fuse_decode.h).
 *
 * Shape of a request on /dev/fuse:
 *
 *   fuse_in_header | fixed op argument | names / data | extensions
 *                  |<------------- payload ---------->|<- extlen*8 ->|
 *
 * The extensions (security context, supplementary groups) are cut off first,
 * so no name or data can run into them. Every op then consumes its payload
 * through one cursor that refuses to step past the end. Bytes left over after
 * an op's arguments are ignored, as the kernel never sends any and being
 * strict there buys nothing.
 *
 * Everything is copied out of the buffer with memcpy, so the only alignment
 * the caller must give is the one BATCH_FORGET's item pointer relies on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuse_decode.h"

/* The part of the message not yet consumed by the op's decoder. */
struct fuse_decode_cur {
	const uint8_t *p;
	size_t left;
};

/* What a name is, which decides its length rules. */
enum fuse_decode_name_kind {
	FUSE_DECODE_DENTRY, /* 1..255 bytes, else -EINVAL / -ENAMETOOLONG */
	FUSE_DECODE_XATTR,  /* 1..255 bytes, else -EINVAL / -ERANGE */
	FUSE_DECODE_TARGET, /* symlink target: 1..4095, same errors */
	FUSE_DECODE_ANY,    /* TMPFILE's kernel-made name: only terminated */
};

struct fuse_decode_op;

typedef int (*fuse_decode_fn)(const struct fuse_decode_op *op,
			      struct fuse_decode_cur *c,
			      const struct fuse_decode_ctx *ctx,
			      struct fuse_req_in *req);

/*
 * One opcode. For ops that only carry a fixed argument, @fixed is its size
 * and @dst_off where in struct fuse_req_in it is copied (FUSE_DECODE_NO_COPY:
 * validated, then dropped, for ops valorfs refuses anyway).
 */
struct fuse_decode_op {
	const char *name;
	fuse_decode_fn decode;
	size_t fixed;
	size_t dst_off;
	bool noreply;
};

#define FUSE_DECODE_NO_COPY SIZE_MAX
#define FUSE_DECODE_DST(member) offsetof(struct fuse_req_in, u.member)

/* Decoders share one signature; most use only part of it. */
#define FUSE_MAYBE_UNUSED __attribute__((unused))

/* ------------------------------------------------------------------------ */
/* Cursor primitives                                                         */

/* True when the session negotiated a minor older than @minor (0 = current). */
static bool fuse_decode_minor_below(const struct fuse_decode_ctx *ctx,
				    uint32_t minor)
{
	return ctx && ctx->minor && ctx->minor < minor;
}

/* Consume @n bytes, copying them to @dst unless it is NULL. */
static int fuse_decode_take(struct fuse_decode_cur *c, void *dst, size_t n)
{
	if (c->left < n)
		return -EINVAL;
	if (dst && n)
		memcpy(dst, c->p, n);
	c->p += n;
	c->left -= n;
	return 0;
}

/*
 * Consume one NUL-terminated string and check it against @kind's rules.
 * On success *@out points at it inside the message.
 */
static int fuse_decode_str(struct fuse_decode_cur *c,
			   enum fuse_decode_name_kind kind, const char **out)
{
	const uint8_t *nul = c->left ? memchr(c->p, '\0', c->left) : NULL;
	size_t n;

	if (!nul)
		return -EINVAL;
	n = (size_t)(nul - c->p);

	switch (kind) {
	case FUSE_DECODE_DENTRY:
		if (!n)
			return -EINVAL;
		if (n > FUSE_DECODE_NAME_MAX)
			return -ENAMETOOLONG;
		break;
	case FUSE_DECODE_XATTR:
		if (!n)
			return -EINVAL;
		if (n > FUSE_DECODE_XATTR_NAME_MAX)
			return -ERANGE;
		break;
	case FUSE_DECODE_TARGET:
		/* The VFS refuses an empty target before FUSE sees it. */
		if (!n)
			return -EINVAL;
		if (n > FUSE_DECODE_SYMLINK_MAX)
			return -ENAMETOOLONG;
		break;
	case FUSE_DECODE_ANY:
		break;
	}

	*out = (const char *)c->p;
	c->p += n + 1;
	c->left -= n + 1;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Per-op decoders                                                           */

static int
fuse_decode_nothing(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		    struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		    const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		    struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	return 0;
}

/* Ops whose whole argument is one fixed struct. */
static int
fuse_decode_fixed_only(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		       struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		       const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		       struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	void *dst = NULL;

	if (op->dst_off != FUSE_DECODE_NO_COPY)
		dst = (char *)req + op->dst_off;
	return fuse_decode_take(c, dst, op->fixed);
}

/* LOOKUP, UNLINK, RMDIR */
static int
fuse_decode_dentry(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		   struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		   const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		   struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	return fuse_decode_str(c, FUSE_DECODE_DENTRY, &req->u.name.name);
}

static int
fuse_decode_removexattr(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
			struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
			const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
			struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	return fuse_decode_str(c, FUSE_DECODE_XATTR, &req->u.name.name);
}

static int
fuse_decode_batch_forget(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
			 struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
			 const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
			 struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	struct fuse_batch_forget_in in;
	int ret;

	ret = fuse_decode_take(c, &in, sizeof(in));
	if (ret)
		return ret;
	if (in.count > c->left / sizeof(struct fuse_forget_one))
		return -EINVAL;
	req->u.batch_forget.count = in.count;
	/* 40 + 8 bytes in: 8-aligned whenever the message buffer is. */
	req->u.batch_forget.items = (const struct fuse_forget_one *)c->p;
	return 0;
}

/* Before 7.9 GETATTR carried no argument. */
static int
fuse_decode_getattr(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		    struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		    const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		    struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	size_t n = sizeof(req->u.getattr);

	if (fuse_decode_minor_below(ctx, 9))
		n = 0;
	return fuse_decode_take(c, &req->u.getattr, n);
}

/* SYMLINK: entry name, then the link target. */
static int
fuse_decode_symlink(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		    struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		    const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		    struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	int ret;

	ret = fuse_decode_str(c, FUSE_DECODE_DENTRY, &req->u.symlink.name);
	if (ret)
		return ret;
	return fuse_decode_str(c, FUSE_DECODE_TARGET, &req->u.symlink.target);
}

/* Before 7.12 MKNOD sent only mode and rdev (no umask). */
static int
fuse_decode_mknod(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		  struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		  const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		  struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	size_t n = sizeof(req->u.mknod.in);
	int ret;

	if (fuse_decode_minor_below(ctx, 12))
		n = FUSE_COMPAT_MKNOD_IN_SIZE;
	ret = fuse_decode_take(c, &req->u.mknod.in, n);
	if (ret)
		return ret;
	return fuse_decode_str(c, FUSE_DECODE_DENTRY, &req->u.mknod.name);
}

static int
fuse_decode_mkdir(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		  struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		  const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		  struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	int ret;

	ret = fuse_decode_take(c, &req->u.mkdir.in, sizeof(req->u.mkdir.in));
	if (ret)
		return ret;
	return fuse_decode_str(c, FUSE_DECODE_DENTRY, &req->u.mkdir.name);
}

static int fuse_decode_rename_names(struct fuse_decode_cur *c,
				    struct fuse_req_in *req)
{
	int ret;

	ret = fuse_decode_str(c, FUSE_DECODE_DENTRY, &req->u.rename.oldname);
	if (ret)
		return ret;
	return fuse_decode_str(c, FUSE_DECODE_DENTRY, &req->u.rename.newname);
}

static int
fuse_decode_rename(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		   struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		   const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		   struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	struct fuse_rename_in in;
	int ret;

	ret = fuse_decode_take(c, &in, sizeof(in));
	if (ret)
		return ret;
	req->u.rename.newdir = in.newdir;
	req->u.rename.flags = 0;
	return fuse_decode_rename_names(c, req);
}

static int
fuse_decode_rename2(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		    struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		    const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		    struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	struct fuse_rename2_in in;
	int ret;

	ret = fuse_decode_take(c, &in, sizeof(in));
	if (ret)
		return ret;
	req->u.rename.newdir = in.newdir;
	req->u.rename.flags = in.flags;
	return fuse_decode_rename_names(c, req);
}

/* LINK: header nodeid is the new parent, oldnodeid the existing inode. */
static int fuse_decode_link(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
			    struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
			    const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
			    struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	struct fuse_link_in in;
	int ret;

	ret = fuse_decode_take(c, &in, sizeof(in));
	if (ret)
		return ret;
	req->u.link.oldnodeid = in.oldnodeid;
	return fuse_decode_str(c, FUSE_DECODE_DENTRY, &req->u.link.name);
}

/* READ, READDIR, READDIRPLUS; before 7.9 only the first 24 bytes came. */
static int fuse_decode_read(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
			    struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
			    const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
			    struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	size_t n = sizeof(req->u.read);

	if (fuse_decode_minor_below(ctx, 9))
		n = FUSE_COMPAT_WRITE_IN_SIZE;
	return fuse_decode_take(c, &req->u.read, n);
}

/*
 * WRITE: the kernel sends exactly write_in + in.size bytes, so fewer data
 * bytes than in.size is malformed. More is tolerated (and ignored) like any
 * other trailing bytes.
 */
static int
fuse_decode_write(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		  struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		  const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		  struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	size_t n = sizeof(req->u.write.in);
	int ret;

	if (fuse_decode_minor_below(ctx, 9))
		n = FUSE_COMPAT_WRITE_IN_SIZE;
	ret = fuse_decode_take(c, &req->u.write.in, n);
	if (ret)
		return ret;
	if (req->u.write.in.size > c->left)
		return -EINVAL;
	req->u.write.data = c->p;
	return 0;
}

/*
 * SETXATTR: an 8-byte argument unless FUSE_SETXATTR_EXT was negotiated
 * (16 bytes), the name, then exactly size bytes of value.
 */
static int
fuse_decode_setxattr(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		     struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		     const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		     struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	struct fuse_setxattr_in in = {0};
	size_t n = FUSE_COMPAT_SETXATTR_IN_SIZE;
	int ret;

	if (ctx && (ctx->flags & FUSE_SETXATTR_EXT))
		n = sizeof(in);
	ret = fuse_decode_take(c, &in, n);
	if (ret)
		return ret;
	ret = fuse_decode_str(c, FUSE_DECODE_XATTR, &req->u.setxattr.name);
	if (ret)
		return ret;
	if (in.size > c->left)
		return -EINVAL;
	req->u.setxattr.size = in.size;
	req->u.setxattr.flags = in.flags;
	req->u.setxattr.value = c->p;
	return 0;
}

static int
fuse_decode_getxattr(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		     struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		     const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		     struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	struct fuse_getxattr_in in;
	int ret;

	ret = fuse_decode_take(c, &in, sizeof(in));
	if (ret)
		return ret;
	req->u.getxattr.size = in.size;
	return fuse_decode_str(c, FUSE_DECODE_XATTR, &req->u.getxattr.name);
}

static int
fuse_decode_listxattr(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		      struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		      const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		      struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	struct fuse_getxattr_in in;
	int ret;

	ret = fuse_decode_take(c, &in, sizeof(in));
	if (ret)
		return ret;
	req->u.getxattr.size = in.size;
	req->u.getxattr.name = NULL;
	return 0;
}

/*
 * INIT: kernels before 7.36 send 16 bytes (major, minor, max_readahead,
 * flags) and very old ones less; anything up to 64 bytes is copied and the
 * rest stays zero. At least major and minor must be there to negotiate.
 * flags2 (and the reserved words) only mean something with FUSE_INIT_EXT,
 * so without it they are zeroed rather than trusted.
 */
static int fuse_decode_init(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
			    struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
			    const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
			    struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	struct fuse_init_in *in = &req->u.init;
	size_t n = c->left;

	if (n < 2 * sizeof(uint32_t))
		return -EINVAL;
	if (n > sizeof(*in))
		n = sizeof(*in);
	memset(in, 0, sizeof(*in));
	fuse_decode_take(c, in, n);
	if (!(in->flags & FUSE_INIT_EXT)) {
		in->flags2 = 0;
		memset(in->unused, 0, sizeof(in->unused));
	}
	return 0;
}

/*
 * CUSE_INIT: struct cuse_init_in has the same layout as the first 16 bytes
 * of fuse_init_in (its "unused" word sits where max_readahead is), so it is
 * decoded into u.init; valorfs refuses it anyway.
 */
static int
fuse_decode_cuse_init(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		      struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		      const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		      struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	return fuse_decode_take(c, &req->u.init, sizeof(struct cuse_init_in));
}

/* CREATE; before 7.12 it carried fuse_open_in (flags, mode) only. */
static int
fuse_decode_create(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		   struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		   const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		   struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	size_t n = sizeof(req->u.create.in);
	int ret;

	if (fuse_decode_minor_below(ctx, 12))
		n = sizeof(struct fuse_open_in);
	ret = fuse_decode_take(c, &req->u.create.in, n);
	if (ret)
		return ret;
	return fuse_decode_str(c, FUSE_DECODE_DENTRY, &req->u.create.name);
}

/*
 * TMPFILE: the name is one the kernel invents for the unnamed dentry ("/"
 * today), so only its termination is checked.
 */
static int
fuse_decode_tmpfile(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		    struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		    const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		    struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	int ret;

	ret = fuse_decode_take(c, &req->u.create.in, sizeof(req->u.create.in));
	if (ret)
		return ret;
	return fuse_decode_str(c, FUSE_DECODE_ANY, &req->u.create.name);
}

/* IOCTL: the argument, then in_size bytes of input that must be present. */
static int
fuse_decode_ioctl(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
		  struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
		  const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
		  struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	int ret;

	ret = fuse_decode_take(c, &req->u.ioctl, sizeof(req->u.ioctl));
	if (ret)
		return ret;
	return req->u.ioctl.in_size > c->left ? -EINVAL : 0;
}

/* NOTIFY_REPLY: answers a NOTIFY_RETRIEVE; size bytes of data follow. */
static int
fuse_decode_notify_reply(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
			 struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
			 const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
			 struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	struct fuse_notify_retrieve_in in;
	int ret;

	ret = fuse_decode_take(c, &in, sizeof(in));
	if (ret)
		return ret;
	return in.size > c->left ? -EINVAL : 0;
}

/* REMOVEMAPPING: a 4-byte count, then count 16-byte ranges. */
static int
fuse_decode_removemapping(const struct fuse_decode_op *op FUSE_MAYBE_UNUSED,
			  struct fuse_decode_cur *c FUSE_MAYBE_UNUSED,
			  const struct fuse_decode_ctx *ctx FUSE_MAYBE_UNUSED,
			  struct fuse_req_in *req FUSE_MAYBE_UNUSED)
{
	struct fuse_removemapping_in in;
	int ret;

	ret = fuse_decode_take(c, &in, sizeof(in));
	if (ret)
		return ret;
	if (in.count > c->left / sizeof(struct fuse_removemapping_one))
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The opcode table                                                          */

#define FUSE_DECODE_FIXED(nm, type, member)                                    \
	{                                                                      \
		.name = nm, .decode = fuse_decode_fixed_only,                  \
		.fixed = sizeof(type), .dst_off = FUSE_DECODE_DST(member),     \
	}

#define FUSE_DECODE_CHECK_ONLY(nm, type)                                       \
	{                                                                      \
		.name = nm, .decode = fuse_decode_fixed_only,                  \
		.fixed = sizeof(type), .dst_off = FUSE_DECODE_NO_COPY,         \
	}

static const struct fuse_decode_op fuse_decode_ops[FUSE_OPCODE_MAX + 1] = {
	[FUSE_LOOKUP] = {.name = "LOOKUP", .decode = fuse_decode_dentry},
	[FUSE_FORGET] = {.name = "FORGET",
			 .decode = fuse_decode_fixed_only,
			 .fixed = sizeof(struct fuse_forget_in),
			 .dst_off = FUSE_DECODE_DST(forget),
			 .noreply = true},
	[FUSE_GETATTR] = {.name = "GETATTR", .decode = fuse_decode_getattr},
	[FUSE_SETATTR] =
		FUSE_DECODE_FIXED("SETATTR", struct fuse_setattr_in, setattr),
	[FUSE_READLINK] = {.name = "READLINK", .decode = fuse_decode_nothing},
	[FUSE_SYMLINK] = {.name = "SYMLINK", .decode = fuse_decode_symlink},
	[FUSE_MKNOD] = {.name = "MKNOD", .decode = fuse_decode_mknod},
	[FUSE_MKDIR] = {.name = "MKDIR", .decode = fuse_decode_mkdir},
	[FUSE_UNLINK] = {.name = "UNLINK", .decode = fuse_decode_dentry},
	[FUSE_RMDIR] = {.name = "RMDIR", .decode = fuse_decode_dentry},
	[FUSE_RENAME] = {.name = "RENAME", .decode = fuse_decode_rename},
	[FUSE_LINK] = {.name = "LINK", .decode = fuse_decode_link},
	[FUSE_OPEN] = FUSE_DECODE_FIXED("OPEN", struct fuse_open_in, open),
	[FUSE_READ] = {.name = "READ", .decode = fuse_decode_read},
	[FUSE_WRITE] = {.name = "WRITE", .decode = fuse_decode_write},
	[FUSE_STATFS] = {.name = "STATFS", .decode = fuse_decode_nothing},
	[FUSE_RELEASE] =
		FUSE_DECODE_FIXED("RELEASE", struct fuse_release_in, release),
	[FUSE_FSYNC] = FUSE_DECODE_FIXED("FSYNC", struct fuse_fsync_in, fsync),
	[FUSE_SETXATTR] = {.name = "SETXATTR", .decode = fuse_decode_setxattr},
	[FUSE_GETXATTR] = {.name = "GETXATTR", .decode = fuse_decode_getxattr},
	[FUSE_LISTXATTR] = {.name = "LISTXATTR",
			    .decode = fuse_decode_listxattr},
	[FUSE_REMOVEXATTR] = {.name = "REMOVEXATTR",
			      .decode = fuse_decode_removexattr},
	[FUSE_FLUSH] = FUSE_DECODE_FIXED("FLUSH", struct fuse_flush_in, flush),
	[FUSE_INIT] = {.name = "INIT", .decode = fuse_decode_init},
	[FUSE_OPENDIR] =
		FUSE_DECODE_FIXED("OPENDIR", struct fuse_open_in, open),
	[FUSE_READDIR] = {.name = "READDIR", .decode = fuse_decode_read},
	[FUSE_RELEASEDIR] = FUSE_DECODE_FIXED("RELEASEDIR",
					      struct fuse_release_in, release),
	[FUSE_FSYNCDIR] =
		FUSE_DECODE_FIXED("FSYNCDIR", struct fuse_fsync_in, fsync),
	[FUSE_GETLK] = FUSE_DECODE_FIXED("GETLK", struct fuse_lk_in, lk),
	[FUSE_SETLK] = FUSE_DECODE_FIXED("SETLK", struct fuse_lk_in, lk),
	[FUSE_SETLKW] = FUSE_DECODE_FIXED("SETLKW", struct fuse_lk_in, lk),
	[FUSE_ACCESS] =
		FUSE_DECODE_FIXED("ACCESS", struct fuse_access_in, access),
	[FUSE_CREATE] = {.name = "CREATE", .decode = fuse_decode_create},
	[FUSE_INTERRUPT] = FUSE_DECODE_FIXED(
		"INTERRUPT", struct fuse_interrupt_in, interrupt),
	[FUSE_BMAP] = FUSE_DECODE_FIXED("BMAP", struct fuse_bmap_in, bmap),
	[FUSE_DESTROY] = {.name = "DESTROY", .decode = fuse_decode_nothing},
	[FUSE_IOCTL] = {.name = "IOCTL", .decode = fuse_decode_ioctl},
	[FUSE_POLL] = FUSE_DECODE_FIXED("POLL", struct fuse_poll_in, poll),
	[FUSE_NOTIFY_REPLY] = {.name = "NOTIFY_REPLY",
			       .decode = fuse_decode_notify_reply},
	[FUSE_BATCH_FORGET] = {.name = "BATCH_FORGET",
			       .decode = fuse_decode_batch_forget,
			       .noreply = true},
	[FUSE_FALLOCATE] = FUSE_DECODE_FIXED(
		"FALLOCATE", struct fuse_fallocate_in, fallocate),
	[FUSE_READDIRPLUS] = {.name = "READDIRPLUS",
			      .decode = fuse_decode_read},
	[FUSE_RENAME2] = {.name = "RENAME2", .decode = fuse_decode_rename2},
	[FUSE_LSEEK] = FUSE_DECODE_FIXED("LSEEK", struct fuse_lseek_in, lseek),
	[FUSE_COPY_FILE_RANGE] = FUSE_DECODE_FIXED(
		"COPY_FILE_RANGE", struct fuse_copy_file_range_in,
		copy_file_range),
	[FUSE_SETUPMAPPING] = FUSE_DECODE_CHECK_ONLY(
		"SETUPMAPPING", struct fuse_setupmapping_in),
	[FUSE_REMOVEMAPPING] = {.name = "REMOVEMAPPING",
				.decode = fuse_decode_removemapping},
	[FUSE_SYNCFS] =
		FUSE_DECODE_FIXED("SYNCFS", struct fuse_syncfs_in, syncfs),
	[FUSE_TMPFILE] = {.name = "TMPFILE", .decode = fuse_decode_tmpfile},
	[FUSE_STATX] = FUSE_DECODE_FIXED("STATX", struct fuse_statx_in, statx),
	[FUSE_COPY_FILE_RANGE_64] = FUSE_DECODE_FIXED(
		"COPY_FILE_RANGE_64", struct fuse_copy_file_range_in,
		copy_file_range),
};

/* Outside the table: indexing it up to 4096 would waste 100 KiB. */
static const struct fuse_decode_op fuse_decode_cuse_init_op = {
	.name = "CUSE_INIT",
	.decode = fuse_decode_cuse_init,
};

static const struct fuse_decode_op *fuse_decode_op_get(uint32_t opcode)
{
	if (opcode == CUSE_INIT)
		return &fuse_decode_cuse_init_op;
	if (opcode > FUSE_OPCODE_MAX || !fuse_decode_ops[opcode].decode)
		return NULL;
	return &fuse_decode_ops[opcode];
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */

int fuse_decode(const void *buf, size_t len, const struct fuse_decode_ctx *ctx,
		struct fuse_req_in *out)
{
	const struct fuse_decode_op *op;
	struct fuse_in_header h;
	struct fuse_decode_cur c;
	size_t ext_len;
	int ret;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(h))
		return -EPROTO;

	memcpy(&h, buf, sizeof(h));
	out->len = h.len;
	out->opcode = h.opcode;
	out->unique = h.unique;
	out->nodeid = h.nodeid;
	out->uid = h.uid;
	out->gid = h.gid;
	out->pid = h.pid;
	if (h.len != len)
		return -EPROTO;

	op = fuse_decode_op_get(h.opcode);
	if (!op)
		return -ENOSYS;

	c.p = (const uint8_t *)buf + sizeof(h);
	c.left = len - sizeof(h);
	ext_len = (size_t)h.total_extlen * 8;
	if (ext_len > c.left)
		return -EINVAL;
	c.left -= ext_len;

	ret = op->decode(op, &c, ctx, out);
	if (ret)
		memset(&out->u, 0, sizeof(out->u));
	return ret;
}

const char *fuse_opcode_name(uint32_t opcode)
{
	const struct fuse_decode_op *op = fuse_decode_op_get(opcode);

	return op ? op->name : "UNKNOWN";
}

int fuse_opcode_noreply(uint32_t opcode)
{
	const struct fuse_decode_op *op = fuse_decode_op_get(opcode);

	return op ? op->noreply : 0;
}

/* ------------------------------------------------------------------------ */
/* Log formatting                                                            */

/* snprintf-style accumulator: counts what it wanted, writes what fits. */
struct fuse_fmt {
	char *buf;
	size_t cap;
	size_t len;
};

/* Longest part of a name or target shown in a log line. */
#define FUSE_FMT_STR_MAX 256

__attribute__((format(printf, 2, 3))) static void
fuse_fmt_printf(struct fuse_fmt *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (f->len < f->cap)
		n = vsnprintf(f->buf + f->len, f->cap - f->len, fmt, ap);
	else
		n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		f->len += (size_t)n;
}

static void fuse_fmt_putc(struct fuse_fmt *f, char ch)
{
	if (f->len + 1 < f->cap)
		f->buf[f->len] = ch;
	f->len++;
}

/* Append ` key="value"`, escaping quotes, backslashes and non-printables. */
static void fuse_fmt_str(struct fuse_fmt *f, const char *key, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (!s) {
		fuse_fmt_printf(f, " %s=NULL", key);
		return;
	}
	fuse_fmt_printf(f, " %s=\"", key);
	for (i = 0; s[i] && i < FUSE_FMT_STR_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			fuse_fmt_putc(f, '\\');
			fuse_fmt_putc(f, (char)ch);
		} else if (ch < 0x20 || ch > 0x7e) {
			fuse_fmt_putc(f, '\\');
			fuse_fmt_putc(f, 'x');
			fuse_fmt_putc(f, hex[ch >> 4]);
			fuse_fmt_putc(f, hex[ch & 0xf]);
		} else {
			fuse_fmt_putc(f, (char)ch);
		}
	}
	if (s[i])
		fuse_fmt_printf(f, "...");
	fuse_fmt_putc(f, '"');
}

static void fuse_fmt_setattr(struct fuse_fmt *f,
			     const struct fuse_setattr_in *in)
{
	fuse_fmt_printf(f, " valid=0x%" PRIx32, in->valid);
	if (in->valid & FATTR_MODE)
		fuse_fmt_printf(f, " mode=0%" PRIo32, in->mode);
	if (in->valid & FATTR_UID)
		fuse_fmt_printf(f, " uid=%" PRIu32, in->uid);
	if (in->valid & FATTR_GID)
		fuse_fmt_printf(f, " gid=%" PRIu32, in->gid);
	if (in->valid & FATTR_SIZE)
		fuse_fmt_printf(f, " size=%" PRIu64, in->size);
	if (in->valid & FATTR_ATIME)
		fuse_fmt_printf(f, " atime=%" PRIu64 ".%09" PRIu32, in->atime,
				in->atimensec);
	if (in->valid & FATTR_MTIME)
		fuse_fmt_printf(f, " mtime=%" PRIu64 ".%09" PRIu32, in->mtime,
				in->mtimensec);
	if (in->valid & FATTR_CTIME)
		fuse_fmt_printf(f, " ctime=%" PRIu64 ".%09" PRIu32, in->ctime,
				in->ctimensec);
	if (in->valid & FATTR_FH)
		fuse_fmt_printf(f, " fh=%" PRIu64, in->fh);
}

static void fuse_fmt_lk(struct fuse_fmt *f, const struct fuse_lk_in *in)
{
	fuse_fmt_printf(f,
			" fh=%" PRIu64 " owner=0x%" PRIx64 " start=%" PRIu64
			" end=%" PRIu64 " type=%" PRIu32 " pid=%" PRIu32
			" lk_flags=0x%" PRIx32,
			in->fh, in->owner, in->lk.start, in->lk.end,
			in->lk.type, in->lk.pid, in->lk_flags);
}

/* The op-specific part; the union members are read per req->opcode. */
static void fuse_fmt_args(struct fuse_fmt *f, const struct fuse_req_in *req)
{
	const typeof(req->u) *u = &req->u;

	switch (req->opcode) {
	case FUSE_LOOKUP:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_REMOVEXATTR:
		fuse_fmt_str(f, "name", u->name.name);
		break;
	case FUSE_FORGET:
		fuse_fmt_printf(f, " nlookup=%" PRIu64, u->forget.nlookup);
		break;
	case FUSE_BATCH_FORGET:
		fuse_fmt_printf(f, " count=%" PRIu32, u->batch_forget.count);
		break;
	case FUSE_GETATTR:
		fuse_fmt_printf(f, " flags=0x%" PRIx32,
				u->getattr.getattr_flags);
		if (u->getattr.getattr_flags & FUSE_GETATTR_FH)
			fuse_fmt_printf(f, " fh=%" PRIu64, u->getattr.fh);
		break;
	case FUSE_SETATTR:
		fuse_fmt_setattr(f, &u->setattr);
		break;
	case FUSE_SYMLINK:
		fuse_fmt_str(f, "name", u->symlink.name);
		fuse_fmt_str(f, "target", u->symlink.target);
		break;
	case FUSE_MKNOD:
		fuse_fmt_str(f, "name", u->mknod.name);
		fuse_fmt_printf(
			f,
			" mode=0%" PRIo32 " rdev=0x%" PRIx32 " umask=0%" PRIo32,
			u->mknod.in.mode, u->mknod.in.rdev, u->mknod.in.umask);
		break;
	case FUSE_MKDIR:
		fuse_fmt_str(f, "name", u->mkdir.name);
		fuse_fmt_printf(f, " mode=0%" PRIo32 " umask=0%" PRIo32,
				u->mkdir.in.mode, u->mkdir.in.umask);
		break;
	case FUSE_RENAME:
	case FUSE_RENAME2:
		fuse_fmt_str(f, "oldname", u->rename.oldname);
		fuse_fmt_printf(f, " newdir=%" PRIu64, u->rename.newdir);
		fuse_fmt_str(f, "newname", u->rename.newname);
		if (req->opcode == FUSE_RENAME2)
			fuse_fmt_printf(f, " flags=0x%" PRIx32,
					u->rename.flags);
		break;
	case FUSE_LINK:
		fuse_fmt_printf(f, " oldnodeid=%" PRIu64, u->link.oldnodeid);
		fuse_fmt_str(f, "name", u->link.name);
		break;
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		fuse_fmt_printf(f, " flags=0%" PRIo32 " open_flags=0x%" PRIx32,
				u->open.flags, u->open.open_flags);
		break;
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		fuse_fmt_printf(f,
				" fh=%" PRIu64 " offset=%" PRIu64
				" size=%" PRIu32 " flags=0%" PRIo32,
				u->read.fh, u->read.offset, u->read.size,
				u->read.flags);
		break;
	case FUSE_WRITE:
		fuse_fmt_printf(f,
				" fh=%" PRIu64 " offset=%" PRIu64
				" size=%" PRIu32 " write_flags=0x%" PRIx32,
				u->write.in.fh, u->write.in.offset,
				u->write.in.size, u->write.in.write_flags);
		break;
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		fuse_fmt_printf(f,
				" fh=%" PRIu64 " flags=0%" PRIo32
				" release_flags=0x%" PRIx32,
				u->release.fh, u->release.flags,
				u->release.release_flags);
		break;
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
		fuse_fmt_printf(f, " fh=%" PRIu64 " fsync_flags=0x%" PRIx32,
				u->fsync.fh, u->fsync.fsync_flags);
		break;
	case FUSE_SETXATTR:
		fuse_fmt_str(f, "name", u->setxattr.name);
		fuse_fmt_printf(f, " size=%" PRIu32 " flags=0x%" PRIx32,
				u->setxattr.size, u->setxattr.flags);
		break;
	case FUSE_GETXATTR:
		fuse_fmt_str(f, "name", u->getxattr.name);
		/* fall through */
	case FUSE_LISTXATTR:
		fuse_fmt_printf(f, " size=%" PRIu32, u->getxattr.size);
		break;
	case FUSE_FLUSH:
		fuse_fmt_printf(f, " fh=%" PRIu64 " lock_owner=0x%" PRIx64,
				u->flush.fh, u->flush.lock_owner);
		break;
	case FUSE_INIT:
	case CUSE_INIT:
		fuse_fmt_printf(f,
				" version=%" PRIu32 ".%" PRIu32
				" max_readahead=%" PRIu32 " flags=0x%" PRIx64,
				u->init.major, u->init.minor,
				u->init.max_readahead,
				(uint64_t)u->init.flags |
					(uint64_t)u->init.flags2 << 32);
		break;
	case FUSE_GETLK:
	case FUSE_SETLK:
	case FUSE_SETLKW:
		fuse_fmt_lk(f, &u->lk);
		break;
	case FUSE_ACCESS:
		fuse_fmt_printf(f, " mask=0%" PRIo32, u->access.mask);
		break;
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		fuse_fmt_str(f, "name", u->create.name);
		fuse_fmt_printf(f,
				" flags=0%" PRIo32 " mode=0%" PRIo32
				" umask=0%" PRIo32 " open_flags=0x%" PRIx32,
				u->create.in.flags, u->create.in.mode,
				u->create.in.umask, u->create.in.open_flags);
		break;
	case FUSE_INTERRUPT:
		fuse_fmt_printf(f, " target=%" PRIu64, u->interrupt.unique);
		break;
	case FUSE_BMAP:
		fuse_fmt_printf(f, " block=%" PRIu64 " blocksize=%" PRIu32,
				u->bmap.block, u->bmap.blocksize);
		break;
	case FUSE_IOCTL:
		fuse_fmt_printf(f,
				" fh=%" PRIu64 " cmd=0x%" PRIx32
				" arg=0x%" PRIx64 " flags=0x%" PRIx32
				" in_size=%" PRIu32 " out_size=%" PRIu32,
				u->ioctl.fh, u->ioctl.cmd, u->ioctl.arg,
				u->ioctl.flags, u->ioctl.in_size,
				u->ioctl.out_size);
		break;
	case FUSE_POLL:
		fuse_fmt_printf(f,
				" fh=%" PRIu64 " kh=%" PRIu64
				" flags=0x%" PRIx32 " events=0x%" PRIx32,
				u->poll.fh, u->poll.kh, u->poll.flags,
				u->poll.events);
		break;
	case FUSE_FALLOCATE:
		fuse_fmt_printf(f,
				" fh=%" PRIu64 " offset=%" PRIu64
				" length=%" PRIu64 " mode=0x%" PRIx32,
				u->fallocate.fh, u->fallocate.offset,
				u->fallocate.length, u->fallocate.mode);
		break;
	case FUSE_LSEEK:
		fuse_fmt_printf(
			f, " fh=%" PRIu64 " offset=%" PRIu64 " whence=%" PRIu32,
			u->lseek.fh, u->lseek.offset, u->lseek.whence);
		break;
	case FUSE_COPY_FILE_RANGE:
	case FUSE_COPY_FILE_RANGE_64:
		fuse_fmt_printf(
			f,
			" fh_in=%" PRIu64 " off_in=%" PRIu64
			" nodeid_out=%" PRIu64 " fh_out=%" PRIu64
			" off_out=%" PRIu64 " len=%" PRIu64 " flags=0x%" PRIx64,
			u->copy_file_range.fh_in, u->copy_file_range.off_in,
			u->copy_file_range.nodeid_out,
			u->copy_file_range.fh_out, u->copy_file_range.off_out,
			u->copy_file_range.len, u->copy_file_range.flags);
		break;
	case FUSE_STATX:
		fuse_fmt_printf(f,
				" flags=0x%" PRIx32 " fh=%" PRIu64
				" sx_flags=0x%" PRIx32 " sx_mask=0x%" PRIx32,
				u->statx.getattr_flags, u->statx.fh,
				u->statx.sx_flags, u->statx.sx_mask);
		break;
	default:
		/* READLINK, STATFS, DESTROY, SYNCFS, NOTIFY_REPLY, mappings */
		break;
	}
}

int fuse_req_format(char *out, size_t cap, const struct fuse_req_in *req)
{
	struct fuse_fmt f = {.buf = out, .cap = cap, .len = 0};
	const char *name = fuse_opcode_name(req->opcode);

	fuse_fmt_printf(&f, "%s", name);
	if (!fuse_decode_op_get(req->opcode))
		fuse_fmt_printf(&f, "(%" PRIu32 ")", req->opcode);
	fuse_fmt_printf(&f, " unique=%" PRIu64 " nodeid=%" PRIu64, req->unique,
			req->nodeid);
	fuse_fmt_args(&f, req);

	if (cap)
		out[f.len < cap ? f.len : cap - 1] = '\0';
	return f.len > INT32_MAX ? INT32_MAX : (int)f.len;
}

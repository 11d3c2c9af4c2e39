/* SPDX-License-Identifier: MIT */
/*
 * wire_meta_conv.h - field-for-field conversions between the metadata wire
 * structs (wire_meta.h) and the FUSE layer's structs (daemon/backend.h).
 * Header only, for metad and the client's cluster backend; the proto/
 * codecs themselves never include backend.h.
 */
#ifndef VALOR_PROTO_WIRE_META_CONV_H
#define VALOR_PROTO_WIRE_META_CONV_H

#include "daemon/backend.h"
#include "proto/wire_meta.h"

static inline void wire_meta_attr_from_vattr(struct wire_meta_attr *w,
					     const struct vattr *a)
{
	w->ino = a->ino;
	w->size = a->size;
	w->blocks = a->blocks;
	w->atime = a->atime;
	w->mtime = a->mtime;
	w->ctime = a->ctime;
	w->btime = a->btime;
	w->mode = a->mode;
	w->nlink = a->nlink;
	w->uid = a->uid;
	w->gid = a->gid;
	w->rdev = a->rdev;
	w->blksize = a->blksize;
	w->generation = a->generation;
}

static inline void wire_meta_attr_to_vattr(struct vattr *a,
					   const struct wire_meta_attr *w)
{
	a->ino = w->ino;
	a->size = w->size;
	a->blocks = w->blocks;
	a->atime = w->atime;
	a->mtime = w->mtime;
	a->ctime = w->ctime;
	a->btime = w->btime;
	a->mode = w->mode;
	a->nlink = w->nlink;
	a->uid = w->uid;
	a->gid = w->gid;
	a->rdev = w->rdev;
	a->blksize = w->blksize;
	a->generation = w->generation;
}

static inline void wire_meta_setattr_from_vsetattr(struct wire_meta_setattr *w,
						   const struct vsetattr *s)
{
	w->valid = s->valid;
	w->mode = s->mode;
	w->uid = s->uid;
	w->gid = s->gid;
	w->size = s->size;
	w->atime = s->atime;
	w->mtime = s->mtime;
	w->ctime = s->ctime;
}

static inline void wire_meta_setattr_to_vsetattr(struct vsetattr *s,
						 const struct wire_meta_setattr *w)
{
	s->valid = w->valid;
	s->mode = w->mode;
	s->uid = w->uid;
	s->gid = w->gid;
	s->size = w->size;
	s->atime = w->atime;
	s->mtime = w->mtime;
	s->ctime = w->ctime;
	s->fh = 0;
	s->has_fh = 0;
}

static inline void wire_meta_statfs_from_vstatfs(struct wire_meta_statfs *w,
						 const struct vstatfs *s)
{
	w->blocks = s->blocks;
	w->bfree = s->bfree;
	w->bavail = s->bavail;
	w->files = s->files;
	w->ffree = s->ffree;
	w->bsize = s->bsize;
	w->frsize = s->frsize;
	w->namelen = s->namelen;
}

static inline void wire_meta_statfs_to_vstatfs(struct vstatfs *s,
					       const struct wire_meta_statfs *w)
{
	s->blocks = w->blocks;
	s->bfree = w->bfree;
	s->bavail = w->bavail;
	s->files = w->files;
	s->ffree = w->ffree;
	s->bsize = w->bsize;
	s->frsize = w->frsize;
	s->namelen = w->namelen;
}

#endif /* VALOR_PROTO_WIRE_META_CONV_H */

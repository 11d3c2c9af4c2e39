/* SPDX-License-Identifier: MIT */
/*
 * itable.h - the kernel's references to inodes (lookup counts).
 *
 * Every reply that hands the kernel an inode (LOOKUP, CREATE, MKNOD, MKDIR,
 * SYMLINK, LINK, TMPFILE, each READDIRPLUS entry) adds one reference; FORGET
 * and BATCH_FORGET take back the number the kernel says. When an inode's
 * count reaches zero the entry goes and the caller tells the backend, which
 * may then free an inode that has no names and no open handles left.
 *
 * Thread-safe: the table is split into stripes, each with its own mutex,
 * chosen by a hash of the inode number. No callback runs under a stripe lock.
 * Adding a new inode allocates one small entry (the kernel learning of an
 * inode is not a per-byte hot path).
 */
#ifndef VALOR_DAEMON_ITABLE_H
#define VALOR_DAEMON_ITABLE_H

#include <stddef.h>
#include <stdint.h>

struct itable;

struct itable *itable_new(void);
/* Frees every entry; itable_free(NULL) is a no-op. */
void itable_free(struct itable *t);

/* Add @n references to @ino. 0 or -ENOMEM. */
int itable_ref(struct itable *t, uint64_t ino, uint64_t n);

/*
 * Drop @n references. Returns 1 when the count reached zero (the entry is
 * gone and the backend should be told), 0 when references remain, and
 * -ENOENT when @ino had no entry (a kernel bug or a forged FORGET; the count
 * is left alone). Dropping more than held clamps to zero and returns 1.
 */
int itable_unref(struct itable *t, uint64_t ino, uint64_t n);

/* References held on @ino (0 if none). */
uint64_t itable_count(struct itable *t, uint64_t ino);

/* Number of inodes with references. */
size_t itable_size(struct itable *t);

/*
 * Call @fn for every entry and empty the table (used at unmount, when the
 * kernel forgets everything at once). @fn runs with no lock held.
 */
void itable_drain(struct itable *t, void (*fn)(void *arg, uint64_t ino),
		  void *arg);

#endif

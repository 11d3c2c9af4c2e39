/* SPDX-License-Identifier: MIT */
/*
 * main.c - posix: POSIX behaviour checks for a mounted file system.
 *
 *   posix DIR [OTHER_DIR]
 *
 * Creates a private directory DIR/posix.XXXXXX and runs every check of the
 * table below in its own subdirectory NN-name, which is the current
 * directory while the check runs (so checks use short relative paths and a
 * forked child that dropped privileges never walks above it). The
 * subdirectory is removed after the check; a removal that fails counts as a
 * failure of that check, since it means the file system lost track of an
 * entry.
 *
 * Output, one line per check:
 *   ok N - name
 *   not ok N - name: <where>: expected X got Y (errno text)
 *   ok N - name # SKIP reason
 * then exactly "N passed, N failed, N skipped". Exit 0 iff nothing failed.
 *
 * OTHER_DIR, if given, is a directory on another file system used for the
 * EXDEV check. $POSIX_ONLY=name,name runs only the named checks.
 *
 * Run as root, most checks need it (chown, device nodes) and some fork a
 * child that becomes nobody (65534): on FUSE that needs -o allow_other.
 *
 * How checks report, and how a stuck check is interrupted: see check.h.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static int posix_n, posix_passed, posix_failed, posix_skipped;
static char posix_root[PATH_MAX + 16];	/* DIR/posix.XXXXXX, absolute */

/* ---- the table ----------------------------------------------------------------- */

enum posix_flags {
	POSIX_NEEDS_ROOT = 1 << 0,
};

struct posix_check {
	const char *name;
	void (*fn)(void);
	unsigned flags;
};

static const struct posix_check posix_checks[] = {
	{ "create_excl", check_create_excl, 0 },
	{ "umask", check_umask, 0 },
	{ "creat_missing_dir", check_creat_missing_dir, 0 },
	{ "path_through_file", check_path_through_file, 0 },
	{ "open_errors", check_open_errors, 0 },
	{ "write_read", check_write_read, 0 },
	{ "pread_pwrite", check_pread_pwrite, 0 },
	{ "pwrite_beyond_4g", check_pwrite_beyond_4g, 0 },
	{ "o_append", check_o_append, 0 },
	{ "o_append_concurrent", check_o_append_concurrent, 0 },
	{ "o_trunc", check_o_trunc, 0 },
	{ "ftruncate", check_ftruncate, 0 },
	{ "stat_fields", check_stat_fields, 0 },
	{ "chmod", check_chmod, 0 },
	{ "chown", check_chown, POSIX_NEEDS_ROOT },
	{ "chown_clears_suid", check_chown_clears_suid, POSIX_NEEDS_ROOT },
	{ "write_clears_suid", check_write_clears_suid, POSIX_NEEDS_ROOT },
	{ "setgid_dir", check_setgid_dir, POSIX_NEEDS_ROOT },
	{ "utimensat_ns", check_utimensat_ns, 0 },
	{ "utime_now", check_utime_now, 0 },
	{ "utime_omit", check_utime_omit, 0 },
	{ "times_on_write", check_times_on_write, 0 },
	{ "ctime_on_attr_change", check_ctime_on_attr_change, 0 },
	{ "dir_times_on_entry_change", check_dir_times_on_entry_change, 0 },
	{ "mkdir_rmdir", check_mkdir_rmdir, 0 },
	{ "unlink_dir", check_unlink_dir, 0 },
	{ "rmdir_file", check_rmdir_file, 0 },
	{ "name_max", check_name_max, 0 },
	{ "symlink", check_symlink, 0 },
	{ "symlink_long_target", check_symlink_long_target, 0 },
	{ "symlink_loop", check_symlink_loop, 0 },
	{ "hardlink", check_hardlink, 0 },
	{ "rename_file_replace", check_rename_file_replace, 0 },
	{ "rename_hardlink_noop", check_rename_hardlink_noop, 0 },
	{ "rename_dir_to_empty_dir", check_rename_dir_to_empty_dir, 0 },
	{ "rename_dir_nonempty", check_rename_dir_nonempty, 0 },
	{ "rename_file_to_dir", check_rename_file_to_dir, 0 },
	{ "rename_dir_to_file", check_rename_dir_to_file, 0 },
	{ "rename_into_subtree", check_rename_into_subtree, 0 },
	{ "renameat2_noreplace", check_renameat2_noreplace, 0 },
	{ "renameat2_exchange", check_renameat2_exchange, 0 },
	{ "exdev", check_exdev, 0 },
	{ "mkfifo", check_mkfifo, 0 },
	{ "mknod_sock", check_mknod_sock, 0 },
	{ "mknod_dev", check_mknod_dev, POSIX_NEEDS_ROOT },
	{ "unix_socket", check_unix_socket, 0 },
	{ "xattr", check_xattr, 0 },
	{ "xattr_trusted", check_xattr_trusted, POSIX_NEEDS_ROOT },
	{ "fallocate_mode0", check_fallocate_mode0, 0 },
	{ "fallocate_keep_size", check_fallocate_keep_size, 0 },
	{ "punch_hole", check_punch_hole, 0 },
	{ "punch_hole_blocks", check_punch_hole_blocks, 0 },
	{ "seek_data_hole", check_seek_data_hole, 0 },
	{ "copy_file_range", check_copy_file_range, 0 },
	{ "statvfs", check_statvfs, 0 },
	{ "readdir_exact", check_readdir_exact, 0 },
	{ "readdir_churn", check_readdir_churn, 0 },
	{ "readdir_seekdir", check_readdir_seekdir, 0 },
	{ "flock", check_flock, 0 },
	{ "posix_locks", check_posix_locks, 0 },
	{ "posix_lock_ranges", check_posix_lock_ranges, 0 },
	{ "posix_lock_release", check_posix_lock_release, 0 },
	{ "o_tmpfile", check_o_tmpfile, 0 },
	{ "mmap_read", check_mmap_read, 0 },
	{ "mmap_write", check_mmap_write, 0 },
	{ "unlinked_open", check_unlinked_open, 0 },
	{ "fsync", check_fsync, 0 },
	{ "access", check_access, 0 },
	{ "eacces_nobody", check_eacces_nobody, POSIX_NEEDS_ROOT },
	{ "sticky", check_sticky, POSIX_NEEDS_ROOT },
};

/* ---- runner ---------------------------------------------------------------------- */

static void posix_on_alarm(int sig)
{
	(void)sig;
	posix_timed_out = 1;
	alarm(1);	/* keep interrupting until the check gives up */
}

static int posix_rm_one(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) ? -1 : 0;
	return unlink(path) ? -1 : 0;
}

/* Remove a tree bottom-up; 0, or -1 with errno set. */
static int posix_rm_tree(const char *path)
{
	return nftw(path, posix_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void posix_print_result(const char *name)
{
	if (posix_res->failed) {
		posix_failed++;
		printf("not ok %d - %s: %s\n", posix_n, name, posix_res->msg);
	} else if (posix_res->skipped) {
		posix_skipped++;
		printf("ok %d - %s # SKIP %s\n", posix_n, name, posix_res->msg);
	} else {
		posix_passed++;
		printf("ok %d - %s\n", posix_n, name);
	}
	fflush(stdout);
}

static void posix_run_check(const struct posix_check *c)
{
	char dir[64];

	posix_n++;
	memset(posix_res, 0, sizeof(*posix_res));
	if ((c->flags & POSIX_NEEDS_ROOT) && !posix_is_root) {
		posix_skip("needs root");
		posix_print_result(c->name);
		return;
	}
	snprintf(dir, sizeof(dir), "%02d-%s", posix_n, c->name);
	if (mkdir(dir, 0755) || chmod(dir, 0755) || chdir(dir)) {
		posix_fail("setting up %s/%s: %s", posix_root, dir,
			   strerror(errno));
		posix_print_result(c->name);
		return;
	}
	posix_timed_out = 0;
	alarm(POSIX_CHECK_TIMEOUT);
	c->fn();
	alarm(0);
	if (posix_timed_out) {
		char first[sizeof(posix_res->msg)];

		snprintf(first, sizeof(first), "%s", posix_res->msg);
		posix_res->failed = 1;
		snprintf(posix_res->msg, sizeof(posix_res->msg),
			 "timed out after %d s; first failure: %.900s",
			 POSIX_CHECK_TIMEOUT, first);
	}
	if (chdir(posix_root)) {
		fprintf(stderr, "posix: chdir %s: %s\n", posix_root,
			strerror(errno));
		exit(2);
	}
	umask(022);	/* in case a check changed it */
	if (posix_rm_tree(dir) && !posix_res->failed)
		posix_fail("cleanup: removing %s: expected success got -1 (%s)",
			   dir, strerror(errno));
	posix_print_result(c->name);
}

/* $POSIX_ONLY, if set, is a comma-separated list of the checks to run. */
static bool posix_selected(const char *name)
{
	const char *only = getenv("POSIX_ONLY"), *p;
	size_t n = strlen(name);

	if (!only || !*only)
		return true;
	for (p = only; (p = strstr(p, name)); p += n)
		if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

static void posix_usage(void)
{
	fprintf(stderr, "usage: posix DIR [OTHER_DIR]\n"
			"  runs POSIX behaviour checks in a private directory under DIR;\n"
			"  OTHER_DIR (another file system) enables the EXDEV check;\n"
			"  POSIX_ONLY=name,name runs only the named checks\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = posix_on_alarm };	/* no SA_RESTART */
	size_t i, nchecks = sizeof(posix_checks) / sizeof(posix_checks[0]);
	char base[PATH_MAX];

	if (argc < 2 || argc > 3 || argv[1][0] == '-')
		posix_usage();
	if (!realpath(argv[1], base)) {
		fprintf(stderr, "posix: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	if (argc == 3 && !realpath(argv[2], posix_other)) {
		fprintf(stderr, "posix: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	posix_res = mmap(NULL, sizeof(*posix_res), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (posix_res == MAP_FAILED) {
		perror("posix: mmap");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	umask(022);
	posix_is_root = geteuid() == 0;
	snprintf(posix_root, sizeof(posix_root), "%s/posix.XXXXXX", base);
	if (!mkdtemp(posix_root) || chmod(posix_root, 0755) ||
	    chdir(posix_root)) {
		fprintf(stderr, "posix: private directory %s: %s\n",
			posix_root, strerror(errno));
		return 2;
	}
	for (i = 0; i < nchecks; i++)
		if (posix_selected(posix_checks[i].name))
			posix_run_check(&posix_checks[i]);

	/* The private directory must be empty and removable now. */
	posix_n++;
	memset(posix_res, 0, sizeof(*posix_res));
	if (chdir(base) || rmdir(posix_root))
		posix_fail("rmdir %s: expected success got -1 (%s)", posix_root,
			   strerror(errno));
	posix_print_result("remove_private_dir");

	printf("%d passed, %d failed, %d skipped\n", posix_passed, posix_failed,
	       posix_skipped);
	return posix_failed ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/opts.h"
#include "daemon/config.h"

static void test_opts__defaults_and_values(void **state)
{
	struct vfs_config c;
	char err[256];

	vfs_config_defaults(&c);
	assert_int_equal(c.default_permissions, 1);
	assert_int_equal(c.max_write, 1u << 20);
	assert_int_equal(vfs_config_parse_opts(&c,
		"engine=sync,threads=3,max_write=128k,attr_timeout=2.5,"
		"allow_other,fsname=data,writeback_cache,no_default_permissions",
		err, sizeof(err)), 0);
	assert_int_equal(c.engine, VENGINE_SYNC);
	assert_int_equal(c.threads, 3);
	assert_int_equal(c.max_write, 128 * 1024);
	assert_true(c.attr_timeout > 2.49 && c.attr_timeout < 2.51);
	assert_int_equal(c.allow_other, 1);
	assert_string_equal(c.fsname, "data");
	assert_int_equal(c.writeback_cache, 1);
	assert_int_equal(c.default_permissions, 0);
}

static void test_opts__unknown_option_is_named(void **state)
{
	struct vfs_config c;
	char err[256];

	vfs_config_defaults(&c);
	assert_int_equal(vfs_config_parse_opts(&c, "ro,bogus=1", err,
					       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bogus"));
}

static void test_opts__bad_values_rejected(void **state)
{
	struct vfs_config c;
	char err[256];

	vfs_config_defaults(&c);
	assert_int_equal(vfs_config_parse_opts(&c, "threads=0", err,
					       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "threads"));
	assert_int_equal(vfs_config_parse_opts(&c, "threads=x", err,
					       sizeof(err)), -EINVAL);
	assert_int_equal(vfs_config_parse_opts(&c, "engine=turbo", err,
					       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sync|clone"));
	assert_int_equal(vfs_config_parse_opts(&c, "attr_timeout=-1", err,
					       sizeof(err)), -EINVAL);
	assert_int_equal(vfs_config_parse_opts(&c, "allow_other=2", err,
					       sizeof(err)), -EINVAL);
	/* Values were not half-applied. */
	assert_int_equal(c.threads, 0);
}

static void test_opts__mount_helper_options_ignored(void **state)
{
	struct vfs_config c;
	char err[256];

	vfs_config_defaults(&c);
	assert_int_equal(vfs_config_parse_opts(&c, "_netdev,nofail,noauto,,rw",
					       err, sizeof(err)), 0);
	assert_int_equal(c.ro, 0);
}

static void test_opts__sizes(void **state)
{
	uint64_t v;

	assert_int_equal(vopts_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(vopts_parse_size("1m", &v), 0);
	assert_int_equal(v, 1 << 20);
	assert_int_equal(vopts_parse_size("2GiB", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(vopts_parse_size("", &v), -EINVAL);
	assert_int_equal(vopts_parse_size("12q", &v), -EINVAL);
	assert_int_equal(vopts_parse_size("-1", &v), -EINVAL);
}

static void test_opts__cpulist(void **state)
{
	int cpus[8];

	assert_int_equal(vopts_parse_cpulist("0-2:5", cpus, 8), 4);
	assert_int_equal(cpus[0], 0);
	assert_int_equal(cpus[2], 2);
	assert_int_equal(cpus[3], 5);
	assert_int_equal(vopts_parse_cpulist("3-1", cpus, 8), -EINVAL);
	assert_int_equal(vopts_parse_cpulist("0-9", cpus, 8), -EINVAL);
	assert_int_equal(vopts_parse_cpulist("a", cpus, 8), -EINVAL);
	assert_int_equal(vopts_parse_cpulist("1,2", cpus, 8), -EINVAL);
}

static void test_opts__args(void **state)
{
	struct vfs_config c;
	char *ok[] = { "valorfs", "-s", "-o", "threads=2", "mem", "/mnt", NULL };
	char *missing[] = { "valorfs", "mem", NULL };
	char *badwrite[] = { "valorfs", "-o", "max_write=5000", "mem", "/m",
			     NULL };

	vfs_config_defaults(&c);
	assert_int_equal(vfs_config_parse_args(&c, 6, ok), 0);
	assert_int_equal(c.engine, VENGINE_SYNC);
	assert_string_equal(c.source, "mem");
	assert_string_equal(c.mountpoint, "/mnt");
	vfs_config_defaults(&c);
	assert_int_equal(vfs_config_parse_args(&c, 2, missing), -EINVAL);
	vfs_config_defaults(&c);
	assert_int_equal(vfs_config_parse_args(&c, 5, badwrite), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts__defaults_and_values),
		cmocka_unit_test(test_opts__unknown_option_is_named),
		cmocka_unit_test(test_opts__bad_values_rejected),
		cmocka_unit_test(test_opts__mount_helper_options_ignored),
		cmocka_unit_test(test_opts__sizes),
		cmocka_unit_test(test_opts__cpulist),
		cmocka_unit_test(test_opts__args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

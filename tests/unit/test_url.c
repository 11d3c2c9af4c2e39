/* SPDX-License-Identifier: MIT */
/*
 * test_url.c - common/url: what parses, what does not (each with its
 * reason), printing, loopback detection and resolution (literals and
 * "localhost" from /etc/hosts only: the machine may have no DNS, and a
 * lookup that must fail could hang on an unreachable resolver).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/url.h"

#define TU_WATCHDOG_S 20

static int tu_setup(void **state)
{
	(void)state;
	alarm(TU_WATCHDOG_S);
	return 0;
}

static int tu_teardown(void **state)
{
	(void)state;
	alarm(0);
	return 0;
}

static void tu_ok(const char *s, enum vurl_scheme scheme,
		  enum vurl_host_kind kind, const char *host, uint16_t port)
{
	const char *why = NULL;
	struct vurl u;

	if (vurl_parse(&u, s, &why) != 0)
		fail_msg("\"%s\" refused: %s", s, why);
	assert_int_equal(u.scheme, scheme);
	assert_int_equal(u.kind, kind);
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
}

/* Refused with a reason that contains @reason. */
static void tu_bad(const char *s, const char *reason)
{
	const char *why = NULL;
	struct vurl u;

	if (vurl_parse(&u, s, &why) != -EINVAL)
		fail_msg("\"%s\" accepted", s ? s : "(null)");
	assert_non_null(why);
	if (!strstr(why, reason))
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", s, why, reason);
	assert_int_equal(u.port, 0);
	assert_string_equal(u.host, "");
}

static void test_url__parses_ipv4_ipv6_and_names(void **state)
{
	char buf[VURL_STR_MAX];
	struct vurl u;

	(void)state;
	tu_ok("tcp://10.0.0.1:7000", VURL_TCP, VURL_HOST_IPV4, "10.0.0.1",
	      7000);
	tu_ok("rdma://192.168.1.20:7200", VURL_RDMA, VURL_HOST_IPV4,
	      "192.168.1.20", 7200);
	tu_ok("tcp://[::1]:7100", VURL_TCP, VURL_HOST_IPV6, "::1", 7100);
	tu_ok("rdma://[fe80::1:2]:1", VURL_RDMA, VURL_HOST_IPV6, "fe80::1:2",
	      1);
	tu_ok("tcp://mgmt-1.example.org:65535", VURL_TCP, VURL_HOST_NAME,
	      "mgmt-1.example.org", 65535);
	tu_ok("TCP://localhost:0", VURL_TCP, VURL_HOST_NAME, "localhost", 0);
	tu_ok("tcp://1e100.net:80", VURL_TCP, VURL_HOST_NAME, "1e100.net", 80);

	assert_int_equal(vurl_parse(&u, "tcp://[::1]:7100", NULL), 0);
	assert_string_equal(vurl_format(&u, buf, sizeof(buf)),
			    "tcp://[::1]:7100");
	assert_int_equal(vurl_parse(&u, "rdma://10.1.2.3:7", NULL), 0);
	assert_string_equal(vurl_format(&u, buf, sizeof(buf)),
			    "rdma://10.1.2.3:7");
	assert_int_equal(ntohl(u.addr.v4.s_addr), 0x0a010203);
}

static void test_url__refuses_malformed_with_a_reason(void **state)
{
	char name[300];
	int i;

	(void)state;
	tu_bad(NULL, "empty");
	tu_bad("", "empty");
	tu_bad("10.0.0.1:7000", "missing scheme");
	tu_bad("http://10.0.0.1:7000", "unknown scheme");
	tu_bad("tcp://", "missing ':PORT'");
	tu_bad("tcp://:7000", "missing host");
	tu_bad("tcp://10.0.0.1", "missing ':PORT'");
	tu_bad("tcp://10.0.0.1:", "missing port");
	tu_bad("tcp://10.0.0.1:65536", "out of range");
	tu_bad("tcp://10.0.0.1:123456", "out of range");
	tu_bad("tcp://10.0.0.1:-1", "decimal");
	tu_bad("tcp://10.0.0.1:+80", "decimal");
	tu_bad("tcp://10.0.0.1: 80", "decimal");
	tu_bad("tcp://10.0.0.1:80/path", "path");
	tu_bad("tcp://10.0.0.1:80x", "decimal");
	tu_bad("tcp://300.1.1.1:80", "IPv4");
	tu_bad("tcp://1.2.3:80", "IPv4");
	tu_bad("tcp://::1:80", "brackets");
	tu_bad("tcp://[::1:80", "']'");
	tu_bad("tcp://[::1]80", "':PORT'");
	tu_bad("tcp://[::1]", "':PORT'");
	tu_bad("tcp://[]:80", "IPv6");
	tu_bad("tcp://[1.2.3.4]:80", "IPv6");
	tu_bad("tcp://[fe80::1%eth0]:80", "zone");
	tu_bad("tcp://host_name:80", "character");
	tu_bad("tcp://-host:80", "starts with '-'");
	tu_bad("tcp://host-:80", "ends with '-'");
	tu_bad("tcp://a..b:80", "empty label");
	tu_bad("tcp://host.:80", "ends with '.'");
	tu_bad("tcp://user@host:80", "character");

	/* A 64-character label. */
	strcpy(name, "tcp://");
	memset(name + 6, 'a', 64);
	strcpy(name + 70, ":80");
	tu_bad(name, "63");
	/* 260 characters in labels of 60. */
	memset(name + 6, 'a', 260);
	for (i = 6 + 60; i < 6 + 260; i += 61)
		name[i] = '.';
	strcpy(name + 266, ":80");
	tu_bad(name, "253");
}

static void test_url__loopback(void **state)
{
	static const struct {
		const char *url;
		int loop;
	} cases[] = {
		{"tcp://127.0.0.1:1", 1},
		{"tcp://127.3.4.5:1", 1},
		{"tcp://[::1]:1", 1},
		{"tcp://[::ffff:127.0.0.1]:1", 1},
		{"tcp://localhost:1", 1},
		{"tcp://LocalHost:1", 1},
		{"tcp://0.0.0.0:1", 0},
		{"tcp://10.0.0.1:1", 0},
		{"tcp://128.0.0.1:1", 0},
		{"tcp://[::]:1", 0},
		{"tcp://[::ffff:10.0.0.1]:1", 0},
		{"tcp://example.org:1", 0},
		{"tcp://localhost.example:1", 0},
	};
	struct vurl u;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(vurl_parse(&u, cases[i].url, NULL), 0);
		if (vurl_is_loopback(&u) != cases[i].loop)
			fail_msg("%s: loopback should be %d", cases[i].url,
				 cases[i].loop);
	}
}

static void test_url__resolve(void **state)
{
	struct sockaddr_storage ss;
	char buf[64];
	socklen_t len;
	struct vurl u;

	(void)state;
	assert_int_equal(vurl_parse(&u, "tcp://127.0.0.1:7000", NULL), 0);
	assert_int_equal(vurl_resolve(&u, 0, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_true(vurl_sockaddr_is_loopback((struct sockaddr *)&ss));
	assert_string_equal(
		vurl_sockaddr_str((struct sockaddr *)&ss, buf, sizeof(buf)),
		"127.0.0.1:7000");

	assert_int_equal(vurl_parse(&u, "tcp://[::1]:7001", NULL), 0);
	assert_int_equal(vurl_resolve(&u, 0, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_true(vurl_sockaddr_is_loopback((struct sockaddr *)&ss));
	assert_string_equal(
		vurl_sockaddr_str((struct sockaddr *)&ss, buf, sizeof(buf)),
		"[::1]:7001");

	/* Connecting to port 0 makes no sense; listening on it does. */
	assert_int_equal(vurl_parse(&u, "tcp://127.0.0.1:0", NULL), 0);
	assert_int_equal(vurl_resolve(&u, 0, &ss, &len), -EINVAL);
	assert_int_equal(vurl_resolve(&u, 1, &ss, &len), 0);

	/* /etc/hosts has localhost; no DNS involved. */
	assert_int_equal(vurl_parse(&u, "tcp://localhost:7002", NULL), 0);
	assert_int_equal(vurl_resolve(&u, 0, &ss, &len), 0);
	assert_true(vurl_sockaddr_is_loopback((struct sockaddr *)&ss));

	assert_int_equal(vurl_parse(&u, "tcp://0.0.0.0:7003", NULL), 0);
	assert_int_equal(vurl_resolve(&u, 1, &ss, &len), 0);
	assert_false(vurl_sockaddr_is_loopback((struct sockaddr *)&ss));
}

#define TU_TEST(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TU_TEST(test_url__parses_ipv4_ipv6_and_names),
		TU_TEST(test_url__refuses_malformed_with_a_reason),
		TU_TEST(test_url__loopback),
		TU_TEST(test_url__resolve),
	};

	vlog_set_level(VLOG_ERR);
	return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_auth.c - common/auth: secret files (sizes, kinds, modes, the
 * trailing newline) and the challenge-response run message by message:
 * success, wrong secret, a secret on one side only, tampering, replay,
 * bad lengths and order.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/auth.h"
#include "common/log.h"

#define TA_WATCHDOG_S 20

struct ta_fixture {
	char dir[64];
	char path[128];
};

static int ta_setup(void **state)
{
	struct ta_fixture *fx = calloc(1, sizeof(*fx));

	alarm(TA_WATCHDOG_S);
	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/test_auth.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	*state = fx;
	return 0;
}

static int ta_teardown(void **state)
{
	struct ta_fixture *fx = *state;
	char p[160];
	int i;

	for (i = 0; i < 8; i++) {
		snprintf(p, sizeof(p), "%s/s%d", fx->dir, i);
		unlink(p);
		rmdir(p);
	}
	rmdir(fx->dir);
	free(fx);
	alarm(0);
	return 0;
}

/* Write @len bytes of @data to file number @n with @mode; returns path. */
static const char *ta_file(struct ta_fixture *fx, int n, const void *data,
			   size_t len, mode_t mode)
{
	int fd;

	snprintf(fx->path, sizeof(fx->path), "%s/s%d", fx->dir, n);
	fd = open(fx->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0); /* umask-proof */
	close(fd);
	return fx->path;
}

static struct vauth_secret *ta_secret(const char *key)
{
	struct vauth_secret *s = NULL;

	assert_int_equal(vauth_secret_new(key, strlen(key), &s), 0);
	return s;
}

/*
 * Run a whole handshake between @cs (client) and @ss (server). Returns 0
 * when both sides are satisfied, or the first error, with *@who = 'c'/'s'
 * and *@why its reason.
 */
static int ta_handshake(const struct vauth_secret *cs,
			const struct vauth_secret *ss, char *who,
			const char **why)
{
	uint8_t hello[VAUTH_HELLO_LEN], proof[VAUTH_PROOF_LEN],
		ack[VAUTH_ACK_LEN];
	struct vauth_hs c, s;
	int ret;

	vauth_hs_init(&c, cs);
	vauth_hs_init(&s, ss);
	vauth_server_hello(&s, hello);
	*who = 'c';
	ret = vauth_client_hello(&c, hello, sizeof(hello), proof, why);
	if (ret <= 0)
		return ret;
	assert_int_equal(ret, VAUTH_PROOF_LEN);
	*who = 's';
	ret = vauth_server_proof(&s, proof, sizeof(proof), ack, why);
	if (ret < 0)
		return ret;
	*who = 'c';
	return vauth_client_ack(&c, ack, sizeof(ack), why);
}

/* ---- secrets ------------------------------------------------------------- */

static void test_auth__secret_file_loads_without_its_newline(void **state)
{
	struct ta_fixture *fx = *state;
	struct vauth_secret *a = NULL, *b = NULL, *c = NULL;
	const char *why = NULL;
	char who;

	assert_int_equal(
		vauth_secret_load(
			ta_file(fx, 0, "0123456789abcdef\n", 17, 0600), &a),
		0);
	assert_int_equal(
		vauth_secret_load(ta_file(fx, 1, "0123456789abcdef", 16, 0400),
				  &b),
		0);
	assert_int_equal(
		vauth_secret_load(
			ta_file(fx, 2, "0123456789abcdef\r\n", 18, 0600), &c),
		0);
	/* Same key each time: they authenticate each other. */
	assert_int_equal(ta_handshake(a, b, &who, &why), 0);
	assert_int_equal(ta_handshake(c, a, &who, &why), 0);
	vauth_secret_free(a);
	vauth_secret_free(b);
	vauth_secret_free(c);
	vauth_secret_free(NULL);
}

static void test_auth__secret_file_refusals(void **state)
{
	struct ta_fixture *fx = *state;
	struct vauth_secret *s = (void *)1;
	static char big[VAUTH_SECRET_MAX + 1];
	char p[160];

	memset(big, 'k', sizeof(big));
	/* Too short, even with the newline it had. */
	assert_int_equal(
		vauth_secret_load(ta_file(fx, 0, "short-secret-15\n", 16, 0600),
				  &s),
		-EINVAL);
	assert_null(s);
	assert_int_equal(vauth_secret_load(ta_file(fx, 1, "", 0, 0600), &s),
			 -EINVAL);
	/* Too long. */
	assert_int_equal(
		vauth_secret_load(ta_file(fx, 2, big, sizeof(big), 0600), &s),
		-EINVAL);
	/* Exactly the maximum is fine. */
	assert_int_equal(
		vauth_secret_load(ta_file(fx, 3, big, VAUTH_SECRET_MAX, 0600),
				  &s),
		0);
	vauth_secret_free(s);
	/* Missing, and a directory. */
	snprintf(p, sizeof(p), "%s/nope", fx->dir);
	assert_int_equal(vauth_secret_load(p, &s), -ENOENT);
	snprintf(p, sizeof(p), "%s/s4", fx->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(vauth_secret_load(p, &s), -EINVAL);
	/* From memory: same bounds. */
	assert_int_equal(vauth_secret_new("x", 1, &s), -EINVAL);
	assert_int_equal(vauth_secret_new(big, sizeof(big), &s), -EINVAL);
}

/* Readable by others: loaded, with a warning in the log. */
static void test_auth__secret_file_loose_mode_still_loads(void **state)
{
	struct ta_fixture *fx = *state;
	struct vauth_secret *s = NULL;

	assert_int_equal(
		vauth_secret_load(
			ta_file(fx, 0, "a-long-enough-secret", 20, 0644), &s),
		0);
	assert_non_null(s);
	vauth_secret_free(s);
}

/* ---- handshake ----------------------------------------------------------- */

static void test_auth__same_secret_authenticates_both_ways(void **state)
{
	struct vauth_secret *a = ta_secret("the-cluster-secret");
	struct vauth_secret *b = ta_secret("the-cluster-secret");
	const char *why = NULL;
	char who;

	(void)state;
	assert_int_equal(ta_handshake(a, b, &who, &why), 0);
	assert_null(why);
	/* And without any secret on either side. */
	assert_int_equal(ta_handshake(NULL, NULL, &who, &why), 0);
	vauth_secret_free(a);
	vauth_secret_free(b);
}

static void test_auth__wrong_secret_is_refused_by_the_server(void **state)
{
	struct vauth_secret *a = ta_secret("the-cluster-secret");
	struct vauth_secret *b = ta_secret("the-cluster-secreT");
	const char *why = NULL;
	char who = 0;

	(void)state;
	assert_int_equal(ta_handshake(a, b, &who, &why), -EACCES);
	assert_int_equal(who, 's');
	assert_non_null(strstr(why, "does not verify"));
	vauth_secret_free(a);
	vauth_secret_free(b);
}

static void test_auth__secret_on_one_side_only_fails_clearly(void **state)
{
	struct vauth_secret *a = ta_secret("the-cluster-secret");
	uint8_t hello[VAUTH_HELLO_LEN], proof[VAUTH_PROOF_LEN],
		ack[VAUTH_ACK_LEN];
	const char *why = NULL;
	struct vauth_hs s;
	char who = 0;

	(void)state;
	/* Client has one, server not. */
	assert_int_equal(ta_handshake(a, NULL, &who, &why), -EACCES);
	assert_int_equal(who, 'c');
	assert_non_null(strstr(why, "server has no secret"));
	/* Server has one, client not. */
	assert_int_equal(ta_handshake(NULL, a, &who, &why), -EACCES);
	assert_int_equal(who, 'c');
	assert_non_null(strstr(why, "--secret"));
	/* A server without a secret takes no proof at all. */
	vauth_hs_init(&s, NULL);
	vauth_server_hello(&s, hello);
	memset(proof, 0, sizeof(proof));
	assert_int_equal(
		vauth_server_proof(&s, proof, sizeof(proof), ack, &why),
		-EPROTO);
	vauth_secret_free(a);
}

static void test_auth__tampered_messages_are_refused(void **state)
{
	struct vauth_secret *a = ta_secret("the-cluster-secret");
	uint8_t hello[VAUTH_HELLO_LEN], proof[VAUTH_PROOF_LEN],
		ack[VAUTH_ACK_LEN];
	const char *why = NULL;
	struct vauth_hs c, s;
	int i;

	(void)state;
	/* Any flipped bit in the proof (nonce or MAC) fails it. */
	for (i = 0; i < VAUTH_PROOF_LEN; i += 7) {
		vauth_hs_init(&c, a);
		vauth_hs_init(&s, a);
		vauth_server_hello(&s, hello);
		assert_int_equal(vauth_client_hello(&c, hello, sizeof(hello),
						    proof, &why),
				 VAUTH_PROOF_LEN);
		proof[i] ^= 0x01;
		assert_int_equal(
			vauth_server_proof(&s, proof, sizeof(proof), ack, &why),
			-EACCES);
	}
	/* A flipped bit in the server nonce: the proof no longer matches. */
	vauth_hs_init(&c, a);
	vauth_hs_init(&s, a);
	vauth_server_hello(&s, hello);
	hello[5] ^= 0x80;
	assert_int_equal(
		vauth_client_hello(&c, hello, sizeof(hello), proof, &why),
		VAUTH_PROOF_LEN);
	assert_int_equal(
		vauth_server_proof(&s, proof, sizeof(proof), ack, &why),
		-EACCES);
	/* A forged ACK: the client refuses the server. */
	vauth_hs_init(&c, a);
	vauth_hs_init(&s, a);
	vauth_server_hello(&s, hello);
	assert_int_equal(
		vauth_client_hello(&c, hello, sizeof(hello), proof, &why),
		VAUTH_PROOF_LEN);
	assert_int_equal(
		vauth_server_proof(&s, proof, sizeof(proof), ack, &why), 0);
	ack[31] ^= 0x40;
	assert_int_equal(vauth_client_ack(&c, ack, sizeof(ack), &why), -EACCES);
	assert_non_null(strstr(why, "does not know our secret"));
	/* The client's own MAC reflected back as the ACK: refused (the two
	 * directions use different labels). */
	vauth_hs_init(&c, a);
	vauth_hs_init(&s, a);
	vauth_server_hello(&s, hello);
	assert_int_equal(
		vauth_client_hello(&c, hello, sizeof(hello), proof, &why),
		VAUTH_PROOF_LEN);
	assert_int_equal(vauth_client_ack(&c, proof + VAUTH_NONCE_LEN,
					  VAUTH_ACK_LEN, &why),
			 -EACCES);
	vauth_secret_free(a);
}

/* A proof recorded on one connection is useless on the next: the server
 * draws a fresh nonce every time. */
static void test_auth__replayed_proof_is_refused(void **state)
{
	struct vauth_secret *a = ta_secret("the-cluster-secret");
	uint8_t hello1[VAUTH_HELLO_LEN], hello2[VAUTH_HELLO_LEN],
		proof[VAUTH_PROOF_LEN], ack[VAUTH_ACK_LEN];
	const char *why = NULL;
	struct vauth_hs c, s1, s2;

	(void)state;
	vauth_hs_init(&c, a);
	vauth_hs_init(&s1, a);
	vauth_hs_init(&s2, a);
	vauth_server_hello(&s1, hello1);
	vauth_server_hello(&s2, hello2);
	assert_int_equal(hello1[0], VAUTH_SCHEME_HMAC_SHA256);
	assert_memory_not_equal(hello1 + 1, hello2 + 1, VAUTH_NONCE_LEN);
	assert_int_equal(
		vauth_client_hello(&c, hello1, sizeof(hello1), proof, &why),
		VAUTH_PROOF_LEN);
	assert_int_equal(
		vauth_server_proof(&s2, proof, sizeof(proof), ack, &why),
		-EACCES);
	assert_int_equal(
		vauth_server_proof(&s1, proof, sizeof(proof), ack, &why), 0);
	vauth_secret_free(a);
}

static void test_auth__bad_lengths_and_order_are_ebadmsg(void **state)
{
	struct vauth_secret *a = ta_secret("the-cluster-secret");
	uint8_t hello[VAUTH_HELLO_LEN], proof[VAUTH_PROOF_LEN],
		ack[VAUTH_ACK_LEN];
	const char *why = NULL;
	struct vauth_hs c, s;

	(void)state;
	vauth_hs_init(&c, a);
	vauth_hs_init(&s, a);
	/* PROOF before HELLO. */
	assert_int_equal(
		vauth_server_proof(&s, proof, sizeof(proof), ack, &why),
		-EBADMSG);
	/* ACK before HELLO. */
	assert_int_equal(vauth_client_ack(&c, ack, sizeof(ack), &why),
			 -EBADMSG);

	vauth_hs_init(&c, a);
	vauth_hs_init(&s, a);
	vauth_server_hello(&s, hello);
	assert_int_equal(
		vauth_client_hello(&c, hello, sizeof(hello) - 1, proof, &why),
		-EBADMSG);
	vauth_hs_init(&c, a);
	hello[0] = 7; /* unknown scheme */
	assert_int_equal(
		vauth_client_hello(&c, hello, sizeof(hello), proof, &why),
		-EPROTO);
	hello[0] = VAUTH_SCHEME_HMAC_SHA256;
	vauth_hs_init(&c, a);
	assert_int_equal(
		vauth_client_hello(&c, hello, sizeof(hello), proof, &why),
		VAUTH_PROOF_LEN);
	assert_int_equal(
		vauth_server_proof(&s, proof, sizeof(proof) + 0 - 1, ack, &why),
		-EBADMSG);
	/* The failed handshake stays failed. */
	assert_int_equal(
		vauth_server_proof(&s, proof, sizeof(proof), ack, &why),
		-EBADMSG);
	assert_int_equal(vauth_client_ack(&c, ack, sizeof(ack) - 1, &why),
			 -EBADMSG);
	vauth_secret_free(a);
}

#define TA_TEST(fn) cmocka_unit_test_setup_teardown(fn, ta_setup, ta_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TA_TEST(test_auth__secret_file_loads_without_its_newline),
		TA_TEST(test_auth__secret_file_refusals),
		TA_TEST(test_auth__secret_file_loose_mode_still_loads),
		TA_TEST(test_auth__same_secret_authenticates_both_ways),
		TA_TEST(test_auth__wrong_secret_is_refused_by_the_server),
		TA_TEST(test_auth__secret_on_one_side_only_fails_clearly),
		TA_TEST(test_auth__tampered_messages_are_refused),
		TA_TEST(test_auth__replayed_proof_is_refused),
		TA_TEST(test_auth__bad_lengths_and_order_are_ebadmsg),
	};

	vlog_set_level(VLOG_ERR);
	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}

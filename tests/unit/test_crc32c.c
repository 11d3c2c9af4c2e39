/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of common/crc32c: published check values, chaining, and the
 * hardware path equal to the table path on random buffers of every length
 * up to 600 bytes and many start alignments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crc32c.h"

static void test_crc32c__check_value(void **state)
{
	const char *s = "123456789";

	assert_int_equal(vcrc32c(0, s, 9), 0xE3069283u);
	assert_int_equal(vcrc32c_sw(0, s, 9), 0xE3069283u);
	assert_int_equal(vcrc32c_hw(0, s, 9), 0xE3069283u);
	assert_int_equal(vcrc32c(0, s, 0), 0);
	assert_int_equal(vcrc32c(0x1234, s, 0), 0x1234);
}

/* RFC 3720 (iSCSI) appendix B.4 vectors. */
static void test_crc32c__iscsi_vectors(void **state)
{
	uint8_t buf[48];

	memset(buf, 0, 32);
	assert_int_equal(vcrc32c(0, buf, 32), 0x8A9136AAu);
	assert_int_equal(vcrc32c_sw(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, 32);
	assert_int_equal(vcrc32c(0, buf, 32), 0x62A8AB43u);
	assert_int_equal(vcrc32c_sw(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(vcrc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(vcrc32c(0, buf, 32), 0x113FDB5Cu);
	assert_int_equal(vcrc32c_sw(0, buf, 32), 0x113FDB5Cu);
}

static void test_crc32c__chains(void **state)
{
	const char *s = "123456789";

	for (size_t cut = 0; cut <= 9; cut++) {
		uint32_t c = vcrc32c(0, s, cut);

		assert_int_equal(vcrc32c(c, s + cut, 9 - cut), 0xE3069283u);
		c = vcrc32c_sw(0, s, cut);
		assert_int_equal(vcrc32c_sw(c, s + cut, 9 - cut), 0xE3069283u);
	}
}

static void test_crc32c__hw_equals_sw(void **state)
{
	enum { MAXLEN = 600, MAXALIGN = 16 };
	uint8_t *buf = malloc(MAXLEN + MAXALIGN);
	uint32_t seed = 12345;

	assert_non_null(buf);
	if (!vcrc32c_hw_available())
		print_message("no SSE4.2 here: hw path falls back to sw\n");
	for (size_t i = 0; i < MAXLEN + MAXALIGN; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	for (size_t a = 0; a < MAXALIGN; a++)
		for (size_t n = 0; n <= MAXLEN; n++) {
			uint32_t init = (uint32_t)(a * 7919u + n);

			assert_int_equal(vcrc32c_hw(init, buf + a, n),
					 vcrc32c_sw(init, buf + a, n));
			assert_int_equal(vcrc32c(0, buf + a, n),
					 vcrc32c_sw(0, buf + a, n));
		}
	free(buf);
}

static void test_crc32c__large_buffer(void **state)
{
	size_t n = (1 << 20) + 3;
	uint8_t *buf = malloc(n);

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 31 + (i >> 9));
	assert_int_equal(vcrc32c_hw(0, buf + 1, n - 1),
			 vcrc32c_sw(0, buf + 1, n - 1));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c__check_value),
		cmocka_unit_test(test_crc32c__iscsi_vectors),
		cmocka_unit_test(test_crc32c__chains),
		cmocka_unit_test(test_crc32c__hw_equals_sw),
		cmocka_unit_test(test_crc32c__large_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

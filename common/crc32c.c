/* SPDX-License-Identifier: MIT */
/*
 * crc32c.c - CRC32C: the SSE4.2 instruction when present, else slicing-by-8.
 *
 * The tables and the CPU check are set up once (pthread_once), so the first
 * call from any thread is safe. The hardware path is compiled with
 * target("sse4.2") so the rest of the program keeps the baseline ISA.
 */
#include "common/crc32c.h"

#include <pthread.h>
#include <string.h>

#define VCRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t vcrc32c_table[8][256];
static int vcrc32c_have_hw;
static pthread_once_t vcrc32c_once = PTHREAD_ONCE_INIT;

static int vcrc32c_cpu_has_sse42(void);

static void vcrc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (VCRC32C_POLY & (0u - (c & 1)));
		vcrc32c_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = vcrc32c_table[0][i];

		for (int t = 1; t < 8; t++) {
			c = (c >> 8) ^ vcrc32c_table[0][c & 0xff];
			vcrc32c_table[t][i] = c;
		}
	}
	vcrc32c_have_hw = vcrc32c_cpu_has_sse42();
}

/* Raw update (no init/final xor) over n bytes, one byte at a time. */
static uint32_t vcrc32c_sw_bytes(uint32_t c, const uint8_t *p, size_t n)
{
	while (n--)
		c = (c >> 8) ^ vcrc32c_table[0][(c ^ *p++) & 0xff];
	return c;
}

uint32_t vcrc32c_sw(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	pthread_once(&vcrc32c_once, vcrc32c_init);
	/* Eight bytes per step; loaded bytewise so alignment never matters. */
	while (n >= 8) {
		uint32_t lo = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			      (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
			      (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;

		lo ^= c;
		c = vcrc32c_table[7][lo & 0xff] ^
		    vcrc32c_table[6][(lo >> 8) & 0xff] ^
		    vcrc32c_table[5][(lo >> 16) & 0xff] ^
		    vcrc32c_table[4][lo >> 24] ^ vcrc32c_table[3][hi & 0xff] ^
		    vcrc32c_table[2][(hi >> 8) & 0xff] ^
		    vcrc32c_table[1][(hi >> 16) & 0xff] ^
		    vcrc32c_table[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	return ~vcrc32c_sw_bytes(c, p, n);
}

#if defined(__x86_64__)

static int vcrc32c_cpu_has_sse42(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

__attribute__((target("sse4.2"))) static uint32_t
vcrc32c_hw_raw(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64;

	/* Bytes up to an 8-byte boundary, then whole words, then the tail. */
	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi(c, *p++);
		n--;
	}
	c64 = c;
	while (n >= 8) {
		uint64_t w;

		memcpy(&w, p, sizeof(w));
		c64 = __builtin_ia32_crc32di(c64, w);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}

#else /* no crc32 instruction to use: the stubs keep the one code path */

static int vcrc32c_cpu_has_sse42(void)
{
	return 0;
}

static uint32_t vcrc32c_hw_raw(uint32_t c, const uint8_t *p, size_t n)
{
	return vcrc32c_sw_bytes(c, p, n);
}

#endif

uint32_t vcrc32c_hw(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&vcrc32c_once, vcrc32c_init);
	if (!vcrc32c_have_hw)
		return vcrc32c_sw(crc, p, n);
	return ~vcrc32c_hw_raw(~crc, p, n);
}

int vcrc32c_hw_available(void)
{
	pthread_once(&vcrc32c_once, vcrc32c_init);
	return vcrc32c_have_hw;
}

uint32_t vcrc32c(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&vcrc32c_once, vcrc32c_init);
	if (vcrc32c_have_hw)
		return ~vcrc32c_hw_raw(~crc, p, n);
	return vcrc32c_sw(crc, p, n);
}

/* SPDX-License-Identifier: MIT */
/*
 * crc32c.h - CRC32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * vcrc32c() uses the SSE4.2 crc32 instruction when the CPU has it (checked
 * once) and a slicing-by-8 table otherwise; both give identical results.
 * The standard initial value and final xor are applied inside, so
 *
 *	vcrc32c(0, "123456789", 9) == 0xE3069283
 *
 * and CRCs chain: vcrc32c(vcrc32c(0, a, na), b, nb) is the CRC of a || b.
 * Thread-safe, no allocation; p may be unaligned; n == 0 returns crc.
 */
#ifndef VALOR_COMMON_CRC32C_H
#define VALOR_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t vcrc32c(uint32_t crc, const void *p, size_t n);

/* The table implementation alone (tests compare it with the hardware one). */
uint32_t vcrc32c_sw(uint32_t crc, const void *p, size_t n);

/*
 * The SSE4.2 implementation alone. Without SSE4.2 (or off x86-64) it falls
 * back to vcrc32c_sw(), so it never executes an illegal instruction; see
 * vcrc32c_hw_available() for which one ran.
 */
uint32_t vcrc32c_hw(uint32_t crc, const void *p, size_t n);

/* 1 when vcrc32c() runs on the crc32 instruction, else 0. */
int vcrc32c_hw_available(void);

#endif

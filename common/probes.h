/* SPDX-License-Identifier: MIT */
/*
 * probes.h - USDT probes (provider "valorfs") for perf and bpftrace.
 *
 * Each probe is a nop plus an ELF note; it costs nothing until a tracer
 * enables it. List them with `readelf -n build/valorfs`, use them with
 *   perf buildid-cache --add build/valorfs
 *   perf probe 'sdt_valorfs:*'
 *   perf record -e 'sdt_valorfs:*' -p PID
 *
 *   req_arrive(opcode, unique, len)      a request was read from the kernel
 *   req_dispatch(opcode, unique, nodeid) it passed decoding, handler starts
 *   req_reply(opcode, unique, error)     its reply is handed to the engine
 */
#ifndef VALOR_COMMON_PROBES_H
#define VALOR_COMMON_PROBES_H

#include <sys/sdt.h>

#define VPROBE_REQ_ARRIVE(op, unique, len)                                     \
	STAP_PROBE3(valorfs, req_arrive, op, unique, len)
#define VPROBE_REQ_DISPATCH(op, unique, nodeid)                                \
	STAP_PROBE3(valorfs, req_dispatch, op, unique, nodeid)
#define VPROBE_REQ_REPLY(op, unique, error)                                    \
	STAP_PROBE3(valorfs, req_reply, op, unique, error)

#endif

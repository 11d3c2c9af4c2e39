/* SPDX-License-Identifier: MIT */
/*
 * url.h - cluster addresses: tcp://HOST:PORT and rdma://HOST:PORT.
 *
 * HOST is an IPv4 address in dotted decimal, an IPv6 address in brackets
 * ([::1]; no zone ids), or a host name (letters, digits, '-', '.'; labels
 * of at most 63 characters, 253 in all) resolved with getaddrinfo(3) only
 * when the address is used (vurl_resolve). PORT is decimal, 0-65535; 0
 * means "any" for a listener (the kernel picks) and is refused by connect.
 * Nothing may follow the port (no path, no query).
 *
 * vurl_parse() does no I/O and keeps no pointer into its input.
 */
#ifndef VALOR_COMMON_URL_H
#define VALOR_COMMON_URL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum vurl_scheme {
	VURL_TCP,
	VURL_RDMA,
};

enum vurl_host_kind {
	VURL_HOST_IPV4, /* addr.v4 holds it */
	VURL_HOST_IPV6, /* addr.v6 holds it */
	VURL_HOST_NAME, /* resolved at use */
};

#define VURL_HOST_MAX 253 /* longest host name */
/* Longest string vurl_format() writes, NUL included. */
#define VURL_STR_MAX (sizeof("rdma://[]:65535") + VURL_HOST_MAX)

struct vurl {
	enum vurl_scheme scheme;
	enum vurl_host_kind kind;
	char host[VURL_HOST_MAX + 1]; /* as written, without brackets */
	uint16_t port;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr; /* literal addresses only */
};

/*
 * Parse @s into @u. Returns 0, or -EINVAL with a static English reason in
 * *@why (if not NULL), e.g. "unknown scheme (expected tcp:// or rdma://)".
 * Log it with the input: vlog_err("%s: %s", s, why).
 */
int vurl_parse(struct vurl *u, const char *s, const char **why);

/* "tcp://10.0.0.1:7000", "rdma://[fe80::1]:7200", ... into @buf (@len
 * bytes, VURL_STR_MAX is always enough). Returns @buf. */
char *vurl_format(const struct vurl *u, char *buf, size_t len);

/* "tcp" or "rdma". */
const char *vurl_scheme_name(enum vurl_scheme scheme);

/*
 * 1 if @u certainly names this host's loopback: 127.0.0.0/8, ::1,
 * ::ffff:127.0.0.0/104, or the name "localhost". Other names give 0 (use
 * vurl_sockaddr_is_loopback on the resolved address to be sure).
 */
int vurl_is_loopback(const struct vurl *u);
/* 1 if @sa (AF_INET or AF_INET6) is a loopback address. */
int vurl_sockaddr_is_loopback(const struct sockaddr *sa);

/*
 * The socket address of @u: a literal directly, a name through
 * getaddrinfo(3) (which may block on DNS: call it at connect or listen
 * time, not on a request path). @passive asks for a listening address.
 * The first result is used. Returns 0 and fills @ss/@len, or -EINVAL
 * (port 0 and !@passive), -EHOSTUNREACH (the name does not resolve; the
 * resolver's message goes to the log), -ENOMEM.
 */
int vurl_resolve(const struct vurl *u, int passive, struct sockaddr_storage *ss,
		 socklen_t *len);

/* "1.2.3.4:80" or "[::1]:80" for @sa into @buf; returns @buf. */
char *vurl_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * url.c - parsing, printing and resolving tcp:// and rdma:// addresses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/url.h"

static const struct {
	const char *prefix;
	enum vurl_scheme scheme;
} vurl_schemes[] = {
	{"tcp://", VURL_TCP},
	{"rdma://", VURL_RDMA},
};

const char *vurl_scheme_name(enum vurl_scheme scheme)
{
	return scheme == VURL_RDMA ? "rdma" : "tcp";
}

static int vurl_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int vurl_is_alnum(char c)
{
	return vurl_is_digit(c) || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* A DNS name: labels of [A-Za-z0-9-], not starting or ending with '-'. */
static int vurl_check_name(const char *h, size_t n, const char **why)
{
	size_t i, label = 0;
	int all_numeric = 1;

	for (i = 0; i < n; i++) {
		char c = h[i];

		if (c == '.') {
			if (!label) {
				*why = "empty label in host name";
				return -EINVAL;
			}
			if (h[i - 1] == '-') {
				*why = "host name label ends with '-'";
				return -EINVAL;
			}
			label = 0;
			continue;
		}
		if (!vurl_is_alnum(c) && c != '-') {
			*why = "invalid character in host name";
			return -EINVAL;
		}
		if (c == '-' && !label) {
			*why = "host name label starts with '-'";
			return -EINVAL;
		}
		if (!vurl_is_digit(c))
			all_numeric = 0;
		if (++label > 63) {
			*why = "host name label longer than 63 characters";
			return -EINVAL;
		}
	}
	if (!label) {
		*why = "host name ends with '.' or is empty";
		return -EINVAL;
	}
	if (h[n - 1] == '-') {
		*why = "host name label ends with '-'";
		return -EINVAL;
	}
	/* "1.2.3" or "300.1.1.1" would reach the resolver as numbers. */
	if (all_numeric) {
		*why = "bad IPv4 address";
		return -EINVAL;
	}
	return 0;
}

/* Decimal 0-65535, no sign, no spaces, at most 5 digits. */
static int vurl_parse_port(const char *p, uint16_t *port, const char **why)
{
	unsigned long v = 0;
	size_t i;

	if (!*p) {
		*why = "missing port after ':'";
		return -EINVAL;
	}
	for (i = 0; p[i]; i++) {
		if (!vurl_is_digit(p[i])) {
			*why = p[i] == '/' ? "unexpected path after the port"
					   : "port is not a decimal number";
			return -EINVAL;
		}
		if (i >= 5) {
			*why = "port out of range (0-65535)";
			return -EINVAL;
		}
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v > 65535) {
		*why = "port out of range (0-65535)";
		return -EINVAL;
	}
	*port = (uint16_t)v;
	return 0;
}

int vurl_parse(struct vurl *u, const char *s, const char **why)
{
	const char *reason = NULL, *rest = NULL, *host, *end, *colon;
	char buf[VURL_HOST_MAX + 1];
	size_t i, n;
	int ret = -EINVAL;

	memset(u, 0, sizeof(*u));
	if (!s || !*s) {
		reason = "empty address";
		goto out;
	}
	for (i = 0; i < sizeof(vurl_schemes) / sizeof(vurl_schemes[0]); i++) {
		size_t plen = strlen(vurl_schemes[i].prefix);

		if (!strncasecmp(s, vurl_schemes[i].prefix, plen)) {
			u->scheme = vurl_schemes[i].scheme;
			rest = s + plen;
			break;
		}
	}
	if (!rest) {
		reason = strstr(s, "://")
				 ? "unknown scheme (expected tcp:// or rdma://)"
				 : "missing scheme (expected tcp://HOST:PORT "
				   "or rdma://HOST:PORT)";
		goto out;
	}

	if (*rest == '[') {
		host = rest + 1;
		end = strchr(host, ']');
		if (!end) {
			reason = "missing ']' after IPv6 address";
			goto out;
		}
		n = (size_t)(end - host);
		if (!n || n >= sizeof(buf)) {
			reason = "bad IPv6 address";
			goto out;
		}
		memcpy(buf, host, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET6, buf, &u->addr.v6) != 1) {
			reason = strchr(buf, '%') ? "IPv6 zone ids are not "
						    "supported"
						  : "bad IPv6 address";
			goto out;
		}
		u->kind = VURL_HOST_IPV6;
		colon = end + 1;
		if (*colon != ':') {
			reason = *colon ? "expected ':PORT' after ']'"
					: "missing ':PORT'";
			goto out;
		}
	} else {
		host = rest;
		colon = strchr(host, ':');
		if (!colon) {
			reason = "missing ':PORT'";
			goto out;
		}
		if (strchr(colon + 1, ':')) {
			reason = "IPv6 addresses must be in brackets: "
				 "tcp://[ADDR]:PORT";
			goto out;
		}
		n = (size_t)(colon - host);
		if (!n) {
			reason = "missing host";
			goto out;
		}
		if (n > VURL_HOST_MAX) {
			reason = "host name longer than 253 characters";
			goto out;
		}
		memcpy(buf, host, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET, buf, &u->addr.v4) == 1) {
			u->kind = VURL_HOST_IPV4;
		} else {
			ret = vurl_check_name(buf, n, &reason);
			if (ret < 0)
				goto out;
			ret = -EINVAL;
			u->kind = VURL_HOST_NAME;
		}
	}
	ret = vurl_parse_port(colon + 1, &u->port, &reason);
	if (ret < 0)
		goto out;
	memcpy(u->host, buf, n + 1);
	return 0;

out:
	if (why)
		*why = reason;
	memset(u, 0, sizeof(*u));
	return ret;
}

char *vurl_format(const struct vurl *u, char *buf, size_t len)
{
	const char *fmt =
		u->kind == VURL_HOST_IPV6 ? "%s://[%s]:%u" : "%s://%s:%u";

	snprintf(buf, len, fmt, vurl_scheme_name(u->scheme), u->host,
		 (unsigned)u->port);
	return buf;
}

static int vurl_v4_is_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

static int vurl_v6_is_loopback(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_LOOPBACK(a))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}

int vurl_is_loopback(const struct vurl *u)
{
	switch (u->kind) {
	case VURL_HOST_IPV4:
		return vurl_v4_is_loopback(&u->addr.v4);
	case VURL_HOST_IPV6:
		return vurl_v6_is_loopback(&u->addr.v6);
	default:
		return !strcasecmp(u->host, "localhost");
	}
}

int vurl_sockaddr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return vurl_v4_is_loopback(
			&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return vurl_v6_is_loopback(
			&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

int vurl_resolve(const struct vurl *u, int passive, struct sockaddr_storage *ss,
		 socklen_t *len)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int ret;

	if (!u->port && !passive)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (u->kind == VURL_HOST_IPV4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(u->port);
		sin->sin_addr = u->addr.v4;
		*len = sizeof(*sin);
		return 0;
	}
	if (u->kind == VURL_HOST_IPV6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(u->port);
		sin6->sin6_addr = u->addr.v6;
		*len = sizeof(*sin6);
		return 0;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	snprintf(port, sizeof(port), "%u", (unsigned)u->port);
	ret = getaddrinfo(u->host, port, &hints, &res);
	if (ret) {
		vlog_err("cannot resolve host %s: %s", u->host,
			 ret == EAI_SYSTEM ? strerror(errno)
					   : gai_strerror(ret));
		return ret == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
	}
	if (!res || res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return -EHOSTUNREACH;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

char *vurl_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, (unsigned)ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a,
			 (unsigned)ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", (int)sa->sa_family);
	}
	return buf;
}

/* SPDX-License-Identifier: MIT */
#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vopts_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return -EINVAL;
	switch (tolower((unsigned char)*end)) {
	case 'k': shift = 10; end++; break;
	case 'm': shift = 20; end++; break;
	case 'g': shift = 30; end++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int vopts_parse_cpulist(const char *s, int *cpus, int max)
{
	int n = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		char *end;
		long a, b;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		a = strtol(s, &end, 10);
		b = a;
		if (*end == '-') {
			s = end + 1;
			if (!isdigit((unsigned char)*s))
				return -EINVAL;
			b = strtol(s, &end, 10);
		}
		if (a < 0 || b < a || b > 65535)
			return -EINVAL;
		for (long c = a; c <= b; c++) {
			if (n >= max)
				return -EINVAL;
			cpus[n++] = (int)c;
		}
		s = end;
		if (*s == ':' || *s == '+') /* "0-3:8" style separators */
			s++;
		else if (*s)
			return -EINVAL;
	}
	return n;
}

static const struct vopt_desc *vopts_find(const struct vopt_desc *t,
					  const char *name, size_t len)
{
	for (; t->name; t++)
		if (strlen(t->name) == len && !memcmp(t->name, name, len))
			return t;
	return NULL;
}

static int vopts_apply(const struct vopt_desc *d, void *cfg, const char *val,
		       char *err, size_t errlen)
{
	char *field = (char *)cfg + d->offset;
	uint64_t u;

	switch (d->type) {
	case VOPT_IGNORE:
		return 0;
	case VOPT_FLAG:
		if (!val) {
			*(int *)field = d->ival;
			return 0;
		}
		if (!strcmp(val, "0") || !strcmp(val, "1")) {
			*(int *)field = (val[0] == '1') == (d->ival != 0);
			return 0;
		}
		snprintf(err, errlen, "option '%s' takes no value or 0/1, got '%s'",
			 d->name, val);
		return -EINVAL;
	case VOPT_UINT:
		if (!val || vopts_parse_size(val, &u) || u < d->min || u > d->max) {
			snprintf(err, errlen,
				 "option '%s' wants a number from %" PRIu64
				 " to %" PRIu64 ", got '%s'",
				 d->name, d->min, d->max, val ? val : "");
			return -EINVAL;
		}
		*(uint32_t *)field = (uint32_t)u;
		return 0;
	case VOPT_DOUBLE: {
		char *end;
		double v;

		if (val) {
			errno = 0;
			v = strtod(val, &end);
		}
		if (!val || errno || *end || end == val || !(v >= 0) ||
		    v > 1e9) {
			snprintf(err, errlen,
				 "option '%s' wants a number of seconds >= 0, got '%s'",
				 d->name, val ? val : "");
			return -EINVAL;
		}
		*(double *)field = v;
		return 0;
	}
	case VOPT_STR:
		if (!val || strlen(val) >= d->max) {
			snprintf(err, errlen,
				 "option '%s' wants a value shorter than %" PRIu64
				 " characters",
				 d->name, d->max);
			return -EINVAL;
		}
		strcpy(field, val);
		return 0;
	case VOPT_ENUM:
		for (int i = 0; val && d->choices[i]; i++) {
			if (!strcmp(val, d->choices[i])) {
				*(int *)field = i;
				return 0;
			}
		}
		{
			size_t n = snprintf(err, errlen, "option '%s' wants one of",
					    d->name);
			for (int i = 0; d->choices[i] && n < errlen; i++)
				n += snprintf(err + n, errlen - n, "%s%s",
					      i ? "|" : " ", d->choices[i]);
			if (n < errlen)
				snprintf(err + n, errlen - n, ", got '%s'",
					 val ? val : "");
		}
		return -EINVAL;
	}
	return -EINVAL;
}

int vopts_parse(const struct vopt_desc *table, void *cfg, const char *str,
		char *err, size_t errlen)
{
	const char *p = str;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t namelen = eq ? (size_t)(eq - p) : len;
		const struct vopt_desc *d;
		char val[4096];
		int ret;

		if (len == 0) {
			p = comma ? comma + 1 : NULL;
			continue;
		}
		d = vopts_find(table, p, namelen);
		if (!d) {
			snprintf(err, errlen, "unknown option '%.*s'",
				 (int)namelen, p);
			return -EINVAL;
		}
		if (eq) {
			size_t vlen = len - namelen - 1;

			if (vlen >= sizeof(val)) {
				snprintf(err, errlen, "option '%s': value too long",
					 d->name);
				return -EINVAL;
			}
			memcpy(val, eq + 1, vlen);
			val[vlen] = '\0';
		}
		ret = vopts_apply(d, cfg, eq ? val : NULL, err, errlen);
		if (ret)
			return ret;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

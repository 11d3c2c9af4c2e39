/* SPDX-License-Identifier: MIT */
/*
 * opts.h - table-driven parsing of "-o name[=value],..." option strings.
 *
 * A program describes its options once, as a static const table of
 * struct vopt_desc pointing at fields of its own config struct by offset.
 * vopts_parse() walks a comma-separated string, finds each name in the table,
 * checks and converts the value, and stores it. An unknown name or a bad
 * value is an error whose message names the option, so a user typing
 * "-o thraeds=4" is told exactly what is wrong.
 */
#ifndef VALOR_COMMON_OPTS_H
#define VALOR_COMMON_OPTS_H

#include <stddef.h>
#include <stdint.h>

enum vopt_type {
	VOPT_FLAG,	/* "name" sets int to 1 (or .ival); "name=0/1" allowed */
	VOPT_UINT,	/* unsigned, stored as uint32_t; k/m/g suffixes allowed */
	VOPT_DOUBLE,	/* seconds and such, stored as double */
	VOPT_STR,	/* copied into a char[.max] field */
	VOPT_ENUM,	/* one of .choices, stored as int index */
	VOPT_IGNORE,	/* accepted and ignored (mount(8) passes these) */
};

struct vopt_desc {
	const char *name;
	enum vopt_type type;
	size_t offset;		/* of the field in the config struct */
	uint64_t min, max;	/* VOPT_UINT range; VOPT_STR: max = field size */
	int ival;		/* VOPT_FLAG: value stored (1, or 0 for "noX") */
	const char *const *choices; /* VOPT_ENUM: NULL-terminated */
	const char *help;
};

/*
 * Parse @str (not modified) against @table (terminated by a NULL name) into
 * @cfg. Options are applied left to right; later ones override.
 * Returns 0, or -EINVAL with a message in @err ("unknown option 'x'",
 * "option 'threads' wants a number from 1 to 1024, got 'x'").
 */
int vopts_parse(const struct vopt_desc *table, void *cfg, const char *str,
		char *err, size_t errlen);

/*
 * Parse a size with an optional k/m/g suffix (powers of 1024).
 * Returns 0 or -EINVAL.
 */
int vopts_parse_size(const char *s, uint64_t *out);

/*
 * Parse a CPU list such as "0-3,8,10-11" into @cpus (at most @max entries).
 * Returns the number of CPUs, or -EINVAL for a malformed list or one longer
 * than @max.
 */
int vopts_parse_cpulist(const char *s, int *cpus, int max);

#endif

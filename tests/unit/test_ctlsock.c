/* SPDX-License-Identifier: MIT */
/* Control socket and stats counters. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctlsock.h"
#include "common/stats.h"
#include "ring/loop.h"

static void test_stats__counts_errors_quantiles(void **state)
{
	static struct vstats_op op, sum;

	for (int i = 0; i < 90; i++)
		vstats_op_add(&op, 3000, 0);		/* 3 us */
	for (int i = 0; i < 10; i++)
		vstats_op_add(&op, 5000000, -EIO);	/* 5 ms */
	assert_int_equal(op.count, 100);
	assert_int_equal(op.errors, 10);
	assert_int_equal(op.ns_total, 90 * 3000ULL + 10 * 5000000ULL);
	/* 3 us lands in the bucket bounded by 4 us, 5 ms in 8192 us. */
	assert_true(vstats_op_quantile_us(&op, 0.5) == 4.0);
	assert_true(vstats_op_quantile_us(&op, 0.99) == 8192.0);
	vstats_op_sum(&sum, &op);
	vstats_op_sum(&sum, &op);
	assert_int_equal(sum.count, 200);
	assert_int_equal(sum.errors, 20);
}

static void report(void *arg, int json, struct vctl_buf *b)
{
	int *calls = arg;

	(*calls)++;
	if (json)
		vctl_printf(b, "{\"calls\":%d}\n", *calls);
	else
		for (int i = 0; i < 5000; i++)	/* larger than one page */
			vctl_printf(b, "line %d of the report\n", i);
}

struct srv {
	struct vloop *loop;
	pthread_t th;
};

static void *srv_main(void *p)
{
	struct srv *s = p;

	vloop_run(s->loop);
	return NULL;
}

static void test_ctlsock__query_text_json_unknown(void **state)
{
	char path[64];
	struct srv s;
	struct vctl *c;
	int calls = 0;
	char *out;

	snprintf(path, sizeof(path), "/tmp/valor-ctl-test-%d/sock", (int)getpid());
	assert_int_equal(vloop_new(&s.loop, VLOOP_POLL, 0, 0), 0);
	assert_int_equal(vctl_open(&c, s.loop, path, report, &calls), 0);
	pthread_create(&s.th, NULL, srv_main, &s);

	assert_int_equal(vctl_query(path, "stats", &out), 0);
	assert_non_null(strstr(out, "line 0 of the report\n"));
	assert_non_null(strstr(out, "line 4999 of the report\n"));
	free(out);
	assert_int_equal(vctl_query(path, "stats json", &out), 0);
	assert_string_equal(out, "{\"calls\":2}\n");
	free(out);
	assert_int_equal(vctl_query(path, "reboot", &out), 0);
	assert_string_equal(out, "error: unknown command 'reboot'\n");
	free(out);

	vloop_stop(s.loop);
	pthread_join(s.th, NULL);
	vctl_close(c);
	assert_int_equal(access(path, F_OK), -1);	/* socket file removed */
	assert_int_equal(vctl_query(path, "stats", &out), -ENOENT);
	vloop_free(s.loop);
	*strrchr(path, '/') = '\0';
	rmdir(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats__counts_errors_quantiles),
		cmocka_unit_test(test_ctlsock__query_text_json_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

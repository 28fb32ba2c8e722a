#include "unit.h"

#include "run-command.h"

static void test_util__sizes_parse_with_binary_and_decimal_units(void **state)
{
	uint64_t v;
	struct gate_buf err = GATE_BUF_INIT;

	(void)state;
	assert_int_equal(gate_parse_size(&v, "5 MiB", &err), 0);
	assert_true(v == 5ull * 1024 * 1024);
	assert_int_equal(gate_parse_size(&v, "5MB", &err), 0);
	assert_true(v == 5000000ull);
	assert_int_equal(gate_parse_size(&v, "100k", &err), 0);
	assert_true(v == 102400ull);
	assert_int_equal(gate_parse_size(&v, "6 GiB", &err), 0);
	assert_true(v == 6ull * 1024 * 1024 * 1024); /* past 32 bits */
	assert_int_equal(gate_parse_size(&v, "123", &err), 0);
	assert_true(v == 123);
	assert_int_equal(gate_parse_size(&v, "1.5 KiB", &err), 0);
	assert_true(v == 1536);
	gate_buf_release(&err);
}

static void test_util__bad_sizes_are_rejected_with_a_message(void **state)
{
	uint64_t v = 7;
	struct gate_buf err = GATE_BUF_INIT;

	(void)state;
	assert_int_equal(gate_parse_size(&v, "five", &err), -1);
	assert_non_null(strstr(err.ptr, "five"));
	assert_int_equal(gate_parse_size(&v, "5 parsecs", &err), -1);
	assert_non_null(strstr(err.ptr, "unit"));
	assert_int_equal(gate_parse_size(&v, "-1 MiB", &err), -1);
	assert_int_equal(gate_parse_size(&v, "", &err), -1);
	assert_true(v == 7);
	gate_buf_release(&err);
}

static void test_util__durations_parse_to_seconds(void **state)
{
	int64_t v;
	struct gate_buf err = GATE_BUF_INIT;

	(void)state;
	assert_int_equal(gate_parse_duration(&v, "10 min", &err), 0);
	assert_int_equal(v, 600);
	assert_int_equal(gate_parse_duration(&v, "30s", &err), 0);
	assert_int_equal(v, 30);
	assert_int_equal(gate_parse_duration(&v, "2h", &err), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(gate_parse_duration(&v, "1 day", &err), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(gate_parse_duration(&v, "45", &err), 0);
	assert_int_equal(v, 45);
	assert_int_equal(gate_parse_duration(&v, "soon", &err), -1);
	assert_int_equal(gate_parse_duration(&v, "3 fortnights", &err), -1);
	gate_buf_release(&err);
}

static void test_util__human_sizes_read_naturally(void **state)
{
	struct gate_buf b = GATE_BUF_INIT;

	(void)state;
	gate_buf_add_size(&b, 512);
	assert_string_equal(b.ptr, "512 B");
	gate_buf_reset(&b);
	gate_buf_add_size(&b, 5ull * 1024 * 1024);
	assert_string_equal(b.ptr, "5.0 MiB");
	gate_buf_reset(&b);
	gate_buf_add_size(&b, 3ull * 1024 * 1024 * 1024 / 2);
	assert_string_equal(b.ptr, "1.5 GiB");
	gate_buf_release(&b);
}

static void test_util__buffers_grow_and_format(void **state)
{
	struct gate_buf b = GATE_BUF_INIT;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		gate_buf_addf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.ptr));
	assert_memory_equal(b.ptr, "0,1,2,", 6);
	gate_buf_truncate(&b, 2);
	assert_string_equal(b.ptr, "0,");
	gate_buf_release(&b);
	assert_string_equal(gate_buf_cstr(&b), "");
}

static void test_util__object_ids_must_be_40_lowercase_hex(void **state)
{
	(void)state;
	assert_true(gate_is_hex_oid("0123456789abcdef0123456789abcdef01234567"));
	assert_false(gate_is_hex_oid("0123456789ABCDEF0123456789abcdef01234567"));
	assert_false(gate_is_hex_oid("0123456789abcdef0123456789abcdef0123456"));
	assert_false(gate_is_hex_oid("0123456789abcdef0123456789abcdef012345678"));
	assert_false(gate_is_hex_oid("g123456789abcdef0123456789abcdef01234567"));
	assert_true(gate_is_zero_oid(GATE_ZERO_OID));
}

static void test_util__strvec_stays_null_terminated(void **state)
{
	struct gate_strvec sv = GATE_STRVEC_INIT;

	(void)state;
	assert_null(gate_strvec_argv(&sv)[0]);
	gate_strvec_push(&sv, "git");
	gate_strvec_pushf(&sv, "--%s", "version");
	assert_string_equal(sv.v[1], "--version");
	assert_null(sv.v[2]);
	assert_true(gate_strvec_contains(&sv, "git"));
	assert_false(gate_strvec_contains(&sv, "gi"));
	gate_strvec_clear(&sv);
}

static void test_util__a_helper_that_hangs_is_killed_after_its_timeout(void **state)
{
	static const char *const argv[] = { "sleep", "30", NULL };
	struct gate_buf out = GATE_BUF_INIT, err = GATE_BUF_INIT;
	double t0 = gate_now();
	int status = 0;

	(void)state;
	assert_int_equal(gate_run_capture_timeout(argv, NULL, NULL, NULL, 0, &out, NULL, &status, 1, &err), -1);
	assert_true(gate_now() - t0 < 10);
	assert_non_null(strstr(err.ptr, "'sleep' did not finish within 1 s and was killed"));
	gate_buf_release(&out);
	gate_buf_release(&err);
}

static void test_util__captured_output_and_status_come_back(void **state)
{
	static const char *const argv[] = { "sh", "-c", "cat; echo oops >&2; exit 3", NULL };
	struct gate_buf out = GATE_BUF_INIT, eo = GATE_BUF_INIT, err = GATE_BUF_INIT;
	int status = 0;

	(void)state;
	assert_int_equal(gate_run_capture_timeout(argv, NULL, NULL, "in\n", 3, &out, &eo, &status, 5, &err), 0);
	assert_string_equal(out.ptr, "in\n");
	assert_string_equal(eo.ptr, "oops\n");
	assert_int_equal(status, 3);
	gate_buf_release(&out);
	gate_buf_release(&eo);
	gate_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util__sizes_parse_with_binary_and_decimal_units),
		cmocka_unit_test(test_util__bad_sizes_are_rejected_with_a_message),
		cmocka_unit_test(test_util__durations_parse_to_seconds),
		cmocka_unit_test(test_util__human_sizes_read_naturally),
		cmocka_unit_test(test_util__buffers_grow_and_format),
		cmocka_unit_test(test_util__object_ids_must_be_40_lowercase_hex),
		cmocka_unit_test(test_util__strvec_stays_null_terminated),
		cmocka_unit_test(test_util__a_helper_that_hangs_is_killed_after_its_timeout),
		cmocka_unit_test(test_util__captured_output_and_status_come_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

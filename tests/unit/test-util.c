#include <stdio.h>
#include <unistd.h>

#include "unit.h"

#include "oidmap.h"
#include "run-command.h"

static void test_util__oidmap_copies_keys_unless_they_are_borrowed(void **state)
{
	struct gate_oidmap copied = GATE_OIDMAP_INIT, borrowed = GATE_OIDMAP_INIT;
	char keys[300][41];
	char probe[41];
	int values[300];
	size_t i;

	(void)state;
	borrowed.borrowed = 1;
	for (i = 0; i < 300; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%040zx", i * 7919);
		values[i] = (int)i;
		assert_null(gate_oidmap_put(&copied, keys[i], &values[i]));
		assert_null(gate_oidmap_put(&borrowed, keys[i], &values[i]));
	}
	/* a borrowed key is the caller's own string; a copied one is not */
	for (i = 0; i < borrowed.alloc; i++)
		if (borrowed.slots[i].key)
			assert_true(borrowed.slots[i].key >= keys[0] && borrowed.slots[i].key <= keys[299]);
	for (i = 0; i < copied.alloc; i++)
		if (copied.slots[i].key)
			assert_false(copied.slots[i].key >= keys[0] && copied.slots[i].key <= keys[299]);
	for (i = 0; i < 300; i++) {
		memcpy(probe, keys[i], 41);
		assert_ptr_equal(gate_oidmap_get(&copied, probe), &values[i]);
		assert_ptr_equal(gate_oidmap_get(&borrowed, probe), &values[i]);
	}
	assert_ptr_equal(gate_oidmap_put(&borrowed, keys[5], &values[6]), &values[5]);
	assert_int_equal(borrowed.nr, 300);
	gate_oidmap_release(&copied);
	gate_oidmap_release(&borrowed);
}

static void test_util__a_child_fed_more_than_a_pipe_holds_does_not_deadlock(void **state)
{
	/* cat echoes its input while we still write: 4 MB each way */
	static const char *const argv[] = { "cat", NULL };
	struct gate_buf in = GATE_BUF_INIT, out = GATE_BUF_INIT, err = GATE_BUF_INIT;
	int status = -1;
	size_t i;

	(void)state;
	alarm(60); /* a deadlock fails the test instead of hanging it */
	for (i = 0; i < 100000; i++)
		gate_buf_addf(&in, "%039zx\n", i);
	assert_int_equal(gate_run_capture(argv, NULL, NULL, in.ptr, in.len, &out, NULL, &status, &err), 0);
	assert_int_equal(status, 0);
	assert_int_equal(out.len, in.len);
	assert_memory_equal(out.ptr, in.ptr, in.len);
	alarm(0);
	gate_buf_release(&in);
	gate_buf_release(&out);
	gate_buf_release(&err);
}

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

/*
 * A process whose stdin was closed (the merge queue's runner after a
 * command check closed descriptor 0) gets its next pipe as descriptor 0:
 * the child must still read its input there.
 */
static void test_util__input_reaches_a_child_when_our_stdin_is_closed(void **state)
{
	static const char *const argv[] = { "cat", NULL };
	struct gate_buf out = GATE_BUF_INIT, err = GATE_BUF_INIT;
	int saved = dup(0), status = -1, r;

	(void)state;
	assert_true(saved > 2);
	close(0);
	r = gate_run_capture(argv, NULL, NULL, "abc\n", 4, &out, NULL, &status, &err);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	assert_int_equal(r, 0);
	assert_int_equal(status, 0);
	assert_string_equal(gate_buf_cstr(&out), "abc\n");
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

static char *neutralised(const char *s, size_t len, unsigned flags)
{
	struct gate_buf b = GATE_BUF_INIT;

	gate_buf_add_safe_opts(&b, s, len, flags);
	return gate_buf_detach(&b);
}

#define NEUTRAL_EQ(in, want)                                            \
	do {                                                            \
		char *got_ = neutralised(in, sizeof(in) - 1, 0);        \
		assert_string_equal(got_, want);                        \
		free(got_);                                             \
	} while (0)

static void test_util__neutraliser_escapes_c0_controls_and_del(void **state)
{
	(void)state;
	NEUTRAL_EQ("esc\033[2Jx", "esc\\x1b[2Jx");
	NEUTRAL_EQ("bel\a", "bel\\x07");
	NEUTRAL_EQ("cr\rover", "cr\\x0dover");
	NEUTRAL_EQ("del\177", "del\\x7f");
	NEUTRAL_EQ("nl\nand\ttab", "nl\\nand\\ttab");
	NEUTRAL_EQ("plain ascii \\ kept", "plain ascii \\ kept");
}

static void test_util__neutraliser_escapes_every_bidi_control(void **state)
{
	static const char *const bidi[][2] = {
		{ "\xe2\x80\xaa", "\\xe2\\x80\\xaa" }, /* U+202A LRE */
		{ "\xe2\x80\xab", "\\xe2\\x80\\xab" }, /* U+202B RLE */
		{ "\xe2\x80\xac", "\\xe2\\x80\\xac" }, /* U+202C PDF */
		{ "\xe2\x80\xad", "\\xe2\\x80\\xad" }, /* U+202D LRO */
		{ "\xe2\x80\xae", "\\xe2\\x80\\xae" }, /* U+202E RLO */
		{ "\xe2\x81\xa6", "\\xe2\\x81\\xa6" }, /* U+2066 LRI */
		{ "\xe2\x81\xa7", "\\xe2\\x81\\xa7" }, /* U+2067 RLI */
		{ "\xe2\x81\xa8", "\\xe2\\x81\\xa8" }, /* U+2068 FSI */
		{ "\xe2\x81\xa9", "\\xe2\\x81\\xa9" }, /* U+2069 PDI */
		{ "\xe2\x80\x8e", "\\xe2\\x80\\x8e" }, /* U+200E LRM */
		{ "\xe2\x80\x8f", "\\xe2\\x80\\x8f" }, /* U+200F RLM */
		{ "\xd8\x9c", "\\xd8\\x9c" },             /* U+061C ALM */
		{ "\xe2\x80\xa8", "\\xe2\\x80\\xa8" }, /* U+2028 LINE SEPARATOR */
		{ "\xe2\x80\xa9", "\\xe2\\x80\\xa9" }, /* U+2029 PARAGRAPH SEPARATOR */
	};
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(bidi); i++) {
		char *in = gate_xstrfmt("a%sb", bidi[i][0]), *want = gate_xstrfmt("a%sb", bidi[i][1]);
		char *got = neutralised(in, strlen(in), 0);
		assert_string_equal(got, want);
		free(in);
		free(want);
		free(got);
	}
	/* their neighbours are ordinary text */
	NEUTRAL_EQ("\xe2\x80\x90\xe2\x80\xaf\xe2\x81\xa5", "\xe2\x80\x90\xe2\x80\xaf\xe2\x81\xa5");
}

static void test_util__neutraliser_escapes_c1_as_utf8_and_as_raw_bytes(void **state)
{
	unsigned c;

	(void)state;
	for (c = 0x80; c <= 0x9f; c++) {
		char utf8[4] = { (char)0xc2, (char)c, 'x', 0 }, raw[3] = { (char)c, 'x', 0 };
		char *want_utf8 = gate_xstrfmt("\\xc2\\x%02xx", c), *want_raw = gate_xstrfmt("\\x%02xx", c);
		char *got = neutralised(utf8, 3, 0);
		assert_string_equal(got, want_utf8);
		free(got);
		got = neutralised(raw, 2, 0);
		assert_string_equal(got, want_raw);
		free(got);
		free(want_utf8);
		free(want_raw);
	}
	/* U+00A0 and up are printable */
	NEUTRAL_EQ("\xc2\xa0\xc3\xa9", "\xc2\xa0\xc3\xa9");
}

static void test_util__neutraliser_shows_invalid_utf8_byte_by_byte(void **state)
{
	(void)state;
	NEUTRAL_EQ("bad\xff\xfe", "bad\\xff\\xfe");
	NEUTRAL_EQ("cut\xe2\x80", "cut\\xe2\\x80");
	NEUTRAL_EQ("cut\xe2\x80x", "cut\\xe2\\x80x");
	NEUTRAL_EQ("overlong\xc0\xaf", "overlong\\xc0\\xaf");
	NEUTRAL_EQ("surrogate\xed\xa0\x80", "surrogate\\xed\\xa0\\x80");
	NEUTRAL_EQ("big\xf4\x90\x80\x80", "big\\xf4\\x90\\x80\\x80");
	NEUTRAL_EQ("emoji \xf0\x9f\x98\x80 ok", "emoji \xf0\x9f\x98\x80 ok");
	NEUTRAL_EQ("nul\0byte", "nul\\x00byte");
}

static void test_util__neutraliser_output_never_holds_a_dangerous_byte(void **state)
{
	unsigned seed = 12345;
	size_t round, i, n;

	(void)state;
	for (round = 0; round < 2000; round++) {
		char in[32];
		char *out;
		for (i = 0; i < sizeof(in); i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (char)(seed >> 16);
		}
		out = neutralised(in, sizeof(in), round & 1 ? GATE_SAFE_LINES : 0);
		for (i = 0; out[i]; i += n) {
			long cp = gate_utf8_decode((const unsigned char *)out + i, strlen(out + i), &n);
			assert_true(cp >= 0);
			assert_false(gate_char_unsafe(cp) && cp != '\n' && cp != '\t');
			if (!(round & 1))
				assert_false(cp == '\n' || cp == '\t');
		}
		free(out);
	}
}

static void test_util__log_lines_keep_newlines_and_a_cut_sequence_waits(void **state)
{
	char *got = neutralised("one\n\ttwo\r\n\033[1m", 14, GATE_SAFE_LINES);

	(void)state;
	assert_string_equal(got, "one\n\ttwo\\x0d\n\\x1b[1m");
	free(got);
	assert_int_equal(gate_utf8_partial_tail("ab", 2), 0);
	assert_int_equal(gate_utf8_partial_tail("a\xe2", 2), 1);
	assert_int_equal(gate_utf8_partial_tail("a\xe2\x80", 3), 2);
	assert_int_equal(gate_utf8_partial_tail("a\xe2\x80\xae", 4), 0);
	assert_int_equal(gate_utf8_partial_tail("a\xf0\x9f\x98", 4), 3);
	assert_int_equal(gate_utf8_partial_tail("a\x80", 2), 0);
	assert_int_equal(gate_utf8_partial_tail("", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util__sizes_parse_with_binary_and_decimal_units),
		cmocka_unit_test(test_util__oidmap_copies_keys_unless_they_are_borrowed),
		cmocka_unit_test(test_util__a_child_fed_more_than_a_pipe_holds_does_not_deadlock),
		cmocka_unit_test(test_util__bad_sizes_are_rejected_with_a_message),
		cmocka_unit_test(test_util__durations_parse_to_seconds),
		cmocka_unit_test(test_util__human_sizes_read_naturally),
		cmocka_unit_test(test_util__buffers_grow_and_format),
		cmocka_unit_test(test_util__object_ids_must_be_40_lowercase_hex),
		cmocka_unit_test(test_util__strvec_stays_null_terminated),
		cmocka_unit_test(test_util__a_helper_that_hangs_is_killed_after_its_timeout),
		cmocka_unit_test(test_util__captured_output_and_status_come_back),
		cmocka_unit_test(test_util__input_reaches_a_child_when_our_stdin_is_closed),
		cmocka_unit_test(test_util__neutraliser_escapes_c0_controls_and_del),
		cmocka_unit_test(test_util__neutraliser_escapes_every_bidi_control),
		cmocka_unit_test(test_util__neutraliser_escapes_c1_as_utf8_and_as_raw_bytes),
		cmocka_unit_test(test_util__neutraliser_shows_invalid_utf8_byte_by_byte),
		cmocka_unit_test(test_util__neutraliser_output_never_holds_a_dangerous_byte),
		cmocka_unit_test(test_util__log_lines_keep_newlines_and_a_cut_sequence_waits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

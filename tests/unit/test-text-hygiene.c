#include "unit.h"

#include <stdio.h>

#include "check.h"
#include "scan.h"
#include "textscan.h"

/* ---- line bookkeeping ---- */

static void test_textscan__newlines_are_counted_in_any_length(void **state)
{
	struct gate_buf b = GATE_BUF_INIT;
	size_t i, want = 0;

	(void)state;
	assert_int_equal(gate_text_count_newlines("", 0), 0);
	for (i = 0; i < 20000; i++) {
		char c = (i % 7 == 0 || i % 13 == 0) ? '\n' : 'x';
		gate_buf_addch(&b, c);
		want += c == '\n';
		/* every length, across the vector blocks and the 255-block flushes */
		if (i < 600 || i % 997 == 0 || i == 19999)
			assert_int_equal(gate_text_count_newlines(b.ptr, b.len), want);
	}
	gate_buf_release(&b);
}

static void test_textscan__the_locator_finds_lines_forwards_and_back(void **state)
{
	const char *t = "one\ntwo\n\nfour\nfive";
	struct gate_text_locator l;

	(void)state;
	gate_text_locator_init(&l, t, strlen(t));
	assert_int_equal(gate_text_locate(&l, 0), 1);
	assert_int_equal(gate_text_locate(&l, 3), 1); /* its '\n' */
	assert_int_equal(gate_text_locate(&l, 4), 2);
	assert_int_equal(gate_text_locate(&l, 8), 3);
	assert_int_equal(l.start, 8);
	assert_int_equal(l.end, 8);
	assert_int_equal(gate_text_locate(&l, 16), 5);
	assert_int_equal(l.start, 14);
	assert_int_equal(l.end, 18);
	assert_int_equal(gate_text_locate(&l, 5), 2); /* backwards restarts */
	assert_int_equal(gate_text_locate(&l, 18), 5);
}

static void test_textscan__a_lineset_knows_the_lines_of_a_text(void **state)
{
	struct gate_text_lineset s = GATE_TEXT_LINESET_INIT;
	char line[32];
	int i;

	(void)state;
	gate_text_lineset_add_lines(&s, "alpha\nbeta\n\ngamma", 17);
	assert_true(gate_text_lineset_has(&s, gate_text_line_hash("alpha", 5)));
	assert_true(gate_text_lineset_has(&s, gate_text_line_hash("", 0)));
	assert_true(gate_text_lineset_has(&s, gate_text_line_hash("gamma", 5)));
	assert_false(gate_text_lineset_has(&s, gate_text_line_hash("alpha ", 6)));
	assert_false(gate_text_lineset_has(&s, gate_text_line_hash("delta", 5)));
	for (i = 0; i < 5000; i++) {
		snprintf(line, sizeof(line), "line %d", i);
		gate_text_lineset_add(&s, gate_text_line_hash(line, strlen(line)));
	}
	for (i = 0; i < 5000; i++) {
		snprintf(line, sizeof(line), "line %d", i);
		assert_true(gate_text_lineset_has(&s, gate_text_line_hash(line, strlen(line))));
	}
	assert_false(gate_text_lineset_has(&s, gate_text_line_hash("line 5000", 9)));
	gate_text_lineset_release(&s);
}

/* ---- the hygiene scan ---- */

static struct gate_text_issues hygiene(const char *text, unsigned ws)
{
	struct gate_text_hygiene o = { 1, 7, ws, 8 };
	struct gate_text_issues is = GATE_TEXT_ISSUES_INIT;

	gate_text_hygiene_scan(&o, text, strlen(text), &is, 0);
	return is;
}

static void test_hygiene__a_conflict_is_three_marker_lines(void **state)
{
	struct gate_text_issues is =
		hygiene("a\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> topic\nb\n", 0);

	(void)state;
	assert_int_equal(is.nr, 3);
	assert_int_equal(is.v[0].line, 2);
	assert_int_equal(is.v[0].marker, '<');
	assert_int_equal(is.v[1].line, 4);
	assert_int_equal(is.v[1].marker, '=');
	assert_int_equal(is.v[2].line, 6);
	assert_int_equal(is.v[2].marker, '>');
	assert_true(is.v[0].hash == gate_text_line_hash("<<<<<<< HEAD", 12));
	gate_text_issues_release(&is);
}

static void test_hygiene__diff3_base_markers_and_crlf_lines_count(void **state)
{
	struct gate_text_issues is =
		hygiene("<<<<<<< ours\r\nx\r\n||||||| base\r\ny\r\n=======\r\nz\r\n>>>>>>> theirs\r\n", 0);

	(void)state;
	assert_int_equal(is.nr, 4);
	assert_int_equal(is.v[0].line, 1);
	assert_int_equal(is.v[1].marker, '|');
	assert_int_equal(is.v[1].line, 3);
	assert_int_equal(is.v[3].line, 7);
	gate_text_issues_release(&is);
}

static void test_hygiene__an_underline_alone_is_not_a_marker(void **state)
{
	static const char *const texts[] = {
		"Heading\n=======\n\nText.\n",            /* Markdown / reStructuredText */
		"Title\n=======\n|||||||\n",
		"========\n<<<<<<<<\n>>>>>>>>\n",         /* eight: not git's marker size */
		"<<<<<<<HEAD\n>>>>>>>x\n",                /* no space after the marker */
		" <<<<<<< HEAD\n",                        /* not at the start of the line */
		"<<<<<< six\n>>>>>> six\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(texts); i++) {
		struct gate_text_issues is = hygiene(texts[i], 0);
		if (is.nr)
			fail_msg("%s: %zu issues, first on line %ld", texts[i], is.nr, is.v[0].line);
		gate_text_issues_release(&is);
	}
}

static void test_hygiene__markers_are_found_at_every_offset(void **state)
{
	size_t k;

	(void)state;
	/* the scan tests 16 byte pairs at a time: put the marker everywhere */
	for (k = 0; k < 48; k++) {
		struct gate_buf b = GATE_BUF_INIT;
		struct gate_text_issues is;
		size_t i;
		for (i = 0; i < k; i++)
			gate_buf_adds(&b, "x\n");
		gate_buf_adds(&b, ">>>>>>> other");
		is = hygiene(b.ptr, 0); /* also: at the very end, without a newline */
		assert_int_equal(is.nr, 1);
		assert_int_equal(is.v[0].line, (long)k + 1);
		gate_text_issues_release(&is);
		gate_buf_adds(&b, "\n");
		for (i = 0; i < k; i++)
			gate_buf_addch(&b, 'y');
		is = hygiene(b.ptr, 0);
		assert_int_equal(is.nr, 1);
		assert_int_equal(is.v[0].line, (long)k + 1);
		gate_text_issues_release(&is);
		gate_buf_release(&b);
	}
}

static void test_hygiene__marker_size_is_configurable(void **state)
{
	struct gate_text_hygiene o = { 1, 4, 0, 8 };
	struct gate_text_issues is = GATE_TEXT_ISSUES_INIT;
	const char *t = "<<<< a\n<<<<<<< b\n>>>> c\n";

	(void)state;
	gate_text_hygiene_scan(&o, t, strlen(t), &is, 0);
	assert_int_equal(is.nr, 2);
	assert_int_equal(is.v[0].line, 1);
	assert_int_equal(is.v[1].line, 3);
	gate_text_issues_release(&is);
}

static void test_hygiene__whitespace_errors_as_git_diff_check_sees_them(void **state)
{
	struct gate_text_issues is = hygiene("ok\ntrailing space \ntrailing tab\t\n   \n \tspace before tab\n"
					     "\t \tagain\n        eight spaces\n\tindented\ncrlf\r\nend",
					     GATE_WS_DEFAULT);

	(void)state;
	assert_int_equal(is.nr, 6);
	assert_int_equal(is.v[0].line, 2);
	assert_int_equal(is.v[0].ws, GATE_WS_BLANK_AT_EOL);
	assert_int_equal(is.v[1].line, 3);
	assert_int_equal(is.v[2].line, 4); /* whitespace only */
	assert_int_equal(is.v[2].ws, GATE_WS_BLANK_AT_EOL);
	assert_int_equal(is.v[3].line, 5);
	assert_int_equal(is.v[3].ws, GATE_WS_SPACE_BEFORE_TAB);
	assert_int_equal(is.v[4].line, 6);
	assert_int_equal(is.v[4].ws, GATE_WS_SPACE_BEFORE_TAB);
	assert_int_equal(is.v[5].line, 9); /* a CR is trailing whitespace unless cr-at-eol */
	assert_int_equal(is.blank_at_eof, 0);
	gate_text_issues_release(&is);
}

static void test_hygiene__optional_whitespace_rules(void **state)
{
	struct gate_text_issues is;
	const char *t = "crlf\r\n        eight\n\tx\n       seven\n\t        tab then eight\n";

	(void)state;
	is = hygiene(t, GATE_WS_DEFAULT | GATE_WS_CR_AT_EOL | GATE_WS_INDENT_WITH_NON_TAB);
	assert_int_equal(is.nr, 2);
	assert_int_equal(is.v[0].line, 2);
	assert_int_equal(is.v[0].ws, GATE_WS_INDENT_WITH_NON_TAB);
	assert_int_equal(is.v[1].line, 5);
	gate_text_issues_release(&is);
	is = hygiene(t, GATE_WS_CR_AT_EOL | GATE_WS_TAB_IN_INDENT);
	assert_int_equal(is.nr, 2);
	assert_int_equal(is.v[0].line, 3);
	assert_int_equal(is.v[0].ws, GATE_WS_TAB_IN_INDENT);
	assert_int_equal(is.v[1].line, 5);
	gate_text_issues_release(&is);
}

static void test_hygiene__blank_lines_at_the_end_are_counted(void **state)
{
	static const struct {
		const char *text;
		long blank, lines; /* lines: counted only when there are blank ones at the end */
	} cases[] = {
		{ "a\n", 0, 0 },  { "a\n\n", 1, 2 }, { "a\n\n \n\t\n", 3, 4 }, { "a\n\n  ", 2, 3 },
		{ "\n", 1, 1 },   { "a", 0, 0 },     { "a\n\nb\n", 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(cases); i++) {
		struct gate_text_issues is = hygiene(cases[i].text, GATE_WS_BLANK_AT_EOF);
		if (is.blank_at_eof != cases[i].blank)
			fail_msg("case %zu: %ld blank lines at the end, want %ld", i, is.blank_at_eof, cases[i].blank);
		if (is.lines != cases[i].lines)
			fail_msg("case %zu: %ld lines, want %ld", i, is.lines, cases[i].lines);
		gate_text_issues_release(&is);
	}
}

static void test_hygiene__whitespace_rules_parse_like_core_whitespace(void **state)
{
	struct gate_buf err = GATE_BUF_INIT;
	unsigned r = 0;
	int tw = 0;

	(void)state;
	assert_int_equal(gate_text_parse_ws_rules("", &r, &tw, &err), 0);
	assert_int_equal(r, GATE_WS_DEFAULT);
	assert_int_equal(tw, 8);
	assert_int_equal(gate_text_parse_ws_rules("-trailing-space, tab-in-indent,cr-at-eol", &r, &tw, &err), 0);
	assert_int_equal(r, GATE_WS_SPACE_BEFORE_TAB | GATE_WS_TAB_IN_INDENT | GATE_WS_CR_AT_EOL);
	assert_int_equal(gate_text_parse_ws_rules("indent-with-non-tab,tabwidth=4", &r, &tw, &err), 0);
	assert_int_equal(tw, 4);
	assert_int_equal(gate_text_parse_ws_rules("trailing-spaces", &r, &tw, &err), -1);
	assert_non_null(strstr(err.ptr, "unknown whitespace rule \"trailing-spaces\""));
	gate_buf_reset(&err);
	assert_int_equal(gate_text_parse_ws_rules("tabwidth=0", &r, &tw, &err), -1);
	gate_buf_reset(&err);
	assert_int_equal(gate_text_parse_ws_rules("tab-in-indent,indent-with-non-tab", &r, &tw, &err), -1);
	assert_non_null(strstr(err.ptr, "cannot both"));
	gate_buf_reset(&err);
	gate_text_describe_ws(&err, GATE_WS_BLANK_AT_EOL | GATE_WS_SPACE_BEFORE_TAB);
	assert_string_equal(err.ptr, "trailing whitespace, space before tab in indent");
	gate_buf_release(&err);
}

static void test_hygiene__at_most_max_issues_are_kept(void **state)
{
	struct gate_text_hygiene o = { 1, 7, GATE_WS_DEFAULT, 8 };
	struct gate_text_issues is = GATE_TEXT_ISSUES_INIT;
	struct gate_buf b = GATE_BUF_INIT;
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		gate_buf_adds(&b, "x \n");
	gate_text_hygiene_scan(&o, b.ptr, b.len, &is, 10);
	assert_int_equal(is.nr, 10);
	assert_true(is.truncated);
	gate_text_hygiene_scan(&o, b.ptr, b.len, &is, 0);
	assert_int_equal(is.nr, 100);
	assert_false(is.truncated);
	gate_text_issues_release(&is);
	gate_buf_release(&b);
}

/* ---- the check type ---- */

#define POLICY(keys) "checks = { h = { type = \"text-hygiene\"; " keys " }; };\n"

static struct gate_findings judge(const char *policy, const char *path, const char *data, size_t len)
{
	struct gate_config *cfg = unit_policy(policy);

	assert_true(cfg->checks[0].type->flags & GATE_CHECK_CONTENT);
	gate_config_free(cfg);
	return unit_judge_blob(policy, path, len, data, len);
}

static void test_hygiene__findings_name_the_marker_and_line(void **state)
{
	const char *t = "a\n<<<<<<< HEAD\nb  \n=======\nc\n>>>>>>> topic\n";
	struct gate_findings f = judge(POLICY(""), "src/x.c", t, strlen(t));

	(void)state;
	/* whitespace is not checked unless asked for */
	assert_int_equal(f.nr, 3);
	assert_string_equal(f.v[0].message, "leftover conflict marker '<<<<<<<'");
	assert_int_equal(f.v[0].line, 2);
	assert_string_equal(f.v[0].path, "src/x.c");
	assert_non_null(strstr(f.v[0].hint, "resolve the conflict"));
	assert_string_equal(f.v[1].message, "leftover conflict marker '======='");
	assert_string_equal(f.v[2].message, "leftover conflict marker '>>>>>>>'");
	assert_int_equal(f.v[2].line, 6);
	gate_findings_release(&f);
}

static void test_hygiene__whitespace_findings_when_enabled(void **state)
{
	const char *t = "a\nb  \n \tc\nd\n\n\n";
	struct gate_findings f = judge(POLICY("whitespace = true;"), "x.txt", t, strlen(t));

	(void)state;
	assert_int_equal(f.nr, 3);
	assert_string_equal(f.v[0].message, "trailing whitespace");
	assert_int_equal(f.v[0].line, 2);
	assert_string_equal(f.v[1].message, "space before tab in indent");
	assert_int_equal(f.v[1].line, 3);
	assert_string_equal(f.v[2].message, "new blank line at EOF");
	assert_int_equal(f.v[2].line, 5);
	assert_non_null(strstr(f.v[0].hint, "git diff --check"));
	gate_findings_release(&f);
	f = judge(POLICY("whitespace = true; whitespace_rules = \"-blank-at-eof,-space-before-tab\";"), "x.txt", t,
		  strlen(t));
	assert_int_equal(f.nr, 1);
	gate_findings_release(&f);
}

static void test_hygiene__allowed_paths_and_binary_files_pass(void **state)
{
	const char *t = "<<<<<<< HEAD\nx\n>>>>>>> b\n";
	char bin[40];
	struct gate_findings f;

	(void)state;
	f = judge(POLICY("allow_paths = [ \"t/t*/*.expect\" ];"), "t/t6400/merge.expect", t, strlen(t));
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
	memset(bin, 0, sizeof(bin));
	memcpy(bin + 1, t, strlen(t));
	f = judge(POLICY(""), "x.bin", bin, sizeof(bin));
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
}

static void test_hygiene__policy_mistakes_are_reported(void **state)
{
	static const struct unit_bad_keys bad[] = {
		{ "whitespace_rules = \"trailing-space\";", "has no effect unless whitespace = true" },
		{ "whitespace = true; whitespace_rules = \"tabs\";", "unknown whitespace rule \"tabs\"" },
		{ "whitespace = true; whitespace_rules = \"-trailing-space,-space-before-tab\";", "no whitespace rule" },
		{ "marker_size = 1;", "between 2 and 64" },
		{ "conflict_markers = false;", "could find nothing" },
		{ "whitespace = \"yes\";", "'whitespace' must be" },
		{ "colour = 1;", "unknown key 'colour'" },
	};

	(void)state;
	unit_expect_policy_errors(POLICY("%s"), bad, GATE_ARRAY_SIZE(bad));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_textscan__newlines_are_counted_in_any_length),
		cmocka_unit_test(test_textscan__the_locator_finds_lines_forwards_and_back),
		cmocka_unit_test(test_textscan__a_lineset_knows_the_lines_of_a_text),
		cmocka_unit_test(test_hygiene__a_conflict_is_three_marker_lines),
		cmocka_unit_test(test_hygiene__diff3_base_markers_and_crlf_lines_count),
		cmocka_unit_test(test_hygiene__an_underline_alone_is_not_a_marker),
		cmocka_unit_test(test_hygiene__markers_are_found_at_every_offset),
		cmocka_unit_test(test_hygiene__marker_size_is_configurable),
		cmocka_unit_test(test_hygiene__whitespace_errors_as_git_diff_check_sees_them),
		cmocka_unit_test(test_hygiene__optional_whitespace_rules),
		cmocka_unit_test(test_hygiene__blank_lines_at_the_end_are_counted),
		cmocka_unit_test(test_hygiene__whitespace_rules_parse_like_core_whitespace),
		cmocka_unit_test(test_hygiene__at_most_max_issues_are_kept),
		cmocka_unit_test(test_hygiene__findings_name_the_marker_and_line),
		cmocka_unit_test(test_hygiene__whitespace_findings_when_enabled),
		cmocka_unit_test(test_hygiene__allowed_paths_and_binary_files_pass),
		cmocka_unit_test(test_hygiene__policy_mistakes_are_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "unit.h"

#include "check.h"
#include "paths.h"
#include "scan.h"

/* ---- the pure classification (paths.h) ---- */

static unsigned kinds_of(const char *path, size_t max_path, size_t max_comp)
{
	struct gate_path_problem pr[GATE_PATH_MAX_PROBLEMS];
	struct gate_path_limits lim = { max_path, max_comp };
	size_t i, n = gate_path_problems(path, strlen(path), GATE_PATH_ALL_KINDS, &lim, pr);
	unsigned k = 0;

	for (i = 0; i < n; i++)
		k |= pr[i].kind;
	return k;
}

static void test_paths__ordinary_paths_have_no_problem(void **state)
{
	(void)state;
	assert_int_equal(kinds_of("src/main.c", 4096, 255), 0);
	assert_int_equal(kinds_of("docs/caf\xc3\xa9.md", 4096, 255), 0);
	assert_int_equal(kinds_of(".gitignore", 4096, 255), 0);
	assert_int_equal(kinds_of("a/.github/workflows/ci.yml", 4096, 255), 0);
	assert_int_equal(kinds_of("console.log", 4096, 255), 0);
	assert_int_equal(kinds_of("com10.txt", 4096, 255), 0);
	assert_int_equal(kinds_of("lpt.txt", 4096, 255), 0);
	assert_int_equal(kinds_of("x/.gitmodules", 4096, 255), 0);
}

static void test_paths__windows_device_names_in_any_case_and_with_extensions(void **state)
{
	(void)state;
	assert_true(gate_path_is_win_reserved("CON", 3));
	assert_true(gate_path_is_win_reserved("con.txt", 7));
	assert_true(gate_path_is_win_reserved("Nul.tar.gz", 10));
	assert_true(gate_path_is_win_reserved("aux ", 4));
	assert_true(gate_path_is_win_reserved("prn .c", 6));
	assert_true(gate_path_is_win_reserved("COM1", 4));
	assert_true(gate_path_is_win_reserved("lpt9.log", 8));
	assert_true(gate_path_is_win_reserved("COM0", 4));
	assert_true(gate_path_is_win_reserved("com\xc2\xb9", 5));
	assert_true(gate_path_is_win_reserved("CONIN$", 6));
	assert_true(gate_path_is_win_reserved("conout$.x", 9));
	assert_false(gate_path_is_win_reserved("CONX", 4));
	assert_false(gate_path_is_win_reserved("COM", 3));
	assert_false(gate_path_is_win_reserved("COMA", 4));
	assert_false(gate_path_is_win_reserved("xcon", 4));
	assert_false(gate_path_is_win_reserved("", 0));
	assert_int_equal(kinds_of("a/b/aux.c", 0, 0), GATE_PATH_RESERVED);
}

static void test_paths__dotgit_in_every_disguise(void **state)
{
	(void)state;
	assert_true(gate_path_is_dotgit(".git", 4));
	assert_true(gate_path_is_dotgit(".GIT", 4));
	assert_true(gate_path_is_dotgit(".Git", 4));
	assert_true(gate_path_is_dotgit(".git.", 5));
	assert_true(gate_path_is_dotgit(".git . .", 7));
	assert_true(gate_path_is_dotgit(".git::$INDEX_ALLOCATION", 23));
	assert_true(gate_path_is_dotgit("GIT~1", 5));
	assert_true(gate_path_is_dotgit(".g\xe2\x80\x8cit", 7));     /* U+200C */
	assert_true(gate_path_is_dotgit("\xef\xbb\xbf.git", 7));     /* U+FEFF first */
	assert_true(gate_path_is_dotgit(".git\xe2\x81\xaf", 7));     /* U+206F last */
	assert_false(gate_path_is_dotgit(".gitignore", 10));
	assert_false(gate_path_is_dotgit("git", 3));
	assert_false(gate_path_is_dotgit(".git~1", 6));
	assert_false(gate_path_is_dotgit(".gi", 3));
	assert_false(gate_path_is_dotgit(".g\xc3\xaft", 5));
	assert_int_equal(kinds_of("sub/.GIT/config", 0, 0), GATE_PATH_DOTGIT);
	assert_int_equal(kinds_of(".git./hooks/x", 0, 0), GATE_PATH_DOTGIT | GATE_PATH_TRAILING);
}

static void test_paths__forbidden_characters_are_named_with_their_offset(void **state)
{
	struct gate_path_problem pr[GATE_PATH_MAX_PROBLEMS];
	static const char *const bad[] = { "a<b", "a>b", "a:b", "a\"b", "a|b", "a?b", "a*b", "a\\b" };
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(bad); i++)
		assert_int_equal(kinds_of(bad[i], 0, 0), GATE_PATH_BAD_CHAR);
	assert_int_equal(gate_path_problems("dir/x:y", 7, GATE_PATH_ALL_KINDS, NULL, pr), 1);
	assert_int_equal(pr[0].kind, GATE_PATH_BAD_CHAR);
	assert_int_equal(pr[0].start, 4);
	assert_int_equal(pr[0].len, 3);
	assert_int_equal(pr[0].at, 5);
}

static void test_paths__control_characters_trailing_dots_and_spaces(void **state)
{
	(void)state;
	assert_int_equal(kinds_of("new\nline", 0, 0), GATE_PATH_CONTROL);
	assert_int_equal(kinds_of("tab\tname", 0, 0), GATE_PATH_CONTROL);
	assert_int_equal(kinds_of("esc\x1b[31m", 0, 0), GATE_PATH_CONTROL);
	assert_int_equal(kinds_of("\x01", 0, 0), GATE_PATH_CONTROL);
	assert_int_equal(kinds_of("del\x7f", 0, 0), 0);
	assert_int_equal(kinds_of("name.", 0, 0), GATE_PATH_TRAILING);
	assert_int_equal(kinds_of("dir /file", 0, 0), GATE_PATH_TRAILING);
	assert_int_equal(kinds_of("a/b/c.. ", 0, 0), GATE_PATH_TRAILING);
	assert_int_equal(kinds_of(".hidden", 0, 0), 0);
}

static void test_paths__invalid_utf8_is_found_at_its_offset(void **state)
{
	struct gate_path_problem pr[GATE_PATH_MAX_PROBLEMS];

	(void)state;
	assert_int_equal(gate_path_problems("ok/bad\xffname", 11, GATE_PATH_UTF8, NULL, pr), 1);
	assert_int_equal(pr[0].kind, GATE_PATH_UTF8);
	assert_int_equal(pr[0].at, 6);
	assert_int_equal(kinds_of("\xc3\x28", 0, 0), GATE_PATH_UTF8);         /* bad continuation */
	assert_int_equal(kinds_of("\xc0\xaf", 0, 0), GATE_PATH_UTF8);         /* overlong '/' */
	assert_int_equal(kinds_of("\xe0\x80\xaf", 0, 0), GATE_PATH_UTF8);     /* overlong */
	assert_int_equal(kinds_of("\xed\xa0\x80", 0, 0), GATE_PATH_UTF8);     /* surrogate */
	assert_int_equal(kinds_of("\xf4\x90\x80\x80", 0, 0), GATE_PATH_UTF8); /* above U+10FFFF */
	assert_int_equal(kinds_of("caf\xc3", 0, 0), GATE_PATH_UTF8);          /* cut short */
	assert_int_equal(kinds_of("\xf0\x9f\x98\x80.txt", 0, 0), 0);          /* an emoji is fine */
	assert_int_equal(gate_utf8_seq((const unsigned char *)"\xe2\x82\xac", 3), 3);
	assert_int_equal(gate_utf8_seq((const unsigned char *)"\xe2\x82", 2), 0);
}

static void test_paths__lengths_count_bytes(void **state)
{
	char comp[300], path[5000];
	struct gate_path_problem pr[GATE_PATH_MAX_PROBLEMS];
	struct gate_path_limits lim = { 4096, 255 };
	size_t i;

	(void)state;
	memset(comp, 'a', 256);
	comp[256] = '\0';
	assert_int_equal(kinds_of(comp, 4096, 255), GATE_PATH_LONG_COMPONENT);
	comp[255] = '\0';
	assert_int_equal(kinds_of(comp, 4096, 255), 0);
	assert_int_equal(kinds_of(comp, 0, 0), 0);
	for (i = 0; i < 4097; i++)
		path[i] = (i % 100 == 99) ? '/' : 'p';
	path[4097] = '\0';
	assert_int_equal(kinds_of(path, 4096, 255), GATE_PATH_LONG);
	path[4096] = '\0';
	assert_int_equal(kinds_of(path, 4096, 255), 0);
	assert_int_equal(gate_path_problems(comp, strlen(comp), GATE_PATH_ALL_KINDS, &lim, pr), 0);
}

static void test_paths__problems_come_in_enum_order_one_per_kind(void **state)
{
	struct gate_path_problem pr[GATE_PATH_MAX_PROBLEMS];
	const char *p = "a:b/c?d/con./\n\n";
	size_t n = gate_path_problems(p, strlen(p), GATE_PATH_ALL_KINDS, NULL, pr);

	(void)state;
	assert_int_equal(n, 4);
	assert_int_equal(pr[0].kind, GATE_PATH_RESERVED);
	assert_int_equal(pr[1].kind, GATE_PATH_BAD_CHAR);
	assert_int_equal(pr[1].at, 1); /* the first bad character */
	assert_int_equal(pr[2].kind, GATE_PATH_CONTROL);
	assert_int_equal(pr[3].kind, GATE_PATH_TRAILING);
	/* kinds not asked for are not looked at */
	assert_int_equal(gate_path_problems(p, strlen(p), GATE_PATH_UTF8 | GATE_PATH_DOTGIT, NULL, pr), 0);
}

static char *fold(const char *s)
{
	struct gate_buf b = GATE_BUF_INIT;

	gate_path_fold(&b, s, strlen(s));
	return gate_buf_detach(&b);
}

static void assert_fold(const char *a, const char *b, int same)
{
	char *fa = fold(a), *fb = fold(b);

	if (same)
		assert_string_equal(fa, fb);
	else
		assert_string_not_equal(fa, fb);
	free(fa);
	free(fb);
}

static void test_paths__fold_keeps_the_length_of_every_mapped_letter(void **state)
{
	struct gate_buf in = GATE_BUF_INIT, out = GATE_BUF_INIT;
	unsigned cp;

	(void)state;
	/* every code point below U+10000, encoded, folds to as many bytes */
	for (cp = 1; cp < 0x10000; cp++) {
		char b[3];
		size_t n;
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80) {
			b[0] = (char)cp;
			n = 1;
		} else if (cp < 0x800) {
			b[0] = (char)(0xc0 | (cp >> 6));
			b[1] = (char)(0x80 | (cp & 0x3f));
			n = 2;
		} else {
			b[0] = (char)(0xe0 | (cp >> 12));
			b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			b[2] = (char)(0x80 | (cp & 0x3f));
			n = 3;
		}
		gate_buf_reset(&out);
		gate_path_fold(&out, b, n);
		assert_int_equal(out.len, n);
	}
	gate_buf_release(&in);
	gate_buf_release(&out);
}

static void test_paths__fold_matches_what_case_insensitive_systems_merge(void **state)
{
	(void)state;
	assert_fold("README", "readme", 1);
	assert_fold("Makefile.AM", "makefile.am", 1);
	assert_fold("\xc3\x89t\xc3\xa9", "\xc3\xa9T\xc3\x89", 1);           /* Été / éTÉ */
	assert_fold("\xc5\xbd", "\xc5\xbe", 1);                             /* Ž ž */
	assert_fold("\xc4\xb9", "\xc4\xba", 1);                             /* Ĺ ĺ */
	assert_fold("\xc5\xb8", "\xc3\xbf", 1);                             /* Ÿ ÿ */
	assert_fold("\xce\xa3\xce\x9f\xce\xa6", "\xcf\x83\xce\xbf\xcf\x86", 1); /* ΣΟΦ σοφ */
	assert_fold("\xcf\x82", "\xcf\x83", 1);                             /* final sigma */
	assert_fold("\xd0\x9f\xd0\xa0\xd0\x98", "\xd0\xbf\xd1\x80\xd0\xb8", 1); /* ПРИ при */
	assert_fold("\xd0\x81", "\xd1\x91", 1);                             /* Ё ё */
	assert_fold("\xef\xbc\xa1", "\xef\xbd\x81", 1);                     /* fullwidth A a */
	assert_fold("a", "b", 0);
	assert_fold("\xc3\x97", "\xc3\xb7", 0);                             /* × ÷ are not letters */
	assert_fold("bad\xff", "BAD\xff", 1);                               /* invalid bytes kept */
	assert_fold("bad\xff", "bad\xfe", 0);
}

/* ---- the hooks, with a policy ---- */

static struct gate_findings run_change(const char *policy, enum gate_change_kind kind, const char *path)
{
	struct unit_fixture f;
	struct gate_findings out = GATE_FINDINGS_INIT;
	struct gate_change ch;

	unit_fixture_init(&f, policy, "Add things\n");
	memset(&ch, 0, sizeof(ch));
	ch.kind = kind;
	ch.path = path;
	ch.old_mode = kind == GATE_CHANGE_ADD ? 0 : 0100644;
	ch.new_mode = kind == GATE_CHANGE_DELETE ? 0 : 0100644;
	ch.old_id = GATE_ZERO_OID;
	ch.new_id = GATE_ZERO_OID;
	assert_int_equal(f.type->change(&f.run, &f.commit, &ch, &out), 0);
	unit_fixture_release(&f);
	return out;
}

#define FORBID(keys)                                                                                 \
	"checks = { f = { type = \"forbidden-paths\"; patterns = [ \"*.pem\", \"**/id_rsa\", \".env\", " \
	"\"node_modules/**\" ]; " keys " }; };\n"

static size_t count(const char *policy, enum gate_change_kind kind, const char *path, const char *needle)
{
	struct gate_findings f = run_change(policy, kind, path);
	size_t n = f.nr;

	if (needle && n) {
		assert_non_null(strstr(f.v[0].message, needle));
		assert_string_equal(f.v[0].path, path);
		assert_non_null(f.v[0].hint);
	}
	gate_findings_release(&f);
	return n;
}

static void test_forbidden_paths__patterns_match_at_any_depth_or_from_the_root(void **state)
{
	(void)state;
	assert_int_equal(count(FORBID(""), GATE_CHANGE_ADD, "deploy/server.pem", "'*.pem' (added)"), 1);
	assert_int_equal(count(FORBID(""), GATE_CHANGE_ADD, "id_rsa", "'**/id_rsa'"), 1);
	assert_int_equal(count(FORBID(""), GATE_CHANGE_ADD, "home/u/.ssh/id_rsa", "'**/id_rsa'"), 1);
	assert_int_equal(count(FORBID(""), GATE_CHANGE_MODIFY, "config/.env", "'.env' (changed)"), 1);
	assert_int_equal(count(FORBID(""), GATE_CHANGE_TYPE, "node_modules/a/b.js", "(changed)"), 1);
	assert_int_equal(count(FORBID(""), GATE_CHANGE_ADD, "src/node_modules/a.js", NULL), 0);
	assert_int_equal(count(FORBID(""), GATE_CHANGE_ADD, "id_rsa.pub", NULL), 0);
	assert_int_equal(count(FORBID(""), GATE_CHANGE_ADD, ".env.example", NULL), 0);
}

static void test_forbidden_paths__deleting_is_always_fine(void **state)
{
	(void)state;
	assert_int_equal(count(FORBID(""), GATE_CHANGE_DELETE, "server.pem", NULL), 0);
}

static void test_forbidden_paths__allow_and_case_insensitive(void **state)
{
	(void)state;
	assert_int_equal(count(FORBID("allow = [ \"tests/**\" ];"), GATE_CHANGE_ADD, "tests/k/a.pem", NULL), 0);
	assert_int_equal(count(FORBID("allow = [ \"tests/**\" ];"), GATE_CHANGE_ADD, "src/a.pem", "'*.pem'"), 1);
	assert_int_equal(count(FORBID(""), GATE_CHANGE_ADD, "KEY.PEM", NULL), 0);
	assert_int_equal(count(FORBID("case_insensitive = true;"), GATE_CHANGE_ADD, "KEY.PEM", "'*.pem'"), 1);
	assert_int_equal(count(FORBID("case_insensitive = true;"), GATE_CHANGE_ADD, "Node_Modules/x", "node_modules"), 1);
}

static void test_forbidden_paths__a_policy_needs_patterns(void **state)
{
	char *e;

	(void)state;
	e = unit_policy_errors("checks = { f = { type = \"forbidden-paths\"; }; };\n");
	assert_non_null(strstr(e, "needs patterns"));
	free(e);
	e = unit_policy_errors("checks = { f = { type = \"forbidden-paths\"; patterns = [ ]; }; };\n");
	assert_non_null(strstr(e, "needs patterns"));
	free(e);
	e = unit_policy_errors("checks = { f = { type = \"forbidden-paths\"; patterns = [ \"a[\" ]; }; };\n");
	assert_non_null(strstr(e, "bad glob"));
	free(e);
}

#define PORT(keys) "checks = { p = { type = \"portable-paths\"; " keys " }; };\n"

static void test_portable_paths__names_are_judged_on_added_paths_only(void **state)
{
	(void)state;
	assert_int_equal(count(PORT(""), GATE_CHANGE_ADD, "dir/con.txt", "reserved device name"), 1);
	assert_int_equal(count(PORT(""), GATE_CHANGE_MODIFY, "dir/con.txt", NULL), 0);
	assert_int_equal(count(PORT(""), GATE_CHANGE_DELETE, "dir/con.txt", NULL), 0);
	assert_int_equal(count(PORT(""), GATE_CHANGE_ADD, "a:b", "contains ':'"), 1);
	assert_int_equal(count(PORT(""), GATE_CHANGE_ADD, "x.", "ends in a dot"), 1);
	assert_int_equal(count(PORT(""), GATE_CHANGE_ADD, "x /y", "ends in a space"), 1);
	assert_int_equal(count(PORT(""), GATE_CHANGE_ADD, "a\nb", "control character 0x0a"), 1);
	assert_int_equal(count(PORT(""), GATE_CHANGE_ADD, "a\xff", "not valid UTF-8 (byte 0xff at offset 1)"), 1);
	assert_int_equal(count(PORT(""), GATE_CHANGE_ADD, ".GIT/x", "read as '.git'"), 1);
	assert_int_equal(count(PORT(""), GATE_CHANGE_ADD, "con./a:b", NULL), 3);
}

static void test_portable_paths__each_class_can_be_turned_off(void **state)
{
	(void)state;
	assert_int_equal(count(PORT("windows = false;"), GATE_CHANGE_ADD, "con./a:b", NULL), 0);
	assert_int_equal(count(PORT("control = false;"), GATE_CHANGE_ADD, "a\nb", NULL), 0);
	assert_int_equal(count(PORT("utf8 = false;"), GATE_CHANGE_ADD, "a\xff", NULL), 0);
	assert_int_equal(count(PORT("dotgit = false;"), GATE_CHANGE_ADD, ".GIT/x", NULL), 0);
	assert_int_equal(count(PORT("allow = [ \"legacy/**\" ];"), GATE_CHANGE_ADD, "legacy/con", NULL), 0);
}

static void test_portable_paths__length_limits_come_from_the_policy(void **state)
{
	char name[300];

	(void)state;
	memset(name, 'n', 256);
	name[256] = '\0';
	assert_int_equal(count(PORT(""), GATE_CHANGE_ADD, name, "256 bytes long, more than the 255 allowed"), 1);
	assert_int_equal(count(PORT("max_component_length = 0;"), GATE_CHANGE_ADD, name, NULL), 0);
	assert_int_equal(count(PORT("max_path_length = 10;"), GATE_CHANGE_ADD, "abcde/fghijk", "12 bytes long"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths__ordinary_paths_have_no_problem),
		cmocka_unit_test(test_paths__windows_device_names_in_any_case_and_with_extensions),
		cmocka_unit_test(test_paths__dotgit_in_every_disguise),
		cmocka_unit_test(test_paths__forbidden_characters_are_named_with_their_offset),
		cmocka_unit_test(test_paths__control_characters_trailing_dots_and_spaces),
		cmocka_unit_test(test_paths__invalid_utf8_is_found_at_its_offset),
		cmocka_unit_test(test_paths__lengths_count_bytes),
		cmocka_unit_test(test_paths__problems_come_in_enum_order_one_per_kind),
		cmocka_unit_test(test_paths__fold_keeps_the_length_of_every_mapped_letter),
		cmocka_unit_test(test_paths__fold_matches_what_case_insensitive_systems_merge),
		cmocka_unit_test(test_forbidden_paths__patterns_match_at_any_depth_or_from_the_root),
		cmocka_unit_test(test_forbidden_paths__deleting_is_always_fine),
		cmocka_unit_test(test_forbidden_paths__allow_and_case_insensitive),
		cmocka_unit_test(test_forbidden_paths__a_policy_needs_patterns),
		cmocka_unit_test(test_portable_paths__names_are_judged_on_added_paths_only),
		cmocka_unit_test(test_portable_paths__each_class_can_be_turned_off),
		cmocka_unit_test(test_portable_paths__length_limits_come_from_the_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "unit.h"

#include "check-logic.h"
#include "check.h"
#include "scan.h"

#define POINTER                                                                        \
	"version https://git-lfs.github.com/spec/v1\n"                                 \
	"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n" \
	"size 12345\n"

static void test_lfs__a_pointer_file_is_recognised(void **state)
{
	const char ext[] = "version https://git-lfs.github.com/spec/v1\n"
			   "ext-0-foo sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
			   "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
			   "size 0\n";

	(void)state;
	assert_true(gate_lfs_is_pointer(POINTER, strlen(POINTER)));
	assert_true(gate_lfs_is_pointer(ext, strlen(ext)));
}

static void test_lfs__anything_else_is_not_a_pointer(void **state)
{
	static const char *const bad[] = {
		"",
		"version https://git-lfs.github.com/spec/v1\n",
		/* no size */
		"version https://git-lfs.github.com/spec/v1\n"
		"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n",
		/* short oid */
		"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 1\n",
		/* upper-case hex */
		"version https://git-lfs.github.com/spec/v1\n"
		"oid sha256:4D7A214614AB2935C943F9E0FF69D22EADBB8F32B1258DAAA5E2CA24D17E2393\nsize 1\n",
		/* no final newline */
		"version https://git-lfs.github.com/spec/v1\n"
		"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 1",
		/* size not a number */
		"version https://git-lfs.github.com/spec/v1\n"
		"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 1k\n",
		/* another version */
		"version https://git-lfs.github.com/spec/v2\n"
		"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 1\n",
		/* a line that is not "key value" */
		"version https://git-lfs.github.com/spec/v1\n"
		"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 1\n\n",
	};
	char big[2048];
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(bad); i++)
		assert_false(gate_lfs_is_pointer(bad[i], strlen(bad[i])));
	/* a pointer is under 1 KiB: padding with valid lines does not make one */
	memcpy(big, POINTER, strlen(POINTER));
	for (i = strlen(POINTER); i + 8 < sizeof(big); i += 8)
		memcpy(big + i, "x-pad a\n", 8);
	assert_false(gate_lfs_is_pointer(big, i));
	assert_false(gate_lfs_is_pointer(NULL, 0));
}

/* Judge one blob of `size` bytes (content `data` or NULL) at `path` with check "s" of `policy`. */
static struct gate_findings judge(const char *policy, const char *path, uint64_t size, const char *data)
{
	struct gate_config *cfg = unit_policy(policy);

	assert_false(cfg->checks[0].type->flags & GATE_CHECK_CONTENT); /* sizes are enough */
	gate_config_free(cfg);
	return unit_judge_blob(policy, path, size, data, data ? strlen(data) : 0);
}

#define POLICY(keys) "checks = { s = { type = \"max-file-size\"; " keys " }; };\n"
#define LIMITS                                                                                    \
	"limit = \"1 MiB\"; limits = ( { pattern = \"*.psd\"; limit = \"0\"; },"                  \
	" { pattern = \"assets/**\"; limit = \"10 MiB\"; }, { pattern = \"*.png\"; limit = 100; }," \
	" { pattern = \"vendor/**\"; limit = \"none\"; } );"

static void expect(const char *policy, const char *path, uint64_t size, const char *data, const char *message)
{
	struct gate_findings f = judge(policy, path, size, data);

	if (!message) {
		assert_int_equal(f.nr, 0);
	} else {
		assert_int_equal(f.nr, 1);
		assert_string_equal(f.v[0].message, message);
		assert_string_equal(f.v[0].path, path);
		assert_string_equal(f.v[0].commit, "0123456789abcdef0123456789abcdef01234567");
		assert_non_null(strstr(f.v[0].hint, "git rm --cached"));
	}
	gate_findings_release(&f);
}

static void test_max_file_size__the_default_limit_is_100_mib(void **state)
{
	(void)state;
	expect(POLICY(""), "a.bin", 100ull << 20, NULL, NULL);
	expect(POLICY(""), "a.bin", (100ull << 20) + 1,  NULL,
	       "file is 100.0 MiB (104857601 bytes), over the 100.0 MiB (104857600 bytes) limit");
}

static void test_max_file_size__the_limit_is_inclusive(void **state)
{
	(void)state;
	expect(POLICY("limit = \"5 MiB\";"), "a.bin", 5u << 20, NULL, NULL);
	expect(POLICY("limit = \"5 MiB\";"), "dir/a.bin", 12u << 20, NULL, "file is 12.0 MiB, over the 5.0 MiB limit");
}

static void test_max_file_size__first_matching_pattern_wins(void **state)
{
	(void)state;
	expect(POLICY(LIMITS), "assets/big.psd", 10, "0123456789", "file is 10 B, over the 0 B limit for '*.psd'");
	expect(POLICY(LIMITS), "assets/big.bin", 9u << 20, NULL, NULL);
	expect(POLICY(LIMITS), "assets/huge.bin", 11u << 20, NULL,
	       "file is 11.0 MiB, over the 10.0 MiB limit for 'assets/**'");
	expect(POLICY(LIMITS), "logo.png", 2000, NULL, "file is 2.0 KiB, over the 100 B limit for '*.png'");
	expect(POLICY(LIMITS), "vendor/lib.a", 1ull << 40, NULL, NULL);
	expect(POLICY(LIMITS), "other.bin", 2u << 20, NULL, "file is 2.0 MiB, over the 1.0 MiB limit");
}

static void test_max_file_size__lfs_pointers_pass_unless_lfs_is_off(void **state)
{
	(void)state;
	expect(POLICY(LIMITS), "art/cover.psd", strlen(POINTER), POINTER, NULL);
	expect(POLICY(LIMITS "lfs = false;"), "art/cover.psd", strlen(POINTER), POINTER,
	       "file is 130 B, over the 0 B limit for '*.psd'");
	expect(POLICY(LIMITS), "art/cover.psd", 18, "8BPS not a pointer", "file is 18 B, over the 0 B limit for '*.psd'");
}

static void test_max_file_size__policy_errors_name_the_entry(void **state)
{
	char *e;

	(void)state;
	e = unit_policy_errors(POLICY("limit = \"5 parsecs\";"));
	assert_non_null(strstr(e, "limit"));
	free(e);
	e = unit_policy_errors(POLICY("limits = { a = 1; };"));
	assert_non_null(strstr(e, "must be a list of groups"));
	free(e);
	e = unit_policy_errors(POLICY("limits = ( { pattern = \"*.psd\"; } );"));
	assert_non_null(strstr(e, "needs a pattern and a limit"));
	free(e);
	e = unit_policy_errors(POLICY("limits = ( { pattern = \"[x\"; limit = \"1 MiB\"; } );"));
	assert_non_null(strstr(e, "pattern must be a glob"));
	free(e);
	e = unit_policy_errors(POLICY("limits = ( { pattern = \"*.x\"; limit = \"lots\"; } );"));
	assert_non_null(strstr(e, "test.conf:1:"));
	free(e);
	e = unit_policy_errors(POLICY("limits = ( { pattern = \"*.x\"; limit = 1; max = 2; } );"));
	assert_non_null(strstr(e, "unknown key 'max'"));
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lfs__a_pointer_file_is_recognised),
		cmocka_unit_test(test_lfs__anything_else_is_not_a_pointer),
		cmocka_unit_test(test_max_file_size__the_default_limit_is_100_mib),
		cmocka_unit_test(test_max_file_size__the_limit_is_inclusive),
		cmocka_unit_test(test_max_file_size__first_matching_pattern_wins),
		cmocka_unit_test(test_max_file_size__lfs_pointers_pass_unless_lfs_is_off),
		cmocka_unit_test(test_max_file_size__policy_errors_name_the_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Fuzz the path checks: the classification of src/paths.c and the change
 * hooks of the portable-paths and forbidden-paths checks, with a policy
 * that turns every class on.  Input: a tree path (raw bytes up to the
 * first NUL, as git stores them).  Invariants: each problem lies inside
 * the path, kinds come once each in the order of the enum, the classes
 * that are defined byte by byte (control characters, Windows characters,
 * invalid UTF-8, length) are found exactly when an independent reading
 * finds them, folding keeps the length, and every finding reads safely
 * once neutralised for the terminal.
 */
#include "fuzz.h"

#include "check.h"
#include "diag.h"
#include "paths.h"
#include "policy.h"
#include "report.h"
#include "scan.h"

#include "banned.h"

static const char policy_text[] =
	"checks = {\n"
	"  port = { type = \"portable-paths\"; max_path_length = 64; max_component_length = 16;\n"
	"           allow = [ \"legacy/**\" ]; };\n"
	"  forbid = { type = \"forbidden-paths\"; case_insensitive = true;\n"
	"             patterns = [ \"*.pem\", \"**/id_[rd]sa\", \".env\", \"node_modules/**\", \"secret?/*.k[!e]y\" ];\n"
	"             allow = [ \"tests/**\" ]; };\n"
	"};\n";

static struct gate_config *policy(void)
{
	static struct gate_config *cfg;

	return fuzz_policy(&cfg, policy_text);
}

static struct gate_commit *commit(void)
{
	static const char raw[] = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
				  "author A U Thor <author@example.com> 1700000000 +0000\n"
				  "committer C O Mitter <committer@example.com> 1700000000 +0000\n"
				  "\nAdd things\n";
	static struct gate_commit c;
	static int done;
	struct gate_buf err = GATE_BUF_INIT;

	if (!done && gate_commit_parse(&c, "0123456789abcdef0123456789abcdef01234567", raw, sizeof(raw) - 1, &err) < 0)
		abort();
	done = 1;
	return &c;
}

static void check_classification(const char *path, size_t len, const struct gate_path_limits *lim)
{
	struct gate_path_problem pr[GATE_PATH_MAX_PROBLEMS];
	size_t n = gate_path_problems(path, len, GATE_PATH_ALL_KINDS, lim, pr), i, k;
	unsigned seen = 0, want = 0;
	struct gate_buf folded = GATE_BUF_INIT;

	FUZZ_ASSERT(n <= GATE_PATH_MAX_PROBLEMS);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(pr[i].kind && !(pr[i].kind & (pr[i].kind - 1)));
		FUZZ_ASSERT(pr[i].kind > seen); /* once each, in enum order */
		seen |= pr[i].kind;
		FUZZ_ASSERT(pr[i].start <= len && pr[i].len <= len - pr[i].start);
		if (pr[i].kind & (GATE_PATH_BAD_CHAR | GATE_PATH_CONTROL | GATE_PATH_UTF8 | GATE_PATH_TRAILING))
			FUZZ_ASSERT(pr[i].at >= pr[i].start && pr[i].at < pr[i].start + pr[i].len);
		if (pr[i].kind == GATE_PATH_CONTROL)
			FUZZ_ASSERT(path[pr[i].at] >= 1 && path[pr[i].at] <= 31);
		if (pr[i].kind == GATE_PATH_BAD_CHAR)
			FUZZ_ASSERT(strchr("<>:\"|?*\\", path[pr[i].at]));
		if (pr[i].kind == GATE_PATH_TRAILING)
			FUZZ_ASSERT(path[pr[i].at] == '.' || path[pr[i].at] == ' ');
	}
	/* an independent reading of the classes defined byte by byte */
	for (k = 0; k < len;) {
		size_t q;
		unsigned char c = (unsigned char)path[k];
		long cp = fuzz_utf8((const unsigned char *)path + k, len - k, &q);

		if (c >= 1 && c <= 31)
			want |= GATE_PATH_CONTROL;
		if (c && strchr("<>:\"|?*\\", c))
			want |= GATE_PATH_BAD_CHAR;
		FUZZ_ASSERT(gate_utf8_seq((const unsigned char *)path + k, len - k) == (cp < 0 ? 0 : q));
		if (cp < 0) {
			want |= GATE_PATH_UTF8;
			q = 1;
		}
		k += q;
	}
	if (lim->max_path && len > lim->max_path)
		want |= GATE_PATH_LONG;
	FUZZ_ASSERT((seen & (GATE_PATH_CONTROL | GATE_PATH_BAD_CHAR | GATE_PATH_UTF8 | GATE_PATH_LONG)) == want);
	gate_path_fold(&folded, path, len);
	FUZZ_ASSERT(folded.len == len);
	gate_buf_release(&folded);
}

static void run_checks(const char *path)
{
	struct gate_config *cfg = policy();
	static const enum gate_change_kind kinds[] = { GATE_CHANGE_ADD, GATE_CHANGE_MODIFY };
	struct gate_buf err = GATE_BUF_INIT;
	size_t c, k, i;

	for (c = 0; c < cfg->nchecks; c++) {
		struct gate_check_run run;

		fuzz_check_run_init(&run, &cfg->checks[c], &err);
		for (k = 0; k < GATE_ARRAY_SIZE(kinds); k++) {
			struct gate_findings out = GATE_FINDINGS_INIT;
			struct gate_change ch;

			memset(&ch, 0, sizeof(ch));
			ch.kind = kinds[k];
			ch.path = path;
			ch.old_mode = kinds[k] == GATE_CHANGE_ADD ? 0 : 0100644;
			ch.new_mode = 0100644;
			ch.old_id = GATE_ZERO_OID;
			ch.new_id = "89abcdef0123456789abcdef0123456789abcdef";
			FUZZ_ASSERT(cfg->checks[c].type->change(&run, commit(), &ch, &out) == 0);
			for (i = 0; i < out.nr; i++)
				FUZZ_ASSERT(out.v[i].path && !strcmp(out.v[i].path, path));
			fuzz_assert_findings_safe(&out);
			gate_findings_release(&out);
		}
	}
	gate_buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct gate_path_limits limits[] = { { 4096, 255 }, { 12, 4 }, { 0, 0 } };
	struct fuzz_fields f;
	const char *path;
	size_t len, i;

	fuzz_fields_init(&f, data, size);
	path = fuzz_field(&f);
	len = f.last_len;
	for (i = 0; i < GATE_ARRAY_SIZE(limits); i++)
		check_classification(path, len, &limits[i]);
	for (i = 0; i < len; i++) {
		/* each component alone, as the checks ask */
		const char *slash = memchr(path + i, '/', len - i);
		size_t n = slash ? (size_t)(slash - path) - i : len - i;
		(void)gate_path_is_dotgit(path + i, n);
		(void)gate_path_is_win_reserved(path + i, n);
		i += n;
	}
	run_checks(path);
	fuzz_fields_release(&f);
	return 0;
}

/*
 * Fuzz the commit-object parser (gate_commit_parse in src/scan.c) and the
 * checks that read a parsed commit (commit-message, identity).  Input: a
 * raw commit object as `git cat-file commit` prints it, any bytes.
 * Invariants: a parsed commit has a 40-hex tree and parents, its raw copy
 * and message are exactly the input and its tail, the subject is the
 * first line of the message, names and emails hold no line break,
 * no '<' in a name, no '>' in an email); and every finding the checks make reads safely once
 * neutralised for the terminal.
 */
#include "fuzz.h"

#include "check.h"
#include "diag.h"
#include "policy.h"
#include "report.h"
#include "scan.h"

#include "banned.h"

static const char policy_text[] =
	"checks = {\n"
	"  msg = { type = \"commit-message\"; subject_max = 50; subject_min = 3; body_max = 72;\n"
	"          forbid = \"^(WIP|fixup!)\"; require_trailers = [ \"Signed-off-by: .+@.+\" ]; };\n"
	"  who = { type = \"identity\"; author_email = \"@example\\\\.com$\"; committer_name = \".\";\n"
	"          max_future = \"1 day\"; };\n"
	"};\n";

static struct gate_config *policy(void)
{
	static struct gate_config *cfg;

	return fuzz_policy(&cfg, policy_text);
}

static int is_hex40(const char *s)
{
	size_t i;

	for (i = 0; i < 40; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[40] == '\0';
}

static void check_ident(const struct gate_ident *id)
{
	FUZZ_ASSERT(id->name && id->email);
	FUZZ_ASSERT(!strchr(id->name, '\n') && !strchr(id->email, '\n'));
	FUZZ_ASSERT(!strchr(id->email, '>'));
	FUZZ_ASSERT(!strchr(id->name, '<'));
}

static void run_checks(const struct gate_commit *c)
{
	struct gate_config *cfg = policy();
	struct gate_buf err = GATE_BUF_INIT;
	size_t k;

	for (k = 0; k < cfg->nchecks; k++) {
		struct gate_findings out = GATE_FINDINGS_INIT;
		struct gate_check_run run;

		fuzz_check_run_init(&run, &cfg->checks[k], &err);
		gate_buf_reset(&err);
		if (cfg->checks[k].type->commit(&run, c, &out) < 0)
			FUZZ_ASSERT(err.len > 0);
		fuzz_assert_findings_safe(&out);
		gate_findings_release(&out);
	}
	gate_buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gate_commit c;
	struct gate_buf err = GATE_BUF_INIT;
	const char *raw = (const char *)data;
	size_t i;

	if (gate_commit_parse(&c, "0123456789abcdef0123456789abcdef01234567", raw, size, &err) == 0) {
		FUZZ_ASSERT(is_hex40(c.tree));
		for (i = 0; i < c.nparents; i++)
			FUZZ_ASSERT(is_hex40(c.parents[i]));
		FUZZ_ASSERT(c.raw_len == size && !memcmp(c.raw, raw, size));
		FUZZ_ASSERT(c.message >= c.raw && c.message + c.message_len == c.raw + c.raw_len);
		FUZZ_ASSERT(c.subject && !strchr(c.subject, '\n'));
		FUZZ_ASSERT(!strncmp(c.subject, c.message, strlen(c.subject)));
		check_ident(&c.author);
		check_ident(&c.committer);
		run_checks(&c);
	} else {
		FUZZ_ASSERT(err.len > 0);
	}
	gate_commit_release(&c);
	gate_buf_release(&err);
	return 0;
}

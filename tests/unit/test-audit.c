/* The audit log: JSON escaping, the record, and safe appends. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "check.h"
#include "gate.h"

static char *json(const char *s, size_t len)
{
	struct gate_buf b = GATE_BUF_INIT;

	gate_json_add_string(&b, s, len);
	return gate_buf_detach(&b);
}

/* Length of a valid UTF-8 sequence at p (0: invalid). */
static size_t utf8_ok(const unsigned char *p, size_t len)
{
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
	if (!n || n > len || p[0] > 0xf4)
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * Whether s is one JSON string literal (RFC 8259) made of printable
 * characters only: no raw control bytes, valid escapes, valid UTF-8.
 */
static int valid_json_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 1, n;

	if (len < 2 || p[0] != '"' || p[len - 1] != '"')
		return 0;
	while (i < len - 1) {
		if (p[i] == '\\') {
			if (strchr("\"\\/bfnrt", p[i + 1]) && p[i + 1]) {
				i += 2;
				continue;
			}
			if (p[i + 1] != 'u' || i + 6 > len - 1)
				return 0;
			for (n = 2; n < 6; n++)
				if (!strchr("0123456789abcdefABCDEF", p[i + n]))
					return 0;
			i += 6;
			continue;
		}
		if (p[i] == '"' || p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		n = utf8_ok(p + i, len - 1 - i);
		if (!n)
			return 0;
		i += n;
	}
	return i == len - 1;
}

static void test_audit__json_escapes_quotes_backslashes_and_controls(void **state)
{
	static const char in[] = "a\"b\\c\nd\te\rf\x01g\x1b[31mh\x7f";
	char *out = json(in, sizeof(in) - 1);

	(void)state;
	assert_string_equal(out, "\"a\\\"b\\\\c\\nd\\te\\rf\\u0001g\\u001b[31mh\\u007f\"");
	assert_true(valid_json_string(out));
	free(out);
}

static void test_audit__json_keeps_valid_utf8_and_escapes_dangerous_code_points(void **state)
{
	/* é, 日本, an emoji; then C1 CSI, LINE SEPARATOR, RIGHT-TO-LEFT OVERRIDE */
	static const char in[] = "\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80|\xc2\x9b|\xe2\x80\xa8|\xe2\x80\xae";
	char *out = json(in, sizeof(in) - 1);

	(void)state;
	assert_string_equal(out, "\"\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80|\\u009b|\\u2028|\\u202e\"");
	assert_true(valid_json_string(out));
	free(out);
}

static void test_audit__json_escapes_marks_and_isolates_too(void **state)
{
	/* LRM, RLM, ARABIC LETTER MARK, LRI, PDI, PARAGRAPH SEPARATOR */
	static const char in[] = "\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c\xe2\x81\xa6\xe2\x81\xa9\xe2\x80\xa9";
	char *out = json(in, sizeof(in) - 1);

	(void)state;
	assert_string_equal(out, "\"\\u200e\\u200f\\u061c\\u2066\\u2069\\u2029\"");
	assert_true(valid_json_string(out));
	free(out);
}

static void test_audit__a_lost_record_is_one_neutralised_syslog_line(void **state)
{
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_audit_event e = GATE_AUDIT_EVENT_INIT;
	struct gate_buf out = GATE_BUF_INIT;

	(void)state;
	push.user = gate_xstrdup("eve\ngit-gate[1]: audit record lost: forged\xe2\x80\xae");
	e.push = &push;
	e.git_dir = "/srv/git/a.git";
	gate_audit_lost_message(&out, &e, "cannot open the audit log 'x': Permission denied");
	assert_string_equal(out.ptr, "audit record lost: cannot open the audit log 'x': Permission denied (repository "
				     "/srv/git/a.git, user eve\\ngit-gate[1]: audit record lost: forged\\xe2\\x80\\xae)");
	assert_null(strchr(out.ptr, '\n'));
	gate_buf_release(&out);
	gate_push_release(&push);
}

static void test_audit__json_replaces_each_invalid_utf8_byte(void **state)
{
	/* lone continuation, 0xff, truncated sequence, overlong '/', surrogate, past U+10FFFF */
	static const char in[] = "\x80|\xff|\xe2\x82|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80";
	char *out = json(in, sizeof(in) - 1);

	(void)state;
	assert_string_equal(out, "\"\\ufffd|\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
				 "\\ufffd\\ufffd\\ufffd\\ufffd\"");
	assert_true(valid_json_string(out));
	free(out);
}

static void test_audit__json_handles_nul_bytes_and_null(void **state)
{
	char *out = json("a\0b", 3);
	struct gate_buf b = GATE_BUF_INIT;

	(void)state;
	assert_string_equal(out, "\"a\\u0000b\"");
	free(out);
	gate_json_add_strings(&b, NULL);
	assert_string_equal(b.ptr, "null");
	gate_buf_release(&b);
}

static void test_audit__json_of_random_bytes_is_always_valid(void **state)
{
	unsigned seed = 12345;
	char buf[64];
	int round;
	size_t i;

	(void)state;
	for (round = 0; round < 5000; round++) {
		char *out;
		size_t len = (size_t)(round % (int)sizeof(buf));
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (char)(seed >> 16);
		}
		out = json(buf, len);
		if (!valid_json_string(out))
			fail_msg("invalid JSON for round %d: %s", round, out);
		free(out);
	}
}

static const char policy[] = "rules = ( { refs = [ \"refs/heads/main\" ]; checks = [ \"msg\" ]; } );\n"
			     "checks = { msg = { type = \"commit-message\"; }; };\n";

static void test_audit__record_is_one_line_with_every_field(void **state)
{
	struct gate_config *cfg = unit_policy(policy);
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_verdict v;
	struct gate_scan_job job, *jobp = &job;
	struct gate_audit_event e = GATE_AUDIT_EVENT_INIT;
	struct gate_buf out = GATE_BUF_INIT, err = GATE_BUF_INIT;
	char *nl;

	(void)state;
	assert_int_equal(gate_push_add(&push, "refs/heads/main", "1111111111111111111111111111111111111111",
				       "2222222222222222222222222222222222222222", &err),
			 0);
	push.user = gate_xstrdup("al\"ice\n");
	push.user_source = gate_xstrdup("GIT_GATE_USER");
	gate_strvec_push(&push.options, "gate.bypass=prod is down\x1b[2J");
	memset(&v, 0, sizeof(v));
	memset(&job, 0, sizeof(job));
	v.refs = gate_xcalloc(1, sizeof(*v.refs));
	v.nr = 1;
	v.outcome = GATE_OUTCOME_REJECT;
	v.refs[0].update = &push.updates[0];
	v.refs[0].rule = &cfg->rules[0];
	v.refs[0].outcome = GATE_OUTCOME_REJECT;
	v.refs[0].refusal = gate_xstrdup("'alice' may not bypass");
	v.refs[0].jobs = &jobp;
	v.refs[0].njobs = 1;
	job.def = &cfg->checks[0];
	job.ran = 1;
	job.seconds = 0.25;
	gate_findings_add(&job.findings, NULL, NULL, 0, NULL, "bad subject");
	gate_findings_add(&job.findings, NULL, NULL, 0, NULL, "bad body");

	e.cfg = cfg;
	e.git_dir = "/srv/git/r.git";
	e.push = &push;
	e.v = &v;
	e.hook = "pre-receive";
	e.exit_code = 1;
	e.when.tv_sec = 1700000000;
	e.when.tv_nsec = 123456789;
	gate_audit_format(&out, &e);

	nl = strchr(out.ptr, '\n');
	assert_non_null(nl);
	assert_int_equal(nl - out.ptr, (long)out.len - 1);
	assert_non_null(strstr(out.ptr, "{\"time\":\"2023-11-14T22:13:20.123Z\",\"version\":\"" PACKAGE_VERSION "\""));
	assert_non_null(strstr(out.ptr, "\"repository\":\"/srv/git/r.git\""));
	assert_non_null(strstr(out.ptr, "\"user\":\"al\\\"ice\\n\",\"user_source\":\"GIT_GATE_USER\""));
	assert_non_null(strstr(out.ptr, "\"hook\":\"pre-receive\""));
	assert_non_null(strstr(out.ptr, "\"dry_run\":false"));
	assert_non_null(strstr(out.ptr, "\"bypass\":{\"reason\":\"prod is down\\u001b[2J\",\"granted\":false}"));
	assert_non_null(strstr(out.ptr, "\"verdict\":\"reject\",\"accepted\":false,\"exit_code\":1,\"decision\":\"rejected\""));
	assert_non_null(strstr(out.ptr, "\"version\":\"" PACKAGE_VERSION "\",\"event\":\"decision\","));
	assert_non_null(strstr(out.ptr, "\"ref\":\"refs/heads/main\",\"old\":\"1111111111111111111111111111111111111111\","
					"\"new\":\"2222222222222222222222222222222222222222\",\"kind\":\"update\""));
	assert_non_null(strstr(out.ptr, "\"rule\":\"test.conf:1\",\"mode\":\"enforce\",\"verdict\":\"reject\""));
	assert_non_null(strstr(out.ptr, "\"refusal\":\"'alice' may not bypass\""));
	assert_non_null(strstr(out.ptr, "\"checks\":[{\"name\":\"msg\",\"type\":\"commit-message\",\"result\":\"fail\","
					"\"seconds\":0.250,\"findings\":2}]"));

	gate_findings_release(&job.findings);
	free(v.refs[0].refusal);
	free(v.refs);
	gate_push_release(&push);
	gate_config_free(cfg);
	gate_buf_release(&out);
	gate_buf_release(&err);
}

static void test_audit__updated_record_lists_the_refs_that_moved_and_no_verdict(void **state)
{
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_audit_event e = GATE_AUDIT_EVENT_INIT;
	struct gate_buf out = GATE_BUF_INIT, err = GATE_BUF_INIT;

	(void)state;
	assert_int_equal(gate_push_add(&push, "refs/heads/main", "1111111111111111111111111111111111111111",
				       "2222222222222222222222222222222222222222", &err),
			 0);
	assert_int_equal(gate_push_add(&push, "refs/heads/\xe2\x80\xaex", "3333333333333333333333333333333333333333",
				       "0000000000000000000000000000000000000000", &err),
			 0);
	push.user = gate_xstrdup("bob");
	push.user_source = gate_xstrdup("GIT_GATE_USER");
	e.kind = GATE_AUDIT_UPDATED;
	e.git_dir = "/srv/git/r.git";
	e.push = &push;
	e.hook = "post-receive";
	e.when.tv_sec = 1700000000;
	gate_audit_format(&out, &e);

	assert_non_null(strchr(out.ptr, '\n'));
	assert_int_equal(strchr(out.ptr, '\n') - out.ptr, (long)out.len - 1);
	assert_non_null(strstr(out.ptr, "\"version\":\"" PACKAGE_VERSION "\",\"event\":\"updated\","));
	assert_non_null(strstr(out.ptr, "\"user\":\"bob\",\"user_source\":\"GIT_GATE_USER\""));
	assert_non_null(strstr(out.ptr, "\"hook\":\"post-receive\""));
	assert_non_null(strstr(out.ptr, "\"refs\":[{\"ref\":\"refs/heads/main\",\"old\":\"1111111111111111111111111111111111111111\","
					"\"new\":\"2222222222222222222222222222222222222222\",\"kind\":\"update\"},"
					"{\"ref\":\"refs/heads/\\u202ex\","));
	assert_non_null(strstr(out.ptr, "\"kind\":\"delete\"}]}"));
	assert_null(strstr(out.ptr, "\"verdict\""));
	assert_null(strstr(out.ptr, "\"accepted\""));

	gate_push_release(&push);
	gate_buf_release(&out);
	gate_buf_release(&err);
}

static void test_audit__check_results_are_named(void **state)
{
	struct gate_config *cfg = unit_policy(policy);
	struct gate_push push = GATE_PUSH_INIT;
	struct gate_verdict v;
	struct gate_scan_job jobs[4], *jp[4];
	struct gate_audit_event e = GATE_AUDIT_EVENT_INIT;
	struct gate_buf out = GATE_BUF_INIT, err = GATE_BUF_INIT;
	size_t i;

	(void)state;
	assert_int_equal(gate_push_add(&push, "refs/heads/main", GATE_ZERO_OID,
				       "2222222222222222222222222222222222222222", &err),
			 0);
	memset(&v, 0, sizeof(v));
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < 4; i++) {
		jobs[i].def = &cfg->checks[0];
		jp[i] = &jobs[i];
	}
	jobs[0].ran = 1;
	jobs[1].error = gate_xstrdup("cannot run");
	jobs[2].note = gate_xstrdup("verdict from the cache");
	jobs[3].note = gate_xstrdup("not started: the push is already rejected");
	v.refs = gate_xcalloc(1, sizeof(*v.refs));
	v.nr = 1;
	v.dry_run = 1;
	v.refs[0].update = &push.updates[0];
	v.refs[0].jobs = jp;
	v.refs[0].njobs = 4;
	e.push = &push;
	e.v = &v;
	e.hook = "pre-receive";
	gate_audit_format(&out, &e);
	assert_non_null(strstr(out.ptr, "\"result\":\"pass\""));
	assert_non_null(strstr(out.ptr, "\"result\":\"error\",\"seconds\":0.000,\"findings\":0,\"error\":\"cannot run\""));
	assert_non_null(strstr(out.ptr, "\"result\":\"cached\""));
	assert_non_null(strstr(out.ptr, "\"result\":\"skipped\""));
	assert_non_null(strstr(out.ptr, "\"dry_run\":true"));
	assert_non_null(strstr(out.ptr, "\"kind\":\"create\",\"rule\":null"));
	assert_non_null(strstr(out.ptr, "\"policy\":null"));
	assert_non_null(strstr(out.ptr, "\"bypass\":null"));
	for (i = 0; i < 4; i++) {
		free(jobs[i].error);
		free(jobs[i].note);
	}
	free(v.refs);
	gate_push_release(&push);
	gate_config_free(cfg);
	gate_buf_release(&out);
	gate_buf_release(&err);
}

static void test_audit__path_defaults_into_the_repository_and_can_be_off(void **state)
{
	struct gate_config *cfg = unit_policy("rules = ( );\n");
	char *p;

	(void)state;
	p = gate_audit_path(cfg, "/srv/r.git");
	assert_string_equal(p, "/srv/r.git/git-gate/audit.log");
	free(p);
	assert_null(gate_audit_path(cfg, NULL));
	p = gate_audit_path(NULL, "/srv/r.git");
	assert_string_equal(p, "/srv/r.git/git-gate/audit.log");
	free(p);
	cfg->audit_log = gate_xstrdup("logs/gate.json");
	p = gate_audit_path(cfg, "/srv/r.git");
	assert_string_equal(p, "/srv/r.git/logs/gate.json");
	free(p);
	free(cfg->audit_log);
	cfg->audit_log = gate_xstrdup("/var/log/git-gate/audit.log");
	p = gate_audit_path(cfg, NULL);
	assert_string_equal(p, "/var/log/git-gate/audit.log");
	free(p);
	free(cfg->audit_log);
	cfg->audit_log = gate_xstrdup("off");
	assert_null(gate_audit_path(cfg, "/srv/r.git"));
	gate_config_free(cfg);
}

static char *tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *d = gate_xstrfmt("%s/test-audit.XXXXXX", t && *t ? t : "/tmp");

	assert_non_null(mkdtemp(d));
	return d;
}

static size_t count_lines(const char *path, size_t *bad, size_t want_len)
{
	struct gate_buf b = GATE_BUF_INIT, err = GATE_BUF_INIT;
	size_t n = 0;
	char *p, *nl;

	*bad = 0;
	assert_int_equal(gate_read_file(&b, path, &err), 0);
	for (p = b.ptr; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl) {
			(*bad)++;
			break;
		}
		if (want_len && (size_t)(nl - p) + 1 != want_len)
			(*bad)++;
		n++;
	}
	gate_buf_release(&b);
	gate_buf_release(&err);
	return n;
}

static void test_audit__append_creates_the_directory_and_adds_lines(void **state)
{
	char *d = tmpdir(), *path = gate_xstrfmt("%s/git-gate/audit.log", d), *cmd;
	struct gate_buf err = GATE_BUF_INIT;
	struct stat st;
	size_t bad;

	(void)state;
	assert_int_equal(gate_audit_append(path, 0, "{\"a\":1}\n", 8, &err), 0);
	assert_int_equal(gate_audit_append(path, 0, "{\"a\":2}\n", 8, &err), 0);
	assert_int_equal(count_lines(path, &bad, 8), 2);
	assert_int_equal(bad, 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0007, 0); /* not readable by everyone */
	/* a directory where the file should be: a clear error */
	free(path);
	path = gate_xstrfmt("%s/git-gate", d);
	assert_int_equal(gate_audit_append(path, 0, "x\n", 2, &err), -1);
	assert_non_null(strstr(err.ptr, "cannot open the audit log"));
	assert_non_null(strstr(err.ptr, "git-gate"));
	assert_int_equal(unlink(cmd = gate_xstrfmt("%s/git-gate/audit.log", d)), 0);
	free(cmd);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(d), 0);
	free(path);
	free(d);
	gate_buf_release(&err);
}

static void test_audit__concurrent_appends_never_interleave(void **state)
{
	enum { WRITERS = 20, RECORDS = 25, LEN = 9000 }; /* lines well over PIPE_BUF */
	char *d = tmpdir(), *path = gate_xstrfmt("%s/audit.log", d);
	pid_t pids[WRITERS];
	int i, status;
	size_t bad;

	(void)state;
	for (i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char *line = gate_xmalloc(LEN);
			struct gate_buf err = GATE_BUF_INIT;
			int r;
			memset(line, 'a' + i, LEN - 1);
			line[LEN - 1] = '\n';
			for (r = 0; r < RECORDS; r++)
				if (gate_audit_append(path, 0, line, LEN, &err) < 0)
					_exit(1);
			_exit(0);
		}
	}
	for (i = 0; i < WRITERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(count_lines(path, &bad, LEN), WRITERS * RECORDS);
	assert_int_equal(bad, 0);
	{
		/* and each line is one writer's, whole */
		struct gate_buf b = GATE_BUF_INIT, err = GATE_BUF_INIT;
		size_t off;
		assert_int_equal(gate_read_file(&b, path, &err), 0);
		for (off = 0; off < b.len; off += LEN) {
			size_t k;
			for (k = 1; k < LEN - 1; k++)
				if (b.ptr[off + k] != b.ptr[off])
					fail_msg("line at offset %zu mixes writers", off);
		}
		gate_buf_release(&b);
		gate_buf_release(&err);
	}
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(d), 0);
	free(path);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit__json_escapes_quotes_backslashes_and_controls),
		cmocka_unit_test(test_audit__json_keeps_valid_utf8_and_escapes_dangerous_code_points),
		cmocka_unit_test(test_audit__json_escapes_marks_and_isolates_too),
		cmocka_unit_test(test_audit__a_lost_record_is_one_neutralised_syslog_line),
		cmocka_unit_test(test_audit__json_replaces_each_invalid_utf8_byte),
		cmocka_unit_test(test_audit__json_handles_nul_bytes_and_null),
		cmocka_unit_test(test_audit__json_of_random_bytes_is_always_valid),
		cmocka_unit_test(test_audit__record_is_one_line_with_every_field),
		cmocka_unit_test(test_audit__updated_record_lists_the_refs_that_moved_and_no_verdict),
		cmocka_unit_test(test_audit__check_results_are_named),
		cmocka_unit_test(test_audit__path_defaults_into_the_repository_and_can_be_off),
		cmocka_unit_test(test_audit__append_creates_the_directory_and_adds_lines),
		cmocka_unit_test(test_audit__concurrent_appends_never_interleave),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The status summary, its JSON reader, and the site's escaping. */
#include "unit.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "status.h"
#include "summary.h"

/* An audit record at `t` (seconds since the epoch) in the log's format. */
static char *record(time_t t, const char *hook, const char *verdict, int accepted, const char *bypass,
		    const char *ref, const char *checks_json, double seconds, const char *subject)
{
	struct tm tm;
	char when[32];

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	return gate_xstrfmt("{\"time\":\"%s\",\"user\":\"alice\",\"hook\":\"%s\",\"dry_run\":false,\"bypass\":%s,"
			    "\"verdict\":\"%s\",\"accepted\":%s,\"exit_code\":%d,\"seconds\":%.3f,\"refs\":[{\"ref\":\"%s\","
			    "\"old\":\"%040d\",\"new\":\"%040d\",\"tree\":\"%040d\",\"subject\":\"%s\",\"verdict\":\"%s\","
			    "\"protection\":[],\"checks\":%s}]}",
			    when, hook, bypass ? bypass : "null", verdict, accepted ? "true" : "false", accepted ? 0 : 1,
			    seconds, ref, 1, 2, 3, subject, verdict, checks_json);
}

static void add(struct gate_summary *s, char *line)
{
	gate_summary_add_record(s, line, strlen(line));
	free(line);
}

#define PASS_CHECKS "[{\"name\":\"msg\",\"type\":\"commit-message\",\"result\":\"pass\"},{\"name\":\"tests\",\"type\":\"command\",\"result\":\"pass\"}]"
#define FAIL_TESTS "[{\"name\":\"msg\",\"type\":\"commit-message\",\"result\":\"pass\"},{\"name\":\"tests\",\"type\":\"command\",\"result\":\"fail\"}]"
#define FAIL_MSG "[{\"name\":\"msg\",\"type\":\"commit-message\",\"result\":\"fail\"}]"

static void test_json__reads_nested_documents_and_escapes(void **state)
{
	struct gate_json j = GATE_JSON_INIT;
	const char *doc = "{\"a\":[1,2.5,{\"b\":\"x\\u00e9\\ud83d\\ude00\\n\"}],\"t\":true,\"n\":null,\"z\":\"\\u0000\"}";
	const struct gate_json_node *a, *e;

	(void)state;
	assert_int_equal(gate_json_parse(&j, doc, strlen(doc)), 0);
	a = gate_json_get(&j, 0, "a");
	assert_non_null(a);
	e = gate_json_first(&j, a);
	assert_true(e->num == 1);
	e = gate_json_next(&j, gate_json_next(&j, e));
	assert_string_equal(gate_json_get_str(&j, e, "b"), "x\xc3\xa9\xf0\x9f\x98\x80\n");
	assert_true(gate_json_get_bool(&j, &j.nodes[0], "t"));
	assert_string_equal(gate_json_get_str(&j, &j.nodes[0], "z"), "\xef\xbf\xbd");
	assert_null(gate_json_get_str(&j, &j.nodes[0], "n"));
	gate_json_release(&j);
}

static void test_json__refuses_malformed_documents(void **state)
{
	static const char *const bad[] = { "", "{", "{\"a\":}", "[1,]", "{\"a\":1}x", "\"\x01\"", "[1 2]", "{a:1}",
					   "\"\\x\"", "tru" };
	struct gate_json j = GATE_JSON_INIT;
	size_t i;
	char deep[200];

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(bad); i++)
		assert_int_equal(gate_json_parse(&j, bad[i], strlen(bad[i])), -1);
	memset(deep, '[', sizeof(deep));
	assert_int_equal(gate_json_parse(&j, deep, sizeof(deep)), -1);
	gate_json_release(&j);
}

static void test_summary__counts_decisions_by_class_and_check(void **state)
{
	struct gate_summary s = GATE_SUMMARY_INIT;
	struct gate_summary_window w;
	time_t now = time(NULL);

	(void)state;
	add(&s, record(now, "pre-receive", "accept", 1, NULL, "refs/heads/main", PASS_CHECKS, 0.010, "One"));
	add(&s, record(now, "pre-receive", "reject", 0, NULL, "refs/heads/main", FAIL_MSG, 0.020, "WIP"));
	add(&s, record(now, "pre-receive", "reject", 0, NULL, "refs/heads/main", FAIL_TESTS, 30, "Two"));
	add(&s, record(now, "pre-receive", "accept", 1, "{\"reason\":\"hotfix\",\"granted\":true}", "refs/heads/main",
		       "[]", 0.001, "Three"));
	/* not decisions: another hook's record, a line that is not JSON */
	add(&s, record(now, "post-receive", "accept", 1, NULL, "refs/heads/main", "[]", 0.001, "Moved"));
	{
		char *r = record(now, "pre-receive", "accept", 1, NULL, "refs/heads/main", "[]", 0.001, "Moved");
		char *u = gate_xstrfmt("{\"event\":\"updated\",%s", r + 1);
		assert_int_equal(gate_summary_add_record(&s, u, strlen(u)), 0);
		free(u);
		free(r);
	}
	assert_int_equal(gate_summary_add_record(&s, "not json\n", 9), 0);
	/* 40 days ago: in no window */
	add(&s, record(now - 40 * 86400, "pre-receive", "reject", 0, NULL, "refs/heads/old", FAIL_MSG, 1, "Old"));

	gate_summary_window(&s, gate_summary_today(), 7, &w);
	assert_int_equal(w.decisions, 4);
	assert_int_equal(w.n[GATE_SUMMARY_ACCEPTED], 1);
	assert_int_equal(w.n[GATE_SUMMARY_REJECTED], 2);
	assert_int_equal(w.n[GATE_SUMMARY_BYPASSED], 1);
	assert_true(w.rejection_rate > 0.49 && w.rejection_rate < 0.51);
	assert_int_equal(w.rejections.nr, 2);
	assert_true(w.p95 >= 30 && w.p95 < 33);
	gate_summary_window_release(&w);

	assert_int_equal(s.total[GATE_SUMMARY_REJECTED], 3);
	assert_int_equal(s.nrecent, 5);
	assert_string_equal(s.recent[s.nrecent - 1].reasons, "msg");
	assert_string_equal(s.recent[s.nrecent - 2].reasons, "bypass: hotfix");
	assert_string_equal(gate_summary_ref_get(&s, "refs/heads/main")->last.subject, "Three");
	gate_summary_release(&s);
}

static void test_summary__a_tree_that_failed_and_passed_is_flaky(void **state)
{
	struct gate_summary s = GATE_SUMMARY_INIT;
	time_t now = time(NULL);

	(void)state;
	add(&s, record(now, "pre-receive", "reject", 0, NULL, "refs/heads/main", FAIL_TESTS, 1, "A"));
	assert_int_equal(s.nflaky, 0);
	add(&s, record(now, "pre-receive", "accept", 1, NULL, "refs/heads/main", PASS_CHECKS, 1, "A again"));
	assert_int_equal(s.nflaky, 1);
	assert_string_equal(s.flaky[0].check, "tests");
	/* the commit-message check is not a command: never flaky */
	add(&s, record(now, "pre-receive", "reject", 0, NULL, "refs/heads/main", FAIL_MSG, 1, "B"));
	assert_int_equal(s.nflaky, 1);
	gate_summary_release(&s);
}

static void test_summary__percentiles_are_within_ten_percent(void **state)
{
	uint32_t hist[GATE_SUMMARY_BUCKETS];
	struct gate_summary s = GATE_SUMMARY_INIT;
	time_t now = time(NULL);
	int i;

	(void)state;
	memset(hist, 0, sizeof(hist));
	assert_true(gate_summary_percentile(hist, 0.5) < 0);
	for (i = 1; i <= 100; i++)
		add(&s, record(now, "update", "accept", 1, NULL, "refs/heads/x", "[]", i * 0.1, "x"));
	{
		struct gate_summary_window w;
		gate_summary_window(&s, gate_summary_today(), 1, &w);
		assert_true(w.p50 >= 5.0 && w.p50 <= 5.5);
		assert_true(w.p95 >= 9.5 && w.p95 <= 10.45);
		gate_summary_window_release(&w);
	}
	gate_summary_release(&s);
}

static void test_summary__survives_a_save_and_load(void **state)
{
	struct gate_summary s = GATE_SUMMARY_INIT, t = GATE_SUMMARY_INIT;
	struct gate_summary_window a, b;
	struct gate_buf err = GATE_BUF_INIT;
	char path[] = "/tmp/test-status-XXXXXX";
	time_t now = time(NULL);
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	add(&s, record(now, "pre-receive", "reject", 0, NULL, "refs/heads/main", FAIL_TESTS, 2, "A \\\"quoted\\\""));
	add(&s, record(now, "pre-receive", "accept", 1, NULL, "refs/heads/main", PASS_CHECKS, 3, "A"));
	s.log_path = gate_xstrdup("/x/audit.log");
	s.log_offset = 1234;
	assert_int_equal(gate_summary_save(&s, path, 0, &err), 0);
	assert_int_equal(gate_summary_load(&t, path, &err), 0);
	assert_int_equal(t.log_offset, 1234);
	assert_string_equal(t.recent[0].subject, "A \"quoted\"");
	assert_int_equal(t.nflaky, 1);
	gate_summary_window(&s, gate_summary_today(), 30, &a);
	gate_summary_window(&t, gate_summary_today(), 30, &b);
	assert_int_equal(a.decisions, b.decisions);
	assert_true(a.p50 == b.p50);
	assert_string_equal(a.rejections.v[0].name, b.rejections.v[0].name);
	gate_summary_window_release(&a);
	gate_summary_window_release(&b);
	/* the trees it knows are kept too: one more pass of the same tree is not a new flaky entry */
	add(&t, record(now, "pre-receive", "accept", 1, NULL, "refs/heads/main", PASS_CHECKS, 3, "A"));
	assert_int_equal(t.nflaky, 1);
	unlink(path);
	gate_summary_release(&s);
	gate_summary_release(&t);
	gate_buf_release(&err);
}

static void test_site__escapes_pushed_text_everywhere(void **state)
{
	struct gate_status st;
	struct gate_buf out = GATE_BUF_INIT;
	time_t now = time(NULL);

	(void)state;
	memset(&st, 0, sizeof(st));
	add(&st.sum, record(now, "pre-receive", "reject", 0, NULL, "refs/heads/<b>x</b>", FAIL_MSG, 1,
			    "<script>alert(1)</script> \\u202e & \\u001b[31m"));
	st.name = gate_xstrdup("<i>repo</i>");
	st.default_branch = gate_xstrdup("refs/heads/main");
	st.has_log = 1;
	st.now = now;
	st.today = gate_summary_today();
	gate_summary_window(&st.sum, st.today, 7, &st.w7);
	gate_summary_window(&st.sum, st.today, 30, &st.w30);
	gate_status_html(&out, &st);
	assert_null(strstr(out.ptr, "<script"));
	assert_null(strstr(out.ptr, "<b>x"));
	assert_null(strstr(out.ptr, "<i>repo"));
	assert_null(strstr(out.ptr, "\033"));
	assert_null(strstr(out.ptr, "\xe2\x80\xae"));
	assert_non_null(strstr(out.ptr, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(out.ptr, "Content-Security-Policy"));
	gate_buf_reset(&out);
	gate_status_format_text(&out, &st, 0, 10);
	assert_null(strstr(out.ptr, "\033"));
	assert_non_null(strstr(out.ptr, "<script>alert(1)</script>"));
	gate_buf_reset(&out);
	gate_status_format_json(&out, &st, 10);
	assert_null(strstr(out.ptr, "\033"));
	assert_non_null(strstr(out.ptr, "\\u001b[31m"));
	gate_buf_reset(&out);
	gate_status_metrics(&out, &st);
	assert_non_null(strstr(out.ptr, "repository=\"<i>repo</i>\""));
	gate_buf_reset(&out);
	gate_status_badge_json(&out, &st);
	assert_string_equal(out.ptr, "{\"schemaVersion\":1,\"label\":\"gate\",\"message\":\"unknown\",\"color\":\"lightgrey\"}\n");
	gate_buf_release(&out);
	gate_status_release(&st);
}

/* A queue item as a damaged or hand-edited item file could hold it: nothing neutralised. */
static struct gate_queue_item *raw_item(long id, enum gate_queue_state state, const char *user, const char *subject)
{
	struct gate_queue_item *it = gate_xcalloc(1, sizeof(*it));

	it->id = id;
	it->branch = gate_xstrdup("refs/heads/main");
	it->ref = gate_xstrfmt("refs/gate-queue/main/%ld", id);
	memset(it->tip, 'a', 40);
	it->user = gate_xstrdup(user);
	it->subject = gate_xstrdup(subject);
	it->state = state;
	it->queued = (int64_t)time(NULL) - 90;
	if (gate_queue_state_final(state)) {
		it->decided = (int64_t)time(NULL);
		it->reason = gate_xstrdup("conflicts <with> main\xe2\x80\xa8x");
	}
	return it;
}

static void test_site__queue_items_are_escaped_in_every_view(void **state)
{
	struct gate_status st;
	struct gate_status_queue *q;
	struct gate_buf out = GATE_BUF_INIT;
	/* LRM, RLO, LINE SEPARATOR, C1 CSI, ESC, ALM: the terminal neutraliser's set */
	static const char *const raw[] = { "\xe2\x80\x8e", "\xe2\x80\xae", "\xe2\x80\xa8", "\xc2\x9b", "\033",
					   "\xd8\x9c" };
	size_t i;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.name = gate_xstrdup("repo.git");
	st.default_branch = gate_xstrdup("refs/heads/main");
	st.has_log = 1;
	st.now = time(NULL);
	st.today = gate_summary_today();
	gate_summary_window(&st.sum, st.today, 7, &st.w7);
	gate_summary_window(&st.sum, st.today, 30, &st.w30);
	st.queue_used = 1;
	st.nqueue_items = 2;
	st.queue_items = gate_xcalloc(2, sizeof(*st.queue_items));
	st.queue_items[0] = raw_item(1, GATE_QUEUE_WAITING, "eve\xe2\x80\x8e\xc2\x9b" "31m",
				     "<script>x</script> \xe2\x80\xae\033[2J\xd8\x9c");
	st.queue_items[1] = raw_item(2, GATE_QUEUE_REJECTED, "bob", "<img src=x onerror=y>");
	st.nqueues = 1;
	st.queues = gate_xcalloc(1, sizeof(*st.queues));
	q = &st.queues[0];
	q->branch = gate_xstrdup("refs/heads/main");
	q->npending = q->ndecided = 1;
	q->pending = gate_xcalloc(1, sizeof(*q->pending));
	q->decided = gate_xcalloc(1, sizeof(*q->decided));
	q->pending[0] = st.queue_items[0];
	q->decided[0] = st.queue_items[1];
	/* two protected refs (the site lists them), main passing by a landing of item 1's pusher */
	st.nrefs = 2;
	st.refs = gate_xcalloc(GATE_STATUS_MAX_REFS, sizeof(*st.refs));
	st.refs[0].name = gate_xstrdup("refs/heads/main");
	st.refs[0].landed = st.queue_items[0];
	st.refs[0].state = GATE_STATUS_PASSING;
	st.refs[1].name = gate_xstrdup("refs/heads/release");

	gate_status_html(&out, &st);
	assert_non_null(strstr(out.ptr, "id=\"queue\""));
	assert_non_null(strstr(out.ptr, "id=\"main-state\">passing<"));
	assert_non_null(strstr(out.ptr, "<span class=\"q-landed\">landed</span> (queue item 1)"));
	assert_null(strstr(out.ptr, "<script"));
	assert_null(strstr(out.ptr, "<img"));
	assert_non_null(strstr(out.ptr, "&lt;script&gt;x&lt;/script&gt;"));
	assert_non_null(strstr(out.ptr, "conflicts &lt;with&gt; main"));
	for (i = 0; i < GATE_ARRAY_SIZE(raw); i++)
		assert_null(strstr(out.ptr, raw[i]));
	gate_buf_reset(&out);
	gate_status_format_text(&out, &st, 1, 10);
	assert_non_null(strstr(out.ptr, "1. item 1"));
	assert_non_null(strstr(out.ptr, "by the merge queue, item 1 by eve"));
	assert_non_null(strstr(out.ptr, "eve\\xe2\\x80\\x8e\\xc2\\x9b"));
	assert_non_null(strstr(out.ptr, "rejected"));
	for (i = 0; i < GATE_ARRAY_SIZE(raw); i++)
		if (strcmp(raw[i], "\033"))
			assert_null(strstr(out.ptr, raw[i]));
	assert_null(strstr(out.ptr, "\033[2J")); /* colour codes only, never the pushed ones */
	gate_buf_reset(&out);
	gate_status_format_text(&out, &st, 0, 10);
	assert_null(strstr(out.ptr, "\033"));
	gate_buf_reset(&out);
	gate_status_format_json(&out, &st, 10);
	assert_non_null(strstr(out.ptr, "\"queue\":{\"runner_active\":false,\"branches\":[{\"branch\":\"refs/heads/main\""));
	assert_non_null(strstr(out.ptr, "\"position\":1"));
	for (i = 0; i < GATE_ARRAY_SIZE(raw); i++)
		assert_null(strstr(out.ptr, raw[i]));
	gate_buf_reset(&out);
	gate_status_metrics(&out, &st);
	assert_non_null(strstr(out.ptr, "git_gate_queue_items{repository=\"repo.git\",branch=\"refs/heads/main\",state=\"waiting\"} 1\n"));
	assert_non_null(strstr(out.ptr, "git_gate_queue_runner_active{repository=\"repo.git\"} 0\n"));
	gate_buf_release(&out);
	gate_status_release(&st);
}

static void test_policy__status_dir_is_a_server_setting(void **state)
{
	struct gate_config *cfg = NULL;
	struct gate_diag diag = GATE_DIAG_INIT;
	struct gate_policy_load_opts o;
	char *errors;

	(void)state;
	cfg = unit_policy("status_dir = \"/srv/status/project\";");
	assert_string_equal(cfg->status_dir, "/srv/status/project");
	gate_config_free(cfg);
	cfg = NULL;
	memset(&o, 0, sizeof(o));
	o.in_repository = 1;
	assert_int_equal(gate_policy_load_string_opts(&cfg, "status_dir = \"/tmp/x\";", "meta", &o, &diag), -1);
	assert_non_null(diag.msgs.nr ? strstr(diag.msgs.v[0], "status_dir") : NULL);
	assert_non_null(strstr(diag.msgs.v[0], "server setting"));
	gate_diag_release(&diag);
	errors = unit_policy_errors("status_dir = \"\";");
	assert_non_null(strstr(errors, "status_dir"));
	free(errors);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json__reads_nested_documents_and_escapes),
		cmocka_unit_test(test_json__refuses_malformed_documents),
		cmocka_unit_test(test_summary__counts_decisions_by_class_and_check),
		cmocka_unit_test(test_summary__a_tree_that_failed_and_passed_is_flaky),
		cmocka_unit_test(test_summary__percentiles_are_within_ten_percent),
		cmocka_unit_test(test_summary__survives_a_save_and_load),
		cmocka_unit_test(test_site__escapes_pushed_text_everywhere),
		cmocka_unit_test(test_site__queue_items_are_escaped_in_every_view),
		cmocka_unit_test(test_policy__status_dir_is_a_server_setting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

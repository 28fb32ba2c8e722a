#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "glob.h"
#include "policy.h"
#include "scan.h"
#include "textscan.h"

#include "banned.h"

/*
 * text-hygiene: leftover conflict markers and, when asked for, the
 * whitespace errors `git diff --check` reports, in the lines a push adds.
 * Lines the file's previous version already had are not reported, so a
 * file that held them before the gate was installed can still be edited.
 */

/* Issues kept per blob by the scan; a blob with more is scanned again when reported. */
#define MAX_KEPT 256

struct hygiene_check {
	struct gate_text_hygiene opts;
	struct gate_strvec allow_paths;
};

static void hygiene_free(void *data)
{
	struct hygiene_check *h = data;

	if (!h)
		return;
	gate_strvec_clear(&h->allow_paths);
	free(h);
}

static int hygiene_parse(void **data, struct gate_conf_group *g)
{
	struct hygiene_check *h = gate_xcalloc(1, sizeof(*h));
	struct gate_buf err = GATE_BUF_INIT;
	const char *rules = NULL;
	long long size = 7;
	int whitespace = 0, bad = 0;

	h->opts.conflict_markers = 1;
	h->opts.tabwidth = 8;
	/* no short-circuits: every key must be looked at to be known */
	bad |= gate_conf_bool(g, "conflict_markers", &h->opts.conflict_markers) < 0;
	bad |= gate_conf_int(g, "marker_size", &size) < 0;
	bad |= gate_conf_bool(g, "whitespace", &whitespace) < 0;
	bad |= gate_conf_string(g, "whitespace_rules", &rules) < 0;
	bad |= gate_conf_globs(g, "allow_paths", &h->allow_paths) < 0;
	if (size < 2 || size > 64) {
		gate_conf_error(g, "marker_size", "must be between 2 and 64 (git's default is 7)");
		bad = 1;
	}
	h->opts.marker_size = (int)size;
	if (rules && !whitespace) {
		gate_conf_error(g, "whitespace_rules", "has no effect unless whitespace = true");
		bad = 1;
	}
	if (whitespace) {
		h->opts.ws = GATE_WS_DEFAULT;
		if (rules && gate_text_parse_ws_rules(rules, &h->opts.ws, &h->opts.tabwidth, &err) < 0) {
			gate_conf_error(g, "whitespace_rules", "%s", gate_buf_cstr(&err));
			bad = 1;
		}
		/* cr-at-eol only loosens the others */
		if (!(h->opts.ws & ~GATE_WS_CR_AT_EOL)) {
			gate_conf_error(g, "whitespace_rules", "no whitespace rule is left to check");
			bad = 1;
		}
	}
	if (!bad && !h->opts.conflict_markers && !h->opts.ws) {
		gate_conf_error(g, NULL, "conflict_markers = false and whitespace = false: this check could find nothing");
		bad = 1;
	}
	gate_buf_release(&err);
	if (bad) {
		hygiene_free(h);
		return -1;
	}
	*data = h;
	return 0;
}

static int hygiene_blob_scan(const struct gate_check_run *run, const struct gate_blob *b, void **result)
{
	const struct hygiene_check *h = run->data;
	struct gate_text_issues *is;

	*result = NULL;
	/* binary files are not text; blobs too large to hold are not read (max-file-size judges those) */
	if (b->binary || !b->data || !b->len)
		return 0;
	is = gate_xcalloc(1, sizeof(*is));
	gate_text_hygiene_scan(&h->opts, b->data, b->len, is, MAX_KEPT);
	if (!is->nr && !is->blank_at_eof && !is->truncated) {
		gate_text_issues_release(is);
		free(is);
		return 0;
	}
	*result = is;
	return 0;
}

static void hygiene_result_free(void *result)
{
	if (result) {
		gate_text_issues_release(result);
		free(result);
	}
}

static int looks_binary(const char *data, size_t len)
{
	return memchr(data, '\0', len < 8000 ? len : 8000) != NULL;
}

static void add_marker(struct gate_findings *out, const struct gate_occurrence *occ, const struct gate_text_issue *is,
		       int size)
{
	char marker[65];

	memset(marker, is->marker, (size_t)size);
	marker[size] = '\0';
	gate_findings_add(out, occ->commit, occ->path, is->line,
			  "resolve the conflict and delete the marker lines, then amend the commit (git commit "
			  "--amend, or git rebase -i); a file that must hold such lines can go in allow_paths",
			  "leftover conflict marker '%s'", marker);
}

static void add_ws(struct gate_findings *out, const struct gate_occurrence *occ, long line, unsigned ws)
{
	struct gate_buf what = GATE_BUF_INIT;

	gate_text_describe_ws(&what, ws);
	gate_findings_add(out, occ->commit, occ->path, line,
			  "fix the whitespace (git diff --check shows it; git rebase --whitespace=fix HEAD~N "
			  "rewrites the last N commits) and push again",
			  "%s", gate_buf_cstr(&what));
	gate_buf_release(&what);
}

static int hygiene_blob_report(const struct gate_check_run *run, const struct gate_blob *b, void *result,
			       const struct gate_occurrence *occ, struct gate_findings *out)
{
	const struct hygiene_check *h = run->data;
	const struct gate_text_issues *is = result;
	struct gate_text_issues again = GATE_TEXT_ISSUES_INIT, old_is = GATE_TEXT_ISSUES_INIT;
	struct gate_text_lineset before = GATE_TEXT_LINESET_INIT;
	struct gate_buf old = GATE_BUF_INIT, cur = GATE_BUF_INIT;
	long old_blank = 0;
	size_t i;
	int ret = 0;

	if (!is)
		return 0;
	for (i = 0; i < h->allow_paths.nr; i++)
		if (gate_glob_match_path(h->allow_paths.v[i], occ->path, 0))
			return 0;
	if (is->truncated && run->scan) {
		/* more than the scan kept: look at the whole blob again */
		ret = gate_scan_read_blob(run->scan, b->id, &cur, run->err);
		if (ret < 0)
			goto out;
		gate_text_hygiene_scan(&h->opts, gate_buf_cstr(&cur), cur.len, &again, 0);
		is = &again;
	}
	if (occ->old_id && run->scan) {
		ret = gate_scan_read_blob(run->scan, occ->old_id, &old, run->err);
		if (ret == GATE_ENOTFOUND)
			ret = 0;
		if (ret < 0)
			goto out;
		if (old.len && !looks_binary(old.ptr, old.len)) {
			gate_text_lineset_add_lines(&before, old.ptr, old.len);
			if (h->opts.ws & GATE_WS_BLANK_AT_EOF) {
				struct gate_text_hygiene eof = h->opts;
				eof.conflict_markers = 0;
				eof.ws = GATE_WS_BLANK_AT_EOF;
				gate_text_hygiene_scan(&eof, old.ptr, old.len, &old_is, 1);
				old_blank = old_is.blank_at_eof;
			}
		}
	}
	for (i = 0; i < is->nr; i++) {
		const struct gate_text_issue *x = &is->v[i];
		if (gate_text_lineset_has(&before, x->hash))
			continue; /* the previous version had this line */
		if (x->marker)
			add_marker(out, occ, x, h->opts.marker_size);
		if (x->ws)
			add_ws(out, occ, x->line, x->ws);
	}
	if ((h->opts.ws & GATE_WS_BLANK_AT_EOF) && is->blank_at_eof > old_blank)
		add_ws(out, occ, is->lines - is->blank_at_eof + old_blank + 1, GATE_WS_BLANK_AT_EOF);
out:
	gate_text_issues_release(&again);
	gate_text_issues_release(&old_is);
	gate_text_lineset_release(&before);
	gate_buf_release(&old);
	gate_buf_release(&cur);
	return ret;
}

const struct gate_check_type gate_check_text_hygiene = {
	.name = "text-hygiene",
	.summary = "leftover conflict markers and (optionally) git diff --check whitespace errors in added lines",
	.flags = GATE_CHECK_CONTENT,
	.parse = hygiene_parse,
	.free = hygiene_free,
	.blob_scan = hygiene_blob_scan,
	.blob_report = hygiene_blob_report,
	.blob_result_free = hygiene_result_free,
};

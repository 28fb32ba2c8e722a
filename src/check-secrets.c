#include "config.h"

#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "glob.h"
#include "policy.h"
#include "scan.h"
#include "secrets.h"
#include "textscan.h"

#include "banned.h"

/*
 * secrets: credentials in what a push adds.  The built-in rules
 * (secrets-rules.c) and the policy's own patterns run over every new text
 * blob on the scan thread; each finding names the rule, the path and the
 * line, never the secret, with a fingerprint that lets one false positive
 * through (allow_fingerprints).  A secret the file's previous version
 * already held is not reported again, so files that held one before the
 * gate was installed can still be edited.
 */

/*
 * Findings kept per blob by the scan (the results wait in memory for the
 * reports); a blob with more is read and scanned again when reported.
 */
#define MAX_KEPT 512

struct secrets_check {
	struct gate_secrets *set;
	struct gate_strvec allow_paths;
	struct gate_strvec allow_fingerprints; /* lowercase hex */
};

static void secrets_free(void *data)
{
	struct secrets_check *c = data;

	if (!c)
		return;
	gate_secrets_free(c->set);
	gate_strvec_clear(&c->allow_paths);
	gate_strvec_clear(&c->allow_fingerprints);
	free(c);
}

static int valid_rule_id(const char *s)
{
	size_t i;

	if (!*s)
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' ||
		      s[i] == '.'))
			return 0;
	return 1;
}

/* A custom keyword is literal: quote what the rule syntax would read as a class. */
static char *literal_keyword(const char *s)
{
	struct gate_buf b = GATE_BUF_INIT;

	for (; *s; s++) {
		if (*s == '[' || *s == '\\')
			gate_buf_addch(&b, '\\');
		gate_buf_addch(&b, *s);
	}
	return gate_buf_detach(&b);
}

/* One entry of `patterns = ( { id = "..."; regex = "..."; ... } )`. */
static int parse_pattern(struct gate_secrets *set, struct gate_conf_group *g, config_setting_t *e)
{
	static const char *const known[] = { "id", "regex", "description", "keywords", "min_entropy", NULL };
	struct gate_secret_rule r;
	struct gate_buf err = GATE_BUF_INIT;
	config_setting_t *m;
	char **kws = NULL;
	int i, n, bad = 0;
	size_t k;

	memset(&r, 0, sizeof(r));
	if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
		gate_conf_error_at(g, e, "each entry of 'patterns' must be a group { id = \"...\"; regex = \"...\"; }");
		return -1;
	}
	n = config_setting_length(e);
	for (i = 0; i < n; i++) {
		const char *name;
		m = config_setting_get_elem(e, (unsigned)i);
		name = config_setting_name(m);
		for (k = 0; known[k] && strcmp(known[k], name); k++)
			;
		if (!known[k]) {
			gate_conf_error_at(g, m,
					   "unknown key '%s' in a secrets pattern (known: id, regex, description, "
					   "keywords, min_entropy)",
					   name);
			bad = 1;
		}
	}
	if (!config_setting_lookup_string(e, "id", &r.id) || !valid_rule_id(r.id)) {
		gate_conf_error_at(g, e, "a secrets pattern needs an 'id' of lowercase letters, digits, '-', '_' or '.'");
		return -1;
	}
	if (gate_secret_builtin(r.id)) {
		gate_conf_error_at(g, e, "pattern id '%s' is the name of a built-in rule; choose another", r.id);
		return -1;
	}
	if (!config_setting_lookup_string(e, "regex", &r.regex)) {
		gate_conf_error_at(g, e, "secrets pattern '%s' needs a 'regex' string", r.id);
		return -1;
	}
	if ((m = config_setting_get_member(e, "description")) && config_setting_type(m) != CONFIG_TYPE_STRING) {
		gate_conf_error_at(g, m, "'description' must be a string");
		bad = 1;
	}
	config_setting_lookup_string(e, "description", &r.description);
	if ((m = config_setting_get_member(e, "min_entropy"))) {
		int t = config_setting_type(m);
		if (t == CONFIG_TYPE_FLOAT)
			r.min_entropy = config_setting_get_float(m);
		else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
			r.min_entropy = (double)config_setting_get_int64(m);
		else
			r.min_entropy = -1;
		if (r.min_entropy < 0 || r.min_entropy > 8) {
			gate_conf_error_at(g, m, "'min_entropy' must be a number of bits per byte from 0 to 8");
			bad = 1;
		}
	}
	if ((m = config_setting_get_member(e, "keywords"))) {
		int t = config_setting_type(m);
		n = config_setting_length(m);
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
			gate_conf_error_at(g, m, "'keywords' must be a list of strings: keywords = [ \"acme_\" ];");
			bad = 1;
			n = 0;
		}
		kws = gate_xcalloc((size_t)n + 1, sizeof(*kws));
		for (i = 0; i < n; i++) {
			const char *s = config_setting_get_string_elem(m, (unsigned)i);
			if (!s || strlen(s) < 3) {
				gate_conf_error_at(g, m, "each keyword must be a string of at least 3 characters");
				bad = 1;
				continue;
			}
			kws[i] = literal_keyword(s);
		}
		r.keywords = (const char *const *)kws;
	}
	if (!bad && gate_secrets_add(set, &r, &err) < 0) {
		gate_conf_error_at(g, e, "secrets pattern '%s': %s", r.id, gate_buf_cstr(&err));
		bad = 1;
	}
	for (k = 0; kws && kws[k]; k++)
		free(kws[k]);
	free(kws);
	gate_buf_release(&err);
	return bad ? -1 : 0;
}

static int is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return s[n] == '\0';
}

static int secrets_parse(void **data, struct gate_conf_group *g)
{
	struct secrets_check *c = gate_xcalloc(1, sizeof(*c));
	struct gate_strvec disabled = GATE_STRVEC_INIT, fps = GATE_STRVEC_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	const char *rules = "all";
	void *patterns = NULL;
	size_t i;
	int bad = 0, r;

	c->set = gate_secrets_new();
	/* no short-circuits: every key must be looked at to be known */
	bad |= gate_conf_string(g, "rules", &rules) < 0;
	bad |= gate_conf_strings(g, "disable_rules", &disabled) < 0;
	bad |= gate_conf_globs(g, "allow_paths", &c->allow_paths) < 0;
	bad |= gate_conf_strings(g, "allow_fingerprints", &fps) < 0;
	r = gate_conf_setting(g, "patterns", &patterns);

	for (i = 0; i < fps.nr; i++) {
		char *fp = fps.v[i];
		size_t k;
		if (strlen(fp) != GATE_SECRET_FINGERPRINT_LEN || !is_hex(fp, GATE_SECRET_FINGERPRINT_LEN)) {
			gate_conf_error(g, "allow_fingerprints",
					"\"%s\" is not a fingerprint (16 hex digits, as printed in a finding)", fp);
			bad = 1;
			continue;
		}
		for (k = 0; fp[k]; k++)
			if (fp[k] >= 'A' && fp[k] <= 'F')
				fp[k] = (char)(fp[k] - 'A' + 'a');
		gate_strvec_push(&c->allow_fingerprints, fp);
	}
	/* the policy's own patterns first: where they overlap a built-in rule, they are reported */
	if (r > 0) {
		config_setting_t *s = patterns;
		int t = config_setting_type(s), n = config_setting_length(s), k;
		if (t != CONFIG_TYPE_LIST) {
			gate_conf_error(g, "patterns",
					"'patterns' must be a list of groups: patterns = ( { id = \"...\"; regex = "
					"\"...\"; } );");
			bad = 1;
		} else {
			for (k = 0; k < n; k++)
				bad |= parse_pattern(c->set, g, config_setting_get_elem(s, (unsigned)k)) < 0;
		}
	}
	for (i = 0; i < disabled.nr; i++) {
		if (!gate_secret_builtin(disabled.v[i])) {
			gate_conf_error(g, "disable_rules", "no built-in rule is called '%s' (git-gate.conf(5) lists them)",
					disabled.v[i]);
			bad = 1;
		}
	}
	if (!strcmp(rules, "all")) {
		if (!bad && gate_secrets_add_builtins(c->set, &disabled, &err) < 0) {
			gate_conf_error(g, "disable_rules", "%s", gate_buf_cstr(&err));
			bad = 1;
		}
	} else if (!strcmp(rules, "none")) {
		if (disabled.nr) {
			gate_conf_error(g, "disable_rules", "there are no built-in rules to disable with rules = \"none\"");
			bad = 1;
		}
	} else {
		gate_conf_error(g, "rules", "\"%s\" is not \"all\" (the built-in rules) or \"none\"", rules);
		bad = 1;
	}
	if (!bad && !gate_secrets_nrules(c->set)) {
		gate_conf_error(g, NULL, "rules = \"none\" and no patterns: this check could find nothing");
		bad = 1;
	}
	if (!bad && gate_secrets_compile(c->set, &err) < 0) {
		gate_conf_error(g, "patterns", "%s", gate_buf_cstr(&err));
		bad = 1;
	}
	gate_strvec_clear(&disabled);
	gate_strvec_clear(&fps);
	gate_buf_release(&err);
	if (bad) {
		secrets_free(c);
		return -1;
	}
	*data = c;
	return 0;
}

static int looks_binary(const char *data, size_t len)
{
	return memchr(data, '\0', len < 8000 ? len : 8000) != NULL;
}

static int secrets_blob_scan(const struct gate_check_run *run, const struct gate_blob *b, void **result)
{
	const struct secrets_check *c = run->data;
	struct gate_secret_hits *hits;

	*result = NULL;
	/* binary files are not text; blobs too large to hold are not read (max-file-size judges those) */
	if (b->binary || !b->data)
		return 0;
	hits = gate_xcalloc(1, sizeof(*hits));
	if (gate_secrets_scan(c->set, b->data, b->len, MAX_KEPT, hits, run->err) < 0) {
		free(hits);
		return -1;
	}
	if (!hits->nr) {
		gate_secret_hits_release(hits);
		free(hits);
		return 0;
	}
	*result = hits;
	return 0;
}

static void secrets_result_free(void *result)
{
	if (result) {
		gate_secret_hits_release(result);
		free(result);
	}
}

static uint64_t secret_key(unsigned rule, const char *secret, size_t len)
{
	return gate_text_line_hash(secret, len) ^ ((uint64_t)(rule + 1) * 0x9e3779b97f4a7c15ull);
}

/*
 * The secrets of the path's previous version, so that a secret a file
 * already held is not reported again.  Rule indexes are the same: the
 * same set scans both.
 */
static int old_secrets(const struct gate_check_run *run, const char *old_id, struct gate_text_lineset *out)
{
	const struct secrets_check *c = run->data;
	struct gate_buf old = GATE_BUF_INIT;
	struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
	size_t i;
	int ret = 0;

	if (!run->scan)
		return 0;
	ret = gate_scan_read_blob(run->scan, old_id, &old, run->err);
	if (ret == GATE_ENOTFOUND) {
		ret = 0;
		goto out;
	}
	if (ret < 0 || looks_binary(old.ptr ? old.ptr : "", old.len))
		goto out;
	ret = gate_secrets_scan(c->set, gate_buf_cstr(&old), old.len, 0, &hits, run->err);
	for (i = 0; !ret && i < hits.nr; i++)
		gate_text_lineset_add(out, secret_key(hits.v[i].rule, hits.v[i].secret, hits.v[i].secret_len));
out:
	gate_secret_hits_release(&hits);
	gate_buf_release(&old);
	return ret;
}

static int secrets_blob_report(const struct gate_check_run *run, const struct gate_blob *b, void *result,
			       const struct gate_occurrence *occ, struct gate_findings *out)
{
	const struct secrets_check *c = run->data;
	const struct gate_secret_hits *hits = result;
	struct gate_secret_hits all = GATE_SECRET_HITS_INIT;
	struct gate_text_lineset before = GATE_TEXT_LINESET_INIT;
	struct gate_buf hint = GATE_BUF_INIT, cur = GATE_BUF_INIT;
	size_t i;
	int ret = 0;

	if (!hits)
		return 0;
	for (i = 0; i < c->allow_paths.nr; i++)
		if (gate_glob_match_path(c->allow_paths.v[i], occ->path, 0))
			return 0;
	if (hits->truncated && run->scan) {
		/* more than the scan kept: all of them, from the blob again */
		if (gate_scan_read_blob(run->scan, b->id, &cur, run->err) < 0 ||
		    gate_secrets_scan(c->set, gate_buf_cstr(&cur), cur.len, 0, &all, run->err) < 0) {
			ret = -1;
			goto out;
		}
		hits = &all;
	}
	if (occ->old_id && old_secrets(run, occ->old_id, &before) < 0) {
		ret = -1;
		goto out;
	}
	for (i = 0; i < hits->nr; i++) {
		const struct gate_secret_hit *h = &hits->v[i];
		const char *id = gate_secrets_rule_id(c->set, h->rule);
		char fp[GATE_SECRET_FINGERPRINT_LEN + 1];

		if (gate_text_lineset_has(&before, secret_key(h->rule, h->secret, h->secret_len)))
			continue;
		gate_secret_fingerprint(fp, id, occ->path, h->secret, h->secret_len);
		if (gate_strvec_contains(&c->allow_fingerprints, fp))
			continue;
		/* one text for every finding, so that the report says it once (the fingerprint is in the message) */
		gate_buf_reset(&hint);
		gate_buf_addf(&hint,
			      "treat the credential as leaked: revoke or rotate it, then remove it from every commit "
			      "(git rebase -i, or git filter-repo for older history) and push again; if it is not a "
			      "secret, add its fingerprint to allow_fingerprints of check '%s'",
			      run->def ? run->def->name : "secrets");
		gate_findings_add(out, occ->commit, occ->path, h->line, hint.ptr,
				  "possible %s (rule '%s', fingerprint %s)", gate_secrets_rule_description(c->set, h->rule),
				  id, fp);
	}
out:
	gate_buf_release(&hint);
	gate_buf_release(&cur);
	gate_secret_hits_release(&all);
	gate_text_lineset_release(&before);
	return ret;
}

const struct gate_check_type gate_check_secrets = {
	.name = "secrets",
	.summary = "credentials (keys, tokens, passwords) in added text, reported without the secret",
	.flags = GATE_CHECK_CONTENT,
	.parse = secrets_parse,
	.free = secrets_free,
	.blob_scan = secrets_blob_scan,
	.blob_report = secrets_blob_report,
	.blob_result_free = secrets_result_free,
};

#include "config.h"

#include <libconfig.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check-logic.h"
#include "check.h"
#include "glob.h"
#include "policy.h"
#include "scan.h"

#include "banned.h"

/*
 * max-file-size: no file a push brings may be larger than its limit.
 *
 * `limit` applies to every path; `limits` gives other limits to paths
 * matching a glob (first match wins), "none" for no limit at all.  A
 * Git LFS pointer file always passes: the content it stands for lives in
 * the LFS store.
 *
 * Only sizes are needed, so the type does not ask for content
 * (GATE_CHECK_CONTENT): when no other check reads content the engine
 * runs `git cat-file --batch-check`, and blob_scan sees no data.  A
 * pointer file is under 1 KiB, so the question "is it a pointer?" only
 * arises for a blob under 1 KiB that is over its limit (a per-pattern
 * limit such as "0" to force LFS for *.psd); such a blob is read on its
 * own in blob_report.
 */

#define DEFAULT_LIMIT (100ull * 1024 * 1024) /* GitHub's hard limit */

struct size_rule {
	char *pattern;
	uint64_t limit;
	int unlimited;
};

struct size_check {
	uint64_t limit;
	struct size_rule *rules;
	size_t nrules;
	int lfs;
};

/* blob_scan results, as pointer values (no allocation per blob) */
#define LFS_UNKNOWN NULL
#define LFS_YES ((void *)(uintptr_t)1)
#define LFS_NO ((void *)(uintptr_t)2)

static void size_free(void *data)
{
	struct size_check *m = data;
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nrules; i++)
		free(m->rules[i].pattern);
	free(m->rules);
	free(m);
}

static int parse_limit_value(struct gate_conf_group *g, config_setting_t *s, struct size_rule *r)
{
	struct gate_buf err = GATE_BUF_INIT;
	int ret = 0;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *v = config_setting_get_string(s);
		if (!strcmp(v, "none"))
			r->unlimited = 1;
		else if (gate_parse_size(&r->limit, v, &err) < 0) {
			gate_conf_error_at(g, s, "'limits': %s", err.ptr);
			ret = -1;
		}
	} else if (config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64) {
		long long v = config_setting_get_int64(s);
		if (config_setting_type(s) == CONFIG_TYPE_INT)
			v = config_setting_get_int(s);
		if (v < 0) {
			gate_conf_error_at(g, s, "'limits': a limit must not be negative");
			ret = -1;
		}
		r->limit = (uint64_t)v;
	} else {
		gate_conf_error_at(g, s, "'limits': limit must be a size such as \"50 MiB\", or \"none\"");
		ret = -1;
	}
	gate_buf_release(&err);
	return ret;
}

/* limits = ( { pattern = "*.psd"; limit = "50 MiB"; }, { pattern = "vendor/..."; limit = "none"; } ); */
static int parse_limits(struct gate_conf_group *g, struct size_check *m)
{
	config_setting_t *s = NULL;
	int i, j, n, bad = 0;

	if (gate_conf_setting(g, "limits", (void **)&s) <= 0)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_LIST) {
		gate_conf_error(g, "limits",
				"must be a list of groups: limits = ( { pattern = \"*.psd\"; limit = \"50 MiB\"; } );");
		return -1;
	}
	n = config_setting_length(s);
	m->rules = gate_xcalloc((size_t)n + 1, sizeof(*m->rules));
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i), *ps, *ls;
		struct size_rule *r = &m->rules[m->nrules];

		if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
			gate_conf_error_at(g, e, "'limits': each entry is { pattern = \"GLOB\"; limit = \"SIZE\"; }");
			bad = 1;
			continue;
		}
		for (j = 0; j < config_setting_length(e); j++) {
			config_setting_t *k = config_setting_get_elem(e, (unsigned)j);
			if (strcmp(config_setting_name(k), "pattern") && strcmp(config_setting_name(k), "limit")) {
				gate_conf_error_at(g, k, "'limits': unknown key '%s' (use pattern and limit)",
						   config_setting_name(k));
				bad = 1;
			}
		}
		ps = config_setting_get_member(e, "pattern");
		ls = config_setting_get_member(e, "limit");
		if (!ps || !ls) {
			gate_conf_error_at(g, e, "'limits': each entry needs a pattern and a limit");
			bad = 1;
			continue;
		}
		if (config_setting_type(ps) != CONFIG_TYPE_STRING || !*config_setting_get_string(ps) ||
		    !gate_glob_valid(config_setting_get_string(ps))) {
			gate_conf_error_at(g, ps, "'limits': pattern must be a glob such as \"*.psd\"");
			bad = 1;
			continue;
		}
		if (parse_limit_value(g, ls, r) < 0) {
			bad = 1;
			continue;
		}
		r->pattern = gate_xstrdup(config_setting_get_string(ps));
		m->nrules++;
	}
	return bad ? -1 : 0;
}

static int size_parse(void **data, struct gate_conf_group *g)
{
	struct size_check *m = gate_xcalloc(1, sizeof(*m));
	int bad = 0;

	m->limit = DEFAULT_LIMIT;
	m->lfs = 1;
	/* no short-circuits: every key must be looked at to be known */
	bad |= gate_conf_size(g, "limit", &m->limit) < 0;
	bad |= parse_limits(g, m) < 0;
	bad |= gate_conf_bool(g, "lfs", &m->lfs) < 0;
	if (bad) {
		size_free(m);
		return -1;
	}
	*data = m;
	return 0;
}

int gate_lfs_is_pointer(const char *data, size_t len)
{
	static const char version[] = "version https://git-lfs.github.com/spec/v1\n";
	const char *p, *end = data + len;
	int oid = 0, size = 0;

	if (!data || len >= GATE_LFS_POINTER_MAX || len < sizeof(version) - 1 ||
	    memcmp(data, version, sizeof(version) - 1))
		return 0;
	for (p = data + sizeof(version) - 1; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *sp, *v;
		size_t i, n;

		if (!nl)
			return 0; /* every line ends in a newline */
		sp = memchr(p, ' ', (size_t)(nl - p));
		if (!sp || sp == p)
			return 0;
		for (v = p; v < sp; v++)
			if (!((*v >= 'a' && *v <= 'z') || (*v >= '0' && *v <= '9') || *v == '.' || *v == '-'))
				return 0;
		v = sp + 1;
		n = (size_t)(nl - v);
		if ((size_t)(sp - p) == 3 && !memcmp(p, "oid", 3)) {
			if (n != 7 + 64 || memcmp(v, "sha256:", 7))
				return 0;
			for (i = 7; i < n; i++)
				if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
					return 0;
			oid = 1;
		} else if ((size_t)(sp - p) == 4 && !memcmp(p, "size", 4)) {
			if (!n || n > 20)
				return 0;
			for (i = 0; i < n; i++)
				if (v[i] < '0' || v[i] > '9')
					return 0;
			size = 1;
		}
		p = nl + 1;
	}
	return oid && size;
}

static int size_blob_scan(const struct gate_check_run *run, const struct gate_blob *b, void **result)
{
	(void)run;
	if (b->size >= GATE_LFS_POINTER_MAX)
		*result = LFS_NO;
	else if (b->data)
		*result = gate_lfs_is_pointer(b->data, b->len) ? LFS_YES : LFS_NO;
	else
		*result = LFS_UNKNOWN; /* only the size was read: decide in blob_report when it matters */
	return 0;
}

static const struct size_rule *rule_for(const struct size_check *m, const char *path)
{
	size_t i;

	for (i = 0; i < m->nrules; i++)
		if (gate_glob_match_path(m->rules[i].pattern, path, 0))
			return &m->rules[i];
	return NULL;
}

static int size_blob_report(const struct gate_check_run *run, const struct gate_blob *b, void *result,
			    const struct gate_occurrence *occ, struct gate_findings *out)
{
	const struct size_check *m = run->data;
	const struct size_rule *r = rule_for(m, occ->path);
	uint64_t limit = r ? r->limit : m->limit;
	struct gate_buf size = GATE_BUF_INIT, lim = GATE_BUF_INIT, hint = GATE_BUF_INIT;

	if ((r && r->unlimited) || b->size <= limit || GATE_MODE_IS_GITLINK(occ->mode))
		return 0;
	if (m->lfs && GATE_MODE_IS_BLOB(occ->mode)) {
		if (result == LFS_YES)
			return 0;
		if (result == LFS_UNKNOWN && b->size < GATE_LFS_POINTER_MAX) {
			struct gate_buf content = GATE_BUF_INIT;
			int lfs;
			if (gate_scan_read_blob(run->scan, b->id, &content, run->err) < 0) {
				gate_buf_release(&content);
				return -1;
			}
			lfs = gate_lfs_is_pointer(content.ptr, content.len);
			gate_buf_release(&content);
			if (lfs)
				return 0;
		}
	}
	gate_buf_add_size(&size, b->size);
	gate_buf_add_size(&lim, limit);
	if (!strcmp(size.ptr, lim.ptr)) {
		/* "5.0 MiB, over the 5.0 MiB limit" says nothing: show bytes */
		gate_buf_addf(&size, " (%llu bytes)", (unsigned long long)b->size);
		gate_buf_addf(&lim, " (%llu bytes)", (unsigned long long)limit);
	}
	gate_buf_adds(&hint, "take it out of every commit that adds it, not only the last one (git rm --cached, then git "
			     "commit --amend or git rebase -i; git filter-repo --strip-blobs-bigger-than SIZE for "
			     "long histories)");
	if (m->lfs)
		gate_buf_adds(&hint, ", or store it with Git LFS (git lfs migrate import --include=PATTERN)");
	if (r)
		gate_findings_add(out, occ->commit, occ->path, 0, hint.ptr, "file is %s, over the %s limit for '%s'",
				  size.ptr, lim.ptr, r->pattern);
	else
		gate_findings_add(out, occ->commit, occ->path, 0, hint.ptr, "file is %s, over the %s limit", size.ptr,
				  lim.ptr);
	gate_buf_release(&size);
	gate_buf_release(&lim);
	gate_buf_release(&hint);
	return 0;
}

const struct gate_check_type gate_check_max_file_size = {
	.name = "max-file-size",
	.summary = "no file over a size limit (per-pattern limits; Git LFS pointers pass)",
	.parse = size_parse,
	.free = size_free,
	.blob_scan = size_blob_scan,
	.blob_report = size_blob_report,
};

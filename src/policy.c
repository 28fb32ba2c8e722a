#include "config.h"
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <libconfig.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deadline.h"
#include "glob.h"
#include "policy-text.h"
#include "push.h"
#include "regex.h"
#include "repo.h"

#include "banned.h"

#ifndef GATE_SYSCONFDIR
#define GATE_SYSCONFDIR "/etc"
#endif

struct gate_conf_group {
	config_setting_t *s;
	struct gate_diag *diag;
	struct gate_strvec known;
	const char *git_dir;
	int errors;
	struct gate_strvec *risks; /* where gate_conf_warn goes, or NULL */
};

const char *gate_mode_name(enum gate_mode m)
{
	switch (m) {
	case GATE_MODE_ENFORCE:
		return "enforce";
	case GATE_MODE_WARN:
		return "warn";
	case GATE_MODE_OFF:
		return "off";
	}
	return "?";
}

const char *gate_policy_system_file(void)
{
	/* tests and trials point the "system" file elsewhere */
	const char *env = getenv("GIT_GATE_SYSTEM_CONFIG");

	return env && *env ? env : GATE_SYSCONFDIR "/git-gate.conf";
}

/*
 * libconfig names a setting from an @include file by the name written
 * after @include, resolved against the include directory (the including
 * file's): say where it really is.  `top` is the file read first.
 */
static const char *resolve_file(const char *f, const char *top, const char *dir, struct gate_buf *tmp)
{
	if (!f || *f == '/' || !dir || !*dir || (top && !strcmp(f, top)))
		return f;
	gate_buf_reset(tmp);
	gate_buf_addf(tmp, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", f);
	return tmp->ptr;
}

static const char *setting_file(const config_setting_t *s, struct gate_buf *tmp)
{
	const config_t *c = s->config;

	return resolve_file(config_setting_source_file(s), c && c->root ? c->root->file : NULL,
			    c ? config_get_include_dir(c) : NULL, tmp);
}

static const char *src_file(const struct gate_diag *d, const config_setting_t *s, struct gate_buf *tmp)
{
	const char *f = setting_file(s, tmp);

	if (f)
		return f;
	return d->name ? d->name : "<policy>";
}

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	}
	return "a value";
}

static void diag_at(struct gate_diag *d, const config_setting_t *s, const char *fmt, va_list ap)
{
	struct gate_buf b = GATE_BUF_INIT, tmp = GATE_BUF_INIT;

	gate_buf_vaddf(&b, fmt, ap);
	gate_diag_addf(d, src_file(d, s, &tmp), (int)config_setting_source_line(s), "%s", b.ptr);
	gate_buf_release(&b);
	gate_buf_release(&tmp);
}

static void diagf(struct gate_diag *d, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void diagf(struct gate_diag *d, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_at(d, s, fmt, ap);
	va_end(ap);
}

void gate_conf_error(struct gate_conf_group *g, const char *key, const char *fmt, ...)
{
	config_setting_t *s = key ? config_setting_get_member(g->s, key) : NULL;
	struct gate_buf b = GATE_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	gate_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (key)
		diagf(g->diag, s ? s : g->s, "'%s': %s", key, b.ptr);
	else
		diagf(g->diag, g->s, "%s", b.ptr);
	g->errors++;
	gate_buf_release(&b);
}

void gate_conf_warn(struct gate_conf_group *g, const char *key, const char *fmt, ...)
{
	config_setting_t *s = key ? config_setting_get_member(g->s, key) : NULL;
	struct gate_buf b = GATE_BUF_INIT, tmp = GATE_BUF_INIT;
	va_list ap;

	if (!g->risks)
		return;
	if (!s)
		s = g->s;
	gate_buf_addf(&b, "%s:%u: ", src_file(g->diag, s, &tmp), config_setting_source_line(s));
	va_start(ap, fmt);
	gate_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	gate_strvec_push(g->risks, b.ptr);
	gate_buf_release(&b);
	gate_buf_release(&tmp);
}

void gate_conf_error_at(struct gate_conf_group *g, const void *setting, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_at(g->diag, setting, fmt, ap);
	va_end(ap);
	g->errors++;
}

int gate_conf_full_ref(struct gate_conf_group *g, const char *key, const char *value, const char *under,
		       const char *dir)
{
	static const char *const tops[] = { "heads/", "tags/", "notes/", "meta/", "remotes/" };
	struct gate_buf fix = GATE_BUF_INIT;
	const char *v = value;
	size_t k;

	if (gate_ref_name_valid(value) && !strncmp(value, under, strlen(under)) && strlen(value) > strlen(under))
		return 0;
	while (*v == '/')
		v++;
	if (!strncmp(v, "refs/", 5) && gate_ref_name_valid(v)) {
		/* a full name in the wrong place: keep its last part */
		gate_buf_adds(&fix, dir);
		gate_buf_adds(&fix, strrchr(v, '/') + 1);
	} else {
		for (k = 0; k < GATE_ARRAY_SIZE(tops); k++)
			if (!strncmp(v, tops[k], strlen(tops[k])))
				break;
		gate_buf_adds(&fix, k < GATE_ARRAY_SIZE(tops) ? "refs/" : dir);
		gate_buf_adds(&fix, v);
	}
	if (!gate_ref_name_valid(fix.ptr) || strncmp(fix.ptr, under, strlen(under)))
		gate_buf_setf(&fix, "%sNAME", dir);
	if (!strncmp(value, "refs/", 5) && gate_ref_name_valid(value))
		gate_conf_error(g, key, "\"%s\" is not under %s; write a name such as \"%s\"", value, under, fix.ptr);
	else
		gate_conf_error(g, key,
				"\"%s\" is not a full ref name: git-gate looks the ref up by exactly this name, never "
				"as refs/heads/NAME or refs/tags/NAME; write \"%s\"",
				value, fix.ptr);
	gate_buf_release(&fix);
	return -1;
}

const char *gate_conf_git_dir(struct gate_conf_group *g)
{
	return g->git_dir;
}

static config_setting_t *lookup(struct gate_conf_group *g, const char *key)
{
	if (!gate_strvec_contains(&g->known, key))
		gate_strvec_push(&g->known, key);
	return config_setting_get_member(g->s, key);
}

static int wrong_type(struct gate_conf_group *g, config_setting_t *s, const char *key, const char *want)
{
	diagf(g->diag, s, "'%s' must be %s, not %s", key, want, type_name(config_setting_type(s)));
	g->errors++;
	return -1;
}

int gate_conf_string(struct gate_conf_group *g, const char *key, const char **out)
{
	config_setting_t *s = lookup(g, key);

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return wrong_type(g, s, key, "a string");
	*out = config_setting_get_string(s);
	return 1;
}

int gate_conf_bool(struct gate_conf_group *g, const char *key, int *out)
{
	config_setting_t *s = lookup(g, key);

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return wrong_type(g, s, key, "a boolean (true or false)");
	*out = config_setting_get_bool(s);
	return 1;
}

int gate_conf_int(struct gate_conf_group *g, const char *key, long long *out)
{
	config_setting_t *s = lookup(g, key);

	if (!s)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		*out = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		*out = config_setting_get_int64(s);
	else
		return wrong_type(g, s, key, "an integer");
	return 1;
}

/*
 * A size or a duration: a string with a unit, or a plain non-negative
 * integer (bytes, seconds).  `parse` turns the string into *out.
 */
static int conf_quantity(struct gate_conf_group *g, const char *key, uint64_t *out,
			 int (*parse)(uint64_t *, const char *, struct gate_buf *), const char *what)
{
	config_setting_t *s = lookup(g, key);
	struct gate_buf err = GATE_BUF_INIT;
	int type, ret = 1;

	if (!s)
		return 0;
	type = config_setting_type(s);
	if (type == CONFIG_TYPE_STRING) {
		if (parse(out, config_setting_get_string(s), &err) < 0) {
			diagf(g->diag, s, "'%s': %s", key, err.ptr);
			g->errors++;
			ret = -1;
		}
	} else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
		long long v = type == CONFIG_TYPE_INT ? config_setting_get_int(s) : config_setting_get_int64(s);
		if (v < 0) {
			diagf(g->diag, s, "'%s' must not be negative", key);
			g->errors++;
			ret = -1;
		} else {
			*out = (uint64_t)v;
		}
	} else {
		ret = wrong_type(g, s, key, what);
	}
	gate_buf_release(&err);
	return ret;
}

static int parse_duration_u(uint64_t *out, const char *str, struct gate_buf *err)
{
	int64_t v;

	if (gate_parse_duration(&v, str, err) < 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int gate_conf_size(struct gate_conf_group *g, const char *key, uint64_t *out)
{
	return conf_quantity(g, key, out, gate_parse_size, "a size string such as \"5 MiB\"");
}

int gate_conf_duration(struct gate_conf_group *g, const char *key, int64_t *out)
{
	uint64_t v;
	int ret = conf_quantity(g, key, &v, parse_duration_u, "a duration such as \"10 min\" or a number of seconds");

	if (ret > 0) {
		if (v > (uint64_t)INT64_MAX) {
			gate_conf_error(g, key, "duration is too large");
			return -1;
		}
		*out = (int64_t)v;
	}
	return ret;
}

static int read_strings(struct gate_diag *diag, config_setting_t *s, const char *key, struct gate_strvec *out,
			int *errors)
{
	int i, n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		gate_strvec_push(out, config_setting_get_string(s));
		return 1;
	}
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
		diagf(diag, s, "'%s' must be an array of strings, not %s", key, type_name(config_setting_type(s)));
		(*errors)++;
		return -1;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			diagf(diag, e, "'%s' must be an array of strings; element %d is %s", key, i + 1,
			      type_name(config_setting_type(e)));
			(*errors)++;
			return -1;
		}
		gate_strvec_push(out, config_setting_get_string(e));
	}
	return 1;
}

int gate_conf_strings(struct gate_conf_group *g, const char *key, struct gate_strvec *out)
{
	config_setting_t *s = lookup(g, key);

	if (!s)
		return 0;
	return read_strings(g->diag, s, key, out, &g->errors);
}

int gate_conf_globs(struct gate_conf_group *g, const char *key, struct gate_strvec *out)
{
	size_t before = out->nr, i;
	int ret = gate_conf_strings(g, key, out);

	if (ret <= 0)
		return ret;
	for (i = before; i < out->nr; i++) {
		if (!*out->v[i] || !gate_glob_valid(out->v[i])) {
			gate_conf_error(g, key, "bad glob \"%s\" (unterminated [class] or trailing backslash)",
					out->v[i]);
			ret = -1;
		}
	}
	return ret;
}

int gate_conf_choice(struct gate_conf_group *g, const char *key, const char *const *choices,
		     const char *const *meanings, int *out)
{
	struct gate_buf list = GATE_BUF_INIT;
	const char *v;
	int i, ret = gate_conf_string(g, key, &v);

	if (ret <= 0)
		return ret;
	for (i = 0; choices[i]; i++)
		if (!strcmp(v, choices[i])) {
			*out = i;
			return 1;
		}
	for (i = 0; choices[i]; i++)
		gate_buf_addf(&list, "%s\"%s\"%s%s%s", i ? (choices[i + 1] ? ", " : " or ") : "", choices[i],
			      meanings ? " (" : "", meanings ? meanings[i] : "", meanings ? ")" : "");
	gate_conf_error(g, key, "must be %s, not \"%s\"", list.ptr, v);
	gate_buf_release(&list);
	return -1;
}

int gate_conf_regex(struct gate_conf_group *g, const char *key, unsigned flags, struct gate_regex *out)
{
	const char *pat;
	struct gate_buf err = GATE_BUF_INIT;
	int ret = gate_conf_string(g, key, &pat);

	if (ret <= 0)
		return ret;
	if (gate_regex_compile(out, pat, flags, &err) < 0) {
		gate_conf_error(g, key, "%s", err.ptr);
		ret = -1;
	}
	gate_buf_release(&err);
	return ret;
}

int gate_conf_setting(struct gate_conf_group *g, const char *key, void **setting)
{
	config_setting_t *s = lookup(g, key);

	if (!s)
		return 0;
	*setting = s;
	return 1;
}

static void report_unknown(struct gate_conf_group *g, const char *what)
{
	int i, n = config_setting_length(g->s);

	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(g->s, (unsigned)i);
		const char *name = config_setting_name(e);
		if (name && !gate_strvec_contains(&g->known, name)) {
			struct gate_buf list = GATE_BUF_INIT;
			size_t k;
			for (k = 0; k < g->known.nr; k++)
				gate_buf_addf(&list, "%s%s", k ? ", " : "", g->known.v[k]);
			diagf(g->diag, e, "unknown key '%s' in %s (known: %s)", name, what, gate_buf_cstr(&list));
			g->errors++;
			gate_buf_release(&list);
		}
	}
}

/* Canonical text of a setting, for check digests. */
/*
 * `top`: s is a check definition itself, whose 'hint' (words for the
 * pusher) does not change what the check means.
 */
static void digest_setting(struct gate_buf *b, const config_setting_t *s, int top)
{
	int i, n;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		gate_buf_addch(b, config_setting_type(s) == CONFIG_TYPE_GROUP ? '{' : '[');
		n = config_setting_length(s);
		for (i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			if (top && config_setting_name(e) && !strcmp(config_setting_name(e), "hint"))
				continue;
			if (config_setting_name(e))
				gate_buf_addf(b, "%s=", config_setting_name(e));
			digest_setting(b, e, 0);
			gate_buf_addch(b, ';');
		}
		gate_buf_addch(b, config_setting_type(s) == CONFIG_TYPE_GROUP ? '}' : ']');
		break;
	case CONFIG_TYPE_INT:
		gate_buf_addf(b, "%d", config_setting_get_int(s));
		break;
	case CONFIG_TYPE_INT64:
		gate_buf_addf(b, "%lld", (long long)config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		gate_buf_addf(b, "%.17g", config_setting_get_float(s));
		break;
	case CONFIG_TYPE_BOOL:
		gate_buf_adds(b, config_setting_get_bool(s) ? "true" : "false");
		break;
	case CONFIG_TYPE_STRING: {
		const char *p = config_setting_get_string(s);
		gate_buf_addf(b, "%zu:", strlen(p));
		gate_buf_adds(b, p);
		break;
	}
	}
}

static void rule_release(struct gate_rule *r)
{
	gate_strvec_clear(&r->refs);
	free(r->checks);
	gate_strvec_clear(&r->exempt_users);
	gate_strvec_clear(&r->exempt_checks);
	gate_strvec_clear(&r->bypass_users);
}

static void check_def_release(struct gate_check_def *d)
{
	if (d->type && d->type->free && d->data)
		d->type->free(d->data);
	free(d->name);
	free(d->digest);
	free(d->hint);
}

void gate_config_free(struct gate_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nrules; i++)
		rule_release(&cfg->rules[i]);
	free(cfg->rules);
	for (i = 0; i < cfg->nchecks; i++)
		check_def_release(&cfg->checks[i]);
	free(cfg->checks);
	for (i = 0; i < cfg->ngroups; i++) {
		free(cfg->groups[i].name);
		gate_strvec_clear(&cfg->groups[i].members);
	}
	free(cfg->groups);
	free(cfg->file);
	gate_strvec_clear(&cfg->files);
	free(cfg->audit_log);
	free(cfg->status_dir);
	free(cfg->workspace);
	free(cfg->cache_dir);
	free(cfg->log_dir);
	free(cfg->meta_ref);
	gate_strvec_clear(&cfg->meta_users);
	free(cfg->system_file);
	free(cfg->repo_file);
	gate_strvec_clear(&cfg->warnings);
	gate_strvec_clear(&cfg->risks);
	gate_strvec_clear(&cfg->notes);
	gate_strvec_clear(&cfg->ignored);
	free(cfg);
}

static struct gate_config *config_new(void)
{
	struct gate_config *cfg = gate_xcalloc(1, sizeof(*cfg));

	cfg->max_findings = 20;
	cfg->max_commands = -1;
	return cfg;
}

/* The interned file name: sources point into cfg->files. */
static const char *intern_file(struct gate_config *cfg, const char *f)
{
	size_t i;

	if (!f)
		return NULL;
	for (i = 0; i < cfg->files.nr; i++)
		if (!strcmp(cfg->files.v[i], f))
			return cfg->files.v[i];
	gate_strvec_push(&cfg->files, f);
	return cfg->files.v[cfg->files.nr - 1];
}

static void set_src(struct gate_config *cfg, struct gate_source *src, const config_setting_t *s)
{
	struct gate_buf tmp = GATE_BUF_INIT;

	src->file = intern_file(cfg, setting_file(s, &tmp));
	src->line = (int)config_setting_source_line(s);
	gate_buf_release(&tmp);
}

/*
 * What to put before a ref pattern that does not start with "refs/":
 * "heads/x" and "tags/x" only lack "refs/", anything else is a branch.
 */
const char *gate_ref_suggestion_prefix(const char *pat)
{
	static const char *const ns[] = { "heads/", "tags/", "notes/", "remotes/", "meta/", "for/", NULL };
	size_t i;

	pat += pat[0] == '/';
	for (i = 0; ns[i]; i++)
		if (!strncmp(pat, ns[i], strlen(ns[i])))
			return "refs/";
	return "refs/heads/";
}

/* Largest 'hint' a check may carry: a line or two of help, not a manual. */
#define HINT_MAX 400

/* Every check's 'hint': the policy author's help shown with its findings. */
static void parse_hint(struct gate_check_def *def, struct gate_conf_group *g)
{
	const char *hint = NULL;
	const char *p;

	if (gate_conf_string(g, "hint", &hint) <= 0)
		return;
	for (p = hint; *p && (unsigned char)*p >= 0x20 && *p != 0x7f; p++)
		;
	if (!*hint || *p)
		gate_conf_error(g, "hint", "it must be one line of text without control characters, e.g. "
					   "hint = \"Start the subject with the ticket, e.g. 'PAY-123: Fix rounding'\"");
	else if (strlen(hint) > HINT_MAX)
		gate_conf_error(g, "hint", "it is %zu bytes long; keep it under %d (say more in a wiki page and "
					   "give its address)",
				strlen(hint), HINT_MAX);
	else
		def->hint = gate_xstrdup(hint);
}

static void parse_checks(struct gate_config *cfg, config_setting_t *checks, struct gate_diag *diag,
			 const char *git_dir, int *errors)
{
	int i, n;

	if (config_setting_type(checks) != CONFIG_TYPE_GROUP) {
		diagf(diag, checks, "'checks' must be a group: checks = { NAME = { type = \"...\"; ... }; }");
		(*errors)++;
		return;
	}
	n = config_setting_length(checks);
	cfg->checks = gate_xcalloc((size_t)n + 1, sizeof(*cfg->checks));
	for (i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(checks, (unsigned)i);
		struct gate_conf_group g = { s, diag, GATE_STRVEC_INIT, git_dir, 0, &cfg->risks };
		struct gate_check_def *def;
		const char *type = NULL;
		struct gate_buf dg = GATE_BUF_INIT;

		if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
			diagf(diag, s, "check '%s' must be a group { type = \"...\"; ... }", config_setting_name(s));
			(*errors)++;
			continue;
		}
		if (gate_conf_string(&g, "type", &type) <= 0) {
			if (!type) {
				struct gate_buf names = GATE_BUF_INIT;
				size_t k;
				for (k = 0; gate_check_types[k]; k++)
					gate_buf_addf(&names, "%s%s", k ? ", " : "", gate_check_types[k]->name);
				diagf(diag, s, "check '%s' has no 'type' (one of: %s)", config_setting_name(s),
				      names.ptr);
				gate_buf_release(&names);
			}
			(*errors)++;
			gate_strvec_clear(&g.known);
			continue;
		}
		def = &cfg->checks[cfg->nchecks];
		def->type = gate_check_type_find(type);
		if (!def->type) {
			struct gate_buf names = GATE_BUF_INIT;
			size_t k;
			for (k = 0; gate_check_types[k]; k++)
				gate_buf_addf(&names, "%s%s", k ? ", " : "", gate_check_types[k]->name);
			diagf(diag, config_setting_get_member(s, "type"), "check '%s': unknown type '%s' (known: %s)",
			      config_setting_name(s), type, names.ptr);
			gate_buf_release(&names);
			(*errors)++;
			def->type = NULL;
			gate_strvec_clear(&g.known);
			continue;
		}
		def->name = gate_xstrdup(config_setting_name(s));
		set_src(cfg, &def->src, s);
		parse_hint(def, &g);
		if (def->type->parse && def->type->parse(&def->data, &g) < 0 && !g.errors) {
			diagf(diag, s, "check '%s' is not valid", def->name);
			g.errors++;
		}
		{
			char what[300];
			snprintf(what, sizeof(what), "check '%s' (type %s)", def->name, def->type->name);
			report_unknown(&g, what);
		}
		digest_setting(&dg, s, 1);
		def->digest = gate_buf_detach(&dg);
		*errors += g.errors;
		gate_strvec_clear(&g.known);
		cfg->nchecks++;
	}
}

static struct gate_check_def *find_check(struct gate_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nchecks; i++)
		if (!strcmp(cfg->checks[i].name, name))
			return &cfg->checks[i];
	return NULL;
}

static int rule_bool(struct gate_conf_group *g, struct gate_config *cfg, const char *key, int *out,
		     struct gate_source *src)
{
	int ret = gate_conf_bool(g, key, out);

	if (ret > 0)
		set_src(cfg, src, config_setting_get_member(g->s, key));
	return ret;
}

static int has_group(const struct gate_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; cfg && i < cfg->ngroups; i++)
		if (!strcmp(cfg->groups[i].name, name))
			return 1;
	return 0;
}

/*
 * Every "@group" in a user list must name a group defined in this file or,
 * for a repository's policy, in the system file: a typo would otherwise
 * silently match nobody, and an undefined name is one a repository file
 * could define.
 */
static void check_group_refs(struct gate_conf_group *g, const struct gate_config *cfg,
			     const struct gate_config *outer, const char *key, const struct gate_strvec *list)
{
	size_t i;

	for (i = 0; i < list->nr; i++) {
		const char *e = list->v[i];
		if (*e != '@')
			continue;
		if (!e[1])
			gate_conf_error(g, key, "'@' must be followed by a group name");
		else if (!has_group(cfg, e + 1) && !has_group(outer, e + 1))
			gate_conf_error(g, key, "no group '%s' is defined under 'groups'%s", e + 1,
					outer ? ""
					      : " (for a repository's file naming the system file's groups: "
						"git gate validate --layered FILE)");
	}
}

static const char *const queue_strategies[] = { "rebase", "merge", "fast-forward", NULL };

const char *gate_queue_strategy_name(enum gate_queue_strategy s)
{
	return queue_strategies[s];
}

/* queue, direct_push, queue_strategy, queue_batch: the merge queue (queue.h) */
static void parse_rule_queue(struct gate_conf_group *g, struct gate_rule *r)
{
	static const char *const meanings[] = { "replay the change's commits onto the branch",
						"a merge commit of the branch and the change",
						"the change must already contain the branch" };
	const char *const keys[] = { "direct_push", "queue_strategy", "queue_batch" };
	long long batch;
	int strategy, set = 0;
	size_t i;

	r->queue_batch = 4;
	gate_conf_bool(g, "queue", &r->queue);
	set |= gate_conf_bool(g, "direct_push", &r->direct_push) > 0;
	if (gate_conf_choice(g, "queue_strategy", queue_strategies, meanings, &strategy) > 0) {
		r->queue_strategy = (enum gate_queue_strategy)strategy;
		set = 1;
	}
	if (gate_conf_int(g, "queue_batch", &batch) > 0) {
		set = 1;
		if (batch < 1 || batch > 64)
			gate_conf_error(g, "queue_batch", "must be between 1 (one change at a time) and 64");
		else
			r->queue_batch = (long)batch;
	}
	if (set && !r->queue)
		for (i = 0; i < GATE_ARRAY_SIZE(keys); i++)
			if (config_setting_get_member(g->s, keys[i]))
				gate_conf_error(g, keys[i], "has no effect without 'queue = true'");
}

static void parse_rule(struct gate_config *cfg, config_setting_t *s, struct gate_diag *diag, const char *git_dir,
		       const struct gate_config *outer, int *errors)
{
	struct gate_conf_group g = { s, diag, GATE_STRVEC_INIT, git_dir, 0, NULL };
	struct gate_rule *r = &cfg->rules[cfg->nrules];
	struct gate_strvec names = GATE_STRVEC_INIT;
	const char *mode = NULL;
	config_setting_t *e;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->mode = GATE_MODE_ENFORCE;
	r->allow_force_push = 1;
	r->allow_delete = 1;
	r->allow_create = 1;
	r->allow_update = 1;
	set_src(cfg, &r->src, s);

	if (gate_conf_globs(&g, "refs", &r->refs) > 0) {
		set_src(cfg, &r->src_refs, config_setting_get_member(s, "refs"));
		for (i = 0; i < r->refs.nr; i++)
			if (strncmp(r->refs.v[i], "refs/", 5) && strcmp(r->refs.v[i], "HEAD"))
				gate_conf_error(&g, "refs", "\"%s\" is not a full ref name (did you mean \"%s%s\"?)",
						r->refs.v[i], gate_ref_suggestion_prefix(r->refs.v[i]),
						r->refs.v[i] + (r->refs.v[i][0] == '/'));
		if (!r->refs.nr)
			gate_conf_error(&g, "refs", "the list is empty, so the rule matches no ref "
					"(e.g. refs = [ \"refs/heads/main\" ];)");
	} else if (!config_setting_get_member(s, "refs")) {
		gate_conf_error(&g, NULL, "rule has no 'refs' (e.g. refs = [ \"refs/heads/main\" ];)");
	}
	if (gate_conf_string(&g, "mode", &mode) > 0) {
		set_src(cfg, &r->src_mode, config_setting_get_member(s, "mode"));
		if (!strcmp(mode, "enforce"))
			r->mode = GATE_MODE_ENFORCE;
		else if (!strcmp(mode, "warn"))
			r->mode = GATE_MODE_WARN;
		else if (!strcmp(mode, "off"))
			r->mode = GATE_MODE_OFF;
		else
			gate_conf_error(&g, "mode", "unknown mode \"%s\" (use \"enforce\", \"warn\" or \"off\")", mode);
	}
	rule_bool(&g, cfg, "allow_force_push", &r->allow_force_push, &r->src_force);
	rule_bool(&g, cfg, "allow_delete", &r->allow_delete, &r->src_delete);
	rule_bool(&g, cfg, "allow_create", &r->allow_create, &r->src_create);
	rule_bool(&g, cfg, "allow_update", &r->allow_update, &r->src_update);
	rule_bool(&g, cfg, "final", &r->final, &r->src_final);
	gate_conf_bool(&g, "run_commands_after_reject", &r->run_expensive_after_reject);
	parse_rule_queue(&g, r);
	if (gate_conf_strings(&g, "exempt_users", &r->exempt_users) > 0) {
		set_src(cfg, &r->src_exempt, config_setting_get_member(s, "exempt_users"));
		check_group_refs(&g, cfg, outer, "exempt_users", &r->exempt_users);
	}
	if (gate_conf_strings(&g, "exempt_checks", &r->exempt_checks) > 0) {
		set_src(cfg, &r->src_exempt_checks, config_setting_get_member(s, "exempt_checks"));
		if (!r->exempt_users.nr)
			gate_conf_error(&g, "exempt_checks", "has no effect without 'exempt_users' (who is exempt?)");
	}
	if (gate_conf_strings(&g, "bypass_users", &r->bypass_users) > 0) {
		set_src(cfg, &r->src_bypass, config_setting_get_member(s, "bypass_users"));
		check_group_refs(&g, cfg, outer, "bypass_users", &r->bypass_users);
	}

	if (gate_conf_strings(&g, "checks", &names) > 0) {
		e = config_setting_get_member(s, "checks");
		set_src(cfg, &r->src_checks, e);
		r->checks = gate_xcalloc(names.nr + 1, sizeof(*r->checks));
		for (i = 0; i < names.nr; i++) {
			struct gate_check_def *d = find_check(cfg, names.v[i]);
			if (!d) {
				gate_conf_error(&g, "checks", "no check named '%s' is defined under 'checks'", names.v[i]);
				continue;
			}
			r->checks[r->nchecks++] = d;
		}
	}
	for (i = 0; i < r->exempt_checks.nr; i++)
		if (!find_check(cfg, r->exempt_checks.v[i]))
			gate_conf_error(&g, "exempt_checks", "no check named '%s' is defined under 'checks'",
					r->exempt_checks.v[i]);
	report_unknown(&g, "rule");
	*errors += g.errors;
	gate_strvec_clear(&g.known);
	gate_strvec_clear(&names);
	cfg->nrules++;
}

static void parse_groups(struct gate_config *cfg, config_setting_t *s, struct gate_diag *diag, int *errors)
{
	int i, n;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		diagf(diag, s, "'groups' must be a group: groups = { NAME = [ \"user\", ... ]; }");
		(*errors)++;
		return;
	}
	n = config_setting_length(s);
	cfg->groups = gate_xcalloc((size_t)n + 1, sizeof(*cfg->groups));
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct gate_group *gr = &cfg->groups[cfg->ngroups];
		if (read_strings(diag, e, config_setting_name(e), &gr->members, errors) < 0) {
			gate_strvec_clear(&gr->members);
			continue;
		}
		gr->name = gate_xstrdup(config_setting_name(e));
		cfg->ngroups++;
	}
}

static void top_string(struct gate_conf_group *g, const char *key, char **out)
{
	const char *v;

	if (gate_conf_string(g, key, &v) > 0) {
		free(*out);
		*out = gate_xstrdup(v);
	}
}

/* Top-level keys that configure the server, not the policy. */
static const char *const server_keys[] = {
	"audit_log", "audit_required", "audit_syslog", "workspace", "cache_dir", "log_dir", "jobs",
	"meta_ref", "meta_users", "meta_allow_commands", "hook_timeout", "status_dir", "max_concurrent_commands",
};

/*
 * In a policy stored in the repository, the signature check's trust
 * stores must stay inside $GIT_DIR: whoever may push the policy ref must
 * not point gpg or ssh-keygen at a directory of their choice on the server.
 */
static int repository_paths_only(struct gate_diag *diag, config_setting_t *root, const struct gate_check_def *d,
				 const char *name)
{
	static const char *const keys[] = { "allowed_signers", "keyring", "gnupg_home" };
	config_setting_t *checks = config_setting_get_member(root, "checks");
	config_setting_t *cs = checks ? config_setting_get_member(checks, d->name) : NULL;
	size_t k;
	int errors = 0;

	for (k = 0; cs && k < GATE_ARRAY_SIZE(keys); k++) {
		config_setting_t *v = config_setting_get_member(cs, keys[k]);
		const char *p = v ? config_setting_get_string(v) : NULL;
		if (!p)
			continue;
		if (*p == '/' || !strcmp(p, "..") || !strncmp(p, "../", 3) || strstr(p, "/../") ||
		    gate_ends_with(p, "/..")) {
			gate_diag_addf(diag, name, (int)config_setting_source_line(v),
				       "check '%s': '%s' must be a path inside the repository's git directory (no "
				       "leading '/', no '..') in a policy stored in the repository",
				       d->name, keys[k]);
			errors++;
		}
	}
	return errors;
}

/*
 * Whoever may push a policy stored in the repository must not be able to
 * turn the sandbox off: that would give them the hook account's rights.
 */
static int repository_sandboxed(struct gate_diag *diag, config_setting_t *root, const struct gate_check_def *d,
				const char *name)
{
	config_setting_t *checks = config_setting_get_member(root, "checks");
	config_setting_t *cs = checks ? config_setting_get_member(checks, d->name) : NULL;
	config_setting_t *v = cs ? config_setting_get_member(cs, "sandbox") : NULL;
	const char *p = v ? config_setting_get_string(v) : NULL;

	if (!p || strcmp(p, "none"))
		return 0;
	gate_diag_addf(diag, name, (int)config_setting_source_line(v),
		       "check '%s': sandbox = \"none\" cannot be set in a policy stored in the repository (it would "
		       "run pushed code with the hook account's rights); only the system file can",
		       d->name);
	return 1;
}

static int load_parsed(struct gate_config **out, config_t *c, const char *name,
		       const struct gate_policy_load_opts *o, struct gate_diag *diag)
{
	struct gate_config *cfg = config_new();
	config_setting_t *root = config_root_setting(c), *s;
	const char *git_dir = o->git_dir;
	struct gate_conf_group g = { root, diag, GATE_STRVEC_INIT, git_dir, 0, &cfg->risks };
	long long v;
	int errors = 0, i, n;
	size_t k;

	cfg->file = name ? gate_xstrdup(name) : NULL;
	intern_file(cfg, name);

	/* Checks first: rules refer to them by name. */
	if (gate_conf_setting(&g, "checks", (void **)&s) > 0)
		parse_checks(cfg, s, diag, git_dir, &errors);
	if (gate_conf_setting(&g, "groups", (void **)&s) > 0)
		parse_groups(cfg, s, diag, &errors);
	if (gate_conf_setting(&g, "rules", (void **)&s) > 0) {
		if (config_setting_type(s) != CONFIG_TYPE_LIST) {
			diagf(diag, s, "'rules' must be a list of groups: rules = ( { refs = [...]; ... } );");
			errors++;
		} else {
			n = config_setting_length(s);
			cfg->rules = gate_xcalloc((size_t)n + 1, sizeof(*cfg->rules));
			for (i = 0; i < n; i++) {
				config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
				if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
					diagf(diag, e, "each rule must be a group { refs = [...]; ... }");
					errors++;
					continue;
				}
				parse_rule(cfg, e, diag, git_dir, o->system, &errors);
			}
		}
	}
	top_string(&g, "audit_log", &cfg->audit_log);
	top_string(&g, "status_dir", &cfg->status_dir);
	gate_conf_bool(&g, "audit_required", &cfg->audit_required);
	top_string(&g, "workspace", &cfg->workspace);
	top_string(&g, "cache_dir", &cfg->cache_dir);
	top_string(&g, "log_dir", &cfg->log_dir);
	top_string(&g, "meta_ref", &cfg->meta_ref);
	gate_conf_strings(&g, "meta_users", &cfg->meta_users);
	gate_conf_bool(&g, "meta_allow_commands", &cfg->meta_allow_commands);
	gate_conf_bool(&g, "audit_syslog", &cfg->audit_syslog);
	if (cfg->status_dir && !*cfg->status_dir)
		gate_conf_error(&g, "status_dir", "is empty; leave it out to write no status site");
	if (cfg->audit_log && !*cfg->audit_log)
		gate_conf_error(&g, "audit_log", "is empty; write \"off\" to turn the audit log off");
	if (cfg->meta_ref)
		(void)gate_conf_full_ref(&g, "meta_ref", cfg->meta_ref, "refs/", "refs/meta/");
	if (cfg->meta_ref && !cfg->meta_users.nr)
		gate_conf_error(&g, "meta_ref", "needs 'meta_users': who may change the policy stored in '%s'",
				cfg->meta_ref);
	check_group_refs(&g, cfg, o->system, "meta_users", &cfg->meta_users);
	if (o->in_repository) {
		/* a policy anyone with push access to the ref controls must not steer the server */
		for (k = 0; k < GATE_ARRAY_SIZE(server_keys); k++)
			if (config_setting_get_member(root, server_keys[k]))
				gate_conf_error(&g, server_keys[k],
						"is a server setting and cannot be set in a policy stored in the "
						"repository (it belongs in the system file)");
		for (k = 0; k < cfg->nchecks; k++) {
			const struct gate_check_def *d = &cfg->checks[k];
			if (!o->allow_commands && d->type && !strcmp(d->type->name, "command")) {
				gate_diag_addf(diag, d->src.file ? d->src.file : name, d->src.line,
					       "check '%s': checks of type command run programs on the server and "
					       "cannot be defined in a policy stored in the repository unless the "
					       "system file sets meta_allow_commands = true",
					       d->name);
				errors++;
			}
			if (d->type && !strcmp(d->type->name, "signature"))
				errors += repository_paths_only(diag, root, d, name);
			if (d->type && !strcmp(d->type->name, "command"))
				errors += repository_sandboxed(diag, root, d, name);
		}
	}
	if (gate_conf_int(&g, "jobs", &v) > 0) {
		if (v < 0 || v > 1024)
			gate_conf_error(&g, "jobs", "must be between 0 (number of cores) and 1024");
		else
			cfg->jobs = (long)v;
	}
	if (gate_conf_int(&g, "max_concurrent_commands", &v) > 0) {
		if (v < 0 || v > 4096)
			gate_conf_error(&g, "max_concurrent_commands", "must be between 0 (no cap) and 4096");
		else
			cfg->max_commands = (long)v;
	}
	{
		int64_t t;
		if (gate_conf_duration(&g, "hook_timeout", &t) > 0) {
			if (t < 1 || t > GATE_DEADLINE_MAX)
				gate_conf_error(&g, "hook_timeout", "must be between 1 second and 24 hours");
			else
				cfg->hook_timeout = (long)t;
		}
	}
	if (gate_conf_int(&g, "max_findings", &v) > 0) {
		if (v < 1 || v > 100000)
			gate_conf_error(&g, "max_findings", "must be between 1 and 100000");
		else
			cfg->max_findings = (long)v;
	}
	report_unknown(&g, "the policy");
	errors += g.errors;
	gate_strvec_clear(&g.known);

	if (errors) {
		gate_config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

static void init_libconfig(config_t *c, const char *file)
{
	config_init(c);
	/* @include resolves next to the including file, not the hook's cwd. */
	if (file) {
		const char *slash = strrchr(file, '/');
		if (slash) {
			char *dir = gate_xstrndup(file, (size_t)(slash - file) + (slash == file));
			config_set_include_dir(c, dir);
			free(dir);
		}
	}
}

/* Line `line` (from 1) of `text` into `out` (without its newline); 0 when the text is shorter. */
static int text_line(const char *text, int line, struct gate_buf *out)
{
	const char *p = text, *e;
	int n;

	for (n = 1; p && n < line; n++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p || !*p)
		return 0;
	e = strchr(p, '\n');
	gate_buf_add(out, p, e ? (size_t)(e - p) : strlen(p));
	return 1;
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '*';
}

/*
 * The setting names on a line ("name =" or "name :"), in order, into
 * `names` (each as its own string).
 */
static void names_on_line(const char *l, struct gate_strvec *names)
{
	const char *p = l;

	while (*p) {
		const char *q, *r;
		if (*p == '"') { /* skip strings */
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p)
				p++;
			continue;
		}
		if (*p == '#' || (*p == '/' && (p[1] == '/' || p[1] == '*')))
			return;
		if (!is_name_char(*p) || (p > l && is_name_char(p[-1]))) {
			p++;
			continue;
		}
		for (q = p; is_name_char(*q); q++)
			;
		for (r = q; *r == ' ' || *r == '\t'; r++)
			;
		if ((*r == '=' && r[1] != '=') || *r == ':') {
			char *n = gate_xstrndup(p, (size_t)(q - p));
			gate_strvec_push(names, n);
			free(n);
		}
		p = q;
	}
}

/* A value that is a bare word where a string was meant: mode = enforce; */
static int bare_word(const char *l, struct gate_buf *key, struct gate_buf *word)
{
	const char *p;

	for (p = l; (p = strpbrk(p, "=:")) != NULL; p++) {
		const char *k = p, *w = p + 1, *we;
		while (k > l && (k[-1] == ' ' || k[-1] == '\t'))
			k--;
		if (k == l || !is_name_char(k[-1]))
			continue;
		while (*w == ' ' || *w == '\t')
			w++;
		if (!((*w >= 'a' && *w <= 'z') || (*w >= 'A' && *w <= 'Z')))
			continue;
		for (we = w; is_name_char(*we) || *we == '.' || *we == '/'; we++)
			;
		if ((we - w == 4 && !strncasecmp(w, "true", 4)) || (we - w == 5 && !strncasecmp(w, "false", 5)))
			continue;
		gate_buf_reset(key);
		for (p = k; p > l && is_name_char(p[-1]); p--)
			;
		gate_buf_add(key, p, (size_t)(k - p));
		gate_buf_add(word, w, (size_t)(we - w));
		return 1;
	}
	return 0;
}

/*
 * libconfig says only "syntax error" or "duplicate setting name": say
 * which key, what is expected, and quote the line (`text` is the whole
 * policy text, `line` where libconfig stopped).
 */
static void explain_parse_error(struct gate_buf *out, const char *raw, const char *text, int line)
{
	struct gate_buf l = GATE_BUF_INIT, prev = GATE_BUF_INIT, key = GATE_BUF_INIT, word = GATE_BUF_INIT;
	struct gate_strvec names = GATE_STRVEC_INIT;
	const char *t;
	int have = text_line(text, line, &l), n;
	size_t i, j;

	for (n = line - 1; n > 0; n--) {
		gate_buf_reset(&prev);
		text_line(text, n, &prev);
		for (t = prev.ptr; t && (*t == ' ' || *t == '\t'); t++)
			;
		if (t && *t)
			break;
	}
	t = l.ptr ? l.ptr : "";
	while (*t == ' ' || *t == '\t')
		t++;
	if (strstr(raw, "duplicate setting")) {
		const char *dup = NULL;
		int first = 0;
		names_on_line(t, &names);
		for (i = 0; i < names.nr && !dup; i++)
			for (j = 0; j < i && !dup; j++)
				if (!strcmp(names.v[i], names.v[j]))
					dup = names.v[i], first = line;
		if (!dup && names.nr) {
			dup = names.v[0];
			for (n = line - 1; n > 0 && !first; n--) {
				struct gate_strvec before = GATE_STRVEC_INIT;
				gate_buf_reset(&prev);
				text_line(text, n, &prev);
				names_on_line(gate_buf_cstr(&prev), &before);
				if (gate_strvec_contains(&before, dup))
					first = n;
				gate_strvec_clear(&before);
			}
		}
		if (dup && first)
			gate_buf_addf(out, "'%s' is set twice in the same group (also at line %d): each key may appear "
					   "once in a group; merge the two or remove one",
				      dup, first);
		else if (dup)
			gate_buf_addf(out, "'%s' is set twice in the same group: each key may appear once in a group; "
					   "merge the two or remove one",
				      dup);
		else
			gate_buf_adds(out, "a key is set twice in the same group: each key may appear once in a group");
	} else if (!strstr(raw, "syntax error")) {
		gate_buf_adds(out, raw);
	} else if (!have) {
		gate_buf_adds(out, "syntax error: the file ends before every '(', '[' and '{' is closed: a closing "
				   "')', ']' or '}' (and ';') is missing above");
	} else if (strchr(t, '\'')) {
		gate_buf_adds(out, "syntax error: strings are written in double quotes (\"...\"), not single quotes");
	} else if (strstr(t, "==")) {
		gate_buf_adds(out, "syntax error: a key and its value are joined by one '=' (or ':'), not '=='");
	} else if (bare_word(t, &key, &word)) {
		gate_buf_addf(out, "syntax error: the value of '%s' is a word without quotes: strings are written in "
				   "double quotes (%s = \"%s\";)",
			      key.ptr, key.ptr, word.ptr);
	} else if (t[0] == '{' && prev.len && prev.ptr[prev.len - 1] == '}') {
		gate_buf_addf(out, "syntax error: a comma is missing between two groups of a list: end line %d with "
				   "'},'",
			      n);
	} else if (strstr(t, "} {") || strstr(t, "}{")) {
		gate_buf_adds(out, "syntax error: a comma is missing between two groups of a list ('}, {')");
	} else if (strstr(t, ", ]") || strstr(t, ",]") || strstr(t, ", )") || strstr(t, ",)")) {
		gate_buf_adds(out, "syntax error: a list cannot end with a comma: remove the last ','");
	} else if (strchr(t, '[') && strchr(t, ';') && strchr(t, ';') < strchr(t, ']' ) && strchr(t, '[') < strchr(t, ';')) {
		gate_buf_adds(out, "syntax error: the elements of a list [ ... ] are separated by commas, not ';'");
	} else {
		gate_buf_adds(out, "syntax error: expected settings as KEY = VALUE; (strings in double quotes, lists "
				   "in [ ], groups in { }, lists of groups in ( ) separated by commas; key names are "
				   "letters, digits, '-', '_' and '*')");
	}
	if (have) {
		size_t len = strlen(t);
		while (len && (t[len - 1] == ' ' || t[len - 1] == '\t' || t[len - 1] == '\r'))
			len--;
		gate_buf_addf(out, "; the line: %.*s%s", (int)(len > 120 ? 120 : len), t, len > 120 ? "..." : "");
	}
	gate_buf_release(&l);
	gate_buf_release(&prev);
	gate_buf_release(&key);
	gate_buf_release(&word);
	gate_strvec_clear(&names);
}

static void syntax_error(config_t *c, const char *name, const char *string, struct gate_diag *diag)
{
	struct gate_buf tmp = GATE_BUF_INIT;
	const char *f = resolve_file(config_error_file(c), name, config_get_include_dir(c), &tmp);

	const char *text = config_error_text(c);
	struct gate_buf file = GATE_BUF_INIT, err = GATE_BUF_INIT, msg = GATE_BUF_INIT;
	const char *dir = config_get_include_dir(c);
	int line = config_error_line(c);

	/*
	 * libconfig only says "cannot open include file": name it, and say
	 * where libconfig 1.5 looked (every @include, nested or absolute, is
	 * taken from the first file's directory).
	 */
	if (text && strstr(text, "include") && f && line > 0 && gate_read_file(&file, f, &err) == 0) {
		const char *p = file.ptr, *q, *e;
		int n;
		for (n = 1; p && n < line; n++) {
			p = strchr(p, '\n');
			if (p)
				p++;
		}
		q = p ? strstr(p, "@include") : NULL;
		e = p ? strchr(p, '\n') : NULL;
		if (q && (!e || q < e) && (q = strchr(q, '"')) && (e = strchr(q + 1, '"'))) {
			gate_diag_addf(diag, f, line,
				       "cannot open included file \"%.*s\" (looked for it in %s: @include names are "
				       "taken from the directory of the first policy file, also in nested includes, and "
				       "cannot be absolute)",
				       (int)(e - q - 1), q + 1, dir && *dir ? dir : "the current directory");
			goto out;
		}
	}
	if (text && line > 0 && (string || (f && !file.len && gate_read_file(&file, f, &err) == 0) || file.len)) {
		explain_parse_error(&msg, text, string && !config_error_file(c) ? string : gate_buf_cstr(&file), line);
		gate_diag_addf(diag, f ? f : name, line, "%s", msg.ptr);
		goto out;
	}
	gate_diag_addf(diag, f ? f : name, line, "%s", text);
out:
	gate_buf_release(&file);
	gate_buf_release(&err);
	gate_buf_release(&tmp);
	gate_buf_release(&msg);
}

/*
 * A policy stored in the repository may not read files of the server:
 * libconfig 1.5 cannot turn @include off, so refuse the text instead.
 */
static int find_include(const char *text, const char *name, struct gate_diag *diag)
{
	const char *p = text;
	int line = 1, found = 0;

	while (*p) {
		const char *q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		if (!strncmp(q, "@include", 8)) {
			gate_diag_addf(diag, name, line,
				       "@include is not allowed in a policy stored in the repository "
				       "(it would read files of the server)");
			found++;
		}
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
		line++;
	}
	return found;
}

static int load_file_opts(struct gate_config **out, const char *file, const struct gate_policy_load_opts *o,
			  struct gate_diag *diag);

static int load_file_for(struct gate_config **out, const char *file, const char *git_dir, struct gate_diag *diag)
{
	struct gate_policy_load_opts o;

	memset(&o, 0, sizeof(o));
	o.git_dir = git_dir;
	return load_file_opts(out, file, &o, diag);
}

/*
 * Why libconfig could not read `file`: it clobbers errno on the way out
 * (a directory read as "No such file or directory"), so ask again.
 */
static int read_errno(const char *file)
{
	struct stat st;
	int fd;

	if (stat(file, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	close(fd);
	return EIO;
}

static int load_file_opts(struct gate_config **out, const char *file, const struct gate_policy_load_opts *o,
			  struct gate_diag *diag)
{
	config_t c;
	int ret;

	if (access(file, F_OK) < 0 && errno == ENOENT)
		return GATE_ENOTFOUND;
	/* what libconfig would hang on or misread: FIFOs, NUL bytes, include cycles */
	init_libconfig(&c, file);
	ret = gate_policy_file_check(file, config_get_include_dir(&c), diag);
	config_destroy(&c);
	if (ret == GATE_ENOTFOUND)
		return ret;
	if (ret)
		return -1;
	if (o->in_repository) {
		struct gate_buf text = GATE_BUF_INIT, err = GATE_BUF_INIT;
		ret = gate_read_file(&text, file, &err);
		if (ret == 0)
			ret = gate_policy_load_string_opts(out, gate_buf_cstr(&text), file, o, diag);
		else if (ret != GATE_ENOTFOUND)
			gate_diag_addf(diag, file, 0, "%s", err.ptr);
		gate_buf_release(&text);
		gate_buf_release(&err);
		return ret;
	}
	init_libconfig(&c, file);
	if (config_read_file(&c, file) != CONFIG_TRUE) {
		if (config_error_type(&c) == CONFIG_ERR_FILE_IO && !config_error_file(&c))
			gate_diag_addf(diag, file, 0, "cannot read the policy: %s", strerror(read_errno(file)));
		else
			syntax_error(&c, file, NULL, diag);
		config_destroy(&c);
		return -1;
	}
	ret = load_parsed(out, &c, file, o, diag);
	config_destroy(&c);
	return ret;
}

int gate_policy_load_file(struct gate_config **out, const char *file, struct gate_diag *diag)
{
	return load_file_for(out, file, NULL, diag);
}

int gate_policy_load_string(struct gate_config **out, const char *text, const char *name, struct gate_diag *diag)
{
	struct gate_policy_load_opts o;

	memset(&o, 0, sizeof(o));
	return gate_policy_load_string_opts(out, text, name, &o, diag);
}

int gate_policy_load_file_opts(struct gate_config **out, const char *file, const struct gate_policy_load_opts *o,
			       struct gate_diag *diag)
{
	return load_file_opts(out, file, o, diag);
}

int gate_policy_load_string_opts(struct gate_config **out, const char *text, const char *name,
				 const struct gate_policy_load_opts *o, struct gate_diag *diag)
{
	config_t c;
	int ret;

	const char *saved = diag->name;

	if (o->in_repository && find_include(text, name, diag))
		return -1;
	if (gate_policy_text_check(name, text, strlen(text), diag))
		return -1;
	init_libconfig(&c, NULL);
	diag->name = name;
	if (config_read_string(&c, text) != CONFIG_TRUE) {
		syntax_error(&c, name, text, diag);
		config_destroy(&c);
		diag->name = saved;
		return -1;
	}
	ret = load_parsed(out, &c, name, o, diag);
	diag->name = saved;
	config_destroy(&c);
	return ret;
}

struct gate_config *gate_policy_default(const char *default_branch)
{
	struct gate_config *cfg = config_new();
	struct gate_rule *r;

	cfg->is_default = 1;
	cfg->rules = gate_xcalloc(1, sizeof(*cfg->rules));
	r = &cfg->rules[0];
	gate_strvec_push(&r->refs, default_branch ? default_branch : "refs/heads/main");
	r->mode = GATE_MODE_ENFORCE;
	r->allow_force_push = 0;
	r->allow_delete = 0;
	r->allow_create = 1;
	r->allow_update = 1;
	cfg->nrules = 1;
	return cfg;
}

/*
 * The object `rev` names: a 40-hex object id, or a full ref name looked up
 * exactly (git_revparse would also try refs/heads/REV and refs/tags/REV,
 * which any pusher can create).  GATE_ENOTFOUND when there is no such ref.
 */
static int meta_object(git_object **out, struct git_repository *repo, const char *rev, struct gate_buf *err)
{
	git_reference *ref = NULL;
	git_oid oid;
	int r;

	if (gate_is_hex_oid(rev)) {
		if (git_oid_fromstr(&oid, rev) < 0 || git_object_lookup(out, repo, &oid, GIT_OBJECT_ANY) < 0)
			return gate_error(err, "cannot read object %s: %s", rev, gate_git_error());
		return 0;
	}
	if (!gate_ref_name_valid(rev))
		return gate_error(err, "'%s' is not a full ref name (the policy ref is looked up by its exact name)",
				  rev);
	r = git_reference_lookup(&ref, repo, rev);
	if (r == GIT_ENOTFOUND)
		return GATE_ENOTFOUND;
	if (r < 0)
		return gate_error(err, "cannot read ref '%s': %s", rev, gate_git_error());
	if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
		gate_error(err,
			   "'%s' is a symbolic ref (to '%s'): the policy ref must be a plain ref, or whoever may push "
			   "its target would control the policy",
			   rev, git_reference_symbolic_target(ref));
		git_reference_free(ref);
		return -1;
	}
	r = git_object_lookup(out, repo, git_reference_target(ref), GIT_OBJECT_ANY);
	git_reference_free(ref);
	if (r < 0)
		return gate_error(err, "cannot read what '%s' points at: %s", rev, gate_git_error());
	return 0;
}

int gate_policy_read_meta_in(struct gate_buf *out, struct git_repository *repo, const char *rev,
			     struct gate_buf *err)
{
	git_object *obj = NULL, *tree = NULL;
	const git_tree_entry *e;
	git_blob *blob = NULL;
	const char *data;
	size_t len;
	int ret = -1, r;

	r = meta_object(&obj, repo, rev, err);
	if (r == GATE_ENOTFOUND) {
		ret = GATE_ENOTFOUND;
		goto out;
	}
	if (r < 0)
		goto out;
	if (git_object_peel(&tree, obj, GIT_OBJECT_TREE) < 0) {
		gate_error(err, "'%s' does not lead to a tree: %s", rev,
			   gate_git_error());
		goto out;
	}
	e = git_tree_entry_byname((git_tree *)tree, "git-gate.conf");
	if (!e) {
		ret = GATE_ENOTFOUND;
		goto out;
	}
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB || git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
		gate_error(err, "git-gate.conf in '%s' is not a regular file", rev);
		goto out;
	}
	if (git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0) {
		gate_error(err, "cannot read git-gate.conf in '%s': %s", rev,
			   gate_git_error());
		goto out;
	}
	data = git_blob_rawcontent(blob);
	len = (size_t)git_blob_rawsize(blob);
	if (len > GATE_POLICY_MAX_META) {
		gate_error(err, "git-gate.conf in '%s' is larger than %d bytes", rev, GATE_POLICY_MAX_META);
		goto out;
	}
	if (memchr(data, '\0', len)) {
		gate_error(err, "git-gate.conf in '%s' holds a NUL byte: it is not a policy text", rev);
		goto out;
	}
	gate_buf_add(out, data, len);
	ret = 0;
out:
	git_blob_free(blob);
	git_object_free(tree);
	git_object_free(obj);
	git_error_clear();
	return ret;
}

int gate_policy_read_meta(struct gate_buf *out, const char *git_dir, const char *rev, struct gate_buf *err)
{
	git_repository *repo = NULL;
	int ret;

	git_libgit2_init();
	if (git_repository_open_ext(&repo, git_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		ret = gate_error(err, "cannot open repository '%s': %s", git_dir,
				 gate_git_error());
		git_error_clear();
	} else {
		ret = gate_policy_read_meta_in(out, repo, rev, err);
		git_repository_free(repo);
	}
	git_libgit2_shutdown();
	return ret;
}

/* The repository's layer from the system file's meta_ref. */
static int load_meta_layer(struct gate_config **out, const struct gate_config *sys, const char *git_dir,
			   struct gate_diag *diag)
{
	struct gate_buf text = GATE_BUF_INIT, err = GATE_BUF_INIT;
	struct gate_policy_load_opts o;
	char *name = gate_xstrfmt("%s:git-gate.conf", sys->meta_ref);
	int ret;

	ret = gate_policy_read_meta(&text, git_dir, sys->meta_ref, &err);
	if (ret < 0 && ret != GATE_ENOTFOUND)
		gate_diag_addf(diag, name, 0, "%s", gate_buf_cstr(&err));
	if (ret == 0) {
		memset(&o, 0, sizeof(o));
		o.git_dir = git_dir;
		o.system = sys;
		o.in_repository = 1;
		o.allow_commands = sys->meta_allow_commands;
		ret = gate_policy_load_string_opts(out, gate_buf_cstr(&text), name, &o, diag);
	}
	free(name);
	gate_buf_release(&text);
	gate_buf_release(&err);
	return ret;
}

int gate_policy_find(struct gate_config **out, const char *git_dir, const char *default_branch,
		     struct gate_diag *diag)
{
	const char *env = getenv("GIT_GATE_CONFIG");
	const char *repo_env = getenv("GIT_GATE_REPO_CONFIG");
	const char *sys_file = gate_policy_system_file();
	struct gate_config *sys = NULL, *repo = NULL;
	struct gate_policy_load_opts o;
	char *ignored = NULL, *why = NULL;
	int ret;

	if (env && *env) {
		ret = load_file_for(out, env, git_dir, diag);
		if (ret == GATE_ENOTFOUND) {
			gate_diag_addf(diag, env, 0, "policy file named by GIT_GATE_CONFIG does not exist");
			ret = -1;
		}
		if (ret == 0)
			(*out)->system_file = gate_xstrdup(env); /* it stands for the system file */
		return ret;
	}
	if (repo_env && !*repo_env)
		repo_env = NULL;
	ret = load_file_for(&sys, sys_file, git_dir, diag);
	if (ret < 0 && ret != GATE_ENOTFOUND)
		return -1;
	if (sys)
		sys->system_file = gate_xstrdup(sys_file);
	if (sys && sys->meta_ref && git_dir) {
		ret = load_meta_layer(&repo, sys, git_dir, diag);
	} else if (repo_env || git_dir) {
		char *repo_file = repo_env ? gate_xstrdup(repo_env) : gate_xstrfmt("%s/git-gate.conf", git_dir);
		memset(&o, 0, sizeof(o));
		o.git_dir = git_dir;
		o.system = sys;
		ret = load_file_opts(&repo, repo_file, &o, diag);
		if (ret == GATE_ENOTFOUND && repo_env) {
			/* named on purpose: a missing file must not mean "no policy" */
			gate_diag_addf(diag, repo_env, 0, "policy file named by GIT_GATE_REPO_CONFIG does not exist");
			ret = -1;
		}
		free(repo_file);
	} else {
		ret = 0;
	}
	if (ret < 0 && ret != GATE_ENOTFOUND) {
		gate_config_free(sys);
		return -1;
	}
	if (!sys && !repo) {
		*out = gate_policy_default(default_branch);
		return 0;
	}
	ignored = !sys || !sys->meta_ref ? NULL
		  : repo_env		 ? gate_xstrdup(repo_env)
		  : git_dir		 ? gate_xstrfmt("%s/git-gate.conf", git_dir)
					 : NULL;
	if (ignored && access(ignored, F_OK) == 0)
		why = gate_xstrfmt("%s: ignored: the system file %s sets meta_ref = \"%s\", so this repository's "
				   "policy is git-gate.conf in that ref; move the file's rules there",
				   ignored, sys_file, sys->meta_ref);
	ret = gate_policy_layer(out, sys, repo, diag);
	if (ret == 0 && why)
		gate_strvec_push(&(*out)->ignored, why);
	free(ignored);
	free(why);
	return ret;
}

static const struct gate_rule *first_match(const struct gate_rule *rules, size_t n, const char *ref)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < rules[i].refs.nr; j++)
			if (gate_glob_match(rules[i].refs.v[j], ref, 0))
				return &rules[i];
	return NULL;
}

const struct gate_rule *gate_config_rule_for(const struct gate_config *cfg, const char *ref)
{
	const struct gate_rule *s, *r;
	size_t i, nfinal = 0, ri;

	if (!cfg->layered)
		return first_match(cfg->rules, cfg->nrules, ref);
	/* each file's own first match ... */
	s = first_match(cfg->rules, cfg->nsystem_rules, ref);
	r = first_match(cfg->rules + cfg->nsystem_rules, cfg->nrepo_rules, ref);
	/* ... the repository's wins unless the system's is final */
	if (!s || !s->final)
		return r ? r : s;
	if (!r)
		return s;
	for (i = 0; i < (size_t)(s - cfg->rules); i++)
		nfinal += cfg->rules[i].final != 0;
	ri = (size_t)(r - (cfg->rules + cfg->nsystem_rules));
	return &cfg->rules[cfg->nsystem_rules + cfg->nrepo_rules + nfinal * cfg->nrepo_rules + ri];
}

int gate_rule_runs(const struct gate_rule *rule, const struct gate_check_def *def)
{
	size_t i;

	if (!rule || rule->mode == GATE_MODE_OFF)
		return 0;
	for (i = 0; i < rule->nchecks; i++)
		if (rule->checks[i] == def)
			return 1;
	return 0;
}

int gate_rule_enforces(const struct gate_rule *rule, const struct gate_check_def *def)
{
	return rule && rule->mode == GATE_MODE_ENFORCE && gate_rule_runs(rule, def);
}

int gate_config_user_in(const struct gate_config *cfg, const struct gate_strvec *list, const char *user)
{
	size_t i, j, k;

	if (!user)
		return 0;
	for (i = 0; i < list->nr; i++) {
		const char *e = list->v[i];
		if (*e != '@') {
			if (!strcmp(e, user))
				return 1;
			continue;
		}
		for (j = 0; j < cfg->ngroups; j++) {
			if (strcmp(cfg->groups[j].name, e + 1))
				continue;
			for (k = 0; k < cfg->groups[j].members.nr; k++)
				if (!strcmp(cfg->groups[j].members.v[k], user))
					return 1;
		}
	}
	return 0;
}

int gate_rule_exempts(const struct gate_config *cfg, const struct gate_rule *rule, const char *user,
		      const struct gate_check_def *def)
{
	if (!rule || !rule->exempt_users.nr || !gate_config_user_in(cfg, &rule->exempt_users, user))
		return 0;
	if (!rule->exempt_checks.nr)
		return 1;
	return def && gate_strvec_contains(&rule->exempt_checks, def->name);
}

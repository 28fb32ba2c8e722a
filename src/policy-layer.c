/*
 * Layered policy: the system file and the repository's policy both apply
 * (git-gate.conf(5), LAYERED POLICY).
 *
 * For a ref, each file's first matching rule is found (S in the system
 * file, R in the repository's).  When S is final, the effective rule is S
 * combined with R so that nothing gets weaker: allow_* are ANDed, the
 * stricter mode wins, the checks are the union, and exemptions and bypass
 * come from S alone.  Otherwise R applies when there is one, else S (the
 * system's non-final rules are defaults for refs the repository's rules
 * do not cover).  The combined rules are built here, once, for every
 * (final system rule, repository rule) pair, so that gate_config_rule_for
 * stays a lookup and every rule still points into one checks array.
 */
#include "config.h"
#include "policy.h"

#include <stdlib.h>
#include <string.h>

#include "glob.h"

#include "banned.h"

/* Move the strings of `from` to the end of `to` (no copies: sources point at them). */
static void move_strvec(struct gate_strvec *to, struct gate_strvec *from)
{
	size_t i;

	for (i = 0; i < from->nr; i++) {
		GATE_ALLOC_GROW(to->v, to->nr + 2, to->alloc);
		to->v[to->nr++] = from->v[i];
		to->v[to->nr] = NULL;
	}
	free(from->v);
	memset(from, 0, sizeof(*from));
}

static void copy_strvec(struct gate_strvec *to, const struct gate_strvec *from)
{
	size_t i;

	for (i = 0; i < from->nr; i++)
		gate_strvec_push(to, from->v[i]);
}

static const char *find_file(const struct gate_strvec *files, const char *name)
{
	size_t i;

	for (i = 0; name && i < files->nr; i++)
		if (!strcmp(files->v[i], name))
			return files->v[i];
	return NULL;
}

/* Text loaded from a string has no file in its sources: name its layer. */
static void fix_src(struct gate_source *src, const char *file)
{
	if (!src->file && src->line > 0)
		src->file = file;
}

static void fix_rule_srcs(struct gate_rule *r, const char *file)
{
	fix_src(&r->src, file);
	fix_src(&r->src_refs, file);
	fix_src(&r->src_mode, file);
	fix_src(&r->src_force, file);
	fix_src(&r->src_delete, file);
	fix_src(&r->src_create, file);
	fix_src(&r->src_update, file);
	fix_src(&r->src_checks, file);
	fix_src(&r->src_exempt, file);
	fix_src(&r->src_bypass, file);
	fix_src(&r->src_exempt_checks, file);
	fix_src(&r->src_final, file);
}

static void at(struct gate_buf *b, const struct gate_source *src, const char *fallback)
{
	const char *f = src->file ? src->file : fallback ? fallback : "<policy>";

	if (src->line > 0)
		gate_buf_addf(b, "%s:%d", f, src->line);
	else
		gate_buf_adds(b, f);
}

static void addf_at(struct gate_strvec *list, const struct gate_source *src, const char *fallback,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void addf_at(struct gate_strvec *list, const struct gate_source *src, const char *fallback,
		    const char *fmt, ...)
{
	struct gate_buf b = GATE_BUF_INIT;
	va_list ap;

	at(&b, src, fallback);
	gate_buf_adds(&b, ": ");
	va_start(ap, fmt);
	gate_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	gate_strvec_push(list, b.ptr);
	gate_buf_release(&b);
}

static size_t literal_prefix(const char *p)
{
	return strcspn(p, "*?[\\");
}

/*
 * Whether some ref could match a pattern of both lists.  Exact for a
 * literal against a glob; for two globs, a conservative guess from their
 * literal prefixes (a false "yes" only costs a message).
 */
static int pattern_overlaps(const char *x, const struct gate_strvec *b)
{
	size_t j;

	for (j = 0; j < b->nr; j++) {
		const char *y = b->v[j];
		size_t lx = literal_prefix(x), ly = literal_prefix(y), n = lx < ly ? lx : ly;
		if (!strcmp(x, y) || gate_glob_match(x, y, 0) || gate_glob_match(y, x, 0))
			return 1;
		if (x[lx] && y[ly] && !strncmp(x, y, n))
			return 1;
	}
	return 0;
}

static int patterns_overlap(const struct gate_strvec *a, const struct gate_strvec *b)
{
	size_t i;

	for (i = 0; i < a->nr; i++)
		if (pattern_overlaps(a->v[i], b))
			return 1;
	return 0;
}

/*
 * Whether pattern `pe` matches every ref `pf` matches: for a literal `pf`
 * exactly; for a glob only when provably (the same pattern, or `pe` is
 * "PREFIX/" followed by a double star and `pf` starts with that prefix).
 */
static int pattern_covers(const char *pe, const char *pf)
{
	size_t le = literal_prefix(pe);

	if (!strcmp(pe, pf))
		return 1;
	if (!pf[literal_prefix(pf)])
		return gate_glob_match(pe, pf, 0);
	return le > 0 && pe[le - 1] == '/' && !strcmp(pe + le, "**") && !strncmp(pe, pf, le);
}

/*
 * Whether the repository rules before `r` (rules[first .. r)) take every
 * ref of final rule `f` that `r` could match: then `r` never applies to
 * those refs and cannot weaken `f` (say a warn rule for all branches after
 * the repository's own rule for main).
 */
static int shadowed(const struct gate_rule *first, const struct gate_rule *f, const struct gate_rule *r)
{
	size_t i, k;
	const struct gate_rule *e;

	for (i = 0; i < f->refs.nr; i++) {
		int covered = 0;
		if (!pattern_overlaps(f->refs.v[i], &r->refs))
			continue;
		for (e = first; e < r && !covered; e++)
			for (k = 0; k < e->refs.nr && !covered; k++)
				covered = pattern_covers(e->refs.v[k], f->refs.v[i]);
		if (!covered)
			return 0;
	}
	return 1;
}

static void fix_bool(int *v, struct gate_source *src, int fv, const struct gate_source *fsrc, int rv,
		     const struct gate_source *rsrc)
{
	*v = fv && rv;
	if (!fv)
		*src = *fsrc;
	else if (!rv || rsrc->line > 0)
		*src = *rsrc;
	else
		*src = *fsrc;
}

static void combine(struct gate_rule *c, const struct gate_rule *f, const struct gate_rule *r)
{
	size_t i, j;

	memset(c, 0, sizeof(*c));
	c->layer = GATE_LAYER_COMBINED;
	c->final_rule = f;
	c->repo_rule = r;
	c->final = 1;
	c->src = f->src;
	c->src_final = f->src_final;
	copy_strvec(&c->refs, &f->refs);
	c->src_refs = f->src_refs;
	/* the stricter mode: enforce < warn < off in the enum */
	if (r->mode < f->mode) {
		c->mode = r->mode;
		c->src_mode = r->src_mode;
	} else {
		c->mode = f->mode;
		c->src_mode = f->src_mode.line > 0 || r->mode != f->mode || r->src_mode.line == 0 ? f->src_mode
												     : r->src_mode;
	}
	fix_bool(&c->allow_force_push, &c->src_force, f->allow_force_push, &f->src_force, r->allow_force_push,
		 &r->src_force);
	fix_bool(&c->allow_delete, &c->src_delete, f->allow_delete, &f->src_delete, r->allow_delete, &r->src_delete);
	fix_bool(&c->allow_create, &c->src_create, f->allow_create, &f->src_create, r->allow_create, &r->src_create);
	fix_bool(&c->allow_update, &c->src_update, f->allow_update, &f->src_update, r->allow_update, &r->src_update);
	/* checks: the union, the final rule's first */
	c->checks = gate_xcalloc(f->nchecks + r->nchecks + 1, sizeof(*c->checks));
	for (i = 0; i < f->nchecks; i++)
		c->checks[c->nchecks++] = f->checks[i];
	for (i = 0; i < r->nchecks; i++) {
		for (j = 0; j < c->nchecks; j++)
			if (c->checks[j] == r->checks[i])
				break;
		if (j == c->nchecks)
			c->checks[c->nchecks++] = r->checks[i];
	}
	c->src_checks = f->src_checks.line > 0 || !r->nchecks ? f->src_checks : r->src_checks;
	/* who is let off: the final rule alone decides */
	copy_strvec(&c->exempt_users, &f->exempt_users);
	copy_strvec(&c->exempt_checks, &f->exempt_checks);
	copy_strvec(&c->bypass_users, &f->bypass_users);
	c->src_exempt = f->src_exempt;
	c->src_exempt_checks = f->src_exempt_checks;
	c->src_bypass = f->src_bypass;
	c->run_expensive_after_reject = f->run_expensive_after_reject || r->run_expensive_after_reject;
	/* the merge queue: the final rule's when it has one, else the repository's */
	{
		const struct gate_rule *q = f->queue ? f : r;
		c->queue = q->queue;
		c->direct_push = q->direct_push;
		c->queue_strategy = q->queue_strategy;
		c->queue_batch = q->queue_batch;
	}
}

static void weakening(struct gate_config *m, const struct gate_rule *f, const struct gate_rule *r)
{
	struct gate_buf where = GATE_BUF_INIT;
	static const char *const allow_names[] = { "allow_force_push", "allow_delete", "allow_create",
						   "allow_update" };
	const int fv[] = { f->allow_force_push, f->allow_delete, f->allow_create, f->allow_update };
	const int rv[] = { r->allow_force_push, r->allow_delete, r->allow_create, r->allow_update };
	const struct gate_source *rs[] = { &r->src_force, &r->src_delete, &r->src_create, &r->src_update };
	size_t i;

	at(&where, &f->src, m->system_file);
	if (r->src_mode.line > 0 && r->mode > f->mode)
		addf_at(&m->warnings, &r->src_mode, m->repo_file,
			"'mode = \"%s\"' weakens final rule at %s (mode \"%s\"); ignored for the refs both match",
			gate_mode_name(r->mode), where.ptr, gate_mode_name(f->mode));
	for (i = 0; i < GATE_ARRAY_SIZE(allow_names); i++)
		if (rs[i]->line > 0 && rv[i] && !fv[i])
			addf_at(&m->warnings, rs[i], m->repo_file,
				"'%s = true' weakens final rule at %s; ignored for the refs both match", allow_names[i],
				where.ptr);
	if (r->exempt_users.nr)
		addf_at(&m->warnings, r->src_exempt.line ? &r->src_exempt : &r->src, m->repo_file,
			"'exempt_users' weakens final rule at %s; only the final rule's exemptions apply to its "
			"refs, so this is ignored for the refs both match",
			where.ptr);
	if (r->bypass_users.nr)
		addf_at(&m->warnings, r->src_bypass.line ? &r->src_bypass : &r->src, m->repo_file,
			"'bypass_users' weakens final rule at %s; only the final rule's bypass_users apply to its "
			"refs, so this is ignored for the refs both match",
			where.ptr);
	gate_buf_release(&where);
}

static int has_group(const struct gate_config *cfg, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(cfg->groups[i].name, name))
			return 1;
	return 0;
}

/* Server settings the repository layer cannot carry. */
static void drop_meta(struct gate_config *repo, struct gate_strvec *warnings, const char *file)
{
	if (repo->meta_ref || repo->meta_users.nr || repo->meta_allow_commands) {
		struct gate_source src = { file, 0 };
		addf_at(warnings, &src, file,
			"'meta_ref', 'meta_users' and 'meta_allow_commands' are honoured only in the system "
			"file; ignored here");
	}
	free(repo->meta_ref);
	repo->meta_ref = NULL;
	gate_strvec_clear(&repo->meta_users);
	repo->meta_allow_commands = 0;
}


/* Checks, rules and groups were moved into the layered policy: free only their arrays, not them. */
static void drop_moved(struct gate_config *c)
{
	free(c->checks);
	c->checks = NULL;
	c->nchecks = 0;
	free(c->rules);
	c->rules = NULL;
	c->nrules = 0;
	free(c->groups);
	c->groups = NULL;
	c->ngroups = 0;
}

int gate_policy_layer(struct gate_config **out, struct gate_config *sys, struct gate_config *repo,
		      struct gate_diag *diag)
{
	struct gate_config *m;
	const char *sys_name, *repo_name;
	size_t ns, nr, nfinal = 0, i, j, k, base;

	(void)diag;
	if (!repo) {
		*out = sys;
		return 0;
	}
	if (!sys) {
		if (!repo->repo_file && repo->file)
			repo->repo_file = gate_xstrdup(repo->file);
		drop_meta(repo, &repo->warnings, repo->file);
		*out = repo;
		return 0;
	}

	m = gate_xcalloc(1, sizeof(*m));
	m->layered = 1;
	m->file = gate_xstrfmt("%s + %s", sys->file ? sys->file : "system", repo->file ? repo->file : "repository");
	m->system_file = sys->system_file ? sys->system_file : sys->file ? gate_xstrdup(sys->file) : NULL;
	sys->system_file = NULL;
	m->repo_file = gate_xstrdup(repo->file ? repo->file : "repository");
	move_strvec(&m->files, &sys->files);
	move_strvec(&m->files, &repo->files);
	sys_name = find_file(&m->files, sys->file);
	repo_name = find_file(&m->files, repo->file);
	move_strvec(&m->warnings, &sys->warnings);
	move_strvec(&m->warnings, &repo->warnings);
	move_strvec(&m->notes, &sys->notes);
	move_strvec(&m->notes, &repo->notes);
	move_strvec(&m->risks, &sys->risks);
	move_strvec(&m->risks, &repo->risks);
	drop_meta(repo, &m->warnings, m->repo_file);

	/* checks: one array; a repository check named like a system one is renamed */
	m->checks = gate_xcalloc(sys->nchecks + repo->nchecks + 1, sizeof(*m->checks));
	for (i = 0; i < sys->nchecks; i++) {
		m->checks[m->nchecks] = sys->checks[i];
		fix_src(&m->checks[m->nchecks].src, sys_name);
		m->nchecks++;
	}
	for (i = 0; i < repo->nchecks; i++) {
		struct gate_check_def *d = &m->checks[m->nchecks];
		*d = repo->checks[i];
		fix_src(&d->src, repo_name);
		for (j = 0; j < sys->nchecks; j++) {
			if (strcmp(sys->checks[j].name, d->name))
				continue;
			{
				struct gate_buf where = GATE_BUF_INIT;
				char *renamed = gate_xstrfmt("repo:%s", d->name);
				at(&where, &m->checks[j].src, m->system_file);
				addf_at(&m->notes, &d->src, m->repo_file,
					"check '%s' is also defined by the system file (%s); the repository's is "
					"called '%s' in reports",
					d->name, where.ptr, renamed);
				free(d->name);
				d->name = renamed;
				gate_buf_release(&where);
			}
			break;
		}
		m->nchecks++;
	}

	/* groups: the system's, then the repository's that do not clash */
	m->groups = gate_xcalloc(sys->ngroups + repo->ngroups + 1, sizeof(*m->groups));
	for (i = 0; i < sys->ngroups; i++)
		m->groups[m->ngroups++] = sys->groups[i];
	for (i = 0; i < repo->ngroups; i++) {
		if (has_group(m, sys->ngroups, repo->groups[i].name)) {
			struct gate_source src = { repo_name, 0 };
			addf_at(&m->warnings, &src, m->repo_file,
				"group '%s' is defined by the system file; the repository cannot redefine it "
				"(ignored)",
				repo->groups[i].name);
			free(repo->groups[i].name);
			gate_strvec_clear(&repo->groups[i].members);
			continue;
		}
		m->groups[m->ngroups++] = repo->groups[i];
	}

	/* rules: the system's, the repository's, then the combinations */
	ns = sys->nrules;
	nr = repo->nrules;
	for (i = 0; i < ns; i++)
		nfinal += sys->rules[i].final != 0;
	m->rules = gate_xcalloc(ns + nr + nfinal * nr + 1, sizeof(*m->rules));
	m->nsystem_rules = ns;
	m->nrepo_rules = nr;
	for (i = 0; i < ns; i++) {
		struct gate_rule *r = &m->rules[i];
		*r = sys->rules[i];
		r->layer = GATE_LAYER_SYSTEM;
		fix_rule_srcs(r, sys_name);
		for (k = 0; k < r->nchecks; k++)
			r->checks[k] = &m->checks[r->checks[k] - sys->checks];
	}
	for (i = 0; i < nr; i++) {
		struct gate_rule *r = &m->rules[ns + i];
		*r = repo->rules[i];
		r->layer = GATE_LAYER_REPO;
		fix_rule_srcs(r, repo_name);
		for (k = 0; k < r->nchecks; k++)
			r->checks[k] = &m->checks[sys->nchecks + (size_t)(r->checks[k] - repo->checks)];
		/* exempt_checks follow a renamed check */
		for (k = 0; k < r->exempt_checks.nr; k++) {
			for (j = sys->nchecks; j < m->nchecks; j++) {
				const char *n = m->checks[j].name;
				if (!strncmp(n, "repo:", 5) && !strcmp(n + 5, r->exempt_checks.v[k])) {
					free(r->exempt_checks.v[k]);
					r->exempt_checks.v[k] = gate_xstrdup(n);
					break;
				}
			}
		}
		if (r->final) {
			addf_at(&m->notes, &r->src_final, m->repo_file,
				"'final' has a meaning only in the system file; ignored here");
			r->final = 0;
		}
	}
	base = ns + nr;
	m->nrules = base;
	for (i = 0; i < ns; i++) {
		const struct gate_rule *f = &m->rules[i];
		if (!f->final)
			continue;
		for (j = 0; j < nr; j++) {
			const struct gate_rule *r = &m->rules[ns + j];
			combine(&m->rules[m->nrules++], f, r);
			if (patterns_overlap(&f->refs, &r->refs) && !shadowed(&m->rules[ns], f, r))
				weakening(m, f, r);
		}
	}

	/* top-level settings: the server's belong to the system file */
	m->audit_log = sys->audit_log ? sys->audit_log : repo->audit_log;
	if (sys->audit_log)
		free(repo->audit_log);
	sys->audit_log = repo->audit_log = NULL;
	m->status_dir = sys->status_dir ? sys->status_dir : repo->status_dir;
	if (sys->status_dir)
		free(repo->status_dir);
	sys->status_dir = repo->status_dir = NULL;
	m->audit_required = sys->audit_required || repo->audit_required;
	m->audit_syslog = sys->audit_syslog || repo->audit_syslog;
#define PREFER_REPO(field)                                   \
	do {                                                 \
		m->field = repo->field ? repo->field : sys->field; \
		if (repo->field)                             \
			free(sys->field);                    \
		repo->field = sys->field = NULL;             \
	} while (0)
	PREFER_REPO(workspace);
	PREFER_REPO(cache_dir);
	PREFER_REPO(log_dir);
#undef PREFER_REPO
	m->jobs = repo->jobs ? repo->jobs : sys->jobs;
	/* a server-wide cap: the system file's wins */
	m->max_commands = sys->max_commands >= 0 ? sys->max_commands : repo->max_commands;
	/* a server setting: the system file's, when it has one */
	m->hook_timeout = sys->hook_timeout ? sys->hook_timeout : repo->hook_timeout;
	m->max_findings = repo->max_findings != 20 ? repo->max_findings : sys->max_findings;
	m->meta_ref = sys->meta_ref;
	sys->meta_ref = NULL;
	m->meta_users = sys->meta_users;
	memset(&sys->meta_users, 0, sizeof(sys->meta_users));
	m->meta_allow_commands = sys->meta_allow_commands;

	drop_moved(sys);
	drop_moved(repo);
	gate_config_free(sys);
	gate_config_free(repo);
	*out = m;
	return 0;
}

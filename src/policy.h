#ifndef GATE_POLICY_H
#define GATE_POLICY_H

/*
 * The policy: rules that say what may happen to which refs, and the named
 * checks they run.  Loaded from a libconfig file (git-gate.conf(5)),
 * validated strictly (every unknown key, wrong type, unknown check and bad
 * pattern is reported as FILE:LINE), or built in when there is no file.
 *
 * Lifecycle: gate_policy_load() fills a struct gate_config,
 * gate_config_free() releases it.  The config is immutable afterwards and
 * passed around as `const struct gate_config *`.
 */

#include "check.h"
#include "diag.h"
#include "util.h"

enum gate_mode {
	GATE_MODE_ENFORCE,
	GATE_MODE_WARN,
	GATE_MODE_OFF,
};

const char *gate_mode_name(enum gate_mode m);

/* Where a setting came from, for `git gate explain`. */
struct gate_source {
	const char *file; /* NULL: the embedded default */
	int line;
};

struct gate_check_def {
	char *name;
	const struct gate_check_type *type;
	void *data;
	struct gate_source src;
	char *hint;   /* the policy author's help, shown with its findings (key 'hint'), or NULL */
	/* The definition as canonical text (type and every key), so that a
	 * verdict cache can tell when a check's meaning changed. */
	char *digest;
};

enum gate_queue_strategy {
	GATE_QUEUE_REBASE,       /* the item's commits replayed onto main */
	GATE_QUEUE_MERGE,        /* a merge commit of main and the item */
	GATE_QUEUE_FAST_FORWARD, /* main moves to the item itself; it must contain main */
};

const char *gate_queue_strategy_name(enum gate_queue_strategy s);

struct gate_rule {
	struct gate_strvec refs;
	enum gate_mode mode;
	int allow_force_push;
	int allow_delete;
	int allow_create;
	int allow_update;
	struct gate_check_def **checks; /* point into gate_config.checks */
	size_t nchecks;
	int final;                      /* system rules a repository cannot weaken */
	struct gate_strvec exempt_users;  /* users (or @group) exempt ... */
	struct gate_strvec exempt_checks; /* ... from these checks, or all when empty */
	struct gate_strvec bypass_users;  /* may push with -o gate.bypass=REASON */
	int run_expensive_after_reject;   /* start commands even when a cheap check failed */
	/* The merge queue (queue.h): changes arrive through refs/for/<branch>. */
	int queue;                        /* changes to these refs go through the queue */
	int direct_push;                  /* ... and may still be pushed directly */
	enum gate_queue_strategy queue_strategy;
	long queue_batch;                 /* items tested together, at most */
	struct gate_source src;
	/* Per-key sources; line 0 when the key was not set (a default). */
	struct gate_source src_refs, src_mode, src_force, src_delete, src_create, src_update,
		src_checks, src_exempt, src_bypass;
	/* Layered policy (see gate_policy_layer): which file the rule is from,
	 * and for a combined rule the two rules it combines. */
	int layer;                        /* GATE_LAYER_* */
	const struct gate_rule *final_rule; /* GATE_LAYER_COMBINED: the system's final rule */
	const struct gate_rule *repo_rule;  /* ... and the repository's rule added to it */
	struct gate_source src_exempt_checks, src_final;
};

enum {
	GATE_LAYER_SINGLE = 0, /* one file: no layering */
	GATE_LAYER_SYSTEM,     /* from the system file */
	GATE_LAYER_REPO,       /* from the repository's file (or refs/meta/gate) */
	GATE_LAYER_COMBINED,   /* a final system rule with a repository rule added */
};

struct gate_group {
	char *name;
	struct gate_strvec members;
};

struct gate_config {
	char *file;            /* the main file read, or NULL for the default */
	struct gate_strvec files; /* every file read (includes, layers) */
	struct gate_rule *rules;
	size_t nrules;
	struct gate_check_def *checks;
	size_t nchecks;
	struct gate_group *groups;
	size_t ngroups;
	char *audit_log;       /* NULL: the built-in default */
	int audit_required;    /* reject when the audit log cannot be written */
	char *workspace;       /* where command checks check out trees */
	char *cache_dir;       /* verdict cache; NULL: $GIT_DIR/git-gate/cache */
	char *log_dir;         /* command logs; NULL: $GIT_DIR/git-gate/logs */
	long jobs;             /* parallel command checks; 0: number of cores */
	long max_commands;     /* max_concurrent_commands: -1 unset (number of cores), 0 no cap */
	long max_findings;     /* per check in a report */
	long hook_timeout;     /* seconds the hook may take, command checks aside; 0: the default */
	int is_default;
	/* Policy stored in the repository itself (issue: policy as code). */
	char *meta_ref;
	struct gate_strvec meta_users;
	int meta_allow_commands;  /* command checks allowed in the meta_ref policy */
	int audit_syslog;         /* also send each audit record to syslog */
	char *status_dir;         /* refresh the status site there after each decision, or NULL */
	/*
	 * Layered policy: rules[0 .. nsystem_rules) are the system file's,
	 * the next nrepo_rules the repository's, then one combined rule for
	 * every (final system rule, repository rule) pair; see
	 * gate_config_rule_for.  All 0 for a single file.
	 */
	int layered;
	size_t nsystem_rules, nrepo_rules;
	char *system_file;        /* the file acting as the system layer, or NULL */
	char *repo_file;          /* the repository's layer: a path or "REF:git-gate.conf" */
	/* Settings the repository layer tried to weaken (FILE:LINE: ...):
	 * reported by `git gate validate`, never in effect. */
	struct gate_strvec warnings;
	struct gate_strvec notes; /* informational, e.g. a renamed check */
	/* Settings in effect that put the server at risk (FILE:LINE: ...),
	 * e.g. sandbox = "none": warned about, valid. */
	struct gate_strvec risks;
	/* Policy files that exist but are not read, each "FILE: why" (e.g. a
	 * repository's git-gate.conf when the system file sets meta_ref):
	 * said by validate, explain and the audit log. */
	struct gate_strvec ignored;
};

/*
 * Read and validate `file` into a new config.  Every problem goes to
 * `diag`; returns 0 when the file is valid, -1 when any problem was found
 * (then *out is NULL), GATE_ENOTFOUND when the file does not exist.
 */
int gate_policy_load_file(struct gate_config **out, const char *file, struct gate_diag *diag);

/* Parse a policy given as text (for tests and refs/meta/gate). */
int gate_policy_load_string(struct gate_config **out, const char *text, const char *name,
			    struct gate_diag *diag);

/* How to load a policy file or text; see gate_policy_load_file_opts. */
struct gate_policy_load_opts {
	const char *git_dir;               /* the repository it is for, or NULL */
	const struct gate_config *system;  /* the system layer: its groups may be named */
	int in_repository;                 /* stored in the repository (refs/meta/gate):
					      no @include, no server settings */
	int allow_commands;                /* with in_repository: command checks allowed */
};

int gate_policy_load_file_opts(struct gate_config **out, const char *file, const struct gate_policy_load_opts *o,
			       struct gate_diag *diag);
int gate_policy_load_string_opts(struct gate_config **out, const char *text, const char *name,
				 const struct gate_policy_load_opts *o, struct gate_diag *diag);

/*
 * Layer a repository's policy over the system's (git-gate.conf(5),
 * LAYERED POLICY).  Takes ownership of both (either may be NULL).  A
 * system rule marked final cannot be weakened: for a ref it matches, the
 * repository's matching rule can only add to it.  Settings that try to
 * weaken it land in (*out)->warnings and have no effect.  Returns 0, or
 * -1 with diagnostics (then both are freed).
 */
int gate_policy_layer(struct gate_config **out, struct gate_config *sys, struct gate_config *repo,
		      struct gate_diag *diag);

/*
 * Read the policy text stored in `rev` (the file git-gate.conf at the top
 * of its tree) of the repository at `git_dir`.  `rev` is a 40-hex object
 * id or a full ref name, looked up by exactly that name: no
 * refs/heads/REV or refs/tags/REV fallback, and a symbolic ref is refused.
 * GATE_ENOTFOUND when the ref or the file does not exist.
 */
int gate_policy_read_meta(struct gate_buf *out, const char *git_dir, const char *rev, struct gate_buf *err);
/* The same from an open repository (e.g. one that sees a push's quarantine). */
struct git_repository;
int gate_policy_read_meta_in(struct gate_buf *out, struct git_repository *repo, const char *rev,
			     struct gate_buf *err);

/* Largest policy text read from a ref. */
#define GATE_POLICY_MAX_META (1024 * 1024)

/*
 * The embedded default: protects `default_branch` (e.g. refs/heads/main)
 * from force-push and deletion and nothing else.
 */
struct gate_config *gate_policy_default(const char *default_branch);

/*
 * Find the policy a repository is judged by: GIT_GATE_CONFIG when set
 * (alone); else the system file and the repository's policy layered
 * (gate_policy_layer), the repository's being GIT_DIR/git-gate.conf, or
 * when the system file names a `meta_ref`, git-gate.conf in that ref's
 * tree; else whichever of the two exists; else the embedded default for
 * `default_branch`.  Returns 0, or -1 with diagnostics.
 */
int gate_policy_find(struct gate_config **out, const char *git_dir, const char *default_branch,
		     struct gate_diag *diag);

/*
 * What a ref name or pattern without "refs/" probably lacks: "refs/" for
 * "heads/x", "tags/x" and the like, else "refs/heads/" (a branch).  A
 * leading '/' of `name` is to be dropped.
 */
const char *gate_ref_suggestion_prefix(const char *name);

/* The compiled-in path of the system-wide policy. */
const char *gate_policy_system_file(void);

void gate_config_free(struct gate_config *cfg);

/* The first rule whose refs match `ref`, or NULL. */
const struct gate_rule *gate_config_rule_for(const struct gate_config *cfg, const char *ref);

/* Whether `rule` runs the check `def`. */
int gate_rule_runs(const struct gate_rule *rule, const struct gate_check_def *def);
/* Whether `rule` runs `def` in enforce mode (a failure rejects). */
int gate_rule_enforces(const struct gate_rule *rule, const struct gate_check_def *def);

/* Whether `user` is named in `list` directly or through an @group. */
int gate_config_user_in(const struct gate_config *cfg, const struct gate_strvec *list, const char *user);

/* Whether `rule` exempts `user` from check `def` (or from the whole rule when def is NULL). */
int gate_rule_exempts(const struct gate_config *cfg, const struct gate_rule *rule, const char *user,
		      const struct gate_check_def *def);

/*
 * Helpers for check types' parse functions.  Each marks its key as known;
 * when the key is present with a wrong type or bad value the problem is
 * recorded and the getter returns -1.  Absent keys return 0 and leave
 * *out alone; present and good ones return 1.
 */
int gate_conf_string(struct gate_conf_group *g, const char *key, const char **out);
int gate_conf_bool(struct gate_conf_group *g, const char *key, int *out);
int gate_conf_int(struct gate_conf_group *g, const char *key, long long *out);
int gate_conf_size(struct gate_conf_group *g, const char *key, uint64_t *out);
int gate_conf_duration(struct gate_conf_group *g, const char *key, int64_t *out);
int gate_conf_strings(struct gate_conf_group *g, const char *key, struct gate_strvec *out);
/* A string list of globs, each checked for well-formedness. */
int gate_conf_globs(struct gate_conf_group *g, const char *key, struct gate_strvec *out);
/*
 * A string that must be one of `choices` (NULL-terminated): *out is its
 * index.  The error names the choices and what each means (`meanings`,
 * parallel to choices).
 */
int gate_conf_choice(struct gate_conf_group *g, const char *key, const char *const *choices,
		     const char *const *meanings, int *out);
struct gate_regex;
int gate_conf_regex(struct gate_conf_group *g, const char *key, unsigned flags, struct gate_regex *out);
/* A nested group (e.g. per-pattern limits); returns the raw libconfig setting. */
int gate_conf_setting(struct gate_conf_group *g, const char *key, void **setting);
/*
 * A ref the policy names (meta_ref, a ci-status notes_ref) is looked up by
 * exactly that name, never as refs/heads/NAME or refs/tags/NAME: `value`
 * must be a full, well-formed ref name under `under` ("refs/" for any).
 * Otherwise records a problem suggesting a full name (`dir` + value, e.g.
 * refs/notes/ + "ci") and returns -1.
 */
int gate_conf_full_ref(struct gate_conf_group *g, const char *key, const char *value, const char *under,
		       const char *dir);
/* Record a problem about `key` (or the group when NULL). */
void gate_conf_error(struct gate_conf_group *g, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record a risk of a valid setting (see gate_config.risks) about `key`. */
void gate_conf_warn(struct gate_conf_group *g, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record a problem about a libconfig setting obtained through gate_conf_setting. */
void gate_conf_error_at(struct gate_conf_group *g, const void *setting, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The git directory a policy is being loaded for, or NULL. */
const char *gate_conf_git_dir(struct gate_conf_group *g);

#endif

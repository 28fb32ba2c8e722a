#ifndef GATE_SECRETS_H
#define GATE_SECRETS_H

/*
 * The secret scanner behind the `secrets` check: a set of rules (the
 * built-in table of secrets-rules.c plus patterns from the policy), each
 * an id, a description, literal keywords and a PCRE2 pattern, compiled
 * once into a matcher that finds credentials in blob content.
 *
 * How a scan works, and why it is fast: every keyword of every rule goes
 * into one prefilter (a table of hashed, case-folded 3-byte anchors,
 * probed at every other byte of the content: see secrets.c), so the
 * content is read once whatever the number of rules.  Only where a
 * keyword occurs does a rule's pattern run, and only over the line
 * holding it (or, for rules spanning lines such as private key blocks,
 * the lines that follow).  A rule without keywords runs its pattern over
 * the whole content.
 *
 *   struct gate_secrets *set = gate_secrets_new();
 *   gate_secrets_add_builtins(set, disabled, err);
 *   gate_secrets_add(set, &custom_rule, err);      as often as needed
 *   gate_secrets_compile(set, err);
 *   gate_secrets_scan(set, data, len, &hits, err); any thread, concurrently
 *   gate_secret_hits_release(&hits);
 *   gate_secrets_free(set);
 *
 * The secret a rule finds is its pattern's first capture group when it
 * has one, else the whole match.  A finding is kept when the secret is at
 * least min_entropy bits per byte (Shannon) and, for rules flagged so, is
 * not an obvious placeholder.  Where the secrets of two rules overlap, the
 * rule added first wins (custom patterns, then the built-ins in table
 * order: specific token formats before the generic assignment rule).
 */

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Rule flags. */
#define GATE_SECRET_PLACEHOLDERS 1u /* drop secrets that read like placeholders ("example", "xxxx", ...) */
#define GATE_SECRET_ASSIGNMENT 2u   /* the secret is a value assigned to a key: drop identifiers, paths,
				       URLs and variable references */
#define GATE_SECRET_MULTILINE 4u    /* the pattern may continue over the following lines */

struct gate_secret_rule {
	const char *id;
	const char *description;
	/*
	 * NULL-terminated; NULL or empty: no prefilter.  Bytes match in any
	 * ASCII case; "[...]" is a byte class (ranges, "^" first to negate),
	 * a backslash quotes the next byte.  At least 3 positions; 4 or more keep the
	 * prefilter at every other byte.
	 */
	const char *const *keywords;
	const char *regex;           /* PCRE2 */
	double min_entropy;          /* bits per byte of the secret; 0: no minimum */
	unsigned flags;
};

/* The built-in rules, in priority order; the last entry has a NULL id. */
extern const struct gate_secret_rule gate_secret_builtin_rules[];

/* The built-in rule with this id, or NULL. */
const struct gate_secret_rule *gate_secret_builtin(const char *id);

struct gate_secrets;

struct gate_secret_hit {
	unsigned rule;      /* index in the set (gate_secrets_rule_id) */
	long line;          /* 1-based line where the match starts */
	size_t start, end;  /* the secret's byte span in the content */
	char *secret;       /* a copy of the secret (never printed) */
	size_t secret_len;
};

struct gate_secret_hits {
	struct gate_secret_hit *v;
	size_t nr, alloc;
	int truncated; /* a scan found more than its `max` */
};

#define GATE_SECRET_HITS_INIT { NULL, 0, 0, 0 }

struct gate_secrets *gate_secrets_new(void);
void gate_secrets_free(struct gate_secrets *set);

/*
 * Add the built-in rules whose ids are not in `disabled` (may be NULL).
 * Returns -1 with a message when `disabled` names an unknown rule.
 */
int gate_secrets_add_builtins(struct gate_secrets *set, const struct gate_strvec *disabled, struct gate_buf *err);

/* Add one rule (strings are copied).  -1 with a message on a bad pattern. */
int gate_secrets_add(struct gate_secrets *set, const struct gate_secret_rule *rule, struct gate_buf *err);

/* Build the prefilter; call once after the last add, before scanning. */
int gate_secrets_compile(struct gate_secrets *set, struct gate_buf *err);

size_t gate_secrets_nrules(const struct gate_secrets *set);
const char *gate_secrets_rule_id(const struct gate_secrets *set, unsigned rule);
const char *gate_secrets_rule_description(const struct gate_secrets *set, unsigned rule);

/*
 * Find the secrets in `data` and append them to `hits`, ordered by
 * position; at most `max` of them (0: no limit), setting hits->truncated
 * when there were more.  Safe to call from several threads at once on one
 * set.  Returns 0, or -1 with a message when a pattern could not be
 * matched (e.g. a PCRE2 resource limit).
 */
int gate_secrets_scan(const struct gate_secrets *set, const char *data, size_t len, size_t max,
		      struct gate_secret_hits *hits, struct gate_buf *err);

void gate_secret_hits_release(struct gate_secret_hits *hits);

/* Shannon entropy of `s` in bits per byte (0 for an empty string). */
double gate_secret_entropy(const char *s, size_t len);

/* Whether `s` reads like a placeholder rather than a real secret. */
int gate_secret_is_placeholder(const char *s, size_t len);

/*
 * The fingerprint of a finding: the first 16 hex digits of
 * SHA-256("RULE-ID:PATH:SECRET"), stable across versions and machines.
 */
#define GATE_SECRET_FINGERPRINT_LEN 16
void gate_secret_fingerprint(char out[GATE_SECRET_FINGERPRINT_LEN + 1], const char *rule_id, const char *path,
			     const char *secret, size_t secret_len);

#endif

#include "config.h"

#include <libconfig.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "check-logic.h"
#include "check.h"
#include "policy.h"
#include "regex.h"

#include "banned.h"

/*
 * identity: who each new commit says made it.  Author and committer names
 * and emails must match patterns, the committer may have to be the pusher,
 * and dates may not lie in the future beyond a tolerance.
 */

struct pusher_entry {
	char *user;
	struct gate_strvec emails;
};

struct id_check {
	struct gate_regex author_email, author_name, committer_email, committer_name;
	int committer_is_pusher;
	struct pusher_entry *map;
	size_t nmap;
	int64_t max_future;
	int check_future;
};

static void id_free(void *data)
{
	struct id_check *m = data;
	size_t i;

	if (!m)
		return;
	gate_regex_release(&m->author_email);
	gate_regex_release(&m->author_name);
	gate_regex_release(&m->committer_email);
	gate_regex_release(&m->committer_name);
	for (i = 0; i < m->nmap; i++) {
		free(m->map[i].user);
		gate_strvec_clear(&m->map[i].emails);
	}
	free(m->map);
	free(m);
}

/* A string or an array of strings, each looking like an email address. */
static int read_emails(struct gate_conf_group *g, config_setting_t *s, struct gate_strvec *out)
{
	int i, n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		gate_strvec_push(out, config_setting_get_string(s));
	} else if (config_setting_type(s) == CONFIG_TYPE_ARRAY || config_setting_type(s) == CONFIG_TYPE_LIST) {
		n = config_setting_length(s);
		for (i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			if (config_setting_type(e) != CONFIG_TYPE_STRING) {
				gate_conf_error_at(g, e, "'pusher_emails': emails must be strings");
				return -1;
			}
			gate_strvec_push(out, config_setting_get_string(e));
		}
	} else {
		gate_conf_error_at(g, s, "'pusher_emails': give an email or an array of emails");
		return -1;
	}
	for (i = 0; i < (int)out->nr; i++)
		if (!strchr(out->v[i], '@')) {
			gate_conf_error_at(g, s, "'pusher_emails': \"%s\" is not an email address", out->v[i]);
			return -1;
		}
	return 0;
}

static struct pusher_entry *add_entry(struct id_check *m, const char *user)
{
	struct pusher_entry *e;

	m->map = gate_xrealloc(m->map, (m->nmap + 1) * sizeof(*m->map));
	e = &m->map[m->nmap++];
	e->user = gate_xstrdup(user);
	e->emails = (struct gate_strvec)GATE_STRVEC_INIT;
	return e;
}

/*
 * pusher_emails = { alice = [ "alice@example.com" ]; bob = "bob@example.com"; };
 * or, for user names libconfig cannot take as keys (dots, '@'):
 * pusher_emails = ( { user = "john.doe"; emails = [ "john@example.com" ]; } );
 */
static int parse_pusher_emails(struct gate_conf_group *g, struct id_check *m)
{
	config_setting_t *s = NULL;
	int i, n, bad = 0;

	if (gate_conf_setting(g, "pusher_emails", (void **)&s) <= 0)
		return 0;
	n = config_setting_length(s);
	if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
		for (i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			struct pusher_entry *pe = add_entry(m, config_setting_name(e));
			bad |= read_emails(g, e, &pe->emails) < 0;
		}
	} else if (config_setting_type(s) == CONFIG_TYPE_LIST) {
		for (i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i), *k;
			const char *user = NULL;
			struct pusher_entry *pe;
			int j;

			if (config_setting_type(e) != CONFIG_TYPE_GROUP ||
			    !config_setting_lookup_string(e, "user", &user) ||
			    !(k = config_setting_get_member(e, "emails"))) {
				gate_conf_error_at(g, e,
						   "'pusher_emails': each entry is { user = \"NAME\"; emails = [ ... ]; }");
				bad = 1;
				continue;
			}
			for (j = 0; j < config_setting_length(e); j++) {
				const char *key = config_setting_name(config_setting_get_elem(e, (unsigned)j));
				if (strcmp(key, "user") && strcmp(key, "emails")) {
					gate_conf_error_at(g, config_setting_get_elem(e, (unsigned)j),
							   "'pusher_emails': unknown key '%s' (use user and emails)", key);
					bad = 1;
				}
			}
			pe = add_entry(m, user);
			bad |= read_emails(g, k, &pe->emails) < 0;
		}
	} else {
		gate_conf_error(g, "pusher_emails",
				"must be a group { USER = [ \"EMAIL\", ... ]; } or a list "
				"( { user = \"USER\"; emails = [ ... ]; } )");
		bad = 1;
	}
	return bad ? -1 : 0;
}

static int id_parse(void **data, struct gate_conf_group *g)
{
	struct id_check *m = gate_xcalloc(1, sizeof(*m));
	int bad = 0, r;

	/* no short-circuits: every key must be looked at to be known */
	bad |= gate_conf_regex(g, "author_email", 0, &m->author_email) < 0;
	bad |= gate_conf_regex(g, "author_name", 0, &m->author_name) < 0;
	bad |= gate_conf_regex(g, "committer_email", 0, &m->committer_email) < 0;
	bad |= gate_conf_regex(g, "committer_name", 0, &m->committer_name) < 0;
	bad |= gate_conf_bool(g, "committer_is_pusher", &m->committer_is_pusher) < 0;
	bad |= parse_pusher_emails(g, m) < 0;
	r = gate_conf_duration(g, "max_future", &m->max_future);
	bad |= r < 0;
	m->check_future = r > 0;
	if (!bad && !m->author_email.code && !m->author_name.code && !m->committer_email.code &&
	    !m->committer_name.code && !m->committer_is_pusher && !m->check_future) {
		gate_conf_error(g, NULL,
				"an identity check needs something to check: author_email, author_name, "
				"committer_email, committer_name, committer_is_pusher or max_future");
		bad = 1;
	}
	if (m->nmap && !m->committer_is_pusher) {
		gate_conf_error(g, "pusher_emails", "has no effect without committer_is_pusher = true");
		bad = 1;
	}
	if (bad) {
		id_free(m);
		return -1;
	}
	*data = m;
	return 0;
}

int gate_identity_is_pusher(const char *pusher, const char *name, const char *email,
			    const struct gate_strvec *emails)
{
	const char *at;
	size_t i;

	if (!email)
		email = "";
	if (emails) {
		for (i = 0; i < emails->nr; i++)
			if (!strcasecmp(emails->v[i], email))
				return 1;
		return 0;
	}
	if (!*pusher)
		return 0;
	if (!strcasecmp(pusher, email))
		return 1;
	at = strrchr(email, '@');
	if (at && (size_t)(at - email) == strlen(pusher) && !strncasecmp(pusher, email, (size_t)(at - email)))
		return 1;
	return name && !strcasecmp(pusher, name);
}

void gate_buf_add_duration(struct gate_buf *b, int64_t s)
{
	static const struct {
		int64_t secs;
		const char *one, *many;
	} units[] = {
		{ 365 * 86400, "year", "years" }, { 86400, "day", "days" }, { 3600, "hour", "hours" },
		{ 60, "min", "min" },             { 1, "s", "s" },
	};
	size_t i;

	if (s < 0)
		s = 0;
	for (i = 0; i < GATE_ARRAY_SIZE(units); i++) {
		if (s >= units[i].secs || units[i].secs == 1) {
			int64_t n = s / units[i].secs;
			gate_buf_addf(b, "%lld %s", (long long)n, n == 1 ? units[i].one : units[i].many);
			return;
		}
	}
}

static void add_date(struct gate_buf *b, const struct gate_ident *id)
{
	/* a pushed date may be anything: shift it by the offset only when that cannot overflow */
	int in_range = id->time > INT64_MIN / 2 && id->time < INT64_MAX / 2;
	time_t t = (time_t)(in_range ? id->time + (int64_t)id->tz * 60 : 0);
	struct tm tm;
	char s[64];
	int tz = id->tz < 0 ? -id->tz : id->tz;

	if (!in_range || !gmtime_r(&t, &tm) || !strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm)) {
		gate_buf_addf(b, "@%lld", (long long)id->time);
		return;
	}
	gate_buf_addf(b, "%s %c%02d%02d", s, id->tz < 0 ? '-' : '+', tz / 60, tz % 60);
}

static int check_pattern(const struct gate_check_run *run, const struct gate_commit *c, const struct gate_regex *re,
			 const char *what, const char *value, const char *hint, struct gate_findings *out)
{
	int r;

	if (!re->code)
		return 0;
	r = gate_regex_match(re, value, strlen(value));
	if (r < 0)
		return gate_regex_fail(run->err, re);
	if (!r)
		gate_findings_add(out, c, NULL, 0, hint, "%s '%s' does not match the required pattern \"%s\"", what,
				  value, re->pattern);
	return 0;
}

static void check_future(const struct id_check *m, const struct gate_commit *c, const char *who,
			 const struct gate_ident *id, int64_t now, struct gate_findings *out)
{
	struct gate_buf msg = GATE_BUF_INIT;

	if (id->time <= now || id->time - now <= m->max_future)
		return;
	gate_buf_addf(&msg, "%s date ", who);
	add_date(&msg, id);
	gate_buf_adds(&msg, " is ");
	gate_buf_add_duration(&msg, id->time - now);
	gate_buf_adds(&msg, " in the future (at most ");
	gate_buf_add_duration(&msg, m->max_future);
	gate_buf_adds(&msg, " allowed)");
	gate_findings_add(out, c, NULL, 0,
			  "set the clock of the machine that made the commit right, then re-date the commits: "
			  "git commit --amend --no-edit --reset-author for the last one, or git rebase "
			  "--force-rebase --ignore-date BASE for several",
			  "%s", msg.ptr);
	gate_buf_release(&msg);
}

static int id_commit(const struct gate_check_run *run, const struct gate_commit *c, struct gate_findings *out)
{
	const struct id_check *m = run->data;
	const char *an = c->author.name ? c->author.name : "";
	const char *ae = c->author.email ? c->author.email : "";
	const char *cn = c->committer.name ? c->committer.name : "";
	const char *ce = c->committer.email ? c->committer.email : "";

	if (check_pattern(run, c, &m->author_email, "author email", ae,
			  "set your address (git config user.email YOU@EXAMPLE.COM), then rewrite the author: "
			  "git commit --amend --no-edit --reset-author, or for several commits git rebase -i BASE "
			  "--exec 'git commit --amend --no-edit --reset-author'",
			  out) < 0 ||
	    check_pattern(run, c, &m->author_name, "author name", an,
			  "set your name (git config user.name \"Your Name\"), then rewrite the author: "
			  "git commit --amend --no-edit --reset-author, or for several commits git rebase -i BASE "
			  "--exec 'git commit --amend --no-edit --reset-author'",
			  out) < 0 ||
	    check_pattern(run, c, &m->committer_email, "committer email", ce,
			  "set your address (git config user.email YOU@EXAMPLE.COM), then re-commit: "
			  "git commit --amend --no-edit, or git rebase --force-rebase BASE for several commits",
			  out) < 0 ||
	    check_pattern(run, c, &m->committer_name, "committer name", cn,
			  "set your name (git config user.name \"Your Name\"), then re-commit: "
			  "git commit --amend --no-edit, or git rebase --force-rebase BASE for several commits",
			  out) < 0)
		return -1;

	if (m->committer_is_pusher) {
		const struct gate_strvec *emails = NULL;
		size_t i;

		for (i = 0; i < m->nmap; i++)
			if (!strcmp(m->map[i].user, run->pusher)) {
				emails = &m->map[i].emails;
				break;
			}
		if (!gate_identity_is_pusher(run->pusher, cn, ce, emails)) {
			if (emails)
				gate_findings_add(out, c, NULL, 0,
						  "push only commits you committed, with one of your addresses "
						  "(git config user.email; git rebase --force-rebase BASE re-commits "
						  "them as you)",
						  "committer '%s <%s>' is not the pusher '%s' (not one of the pusher's "
						  "addresses in pusher_emails)",
						  cn, ce, run->pusher);
			else
				gate_findings_add(out, c, NULL, 0,
						  "push only commits you committed (git rebase --force-rebase BASE "
						  "re-commits them as you), or ask the admin to list your addresses "
						  "under pusher_emails",
						  "committer '%s <%s>' is not the pusher '%s' (neither the email, its "
						  "local part nor the name is '%s')",
						  cn, ce, run->pusher, run->pusher);
		}
	}

	if (m->check_future) {
		int64_t now = (int64_t)time(NULL);
		check_future(m, c, "author", &c->author, now, out);
		check_future(m, c, "committer", &c->committer, now, out);
	}
	return 0;
}

const struct gate_check_type gate_check_identity = {
	.name = "identity",
	.summary = "author and committer names and emails, committer is the pusher, no future dates",
	.parse = id_parse,
	.free = id_free,
	.commit = id_commit,
};

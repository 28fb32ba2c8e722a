#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "policy.h"
#include "regex.h"

#include "banned.h"

/*
 * commit-message: the shape of each new commit's message.  A subject of
 * at most subject_max characters, matching `require` and not `forbid`, a
 * blank line before the body, body lines of at most body_max characters,
 * required trailers (Signed-off-by, an issue key), no empty messages.
 */

struct trailer_req {
	char *token;
	struct gate_regex value; /* code NULL: any value */
};

struct msg_check {
	long long subject_max;  /* 0: no limit */
	long long subject_min;
	long long body_max;
	struct gate_regex require, forbid, body_require;
	struct trailer_req *trailers;
	size_t ntrailers;
	int blank_line;         /* require a blank line after the subject */
	int allow_empty;
	int skip_merges;
};

static void msg_free(void *data)
{
	struct msg_check *m = data;
	size_t i;

	if (!m)
		return;
	gate_regex_release(&m->require);
	gate_regex_release(&m->forbid);
	gate_regex_release(&m->body_require);
	for (i = 0; i < m->ntrailers; i++) {
		free(m->trailers[i].token);
		gate_regex_release(&m->trailers[i].value);
	}
	free(m->trailers);
	free(m);
}

static int valid_token(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-'))
			return 0;
	return 1;
}

static int msg_parse(void **data, struct gate_conf_group *g)
{
	struct msg_check *m = gate_xcalloc(1, sizeof(*m));
	struct gate_strvec tr = GATE_STRVEC_INIT;
	size_t i;
	int bad = 0;

	m->blank_line = 1;
	/* no short-circuits: every key must be looked at to be known */
	bad |= gate_conf_int(g, "subject_max", &m->subject_max) < 0;
	bad |= gate_conf_int(g, "subject_min", &m->subject_min) < 0;
	bad |= gate_conf_int(g, "body_max", &m->body_max) < 0;
	if (m->subject_max < 0 || m->subject_min < 0 || m->body_max < 0) {
		gate_conf_error(g, NULL, "lengths must not be negative");
		bad = 1;
	}
	bad |= gate_conf_regex(g, "require", 0, &m->require) < 0;
	bad |= gate_conf_regex(g, "forbid", 0, &m->forbid) < 0;
	bad |= gate_conf_regex(g, "body_require", GATE_REGEX_MULTILINE, &m->body_require) < 0;
	bad |= gate_conf_bool(g, "blank_line", &m->blank_line) < 0;
	bad |= gate_conf_bool(g, "allow_empty", &m->allow_empty) < 0;
	bad |= gate_conf_bool(g, "skip_merges", &m->skip_merges) < 0;
	if (gate_conf_strings(g, "require_trailers", &tr) < 0)
		bad = 1;
	m->trailers = gate_xcalloc(tr.nr + 1, sizeof(*m->trailers));
	for (i = 0; i < tr.nr; i++) {
		const char *colon = strchr(tr.v[i], ':');
		size_t n = colon ? (size_t)(colon - tr.v[i]) : strlen(tr.v[i]);
		struct trailer_req *t = &m->trailers[m->ntrailers];

		if (!valid_token(tr.v[i], n)) {
			gate_conf_error(g, "require_trailers",
					"\"%s\" is not a trailer name (letters, digits and '-', optionally "
					"followed by \": REGEX\" for the value)",
					tr.v[i]);
			bad = 1;
			continue;
		}
		t->token = gate_xstrndup(tr.v[i], n);
		if (colon) {
			struct gate_buf err = GATE_BUF_INIT;
			const char *pat = colon + 1;
			while (*pat == ' ')
				pat++;
			if (gate_regex_compile(&t->value, pat, 0, &err) < 0) {
				gate_conf_error(g, "require_trailers", "%s", err.ptr);
				bad = 1;
			}
			gate_buf_release(&err);
		}
		m->ntrailers++;
	}
	gate_strvec_clear(&tr);
	if (bad) {
		msg_free(m);
		return -1;
	}
	*data = m;
	return 0;
}

/* Number of characters (UTF-8 code points; other bytes count one each). */
static size_t display_len(const char *s, size_t n)
{
	size_t i, len = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			len++;
	return len;
}

/* Does the message's last paragraph hold a trailer `token` whose value matches? */
static int has_trailer(const char *msg, size_t len, const struct trailer_req *t)
{
	const char *end = msg + len, *para = msg, *p;
	size_t tl = strlen(t->token);

	/* trim trailing blank lines, then find the last paragraph */
	while (end > msg && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r'))
		end--;
	for (p = msg; p < end; p++)
		if (*p == '\n' && p + 1 < end && p[1] == '\n')
			para = p + 2;
	if (para == msg)
		return 0; /* the subject alone is no trailer block */
	for (p = para; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > tl + 1 && !strncasecmp(p, t->token, tl) && p[tl] == ':') {
			const char *v = p + tl + 1;
			while (v < p + n && *v == ' ')
				v++;
			if (v < p + n && (!t->value.code || gate_regex_match(&t->value, v, (size_t)(p + n - v)) == 1))
				return 1;
		}
		p += n + 1;
	}
	return 0;
}

static int msg_commit(const struct gate_check_run *run, const struct gate_commit *c, struct gate_findings *out)
{
	const struct msg_check *m = run->data;
	const char *msg = c->message, *nl, *p, *end;
	size_t len = c->message_len, slen, lineno, i;
	int r;

	if (m->skip_merges && c->nparents > 1)
		return 0;
	/* git strips trailing blank lines; treat whitespace-only as empty */
	for (p = msg; p < msg + len && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'); p++)
		;
	if (p == msg + len) {
		if (!m->allow_empty)
			gate_findings_add(out, c, NULL, 0, "write a message: git commit --amend (or git rebase -i)",
					  "the commit message is empty");
		return 0;
	}
	nl = memchr(msg, '\n', len);
	slen = nl ? (size_t)(nl - msg) : len;
	if (m->subject_max && display_len(msg, slen) > (size_t)m->subject_max)
		gate_findings_add(out, c, NULL, 0,
				  "shorten the subject and move details to the body (git commit --amend, or "
				  "git rebase -i and 'reword')",
				  "subject is %zu characters long, more than the %lld allowed", display_len(msg, slen),
				  m->subject_max);
	if (m->subject_min && display_len(msg, slen) < (size_t)m->subject_min)
		gate_findings_add(out, c, NULL, 0, "say what the commit does in the subject",
				  "subject is %zu characters long, fewer than the %lld required", display_len(msg, slen),
				  m->subject_min);
	if (m->require.code) {
		r = gate_regex_match(&m->require, msg, slen);
		if (r < 0)
			return gate_regex_fail(run->err, &m->require);
		if (!r)
			gate_findings_add(out, c, NULL, 0, "reword the subject (git rebase -i, 'reword')",
					  "subject does not match the required pattern \"%s\"", m->require.pattern);
	}
	if (m->forbid.code) {
		r = gate_regex_match(&m->forbid, msg, slen);
		if (r < 0)
			return gate_regex_fail(run->err, &m->forbid);
		if (r)
			gate_findings_add(out, c, NULL, 0, "reword the subject (git rebase -i, 'reword')",
					  "subject matches the forbidden pattern \"%s\"", m->forbid.pattern);
	}
	if (!nl)
		goto trailers;
	p = nl + 1;
	end = msg + len;
	if (m->blank_line && p < end && *p != '\n')
		gate_findings_add(out, c, NULL, 0, "separate the subject from the body with an empty line",
				  "the line after the subject is not blank");
	if (m->body_require.code) {
		r = gate_regex_match(&m->body_require, p, (size_t)(end - p));
		if (r < 0)
			return gate_regex_fail(run->err, &m->body_require);
		if (!r)
			gate_findings_add(out, c, NULL, 0, "add it to the message body (git commit --amend)",
					  "the message body does not match the required pattern \"%s\"",
					  m->body_require.pattern);
	}
	if (m->body_max) {
		size_t reported = 0;
		for (lineno = 2; p < end; lineno++) {
			const char *e = memchr(p, '\n', (size_t)(end - p));
			size_t n = e ? (size_t)(e - p) : (size_t)(end - p);
			size_t dl = display_len(p, n);
			if (dl > (size_t)m->body_max && !reported++)
				gate_findings_add(out, c, NULL, 0,
						  "wrap the body (a URL or quoted output on a line of its own is "
						  "fine if the limit allows it)",
						  "message line %zu is %zu characters long, more than the %lld allowed",
						  lineno, dl, m->body_max);
			p += n + 1;
		}
	}
trailers:
	for (i = 0; i < m->ntrailers; i++) {
		const struct trailer_req *t = &m->trailers[i];
		if (has_trailer(msg, len, t))
			continue;
		if (t->value.code)
			gate_findings_add(out, c, NULL, 0,
					  "add the trailer in the message's last paragraph (git commit --amend)",
					  "no '%s:' trailer matching \"%s\"", t->token, t->value.pattern);
		else if (!strcasecmp(t->token, "Signed-off-by"))
			gate_findings_add(out, c, NULL, 0, "sign off: git commit --amend -s (or git rebase --signoff)",
					  "no 'Signed-off-by:' trailer");
		else
			gate_findings_add(out, c, NULL, 0,
					  "add the trailer in the message's last paragraph (git commit --amend)",
					  "no '%s:' trailer", t->token);
	}
	return 0;
}

const struct gate_check_type gate_check_commit_message = {
	.name = "commit-message",
	.summary = "subject and body shape, required and forbidden patterns, trailers",
	.parse = msg_parse,
	.free = msg_free,
	.commit = msg_commit,
};

#include "config.h"
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "shared.h"

#include "banned.h"

#define DEFAULT_AUDIT_LOG "git-gate/audit.log"

void gate_json_add_string(struct gate_buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	if (!s) {
		gate_buf_adds(b, "null");
		return;
	}
	gate_buf_addch(b, '"');
	while (i < len) {
		long cp = gate_utf8_decode(p + i, len - i, &n);

		if (cp < 0) {
			gate_buf_adds(b, "\\ufffd");
			i++;
			continue;
		}
		switch (cp) {
		case '"':
			gate_buf_adds(b, "\\\"");
			break;
		case '\\':
			gate_buf_adds(b, "\\\\");
			break;
		case '\n':
			gate_buf_adds(b, "\\n");
			break;
		case '\r':
			gate_buf_adds(b, "\\r");
			break;
		case '\t':
			gate_buf_adds(b, "\\t");
			break;
		default:
			if (gate_char_unsafe(cp))
				gate_buf_addf(b, "\\u%04lx", cp);
			else
				gate_buf_add(b, p + i, n);
		}
		i += n;
	}
	gate_buf_addch(b, '"');
}

void gate_json_add_strings(struct gate_buf *b, const char *s)
{
	gate_json_add_string(b, s, s ? strlen(s) : 0);
}

static void key(struct gate_buf *b, const char *name)
{
	if (b->len && b->ptr[b->len - 1] != '{' && b->ptr[b->len - 1] != '[')
		gate_buf_addch(b, ',');
	gate_buf_addf(b, "\"%s\":", name);
}

static void kv_str(struct gate_buf *b, const char *name, const char *value)
{
	key(b, name);
	gate_json_add_strings(b, value);
}

static void kv_bool(struct gate_buf *b, const char *name, int value)
{
	key(b, name);
	gate_buf_adds(b, value ? "true" : "false");
}

static void kv_int(struct gate_buf *b, const char *name, long long value)
{
	key(b, name);
	gate_buf_addf(b, "%lld", value);
}

static void kv_seconds(struct gate_buf *b, const char *name, double s)
{
	key(b, name);
	gate_buf_addf(b, "%.3f", s < 0 ? 0.0 : s);
}

static void kv_source(struct gate_buf *b, const char *name, const struct gate_config *cfg,
		      const struct gate_source *src)
{
	struct gate_buf t = GATE_BUF_INIT;
	const char *file = src->file ? src->file : cfg && cfg->file ? cfg->file : "built-in default";

	if (src->line > 0)
		gate_buf_addf(&t, "%s:%d", file, src->line);
	else
		gate_buf_adds(&t, file);
	kv_str(b, name, t.ptr);
	gate_buf_release(&t);
}

static const char *outcome_name(enum gate_outcome o)
{
	switch (o) {
	case GATE_OUTCOME_ACCEPT:
		return "accept";
	case GATE_OUTCOME_WARN:
		return "warn";
	case GATE_OUTCOME_REJECT:
		return "reject";
	}
	return "reject";
}

static const char *kind_name(enum gate_update_kind k)
{
	switch (k) {
	case GATE_UPDATE_CREATE:
		return "create";
	case GATE_UPDATE_DELETE:
		return "delete";
	case GATE_UPDATE_MODIFY:
		return "update";
	}
	return "update";
}

/* pass, fail, error, cached or skipped */
static const char *job_result(const struct gate_scan_job *jb)
{
	if (jb->error)
		return "error";
	if (jb->findings.nr)
		return "fail";
	if (jb->note && strstr(jb->note, "cache"))
		return "cached";
	if (jb->ran)
		return "pass";
	if (jb->note)
		return "skipped";
	/* nothing to judge (no new commits for this check): it passed */
	return "pass";
}

static void add_time(struct gate_buf *b, const struct timespec *when)
{
	struct timespec now = *when;
	struct tm tm;
	char s[64];

	if (!now.tv_sec && !now.tv_nsec)
		clock_gettime(CLOCK_REALTIME, &now);
	if (!gmtime_r(&now.tv_sec, &tm) || !strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm)) {
		kv_str(b, "time", NULL);
		return;
	}
	key(b, "time");
	gate_buf_addf(b, "\"%s.%03ldZ\"", s, (long)(now.tv_nsec / 1000000));
}

static void add_client(struct gate_buf *b)
{
	const char *ssh = getenv("SSH_CONNECTION");
	const char *http = getenv("REMOTE_ADDR");

	if (ssh && *ssh) {
		const char *sp = strchr(ssh, ' ');
		char *addr = gate_xstrndup(ssh, sp ? (size_t)(sp - ssh) : strlen(ssh));
		kv_str(b, "client", addr);
		free(addr);
	} else if (http && *http) {
		kv_str(b, "client", http);
	}
}

static void add_ref(struct gate_buf *b, const struct gate_audit_event *e, const struct gate_ref_verdict *rv)
{
	size_t j;

	gate_buf_addch(b, '{');
	kv_str(b, "ref", rv->update->ref);
	if (rv->update->via)
		kv_str(b, "via", rv->update->via); /* the symbolic ref pushed, which moved "ref" */
	kv_str(b, "old", rv->update->old_id);
	kv_str(b, "new", rv->update->new_id);
	kv_str(b, "kind", kind_name(rv->update->kind));
	if (rv->tree_id[0])
		kv_str(b, "tree", rv->tree_id);
	if (rv->subject)
		kv_str(b, "subject", rv->subject);
	if (rv->rule) {
		kv_source(b, "rule", e->cfg, &rv->rule->src);
		kv_str(b, "mode", gate_mode_name(rv->rule->mode));
	} else {
		kv_str(b, "rule", NULL);
	}
	kv_str(b, "verdict", outcome_name(rv->outcome));
	kv_bool(b, "exempt", rv->exempt);
	kv_bool(b, "bypassed", rv->bypassed);
	if (rv->refusal)
		kv_str(b, "refusal", rv->refusal);
	key(b, "protection");
	gate_buf_addch(b, '[');
	for (j = 0; j < rv->protection.nr && j < 20; j++) {
		if (j)
			gate_buf_addch(b, ',');
		gate_json_add_strings(b, rv->protection.v[j].message);
	}
	gate_buf_addch(b, ']');
	key(b, "checks");
	gate_buf_addch(b, '[');
	for (j = 0; j < rv->njobs; j++) {
		const struct gate_scan_job *jb = rv->jobs[j];
		if (j)
			gate_buf_addch(b, ',');
		gate_buf_addch(b, '{');
		kv_str(b, "name", jb->def->name);
		kv_str(b, "type", jb->def->type->name);
		kv_str(b, "result", job_result(jb));
		kv_seconds(b, "seconds", jb->seconds);
		kv_int(b, "findings", (long long)jb->findings.nr);
		if (jb->error)
			kv_str(b, "error", jb->error);
		else if (jb->note)
			kv_str(b, "note", jb->note);
		gate_buf_addch(b, '}');
	}
	for (j = 0; j < rv->nexempted; j++) {
		const struct gate_check_def *def = rv->exempted[j];
		if (j || rv->njobs)
			gate_buf_addch(b, ',');
		gate_buf_addch(b, '{');
		kv_str(b, "name", def->name);
		kv_str(b, "type", def->type->name);
		kv_str(b, "result", "skipped");
		kv_seconds(b, "seconds", 0);
		kv_int(b, "findings", 0);
		kv_str(b, "note", "the pusher is exempt from this check (exempt_users)");
		gate_buf_addch(b, '}');
	}
	if (rv->bypassed && rv->rule) {
		/* every check of the rule was skipped by the bypass */
		for (j = 0; j < rv->rule->nchecks; j++) {
			const struct gate_check_def *def = rv->rule->checks[j];
			if (j || rv->njobs || rv->nexempted)
				gate_buf_addch(b, ',');
			gate_buf_addch(b, '{');
			kv_str(b, "name", def->name);
			kv_str(b, "type", def->type->name);
			kv_str(b, "result", "skipped");
			kv_seconds(b, "seconds", 0);
			kv_int(b, "findings", 0);
			kv_str(b, "note", "bypassed (-o gate.bypass)");
			gate_buf_addch(b, '}');
		}
	}
	gate_buf_addch(b, ']');
	gate_buf_addch(b, '}');
}

/* The record of what git really did: the refs post-receive was given. */
/* The policy judged by, and any policy file that exists but was not read (gate_config.ignored). */
static void add_policy(struct gate_buf *b, const struct gate_audit_event *e)
{
	size_t i;

	kv_str(b, "policy", e->cfg ? (e->cfg->file ? e->cfg->file : "built-in default") : NULL);
	if (e->cfg && e->cfg->ignored.nr) {
		struct gate_buf why = GATE_BUF_INIT;
		for (i = 0; i < e->cfg->ignored.nr; i++)
			gate_buf_addf(&why, "%s%s", i ? "; " : "", e->cfg->ignored.v[i]);
		kv_str(b, "policy_ignored", why.ptr);
		gate_buf_release(&why);
	}
}

static void format_updated(struct gate_buf *b, const struct gate_audit_event *e)
{
	const struct gate_push *push = e->push;
	size_t i;

	gate_buf_addch(b, '{');
	add_time(b, &e->when);
	kv_str(b, "version", PACKAGE_VERSION);
	kv_str(b, "event", "updated");
	kv_str(b, "repository", e->git_dir);
	kv_str(b, "user", push ? push->user : NULL);
	kv_str(b, "user_source", push ? push->user_source : NULL);
	add_client(b);
	kv_str(b, "hook", e->hook);
	add_policy(b, e);
	if (e->error)
		kv_str(b, "error", e->error);
	key(b, "refs");
	gate_buf_addch(b, '[');
	for (i = 0; push && i < push->nr; i++) {
		if (i)
			gate_buf_addch(b, ',');
		gate_buf_addch(b, '{');
		kv_str(b, "ref", push->updates[i].ref);
		if (push->updates[i].via)
			kv_str(b, "via", push->updates[i].via); /* the symbolic ref pushed, which moved "ref" */
		kv_str(b, "old", push->updates[i].old_id);
		kv_str(b, "new", push->updates[i].new_id);
		kv_str(b, "kind", kind_name(push->updates[i].kind));
		gate_buf_addch(b, '}');
	}
	gate_buf_adds(b, "]}\n");
}

void gate_audit_format(struct gate_buf *out, const struct gate_audit_event *e)
{
	const struct gate_push *push = e->push;
	const struct gate_verdict *v = e->v;
	const char *bypass = push ? gate_push_option(push, "gate.bypass") : NULL;
	struct gate_buf b = GATE_BUF_INIT;
	size_t i;

	if (e->kind == GATE_AUDIT_UPDATED) {
		format_updated(&b, e);
		gate_buf_add(out, b.ptr, b.len);
		gate_buf_release(&b);
		return;
	}
	gate_buf_addch(&b, '{');
	add_time(&b, &e->when);
	kv_str(&b, "version", PACKAGE_VERSION);
	kv_str(&b, "event", "decision");
	kv_str(&b, "repository", e->git_dir);
	kv_str(&b, "user", push ? push->user : NULL);
	kv_str(&b, "user_source", push ? push->user_source : NULL);
	add_client(&b);
	kv_str(&b, "hook", e->hook);
	add_policy(&b, e);
	kv_bool(&b, "dry_run", v ? v->dry_run : push && gate_push_option(push, "gate.dry-run") != NULL);
	key(&b, "bypass");
	if (bypass) {
		gate_buf_addch(&b, '{');
		kv_str(&b, "reason", bypass);
		if (v) {
			size_t used = 0, refused = 0;
			for (i = 0; i < v->nr; i++) {
				used += v->refs[i].bypassed != 0;
				refused += v->refs[i].refusal != NULL;
			}
			kv_bool(&b, "granted", used > 0 && !refused);
		}
		gate_buf_addch(&b, '}');
	} else {
		gate_buf_adds(&b, "null");
	}
	kv_str(&b, "verdict", v ? outcome_name(v->outcome) : "error");
	kv_bool(&b, "accepted", e->exit_code == 0);
	kv_int(&b, "exit_code", e->exit_code);
	/* the hook let git go on (or not); whether refs moved is an "updated" record */
	kv_str(&b, "decision", e->exit_code == 0 ? "accepted" : "rejected");
	if (e->error)
		kv_str(&b, "error", e->error);
	if (e->chained)
		kv_str(&b, "chained_hook", e->chained);
	if (v)
		kv_seconds(&b, "seconds", v->seconds);
	key(&b, "refs");
	gate_buf_addch(&b, '[');
	if (v) {
		for (i = 0; i < v->nr; i++) {
			if (i)
				gate_buf_addch(&b, ',');
			add_ref(&b, e, &v->refs[i]);
		}
	} else if (push) {
		/* not judged: still say what was attempted */
		for (i = 0; i < push->nr; i++) {
			if (i)
				gate_buf_addch(&b, ',');
			gate_buf_addch(&b, '{');
			kv_str(&b, "ref", push->updates[i].ref);
			if (push->updates[i].via)
				kv_str(&b, "via", push->updates[i].via);
			kv_str(&b, "old", push->updates[i].old_id);
			kv_str(&b, "new", push->updates[i].new_id);
			kv_str(&b, "kind", kind_name(push->updates[i].kind));
			kv_str(&b, "verdict", "error");
			gate_buf_addch(&b, '}');
		}
	}
	gate_buf_adds(&b, "]}\n");
	gate_buf_add(out, b.ptr, b.len);
	gate_buf_release(&b);
}

char *gate_audit_path(const struct gate_config *cfg, const char *git_dir)
{
	const char *p = cfg ? cfg->audit_log : NULL;

	if (p && !strcmp(p, "off"))
		return NULL;
	if (!p || !*p)
		p = DEFAULT_AUDIT_LOG;
	if (*p == '/')
		return gate_xstrdup(p);
	if (!git_dir)
		return NULL;
	return gate_xstrfmt("%s/%s", git_dir, p);
}

/*
 * O_NONBLOCK: a FIFO (a log shipper's pipe) with no reader, or one that
 * stopped reading, gives an error instead of hanging the push forever;
 * regular files ignore the flag.
 */
#define AUDIT_OPEN_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

int gate_audit_append(const char *path, int shared, const char *line, size_t len, struct gate_buf *err)
{
	struct stat st;
	ssize_t n;
	int fd, locked, ret = -1;

	/* the default location's folder may not exist yet */
	fd = gate_shared_open(shared, path, AUDIT_OPEN_FLAGS, 0660);
	if (fd < 0)
		return gate_error(err, "cannot open the audit log '%s': %s", path, strerror(errno));
	while ((locked = flock(fd, LOCK_EX) == 0) == 0 && errno == EINTR)
		; /* ENOLCK and the like: O_APPEND alone still keeps lines whole on local disks */
	/* where the file ends now, to cut a short write back to (regular files only) */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		st.st_size = -1;
	do {
		n = write(fd, line, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len) {
		int saved = n < 0 ? errno : ENOSPC;
		/* never leave half a record: cut the file back to where it ended */
		if (n > 0 && st.st_size >= 0 && ftruncate(fd, st.st_size) < 0)
			saved = errno;
		gate_error(err, "cannot write to the audit log '%s': %s", path, strerror(saved));
		goto out;
	}
	ret = 0;
out:
	if (locked)
		(void)flock(fd, LOCK_UN);
	if (close(fd) < 0 && ret == 0)
		ret = gate_error(err, "cannot write to the audit log '%s': %s", path, strerror(errno));
	return ret;
}

void gate_audit_lost_message(struct gate_buf *out, const struct gate_audit_event *e, const char *why)
{
	/* one line whatever the user name holds (a newline would forge a second record) */
	gate_buf_adds(out, "audit record lost: ");
	gate_buf_add_safes(out, why ? why : "?");
	gate_buf_adds(out, " (repository ");
	gate_buf_add_safes(out, e->git_dir ? e->git_dir : "?");
	gate_buf_adds(out, ", user ");
	gate_buf_add_safes(out, e->push && e->push->user ? e->push->user : "?");
	gate_buf_addch(out, ')');
}

int gate_audit_record(const struct gate_audit_event *e, struct gate_buf *err)
{
	struct gate_buf line = GATE_BUF_INIT;
	char *path = gate_audit_path(e->cfg, e->git_dir);
	int ret = 0;

	gate_audit_format(&line, e);
	if (e->cfg && e->cfg->audit_syslog) {
		openlog("git-gate", LOG_PID, LOG_AUTHPRIV);
		syslog(LOG_AUTHPRIV | LOG_INFO, "%.*s", (int)(line.len - 1), line.ptr);
		closelog();
	}
	if (!path) {
		if (!(e->cfg && e->cfg->audit_log && !strcmp(e->cfg->audit_log, "off")))
			ret = gate_error(err, "the audit log has no location (no repository directory)");
		goto out;
	}
	ret = gate_audit_append(path, gate_shared_perm(e->git_dir), line.ptr, line.len, err);
out:
	if (ret < 0) {
		struct gate_buf msg = GATE_BUF_INIT;
		gate_audit_lost_message(&msg, e, gate_buf_cstr(err));
		openlog("git-gate", LOG_PID, LOG_AUTHPRIV);
		syslog(LOG_AUTHPRIV | LOG_WARNING, "%s", msg.ptr);
		closelog();
		gate_buf_release(&msg);
	}
	free(path);
	gate_buf_release(&line);
	return ret;
}

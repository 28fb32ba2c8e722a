#include "config.h"
#include "push.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

int gate_ref_name_valid(const char *ref)
{
	const char *p;

	if (strncmp(ref, "refs/", 5) || !ref[5])
		return 0;
	for (p = ref; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' ||
		    c == '[' || c == '\\')
			return 0;
		if (c == '.' && p[1] == '.')
			return 0;
		if (c == '@' && p[1] == '{')
			return 0;
		if (c == '/' && (p[1] == '/' || p[1] == '.' || p[1] == '\0'))
			return 0;
	}
	if (gate_ends_with(ref, ".lock") || gate_ends_with(ref, "."))
		return 0;
	return 1;
}

void gate_update_retarget(struct gate_update *u, const char *target)
{
	if (!u->via)
		u->via = u->ref;
	else
		free(u->ref);
	u->ref = gate_xstrdup(target);
}

const char *gate_update_pushed_name(const struct gate_update *u)
{
	return u->via ? u->via : u->ref;
}

#define SHA256_REFUSAL                                                                                       \
	"this repository uses SHA-256 object ids, which git-gate cannot judge yet (libgit2 1.5 reads only "   \
	"SHA-1 repositories); refusing the push"

int gate_push_add(struct gate_push *p, const char *ref, const char *old_id, const char *new_id,
		  struct gate_buf *err)
{
	struct gate_update *u;

	if (strlen(old_id) == 64 || strlen(new_id) == 64)
		return gate_error(err, SHA256_REFUSAL);

	if (!gate_is_hex_oid(old_id) || !gate_is_hex_oid(new_id))
		return gate_error(err, "malformed object id in ref update for '%s'", ref);
	if (!gate_ref_name_valid(ref))
		return gate_error(err, "malformed ref name in ref update");
	if (gate_is_zero_oid(old_id) && gate_is_zero_oid(new_id))
		return gate_error(err, "ref update for '%s' has neither an old nor a new value", ref);
	GATE_ALLOC_GROW(p->updates, p->nr + 1, p->alloc);
	u = &p->updates[p->nr++];
	u->ref = gate_xstrdup(ref);
	u->target = NULL;
	u->via = NULL;
	memcpy(u->old_id, old_id, 41);
	memcpy(u->new_id, new_id, 41);
	if (gate_is_zero_oid(old_id))
		u->kind = GATE_UPDATE_CREATE;
	else if (gate_is_zero_oid(new_id))
		u->kind = GATE_UPDATE_DELETE;
	else
		u->kind = GATE_UPDATE_MODIFY;
	return 0;
}

int gate_push_parse_pre_receive(struct gate_push *p, const char *text, size_t len, struct gate_buf *err)
{
	const char *line = text, *end = text + len;

	if (memchr(text, '\0', len))
		return gate_error(err, "malformed ref update list (NUL byte)");
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		char old_id[41], new_id[41];
		char *ref;
		int ret;

		if (n == 0) {
			line += 1;
			continue;
		}
		if (n >= 131 && line[64] == ' ' && line[129] == ' ')
			return gate_error(err, SHA256_REFUSAL);
		if (n < 83 || line[40] != ' ' || line[81] != ' ')
			return gate_error(err, "malformed ref update line (expected '<old> <new> <ref>')");
		memcpy(old_id, line, 40);
		old_id[40] = '\0';
		memcpy(new_id, line + 41, 40);
		new_id[40] = '\0';
		ref = gate_xstrndup(line + 82, n - 82);
		ret = gate_push_add(p, ref, old_id, new_id, err);
		free(ref);
		if (ret < 0)
			return ret;
		line += n + 1;
	}
	return 0;
}

void gate_push_read_options(struct gate_push *p)
{
	const char *count = getenv("GIT_PUSH_OPTION_COUNT");
	long i, n;
	char *end;

	if (!count)
		return;
	n = strtol(count, &end, 10);
	if (*end || n < 0 || n > 10000)
		return;
	for (i = 0; i < n; i++) {
		char name[64];
		const char *v;
		snprintf(name, sizeof(name), "GIT_PUSH_OPTION_%ld", i);
		v = getenv(name);
		if (v)
			gate_strvec_push(&p->options, v);
	}
}

const char *gate_push_option(const struct gate_push *p, const char *name)
{
	size_t i, n = strlen(name);

	/* the last one wins, as with git's own options */
	for (i = p->options.nr; i-- > 0;) {
		const char *o = p->options.v[i];
		if (!strncmp(o, name, n) && (o[n] == '=' || o[n] == '\0'))
			return o[n] == '=' ? o + n + 1 : o + n;
	}
	return NULL;
}

void gate_push_identify(struct gate_push *p)
{
	static const char *const vars[] = {
		"GIT_GATE_USER", "GL_USERNAME", "GL_USER", "GITHUB_USER_LOGIN", "GITEA_PUSHER_NAME", "REMOTE_USER",
	};
	struct passwd *pw;
	size_t i;

	for (i = 0; i < GATE_ARRAY_SIZE(vars); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v) {
			p->user = gate_xstrdup(v);
			p->user_source = gate_xstrdup(vars[i]);
			return;
		}
	}
	pw = getpwuid(geteuid());
	if (pw && pw->pw_name) {
		p->user = gate_xstrdup(pw->pw_name);
		p->user_source = gate_xstrdup("the operating system account");
	} else {
		p->user = gate_xstrfmt("uid-%ld", (long)geteuid());
		p->user_source = gate_xstrdup("the operating system account");
	}
}

void gate_push_release(struct gate_push *p)
{
	size_t i;

	for (i = 0; i < p->nr; i++) {
		free(p->updates[i].ref);
		free(p->updates[i].target);
		free(p->updates[i].via);
	}
	free(p->updates);
	gate_strvec_clear(&p->options);
	free(p->user);
	free(p->user_source);
	memset(p, 0, sizeof(*p));
}

#include "config.h"
#include "check.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

const struct gate_check_type *const gate_check_types[] = {
	&gate_check_commit_message,
	&gate_check_identity,
	&gate_check_max_file_size,
	&gate_check_forbidden_paths,
	&gate_check_portable_paths,
	&gate_check_text_hygiene,
	&gate_check_secrets,
	&gate_check_history,
	&gate_check_signature,
	&gate_check_ci_status,
	&gate_check_command,
	NULL,
};

const char *const gate_check_on_choices[] = { "tip", "each", NULL };
const char *const gate_check_on_meanings[] = { "the new tip", "every new commit", NULL };

const struct gate_check_type *gate_check_type_find(const char *name)
{
	size_t i;

	for (i = 0; gate_check_types[i]; i++)
		if (!strcmp(gate_check_types[i]->name, name))
			return gate_check_types[i];
	return NULL;
}

static void findings_vadd(struct gate_findings *f, const struct gate_commit *commit, const char *path, long line,
			  const char *hint, const char *detail, size_t detail_len, const char *fmt, va_list ap)
{
	struct gate_finding fi;
	struct gate_buf b = GATE_BUF_INIT;

	gate_buf_vaddf(&b, fmt, ap);
	memset(&fi, 0, sizeof(fi));
	fi.message = gate_buf_detach(&b);
	fi.commit = commit ? gate_xstrdup(commit->id) : NULL;
	fi.subject = commit && commit->subject ? gate_xstrdup(commit->subject) : NULL;
	fi.commit_index = commit ? commit->index : (size_t)-1;
	fi.path = path ? gate_xstrdup(path) : NULL;
	fi.line = line;
	fi.hint = hint ? gate_xstrdup(hint) : NULL;
	fi.detail = detail ? gate_xstrndup(detail, detail_len) : NULL;

	if (f->lock)
		pthread_mutex_lock(f->lock);
	GATE_ALLOC_GROW(f->v, f->nr + 1, f->alloc);
	f->v[f->nr++] = fi;
	if (f->lock)
		pthread_mutex_unlock(f->lock);
}

void gate_findings_add(struct gate_findings *f, const struct gate_commit *commit, const char *path, long line,
		       const char *hint, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	findings_vadd(f, commit, path, line, hint, NULL, 0, fmt, ap);
	va_end(ap);
}

void gate_findings_add_detail(struct gate_findings *f, const struct gate_commit *commit, const char *path,
			      long line, const char *hint, const char *detail, size_t detail_len, const char *fmt,
			      ...)
{
	va_list ap;

	va_start(ap, fmt);
	findings_vadd(f, commit, path, line, hint, detail, detail_len, fmt, ap);
	va_end(ap);
}

void gate_finding_release(struct gate_finding *fi)
{
	free(fi->commit);
	free(fi->subject);
	free(fi->path);
	free(fi->message);
	free(fi->hint);
	free(fi->detail);
}

void gate_findings_release(struct gate_findings *f)
{
	size_t i;

	for (i = 0; i < f->nr; i++)
		gate_finding_release(&f->v[i]);
	free(f->v);
	f->v = NULL;
	f->nr = f->alloc = 0;
}

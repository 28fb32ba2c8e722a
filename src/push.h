#ifndef GATE_PUSH_H
#define GATE_PUSH_H

/*
 * A push: the ref updates git hands the hook, the push options, and who
 * pushed.  Parsing is strict: a malformed line rejects the push.
 */

#include "util.h"

enum gate_update_kind {
	GATE_UPDATE_CREATE,
	GATE_UPDATE_DELETE,
	GATE_UPDATE_MODIFY,
};

struct gate_update {
	char *ref;       /* the ref that moves (a symbolic ref's target, see via) */
	char *via;       /* the symbolic ref the pusher named, or NULL */
	char old_id[41];
	char new_id[41];
	enum gate_update_kind kind;
	/*
	 * A change pushed to a merge queue (refs/for/<branch>, queue.h): the
	 * branch it is for, whose rule judges it.  NULL for other updates.
	 */
	char *target;
};

struct gate_push {
	struct gate_update *updates;
	size_t nr, alloc;
	struct gate_strvec options; /* GIT_PUSH_OPTION_n values */
	char *user;                 /* who pushed, see gate_push_user() */
	char *user_source;          /* which variable said so */
};

#define GATE_PUSH_INIT { NULL, 0, 0, GATE_STRVEC_INIT, NULL, NULL }

/* Add one update; validates ids and the ref name. */
int gate_push_add(struct gate_push *p, const char *ref, const char *old_id, const char *new_id,
		  struct gate_buf *err);
/*
 * The update pushed to `ref` moves `target` instead (git updates through
 * a symbolic ref): judge it as such, remembering the name pushed.
 */
void gate_update_retarget(struct gate_update *u, const char *target);
/* The name the pusher used for this update (via, else ref). */
const char *gate_update_pushed_name(const struct gate_update *u);
/* Parse pre-receive's stdin: "<old> SP <new> SP <ref> LF" lines. */
int gate_push_parse_pre_receive(struct gate_push *p, const char *text, size_t len, struct gate_buf *err);
/* Read GIT_PUSH_OPTION_COUNT / GIT_PUSH_OPTION_n. */
void gate_push_read_options(struct gate_push *p);
/* Value of push option `name` ("name=value" or bare "name" gives ""), or NULL. */
const char *gate_push_option(const struct gate_push *p, const char *name);
/*
 * Who pushed: GIT_GATE_USER, else GL_USERNAME (GitLab), GL_USER
 * (gitolite), GITHUB_USER_LOGIN, GITEA_PUSHER_NAME (Gitea, Forgejo),
 * REMOTE_USER (smart HTTP), else the OS
 * user.  Fills p->user and p->user_source.
 */
void gate_push_identify(struct gate_push *p);
void gate_push_release(struct gate_push *p);

/* Whether `ref` is a well-formed ref name (git check-ref-format rules). */
int gate_ref_name_valid(const char *ref);

#endif

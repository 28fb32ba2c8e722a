/*
 * Fuzz what a hook reads about a push (src/push.c): pre-receive's stdin,
 * the push options git passes as GIT_PUSH_OPTION_COUNT and
 * GIT_PUSH_OPTION_n, and the pusher's name.  Input: STDIN NUL USER NUL
 * OPTION NUL OPTION ...  Invariants: an accepted update has a valid ref
 * name, two 40-hex ids that are not both zero and the kind they imply; a
 * rejected list says why; every option git passed is read, in order, and
 * gate_push_option() finds the last one of a name.
 */
#include "fuzz.h"

#include "push.h"

#include "banned.h"

#define MAX_OPTIONS 16

static void set_options(struct fuzz_fields *f, const char **opts, size_t *n)
{
	static size_t last;
	char name[64], count[32];
	size_t i;

	for (i = 0; i < last; i++) {
		snprintf(name, sizeof(name), "GIT_PUSH_OPTION_%zu", i);
		unsetenv(name);
	}
	*n = 0;
	while (f->p < f->end && *n < MAX_OPTIONS) {
		opts[*n] = fuzz_field(f);
		snprintf(name, sizeof(name), "GIT_PUSH_OPTION_%zu", *n);
		setenv(name, opts[*n], 1);
		(*n)++;
	}
	last = *n;
	snprintf(count, sizeof(count), "%zu", *n);
	setenv("GIT_PUSH_OPTION_COUNT", count, 1);
}

static void check_updates(const struct gate_push *p)
{
	size_t i;

	for (i = 0; i < p->nr; i++) {
		const struct gate_update *u = &p->updates[i];

		FUZZ_ASSERT(gate_ref_name_valid(u->ref));
		FUZZ_ASSERT(gate_is_hex_oid(u->old_id) && gate_is_hex_oid(u->new_id));
		FUZZ_ASSERT(strlen(u->old_id) == 40 && strlen(u->new_id) == 40);
		FUZZ_ASSERT(!(gate_is_zero_oid(u->old_id) && gate_is_zero_oid(u->new_id)));
		FUZZ_ASSERT(u->kind == (gate_is_zero_oid(u->old_id)   ? GATE_UPDATE_CREATE
					: gate_is_zero_oid(u->new_id) ? GATE_UPDATE_DELETE
								      : GATE_UPDATE_MODIFY));
		/* what a ref name may never hold, whatever else is allowed */
		FUZZ_ASSERT(!strpbrk(u->ref, "\n\r\x1b ~^:?*[\\"));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gate_push p = GATE_PUSH_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	struct fuzz_fields f;
	const char *text, *user, *opts[MAX_OPTIONS];
	size_t len, nopts, i;

	fuzz_fields_init(&f, data, size);
	text = fuzz_field(&f);
	len = f.last_len;
	user = fuzz_field(&f);
	set_options(&f, opts, &nopts);
	/* always set: the fallback (the OS account) is not pushed data */
	setenv("GIT_GATE_USER", *user ? user : "anonymous", 1);

	if (gate_push_parse_pre_receive(&p, text, len, &err) == 0) {
		check_updates(&p);
		if (p.nr) {
			/* a symbolic ref resolved: the pusher's name stays what was pushed */
			char *pushed = gate_xstrdup(p.updates[0].ref);
			gate_update_retarget(&p.updates[0], "refs/heads/main");
			gate_update_retarget(&p.updates[0], "refs/heads/trunk");
			FUZZ_ASSERT(!strcmp(gate_update_pushed_name(&p.updates[0]), pushed));
			FUZZ_ASSERT(!strcmp(p.updates[0].ref, "refs/heads/trunk"));
			free(pushed);
		}
	} else {
		FUZZ_ASSERT(err.len > 0);
	}
	/* the update hook's arguments, one ref at a time */
	if (len > 82) {
		struct gate_push q = GATE_PUSH_INIT;
		char old_id[41], new_id[41];
		memcpy(old_id, text, 40);
		old_id[40] = '\0';
		memcpy(new_id, text + 41, 40);
		new_id[40] = '\0';
		if (gate_push_add(&q, text + 82, old_id, new_id, &err) == 0)
			check_updates(&q);
		gate_push_release(&q);
	}

	gate_push_read_options(&p);
	FUZZ_ASSERT(p.options.nr == nopts);
	for (i = 0; i < nopts; i++)
		FUZZ_ASSERT(!strcmp(p.options.v[i], opts[i]));
	for (i = 0; i < nopts; i++) {
		const char *eq = strchr(opts[i], '=');
		char *name = gate_xstrndup(opts[i], eq ? (size_t)(eq - opts[i]) : strlen(opts[i]));
		const char *v = gate_push_option(&p, name);
		size_t k, last = i;

		/* the last option of that name wins */
		for (k = i + 1; k < nopts; k++) {
			size_t n = strlen(name);
			if (!strncmp(opts[k], name, n) && (opts[k][n] == '=' || opts[k][n] == '\0'))
				last = k;
		}
		FUZZ_ASSERT(v);
		FUZZ_ASSERT(!strcmp(v, opts[last][strlen(name)] == '=' ? opts[last] + strlen(name) + 1 : ""));
		free(name);
	}
	(void)gate_push_option(&p, "gate.bypass");
	(void)gate_push_option(&p, "gate.dry-run");

	gate_push_identify(&p);
	FUZZ_ASSERT(p.user && p.user_source);
	FUZZ_ASSERT(!strcmp(p.user, *user ? user : "anonymous"));

	gate_push_release(&p);
	gate_buf_release(&err);
	fuzz_fields_release(&f);
	return 0;
}

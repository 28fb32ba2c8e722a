/*
 * Fuzz the secret scanner (src/secrets.c) over blob content: the built-in
 * rules plus a custom rule with a keyword and one without, as a policy
 * adds them.  Input: the content, any bytes.  Invariants: every hit lies
 * inside the content and its secret is a copy of those bytes, line
 * numbers are 1-based and match the position, hits come in position
 * order and do not overlap, and a scan limited to one hit finds one and
 * says it was cut short.
 */
#include "fuzz.h"

#include "secrets.h"

#include "banned.h"

static struct gate_secrets *rules(void)
{
	static const char *const kw[] = { "acme_", NULL };
	static const struct gate_secret_rule acme = { "acme-token", "ACME token", kw, "acme_([0-9a-f]{32})", 3.0,
						      GATE_SECRET_PLACEHOLDERS };
	static const struct gate_secret_rule bare = { "bare", "no keyword", NULL, "\\bBARE-[0-9]{6}\\b", 0, 0 };
	static struct gate_secrets *set;
	struct gate_buf err = GATE_BUF_INIT;

	if (set)
		return set;
	set = gate_secrets_new();
	if (gate_secrets_add(set, &acme, &err) < 0 || gate_secrets_add(set, &bare, &err) < 0 ||
	    gate_secrets_add_builtins(set, NULL, &err) < 0 || gate_secrets_compile(set, &err) < 0) {
		fprintf(stderr, "cannot build the rules: %s\n", gate_buf_cstr(&err));
		abort();
	}
	gate_buf_release(&err);
	return set;
}

static long line_at(const char *data, size_t pos)
{
	long line = 1;
	size_t i;

	for (i = 0; i < pos; i++)
		line += data[i] == '\n';
	return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct gate_secrets *set = rules();
	struct gate_secret_hits hits = GATE_SECRET_HITS_INIT, few = GATE_SECRET_HITS_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	const char *text = (const char *)data;
	size_t i;

	if (gate_secrets_scan(set, text, size, 0, &hits, &err) == 0) {
		for (i = 0; i < hits.nr; i++) {
			const struct gate_secret_hit *h = &hits.v[i];
			char fp[GATE_SECRET_FINGERPRINT_LEN + 1];

			FUZZ_ASSERT(h->rule < gate_secrets_nrules(set));
			FUZZ_ASSERT(h->start <= h->end && h->end <= size);
			FUZZ_ASSERT(h->secret_len == h->end - h->start);
			FUZZ_ASSERT(h->secret && !memcmp(h->secret, text + h->start, h->secret_len));
			FUZZ_ASSERT(h->line >= 1 && h->line <= line_at(text, h->start));
			if (i)
				FUZZ_ASSERT(hits.v[i - 1].end <= h->start);
			gate_secret_fingerprint(fp, gate_secrets_rule_id(set, h->rule), "a/path", h->secret,
						h->secret_len);
			FUZZ_ASSERT(strlen(fp) == GATE_SECRET_FINGERPRINT_LEN);
		}
		FUZZ_ASSERT(!hits.truncated);
		/* a capped scan still finds something (which one is not promised) */
		if (hits.nr > 1 && gate_secrets_scan(set, text, size, 1, &few, &err) == 0)
			FUZZ_ASSERT(few.nr == 1 && few.truncated);
	} else {
		/* a scan that cannot finish says why */
		FUZZ_ASSERT(err.len > 0);
	}
	/* bits per byte, up to rounding */
	FUZZ_ASSERT(gate_secret_entropy(text, size) > -1e-9 && gate_secret_entropy(text, size) < 8.0 + 1e-9);
	(void)gate_secret_is_placeholder(text, size);
	gate_secret_hits_release(&hits);
	gate_secret_hits_release(&few);
	gate_buf_release(&err);
	return 0;
}

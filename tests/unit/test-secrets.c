#include "unit.h"

#include <stdio.h>

#include "check.h"
#include "scan.h"
#include "secrets.h"
#include "sha256.h"

/*
 * Every sample secret here is made up at run time from a template and a
 * fixed pseudo-random sequence, and every token prefix in this file is
 * split ("gh" "p_"), so that the repository itself holds nothing a
 * secret scanner (GitHub push protection, gitleaks, this check) would
 * take for a live credential.
 */

/* ---- sample secrets ---- */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static const char *charset(char code)
{
	switch (code) {
	case 'A': return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	case 'H': return "0123456789abcdef";
	case 'U': return "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	case 'B': return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	case 'S': return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
	case 'D': return "0123456789";
	case 'N': return "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	case 'M': return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	case 'Z': return "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
	}
	fail_msg("unknown charset %c", code);
	return "";
}

/*
 * Expand a template: "{A:36}" is 36 random characters of charset A (when
 * `flat`, 36 copies of its first character instead: a value with no
 * entropy).
 */
static char *expand(const char *tpl, uint64_t seed, int flat)
{
	struct gate_buf b = GATE_BUF_INIT;

	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	while (*tpl) {
		if (*tpl == '{' && tpl[1] && tpl[2] == ':') {
			const char *cs = charset(tpl[1]);
			char *end;
			long n = strtol(tpl + 3, &end, 10), i;
			assert_true(*end == '}');
			for (i = 0; i < n; i++)
				gate_buf_addch(&b, flat ? cs[0] : cs[rnd((unsigned)strlen(cs))]);
			tpl = end + 1;
		} else {
			gate_buf_addch(&b, *tpl++);
		}
	}
	return gate_buf_detach(&b);
}

struct sample {
	const char *rule;
	const char *tpl;
	long line; /* the line of the finding, counted from the template's first line */
};

/* One realistic sample per built-in rule. */
static const struct sample samples[] = {
	{ "gcp-service-account-key",
	  "{\"type\": \"service_account\", \"private_key\": \"-----BEGIN PRIV" "ATE KEY-----\\n{B:64}\\n{B:64}\\n"
	  "-----END PRIVATE KEY-----\\n\"}", 0 },
	{ "private-key", "-----BEGIN RSA PRIV" "ATE KEY-----\n{B:64}\n{B:64}\n{B:20}==\n-----END RSA PRIVATE KEY-----", 0 },
	{ "putty-private-key",
	  "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: k\nPublic-Lines: 2\n{B:64}\n{B:20}\n"
	  "Private-Lines: 1\n{B:44}\nPrivate-MAC: {H:64}", 6 },
	{ "age-secret-key", "# key: AGE-SECRET-" "KEY-1{Z:58}", 0 },
	{ "aws-access-key-id", "aws_access_key_id = AK" "IA{U:16}", 0 },
	{ "aws-secret-access-key", "aws_secret_access_key = {B:40}", 0 },
	{ "gcp-api-key", "const key = \"AI" "za{S:35}\";", 0 },
	{ "google-oauth-client-secret", "\"client_secret\": \"GOC" "SPX-{S:28}\"", 0 },
	{ "azure-storage-key",
	  "DefaultEndpointsProtocol=https;AccountName=acct;Account" "Key={B:86}==;EndpointSuffix=core.windows.net", 0 },
	{ "azure-ad-client-secret", "AZURE_CLIENT_SECRET={A:3}8" "Q~{A:34}", 0 },
	{ "alibaba-access-key-id", "access_key_id: LT" "AI{A:20}", 0 },
	{ "digitalocean-token", "DO_TOKEN=do" "p_v1_{H:64}", 0 },
	{ "heroku-api-key", "HEROKU_API_KEY={H:8}-{H:4}-{H:4}-{H:4}-{H:12}", 0 },
	{ "heroku-api-key-v2", "HEROKU_API_KEY=HR" "KU-AA{S:58}", 0 },
	{ "databricks-token", "host: x\ntoken: da" "pi{H:32}", 1 },
	{ "flyio-token", "FLY_API_TOKEN=fo" "1_{S:43}", 0 },
	{ "hashicorp-vault-token", "VAULT_TOKEN=hv" "s.{S:95}", 0 },
	{ "terraform-cloud-token", "token = \"{A:14}.atl" "asv1.{S:65}\"", 0 },
	{ "planetscale-token", "PLANETSCALE_TOKEN=psc" "ale_tkn_{S:43}", 0 },
	{ "doppler-token", "DOPPLER_TOKEN=dp." "pt.{A:43}", 0 },
	{ "dynatrace-token", "DT_API_TOKEN=dt0" "c01.{N:24}.{N:64}", 0 },
	{ "github-pat", "GITHUB_TOKEN=gh" "p_{A:36}", 0 },
	{ "github-fine-grained-pat", "token: github" "_pat_{A:22}_{A:59}", 0 },
	{ "github-oauth-token", "oauth = 'gh" "o_{A:36}'", 0 },
	{ "github-app-token", "installation token gh" "s_{A:36}", 0 },
	{ "github-refresh-token", "refresh: gh" "r_{A:76}", 0 },
	{ "gitlab-pat", "GITLAB_TOKEN=gl" "pat-{S:20}", 0 },
	{ "gitlab-deploy-token", "password: gl" "dt-{S:20}", 0 },
	{ "gitlab-runner-token", "token = \"gl" "rt-{S:20}\"", 0 },
	{ "gitlab-pipeline-trigger-token", "-F token=gl" "ptt-{H:40}", 0 },
	{ "gitlab-ci-job-token", "JOB_TOKEN=gl" "cbt-{S:20}", 0 },
	{ "gitlab-feed-token", "feed_token=gl" "ft-{S:20}", 0 },
	{ "gitlab-incoming-mail-token", "incoming gl" "imt-{S:25}", 0 },
	{ "gitlab-oauth-app-secret", "secret: gl" "oas-{S:64}", 0 },
	{ "gitlab-scim-token", "scim gl" "soat-{S:20}", 0 },
	{ "gitlab-agent-token", "agent: gl" "agent-{S:50}", 0 },
	{ "npm-token", "//registry.npmjs.org/:_authToken=np" "m_{A:36}", 0 },
	{ "pypi-token", "password = py" "pi-AgEIcHlwaS5vcmc{S:60}", 0 },
	{ "rubygems-token", ":rubygems_api_key: ruby" "gems_{H:48}", 0 },
	{ "docker-hub-token", "echo dc" "kr_pat_{S:27} | docker login", 0 },
	{ "atlassian-api-token", "JIRA_TOKEN=AT" "ATT3{S:186}", 0 },
	{ "postman-api-key", "x-api-key: PM" "AK-{H:24}-{H:34}", 0 },
	{ "linear-api-key", "LINEAR_KEY=lin" "_api_{A:40}", 0 },
	{ "sentry-token", "SENTRY_AUTH_TOKEN=sntr" "yu_{H:64}", 0 },
	{ "grafana-token", "GRAFANA_TOKEN=gl" "sa_{A:32}_{H:8}", 0 },
	{ "new-relic-api-key", "NEW_RELIC_KEY=NR" "AK-{N:27}", 0 },
	{ "slack-bot-token", "SLACK_BOT=xo" "xb-{D:12}-{D:13}-{A:24}", 0 },
	{ "slack-user-token", "user: xo" "xp-{D:12}-{D:12}-{D:13}-{H:32}", 0 },
	{ "slack-app-token", "app: xa" "pp-1-{N:11}-{D:13}-{H:64}", 0 },
	{ "slack-legacy-token", "legacy xo" "xa-2-{D:12}-{A:24}", 0 },
	{ "slack-webhook-url", "url: https://hooks.sl" "ack.com/services/T{N:8}/B{N:10}/{A:24}", 0 },
	{ "discord-bot-token", "DISCORD_TOKEN=M{A:23}.{S:6}.{S:27}", 0 },
	{ "discord-webhook-url", "https://discord.com/api/web" "hooks/{D:18}/{S:68}", 0 },
	{ "telegram-bot-token", "bot {D:9}:A" "A{S:33}", 0 },
	{ "stripe-secret-key", "Stripe.api_key = \"sk" "_live_{A:24}\"", 0 },
	{ "stripe-webhook-secret", "endpoint_secret = 'wh" "sec_{A:32}'", 0 },
	{ "shopify-token", "SHOPIFY_TOKEN=shp" "at_{H:32}", 0 },
	{ "square-token", "SQUARE=sq0" "atp-{S:22}", 0 },
	{ "twilio-api-key", "sid: S" "K{H:32}", 0 },
	{ "sendgrid-api-key", "SENDGRID=S" "G.{S:22}.{S:43}", 0 },
	{ "mailgun-api-key", "api: ke" "y-{H:32}", 0 },
	{ "openai-api-key", "OPENAI_API_KEY=sk-proj-{S:40}T3Blbk" "FJ{S:40}", 0 },
	{ "anthropic-api-key", "ANTHROPIC_API_KEY=sk-" "ant-api03-{S:93}AA", 0 },
	{ "huggingface-token", "HF_TOKEN=h" "f_{M:34}", 0 },
	{ "jwt", "Authorization: Bearer ey" "J{S:30}.ey" "J{S:60}.{S:43}", 0 },
	{ "url-credentials", "DATABASE_URL=postgres://app:{A:16}@db.internal:5432/app", 0 },
	{ "generic-secret", "DB_PASSWORD = \"{A:20}\"", 0 },
};

static struct gate_secrets *builtins(void)
{
	struct gate_secrets *set = gate_secrets_new();
	struct gate_buf err = GATE_BUF_INIT;

	if (gate_secrets_add_builtins(set, NULL, &err) < 0 || gate_secrets_compile(set, &err) < 0)
		fail_msg("%s", err.ptr);
	gate_buf_release(&err);
	return set;
}

static void scan(const struct gate_secrets *set, const char *text, struct gate_secret_hits *hits)
{
	struct gate_buf err = GATE_BUF_INIT;

	if (gate_secrets_scan(set, text, strlen(text), 0, hits, &err) < 0)
		fail_msg("%s", err.ptr);
	gate_buf_release(&err);
}

static int rule_index(const struct gate_secrets *set, const char *id)
{
	unsigned i;

	for (i = 0; i < gate_secrets_nrules(set); i++)
		if (!strcmp(gate_secrets_rule_id(set, i), id))
			return (int)i;
	fail_msg("no rule '%s'", id);
	return -1;
}

/* ---- the built-in rules ---- */

static void test_secrets__every_builtin_rule_has_a_sample(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; gate_secret_builtin_rules[i].id; i++) {
		for (j = 0; j < GATE_ARRAY_SIZE(samples); j++)
			if (!strcmp(samples[j].rule, gate_secret_builtin_rules[i].id))
				break;
		if (j == GATE_ARRAY_SIZE(samples))
			fail_msg("built-in rule '%s' has no sample in this test", gate_secret_builtin_rules[i].id);
	}
}

static void test_secrets__each_rule_finds_its_sample_on_line_3(void **state)
{
	struct gate_secrets *set = builtins();
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(samples); i++) {
		struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
		char *secret = expand(samples[i].tpl, i, 0);
		char *text = gate_xstrfmt("first line\nsecond line\n%s\nlast line\n", secret);
		int want = rule_index(set, samples[i].rule);

		scan(set, text, &hits);
		if (hits.nr != 1 || hits.v[0].rule != (unsigned)want || hits.v[0].line != 3 + samples[i].line) {
			size_t k;
			for (k = 0; k < hits.nr; k++)
				print_error("  found '%s' on line %ld\n", gate_secrets_rule_id(set, hits.v[k].rule),
					    hits.v[k].line);
			fail_msg("sample of '%s' (%s): %zu hits, want exactly one on line %ld", samples[i].rule, secret,
				 hits.nr, 3 + samples[i].line);
		}
		/* the secret the rule found is part of the sample */
		assert_non_null(strstr(text, hits.v[0].secret));
		assert_int_equal(strlen(hits.v[0].secret), hits.v[0].secret_len);
		gate_secret_hits_release(&hits);
		free(text);
		free(secret);
	}
	gate_secrets_free(set);
}

static void test_secrets__samples_without_entropy_are_not_reported(void **state)
{
	struct gate_secrets *set = builtins();
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(samples); i++) {
		struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
		char *flat = expand(samples[i].tpl, i, 1);
		size_t k;

		scan(set, flat, &hits);
		for (k = 0; k < hits.nr; k++)
			if (!strcmp(gate_secrets_rule_id(set, hits.v[k].rule), samples[i].rule))
				fail_msg("'%s' reported the flat sample %s", samples[i].rule, flat);
		gate_secret_hits_release(&hits);
		free(flat);
	}
	gate_secrets_free(set);
}

static void test_secrets__truncated_tokens_are_not_reported(void **state)
{
	static const char *const short_ones[] = {
		"gh" "p_{A:35}", "AK" "IA{U:15}", "AI" "za{S:34}", "np" "m_{A:35}", "gl" "pat-{S:19}",
		"S" "G.{S:22}.{S:42}", "ke" "y-{H:31}", "do" "p_v1_{H:63}", "xo" "xb-{D:12}-{D:13}-{A:10}",
		"ey" "J{S:30}.ey" "J{S:60}.", "sk" "_live_{A:10}",
	};
	struct gate_secrets *set = builtins();
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(short_ones); i++) {
		struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
		char *s = expand(short_ones[i], i + 100, 0);
		char *text = gate_xstrfmt("value: %s\n", s);
		scan(set, text, &hits);
		if (hits.nr)
			fail_msg("%s: reported as '%s'", s, gate_secrets_rule_id(set, hits.v[0].rule));
		gate_secret_hits_release(&hits);
		free(text);
		free(s);
	}
	gate_secrets_free(set);
}

/* None of `texts` is reported by `set`. */
static void assert_no_hits(const struct gate_secrets *set, const char *const *texts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
		scan(set, texts[i], &hits);
		if (hits.nr)
			fail_msg("%s: reported as '%s'", texts[i], gate_secrets_rule_id(set, hits.v[0].rule));
		gate_secret_hits_release(&hits);
	}
}

static void test_secrets__documentation_examples_and_placeholders_are_not_reported(void **state)
{
	static const char *const texts[] = {
		/* AWS's documented example credentials */
		"aws_access_key_id = AK" "IA" "IOSFODNN7" "EXAMPLE\n",
		"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY" "EXAMPLEKEY\n",
		"password = changeme\n",
		"password = \"change_me_before_deploying\"\n",
		"password: ${DB_PASSWORD}\n",
		"token: ${{ secrets.GITHUB_TOKEN }}\n",
		"api_key = \"<your-api-key-here>\"\n",
		"secret = \"xxxxxxxxxxxxxxxxxxxxxxxx\"\n",
		"PASSWORD=$(cat /run/secrets/db)\n",
		"password = os.environ[\"DB_PASSWORD\"]\n",
		"token = self.session.refresh_token_v2\n",
		"char *token = strtok_r(line, \" \", &saveptr);\n",
		"if (token == NULL || password == NULL)\n",
		"token_url = https://oauth2.example.org/token\n",
		"credentials_file = /etc/app/credentials.json\n",
		"password = \"aaaaaaaaaaaaaaaaaaaaaaaa\"\n",
		"secret_key = \"1234567890abcdef1234\"\n",
		"creationToken = 12345678901234567890\n",
		"GITHUB_TOKEN=gh" "p_" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
		"https://user:${PASSWORD}@example.com/repo.git\n",
		"https://user:password@example.com/\n",
		"const char *begin = \"-----BEGIN RSA PRIV" "ATE KEY-----\";\nconst char *end = \"-----END\";\n",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0\n", /* no signature */
	};
	struct gate_secrets *set = builtins();

	(void)state;
	assert_no_hits(set, texts, GATE_ARRAY_SIZE(texts));
	gate_secrets_free(set);
}

static void test_secrets__paths_and_makefile_rules_are_not_secrets(void **state)
{
	static const char *const texts[] = {
		/* git.git's contrib/credential/osxkeychain/Makefile and .gitignore-like lists */
		"contrib/credential/osxkeychain/git-credential-osxkeychain: contrib/credential/osxkeychain/git-credential-osxkeychain.o\n",
		"\tcontrib/credential/libsecret/git-credential-libsecret: contrib/credential/libsecret/git-credential-libsecret.o\n",
		"git-credential-osxkeychain.o: git-credential-osxkeychain.c\n",
		"token_file: config/deploy/token-store.yml\n",
		"secret_path: vault/kv/production/app\n",
	};
	static const char *const secrets[] = {
		/* still found: real-looking values, also with slashes */
		"aws_secret_access_key = Zt7Qp3Lm9Vx2Wr8Kd4Hs/Fb6Ny1Jc5Ge0Ua3Ti7\n",
		"password: Xq7Lm2Pz9Wk4Rt8Nv3Bs\n",
		"db_password := Xq7Lm2Pz9Wk4Rt8Nv3Bs\n",
	};
	struct gate_secrets *set = builtins();
	size_t i;

	(void)state;
	assert_no_hits(set, texts, GATE_ARRAY_SIZE(texts));
	for (i = 0; i < GATE_ARRAY_SIZE(secrets); i++) {
		struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
		scan(set, secrets[i], &hits);
		if (!hits.nr)
			fail_msg("%s: not reported", secrets[i]);
		gate_secret_hits_release(&hits);
	}
	gate_secrets_free(set);
}

static void test_secrets__private_key_blocks_in_their_common_forms(void **state)
{
	static const char *const forms[] = {
		"-----BEGIN OPENSSH PRIV" "ATE KEY-----\n{B:70}\n{B:70}\n{B:30}\n-----END OPENSSH PRIVATE KEY-----\n",
		"-----BEGIN EC PRIV" "ATE KEY-----\r\n{B:64}\r\n{B:20}\r\n-----END EC PRIVATE KEY-----\r\n",
		"-----BEGIN PGP PRIV" "ATE KEY BLOCK-----\nVersion: GnuPG v2\n\n{B:64}\n{B:64}\n=abcd\n"
		"-----END PGP PRIVATE KEY BLOCK-----\n",
		"-----BEGIN RSA PRIV" "ATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{H:32}\n\n{B:64}\n"
		"-----END RSA PRIVATE KEY-----\n",
		"-----BEGIN PRIV" "ATE KEY-----\n{B:64}\n-----END PRIVATE KEY-----\n",
		"key = \"-----BEGIN RSA PRIV" "ATE KEY-----\\n{B:64}\\n{B:64}\\n-----END RSA PRIVATE KEY-----\\n\"\n",
		"String key = \"-----BEGIN RSA PRIV" "ATE KEY-----\\n\" +\n    \"{B:64}\\n\" +\n    \"{B:64}\\n\";\n",
	};
	struct gate_secrets *set = builtins();
	int want = rule_index(set, "private-key");
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(forms); i++) {
		struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
		char *s = expand(forms[i], i, 0);
		char *text = gate_xstrfmt("a\n%s", s);
		scan(set, text, &hits);
		if (hits.nr != 1 || hits.v[0].rule != (unsigned)want || hits.v[0].line != 2)
			fail_msg("form %zu: %zu hits (first: '%s' line %ld)\n%s", i, hits.nr,
				 hits.nr ? gate_secrets_rule_id(set, hits.v[0].rule) : "-", hits.nr ? hits.v[0].line : 0,
				 text);
		gate_secret_hits_release(&hits);
		free(text);
		free(s);
	}
	gate_secrets_free(set);
}

static void test_secrets__two_private_keys_differ_in_their_secret(void **state)
{
	struct gate_secrets *set = builtins();
	struct gate_secret_hits a = GATE_SECRET_HITS_INIT, b = GATE_SECRET_HITS_INIT;
	const char *tpl = "-----BEGIN OPENSSH PRIV" "ATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB\n"
			  "{B:70}\n-----END OPENSSH PRIVATE KEY-----\n";
	char *k1 = expand(tpl, 1, 0), *k2 = expand(tpl, 2, 0);

	(void)state;
	/* OpenSSH keys share their first line: the whole body is the secret */
	scan(set, k1, &a);
	scan(set, k2, &b);
	assert_int_equal(a.nr, 1);
	assert_int_equal(b.nr, 1);
	assert_true(a.v[0].secret_len > 100);
	assert_string_not_equal(a.v[0].secret, b.v[0].secret);
	gate_secret_hits_release(&a);
	gate_secret_hits_release(&b);
	free(k1);
	free(k2);
	gate_secrets_free(set);
}

/* ---- the scanner ---- */

static void test_secrets__a_token_is_found_at_every_alignment_and_at_the_end(void **state)
{
	struct gate_secrets *set = builtins();
	char *tok = expand("gh" "p_{A:36}", 7, 0);
	int want = rule_index(set, "github-pat");
	size_t pad;

	(void)state;
	/* the prefilter probes every other byte, in blocks: try every offset */
	for (pad = 0; pad < 40; pad++) {
		struct gate_secret_hits h1 = GATE_SECRET_HITS_INIT, h2 = GATE_SECRET_HITS_INIT;
		char *text = gate_xstrfmt("%*s%s", (int)pad, "", tok);
		char *text2 = gate_xstrfmt("%*s%s\nrest of the file\n", (int)pad, "", tok);
		scan(set, text, &h1);
		scan(set, text2, &h2);
		if (h1.nr != 1 || h1.v[0].rule != (unsigned)want || h2.nr != 1 || h2.v[0].line != 1)
			fail_msg("missed at offset %zu", pad);
		assert_int_equal(h1.v[0].start, pad);
		assert_int_equal(h1.v[0].end, pad + 40);
		gate_secret_hits_release(&h1);
		gate_secret_hits_release(&h2);
		free(text);
		free(text2);
	}
	free(tok);
	gate_secrets_free(set);
}

static void test_secrets__a_keyword_class_matches_the_start_of_the_content(void **state)
{
	struct gate_secrets *set = builtins();
	struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
	/* twilio's keyword needs a non-alphanumeric byte before "SK": the start counts as one */
	char *text = expand("S" "K{H:32}\n", 3, 0);

	(void)state;
	scan(set, text, &hits);
	assert_int_equal(hits.nr, 1);
	assert_int_equal(hits.v[0].rule, rule_index(set, "twilio-api-key"));
	assert_int_equal(hits.v[0].line, 1);
	gate_secret_hits_release(&hits);
	free(text);
	gate_secrets_free(set);
}

static void test_secrets__lines_are_counted_across_many_findings(void **state)
{
	struct gate_secrets *set = builtins();
	struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
	struct gate_buf text = GATE_BUF_INIT;
	int i;

	(void)state;
	for (i = 1; i <= 300; i++) {
		if (i % 50 == 0) {
			char *t = expand("x = \"gh" "p_{A:36}\"", (uint64_t)i, 0);
			gate_buf_addf(&text, "%s\n", t);
			free(t);
		} else {
			gate_buf_addf(&text, "line %d, with a token keyword now and then\n", i);
		}
	}
	scan(set, text.ptr, &hits);
	assert_int_equal(hits.nr, 6);
	for (i = 0; i < 6; i++)
		assert_int_equal(hits.v[i].line, 50 * (i + 1));
	gate_secret_hits_release(&hits);
	gate_buf_release(&text);
	gate_secrets_free(set);
}

static void test_secrets__a_token_in_a_very_long_line_is_found(void **state)
{
	struct gate_secrets *set = builtins();
	struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
	struct gate_buf text = GATE_BUF_INIT;
	char *tok = expand("gh" "p_{A:36}", 11, 0);
	int i;

	(void)state;
	gate_buf_adds(&text, "first\n");
	for (i = 0; i < 2000; i++)
		gate_buf_adds(&text, "var a=1;");
	gate_buf_addf(&text, "var t=\"%s\";", tok);
	for (i = 0; i < 2000; i++)
		gate_buf_adds(&text, "var b=2;");
	gate_buf_adds(&text, "\nlast\n");
	scan(set, text.ptr, &hits);
	assert_int_equal(hits.nr, 1);
	assert_int_equal(hits.v[0].line, 2);
	assert_string_equal(hits.v[0].secret, tok);
	gate_secret_hits_release(&hits);
	gate_buf_release(&text);
	free(tok);
	gate_secrets_free(set);
}

static void test_secrets__at_most_max_findings_are_kept(void **state)
{
	struct gate_secrets *set = builtins();
	struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
	struct gate_buf text = GATE_BUF_INIT, err = GATE_BUF_INIT;
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		char *t = expand("k = gh" "p_{A:36}", (uint64_t)i + 500, 0);
		gate_buf_addf(&text, "%s%s", t, i % 2 ? "\n" : " ");
		free(t);
	}
	assert_int_equal(gate_secrets_scan(set, text.ptr, text.len, 3, &hits, &err), 0);
	assert_int_equal(hits.nr, 3);
	assert_true(hits.truncated);
	gate_secret_hits_release(&hits);
	assert_int_equal(gate_secrets_scan(set, text.ptr, text.len, 0, &hits, &err), 0);
	assert_int_equal(hits.nr, 10);
	assert_false(hits.truncated);
	assert_int_equal(hits.v[9].line, 5);
	gate_secret_hits_release(&hits);
	gate_buf_release(&text);
	gate_buf_release(&err);
	gate_secrets_free(set);
}

static void test_secrets__a_long_line_full_of_keywords_is_searched_once_per_rule(void **state)
{
	struct gate_secrets *set = builtins();
	struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
	struct gate_buf text = GATE_BUF_INIT;
	char *tok = expand("gh" "p_{A:36}", 77, 0);
	int i;

	(void)state;
	/* every keyword again and again, and two tokens far apart in one line */
	for (i = 0; i < 20000; i++)
		gate_buf_adds(&text, "token password secret .eyJ ://x ");
	gate_buf_addf(&text, "%s ", tok);
	for (i = 0; i < 20000; i++)
		gate_buf_adds(&text, "api_key=1 private key xoxb- ");
	gate_buf_addf(&text, "%s\n", tok);
	scan(set, text.ptr, &hits);
	assert_int_equal(hits.nr, 2);
	assert_int_equal(hits.v[0].line, 1);
	assert_int_equal(hits.v[1].line, 1);
	assert_true(hits.v[1].start > hits.v[0].start);
	gate_secret_hits_release(&hits);
	gate_buf_release(&text);
	free(tok);
	gate_secrets_free(set);
}

static void test_secrets__the_specific_rule_wins_over_the_generic_one(void **state)
{
	struct gate_secrets *set = builtins();
	struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
	char *text = expand("api_token = \"gh" "p_{A:36}\"\nsecret_key = \"S" "G.{S:22}.{S:43}\"\n", 5, 0);

	(void)state;
	scan(set, text, &hits);
	assert_int_equal(hits.nr, 2);
	assert_string_equal(gate_secrets_rule_id(set, hits.v[0].rule), "github-pat");
	assert_string_equal(gate_secrets_rule_id(set, hits.v[1].rule), "sendgrid-api-key");
	gate_secret_hits_release(&hits);
	free(text);
	gate_secrets_free(set);
}

static void test_secrets__custom_rules_with_and_without_keywords(void **state)
{
	static const char *const kw[] = { "acme_", NULL };
	static const char *const short_kw[] = { "zq9", NULL };
	struct gate_secret_rule acme = { "acme-token", "ACME token", kw, "acme_[0-9a-f]{32}", 0, 0 };
	struct gate_secret_rule bare = { "bare", "no keyword", NULL, "\\bBARE-[0-9]{6}\\b", 0, 0 };
	struct gate_secret_rule shorty = { "shorty", "short keyword", short_kw, "zq9-([0-9]{4})", 0, 0 };
	struct gate_secrets *set = gate_secrets_new();
	struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	char *text = expand("a\nkey: ACME_x acme_{H:32}\nb\nid BARE-123456 and zq9-1234\n", 1, 0);

	(void)state;
	assert_int_equal(gate_secrets_add(set, &acme, &err), 0);
	assert_int_equal(gate_secrets_add(set, &bare, &err), 0);
	assert_int_equal(gate_secrets_add(set, &shorty, &err), 0);
	assert_int_equal(gate_secrets_compile(set, &err), 0);
	scan(set, text, &hits);
	assert_int_equal(hits.nr, 3);
	assert_string_equal(gate_secrets_rule_id(set, hits.v[0].rule), "acme-token");
	assert_int_equal(hits.v[0].line, 2);
	assert_string_equal(gate_secrets_rule_id(set, hits.v[1].rule), "bare");
	assert_int_equal(hits.v[1].line, 4);
	assert_string_equal(hits.v[1].secret, "BARE-123456");
	assert_string_equal(gate_secrets_rule_id(set, hits.v[2].rule), "shorty");
	assert_string_equal(hits.v[2].secret, "1234"); /* the first group */
	gate_secret_hits_release(&hits);
	gate_buf_release(&err);
	free(text);
	gate_secrets_free(set);
}

static void test_secrets__bad_rules_are_refused(void **state)
{
	static const char *const tiny[] = { "ab", NULL };
	static const char *const badclass[] = { "x[a-", NULL };
	struct gate_secret_rule r1 = { "bad-regex", NULL, NULL, "(unclosed", 0, 0 };
	struct gate_secret_rule r2 = { "tiny", NULL, tiny, "ab", 0, 0 };
	struct gate_secret_rule r3 = { "cls", NULL, badclass, "x", 0, 0 };
	struct gate_secrets *set = gate_secrets_new();
	struct gate_buf err = GATE_BUF_INIT;
	struct gate_strvec off = GATE_STRVEC_INIT;

	(void)state;
	assert_int_equal(gate_secrets_add(set, &r1, &err), -1);
	assert_non_null(strstr(err.ptr, "(unclosed"));
	gate_buf_reset(&err);
	assert_int_equal(gate_secrets_add(set, &r2, &err), -1);
	assert_non_null(strstr(err.ptr, "shorter than 3"));
	gate_buf_reset(&err);
	assert_int_equal(gate_secrets_add(set, &r3, &err), -1);
	assert_non_null(strstr(err.ptr, "not well formed"));
	gate_buf_reset(&err);
	gate_strvec_push(&off, "no-such-rule");
	assert_int_equal(gate_secrets_add_builtins(set, &off, &err), -1);
	assert_non_null(strstr(err.ptr, "no-such-rule"));
	gate_strvec_clear(&off);
	gate_buf_release(&err);
	gate_secrets_free(set);
}

static void test_secrets__disabled_rules_are_not_run(void **state)
{
	struct gate_secrets *set = gate_secrets_new();
	struct gate_secret_hits hits = GATE_SECRET_HITS_INIT;
	struct gate_buf err = GATE_BUF_INIT;
	struct gate_strvec off = GATE_STRVEC_INIT;
	char *text = expand("t = gh" "p_{A:36}\n", 9, 0);

	(void)state;
	gate_strvec_push(&off, "github-pat");
	assert_int_equal(gate_secrets_add_builtins(set, &off, &err), 0);
	assert_int_equal(gate_secrets_compile(set, &err), 0);
	scan(set, text, &hits);
	assert_int_equal(hits.nr, 0);
	gate_strvec_clear(&off);
	gate_buf_release(&err);
	free(text);
	gate_secrets_free(set);
}

static double fabs_diff(double a, double b)
{
	return a > b ? a - b : b - a;
}

static void test_secrets__entropy_in_bits_per_byte(void **state)
{
	char all[256];
	int i;

	(void)state;
	for (i = 0; i < 256; i++)
		all[i] = (char)i;
	assert_true(gate_secret_entropy("", 0) == 0);
	assert_true(gate_secret_entropy("aaaaaaaa", 8) == 0);
	assert_true(fabs_diff(gate_secret_entropy("ab", 2), 1.0) < 1e-9);
	assert_true(fabs_diff(gate_secret_entropy("abcd", 4), 2.0) < 1e-9);
	assert_true(fabs_diff(gate_secret_entropy("aab", 3), 0.9182958340544896) < 1e-9);
	assert_true(fabs_diff(gate_secret_entropy(all, 256), 8.0) < 1e-9);
	assert_true(gate_secret_entropy("0123456789abcdef", 16) == 4.0);
}

static void test_secrets__placeholders(void **state)
{
	static const char *const yes[] = { "EXAMPLEKEY", "your_token_here", "xxxxxxxx", "changeme1", "********",
					   "zzzzzzzzzz", "DUMMY-secret", "<redacted>" };
	static const char *const no[] = { "k9Qz2LmXw8", "correct-horse-battery" };
	size_t i;

	(void)state;
	for (i = 0; i < GATE_ARRAY_SIZE(yes); i++)
		assert_true(gate_secret_is_placeholder(yes[i], strlen(yes[i])));
	for (i = 0; i < GATE_ARRAY_SIZE(no); i++)
		assert_false(gate_secret_is_placeholder(no[i], strlen(no[i])));
}

static void test_secrets__fingerprint_is_sha256_of_rule_path_secret(void **state)
{
	char fp[GATE_SECRET_FINGERPRINT_LEN + 1], fp2[GATE_SECRET_FINGERPRINT_LEN + 1];

	(void)state;
	/* fixed values: a fingerprint must never change between versions */
	gate_secret_fingerprint(fp, "github-pat", "config.py", "0123456789", 10);
	assert_string_equal(fp, "d38d811fbb7c86f3");
	gate_secret_fingerprint(fp, "acme-token", "a/b c.txt", "s3cr3t", 6);
	assert_string_equal(fp, "1b69fc824be23eee");
	/* specific to the path and the rule */
	gate_secret_fingerprint(fp2, "acme-token", "a/b c2.txt", "s3cr3t", 6);
	assert_string_not_equal(fp, fp2);
	gate_secret_fingerprint(fp2, "other", "a/b c.txt", "s3cr3t", 6);
	assert_string_not_equal(fp, fp2);
}

static void test_sha256__known_vectors(void **state)
{
	char hex[65];
	struct gate_sha256 c;
	unsigned char d[32], buf[1000];
	size_t i;

	(void)state;
	gate_sha256_hex(hex, "", 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	gate_sha256_hex(hex, "abc", 3);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	gate_sha256_hex(hex, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* a million 'a', fed in odd-sized pieces */
	memset(buf, 'a', sizeof(buf));
	gate_sha256_init(&c);
	for (i = 0; i < 1000000; i += 997)
		gate_sha256_update(&c, buf, 1000000 - i < 997 ? 1000000 - i : 997);
	gate_sha256_final(&c, d);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* ---- the check type ---- */

#define POLICY(keys) "checks = { s = { type = \"secrets\"; " keys " }; };\n"

/* Judge one blob at `path` with check "s" of `policy`. */
static struct gate_findings judge(const char *policy, const char *path, const char *data, size_t len)
{
	struct gate_config *cfg = unit_policy(policy);

	assert_true(cfg->checks[0].type->flags & GATE_CHECK_CONTENT);
	gate_config_free(cfg);
	return unit_judge_blob(policy, path, len, data, len);
}

static void test_secrets__finding_names_rule_path_line_and_fingerprint_not_the_secret(void **state)
{
	char *tok = expand("gh" "p_{A:36}", 42, 0);
	char *text = gate_xstrfmt("# settings\nDEBUG = False\nGITHUB_TOKEN = \"%s\"\n", tok);
	struct gate_findings f = judge(POLICY(""), "config.py", text, strlen(text));
	char fp[GATE_SECRET_FINGERPRINT_LEN + 1], *want;

	(void)state;
	gate_secret_fingerprint(fp, "github-pat", "config.py", tok, strlen(tok));
	assert_int_equal(f.nr, 1);
	assert_string_equal(f.v[0].path, "config.py");
	assert_int_equal(f.v[0].line, 3);
	assert_string_equal(f.v[0].commit, "0123456789abcdef0123456789abcdef01234567");
	want = gate_xstrfmt("possible GitHub personal access token (rule 'github-pat', fingerprint %s)", fp);
	assert_string_equal(f.v[0].message, want);
	assert_non_null(strstr(f.v[0].hint, "revoke or rotate"));
	assert_non_null(strstr(f.v[0].hint, "add its fingerprint to allow_fingerprints of check 's'"));
	/* nothing of the secret beyond its public prefix */
	assert_null(strstr(f.v[0].message, tok + 4));
	assert_null(strstr(f.v[0].hint, tok + 4));
	free(want);
	gate_findings_release(&f);
	free(text);
	free(tok);
}

static void test_secrets__allow_fingerprints_lets_that_finding_through(void **state)
{
	char *tok = expand("gh" "p_{A:36}", 42, 0), *policy;
	char *text = gate_xstrfmt("a\nb\nt = \"%s\"\n", tok);
	char fp[GATE_SECRET_FINGERPRINT_LEN + 1];
	struct gate_findings f;
	size_t i;

	(void)state;
	gate_secret_fingerprint(fp, "github-pat", "app.cfg", tok, strlen(tok));
	for (i = 0; fp[i]; i++)
		fp[i] = (char)(fp[i] >= 'a' ? fp[i] - 'a' + 'A' : fp[i]); /* any case */
	policy = gate_xstrfmt(POLICY("allow_fingerprints = [ \"%s\" ];"), fp);
	f = judge(policy, "app.cfg", text, strlen(text));
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
	/* the same secret in another file is another finding */
	f = judge(policy, "other.cfg", text, strlen(text));
	assert_int_equal(f.nr, 1);
	gate_findings_release(&f);
	free(policy);
	free(text);
	free(tok);
}

static void test_secrets__allow_paths_and_binary_files_pass(void **state)
{
	char *tok = expand("AK" "IA{U:16}", 1, 0);
	char *text = gate_xstrfmt("key = %s\n", tok);
	char bin[64];
	struct gate_findings f;

	(void)state;
	f = judge(POLICY("allow_paths = [ \"tests/fixtures/**\" ];"), "tests/fixtures/aws/creds", text, strlen(text));
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
	f = judge(POLICY("allow_paths = [ \"tests/fixtures/**\" ];"), "src/creds", text, strlen(text));
	assert_int_equal(f.nr, 1);
	gate_findings_release(&f);
	memset(bin, 0, sizeof(bin));
	memcpy(bin + 8, tok, strlen(tok));
	f = judge(POLICY(""), "blob.bin", bin, sizeof(bin));
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
	free(text);
	free(tok);
}

static void test_secrets__policy_patterns_and_rules_none(void **state)
{
	char *text = expand("x\nACME_KEY=acme_{H:32}\nGITHUB=gh" "p_{A:36}\n", 3, 0);
	struct gate_findings f;

	(void)state;
	f = judge(POLICY("rules = \"none\"; patterns = ( { id = \"acme-token\"; regex = \"acme_[0-9a-f]{32}\";"
			 " description = \"ACME API token\"; keywords = [ \"acme_\" ]; min_entropy = 3.0; } );"),
		  "env", text, strlen(text));
	assert_int_equal(f.nr, 1);
	assert_int_equal(f.v[0].line, 2);
	assert_true(!strncmp(f.v[0].message, "possible ACME API token (rule 'acme-token', fingerprint ", 56));
	gate_findings_release(&f);
	/* with the built-ins as well, both; a pattern without description is named by its id */
	f = judge(POLICY("patterns = ( { id = \"acme-token\"; regex = \"acme_[0-9a-f]{32}\"; } );"), "env", text,
		  strlen(text));
	assert_int_equal(f.nr, 2);
	assert_true(!strncmp(f.v[0].message, "possible acme-token (rule 'acme-token'", 38));
	gate_findings_release(&f);
	f = judge(POLICY("disable_rules = [ \"github-pat\" ];"), "env", text, strlen(text));
	assert_int_equal(f.nr, 0);
	gate_findings_release(&f);
	free(text);
}

static void test_secrets__policy_mistakes_are_reported(void **state)
{
	static const struct unit_bad_keys bad[] = {
		{ "disable_rules = [ \"github-token\" ];", "no built-in rule is called 'github-token'" },
		{ "allow_fingerprints = [ \"abc\" ];", "\"abc\" is not a fingerprint" },
		{ "allow_fingerprints = [ \"zz8d811fbb7c86f3\" ];", "is not a fingerprint" },
		{ "rules = \"some\";", "\"some\" is not \"all\"" },
		{ "rules = \"none\";", "this check could find nothing" },
		{ "rules = \"none\"; disable_rules = [ \"jwt\" ];", "no built-in rules to disable" },
		{ "patterns = ( { regex = \"x\"; } );", "needs an 'id'" },
		{ "patterns = ( { id = \"a\"; } );", "needs a 'regex'" },
		{ "patterns = ( { id = \"a\"; regex = \"(x\"; } );", "secrets pattern 'a': bad pattern" },
		{ "patterns = ( { id = \"a\"; regex = \"x\"; colour = 1; } );", "unknown key 'colour'" },
		{ "patterns = ( { id = \"jwt\"; regex = \"x\"; } );", "name of a built-in rule" },
		{ "patterns = ( { id = \"a\"; regex = \"x\"; keywords = [ \"ab\" ]; } );", "at least 3 characters" },
		{ "patterns = ( { id = \"a\"; regex = \"x\"; min_entropy = 9.5; } );", "from 0 to 8" },
		{ "patterns = { id = \"a\"; };", "must be a list of groups" },
		{ "allow_paths = [ \"[x\" ];", "allow_paths" },
		{ "colour = 1;", "unknown key 'colour'" },
	};

	(void)state;
	unit_expect_policy_errors(POLICY("%s"), bad, GATE_ARRAY_SIZE(bad));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secrets__every_builtin_rule_has_a_sample),
		cmocka_unit_test(test_secrets__each_rule_finds_its_sample_on_line_3),
		cmocka_unit_test(test_secrets__samples_without_entropy_are_not_reported),
		cmocka_unit_test(test_secrets__truncated_tokens_are_not_reported),
		cmocka_unit_test(test_secrets__documentation_examples_and_placeholders_are_not_reported),
		cmocka_unit_test(test_secrets__paths_and_makefile_rules_are_not_secrets),
		cmocka_unit_test(test_secrets__private_key_blocks_in_their_common_forms),
		cmocka_unit_test(test_secrets__two_private_keys_differ_in_their_secret),
		cmocka_unit_test(test_secrets__a_token_is_found_at_every_alignment_and_at_the_end),
		cmocka_unit_test(test_secrets__a_keyword_class_matches_the_start_of_the_content),
		cmocka_unit_test(test_secrets__lines_are_counted_across_many_findings),
		cmocka_unit_test(test_secrets__a_token_in_a_very_long_line_is_found),
		cmocka_unit_test(test_secrets__at_most_max_findings_are_kept),
		cmocka_unit_test(test_secrets__a_long_line_full_of_keywords_is_searched_once_per_rule),
		cmocka_unit_test(test_secrets__the_specific_rule_wins_over_the_generic_one),
		cmocka_unit_test(test_secrets__custom_rules_with_and_without_keywords),
		cmocka_unit_test(test_secrets__bad_rules_are_refused),
		cmocka_unit_test(test_secrets__disabled_rules_are_not_run),
		cmocka_unit_test(test_secrets__entropy_in_bits_per_byte),
		cmocka_unit_test(test_secrets__placeholders),
		cmocka_unit_test(test_secrets__fingerprint_is_sha256_of_rule_path_secret),
		cmocka_unit_test(test_sha256__known_vectors),
		cmocka_unit_test(test_secrets__finding_names_rule_path_line_and_fingerprint_not_the_secret),
		cmocka_unit_test(test_secrets__allow_fingerprints_lets_that_finding_through),
		cmocka_unit_test(test_secrets__allow_paths_and_binary_files_pass),
		cmocka_unit_test(test_secrets__policy_patterns_and_rules_none),
		cmocka_unit_test(test_secrets__policy_mistakes_are_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "config.h"

#include <stddef.h>

#include "secrets.h"

#include "banned.h"

/*
 * The built-in secret rules: the credential formats most often leaked,
 * chosen for high confidence (a vendor prefix, a fixed shape, or a key
 * name next to a high-entropy value).  Written for git-gate after
 * studying which kinds gitleaks' default configuration covers; the
 * patterns are our own.
 *
 * Order matters: where two rules find overlapping secrets the earlier one
 * is reported, so specific formats come before the generic ones.
 *
 * Keywords are case-insensitive, at least 4 positions long (so that the
 * prefilter can probe every other byte), and may hold one byte class
 * ("[0-9]", "[^a-z0-9]") where a literal would be shorter or too common;
 * a rule's pattern runs only on lines holding one of them.  Patterns are PCRE2,
 * matched against raw bytes; the first capture group, when there is one,
 * is the secret (what the entropy, the placeholder filter and the
 * fingerprint look at).
 */

#define KW(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* token boundaries */
#define B_ "(?<![A-Za-z0-9_-])"
#define E_ "(?![A-Za-z0-9_-])"

/* an assignment: `key = v`, `key: v`, `"key": "v"`, `key := v`, `key => v` */
#define ASSIGN "['\"]?[ \\t]{0,5}(?::=|=>|\\?=|=(?!=)|:(?!:))[ \\t]{0,5}['\"`]?"

/* a line break in a file or inside a string literal ("...\n" + "...") */
#define NL "[ \\t]*(?:(?:\\\\r)?\\\\n)?[\"' \\t+.,]{0,8}(?:\\r?\\n|(?:\\\\r)?\\\\n)[ \\t\"'+]{0,8}"

#define P GATE_SECRET_PLACEHOLDERS

const struct gate_secret_rule gate_secret_builtin_rules[] = {
	/* ---- private keys ---- */
	{ "gcp-service-account-key", "Google Cloud service account key (JSON \"private_key\")", KW("private_key"),
	  "\"private_key\"\\s*:\\s*\"(-----BEGIN[ A-Z]{0,40}PRIVATE KEY-----\\\\n[A-Za-z0-9+/=\\\\]{64,})", 3.0, 0 },
	{ "private-key", "private key block (RSA, DSA, EC, OpenSSH, PGP, PKCS#8)", KW("private key"),
	  "-----BEGIN[ A-Z0-9]{0,40} PRIVATE KEY(?: BLOCK)?-----" NL "(?:[A-Za-z-]{1,40}:[^\\r\\n\\\\]{0,200}" NL
	  ")*(?:" NL ")?([A-Za-z0-9+/=]{32,}(?:" NL "[A-Za-z0-9+/=]{4,})*)",
	  3.0, GATE_SECRET_MULTILINE },
	{ "putty-private-key", "PuTTY private key file", KW("private-lines:"),
	  "Private-Lines: [0-9]+\\r?\\n([A-Za-z0-9+/=]{32,}(?:\\r?\\n[A-Za-z0-9+/=]{4,})*)", 3.0,
	  GATE_SECRET_MULTILINE },
	{ "age-secret-key", "age encryption secret key", KW("age-secret-key-1"),
	  "AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", 3.0, 0 },

	/* ---- cloud providers ---- */
	{ "aws-access-key-id", "AWS access key id", KW("akia", "asia", "abia", "acca", "[^a-z0-9]a3t"),
	  "(?<![A-Za-z0-9])((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Za-z0-9])", 3.0, P },
	{ "aws-secret-access-key", "AWS secret access key",
	  KW("secret", "aws_sk", "aws-sk"),
	  "(?i)(?:aws[\\w.-]{0,20}?(?:secret|sk)|secret[_.-]?access[_.-]?key)[\\w.-]{0,20}?" ASSIGN
	  "([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
	  4.0, P },
	{ "gcp-api-key", "Google Cloud API key", KW("aiza"), B_ "(AIza[0-9A-Za-z_-]{35})" E_, 4.0, P },
	{ "google-oauth-client-secret", "Google OAuth client secret", KW("gocspx-"), "GOCSPX-[A-Za-z0-9_-]{28}" E_,
	  3.0, P },
	{ "azure-storage-key", "Azure storage account or shared access key",
	  KW("accountkey=", "sharedaccesskey="),
	  "(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{42,86}={0,2})(?![A-Za-z0-9+/=])", 4.0, P },
	{ "azure-ad-client-secret", "Azure AD (Entra ID) client secret",
	  KW("[0-9]q~[a-z0-9_~.-]"),
	  "(?<![A-Za-z0-9_~.-])([A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?![A-Za-z0-9_~.-])", 3.0, P },
	{ "alibaba-access-key-id", "Alibaba Cloud access key id", KW("ltai"),
	  "(?<![A-Za-z0-9])LTAI[A-Za-z0-9]{20}(?![A-Za-z0-9])", 3.0, P },
	{ "digitalocean-token", "DigitalOcean access, OAuth or refresh token", KW("dop_v1_", "doo_v1_", "dor_v1_"),
	  B_ "do[opr]_v1_[a-f0-9]{64}" E_, 3.0, P },
	{ "heroku-api-key", "Heroku API key", KW("heroku"),
	  "(?i)heroku[\\w.-]{0,20}?" ASSIGN "([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?![0-9a-f-])",
	  3.0, P },
	{ "heroku-api-key-v2", "Heroku API key", KW("hrku-aa"), B_ "HRKU-AA[0-9A-Za-z_-]{58}" E_, 3.0, P },
	{ "databricks-token", "Databricks API token", KW("dapi"),
	  "(?<![A-Za-z0-9_])dapi[a-f0-9]{32}(?:-[0-9])?(?![A-Za-z0-9])", 3.0, P },
	{ "flyio-token", "Fly.io access token", KW("fo1_", "fm1a_", "fm1r_", "fm2_"),
	  B_ "(?:fo1_[A-Za-z0-9_-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,}={0,3}|fm2_[A-Za-z0-9+/]{100,}={0,3})", 4.0, P },
	{ "hashicorp-vault-token", "HashiCorp Vault service or batch token", KW("hvs.", "hvb."),
	  B_ "hv[sb]\\.[A-Za-z0-9_-]{90,}", 4.0, P },
	{ "terraform-cloud-token", "Terraform Cloud / HCP Terraform API token", KW(".atlasv1."),
	  "[A-Za-z0-9]{14}\\.atlasv1\\.[A-Za-z0-9_=-]{60,70}", 4.0, P },
	{ "planetscale-token", "PlanetScale token or password", KW("pscale_tkn_", "pscale_pw_", "pscale_oauth_"),
	  B_ "pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.=-]{32,64}", 3.0, P },
	{ "doppler-token", "Doppler API token", KW("dp.pt.", "dp.st.", "dp.sa.", "dp.ct."),
	  B_ "dp\\.(?:pt|st|sa|ct)\\.[A-Za-z0-9]{40,44}" E_, 3.0, P },
	{ "dynatrace-token", "Dynatrace API token", KW("dt0c01."), "dt0c01\\.[A-Z0-9]{24}\\.[A-Z0-9]{64}", 3.0, P },

	/* ---- forges, registries and CI ---- */
	{ "github-pat", "GitHub personal access token", KW("ghp_"), B_ "ghp_[A-Za-z0-9]{36}" E_, 3.0, P },
	{ "github-fine-grained-pat", "GitHub fine-grained personal access token", KW("github_pat_"),
	  B_ "github_pat_[A-Za-z0-9_]{82}" E_, 3.0, P },
	{ "github-oauth-token", "GitHub OAuth access token", KW("gho_"), B_ "gho_[A-Za-z0-9]{36}" E_, 3.0, P },
	{ "github-app-token", "GitHub App user-to-server or installation token", KW("ghu_", "ghs_"),
	  B_ "gh[us]_[A-Za-z0-9]{36}" E_, 3.0, P },
	{ "github-refresh-token", "GitHub refresh token", KW("ghr_"), B_ "ghr_[A-Za-z0-9]{36,76}" E_, 3.0, P },
	{ "gitlab-pat", "GitLab personal, project or group access token", KW("glpat-"),
	  B_ "glpat-[A-Za-z0-9_-]{20,300}", 3.0, P },
	{ "gitlab-deploy-token", "GitLab deploy token", KW("gldt-"), B_ "gldt-[A-Za-z0-9_-]{20,300}", 3.0, P },
	{ "gitlab-runner-token", "GitLab runner authentication or registration token", KW("glrt-", "gr1348941"),
	  B_ "(?:glrt-|GR1348941)[A-Za-z0-9_-]{20,300}", 3.0, P },
	{ "gitlab-pipeline-trigger-token", "GitLab pipeline trigger token", KW("glptt-"),
	  B_ "glptt-[0-9a-f]{40}" E_, 3.0, P },
	{ "gitlab-ci-job-token", "GitLab CI/CD job token", KW("glcbt-"),
	  B_ "glcbt-(?:[0-9a-fA-F]{2}_)?[A-Za-z0-9_-]{20,300}", 3.0, P },
	{ "gitlab-feed-token", "GitLab feed token", KW("glft-"), B_ "glft-[A-Za-z0-9_-]{20,300}", 3.0, P },
	{ "gitlab-incoming-mail-token", "GitLab incoming mail token", KW("glimt-"),
	  B_ "glimt-[A-Za-z0-9_-]{25,300}", 3.0, P },
	{ "gitlab-oauth-app-secret", "GitLab OAuth application secret", KW("gloas-"),
	  B_ "gloas-[A-Za-z0-9_-]{64,300}", 3.0, P },
	{ "gitlab-scim-token", "GitLab SCIM token", KW("glsoat-"), B_ "glsoat-[A-Za-z0-9_-]{20,300}", 3.0, P },
	{ "gitlab-agent-token", "GitLab agent for Kubernetes token", KW("glagent-"),
	  B_ "glagent-[A-Za-z0-9_-]{50,300}", 3.0, P },
	{ "npm-token", "npm access token", KW("npm_"), "(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])", 3.5,
	  P },
	{ "pypi-token", "PyPI upload token", KW("pypi-ageichlwas5vcmc"), "pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}", 3.0,
	  P },
	{ "rubygems-token", "RubyGems API key", KW("rubygems_"), B_ "rubygems_[a-f0-9]{48}" E_, 3.0, P },
	{ "docker-hub-token", "Docker Hub personal or organisation access token", KW("dckr_pat_", "dckr_oat_"),
	  B_ "dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,64}" E_, 3.0, P },
	{ "atlassian-api-token", "Atlassian API token", KW("atatt3"), B_ "ATATT3[A-Za-z0-9_=-]{186}", 3.5, P },
	{ "postman-api-key", "Postman API key", KW("pmak-"), B_ "PMAK-[a-f0-9]{24}-[a-f0-9]{34}" E_, 3.0, P },
	{ "linear-api-key", "Linear API key", KW("lin_api_"), B_ "lin_api_[A-Za-z0-9]{40}" E_, 3.0, P },
	{ "sentry-token", "Sentry organisation or user auth token", KW("sntrys_", "sntryu_"),
	  B_ "(?:sntrys_eyJ[A-Za-z0-9+/=_-]{60,}|sntryu_[a-f0-9]{64}" E_ ")", 3.0, P },
	{ "grafana-token", "Grafana service account or cloud token", KW("glsa_", "glc_"),
	  B_ "(?:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,400}={0,2})", 3.0, P },
	{ "new-relic-api-key", "New Relic user API key", KW("nrak-"), B_ "NRAK-[A-Z0-9]{27}" E_, 3.0, P },

	/* ---- chat ---- */
	{ "slack-bot-token", "Slack bot token", KW("xoxb-"),
	  B_ "xoxb-[0-9]{8,13}-(?:[0-9]{8,13}-)?[A-Za-z0-9]{24,34}(?![A-Za-z0-9])", 3.0, P },
	{ "slack-user-token", "Slack user token", KW("xoxp-", "xoxe-"),
	  B_ "xox[pe]-[0-9]{8,13}-[0-9]{8,13}-[0-9]{8,13}-[A-Za-z0-9]{28,34}(?![A-Za-z0-9])", 3.0, P },
	{ "slack-app-token", "Slack app-level token", KW("xapp-"),
	  B_ "xapp-[0-9]-[A-Z0-9]{9,12}-[0-9]{10,13}-[a-z0-9]{64}" E_, 3.0, P },
	{ "slack-legacy-token", "Slack legacy, workspace or refresh token", KW("xoxa-", "xoxo-", "xoxr-", "xoxs-"),
	  B_ "xox[aors]-(?:[0-9]{1,13}-){1,3}[A-Za-z0-9]{8,64}(?![A-Za-z0-9])", 3.0, P },
	{ "slack-webhook-url", "Slack incoming webhook URL", KW("hooks.slack.com"),
	  "hooks\\.slack\\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/]{43,56})", 3.0, P },
	{ "discord-bot-token", "Discord bot token", KW("discord"),
	  B_ "([MNO][A-Za-z0-9_-]{23,25}\\.[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,38})" E_, 3.5, P },
	{ "discord-webhook-url", "Discord webhook URL", KW("discord"),
	  "discord(?:app)?\\.com/api/webhooks/[0-9]{17,20}/([A-Za-z0-9_-]{60,72})" E_, 3.5, P },
	{ "telegram-bot-token", "Telegram bot token", KW("[0-9]:aa"),
	  "(?<![0-9])([0-9]{8,10}:AA[A-Za-z0-9_-]{32,33})" E_, 3.5, P },

	/* ---- payments, mail and messaging ---- */
	{ "stripe-secret-key", "Stripe live secret or restricted key", KW("sk_live_", "rk_live_"),
	  "(?<![A-Za-z0-9_])[sr]k_live_[A-Za-z0-9]{20,247}(?![A-Za-z0-9])", 3.0, P },
	{ "stripe-webhook-secret", "Stripe webhook signing secret", KW("whsec_"),
	  "(?<![A-Za-z0-9_])whsec_[A-Za-z0-9+/=]{32,}", 3.0, P },
	{ "shopify-token", "Shopify access token or shared secret", KW("shpat_", "shpca_", "shppa_", "shpss_"),
	  B_ "shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" E_, 3.0, P },
	{ "square-token", "Square access token or OAuth secret", KW("sq0atp-", "sq0csp-"),
	  B_ "sq0(?:atp|csp)-[A-Za-z0-9_-]{22,43}" E_, 3.0, P },
	{ "twilio-api-key", "Twilio API key",
	  KW("[^a-z0-9]sk[0-9a-f]"),
	  "(?<![A-Za-z0-9])SK[0-9a-f]{32}(?![A-Za-z0-9])", 3.0, P },
	{ "sendgrid-api-key", "SendGrid API key", KW("[^a-z0-9_-]sg."), B_ "SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}" E_, 4.0,
	  P },
	{ "mailgun-api-key", "Mailgun private API key", KW("key-"), B_ "key-[0-9a-f]{32}" E_, 3.0, P },

	/* ---- AI services ---- */
	{ "openai-api-key", "OpenAI API key", KW("t3blbkfj"),
	  B_ "sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}", 3.0, P },
	{ "anthropic-api-key", "Anthropic API key", KW("sk-ant-"), B_ "sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA" E_,
	  3.0, P },
	{ "huggingface-token", "Hugging Face access token", KW("[^a-z0-9_]hf_"),
	  "(?<![A-Za-z0-9_])hf_[A-Za-z]{34}(?![A-Za-z0-9_])", 3.5, P },

	/* ---- generic ---- */
	{ "jwt", "JSON Web Token", KW(".eyj"),
	  B_ "ey[A-Za-z0-9_-]{10,2000}\\.ey[A-Za-z0-9_-]{10,8000}\\.[A-Za-z0-9_-]{10,2000}", 3.0, P },
	{ "url-credentials", "password in a URL (scheme://user:password@host)", KW("[a-z0-9+.-]://"),
	  "(?i)\\b[a-z][a-z0-9+.-]{1,20}://[^\\s:/?#@'\"]{1,64}:([^\\s:/?#@'\"]{8,128})@[a-z0-9.-]+", 3.0,
	  P | GATE_SECRET_ASSIGNMENT },
	{ "generic-secret", "high-entropy value assigned to a password, secret, token or key",
	  KW("password", "passwd", "[^a-z0-9]pwd", "secret", "token", "api_key", "api-key", "api.key", "apikey", "access_key",
	     "access-key", "accesskey", "auth_key", "authkey", "private_key", "privatekey", "credential"),
	  "(?i)(?:passw(?:or)?d|pwd|secret|token|api[_.-]?key|access[_.-]?key|auth[_.-]?key|private[_.-]?key|"
	  "credentials?)[\\w.-]{0,20}?" ASSIGN "([^\\s'\"`;,(){}<>\\[\\]\\\\]{12,200})",
	  3.5, P | GATE_SECRET_ASSIGNMENT },
	{ NULL, NULL, NULL, NULL, 0, 0 },
};

#include "config.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

static void die_oom(size_t n)
{
	/* Nothing sensible can be said to the pusher without memory. */
	fprintf(stderr, "git-gate: out of memory allocating %zu bytes\n", n);
	abort();
}

void *gate_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom(n);
	return p;
}

void *gate_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		die_oom(nmemb * size);
	return p;
}

void *gate_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die_oom(n);
	return q;
}

char *gate_xstrdup(const char *s)
{
	return gate_xstrndup(s, strlen(s));
}

char *gate_xstrndup(const char *s, size_t n)
{
	char *p = gate_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *gate_xstrfmt(const char *fmt, ...)
{
	struct gate_buf b = GATE_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	gate_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return gate_buf_detach(&b);
}

void gate_buf_init(struct gate_buf *b)
{
	b->ptr = NULL;
	b->len = b->alloc = 0;
}

void gate_buf_release(struct gate_buf *b)
{
	free(b->ptr);
	gate_buf_init(b);
}

void gate_buf_reset(struct gate_buf *b)
{
	gate_buf_truncate(b, 0);
}

void gate_buf_grow(struct gate_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need < b->len)
		die_oom(SIZE_MAX);
	if (need > b->alloc) {
		size_t n = b->alloc ? b->alloc : 64;
		while (n < need)
			n *= 2;
		b->ptr = gate_xrealloc(b->ptr, n);
		b->alloc = n;
	}
}

void gate_buf_add(struct gate_buf *b, const void *data, size_t len)
{
	gate_buf_grow(b, len);
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
}

void gate_buf_adds(struct gate_buf *b, const char *s)
{
	gate_buf_add(b, s, strlen(s));
}

void gate_buf_addch(struct gate_buf *b, int c)
{
	gate_buf_grow(b, 1);
	b->ptr[b->len++] = (char)c;
	b->ptr[b->len] = '\0';
}

void gate_buf_vaddf(struct gate_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	gate_buf_grow(b, 64);
	va_copy(cp, ap);
	n = vsnprintf(b->ptr + b->len, b->alloc - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= b->alloc - b->len) {
		gate_buf_grow(b, (size_t)n);
		n = vsnprintf(b->ptr + b->len, b->alloc - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void gate_buf_addf(struct gate_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gate_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void gate_buf_setf(struct gate_buf *b, const char *fmt, ...)
{
	va_list ap;

	gate_buf_reset(b);
	va_start(ap, fmt);
	gate_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void gate_buf_truncate(struct gate_buf *b, size_t len)
{
	if (!b->ptr)
		return;
	if (len < b->len)
		b->len = len;
	b->ptr[b->len] = '\0';
}

char *gate_buf_detach(struct gate_buf *b)
{
	char *p = b->ptr ? b->ptr : gate_xstrdup("");

	gate_buf_init(b);
	return p;
}

const char *gate_buf_cstr(const struct gate_buf *b)
{
	return b->ptr ? b->ptr : "";
}

int gate_error(struct gate_buf *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return GATE_ERROR;
	gate_buf_reset(err);
	va_start(ap, fmt);
	gate_buf_vaddf(err, fmt, ap);
	va_end(ap);
	return GATE_ERROR;
}

void gate_strvec_push(struct gate_strvec *sv, const char *s)
{
	GATE_ALLOC_GROW(sv->v, sv->nr + 2, sv->alloc);
	sv->v[sv->nr++] = gate_xstrdup(s);
	sv->v[sv->nr] = NULL;
}

void gate_strvec_pushf(struct gate_strvec *sv, const char *fmt, ...)
{
	struct gate_buf b = GATE_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	gate_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	GATE_ALLOC_GROW(sv->v, sv->nr + 2, sv->alloc);
	sv->v[sv->nr++] = gate_buf_detach(&b);
	sv->v[sv->nr] = NULL;
}

void gate_strvec_pushv(struct gate_strvec *sv, const char *const *v)
{
	for (; v && *v; v++)
		gate_strvec_push(sv, *v);
}

void gate_strvec_clear(struct gate_strvec *sv)
{
	size_t i;

	for (i = 0; i < sv->nr; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->nr = sv->alloc = 0;
}

const char *const *gate_strvec_argv(struct gate_strvec *sv)
{
	if (!sv->v) {
		GATE_ALLOC_GROW(sv->v, 1, sv->alloc);
		sv->v[0] = NULL;
	}
	return (const char *const *)sv->v;
}

int gate_strvec_contains(const struct gate_strvec *sv, const char *s)
{
	size_t i;

	for (i = 0; i < sv->nr; i++)
		if (!strcmp(sv->v[i], s))
			return 1;
	return 0;
}

int gate_read_fd(struct gate_buf *b, int fd)
{
	for (;;) {
		ssize_t n;

		gate_buf_grow(b, 8192);
		n = read(fd, b->ptr + b->len, b->alloc - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->ptr[b->len] = '\0';
	}
	return 0;
}

int gate_read_file(struct gate_buf *b, const char *path, struct gate_buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0) {
		if (errno == ENOENT)
			return GATE_ENOTFOUND;
		return gate_error(err, "cannot open '%s': %s", path, strerror(errno));
	}
	ret = gate_read_fd(b, fd);
	if (ret < 0)
		ret = gate_error(err, "cannot read '%s': %s", path, strerror(errno));
	close(fd);
	return ret;
}

long gate_utf8_decode(const unsigned char *s, size_t len, size_t *n)
{
	unsigned long cp;
	size_t need, i;

	if (s[0] < 0x80) {
		*n = 1;
		return s[0];
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4, cp = s[0] & 0x07;
	else
		return -1;
	if (len < need)
		return -1;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*n = need;
	return (long)cp;
}

int gate_char_unsafe(long cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

void gate_buf_add_safe(struct gate_buf *b, const char *s, size_t len)
{
	gate_buf_add_safe_opts(b, s, len, 0);
}

void gate_buf_add_safe_opts(struct gate_buf *b, const char *s, size_t len, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, k;

	while (i < len) {
		long cp;

		/* printable ASCII, most of every path and message, in one piece */
		for (k = i; k < len && p[k] >= 0x20 && p[k] < 0x7f; k++)
			;
		if (k > i) {
			gate_buf_add(b, p + i, k - i);
			i = k;
			continue;
		}
		cp = gate_utf8_decode(p + i, len - i, &n);
		if ((cp == '\n' || cp == '\t') && (flags & GATE_SAFE_LINES)) {
			gate_buf_addch(b, (int)cp);
		} else if (cp == '\n') {
			gate_buf_adds(b, "\\n");
		} else if (cp == '\t') {
			gate_buf_adds(b, "\\t");
		} else if (cp < 0) {
			/* not UTF-8: this byte alone, the next one starts afresh */
			gate_buf_addf(b, "\\x%02x", p[i]);
			n = 1;
		} else if (gate_char_unsafe(cp)) {
			for (k = 0; k < n; k++)
				gate_buf_addf(b, "\\x%02x", p[i + k]);
		} else {
			gate_buf_add(b, p + i, n);
		}
		i += n;
	}
}

void gate_buf_add_safes(struct gate_buf *b, const char *s)
{
	gate_buf_add_safe(b, s, strlen(s));
}

size_t gate_utf8_partial_tail(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k, need;

	/* look back at most 3 bytes for the lead byte of a sequence cut short */
	for (k = 1; k <= 3 && k <= len; k++) {
		unsigned char c = p[len - k];
		if ((c & 0xc0) == 0x80)
			continue;
		need = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		return need > k ? k : 0;
	}
	return 0;
}

char *gate_xstrdup_safe(const char *s)
{
	struct gate_buf b = GATE_BUF_INIT;

	if (!s)
		return NULL;
	gate_buf_add_safes(&b, s);
	return gate_buf_detach(&b);
}

int gate_mkdir_p(const char *path, unsigned mode)
{
	char *p = gate_xstrdup(path), *s;
	int ret = 0;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
			ret = -1;
		*s = '/';
		if (ret)
			break;
	}
	if (!ret && mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
		ret = -1;
	free(p);
	return ret;
}

int gate_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

double gate_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Parse a leading decimal (with an optional fraction); returns the end. */
static const char *parse_number(const char *s, double *out)
{
	char *end;
	double v;

	if (!isdigit((unsigned char)*s))
		return NULL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return NULL;
	*out = v;
	return end;
}

int gate_parse_size(uint64_t *out, const char *s, struct gate_buf *err)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {
		{ "", 1 }, { "b", 1 }, { "byte", 1 }, { "bytes", 1 },
		{ "k", 1024.0 }, { "kb", 1000.0 }, { "kib", 1024.0 },
		{ "m", 1048576.0 }, { "mb", 1e6 }, { "mib", 1048576.0 },
		{ "g", 1073741824.0 }, { "gb", 1e9 }, { "gib", 1073741824.0 },
		{ "t", 1099511627776.0 }, { "tb", 1e12 }, { "tib", 1099511627776.0 },
	};
	const char *p;
	char unit[8];
	size_t n = 0, i;
	double v;

	p = parse_number(skip_space(s), &v);
	if (!p)
		return gate_error(err, "'%s' is not a size (expected e.g. \"5 MiB\")", s);
	p = skip_space(p);
	while (*p && *p != ' ' && n < sizeof(unit) - 1)
		unit[n++] = (char)tolower((unsigned char)*p++);
	unit[n] = '\0';
	if (*skip_space(p))
		return gate_error(err, "'%s' is not a size (expected e.g. \"5 MiB\")", s);
	for (i = 0; i < GATE_ARRAY_SIZE(units); i++) {
		if (!strcmp(unit, units[i].unit)) {
			double r = v * units[i].mult;
			if (r >= 18446744073709551615.0)
				return gate_error(err, "size '%s' is too large", s);
			*out = (uint64_t)r;
			return 0;
		}
	}
	return gate_error(err, "unknown size unit in '%s' (use B, KiB, MiB, GiB, KB, MB, GB)", s);
}

int gate_parse_duration(int64_t *out, const char *s, struct gate_buf *err)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {
		{ "", 1 }, { "s", 1 }, { "sec", 1 }, { "secs", 1 }, { "second", 1 }, { "seconds", 1 },
		{ "m", 60 }, { "min", 60 }, { "mins", 60 }, { "minute", 60 }, { "minutes", 60 },
		{ "h", 3600 }, { "hour", 3600 }, { "hours", 3600 },
		{ "d", 86400 }, { "day", 86400 }, { "days", 86400 },
		{ "w", 604800 }, { "week", 604800 }, { "weeks", 604800 },
	};
	const char *p;
	char unit[10];
	size_t n = 0, i;
	double v;

	p = parse_number(skip_space(s), &v);
	if (!p)
		return gate_error(err, "'%s' is not a duration (expected e.g. \"10 min\")", s);
	p = skip_space(p);
	while (*p && *p != ' ' && n < sizeof(unit) - 1)
		unit[n++] = (char)tolower((unsigned char)*p++);
	unit[n] = '\0';
	if (*skip_space(p))
		return gate_error(err, "'%s' is not a duration (expected e.g. \"10 min\")", s);
	for (i = 0; i < GATE_ARRAY_SIZE(units); i++) {
		if (!strcmp(unit, units[i].unit)) {
			double r = v * units[i].mult;
			if (r > 9.2e18)
				return gate_error(err, "duration '%s' is too large", s);
			*out = (int64_t)r;
			return 0;
		}
	}
	return gate_error(err, "unknown duration unit in '%s' (use s, min, h, d)", s);
}

void gate_buf_add_size(struct gate_buf *b, uint64_t n)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t i = 0;

	if (n < 1024) {
		gate_buf_addf(b, "%llu B", (unsigned long long)n);
		return;
	}
	v /= 1024.0;
	while (v >= 1024.0 && i + 1 < GATE_ARRAY_SIZE(units)) {
		v /= 1024.0;
		i++;
	}
	gate_buf_addf(b, "%.1f %s", v, units[i]);
}

int gate_is_hex_oid(const char *s)
{
	size_t i;

	for (i = 0; i < 40; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return s[40] == '\0';
}

int gate_is_zero_oid(const char *s)
{
	return !strcmp(s, GATE_ZERO_OID);
}

int gate_skip_prefix(const char *s, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n))
		return 0;
	if (rest)
		*rest = s + n;
	return 1;
}

int gate_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !memcmp(s + a - b, suffix, b);
}

int gate_write_file_replace(const char *path, const void *data, size_t len, struct gate_buf *err)
{
	return gate_write_file_replace_with(path, data, len, NULL, NULL, 0, err);
}

int gate_write_file_replace_with(const char *path, const void *data, size_t len,
				 int (*open_fn)(void *ctx, const char *path, int flags, unsigned mode), void *ctx,
				 int durable, struct gate_buf *err)
{
	char *tmp = NULL;
	int fd = -1, tries, ret = -1;

	for (tries = 0; tries < 100; tries++) {
		int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
		free(tmp);
		tmp = gate_xstrfmt("%s.tmp-%ld-%d", path, (long)getpid(), tries);
		fd = open_fn ? open_fn(ctx, tmp, flags, 0666) : open(tmp, flags, 0666);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		gate_error(err, "cannot create '%s': %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (gate_write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
		gate_error(err, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		gate_error(err, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		gate_error(err, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		(void)unlink(tmp);
	free(tmp);
	return ret;
}

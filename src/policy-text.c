#include "config.h"
#include "policy-text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "banned.h"

/* libconfig 1.5 stops at this include depth (scanctx.c MAX_INCLUDE_DEPTH) */
#define MAX_DEPTH 10
/* a policy is a few kilobytes; refuse to read a runaway file whole */
#define MAX_POLICY_BYTES (16 * 1024 * 1024)

struct include {
	const char *name; /* as written after @include */
	size_t name_len;
	int line;
};

struct scan {
	const char *file;
	struct gate_diag *diag;
	struct include *incs;
	size_t ninc, alloc;
	int problems;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void add_include(struct scan *s, const char *name, size_t len, int line)
{
	if (s->ninc == s->alloc) {
		s->alloc = s->alloc ? 2 * s->alloc : 4;
		s->incs = gate_xrealloc(s->incs, s->alloc * sizeof(*s->incs));
	}
	s->incs[s->ninc].name = name;
	s->incs[s->ninc].name_len = len;
	s->incs[s->ninc].line = line;
	s->ninc++;
}

/*
 * Walk the text as libconfig's scanner does: comments (#, //, C style),
 * strings with their escapes, and @include at the start of a line.
 */
static void scan_text(struct scan *s, const char *t, size_t len)
{
	size_t i = 0;
	int line = 1, bol = 1;

	while (i < len) {
		char c = t[i];

		if (c == '\0') {
			gate_diag_addf(s->diag, s->file, line, "the policy holds a NUL byte (it is not a text file)");
			s->problems++;
			return;
		}
		if (c == '\n') {
			line++;
			bol = 1;
			i++;
			continue;
		}
		if (bol && (c == ' ' || c == '\t')) {
			i++;
			continue;
		}
		if (bol && c == '@' && len - i > 8 && !strncmp(t + i, "@include", 8) &&
		    (t[i + 8] == ' ' || t[i + 8] == '\t')) {
			size_t j = i + 8, start;
			while (j < len && (t[j] == ' ' || t[j] == '\t'))
				j++;
			if (j < len && t[j] == '"') {
				start = ++j;
				while (j < len && t[j] != '"' && t[j] != '\n' && t[j] != '\0')
					j++;
				if (j < len && t[j] == '"')
					add_include(s, t + start, j - start, line);
			}
			bol = 0;
			i = j;
			continue;
		}
		bol = 0;
		if (c == '#' || (c == '/' && i + 1 < len && t[i + 1] == '/')) {
			while (i < len && t[i] != '\n' && t[i] != '\0')
				i++;
			continue;
		}
		if (c == '/' && i + 1 < len && t[i + 1] == '*') {
			i += 2;
			while (i < len && !(t[i] == '*' && i + 1 < len && t[i + 1] == '/')) {
				if (t[i] == '\0')
					break;
				if (t[i] == '\n')
					line++;
				i++;
			}
			if (i < len && t[i] == '*')
				i += 2;
			continue;
		}
		if (c == '"') {
			i++;
			while (i < len && t[i] != '"' && t[i] != '\0') {
				if (t[i] == '\n')
					line++;
				if (t[i] == '\\' && i + 1 < len) {
					if ((t[i + 1] == 'x' || t[i + 1] == 'X') && i + 3 < len &&
					    hexval(t[i + 2]) == 0 && hexval(t[i + 3]) == 0) {
						gate_diag_addf(s->diag, s->file, line,
							       "a string holds a NUL byte (\\x00), which would cut it short");
						s->problems++;
					}
					i += 2;
					continue;
				}
				i++;
			}
			if (i < len && t[i] == '"')
				i++;
			continue;
		}
		i++;
	}
}

int gate_policy_text_check(const char *name, const char *text, size_t len, struct gate_diag *diag)
{
	struct scan s;

	memset(&s, 0, sizeof(s));
	s.file = name;
	s.diag = diag;
	scan_text(&s, text, len);
	free(s.incs);
	return s.problems;
}

static const char *kind_of(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/*
 * Read `path` if it is a regular file (or /dev/null), never blocking on
 * anything else.
 * 0, GATE_ENOTFOUND (absent; errno set), 1 (not regular: *mode says what),
 * or -1 (errno).
 */
static int read_regular(const char *path, struct gate_buf *out, mode_t *mode)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY), ret = -1, saved;

	if (fd < 0)
		return errno == ENOENT ? GATE_ENOTFOUND : -1;
	if (fstat(fd, &st) < 0)
		goto out;
	/* /dev/null reads as an empty policy and cannot block: let it be */
	if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3) {
		ret = 0;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		*mode = st.st_mode;
		ret = 1;
		goto out;
	}
	if (st.st_size > MAX_POLICY_BYTES) {
		errno = EFBIG;
		goto out;
	}
	ret = gate_read_fd(out, fd) < 0 ? -1 : 0;
out:
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

/* The chain of files being included, to catch a cycle. */
struct chain {
	const struct chain *up;
	const char *real;
};

static int check_file(const char *file, const char *shown, int from_line, const char *from_file,
		      const char *include_dir, const struct chain *up, int depth, struct gate_diag *diag)
{
	struct gate_buf text = GATE_BUF_INIT;
	struct chain me;
	struct scan s;
	const struct chain *c;
	mode_t mode = 0;
	char *real = NULL;
	size_t k;
	int r, problems = 0;

	real = realpath(file, NULL);
	for (c = up; real && c; c = c->up)
		if (!strcmp(c->real, real)) {
			gate_diag_addf(diag, from_file, from_line,
				       "\"%s\" is included recursively (it is already being read)", shown);
			free(real);
			return 1;
		}
	r = read_regular(file, &text, &mode);
	if (r == GATE_ENOTFOUND || (r < 0 && from_file)) {
		/* libconfig names a missing include, or the file, itself */
		problems = r == GATE_ENOTFOUND && !from_file ? GATE_ENOTFOUND : 0;
		goto out;
	}
	if (r < 0) {
		gate_diag_addf(diag, file, 0, "cannot read the policy: %s", strerror(errno));
		problems = 1;
		goto out;
	}
	if (r == 1) {
		if (from_file)
			gate_diag_addf(diag, from_file, from_line,
				       "included file \"%s\" is %s; only regular files can be included", shown,
				       kind_of(mode));
		else if (S_ISDIR(mode))
			gate_diag_addf(diag, file, 0, "cannot read the policy: %s", strerror(EISDIR));
		else
			gate_diag_addf(diag, file, 0, "the policy is %s; it must be a regular file", kind_of(mode));
		problems = 1;
		goto out;
	}
	memset(&s, 0, sizeof(s));
	s.file = file;
	s.diag = diag;
	scan_text(&s, text.ptr ? text.ptr : "", text.len);
	problems = s.problems;
	me.up = up;
	me.real = real ? real : file;
	for (k = 0; k < s.ninc && depth < MAX_DEPTH; k++) {
		char *name = gate_xstrndup(s.incs[k].name, s.incs[k].name_len);
		char *path = include_dir && *include_dir ? gate_xstrfmt("%s/%s", include_dir, name) : gate_xstrdup(name);
		problems += check_file(path, name, s.incs[k].line, file, include_dir, &me, depth + 1, diag);
		free(path);
		free(name);
	}
	free(s.incs);
out:
	free(real);
	gate_buf_release(&text);
	return problems;
}

int gate_policy_file_check(const char *file, const char *include_dir, struct gate_diag *diag)
{
	return check_file(file, file, 0, NULL, include_dir, NULL, 0, diag);
}

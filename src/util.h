#ifndef GATE_UTIL_H
#define GATE_UTIL_H

/*
 * Small helpers every module uses: allocation that aborts on exhaustion
 * (the only place git-gate gives up without a message of its own), a
 * growable byte buffer and a NULL-terminated string vector.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define GATE_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Named error codes; anything else negative is -1 with a message. */
#define GATE_OK 0
#define GATE_ERROR -1
#define GATE_ENOTFOUND -3

/* Exit statuses shared by the CLI and the hooks. */
#define GATE_EXIT_ACCEPT 0
#define GATE_EXIT_REJECT 1
#define GATE_EXIT_USAGE 2
#define GATE_EXIT_INTERNAL 3

void *gate_xmalloc(size_t n);
void *gate_xcalloc(size_t nmemb, size_t size);
void *gate_xrealloc(void *p, size_t n);
char *gate_xstrdup(const char *s);
char *gate_xstrndup(const char *s, size_t n);
char *gate_xstrfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow array `x` (with `alloc` slots) so that it holds at least `nr`. */
#define GATE_ALLOC_GROW(x, nr, alloc)                                         \
	do {                                                                  \
		if ((size_t)(nr) > (alloc)) {                                 \
			size_t gate_new_ = (alloc) ? (alloc) * 2 : 16;        \
			if (gate_new_ < (size_t)(nr))                         \
				gate_new_ = (nr);                             \
			(x) = gate_xrealloc((x), gate_new_ * sizeof(*(x)));   \
			(alloc) = gate_new_;                                  \
		}                                                             \
	} while (0)

/* A growable, always NUL-terminated byte buffer (git's strbuf). */
struct gate_buf {
	char *ptr;
	size_t len;
	size_t alloc;
};

#define GATE_BUF_INIT { NULL, 0, 0 }

void gate_buf_init(struct gate_buf *b);
void gate_buf_release(struct gate_buf *b);
void gate_buf_reset(struct gate_buf *b);
void gate_buf_grow(struct gate_buf *b, size_t extra);
void gate_buf_add(struct gate_buf *b, const void *data, size_t len);
void gate_buf_adds(struct gate_buf *b, const char *s);
void gate_buf_addch(struct gate_buf *b, int c);
void gate_buf_addf(struct gate_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gate_buf_vaddf(struct gate_buf *b, const char *fmt, va_list ap);
void gate_buf_setf(struct gate_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gate_buf_truncate(struct gate_buf *b, size_t len);
/* Returns the string (never NULL) and leaves `b` empty; caller frees. */
char *gate_buf_detach(struct gate_buf *b);
/* Empty-string safe view of the contents. */
const char *gate_buf_cstr(const struct gate_buf *b);

/*
 * Record an error message in `err` (when non-NULL) and return -1, so that
 * `return gate_error(err, "...")` reads naturally.
 */
int gate_error(struct gate_buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A NULL-terminated vector of owned strings (git's strvec). */
struct gate_strvec {
	char **v;
	size_t nr;
	size_t alloc;
};

#define GATE_STRVEC_INIT { NULL, 0, 0 }

void gate_strvec_push(struct gate_strvec *sv, const char *s);
void gate_strvec_pushf(struct gate_strvec *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gate_strvec_pushv(struct gate_strvec *sv, const char *const *v);
void gate_strvec_clear(struct gate_strvec *sv);
/* Never NULL: an empty vector yields a one-element { NULL } array. */
const char *const *gate_strvec_argv(struct gate_strvec *sv);
int gate_strvec_contains(const struct gate_strvec *sv, const char *s);

/*
 * Terminal safety.  Everything a pusher chose (ref names, user names,
 * push options, paths, commit messages, command output, policy text
 * pushed to the policy ref) is shown to people only through
 * gate_buf_add_safe: in the report, progress lines, command logs, syslog
 * lines and error messages.  The audit log's JSON writer escapes the same
 * characters (gate_json_add_string).
 */

/*
 * The code point of the valid UTF-8 sequence at s (its length in *n), or
 * -1 when the bytes there are not one (overlong forms, surrogates, values
 * past U+10FFFF and truncated sequences included).
 */
long gate_utf8_decode(const unsigned char *s, size_t len, size_t *n);

/*
 * Whether code point `cp` must not reach a terminal or a log viewer as
 * such: C0 controls (ESC, BEL, CR, ...), DEL, C1 controls (U+0080-U+009F,
 * among them CSI U+009B), the line and paragraph separators U+2028/2029,
 * and the bidirectional controls that make text read differently from
 * what it is (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069).
 */
int gate_char_unsafe(long cp);

/*
 * Append `s` (len bytes, any content, NULs included) so that it is one
 * line of plain printable text: newline and tab as \n and \t, every
 * unsafe character (gate_char_unsafe) and every byte that is not part of
 * valid UTF-8 as \xNN of its bytes.  Valid printable UTF-8 is kept, and so
 * are backslashes, so that patterns read as written.
 */
void gate_buf_add_safe(struct gate_buf *b, const char *s, size_t len);
void gate_buf_add_safes(struct gate_buf *b, const char *s);
/* The same; with GATE_SAFE_LINES newlines and tabs stay as they are (logs). */
#define GATE_SAFE_LINES 1u
void gate_buf_add_safe_opts(struct gate_buf *b, const char *s, size_t len, unsigned flags);
/*
 * How many bytes at the end of s[0..len) start a UTF-8 sequence that the
 * next bytes may complete (0-3): a stream neutralised chunk by chunk holds
 * them back for the next chunk.
 */
size_t gate_utf8_partial_tail(const char *s, size_t len);
/* gate_buf_add_safes into a new string; NULL gives NULL.  The caller frees. */
char *gate_xstrdup_safe(const char *s);

/* Read all of `fd` into `b`; 0 or -1 with errno. */
int gate_read_fd(struct gate_buf *b, int fd);
/* Read a whole file; 0, GATE_ENOTFOUND or -1 with a message in err. */
int gate_read_file(struct gate_buf *b, const char *path, struct gate_buf *err);
/* mkdir -p: create `path` and its missing parents; 0 or -1 with errno. */
int gate_mkdir_p(const char *path, unsigned mode);
/* write(2) all of it, retrying on EINTR and short writes. */
int gate_write_all(int fd, const void *data, size_t len);
/*
 * Replace the file at `path` with `data`: written to a temporary name in
 * the same directory and renamed, so that readers see the old file or the
 * new one, never half of one.  Mode 0666 less the umask.  No fsync: for
 * files that can be made again (a status page, a summary).
 */
int gate_write_file_replace(const char *path, const void *data, size_t len, struct gate_buf *err);
/*
 * The same, creating the temporary file with `open_fn` (e.g. to give it a
 * mode of its own); `durable`: its data reaches the disk before the rename.
 */
int gate_write_file_replace_with(const char *path, const void *data, size_t len,
				 int (*open_fn)(void *ctx, const char *path, int flags, unsigned mode), void *ctx,
				 int durable, struct gate_buf *err);

/* Monotonic clock in seconds. */
double gate_now(void);

/* Parse "5 MiB", "100k", "2GB", "123"; 0 or -1 with a message. */
int gate_parse_size(uint64_t *out, const char *s, struct gate_buf *err);
/* Parse "10 min", "30s", "2h", "1 day", "45"; seconds. */
int gate_parse_duration(int64_t *out, const char *s, struct gate_buf *err);
/* Human size: "5.0 MiB", "512 B". */
void gate_buf_add_size(struct gate_buf *b, uint64_t n);

/* 40-hex object id checks. */
int gate_is_hex_oid(const char *s);
int gate_is_zero_oid(const char *s);
#define GATE_ZERO_OID "0000000000000000000000000000000000000000"

/* Whether `s` starts with `prefix`; sets *rest past it when it does. */
int gate_skip_prefix(const char *s, const char *prefix, const char **rest);
int gate_ends_with(const char *s, const char *suffix);

#endif

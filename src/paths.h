#ifndef GATE_PATHS_H
#define GATE_PATHS_H

/*
 * What makes a path impossible or dangerous to check out on another
 * system, as pure functions over raw path bytes: the portable-paths check
 * uses them, and the unit tests call them directly.
 *
 * A path is a tree path as git stores it: components separated by '/',
 * any bytes but NUL, no guarantee of UTF-8.
 */

#include <stddef.h>

#include "util.h"

enum gate_path_kind {
	GATE_PATH_DOTGIT = 1u << 0,         /* a component some file system takes for ".git" */
	GATE_PATH_RESERVED = 1u << 1,       /* a Windows device name (CON, NUL, COM1, "aux.txt", ...) */
	GATE_PATH_BAD_CHAR = 1u << 2,       /* < > : " | ? * or a backslash */
	GATE_PATH_CONTROL = 1u << 3,        /* a control character, bytes 1 to 31 */
	GATE_PATH_TRAILING = 1u << 4,       /* a component ending in '.' or ' ' */
	GATE_PATH_UTF8 = 1u << 5,           /* not valid UTF-8 */
	GATE_PATH_LONG = 1u << 6,           /* the whole path is over the limit */
	GATE_PATH_LONG_COMPONENT = 1u << 7, /* one component is over the limit */
};

#define GATE_PATH_ALL_KINDS 0xffu
#define GATE_PATH_MAX_PROBLEMS 8

struct gate_path_problem {
	unsigned kind;
	size_t start, len; /* the component at fault; the whole path for GATE_PATH_LONG */
	size_t at;         /* offset of the offending byte (BAD_CHAR, CONTROL, UTF8) */
};

struct gate_path_limits {
	size_t max_path;      /* bytes; 0: no limit */
	size_t max_component; /* bytes; 0: no limit */
};

/*
 * Find the problems of the kinds in `kinds` (GATE_PATH_* bits) in `path`
 * (len bytes): the first occurrence of each kind, in the order of the
 * enum.  Returns how many were stored in `out`.
 */
size_t gate_path_problems(const char *path, size_t len, unsigned kinds, const struct gate_path_limits *lim,
			  struct gate_path_problem out[GATE_PATH_MAX_PROBLEMS]);

/*
 * Whether one component (len bytes) is ".git" to git or to a file system
 * git runs on: any case (".GIT"), with trailing dots or spaces (".git. ",
 * NTFS drops them), an NTFS stream (".git::$INDEX_ALLOCATION"), the 8.3
 * short name "git~1", or with code points HFS+ ignores (".g\u200cit").
 */
int gate_path_is_dotgit(const char *name, size_t len);

/*
 * Whether one component is a Windows device name: CON, PRN, AUX, NUL,
 * CONIN$, CONOUT$, COM0-9, LPT0-9 (also with a superscript digit 1-3), in
 * any case, followed or not by spaces and an extension ("con.txt").
 */
int gate_path_is_win_reserved(const char *name, size_t len);

/* Length (1-4) of the valid UTF-8 sequence at `s`, or 0 when it is not one. */
size_t gate_utf8_seq(const unsigned char *s, size_t len);

/*
 * Append `name` folded the way case-insensitive file systems compare
 * names: ASCII letters and the Latin-1, Latin Extended-A, Greek,
 * Cyrillic and fullwidth Latin letters are lowercased (final sigma as
 * sigma).  Bytes that are not valid UTF-8 are copied unchanged.  Full
 * Unicode case folding and normalization (macOS's NFD) are not done.
 * The folded name has exactly as many bytes as `name` (every mapping
 * stays within its UTF-8 length), so names of different lengths never
 * fold alike.
 */
void gate_path_fold(struct gate_buf *out, const char *name, size_t len);

#endif

#include "config.h"
#include "paths.h"

#include <stdint.h>
#include <string.h>

#include "banned.h"

size_t gate_utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c;

	if (!len)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return len >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (len < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0; /* a UTF-16 surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (len < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return 0; /* above U+10FFFF */
		return 4;
	}
	return 0;
}

static uint32_t utf8_decode(const unsigned char *s, size_t n)
{
	switch (n) {
	case 1:
		return s[0];
	case 2:
		return ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
	case 3:
		return ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
	default:
		return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
		       ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
	}
}

static void utf8_encode(struct gate_buf *out, uint32_t c)
{
	char b[4];

	if (c < 0x80) {
		gate_buf_addch(out, (int)c);
	} else if (c < 0x800) {
		b[0] = (char)(0xc0 | (c >> 6));
		b[1] = (char)(0x80 | (c & 0x3f));
		gate_buf_add(out, b, 2);
	} else if (c < 0x10000) {
		b[0] = (char)(0xe0 | (c >> 12));
		b[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (char)(0x80 | (c & 0x3f));
		gate_buf_add(out, b, 3);
	} else {
		b[0] = (char)(0xf0 | (c >> 18));
		b[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[3] = (char)(0x80 | (c & 0x3f));
		gate_buf_add(out, b, 4);
	}
}

/* Simple lowercase mapping of the scripts file names most often use. */
static uint32_t fold_cp(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 0x20 : c;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 0x20;
	if (c == 0x178)
		return 0xff;
	if ((c >= 0x100 && c <= 0x12f) || (c >= 0x132 && c <= 0x137) || (c >= 0x14a && c <= 0x177))
		return c | 1; /* upper even, lower odd */
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
		return (c & 1) ? c + 1 : c; /* upper odd, lower even */
	if (c == 0x386)
		return 0x3ac;
	if (c >= 0x388 && c <= 0x38a)
		return c + 0x25;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 0x3f;
	if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
		return c + 0x20;
	if (c == 0x3c2)
		return 0x3c3; /* final sigma */
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (c >= 0x410 && c <= 0x42f)
		return c + 0x20;
	if ((c >= 0x460 && c <= 0x481) || (c >= 0x48a && c <= 0x4bf))
		return c | 1;
	if (c >= 0xff21 && c <= 0xff3a)
		return c + 0x20;
	return c;
}

void gate_path_fold(struct gate_buf *out, const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t i = 0;

	gate_buf_grow(out, len);
	while (i < len) {
		size_t n = gate_utf8_seq(s + i, len - i);
		if (!n) {
			gate_buf_addch(out, s[i]);
			i++;
			continue;
		}
		if (n == 1)
			gate_buf_addch(out, s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 0x20 : s[i]);
		else
			utf8_encode(out, fold_cp(utf8_decode(s + i, n)));
		i += n;
	}
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 0x20 : c;
}

/* Case-insensitive (ASCII) comparison of s[0..n) with the lowercase word w. */
static int eq_word(const char *s, size_t n, const char *w)
{
	size_t i;

	if (strlen(w) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != w[i])
			return 0;
	return 1;
}

/* Length of an HFS+-ignorable code point at s, or 0 (git's is_hfs_dotgit list). */
static size_t hfs_ignorable(const unsigned char *s, size_t len)
{
	if (len < 3)
		return 0;
	if (s[0] == 0xe2 && s[1] == 0x80 && ((s[2] >= 0x8c && s[2] <= 0x8f) || (s[2] >= 0xaa && s[2] <= 0xae)))
		return 3; /* U+200C-200F, U+202A-202E */
	if (s[0] == 0xe2 && s[1] == 0x81 && s[2] >= 0xaa && s[2] <= 0xaf)
		return 3; /* U+206A-206F */
	if (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		return 3; /* U+FEFF */
	return 0;
}

int gate_path_is_dotgit(const char *name, size_t len)
{
	static const char *const words[] = { ".git", "git~1" };
	const unsigned char *s = (const unsigned char *)name;
	size_t k;

	for (k = 0; k < GATE_ARRAY_SIZE(words); k++) {
		const char *w = words[k];
		size_t wl = strlen(w), i = 0, j = 0, skip;

		while (j < wl) {
			while ((skip = hfs_ignorable(s + i, len - i)))
				i += skip;
			if (i >= len || lower(s[i]) != w[j])
				break;
			i++;
			j++;
		}
		if (j < wl)
			continue;
		/* NTFS drops trailing dots and spaces, and ':' starts a stream name */
		while (i < len) {
			if ((skip = hfs_ignorable(s + i, len - i)))
				i += skip;
			else if (s[i] == '.' || s[i] == ' ')
				i++;
			else
				break;
		}
		if (i == len || s[i] == ':')
			return 1;
	}
	return 0;
}

int gate_path_is_win_reserved(const char *name, size_t len)
{
	size_t n = 0;

	/* the part before the first dot, without trailing spaces */
	while (n < len && name[n] != '.')
		n++;
	while (n && name[n - 1] == ' ')
		n--;
	if (n == 3)
		return eq_word(name, 3, "con") || eq_word(name, 3, "prn") || eq_word(name, 3, "aux") ||
		       eq_word(name, 3, "nul");
	if (n == 6 && eq_word(name, 6, "conin$"))
		return 1;
	if (n == 7 && eq_word(name, 7, "conout$"))
		return 1;
	if ((n == 4 || n == 5) && (eq_word(name, 3, "com") || eq_word(name, 3, "lpt"))) {
		const unsigned char *d = (const unsigned char *)name + 3;
		if (n == 4)
			return d[0] >= '0' && d[0] <= '9';
		/* superscript one, two, three: U+00B9, U+00B2, U+00B3 */
		return d[0] == 0xc2 && (d[1] == 0xb9 || d[1] == 0xb2 || d[1] == 0xb3);
	}
	return 0;
}

static int add_problem(struct gate_path_problem *out, size_t *nr, unsigned *found, unsigned kind, size_t start,
		       size_t len, size_t at)
{
	if (*found & kind)
		return 0;
	*found |= kind;
	out[*nr].kind = kind;
	out[*nr].start = start;
	out[*nr].len = len;
	out[*nr].at = at;
	(*nr)++;
	return 1;
}

static int is_bad_char(unsigned char c)
{
	return c == '<' || c == '>' || c == ':' || c == '"' || c == '|' || c == '?' || c == '*' || c == '\\';
}

size_t gate_path_problems(const char *path, size_t len, unsigned kinds, const struct gate_path_limits *lim,
			  struct gate_path_problem out[GATE_PATH_MAX_PROBLEMS])
{
	struct gate_path_problem tmp[GATE_PATH_MAX_PROBLEMS];
	const unsigned char *s = (const unsigned char *)path;
	unsigned found = 0, bit;
	size_t nr = 0, start = 0, i, k, n = 0;

	while (start <= len) {
		const char *slash = memchr(path + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - path) : len;
		size_t clen = end - start;
		const char *c = path + start;

		if ((kinds & GATE_PATH_DOTGIT) && gate_path_is_dotgit(c, clen))
			add_problem(tmp, &nr, &found, GATE_PATH_DOTGIT, start, clen, start);
		if ((kinds & GATE_PATH_RESERVED) && gate_path_is_win_reserved(c, clen))
			add_problem(tmp, &nr, &found, GATE_PATH_RESERVED, start, clen, start);
		for (i = start; i < end; i++) {
			if ((kinds & GATE_PATH_BAD_CHAR) && is_bad_char(s[i]))
				add_problem(tmp, &nr, &found, GATE_PATH_BAD_CHAR, start, clen, i);
			if ((kinds & GATE_PATH_CONTROL) && s[i] >= 1 && s[i] <= 31)
				add_problem(tmp, &nr, &found, GATE_PATH_CONTROL, start, clen, i);
		}
		if ((kinds & GATE_PATH_TRAILING) && clen && (c[clen - 1] == '.' || c[clen - 1] == ' '))
			add_problem(tmp, &nr, &found, GATE_PATH_TRAILING, start, clen, end - 1);
		if ((kinds & GATE_PATH_UTF8) && !(found & GATE_PATH_UTF8)) {
			for (i = start; i < end;) {
				size_t q = gate_utf8_seq(s + i, end - i);
				if (!q) {
					add_problem(tmp, &nr, &found, GATE_PATH_UTF8, start, clen, i);
					break;
				}
				i += q;
			}
		}
		if ((kinds & GATE_PATH_LONG_COMPONENT) && lim && lim->max_component && clen > lim->max_component)
			add_problem(tmp, &nr, &found, GATE_PATH_LONG_COMPONENT, start, clen, start);
		if (!slash)
			break;
		start = end + 1;
	}
	if ((kinds & GATE_PATH_LONG) && lim && lim->max_path && len > lim->max_path)
		add_problem(tmp, &nr, &found, GATE_PATH_LONG, 0, len, 0);
	/* in the order of the enum, so that reports read the same every time */
	for (bit = 1; bit <= GATE_PATH_LONG_COMPONENT; bit <<= 1)
		for (k = 0; k < nr; k++)
			if (tmp[k].kind == bit)
				out[n++] = tmp[k];
	return n;
}

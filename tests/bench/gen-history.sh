#!/bin/bash
# Generate a synthetic history shaped like git.git's, for the benchmark when
# no copy of git.git is at hand:
#
#   gen-history.sh DIR.git
#
# Writes a bare repository with a tree of about 4,300 files (C-like text in
# nested directories), a base history of GEN_BASE commits (default 2,000)
# tagged `synthetic-base`, then GEN_NEW more on main (default 7,300, plus 730 side commits) tagged
# `synthetic-new`, each touching a few files, with a merge of a short side
# branch every tenth commit, and about 900 annotated tags along the way.
# Deterministic: the same parameters give the same commit ids.  Built with
# one `git fast-import` stream, so it takes seconds, not minutes.
set -eu -o pipefail

dir=${1:?usage: gen-history.sh DIR.git}
files=${GEN_FILES:-4300}
base=${GEN_BASE:-2000}
new=${GEN_NEW:-7300}
tags=${GEN_TAGS:-900}

rm -rf "$dir"
git init -q --bare "$dir"
export LC_ALL=C
awk -v FILES="$files" -v BASE="$base" -v NEW="$new" -v TAGS="$tags" '
function rnd(n) { seed = (seed * 16807) % 2147483647; return seed % n }
function path_of(f,   d1, d2) {
	d1 = f % 43; d2 = int(f / 43) % 5
	if (f < 300) return sprintf("f%04d.c", f)            # a busy top level
	return sprintf("d%02d/s%d/f%04d.%s", d1, d2, f, (f % 7 == 0) ? "txt" : "c")
}
# file f at version v: nlines[f] lines; a version changes the lines picked
# from v, so each version differs from the previous one in a few lines
function line_of(f, v, i) {
	if (i % 97 == (v * 7 + f) % 97 && v > 0)
		return sprintf("\treturn helper_%d(x, %d); /* revision %d */\n", f, i, v)
	if (i % 13 == 0)
		return sprintf("static int f%d_%d(int x)\n{\n", f, i)
	if (i % 13 == 12)
		return "}\n\n"
	return sprintf("\tx = x * %d + %d; /* step %d of file %d */\n", (i * 31 + f) % 1000, i, i, f)
}
# two passes: the size first (fast-import wants it up front), then the lines
function emit_blob(f, v,   i, n, len) {
	n = nlines[f]
	len = 0
	for (i = 0; i < n; i++)
		len += length(line_of(f, v, i))
	mark++
	printf "blob\nmark :%d\ndata %d\n", mark, len
	for (i = 0; i < n; i++)
		printf "%s", line_of(f, v, i)
	printf "\n"
	return mark
}
function commit_header(ref, n, from, msg,   who, t) {
	who = n % 53
	t = 1500000000 + n * 1800
	mark++
	printf "commit %s\nmark :%d\n", ref, mark
	printf "author Dev %d <dev%d@example.com> %d +0000\n", who, who, t
	printf "committer Dev %d <dev%d@example.com> %d +0000\n", who % 11, who % 11, t + 60
	printf "data %d\n%s\n", length(msg), msg
	if (from) printf "from :%d\n", from
	return mark
}
function message(n,   s, b) {
	s = sprintf("area%d: change number %d", n % 37, n)
	if (n % 9 == 0) s = s " with a subject line long enough to go over the usual seventy-two limit"
	b = sprintf("%s\n\nThe body of commit %d explains the change in a few words.\nIt wraps at a sane width.\n\nSigned-off-by: Dev %d <dev%d@example.com>\n", s, n, n % 53, n % 53)
	return b
}
# blobs for k changed files; returns the "M" lines of a commit
function change_files(k,   j, f, f0, m, lines) {
	lines = ""
	f0 = rnd(8) ? rnd(FILES) : 50 * rnd(int(FILES / 50))
	for (j = 0; j < k; j++) {
		f = j ? (f0 + 43 * (1 + rnd(20))) % FILES : f0  # mostly one directory
		ver[f]++
		m = emit_blob(f, ver[f])
		lines = lines sprintf("M 100644 :%d %s\n", m, path_of(f))
	}
	return lines
}
BEGIN {
	seed = 42; mark = 0
	# most files small, one in fifty large (like translations or release notes)
	for (f = 0; f < FILES; f++) nlines[f] = f % 50 ? 40 + rnd(500) : 3000 + rnd(5000)
	# the root commit: every file
	all = ""
	for (f = 0; f < FILES; f++) {
		ver[f] = 0
		m = emit_blob(f, 0)
		all = all sprintf("M 100644 :%d %s\n", m, path_of(f))
	}
	head = commit_header("refs/heads/main", 0, 0, "initial import\n")
	printf "%s\n", all
	hist[0] = head
	total = BASE + NEW
	tagevery = int(total / TAGS); if (tagevery < 1) tagevery = 1
	ntag = 0
	for (n = 1; n < total; n++) {
		if (n % 10 == 0 && n > 3) {
			# a side commit forked three commits back, merged into main
			lines = change_files(1 + rnd(3))
			side = commit_header("refs/heads/side", n + 1000000, hist[n - 3], message(n + 1000000))
			printf "%s\n", lines
			head = commit_header("refs/heads/main", n, head, sprintf("Merge branch topic-%d\n", n))
			printf "merge :%d\n%s\n", side, lines
		} else {
			lines = change_files(1 + rnd(4))
			head = commit_header("refs/heads/main", n, head, message(n))
			printf "%s\n", lines
		}
		hist[n] = head
		if (n % tagevery == 0 && ntag < TAGS) {
			ntag++
			printf "tag syn-v%d\nfrom :%d\ntagger Rel Eng <rel@example.com> %d +0000\ndata 12\nrelease %04d\n", ntag, head, 1500000000 + n * 1800, ntag % 10000
		}
		if (n == BASE - 1)
			printf "tag synthetic-base\nfrom :%d\ntagger Rel Eng <rel@example.com> %d +0000\ndata 5\nbase\n", head, 1500000000 + n * 1800
	}
	printf "tag synthetic-new\nfrom :%d\ntagger Rel Eng <rel@example.com> %d +0000\ndata 4\nnew\n", head, 1500000000 + total * 1800
}' /dev/null | git -C "$dir" fast-import --quiet
git -C "$dir" update-ref -d refs/heads/side
git -C "$dir" symbolic-ref HEAD refs/heads/main

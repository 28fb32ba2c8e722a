#!/bin/sh
# The peer of git-gate in the benchmark (tests/bench/bench-scan.sh): a
# pre-receive hook written the way admins write one by hand, four checks
# per new commit with git plumbing and grep:
#
#   1. the subject line is at most 72 characters
#   2. no file over 5 MiB (git diff-tree -r, then git cat-file -s per blob)
#   3. no forbidden path (*.pem, id_rsa, .env, node_modules/)
#   4. no conflict marker and no AWS access key id in an added line
#
# Changes are taken against the first parent, like git-gate does.  It
# prints what it finds and exits 1 when something was found.  It is kept
# simple on purpose; it is what git-gate is measured against, not a tool.

zero=0000000000000000000000000000000000000000
empty_tree=4b825dc642cb6eb9a060e54bf8d69288fbee4904
max_size=5242880
found=0

while read -r old new ref; do
	[ "$new" = "$zero" ] && continue
	if [ "$old" = "$zero" ]; then
		commits=$(git rev-list "$new" --not --all)
	else
		commits=$(git rev-list "$old..$new")
	fi
	for c in $commits; do
		# 1. subject length
		subject=$(git log -1 --format=%s "$c")
		if [ ${#subject} -gt 72 ]; then
			echo "$ref: $c: subject longer than 72 characters"
			found=1
		fi
		if git rev-parse -q --verify "$c^" >/dev/null; then
			base="$c^"
		else
			base=$empty_tree
		fi
		# 2. file sizes
		big=$(git diff-tree -r --no-renames "$base" "$c" |
			while read -r omode nmode oid nid status path; do
				[ "$nid" = "$zero" ] && continue
				[ "$nmode" = 160000 ] && continue
				size=$(git cat-file -s "$nid")
				if [ "$size" -gt $max_size ]; then
					echo "$path ($size bytes)"
				fi
			done)
		if [ -n "$big" ]; then
			echo "$ref: $c: files over 5 MiB: $big"
			found=1
		fi
		# 3. forbidden paths
		if git diff-tree -r --no-renames --name-only --diff-filter=AM "$base" "$c" |
			grep -E '\.pem$|(^|/)id_rsa$|(^|/)\.env$|(^|/)node_modules/' >/dev/null; then
			echo "$ref: $c: forbidden path"
			found=1
		fi
		# 4. conflict markers and secrets in added lines
		if git diff --no-renames "$base" "$c" |
			grep -E '^\+(<<<<<<< |>>>>>>> |=======$)|^\+.*AKIA[0-9A-Z]{16}' >/dev/null; then
			echo "$ref: $c: conflict marker or AWS key in an added line"
			found=1
		fi
	done
done
exit $found

#!/bin/sh
# record-ci-status.sh: record a CI verdict for a commit as a git note and
# push it to the git-gate server, where the `ci-status` check reads it.
#
# Run it in the CI job's checkout, after the test suite:
#
#   if make check; then status=pass; else status=fail; fi
#   contrib/ci/record-ci-status.sh "$status" "$GIT_COMMIT"
#
# usage: record-ci-status.sh [--remote NAME] [--ref REF] [--tree] [--url URL] STATUS [COMMIT]
#
#   STATUS         the note's first line: "pass" (what ci-status accepts by
#                  default; see its `pass` key) or anything else, e.g. "fail"
#   COMMIT         the commit that was tested (default: HEAD)
#   --remote NAME  where to push the note (default: origin)
#   --ref REF      the notes ref (default: refs/notes/ci, ci-status' notes_ref)
#   --tree         annotate the commit's tree instead, for policies with
#                  match_tree = true (a rebase ending on the same tree counts)
#   --url URL      a second line "url: URL" (a link to the CI run, for people)
#
# Several CI jobs may record at once: a push that loses the race fetches
# the other notes and tries again.  The note replaces an earlier one on
# the same commit (a re-run that passes replaces a "fail").

set -eu

remote=origin
ref=refs/notes/ci
tree=
url=
usage() {
	sed -n 's/^# \{0,1\}//; /^usage:/,/^$/p' "$0" >&2
	exit 2
}
status=
commit=
nargs=0
while [ $# -gt 0 ]; do
	case "$1" in
	--remote) [ $# -ge 2 ] || usage; remote=$2; shift 2 ;;
	--ref) [ $# -ge 2 ] || usage; ref=$2; shift 2 ;;
	--tree) tree=1; shift ;;
	--url) [ $# -ge 2 ] || usage; url=$2; shift 2 ;;
	-h|--help) usage ;;
	-?*) usage ;;
	*)
		nargs=$((nargs + 1))
		case $nargs in 1) status=$1 ;; 2) commit=$1 ;; *) usage ;; esac
		shift ;;
	esac
done
[ $nargs -ge 1 ] || usage
commit=$(git rev-parse --verify "${commit:-HEAD}^{commit}")
case "$ref" in refs/notes/*) ;; *) echo "record-ci-status: --ref must be under refs/notes/" >&2; exit 2 ;; esac
case "$status" in *"
"*|"") echo "record-ci-status: STATUS must be one non-empty line" >&2; exit 2 ;; esac

target=$commit
[ -z "$tree" ] || target=$(git rev-parse --verify "$commit^{tree}")
message=$status
[ -z "$url" ] || message="$status

url: $url"

tries=0
while :; do
	tries=$((tries + 1))
	# start from what the server has, so that other jobs' notes are kept
	if git fetch -q "$remote" "+$ref:$ref" 2>/dev/null; then :; else
		echo "record-ci-status: no $ref on $remote yet; creating it" >&2
	fi
	git notes --ref="$ref" add -f -m "$message" "$target" >/dev/null 2>&1
	if git push -q "$remote" "$ref:$ref"; then
		echo "record-ci-status: recorded \"$status\" for $(git rev-parse --short "$target") in $ref on $remote"
		exit 0
	fi
	if [ $tries -ge 5 ]; then
		echo "record-ci-status: could not push $ref to $remote after $tries tries" >&2
		exit 1
	fi
	sleep "$tries"
done

# Shared by every tests/bench/bench-*.sh: a predictable git and git-gate
# for a benchmark, and the small helpers they all use.  Sourced, not run.
#
#   bench_env DIR   HOME is DIR (created), nothing from the user's or the
#                   system's git configuration, a fixed identity, locale
#                   and time zone, no system policy (DIR/no-system-policy.conf
#                   does not exist), git-gate's hooks from GATE_BUILDDIR

log() { printf 'bench: %s\n' "$*" >&2; }
# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }

bench_env() {
	mkdir -p "$1"
	export HOME=$1 XDG_CONFIG_HOME=$1/.config GIT_CONFIG_NOSYSTEM=1 LC_ALL=C TZ=UTC
	export GIT_AUTHOR_NAME='Bench Mark' GIT_AUTHOR_EMAIL='bench@example.com'
	export GIT_COMMITTER_NAME='Bench Mark' GIT_COMMITTER_EMAIL='bench@example.com'
	export GIT_GATE_USER=bench GIT_GATE_LIBEXECDIR=$GATE_BUILDDIR/hooks
	export GIT_GATE_SYSTEM_CONFIG=$1/no-system-policy.conf
	unset GIT_GATE_CONFIG GIT_DIR GIT_WORK_TREE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES \
		GIT_QUARANTINE_PATH GIT_GATE_TRACE 2>/dev/null || true
	git config --global init.defaultBranch main
	git config --global advice.detachedHead false
}

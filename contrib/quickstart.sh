#!/bin/sh
# Quick start: install the build dependencies, build git-gate, and show the
# gate at work on a scratch bare repository: a good push accepted, a bad one
# rejected with its report.  Nothing is installed system-wide but the
# Debian packages; git-gate runs from the build directory.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/contrib/install-deps.sh"

[ -x configure ] || autoreconf -fi
mkdir -p _build
cd _build
[ -f Makefile ] || ../configure -q
make -s -j"$(nproc)"
build=$(pwd)

demo=$(mktemp -d "${TMPDIR:-/tmp}/git-gate-demo.XXXXXX")
echo
echo "== A scratch bare repository with the gate installed: $demo/app.git"
export PATH="$build:$PATH" GIT_GATE_LIBEXECDIR="$build/hooks"
export GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=Dev GIT_COMMITTER_EMAIL=dev@example.com
git init -q --bare -b main "$demo/app.git"
git gate install "$demo/app.git"
cp "$top/contrib/policies/quickstart.conf" "$demo/app.git/git-gate.conf"
echo "== Its policy ($demo/app.git/git-gate.conf):"
sed -e 's/^/   /' "$demo/app.git/git-gate.conf"
git gate validate "$demo/app.git/git-gate.conf"

git init -q -b main "$demo/work"
cd "$demo/work"
git remote add origin "$demo/app.git"
echo "hello" >README
git add README
git commit -q -m "Add a README"
echo
echo "== A good push: accepted"
git push origin main
echo
echo "== A bad push (a WIP commit with a private key in it): rejected"
# random bytes shaped like a key: nothing real leaks from the demo
{
	printf -- '-----BEGIN %s PRIVATE KEY-----\n' RSA
	head -c 1190 /dev/urandom | base64 -w 64
	printf -- '-----END %s PRIVATE KEY-----\n' RSA
} >deploy.key
git add deploy.key
git commit -q -m "WIP: deploy key"
if git push origin main; then
	echo "quickstart: the bad push was accepted: something is wrong" >&2
	exit 1
fi
echo
echo "== main still points at the good commit: $(git --git-dir="$demo/app.git" log --oneline -1 main)"
echo "== Done.  Try more pushes in $demo/work; the policy is $demo/app.git/git-gate.conf"

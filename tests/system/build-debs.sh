#!/bin/sh
# build-debs.sh OUTDIR [--worktree]: the Debian package, built twice from
# a clean copy of the source tree, for the package's lifecycle test
# (tests/system/package-e2e.sh) and CI's lintian:
#   OUTDIR/clientq-runner_<version>_<arch>.deb (and .changes, dbgsym):
#       debian/changelog's version, as `dpkg-buildpackage -us -uc -b` makes it;
#   OUTDIR/upgrade/clientq-runner_<version>+upgrade1_<arch>.deb: the same
#       tree with a changelog entry of a higher Debian revision on top (the
#       upstream version stays configure.ac's, as debian/rules demands), to
#       upgrade to.
# The copy is the last commit (git archive HEAD): what a clean checkout
# builds.  --worktree copies the tracked files as they are now instead.
# Needs the build dependencies of debian/control (tests/install-deps).
set -eu
[ $# -ge 1 ] || { echo "usage: build-debs.sh OUTDIR [--worktree]" >&2; exit 64; }
out=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
git -C "$top" rev-parse --git-dir >/dev/null 2>&1 ||
    { echo "build-debs.sh: $top is not a git checkout" >&2; exit 1; }
mkdir -p "$out/src" "$out/upgrade"
copy() { # DEST
	if [ "${2:-}" = --worktree ]; then
		git -C "$top" ls-files -z | tar -C "$top" --null -T - -cf - | tar -x -C "$1"
	else
		git -C "$top" archive --format=tar HEAD | tar -x -C "$1"
	fi
}
copy "$out/src" "${2:-}"
# Two cores are shared: make -j2, no more.
export DEB_BUILD_OPTIONS="parallel=2${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}"
(cd "$out/src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 ||
    { tail -n 40 "$out/build.log" >&2; exit 1; }

# The upgrade: the built tree, cleaned by dpkg-buildpackage itself, with
# one changelog entry more.
mv "$out/src" "$out/upgrade/src"
src=$out/upgrade/src
v=$(cd "$src" && dpkg-parsechangelog -S Version)
{
	printf 'clientq-runner (%s+upgrade1) unstable; urgency=medium\n\n' "$v"
	printf '  * Test build: the same tree, a higher version, to upgrade to.\n\n'
	printf ' -- clientq-runner developers <dev@clientq.invalid>  %s\n\n' "$(date -R)"
	cat "$src/debian/changelog"
} >"$src/debian/changelog.new"
mv "$src/debian/changelog.new" "$src/debian/changelog"
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/upgrade/build.log" 2>&1 ||
    { tail -n 40 "$out/upgrade/build.log" >&2; exit 1; }
rm -rf "$src"
ls "$out"/*.deb "$out"/upgrade/*.deb

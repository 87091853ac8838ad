#!/bin/sh
# cppcheck over lib/, clientq-runner/ and everything that calls them (the
# tests, their tools, bench/, fuzz/): no function defined and never called
# (unusedFunction), and no other finding.  A test function is called by
# Criterion's runner, which cppcheck cannot see, so only those are let
# pass (their files' unusedFunction); a static function nobody calls is
# the compiler's -Wunused-function there, an error under --enable-werror.
command -v cppcheck >/dev/null 2>&1 || { echo "SKIP: needs cppcheck"; exit 77; }
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
build=${top_builddir:-$src}
cd "$src" || exit 1
out=$(cppcheck --enable=unusedFunction --quiet --error-exitcode=1 \
    -I "$build" -I lib -I . --library="$src/tests/tools/cppcheck-criterion.cfg" \
    --suppress=missingIncludeSystem --suppress='unusedFunction:tests/unit/test-*.c' \
    lib clientq-runner tests/unit tests/tools bench fuzz 2>&1)
rc=$?
[ -z "$out" ] || printf '%s\n' "$out"
[ "$rc" -eq 0 ] && [ -z "$out" ] && { echo "cppcheck: nothing found"; exit 0; }
exit 1

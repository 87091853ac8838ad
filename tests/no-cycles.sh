#!/bin/sh
# The shape of lib/ and clientq-runner/ (lib/README.md): no include points
# up a layer, every library header is named with its layer, and no module
# needs itself through others (tests/tools/include-cycles.py says which);
# and no two files call each other round, read from the built objects
# (tests/tools/call-cycles.py).
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
build=${top_builddir:-$src}
python3 "$src/tests/tools/include-cycles.py" "$src" || exit 1
command -v nm >/dev/null 2>&1 || { echo "SKIP: the call circles need nm (binutils)"; exit 77; }
exec python3 "$src/tests/tools/call-cycles.py" "$build"

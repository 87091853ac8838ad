#!/bin/sh
# The shape of lib/ and clientq-runner/ (lib/README.md): no include points
# up a layer, every library header is named with its layer, and no module
# needs itself through others (tests/tools/include-cycles.py says which).
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
exec python3 "$src/tests/tools/include-cycles.py" "$src"

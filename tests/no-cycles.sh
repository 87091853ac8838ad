#!/bin/sh
# No module of lib/ or clientq-runner/ needs itself through others: the
# include graph has no circle (tests/tools/include-cycles.py prints any).
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
exec python3 "$src/tests/tools/include-cycles.py" "$src"

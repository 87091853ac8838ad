#!/bin/sh
# Regenerate the whole fixture matrix with the sendmail installed on this
# machine and run the fixture tests on the fresh queues: the round trip
# must be byte-identical and the offline listing must equal what this
# sendmail's own `-bp` printed, not just what the committed copies say.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail

W=$(mktemp -d /tmp/cq-live.XXXXXX)
trap 'rm -rf "$W"' EXIT
if RELAY_PORT=$(it_free_port) "$top_srcdir/tests/fixtures/gen-fixtures.sh" "$W/queues" >"$W/gen.log" 2>&1; then
	ok "real sendmail wrote the fixture matrix ($(ls "$W/queues" | wc -l) queues)"
else
	fail "gen-fixtures.sh" "$(tail -5 "$W/gen.log")"
	it_finish
fi
n=0
bad=
for f in "$W"/queues/*/qf*; do
	n=$((n + 1))
	"$QFTOOL" roundtrip "$f" >/dev/null || bad="$bad $f"
done
if [ -z "$bad" ] && [ "$n" -ge 24 ]; then
	ok "$n fresh control files round-trip byte for byte"
else
	fail "round trip of fresh control files ($n)" "differs:$bad"
fi
if CQ_FIXTURES=$W/queues "$top_builddir/tests/unit/test-fixtures" >"$W/unit.log" 2>&1; then
	ok "fixture tests pass on the fresh queues ($(grep -o 'Tested: [0-9]*' "$W/unit.log"))"
else
	fail "fixture tests on the fresh queues" "$(tail -20 "$W/unit.log")"
fi
it_finish

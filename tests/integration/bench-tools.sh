#!/bin/sh
# The benchmark tools work: blast's messages all reach sink, pipelined,
# over one and several connections, and sink counts exactly what was sent.
: "${top_builddir:=$(pwd)}"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_watchdog
W=$(mktemp -d /tmp/cq-bench.XXXXXX)
trap 'rm -rf "$W"; [ -z "${sinkpid-}" ] || kill "$sinkpid" 2>/dev/null' EXIT

run() { # MESSAGES CONNECTIONS SIZE
	rm -f "$W/port"
	"$top_builddir/bench/sink" -p 0 -n "$1" >"$W/port" 2>"$W/sink.err" &
	sinkpid=$!
	wait_for test -s "$W/port"
	"$top_builddir/bench/blast" -p "$(cat "$W/port")" -m "$1" -c "$2" -s "$3" >"$W/blast.out" 2>&1
	brc=$?
	# A sink still short of its count would wait forever.
	[ "$brc" -eq 0 ] || kill "$sinkpid" 2>/dev/null
	wait "$sinkpid"
	src=$?
	sinkpid=
	if [ "$brc" -eq 0 ] && [ "$src" -eq 0 ] &&
	    grep -q "^accepted $1 messages, $(($1 * $3)) bytes" "$W/sink.err"; then
		ok "blast -m $1 -c $2 -s $3: $(cat "$W/blast.out")"
	else
		fail "blast -m $1 -c $2 -s $3" "blast rc=$brc: $(cat "$W/blast.out")" "sink rc=$src: $(cat "$W/sink.err")"
	fi
}
run 2000 1 1000
run 2000 4 1000
run 50 2 100000
it_finish

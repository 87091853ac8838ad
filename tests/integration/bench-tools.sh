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

# sink -l and -t (the crash tests' receiver): a connection lost right
# after the reply to a dot is a U line, one that said QUIT is not, one
# lost inside a message is an X line; -t 100 defers an address's first
# RCPT only.
if command -v python3 >/dev/null 2>&1; then
	rm -f "$W/port" "$W/rec"
	"$top_builddir/bench/sink" -p 0 -l "$W/rec" -t 100 -q >"$W/port" 2>"$W/sink.err" &
	sinkpid=$!
	wait_for test -s "$W/port"
	python3 - "$(cat "$W/port")" >"$W/client.out" 2>&1 <<'PYEOF'
import socket, sys
port = int(sys.argv[1])
def session(rcpt, msgid, end):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    f.readline()
    def cmd(c):
        s.sendall(c + b"\r\n")
        return f.readline()
    cmd(b"HELO x")
    print(cmd(b"MAIL FROM:<a@x>")[:3].decode(), cmd(b"RCPT TO:<%s>" % rcpt)[:3].decode(), end=" ")
    cmd(b"RSET"), cmd(b"MAIL FROM:<a@x>"), cmd(b"RCPT TO:<%s>" % rcpt)
    print(cmd(b"DATA")[:3].decode(), end=" ")
    if end == "mid":
        s.sendall(b"Message-Id: " + msgid + b"\r\n\r\nhalf")
    else:
        print(cmd(b"Subject: t\r\nMessage-Id:  " + msgid + b" \r\n\r\nbody\r\n.")[:3].decode(), end=" ")
        if end == "quit":
            print(cmd(b"QUIT")[:3].decode(), end=" ")
    print()
    s.close()
session(b"u1@x", b"<m1@x>", "lost")
session(b"u2@x", b"<m2@x>", "quit")
session(b"u3@x", b"<m3@x>", "mid")
PYEOF
	sleep 0.3
	kill "$sinkpid"
	wait "$sinkpid"
	sinkpid=
	if [ "$(cat "$W/rec")" = "A 1 <m1@x> u1@x
U 1 <m1@x> u1@x
A 2 <m2@x> u2@x
X 3" ] && [ "$(head -n 1 "$W/client.out")" = "250 451 354 250 " ]; then
		ok "sink -l records accepted messages, U after a dot's reply, X inside a message; -t defers the first RCPT only"
	else
		fail "sink -l / -t" "record: $(cat "$W/rec")" "client: $(cat "$W/client.out")"
	fi
fi

# sched-flush: runs small, drains every entry it flushed (it exits 1
# when any is left), and refuses what it cannot parse.
if "$top_builddir/bench/sched-flush" 2000 1 >"$W/sf.out" 2>&1 &&
    grep -q '^entries 2000, runs 1' "$W/sf.out" &&
    grep -q '^  flush (sched_advance): ' "$W/sf.out"; then
	ok "sched-flush 2000 1: $(grep flush "$W/sf.out")"
else
	fail "sched-flush 2000 1" "$(cat "$W/sf.out")"
fi
"$top_builddir/bench/sched-flush" 12x >"$W/sf.out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q '^usage: sched-flush' "$W/sf.out"; then
	ok "sched-flush 12x: a usage error, status 2"
else
	fail "sched-flush 12x" "status $rc" "$(cat "$W/sf.out")"
fi
it_finish

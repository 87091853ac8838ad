#!/bin/sh
# Locking interoperates with real sendmail, both ways:
# - while clientq-runner's library holds a queue file, `sendmail -Ac -qf`
#   skips it (the file is byte-identical afterwards, and is retried by the
#   next run once the lock is gone);
# - while sendmail's runner holds a file (its relay stalls in the greeting),
#   the library reports it as locked.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
it_setup

id=$(submit alice@example.test)
[ -n "$id" ] || { fail "submit one message"; it_finish; }
ok "real sendmail queued $id"
cp "$Q/qf$id" "$W/before"

# 1. We hold the lock; sendmail's queue run must skip the file.
check "qftool holds the lock" hold_lock "$id"
sm -Ac -qf -C "$CF" >"$W/run1.out" 2>&1 || true
check "sendmail -Ac -qf left the locked file alone (byte-identical)" cmp -s "$W/before" "$Q/qf$id"
release_lock
sm -Ac -qf -C "$CF" >"$W/run2.out" 2>&1 || true
if grep -q '^N1$' "$Q/qf$id" && grep -q '^MDeferred: Connection refused' "$Q/qf$id"; then
	ok "after the lock is released, sendmail tries it (N1, Deferred)"
else
	fail "after the lock is released, sendmail tries it" "$(cat "$Q/qf$id")"
fi

# 2. sendmail holds the lock while its relay stalls before the greeting.
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)   # accept, never greet
' "$PORT" &
stall=$!
IT_PIDS="$IT_PIDS $stall"
wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
# QueueLA and RefuseLA out of reach: on a busy machine (CI's sanitizer
# stage) the load average passes sendmail's defaults, and its queue run
# then skips the file instead of taking it.  -v: its words, when it fails.
sm -v -Ac -qf -C "$CF" -O QueueLA=1000 -O RefuseLA=1000 >"$W/run3.out" 2>&1 &
smpid=$!
IT_PIDS="$IT_PIDS $smpid"
if wait_for_s 30 sh -c "\"$QFTOOL\" open \"$Q\" \"$id\" | grep -q '^locked: '"; then
	ok "while sendmail's runner delivers, the library sees the file as locked"
else
	fail "library sees sendmail's lock" "$("$QFTOOL" open "$Q" "$id")" \
	    "load average: $(cat /proc/loadavg)" "sendmail: $(tail -n 5 "$W/run3.out")"
fi
# Let sendmail go: closing the stalled relay makes it defer the message
# and release the file (sendmail renames its processes, so they are not
# found by their command line).
kill "$stall"
wait "$stall" 2>/dev/null
wait_for sh -c "\"$QFTOOL\" open \"$Q\" \"$id\" | grep -qx acquired"
out=$("$QFTOOL" open "$Q" "$id")
if [ "$out" = acquired ]; then
	ok "after sendmail gives up, the library locks it"
else
	fail "after sendmail gives up, the library locks it" "$out"
fi
wait "$smpid" 2>/dev/null
it_finish

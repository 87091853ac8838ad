#!/bin/sh
# The control socket under abuse, while the daemon delivers real
# sendmail's messages to a receiver:
# - a client that connects and sends nothing is told so and dropped
#   after 10 s; meanwhile everyone else is answered;
# - a client that sends 10 MB without a line end gets BAD once 4 KiB have
#   come, and the daemon's memory does not grow with it;
# - 200 clients at once are all answered (status: OK; list: OK, or TRY
#   when the four listing children are busy), none left without a reply;
# - an ordinary user's ninth connection is refused (TRY) while root's go
#   through;
# - the messages submitted meanwhile are all delivered, and the daemon's
#   resident memory at the end is within 2 MB of where it started (in
#   the plain build: see it_memory_measurable).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: needs setpriv"; exit 77; }
it_setup
it_user cqabuse || { echo "SKIP: cannot add users"; exit 77; }
RUNNER=$IT_RUNNER
CLIENT="python3 $top_srcdir/tests/tools/ctl-client.py"
# The system's python for a user (a root-only python3 first on PATH,
# such as a pyenv shim, is not theirs to run).
USER_PY=python3
[ -x /usr/bin/python3 ] && USER_PY=/usr/bin/python3
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
S=$W/run/control

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$DPID/status"; }
delivered() { cat "$W/rec"/session-*.txt 2>/dev/null | grep -c '^DATA-BYTES'; }
delivered_is() { [ "$(delivered)" -eq "$1" ]; }

it_recorder_start "$PORT" "$W/rec"
"$RUNNER" -C "$CF" --control "$S" -L cq-abuse 2>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for test -S "$S"
# Warm up (first listing child, first delivery) before the baseline.
submit warm@example.test >/dev/null
wait_for delivered_is 1
"$CLIENTQCTL" --socket "$S" list >/dev/null
rss0=$(rss)

$CLIENT "$S" idle >"$W/idle" 2>&1 &
IDLE=$!
# Deliveries go on beside the abuse.
it_submit_many 20 during >/dev/null 2>&1 &
SUBMIT=$!

$CLIENT "$S" flood 10000000 >"$W/flood" 2>&1
if grep -qx 'BAD request longer than 32767 octets' "$W/flood"; then
	ok "10 MB without a line end: BAD after 32 KiB"
else
	fail "flood" "$(cat "$W/flood")"
fi
"$CLIENTQCTL" --socket "$S" status >"$W/out" 2>&1 &&
    ok "answered while an idle client waits" || fail "status during abuse" "$(cat "$W/out")"

$CLIENT "$S" many 200 'CLIENTQ/1 status' >"$W/many"
if [ "$(cat "$W/many")" = "OK 200" ]; then
	ok "200 clients at once: 200 answers"
else
	fail "200 status clients" "$(cat "$W/many")"
fi
$CLIENT "$S" many 200 'CLIENTQ/1 list' >"$W/many-list"
if awk '$1 != "OK" && $1 != "TRY" { bad = 1 } { n += $2 } $1 == "OK" && $2 >= 1 { okc = 1 }
    END { exit !(n == 200 && !bad && okc) }' "$W/many-list"; then
	ok "200 listings at once: each answered, OK or TRY (busy)"
else
	fail "200 list clients" "$(cat "$W/many-list")"
fi

# An ordinary user holds eight connections; the ninth is refused.
setpriv --reuid=cqabuse --regid="$(id -g cqabuse)" --clear-groups \
    "$USER_PY" "$top_srcdir/tests/tools/ctl-client.py" "$S" hold 8 >"$W/hold.out" 2>&1 &
HOLD=$!
IT_PIDS="$IT_PIDS $HOLD"
wait_for grep -qx held "$W/hold.out" || fail "eight connections as cqabuse" "$(cat "$W/hold.out")"
setpriv --reuid=cqabuse --regid="$(id -g cqabuse)" --clear-groups \
    "$CLIENTQCTL" --socket "$S" status >"$W/out" 2>"$W/err"
rc=$?
if [ "$rc" -eq 75 ] && grep -q 'too many connections from this user' "$W/err"; then
	ok "a user's ninth connection: TRY, exit 75"
else
	fail "per-user limit" "rc=$rc" "$(cat "$W/out" "$W/err")"
fi
"$CLIENTQCTL" --socket "$S" status >"$W/out" 2>&1 &&
    ok "root is answered beside them" || fail "root beside the user's limit" "$(cat "$W/out")"

wait "$SUBMIT"
wait "$IDLE"
if grep -qx 'BAD no request within 10 s' "$W/idle"; then
	ok "a client that sends nothing: told so and dropped after 10 s"
else
	fail "idle client" "$(cat "$W/idle")"
fi
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
if wait_for delivered_is 21; then
	ok "the 20 messages submitted meanwhile were delivered"
else
	fail "deliveries during the abuse" "$(delivered) delivered" "$(ls "$Q")"
fi
rss1=$(rss)
if ! it_memory_measurable; then
	:
elif [ "$rss1" -le $((rss0 + 2048)) ]; then
	ok "resident memory bounded: ${rss0} kB before, ${rss1} kB after"
else
	fail "memory grew: ${rss0} kB -> ${rss1} kB"
fi
kill "$DPID"
wait "$DPID"
check "the daemon stops with 0" test $? -eq 0
it_recorder_stop "$W/rec"
it_finish

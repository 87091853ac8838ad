#!/bin/sh
# The relay's circuit breaker at scale, as the daemon issue asks: 500
# messages queued by real sendmail, the relay down for 30 s: at most two
# log lines about the relay and none per message, no queue file
# rewritten; then the relay back and a flush (SIGUSR1): everything
# delivered, each once.  How long that takes is printed, not asserted
# (a timed check fails on a loaded machine or under the sanitizers);
# bench/catchup.sh measures it against sendmail's own runner.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_long
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner
N=500

queue_empty() { [ -z "$(ls "$Q")" ]; }

it_submit_many $N b
check "real sendmail queued $N messages" test "$(ls "$Q" | grep -c '^qf')" -eq $N
sums=$(cat "$Q"/qf* | sha256sum)

"$RUNNER" -C "$CF" 2>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
sleep 30
check "relay down for 30 s: one line says so, with the count" \
    grep -q "relay \\[127.0.0.1\\]:$PORT unreachable: Connection refused by \\[127.0.0.1\\]; $N messages waiting" "$W/daemon.log"
n=$(grep -c 'relay' "$W/daemon.log")
check "... at most two lines about the relay ($n)" test "$n" -le 2
check "... none per message" sh -c "! grep -q 'to=' '$W/daemon.log'"
check "... no queue file rewritten" test "$(cat "$Q"/qf* | sha256sum)" = "$sums"
it_recorder_start "$PORT" "$W/rec"
t0=$(date +%s%N)
kill -USR1 "$DPID"
wait_for queue_empty
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
check "relay back + a flush: all $N delivered" test "$(ls "$Q" | wc -l)" -eq 0
echo "# the flush to an empty queue took ${ms} ms"
check "... each once" \
    test "$(cat "$W"/rec/session-*.txt | grep -c '^DATA-BYTES')" -eq $N
check "... one line says the relay is back" \
    grep -q "relay \\[127.0.0.1\\]:$PORT back after [0-9]*s; delivering $N messages" "$W/daemon.log"
kill -TERM "$DPID"
wait "$DPID"
check "SIGTERM: exit 0" test $? -eq 0
it_recorder_stop "$W/rec"
it_finish

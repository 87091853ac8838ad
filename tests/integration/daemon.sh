#!/bin/sh
# The daemon (clientq-runner without --once) against real sendmail
# submitting with -odq and a recording receiver:
# - messages submitted while it runs are delivered, each once, at once;
# - a message its submitter still holds locked is left alone (no failure
#   logged) and delivered once the lock is let go;
# - with the relay down, one log line says so and nothing is tried or
#   rewritten per message; when it is back, a flush (SIGUSR1) delivers
#   everything and one line says it is back;
# - the systemd notify protocol, spoken to a datagram socket the test
#   binds as NOTIFY_SOCKET: READY=1, STATUS=, WATCHDOG=1 at half of
#   WATCHDOG_USEC, RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM;
# - SIGTERM: exit 0.
# No timing is asserted beyond generous bounds for "at once" (waits of up
# to 10 s); bench/ owns latency.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup
RUNNER=$IT_RUNNER

delivered() { # count of messages the receiver took
	cat "$1"/session-*.txt 2>/dev/null | grep -c '^DATA-BYTES'
}
queue_empty() {
	[ -z "$(ls "$Q")" ]
}

# The notify socket, recorded line by line with a time stamp.
it_datagram_sink notify "$W/notify.sock" "$W/notify.log"

it_recorder_start "$PORT" "$W/rec1"
NOTIFY_SOCKET=$W/notify.sock WATCHDOG_USEC=400000 "$RUNNER" -C "$CF" 2>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
check "READY=1 once the queue is indexed and watched" wait_for grep -q ' READY=1$' "$W/notify.log"

for i in 1 2 3 4 5 6 7 8 9 10; do
	submit "u$i@example.test" >/dev/null
done
check "ten messages submitted while it runs are delivered" wait_for queue_empty
check "... each once" test "$(delivered "$W/rec1")" -eq 10
check "... to ten different recipients" \
    test "$(cat "$W"/rec1/session-*.txt | grep '^RCPT' | sort -u | wc -l)" -eq 10

# A message its submitter still holds.
kill -TERM "$DPID"
wait "$DPID"
rc=$?
check "SIGTERM: exit 0" test "$rc" -eq 0
check "... after STOPPING=1" grep -q ' STOPPING=1$' "$W/notify.log"
id=$(submit held@example.test)
hold_lock "$id"
# (9>&-: the daemon must not keep the lock holder's fifo open)
"$RUNNER" -C "$CF" 2>>"$W/daemon.log" 9>&- &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
sleep 3
check "a locked message is left alone" test -f "$Q/qf$id"
check "... and that is no failure" sh -c "! grep -q '$id' '$W/daemon.log'"
release_lock
check "... and delivered once the lock is let go" wait_for test ! -e "$Q/qf$id"

# The relay goes away.
it_recorder_stop "$W/rec1"
for i in 1 2 3 4 5; do
	submit "down$i@example.test" >/dev/null
done
sleep 4
check "relay down: five messages wait" test "$(ls "$Q" | grep -c '^qf')" -eq 5
check "... one line says the relay is unreachable" \
    test "$(grep -c 'relay \[127.0.0.1\]:[0-9]* unreachable: Connection refused by \[127.0.0.1\]; [0-9]* messages\{0,1\} waiting' "$W/daemon.log")" -eq 1
check "... and nothing per message" sh -c "! grep -q 'to=down' '$W/daemon.log'"
check "... the files are not rewritten (N stays 0)" \
    sh -c "for f in '$Q'/qf*; do grep -qx N0 \"\$f\" || exit 1; done"
it_recorder_start "$PORT" "$W/rec2"
kill -USR1 "$DPID"
check "relay back + a flush: all five delivered" wait_for queue_empty
check "... one line says it is back" \
    test "$(grep -c 'relay \[127.0.0.1\]:[0-9]* back after [0-9hms]*; delivering 5 messages' "$W/daemon.log")" -eq 1
check "... each once" test "$(delivered "$W/rec2")" -eq 5
kill -TERM "$DPID"
wait "$DPID"
it_recorder_stop "$W/rec2"

check "STATUS= with the counts" grep -q ' STATUS=[0-9]* queued, relay up; [0-9]* delivered' "$W/notify.log"
# The watchdog: WATCHDOG_USEC=400000 asks for a ping every 200 ms, from
# an idle loop too.
: >"$W/notify.log"
NOTIFY_SOCKET=$W/notify.sock WATCHDOG_USEC=400000 "$RUNNER" -C "$CF" 2>>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for grep -q ' READY=1$' "$W/notify.log"
sleep 2
n=$(grep -c ' WATCHDOG=1$' "$W/notify.log")
check "WATCHDOG=1 from the idle loop ($n pings in 2 s)" test "$n" -ge 6 -a "$n" -le 14
kill -HUP "$DPID"
check "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1" \
    wait_for grep -q ' RELOADING=1 | MONOTONIC_USEC=[0-9]*$' "$W/notify.log"
kill -TERM "$DPID"
wait "$DPID"
check "SIGTERM: exit 0" test $? -eq 0
it_finish

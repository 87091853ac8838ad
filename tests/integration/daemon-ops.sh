#!/bin/sh
# The daemon's operation, beside its delivery (daemon.sh):
# - the journal: with standard error the journal's stream (JOURNAL_STREAM),
#   every line is a journal entry with structured fields (QUEUE_ID, RELAY,
#   DSN, STATUS, DELAY, XDELAY, RECIPIENTS, MTA_QUEUE_ID, SYSLOG_IDENTIFIER from -L,
#   MESSAGE_ID for the relay's going and coming); the test plays journald
#   on /run/systemd/journal/socket in a private mount namespace and
#   decodes the native protocol; with no journal to take it, a line goes
#   to stderr instead;
# - --background --pidfile with syslog: the parent returns 0 once the
#   daemon is ready (its status when it fails), the pidfile names a
#   session leader, the lines reach /dev/log (facility mail);
# - SIGHUP re-reads submit.cf: a new relay port is used at once; a broken
#   file or one naming another queue directory keeps the running one;
# - SIGTERM abandons a transaction before its final "." (the file stays as
#   it was, byte for byte) and waits for the reply to one past it, exiting
#   0 within 10 s either way;
# - sendmail's own interactive delivery (-odi) beside the daemon: each
#   message delivered once, whether sendmail or the daemon sends it;
# - a relay greeting with 5xx is taken as down (nothing bounced: a
#   deliberate difference from sendmail's runner, see clientq-runner(8));
# - a stalled loop (the CLIENTQ_TEST_STALL hook) stops the WATCHDOG pings;
#   a build without test hooks ignores the variable.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_long
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIP: needs unshare -m"; exit 77; }
it_setup
RUNNER=$IT_RUNNER

queue_empty() { [ -z "$(ls "$Q")" ]; }
delivered() { cat "$1"/session-*.txt 2>/dev/null | grep -c '^DATA-BYTES'; }
delivered_is() { [ "$(delivered "$1")" -eq "$2" ]; }	# for wait_for
alive() { kill -0 "$1" 2>/dev/null; }
# jentry NAME=REGEX...: it_jentry on this test's journal.
jentry() {
	it_jentry "$W/journal.json" "$@"
}
QID='[0-9A-Za-z]{14}'	# a queue ID (the daemon may remove a file before submit lists it)

# ------------------------------------------------------------ the journal
if grep -q '^#define HAVE_LIBSYSTEMD 1' "$top_builddir/config.h"; then
	it_recorder_start "$PORT" "$W/rec1"
	: >"$W/stderr.log"
	it_with_journal "$RUNNER" -C "$CF" -L cq-test &
	DPID=$!
	IT_PIDS="$IT_PIDS $DPID"
	wait_for test -s "$W/jsink.pid"
	IT_PIDS="$IT_PIDS $(cat "$W/jsink.pid")"
	check "journal: the start-up line is an entry" \
	    wait_for jentry MESSAGE='watching .*' SYSLOG_IDENTIFIER=cq-test PRIORITY=6 SYSLOG_FACILITY=2
	submit jr@example.test >/dev/null
	check "journal: a delivery is an entry with its fields" wait_for jentry \
	    QUEUE_ID="$QID" RECIPIENTS=jr@example.test DSN=2.0.0 'STATUS=Sent \(Ok: queued as R1\.1\)' \
	    'MTA_QUEUE_ID=R1\.1' \
	    'RELAY=\[127\.0\.0\.1\] \[127\.0\.0\.1\]' 'DELAY=00:00:0[0-9]' 'XDELAY=00:00:0[0-9]' \
	    SYSLOG_IDENTIFIER=cq-test PRIORITY=6 "SYSLOG_PID=$DPID" \
	    "MESSAGE=$QID: to=jr@example\\.test, .*delay=.*mailer=relay, pri=[0-9]+, relay=\\[127\\.0\\.0\\.1\\] \\[127\\.0\\.0\\.1\\], dsn=2\\.0\\.0, stat=Sent \\(Ok: queued as R1\\.1\\)"
	it_recorder_stop "$W/rec1"
	submit jd@example.test >/dev/null
	check "journal: the relay going away is one entry with its MESSAGE_ID" wait_for jentry \
	    MESSAGE_ID=a68690c071c741229991a840b00e2525 "RELAY=\\[127\\.0\\.0\\.1\\]:$PORT" \
	    'REASON=Connection refused by \[127\.0\.0\.1\]' WAITING=1 PRIORITY=4
	it_recorder_start "$PORT" "$W/rec2"
	kill -USR1 "$DPID"
	check "journal: and its coming back, with its own" wait_for jentry \
	    MESSAGE_ID=fcc5c8d566724aa0ac214d69be006302 'DOWNTIME=[0-9]+s' WAITING=1 PRIORITY=5
	check "... the waiting message delivered" wait_for jentry RECIPIENTS=jd@example.test DSN=2.0.0
	kill -TERM "$DPID"
	wait "$DPID"
	check "journal: nothing went to stderr" test ! -s "$W/stderr.log"
	it_recorder_stop "$W/rec2"
	kill "$(cat "$W/jsink.pid")"
else
	# A build without libsystemd (the BSDs') has no journal client:
	# under the journal's stream its lines go to stderr all the same.
	: >"$W/stderr.log"
	it_with_journal "$RUNNER" -C "$CF" -L cq-test &
	DPID=$!
	IT_PIDS="$IT_PIDS $DPID"
	wait_for test -s "$W/jsink.pid"
	IT_PIDS="$IT_PIDS $(cat "$W/jsink.pid")"
	check "without libsystemd: the lines go to stderr, not to the journal" \
	    wait_for grep -q '^<6>cq-test\[[0-9]*\]: watching ' "$W/stderr.log"
	kill -TERM "$DPID"
	wait "$DPID"
	kill "$(cat "$W/jsink.pid")"
fi

# No journal listening although JOURNAL_STREAM says stderr is it: stderr.
submit jf@example.test >/dev/null
JOURNAL_STREAM=$(stat -c %d:%i "$W/stderr.log") "$RUNNER" --once -C "$CF" -L cq-test 2>>"$W/stderr.log"
check "journal away: the lines go to stderr with their priority" \
    grep -q '^<6>cq-test\[[0-9]*\]: [0-9A-Za-z]*: to=jf@example.test, .*stat=Deferred' "$W/stderr.log"
rm -f "$Q"/*

# ------------------------------------------- --background, --pidfile, syslog
it_recorder_start "$PORT" "$W/rec3"
it_datagram_sink syslog "$W/syslog.sock" "$W/syslog.log"
it_with_devlog "$W/syslog.sock" "$RUNNER" -C "$CF" -L cq-bg --background --pidfile "$W/runner.pid"
rc=$?
check "--background: the parent returns 0 once the daemon is ready" test "$rc" -eq 0
BPID=$(cat "$W/runner.pid" 2>/dev/null)
IT_PIDS="$IT_PIDS $BPID"
check "... the pidfile names the running daemon" alive "$BPID"
check "... a session leader of its own" test "$(ps -o sid= -p "$BPID" | tr -d ' ')" = "$BPID"
check "... which runs as RunAsUser" test "$(ps -o user= -p "$BPID" | tr -d ' ')" = smmsp
check "... and logs to syslog, facility mail" \
    wait_for grep -q "^<22>.*cq-bg\\[$BPID\\]: watching $Q" "$W/syslog.log"
submit bg@example.test >/dev/null
check "... and delivers" wait_for grep -q "^<22>.*cq-bg\\[$BPID\\]: [0-9A-Za-z]*: to=bg@example.test, .*stat=Sent" "$W/syslog.log"
kill -TERM "$BPID"
check "... SIGTERM stops it" wait_for sh -c "! kill -0 $BPID"
# A missing client queue is refused by the start-up checks, before the
# fork; a failure after it (an explicit control socket that cannot be
# made) is the daemon's own status, passed on by the parent.
it_with_devlog "$W/syslog.sock" "$RUNNER" -C "$CF" --background -O QueueDirectory="$W/none"
rc=$?
check "--background: a missing client queue is refused before the fork (78, got $rc)" test "$rc" -eq 78
check "... naming the check in syslog" \
    wait_for grep -q "installation check error: client-queue $W/none: found No such file or directory" "$W/syslog.log"
it_with_devlog "$W/syslog.sock" "$RUNNER" -C "$CF" --background --control "$W/no/such/dir/ctl.sock"
rc=$?
check "--background: a daemon that cannot start makes the parent fail (71, got $rc)" test "$rc" -eq 71
check "... and says why in syslog" wait_for grep -q "$W/no/such/dir/ctl.sock" "$W/syslog.log"
"$RUNNER" -C "$CF" --pidfile "$W/x.pid" 2>/dev/null
check "--pidfile without --background: usage (64)" test $? -eq 64
it_recorder_stop "$W/rec3"

# ------------------------------------------------------------- SIGHUP
PORT2=$(it_free_port)
[ "$PORT2" != "$PORT" ] || PORT2=$((PORT + 1))
it_recorder_start "$PORT" "$W/rec4"
it_recorder_start "$PORT2" "$W/rec5"
cp "$CF" "$W/submit.cf.orig"
"$RUNNER" -C "$CF" 2>"$W/hup.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for grep -q 'watching' "$W/hup.log"
submit h1@example.test >/dev/null
check "SIGHUP: before, the relay of submit.cf" wait_for delivered_is "$W/rec4" 1
it_make_cf "$Q" "$PORT2" "$W/submit.cf.new"
cp "$W/submit.cf.new" "$CF"
kill -HUP "$DPID"
check "... after it, submit.cf's new relay port" \
    wait_for grep -q "reloaded $CF: relay \\[127.0.0.1\\] \\[127.0.0.1\\]:$PORT2" "$W/hup.log"
submit h2@example.test >/dev/null
check "... is where mail goes" wait_for delivered_is "$W/rec5" 1
printf 'V10/Berkeley\nthis is not a configuration\n' >"$CF"
kill -HUP "$DPID"
check "a broken submit.cf: the running configuration stays" \
    wait_for grep -q "reload: $CF has errors (above); the running configuration stays" "$W/hup.log"
# (sendmail cannot submit with that file either: queue with the good one)
printf 'Subject: t\n\nbody\n' | sm -Ac -C "$W/submit.cf.new" -odq h3@example.test
check "... and mail still goes to its relay" wait_for delivered_is "$W/rec5" 2
mkdir -m 2770 "$W/q2" && chown smmsp:smmsp "$W/q2"
it_make_cf "$W/q2" "$PORT2" "$CF"
kill -HUP "$DPID"
check "another QueueDirectory: refused until a restart" \
    wait_for grep -q "reload: $CF changes QueueDirectory, QueueFileMode or RunAsUser; restart the runner for that" "$W/hup.log"
cp "$W/submit.cf.new" "$CF"

# ------------------------------------------------------------- SIGTERM
kill -TERM "$DPID"
wait "$DPID"
it_recorder_stop "$W/rec4"
it_recorder_stop "$W/rec5"
it_recorder_start "$PORT2" "$W/rec6" --reply data=hang
"$RUNNER" -C "$CF" 2>"$W/term.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for grep -q 'watching' "$W/term.log"
id=$(submit t1@example.test)
wait_for grep -q '^INJECTED data hang' "$W/rec6/session-1.txt"
sum=$(cat "$Q/qf$id" | sha256sum)
t0=$(date +%s)
kill -TERM "$DPID"
wait "$DPID"
rc=$?
t1=$(date +%s)
check "SIGTERM before the final \".\": exit 0 (got $rc) at once ($((t1 - t0)) s)" \
    test "$rc" -eq 0 -a $((t1 - t0)) -le 3
check "... the transaction abandoned, said once" \
    test "$(grep -c "$id: stopping: transaction abandoned before its final \".\"" "$W/term.log")" -eq 1
check "... the queue file as it was, byte for byte" test "$(cat "$Q/qf$id" | sha256sum)" = "$sum"
check "... nothing reached the relay" sh -c "! grep -q '^DATA-BYTES' '$W/rec6/session-1.txt'"
it_recorder_stop "$W/rec6"
it_recorder_start "$PORT2" "$W/rec7" --reply dot=hang
"$RUNNER" -C "$CF" 2>>"$W/term.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
check "past the final \".\": the relay has the message" \
    wait_for grep -q '^DATA-BYTES 1' "$W/rec7/session-1.txt"
t0=$(date +%s)
kill -TERM "$DPID"
wait "$DPID"
rc=$?
t1=$(date +%s)
check "... SIGTERM waits for the reply, then exits 0 (got $rc) within 10 s ($((t1 - t0)) s)" \
    test "$rc" -eq 0 -a $((t1 - t0)) -ge 9 -a $((t1 - t0)) -le 12
check "... the message stays queued (no reply, no removal)" test -f "$Q/qf$id"
it_recorder_stop "$W/rec7"

# ------------------------------------------- sendmail's -odi beside it
rm -f "$Q"/*	# the message the relay never answered: due in a minute
it_recorder_start "$PORT2" "$W/rec8"
"$RUNNER" -C "$CF" 2>"$W/odi.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
for i in 1 2 3 4 5; do
	printf 'Subject: odi\n\nbody\n' | sm -Ac -C "$CF" -odi "odi$i@example.test"
done
check "-odi beside the daemon: the queue empties" wait_for queue_empty
sleep 1
check "... each once" test "$(delivered "$W/rec8")" -eq 5
it_recorder_stop "$W/rec8"
for i in 1 2 3; do
	printf 'Subject: odi down\n\nbody\n' | sm -Ac -C "$CF" -odi "down$i@example.test"
done
check "-odi with the relay down: sendmail leaves them queued" \
    test "$(ls "$Q" | grep -c '^qf')" -eq 3
it_recorder_start "$PORT2" "$W/rec9"
kill -USR1 "$DPID"
check "... the daemon delivers them once it is back" wait_for queue_empty
check "... each once" test "$(delivered "$W/rec9")" -eq 3
kill -TERM "$DPID"
wait "$DPID"
it_recorder_stop "$W/rec9"

# --------------------------------------- a notify socket that is gone
NOTIFY_SOCKET=$W/no-such.sock "$RUNNER" -C "$CF" 2>"$W/nonotify.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
check "NOTIFY_SOCKET set but unreachable: said loudly" \
    wait_for grep -q '^<3>.*cannot notify the service manager: No such file or directory' "$W/nonotify.log"
kill -TERM "$DPID"
wait "$DPID"

# ------------------------------------- a relay refusing every session
rm -f "$Q"/*
it_recorder_start "$PORT2" "$W/rec10" --reply 'greeting=554 5.3.2 Not now, not ever'
"$RUNNER" -C "$CF" 2>"$W/g554.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
id=$(submit g554@example.test)
check "a 5xx greeting: the daemon takes the relay as down, with its words" \
    wait_for grep -q "relay \\[127.0.0.1\\]:$PORT2 unreachable: .*554 5.3.2 Not now, not ever; 1 message waiting" "$W/g554.log"
sleep 2
check "... and bounces nothing (the message queued, untouched)" \
    sh -c "grep -qx N0 '$Q/qf$id' && [ \$(ls '$Q' | grep -c '^qf') -eq 1 ]"
kill -TERM "$DPID"
wait "$DPID"
it_recorder_stop "$W/rec10"

# ------------------------------------------------------ a stalled loop
it_datagram_sink notify "$W/notify.sock" "$W/notify.log"
CLIENTQ_TEST_STALL=1 NOTIFY_SOCKET=$W/notify.sock WATCHDOG_USEC=400000 \
    "$RUNNER" -C "$CF" 2>"$W/stall.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for grep -q ' READY=1$' "$W/notify.log"
sleep 1
kill -USR2 "$DPID"
longest_gap() {
	grep ' WATCHDOG=1$' "$W/notify.log" |
	    awk 'NR > 1 && $1 - p > g { g = $1 - p } { p = $1 } END { printf "%d", g }'
}
if it_test_hooks; then
	sleep 12
	gap=$(longest_gap)
	check "a stalled loop sends no WATCHDOG=1 (longest gap ${gap}s)" test "$gap" -ge 9
	n1=$(grep -c ' WATCHDOG=1$' "$W/notify.log")
	sleep 1
	n2=$(grep -c ' WATCHDOG=1$' "$W/notify.log")
	check "... and pings again once it runs ($((n2 - n1)) in 1 s)" test $((n2 - n1)) -ge 3
else
	# What a package's daemon does: the hook is not there.
	sleep 4
	gap=$(longest_gap)
	check "a build without test hooks ignores CLIENTQ_TEST_STALL: SIGUSR2 stalls nothing (longest gap ${gap}s)" \
	    test "$gap" -lt 3
fi
kill -TERM "$DPID"
wait "$DPID"
it_finish

#!/bin/sh
# No silent logs: outside systemd, the daemon checks at start that its log
# destination is there, and says so on standard error, before it detaches,
# when it is not:
# - --background on a host with no syslog daemon (no /dev/log, in a private
#   mount namespace whose /dev is a tmpfs with only the device nodes
#   programs need): one warning line on stderr naming /dev/log, the
#   foreground's standard error and the journal; the daemon still starts
#   (exit 0, the pidfile names it, it delivers);
# - the same with --syslog in the foreground;
# - --background with a syslog daemon on /dev/log (a datagram socket of the
#   test's, reached through a symbolic link, as /dev/log often is): no
#   warning, and the lines arrive there;
# - the foreground without --syslog (standard error): no warning.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIP: needs unshare -m"; exit 77; }
it_setup
RUNNER=$IT_RUNNER
WARN='^clientq-runner: warning: nothing listens on /dev/log (no syslog daemon)'

alive() { kill -0 "$1" 2>/dev/null; }
stop() { # PID: stopped, and its control socket gone with it
	kill -TERM "$1" 2>/dev/null
	wait_for sh -c "! kill -0 $1 2>/dev/null"
}

# ------------------------------------------- --background, no /dev/log
it_recorder_start "$PORT" "$W/rec"
it_with_devlog - "$RUNNER" -C "$CF" --background --pidfile "$W/bg.pid" 2>"$W/bg.err"
rc=$?
BPID=$(cat "$W/bg.pid" 2>/dev/null)
IT_PIDS="$IT_PIDS $BPID"
check "--background with no /dev/log: exit 0 (the daemon starts all the same, got $rc)" test "$rc" -eq 0
if [ "$(grep -c . "$W/bg.err")" -eq 1 ] && grep -q "$WARN: --background's log lines will be lost; .*foreground without --syslog (standard error).*under systemd (the journal" "$W/bg.err"; then
	ok "... one line on stderr before it detached: /dev/log missing, the lines lost, stderr and the journal instead"
else
	fail "the warning on stderr" "$(cat "$W/bg.err")"
fi
check "... the pidfile names the running daemon" alive "$BPID"
submit nolog@example.test >/dev/null
check "... and it delivers" wait_for sh -c "cat '$W'/rec/session-*.txt 2>/dev/null | grep -q '^DATA-BYTES'"
stop "$BPID"

# ------------------------------------------- --syslog in the foreground
it_with_devlog --exec - "$RUNNER" -C "$CF" --syslog 2>"$W/fg.err" &
FPID=$!
IT_PIDS="$IT_PIDS $FPID"
check "--syslog in the foreground with no /dev/log: the same warning, naming --syslog" \
    wait_for grep -q "$WARN: --syslog's log lines will be lost" "$W/fg.err"
stop "$FPID"

# ------------------------------------------- --background with a syslog daemon
it_datagram_sink syslog "$W/syslog.sock" "$W/syslog.log"
it_with_devlog "$W/syslog.sock" "$RUNNER" -C "$CF" -L cq-ld --background --pidfile "$W/bg2.pid" 2>"$W/bg2.err"
rc=$?
BPID=$(cat "$W/bg2.pid" 2>/dev/null)
IT_PIDS="$IT_PIDS $BPID"
check "--background with /dev/log (a link to a socket): exit 0, got $rc" test "$rc" -eq 0
check "... nothing on stderr" test ! -s "$W/bg2.err"
check "... the lines reach syslog" wait_for grep -q "cq-ld\\[$BPID\\]: watching $Q" "$W/syslog.log"
stop "$BPID"

# ------------------------------------------- the foreground, stderr
it_with_devlog --exec - "$RUNNER" -C "$CF" -L cq-fg 2>"$W/plain.err" &
FPID=$!
IT_PIDS="$IT_PIDS $FPID"
check "the foreground without --syslog, no /dev/log: it logs to stderr" \
    wait_for grep -q 'cq-fg\[[0-9]*\]: watching' "$W/plain.err"
check "... and gives no warning" sh -c "! grep -q 'nothing listens' '$W/plain.err'"
stop "$FPID"
it_recorder_stop "$W/rec"
it_finish

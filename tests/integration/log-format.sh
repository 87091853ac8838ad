#!/bin/sh
# The delivery log lines are sendmail's: the same queue (copied) is
# flushed by `sendmail -Ac -qf -L sm-msp-queue`, whose syslog lines are
# captured, and by `clientq-runner --once`, whose stderr lines are read;
# the "to=" lines must be equal, in order, field by field, after removing
# the syslog prefix and the pid (different processes) and the values of
# delay= and xdelay= (the runs happen at different times).  Senders cover
# the ctladdr= rule: local users (root, nobody, smmsp) get it, a remote
# sender and an unknown local name do not.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner

submit alice@example.test bob >/dev/null
n=0
for from in sender@example.test nobody joe smmsp; do
	n=$((n + 1))
	printf 'Subject: from %s\n\nbody\n' "$from" | sm -Ac -C "$CF" -odq -f "$from" "r$n@example.test"
done
check "real sendmail queued 5 messages" test "$(ls "$Q" | grep -c '^qf')" -eq 5
PORT_B=$(it_free_port)
[ "$PORT_B" != "$PORT" ] || PORT_B=$((PORT + 1))
cp -a "$Q" "$W/q2"
cp -a "$Q" "$W/q3"
cp -a "$Q" "$W/q4"
it_make_cf "$W/q2" "$PORT_B" "$W/cf2"
it_recorder_start "$PORT" "$W/rec-a"
it_recorder_start "$PORT_B" "$W/rec-b"
sm_logged "$W/sendmail.log" -Ac -qf -C "$CF" -L sm-msp-queue
it_run_queue "$W/q2" -C "$W/cf2" 2>"$W/runner.log"
check "both queues are empty" test -z "$(ls "$Q" "$W/q2" | grep '^qf')"

# "<22>Nov 25 00:04:20 sm-msp-queue[10767]: ID: to=..." and
# "<6>sm-msp-queue[9960]: ID: to=..." both become "sm-msp-queue: ID: to=...".
normalize() {
	grep ': to=' "$1" | sed -e 's/^<[0-9]*>//' -e 's/^[A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]* //' \
	    -e 's/\[[0-9]*\]: /: /' -e 's/delay=[0-9+:]*/delay=T/' -e 's/xdelay=[0-9+:]*/xdelay=T/'
}
normalize "$W/sendmail.log" >"$W/want"
normalize "$W/runner.log" >"$W/got"
if it_daemon_mode; then
	# The daemon takes messages in its schedule's order (due time, then
	# the order it found them), not in sendmail's QueueSortOrder: each
	# line must still be sendmail's, byte for byte, but for the
	# receiver's own count in its reply ("queued as R1.<n>").
	sed 's/queued as R1\.[0-9]*/queued as R1.N/' "$W/want" | sort >"$W/want.sorted" &&
	    mv "$W/want.sorted" "$W/want"
	sed 's/queued as R1\.[0-9]*/queued as R1.N/' "$W/got" | sort >"$W/got.sorted" &&
	    mv "$W/got.sorted" "$W/got"
fi
check "sendmail logged 5 delivery lines" test "$(wc -l <"$W/want")" -eq 5
if cmp -s "$W/want" "$W/got"; then
	ok "the delivery lines equal sendmail's (ctladdr= on $(grep -c ctladdr= "$W/want") of 5)"
else
	fail "the delivery lines differ from sendmail's" "$(diff "$W/want" "$W/got")"
fi

# The relay down: nothing listens on DOWN.  Both defer every message; the
# lines (one per transaction, dsn=4.4.1, "Deferred: Connection refused
# by [127.0.0.1]") must be equal too.
DOWN=$(it_free_port)
while [ "$DOWN" = "$PORT" ] || [ "$DOWN" = "$PORT_B" ]; do DOWN=$((DOWN + 1)); done
it_make_cf "$W/q3" "$DOWN" "$W/cf3"
it_make_cf "$W/q4" "$DOWN" "$W/cf4"
sm_logged "$W/sendmail-down.log" -Ac -qf -C "$W/cf3" -L sm-msp-queue
IT_RUN_WAIT=3 it_run_queue "$W/q4" -C "$W/cf4" 2>"$W/runner-down.log"
rc=$?
check "with the relay down clientq-runner exits 75" test "$rc" -eq 75
normalize "$W/sendmail-down.log" >"$W/want-down"
normalize "$W/runner-down.log" >"$W/got-down"
check "sendmail logged 5 deferral lines" test "$(grep -c 'stat=Deferred: Connection refused by \[127.0.0.1\]' "$W/want-down")" -eq 5
if it_daemon_mode; then
	# By design the daemon's breaker logs the relay, not each message
	# (engine.h: ENGINE_SETUP_BREAKER).
	check "daemon: no deferral line per message" test ! -s "$W/got-down"
	check "daemon: one line says the relay is down" \
	    test "$(grep -c "relay \[127\.0\.0\.1\]:$DOWN unreachable: Connection refused by \[127\.0\.0\.1\]; 5 messages waiting" "$W/runner-down.log")" -eq 1
elif cmp -s "$W/want-down" "$W/got-down"; then
	ok "the deferral lines equal sendmail's"
else
	fail "the deferral lines differ from sendmail's" "$(diff "$W/want-down" "$W/got-down")"
fi
it_finish

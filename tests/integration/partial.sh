#!/bin/sh
# The relay accepts one recipient and defers the other (451): the
# accepted one must not get the message again, and the deferred one must
# stay queued.  (A refusal for good bounces instead: failures.sh.)
# clientq-runner rewrites the control file with the deferred recipient
# only (tf + rename, K = now, N + 1, P + 90000, the status in M), keeps
# the data file, exits 75 (the file in QueueFileMode); real sendmail reads the rewritten file (its
# listing shows it) and a later run with the relay accepting delivers it.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner

id=$(submit good@example.test bad@example.test)
check "real sendmail queued $id" test -n "$id"
p0=$(sed -n 's/^P//p' "$Q/qf$id")
it_recorder_start "$PORT" "$W/rec1" --reply 'rcpt/bad@=451 4.2.0 try later'
it_run_queue "$Q" -C "$CF" -O QueueFileMode=0640 2>"$W/run1.log"
rc=$?
it_recorder_stop "$W/rec1"
check "exit 75: something is still queued" test "$rc" -eq 75
check "one message went out, to good@example.test only" \
    test "$(grep -c '^RCPT' "$W"/rec1/session-1.txt)" -eq 2 -a -f "$W/rec1/session-1-msg-1.eml"
check "the data file is kept" test -f "$Q/df$id"
check "no tf is left" test ! -e "$Q/tf$id"
check "the rewritten file has QueueFileMode (-O QueueFileMode=0640)" \
    test "$(stat -c %a "$Q/qf$id")" = 640
if grep -q '^RPFD:bad@example.test$' "$Q/qf$id" && ! grep -q 'good@example.test' "$Q/qf$id"; then
	ok "the control file keeps only the deferred recipient"
else
	fail "recipients in the rewritten file" "$(grep '^R' "$Q/qf$id")"
fi
check "N is 1, K is set, P grew by 90000" sh -c "grep -qx N1 '$Q/qf$id' && ! grep -qx K0 '$Q/qf$id' && grep -qx 'P$((p0 + 90000))' '$Q/qf$id'"
check "the status names the relay's reply" grep -q '^MDeferred: 451 4.2.0 try later$' "$Q/qf$id"
check "the log says Sent for one and Deferred for the other" \
    sh -c "grep -q 'to=good@example.test,.*stat=Sent' '$W/run1.log' && grep -q 'to=bad@example.test,.*dsn=4.2.0, reply=451' '$W/run1.log'"
sm -Ac -C "$CF" -bp >"$W/listing" 2>&1
check "sendmail reads the rewritten file (its listing shows it)" grep -q "^$id .*root" "$W/listing"
check "... with the deferred recipient" grep -q 'bad@example.test' "$W/listing"

it_recorder_start "$PORT" "$W/rec2"
it_run_queue "$Q" -C "$CF" 2>"$W/run2.log"
rc=$?
it_recorder_stop "$W/rec2"
check "the next run delivers the rest and exits 0" test "$rc" -eq 0
check "... to bad@example.test alone" sh -c "grep '^RCPT' '$W/rec2/session-1.txt' | grep -qx 'RCPT To:<bad@example.test>' && [ \$(grep -c '^RCPT' '$W/rec2/session-1.txt') -eq 1 ]"
check "the queue is empty" test -z "$(ls "$Q")"
it_finish

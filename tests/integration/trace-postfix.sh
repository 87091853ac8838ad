#!/bin/sh
# One message followed across both logs (issue 21): a user's message,
# queued by real sendmail, is delivered by the daemon into a real Postfix
# (postfix-lib.sh, a private instance on a loopback port), and then
# - `clientqctl trace QID --file RUNNER-LOG --file POSTFIX-LOG` prints the
#   client queue's lines (the runner logs through syslog(3) into a socket
#   of the test's, the raw datagrams kept as a file) and Postfix's lines
#   for the queue ID Postfix gave the message (its maillog_file), one
#   line each, in time order, without the lines of another message;
# - `clientqctl show QID`, the message gone from the queue, says it was
#   delivered, to which relay, and Postfix's queue ID: to its user and to
#   root; another user is answered as for an ID that does not exist;
# - trace of an ID that no log names says so (exit 1), an unreadable log
#   is named (exit 1), and a bad ID is a usage error (exit 2).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/postfix-lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: needs setpriv"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIP: needs unshare -m"; exit 77; }
pf_setup
it_user cqtrace || { echo "SKIP: cannot add users"; exit 77; }
it_user cqtrace2 || { echo "SKIP: cannot add users"; exit 77; }
RUNNER=$IT_RUNNER
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
S=$W/run/control

check "the private Postfix is installed" pf_install
check "Postfix listens on 127.0.0.1:$PORT" pf_start "$PFD" "$PORT"

# Two messages, one of them the one traced: the other's lines stay out.
printf 'Subject: traced\n\nfollow me\n' | sm_as cqtrace -odq traced@example.test
id=$(grep -l '^Scqtrace$' "$Q"/qf* | sed 's|.*/qf||')
other=$(submit other@example.test)
check "two messages queued ($id, $other)" test -n "$id" -a -n "$other"
mid=$(grep -a -m1 -i '^H?[^?]*?Message-Id:' "$Q/qf$id" | sed 's/.*<//; s/>.*//')

it_datagram_sink syslog "$W/syslog.sock" "$W/runner.log"
it_with_devlog --exec "$W/syslog.sock" "$RUNNER" -C "$CF" --control "$S" -L cq-trace \
    --syslog 2>"$W/daemon.err" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
check "the daemon makes its control socket" wait_for test -S "$S"
check "the daemon delivers both: the queue is empty" \
    wait_for_s 30 sh -c "[ -z \"\$(ls '$Q')\" ]"
check "Postfix has both" pf_wait_count "$PFD" 2
check "the runner logged the Sent line through syslog" \
    wait_for grep -q "cq-trace\\[[0-9]*\\]: $id: to=traced@example.test, .*stat=Sent" "$W/runner.log"
wait_for sh -c "grep -q 'message-id=<$mid>' '$PFD/maillog'"
pfqid=$(sed -n "s/.*\/cleanup\[[0-9]*\]: \([0-9A-Za-z]*\): message-id=<$mid>.*/\1/p" \
    "$PFD/maillog" | head -n 1)
check "Postfix logged a queue ID for the message ($pfqid)" test -n "$pfqid"
# Postfix logs the final delivery after it answered the runner.
check "Postfix logged its delivery" \
    wait_for grep -q "$pfqid: to=<traced@example.test>.*status=sent" "$PFD/maillog"

# ------------------------------------------------------------ trace
it_ctl root trace "$id" --file "$W/runner.log" --file "$PFD/maillog"
it_ctl_expect "trace: exit 0" 0
cp "$W/out" "$W/trace.out"
sed 's/^/# trace: /' "$W/trace.out"
if grep -q "^[0-9-]* [0-9:.]* cq-trace\\[[0-9]*\\]: $id: to=traced@example.test, .*stat=Sent (Ok: queued as $pfqid)\$" "$W/trace.out" &&
    grep -q "/smtpd\\[[0-9]*\\]: $pfqid: client=" "$W/trace.out" &&
    grep -q "/cleanup\\[[0-9]*\\]: $pfqid: message-id=<$mid>" "$W/trace.out" &&
    grep -q "/qmgr\\[[0-9]*\\]: $pfqid: from=" "$W/trace.out" &&
    grep -q "$pfqid: to=<traced@example.test>.*status=sent" "$W/trace.out"; then
	ok "trace shows the runner's Sent line and Postfix's smtpd, cleanup, qmgr and delivery lines"
else
	fail "trace's lines" "$(cat "$W/trace.out")" "runner.log: $(cat "$W/runner.log")"
fi
if ! grep -v -e " $id: " -e " $pfqid: " "$W/trace.out" | grep -q . &&
    ! grep -q "$other" "$W/trace.out"; then
	ok "... every line is the message's (its ID or Postfix's), none of the other message"
else
	fail "trace: lines not of the message" "$(cat "$W/trace.out")"
fi
# Time order: the stamps never go back; Postfix's delivery line comes
# after its queue line, and the runner's line among them.
if LC_ALL=C awk '{ t = $1 " " $2; if (t < last) bad = 1; last = t } END { exit bad }' "$W/trace.out" &&
    [ "$(grep -n "$pfqid: message-id=" "$W/trace.out" | cut -d: -f1)" -lt \
      "$(grep -n "$pfqid: to=<traced@example.test>.*status=sent" "$W/trace.out" | cut -d: -f1)" ]; then
	ok "... in time order"
else
	fail "trace: not in time order" "$(cat "$W/trace.out")"
fi
# One file with both (a mail.log): the same lines; where their stamps
# tie (whole seconds here), in the file's order.
cat "$PFD/maillog" "$W/runner.log" >"$W/mail.log"
it_ctl root trace "$id" --file "$W/mail.log"
if [ "$rc" -eq 0 ] && [ "$(sort "$W/out")" = "$(sort "$W/trace.out")" ]; then
	ok "trace of one file holding both logs: the same lines"
else
	fail "trace of one file" "exit $rc" "$(diff "$W/trace.out" "$W/out")"
fi

it_ctl root trace 6B5C01aB000123 --file "$W/mail.log"
it_ctl_expect "trace of an ID no log names: exit 1, said" 1 "no log lines for 6B5C01aB000123" err
chmod 0600 "$W/mail.log"
it_ctl cqtrace trace "$id" --file "$W/mail.log"
it_ctl_expect "trace of a log the user may not read: exit 1, named" 1 \
    "mail.log: Permission denied" err
it_ctl root trace not-a-qid --file "$W/mail.log"
it_ctl_expect "trace of a bad ID: usage, exit 2" 2 "is not a queue ID" err

# ------------------------------------------------------------ show
it_ctl cqtrace show "$id"
sed 's/^/# show: /' "$W/out"
it_ctl_expect "show of the delivered message to its user: delivered, the relay, Postfix's queue ID" \
    0 "^Outcome: +delivered at [0-9-]+ [0-9:]+ .* to relay \\[127\\.0\\.0\\.1\\]:$PORT, MTA queue ID $pfqid\$"
it_ctl_expect "... and says it left the queue" 0 "^Queue ID: +$id \\(no longer in the queue\\)"
it_ctl root show "$id"
it_ctl_expect "show to root: the same" 0 "MTA queue ID $pfqid\$"
it_ctl cqtrace2 show "$id"
it_ctl_expect "show to another user: answered as for an ID that does not exist" 1 \
    "no message of yours has this queue ID" err
it_ctl root show 6B5C01aB000123
it_ctl_expect "show of an ID never seen: no such message" 1 "no such message" err

kill "$DPID" 2>/dev/null
wait "$DPID" 2>/dev/null
it_datagram_sink_stop "$W/runner.log"
pf_stop "$PFD"
check "no Postfix process is left" test -z "$(pgrep -f "$PFD" || true)"
it_finish

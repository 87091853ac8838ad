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
#   is named (exit 1), and a bad ID is a usage error (exit 2);
# - the same from a real journal: systemd-journald alone in a private
#   mount namespace, a second Postfix logging into it through syslog and
#   the daemon through its native protocol; trace reads it with
#   sd-journal, in true order (microseconds), and tells an ordinary user
#   that the system journal is not theirs to read.
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
it_ctl root trace "$id" --log "$W/mail.log"
if [ "$rc" -eq 0 ] && [ "$(sort "$W/out")" = "$(sort "$W/trace.out")" ]; then
	ok "trace of one file holding both logs: the same lines"
else
	fail "trace of one file" "exit $rc" "$(diff "$W/trace.out" "$W/out")"
fi

it_ctl root trace 6B5C01aB000123 --log "$W/mail.log"
it_ctl_expect "trace of an ID no log names: exit 1, said" 1 "no log lines for 6B5C01aB000123" err
chmod 0600 "$W/mail.log"
it_ctl cqtrace trace "$id" --log "$W/mail.log"
it_ctl_expect "trace of a log the user may not read: the log named" 0 \
    "mail.log: Permission denied" err
it_ctl_expect "... and what the daemon knows of their message instead: delivered, Postfix's queue ID" 0 \
    "^Outcome: +delivered at .*, MTA queue ID $pfqid\$"
it_ctl cqtrace2 trace "$id" --log "$W/mail.log"
it_ctl_expect "... but not of another user's" 1 "no message of yours has this queue ID" err
it_ctl root trace not-a-qid --log "$W/mail.log"
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
it_ctl cqtrace list --recent --json
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
v = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
e = [x for x in v if x["clientq_queue_id"] == sys.argv[2]]
assert len(e) == 1 and e[0]["clientq_outcome"] == "delivered", v
assert e[0]["clientq_mta_queue_ids"] == [sys.argv[3]], e
assert isinstance(e[0]["clientq_left_at"], int), e
' "$W/out" "$id" "$pfqid"; then
	ok "list --recent --json: the delivered message with Postfix's queue ID"
else
	fail "list --recent --json" "$(cat "$W/out" "$W/err")"
fi
it_ctl cqtrace2 list --recent --json
[ "$rc" -eq 0 ] && ! grep -q "$id" "$W/out" && ok "... which another user's listing leaves out" ||
    fail "another user's list --recent" "$(cat "$W/out")"
it_ctl root show 6B5C01aB000123
it_ctl_expect "show of an ID never seen: no such message" 1 "no such message" err

kill "$DPID" 2>/dev/null
wait "$DPID" 2>/dev/null
it_datagram_sink_stop "$W/runner.log"
pf_stop "$PFD"
check "no Postfix process is left" test -z "$(pgrep -f "$PFD" || true)"

# ------------------------------------------------------------ the journal
# A real systemd-journald (PID 1 is not systemd here: it runs alone) in a
# private mount namespace: tmpfs on /run/systemd and /run/log, /dev/log
# its syslog socket.  A second private Postfix, started in there and
# logging through syslog (no maillog_file), and the daemon, its standard
# error a journal stream (JOURNAL_STREAM), log into it; trace reads it
# with sd-journal, every stamp to the microsecond.
JOURNALD=/lib/systemd/systemd-journald
if ! grep -q '^#define HAVE_LIBSYSTEMD 1' "$top_builddir/config.h" 2>/dev/null ||
    [ ! -x "$JOURNALD" ] || ! command -v systemd-cat >/dev/null 2>&1; then
	ok "trace from the journal # SKIP needs libsystemd in the build, $JOURNALD and systemd-cat"
	it_finish
fi
mkdir "$W/olddev2"
unshare -m --propagation private sh -c '
mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/journal &&
mount -t tmpfs tmpfs /run/log &&
mount --bind "$1" /etc/hosts &&
mount --rbind /dev "$2" && mount -t tmpfs none /dev &&
for n in null zero random urandom tty; do
	touch /dev/$n && mount --bind "$2/$n" /dev/$n || exit 1
done &&
ln -s /run/systemd/journal/dev-log /dev/log &&
exec "$3"' sh "$W/hosts" "$W/olddev2" "$JOURNALD" >"$W/journald.out" 2>&1 &
JPID=$!
IT_PIDS="$IT_PIDS $JPID"
jns() { nsenter -t "$JPID" -m "$@"; }
check "journald runs in its namespace" \
    wait_for test -S "/proc/$JPID/root/run/systemd/journal/dev-log"
PFD2=$W/pf2
PORT2=$(it_free_port)
trap 'pf_stop "$PFD"; pf_stop "$PFD2"; it_cleanup' EXIT
check "a second Postfix, logging through syslog, listens on 127.0.0.1:$PORT2" \
    jns env PF_MAIN_EXTRA='maillog_file =' top_srcdir="$top_srcdir" sh -c \
    '. "$top_srcdir/tests/integration/lib.sh"; . "$top_srcdir/tests/integration/postfix-lib.sh"; pf_start "$1" "$2"' \
    sh "$PFD2" "$PORT2"
it_make_cf "$Q" "$PORT2" "$W/submit2.cf"
printf 'Subject: traced in the journal\n\nfollow me\n' | sm_as cqtrace -odq journal@example.test
jid=$(grep -l '^Scqtrace$' "$Q"/qf* | sed 's|.*/qf||')
jmid=$(grep -a -m1 -i '^H?[^?]*?Message-Id:' "$Q/qf$jid" | sed 's/.*<//; s/>.*//')
check "a message queued ($jid)" test -n "$jid"
S2=$W/run/control2
# The shell that becomes the daemon writes its pid: nsenter and
# systemd-cat stay between it and this one.
rm -f "$W/jdaemon.pid"
jns systemd-cat sh -c 'echo $$ >"$1"; shift
JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$@"' sh "$W/jdaemon.pid" \
    "$RUNNER" -C "$W/submit2.cf" --control "$S2" -L cq-jtrace &
IT_PIDS="$IT_PIDS $!"
wait_for test -s "$W/jdaemon.pid"
DPID=$(cat "$W/jdaemon.pid")
IT_PIDS="$IT_PIDS $DPID"
check "the daemon delivers it: the queue is empty" \
    wait_for_s 30 sh -c "[ -z \"\$(ls '$Q')\" ]"
jtrace() { jns "$CLIENTQCTL" trace "$jid" >"$W/out" 2>"$W/err"; rc=$?; }
# Postfix logs the delivery after it answered the runner.
check "trace from the journal: exit 0, Postfix's delivery line there" \
    wait_for sh -c "$(printf '%s ' nsenter -t "$JPID" -m "$CLIENTQCTL" trace "$jid") | grep -q ': to=<journal@example.test>.*status=sent'"
jtrace
cp "$W/out" "$W/jtrace.out"
sed 's/^/# journal trace: /' "$W/jtrace.out"
pfqid2=$(sed -n "s/.*\/cleanup\[[0-9]*\]: \([0-9A-Za-z]*\): message-id=<$jmid>.*/\1/p" "$W/jtrace.out")
if [ "$rc" -eq 0 ] && [ -n "$pfqid2" ] &&
    grep -q "^[0-9-]* [0-9:]*\.[0-9]\{6\} cq-jtrace\[[0-9]*\]: $jid: to=journal@example.test, .*stat=Sent (Ok: queued as $pfqid2)\$" "$W/jtrace.out" &&
    grep -q "/smtpd\[[0-9]*\]: $pfqid2: client=" "$W/jtrace.out" &&
    grep -q "/qmgr\[[0-9]*\]: $pfqid2: from=" "$W/jtrace.out" &&
    ! grep -v -e " $jid: " -e " $pfqid2: " "$W/jtrace.out" | grep -q .; then
	ok "trace from the journal: the runner's Sent line (QUEUE_ID=, MTA_QUEUE_ID=) and Postfix's syslog lines for $pfqid2, nothing else"
else
	fail "trace from the journal" "exit $rc" "$(cat "$W/jtrace.out" "$W/err")"
fi
# Microsecond stamps: the true order.  Postfix's smtpd logged the client
# when the runner connected, before the Sent line.
if LC_ALL=C awk '{ t = $1 " " $2; if (t < last) bad = 1; last = t } END { exit bad }' "$W/jtrace.out" &&
    [ "$(grep -n "$pfqid2: client=" "$W/jtrace.out" | cut -d: -f1)" -lt \
      "$(grep -n "stat=Sent" "$W/jtrace.out" | cut -d: -f1)" ]; then
	ok "... in time order: Postfix's smtpd line before the Sent line"
else
	fail "trace from the journal: not in time order" "$(cat "$W/jtrace.out")"
fi
# An ordinary user reads only their own journal: not the system's.
jns setpriv --reuid=cqtrace --regid="$(id -g cqtrace)" --clear-groups \
    "$CLIENTQCTL" trace "$jid" >"$W/out" 2>"$W/err"
rc=$?
it_ctl_expect "trace as an ordinary user: nothing, exit 1, and the journal's groups named" 1 \
    "hint: the system journal is readable by root and the groups adm and systemd-journal" err
kill "$DPID" 2>/dev/null
check "the daemon stops" wait_for sh -c "! kill -0 $DPID"
pf_stop "$PFD2"
check "no Postfix process of the second instance is left" test -z "$(pgrep -f "$PFD2" || true)"
it_finish

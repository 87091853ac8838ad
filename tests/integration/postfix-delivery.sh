#!/bin/sh
# A real MTA: clientq-runner --once delivers a queue written by real
# sendmail into a real Postfix (3.7, a private instance on a loopback
# port, postfix-lib.sh), and every recipient's copy arrives in Postfix's
# mailbox intact: the message as Postfix stored it (its own trace lines
# removed) is, line for line, what the relay mailer renders for it (the
# same headers sendmail's runner sends; the body equal to the data file).
# The journal entry of a Sent line carries MTA_QUEUE_ID, the queue ID
# Postfix logs for the message; a relay whose reply names no ID in a
# form known (the test's recorder) gets none.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/postfix-lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
pf_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner

check "the private Postfix is installed (sendmail-bin untouched)" pf_install
check "Postfix listens on 127.0.0.1:$PORT" pf_start "$PFD" "$PORT"

# Postfix takes mail for example.test only: every recipient is there.
submit alice@example.test >/dev/null
printf 'Subject: eight bit\nTo: Bob <bob@example.test>, carol@example.test\n\ncaf\303\251 \351t\351\n.leading dot\n' |
    sm -Ac -C "$CF" -odq -B 8BITMIME bob@example.test carol@example.test
printf 'Subject: dsn\n\nwith DSN options\n' |
    sm -Ac -C "$CF" -odq -N success,failure -R hdrs -V envid7 -f sender@example.test dave@example.test
awk 'BEGIN { printf "Subject: long line\n\n"; s = ""; while (length(s) < 3000) s = s "0123456789"; print s }' |
    sm -Ac -C "$CF" -odq erin@example.test
ids=$(ls "$Q" | sed -n 's/^qf//p')
check "real sendmail queued 4 messages" test "$(echo "$ids" | wc -w)" -eq 4

# What the relay mailer sends for each, rendered before delivery.
mkdir "$W/want"
for id in $ids; do
	"$QFTOOL" render "$Q" "$id" host.test 2>/dev/null |
	    python3 -c '
import sys
d = sys.stdin.buffer.read().replace(b"\r\n", b"\n")
# undo dot-stuffing, as the receiving MTA does
d = b"\n".join(l[1:] if l.startswith(b".") else l for l in d.split(b"\n"))
sys.stdout.buffer.write(d)' >"$W/want/$(grep -a -m1 -i '^H?[^?]*?Message-Id:' "$Q/qf$id" | sed 's/.*<//; s/>.*//')"
done

"$RUNNER" --once -C "$CF" >"$W/runner.out" 2>&1
rc=$?
check "clientq-runner --once exited 0" test "$rc" -eq 0
check "the client queue is empty" test -z "$(ls "$Q")"
# 5 recipients' copies, and Postfix's own success report for the
# NOTIFY=SUCCESS recipient: the DSN parameters reached a real MTA.
check "Postfix delivered 6 messages (5 copies and a success DSN)" pf_wait_count "$PFD" 6
n=0
bad=
dsn=0
for m in $(pf_messages "$PFD"); do
	if pf_strip "$m" | grep -q '^From: Mail Delivery System <MAILER-DAEMON@'; then
		pf_strip "$m" | grep -q '^Original-Envelope-Id: envid7' &&
		    pf_strip "$m" | grep -q '^To: sender@example.test' &&
		    pf_strip "$m" | grep -q '^Action: delivered' && dsn=$((dsn + 1))
		continue
	fi
	mid=$(pf_strip "$m" | grep -m1 -i '^Message-Id' | sed 's/.*<//; s/>.*//')
	if pf_strip "$m" | cmp -s - "$W/want/$mid"; then
		n=$((n + 1))
	else
		bad="$bad $m"
	fi
done
if [ -z "$bad" ] && [ "$n" -eq 5 ]; then
	ok "all 5 copies arrived intact, headers and body"
else
	fail "copies that differ:$bad"
fi
check "Postfix's success DSN names ENVID envid7 and goes to the envelope sender" test "$dsn" -eq 1
if grep -q 'stat=Sent' "$W/runner.out" && ! grep -q 'stat=Deferred' "$W/runner.out"; then
	ok "the log says Sent for every transaction: $(grep -c 'stat=Sent' "$W/runner.out") lines"
else
	fail "log lines" "$(cat "$W/runner.out")"
fi

# The relay's queue ID (issue 21): the Sent line's journal entry carries
# MTA_QUEUE_ID, the ID Postfix gave the message (its own log names it:
# "<QID>: message-id=<...>"), and the line itself stays sendmail's.  The
# journal is tests/tools/log-sink.py (it_with_journal), in a private
# mount namespace.
# jrun COMMAND...: COMMAND with the journal played by log-sink.py, into
# $W/journal.json (afresh); its status.  The sink reads on after COMMAND
# ends: jstop once what is awaited is there.
jrun() {
	rm -f "$W/journal.json"
	it_with_journal "$@" &
	_jr_pid=$!
	wait "$_jr_pid"
	_jr_rc=$?
	wait_for test -s "$W/jsink.pid" && IT_PIDS="$IT_PIDS $(cat "$W/jsink.pid")"
	return "$_jr_rc"
}
jstop() {
	[ -s "$W/jsink.pid" ] && kill "$(cat "$W/jsink.pid")" 2>/dev/null
	rm -f "$W/jsink.pid"
}
if ! unshare -m true 2>/dev/null; then
	ok "MTA_QUEUE_ID in the journal # SKIP needs unshare -m (the journal is played in a mount namespace)"
else
	id=$(submit frank@example.test)
	mid=$(grep -a -m1 -i '^H?[^?]*?Message-Id:' "$Q/qf$id" | sed 's/.*<//; s/>.*//')
	: >"$W/stderr.log"
	jrun "$RUNNER" --once -C "$CF"
	rc=$?
	check "--once into Postfix under a journal: exit 0, queue empty" \
	    sh -c "[ $rc -eq 0 ] && [ -z \"\$(ls '$Q')\" ]"
	# Postfix's cleanup logs "<QID>: message-id=<...>" for it.
	pfqid_of() {
		sed -n "s/.*\/cleanup\[[0-9]*\]: \([0-9A-Za-z]*\): message-id=<$mid>.*/\1/p" \
		    "$PFD/maillog" | head -n 1
	}
	wait_for sh -c "grep -q 'message-id=<$mid>' '$PFD/maillog'"
	pfqid=$(pfqid_of)
	check "Postfix logged a queue ID for the message ($pfqid)" test -n "$pfqid"
	check "journal: the Sent entry's MTA_QUEUE_ID is Postfix's queue ID" wait_for it_jentry \
	    "$W/journal.json" "QUEUE_ID=$id" "MTA_QUEUE_ID=$pfqid" 'DSN=2\.0\.0' \
	    "STATUS=Sent \\(Ok: queued as $pfqid\\)" \
	    "MESSAGE=$id: to=frank@example\\.test, .*, dsn=2\\.0\\.0, stat=Sent \\(Ok: queued as $pfqid\\)"
	check "... and nothing went to stderr" test ! -s "$W/stderr.log"
	jstop
	check "... and Postfix has the message" pf_wait_count "$PFD" 7

	# A relay whose reply to the final dot names no ID in a form known:
	# delivered as before, no MTA_QUEUE_ID.
	PORT2=$(it_free_port)
	it_make_cf "$Q" "$PORT2" "$W/submit2.cf"
	it_recorder_start "$PORT2" "$W/rec" --reply 'dot=250 2.0.0 Message queued, thank you'
	id=$(submit grace@example.test)
	: >"$W/stderr.log"
	jrun "$RUNNER" --once -C "$W/submit2.cf"
	rc=$?
	check "--once into a relay of unknown replies: exit 0, queue empty" \
	    sh -c "[ $rc -eq 0 ] && [ -z \"\$(ls '$Q')\" ]"
	check "journal: its Sent entry, the reply as the relay gave it" wait_for it_jentry \
	    "$W/journal.json" "QUEUE_ID=$id" 'STATUS=Sent \(Message queued, thank you\)' \
	    "MESSAGE=$id: to=grace@example\\.test, .*stat=Sent \\(Message queued, thank you\\)"
	jstop
	check "... without MTA_QUEUE_ID" sh -c "! grep -q MTA_QUEUE_ID '$W/journal.json'"
	it_recorder_stop "$W/rec"
fi

pf_stop "$PFD"
check "no Postfix process is left" test -z "$(pgrep -f "$PFD" || true)"
it_finish

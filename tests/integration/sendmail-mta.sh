#!/bin/sh
# Real sendmail as the MTA (issue 21): a private sendmail daemon on a
# loopback port, with a sendmail.cf of its own built with m4, its own
# queue directory, alias file and PID file, delivering mail for sm.test
# to mailboxes under the test's directory (a local mailer of the test's),
# and logging through syslog(3) into a socket of the test's.  The daemon
# relays to it, and:
# - verify: an ordinary user's `clientqctl verify` of a local user, an
#   alias and an unknown user: accepted, accepted, refused 5.1.1 ("User
#   unknown"); the same verdicts as `sendmail -bv` run as root on the
#   MTA's own configuration; nothing queued or delivered by the MTA;
# - a user's message, queued by real sendmail, delivered by the daemon:
#   the queue ID in the Sent line's reply ("<id> Message accepted for
#   delivery") is the one the MTA logs for the message ("<id>: from=...",
#   msgid=<its Message-Id>) and writes in its Received header, and the
#   message is in the alias's local mailbox;
# - `clientqctl trace QID --file RUNNER-LOG --file MTA-LOG` (and one file
#   holding both) prints our Sent line and the MTA's lines for its queue
#   ID, in time order; `clientqctl show` names the MTA's queue ID;
# - under a journal (tests/tools/log-sink.py), the Sent entry's
#   MTA_QUEUE_ID field is the MTA's queue ID.
# Nothing of the system's sendmail is used but its binary and m4 files: no
# /etc/mail file, no /var/spool/mqueue; the MTA is stopped by its PID.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: needs setpriv"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIP: needs unshare -m"; exit 77; }
SM_CF_DIR=$(dirname "$(dirname "$CF_M4")")
for f in mailer/local.m4 feature/no_default_msa.m4; do
	[ -f "$SM_CF_DIR/$f" ] || { echo "SKIP: needs sendmail's m4 files ($SM_CF_DIR/$f)"; exit 77; }
done
it_setup
it_user cqsmta1 || { echo "SKIP: cannot add users"; exit 77; }	# asks, sends
it_user cqsmta2 || { echo "SKIP: cannot add users"; exit 77; }	# a local user of the MTA
RUNNER=$IT_RUNNER
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
S=$W/run/control
DOMAIN=sm.test

# ------------------------------------------------------------ the MTA
# M: its directory.  mbox/ is where the local mailer writes (it runs as
# the recipient or as DefaultUser: anyone may create a mailbox there).
M=$W/mta
mkdir "$M" "$M/mqueue" "$M/mbox" && chmod 0700 "$M/mqueue" && chmod 1777 "$M/mbox"
# The local mailer: the message on standard input, appended to the
# mailbox of each recipient given (sendmail puts "-r SENDER" first: the
# local mailer's r flag).  sendmail runs it with an environment of its
# own: the directory is written in.
cat >"$M/deliver" <<EOF
#!/bin/sh
umask 000
[ "\$1" != -r ] || shift 2
t=\$(mktemp "$M/mbox/.in.XXXXXX") || exit 75
cat >"\$t" || { rm -f "\$t"; exit 75; }
for u in "\$@"; do
	case \$u in */*|.*|'') rm -f "\$t"; exit 67 ;; esac
	cat "\$t" >>"$M/mbox/\$u" || { rm -f "\$t"; exit 73; }
done
rm -f "\$t"
EOF
chmod 0755 "$M/deliver"
# The alias file, read as text: with no database beside it sendmail's
# implicit map class reads the file itself.  Either way sendmail refuses
# a map in a directory under a world-writable one (/tmp: "unsafe map
# file: World writable directory", and then no alias and no "User
# unknown" at all), unless it trusts the sticky bit (DontBlameSendmail).
printf 'postmaster: root\nMAILER-DAEMON: postmaster\nknown: cqsmta2\n' >"$M/aliases"
: >"$M/relay-domains"
cat >"$M/sendmail.mc" <<EOF
include(\`$CF_M4')dnl
VERSIONID(\`clientq-runner test MTA')dnl
define(\`__OSTYPE__',\`')dnl
define(\`_USE_DECNET_SYNTAX_', \`1')dnl
define(\`confTIME_ZONE', \`USE_TZ')dnl
define(\`confDONT_INIT_GROUPS', \`True')dnl
define(\`confDOMAIN_NAME', \`mx.$DOMAIN')dnl
define(\`QUEUE_DIR', \`$M/mqueue')dnl
define(\`confPID_FILE', \`$M/sendmail.pid')dnl
define(\`STATUS_FILE', \`$M/statistics')dnl
define(\`HELP_FILE', \`$M/helpfile')dnl
define(\`ALIAS_FILE', \`$M/aliases')dnl
define(\`confCR_FILE', \`-o $M/relay-domains')dnl
define(\`confCW_FILE', \`$M/local-host-names')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
define(\`confFORWARD_PATH', \`')dnl
define(\`confSERVICE_SWITCH_FILE', \`$W/service.switch')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confTO_IDENT', \`0')dnl
define(\`LOCAL_MAILER_PATH', \`$M/deliver')dnl
define(\`LOCAL_MAILER_ARGS', \`deliver \$u')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Port=$PORT, Addr=127.0.0.1, Name=MTA')dnl
LOCAL_DOMAIN(\`$DOMAIN')dnl
MAILER(\`local')dnl
EOF
MTACF=$M/sendmail.cf
check "the MTA's sendmail.cf builds with m4" sh -c "m4 '$M/sendmail.mc' >'$MTACF'"
# Every file it names is the test's (comments aside).
check "... and names no file of the system's sendmail (/etc/mail, /var/spool)" \
    sh -c "! grep -v '^#' '$MTACF' | grep -q -e /etc/mail -e /var/spool"

# smx ARGS...: sendmail on the MTA's configuration, as root, with the
# test's hosts file (lib.sh's sm).
smx() { sm -C "$MTACF" "$@"; }

# The MTA in the foreground (-bD: its pid is $!), its log into mta.log.
it_datagram_sink syslog "$W/mta.sock" "$W/mta.log"
it_with_devlog --exec "$W/mta.sock" "$SENDMAIL" -bD -C "$MTACF" -L sm-mta \
    >"$M/daemon.out" 2>&1 &
MTAPID=$!
IT_PIDS="$IT_PIDS $MTAPID"
mta_listens() { [ -n "$(ss -Hltn "src 127.0.0.1:$PORT" 2>/dev/null)" ]; }
if wait_for_s 30 mta_listens; then
	ok "the MTA listens on 127.0.0.1:$PORT (pid $MTAPID)"
else
	fail "the MTA does not listen" "$(cat "$M/daemon.out" "$W/mta.log")"
	it_finish
fi
check "... and wrote its own PID file" wait_for grep -qx "$MTAPID" "$M/sendmail.pid"

# The daemon, its log through syslog into runner.log (one sink for
# both of its runs).
it_datagram_sink syslog "$W/syslog.sock" "$W/runner.log"
daemon_start() {
	rm -f "$S"
	it_with_devlog --exec "$W/syslog.sock" "$RUNNER" -C "$CF" --control "$S" -L cq-smmta \
	    --syslog 2>>"$W/daemon.err" &
	DPID=$!
	IT_PIDS="$IT_PIDS $DPID"
	wait_for test -S "$S"
}
daemon_stop() {
	kill "$DPID" 2>/dev/null
	wait "$DPID"
}
check "the daemon makes its control socket" daemon_start

# ------------------------------------------------------------ verify
it_ctl cqsmta1 verify "known@$DOMAIN" "nosuchuser@$DOMAIN" "cqsmta2@$DOMAIN"
sed 's/^/# verify: /' "$W/out" "$W/err"
it_ctl_expect "verify as an ordinary user: one refused, exit 1" 1
it_ctl_expect "known@$DOMAIN (an alias) accepted, sendmail's 250 2.1.5" 1 \
    "^known@$DOMAIN accepted 250 2\\.1\\.5 .*Recipient ok"
it_ctl_expect "nosuchuser@$DOMAIN refused 550 5.1.1 User unknown" 1 \
    "^nosuchuser@$DOMAIN refused 550 5\\.1\\.1 .*User unknown"
it_ctl_expect "cqsmta2@$DOMAIN (a local user) accepted" 1 "^cqsmta2@$DOMAIN accepted 250 2\\.1\\.5 "
check "three lines, one per address" test "$(wc -l <"$W/out")" -eq 3
# The MTA's own verdicts, from its configuration (root: -C keeps root),
# one address a call (sendmail -bv drops an address that resolves to
# one already listed: the alias's user).
agree=0
for a in "known@$DOMAIN" "nosuchuser@$DOMAIN" "cqsmta2@$DOMAIN"; do
	smx -bv "$a" >"$W/bv" 2>&1
	sed 's/^/# sendmail -bv: /' "$W/bv"
	if grep -q '\.\.\. User unknown$' "$W/bv"; then
		bvv=refused
	elif grep -q '\.\.\. deliverable: mailer local, user ' "$W/bv"; then
		bvv=accepted
	else
		bvv=unknown
	fi
	v=$(sed -n "s/^$a \\([a-z]*\\) .*/\\1/p" "$W/out")
	if [ "$v" = "$bvv" ]; then
		agree=$((agree + 1))
	else
		echo "# $a: verify says '$v', sendmail -bv '$bvv'"
	fi
done
check "verify's verdicts agree with sendmail -bv on the MTA's sendmail.cf ($agree of 3)" test "$agree" -eq 3
check "the MTA logged the unknown user's RCPT" \
    wait_for grep -q "sm-mta\\[[0-9]*\\]: [0-9A-Za-z]*: <nosuchuser@$DOMAIN>\\.\\.\\. User unknown" "$W/mta.log"
# sendmail logs the envelope of a session without DATA too, at its RSET
# (from=, size=0, nrcpts=2: the RCPTs it took); a message would have a
# msgid=.
check "... and the envelope of verify's session: size=0, the 2 RCPTs taken" \
    wait_for grep -q "sm-mta\\[[0-9]*\\]: [0-9A-Za-z]*: from=<cqsmta1@host\\.test>, size=0, .*nrcpts=2," "$W/mta.log"
check "... and took no message: no msgid= in its log, nothing in its queue or mailboxes" \
    sh -c "! grep -q 'msgid=' '$W/mta.log' && [ -z \"\$(find '$M/mqueue' '$M/mbox' -type f)\" ]"

# ------------------------------------------------------------ a message
# Queued while the daemon is stopped, so that its qf can be read first.
check "the daemon stops: exit 0" daemon_stop
printf 'Subject: to a real sendmail\n\nfollow me\n' | sm_as cqsmta1 -odq "known@$DOMAIN"
id=$(grep -l '^Scqsmta1$' "$Q"/qf* 2>/dev/null | sed 's|.*/qf||')
check "real sendmail queued the user's message ($id)" test -n "$id"
mid=$(grep -a -m1 -i '^H?[^?]*?Message-Id:' "$Q/qf$id" | sed 's/.*<//; s/>.*//')
check "the daemon starts again" daemon_start
check "the daemon delivers it: the queue is empty" \
    wait_for_s 60 sh -c "[ -z \"\$(ls '$Q')\" ]"
check "the runner logged the Sent line through syslog" \
    wait_for grep -q "cq-smmta\\[[0-9]*\\]: $id: to=known@$DOMAIN, .*stat=Sent" "$W/runner.log"
# The MTA's ID as our line has it, and as the MTA logs it for the
# message (its from= line names the Message-Id).
rqid=$(sed -n "s/.*cq-smmta\\[[0-9]*\\]: $id: to=.*, dsn=2\\.0\\.0, stat=Sent (\\([0-9A-Za-z]*\\) Message accepted for delivery)\$/\\1/p" \
    "$W/runner.log" | head -n 1)
wait_for grep -q "msgid=<$mid>" "$W/mta.log"
mqid=$(sed -n "s/.*sm-mta\\[[0-9]*\\]: \\([0-9A-Za-z]*\\): from=<cqsmta1@host\\.test>, .*msgid=<$mid>.*/\\1/p" \
    "$W/mta.log" | head -n 1)
check "the MTA logged the message as from the user, under a queue ID ($mqid)" test -n "$mqid"
check "the Sent line's reply names that queue ID ($rqid)" test -n "$rqid" -a "$rqid" = "$mqid"
check "the MTA delivered it locally to the alias's user" \
    wait_for_s 30 grep -q "sm-mta\\[[0-9]*\\]: $mqid: to=cqsmta2, .*mailer=local, .*stat=Sent" "$W/mta.log"
mbox=$M/mbox/cqsmta2
check "the message is in the local mailbox: its Message-Id and body" \
    wait_for sh -c "grep -q '^Message-I[Dd]: <$mid>' '$mbox' && grep -qx 'follow me' '$mbox'"
check "... received by the MTA under the same queue ID" \
    grep -Eq "by mx\\.$DOMAIN .* with ESMTP id $mqid" "$mbox"

# ------------------------------------------------------------ trace
it_ctl root trace "$id" --file "$W/runner.log" --file "$W/mta.log"
it_ctl_expect "trace: exit 0" 0
cp "$W/out" "$W/trace.out"
sed 's/^/# trace: /' "$W/trace.out"
if grep -q "^[0-9-]* [0-9:.]* cq-smmta\\[[0-9]*\\]: $id: to=known@$DOMAIN, .*stat=Sent ($mqid Message accepted for delivery)\$" "$W/trace.out" &&
    grep -q "sm-mta\\[[0-9]*\\]: $mqid: from=<cqsmta1@host\\.test>, .*msgid=<$mid>" "$W/trace.out" &&
    grep -q "sm-mta\\[[0-9]*\\]: $mqid: to=cqsmta2, .*stat=Sent" "$W/trace.out"; then
	ok "trace shows the runner's Sent line and the MTA's from= and local delivery lines"
else
	fail "trace's lines" "$(cat "$W/trace.out")" "mta.log: $(cat "$W/mta.log")"
fi
if ! grep -v -e " $id: " -e " $mqid: " "$W/trace.out" | grep -q .; then
	ok "... every line is the message's (its ID or the MTA's)"
else
	fail "trace: lines not of the message" "$(cat "$W/trace.out")"
fi
# Time order: stamps never go back (whole seconds: ties keep each
# file's order); the MTA's from= line comes before its delivery.
if LC_ALL=C awk '{ t = $1 " " $2; if (t < last) bad = 1; last = t } END { exit bad }' "$W/trace.out" &&
    [ "$(grep -n "$mqid: from=" "$W/trace.out" | cut -d: -f1)" -lt \
      "$(grep -n "$mqid: to=cqsmta2" "$W/trace.out" | cut -d: -f1)" ]; then
	ok "... in time order"
else
	fail "trace: not in time order" "$(cat "$W/trace.out")"
fi
cat "$W/mta.log" "$W/runner.log" >"$W/mail.log"
it_ctl root trace "$id" --log "$W/mail.log"
if [ "$rc" -eq 0 ] && [ "$(sort "$W/out")" = "$(sort "$W/trace.out")" ]; then
	ok "trace of one file holding both logs: the same lines"
else
	fail "trace of one file" "exit $rc" "$(diff "$W/trace.out" "$W/out")"
fi
it_ctl cqsmta1 show "$id"
it_ctl_expect "show of the delivered message to its user: the MTA's queue ID" 0 \
    "^Outcome: +delivered at .* to relay \\[127\\.0\\.0\\.1\\]:$PORT, MTA queue ID $mqid\$"

check "the daemon stops: exit 0" daemon_stop
it_datagram_sink_stop "$W/runner.log"

# ------------------------------------------------------------ the journal
# --once under a journal (log-sink.py, lib.sh's it_with_journal): the
# Sent entry's MTA_QUEUE_ID field.
id=$(submit "cqsmta2@$DOMAIN")
mid=$(grep -a -m1 -i '^H?[^?]*?Message-Id:' "$Q/qf$id" | sed 's/.*<//; s/>.*//')
rm -f "$W/journal.json"
: >"$W/stderr.log"
it_with_journal "$RUNNER" --once -C "$CF" &
wait $!
rc=$?
wait_for test -s "$W/jsink.pid" && IT_PIDS="$IT_PIDS $(cat "$W/jsink.pid")"
check "--once under a journal: exit 0, queue empty ($id)" \
    sh -c "[ $rc -eq 0 ] && [ -z \"\$(ls '$Q')\" ]"
wait_for grep -q "msgid=<$mid>" "$W/mta.log"
mqid2=$(sed -n "s/.*sm-mta\\[[0-9]*\\]: \\([0-9A-Za-z]*\\): from=<.*msgid=<$mid>.*/\\1/p" \
    "$W/mta.log" | head -n 1)
check "the MTA logged a queue ID for it ($mqid2)" test -n "$mqid2" -a "$mqid2" != "$mqid"
check "journal: the Sent entry's MTA_QUEUE_ID is the MTA's queue ID" wait_for it_jentry \
    "$W/journal.json" "QUEUE_ID=$id" "MTA_QUEUE_ID=$mqid2" 'DSN=2\.0\.0' \
    "STATUS=Sent \\($mqid2 Message accepted for delivery\\)" \
    "MESSAGE=$id: to=cqsmta2@$DOMAIN, .*, dsn=2\\.0\\.0, stat=Sent \\($mqid2 Message accepted for delivery\\)"
check "... nothing went to stderr" test ! -s "$W/stderr.log"
[ -s "$W/jsink.pid" ] && kill "$(cat "$W/jsink.pid")" 2>/dev/null
check "... and the message is in the user's mailbox" \
    wait_for_s 30 grep -q "^Message-I[Dd]: <$mid>" "$M/mbox/cqsmta2"

# ------------------------------------------------------------ the end
# mta_procs: the MTA's processes, the daemon and its children (their
# titles are sendmail's own; each works in the MTA's queue directory).
mta_procs() {
	for _p in /proc/[0-9]*; do
		[ "$(readlink "$_p/cwd" 2>/dev/null)" = "$M/mqueue" ] && echo "${_p#/proc/}"
	done
}
kill "$MTAPID" 2>/dev/null
wait "$MTAPID"
check "the MTA stops" sh -c "! kill -0 $MTAPID 2>/dev/null"
mta_gone() { [ -z "$(mta_procs)" ]; }
check "no process of the MTA is left" wait_for_s 30 mta_gone
it_datagram_sink_stop "$W/mta.log"
it_finish

#!/bin/sh
# Queue operations by selector (clientqctl(8), SELECTING MESSAGES) on a
# queue real sendmail writes: five messages from root and two ordinary
# users (made for the test), made 2 hours to 10 days old with the library's
# writer (qftool age), each deferred once by the relay with a reason of its
# domain (smtp-recorder --reply), so that every selector has something to
# tell apart:
#   a_old  cqqops1 -> u1@dead.test   8 days    "dead domain"
#   a_new  cqqops1 -> u2@live.test   now       "try later"
#   b_mid  cqqops2 -> u3@dead.test   2 hours   "dead domain"
#   r_old  root    -> ops@dead.test  10 days   "dead domain"
#   r_mid  root    -> ops@live.test  3 days    "try later"
# Asserted:
# - each selector alone and combined picks exactly its messages (list
#   --json, and the same grammar for the actions' --dry-run);
# - --dry-run leaves the queue byte-identical, and says what it would do;
# - from a terminal, an action that picks more than one message without
#   queue IDs is refused without --yes, and changes nothing;
# - hold and release by selector; remove --all as an ordinary user removes
#   only that user's messages; a queue ID of someone else's is refused
#   exactly as one that does not exist;
# - bounce by the message's own user: the original is gone, a notification
#   goes to its sender, logged dsn=5.4.7; the notification is compared
#   whole with the one sendmail's own runner makes for the same message
#   when it expires (Timeout.queuereturn), the differences kept below each
#   with its reason;
# - requeue: the relay now takes everything, and the requeued message goes
#   at once (its time printed; no time bound asserted), its tries reset;
# - every request is logged once with who asked and how many messages.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: needs setpriv"; exit 77; }
[ -x "$QFTOOL" ] || { echo "SKIP: needs tests/tools/qftool (make check builds it)"; exit 77; }
it_setup
it_user cqqops1 || { echo "SKIP: cannot add users"; exit 77; }
it_user cqqops2 || { echo "SKIP: cannot add users"; exit 77; }
RUNNER=$IT_RUNNER
NDIFF="python3 $top_srcdir/tests/tools/notify-diff.py"
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
S=$W/run/control
# No delay warning in either runner (they are not what is compared), and
# no expiry in the daemon's queue: the messages are up to 10 days old.
WARN_M4="define(\`confTO_QUEUEWARN', \`30d')dnl"
it_make_cf "$Q" "$PORT" "$CF" "$WARN_M4
define(\`confTO_QUEUERETURN', \`30d')dnl"

as() { it_ctl "$@"; }
expect() { it_ctl_expect "$@"; }
logged() { grep -Eq -- "$1" "$W/daemon.log"; }
snapshot() { (cd "$Q" && ls -ln --time-style=+%s . && sha256sum ./* 2>/dev/null) >"$1"; }

# queue USER AGE RCPT: one message by real sendmail; its ID out.
queue() {
	_before=" $(ls "$Q" | tr '\n' ' ') "
	if [ "$1" = root ]; then
		printf 'Subject: %s\n\nbody\n' "$3" | sm -Ac -C "$CF" -odq "$3"
	else
		printf 'Subject: %s\n\nbody\n' "$3" | sm_as "$1" -Ac -odq "$3"
	fi
	for _f in $(ls "$Q"); do
		case "$_before" in *" $_f "*) ;; *) case $_f in qf*) _id=${_f#qf} ;; esac ;; esac
	done
	[ "$2" -eq 0 ] || "$QFTOOL" age "$Q" "$_id" "$2" || return 1
	echo "$_id"
}

a_old=$(queue cqqops1 $((8 * 86400)) u1@dead.test)
a_new=$(queue cqqops1 0 u2@live.test)
b_mid=$(queue cqqops2 7200 u3@dead.test)
r_old=$(queue root $((10 * 86400)) ops@dead.test)
r_mid=$(queue root $((3 * 86400)) ops@live.test)
check "five messages queued by real sendmail, aged with qftool" \
    test "$(ls "$Q" | grep -c '^qf')" -eq 5 -a -n "$a_old$a_new$b_mid$r_old$r_mid"

it_recorder_start "$PORT" "$W/rec" --reply 'rcpt/dead.test=451 4.4.0 dead domain' \
    --reply 'rcpt/live.test=451 4.3.0 try later' || fail "the relay could not be started"
"$RUNNER" -C "$CF" --control "$S" --retry-min 3600 -L cq-qops 2>>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for test -S "$S"
wait_for_s 60 sh -c '[ "$(grep -c "stat=Deferred: 451" "$1")" -ge 5 ]' sh "$W/daemon.log"
check "each message was tried once and deferred with its domain's reason" \
    test "$(grep -c 'stat=Deferred: 451' "$W/daemon.log")" -eq 5

# ------------------------------------------------ selectors, alone and combined
# picks DESCRIPTION "IDS" SELECTOR...: root's list --json with SELECTOR
# has exactly IDS.
picks() {
	_d=$1
	_want=$(printf '%s\n' $2 | sort | tr '\n' ' ')
	shift 2
	as root list --json "$@"
	_got=$(python3 -c '
import json, sys
print(" ".join(sorted(json.loads(l)["queue_id"] for l in open(sys.argv[1]) if l.strip())))
' "$W/out")
	if [ "$rc" -eq 0 ] && [ "$_got " = "$_want" ]; then
		ok "$_d: $*"
	else
		fail "$_d: $*" "exit $rc; got: $_got" "wanted: $_want" "$(cat "$W/err")"
	fi
}
picks "older than a week" "$a_old $r_old" --older-than 7d
picks "newer than an hour" "$a_new" --newer-than 60m
picks "between a day and a week (both ages)" "$r_mid" --older-than 1d --newer-than 1w
picks "sender, unqualified" "$r_old $r_mid" --sender root
picks "sender, qualified with \$j, any case" "$a_old $a_new" --sender CQQOPS1@host.test
picks "recipient's domain" "$a_old $b_mid $r_old" --recipient @dead.test
picks "recipient, exact" "$r_mid" --recipient ops@live.test
picks "the file's owner" "$b_mid" --user cqqops2
picks "the deferral reason, a regex" "$a_old $b_mid $r_old" --reason 'dead +domain'
picks "the reason, case aside" "$a_new $r_mid" --reason '^deferred: 451 4\.3\.0 TRY'
picks "older than a week AND from root" "$r_old" --older-than 7d --sender root
picks "to the dead domain AND newer than a day" "$b_mid" --recipient @dead.test --newer-than 1d
picks "nothing held yet" "" --held
as root show --recipient @dead.test --older-than 1d
[ "$rc" -eq 0 ] && [ "$(grep -c '^Queue ID:' "$W/out")" -eq 2 ] && grep -q "^Queue ID: *$a_old" "$W/out" &&
    grep -q "^Queue ID: *$r_old" "$W/out" && ok "show by selectors: each message picked, in full" ||
    fail "show by selectors" "$(cat "$W/out" "$W/err")"
as cqqops1 show --all
[ "$rc" -eq 0 ] && [ "$(grep -c '^Queue ID:' "$W/out")" -eq 2 ] && ! grep -q "$r_old\|$b_mid" "$W/out" &&
    ok "a user's show --all: their own two" || fail "user's show --all" "$(cat "$W/out" "$W/err")"
as root list --user nosuchuser-cq
expect "an unknown --user is refused, named" 2 "no such user 'nosuchuser-cq'" err
as root list --reason '(unclosed'
expect "a bad regex is refused, with the library's words" 2 'not a regular expression' err
as root remove --older-than 7x
expect "a bad age is refused by clientqctl" 2 "an age is a number" err

# ------------------------------------------------ dry run
snapshot "$W/before"
as root remove --older-than 7d --sender root --dry-run
expect "remove --dry-run says what it would do" 0 '1 message would be removed; nothing was changed'
grep -q "^$r_old .*old  from root" "$W/out" && [ "$(grep -c ' old  from ' "$W/out")" -eq 1 ] &&
    ok "remove --dry-run lists exactly the message selected" ||
    fail "dry-run listing" "$(cat "$W/out")"
as cqqops1 remove --recipient @dead.test --dry-run
grep -q "^$a_old " "$W/out" && [ "$(grep -c ' old  from ' "$W/out")" -eq 1 ] &&
    ok "a user's dry run lists their own messages only" || fail "user's dry run" "$(cat "$W/out")"
as root hold --all --dry-run
[ "$rc" -eq 0 ] && [ "$(grep -c ' old  from ' "$W/out")" -eq 5 ] &&
    ok "hold --all --dry-run: all five" || fail "hold --all --dry-run" "$(cat "$W/out" "$W/err")"
as root bounce "$a_old" "$r_old" --dry-run
[ "$rc" -eq 0 ] && [ "$(grep -c ' old  from ' "$W/out")" -eq 2 ] &&
    ok "bounce of two named IDs --dry-run: both" || fail "bounce --dry-run" "$(cat "$W/out" "$W/err")"
as cqqops1 remove "$a_old" "$r_old" --dry-run
expect "a user's dry run naming someone else's message is refused as the action would be" 1 \
    "$r_old: no message of yours has this queue ID" err
! grep -q ' old  from ' "$W/out" && ok "... and lists none of the named, not even their own" ||
    fail "refused dry run listed" "$(cat "$W/out")"
as root release "$a_old" --dry-run
expect "a dry release of a message that is not held: no such held message" 1 \
    "$a_old: no such held message" err
snapshot "$W/after"
cmp -s "$W/before" "$W/after" && ok "after the dry runs the queue is byte-identical (names, owners, modes, times, contents)" ||
    fail "dry runs changed the queue" "$(diff "$W/before" "$W/after")"

# ------------------------------------------------ --yes from a terminal
script -qec "$CLIENTQCTL --socket $S remove --older-than 7d" /dev/null >"$W/tty.out" 2>&1
trc=$?
snapshot "$W/after"
[ "$trc" -eq 1 ] && grep -q 'would act on 2 messages; see them with --dry-run, then add --yes' "$W/tty.out" &&
    cmp -s "$W/before" "$W/after" &&
    ok "from a terminal, removing two messages without --yes is refused, and nothing changes" ||
    fail "--yes from a terminal" "exit $trc" "$(cat "$W/tty.out")"

# ------------------------------------------------ hold, release
as root hold --recipient @dead.test --newer-than 1d --comment "dead domain, wait"
expect "hold by selector" 0 '^1 message held$'
[ -f "$Q/hf$b_mid" ] && [ ! -f "$Q/qf$b_mid" ] && grep -qx 'qdead domain, wait' "$Q/hf$b_mid" &&
    ok "held: hf with the comment as its q line" || fail "held by selector" "$(ls "$Q")"
picks "--held after the hold" "$b_mid" --held
as cqqops2 release --all
expect "its user releases all of theirs" 0 '^1 message released$'
wait_for test -f "$Q/qf$b_mid"
check "released: qf again" test -f "$Q/qf$b_mid" -a ! -f "$Q/hf$b_mid"

# ------------------------------------------------ who may
as cqqops1 remove "$r_old"
cp "$W/err" "$W/err.theirs"
as cqqops1 remove 6AP6QvQA999999
if [ "$rc" -eq 1 ] && [ "$(sed "s/$r_old/ID/" "$W/err.theirs")" = "$(sed 's/6AP6QvQA999999/ID/' "$W/err")" ]; then
	ok "someone else's message is refused exactly as one that does not exist: $(cat "$W/err")"
else
	fail "refusal tells existence" "$(cat "$W/err.theirs" "$W/err")"
fi
as cqqops1 bounce "$b_mid"
expect "a user cannot bounce another user's message" 1 "$b_mid: no message of yours has this queue ID" err
as cqqops1 requeue "$a_new"
expect "requeue is for root and smmsp" 1 'requeue: only root and smmsp' err
as cqqops2 remove --all
expect "an ordinary user's remove --all removes their one message" 0 '^1 message removed$'
[ ! -e "$Q/qf$b_mid" ] && [ -e "$Q/qf$a_old" ] && [ -e "$Q/qf$a_new" ] && [ -e "$Q/qf$r_old" ] &&
    [ -e "$Q/qf$r_mid" ] && ok "only theirs is gone" || fail "user remove --all" "$(ls "$Q")"
logged "$b_mid: removed by uid [0-9]+ \\(cqqops2\\)" &&
    logged "remove of 1 message requested by uid [0-9]+ \\(cqqops2\\), pid [0-9]+; selected by --all: 1 done, 0 left" &&
    ok "logged: the message, and the request once with who and how many" ||
    fail "remove logged" "$(grep remove "$W/daemon.log")"

as cqqops2 show "$b_mid"
expect "show of the removed message tells its user what became of it, and who asked" 0 '^Outcome: +removed at '
grep -q '^Last status: removed by uid [0-9]* (cqqops2)' "$W/out" && ok "... removed by whom" ||
    fail "show of a removed message" "$(cat "$W/out")"
as cqqops1 show "$b_mid"
expect "... and nobody else" 1 "$b_mid: no message of yours has this queue ID" err

# ------------------------------------------------ bounce
mkdir "$W/keep" && cp -p "$Q/qf$a_new" "$Q/df$a_new" "$W/keep/"
as cqqops1 bounce "$a_new"
expect "a user bounces their own message" 0 "$a_new: returned to the sender"
check "the original is gone" test ! -e "$Q/qf$a_new" -a ! -e "$Q/df$a_new"
logged "$a_new: to=<?u2@live.test>?,.* dsn=5\\.4\\.7, stat=Returned on request of uid [0-9]+ \\(cqqops1\\)" &&
    ok "logged as sendmail logs a recipient: dsn=5.4.7, stat= who asked" ||
    fail "bounce logged" "$(grep "$a_new" "$W/daemon.log")"
as cqqops1 show "$a_new"
expect "show of the returned message: bounced, on whose request" 0 '^Last status: returned to the sender by uid [0-9]+ \(cqqops1\)'
wait_for_s 30 sh -c 'grep -qi "^MAIL FROM: *<>" "$1"/session-*.txt' sh "$W/rec"
grep -qi '^MAIL FROM: *<>' "$W/rec"/session-*.txt &&
    ok "the notification went to the relay" || fail "no notification on the wire"

# The same message as sendmail's runner returns it when it expires: a copy
# of its files taken before the bounce (the same queue ID, headers and
# tries), made 6 days old; Timeout.queuereturn 5 days; the same relay.
SQ=$W/sq
mkdir "$SQ" && chown smmsp:smmsp "$SQ" && chmod 2770 "$SQ"
SPORT=$(it_free_port)
it_make_cf "$SQ" "$SPORT" "$W/s.cf" "$WARN_M4"
cp -p "$W/keep/qf$a_new" "$W/keep/df$a_new" "$SQ/"
"$QFTOOL" age "$SQ" "$a_new" $((6 * 86400)) || fail "qftool age on sendmail's copy"
mkdir "$W/skeep" && cp -p "$SQ"/* "$W/skeep/"
it_recorder_start "$SPORT" "$W/srec" --reply 'rcpt/live.test=451 4.3.0 try later' ||
    fail "sendmail's relay could not be started"
sm -Ac -qf -C "$W/s.cf" >"$W/s.out" 2>&1
it_recorder_stop "$W/srec"
$NDIFF extract --queue "$W/skeep" "$W/srec" >"$W/sendmail.txt"
$NDIFF extract --queue "$W/keep" "$W/rec" >"$W/ours.txt"
# Kept differences (- sendmail, + clientq-runner), each for a reason (the
# "# KEEP" lines are the list; any other difference fails, and so does a
# kept one that is no longer seen):
# - 5.4.7, not 4.4.7: an administrator's or owner's decision is
#   permanent; sendmail's 4.4.7 says time ran out on failures that might
#   have been transient, and RFC 3464 pairs Action: failed with a 5.x.x.
# KEEP -Status: 4.4.7
# KEEP +Status: 5.4.7
# - how long: sendmail says its Timeout.queuereturn; a message returned on
#   request says how long it really waited (its age: seconds here).
# KEEP -Message could not be delivered for 5 days
# KEEP +Message could not be delivered for (its age)
# - the session: sendmail's transcript has the attempt in which the message
#   expired; a message returned on request is not tried again, and no
#   session is made up.  Its last reply is in both (the recipient's line,
#   Diagnostic-Code:, Remote-MTA:).
# KEEP -.... while talking to [127.0.0.1]:
# KEEP ->>> DATA
# KEEP -<<< 451 4.3.0 try later
# KEEP -<<< 554 5.5.1 Error: no valid recipients
$NDIFF compare "$W/sendmail.txt" "$W/ours.txt" >"$W/bounce.diff"
grep '^[-+][^-+]' "$W/bounce.diff" |
    sed 's/^+Message could not be delivered for .*/+Message could not be delivered for (its age)/' |
    sort >"$W/bounce.lines"
sed -n 's/^# KEEP //p' "$0" | sort >"$W/bounce.kept"
if [ "$(grep -ci '^MAIL FROM' "$W/sendmail.txt")" -ge 1 ] && cmp -s "$W/bounce.kept" "$W/bounce.lines"; then
	ok "the notification is sendmail's for an expired message, but the kept differences"
else
	fail "the notification differs from sendmail's (- sendmail, + clientq-runner)" \
	    "$(cat "$W/bounce.diff")" "unexpected or missing (< kept, > seen):" \
	    "$(diff "$W/bounce.kept" "$W/bounce.lines")"
fi

# ------------------------------------------------ requeue
it_recorder_stop "$W/rec"
it_recorder_start "$PORT" "$W/rec2" || fail "the relay could not be restarted"
t0=$(date +%s%N)
as root requeue "$r_mid"
expect "root requeues a deferred message" 0 "$r_mid: requeued"
wait_for_s 30 sh -c '! [ -e "$1" ]' sh "$Q/qf$r_mid"
t1=$(date +%s%N)
if [ ! -e "$Q/qf$r_mid" ] && grep -q "$r_mid: to=.*stat=Sent" "$W/daemon.log"; then
	ok "the requeued message went at once (in $(((t1 - t0) / 1000000)) ms; its backoff was an hour)"
else
	fail "requeue" "$(grep "$r_mid" "$W/daemon.log")"
fi
check "the others stay, their backoff untouched" test -e "$Q/qf$a_old" -a -e "$Q/qf$r_old"
logged "$r_mid: requeued by uid 0 \\(root\\)" &&
    logged 'requeue of 1 message requested by uid 0 \(root\), pid [0-9]+: 1 done, 0 left' &&
    ok "requeue logged, the message and the request" || fail "requeue logged" "$(grep requeue "$W/daemon.log")"

kill "$DPID" 2>/dev/null
wait "$DPID" 2>/dev/null
it_finish

#!/bin/sh
# Every notification the runner makes, compared whole with sendmail's.
#
# For each case real sendmail queues one message (as root, or as an
# ordinary user through the setgid binary); the queue is aged with the
# library's writer where the case needs it (qftool age); three copies of
# it are run against the same scripted relay (tests/tools/smtp-recorder.py
# --reply/--fail-rcpt): one by `sendmail -Ac -qf`, one by `clientq-runner
# --once`, one by the clientq-runner daemon.  Each runner sends the
# notifications it makes to that relay at once (the relay accepts them,
# or refuses them where the case is about a notification that fails), so
# the recording holds each notification whole, as its reader gets it:
# tests/tools/notify-diff.py extracts every transaction with the null
# sender, normalizes only what must differ, each named and justified in
# its header (N1-N4: the notification's own queue ID, Message-Id time and
# boundary time, its own Received: and Date: times and Last-Attempt-Date:,
# arrival dates that are not a queued message's T, and the product in its
# own Received: line; N5: SIZE= on its MAIL command, an estimate in
# sendmail) and prints
# them; sendmail's text and each of clientq-runner's are diffed (unified
# diff printed on any difference).  Every case runs with every extension
# offered and with none.
#
# Kept differences: KEPT_<case> (or KEPT_<case>_<ext>) below lists the
# diff lines each case may show, each with its reason; any other difference fails, and so does a
# kept one that is no longer seen.  The man page's three deliberate
# differences: (1) a 5xx to DATA is reported with the relay's status and
# reply (case data554); (2) the postmaster's copy of a failed
# notification is queued and retried like any message, where sendmail
# tries it once: on the wire the same notification (cases doublebounce*);
# (3) the daemon takes a relay that greets with 5xx as down instead of
# bouncing: no notification can reach such a relay, so nothing of it is
# on the wire to compare (failures.sh greet554 covers --once).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/compat-lib.sh"
# sixteen cases, twice, three runs each: far longer than the default
# 300 s (fifteen cases took 10.5 minutes at a load average of 19 on 2 cores)
IT_TIMEOUT=${IT_TIMEOUT:-2400}
it_long
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }

it_setup
RUNNER=$IT_RUNNER
NDIFF="python3 $top_srcdir/tests/tools/notify-diff.py"
NUSER=cqnotify
it_user "$NUSER" || { fail "cannot make the user $NUSER"; it_finish; }

# ------------------------------------------------------------ kept
# Each: the lines of `notify-diff.py compare`'s unified diff (- sendmail,
# + clientq-runner) the case may show, with the reason above them.

# (1) man page: a 5xx to DATA is reported with the relay's status and
# reply (in "(reason: ...)" and Diagnostic-Code:); sendmail says 5.5.0
# and leaves the reply out of both.
KEPT_data554='
+    (reason: 554 5.6.0 no data)
-Status: 5.5.0
+Status: 5.6.0
+Diagnostic-Code: SMTP; 554 5.6.0 no data'
# ... from a relay without ENHANCEDSTATUSCODES the reply code's status
# (554: 5.0.0), as for any other reply.
KEPT_data554_none='
+    (reason: 554 5.6.0 no data)
-Status: 5.5.0
+Status: 5.0.0
+Diagnostic-Code: SMTP; 554 5.6.0 no data'

# ------------------------------------------------------------ cases

# new_case NAME USER AGE HEADER SUBMIT-ARGS...: queue one message with
# real sendmail (-odq; USER root: `sendmail -C`, else the setgid binary as
# that user) into a fresh $Q: Subject: NAME, the extra HEADER line if not
# empty; make it AGE seconds older (qftool age) unless AGE is 0; keep its
# files in $W/cases/NAME with owner.txt (compat_copy_queue's layout).
new_case() {
	_nc_name=$1
	_nc_user=$2
	_nc_age=$3
	_nc_hdr=$4
	shift 4
	# NOTIFY_CASES="a b": run only those cases (while working on one)
	case " ${NOTIFY_CASES:-$_nc_name} " in
	*" $_nc_name "*) ;;
	*) return 1 ;;
	esac
	rm -rf "$Q"/* "$W/cases/$_nc_name"
	mkdir -p "$W/cases/$_nc_name"
	printf 'To: whoever@example.test\n%sSubject: %s\n\nThe body.\nA second line.\n' \
	    "${_nc_hdr:+$_nc_hdr
}" "$_nc_name" >"$W/cases/$_nc_name/stdin"
	if [ "$_nc_user" = root ]; then
		sm -Ac -C "$CF" -odq "$@" <"$W/cases/$_nc_name/stdin" >"$W/cases/$_nc_name/submit.out" 2>&1
	else
		sm_as "$_nc_user" -Ac -odq "$@" <"$W/cases/$_nc_name/stdin" >"$W/cases/$_nc_name/submit.out" 2>&1
	fi
	_nc_id=$(ls "$Q" | sed -n 's/^qf//p')
	if [ -z "$_nc_id" ]; then
		fail "$_nc_name: real sendmail queued nothing" "$(cat "$W/cases/$_nc_name/submit.out")"
		return 1
	fi
	if [ "$_nc_age" != 0 ] && ! "$QFTOOL" age "$Q" "$_nc_id" "$_nc_age"; then
		fail "$_nc_name: qftool age failed"
		return 1
	fi
	: >"$W/cases/$_nc_name/owner.txt"
	for _nc_f in "$Q"/*; do
		cp -p "$_nc_f" "$W/cases/$_nc_name/"
		(cd "$Q" && stat -c '%n %U %G %04a' "${_nc_f##*/}") >>"$W/cases/$_nc_name/owner.txt"
	done
}

# run_one NAME EXT SIDE [RECORDER-OPTION...]: run copy SIDE (sendmail,
# once, daemon) of case NAME against a relay offering EXT (full, none),
# recorded in $W/run/NAME-EXT-SIDE/rec.  The daemon runs until it has sent
# as many notifications as sendmail's run did, then a second more for one
# that should not come.
run_one() {
	_r_name=$1
	_r_ext=$2
	_r_side=$3
	shift 3
	_r_d=$W/run/$_r_name-$_r_ext-$_r_side
	rm -rf "$_r_d"
	mkdir -p "$_r_d"
	compat_copy_queue "$_r_d/q" "$W/cases/$_r_name" || return 1
	_r_port=$(it_free_port)
	it_make_cf "$_r_d/q" "$_r_port" "$_r_d/submit.cf" "${CASE_M4-}" || return 1
	_r_e=$COMPAT_EXT_FULL
	[ "$_r_ext" = full ] || _r_e=none
	compat_recorder_start "$_r_port" "$_r_d/rec" "$_r_e" "$@" || return 1
	case $_r_side in
	sendmail)
		sm -Ac -qf -C "$_r_d/submit.cf" >"$_r_d/out" 2>&1
		;;
	once)
		TZ=UTC "$RUNNER" --once -C "$_r_d/submit.cf" >"$_r_d/out" 2>&1
		;;
	daemon)
		TZ=UTC "$RUNNER" -C "$_r_d/submit.cf" --control "$_r_d/control" >"$_r_d/out" 2>&1 &
		_r_pid=$!
		IT_PIDS="$IT_PIDS $_r_pid"
		_r_want=$(grep -ci '^MAIL FROM: *<>' "$W/run/$_r_name-$_r_ext-sendmail"/rec/session-*.txt |
		    awk -F: '{ n += $NF } END { print n + 0 }')
		# shellcheck disable=SC2016  # the inner shell's $1 and $2
		wait_for_s 30 sh -c '[ "$(cat "$1"/session-*.txt 2>/dev/null | grep -ci "^MAIL FROM: *<>")" -ge "$2" ]' \
		    sh "$_r_d/rec" "$_r_want"
		sleep 1
		kill -TERM "$_r_pid" 2>/dev/null
		wait "$_r_pid"
		;;
	esac
	compat_recorder_stop "$_r_d/rec"
}

# compare_case NAME [RECORDER-OPTION...]: run case NAME (queued by
# new_case; $CASE_M4: extra m4 lines for its submit.cf) with every
# extension and with none: sendmail's runner, then
# clientq-runner --once and the daemon side by side; compare.  $EXPECT:
# how many notifications sendmail must have sent ("full none"), so that a
# case that stops making one cannot pass by making none on both sides.
compare_case() {
	_c_name=$1
	shift
	_c_i=0
	for _c_ext in full none; do
		_c_i=$((_c_i + 1))
		_c_base=$W/run/$_c_name-$_c_ext
		run_one "$_c_name" "$_c_ext" sendmail "$@" ||
		    fail "$_c_name/$_c_ext: the sendmail run could not be made"
		run_one "$_c_name" "$_c_ext" once "$@" >"$_c_base-once.log" 2>&1 &
		_c_once=$!
		run_one "$_c_name" "$_c_ext" daemon "$@" ||
		    fail "$_c_name/$_c_ext: the daemon run could not be made"
		wait "$_c_once" || fail "$_c_name/$_c_ext: the --once run could not be made"
		# KEPT_<case>_<ext>, else KEPT_<case>
		_c_var=KEPT_$(echo "$_c_name" | tr - _)
		eval "_c_kept=\${${_c_var}_$_c_ext-\${$_c_var-}}"
		printf '%s\n' "$_c_kept" >"$_c_base.kept"
		_c_n=$($NDIFF check --queue "$W/cases/$_c_name" --kept "$_c_base.kept" \
		    "$_c_base-sendmail/rec" "$_c_base-once/rec" "$_c_base-daemon/rec")
		_c_want=$(echo "$EXPECT" | cut -d' ' -f$_c_i)
		if [ "$_c_n" = "$_c_want" ]; then
			ok "$_c_name/$_c_ext: sendmail sent $_c_n notification(s)"
		else
			fail "$_c_name/$_c_ext: sendmail sent ${_c_n:-?} notifications, not $_c_want"
		fi
		for _c_side in once daemon; do
			_c_diff=$_c_base-$_c_side/rec.diff
			_c_what="clientq-runner $(echo "$_c_side" | sed 's/once/--once/; s/daemon/(the daemon)/')"
			if [ "$(head -n 1 "$_c_diff" 2>/dev/null)" = same ]; then
				ok "$_c_name/$_c_ext: $_c_what: the notifications are sendmail's$(
				    [ -n "$_c_kept" ] && echo ', but the kept differences')"
			else
				fail "$_c_name/$_c_ext: $_c_what: the notifications differ from sendmail's (- sendmail, + clientq-runner)"
				tail -n +2 "$_c_diff" | sed 's/^/#   /'
			fi
		done
	done
}

# A 5xx to RCPT, to MAIL, to DATA, to the final dot.
new_case rcpt550 root 0 '' good@example.test bad@example.test &&
    EXPECT="1 1" compare_case rcpt550 --fail-rcpt bad@example.test
new_case mail550 root 0 '' a@example.test b@example.test &&
    EXPECT="1 1" compare_case mail550 --reply 'mail/<root@=550 5.7.1 sender refused'
new_case data554 root 0 '' a@example.test &&
    EXPECT="1 1" compare_case data554 --reply 'data/<root@=554 5.6.0 no data'
new_case dot552 root 0 '' a@example.test b@example.test &&
    EXPECT="1 1" compare_case dot552 --reply 'dot/<root@=552 5.3.4 too big'
# A 552 to MAIL: the headers only come back when the relay offered SIZE.
new_case mail552 root 0 '' a@example.test &&
    EXPECT="1 1" compare_case mail552 --reply 'mail/<root@=552 5.3.4 too big'
# Under MASQUERADE_AS: the notification's own headers are masqueraded on
# the wire, the returned ones stay as queued.
CASE_M4="MASQUERADE_AS(\`masq.example')dnl"
new_case rcpt550-masq root 0 '' good@example.test bad@example.test &&
    EXPECT="1 1" compare_case rcpt550-masq --fail-rcpt bad@example.test
CASE_M4=
# RET=FULL, RET=HDRS, Precedence: bulk.
new_case ret-full root 0 '' -R full bad@example.test &&
    EXPECT="1 1" compare_case ret-full --fail-rcpt bad@example.test
new_case ret-hdrs root 0 '' -R hdrs bad@example.test &&
    EXPECT="1 1" compare_case ret-hdrs --fail-rcpt bad@example.test
new_case bulk root 0 'Precedence: bulk' bad@example.test &&
    EXPECT="1 1" compare_case bulk --fail-rcpt bad@example.test
# Expiry (Timeout.queuereturn, 5 days) and a delay warning
# (Timeout.queuewarn, 4 hours): the queue file made older.
new_case expired root $((6 * 86400)) '' a@example.test &&
    EXPECT="1 1" compare_case expired --reply 'rcpt/a@=451 4.3.0 later'
new_case warning root $((5 * 3600)) '' a@example.test &&
    EXPECT="1 1" compare_case warning --reply 'rcpt/a@=451 4.3.0 later'
# Return receipts: a relay offering DSN gets NOTIFY= (no receipt), one
# without DSN does not (a receipt).
new_case receipt root 0 '' -N success -R hdrs a@example.test b@example.test &&
    EXPECT="0 1" compare_case receipt
new_case receipt-full root 0 '' -N success,failure a@example.test &&
    EXPECT="0 1" compare_case receipt-full
# A notification that fails: refused at its final dot, the postmaster's
# copy too (both whole on the wire); refused at RCPT, the postmaster's
# copy accepted.  The message is made a minute older: the postmaster's
# copy names the failed notification's arrival, a time of the run, which
# must not fall in the second the message was queued in (then N3 would
# take it for the message's own, on one side only: seen in CI when
# sendmail's run began in that second).
new_case doublebounce root 60 '' bad@example.test &&
    EXPECT="2 2" compare_case doublebounce --fail-rcpt bad@example.test --reply 'dot/<>=550 5.7.1 no notifications'
new_case doublebounce-rcpt root 60 '' bad@example.test &&
    EXPECT="2 2" compare_case doublebounce-rcpt --fail-rcpt bad@example.test --fail-rcpt root@host.test
# ... and with DoubleBounceAddress set: the copy goes there.
CASE_M4="define(\`confDOUBLE_BOUNCE_ADDRESS', \`mailadmin@example.test')dnl"
new_case doublebounce-addr root 60 '' bad@example.test &&
    EXPECT="2 2" compare_case doublebounce-addr --fail-rcpt bad@example.test --fail-rcpt root@host.test
CASE_M4=
# Partial acceptance: one refused, one deferred, one accepted.
new_case partial root 0 '' ok@example.test bad@example.test later@example.test &&
    EXPECT="1 1" compare_case partial --fail-rcpt bad@example.test --reply 'rcpt/later@=451 4.2.0 try later'
# An ordinary user through the setgid binary.
new_case user "$NUSER" 0 '' good@example.test bad@example.test &&
    EXPECT="1 1" compare_case user --fail-rcpt bad@example.test
it_finish

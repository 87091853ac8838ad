#!/bin/sh
# Failure semantics, compared with sendmail's own runner.  For each case
# real sendmail queues one message; two copies of that queue are run, one
# by `sendmail -Ac -qf`, one by `clientq-runner --once`, each against the
# scriptable SMTP peer (tests/tools/smtp-recorder.py --reply) playing the
# same faults, and what each left is summarized and compared:
# - the files in the queue (the original, notifications, Qf);
# - the original's recipients, N, F, the envelope and per-recipient M
#   lines, and how much P grew;
# - each notification's flags, sender, recipients, Subject, MIME parts
#   and every DSN field (Action, Status, Final-Recipient, Diagnostic-Code,
#   Remote-MTA, ...) and "(reason: ...)" line;
# - the log: each recipient's dsn= and the kind of its stat=, and the
#   "<qid>: <newqid>: DSN: ..." lines.
# Left out of the comparison, by name: dates and queue IDs; the I line
# (sendmail writes the df's inode on a rewrite, clientq-runner does not:
# sendmail recomputes it on reading); a notification's P and SIZE (sendmail
# estimates a bounce's size before writing it); the transcript's lines.
# Notifications that go out are refused with 451 (mail/<>), so both stay
# queued and can be compared on disk.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_long
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner
HOLD_DSN='mail/<>=451 4.3.0 notifications wait'

# summarize DIR ID: the comparable text of what a run left in DIR.
summarize() {
	_q=$1/q
	echo "files:"
	for _f in $(ls "$_q"); do
		case $_f in
		*"$2") echo "  ${_f%"$2"}<orig>" ;;
		??*) echo "  $(echo "$_f" | cut -c1-2)<new>" ;;
		esac
	done | sort
	if [ -f "$_q/qf$2" ]; then
		echo "orig:"
		grep -E '^(N|M|F|C|r|Q|R)' "$_q/qf$2" | sed 's/^/  /'
		echo "  P grew by $(($(sed -n 's/^P//p' "$_q/qf$2") - $(sed -n 's/^P//p' "$W/q0/qf$2")))"
	fi
	for _f in "$_q"/qf* "$_q"/Qf*; do
		[ -f "$_f" ] || continue
		case $_f in *"$2") continue ;; esac
		_id=${_f##*/}
		_id=${_id#??}
		echo "notification:"
		grep -E '^(N|F|S|C|r|R|M)' "$_f" | sed 's/^/  /'
		grep -E '^H\?\?(Subject|To|Auto-Submitted|MIME-Version):' "$_f" | sed 's/^/  /'
		grep -E '^(Content-Type|Content-Transfer-Encoding|Action|Status|Final-Recipient|Original-Recipient|X-Actual-Recipient|Diagnostic-Code|Remote-MTA|Original-Envelope-Id|Reporting-MTA):|^    \(reason|^   -----|^    \*\*' "$_q/df$_id" |
		    grep -v 'Transcript of session' | sed 's/^/  | /'
	done
	echo "log:"
	sed -n 's/.*: \(to=[^,]*\),.* dsn=\([0-9.]*\),.* stat=\([A-Za-z ]*\).*/  \1 dsn=\2 \3/p; s/.*: [0-9A-Za-z]*: \(DSN\|return to sender\|sender notify\|postmaster notify\): \(.*\)/  \1: \2/p' "$1/log" | sort
}

# run_case NAME "RCPTS" [RECORDER-OPTION...]: see the top.  $PREP is run
# on the queued message first (with ID=its queue ID); $NOPEER: no
# receiver at all.
run_case() {
	_name=$1
	_rcpts=$2
	shift 2
	rm -rf "$Q"/* "$W/q0"
	# shellcheck disable=SC2086  # recipients and options are words
	ID=$(submit ${SUBMIT_OPTS-} $_rcpts)
	if [ -z "$ID" ]; then
		fail "$_name: real sendmail queued nothing"
		return
	fi
	[ -z "${PREP-}" ] || eval "$PREP"
	mkdir -p "$W/q0"
	cp -p "$Q"/* "$W/q0/"
	for _s in a b; do
		_d=$W/$_name-$_s
		mkdir -p "$_d/q"
		chown smmsp:smmsp "$_d/q"
		chmod 2770 "$_d/q"
		cp -p "$Q"/* "$_d/q/"
		it_make_cf "$_d/q" "$PORT" "$_d/submit.cf" "${SUBMIT_M4-}"
		[ -n "${NOPEER-}" ] || it_recorder_start "$PORT" "$_d/rec" "$@" || return
		if [ $_s = a ]; then
			sm_logged "$_d/log" -Ac -qf -C "$_d/submit.cf" >"$_d/out" 2>&1
		else
			it_run_queue "$_d/q" -C "$_d/submit.cf" >"$_d/out" 2>"$_d/log"
			echo $? >"$_d/rc"
		fi
		[ -n "${NOPEER-}" ] || it_recorder_stop "$_d/rec"
		summarize "$_d" "$ID" >"$_d/summary"
	done
	if diff -u "$W/$_name-a/summary" "$W/$_name-b/summary" >"$W/$_name.diff"; then
		ok "$_name: clientq-runner left what sendmail left"
	elif [ -n "${DIFFER-}" ]; then
		# A difference by design: the same files must be left; the
		# rest is shown, and checked by the case's own assertions.
		sed -n '/^files:/,/^[a-z]*:$/p' "$W/$_name-a/summary" >"$W/$_name-a/files"
		sed -n '/^files:/,/^[a-z]*:$/p' "$W/$_name-b/summary" >"$W/$_name-b/files"
		if cmp -s "$W/$_name-a/files" "$W/$_name-b/files"; then
			ok "$_name: the same files as sendmail's; the rest differs by design: $DIFFER"
			sed 's/^/# /' "$W/$_name.diff"
		else
			fail "$_name: the files left differ from sendmail's" "$(cat "$W/$_name.diff")"
		fi
	else
		fail "$_name: results differ from sendmail's (- sendmail, + clientq-runner)" "$(cat "$W/$_name.diff")"
	fi
	B=$W/$_name-b
}

# In daemon mode (CQ_RUNNER_MODE=daemon, failures-daemon.sh) a session
# that cannot be set up (no connection, a refused greeting or EHLO) is the
# circuit breaker's, by design (engine.h's ENGINE_SETUP_BREAKER,
# clientq-runner(8)): no message is tried, rewritten or bounced, and one
# line says the relay is down.  breaker_case NAME "RCPTS"
# [RECORDER-OPTION...] checks that, where run_case compares with sendmail.
breaker_case() {
	_name=$1
	_rcpts=$2
	shift 2
	rm -rf "$Q"/*
	# shellcheck disable=SC2086  # recipients are words
	ID=$(submit $_rcpts)
	_bd=$W/$_name-b
	mkdir -p "$_bd/q"
	chown smmsp:smmsp "$_bd/q"
	chmod 2770 "$_bd/q"
	cp -p "$Q"/* "$_bd/q/"
	it_make_cf "$_bd/q" "$PORT" "$_bd/submit.cf" "${SUBMIT_M4-}"
	[ -n "${NOPEER-}" ] || it_recorder_start "$PORT" "$_bd/rec" "$@" || return
	IT_RUN_WAIT=3 it_run_queue "$_bd/q" -C "$_bd/submit.cf" >"$_bd/out" 2>"$_bd/log"
	echo $? >"$_bd/rc"
	[ -n "${NOPEER-}" ] || it_recorder_stop "$_bd/rec"
	if [ -n "$ID" ] && cmp -s "$Q/qf$ID" "$_bd/q/qf$ID" && [ "$(ls "$_bd/q")" = "$(ls "$Q")" ]; then
		ok "$_name (daemon): the breaker holds the message, its file as it was"
	else
		fail "$_name (daemon): the queue changed" "$(ls -l "$_bd/q"; cat "$_bd/log")"
	fi
	check "$_name (daemon): one line says the relay is down" \
	    grep -q "relay \[127\.0\.0\.1\]:$PORT unreachable: " "$_bd/log"
	check "$_name (daemon): no message logged" sh -c "! grep -q ': to=' '$_bd/log'"
	check "$_name (daemon): exit 75, as --once with something queued" test "$(cat "$_bd/rc")" -eq 75
}

# setup_case NAME "RCPTS" [RECORDER-OPTION...]: run_case, or in daemon
# mode breaker_case; true when run_case ran (its has checks apply).
setup_case() {
	if it_daemon_mode; then
		breaker_case "$@"
		return 1
	fi
	run_case "$@"
}

# has NAME PATTERN WHAT: the clientq-runner side's summary has PATTERN.
has() {
	if grep -qE -- "$2" "$W/$1-b/summary"; then
		ok "$1: $3"
	else
		fail "$1: $3" "$(cat "$W/$1-b/summary")"
	fi
}

run_case rcpt550 "good@example.test bad@example.test" --fail-rcpt bad@example.test --reply "$HOLD_DSN"
has rcpt550 '^  qf<new>$' "a bounce is queued and the original is gone"
has rcpt550 '^  \| Action: failed$' "... with Action: failed"
has rcpt550 '^  \| Status: 5\.1\.1$' "... Status: 5.1.1"
has rcpt550 '^  \| Content-Type: message/rfc822$' "... and the whole original"
has rcpt550 '^  DSN: User unknown$' "the log says <qid>: <newqid>: DSN: User unknown"

run_case rcpt451 "good@example.test bad@example.test" --reply 'rcpt/bad=451 4.3.0 later'
has rcpt451 '^  RPFD:bad@example.test$' "the refused recipient stays, alone"
has rcpt451 '^  MDeferred: 451 4.3.0 later$' "with its M line"
has rcpt451 '^  N1$' "N is 1"
has rcpt451 '^  P grew by 90000$' "P grew by 90000"

run_case mail550 "a@example.test b@example.test" --reply 'mail/<root@=550 5.7.1 sender refused' --reply "$HOLD_DSN"
check "mail550: MAIL 5xx fails every recipient, logged on one line as sendmail does" \
    grep -q 'to=b@example.test,a@example.test, .*dsn=5.7.1, reply=550 5.7.1 sender refused, stat=Service unavailable' "$B/log"

run_case mail451 "a@example.test b@example.test" --reply 'mail/<root@=451 4.3.0 busy'
has mail451 '^  MDeferred: 451 4.3.0 busy$' "MAIL 4xx: deferred, both stay"

DIFFER="a 5xx to DATA is reported with the relay's own status and reply (Status: 5.6.0, Diagnostic-Code:); sendmail reports 5.5.0 and no Diagnostic-Code" \
    run_case data554 "a@example.test" --reply 'data/<root@=554 5.6.0 no data' --reply "$HOLD_DSN"
has data554 '^  \| Diagnostic-Code: SMTP; 554 5.6.0 no data$' "DATA 5xx bounces, with the relay's reply"
run_case dot552 "a@example.test b@example.test" --reply 'dot/<root@=552 5.3.4 too big' --reply "$HOLD_DSN"
has dot552 '^  \| Status: 5\.3\.4$' "final-dot 5xx bounces the accepted recipients"
run_case dot451 "a@example.test" --reply 'dot/<root@=451 4.3.0 later'

setup_case greet421 "a@example.test" --reply 'greeting=421 4.3.2 not now'
run_case ehlo550 "a@example.test" --reply 'ehlo=550 5.5.1 no EHLO here'
has ehlo550 '^files:$' "EHLO 5xx: HELO instead, delivered"
# A 5xx greeting fails every message (sendmail bounces there); the bounce
# meets the same greeting, and so does the postmaster's copy.
DIFFER="the postmaster's copy, not the bounce, is kept as Qf" \
    setup_case greet554 "a@example.test" --reply 'greeting=554 5.3.2 go away' &&
    has greet554 '^  Qf<new>$' "a 5xx greeting: bounced; nobody can be told, so kept as Qf"
setup_case ehlo421 "a@example.test" --reply 'ehlo=421 4.3.2 closing' &&
    has ehlo421 '^  to=a@example.test dsn=4\.5\.0 Deferred$' "EHLO 4xx: deferred, 4.5.0 as sendmail says"

# Disconnects at every phase: deferred, nothing lost.
for ph in mail rcpt data dot; do
	run_case "drop-$ph" "a@example.test" --reply "$ph/=drop"
	has "drop-$ph" '^  RPFD:a@example.test$' "connection dropped at $ph: the recipient stays queued"
done
check "drop-dot: the log warns that the message may arrive twice" \
    grep -q 'lost after the final dot, before the reply: the relay may have the message' "$W/drop-dot-b/log"

# A relay that stops answering: the phase's timeout (2 s here) defers.
SUBMIT_M4="define(\`confTO_RCPT', \`2s')dnl" \
    run_case hang-rcpt "a@example.test" --reply 'rcpt/a@=hang'
has hang-rcpt '^  RPFD:a@example.test$' "no reply to RCPT within Timeout.rcpt: deferred"

SUBMIT_OPTS="-N never" run_case never550 "bad@example.test" --fail-rcpt bad@example.test
has never550 '^files:$' "NOTIFY=NEVER: refused for good, removed, no bounce"

SUBMIT_OPTS="-R hdrs" run_case hdrs550 "bad@example.test good@example.test" --fail-rcpt bad@example.test --reply "$HOLD_DSN"
has hdrs550 '^  \| Content-Type: text/rfc822-headers$' "RET=HDRS: the bounce returns the headers only"

# Expiry: the message is older than Timeout.queuereturn (5d).
PREP='f=$Q/qf$ID; sed "s/^T.*/T$(($(date +%s) - 6 * 86400))/" "$f" >"$W/t" && cat "$W/t" >"$f"' \
    run_case expired "a@example.test" --reply 'rcpt/a@=451 4.3.0 later' --reply "$HOLD_DSN"
has expired '^  \| Status: 4\.4\.7$' "expiry: Status 4.4.7"
has expired '^  DSN: Cannot send message for 5 days$' "... logged as sendmail words it"

# Delay warning: older than Timeout.queuewarn (4h), once.
PREP='f=$Q/qf$ID; sed "s/^T.*/T$(($(date +%s) - 5 * 3600))/" "$f" >"$W/t" && cat "$W/t" >"$f"' \
    run_case warning "a@example.test" --reply 'rcpt/a@=451 4.3.0 later' --reply "$HOLD_DSN"
has warning '^  Fws$' "the original gets F w"
has warning '^  \| Action: delayed$' "a delay warning (Action: delayed)"
has warning '^  sender notify: Warning: could not send message for past 4 hours$' "logged as sender notify"

NOPEER=1 setup_case refused "a@example.test" &&
    has refused '^  MDeferred: Connection refused by \[127\.0\.0\.1\]$' "connection refused: deferred, said in M"

# The relay refuses the bounce too: the postmaster gets it; when that is
# refused as well, the bounce is quarantined (Qf), never deleted.
# sendmail tries the postmaster's copy once, unqueued, and on failure
# keeps the bounce as Qf; clientq-runner queues the postmaster's copy
# (retried like any message on 4xx) and keeps that as Qf on 5xx.  It holds
# the bounce, which holds the original: nothing is lost either way.
DIFFER="the postmaster's copy, not the bounce, is kept as Qf" \
    run_case doublebounce "bad@example.test" --fail-rcpt bad@example.test --fail-rcpt root@host.test --fail-rcpt postmaster@host.test
has doublebounce '^  Qf<new>$' "bounce and postmaster copy refused: kept as Qf, never deleted"
has doublebounce '^  RPF:postmaster$' "... the postmaster's copy"
has doublebounce '^  return to sender: User unknown$' "the copy is logged as sendmail logs it (return to sender)"
check "... and the quarantine is logged" grep -q 'a notification to the postmaster cannot be delivered: quarantined as Qf' "$B/log"

it_finish

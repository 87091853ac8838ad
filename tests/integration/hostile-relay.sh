#!/bin/sh
# A hostile relay (tests/tools/hostile-relay.py) against one daemon, case
# after case: silence after connect, one byte per second (the greeting;
# the EHLO reply), a reply line of 10 MB, 10,000 continuation lines,
# garbage instead of a greeting and as the reply to MAIL, a disconnect at
# every phase (at once, in the greeting, at EHLO, MAIL, RCPT, DATA, in the
# middle of the body, after the final dot), a 421 in the middle of a
# transaction, and a STARTTLS whose handshake never comes (the hook for
# STARTTLS: a case only for a runner that asks for it, bounded by
# Timeout.starttls; without it the relay just takes the message and the
# case is reported as not applicable).  The Timeout.* options are 3 s
# (-O).  For each case, a message queued by real sendmail
# is flushed to the relay (clientqctl flush) and:
# - the connection ends within its timeout (3 s, and 2 s of margin; the
#   faults without a timeout at once), the runner ending it where the
#   relay does not;
# - the message is deferred: a fault in a transaction (garbage or a
#   disconnect after MAIL, a 421) requeues it as sendmail's requeue does
#   (its recipient still there, N 1, K set, P grown by 90000, an M line);
#   a fault before one (silence, a slow, long, endless or garbled
#   greeting or EHLO reply, a disconnect there) is the relay being down
#   to the daemon: its circuit breaker holds the mail back and the file
#   stays byte for byte as it was (clientq-runner(8); sendmail's runner
#   requeues there too, every message of every run); nothing bounced, no
#   tf, no Qf either way;
# - `clientqctl status` answers while the relay misbehaves.
# Throughout, the daemon runs with NOTIFY_SOCKET (the tests' datagram
# sink, log-sink.py) and WATCHDOG_USEC=2000000: its WATCHDOG=1 pings never
# pause for more than half the interval plus 0.5 s; its peak memory
# (VmHWM; in the plain build, see it_memory_measurable) grows by less
# than 2 MB over all the cases (the 10 MB line is
# never held), counted from after the first case, a stalled STARTTLS:
# the first handshake initializes OpenSSL once (some 3 MB, whatever the
# relay does), and the case runs again last; and afterwards a message to a normal relay is delivered
# (the event loop, its connection slots and the breaker survived).
# The counts are the test's last lines.  Under TORTURE=1 (make torture)
# the cases run five times over, with the same bounds on memory and the
# watchdog over all of them.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_long
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner
RELAY=$top_srcdir/tests/tools/hostile-relay.py
T=3		# every Timeout.*
MARGIN=2
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
S=$W/run/control
MODE=$W/mode
echo normal >"$MODE"

python3 "$RELAY" --port "$PORT" --mode-file "$MODE" --out "$W/relay.log" \
    --pidfile "$W/relay.pid" 2>"$W/relay.err" &
IT_PIDS="$IT_PIDS $!"
wait_for test -s "$W/relay.pid"
it_datagram_sink notify "$W/notify.sock" "$W/notify.log"
TIMEOUTS=
# (starttls: for a runner that speaks STARTTLS; one that does not ignores it)
for t in connect initial helo mail rcpt datainit datablock datafinal rset quit starttls; do
	TIMEOUTS="$TIMEOUTS -O Timeout.$t=${T}s"
done
# shellcheck disable=SC2086  # the -O options, one per word
NOTIFY_SOCKET=$W/notify.sock WATCHDOG_USEC=2000000 "$RUNNER" -C "$CF" $TIMEOUTS \
    --control "$S" 2>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for test -S "$S"
wait_for grep -q ' READY=1$' "$W/notify.log"

hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$DPID/status"; }
# event EVENT N: the relay's record of connection N's open or close (a
# JSON line), or nothing yet.
event() {
	python3 -c 'import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] == sys.argv[2] and e["n"] == int(sys.argv[3]):
        print(line.strip())' "$W/relay.log" "$1" "$2"
}
opened_since() { [ "$(grep -c '"event": "open"' "$W/relay.log")" -gt "$1" ]; }
connections() { grep -c '"event": "open"' "$W/relay.log"; }
field() { python3 -c 'import json, sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

# One baseline message through the normal relay, then the cases.
id=$(submit base@example.test)
check "a normal relay first: delivered" wait_for test ! -e "$Q/qf$id"
hwm0=$(hwm)
wd0=$(wc -l <"$W/notify.log")

CASES="starttls-stall silence trickle trickle-ehlo longline continuations garbage garbage-mail
drop-greeting drop-greeting-partial drop-ehlo drop-mail drop-rcpt drop-data
drop-body drop-dot 421-rcpt starttls-stall"
ROUNDS=1
[ "${TORTURE:-0}" = 0 ] || ROUNDS=5
all=
for _r in $(seq "$ROUNDS"); do
	all="$all $CASES"
done
tried=0 lost=0 slow=0 statuses=0 na=
# shellcheck disable=SC2086  # the cases, one per word
for mode in $all; do
	echo "$mode" >"$MODE"
	# Queued while delivery is paused; the flush makes it due and lets
	# the breaker probe at once, the resume starts the one attempt.
	"$CLIENTQCTL" --socket "$S" pause >/dev/null
	id=$(submit "$mode@example.test")
	cp "$Q/qf$id" "$W/qf.before"
	p0=$(sed -n 's/^P//p' "$Q/qf$id")
	c0=$(connections)
	"$CLIENTQCTL" --socket "$S" flush >/dev/null
	"$CLIENTQCTL" --socket "$S" resume >/dev/null
	wait_for opened_since "$c0"
	# While the relay misbehaves: the control socket answers.
	if timeout 5 "$CLIENTQCTL" --socket "$S" status >"$W/status" 2>&1 &&
	    grep -q '^running: ' "$W/status"; then
		statuses=$((statuses + 1))
	else
		fail "$mode: clientqctl status during the attack" "$(cat "$W/status")"
	fi
	n=$((c0 + 1))
	_i=0
	while [ -z "$(event close "$n")" ] && [ "$_i" -lt $(((T + MARGIN + 5) * 10)) ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	rec=$(event close "$n")
	sleep 0.3	# the daemon's side of it: its rewrite, its log line
	tried=$((tried + 1))
	if [ "$mode" = starttls-stall ] && [ ! -e "$Q/qf$id" ] &&
	    ! echo "$rec" | grep -q '"STARTTLS"'; then
		# The runner did not ask for STARTTLS: the relay took the
		# message, as a relay without the fault would.
		na=" (starttls-stall: not applicable, the runner does not speak STARTTLS)"
		tried=$((tried - 1))
		rm -f "$Q/qf$id" "$Q/df$id"
		continue
	fi
	problems=
	if [ -z "$rec" ]; then
		problems="$problems; the connection did not end within $((T + MARGIN + 5)) s"
	else
		t_open=$(event open "$n" | field t)
		t_close=$(echo "$rec" | field t)
		took=$(echo "$t_open $t_close" | awk '{ printf "%.1f", $2 - $1 }')
		if [ "$(echo "$took $T $MARGIN" | awk '{ print ($1 > $2 + $3) }')" = 1 ]; then
			problems="$problems; it took $took s (timeout $T s)"
			slow=$((slow + 1))
		fi
		case $mode in
		silence | trickle | trickle-ehlo | longline | continuations | garbage | garbage-mail)
			[ "$(echo "$rec" | field by)" = client ] ||
			    problems="$problems; the relay, not the runner, ended it"
			;;
		esac
	fi
	case $mode in
	garbage-mail | drop-mail | drop-rcpt | drop-data | drop-body | drop-dot | 421-rcpt)
		requeued=yes ;;
	*)	requeued=no ;;
	esac
	if [ ! -e "$Q/qf$id" ]; then
		lost=$((lost + 1))
		problems="$problems; the message is gone"
	elif [ "$requeued" = no ]; then
		cmp -s "$Q/qf$id" "$W/qf.before" || problems="$problems; the file changed: $(diff "$W/qf.before" "$Q/qf$id" | tr '\n' ' ')"
		"$CLIENTQCTL" --socket "$S" status >"$W/status" 2>&1
		grep -q "relay .* down for" "$W/status" || problems="$problems; the relay is not counted down: $(cat "$W/status")"
		[ -e "$Q/df$id" ] || problems="$problems; the data file is gone"
	else
		grep -q "^R[A-Z]*:$mode@example.test\$" "$Q/qf$id" || problems="$problems; its recipient is gone"
		grep -qx N1 "$Q/qf$id" || problems="$problems; not N1: $(grep '^N' "$Q/qf$id")"
		! grep -qx K0 "$Q/qf$id" || problems="$problems; K not set"
		grep -qx "P$((p0 + 90000))" "$Q/qf$id" || problems="$problems; P not grown by 90000"
		grep -q '^M' "$Q/qf$id" || problems="$problems; no M line"
		[ -e "$Q/df$id" ] || problems="$problems; the data file is gone"
	fi
	left=$(ls "$Q" | grep -v "^[qd]f$id\$" | tr '\n' ' ')
	[ -z "$left" ] || problems="$problems; also in the queue: $left"
	if [ -z "$problems" ] && [ "$requeued" = yes ]; then
		ok "$mode: ended in ${took:-?} s, by the $(echo "$rec" | field by); requeued as sendmail's requeue leaves it ($(grep '^M' "$Q/qf$id" | head -n 1))"
	elif [ -z "$problems" ]; then
		ok "$mode: ended in ${took:-?} s, by the $(echo "$rec" | field by); the relay counted down, the file untouched"
	else
		fail "$mode$problems" "relay: $rec" "$(grep "$id" "$W/daemon.log")"
	fi
	rm -f "$Q/qf$id" "$Q/df$id"
	# OpenSSL's one-time set-up is in by now (see above).
	[ "$tried" -eq 1 ] && hwm0=$(hwm)
done
hwm1=$(hwm)
it_memory_measurable &&
    check "peak memory over all the cases: VmHWM $hwm0 kB -> $hwm1 kB (less than 2 MB more)" \
    test $((hwm1 - hwm0)) -lt 2048
gap=$(tail -n "+$wd0" "$W/notify.log" | grep ' WATCHDOG=1$' |
    awk 'NR > 1 && $1 - p > g { g = $1 - p } { p = $1 } END { printf "%.2f", g }')
check "WATCHDOG=1 every second throughout (the longest gap ${gap} s, at most 1.5)" \
    test "$(echo "$gap" | awk '{ print ($1 <= 1.5 && $1 > 0) }')" = 1
echo normal >"$MODE"
id=$(submit after@example.test)
"$CLIENTQCTL" --socket "$S" flush >/dev/null
check "afterwards a normal relay gets the next message" wait_for test ! -e "$Q/qf$id"
check "the daemon is still running" kill -0 "$DPID"
kill -TERM "$DPID"
wait "$DPID"
check "... and stops cleanly" test $? -eq 0
echo "# $tried hostile cases tried, $lost messages lost, $slow over their timeout;" \
    "clientqctl status answered $statuses times during them; VmHWM $hwm0 -> $hwm1 kB;" \
    "longest watchdog gap ${gap} s$na"
it_finish

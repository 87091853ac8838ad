#!/bin/sh
# Crash torture: the daemon flushing a backlog is killed with SIGKILL at
# random moments and started again, and loses nothing.
#
# Real sendmail queues KILL_MESSAGES (5,000) messages, each to its own
# recipient with its own Message-Id (checked with `sendmail -bp -Ac`).
# The C receiver (bench/sink -l) records every message it accepts with
# its Message-Id, and every connection that ended right after its reply
# to a final dot (the client gone, no QUIT): the one moment a message can
# be delivered twice, because the relay has it and the runner may not
# have read the reply.  It also answers 451 to the first RCPT of about 10
# % of the addresses (-t 10), so that requeues (tf, fsync, rename) are
# under the knife too; the daemon retries them a second later
# (--retry-min 1).  The daemon is started and SIGKILLed KILL_KILLS (20)
# times: most kills come a random 0-60 ms after the receiver saw the
# start of a new run's deliveries, every fourth a random 0-40 ms after
# the start (during the scan of the queue).  After each kill, while no
# runner is alive, every file left in the queue is probed for a lock
# (qftool probe: flock and fcntl): none may be held.  Then the daemon
# runs to the end.  Afterwards:
# - every message was delivered at least once (lost: 0);
# - a message delivered twice was, each extra time, one the receiver
#   recorded as taken on a connection lost right after the reply to its
#   dot: duplicates <= such moments, message by message;
# - the queue is empty: no qf, df, tf or Qf left, nothing quarantined.
# The counts are the test's last lines ("tried ... lost 0 ...").
#
# make torture runs it with KILL_KILLS=200 (TORTURE=1): ten rounds of 20
# kills, each on a fresh copy of the same 5,000 messages.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
IT_TIMEOUT=${IT_TIMEOUT:-900}
it_long
it_need_root_sendmail
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner
SINK=$top_builddir/bench/sink
N=${KILL_MESSAGES:-5000}
KILLS=${KILL_KILLS:-20}
[ "${TORTURE:-0}" = 0 ] || KILLS=${KILL_KILLS:-200}
PER_ROUND=20
[ "$KILLS" -ge "$PER_ROUND" ] || PER_ROUND=$KILLS
[ -x "$SINK" ] || { echo "SKIP: bench/sink is not built"; exit 77; }

t0=$(date +%s)
it_submit_many "$N" k
n=$(ls "$Q" | grep -c '^qf')
check "real sendmail queued $N messages ($n, in $(($(date +%s) - t0)) s)" test "$n" -eq "$N"
sm -Ac -C "$CF" -bp >"$W/mailq" 2>&1
check "... and lists them (sendmail -bp -Ac)" grep -q "Total requests: $N\$" "$W/mailq"
# The Message-Id of each, as the receiver will see it.
sed -n 's/^H?M?Message-Id: *//p' "$Q"/qf* | sort >"$W/expected"
check "... each with its own Message-Id" test "$(sort -u "$W/expected" | wc -l)" -eq "$N"
mkdir "$W/pristine"
cp -p "$Q"/* "$W/pristine/"

# rand MAX: a random integer in [0, MAX).
rand() { echo $(( $(od -An -N4 -tu4 /dev/urandom) % $1 )); }
ms() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
accepted() { cat "$REC" 2>/dev/null | grep -c '^A '; }
qf_left() { ls "$Q" | grep -c '^qf'; }

start_daemon() {
	"$RUNNER" -C "$CF" --retry-min 1 --retry-max 2 --control none 2>>"$W/daemon.log" &
	DPID=$!
}

# check_round: what the receiver recorded in round $rounds ($REC).
check_round() {
	# Per Message-Id: how often delivered (A) and how often its delivery
	# ended on a connection lost right after the reply to its dot (U).
	_lost=$(awk '$1 == "A" { print $3 }' "$REC" | sort -u | comm -23 "$W/expected" - | grep -c .)
	check "round $rounds: every message delivered at least once (lost: $_lost)" test "$_lost" -eq 0
	awk '
		$1 == "A" { a[$3]++ }
		$1 == "U" { u[$3]++; nu++ }
		END {
			for (m in a) {
				if (a[m] > 1) dups += a[m] - 1
				if (a[m] - 1 > u[m]) {
					bad++
					if (bad <= 5) print "too many: " m " delivered " a[m] " times, " u[m] + 0 " ambiguous" >"/dev/stderr"
				}
			}
			printf "%d %d %d\n", dups + 0, nu + 0, bad + 0
		}' "$REC" >"$W/dups" 2>"$W/dups.err"
	read -r _dups _amb _excess <"$W/dups"
	check "round $rounds: duplicates ($_dups) only where the connection was lost right after the reply to a dot ($_amb such moments), message by message" \
	    test "$_excess" -eq 0
	[ "$_excess" -eq 0 ] || cat "$W/dups.err"
	lost=$((lost + _lost)) dups=$((dups + _dups)) ambiguous=$((ambiguous + _amb))
}

kills=0 mid=0 early=0 idle=0 locked=0 rounds=0 tried=0 lost=0 dups=0 ambiguous=0
while [ "$kills" -lt "$KILLS" ]; do
	rounds=$((rounds + 1))
	if [ "$rounds" -gt 1 ]; then
		rm -f "$Q"/*
		cp -p "$W/pristine"/* "$Q/"
	fi
	REC=$W/rec.$rounds.log
	"$SINK" -p "$PORT" -l "$REC" -t 10 -q 2>"$W/sink.err" &
	SPID=$!
	IT_PIDS="$IT_PIDS $SPID"
	wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
	tried=$((tried + N))
	k=0
	while [ "$k" -lt "$PER_ROUND" ] && [ "$kills" -lt "$KILLS" ]; do
		k=$((k + 1))
		before=$(accepted)
		left=$(qf_left)
		start_daemon
		if [ $((kills % 4)) -eq 3 ]; then
			sleep "$(ms "$(rand 40)")"
			early=$((early + 1))
		else
			# until this run has delivered something (or 2 s)
			_i=0
			while [ "$(accepted)" -eq "$before" ] && [ "$_i" -lt 40 ]; do
				sleep 0.05
				_i=$((_i + 1))
			done
			sleep "$(ms "$(rand 60)")"
			mid=$((mid + 1))
		fi
		kill -KILL "$DPID"
		wait "$DPID" 2>/dev/null
		kills=$((kills + 1))
		[ "$left" -gt 0 ] || idle=$((idle + 1))
		if ! "$QFTOOL" probe "$Q" >"$W/probe" 2>&1; then
			locked=$((locked + 1))
			fail "after kill $kills: files left locked" "$(cat "$W/probe")"
		fi
	done
	# The rest, without kills: deferred ones are due a second later;
	# a flush makes everything due now.
	start_daemon
	_i=0
	while [ "$(qf_left)" -gt 0 ] && [ "$_i" -lt 600 ]; do
		[ $((_i % 20)) -ne 19 ] || kill -USR1 "$DPID"
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -TERM "$DPID"
	wait "$DPID"
	check "round $rounds: the daemon stops cleanly after its $k kills" test $? -eq 0
	check "round $rounds: the queue is empty (no qf, df, tf or Qf left: $(ls "$Q" | head -n 5 | tr '\n' ' '))" \
	    test -z "$(ls "$Q")"
	kill -TERM "$SPID"
	wait "$SPID"
	IT_PIDS=$(echo " $IT_PIDS " | sed "s/ $SPID / /")
	check_round
done

check "no file was ever left locked by a killed daemon" test "$locked" -eq 0
check "nothing was quarantined" sh -c "! grep -q quarantined '$W/daemon.log'"
requeued=$(grep -c 'stat=Deferred: 451 4.3.0 try again later' "$W/daemon.log")
check "some messages were requeued (451) on the way ($requeued)" test "$requeued" -gt 0
echo "# tried $tried deliveries of $N messages in $rounds round(s); $kills kills ($mid during deliveries," \
    "$early during start-up, $idle with the queue already empty); lost $lost; duplicates $dups" \
    "(allowed: $ambiguous connections lost right after a dot's reply); $requeued requeues;" \
    "$locked kills left a file locked"
it_finish

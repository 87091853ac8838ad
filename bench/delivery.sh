#!/bin/sh
# bench/delivery.sh [MESSAGES] [RUNS]
#
# Messages per second of sendmail's own client-queue runner
# (`sendmail -Ac -qf`) on a queue of MESSAGES (default 2000) messages that
# real sendmail wrote with -odq, into bench/sink on loopback; the median of
# RUNS (default 3) runs, each on a fresh copy of the same queue.  Also the
# receiver's own limit (bench/blast, pipelined, one connection) and, once
# it exists, clientq-runner --once on the same queue, with the ratios.
# Prints figures; never fails on a slow result.  Needs root and
# sendmail-bin (tests/install-deps), and a build (make).
#
# For quicker iterations on clientq-runner alone:
#   BENCH_QUEUE=DIR    keep the queued messages in DIR and reuse them on
#                      the next run (queueing 2000 takes minutes);
#   BENCH_SENDMAIL=no  skip sendmail's own runner (no ratio to it).
set -eu
N=${1:-2000}
RUNS=${2:-3}
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/integration/lib.sh"
IT_TIMEOUT=7200	# queueing 2000 messages alone takes minutes
it_need_root_sendmail
it_setup
SINK=$top_builddir/bench/sink
BLAST=$top_builddir/bench/blast
RUNNER=$top_builddir/clientq-runner/clientq-runner

now() { date +%s.%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

if [ -n "${BENCH_QUEUE:-}" ] && [ -d "$BENCH_QUEUE" ] &&
    [ "$(find "$BENCH_QUEUE" -name 'qf*' | wc -l)" -eq "$N" ]; then
	echo "reusing the $N messages in $BENCH_QUEUE"
	rm -rf "$Q"
	cp -a "$BENCH_QUEUE" "$Q"
else
	echo "queueing $N messages with real sendmail (-odq)..."
	i=0
	body=$(awk 'BEGIN { for (i = 0; i < 12; i++) printf "%076d\n", i }')
	while [ "$i" -lt "$N" ]; do
		printf 'Subject: bench %d\n\n%s\n' "$i" "$body" | sm -Ac -C "$CF" -odq "rcpt$i@example.test"
		i=$((i + 1))
	done
	if [ -n "${BENCH_QUEUE:-}" ]; then
		rm -rf "$BENCH_QUEUE"
		cp -a "$Q" "$BENCH_QUEUE"
	fi
fi
cp -a "$Q" "$W/master"

# flush LABEL COMMAND...: time COMMAND on a fresh copy of the queue into a
# fresh sink; print the rate.
flush() {
	label=$1
	shift
	rm -rf "$Q"
	cp -a "$W/master" "$Q"
	"$SINK" -p "$PORT" -n "$N" -q &
	sinkpid=$!
	wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
	t0=$(now)
	"$@" >/dev/null 2>&1 || true
	wait "$sinkpid" || { echo "$label: the receiver did not get all $N messages" >&2; return 1; }
	t1=$(now)
	echo "$N $t0 $t1" | awk '{ printf "%.1f\n", $1 / ($3 - $2) }'
}

rates() { # LABEL COMMAND...
	r=0
	: >"$W/rates"
	while [ "$r" -lt "$RUNS" ]; do
		flush "$@" >>"$W/rates"
		r=$((r + 1))
	done
	median <"$W/rates"
}

if [ "${BENCH_SENDMAIL:-yes}" = no ]; then
	sendmail_rate=0
else
	sendmail_rate=$(rates sendmail sm -Ac -qf -C "$CF")
fi
# The receiver's limit: blast with messages of the queue's average size
# (data file plus header lines, as SIZE= estimates it).  Each run of
# clientq-runner is paired with a run of blast just before it, and the
# share is the median of the pairs' ratios: a run of 2000 messages is a
# fraction of a second, and the machine's speed drifts between runs.
size=$(cat "$W"/master/df* | wc -c)
hsize=$(cat "$W"/master/qf* | awk '/^H/ { n += length($0) - 3 } END { print n + 0 }')
size=$(( (size + hsize) / N ))
blast_once() {
	"$SINK" -p "$PORT" -n "$N" -q &
	sinkpid=$!
	wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
	"$BLAST" -p "$PORT" -m "$N" -s "$size" | awk '{ print $(NF - 1) }'
	wait "$sinkpid"
}
: >"$W/blast-rates"
: >"$W/runner-rates"
: >"$W/shares"
r=0
while [ "$r" -lt "$RUNS" ]; do
	b=$(blast_once)
	echo "$b" >>"$W/blast-rates"
	if [ -x "$RUNNER" ]; then
		c=$(flush clientq-runner "$RUNNER" --once -C "$CF")
		echo "$c" >>"$W/runner-rates"
		echo "$c $b" | awk '{ printf "%.3f\n", $1 / $2 }' >>"$W/shares"
	fi
	r=$((r + 1))
done
blast_rate=$(median <"$W/blast-rates")

printf 'messages: %d, runs: %d (medians)\n' "$N" "$RUNS"
printf 'sendmail -Ac -qf:         %10.1f msg/s\n' "$sendmail_rate"
printf 'raw pipelined (blast):    %10.1f msg/s  (the receiver'"'"'s limit on one connection, %d-octet messages)\n' "$blast_rate" "$size"
if [ -x "$RUNNER" ]; then
	runner_rate=$(median <"$W/runner-rates")
	share=$(median <"$W/shares")
	printf 'clientq-runner --once:    %10.1f msg/s\n' "$runner_rate"
	# Peak RSS of one more run (GNU time's maximum resident set size).
	if [ -x /usr/bin/time ]; then
		flush rss /usr/bin/time -f '%M' -o "$W/rss" "$RUNNER" --once -C "$CF" >/dev/null
		printf 'clientq-runner peak RSS:  %10s KiB for %d messages\n' "$(cat "$W/rss")" "$N"
	fi
	echo "$runner_rate $sendmail_rate $share" |
	    awk '{ if ($2 > 0) printf "ratio to sendmail: %.1fx; ", $1 / $2; else printf "ratio to sendmail: (skipped); ";
		printf "share of the raw limit: %.0f%% (median of paired runs)\n", 100 * $3 }'
	printf 'paired shares: %s\n' "$(sort -n "$W/shares" | tr '\n' ' ')"
else
	echo "clientq-runner --once:    not built yet"
fi
it_stop_watchdog

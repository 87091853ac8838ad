#!/bin/sh
# bench/backlog.sh [MESSAGES]
#
# A backlog of MESSAGES (default 100000) queued messages: what the daemon
# costs to start on it, to keep it while the relay is down, and to drain
# it, against sendmail's own runner on the same queue and receiver.
#
# The queue: real sendmail queues one message (-odq); the library's
# writer makes the rest (tests/tools/qftool clone: the control file
# parsed, its ID replaced in the headers, written by qf_format, owner,
# group and mode as sendmail made them).  `sendmail -bp -Ac` must list all
# of them, and three chosen at random, before anything is measured.
# Then, one after the other:
#   1. sendmail -bp -Ac on the backlog: sendmail reading every control file
#      (its index, for comparison);
#   2. the daemon on an empty queue: VmRSS once settled (the baseline);
#   3. the daemon on the backlog, the relay down (nothing listens): the
#      time from its start to its "watching ... N messages queued" line
#      (the index: scan, read, parse and schedule every control file);
#      VmRSS and VmHWM once settled, per queued message (total, and over
#      the empty daemon's); its CPU time (utime + stime, /proc/PID/stat)
#      over BENCH_WINDOW (60) seconds of the outage, and its context
#      switches then;
#   4. the relay back (bench/sink -n MESSAGES) and a flush (SIGUSR1): the
#      drain, as sink times it (first MAIL to last message) and to the
#      last control file gone; the rate against `clientq-runner --once`
#      on a copy of the same backlog into the same sink (the delivery
#      benchmark's figure, bench/delivery.sh, measured here on the same
#      queue), and against sendmail -Ac -qf on BENCH_SENDMAIL_SAMPLE
#      (1000) of them (all 100,000 would take over an hour at sendmail's
#      rate; BENCH_SENDMAIL=no skips it).
# Targets (issue 10): index in under 2 s, under 300 bytes of RSS per
# queued message, the drain at the delivery benchmark's rate, CPU while
# the relay is down about 0.  Prints figures; never fails on a slow or
# large result.  About 5 minutes with 100000.  Needs root, sendmail-bin
# and a build (make, which builds bench/sink and, with make check, the
# test tool qftool).
# BENCH_TMPFS=yes puts the queue on a tmpfs of its own (a private mount
# namespace): the runner without the file system under it.  On a disk
# file system, removing 200,000 files from one directory while other
# work loads the disk is where a large drain's time goes.
set -eu
if [ "${BENCH_TMPFS:-no}" = yes ] && [ -z "${CQ_BACKLOG_NS-}" ]; then
	CQ_BACKLOG_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
N=${1:-100000}
WINDOW=${BENCH_WINDOW:-60}
SAMPLE=${BENCH_SENDMAIL_SAMPLE:-1000}
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/integration/lib.sh"
IT_TIMEOUT=7200
it_need_root_sendmail
[ -x "$QFTOOL" ] || { it_stop_watchdog; echo "SKIP: needs tests/tools/qftool (make check builds it)"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner
SINK=$top_builddir/bench/sink
STORE=$W	# where the queue and its copies live
if [ -n "${CQ_BACKLOG_NS-}" ]; then
	STORE=$W/fs
	mkdir "$STORE"
	mount -t tmpfs -o size=4g,mode=0755 cq-backlog "$STORE"
	rmdir "$Q"
	Q=$STORE/q
	mkdir "$Q" && chown smmsp:smmsp "$Q" && chmod 2770 "$Q"
	it_make_cf "$Q" "$PORT" "$CF"
	echo "the queue on a tmpfs"
fi

now() { date +%s.%N; }
since() { echo "$1 $(now)" | awk '{ printf "%.2f", $2 - $1 }'; }
kb() { awk -v k="$2" '$1 == k ":" { print $2 }' "/proc/$1/status"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
csw() { cat "/proc/$1"/task/*/status | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'; }
qf_count() { find "$1" -name 'qf*' | wc -l; }
hz=$(getconf CLK_TCK)

# daemon LABEL: the daemon on $Q with the relay down; sets dpid, up_s.
daemon() {
	log=$W/daemon-$1.log
	t0=$(now)
	env -u WATCHDOG_USEC -u WATCHDOG_PID -u NOTIFY_SOCKET -u JOURNAL_STREAM \
	    "$RUNNER" -C "$CF" --control none 2>"$log" &
	dpid=$!
	IT_PIDS="$IT_PIDS $dpid"
	until grep -qs watching "$log"; do
		kill -0 "$dpid" 2>/dev/null || { cat "$log" >&2; return 1; }
		sleep 0.01
	done
	up_s=$(since "$t0")
}
stop_daemon() {
	kill "$dpid" 2>/dev/null || true
	wait "$dpid" 2>/dev/null || true
	IT_PIDS=$(echo " $IT_PIDS " | sed "s/ $dpid / /")
}

echo "== the backlog"
body=$(awk 'BEGIN { for (i = 0; i < 12; i++) printf "%076d\n", i }')
printf 'Subject: backlog\n\n%s\n' "$body" | sm -Ac -C "$CF" -odq rcpt@example.test
id=$(ls "$Q" | sed -n 's/^qf//p')
t0=$(now)
"$QFTOOL" clone "$Q" "$id" $((N - 1)) >/dev/null
echo "1 queued by sendmail, $((N - 1)) copies by the library's writer in $(since "$t0") s"
t0=$(now)
sm -Ac -C "$CF" -bp >"$W/mailq" 2>&1
bp_s=$(since "$t0")
listed=$(sed -n 's/.*Total requests: \([0-9]*\)$/\1/p' "$W/mailq")
sample=$(ls "$Q" | sed -n 's/^qf//p' | shuf -n 3 | tr '\n' ' ')
seen=0
for s in $sample; do
	grep -q "^$s " "$W/mailq" && seen=$((seen + 1))
done
echo "sendmail -bp -Ac lists $listed of $N (and $seen of 3 chosen at random: $sample), in $bp_s s"
[ "$listed" = "$N" ] && [ "$seen" -eq 3 ] || { echo "sendmail does not read the backlog: stopping" >&2; exit 1; }
cp -a "$Q" "$STORE/master"

echo
echo "== the index and the memory, the relay down"
mkdir "$W/empty" && chown smmsp:smmsp "$W/empty" && chmod 2770 "$W/empty"
it_make_cf "$W/empty" "$PORT" "$W/empty.cf"
CF0=$CF
CF=$W/empty.cf
daemon empty
sleep 3
rss0=$(kb "$dpid" VmRSS)
echo "daemon, empty queue: up in $up_s s, VmRSS $rss0 kB"
stop_daemon
CF=$CF0
daemon full
sed -n 's/.*\(watching .*\)/\1/p' "$log"
sleep 5
rss=$(kb "$dpid" VmRSS) hwm=$(kb "$dpid" VmHWM)
echo "daemon, $N queued: up (indexed) in $up_s s; VmRSS $rss kB, VmHWM $hwm kB"
echo "$rss $rss0 $hwm $N" | awk '{ printf "per queued message: %.0f bytes of RSS (%.0f over the empty daemon), %.0f at the peak\n",
    $1 * 1024 / $4, ($1 - $2) * 1024 / $4, $3 * 1024 / $4 }'
t1=$(ticks "$dpid") c1=$(csw "$dpid")
sleep "$WINDOW"
t2=$(ticks "$dpid") c2=$(csw "$dpid")
echo "$t1 $t2 $hz $WINDOW" | awk '{ printf "CPU over %d s of the outage: %.2f s (%.3f %%)", $4, ($2 - $1) / $3, ($2 - $1) / $3 / $4 * 100 }'
echo "; $((c2 - c1)) context switches (the breaker's probes)"
echo "queue files rewritten meanwhile: $(find "$Q" -name 'qf*' -newer "$W/mailq" | wc -l)"

echo
echo "== the drain"
"$SINK" -p "$PORT" -n "$N" 2>"$W/sink.out" &
spid=$!
wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
t0=$(now)
kill -USR1 "$dpid"
wait "$spid" || true
while [ "$(qf_count "$Q")" -gt 0 ]; do sleep 0.05; done
drain_s=$(since "$t0")
sed -n 's/^accepted \([0-9]*\) messages, [0-9]* bytes, \([0-9.]*\) seconds$/\1 \2/p' "$W/sink.out" >"$W/drain"
read -r got secs <"$W/drain"
d_rate=$(echo "$got $secs" | awk '{ printf "%.0f", $1 / $2 }')
echo "daemon: $got messages in $secs s as sink counts (${d_rate} msg/s), $drain_s s from the flush to the last control file gone"
stop_daemon

rm -rf "$Q"
cp -a "$STORE/master" "$Q"
"$SINK" -p "$PORT" -n "$N" 2>"$W/sink.out" &
spid=$!
wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
t0=$(now)
"$RUNNER" --once -C "$CF" 2>/dev/null || true
wait "$spid" || true
once_s=$(since "$t0")
sed -n 's/^accepted \([0-9]*\) messages, [0-9]* bytes, \([0-9.]*\) seconds$/\1 \2/p' "$W/sink.out" >"$W/drain"
read -r got secs <"$W/drain"
o_rate=$(echo "$got $secs" | awk '{ printf "%.0f", $1 / $2 }')
echo "clientq-runner --once (the delivery benchmark's runner): $got messages in $secs s (${o_rate} msg/s), $once_s s in all"
echo "$d_rate $o_rate" | awk '{ printf "the daemon drains at %.0f %% of --once'"'"'s rate\n", $1 / $2 * 100 }'

if [ "${BENCH_SENDMAIL:-yes}" != no ]; then
	rm -rf "$Q"
	mkdir "$Q" && chown smmsp:smmsp "$Q" && chmod 2770 "$Q"
	printf 'Subject: backlog\n\n%s\n' "$body" | sm -Ac -C "$CF" -odq rcpt@example.test
	id=$(ls "$Q" | sed -n 's/^qf//p')
	"$QFTOOL" clone "$Q" "$id" $((SAMPLE - 1)) >/dev/null
	"$SINK" -p "$PORT" -n "$SAMPLE" 2>"$W/sink.out" &
	spid=$!
	wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
	t0=$(now)
	sm -Ac -qf -C "$CF" >/dev/null 2>&1 || true
	wait "$spid" || true
	sm_s=$(since "$t0")
	sm_rate=$(echo "$SAMPLE $sm_s" | awk '{ printf "%.1f", $1 / $2 }')
	echo "sendmail -Ac -qf, $SAMPLE of them: $sm_s s (${sm_rate} msg/s); at that rate $N would take" \
	    "$(echo "$N $sm_rate" | awk '{ printf "%.0f", $1 / $2 / 60 }') minutes"
	echo "$d_rate $sm_rate" | awk '{ printf "the daemon drains %.0f times as fast as sendmail -Ac -qf\n", $1 / $2 }'
fi
[ -z "${CQ_BACKLOG_NS-}" ] || { rm -rf "${STORE:?}"/*; umount "$STORE"; }
it_stop_watchdog

#!/bin/sh
# bench/flood.sh [MESSAGES]
#
# A flooded client queue and the control plane: MESSAGES (default 100000)
# queued, one by real sendmail (-odq), the rest by the library's writer
# (tests/tools/qftool clone, as bench/backlog.sh does; `sendmail -bp -Ac`
# must list them all first, and its time is sendmail's own figure for a
# whole-queue request).  The relay is down (nothing listens).  The daemon
# runs with a NOTIFY_SOCKET of its own (tests/tools/log-sink.py --notify,
# which stamps each datagram with time.monotonic()) and
# WATCHDOG_USEC=1000000.  Printed:
#   1. the index at start: from the daemon's exec to its READY=1;
#   2. RSS per queued message over the empty daemon's (started the same
#      way on an empty queue): 3 s after READY=1, while every file is
#      still being read, and once that is over (no CPU used for a
#      second); and VmHWM per message;
#   3. the flood: BENCH_USERS (10) ordinary users, made for the run with
#      useradd and removed after, each sending whole-queue requests back
#      to back for BENCH_WINDOW (30) s as themselves (setpriv): flush
#      --sender nobody@nowhere.test, flush --recipient rcpt@example.test,
#      list, stats and flush --wait (an answer within 60 s, or counted as
#      HANG), each user starting at a different one; meanwhile one more
#      ordinary user's probe asks for status every 100 ms.  The requests
#      are tests/tools/ctl-load.py's, the lines clientqctl sends.  For the
#      probe, for all the users' requests and for each kind: how many, the
#      answers (OK; NO and TRY, the refusals and rate limits; HANG, CLOSED
#      or NOCONN for no answer) and the latency's p50/p99/max; and the
#      longest pause between WATCHDOG=1 pings during the flood (and since
#      READY=1); and the daemon's time on a CPU and waiting for one (from
#      /proc/PID/schedstat), which tells a busy loop from a busy machine;
#   4. the drain: bench/sink comes up, a flush (SIGUSR1), the rate as
#      sink counts it, against `clientq-runner --once` on the same queue
#      made again (the share; target: at least 90 %);
#   5. `sendmail -Ac -qf` on BENCH_SENDMAIL_SAMPLE (1000) queued the same
#      way, its rate against the daemon's (BENCH_SENDMAIL=no skips it).
# With each drain, the runner's time on a CPU, waiting for one, and its
# context switches; BENCH_PERF=DIR also records both drains with `perf
# record -g` (DIR/daemon.data, DIR/once.data; needs linux-perf).
# BENCH_TMPFS=yes puts the queue on a tmpfs of its own (12 MB per 1,000
# messages).  BENCH_CURVE="100000 300000 1000000" runs 1-4 for each size
# (MESSAGES is then ignored) and ends with a table, one row per size, so
# that one sees how each cost grows with the queue; 5 runs once.
# Issue 17's targets at 1,000,000: READY=1 within 5 s, at most 64 bytes
# per message, p99 of any request within 50 ms, no watchdog gap over
# 600 ms, the drain at 90 % of --once's.  Prints figures, never fails on a
# slow or large result.  Needs root, sendmail-bin, python3, setpriv, a
# build and tests/tools/qftool (make check builds it); the shared code is
# bench/lib.sh.  About 5 minutes with 100000 on the disk.
set -eu
if [ "${BENCH_TMPFS:-no}" = yes ] && [ -z "${CQ_BENCH_NS-}" ]; then
	CQ_BENCH_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
SIZES=${BENCH_CURVE:-${1:-100000}}
WINDOW=${BENCH_WINDOW:-30}
USERS=${BENCH_USERS:-10}
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/bench/lib.sh"
IT_TIMEOUT=14400
it_need_root_sendmail
for c in python3 setpriv useradd; do
	command -v "$c" >/dev/null 2>&1 || { it_stop_watchdog; echo "SKIP: needs $c"; exit 77; }
done
[ -x "$QFTOOL" ] || { it_stop_watchdog; echo "SKIP: needs tests/tools/qftool (make check builds it)"; exit 77; }
it_setup
trap bench_cleanup EXIT
RUNNER=$top_builddir/clientq-runner/clientq-runner
SINK=$top_builddir/bench/sink
LOAD=$top_srcdir/tests/tools/ctl-load.py
# The system's python for the users too (a root-only python3 first on
# PATH is not theirs to run).
USER_PY=$BENCH_PY
max=$(echo "$SIZES" | tr ' ' '\n' | sort -n | tail -n 1)
bench_tmpfs_queue "$max"
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
BENCH_SOCKET=$W/run/control
mkdir "$W/load" && chmod 1777 "$W/load"
i=0
while [ "$i" -lt "$USERS" ]; do
	it_user "cqflood$i" || { echo "SKIP: cannot add users"; exit 77; }
	i=$((i + 1))
done
it_user cqfprobe || { echo "SKIP: cannot add users"; exit 77; }
it_datagram_sink notify "$W/notify.sock" "$W/notify.log"
REQUESTS="flush-sender=nobody@nowhere.test flush-recipient=rcpt@example.test list stats flush-wait"

# as USER COMMAND...: COMMAND as USER (its own group, no others).
as() {
	_as_u=$1
	shift
	setpriv --reuid="$_as_u" --regid="$(id -g "$_as_u")" --clear-groups "$@"
}

# ready_after T0-FILE: READY=1's time after the start in T0-FILE, both
# time.monotonic(); waits for it.
ready_at() {
	awk '{ for (i = 2; i <= NF; i++) if ($i == "READY=1") t = $1 } END { if (t != "") print t }' "$W/notify.log"
}
ready_after() {
	_ra_i=0
	until [ -n "$(ready_at)" ]; do
		_ra_i=$((_ra_i + 1))
		[ "$_ra_i" -lt 60000 ] || { echo "no READY=1" >&2; return 1; }
		sleep 0.01
	done
	echo "$(cat "$1") $(ready_at)" | awk '{ printf "%.2f", $2 - $1 }'
}

empty_daemon() {
	mkdir "$W/empty" && chown smmsp:smmsp "$W/empty" && chmod 2770 "$W/empty"
	it_make_cf "$W/empty" "$PORT" "$W/empty.cf"
	_ed_cf=$CF
	CF=$W/empty.cf
	: >"$W/notify.log"
	bench_daemon empty NOTIFY_SOCKET="$W/notify.sock" WATCHDOG_USEC=1000000
	echo "daemon, empty queue: READY=1 $(ready_after "$W/daemon-empty.t0") s after its start"
	sleep 3
	rss0=$(bench_kb "$BENCH_DPID" VmRSS)
	echo "daemon, empty queue: VmRSS $rss0 kB"
	bench_stop_daemon
	CF=$_ed_cf
}

# bench_per KB MESSAGES: octets per message of KB over the empty daemon's.
bench_per() { echo "$1 $rss0 $2" | awk '{ printf "%.0f", ($1 - $2) * 1024 / $3 }'; }

# flood_one MESSAGES: 1-4 above; appends a row to $W/rows.
flood_one() {
	n=$1
	echo
	echo "==== $n queued"
	bench_queue "$n"
	bench_listing "$n"

	: >"$W/notify.log"
	bench_daemon full NOTIFY_SOCKET="$W/notify.sock" WATCHDOG_USEC=1000000
	index=$(ready_after "$W/daemon-full.t0")
	ready=$(ready_at)
	echo "index: READY=1 $index s after the start (\"watching\" logged after $BENCH_UP_S s;" \
	    "sendmail -bp -Ac: $BENCH_BP_S s)"
	sleep 3
	rss=$(bench_kb "$BENCH_DPID" VmRSS)
	echo "memory 3 s after READY=1 (the start-up read of every file under way):" \
	    "VmRSS $rss kB, $(bench_per "$rss" "$n") bytes per queued message over the empty daemon"
	# Then until the start-up read is over: the daemon, relay down and
	# nobody asking, uses no CPU for a second.
	_fo_t=$(bench_ticks "$BENCH_DPID") _fo_i=0
	while sleep 1 && [ "$_fo_i" -lt 300 ]; do
		_fo_u=$(bench_ticks "$BENCH_DPID")
		[ "$_fo_u" -eq "$_fo_t" ] && break
		_fo_t=$_fo_u _fo_i=$((_fo_i + 1))
	done
	rss=$(bench_kb "$BENCH_DPID" VmRSS) hwm=$(bench_kb "$BENCH_DPID" VmHWM)
	per=$(bench_per "$rss" "$n")
	echo "memory once every file is read ($((_fo_i + 1)) s later): VmRSS $rss kB, VmHWM $hwm kB:" \
	    "$per bytes per queued message over the empty daemon, $(bench_per "$hwm" "$n") at the peak" \
	    "(sendmail -bp -Ac's peak RSS: $BENCH_BP_KB kB)"

	echo "the flood: $USERS users, $WINDOW s, relay down (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
	rm -f "$W"/load/*
	sched0=$(cat "/proc/$BENCH_DPID/schedstat")
	pids=
	as cqfprobe "$USER_PY" "$LOAD" run "$BENCH_SOCKET" --seconds "$WINDOW" --every 100 \
	    --timeout 60 --out "$W/load/probe" status &
	pids="$pids $!"
	i=0
	while [ "$i" -lt "$USERS" ]; do
		# shellcheck disable=SC2086  # one request a word
		as "cqflood$i" "$USER_PY" "$LOAD" run "$BENCH_SOCKET" --seconds "$WINDOW" \
		    --timeout 60 --skip "$i" --out "$W/load/user$i" $REQUESTS &
		pids="$pids $!"
		i=$((i + 1))
	done
	IT_PIDS="$IT_PIDS $pids"
	# shellcheck disable=SC2086  # one PID a word
	wait $pids || true
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	# What the daemon had of the CPUs meanwhile (/proc/PID/schedstat: on
	# a CPU, waiting for one, in ns): a pause between pings that is a
	# wait for a CPU is the machine's, not the loop's.
	echo "$sched0 $(cat "/proc/$BENCH_DPID/schedstat")" | awk -v w="$WINDOW" '{
	    printf "the daemon during the flood: %.1f s on a CPU (%.0f %% of one), %.1f s runnable but waiting for one\n",
	    ($4 - $1) / 1e9, ($4 - $1) / 1e7 / w, ($5 - $2) / 1e9 }'
	"$BENCH_PY" "$LOAD" summary "probe (status every 100 ms)" "$W/load/probe"
	"$BENCH_PY" "$LOAD" summary --each "the users' requests" "$W"/load/user*
	# shellcheck disable=SC2046  # two numbers
	set -- $("$BENCH_PY" "$LOAD" window "$W"/load/*)
	# shellcheck disable=SC2046  # two numbers
	set -- $("$BENCH_PY" "$LOAD" gap "$W/notify.log" "$1" "$2") $("$BENCH_PY" "$LOAD" gap "$W/notify.log" "$ready")
	echo "longest pause between WATCHDOG=1 pings: $1 s during the flood ($2 pings); $3 s since READY=1"
	gap=$1
	# shellcheck disable=SC2046  # two numbers
	set -- $("$BENCH_PY" "$LOAD" summary x "$W/load/probe" | sed 's/.*p99 \([0-9.a-z]*\) ms, max \([0-9.a-z]*\) ms$/\1 \2/')
	probe99=$1 probemax=$2
	# shellcheck disable=SC2046  # two numbers
	set -- $("$BENCH_PY" "$LOAD" summary x "$W"/load/user* | sed 's/.*p99 \([0-9.a-z]*\) ms, max \([0-9.a-z]*\) ms$/\1 \2/')
	all99=$1 allmax=$2
	# served (OK), answered (with any status line), of how many
	answered=$(cat "$W"/load/user* | awk '$2 == "OK" { o++ } $2 == "OK" || $2 == "NO" || $2 == "TRY" || $2 == "BAD" { a++ }
	    NF == 3 && $1 !~ /^#/ { n++ } END { printf "%d/%d/%d", o, a, n }')

	bench_drain "$n"
	bench_stop_daemon
	bench_once "$n"
	echo "$n $BENCH_CLONE_S $BENCH_BP_S $index $per $(bench_per "$hwm" "$n") $probe99 $probemax $all99 $allmax $answered $gap $BENCH_D_RATE $BENCH_O_RATE $BENCH_SHARE" >>"$W/rows"
}

echo "relay [127.0.0.1]:$PORT down until each drain; $USERS users, windows of $WINDOW s; code: $RUNNER"
empty_daemon
for n in $SIZES; do
	flood_one "$n"
done
echo
bench_sendmail_qf "$max"
echo
echo "== one row per size"
printf '%9s %7s %8s %7s %6s %6s %9s %9s %9s %9s %20s %7s %8s %8s %6s\n' queued clone-s sm-bp-s \
    index-s B/msg peak probe-p99 probe-max all-p99 all-max ok/answered/sent wd-gap drain/s once/s share
awk '{ printf "%9d %7.1f %8.2f %7.2f %6d %6d %9.1f %9.1f %9.1f %9.1f %20s %7.3f %8d %8d %5s%%\n",
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 }' "$W/rows"
echo "(B/msg: octets per queued message over the empty daemon once every file is read; peak: VmHWM's;" \
    "latencies in ms; ok/answered/sent: the users' requests served, answered at all (OK, NO, TRY, BAD)" \
    "and sent; wd-gap: the longest pause between WATCHDOG=1 pings during the flood, s;" \
    "sendmail -Ac -qf: ${BENCH_SM_RATE:-not run} msg/s)"
bench_tmpfs_done
it_stop_watchdog

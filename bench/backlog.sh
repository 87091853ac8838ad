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
#      on the same backlog made again (the same IDs and files) into the
#      same sink (the delivery benchmark's figure, bench/delivery.sh,
#      measured here on the same queue), and against sendmail -Ac -qf
#      on BENCH_SENDMAIL_SAMPLE (1000) of them (all 100,000 would take
#      over an hour at sendmail's rate; BENCH_SENDMAIL=no skips it).
# Targets (issue 10): index in under 2 s, under 300 bytes of RSS per
# queued message, the drain at the delivery benchmark's rate, CPU while
# the relay is down about 0.  Prints figures; never fails on a slow or
# large result.  About 5 minutes with 100000.  Needs root, sendmail-bin
# and a build (make, which builds bench/sink and, with make check, the
# test tool qftool).
# BENCH_TMPFS=yes puts the queue on a tmpfs of its own (a private mount
# namespace): the runner without the file system under it.  What this
# shares with bench/flood.sh is in bench/lib.sh.  On a disk
# file system, removing 200,000 files from one directory while other
# work loads the disk is where a large drain's time goes.
set -eu
if [ "${BENCH_TMPFS:-no}" = yes ] && [ -z "${CQ_BENCH_NS-}" ]; then
	CQ_BENCH_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
N=${1:-100000}
WINDOW=${BENCH_WINDOW:-60}
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/bench/lib.sh"
IT_TIMEOUT=7200
it_need_root_sendmail
[ -x "$QFTOOL" ] || { it_stop_watchdog; echo "SKIP: needs tests/tools/qftool (make check builds it)"; exit 77; }
it_setup
trap bench_cleanup EXIT
RUNNER=$top_builddir/clientq-runner/clientq-runner
SINK=$top_builddir/bench/sink
bench_tmpfs_queue "$N"
hz=$(getconf CLK_TCK)

echo "== the backlog"
bench_queue "$N"
bench_listing "$N"
touch "$W/listed"

echo
echo "== the index and the memory, the relay down"
mkdir "$W/empty" && chown smmsp:smmsp "$W/empty" && chmod 2770 "$W/empty"
it_make_cf "$W/empty" "$PORT" "$W/empty.cf"
CF0=$CF
CF=$W/empty.cf
bench_daemon empty
sleep 3
rss0=$(bench_kb "$BENCH_DPID" VmRSS)
echo "daemon, empty queue: up in $BENCH_UP_S s, VmRSS $rss0 kB"
bench_stop_daemon
CF=$CF0
bench_daemon full
sed -n 's/.*\(watching .*\)/\1/p' "$BENCH_LOG"
sleep 5
rss=$(bench_kb "$BENCH_DPID" VmRSS) hwm=$(bench_kb "$BENCH_DPID" VmHWM)
echo "daemon, $N queued: up (indexed) in $BENCH_UP_S s; VmRSS $rss kB, VmHWM $hwm kB"
echo "$rss $rss0 $hwm $N" | awk '{ printf "per queued message: %.0f bytes of RSS (%.0f over the empty daemon), %.0f at the peak\n",
    $1 * 1024 / $4, ($1 - $2) * 1024 / $4, $3 * 1024 / $4 }'
t1=$(bench_ticks "$BENCH_DPID") c1=$(bench_csw "$BENCH_DPID")
sleep "$WINDOW"
t2=$(bench_ticks "$BENCH_DPID") c2=$(bench_csw "$BENCH_DPID")
echo "$t1 $t2 $hz $WINDOW" | awk '{ printf "CPU over %d s of the outage: %.2f s (%.3f %%)", $4, ($2 - $1) / $3, ($2 - $1) / $3 / $4 * 100 }'
echo "; $((c2 - c1)) context switches (the breaker's probes)"
echo "queue files rewritten meanwhile: $(find "$Q" -name 'qf*' -newer "$W/listed" | wc -l)"

echo
echo "== the drain"
bench_drain "$N"
bench_stop_daemon
bench_once "$N"
bench_sendmail_qf "$N"
bench_tmpfs_done
it_stop_watchdog

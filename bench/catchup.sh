#!/bin/sh
# bench/catchup.sh [MESSAGES]
#
# Catch-up after an outage of the relay.  Real sendmail queues MESSAGES
# (default 1000) with -odq (four submitting loops side by side); the
# daemon (clientq-runner, no --once) starts with nothing listening on the
# relay's port, says "unreachable", and the relay stays down for
# BENCH_DOWN (default 20) more seconds, long enough for the circuit
# breaker's probe interval (1 s doubling to --probe-max, 60 s) to have
# grown.  Then bench/sink starts on the relay's port, and the time from
# the relay coming back (sink listening) to the last control file gone
# from the queue is measured, twice, each time on a fresh copy of the
# same queue with a fresh daemon:
#   (a) without a flush request: the breaker's next probe finds the relay,
#       so the time is bounded by the probe interval reached by then;
#   (b) with `kill -USR1` (flush) right after the sink listens.
# Prints both times in ms, the time to the first delivery and the rate
# after it.  sendmail's own runner (`sendmail -Ac -q30m`) only finds the
# relay back at its next run, up to its interval (1,800,000 ms) later; for
# scale, `sendmail -Ac -qf` is also timed flushing the same queue into
# sink (BENCH_SENDMAIL=no skips it: about 45 s for 1000 messages).
# Never fails on a slow result.  Needs root, sendmail-bin and a build.
set -eu
N=${1:-1000}
DOWN=${BENCH_DOWN:-20}
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/integration/lib.sh"
IT_TIMEOUT=3600
it_need_root_sendmail
it_setup
SINK=$top_builddir/bench/sink
RUNNER=$top_builddir/clientq-runner/clientq-runner

now() { date +%s.%N; }

echo "queueing $N messages with real sendmail (-odq), four loops side by side..."
t0=$(now)
it_submit_many "$N" rcpt
t1=$(now)
queued=$(find "$Q" -name 'qf*' | wc -l)
echo "$queued $t0 $t1" | awk '{ printf "queued %d messages in %.1f s\n", $1, $3 - $2 }'
if [ "$queued" -ne "$N" ]; then
	echo "expected $N control files in the queue, found $queued" >&2
	exit 1
fi
cp -a "$Q" "$W/master"

# round LABEL yes|no: a fresh copy of the queue, a fresh daemon with the
# relay down, DOWN seconds after "unreachable" the sink comes up (and,
# with yes, the daemon is sent SIGUSR1 as soon as it listens); prints
# the times (helper below) and the daemon's "back after" line.
round() {
	rm -rf "$Q"
	cp -a "$W/master" "$Q"
	log=$W/daemon-$1.log
	"$RUNNER" -C "$CF" 2>"$log" &
	dpid=$!
	IT_PIDS="$IT_PIDS $dpid"
	if ! wait_for grep -q unreachable "$log"; then
		echo "$1: the daemon did not report the relay unreachable" >&2
		cat "$log" >&2
		return 1
	fi
	sleep "$DOWN"
	python3 - "$1" "$2" "$Q" "$PORT" "$SINK" "$N" "$dpid" <<'PYEOF'
import ctypes, os, select, signal, struct, subprocess, sys, time

label, flush, q, port, sink, n, dpid = sys.argv[1:8]
n, port, dpid = int(n), int(port), int(dpid)
libc = ctypes.CDLL(None, use_errno=True)
IN_DELETE, IN_MOVED_FROM = 0x200, 0x40
ifd = libc.inotify_init1(os.O_NONBLOCK)
if ifd < 0 or libc.inotify_add_watch(ifd, q.encode(), IN_DELETE | IN_MOVED_FROM) < 0:
    sys.exit("inotify: %s" % os.strerror(ctypes.get_errno()))
left = {f for f in os.listdir(q) if f.startswith("qf")}

def listening():
    want = ":%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            x = line.split()
            if x[1].endswith(want) and x[3] == "0A":
                return True
    return False

sinkp = subprocess.Popen([sink, "-p", str(port), "-n", str(n), "-q"])
while not listening():
    time.sleep(0.0005)
t0 = time.monotonic()		# the relay is back
if flush == "yes":
    os.kill(dpid, signal.SIGUSR1)
first = None
deadline = t0 + 600
while left and time.monotonic() < deadline:
    r, _, _ = select.select([ifd], [], [], 1.0)
    t = time.monotonic()
    while True:
        try:
            buf = os.read(ifd, 65536)
        except BlockingIOError:
            break
        i = 0
        while i < len(buf):
            _, _, _, ln = struct.unpack_from("iIII", buf, i)
            name = buf[i + 16:i + 16 + ln].split(b"\0")[0].decode()
            i += 16 + ln
            if name in left:
                left.discard(name)
                if first is None:
                    first = t
last = time.monotonic()
try:
    sinkp.wait(timeout=30)
except subprocess.TimeoutExpired:
    sinkp.kill()
if left:
    print("%s: %d of %d messages still queued after 600 s" % (label, len(left), n))
    sys.exit(0)
rate = (n - 1) / (last - first) if last > first else float("inf")
print("%s: relay back -> last control file gone: %9.1f ms  (first delivery after %.1f ms,"
      " then %.0f msg/s)" % (label, (last - t0) * 1000, (first - t0) * 1000, rate))
PYEOF
	kill "$dpid" 2>/dev/null || true
	wait "$dpid" 2>/dev/null || true
	IT_PIDS=$(echo " $IT_PIDS " | sed "s/ $dpid / /")
	sed -n 's/.*\(relay .* back after .*\)/    daemon: \1/p' "$log"
}

echo "relay down $DOWN s after the daemon's \"unreachable\", then sink on the relay's port:"
round "(a) no flush, next probe" no
round "(b) kill -USR1 at once  " yes
echo "(a) is bounded by the probe interval in force when the relay came back (it doubles from 1 s up to --probe-max, 60 s)"

if [ "${BENCH_SENDMAIL:-yes}" != no ]; then
	rm -rf "$Q"
	cp -a "$W/master" "$Q"
	"$SINK" -p "$PORT" -n "$N" -q &
	sinkpid=$!
	IT_PIDS="$IT_PIDS $sinkpid"
	wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
	t0=$(now)
	sm -Ac -qf -C "$CF" >/dev/null 2>&1 || true
	t1=$(now)
	left=$(find "$Q" -name 'qf*' | wc -l)
	kill "$sinkpid" 2>/dev/null || true
	wait "$sinkpid" 2>/dev/null || true
	echo "$N $left $t0 $t1" | awk '{ printf "sendmail -Ac -qf, relay up: %d messages in %.1f ms (%.1f msg/s), %d left\n", $1 - $2, 1000 * ($4 - $3), ($1 - $2) / ($4 - $3), $2 }'
fi
echo "sendmail -Ac -q30m: up to 1800000 ms (its interval) before its next run finds the relay back, then the flush above"
it_stop_watchdog

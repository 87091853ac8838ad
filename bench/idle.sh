#!/bin/sh
# bench/idle.sh [MESSAGES]
#
# What an idle runner costs: resident memory and wakeups while nothing can
# be delivered.  Nothing listens on the relay's port (the relay is down)
# while these run, one after the other:
#   1. the daemon (clientq-runner, no --once) on an empty queue;
#   2. the daemon on a queue of MESSAGES (default 100000) messages;
#   3. sendmail's own runner, `sendmail -Ac -q30m`, on the same queue
#      (measured once the queue run it makes at start has finished).
# For each: VmRSS and VmHWM (/proc/PID/status) once it has settled, then
# BENCH_WINDOW (default 60) seconds under `strace -f -tt -T -p PID`: every
# return from a blocking call (epoll_wait, pause, ...) is a wakeup, listed
# with the system calls it led to; then as many seconds without a tracer,
# counting the process's context switches; then the system call it is
# blocked in (/proc/PID/syscall: epoll_wait's timeout is the time to its
# next planned wakeup).  Attaching and detaching strace each end an
# epoll_wait early (EINTR, which the trace does not show; the daemon then
# computes its timeout afresh): the untraced window is the clean count.
# The daemon runs without WATCHDOG_USEC (no watchdog pings) and without
# NOTIFY_SOCKET.
#
# Queueing 100,000 messages through sendmail would take half an hour, so
# real sendmail queues one, and MESSAGES copies of its qf/df pair are made
# under new valid queue IDs (same date digits, sequence digits 00-zz in
# base 60, six-digit process numbers from 900000), with the ID replaced
# inside the qf as well, owner, group and mode as sendmail made them.
# About 10 minutes with 100000.  Prints figures, never fails on a slow or
# large result.  Needs root, sendmail-bin, strace and a build.
set -eu
N=${1:-100000}
WINDOW=${BENCH_WINDOW:-60}
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/integration/lib.sh"
IT_TIMEOUT=3600
it_need_root_sendmail
if ! command -v strace >/dev/null 2>&1; then
	it_stop_watchdog
	echo "SKIP: needs strace"
	exit 77
fi
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner

now() { date +%s.%N; }
since() { echo "$1 $(now)" | awk '{ printf "%.1f", $2 - $1 }'; }

# mem PID: its resident set now and at its peak.
mem() {
	awk '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 }
	    END { printf "VmRSS %d kB, VmHWM %d kB", r, h }' "/proc/$1/status"
}

# csw PID: context switches of all its threads so far.
csw() {
	cat "/proc/$1"/task/*/status | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}

# blocked PID: the system call it sleeps in (x86_64 numbers).
blocked() {
	python3 - "$1" <<'PYEOF'
import os, sys
names = {232: "epoll_wait", 281: "epoll_pwait", 441: "epoll_pwait2", 7: "poll",
         271: "ppoll", 23: "select", 270: "pselect6", 34: "pause", 130: "rt_sigsuspend",
         35: "nanosleep", 230: "clock_nanosleep", 61: "wait4", 219: "restart_syscall"}
f = open("/proc/%s/syscall" % sys.argv[1]).read().split()
if not f or not f[0].isdigit() or os.uname().machine != "x86_64":
    print(" ".join(f))
    sys.exit(0)
nr = int(f[0])
name = names.get(nr, "syscall %d" % nr)
if name in ("epoll_wait", "epoll_pwait"):
    t = int(f[4], 16)
    t = t - (1 << 64) if t >= 1 << 63 else t
    print("%s, timeout %s" % (name, "none" if t < 0 else "%d ms" % t))
else:
    print(name)
PYEOF
}

# summarize TRACE: the wakeups in an strace -f -tt -T output (when each
# wait returned), each with the system calls up to the next wait.
summarize() {
	python3 - "$1" "$WINDOW" <<'PYEOF'
import collections, re, sys

waits = {"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6",
         "pause", "rt_sigsuspend", "nanosleep", "clock_nanosleep", "wait4", "waitid",
         "restart_syscall", "sigtimedwait", "rt_sigtimedwait", "accept", "accept4"}
line_re = re.compile(r"^(\d+)\s+(\d+):(\d+):([\d.]+)\s+(.*)$")
calls = collections.Counter()
wakeups = []		# [time, what, [calls after]]
t0 = None
for line in open(sys.argv[1]):
    m = line_re.match(line)
    if not m:
        continue
    t = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))
    if t0 is None:
        t0 = t
    rest = m.group(5)
    if rest.startswith("---"):
        wakeups.append([t - t0, "signal " + rest.split()[1], []])
        continue
    if rest.startswith("+++") or "<detached" in rest:
        continue
    r = re.match(r"<\.\.\. (\w+) resumed>", rest)
    name = r.group(1) if r else re.match(r"(\w+)\(", rest).group(1) if re.match(r"\w+\(", rest) else None
    if name is None or rest.endswith("<unfinished ...>"):
        continue
    calls[name] += 1
    if name in waits:
        d = re.search(r"<([\d.]+)>$", rest)
        res = re.sub(r"\s*<[\d.]+>$", "", rest).rsplit("=", 1)[-1].strip()
        wakeups.append([t - t0 + (float(d.group(1)) if d else 0), "%s = %s" % (name, res), []])
    elif wakeups:
        wakeups[-1][2].append(name)
    else:
        wakeups.append([t - t0, "(already awake)", [name]])
w = sum(1 for x in wakeups if not x[1].startswith("(already"))
print("  traced %s s: %d wakeup%s, %d system calls%s" % (
    sys.argv[2], w, "" if w == 1 else "s", sum(calls.values()),
    (": " + ", ".join("%s %d" % kv for kv in calls.most_common())) if calls else ""))
for x in wakeups[:24]:
    print("    +%6.2f s  %s%s" % (x[0], x[1], (" -> " + " ".join(x[2])) if x[2] else ""))
if len(wakeups) > 24:
    print("    ... %d more" % (len(wakeups) - 24))
PYEOF
}

# measure LABEL PID
measure() {
	echo "$1 (pid $2): $(mem "$2")"
	timeout -s INT "$WINDOW" strace -f -tt -T -p "$2" -o "$W/trace" 2>/dev/null || true
	summarize "$W/trace"
	c0=$(csw "$2")
	sleep "$WINDOW"
	c1=$(csw "$2")
	echo "  untraced $WINDOW s: $((c1 - c0)) context switches"
	echo "  then: $(mem "$2"); blocked in $(blocked "$2")"
}

# daemon LABEL: start the daemon on $Q with the relay down; sets dpid.
daemon() {
	log=$W/daemon-$1.log
	t0=$(now)
	env -u WATCHDOG_USEC -u WATCHDOG_PID -u NOTIFY_SOCKET -u JOURNAL_STREAM \
	    "$RUNNER" -C "$CF" 2>"$log" &
	dpid=$!
	IT_PIDS="$IT_PIDS $dpid"
	i=0
	until grep -qs watching "$log"; do
		i=$((i + 1))
		if [ "$i" -gt 6000 ] || ! kill -0 "$dpid" 2>/dev/null; then
			echo "the daemon did not start" >&2
			cat "$log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "daemon up after $(since "$t0") s: $(sed -n 's/.*\(watching .*\)/\1/p' "$log")"
}

stop_daemon() {
	kill "$dpid" 2>/dev/null || true
	wait "$dpid" 2>/dev/null || true
	IT_PIDS=$(echo " $IT_PIDS " | sed "s/ $dpid / /")
}

echo "relay [127.0.0.1]:$PORT down (nothing listens) throughout; windows of $WINDOW s"
echo
echo "== 1. clientq-runner daemon, empty queue"
daemon empty
sleep 5
measure "clientq-runner, 0 messages" "$dpid"
stop_daemon

echo
echo "== 2. clientq-runner daemon, $N messages queued"
printf 'Subject: idle\n\nbody\n' | sm -Ac -C "$CF" -odq rcpt@example.test
t0=$(now)
python3 - "$Q" "$N" <<'PYEOF'
import os, sys

q, n = sys.argv[1], int(sys.argv[2])
digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ids = [f[2:] for f in os.listdir(q) if f.startswith("qf")]
if len(ids) != 1:
    sys.exit("expected one queued message, found %d" % len(ids))
orig = ids[0]
st = os.stat(os.path.join(q, "qf" + orig))
qf = open(os.path.join(q, "qf" + orig), "rb").read()
df = open(os.path.join(q, "df" + orig), "rb").read()
made = k = 0
while made < n:
    # date digits kept; sequence 0-3599 in base 60; then the "PID"
    seq, pid = k % 3600, 900000 + k // 3600
    k += 1
    new = "%s%s%s%06d" % (orig[:6], digits[seq // 60], digits[seq % 60], pid)
    if new == orig:
        continue
    for prefix, data in (("df", df), ("qf", qf.replace(orig.encode(), new.encode()))):
        fd = os.open(os.path.join(q, prefix + new), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o660)
        os.write(fd, data)
        os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, 0o660)
        os.close(fd)
    made += 1
PYEOF
total=$(find "$Q" -name 'qf*' | wc -l)
echo "queued 1 with sendmail, $((total - 1)) copies made in $(since "$t0") s: $total messages"
daemon full
wait_for grep -q unreachable "$log" || true
sed -n 's/.*\(relay .* unreachable.*\)/\1/p' "$log"
sleep 5
measure "clientq-runner, $total messages" "$dpid"
stop_daemon
left=$(find "$Q" -name 'qf*' | wc -l)
tried=$(find "$Q" -name 'qf*' -exec grep -l '^N[1-9]' {} + | wc -l)
echo "queue afterwards: $left messages, $tried of them with a try recorded"

echo
echo "== 3. sendmail -Ac -q30m, the same $left messages"
t0=$(now)
sm -Ac -q30m -C "$CF"
# Its PidFile would be written as smmsp into a directory of root's: none.
pat="^sendmail: Queue runner@.* for $Q\$"
wait_for pgrep -f "$pat"
spid=$(pgrep -of "$pat")
IT_PIDS="$IT_PIDS $spid"
# The queue run it starts with, in a child: wait for its end, and watch
# the children's peak memory meanwhile.
wait_for pgrep -P "$spid" || true
peak=0
while [ -n "$(pgrep -P "$spid")" ]; do
	for c in $(pgrep -P "$spid"); do
		v=$(awk '/^VmHWM/ { print $2 }' "/proc/$c/status" 2>/dev/null || echo 0)
		[ "${v:-0}" -le "$peak" ] || peak=$v
	done
	sleep 0.5
done
deferred=$(find "$Q" -name 'qf*' -exec grep -l '^MDeferred' {} + | wc -l)
echo "its first queue run took $(since "$t0") s (child's VmHWM up to $peak kB):" \
    "$deferred of $left messages now deferred (qf rewritten: K, N1, MDeferred)"
sleep 5
measure "sendmail -Ac -q30m, $left messages" "$spid"
kill "$spid" 2>/dev/null || true
it_stop_watchdog

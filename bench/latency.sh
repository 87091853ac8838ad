#!/bin/sh
# bench/latency.sh [MESSAGES]
#
# Latency of the daemon: clientq-runner runs (no --once) against
# bench/sink on loopback, and real sendmail submits MESSAGES (default
# 1000) with -odq, one at a time, then in bursts of 20 submitted at
# once.  For each message: the time from the submission's return to its
# control file being gone from the queue (the runner removes it right
# after the relay's 250), 0 when it was delivered before the submitting
# process returned.  Prints p50, p90, p99 and the maximum in ms.
# sendmail's own runner takes up to its interval (-q30m: 1,800,000 ms;
# Debian's cron: 20 minutes), which is the ratio's other side.
# Never fails on a slow result.  Needs root, sendmail-bin and a build.
set -eu
N=${1:-1000}
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/integration/lib.sh"
IT_TIMEOUT=3600
it_need_root_sendmail
it_setup
SINK=$top_builddir/bench/sink
RUNNER=$top_builddir/clientq-runner/clientq-runner

"$SINK" -p "$PORT" -n "$((2 * N))" -q &
IT_PIDS="$IT_PIDS $!"
wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
"$RUNNER" -C "$CF" 2>"$W/daemon.log" &
IT_PIDS="$IT_PIDS $!"
sleep 0.5
python3 - "$Q" "$W/hosts" "$SENDMAIL" "$CF" "$N" <<'PYEOF'
import os, subprocess, sys, time

q, hosts, sm, cf, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
        'mount --bind "$0" /etc/hosts && exec "$@"', hosts, sm, "-Ac", "-C", cf, "-odq"]
env = dict(os.environ, TZ="UTC", LC_ALL="C")

def queued():
    return {f[2:] for f in os.listdir(q) if f.startswith("qf")}

def wait_gone(ids, t0, out):
    left = set(ids)
    while left:
        now = queued()
        t = time.monotonic()
        for i in list(left):
            if i not in now:
                out.append((t - t0) * 1000)
                left.discard(i)
        if left:
            time.sleep(0.0002)

def submit(rcpt):
    before = queued()
    subprocess.run(argv + [rcpt], input=b"Subject: latency\n\nbody\n", env=env, check=True)
    return queued() - before

def report(label, lat):
    lat.sort()
    pick = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))]
    print("%-14s n=%-5d p50=%6.2f ms  p90=%6.2f ms  p99=%6.2f ms  max=%6.2f ms"
          "  (%d%% delivered before sendmail returned)"
          % (label, len(lat), pick(0.5), pick(0.9), pick(0.99), lat[-1],
             100 * sum(1 for x in lat if x == 0.0) // len(lat)))

one = []
for i in range(n):
    # The ID is known once the submission returned; what was already
    # delivered by then counts as 0.
    before = queued()
    subprocess.run(argv + ["one%d@example.test" % i], input=b"Subject: latency\n\nbody\n",
                   env=env, check=True)
    t0 = time.monotonic()
    ids = queued() - before
    if not ids:
        one.append(0.0)
    else:
        wait_gone(ids, t0, one)
report("one at a time", one)

burst = []
for b in range(n // 20):
    procs = [subprocess.Popen(argv + ["b%d.%d@example.test" % (b, k)], stdin=subprocess.PIPE, env=env)
             for k in range(20)]
    for p in procs:
        p.communicate(b"Subject: latency burst\n\nbody\n")
    t0 = time.monotonic()
    wait_gone(queued(), t0, burst)
    # Those gone before the last submission returned count as 0.
    burst.extend([0.0] * (20 * (b + 1) - len(burst)))
report("bursts of 20", burst)
PYEOF
echo "sendmail -Ac -q30m: up to 1800000 ms (its interval)"
echo "daemon: $(grep -c 'stat=Sent' "$W/daemon.log") delivered"
it_finish

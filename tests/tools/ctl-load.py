#!/usr/bin/env python3
"""ctl-load.py: control requests back to back, each one timed, for the
flood test and benchmark (tests/integration/control-flood.sh,
bench/flood.sh).

  ctl-load.py run SOCKET --seconds S --out FILE [--every MS] [--timeout T]
              [--skip K] REQUEST...
      Send the REQUESTs in turn (starting at the K-th), one connection
      each, for S seconds: back to back, or with --every, one every MS
      milliseconds (the next at once when an answer took longer).  Each
      request is the line clientqctl sends for the command (the protocol
      of clientqctl(8)):
          status                  CLIENTQ/1 status
          stats                   CLIENTQ/1 stats
          list                    CLIENTQ/1 list
          flush-sender=ADDR       CLIENTQ/1 flush sender=ADDR
          flush-recipient=ADDR    CLIENTQ/1 flush recipient=ADDR
          flush-wait              CLIENTQ/1 flush wait
      One line per request goes to FILE: the request's name, the status
      word of the answer (OK, NO, TRY, BAD) or what came instead (HANG:
      no status line within T seconds, default 30; CLOSED: the connection
      ended without one; NOCONN: no connection), and the time from the
      connect to the status line, in milliseconds; and first and last,
      "#start T" and "#end T" (time.monotonic(), the notify log's clock).
  ctl-load.py summary [--each] LABEL FILE...
      The requests in the FILEs: how many, of each outcome, and the
      latency's p50, p99 and max (nearest rank), one line; with --each,
      then a line for each kind of request and one for each outcome (a
      refusal comes at once; what it costs to be served shows in OK's).
  ctl-load.py window FILE...
      The earliest "#start" and the latest "#end" in the FILEs.
  ctl-load.py gap NOTIFY-LOG [FROM [TO]]
      The longest pause between WATCHDOG=1 datagrams in log-sink.py
      --notify's record, counting only those in [FROM, TO] (its
      time.monotonic() seconds), with the last ping before FROM and the
      first after TO, in seconds; and how many pings that counted.
  ctl-load.py now
      time.monotonic(), the clock log-sink.py --notify stamps with.
  ctl-load.py exec OUT COMMAND...
      Write time.monotonic() to OUT, then exec COMMAND (a start time in
      the notify log's clock).
"""
import os
import socket
import sys
import time

LINES = {
    "status": "status",
    "stats": "stats",
    "list": "list",
    "flush-wait": "flush wait",
}


def xtext(value):
    out = []
    for b in value.encode():
        if b < 0x21 or b > 0x7E or b in (0x2B, 0x3D):
            out.append("+%02X" % b)
        else:
            out.append(chr(b))
    return "".join(out)


def request_line(name):
    if name in LINES:
        return LINES[name]
    key, _, value = name.partition("=")
    if key in ("flush-sender", "flush-recipient") and value:
        return "flush %s=%s" % (key[len("flush-"):], xtext(value))
    sys.exit("ctl-load.py: unknown request %r" % name)


def ask(path, line, timeout):
    """One request: (outcome, seconds)."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(("CLIENTQ/1 %s\n" % line).encode())
        except socket.timeout:
            return "HANG", time.monotonic() - t0
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed: its line may still be there
        except OSError:
            return "NOCONN", time.monotonic() - t0
        buf = b""
        while True:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                return "HANG", time.monotonic() - t0
            s.settimeout(left)
            try:
                b = s.recv(65536)
            except socket.timeout:
                return "HANG", time.monotonic() - t0
            except (ConnectionResetError, BrokenPipeError):
                b = b""
            if not b:
                return "CLOSED", time.monotonic() - t0
            buf += b
            # D and P lines are output and progress; the first other
            # line is the status line.  Only the last, maybe partial,
            # line is kept.
            lines = buf.split(b"\n")
            buf = lines.pop()
            for ln in lines:
                word = ln.split(b" ", 1)[0]
                if word in (b"OK", b"NO", b"TRY", b"BAD"):
                    return word.decode(), time.monotonic() - t0
    finally:
        s.close()


def run(args):
    path = args[0]
    opts = {"--seconds": "10", "--out": None, "--every": None, "--timeout": "30", "--skip": "0"}
    names = []
    i = 1
    while i < len(args):
        if args[i] in opts:
            opts[args[i]] = args[i + 1]
            i += 2
        else:
            names.append(args[i])
            i += 1
    if not names or opts["--out"] is None:
        sys.exit("usage: ctl-load.py run SOCKET --seconds S --out FILE [--every MS] REQUEST...")
    lines = [(n, request_line(n)) for n in names]
    every = float(opts["--every"]) / 1000 if opts["--every"] else None
    timeout = float(opts["--timeout"])
    end = time.monotonic() + float(opts["--seconds"])
    k = int(opts["--skip"])
    with open(opts["--out"], "w") as out:
        out.write("#start %.6f\n" % time.monotonic())
        due = time.monotonic()
        while time.monotonic() < end:
            name, line = lines[k % len(lines)]
            k += 1
            word, secs = ask(path, line, timeout)
            out.write("%s %s %.3f\n" % (name, word, secs * 1000))
            out.flush()
            if every is not None:
                due += every
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                else:
                    due = time.monotonic()
        out.write("#end %.6f\n" % time.monotonic())


def nearest_rank(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def summary(args):
    each = args[:1] == ["--each"]
    if each:
        args = args[1:]
    label, files = args[0], args[1:]
    rows = []
    for f in files:
        with open(f) as fh:
            for ln in fh:
                parts = ln.split()
                if len(parts) == 3 and not parts[0].startswith("#"):
                    rows.append((parts[0], parts[1], float(parts[2])))
    groups = [(label, rows)]
    if each:
        for name in sorted(set(r[0] for r in rows)):
            groups.append(("  " + name, [r for r in rows if r[0] == name]))
        for word in sorted(set(r[1] for r in rows)):
            groups.append(("  answered " + word if word in ("OK", "NO", "TRY", "BAD") else "  " + word,
                           [r for r in rows if r[1] == word]))
    for lbl, rs in groups:
        lat = sorted(r[2] for r in rs)
        counts = {}
        for r in rs:
            counts[r[1]] = counts.get(r[1], 0) + 1
        words = " ".join("%s %d" % (w, counts[w]) for w in sorted(counts))
        print("%s: %d requests (%s); latency p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (lbl, len(lat), words or "none", nearest_rank(lat, 50),
                 nearest_rank(lat, 99), lat[-1] if lat else float("nan")))


def window(args):
    starts, ends = [], []
    for f in args:
        with open(f) as fh:
            for ln in fh:
                parts = ln.split()
                if len(parts) == 2 and parts[0] == "#start":
                    starts.append(float(parts[1]))
                elif len(parts) == 2 and parts[0] == "#end":
                    ends.append(float(parts[1]))
    print("%.6f %.6f" % (min(starts), max(ends)))


def gap(args):
    lo = float(args[1]) if len(args) > 1 else float("-inf")
    hi = float(args[2]) if len(args) > 2 else float("inf")
    every = []
    with open(args[0]) as fh:
        for ln in fh:
            parts = ln.split()
            if len(parts) >= 2 and "WATCHDOG=1" in parts[1:]:
                every.append(float(parts[0]))
    # The window's pings, and the one on each side of it: a pause that
    # began before FROM or ended after TO still counts whole.
    before = [t for t in every if t < lo][-1:]
    after = [t for t in every if t > hi][:1]
    times = before + [t for t in every if lo <= t <= hi] + after
    g = max((b - a for a, b in zip(times, times[1:])), default=0.0)
    print("%.3f %d" % (g, len(times)))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "run":
        run(args)
    elif mode == "summary":
        summary(args)
    elif mode == "gap":
        gap(args)
    elif mode == "window":
        window(args)
    elif mode == "now":
        print("%.6f" % time.monotonic())
    elif mode == "exec":
        with open(args[0], "w") as out:
            out.write("%.6f\n" % time.monotonic())
        os.execvp(args[1], args[1:])
    else:
        sys.exit("ctl-load.py: unknown mode " + mode)


main()

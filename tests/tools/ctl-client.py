#!/usr/bin/env python3
"""ctl-client.py SOCKET MODE [ARG]: talk to clientq-runner's control
socket in ways clientqctl never would, for the tests.

  send LINE      send LINE and a line feed; print the reply
  idle           connect, send nothing; print what comes back (the
                 daemon's time limit ends it) and the seconds it took
  flood BYTES    send BYTES octets without a line feed, as fast as the
                 daemon takes them; print the reply and how much went
  many N LINE    N connections at once, each sending LINE; print how
                 many got a status line of each kind ("OK 200")
  hold N         open N connections that send nothing; print "held"
                 once they are open, then keep them until killed (or
                 until the daemon drops them); print what the first got
"""
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def read_all(s, limit=1 << 20):
    out = b""
    while len(out) < limit:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            break
        if not b:
            break
        out += b
    return out.decode("utf-8", "replace")


def main():
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "send":
        s = connect(path)
        s.sendall(sys.argv[3].encode() + b"\n")
        sys.stdout.write(read_all(s))
    elif mode == "idle":
        s = connect(path)
        t = time.monotonic()
        r = read_all(s)
        sys.stdout.write(r)
        print("after %.0f s" % (time.monotonic() - t))
    elif mode == "flood":
        s = connect(path)
        total, chunk = int(sys.argv[3]), b"x" * 65536
        sent = 0
        s.settimeout(30)
        try:
            while sent < total:
                sent += s.send(chunk[: min(len(chunk), total - sent)])
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        sys.stdout.write(read_all(s))
        print("sent %d" % sent)
    elif mode == "many":
        n, line = int(sys.argv[3]), sys.argv[4].encode() + b"\n"
        socks = []
        for _ in range(n):
            socks.append(connect(path))
        for s in socks:
            s.sendall(line)
        counts = {}
        for s in socks:
            s.settimeout(60)
            r = read_all(s).splitlines()
            word = r[-1].split(" ", 1)[0] if r else "NOTHING"
            counts[word] = counts.get(word, 0) + 1
        for k in sorted(counts):
            print(k, counts[k])
    elif mode == "hold":
        n = int(sys.argv[3])
        socks = [connect(path) for _ in range(n)]
        print("held", flush=True)
        for s in socks:
            s.settimeout(None)
        r = read_all(socks[0])
        print(r.strip())
    else:
        sys.exit("unknown mode " + mode)


main()

#!/usr/bin/env python3
"""A stand-in for journald's native socket or syslog's /dev/log, for tests.

log-sink.py --journal SOCKET --out FILE  decodes systemd's native journal
    protocol (KEY=value lines; KEY, a 64-bit little-endian length and the
    value for values with newlines; a memfd passed with SCM_RIGHTS for big
    entries) and writes one JSON object per entry.
log-sink.py --syslog SOCKET --out FILE   writes each datagram as one line,
    its bytes as they came.
log-sink.py --notify SOCKET --out FILE   systemd's notify socket: each
    datagram as one line, its newlines shown as " | ", after the time it
    came (time.monotonic(), in seconds with milliseconds).

The socket is bound before the pid file (--pidfile) is written.
"""
import argparse
import array
import json
import os
import socket
import struct
import sys
import time

import pidfile


def decode_native(data):
    fields = {}
    i = 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            raise ValueError("entry does not end with a newline")
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + n]
            if data[nl + 9 + n:nl + 10 + n] != b"\n":
                raise ValueError("binary field %r not followed by a newline" % k)
            i = nl + 10 + n
        fields.setdefault(k.decode(), []).append(v.decode("utf-8", "replace"))
    return {k: (v[0] if len(v) == 1 else v) for k, v in fields.items()}


def main():
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--journal")
    g.add_argument("--syslog")
    g.add_argument("--notify")
    ap.add_argument("--out", required=True)
    ap.add_argument("--pidfile")
    a = ap.parse_args()
    path = a.journal or a.syslog or a.notify
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(path):
        os.unlink(path)
    s.bind(path)
    os.chmod(path, 0o666)
    if a.pidfile:
        pidfile.write(a.pidfile)
    with open(a.out, "ab") as out:
        while True:
            fds = array.array("i")
            data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(4 * fds.itemsize))
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
            for fd in fds:
                with os.fdopen(fd, "rb") as f:
                    data = f.read()
            if a.journal:
                try:
                    line = json.dumps(decode_native(data), sort_keys=True)
                except ValueError as e:
                    line = json.dumps({"DECODE_ERROR": str(e)})
                out.write(line.encode() + b"\n")
            elif a.notify:
                out.write(b"%.3f %s\n" % (time.monotonic(), data.replace(b"\n", b" | ")))
            else:
                out.write(data.rstrip(b"\n") + b"\n")
            out.flush()


if __name__ == "__main__":
    sys.exit(main())

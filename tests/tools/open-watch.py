#!/usr/bin/env python3
"""Report every open or read of some files by some programs (fanotify).

    open-watch.py --out FILE --pidfile FILE --exe PATH [--exe PATH]...
                  [--cmdline-has TEXT] PATH...

Marks each PATH (the file itself: an open through a symbolic or hard link
to it is seen too) for FAN_OPEN_PERM and FAN_ACCESS_PERM (the opener waits
for the answer, so that it is still there to be looked at; every event is
allowed) and writes one line per
event of a process whose executable is one of the --exe paths, or is
valgrind's and whose command line contains --cmdline-has:
"<pid> <exe> <mask> <path>".  Other processes (the test's own sha256sum, a
user tool elsewhere on the machine) are not reported.  Writes its pid file
once the marks are in place; stops on SIGTERM.  Needs CAP_SYS_ADMIN.
"""
import argparse
import ctypes
import os
import select
import signal
import struct
import sys

import pidfile

FAN_CLASS_CONTENT = 0x4
FAN_CLOEXEC = 0x1
FAN_MARK_ADD = 0x1
FAN_OPEN_PERM = 0x10000
FAN_ACCESS_PERM = 0x20000
FAN_ALLOW = 0x1
AT_FDCWD = -100
META = struct.Struct("=IBBHQii")
RESPONSE = struct.Struct("=iI")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--exe", action="append", default=[])
    ap.add_argument("--cmdline-has", default=None)
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()

    libc = ctypes.CDLL(None, use_errno=True)
    libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64,
                                   ctypes.c_int, ctypes.c_char_p]
    fd = libc.fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, os.O_RDONLY | os.O_LARGEFILE)
    if fd < 0:
        sys.exit("open-watch: fanotify_init: " + os.strerror(ctypes.get_errno()))
    for p in a.paths:
        if libc.fanotify_mark(fd, FAN_MARK_ADD, FAN_OPEN_PERM | FAN_ACCESS_PERM, AT_FDCWD,
                              p.encode()) < 0:
            sys.exit("open-watch: fanotify_mark %s: %s" % (p, os.strerror(ctypes.get_errno())))
    exes = {os.path.realpath(e) for e in a.exe}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    out = open(a.out, "a", buffering=1)
    pidfile.write(a.pidfile)

    def wanted(pid):
        try:
            exe = os.readlink("/proc/%d/exe" % pid)
        except OSError:
            return None
        if exe in exes:
            return exe
        if "valgrind" in exe and a.cmdline_has is not None:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if a.cmdline_has.encode() in f.read():
                        return exe
            except OSError:
                return None
        return None

    while not stop:
        try:
            r, _, _ = select.select([fd], [], [], 0.5)
        except InterruptedError:
            continue
        if not r:
            continue
        buf = os.read(fd, 65536)
        off = 0
        while off + META.size <= len(buf):
            ln, _vers, _res, _mlen, mask, efd, pid = META.unpack_from(buf, off)
            try:
                exe = wanted(pid)
                if exe is not None:
                    try:
                        path = os.readlink("/proc/self/fd/%d" % efd)
                    except OSError:
                        path = "?"
                    out.write("%d %s %#x %s\n" % (pid, exe, mask, path))
            finally:
                if efd >= 0:
                    os.write(fd, RESPONSE.pack(efd, FAN_ALLOW))
                    os.close(efd)
            off += ln
    os.unlink(a.pidfile)


if __name__ == "__main__":
    main()

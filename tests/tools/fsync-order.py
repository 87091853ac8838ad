#!/usr/bin/env python3
"""fsync-order.py QUEUEDIR TRACE -- check the order of a runner's fsyncs.

TRACE is the output of `strace -f -y -qq -e trace=openat,write,pwrite64,
fsync,fdatasync,rename,renameat,renameat2,link,linkat,unlink,unlinkat,
ftruncate,close` of a run on the queue QUEUEDIR.  A process that is
killed keeps every write it made (the kernel has them); a machine that
loses power keeps only what was fsync'd, in an order it chooses.  For the
queue to be in one state or the other after a power loss, these must hold,
and this script checks them on the files of QUEUEDIR:

1. A file renamed (or linked) to a control file's name (qf, hf, Qf) has
   been fsync'd after its last write: the name never points at data that
   can vanish.
2. Every data file (df) written in the run has been fsync'd before the
   next control file is put in place: a control file never names a body
   that can vanish.
3. A rename or link into the queue directory, or the creation of a data
   file there, is followed by an fsync of the directory before the next
   rename, link or removal of a control file: one step of a change is
   durable before the next begins (the intent before the notification,
   the notification before the original loses its recipients).  The
   creation of a temporary file (tf) needs none: only its rename counts.
4. At the end of the run no rename or creation is still waiting for its
   directory fsync.

Exit 0 and a count on the last line when all hold; 1 and each violation
(with its trace line) otherwise.
"""

import os
import re
import sys

LINE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(\w+)\((.*)\)\s+=\s+(-?\d+)(?:<([^>]*)>)?")
FDARG = re.compile(r"^(-?\d+|AT_FDCWD)(?:<([^>]*)>)?(?:\(deleted\))?$")


def split_args(s):
    """Top-level comma-separated arguments of an strace call."""
    out, depth, cur, q = [], 0, "", False
    i = 0
    while i < len(s):
        c = s[i]
        if q:
            cur += c
            if c == "\\":
                cur += s[i + 1]
                i += 1
            elif c == '"':
                q = False
        elif c == '"':
            q = True
            cur += c
        elif c in "<[{(":
            depth += 1
            cur += c
        elif c in ">]})":
            depth -= 1
            cur += c
        elif c == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    if cur.strip():
        out.append(cur.strip())
    return out


def unquote(a):
    a = a.rstrip(".")
    if a.startswith('"') and a.endswith('"'):
        return a[1:-1]
    return a


def main():
    qdir = os.path.realpath(sys.argv[1])
    problems = []
    renames = fsyncs = 0
    # name in the queue -> {"dirty": bool, "written": bool}
    files = {}
    fds = {}            # (pid, fd) -> name when it was opened
    pending = []        # directory operations not yet made durable
    dirty_df = set()

    def where(dirarg, name):
        m = FDARG.match(dirarg)
        base = m.group(2) if m and m.group(2) else os.getcwd()
        p = os.path.normpath(os.path.join(base, name))
        return os.path.basename(p) if os.path.dirname(p) == qdir else None

    def need_durable(what, line):
        if pending:
            problems.append("%s while %s not made durable by a directory fsync:\n    %s"
                            % (what, ", ".join(pending), line.rstrip()))

    for line in open(sys.argv[2], errors="replace"):
        m = LINE.match(line)
        if not m:
            continue
        pid, call, args, ret = m.group(1), m.group(2), split_args(m.group(3)), int(m.group(4))
        if ret < 0:
            continue
        if call == "openat":
            name = where(args[0], unquote(args[1]))
            if name is None:
                continue
            fds[(pid, ret)] = name
            f = files.setdefault(name, {"dirty": False, "written": False})
            if "O_TRUNC" in args[2]:
                f["dirty"] = True
            if "O_CREAT" in args[2] and "O_EXCL" in args[2] and not name.startswith("tf"):
                pending.append("the creation of " + name)
            continue
        if call in ("write", "pwrite64", "ftruncate"):
            m2 = FDARG.match(args[0])
            name = fds.get((pid, int(m2.group(1)))) if m2 and m2.group(1) != "AT_FDCWD" else None
            if name is not None:
                files[name]["dirty"] = files[name]["written"] = True
                if name.startswith("df"):
                    dirty_df.add(name)
            continue
        if call in ("fsync", "fdatasync"):
            m2 = FDARG.match(args[0])
            if not m2:
                continue
            path = m2.group(2) or ""
            if os.path.normpath(path) == qdir:
                pending = []
                fsyncs += 1
                continue
            name = fds.get((pid, int(m2.group(1))))
            if name is not None:
                files[name]["dirty"] = False
                dirty_df.discard(name)
                fsyncs += 1
            continue
        if call == "close":
            fds.pop((pid, int(FDARG.match(args[0]).group(1))), None)
            continue
        if call in ("rename", "renameat", "renameat2", "link", "linkat"):
            if call in ("rename", "link"):
                src, dst = where("AT_FDCWD", unquote(args[0])), where("AT_FDCWD", unquote(args[1]))
            else:
                src, dst = where(args[0], unquote(args[1])), where(args[2], unquote(args[3]))
            if src is None or dst is None:
                continue
            renames += 1
            if dst[:2] in ("qf", "hf", "Qf"):
                f = files.get(src, {"dirty": False})
                if f["dirty"]:
                    problems.append("%s renamed to %s before an fsync after its last write:\n    %s"
                                    % (src, dst, line.rstrip()))
                for d in sorted(dirty_df):
                    problems.append("%s put in place while %s is not fsync'd:\n    %s"
                                    % (dst, d, line.rstrip()))
                need_durable("%s -> %s" % (src, dst), line)
            if src in files:
                files[dst] = files[src]
                if call.startswith("rename"):
                    del files[src]
            for (p, fd), n in list(fds.items()):
                if n == src and call.startswith("rename"):
                    fds[(p, fd)] = dst
            pending.append("%s %s -> %s" % ("the rename" if call.startswith("rename") else "the link", src, dst))
            continue
        if call in ("unlink", "unlinkat"):
            name = where("AT_FDCWD", unquote(args[0])) if call == "unlink" else where(args[0], unquote(args[1]))
            if name is None:
                continue
            if name[:2] in ("qf", "hf", "Qf"):
                need_durable("the removal of " + name, line)
            files.pop(name, None)
            dirty_df.discard(name)
            # A removal of what a pending operation made needs no
            # durability of its own (the fallback rename's unlink).
            pending = [p for p in pending if not p.endswith(" " + name)]
            continue
    if pending:
        problems.append("at the end of the run, %s not made durable" % ", ".join(pending))
    for p in problems:
        print(p)
    print("%d renames and links, %d fsyncs checked, %d problems" % (renames, fsyncs, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

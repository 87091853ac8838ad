#!/usr/bin/env python3
"""hostile-check.py: snapshots and verdicts for tests/integration/hostile-queue.sh.

    hostile-check.py snap GENROOT MANIFEST OUT.json
        Every entry of each case's own directory GENROOT/<name> (walked
        without following links; regular files hashed, nothing else
        opened): type, mode, owner, group, links, size, inode, and the
        SHA-256 or the link's target.

    hostile-check.py check --snap S.json --manifest M --mode once|daemon|list
                     --queue flat=DIR --queue sub=DIR --token T
                     [--log F] [--rec DIR] [--strace F] [--watch F]
                     [--output F]...
        One "ok - ..." or "not ok - ..." line per case (with "#   " lines
        saying why), then the global checks, then "N cases, N lost".  A case
        is lost when something of it that had to stay is gone or changed,
        or when a message that had to be delivered was not.

MANIFEST: one case a line, tab-separated: name, expect, layout, queue ID,
log mark, description (hostile-queue.sh writes it).
"""
import argparse
import hashlib
import json
import os
import re
import stat
import sys


def entry(path):
    st = os.lstat(path)
    e = {"type": stat.S_IFMT(st.st_mode), "mode": stat.S_IMODE(st.st_mode),
         "uid": st.st_uid, "gid": st.st_gid, "nlink": st.st_nlink,
         "size": st.st_size if stat.S_ISREG(st.st_mode) else 0, "ino": st.st_ino}
    if stat.S_ISREG(st.st_mode):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        e["sha"] = h.hexdigest()
    elif stat.S_ISLNK(st.st_mode):
        e["target"] = os.readlink(path)
    return e


def walk(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = entry(p)
    return out


def read_manifest(path):
    cases = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            name, expect, layout, qid, mark, desc = line.split("\t")
            cases.append({"name": name, "expect": expect, "layout": layout,
                          "id": qid, "mark": mark, "desc": desc})
    return cases


def cmd_snap(a):
    snap = {}
    for c in read_manifest(a.manifest):
        root = os.path.join(a.genroot, c["name"])
        # The layout's own subdirectories are the queue's, not the case's.
        snap[c["name"]] = {k: v for k, v in walk(root).items()
                           if not (c["layout"] == "sub" and k in ("qf", "df"))}
    with open(a.out, "w") as f:
        json.dump(snap, f)


def deliveries(recdir):
    """How many times each recipient's message was received."""
    count = {}
    if not recdir or not os.path.isdir(recdir):
        return count
    for n in sorted(os.listdir(recdir)):
        if not re.fullmatch(r"session-\d+\.txt", n):
            continue
        rcpts = []
        with open(os.path.join(recdir, n), "rb") as f:
            for line in f:
                m = re.match(rb"RCPT To:<([^>]*)>", line, re.I)
                if re.match(rb"(MAIL|RSET)", line, re.I):
                    rcpts = []
                elif m:
                    rcpts.append(m.group(1).decode("utf-8", "replace").lower())
                elif line.startswith(b"DATA-BYTES"):
                    for r in rcpts:
                        count[r] = count.get(r, 0) + 1
                    rcpts = []
    return count


def same(a, b):
    return all(a.get(k) == b.get(k) for k in ("type", "mode", "uid", "gid", "size", "ino",
                                               "sha", "target"))


def cmd_check(a):
    snap = json.load(open(a.snap))
    cases = read_manifest(a.manifest)
    queues = dict(q.split("=", 1) for q in a.queue)
    log = []
    if a.log and os.path.exists(a.log):
        with open(a.log, "rb") as f:
            log = [l.decode("utf-8", "replace") for l in f.read().split(b"\n") if l]
    got = deliveries(a.rec)
    nok = nfail = lost = 0

    def verdict(ok, what, why=()):
        nonlocal nok, nfail
        if ok:
            nok += 1
            print("ok - %s" % what)
        else:
            nfail += 1
            print("not ok - %s" % what)
            for w in why:
                print("#   %s" % w)

    for c in cases:
        name, expect = c["name"], c["expect"]
        if a.mode == "list":
            expect = expect if expect in ("ignored", "race") else "unchanged"
        root = queues[c["layout"]]
        before = snap[name]
        problems, lost_it = [], False
        delivered = got.get(name + "@example.test", 0)
        if expect == "race":
            if delivered:
                problems.append("delivered %d times" % delivered)
        # What must be where now.
        want = {}
        if expect in ("skipped", "ignored", "unchanged"):
            want = dict(before)
        elif expect == "quarantined":
            for k, v in before.items():
                d, b = os.path.split(k)
                if b == "qf" + c["id"]:
                    want[os.path.join(d, "Qf" + c["id"])] = v
                    if os.path.lexists(os.path.join(root, k)):
                        problems.append("%s is still there" % k)
                else:
                    want[k] = v
        elif expect == "removed":
            for k, v in before.items():
                if os.path.basename(k) == "qf" + c["id"]:
                    if os.path.lexists(os.path.join(root, k)):
                        problems.append("%s was not removed" % k)
                else:
                    want[k] = v
        elif expect == "delivered":
            for k in before:
                if os.path.lexists(os.path.join(root, k)):
                    problems.append("%s is left" % k)
            if delivered != 1:
                problems.append("delivered %d times" % delivered)
                lost_it = lost_it or delivered == 0
        for k, v in want.items():
            p = os.path.join(root, k)
            if not os.path.lexists(p):
                problems.append("%s is gone" % k)
                lost_it = True
            elif not same(entry(p), v):
                problems.append("%s changed: %s -> %s" % (k, v, entry(p)))
                lost_it = True
        if expect not in ("delivered", "race") and delivered:
            problems.append("delivered %d times" % delivered)
        # Logged once (the daemon: through its rescans too).
        if a.mode != "list" and expect != "race":
            lines = [l for l in log if c["mark"] in l]
            n = len(lines)
            if expect == "ignored":
                if n:
                    problems.append("logged %d times: %s" % (n, lines[:3]))
            elif n != 1:
                problems.append("logged %d times, not once: %s" % (n, lines[:3]))
            elif expect == "delivered" and "stat=Sent" not in lines[0]:
                problems.append("not logged as sent: %s" % lines[0])
            elif expect == "quarantined" and "quarantined as Qf" not in lines[0]:
                problems.append("not logged as quarantined: %s" % lines[0])
        if lost_it:
            lost += 1
        verdict(not problems, "%s %s: %s (%s)" % (a.mode, name, expect, c["desc"]), problems)

    # Nothing outside the queue was read, nor any special file opened.
    for out in [a.log] + a.output + ([a.strace] if a.strace else []):
        if out and os.path.exists(out):
            with open(out, "rb") as f:
                data = f.read()
            verdict(a.token.encode() not in data,
                    "%s: the secret's contents are not in %s" % (a.mode, os.path.basename(out)))
    for sess in sorted(os.listdir(a.rec)) if a.rec and os.path.isdir(a.rec) else []:
        with open(os.path.join(a.rec, sess), "rb") as f:
            if a.token.encode() in f.read():
                verdict(False, "%s: the secret went out on the wire (%s)" % (a.mode, sess))
    if a.watch is not None:
        with open(a.watch) as f:
            ev = f.read().strip().splitlines()
        verdict(not ev, "%s: no open or read of the secret, the outside control file or "
                "/etc/shadow by the programs (fanotify)" % a.mode, ev[:5])
    if a.strace:
        with open(a.strace, encoding="utf-8", errors="replace") as f:
            tr = f.read()
        bad = []
        for c in cases:
            for k, v in snap[c["name"]].items():
                if v["type"] in (stat.S_IFREG, stat.S_IFDIR):
                    continue
                base = re.escape(os.path.basename(k))
                if re.search(r'open(at)?\([^\n]*"%s"[^\n]*\) = \d' % base, tr):
                    bad.append(k)
        verdict(not bad, "%s: no symbolic link, FIFO, socket or device opened (strace)" % a.mode,
                bad[:10])
        verdict("/etc/shadow" not in tr, "%s: /etc/shadow never named in a system call (strace)"
                % a.mode)
    if log:
        forged = [l for l in log if l.startswith("<3>sm-msp-queue[1]:")]
        verdict(not forged, "%s: no forged log line" % a.mode, forged)
    print("%d cases, %d lost" % (len(cases), lost))
    print("# %s: %d checks passed, %d failed" % (a.mode, nok, nfail))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snap")
    s.add_argument("genroot")
    s.add_argument("manifest")
    s.add_argument("out")
    c = sub.add_parser("check")
    c.add_argument("--snap", required=True)
    c.add_argument("--manifest", required=True)
    c.add_argument("--mode", required=True, choices=["once", "daemon", "list"])
    c.add_argument("--queue", action="append", default=[])
    c.add_argument("--token", required=True)
    c.add_argument("--log")
    c.add_argument("--rec")
    c.add_argument("--strace")
    c.add_argument("--watch")
    c.add_argument("--output", action="append", default=[])
    a = ap.parse_args()
    sys.exit(cmd_snap(a) if a.cmd == "snap" else cmd_check(a))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""notify-diff.py -- the notifications a queue run sent, normalized, and a
comparison of two such texts (stdlib only).

    notify-diff.py extract [--queue DIR]... RECDIR
    notify-diff.py compare [--kept FILE] A B
    notify-diff.py check [--queue DIR]... [--kept FILE] RECDIR-A RECDIR-B...

extract reads a recording of tests/tools/smtp-recorder.py (RECDIR/session-
<n>.txt and the messages) and prints every notification in it: each mail
transaction with the null sender ("MAIL From:<>"), whole: the envelope
commands as sent, the relay's injected replies, then every line of the
message as it went on the wire (CRLF removed; any other control byte and
every 8-bit byte as a \\xNN escape, a line that did not end in CRLF marked).
The notifications are printed sorted by their normalized text, so the order
in which a runner sends them does not count (it is not the same message
that a different order would change).

Normalized, and nothing else, each for a reason:
  N1 the queue ID of a notification (a new ID each run makes), found in its
     own Received: line ("from localhost (localhost)" ... "id <ID>;"),
     becomes NOTIFY-ID-<k> (k in order of first appearance) wherever it
     occurs: the Received: line, the Message-Id, the MIME boundary, and in a
     notification about a notification, the copy of the first.
  N2 the YYYYMMDDhhmm of a notification's Message-Id and the Unix time in
     its boundary ("<ID>.<time>/<host>") become TIME (the run's clock).
  N3 the date-time in a notification's own Received: and Date: headers, in
     Last-Attempt-Date: (the run's clock) becomes DATE-TIME; in
     Arrival-Date: and "The original message was received at" it becomes
     ARRIVAL when it is the T (creation time) of a message of the queue
     given by --queue (the same in both copies: so a wrong arrival date
     still shows), else DATE-TIME (the arrival of a notification the run
     made itself, in the postmaster's copy of a failed one).
  N4 the product in a notification's own Received: line ("(8.17.1.9/
     8.17.1.9/Submit)" from sendmail, "(clientq-runner 0.1.0)") becomes
     (PRODUCT): clientq-runner does not claim to be sendmail.
  N5 SIZE= on a notification's MAIL command is left out: sendmail sends
     its estimate there (savemail.c: 1024 octets plus the original's size,
     and no SIZE= at all when the original's body is not returned) when it
     delivers a notification in the process that made it, the data file's
     size when a later queue run delivers it; clientq-runner delivers every
     notification from the queue, with its exact size.  Both are what RFC
     1870 asks for (a size the client believes no smaller than the
     message's); the message itself is compared whole.

check does both at once (one process, not five, for the test's many
cases): each RECDIR's text to RECDIR.txt, then each RECDIR-B against
RECDIR-A, its result in RECDIR-B.diff (first line "same" or "differs");
it prints RECDIR-A's count of notifications.

compare prints a unified diff of A (sendmail's) and B (clientq-runner's)
and exits 0 when every changed line is a kept difference: FILE lists the
diff's own lines ("-..." and "+...", comments with #), each of which must
appear exactly as often as listed; so a kept difference that goes away
fails too, and is removed from the list.
"""

import argparse
import difflib
import email.utils
import io
import os
import re
import sys

DATE_RE = re.compile(r"[A-Z][a-z][a-z], [ 0-9]?[0-9] [A-Z][a-z][a-z] [0-9]{4} "
                     r"[0-9]{2}:[0-9]{2}:[0-9]{2} [-+]?[0-9A-Za-z]+(?: \([A-Za-z0-9+-]+\))?")
RCV_BY = re.compile(r"^\tby (\S+) \((.*)\) id ([0-9A-Za-z-]+)")


def esc(b):
    out = []
    for c in b:
        if c == 9 or 32 <= c < 127:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def queue_times(dirs):
    ts = set()
    for d in dirs:
        for name in os.listdir(d):
            if not name.startswith("qf"):
                continue
            with open(os.path.join(d, name), "rb") as f:
                for line in f:
                    if line.startswith(b"T"):
                        ts.add(int(line[1:].strip()))
                        break
    return ts


def epoch(s):
    t = email.utils.parsedate_tz(s)
    return None if t is None else email.utils.mktime_tz(t)


def transactions(recdir):
    """(envelope lines, message bytes or None) of each null-sender
    transaction, in the order of the sessions."""
    n = 1
    out = []
    while os.path.exists(os.path.join(recdir, "session-%d.txt" % n)):
        with open(os.path.join(recdir, "session-%d.txt" % n), "rb") as f:
            lines = f.read().split(b"\n")
        cur = None
        for line in lines:
            verb = line.split(None, 1)[0].upper() if line.strip() else b""
            if verb == b"MAIL":
                cur = [line] if re.match(rb"(?i)MAIL FROM: *<>", line) else None
                if cur is not None:
                    out.append((cur, [None]))
                continue
            if cur is None:
                continue
            if verb in (b"RCPT", b"DATA", b"INJECTED"):
                cur.append(line)
            elif verb == b"DATA-BYTES":
                k = int(line.split()[1])
                with open(os.path.join(recdir, "session-%d-msg-%d.eml" % (n, k)), "rb") as f:
                    out[-1][1][0] = f.read()
                cur.append(b"DATA-BYTES (length and hash not compared: the message is, below)")
                cur = None
            elif verb == b"DATA-ABORTED":
                cur.append(b"DATA-ABORTED")
                cur = None
            else:
                cur = None
        n += 1
    return [(env, msg[0]) for env, msg in out]


def normalize(env, msg, times):
    text = []
    for e in env:
        s = esc(e)
        if s.upper().startswith("MAIL FROM:"):
            s = re.sub(r"(?i) SIZE=[0-9]+", "", s)
        text.append(s)
    if msg is None:
        text.append("(no message)")
        return text
    raw = msg.split(b"\r\n")
    lines = [esc(l) for l in raw]
    if lines and lines[-1] == "":
        lines.pop()
    else:
        lines.append("(the message does not end with CRLF)")
    # N1: the notifications' own queue IDs
    ids = []
    for i, l in enumerate(lines):
        if l.lower().startswith("received: from localhost (localhost)") and i + 1 < len(lines):
            m = RCV_BY.match(lines[i + 1])
            if m and m.group(3) not in ids:
                ids.append(m.group(3))
    for k, qid in enumerate(ids, 1):
        lines = [l.replace(qid, "NOTIFY-ID-%d" % k) for l in lines]
    # header blocks: the message's own, and one after each part header
    # that announces a message or its headers
    header = True
    own = False          # this header block is a notification's (N1 found)
    block_start = 0
    rcv = False
    announce = False
    out = []
    for i, l in enumerate(lines):
        if header and l == "":
            header = False
            own = False
            rcv = False
        elif not header and l == "" and announce:
            header = True
            announce = False
            block_start = i + 1
            out.append(l)
            continue
        if header:
            if i == block_start or (i > block_start and lines[i - 1] == ""):
                # a header block: is it a notification's?
                j = i
                own = False
                while j < len(lines) and lines[j] != "":
                    if "NOTIFY-ID-" in lines[j] and lines[j].startswith("\tby "):
                        own = True
                    j += 1
            if not l.startswith(("\t", " ")):
                rcv = own and l.lower().startswith("received: from localhost (localhost)")
            if rcv:
                l = RCV_BY.sub(lambda m: "\tby %s (PRODUCT) id %s" % (m.group(1), m.group(3)), l)
                l = DATE_RE.sub("DATE-TIME", l)
            if own and l.lower().startswith("date:"):
                l = DATE_RE.sub("DATE-TIME", l)
            if own and l.lower().startswith("message-id:"):
                l = re.sub(r"<[0-9]{12}\.(NOTIFY-ID-[0-9]+)@", r"<TIME.\1@", l)
        else:
            low = l.lower()
            if low.startswith("content-type: message/rfc822") or \
                    low.startswith("content-type: text/rfc822-headers"):
                announce = True
            if low.startswith("last-attempt-date:"):
                l = DATE_RE.sub("DATE-TIME", l)
            if low.startswith("arrival-date:") or low.startswith("the original message was received at"):
                l = DATE_RE.sub(lambda m: "ARRIVAL" if epoch(m.group(0)) in times else "DATE-TIME", l)
        # N2: the boundary's time
        l = re.sub(r"(NOTIFY-ID-[0-9]+)\.[0-9]+/", r"\1.TIME/", l)
        out.append(l)
    return text + ["--- message ---"] + out


def extract(args):
    lines, _ = extract_text(args.recdir, queue_times(args.queue))
    for l in lines:
        print(l)
    return 0


def extract_text(recdir, times):
    blocks = [normalize(env, msg, times) for env, msg in transactions(recdir)]
    blocks.sort(key=lambda b: "\n".join(b))
    out = []
    for b in blocks:
        out.append("=== notification")
        out.extend(b)
    out.append("%d notifications" % len(blocks))
    return out, len(blocks)


def check(args):
    times = queue_times(args.queue)
    texts = []
    for d in args.recdirs:
        lines, n = extract_text(d, times)
        with open(d + ".txt", "w", encoding="latin-1") as f:
            f.write("\n".join(lines) + "\n")
        texts.append((lines, n))
    for i, d in enumerate(args.recdirs[1:], 1):
        buf = io.StringIO()
        rc = compare_lines(texts[0][0], texts[i][0], args.recdirs[0] + ".txt", d + ".txt",
                           args.kept, buf)
        with open(d + ".diff", "w", encoding="latin-1") as f:
            f.write(("same\n" if rc == 0 else "differs\n") + buf.getvalue())
    print(texts[0][1])
    return 0


def compare(args):
    a = open(args.a, encoding="latin-1").read().splitlines()
    b = open(args.b, encoding="latin-1").read().splitlines()
    return compare_lines(a, b, args.a, args.b, args.kept, sys.stdout)


def compare_lines(a, b, name_a, name_b, kept, out):
    def emit(l):
        out.write(l + "\n")
    diff = list(difflib.unified_diff(a, b, name_a, name_b, lineterm="", n=3))
    want = {}
    if kept:
        for l in open(kept, encoding="latin-1").read().splitlines():
            if l.startswith(("-", "+")):
                want[l] = want.get(l, 0) + 1
    got = {}
    for l in diff[2:]:
        if l.startswith(("-", "+")):
            got[l] = got.get(l, 0) + 1
    if got == want:
        if diff:
            emit("# only the kept differences:")
            for l in diff:
                emit("#   " + l)
        return 0
    for l in diff:
        emit(l)
    for l in sorted(set(got) | set(want)):
        g, w = got.get(l, 0), want.get(l, 0)
        if g > w:
            emit("# not a kept difference (%d time%s): %s" % (g - w, "" if g - w == 1 else "s", l))
        elif w > g:
            emit("# kept difference not seen (%d time%s): %s" % (w - g, "" if w - g == 1 else "s", l))
    return 1


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("--queue", action="append", default=[])
    e.add_argument("recdir")
    k = sub.add_parser("check")
    k.add_argument("--queue", action="append", default=[])
    k.add_argument("--kept")
    k.add_argument("recdirs", nargs="+")
    c = sub.add_parser("compare")
    c.add_argument("--kept")
    c.add_argument("a")
    c.add_argument("b")
    args = p.parse_args(argv)
    return {"extract": extract, "compare": compare, "check": check}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

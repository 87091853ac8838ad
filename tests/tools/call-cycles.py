#!/usr/bin/env python3
"""Who calls whom between the files of lib/ and clientq-runner/, read from
the built objects: prints every circle of files that call each other and
exits 1 when there is any.

include-cycles.py holds the modules to their layers by their includes,
and counts a module's private header and its parts as one module, so it
cannot see two files of one module calling each other round (deliver.c
and deliver-commit.c did).  Here each object is its own node: A -> B when
A uses a symbol B defines (nm's U and T/D/B/R lines).  A circle means the
files cannot be read one after the other, each only on what is below it.

usage: call-cycles.py BUILDDIR
"""
import glob
import os
import subprocess
import sys

from circles import circles


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "TDBR":
            defined.add(f[2])
        elif len(f) == 2 and f[0] == "U":
            used.add(f[1])
    return defined, used


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    objs = sorted(glob.glob(os.path.join(top, "lib", "*", "*.o")) +
                  glob.glob(os.path.join(top, "clientq-runner", "*.o")))
    if not objs:
        print("no objects under %s: build first" % top)
        return 77
    defs, uses = {}, {}
    for o in objs:
        d, u = symbols(o)
        for s in d:
            defs.setdefault(s, set()).add(o)
        uses[o] = u
    calls = {o: {} for o in objs}
    for o in objs:
        for s in uses[o]:
            for d in defs.get(s, ()):
                if d != o:
                    calls[o].setdefault(d, set()).add(s)
    sccs = circles(objs, lambda v: calls[v])

    def name(o):
        return os.path.relpath(o, top)[:-2] + ".c"

    for comp in sccs:
        print("call circle: %s" % ", ".join(name(o) for o in comp))
        for a in comp:
            for b in sorted(calls[a]):
                if b in comp:
                    print("  %s -> %s: %s" % (name(a), name(b), ", ".join(sorted(calls[a][b]))))
    print("%d objects, %d call edges between files, %d circles" %
          (len(objs), sum(len(v) for v in calls.values()), len(sccs)))
    return 1 if sccs else 0


if __name__ == "__main__":
    sys.exit(main())

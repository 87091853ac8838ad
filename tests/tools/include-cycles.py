#!/usr/bin/env python3
"""The modules of lib/ and clientq-runner/ and who includes whom: prints
any circle, and exits 1 when there is one.

A module is a .c and its .h of the same name (lib/conf.c and lib/conf.h
are "conf"); a private header (daemon-private.h), and a .c without a
header of its own (check-relay.c), belong to the module whose name they
begin with.  Module A depends on B when any of A's files
includes B's header.  A circle (A needs B needs ... needs A) means neither
can be read, tested or linked without the other.

usage: include-cycles.py SRCDIR
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
DIRS = ("lib", "clientq-runner")


def module_of(name, modules):
    base = os.path.splitext(os.path.basename(name))[0]
    if base in modules:
        return base
    # a private header: the longest module name it begins with
    best = None
    for m in modules:
        if base.startswith(m + "-") and (best is None or len(m) > len(best)):
            best = m
    return best or base


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    files = []
    for d in DIRS:
        for f in sorted(os.listdir(os.path.join(top, d))):
            if f.endswith((".c", ".h")):
                files.append(os.path.join(d, f))
    bases = {os.path.splitext(os.path.basename(f))[0] for f in files}
    headers = {os.path.splitext(os.path.basename(f))[0] for f in files if f.endswith(".h")}
    # A .c with a header of its own is a module; one without, whose name
    # begins with a module's (check-relay.c), is a part of that module.
    modules = {b for b in bases if b in headers or not any(
        b.startswith(m + "-") for m in bases if m in headers and m != b)}
    modules &= {os.path.splitext(os.path.basename(f))[0] for f in files if f.endswith(".c")}
    deps = {}
    for f in files:
        with open(os.path.join(top, f), encoding="utf-8", errors="replace") as fp:
            text = fp.read()
        src = module_of(f, modules)
        for inc in INCLUDE.findall(text):
            dst = module_of(inc, modules)
            if dst != src and dst in modules:
                deps.setdefault(src, set()).add(dst)
    # Tarjan's strongly connected components: each with more than one
    # module is a circle.
    index, low, on, stack, sccs, n = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(deps.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    for comp in sccs:
        edges = ["%s -> %s" % (a, b) for a in comp for b in sorted(deps.get(a, ())) if b in comp]
        print("circle: %s (%s)" % (", ".join(comp), "; ".join(edges)))
    print("%d modules, %d include edges, %d circles" %
          (len(modules), sum(len(v) for v in deps.values()), len(sccs)))
    return 1 if sccs else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The modules of lib/ and clientq-runner/ and who includes whom: prints
every circle and every include that points up a layer, and exits 1 when
there is any.

A module is a .c and its .h of the same name (lib/queue/qf.c and
lib/queue/qf.h are "qf"); a private header (daemon-private.h), and a .c
without a header of its own (check-relay.c), belong to the module whose
name they begin with.  Module A depends on B when any of A's files
includes B's header.  A circle (A needs B needs ... needs A) means neither
can be read, tested or linked without the other.

The layers are lib/'s folders, lowest first (lib/README.md): util, queue,
smtp, config, delivery, check; the programs in clientq-runner/ stand on
all of them.  A file may include its own layer's headers and those of the
layers below, each named with its folder ("queue/qf.h"), never one above.

usage: include-cycles.py SRCDIR
"""
import os
import re
import sys

from circles import circles

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
LAYERS = ["util", "queue", "smtp", "config", "delivery", "check"]
PROGRAMS = "clientq-runner"


def base(path):
    return os.path.splitext(os.path.basename(path))[0]


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    files = []  # (path relative to top, layer rank)
    for rank, layer in enumerate(LAYERS):
        d = os.path.join(top, "lib", layer)
        for f in sorted(os.listdir(d)):
            if f.endswith((".c", ".h")):
                files.append(("lib/%s/%s" % (layer, f), rank))
    stray = [f for f in sorted(os.listdir(os.path.join(top, "lib")))
             if f.endswith((".c", ".h"))]
    for f in sorted(os.listdir(os.path.join(top, PROGRAMS))):
        if f.endswith((".c", ".h")):
            files.append(("%s/%s" % (PROGRAMS, f), len(LAYERS)))
    bases = {base(f) for f, _ in files}
    headers = {base(f) for f, _ in files if f.endswith(".h")}
    # A .c with a header of its own is a module; one without, whose name
    # begins with a module's (check-relay.c), is a part of that module.
    modules = {base(f) for f, _ in files if f.endswith(".c")}
    modules = {m for m in modules if m in headers or not any(
        m.startswith(h + "-") for h in headers if h != m)}

    def module_of(name):
        b = base(name)
        if b in modules:
            return b
        best = None
        for m in modules:
            if b.startswith(m + "-") and (best is None or len(m) > len(best)):
                best = m
        return best or b

    problems = []
    for f in stray:
        problems.append("lib/%s: in no layer (lib/README.md)" % f)
    deps = {}
    for f, rank in files:
        with open(os.path.join(top, f), encoding="utf-8", errors="replace") as fp:
            text = fp.read()
        src = module_of(f)
        for inc in INCLUDE.findall(text):
            if inc == "config.h":
                continue
            layer = inc.split("/")[0] if "/" in inc else None
            if layer in LAYERS:
                if LAYERS.index(layer) > rank:
                    problems.append("%s includes %s: up a layer" % (f, inc))
            elif f.startswith("lib/") or base(inc) in bases - {base(x) for x, _ in files if x.startswith(PROGRAMS)}:
                problems.append("%s includes \"%s\": not named with its layer" % (f, inc))
            dst = module_of(inc)
            if dst != src and dst in modules:
                deps.setdefault(src, set()).add(dst)
    sccs = circles(sorted(modules), lambda v: deps.get(v, ()))
    for comp in sccs:
        edges = ["%s -> %s" % (a, b) for a in comp for b in sorted(deps.get(a, ())) if b in comp]
        problems.append("circle: %s (%s)" % (", ".join(comp), "; ".join(edges)))
    for p in problems:
        print(p)
    print("%d modules in %d layers and the programs, %d include edges, %d circles, "
          "%d problems" % (len(modules), len(LAYERS), sum(len(v) for v in deps.values()),
                           len(sccs), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

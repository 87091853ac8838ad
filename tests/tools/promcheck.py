#!/usr/bin/env python3
"""promcheck.py FILE [NAME{LABELS}=VALUE]...: check that FILE is valid
Prometheus text exposition format (version 0.0.4) and that the named
samples have the given values.

The checks are the format's rules, as promtool applies them: every
sample belongs to a family declared by one # TYPE line (and at most one
# HELP) that comes before it; names match [a-zA-Z_:][a-zA-Z0-9_:]*;
label values are quoted strings; values are floats; a counter's samples
end in _total; a histogram has cumulative _bucket samples with
increasing le bounds ending in +Inf, whose count equals _count, and a
_sum, for each set of its other labels (a histogram by queue is one per
queue).  Exit 0 when all hold, else 1 with the reason.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"^(%s)(\{([^}]*)\})? (\S+)$" % NAME)
LABEL = re.compile(r'^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"$')


def fail(msg):
    print("promcheck: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    lines = open(sys.argv[1]).read().split("\n")
    if lines[-1] != "":
        fail("the text does not end with a line feed")
    types, helps, samples = {}, {}, {}
    order = []
    for n, line in enumerate(lines[:-1], 1):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if name in helps:
                fail("line %d: a second HELP for %s" % (n, name))
            helps[name] = True
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                fail("line %d: bad TYPE line" % n)
            if parts[2] in types:
                fail("line %d: a second TYPE for %s" % (n, parts[2]))
            types[parts[2]] = parts[3]
            order.append(parts[2])
            continue
        if line.startswith("#") or line == "":
            fail("line %d: unexpected %r" % (n, line))
        m = SAMPLE.match(line)
        if not m:
            fail("line %d: not a sample: %r" % (n, line))
        name, labels, value = m.group(1), m.group(3), m.group(4)
        lab = {}
        if labels:
            for part in labels.split(","):
                lm = LABEL.match(part)
                if not lm:
                    fail("line %d: bad label %r" % (n, part))
                lab[lm.group(1)] = lm.group(2)
        try:
            v = float(value)
        except ValueError:
            fail("line %d: bad value %r" % (n, value))
        family = None
        for f in order:
            t = types[f]
            if name == f or (t == "histogram" and name in (f + "_bucket", f + "_sum", f + "_count")):
                family = f
        if family is None or family != order[-1]:
            fail("line %d: %s has no TYPE line just before its family" % (n, name))
        if types[family] == "counter" and not name.endswith("_total"):
            fail("line %d: counter %s does not end in _total" % (n, name))
        key = name + ("{%s}" % labels if labels else "")
        if key in samples:
            fail("line %d: %s twice" % (n, key))
        samples[key] = (v, lab, family)
    for f, t in types.items():
        if t != "histogram":
            continue
        # One histogram per set of labels other than le (a labelled
        # histogram, queue="hold", is one family of several).
        series = {}
        for k, (v, l, fam) in samples.items():
            if fam != f:
                continue
            rest = tuple(sorted((a, b) for a, b in l.items() if a != "le"))
            s = series.setdefault(rest, {"buckets": [], "count": None, "sum": None})
            if k.startswith(f + "_bucket"):
                if "le" not in l:
                    fail("%s: a bucket without le" % k)
                s["buckets"].append((float(l["le"]), v))
            elif k.startswith(f + "_count"):
                s["count"] = v
            elif k.startswith(f + "_sum"):
                s["sum"] = v
        if not series:
            fail("%s: no samples" % f)
        for rest, s in series.items():
            what = f + ("{%s}" % ",".join('%s="%s"' % p for p in rest) if rest else "")
            buckets = s["buckets"]
            if not buckets or not math.isinf(buckets[-1][0]):
                fail("%s: no +Inf bucket last" % what)
            for (a, x), (b, y) in zip(buckets, buckets[1:]):
                if not (b > a and y >= x):
                    fail("%s: buckets not increasing and cumulative" % what)
            if s["count"] != buckets[-1][1]:
                fail("%s: _count is not the +Inf bucket" % what)
            if s["sum"] is None:
                fail("%s: no _sum" % what)
    for want in sys.argv[2:]:
        key, value = want.rsplit("=", 1)
        if key not in samples:
            fail("no sample %s" % key)
        if samples[key][0] != float(value):
            fail("%s is %s, not %s" % (key, samples[key][0], value))


main()

#!/bin/sh
# `clientqctl list --json` against the real thing: the same messages
# queued in a private Postfix (3.7, postfix-lib.sh: kept there with
# defer_transports, one put on hold with postsuper -h) and in the client
# queue by real sendmail (deferred by a run against a closed port, one
# held by sendmail -Q); every member Postfix's `postqueue -j` emits, at
# the top and in each recipient, is in ours with the same JSON type, for
# a deferred and for a held message, and the queue names and recipients
# mean the same.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/postfix-lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
pf_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner

check "the private Postfix is installed (sendmail-bin untouched)" pf_install
PF_MAIN_EXTRA='defer_transports = virtual'
check "Postfix listens on 127.0.0.1:$PORT, deferring its deliveries" pf_start "$PFD" "$PORT"

queue_three() {
	submit alice@example.test >/dev/null
	submit bob@example.test carol@example.test >/dev/null
	submit dave@example.test
}
pf_bin() {
	_b=$1
	shift
	LD_LIBRARY_PATH=$PF_ROOT/usr/lib/postfix "$PF_ROOT/usr/sbin/$_b" -c "$PFD/conf" "$@"
}

# Postfix's side: the three messages relayed into it by the runner, where
# they wait, deferred; dave's held.
queue_three >/dev/null
"$RUNNER" --once -C "$CF" >"$W/runner.out" 2>&1
check "the runner relayed the three messages into Postfix" test -z "$(ls "$Q")"
pf_deferred() { [ "$(pf_bin postqueue -j | grep -c '"queue_name": "deferred"')" -eq 3 ]; }
check "Postfix holds the three in its deferred queue" wait_for pf_deferred
pf_dave=$(pf_bin postqueue -j | python3 -c '
import json, sys
for l in sys.stdin:
    o = json.loads(l)
    if [r["address"] for r in o["recipients"]] == ["dave@example.test"]:
        print(o["queue_id"])')
pf_bin postsuper -h "$pf_dave" >/dev/null 2>&1
pf_bin postqueue -j >"$W/postfix.jsonl"
check "Postfix's postqueue -j: two deferred, one on hold" \
    test "$(grep -c '"queue_name": "hold"' "$W/postfix.jsonl")" -eq 1

# Ours: the same three, deferred by a run against a closed port, dave's
# held by sendmail itself.
it_make_cf "$Q" "$(it_free_port)" "$W/closed.cf"
d=$(queue_three)
sm -Ac -qf -C "$W/closed.cf" >/dev/null 2>&1
sm -Ac -C "$CF" -qI"$d" -Q'held by the test' >/dev/null 2>&1
check "sendmail deferred two and held one" test -f "$Q/hf$d" -a "$(ls "$Q" | grep -c '^qf')" -eq 2
"$CLIENTQCTL" list --offline -C "$CF" --json >"$W/ours.jsonl"

if python3 - "$W/postfix.jsonl" "$W/ours.jsonl" <<'PY'
import json, sys
pf = [json.loads(l) for l in open(sys.argv[1])]
ours = [json.loads(l) for l in open(sys.argv[2])]

def key(o):
    return tuple(sorted(r["address"] for r in o["recipients"]))

by = {key(o): o for o in ours}
assert len(pf) == 3 and len(ours) == 3, (pf, ours)
for p in pf:
    o = by[key(p)]
    assert o["queue_name"] == p["queue_name"], (p, o)
    for k, v in p.items():
        assert k in o, ("a member of postqueue -j missing", k, o)
        assert type(o[k]) is type(v), ("another JSON type", k, p, o)
    for pr, orr in zip(p["recipients"], o["recipients"]):
        for k, v in pr.items():
            assert k in orr, ("a recipient member of postqueue -j missing", k, o)
            assert type(orr[k]) is type(v), ("another JSON type", k, p, o)
    print("# %s: %s, recipients %s" % (p["queue_name"], sorted(p),
                                        sorted({k for r in p["recipients"] for k in r})))
# Postfix's deferred recipients carry a delay_reason: the check above
# covered it.
assert any("delay_reason" in r for p in pf if p["queue_name"] == "deferred"
           for r in p["recipients"]), pf
PY
then
	ok "every member postqueue -j emits is in ours, with its JSON type (deferred, hold, recipients)"
else
	fail "ours against postqueue -j" "postfix: $(cat "$W/postfix.jsonl")" "ours: $(cat "$W/ours.jsonl")"
fi
it_finish

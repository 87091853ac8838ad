#!/bin/sh
# `clientqctl list --offline` against `sendmail -Ac -bp` on the same live
# queue, with a message deferred twice, a locked one ('*') and one
# submitted by an ordinary user; then its errors and exit codes; then
# --json (JSON Lines with postqueue -j's members and types, a message held
# by sendmail included) and --json-array (the old array), offline and
# through the daemon.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
it_setup

a=$(submit alice@example.test bob)
b=$(printf 'Subject: 8bit\n\ncaf\351\n' | sm -Ac -C "$CF" -odq -B 8BITMIME carol@example.test >/dev/null; ls "$Q" | sed -n 's/^qf//p' | grep -v "^$a\$")
sm -Ac -qf -C "$CF" >/dev/null 2>&1 || true
sm -Ac -qf -C "$CF" >/dev/null 2>&1 || true
c=$(submit dave@example.test)
check "three messages queued" test -n "$a" -a -n "$b" -a -n "$c"

same_listing() {
	TZ=UTC "$CLIENTQCTL" list --offline -C "$CF" >"$W/ours" 2>"$W/ours.err"
	sm -Ac -C "$CF" -bp >"$W/theirs" 2>&1
	cmp -s "$W/ours" "$W/theirs"
}
if same_listing; then
	ok "listing equals sendmail -Ac -bp (deferred twice, 8BITMIME)"
else
	fail "listing equals sendmail -Ac -bp" "$(diff "$W/theirs" "$W/ours")"
fi

hold_lock "$c"
if same_listing && grep -q "^$c\*" "$W/ours"; then
	ok "a locked message is marked '*' as by mailq"
else
	fail "locked message marked '*'" "$(diff "$W/theirs" "$W/ours")"
fi
release_lock
same_listing
check "unlocked again, the listings agree" cmp -s "$W/ours" "$W/theirs"

TZ=UTC "$CLIENTQCTL" list --offline -q "$Q" >"$W/byq"
check "-q DIR lists the same queue" cmp -s "$W/ours" "$W/byq"

"$CLIENTQCTL" list --offline -C "$W/nonexistent.cf" 2>"$W/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "nonexistent.cf: cannot open: No such file" "$W/err"; then
	ok "a missing submit.cf: exit 1, the file named"
else
	fail "missing submit.cf" "rc=$rc" "$(cat "$W/err")"
fi
"$CLIENTQCTL" --socket "$W/no-daemon" list 2>"$W/err"
rc=$?
if [ "$rc" -eq 69 ] && grep -q -- "--offline" "$W/err"; then
	ok "without --offline and no daemon: exit 69 and a hint"
else
	fail "without --offline" "rc=$rc"
fi
"$CLIENTQCTL" list -C "$CF" 2>/dev/null
check "-C without --offline: a usage error" test $? -eq 2
"$CLIENTQCTL" list --bogus 2>/dev/null
check "a bad option: exit 2" test $? -eq 2
setpriv --reuid=nobody --regid=nogroup --clear-groups "$CLIENTQCTL" list --offline -q "$Q" 2>"$W/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "Permission denied (the offline listing needs root or group smmsp)" "$W/err"; then
	ok "an ordinary user is told the listing needs root or smmsp"
else
	fail "ordinary user" "rc=$rc" "$(cat "$W/err")"
fi
setpriv --reuid=smmsp --regid=smmsp --clear-groups "$CLIENTQCTL" list --offline -q "$Q" >"$W/smmsp" 2>&1
check "smmsp may list the queue" cmp -s "$W/ours" "$W/smmsp"
# --json-array: the old array, unchanged for one release.
if "$CLIENTQCTL" list --offline -C "$CF" --json-array | python3 -c '
import json, sys
v = json.load(sys.stdin)
assert len(v) == 3, v
ids = {e["id"] for e in v}
assert sys.argv[1] in ids, ids
e = [e for e in v if e["id"] == sys.argv[1]][0]
assert e["tries"] == 2 and e["status"].startswith("Deferred: Connection refused"), e
assert [r["address"] for r in e["recipients"]] == ["alice@example.test", "bob"], e
' "$a"; then
	ok "--json-array: the old array, with tries, status and recipients"
else
	fail "--json-array output"
fi
"$CLIENTQCTL" list --offline -C "$CF" --json --json-array >/dev/null 2>&1
check "--json and --json-array together: a usage error" test $? -eq 2

# --json: JSON Lines as Postfix's postqueue -j writes them.  A fourth
# message is held by sendmail itself (-Q: renamed to hf, with a q line),
# which mailq leaves out and postqueue -j lists as "hold".
d=$(submit erin@example.test)
sm -Ac -C "$CF" -qI"$d" -Q'held by the test' >/dev/null 2>&1
check "sendmail held the fourth message" test -f "$Q/hf$d" -a ! -f "$Q/qf$d"
cat >"$W/jsonl.py" <<'EOF'
# Each line one JSON object with exactly postqueue -j's members and JSON
# types (ours only under clientq_ names); then what each message is.
import json, os, sys
path, q, a, b, c, d, mode = sys.argv[1:]
lines = open(path, "rb").read().decode("utf-8").split("\n")
assert lines[-1] == "", "the last line ends with a newline"
objs = [json.loads(l) for l in lines[:-1]]
pf = {"queue_name": str, "queue_id": str, "arrival_time": int,
      "message_size": int, "forced_expire": bool, "sender": str,
      "recipients": list}
for o in objs:
    assert isinstance(o, dict), o
    for k, t in pf.items():
        assert k in o, (k, o)
        assert type(o[k]) is t, (k, o)
    for k in o:
        assert k in pf or k.startswith("clientq_"), ("a member Postfix does not have", k)
    assert o["queue_name"] in ("active", "deferred", "hold", "incoming"), o
    assert o["forced_expire"] is False, o
    assert not o["sender"].startswith("<"), o
    for r in o["recipients"]:
        assert set(r) <= {"address", "delay_reason"} and "address" in r, r
        assert all(type(v) is str for v in r.values()), r
by = {o["queue_id"]: o for o in objs}
assert sorted(by) == sorted([a, b, c, d]), sorted(by)
for qid, pre in ((a, "qf"), (b, "qf"), (c, "qf"), (d, "hf")):
    o = by[qid]
    t = [l for l in open(os.path.join(q, pre + qid), "rb") if l.startswith(b"T")][0]
    assert o["arrival_time"] == int(t[1:]), (o, t)
    assert o["message_size"] > os.path.getsize(os.path.join(q, "df" + qid)), o
ea = by[a]
assert ea["queue_name"] == ("deferred" if mode == "offline" else ea["queue_name"]), ea
assert ea["queue_name"] in ("deferred", "active"), ea
assert [r["address"] for r in ea["recipients"]] == ["alice@example.test", "bob"], ea
assert all(r["delay_reason"].startswith("Deferred: Connection refused") for r in ea["recipients"]), ea
assert by[d]["queue_name"] == "hold" and by[d]["clientq_hold_reason"] == "held by the test", by[d]
if mode == "offline":
    assert by[c]["queue_name"] == "incoming", by[c]
    assert all("delay_reason" not in r for r in by[c]["recipients"]), by[c]
    assert all(o["queue_name"] != "active" for o in objs), objs
else:
    # The daemon is delivering one of them (the relay never answers the
    # final dot): that one is active, and locked.
    assert by[c]["queue_name"] in ("incoming", "deferred", "active"), by[c]
    act = [o for o in objs if o["queue_name"] == "active"]
    assert len(act) >= 1 and all(o["clientq_locked"] is True for o in act), objs
EOF
"$CLIENTQCTL" list --offline -C "$CF" --json >"$W/offline.jsonl" 2>"$W/offline.err"
if python3 "$W/jsonl.py" "$W/offline.jsonl" "$Q" "$a" "$b" "$c" "$d" offline; then
	ok "--offline --json: a line per message, postqueue -j's members and types (incoming, deferred, hold)"
else
	fail "--offline --json" "$(cat "$W/offline.jsonl" "$W/offline.err")"
fi
TZ=UTC "$CLIENTQCTL" list --offline -C "$CF" >"$W/after-hold"
check "the plain listing leaves the held message out, as mailq does" \
    sh -c '! grep -q "^$1" "$2"' sh "$d" "$W/after-hold"

# The same through the daemon, while it delivers: the relay takes the
# message and never answers the final dot, so what it sends stays active.
it_recorder_start "$PORT" "$W/rec" --reply dot=hang
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
"$IT_RUNNER" -C "$CF" --control "$W/run/control" -L cq-list 2>>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for test -S "$W/run/control"
daemon_active() {
	"$CLIENTQCTL" --socket "$W/run/control" list --json | grep -q '"queue_name": "active"'
}
check "the daemon is delivering a message (the relay holds the final dot)" wait_for daemon_active
"$CLIENTQCTL" --socket "$W/run/control" list --json >"$W/daemon.jsonl" 2>"$W/daemon.err"
rc=$?
if [ "$rc" -eq 0 ] && python3 "$W/jsonl.py" "$W/daemon.jsonl" "$Q" "$a" "$b" "$c" "$d" daemon; then
	ok "list --json through the daemon: the same members and types, the held message too, the one under way active"
else
	fail "list --json through the daemon" "rc=$rc" "$(cat "$W/daemon.jsonl" "$W/daemon.err")"
fi
"$CLIENTQCTL" list --offline -C "$CF" --json >"$W/offline2.jsonl" 2>&1
if python3 "$W/jsonl.py" "$W/offline2.jsonl" "$Q" "$a" "$b" "$c" "$d" offline &&
    grep -q '"clientq_locked": true' "$W/offline2.jsonl"; then
	ok "--offline --json meanwhile: never active, the message under way locked"
else
	fail "--offline --json during a delivery" "$(cat "$W/offline2.jsonl")"
fi
"$CLIENTQCTL" --socket "$W/run/control" list --json-array >"$W/daemon.json" 2>>"$W/daemon.err"
if python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert sorted(e["id"] for e in v) == sorted(sys.argv[2:]), v
assert all("tries" in e and "state" in e for e in v), v
' "$W/daemon.json" "$a" "$b" "$c"; then
	ok "list --json-array through the daemon: the old array, without the held message"
else
	fail "list --json-array through the daemon" "$(cat "$W/daemon.json" "$W/daemon.err")"
fi
kill "$DPID" 2>/dev/null
wait "$DPID" 2>/dev/null
it_recorder_stop "$W/rec"
it_finish

#!/bin/sh
# `clientqctl list --offline` against `sendmail -Ac -bp` on the same live
# queue, with a message deferred twice, a locked one ('*') and one
# submitted by an ordinary user; then its errors and exit codes.
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

if "$CLIENTQCTL" list --offline -C "$CF" --json | python3 -c '
import json, sys
v = json.load(sys.stdin)
assert len(v) == 3, v
ids = {e["id"] for e in v}
assert sys.argv[1] in ids, ids
e = [e for e in v if e["id"] == sys.argv[1]][0]
assert e["tries"] == 2 and e["status"].startswith("Deferred: Connection refused"), e
assert [r["address"] for r in e["recipients"]] == ["alice@example.test", "bob"], e
' "$a"; then
	ok "--json parses and carries tries, status and recipients"
else
	fail "--json output"
fi

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
it_finish

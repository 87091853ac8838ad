#!/bin/sh
# A bulk removal by selector on a flooded queue while delivery goes on:
# 100,000 messages queued (one by real sendmail for each kind, the rest
# cloned by the library's writer, tests/tools/qftool clone):
#   60 %  from root, 8 days old (qftool age before cloning)  -- selected
#   40 %  from root, new                                     -- not: too new
#   1     from an ordinary user, 8 days old                  -- not: not root
# The relay (bench/sink) takes everything from the start; while the daemon
# delivers, root runs `clientqctl remove --older-than 7d --sender
# root@host.test --yes`.  Asserted:
# - each selected message was either removed (its "removed by" line) or
#   delivered before the removal reached it, never both, never neither;
#   nothing else was removed, and everything else was delivered, each once;
# - the count clientqctl printed is the number of messages removed, and the
#   request is logged once with that count;
# - delivery went on while the removal ran (the relay took messages between
#   the request and its answer), and the WATCHDOG=1 pings never paused over
#   1.5 s (plain build only; printed under the sanitizers or valgrind).
# Under the sanitizers or valgrind the queue is 20,000 (the same shares).
# The queue is on a tmpfs of the test's own, as in control-flood.sh.
if [ "$(id -u)" -eq 0 ] && [ -z "${CQ_FLOOD_NS-}" ] && unshare -m --propagation private true 2>/dev/null; then
	CQ_FLOOD_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
IT_TIMEOUT=${IT_TIMEOUT:-1200}
it_long
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: needs setpriv"; exit 77; }
[ -x "$QFTOOL" ] || { echo "SKIP: needs tests/tools/qftool (make check builds it)"; exit 77; }
[ -x "$top_builddir/bench/sink" ] || { echo "SKIP: needs bench/sink (make)"; exit 77; }
LC_ALL=C
export LC_ALL
it_setup
if [ -n "${CQ_FLOOD_NS-}" ]; then
	mkdir "$W/fs"
	mount -t tmpfs -o size=1g,mode=0755 cq-qflood "$W/fs"
	trap 'umount -l "$W/fs" 2>/dev/null; it_cleanup' EXIT
	rmdir "$Q"
	Q=$W/fs/q
	mkdir "$Q" && chown smmsp:smmsp "$Q" && chmod 2770 "$Q"
	it_make_cf "$Q" "$PORT" "$CF"
fi
it_user cqqflood || { echo "SKIP: cannot add users"; exit 77; }
RUNNER=$IT_RUNNER
N=100000
[ -z "${CQ_SAN-}${CQ_VALGRIND-}" ] || N=20000
OLD=$((N * 6 / 10))
NEW=$((N - OLD - 1))
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
S=$W/run/control
WEEK=$((8 * 86400))

# one_msg USER: a message by real sendmail; its ID out (the queue's IDs
# before and after, compared sorted: the queue holds tens of thousands).
one_msg() {
	ids >"$W/ids.before"
	if [ "$1" = root ]; then
		printf 'Subject: flood\n\nbody\n' | sm -Ac -C "$CF" -odq rcpt@example.test
	else
		printf 'Subject: flood\n\nbody\n' | sm_as "$1" -Ac -odq rcpt@example.test
	fi
	ids | comm -13 "$W/ids.before" -
}
ids() { ls "$Q" | sed -n 's/^qf//p' | sort; }

t0=$(date +%s)
old=$(one_msg root)
"$QFTOOL" age "$Q" "$old" "$WEEK" && "$QFTOOL" clone "$Q" "$old" $((OLD - 1)) >/dev/null
ids >"$W/selected"
new=$(one_msg root)
"$QFTOOL" clone "$Q" "$new" $((NEW - 1)) >/dev/null
user=$(one_msg cqqflood)
"$QFTOOL" age "$Q" "$user" "$WEEK"
ids >"$W/queued"
comm -23 "$W/queued" "$W/selected" >"$W/others"
check "$N messages queued, $OLD of them old and from root (in $(($(date +%s) - t0)) s)" \
    test "$(wc -l <"$W/queued")" -eq "$N" -a "$(wc -l <"$W/selected")" -eq "$OLD"

"$top_builddir/bench/sink" -p "$PORT" -l "$W/sink.record" 2>"$W/sink.out" &
IT_PIDS="$IT_PIDS $!"
wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
it_datagram_sink notify "$W/notify.sock" "$W/notify.log"
NOTIFY_SOCKET=$W/notify.sock WATCHDOG_USEC=2000000 "$RUNNER" -C "$CF" --control "$S" \
    -L cq-qflood 2>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for_s 120 grep -q ' READY=1' "$W/notify.log" ||
    fail "READY=1 from the daemon" "$(tail -n 5 "$W/daemon.log")"
wait_for test -S "$S"
wait_for_s 60 grep -q '^A ' "$W/sink.record"

before=$(grep -c '^A ' "$W/sink.record")
m0=$(python3 "$top_srcdir/tests/tools/ctl-load.py" now)
t0=$(date +%s%N)
"$CLIENTQCTL" --socket "$S" remove --older-than 7d --sender root@host.test --yes \
    >"$W/remove.out" 2>&1
rrc=$?
t1=$(date +%s%N)
m1=$(python3 "$top_srcdir/tests/tools/ctl-load.py" now)
after=$(grep -c '^A ' "$W/sink.record")
echo "# remove answered in $(((t1 - t0) / 1000000)) ms: $(cat "$W/remove.out")"
echo "# the relay took $((after - before)) messages meanwhile"
removed=$(sed -n 's/^\([0-9][0-9]*\) messages\{0,1\} removed.*/\1/p' "$W/remove.out")
check "remove answered 0 with a count" test "$rrc" -eq 0 -a -n "$removed"
check "delivery went on while the removal ran ($((after - before)) delivered meanwhile)" \
    test "$after" -gt "$before"

queue_empty() { [ -z "$(find "$Q" -name 'qf*' -print -quit)" ]; }
t0=$(date +%s)
wait_for_s 900 queue_empty || fail "the queue drained" "$(find "$Q" -name 'qf*' | wc -l) left"
echo "# the rest delivered in $(($(date +%s) - t0)) s"
sed -n 's/^A [0-9]* <[0-9]*\.\([0-9A-Za-z]\{14\}\)@host\.test> .*/\1/p' "$W/sink.record" |
    sort >"$W/delivered"
sed -n 's/.*: \([0-9A-Za-z]\{14\}\): removed by uid 0 (root).*/\1/p' "$W/daemon.log" |
    sort >"$W/removed"
nrem=$(wc -l <"$W/removed")
both=$(comm -12 "$W/removed" "$W/delivered" | wc -l)
sort -m "$W/removed" "$W/delivered" >"$W/gone"
if [ "$nrem" -eq "$removed" ] && [ "$both" -eq 0 ] &&
    [ -z "$(comm -23 "$W/removed" "$W/selected" | head -n 1)" ] &&
    cmp -s "$W/queued" "$W/gone"; then
	ok "$nrem removed (as clientqctl said), all selected; every other message delivered once; none both, none lost"
else
	fail "removed $nrem (clientqctl said $removed), $both both removed and delivered" \
	    "removed but not selected: $(comm -23 "$W/removed" "$W/selected" | head -n 3 | tr '\n' ' ')" \
	    "neither: $(comm -23 "$W/queued" "$W/gone" | head -n 3 | tr '\n' ' ')" \
	    "twice: $(uniq -d "$W/gone" | head -n 3 | tr '\n' ' ')"
fi
grep -q "$user" "$W/delivered" && ok "the old message of an ordinary user was delivered, not removed" ||
    fail "the user's old message" "$(grep "$user" "$W/daemon.log")"
grep -Eq "remove of [0-9]+ messages requested by uid 0 \\(root\\), pid [0-9]+; selected by --older-than 604800s --sender 'root@host.test': $removed done" "$W/daemon.log" &&
    ok "the request is logged once, with the selection and the count" ||
    fail "the request's log line" "$(grep 'remove of' "$W/daemon.log")"

# shellcheck disable=SC2046  # two numbers
set -- $(python3 "$top_srcdir/tests/tools/ctl-load.py" gap "$W/notify.log" "$m0" "$m1")
echo "# the longest pause between WATCHDOG=1 pings during the removal: $1 s ($2 pings)"
if [ -n "${CQ_SAN-}${CQ_VALGRIND-}" ]; then
	echo "# under the sanitizers or valgrind, the watchdog's pauses are not checked"
else
	check "WATCHDOG=1 never paused over 1.5 s during the removal (the longest: $1 s)" \
	    test "$(echo "$1 $2" | awk '{ print ($1 <= 1.5 && $2 >= 2) }')" = 1
fi
kill "$DPID"
wait "$DPID"
it_finish

#!/bin/sh
# A flooded queue and ordinary users asking about all of it: 20,000
# messages queued (one by real sendmail, the rest by the library's writer,
# tests/tools/qftool clone), plus one of each user's own (their sendmail);
# the relay down; the daemon with WATCHDOG_USEC=2000000 and a NOTIFY_SOCKET
# of the test's (log-sink.py --notify).  Three ordinary users, made for the
# test (useradd, removed after), each send, as themselves (setpriv), flush
# --sender, flush --recipient, list and flush --wait in turn, back to back
# for 10 s (tests/tools/ctl-load.py: the lines clientqctl sends).  Asserted:
# - the WATCHDOG=1 pings never pause for more than 1.5 s meanwhile (the
#   bound of hostile-relay.sh; in the plain build only: under the
#   sanitizers or valgrind the figure is printed, not checked);
# - every request is answered: OK, or NO/TRY (nothing of theirs matches,
#   or the rate limit), never no answer (none within 20 s, or the
#   connection closed without a status line);
# - then the relay comes up (bench/sink, recording what it accepts), root
#   flushes, and every message is delivered, each exactly once: the queue
#   IDs in the accepted messages' Message-Id are the queued ones, and
#   there are as many as were queued.
# The latencies and the longest gap are printed; bench/flood.sh measures
# them against targets.
# The queue is on a tmpfs of the test's own (a private mount namespace,
# where the unshare works): 40,000 files made and removed on a disk that
# other work loads took minutes, and this test is about the control
# plane, not the file system (bench/flood.sh measures both).
if [ "$(id -u)" -eq 0 ] && [ -z "${CQ_FLOOD_NS-}" ] && unshare -m --propagation private true 2>/dev/null; then
	CQ_FLOOD_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: needs setpriv"; exit 77; }
[ -x "$QFTOOL" ] || { it_stop_watchdog; echo "SKIP: needs tests/tools/qftool (make check builds it)"; exit 77; }
[ -x "$top_builddir/bench/sink" ] || { it_stop_watchdog; echo "SKIP: needs bench/sink (make)"; exit 77; }
it_setup
if [ -n "${CQ_FLOOD_NS-}" ]; then
	mkdir "$W/fs"
	mount -t tmpfs -o size=512m,mode=0755 cq-flood "$W/fs"
	trap 'umount -l "$W/fs" 2>/dev/null; it_cleanup' EXIT
	rmdir "$Q"
	Q=$W/fs/q
	mkdir "$Q" && chown smmsp:smmsp "$Q" && chmod 2770 "$Q"
	it_make_cf "$Q" "$PORT" "$CF"
fi
N=20000
USERS="cqtflood1 cqtflood2 cqtflood3"	# not bench/flood.sh's: both may run at once
for u in $USERS; do
	it_user "$u" || { echo "SKIP: cannot add users"; exit 77; }
done
RUNNER=$IT_RUNNER
LOAD=$top_srcdir/tests/tools/ctl-load.py
USER_PY=python3
[ -x /usr/bin/python3 ] && USER_PY=/usr/bin/python3
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
S=$W/run/control
mkdir "$W/load" && chmod 1777 "$W/load"

# The backlog, then each user's own message.
t0=$(date +%s)
id=$(submit rcpt@example.test)
"$QFTOOL" clone "$Q" "$id" $((N - 1)) >/dev/null
for u in $USERS; do
	printf 'Subject: own\n\nbody\n' | sm_as "$u" -Ac -odq rcpt@example.test
done
total=$((N + 3))
ls "$Q" | sed -n 's/^qf//p' | sort >"$W/queued"
check "$total messages queued (in $(($(date +%s) - t0)) s)" test "$(wc -l <"$W/queued")" -eq "$total"

it_datagram_sink notify "$W/notify.sock" "$W/notify.log"
NOTIFY_SOCKET=$W/notify.sock WATCHDOG_USEC=2000000 "$RUNNER" -C "$CF" --control "$S" \
    2>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
# the index (20,000 files) on a loaded machine, or under valgrind
t0=$(date +%s)
wait_for_s 120 grep -q ' READY=1' "$W/notify.log" ||
    fail "READY=1 from the daemon" "$(tail -n 5 "$W/daemon.log")"
wait_for test -S "$S"
echo "# READY=1 after $(($(date +%s) - t0)) s"

pids=
k=0
for u in $USERS; do
	setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups \
	    "$USER_PY" "$LOAD" run "$S" --seconds 10 --timeout 20 --skip "$k" --out "$W/load/$u" \
	    flush-sender=nobody@nowhere.test flush-recipient=rcpt@example.test list flush-wait &
	pids="$pids $!"
	k=$((k + 1))
done
IT_PIDS="$IT_PIDS $pids"
# shellcheck disable=SC2086  # one PID a word
wait $pids

python3 "$LOAD" summary --each "the users' requests" "$W"/load/cqtflood* | sed 's/^/# /'
# shellcheck disable=SC2046  # two numbers
set -- $(python3 "$LOAD" window "$W"/load/cqtflood*)
# shellcheck disable=SC2046  # two numbers
set -- $(python3 "$LOAD" gap "$W/notify.log" "$1" "$2")
gap=$1 pings=$2
echo "# the longest pause between WATCHDOG=1 pings during the flood: $gap s ($pings pings)"
if [ -n "${CQ_SAN-}${CQ_VALGRIND-}" ]; then
	echo "# under the sanitizers or valgrind, the watchdog's pauses are not checked"
else
	check "WATCHDOG=1 never paused over 1.5 s during the flood (the longest: $gap s)" \
	    test "$(echo "$gap $pings" | awk '{ print ($1 <= 1.5 && $2 >= 5) }')" = 1
fi
reqs=$(cat "$W"/load/cqtflood* | grep -vc '^#')
bad=$(cat "$W"/load/cqtflood* | awk '$1 !~ /^#/ && $2 != "OK" && $2 != "NO" && $2 != "TRY"' | sort | uniq -c)
if [ "$reqs" -ge 6 ] && [ -z "$bad" ]; then
	ok "all $reqs requests answered (OK, NO or TRY)"
else
	fail "requests without an answer (or too few: $reqs)" "$bad"
fi
check "the daemon still runs" kill -0 "$DPID"

# The relay back: bench/sink records each message it accepts (its
# Message-Id: <date.QID@host.test>, which sendmail made and each copy
# carries with its own ID).
"$top_builddir/bench/sink" -p "$PORT" -l "$W/sink.record" 2>"$W/sink.out" &
SPID=$!
IT_PIDS="$IT_PIDS $SPID"
wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
t0=$(date +%s)
"$CLIENTQCTL" --socket "$S" flush >"$W/flush.out" 2>&1 ||
    fail "root's flush" "$(cat "$W/flush.out")"
queue_empty() { [ -z "$(find "$Q" -name 'qf*' -print -quit)" ]; }
wait_for_s 100 queue_empty || fail "the queue drained" "$(find "$Q" -name 'qf*' | wc -l) control files left"
echo "# drained in $(($(date +%s) - t0)) s"
kill "$SPID"
wait "$SPID"
sed -n 's/^A [0-9]* <[0-9]*\.\([0-9A-Za-z]\{14\}\)@host\.test> .*/\1/p' "$W/sink.record" |
    sort >"$W/delivered"
got=$(grep -c '^A ' "$W/sink.record")
twice=$(uniq -d "$W/delivered" | head -n 3 | tr '\n' ' ')
if [ "$got" -eq "$total" ] && cmp -s "$W/queued" "$W/delivered"; then
	ok "all $total messages delivered, each once"
else
	fail "$got messages accepted by the relay for $total queued" "twice: ${twice:-none}" \
	    "missing: $(comm -23 "$W/queued" "$W/delivered" | head -n 3 | tr '\n' ' ')"
fi
kill "$DPID"
wait "$DPID"
check "the daemon stops with 0" test $? -eq 0
it_finish

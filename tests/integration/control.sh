#!/bin/sh
# The control socket and clientqctl, against a daemon on a queue that real
# sendmail fills, as root, as the runner's user (smmsp) and as two
# ordinary users (made for the test, clientqctl run under setpriv):
# - status, list (each user their own; root everything, the same listing
#   as --offline), show, stats (text, JSON, Prometheus), check (plugin
#   exit codes and perfdata), pause/resume/reload/hold/release/remove
#   (root and smmsp only; logged with who asked), flush (rate-limited for
#   users; --wait reports each message's outcome, delivered or deferred);
# - protocol errors: another version, an unknown command or argument;
# - no daemon: exit 69 and the --offline hint; check says UNKNOWN (3);
# - the daemon started by systemd-socket-activate on the first
#   connection, its socket passed as LISTEN_FDS.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: needs setpriv"; exit 77; }
[ -d /etc/mail ] || { echo "SKIP: needs /etc/mail (sendmail-bin)"; exit 77; }
it_setup
it_user cqalice || { echo "SKIP: cannot add users"; exit 77; }
it_user cqbob || { echo "SKIP: cannot add users"; exit 77; }
RUNNER=$IT_RUNNER
# In a directory of the runner's user, as /run/sendmail-clientq is, so
# that the daemon can remove the socket when it stops.
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
S=$W/run/control

# as, expect: it_ctl, it_ctl_expect (lib.sh).
as() { it_ctl "$@"; }
expect() { it_ctl_expect "$@"; }
logged() { grep -Eq -- "$1" "$W/daemon.log"; }

start_daemon() {
	"$RUNNER" -C "$CF" --control "$S" -L cq-ctl "$@" 2>>"$W/daemon.log" &
	DPID=$!
	IT_PIDS="$IT_PIDS $DPID"
	wait_for test -S "$S"
}
stop_daemon() {
	kill "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
}

# ------------------------------------------------ a queue of four users
# The relay is down: everything stays queued.
: >"$W/daemon.log"
start_daemon
check "the daemon makes its control socket" test -S "$S"
printf 'Subject: a1\n\nx\n' | sm_as cqalice -odq x1@example.test
printf 'Subject: a2\n\nx\n' | sm_as cqalice -odq x2@example.test
printf 'Subject: b1\n\nx\n' | sm_as cqbob -odq y1@example.test
r=$(submit root1@example.test)
qf_of() { grep -l "^S$1\$" "$Q"/qf* | sed 's|.*/qf||'; }
a_ids=$(qf_of cqalice | sort | tr '\n' ' ')
b_id=$(qf_of cqbob)
a1=${a_ids%% *}
check "four messages queued by alice (2), bob and root" \
    test "$(ls "$Q" | grep -c '^qf')" -eq 4 -a -n "$b_id" -a -n "$r" -a -n "$a1"

as root status
expect "status: one line, running, 4 queued, relay down" 0 '^running: 4 queued; relay \[127\.0\.0\.1\]:[0-9]+ down for '

# ------------------------------------------------ list
as root list
cp "$W/out" "$W/root-list"
TZ=UTC "$CLIENTQCTL" list --offline -q "$Q" >"$W/offline" 2>/dev/null
if [ "$rc" -eq 0 ] && TZ=UTC "$CLIENTQCTL" --socket "$S" list | cmp -s - "$W/offline"; then
	ok "root's list is the --offline listing, byte for byte"
else
	fail "root's list is the --offline listing" "$(TZ=UTC "$CLIENTQCTL" --socket "$S" list | diff "$W/offline" -)"
fi
as cqalice list
n_a=$(grep -c '^6' "$W/out")
if [ "$rc" -eq 0 ] && [ "$n_a" -eq 2 ] && grep -q 'Total requests: 2' "$W/out" &&
    ! grep -q "$b_id\|$r" "$W/out"; then
	ok "alice lists her two messages and nobody else's"
else
	fail "alice's list" "rc=$rc" "$(cat "$W/out")"
fi
# Bash completion offers a user's own queue IDs, from the daemon's listing.
setpriv --reuid=cqalice --regid="$(id -g cqalice)" --clear-groups bash -c '
	. "$1"
	COMP_WORDS=("$2" --socket "$3" show "")
	COMP_CWORD=4
	_clientqctl
	printf "%s\n" "${COMPREPLY[@]}"' bash "$top_srcdir/contrib/bash-completion/clientqctl" \
    "$CLIENTQCTL" "$S" 2>&1 | sort | tr '\n' ' ' >"$W/compl"
[ "$(cat "$W/compl")" = "$a_ids" ] && ok "bash completion of show offers alice her own two queue IDs" ||
    fail "completion of queue IDs" "wanted: $a_ids" "got: $(cat "$W/compl")"
as cqbob list --json
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
v = [json.loads(l) for l in open(sys.argv[1])]
assert [e["queue_id"] for e in v] == [sys.argv[2]], v
' "$W/out" "$b_id"; then
	ok "bob's list --json (JSON Lines) has his one message"
else
	fail "bob's list --json" "$(cat "$W/out" "$W/err")"
fi
as cqbob list --json-array
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert [e["id"] for e in v] == [sys.argv[2]], v
' "$W/out" "$b_id"; then
	ok "bob's list --json-array (the old array) has his one message"
else
	fail "bob's list --json-array" "$(cat "$W/out" "$W/err")"
fi
as cqalice list --all
expect "list --all is refused for alice, saying why" 1 'only root and .* see every message' err
as smmsp list --all
expect "the runner's user lists everything with --all" 0 'Total requests: 4'

# ------------------------------------------------ show
as cqalice show "$a1"
expect "alice shows her message: sender, tries, next try, recipients" 0 '^Sender: +cqalice$'
grep -q '^Next try: ' "$W/out" && grep -Eq '^  x[12]@example\.test$' "$W/out" &&
    ok "show has the next try and the recipient" || fail "show's fields" "$(cat "$W/out")"
as cqalice show "$b_id"
expect "alice cannot show bob's message" 1 "$b_id: no message of yours has this queue ID" err
as cqalice show 6AP6QvQA999999
expect "alice is told the same of a queue ID that does not exist" 1 "6AP6QvQA999999: no message of yours has this queue ID" err
as root show "$b_id"
expect "root shows bob's message, owner cqbob" 0 '^File owner: +cqbob$'
as root show 6AP6QvQA999999
expect "show of a message that is not there: refused" 1 'no such message' err

# ------------------------------------------------ admin commands
as cqalice pause
expect "alice cannot pause" 1 'pause: only root and smmsp may do that \(you are cqalice\)' err
as smmsp pause
expect "smmsp pauses" 0 '^delivery paused'
as root status
expect "status says paused" 0 '^paused: '
logged 'delivery paused by uid [0-9]+ \(smmsp\), pid [0-9]+' &&
    ok "the pause is logged with who asked" || fail "pause logged" "$(cat "$W/daemon.log")"
as root resume
expect "root resumes" 0 '^delivery resumed; 4 queued'
# A user renamed: the loop names users from a cache (ten minutes), which
# a reload empties.
it_user cqren || { echo "SKIP: cannot add users"; exit 77; }
as cqren pause
expect "a user's name comes from NSS" 1 '\(you are cqren\)' err
usermod -l cqren2 cqren && groupmod -n cqren2 cqren && IT_USERS="$IT_USERS cqren2"
as cqren2 pause
expect "renamed, the user is still named from the cache" 1 '\(you are cqren\)' err
as cqbob reload
expect "bob cannot reload" 1 'only root' err
as root reload
expect "root reloads" 0 'reloading'
wait_for logged 'reloaded .*submit\.cf'
logged 'reload requested by uid 0 \(root\)' && logged 'reloaded ' &&
    ok "the reload is logged, requested and done" || fail "reload logged" "$(cat "$W/daemon.log")"
as cqren2 pause
expect "after the reload the user's new name is asked of NSS" 1 '\(you are cqren2\)' err

as root hold "$r" --comment "look at it"
expect "root holds a message" 0 "$r: held"
if [ -f "$Q/hf$r" ] && [ ! -f "$Q/qf$r" ] && grep -qx 'qlook at it' "$Q/hf$r" &&
    [ -f "$Q/df$r" ]; then
	ok "held: qf became hf with the q line, as sendmail's quarantine, df kept"
else
	fail "held file" "$(ls -l "$Q")"
fi
as root list
grep -q "$r" "$W/out" && fail "a held message is not listed" "$(cat "$W/out")" ||
    ok "a held message is not listed (as mailq without -qQ)"
as root list --json
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
v = {e["queue_id"]: e for e in map(json.loads, open(sys.argv[1]))}
e = v[sys.argv[2]]
assert e["queue_name"] == "hold" and e["clientq_hold_reason"] == "look at it", e
assert len(v) == 4, v
' "$W/out" "$r"; then
	ok "list --json shows the held message as postqueue -j does: queue_name hold, with the reason"
else
	fail "held message in list --json" "$(cat "$W/out" "$W/err")"
fi
as cqbob list --json
grep -q "$r" "$W/out" && fail "bob sees root's held message" "$(cat "$W/out")" ||
    ok "bob's list --json leaves root's held message out"
as cqalice release "$r"
expect "alice cannot release root's held message, and is not told it exists" 1 "$r: no message of yours has this queue ID" err
as root release "$r"
expect "root releases it" 0 "$r: released"
[ -f "$Q/qf$r" ] && [ ! -f "$Q/hf$r" ] && ! grep -q '^q' "$Q/qf$r" &&
    ok "released: qf again, no q line" || fail "released file" "$(ls -l "$Q")"
as cqbob remove "$a1"
expect "bob cannot remove alice's message" 1 "$a1: no message of yours has this queue ID" err
[ -e "$Q/qf$a1" ] && ok "alice's message is still there" || fail "a1 removed by bob" "$(ls -l "$Q")"
as cqbob requeue "$b_id"
expect "bob cannot requeue, even his own" 1 'requeue: only root and smmsp' err
as cqbob remove "$b_id"
expect "bob removes his own message" 0 "$b_id: removed"
[ ! -e "$Q/qf$b_id" ] && [ ! -e "$Q/df$b_id" ] && ok "its qf and df are gone" ||
    fail "removed files" "$(ls -l "$Q")"
logged "$b_id: removed by uid [0-9]+ \\(cqbob\\), pid [0-9]+" &&
    ok "the removal is logged with who asked" || fail "removal logged" "$(cat "$W/daemon.log")"
logged "remove of 1 message requested by uid [0-9]+ \\(cqbob\\), pid [0-9]+: 1 done, 0 left" &&
    ok "the request is logged once, with the count" || fail "request logged" "$(cat "$W/daemon.log")"

# ------------------------------------------------ stats and check
as cqalice stats --prometheus
if [ "$rc" -eq 0 ] && python3 "$top_srcdir/tests/tools/promcheck.py" "$W/out" \
    clientq_queued_messages=3 clientq_relay_up=0 clientq_paused=0; then
	ok "stats --prometheus: valid exposition format, 3 queued, relay down"
else
	fail "stats --prometheus" "$(cat "$W/out" "$W/err")"
fi
# promtool: on PATH, or unpacked from Debian's prometheus package by
# tests/install-deps.
PROMTOOL=$(command -v promtool 2>/dev/null || echo /var/cache/clientq-tests/promtool/usr/bin/promtool)
if [ -x "$PROMTOOL" ]; then
	"$PROMTOOL" check metrics <"$W/out" >"$W/promtool" 2>&1 && [ ! -s "$W/promtool" ] &&
	    ok "promtool check metrics accepts it, without a complaint" ||
	    fail "promtool check metrics" "$(cat "$W/promtool")"
else
	echo "# promtool missing (tests/install-deps unpacks it): the format checked by promcheck.py only"
fi
as root stats --json
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert v["queued"] == 3 and v["relay_up"] is False and v["paused"] is False, v
assert len(v["latency"]["buckets"]) == 10, v
' "$W/out"; then
	ok "stats --json parses: 3 queued"
else
	fail "stats --json" "$(cat "$W/out" "$W/err")"
fi
as root stats
expect "stats (text)" 0 '^queued: +3 '
as cqbob check --warn 5 --crit 10
expect "check: OK below --warn, with perfdata" 0 '^CLIENTQ OK - 3 messages queued; relay down \| queued=3;5;10;0 oldest=[0-9]+s;;;0$'
as cqbob check --warn 3 --crit 10
expect "check: WARNING at --warn" 1 '^CLIENTQ WARNING - 3 messages queued'
as cqbob check --warn 1 --crit 2
expect "check: CRITICAL at --crit" 2 '^CLIENTQ CRITICAL - '
as cqbob check --warn 1 --crit 2 --age 3600
expect "check --age: none older than an hour, OK" 0 '^CLIENTQ OK - 0 messages older than 3600 s \(3 queued\)'
as cqbob check --warn 5 --crit 1
expect "check with --warn above --crit: UNKNOWN" 3 '^CLIENTQ UNKNOWN - usage'

# ------------------------------------------------ flush
as cqbob flush "$a1"
expect "bob cannot flush alice's message" 1 "$a1: no message of yours has this queue ID" err
as cqalice flush
expect "alice flushes" 0 'due now'
as cqalice flush
expect "alice's second flush within 10 s: rate-limited, 75" 75 'one flush every 10 s per user; try again in' err
logged 'flush: every message is due now \(requested by uid [0-9]+ \(cqalice\)' &&
    ok "the flush is logged with who asked" || fail "flush logged" "$(cat "$W/daemon.log")"
as root flush --wait
expect "flush --wait with the relay down: each deferred, exit 75" 75 ': deferred: relay unreachable: Connection refused'
[ "$(grep -c ': deferred: ' "$W/out")" -eq 3 ] && grep -q '0 delivered, 3 deferred' "$W/err" &&
    ok "one outcome line per message and the summary" || fail "flush --wait lines" "$(cat "$W/out" "$W/err")"
as root flush --wait --sender cqalice
expect "flush --wait --sender: alice's two messages, deferred" 75 ': deferred: relay unreachable'
[ "$(grep -c ': deferred: ' "$W/out")" -eq 2 ] && grep -q "^$a1: " "$W/out" &&
    ok "--sender selects alice's two" || fail "--sender selection" "$(cat "$W/out" "$W/err")"
as root flush --recipient x2@EXAMPLE.test
expect "flush --recipient (case aside): one message due" 0 '^1 message due now'

it_recorder_start "$PORT" "$W/rec"
as smmsp flush --wait "$a1"
expect "flush --wait of one message with the relay back: delivered, exit 0, with the relay's queue ID" 0 \
    "^$a1: delivered: 1 recipient \\(MTA queue ID R[0-9]+\\.[0-9]+\\)\$"
grep -q '1 delivered, 0 deferred, 0 bounced' "$W/out" &&
    ok "summary: 1 delivered" || fail "summary" "$(cat "$W/out" "$W/err")"
[ ! -e "$Q/qf$a1" ] && ok "that message is gone from the queue" || fail "a1 still queued"
as root flush --recipient nobody@nowhere.test
expect "flush --recipient matching nothing: refused" 1 'no queued message matches' err
wait_for test ! -e "$Q/qf$r"
as root stats --prometheus
python3 "$top_srcdir/tests/tools/promcheck.py" "$W/out" clientq_queued_messages=0 \
    'clientq_messages_total{outcome="delivered"}=3' clientq_relay_up=1 \
    clientq_delivery_latency_seconds_count=3 &&
    ok "counters: 3 delivered, latency histogram counts 3, relay up" ||
    fail "counters after delivery" "$(cat "$W/out")"

# A partial delivery names the relay's queue ID of what it took: one
# recipient refused for good (bounced), one for now (deferred).  Queued
# with the relay away, so that the flush is what delivers them.
it_recorder_stop "$W/rec"
p1=$(submit good1@example.test bad@example.test)
p2=$(submit good2@example.test soft@example.test)
wait_for logged "$p1: to=.*stat=Deferred"
it_recorder_start "$PORT" "$W/rec-partial" --fail-rcpt bad@example.test \
    --reply 'rcpt/soft@=451 4.3.0 Try again later'
as root flush --wait "$p1" "$p2"
expect "flush --wait: a partial bounce names the relay's queue ID of the others" 75 \
    "^$p1: bounced: 1 recipient failed \\(the others delivered, MTA queue ID R[0-9]+\\.[0-9]+\\): "
expect "flush --wait: a partial deferral names it too" 75 \
    "^$p2: deferred: partly delivered \\(MTA queue ID R[0-9]+\\.[0-9]+\\); "
as root remove "$p2"
wait_for test -z "$(ls "$Q")"
it_recorder_stop "$W/rec-partial"
it_recorder_start "$PORT" "$W/rec"

# ------------------------------------------------ protocol errors
raw() { python3 "$top_srcdir/tests/tools/ctl-client.py" "$S" "$@"; }
raw send 'CLIENTQ/2 status' >"$W/raw"
grep -qx 'BAD this daemon speaks CLIENTQ/1' "$W/raw" && ok "another version: BAD naming ours" ||
    fail "version" "$(cat "$W/raw")"
raw send 'CLIENTQ/1 frobnicate' >"$W/raw"
grep -qx "BAD unknown command 'frobnicate'" "$W/raw" && ok "unknown command: BAD" ||
    fail "unknown command" "$(cat "$W/raw")"
raw send 'CLIENTQ/1 list colour=red' >"$W/raw"
grep -qx "BAD list: unknown argument 'colour'" "$W/raw" && ok "unknown argument: BAD" ||
    fail "unknown argument" "$(cat "$W/raw")"
as root frobnicate
expect "clientqctl: unknown command is a usage error (2)" 2 "unknown command 'frobnicate'" err

# ------------------------------------------------ where the socket is
# Without --control or --socket: both programs take CLIENTQ_SOCKET (this
# file's own daemons and clientqctl calls use explicit paths; lib.sh set
# the variable to a path of this test's).
stop_daemon
"$RUNNER" -C "$CF" -L cq-env 2>>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for test -S "$CLIENTQ_SOCKET"
"$CLIENTQCTL" status >"$W/out" 2>"$W/err"
rc=$?
expect "CLIENTQ_SOCKET: the daemon makes its socket there, clientqctl finds it" 0 '^running: '
# clientqctl with neither: clientq.conf's daemon.control (the daemon's own
# setting), read in a private mount namespace with a clientq.conf there.
mkdir "$W/conf-dir"
printf '# the tests'"'"' clientq.conf\ndaemon.control = %s\n' "$CLIENTQ_SOCKET" >"$W/conf-dir/clientq.conf"
env -u CLIENTQ_SOCKET unshare -m --propagation private sh -c \
    'mount --bind "$1" /etc/mail && exec "$2" status' sh "$W/conf-dir" "$CLIENTQCTL" \
    >"$W/out" 2>"$W/err"
rc=$?
expect "clientqctl without --socket or CLIENTQ_SOCKET: clientq.conf's daemon.control" 0 '^running: '
stop_daemon
S=$W/run/control

# ------------------------------------------------ no daemon
stop_daemon
check "the socket is removed when the daemon stops" test ! -e "$S"
as cqalice list
expect "no daemon: list exits 69 and suggests --offline" 69 "list --offline" err
as root check --warn 1 --crit 2
expect "no daemon: check is UNKNOWN (3)" 3 '^CLIENTQ UNKNOWN - cannot reach clientq-runner'

# ------------------------------------------------ socket activation
SA=$W/activated
if command -v systemd-socket-activate >/dev/null 2>&1; then
	systemd-socket-activate -l "$SA" "$RUNNER" -C "$CF" -L cq-sa 2>>"$W/daemon.log" &
	SAPID=$!
	IT_PIDS="$IT_PIDS $SAPID"
	wait_for test -S "$SA"
	chmod 0666 "$SA"
	submit late@example.test >/dev/null
	# The first connection starts the daemon; it answers on the
	# passed socket.
	setpriv --reuid=cqalice --regid="$(id -g cqalice)" --clear-groups \
	    "$CLIENTQCTL" --socket "$SA" status >"$W/out" 2>"$W/err"
	rc=$?
	expect "socket activation: the first clientqctl call starts the daemon and is answered" 0 '^running: '
	logged 'cq-sa\[[0-9]+\]: control socket passed by the service manager' &&
	    ok "the daemon took the passed socket" || fail "passed socket" "$(cat "$W/daemon.log")"
	S=$SA
	wait_for test -z "$(ls "$Q")"
	as root stats --json
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert v["delivered_total"] == 1, v' \
	    "$W/out" && ok "socket-activated daemon delivered the waiting message" ||
	    fail "activated delivery" "$(cat "$W/out" "$W/err")"
	kill "$SAPID"
	wait "$SAPID" 2>/dev/null
else
	echo "# systemd-socket-activate missing: socket activation not tested"
fi
it_recorder_stop "$W/rec"
it_finish

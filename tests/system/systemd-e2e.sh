#!/bin/sh
# The product's front door under a real systemd: a Debian bookworm
# container (debootstrap, cached; booted with systemd-nspawn) with Debian's
# sendmail as MSP and MTA, and this build installed by `make install`:
# - systemctl enable --now sendmail-clientq: service, socket and timer;
# - mail an ordinary user submits while the MTA is stopped waits in the
#   client queue; clientqctl list shows each user only their own;
# - the MTA starts (with sendmail-clientq-mta@sendmail enabled): the mail
#   is out of the client queue within 2 s, and in the recipient's mailbox;
# - journalctl -o json has the structured fields of the delivery;
# - clientqctl trace prints the Sent line and the MTA's lines for the
#   queue ID it gave the message, from the journal;
# - a stalled loop is killed by the watchdog and the service restarted;
# - the timer is listed, fires the flush, and the flush starts the
#   stopped daemon through the socket; so does a user's clientqctl call;
# - clientq-runner --check warns that sendmail's own runner is scheduled;
# - the metrics socket, once enabled, answers GET /metrics on 127.0.0.1 and
#   [::1] port 9734 through its hardened per-connection service;
# - systemctl stop is clean; systemd-analyze security's score is printed.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/system/container.sh"
it_long
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (debootstrap, systemd-nspawn)"; exit 77; }
for t in debootstrap systemd-nspawn nsenter unshare flock python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: needs $t (tests/install-deps)"; exit 77; }
done
# This build's programs run inside the container: a sanitizer build needs
# its runtime there, and a build installed under a private prefix (make
# distcheck) puts its units where the container's systemd does not look.
if [ -n "${CQ_SAN:-}" ]; then
	echo "SKIP: a sanitizer build (the system test runs with the plain build)"
	exit 77
fi
case ${CQ_UNITDIR:-} in
/lib/systemd/system | /usr/lib/systemd/system | /etc/systemd/system) ;;
*)
	echo "SKIP: units configured for '${CQ_UNITDIR:-}', not a directory systemd searches"
	exit 77
	;;
esac
IT_TIMEOUT=${IT_TIMEOUT:-600}
it_watchdog
W=$(mktemp -d)
cleanup() {
	ct_stop
	# CQ_KEEP=1 keeps the test's files (journal, listings) to look at.
	[ -n "${CQ_KEEP:-}" ] && echo "# kept $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# in_list FILE ID...: every ID starts a line of FILE.
in_list() {
	_f=$1
	shift
	for _i in "$@"; do grep -q "^$_i" "$_f" || return 1; done
}

ROOT=$(ct_rootfs) || { fail "the container's root could not be made"; it_finish; }
ok "a bookworm root with systemd and sendmail ($ROOT)"
${MAKE:-make} -s -C "$top_builddir" install DESTDIR="$W/dest" >"$W/install.log" 2>&1 ||
    { fail "make install" "$(tail -n 20 "$W/install.log")"; it_finish; }
ok "make install DESTDIR=... (the units into $CQ_UNITDIR)"
ct_boot "$ROOT" "$W/console.log" || { fail "boot" "$(tail -n 30 "$W/console.log")"; it_finish; }
ok "the container booted (systemd $(ct systemctl --version | sed -n '1s/systemd \([0-9]*\).*/\1/p'))"
# merged /usr: keep /lib a symlink while the tree goes in.
tar -C "$W/dest" -cf - . | ct tar -C / --keep-directory-symlink -xf - ||
    fail "copying the installed tree in"
ct_sh 'systemctl daemon-reload && systemd-sysusers && systemd-tmpfiles --create clientq-runner.conf &&
    journalctl --update-catalog' >"$W/setup.log" 2>&1 || fail "daemon-reload, sysusers, tmpfiles" "$(cat "$W/setup.log")"
ct_sh 'useradd -m cqalice && useradd -m cqbob' || fail "users"
QDIR=$(ct sed -n 's/^O QueueDirectory=//p' /etc/mail/submit.cf)

# ------------------------------------------------ enable --now
ct systemctl stop sendmail.service
ct systemctl enable --now sendmail-clientq >"$W/enable.out" 2>&1
st=$(ct systemctl is-enabled sendmail-clientq.service sendmail-clientq.socket \
    sendmail-clientq.timer | tr '\n' ' ')
[ "$st" = "enabled enabled enabled " ] &&
    ok "systemctl enable sendmail-clientq enables the service, the socket and the timer" ||
    fail "enable" "is-enabled: $st" "$(cat "$W/enable.out")"
wait_until 10 'ct systemctl is-active --quiet sendmail-clientq.service' &&
    ok "the service is active (Type=notify: READY=1 arrived)" ||
    fail "service active" "$(ct systemctl status sendmail-clientq --no-pager 2>&1)"
st=$(ct systemctl is-active sendmail-clientq.socket sendmail-clientq.timer | tr '\n' ' ')
[ "$st" = "active active " ] && ok "and --now started the socket and the timer with it" ||
    fail "socket and timer started" "is-active: $st"
ct journalctl -u sendmail-clientq --no-pager | grep -q 'control socket passed by the service manager' &&
    ok "the daemon was handed the socket unit's socket" || fail "socket passed"
show() { ct systemctl show -p "$2" --value "$1"; }
[ "$(show sendmail-clientq User)" = smmsp ] && [ "$(show sendmail-clientq WatchdogUSec)" = 30s ] &&
    ok "it runs as smmsp with a 30 s watchdog" ||
    fail "User/WatchdogUSec" "$(show sendmail-clientq User) $(show sendmail-clientq WatchdogUSec)"
pid=$(show sendmail-clientq MainPID)
[ "$(ct stat -c %U "/proc/$pid")" = smmsp ] && ok "the daemon's process belongs to smmsp" ||
    fail "daemon's user" "$(ct ps -o user,pid,args -p "$pid")"

# Migration: Debian's sendmail still schedules its own client-queue runner
# (the cron-msp line): --check says so, and how to turn it off.
ct clientq-runner --check >"$W/check.out" 2>&1
rc=$?
grep -q '^warning other-runner-cron /etc/cron.d/sendmail: .*cron-msp' "$W/check.out" &&
    grep -q '^warning other-runner-debian .*MSP_MODE=Cron.*set MSP_MODE="None"' "$W/check.out" &&
    ! grep -q '^error' "$W/check.out" && [ "$rc" -eq 1 ] &&
    ok "clientq-runner --check warns that sendmail's cron runner is still scheduled, and how to stop it (exit 1)" ||
    fail "--check in the container (exit $rc)" "$(cat "$W/check.out")"

# ------------------------------------------------ mail waits while the MTA is down
submit_as() { # USER RCPT SUBJECT
	printf 'Subject: %s\n\nfrom %s, waiting for the MTA\n' "$3" "$1" |
	    ct setpriv --reuid="$1" --regid="$1" --init-groups /usr/sbin/sendmail -oi "$2"
}
submit_as cqalice cqbob "e2e alice one" && submit_as cqalice cqbob "e2e alice two" &&
    submit_as cqbob cqalice "e2e bob one" ||
    fail "submission as ordinary users"
nq() { ct sh -c "ls '$QDIR' | grep -c '^qf'"; }
wait_until 10 '[ "$(nq)" -eq 3 ]' && ok "the three messages wait in the client queue ($QDIR)" ||
    fail "queued" "$(ct ls -l "$QDIR")"
# sendmail tried each once as it was submitted (N1): the daemon waits
# --retry-min before the next try, and says nothing meanwhile.
sleep 1
ct journalctl -u sendmail-clientq --no-pager >"$W/quiet.log"
[ "$(ct sh -c "grep -l '^N1\$' '$QDIR'/qf* | wc -l")" -eq 3 ] && ! grep -q 'Deferred' "$W/quiet.log" &&
    ok "the daemon leaves them to their backoff, quietly (no attempt, no line per message)" ||
    fail "quiet backoff" "$(cat "$W/quiet.log")"
# A flush tries the relay at once: down, one line for all of them.
ct clientqctl flush >/dev/null
wait_until 10 "ct journalctl -u sendmail-clientq --no-pager | grep -q 'unreachable: .*; 3 messages waiting'" &&
    ok "after a flush: one line, the relay unreachable, 3 messages waiting" ||
    fail "relay down line" "$(ct journalctl -u sendmail-clientq --no-pager | tail -n 20)"
ct setpriv --reuid=cqalice --regid=cqalice --init-groups clientqctl list >"$W/alice.list" 2>&1
alice_ids=$(ct sh -c "grep -l '^Scqalice\$' '$QDIR'/qf* | sed 's|.*/qf||'" | sort | tr '\n' ' ')
bob_id=$(ct sh -c "grep -l '^Scqbob\$' '$QDIR'/qf* | sed 's|.*/qf||'")
# shellcheck disable=SC2086
if grep -q 'Total requests: 2' "$W/alice.list" && ! grep -q "$bob_id" "$W/alice.list" &&
    in_list "$W/alice.list" $alice_ids; then
	ok "clientqctl list as cqalice: her two messages and not bob's"
else
	fail "alice's list" "alice: $alice_ids bob: $bob_id" "$(cat "$W/alice.list")"
fi
ct setpriv --reuid=cqbob --regid=cqbob --init-groups clientqctl list >"$W/bob.list" 2>&1
grep -q 'Total requests: 1' "$W/bob.list" && grep -q "^$bob_id" "$W/bob.list" &&
    ok "clientqctl list as cqbob: his one message" || fail "bob's list" "$(cat "$W/bob.list")"
ct setpriv --reuid=cqbob --regid=cqbob --init-groups clientqctl pause >"$W/out" 2>&1
[ $? -eq 1 ] && grep -q 'only root and smmsp' "$W/out" && ok "cqbob may not pause" ||
    fail "bob pause" "$(cat "$W/out")"

# ------------------------------------------------ the metrics endpoint
# Opt-in: enabled here as an administrator enables it.  Each connection
# starts one sendmail-clientq-metrics@ instance as a user made for it
# (DynamicUser=), with no socket family but AF_UNIX and IPAddressDeny=any:
# it must still answer on the TCP connection it was handed, and reach the
# control socket.
scrape() { # ADDRESS REQUEST-LINE: the answer, without CRs
	ct bash -c 'exec 3<>"/dev/tcp/$1/9734" && printf "%s\r\nHost: e2e\r\n\r\n" "$2" >&3 &&
	    timeout 60 cat <&3' sh "$1" "$2" | tr -d '\r'
}
ct systemctl enable --now sendmail-clientq-metrics.socket >"$W/metrics-enable.out" 2>&1
[ "$(ct systemctl is-active sendmail-clientq-metrics.socket)" = active ] &&
    ok "sendmail-clientq-metrics.socket enabled and listening" ||
    fail "metrics socket" "$(cat "$W/metrics-enable.out")" \
    "$(ct systemctl status sendmail-clientq-metrics.socket --no-pager 2>&1)"
scrape 127.0.0.1 'GET /metrics HTTP/1.1' >"$W/metrics.v4"
grep -qx 'HTTP/1.1 200 OK' "$W/metrics.v4" && grep -qx 'clientq_queued_messages 3' "$W/metrics.v4" &&
    [ "$(grep -c '^clientq_showq_message_age_seconds_count{queue=' "$W/metrics.v4")" -eq 4 ] &&
    ok "GET http://127.0.0.1:9734/metrics: 200, 3 queued, the age histogram by queue" ||
    fail "scrape on 127.0.0.1" "$(cat "$W/metrics.v4")" \
    "$(ct journalctl --no-pager -n 20 -u 'sendmail-clientq-metrics@*')"
scrape ::1 'GET /metrics HTTP/1.0' >"$W/metrics.v6"
grep -qx 'HTTP/1.1 200 OK' "$W/metrics.v6" && grep -qx 'clientq_queued_messages 3' "$W/metrics.v6" &&
    ok "and on [::1]:9734" || fail "scrape on ::1" "$(cat "$W/metrics.v6")"
scrape 127.0.0.1 'GET /other HTTP/1.1' >"$W/metrics.404"
grep -qx 'HTTP/1.1 404 Not Found' "$W/metrics.404" && ok "another path: 404" ||
    fail "metrics 404" "$(cat "$W/metrics.404")"
wait_until 10 '[ -z "$(ct systemctl list-units --all --no-legend "sendmail-clientq-metrics@*")" ]' &&
    ok "no instance is left behind after the scrapes" ||
    fail "metrics instances left" "$(ct systemctl list-units --all --no-legend 'sendmail-clientq-metrics@*')"

# ------------------------------------------------ the MTA starts
ct systemctl enable sendmail-clientq-mta@sendmail.service >/dev/null 2>&1
[ "$(ct systemctl is-enabled sendmail-clientq-mta@sendmail.service)" = enabled ] &&
    ok "sendmail-clientq-mta@sendmail enabled (sendmail.service wants it)" ||
    fail "mta hook enable"
ct systemctl start sendmail.service
t0=$(now_ms)
if wait_until 10 '[ "$(nq)" -eq 0 ]'; then
	took=$(($(now_ms) - t0))
	echo "# the client queue was empty ${took} ms after sendmail.service had started"
	[ "$took" -le 2000 ] && ok "the MTA started: the waiting mail is out within 2 s (${took} ms)" ||
	    fail "the waiting mail took ${took} ms, more than 2 s"
else
	fail "the waiting mail is still queued 10 s after the MTA started" "$(ct ls -l "$QDIR")" \
	    "$(ct journalctl -u sendmail-clientq --no-pager | tail -n 20)"
fi
ct journalctl -u sendmail-clientq-mta@sendmail.service --no-pager >"$W/hook.log" 2>&1
wait_until 10 '[ "$(ct cat /var/mail/cqbob | grep -c "^Subject: e2e alice")" -eq 2 ]' &&
    wait_until 10 'ct cat /var/mail/cqalice | grep -q "^Subject: e2e bob one"' &&
    ok "sendmail delivered them to the mailboxes (/var/mail/cqbob: 2, /var/mail/cqalice: 1)" ||
    fail "mailboxes" "$(ct ls -l /var/mail)" "$(ct journalctl --no-pager -n 30)"
ct journalctl -u sendmail-clientq --no-pager | grep -q 'flush: every message is due now (requested by uid [0-9]* (smmsp)' &&
    ok "the flush came from the MTA hook, as smmsp" ||
    fail "hook flush" "$(cat "$W/hook.log")" "$(ct journalctl -u sendmail-clientq --no-pager | tail)"

# ------------------------------------------------ structured journal
a1=${alice_ids%% *}
ct journalctl -u sendmail-clientq -o json --no-pager >"$W/journal.json"
if python3 - "$W/journal.json" "$a1" <<'EOF'; then
import json, sys
want = sys.argv[2]
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("QUEUE_ID") != want or "DSN" not in e:
        continue
    assert e["DSN"] == "2.0.0", e
    assert e["STATUS"].startswith("Sent"), e
    assert e["RELAY"] and e["RECIPIENTS"] == "cqbob", e
    assert e["SYSLOG_IDENTIFIER"] == "sm-msp-queue", e
    assert e["MESSAGE"].startswith(want + ": to=cqbob"), e
    assert e["_SYSTEMD_UNIT"] == "sendmail-clientq.service", e
    sys.exit(0)
sys.exit(1)
EOF
	ok "journalctl -o json: the delivery of $a1 with QUEUE_ID, RECIPIENTS, RELAY, DSN, STATUS"
else
	fail "structured fields of $a1 (alice: $alice_ids)" "$(grep "$a1" "$W/journal.json" | head -n 5)" \
	    "$(ct journalctl -u sendmail-clientq --no-pager | tail -n 20)"
fi
# clientqctl trace (issue 21), as root, from the container's journal:
# the Sent line of $a1 (its QUEUE_ID= field, with MTA_QUEUE_ID=) and the
# lines Debian's sendmail MTA logged through syslog for the queue ID it
# gave the message (its reply in our line's text).
trace_ok() {
	ct clientqctl trace "$a1" >"$W/trace.out" 2>"$W/trace.err" || return 1
	mqid=$(sed -n "s/.* sm-msp-queue\[[0-9]*\]: $a1: to=cqbob, .*stat=Sent (\([0-9A-Za-z]*\) Message accepted for delivery)\$/\1/p" \
	    "$W/trace.out" | head -n 1)
	[ -n "$mqid" ] && grep -q " sm-mta\[[0-9]*\]: $mqid: from=" "$W/trace.out" &&
	    grep -q " sm-mta\[[0-9]*\]: $mqid: to=.*stat=Sent" "$W/trace.out"
}
if wait_until 10 trace_ok; then
	sed 's/^/# trace: /' "$W/trace.out"
	if ! grep -v -e " $a1: " -e " $mqid: " "$W/trace.out" | grep -q . &&
	    LC_ALL=C awk '{ t = $1 " " $2; if (t < last) bad = 1; last = t } END { exit bad }' "$W/trace.out" &&
	    grep -q "\"MTA_QUEUE_ID\" *: *\"$mqid\"" "$W/journal.json"; then
		ok "clientqctl trace $a1 from the journal: the Sent line and sendmail's lines for $mqid, in time order; MTA_QUEUE_ID=$mqid"
	else
		fail "trace from the journal: lines, order or MTA_QUEUE_ID" "$(cat "$W/trace.out")" \
		    "$(grep "$a1" "$W/journal.json" | head -n 5)"
	fi
else
	fail "clientqctl trace $a1 from the journal" "$(cat "$W/trace.out" "$W/trace.err")" \
	    "$(ct journalctl --no-pager -n 30)"
fi
ct journalctl -x -u sendmail-clientq --no-pager >"$W/journal.x" 2>&1
grep -q 'Subject: Relay .* is unreachable' "$W/journal.x" &&
    ok "journalctl -x explains the relay-down line from the catalog" ||
    fail "catalog text" "$(grep -i -A3 unreachable "$W/journal.x" | head)"

# ------------------------------------------------ the watchdog
# (CLIENTQ_TEST_STALL needs a build with --enable-test-hooks)
if it_test_hooks; then
	ct mkdir -p /run/systemd/system/sendmail-clientq.service.d
	printf '[Service]\nWatchdogSec=3\nEnvironment=CLIENTQ_TEST_STALL=1\n' |
	    ct tee /run/systemd/system/sendmail-clientq.service.d/stall.conf >/dev/null
	ct systemctl daemon-reload
	ct systemctl restart sendmail-clientq.service
	old=$(show sendmail-clientq MainPID)
	restarts=$(show sendmail-clientq NRestarts)
	ct systemctl kill --kill-who=main --signal=SIGUSR2 sendmail-clientq.service
	if wait_until 20 '[ "$(show sendmail-clientq NRestarts)" -gt "$restarts" ] &&
	    ct systemctl is-active --quiet sendmail-clientq'; then
		new=$(show sendmail-clientq MainPID)
		ct journalctl -u sendmail-clientq --no-pager >"$W/wd.log"
		if grep -q 'Watchdog timeout' "$W/wd.log" && grep -q "Failed with result 'watchdog'" "$W/wd.log" &&
		    [ "$new" != "$old" ]; then
			ok "a stalled loop: killed by the watchdog (3 s) and restarted (pid $old -> $new)"
		else
			fail "watchdog" "$(tail -n 15 "$W/wd.log")"
		fi
	else
		fail "no restart after the stall" "$(ct systemctl status sendmail-clientq --no-pager)"
	fi
	ct rm -f /run/systemd/system/sendmail-clientq.service.d/stall.conf
	ct systemctl daemon-reload
	ct systemctl restart sendmail-clientq.service
else
	echo "# SKIP: the watchdog case: a build without --enable-test-hooks cannot stall its loop"
fi

# ------------------------------------------------ the timer, the flush, activation
ct systemctl list-timers --all --no-pager >"$W/timers"
grep -q 'sendmail-clientq.timer.*sendmail-clientq-flush.service' "$W/timers" &&
    ok "systemctl list-timers lists sendmail-clientq.timer (-> sendmail-clientq-flush.service)" ||
    fail "timer listed" "$(cat "$W/timers")"
ct systemctl stop sendmail-clientq.service 2>/dev/null
[ "$(ct systemctl is-active sendmail-clientq.socket)" = active ] &&
    [ "$(ct systemctl is-active sendmail-clientq.service)" = inactive ] &&
    ok "the daemon stopped, its socket still listening" ||
    fail "stopped daemon, socket" "socket $(ct systemctl is-active sendmail-clientq.socket)," \
	"service $(ct systemctl is-active sendmail-clientq.service)" \
	"$(ct journalctl -n 20 --no-pager)"
ct mkdir -p /run/systemd/system/sendmail-clientq.timer.d
printf '[Timer]\nOnActiveSec=1s\nAccuracySec=1ms\n' |
    ct tee /run/systemd/system/sendmail-clientq.timer.d/soon.conf >/dev/null
ct systemctl daemon-reload
ct systemctl restart sendmail-clientq.timer
if wait_until 20 '[ "$(show sendmail-clientq-flush.service Result)" = success ] &&
    [ "$(show sendmail-clientq-flush.service ExecMainExitTimestampMonotonic)" != 0 ]' &&
    wait_until 10 'ct systemctl is-active --quiet sendmail-clientq.service'; then
	ok "the timer fired the flush, and the flush started the daemon through its socket"
else
	fail "timer -> flush -> activation" "$(ct journalctl -u sendmail-clientq-flush --no-pager)" \
	    "$(ct systemctl status sendmail-clientq --no-pager)"
fi
[ "$(show sendmail-clientq-flush.service Result)" = success ] &&
    ct journalctl -u sendmail-clientq --no-pager | grep -q 'control socket passed by the service manager' &&
    ok "the flush succeeded, on the socket systemd passed" ||
    fail "flush result" "$(show sendmail-clientq-flush.service Result)"
ct rm -f /run/systemd/system/sendmail-clientq.timer.d/soon.conf
ct systemctl daemon-reload
ct systemctl stop sendmail-clientq.service 2>/dev/null
ct setpriv --reuid=cqalice --regid=cqalice --init-groups clientqctl status >"$W/out" 2>&1
grep -q '^running: 0 queued' "$W/out" && ct systemctl is-active --quiet sendmail-clientq.service &&
    ok "an ordinary user's clientqctl status starts the stopped daemon and is answered" ||
    fail "activation by clientqctl" "$(cat "$W/out")"

# ------------------------------------------------ a clean stop
ct systemctl stop sendmail-clientq.service 2>/dev/null
r=$(show sendmail-clientq Result) x=$(show sendmail-clientq ExecMainStatus)
[ "$r" = success ] && [ "$x" = 0 ] && [ "$(ct systemctl is-active sendmail-clientq.service)" = inactive ] &&
    ok "systemctl stop is clean (Result=success, exit 0)" || fail "stop: Result=$r status=$x"
ct systemd-analyze security sendmail-clientq.service >"$W/security" 2>&1
echo "# inside the container: $(grep 'Overall exposure' "$W/security")"
grep -q 'Overall exposure level for sendmail-clientq.service: 1\.[0-5] \|Overall exposure level for sendmail-clientq.service: 0\.' "$W/security" &&
    ok "systemd-analyze security (online): at most 1.5" || fail "security" "$(tail -n 5 "$W/security")"
it_finish

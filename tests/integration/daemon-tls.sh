#!/bin/sh
# The daemon with clientq.conf: a TLS policy the relay does not meet, then
# fixed by a reload; the runner's own settings and what overrides them.
# - tls.policy = fingerprint with a pin the relay's certificate does not
#   have: the breaker opens with one journal entry of its own (MESSAGE_ID,
#   RELAY, REASON naming both fingerprints, WAITING), nothing is tried,
#   logged or rewritten per message, and the probes keep failing quietly;
# - the pin corrected in clientq.conf and SIGHUP: "reloaded" (which
#   closes the breaker, as any reload does), every message delivered
#   once, each session's STARTTLS entry
#   with its fields (TLS_VERSION, TLS_CIPHER, TLS_BITS, TLS_VERIFY,
#   TLS_POLICY, TLS_PEER_SHA256);
# - a reload with a broken clientq.conf keeps the running configuration,
#   naming the file and line; one that changes daemon.control is refused;
# - daemon.connections from the file, -O over the file, --connections
#   over both (the start-up line says how many).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/tls-lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "SKIP: needs the openssl command"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIP: needs unshare -m"; exit 77; }
it_setup
# This test sets the control socket in clientq.conf (daemon.control),
# which CLIENTQ_SOCKET would override.
unset CLIENTQ_SOCKET
RUNNER=$IT_RUNNER
check "the test's certificates are made" tls_make_certs "$W/certs"
FP=$(tls_fingerprint "$W/certs/mx.pem")
FP_WRONG=$(tls_fingerprint "$W/certs/wrong.pem")
KEYFP=$(tls_pubkey_fingerprint "$W/certs/mx.pem" | sed 's/../&:/g; s/:$//' | tr a-f A-F)

delivered() { cat "$1"/session-*.txt 2>/dev/null | grep -c '^DATA-BYTES'; }
queue_empty() { [ -z "$(ls "$Q")" ]; }
jentry() { it_jentry "$W/journal.json" "$@"; }

conf() { # the clientq.conf, with this pin
	cat >"$W/clientq.conf" <<EOF
# clientq-runner's own settings for daemon-tls.sh
daemon.connections = 3
daemon.probe-max = 2
daemon.control = none
tls.policy = fingerprint
tls.fingerprint = $1
EOF
}

it_recorder_start "$PORT" "$W/rec" --tls "$W/certs/mx.pem,$W/certs/mx.key"
conf "$FP_WRONG"
for i in 1 2 3; do
	submit "tls$i@example.test" >/dev/null
done
it_with_journal "$RUNNER" -C "$CF" --config "$W/clientq.conf" -L cq-test &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for test -s "$W/jsink.pid"
IT_PIDS="$IT_PIDS $(cat "$W/jsink.pid")"
check "start: 3 connections, from clientq.conf" wait_for jentry \
    "MESSAGE=watching .*: 3 messages queued; relay \\[127\\.0\\.0\\.1\\]:$PORT, 3 connections"
check "the pin does not match: one entry, its own MESSAGE_ID, both fingerprints" wait_for jentry \
    MESSAGE_ID=bb59956635a24133bb7e48ab26cc628f "RELAY=\\[127\\.0\\.0\\.1\\]:$PORT" WAITING=3 \
    "REASON=certificate fingerprint mismatch \\(certificate $FP, public key $KEYFP; neither is pinned\\)" \
    "MESSAGE=relay \\[127\\.0\\.0\\.1\\]:$PORT without TLS as tls.policy wants it: certificate fingerprint mismatch .*; 3 messages waiting"
sleep 5	# probes at 1, 2, 2 s
n=$(grep -c '^TLS-FAILED' "$W"/rec/session-*.txt | awk -F: '{ n += $2 } END { print n + 0 }')
check "the probes went on ($n refused handshakes in 5 s), nothing else" test "$n" -ge 2 -a "$n" -le 6
check "... one entry for all of it" \
    test "$(grep -c bb59956635a24133bb7e48ab26cc628f "$W/journal.json")" -eq 1
check "... nothing per message" sh -c "! grep -q 'to=tls' '$W/journal.json'"
check "... the files are not rewritten (N stays 0)" \
    sh -c "for f in '$Q'/qf*; do grep -aqx N0 \"\$f\" || exit 1; done"
check "... nothing delivered" test "$(delivered "$W/rec")" -eq 0

# A broken file: the running configuration stays.
printf 'tls.policy = fingerprint\ntls.fingerprnt = %s\n' "$FP" >"$W/clientq.conf"
kill -HUP "$DPID"
check "a broken clientq.conf is named with its line, and refused" wait_for jentry \
    "MESSAGE=$W/clientq.conf:2: unknown key 'tls.fingerprnt'"
check "... the running configuration stays" wait_for jentry \
    'MESSAGE=reload: .* has errors \(above\); the running configuration stays'
conf "$FP"
sed -i "s|^daemon.control = none\$|daemon.control = $W/other.sock|" "$W/clientq.conf"
kill -HUP "$DPID"
check "a new daemon.control needs a restart" wait_for jentry \
    "MESSAGE=reload: daemon.control changes \\($W/other.sock, was none\\); restart the runner for that; the running configuration stays"
check "... still nothing delivered" test "$(delivered "$W/rec")" -eq 0

# The right pin, and a reload.
conf "$FP"
kill -HUP "$DPID"
check "reloaded, with the policy and the connections" wait_for jentry \
    "MESSAGE=reloaded $CF and $W/clientq.conf: relay \\[127\\.0\\.0\\.1\\] \\[127\\.0\\.0\\.1\\]:$PORT, tls.policy fingerprint, 3 connections"
check "all three delivered" wait_for queue_empty
check "... each once" test "$(delivered "$W/rec")" -eq 3
check "STARTTLS=client entry with its fields" wait_for jentry \
    MESSAGE_ID=3850f986ae454b3abfc5607c51d442e4 'RELAY=\[127\.0\.0\.1\]' TLS_VERSION=TLSv1.3 \
    TLS_CIPHER=TLS_AES_256_GCM_SHA384 TLS_BITS=256/256 TLS_VERIFY=OK TLS_POLICY=fingerprint \
    "TLS_PEER_SHA256=$FP" 'TLS_PEER=CN=mx\.example\.test' PRIORITY=6 \
    'MESSAGE=STARTTLS=client, relay=\[127\.0\.0\.1\], version=TLSv1\.3, verify=OK, cipher=TLS_AES_256_GCM_SHA384, bits=256/256'
kill -TERM "$DPID"
wait "$DPID"
check "SIGTERM: exit 0" test $? -eq 0
kill "$(cat "$W/jsink.pid")" 2>/dev/null
check "nothing went to stderr" test ! -s "$W/stderr.log"

# What says how many connections: --connections, then -O, then the file.
start_line() { # ARGS...: the daemon's start-up line
	# Emptied here: the redirection below is made in the child, and the
	# wait must not find the last daemon's line before it is.
	: >"$W/start.log"
	"$RUNNER" -C "$CF" --config "$W/clientq.conf" "$@" 2>>"$W/start.log" &
	_p=$!
	wait_for grep -q 'watching ' "$W/start.log"
	kill -TERM "$_p"
	wait "$_p"
	sed -n 's/.*relay [^ ]*, \([0-9]*\) connections$/\1/p' "$W/start.log"
}
check "daemon.connections = 3 from the file" test "$(start_line)" = 3
check "-O daemon.connections=2 over the file" test "$(start_line -O daemon.connections=2)" = 2
check "--connections 1 over -O and the file" \
    test "$(start_line -O daemon.connections=2 --connections 1)" = 1
it_recorder_stop "$W/rec"
it_finish

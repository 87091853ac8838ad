#!/bin/sh
# STARTTLS as sendmail's MSP does it, and when it goes wrong: real sendmail
# queues a message, one copy is flushed by `sendmail -Ac -qf`, one by
# `clientq-runner --once` (default policy: may, no clientq.conf settings),
# each into the recording receiver offering STARTTLS (smtp-recorder.py
# --tls), which answers STARTTLS with 220 and a handshake, with 454, with
# 554, with 250 (neither), with 220 and then text that is no handshake, or
# with 220 and then nothing at all.  Both runners must say the same on the
# wire (STARTTLS, the handshake, EHLO again, ...), log the same result
# (dsn=, stat=, the STARTTLS=client line) and leave the same queue (sent,
# or requeued with the same M line).  The stalled handshake must end
# within Timeout.starttls (3 s here) and defer.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/tls-lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "SKIP: needs the openssl command"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner
check "the test's certificates are made" tls_make_certs "$W/certs"
EXT='PIPELINING,SIZE 52428800,8BITMIME,DSN,ENHANCEDSTATUSCODES'
TLS="$W/certs/mx.pem,$W/certs/mx.key"
: >"$W/empty.conf"
PORT_B=$(it_free_port)
[ "$PORT_B" != "$PORT" ] || PORT_B=$((PORT + 1))

# The delivery lines' outcome, and the STARTTLS=client line, without the
# tag and the queue ID.
outcome() {
	sed -n 's/.*\]: [^ ]*: to=.*\(dsn=[^,]*\), .*\(stat=.*\)$/\1 \2/p; s/.*\]: \(STARTTLS=client, relay=.*version=.*\)$/\1/p' "$1"
}

# fault LABEL [RECORDER-OPTION...]: the same message through both runners
# against a receiver with those options.
fault() {
	l=$1
	shift
	rm -f "$Q"/*
	id=$(submit "$l@example.test")
	for s in a b; do
		rm -rf "$W/q-$l-$s"
		cp -a "$Q" "$W/q-$l-$s"
	done
	it_make_cf "$W/q-$l-a" "$PORT" "$W/cf-$l-a"
	it_make_cf "$W/q-$l-b" "$PORT_B" "$W/cf-$l-b"
	it_recorder_start "$PORT" "$W/rec-$l-a" --ext "$EXT" --tls "$TLS" "$@" || return 1
	# sendmail's drain after a failed handshake waits Timeout.quit.
	sm_logged "$W/log-$l-a" -Ac -qf -C "$W/cf-$l-a" -O Timeout.starttls=3s \
	    -O Timeout.quit=2s >/dev/null 2>&1
	it_recorder_stop "$W/rec-$l-a"
	it_recorder_start "$PORT_B" "$W/rec-$l-b" --ext "$EXT" --tls "$TLS" "$@" || return 1
	t0=$(date +%s.%N)
	"$RUNNER" --once -C "$W/cf-$l-b" --config "$W/empty.conf" -O Timeout.starttls=3s \
	    >"$W/log-$l-b" 2>&1
	rc=$?
	took=$(echo "$t0 $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }')
	it_recorder_stop "$W/rec-$l-b"
	if cmp -s "$W/rec-$l-a/session-1.txt" "$W/rec-$l-b/session-1.txt"; then
		ok "$l: the same on the wire ($(grep -cv '^DATA-BYTES' "$W/rec-$l-b/session-1.txt") lines)"
	else
		fail "$l: the wire differs" "$(diff "$W/rec-$l-a/session-1.txt" "$W/rec-$l-b/session-1.txt")"
	fi
	if [ -n "$(outcome "$W/log-$l-a")" ] && [ "$(outcome "$W/log-$l-a")" = "$(outcome "$W/log-$l-b")" ]; then
		ok "$l: the same result logged: $(outcome "$W/log-$l-b" | tr '\n' ' ')"
	else
		fail "$l: the logs differ" "sendmail: $(outcome "$W/log-$l-a")" \
		    "clientq-runner: $(outcome "$W/log-$l-b")" "$(cat "$W/log-$l-b")"
	fi
	ma=$(grep -ah '^M' "$W/q-$l-a"/qf* 2>/dev/null)
	mb=$(grep -ah '^M' "$W/q-$l-b"/qf* 2>/dev/null)
	if [ "$(ls "$W/q-$l-a" | wc -l)" = "$(ls "$W/q-$l-b" | wc -l)" ] && [ "$ma" = "$mb" ]; then
		ok "$l: the same queue left (${ma:-empty})"
	else
		fail "$l: the queues differ" "sendmail: $(ls "$W/q-$l-a") $ma" \
		    "clientq-runner: $(ls "$W/q-$l-b") $mb"
	fi
}

fault handshake
check "handshake: TLS 1.3 on both sides" grep -q '^TLS-ESTABLISHED TLSv1.3 ' "$W/rec-handshake-b/session-1.txt"
check "handshake: EHLO again after it (RFC 3207), then the message" sh -c \
    "sed -n '/^TLS-ESTABLISHED/,\$p' '$W/rec-handshake-b/session-1.txt' | sed -n '2p;3p' | grep -q '^EHLO host.test\$'"
check "handshake: delivered (exit 0)" test "$rc" -eq 0
fault refused-454 --reply 'starttls=454 4.7.0 TLS not available due to temporary reason'
check "refused-454: on in clear, delivered (exit 0)" test "$rc" -eq 0
fault refused-554 --reply 'starttls=554 5.7.0 no TLS here'
check "refused-554: on in clear, delivered (exit 0)" test "$rc" -eq 0
fault answered-250 --reply 'starttls=250 2.0.0 sure'
check "answered-250: deferred (exit 75)" test "$rc" -eq 75
fault garbage --reply 'starttls=garbage'
check "garbage: deferred (exit 75)" test "$rc" -eq 75
check "garbage: the handshake's error in the runner's log" \
    grep -q 'STARTTLS=client, relay=\[127.0.0.1\], error: TLS handshake failed: wrong version number' "$W/log-garbage-b"
fault stall --reply 'starttls=stall'
check "stall: deferred (exit 75)" test "$rc" -eq 75
if awk -v t="$took" 'BEGIN { exit !(t >= 2.9 && t < 5) }'; then
	ok "stall: the runner gave up after Timeout.starttls ($took s of 3 s)"
else
	fail "stall: the runner took $took s, Timeout.starttls is 3 s"
fi
check "stall: the timeout in the runner's log" \
    grep -q 'error: TLS handshake failed: no progress in 3 s (Timeout.starttls)' "$W/log-stall-b"
it_finish

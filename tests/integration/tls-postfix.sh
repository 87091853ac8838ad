#!/bin/sh
# STARTTLS against a real Postfix (a private instance, postfix-lib.sh), with
# certificates this test makes with the openssl command (tls-lib.sh): one
# Postfix, one smtpd per certificate (the right one, another name, expired,
# another CA, TLS 1.2 only, one that asks for a client certificate) and
# one without STARTTLS.  Real sendmail queues each message; clientq-runner
# --once delivers it under each policy of clientq.conf(5).  A policy's
# refusal must defer (exit 75) with its reason in the log line and the M
# line, and leave the message as sendmail's requeue would (only K, N, P and
# M changed; the data file as it was); a delivery must arrive in Postfix,
# with the protocol and cipher in both logs.  --check's relay check, with
# the same clientq.conf, must say what delivery found, in its words.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/postfix-lib.sh"
. "$top_srcdir/tests/integration/tls-lib.sh"
it_need_root_sendmail
command -v openssl >/dev/null 2>&1 || { echo "SKIP: needs the openssl command (tests/install-deps)"; exit 77; }
pf_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner
C=$W/certs

check "the test's certificates are made" tls_make_certs "$C"
chown smmsp "$C/client.key"	# the runner reads it as RunAsUser
P_GOOD=$(it_free_port)
P_WRONG=$(it_free_port)
P_EXP=$(it_free_port)
P_OTHER=$(it_free_port)
P_TLS12=$(it_free_port)
P_CCERT=$(it_free_port)
PF_MASTER_EXTRA="$(pf_tls_listener "$P_GOOD" "$C/mx.pem" "$C/mx.key")
$(pf_tls_listener "$P_WRONG" "$C/wrong.pem" "$C/wrong.key")
$(pf_tls_listener "$P_EXP" "$C/expired.pem" "$C/expired.key")
$(pf_tls_listener "$P_OTHER" "$C/other.pem" "$C/other.key")
$(pf_tls_listener "$P_TLS12" "$C/mx.pem" "$C/mx.key" 'smtpd_tls_protocols=<=TLSv1.2')
$(pf_tls_listener "$P_CCERT" "$C/mx.pem" "$C/mx.key" smtpd_tls_ask_ccert=yes "smtpd_tls_CAfile=$C/ca.pem")"
export PF_MASTER_EXTRA
check "the private Postfix is installed (sendmail-bin untouched)" pf_install
check "Postfix listens on its 7 ports" pf_start "$PFD" "$PORT"
for p in $P_GOOD $P_WRONG $P_EXP $P_OTHER $P_TLS12 $P_CCERT; do
	wait_for pf__port_open "$p" || fail "Postfix does not listen on $p"
done

delivered=0
CASE=0

# run NAME PORT [RUNNER-ARGS...] < clientq.conf: queue one message with
# real sendmail, run the runner with that clientq.conf against PORT; $rc,
# $out (its log), $id.
run() {
	CASE=$((CASE + 1))
	name=$1 port=$2
	shift 2
	cat >"$W/clientq-$CASE.conf"
	[ -f "$W/cf-$port" ] || it_make_cf "$Q" "$port" "$W/cf-$port"
	rm -f "$Q"/*
	id=$(submit "case$CASE@example.test")
	cp "$Q/qf$id" "$W/qf-before"
	cp "$Q/df$id" "$W/df-before"
	out=$W/runner-$CASE.out
	"$RUNNER" --once -C "$W/cf-$port" --config "$W/clientq-$CASE.conf" "$@" >"$out" 2>&1
	rc=$?
}

# delivered NAME: exit 0, the queue empty, one more message in Postfix.
is_delivered() {
	delivered=$((delivered + 1))
	if [ "$rc" -eq 0 ] && [ -z "$(ls "$Q")" ] && pf_wait_count "$PFD" "$delivered" &&
	    grep -q "stat=Sent" "$out"; then
		ok "$name: delivered"
	else
		fail "$name: not delivered (exit $rc)" "$(cat "$out")"
		delivered=$(pf_messages "$PFD" | wc -l)
	fi
}

# deferred NAME REASON: exit 75, REASON in the log's stat= and in the M
# line, the control file otherwise as it was (sendmail's requeue changes
# K, N, P, M), the data file untouched, nothing delivered.
is_deferred() {
	reason=$1
	if [ "$rc" -eq 75 ] && grep -qF "dsn=4.7.0, stat=Deferred: $reason" "$out" &&
	    grep -aqxF "MDeferred: $reason" "$Q/qf$id" &&
	    [ "$(grep -av '^[KNPM]' "$Q/qf$id")" = "$(grep -av '^[KNPM]' "$W/qf-before")" ] &&
	    grep -aqx 'N1' "$Q/qf$id" && cmp -s "$Q/df$id" "$W/df-before" &&
	    [ "$(pf_messages "$PFD" | wc -l)" -eq "$delivered" ]; then
		ok "$name: deferred: $reason"
	else
		fail "$name: not deferred as it should be (exit $rc)" "wanted: $reason" \
		    "$(cat "$out")" "$(grep -a '^[KNPM]' "$Q/qf$id" 2>/dev/null)"
	fi
}

# starttls_line FIELDS: the runner logged sendmail's STARTTLS=client line
# with these fields ("version=TLSv1.3, verify=OK").
starttls_line() {
	grep -q "STARTTLS=client, relay=\[127.0.0.1\], .*$1" "$out"
}

pf_tls_lines() {
	grep -c 'TLS connection established from' "$PFD/maillog"
}

# ------------------------------------------------------------ policies
before=$(pf_tls_lines)
run "none" "$P_GOOD" <<EOF
tls.policy = none
EOF
is_delivered
check "none: no STARTTLS line, and no TLS session in Postfix's log" \
    sh -c "! grep -q STARTTLS '$out' && [ $(pf_tls_lines) -eq $before ]"

run "may (the default: nothing in clientq.conf)" "$P_GOOD" </dev/null
is_delivered
check "may: STARTTLS=client line, verify=FAIL (the test CA is not in the system's store)" \
    starttls_line 'version=TLSv1.3, verify=FAIL, cipher=TLS_AES_256_GCM_SHA384, bits=256/256'
check "may: Postfix logged the TLS session" wait_for sh -c "[ \$(grep -c 'TLS connection established from' '$PFD/maillog') -gt $before ]"

run "may without STARTTLS offered" "$PORT" </dev/null
is_delivered
check "may without STARTTLS: in clear, no STARTTLS line" sh -c "! grep -q STARTTLS '$out'"

run "may with the CA and the name" "$P_GOOD" <<EOF
tls.cafile = $C/ca.pem
tls.name = mx.example.test
EOF
is_delivered
check "may with the CA: verify=OK" starttls_line 'verify=OK'

run "encrypt" "$P_WRONG" <<EOF
tls.policy = encrypt
EOF
is_delivered
check "encrypt does not judge the certificate (another name: verify=FAIL, delivered)" \
    starttls_line 'verify=FAIL'

run "encrypt without STARTTLS offered" "$PORT" <<EOF
tls.policy = encrypt
EOF
is_deferred "TLS required (tls.policy = encrypt), but [127.0.0.1] does not offer STARTTLS"

run "verify, the right CA" "$P_GOOD" <<EOF
tls.policy = verify
tls.cafile = $C/ca.pem
tls.name = mx.example.test
EOF
is_delivered
check "verify: version=TLSv1.3, verify=OK in the runner's log" \
    starttls_line 'version=TLSv1.3, verify=OK, cipher=TLS_AES_256_GCM_SHA384, bits=256/256'
check "verify: Postfix logged TLSv1.3 with that cipher" \
    wait_for grep -q 'TLS connection established from .*: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)' "$PFD/maillog"

mkdir -p "$C/hashed" && cp "$C/ca.pem" "$C/hashed/" && openssl rehash "$C/hashed" 2>/dev/null
run "verify, the CA in a directory" "$P_GOOD" <<EOF
tls.policy = verify
tls.capath = $C/hashed
tls.name = mx.example.test
EOF
is_delivered

run "verify, a certificate of another CA" "$P_OTHER" <<EOF
tls.policy = verify
tls.cafile = $C/ca.pem
tls.name = mx.example.test
EOF
is_deferred "certificate verify failed: unable to get local issuer certificate (issuer CN=clientq other CA)"

run "verify, an expired certificate" "$P_EXP" <<EOF
tls.policy = verify
tls.cafile = $C/ca.pem
tls.name = mx.example.test
EOF
is_deferred "certificate verify failed: certificate has expired (mx.example.test, notAfter Feb  1 00:00:00 2020 GMT)"

run "verify, a certificate for another name" "$P_WRONG" <<EOF
tls.policy = verify
tls.cafile = $C/ca.pem
tls.name = mx.example.test
EOF
is_deferred "certificate verify failed: hostname mismatch (wanted mx.example.test, got wrong.example.test)"

run "verify, no tls.name: the relay is [127.0.0.1]" "$P_GOOD" <<EOF
tls.policy = verify
tls.cafile = $C/ca.pem
EOF
is_deferred "certificate verify failed: IP address mismatch (wanted 127.0.0.1, got mx.example.test)"

# The relay named by its host name in submit.cf ([mx.example.test], as
# FEATURE(msp, [mx.example.test]) writes it): that is the name checked;
# the runner resolves it through the test's hosts file.
printf '127.0.0.1 mx.example.test\n' >>"$W/hosts"
sed 's/^D{MTAHost}\[127\.0\.0\.1\]$/D{MTAHost}[mx.example.test]/' "$W/cf-$P_GOOD" >"$W/cf-named"
grep -q '^D{MTAHost}\[mx.example.test\]$' "$W/cf-named" || fail "cannot name the relay in submit.cf"
rm -f "$Q"/*
id=$(submit named@example.test)
printf 'tls.policy = verify\ntls.cafile = %s/ca.pem\n' "$C" >"$W/clientq-named.conf"
out=$W/runner-named.out
unshare -m --propagation private sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' \
    "$W/hosts" "$RUNNER" --once -C "$W/cf-named" --config "$W/clientq-named.conf" >"$out" 2>&1
rc=$?
name="verify, the relay named [mx.example.test] in submit.cf"
is_delivered
check "verify by the relay's own name: verify=OK, relay=[mx.example.test]" \
    grep -q 'STARTTLS=client, relay=\[mx.example.test\], version=TLSv1.3, verify=OK' "$out"

run "fingerprint of the certificate" "$P_WRONG" <<EOF
tls.policy = fingerprint
tls.fingerprint = $(tls_fingerprint "$C/wrong.pem")
EOF
is_delivered
check "fingerprint: verify=OK (the pin matched; names and chain are not looked at)" \
    starttls_line 'verify=OK'

run "fingerprint of the public key, among other pins" "$P_EXP" <<EOF
tls.policy = fingerprint
tls.fingerprint = $(tls_fingerprint "$C/mx.pem"), sha256:$(tls_pubkey_fingerprint "$C/expired.pem")
EOF
is_delivered

run "fingerprint mismatch" "$P_GOOD" <<EOF
tls.policy = fingerprint
tls.fingerprint = $(tls_fingerprint "$C/wrong.pem")
EOF
is_deferred "certificate fingerprint mismatch (certificate $(tls_fingerprint "$C/mx.pem"), public key $(tls_pubkey_fingerprint "$C/mx.pem" |
    sed 's/../&:/g; s/:$//' | tr a-f A-F); neither is pinned)"

# ------------------------------------------------- versions and ciphers
run "a TLS 1.2 relay, ciphers chosen" "$P_TLS12" <<EOF
tls.ciphers = ECDHE-ECDSA-AES128-GCM-SHA256
EOF
is_delivered
check "TLS 1.2 with the cipher of tls.ciphers" \
    starttls_line 'version=TLSv1.2, verify=FAIL, cipher=ECDHE-ECDSA-AES128-GCM-SHA256, bits=128/128'

run "tls.min-version = TLSv1.3 against a TLS 1.2 relay" "$P_TLS12" <<EOF
tls.min-version = TLSv1.3
EOF
is_deferred "454 4.7.0 TLS handshake failed."
check "... and the handshake's error in its own line" \
    grep -q 'STARTTLS=client, relay=\[127.0.0.1\], error: TLS handshake failed: ' "$out"

run "tls.ciphersuites" "$P_GOOD" <<EOF
tls.ciphersuites = TLS_CHACHA20_POLY1305_SHA256
EOF
is_delivered
check "TLS 1.3 with the suite of tls.ciphersuites" \
    starttls_line 'version=TLSv1.3, verify=FAIL, cipher=TLS_CHACHA20_POLY1305_SHA256, bits=256/256'

# ------------------------------------------------ client certificate
run "a client certificate, for a relay that asks for one" "$P_CCERT" <<EOF
tls.cert = $C/client.pem
tls.key = $C/client.key
EOF
is_delivered
check "Postfix verified the client certificate (Trusted TLS connection)" \
    wait_for grep -q "Trusted TLS connection established from .*\[127.0.0.1\]" "$PFD/maillog"

# ------------------------------------------- --check's relay check
# The same Postfix and clientq.conf files, through --check: the relay
# line says what delivery found above, in the same words, and no
# message is sent.

# relay_check NAME PORT STATUS PATTERN < clientq.conf: --check's relay
# line for PORT says STATUS and its "found" matches PATTERN (grep -E).
relay_check() {
	CASE=$((CASE + 1))
	cat >"$W/clientq-$CASE.conf"
	[ -f "$W/cf-$2" ] || it_make_cf "$Q" "$2" "$W/cf-$2"
	"$RUNNER" --check -C "$W/cf-$2" --config "$W/clientq-$CASE.conf" >"$W/check-$CASE.out" 2>&1
	if grep -Eq "^$3 +relay \\[127.0.0.1\\]:$2: found $4" "$W/check-$CASE.out"; then
		ok "--check, $1: $(grep -E "^$3 +relay " "$W/check-$CASE.out" | sed 's/; expected .*//')"
	else
		fail "--check, $1: no $3 relay line matching '$4'" "$(cat "$W/check-$CASE.out")"
	fi
}

relay_check "verify, the right CA" "$P_GOOD" ok \
    "220 .*; over TLS: version=TLSv1\\.3, verify=OK; expected an SMTP greeting \\(220\\), EHLO and STARTTLS as tls.policy=verify asks" <<EOF
tls.policy = verify
tls.cafile = $C/ca.pem
tls.name = mx.example.test
EOF
relay_check "verify, a certificate of another CA" "$P_OTHER" warning \
    "without TLS as tls.policy wants it: certificate verify failed: unable to get local issuer certificate \\(issuer CN=clientq other CA\\);" <<EOF
tls.policy = verify
tls.cafile = $C/ca.pem
tls.name = mx.example.test
EOF
relay_check "verify, an expired certificate" "$P_EXP" warning \
    "without TLS as tls.policy wants it: certificate verify failed: certificate has expired" <<EOF
tls.policy = verify
tls.cafile = $C/ca.pem
tls.name = mx.example.test
EOF
relay_check "verify without STARTTLS offered" "$PORT" warning \
    "without TLS as tls.policy wants it: TLS required \\(tls.policy = verify\\), but \\[127.0.0.1\\] does not offer STARTTLS;" <<EOF
tls.policy = verify
tls.cafile = $C/ca.pem
EOF
relay_check "tls.min-version = TLSv1.3 against a TLS 1.2 relay" "$P_TLS12" warning \
    "without TLS as tls.policy wants it: 454 4.7.0 TLS handshake failed. \\(TLS handshake failed: .*\\);" <<EOF
tls.min-version = TLSv1.3
EOF
relay_check "may, the default" "$P_GOOD" ok \
    "220 .*; over TLS: version=TLSv1\\.3, verify=FAIL \\(.*\\); expected" </dev/null
check "--check sent Postfix no message" test "$(pf_messages "$PFD" | wc -l)" -eq "$delivered"

pf_stop "$PFD"
check "no Postfix process is left" test -z "$(pgrep -f "$PFD" || true)"
it_finish

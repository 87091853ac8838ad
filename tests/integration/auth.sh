#!/bin/sh
# SMTP AUTH against a receiver that requires it (aiosmtpd with an
# authenticator: tests/tools/auth-receiver.py), over STARTTLS: PLAIN,
# LOGIN, EXTERNAL with a client certificate; a wrong password defers with
# the relay's reply in one clear line; AUTH is not sent in clear unless
# auth.cleartext says so; a credentials file another user could read, one
# that belongs to someone else and a symbolic link are refused at start
# (exit 78, the file and the rule named), before the queue is touched.
# The password must appear in no log line and in nothing in the queue.
# Real sendmail queues the messages; the runner starts as root and reads
# the file as RunAsUser (smmsp).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/tls-lib.sh"
it_need_root_sendmail
command -v openssl >/dev/null 2>&1 || { echo "SKIP: needs the openssl command"; exit 77; }
PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import aiosmtpd' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "SKIP: needs python3-aiosmtpd (tests/install-deps)"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner
PASSWORD='s3cret-Pa55 w0rd'
check "the test's certificates are made" tls_make_certs "$W/certs"
chown smmsp "$W/certs/client.key"

# receiver DIR [OPTION...]: the AUTH receiver on $PORT, for alice.
receiver() {
	_rd=$1
	shift
	mkdir -p "$_rd"
	rm -f "$_rd/pid"
	"$PY" "$top_srcdir/tests/tools/auth-receiver.py" --port "$PORT" --out "$_rd" \
	    --user alice --password "$PASSWORD" --pidfile "$_rd/pid" "$@" >"$_rd/err" 2>&1 &
	IT_PIDS="$IT_PIDS $!"
	wait_for test -s "$_rd/pid" || { cat "$_rd/err" >&2; return 1; }
}

receiver_stop() {
	[ -s "$1/pid" ] || return 0
	_rp=$(cat "$1/pid")
	kill "$_rp" 2>/dev/null
	# shellcheck disable=SC2016
	wait_for sh -c '! test -e "$1"' sh "$1/pid"
}

# creds TEXT [MODE [OWNER]]: the credentials file $W/auth.
creds() {
	printf '%s\n' "$1" >"$W/auth"
	chmod "${2:-0600}" "$W/auth"
	chown "${3:-smmsp}" "$W/auth"
}

# run NAME < clientq.conf: a new message, the runner; $rc, $out, $id.
run() {
	name=$1
	cat >"$W/clientq.conf"
	rm -f "$Q"/*
	id=$(submit "bob@example.test")
	out=$W/runner-$(echo "$name" | tr -c 'a-z0-9\n' -).out
	"$RUNNER" --once -C "$CF" --config "$W/clientq.conf" >"$out" 2>&1
	rc=$?
}

# relay_check NAME STATUS PATTERN < clientq.conf: --check with that
# clientq.conf says STATUS on its relay line, whose "found" matches
# PATTERN (grep -E); the password is not in what it printed.
relay_check() {
	cat >"$W/clientq.conf"
	"$RUNNER" --check -C "$CF" --config "$W/clientq.conf" >"$W/check.out" 2>&1
	if grep -Eq "^$2 +relay [^ ]*: found $3" "$W/check.out" &&
	    ! grep -qF "$PASSWORD" "$W/check.out"; then
		ok "--check, $1: $(grep -E "^$2 +relay " "$W/check.out" | sed 's/; expected .*//')"
	else
		fail "--check, $1: no $2 relay line matching '$3'" "$(cat "$W/check.out")"
	fi
}

no_password_anywhere() {
	if grep -rqF "$PASSWORD" "$out" "$Q" 2>/dev/null ||
	    grep -rqF "$(printf '%s' "$PASSWORD" | base64)" "$out" "$Q" 2>/dev/null; then
		fail "$name: the password is in the log or the queue"
	else
		ok "$name: the password is in neither the log nor the queue"
	fi
}

creds "user = alice
password = $PASSWORD"

# ------------------------------------------------------------- success
receiver "$W/r1" --tls "$W/certs/mx.pem,$W/certs/mx.key" --fail-rcpt nobody@example.test ||
    fail "the receiver did not start"
run "PLAIN over TLS" <<EOF
auth.file = $W/auth
auth.mechanisms = PLAIN
EOF
check "$name: delivered (exit 0)" sh -c "[ $rc -eq 0 ] && [ -z \"\$(ls '$Q')\" ]"
check "$name: the receiver saw PLAIN for alice" grep -qx 'PLAIN alice ok' "$W/r1/auth.log"
check "$name: sendmail's AUTH=client line" \
    grep -q 'AUTH=client, relay=\[127.0.0.1\], mech=PLAIN, bits=0' "$out"
check "$name: after STARTTLS" grep -q 'STARTTLS=client, relay=\[127.0.0.1\], version=TLSv1.3' "$out"
check "$name: MAIL still carries sendmail's AUTH= parameter" \
    grep -qi '^From:<root@host.test> SIZE=[0-9]* AUTH=root@host.test$' "$W/r1/mail.log"
no_password_anywhere

# A recipient refused after AUTH: the bounce's transcript is what the
# relay was told about the message; AUTH is no part of it.
rm -f "$Q"/*
printf 'Subject: to nobody\n\nbody\n' | sm -Ac -C "$CF" -odq nobody@example.test
name="a bounce after AUTH"
out=$W/runner-bounce.out
"$RUNNER" --once -C "$CF" --config "$W/clientq.conf" >"$out" 2>&1
rc=$?
check "$name: the recipient refused, the bounce queued and delivered (exit 0)" \
    sh -c "[ $rc -eq 0 ] && grep -q 'dsn=5.1.1, .*stat=User unknown' '$out' && grep -q ': DSN: User unknown' '$out'"
check "$name: the bounce carries the transcript of MAIL and RCPT" \
    sh -c "cat '$W'/r1/msg-*.eml | grep -q 'RCPT To:<nobody@example.test>'"
if cat "$W"/r1/msg-*.eml | grep -qF -e "$PASSWORD" -e "$(printf '\000alice\000%s' "$PASSWORD" | base64)" -e 'AUTH PLAIN'; then
	fail "$name: the credentials are in a delivered message"
else
	ok "$name: no credentials, and no AUTH command, in the bounce"
fi
no_password_anywhere

run "LOGIN over TLS" <<EOF
auth.file = $W/auth
auth.mechanisms = LOGIN
EOF
check "$name: delivered (exit 0)" test "$rc" -eq 0
check "$name: the receiver saw LOGIN for alice" grep -qx 'LOGIN alice ok' "$W/r1/auth.log"
# --check's relay check goes as far as delivery does before MAIL: over
# TLS, then AUTH with the same credentials.
auths=$(grep -c 'PLAIN alice ok' "$W/r1/auth.log")
mails=$(grep -c '' "$W/r1/mail.log")
relay_check "AUTH accepted" ok "220 .*; over TLS: version=TLSv1\\.3, verify=FAIL \\(.*\\); AUTH PLAIN accepted;" <<EOF
auth.file = $W/auth
EOF
check "... the receiver saw that AUTH, and no MAIL from the check" \
    sh -c "[ \$(grep -c 'PLAIN alice ok' '$W/r1/auth.log') -eq $((auths + 1)) ] && [ \$(grep -c '' '$W/r1/mail.log') -eq $mails ]"

# ------------------------------------------------------- wrong password
creds "user = alice
password = not-$PASSWORD"
run "a wrong password" <<EOF
auth.file = $W/auth
EOF
check "$name: deferred (exit 75), the message still queued" \
    sh -c "[ $rc -eq 75 ] && [ -f '$Q/qf$id' ]"
check "$name: one clear line with the relay's reply" \
    grep -q 'AUTH=client, relay=\[127.0.0.1\], mech=PLAIN, error: authentication failed: 535 5.7.8 Authentication credentials invalid' "$out"
# dsn=4.7.0: this receiver does not offer ENHANCEDSTATUSCODES, so the
# reply's 5.7.8 is not read as its status, as sendmail's reply() does
# not (a relay that offers it, Postfix, gives 4.7.8).
check "$name: deferred, never bounced: dsn=4.7.0, the reply as the status" \
    grep -q "dsn=4.7.0, reply=535 5.7.8 Authentication credentials invalid, stat=Deferred: 535 5.7.8 Authentication credentials invalid" "$out"
check "$name: the M line says so" grep -aqx 'MDeferred: 535 5.7.8 Authentication credentials invalid' "$Q/qf$id"
check "$name: no notification was queued" test "$(ls "$Q" | wc -l)" -eq 2
PASSWORD="not-$PASSWORD" no_password_anywhere
PASSWORD="not-$PASSWORD" relay_check "a wrong password" warning \
    "without AUTH: 535 5.7.8 Authentication credentials invalid;" <<EOF
auth.file = $W/auth
EOF
creds "user = alice
password = $PASSWORD"

# ------------------------------------------------ not over a clear line
receiver_stop "$W/r1"
receiver "$W/r2" --clear-auth || fail "the receiver did not start"
run "AUTH offered in clear" <<EOF
auth.file = $W/auth
EOF
check "$name: deferred (exit 75)" test "$rc" -eq 75
check "$name: the runner says why" \
    grep -q 'stat=Deferred: AUTH not sent: the connection to \[127.0.0.1\] is not encrypted (auth.cleartext = no)' "$out"
check "$name: nothing was sent to the receiver" test ! -s "$W/r2/auth.log"
relay_check "AUTH offered in clear" warning \
    "without AUTH: AUTH not sent: the connection to \\[127.0.0.1\\] is not encrypted \\(auth.cleartext = no\\);" <<EOF
auth.file = $W/auth
EOF
run "AUTH in clear, allowed" <<EOF
auth.file = $W/auth
auth.cleartext = yes
EOF
check "$name: delivered (exit 0)" test "$rc" -eq 0
check "$name: the receiver saw PLAIN for alice" grep -qx 'PLAIN alice ok' "$W/r2/auth.log"
receiver_stop "$W/r2"

# ------------------------------------------- EXTERNAL, client certificate
receiver "$W/r3" --tls "$W/certs/mx.pem,$W/certs/mx.key" --ca "$W/certs/ca.pem" ||
    fail "the receiver did not start"
run "EXTERNAL with a client certificate" <<EOF
tls.cert = $W/certs/client.pem
tls.key = $W/certs/client.key
auth.mechanisms = EXTERNAL
EOF
check "$name: delivered (exit 0)" test "$rc" -eq 0
check "$name: the receiver saw EXTERNAL for the certificate" \
    grep -qx 'EXTERNAL client.example.test ok' "$W/r3/auth.log"
check "$name: sendmail's AUTH=client line" grep -q 'AUTH=client, relay=\[127.0.0.1\], mech=EXTERNAL, bits=0' "$out"
receiver_stop "$W/r3"

# ------------------------------------------- the file, refused at start
receiver "$W/r4" --tls "$W/certs/mx.pem,$W/certs/mx.key" || fail "the receiver did not start"
# refused NAME PATTERN: exit 78, the pattern on stderr, nothing touched.
refused() {
	before=$(ls -l --time-style=+%s.%N "$Q" | md5sum)
	"$RUNNER" --once -C "$CF" --config "$W/clientq.conf" >"$W/refused.out" 2>&1
	rc=$?
	if [ "$rc" -eq 78 ] && grep -qF "$2" "$W/refused.out" &&
	    [ "$(ls -l --time-style=+%s.%N "$Q" | md5sum)" = "$before" ] &&
	    [ ! -s "$W/r4/auth.log" ]; then
		ok "$1: refused at start (exit 78): $(head -n 1 "$W/refused.out" | sed 's/^<[0-9]>[^:]*: //')"
	else
		fail "$1: not refused as it should be (exit $rc)" "$(cat "$W/refused.out")"
	fi
}
printf 'auth.file = %s\n' "$W/auth" >"$W/clientq.conf"
rm -f "$Q"/*
id=$(submit "bob@example.test")
creds "user = alice
password = $PASSWORD" 0640
refused "a credentials file its group may read" \
    "auth.file $W/auth: mode 0640 lets other users at the credentials; refused (chmod 0600)"
creds "user = alice
password = $PASSWORD" 0604
refused "a credentials file anyone may read" "mode 0604 lets other users at the credentials; refused"
creds "user = alice
password = $PASSWORD" 0600 root
refused "a credentials file that is not the runner's user's" \
    "auth.file $W/auth: owned by root (uid 0), not by the runner's user smmsp (uid $(id -u smmsp)); refused"
creds "user = alice
password = $PASSWORD" 0600
ln -s "$W/auth" "$W/auth-link"
printf 'auth.file = %s\n' "$W/auth-link" >"$W/clientq.conf"
refused "a credentials file that is a symbolic link" "auth.file $W/auth-link: is a symbolic link; refused"
printf 'auth.file = %s\n' "$W/auth" >"$W/clientq.conf"
creds "user = alice"
refused "a credentials file without a password" "auth.file $W/auth: no password in it"
check "the password is in none of the refusals" sh -c "! grep -qF '$PASSWORD' '$W/refused.out'"
receiver_stop "$W/r4"
it_finish

#!/bin/sh
# clientq-runner's configuration errors, in submit.cf and in clientq.conf:
# each names the file (and the line) and the problem and exits with its
# sysexits code (64 usage, 78 configuration), before anything in the queue
# is touched.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner

id=$(submit someone@example.test)
check "real sendmail queued $id" test -n "$id"
before=$(ls -l --time-style=+%s.%N "$Q" | md5sum)

# expect_exit CODE PATTERN DESCRIPTION ARGS...: exit CODE, and a line on
# stderr matching PATTERN.
expect_exit() {
	code=$1 pat=$2 what=$3
	shift 3
	"$RUNNER" "$@" >"$W/out" 2>"$W/err"
	rc=$?
	if [ "$rc" -eq "$code" ] && grep -q -- "$pat" "$W/err"; then
		ok "$what: exit $code, \"$(head -n 1 "$W/err" | cut -c 1-100)\""
	else
		fail "$what" "exit $rc, stderr: $(cat "$W/err")"
	fi
}

expect_exit 78 "$W/none.cf" "a missing submit.cf is named" --once -C "$W/none.cf"
printf 'V10/Berkeley\nO QueueDirectory=%s\nMrelay, P=[IPC], F=mDFMuXa8\n' "$Q" >"$W/bad.cf"
expect_exit 78 "$W/bad.cf:3: mailer 'relay' has A=" "a mailer without A= is named with its line" --once -C "$W/bad.cf"
expect_exit 78 "QueueFileMode=0666 would let any user change queued mail" \
    "a world-writable QueueFileMode is refused" --once -C "$CF" -O QueueFileMode=0666
expect_exit 78 "QueueFileMode=rw is not an octal file mode" \
    "a QueueFileMode that is not octal is refused" --once -C "$CF" -O QueueFileMode=rw
expect_exit 78 "Timeout.datafinal=soon is not a time interval" \
    "a Timeout that is not an interval is refused" --once -C "$CF" -O Timeout.datafinal=soon
expect_exit 64 "unexpected argument" "a stray argument is a usage error" --once -C "$CF" extra
expect_exit 64 "usage:" "an unknown flag is a usage error" --once --bogus

# clientq.conf, the runner's own (clientq.conf(5)): strict, errors name
# the file and the line; -O keys of it are usage errors when wrong.
printf '# ok\ntls.policy = verify\ntls.polcy = may\n' >"$W/c1.conf"
expect_exit 78 "$W/c1.conf:3: unknown key 'tls.polcy'" "an unknown key in clientq.conf is named with its line" \
    --once -C "$CF" --config "$W/c1.conf"
printf 'tls.policy = sometimes\n' >"$W/c2.conf"
expect_exit 78 "$W/c2.conf:1: tls.policy = sometimes: not a policy (none, may, encrypt, verify, fingerprint)" \
    "a bad value in clientq.conf is named" --once -C "$CF" --config "$W/c2.conf"
printf 'tls.policy = fingerprint\n' >"$W/c3.conf"
expect_exit 78 "$W/c3.conf:1: tls.policy = fingerprint needs tls.fingerprint" \
    "settings that contradict each other are named" --once -C "$CF" --config "$W/c3.conf"
expect_exit 78 "$W/none.conf: No such file or directory" "a --config that does not exist is named" \
    --once -C "$CF" --config "$W/none.conf"
printf 'tls.policy = may\n' >"$W/c4.conf"
chmod 0666 "$W/c4.conf"
expect_exit 78 "$W/c4.conf: mode 0666 lets any user change it; refused" \
    "a clientq.conf any user may change is refused" --once -C "$CF" --config "$W/c4.conf"
expect_exit 64 "-O tls.policy=sometimes: tls.policy = sometimes: not a policy" \
    "a bad -O key of clientq.conf is a usage error" --once -C "$CF" -O tls.policy=sometimes
expect_exit 64 "-O tls.bogus=1: unknown key 'tls.bogus' (see clientq.conf(5))" \
    "an unknown -O key of clientq.conf is a usage error" --once -C "$CF" -O tls.bogus=1
printf 'tls.policy = verify\ntls.cafile = %s/no-ca.pem\n' "$W" >"$W/c5.conf"
expect_exit 78 "tls.cafile $W/no-ca.pem: No such file or directory" \
    "a CA file that is not there is named at start" --once -C "$CF" --config "$W/c5.conf"
printf 'daemon.retry-min = 2h\n' >"$W/c6.conf"
expect_exit 78 "the retry interval's minimum (7200 s) is larger than its maximum (3600 s)" \
    "a retry-min above the default retry-max is refused" --once -C "$CF" --config "$W/c6.conf"
expect_exit 78 "Timeout.starttls=soon is not a time interval" \
    "a Timeout.starttls that is not an interval is refused" --once -C "$CF" -O Timeout.starttls=soon
check "none of it touched the queue" test "$(ls -l --time-style=+%s.%N "$Q" | md5sum)" = "$before"
it_finish

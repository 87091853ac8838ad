#!/bin/sh
# clientq-runner's configuration errors: each names the file and the
# problem and exits with its sysexits code (64 usage, 78 configuration),
# before anything in the queue is touched.
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
check "none of it touched the queue" test "$(ls -l --time-style=+%s.%N "$Q" | md5sum)" = "$before"
it_finish

#!/bin/sh
# A 50 MB message queued by real sendmail is delivered intact by
# clientq-runner --once: the body the receiver got, with CRLF turned back
# into LF, hashes the same as the data file sendmail wrote.  Peak RSS is
# printed (bench/ owns memory targets; tests do not time or size-assert).
# First a relay with a smaller SIZE limit, which is not offered it: the
# sender gets a bounce with the headers only.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner

# 50 MiB of 76-octet lines (no line starts with a dot, none is too long,
# so the wire body is exactly the data file with CRLF line ends).
python3 -c '
import sys
line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_0123456789ab\n"
out = sys.stdout.buffer
out.write(b"Subject: fifty megabytes\n\n")
for i in range(50 * 1024 * 1024 // len(line)):
    out.write(line)
' | sm -Ac -C "$CF" -odq big@example.test
id=$(ls "$Q" | sed -n 's/^qf//p')
check "sendmail queued the 50 MB message" test -n "$id"
want=$(sha256sum "$Q/df$id" | cut -d' ' -f1)
size=$(stat -c %s "$Q/df$id")

# A relay whose SIZE limit is smaller is not offered the message at all
# (sendmail's "552 5.2.3 Message is too large"): a permanent failure, so
# the sender gets a bounce with the headers only (the relay also refuses
# the bounce's MAIL with 451, so it stays queued to be looked at).
mkdir "$W/keep"
cp -p "$Q/qf$id" "$Q/df$id" "$W/keep/"
it_recorder_start "$PORT" "$W/small" --ext "PIPELINING,SIZE 1000000,8BITMIME" \
    --reply 'mail/<>=451 4.3.0 not now'
"$RUNNER" --once -C "$CF" 2>"$W/small.err"
rc=$?
it_recorder_stop "$W/small"
check "over the relay's SIZE limit: no MAIL for it was sent" \
    sh -c "! grep -q '^MAIL From:<root' '$W'/small/session-*.txt"
check "... the log says why" \
    grep -q 'dsn=5.2.3, reply=552 5.2.3 Message is too large; 1000000 bytes max, stat=Service unavailable' "$W/small.err"
bounce=$(ls "$Q" | sed -n 's/^qf//p')
check "... the original is gone, a bounce is queued (exit 75)" \
    sh -c "[ $rc -eq 75 ] && [ ! -e '$Q/qf$id' ] && [ -n '$bounce' ] && grep -qx Frns '$Q/qf$bounce'"
check "... which returns the headers only" \
    sh -c "grep -qx 'Content-Type: text/rfc822-headers' '$Q/df$bounce' && [ \$(stat -c %s '$Q/df$bounce') -lt 10000 ]"
# The original back, for the relay that takes it.
rm -f "$Q/qf$bounce" "$Q/df$bounce"
cp -p "$W/keep/qf$id" "$W/keep/df$id" "$Q/"

it_recorder_start "$PORT" "$W/rec" --ext "PIPELINING,SIZE 104857600,8BITMIME,DSN,ENHANCEDSTATUSCODES"
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f '%M' -o "$W/rss" "$RUNNER" --once -C "$CF" 2>"$W/runner.err"
else
	"$RUNNER" --once -C "$CF" 2>"$W/runner.err"
fi
rc=$?
it_recorder_stop "$W/rec"
check "clientq-runner --once exited 0 (queue empty)" test "$rc" -eq 0
check "df and qf removed after the relay accepted it" test -z "$(ls "$Q")"
got=$(python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
body = d.split(b"\r\n\r\n", 1)[1]
sys.stdout.write(__import__("hashlib").sha256(body.replace(b"\r\n", b"\n")).hexdigest())
' "$W"/rec/session-1-msg-1.eml)
if [ "$got" = "$want" ]; then
	ok "the $size-octet body arrived intact (sha256 $want)"
else
	fail "the body arrived changed" "want $want" "got  $got"
fi
[ -f "$W/rss" ] && echo "# peak RSS of clientq-runner for the $size-octet message: $(cat "$W/rss") KiB"
it_finish

#!/bin/sh
# SIGKILL at every step of a requeue and of a bounce never loses a
# recipient and never makes two bounces for one failure.  A message to
# good (accepted), bad (550: bounced) and slow (451: stays queued) is run
# by `clientq-runner --once` with CLIENTQ_CRASH_AT naming one of the
# crash points (lib/util/crashpoint.h) between the system calls of the
# requeue, the bounce and the removals; then --once runs again, with no
# crash, until nothing changes.  After each: slow still queued, exactly
# one bounce delivered for bad, no tf, no Qf, no other file left.  A
# second message to bad alone covers the path where the original is
# removed once its bounce is queued.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
it_need_test_hooks
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner

ID=$(submit good@example.test bad@example.test slow@example.test)
check "real sendmail queued the three-recipient message" test -n "$ID"
mkdir "$W/t3"
cp -p "$Q"/* "$W/t3/"
rm -f "$Q"/*
ID1=$(submit bad@example.test)
mkdir "$W/t1"
cp -p "$Q"/* "$W/t1/"

# bounces DIR: the notifications (MAIL From:<>) whose DATA completed.
bounces() {
	cat "$1"/session-*.txt 2>/dev/null | awk '
		/^MAIL / { m = $0 } /^DATA-BYTES / { if (m ~ /^MAIL From:<>/) n++ } END { print n + 0 }'
}

# crash TEMPLATE POINT KEEP: one crash at POINT, then runs until quiet.
# KEEP: the recipient that must still be queued ("" for none).
crash() {
	_t=$1 _p=$2 _keep=$3
	rm -rf "$Q"/* "$W/rec"
	cp -p "$W/$_t"/* "$Q/"
	it_recorder_start "$PORT" "$W/rec" --fail-rcpt bad@example.test \
	    --reply 'rcpt/slow@=451 4.3.0 later' || return
	CLIENTQ_CRASH_AT=$_p "$RUNNER" --once -C "$CF" 2>"$W/crash.log"
	_rc=$?
	for _i in 1 2 3; do
		"$RUNNER" --once -C "$CF" 2>>"$W/after.log"
	done
	it_recorder_stop "$W/rec"
	_problems=
	[ "$_rc" -eq 137 ] || _problems="$_problems; the crash point was not reached (exit $_rc)"
	_n=$(bounces "$W/rec")
	[ "$_n" -eq 1 ] || _problems="$_problems; $_n bounces delivered"
	_left=$(ls "$Q" | grep -v "^[qd]f$ID\$" | tr '\n' ' ')
	[ -z "$_left" ] || _problems="$_problems; left in the queue: $_left"
	if [ -n "$_keep" ]; then
		grep -q "^R[A-Z]*:$_keep\$" "$Q/qf$ID" 2>/dev/null ||
		    _problems="$_problems; $_keep is no longer queued"
		[ "$(grep -c '^R' "$Q/qf$ID" 2>/dev/null)" = 1 ] ||
		    _problems="$_problems; the original keeps $(grep '^R' "$Q/qf$ID" 2>/dev/null | tr '\n' ' ')"
	fi
	if [ -z "$_problems" ]; then
		ok "crash at $_p ($_t): nothing lost, one bounce"
	else
		fail "crash at $_p ($_t)${_problems}" "$(cat "$W/crash.log" "$W/after.log")"
	fi
	rm -f "$W/after.log"
}

for p in dsn-reserved tf-written:1 renamed:1 dsn-intent new-df-written \
    tf-written:2 new-renamed dsn-queued tf-written:3 renamed:2 df-removed:1; do
	crash t3 "$p" slow@example.test
done
for p in dsn-reserved tf-written:1 renamed:1 dsn-intent new-df-written \
    tf-written:2 new-renamed dsn-queued df-removed:1 df-removed:2; do
	crash t1 "$p" ""
done
it_finish

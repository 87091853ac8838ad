#!/bin/sh
# Disk full, and files that cannot be read: the queue on a small tmpfs of
# its own (a private mount namespace), the daemon against the scriptable
# peer (good@ accepted, slow@ 451, bad@ 550).
# - A requeue that cannot be written (the tmpfs filled to the last page):
#   the control file stays byte for byte as it was, no tf is left, the
#   daemon says so in one line and one more for the message, stays up,
#   answers `clientqctl status` ("held"), and sends nothing more (the
#   relay sees the one attempt); once there is room again the outcome of
#   that attempt is written (K, N1, the 451 in M) without a second
#   attempt, and delivery resumes.
# - Partly delivered (good@ accepted, slow@ 451) on a full disk: good@ is
#   not sent again while the rewrite waits, and after it good@ is gone
#   from the file: the one delivery stays one.
# - A bounce that cannot be written: the original keeps its recipients
#   (byte for byte), no notification exists; with room again exactly one
#   bounce goes out and the original goes.
# - A bounce whose intent fits but whose notification (a copy of a 300 kB
#   message) does not: the original holds the intent and its recipient,
#   nothing half-made is queued; then one bounce, the original gone.
# - A data file that cannot be read after its first 64 kB (strace
#   injects EIO into the daemon's pread of it), and one that ends early
#   (pread returns 0 as if it had shrunk): the connection is dropped before
#   the final dot, so the relay never has a truncated message, the
#   message is deferred as sendmail's requeue leaves it, and delivered
#   whole once it can be read.
# - A control file that cannot be read (EIO on every read, also the
#   scheduler's look at it): skipped and logged (not taken for a file cut
#   short, which is left until it changes), tried again after 2 s, 4 s,
#   ... rather than in a loop (the daemon's CPU time stays low), and
#   delivered once it can be read.
# Needs root (mount), python3, and strace for the unreadable files.
if [ -z "${CQ_DISK_FULL_NS-}" ] && [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	CQ_DISK_FULL_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
[ -n "${CQ_DISK_FULL_NS-}" ] || { echo "SKIP: needs unshare -m"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner
mkdir "$W/fs"
mount -t tmpfs -o size=4m,mode=0755 cq-disk-full "$W/fs" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
Q=$W/fs/q
mkdir "$Q" && chown smmsp:smmsp "$Q" && chmod 2770 "$Q"
it_make_cf "$Q" "$PORT" "$CF"
mkdir "$W/run" && chown smmsp:smmsp "$W/run"
S=$W/run/control

# fill [KB]: the tmpfs full, or with KB kilobytes left.
fill() {
	dd if=/dev/zero of="$W/fs/fill" bs=4096 2>/dev/null
	[ -z "${1-}" ] || truncate -s "-${1}K" "$W/fs/fill"
}
unfill() { rm -f "$W/fs/fill"; }
sessions() { ls "$W/rec" | grep -c '^session-[0-9]*\.txt$'; }
# bounces: MAIL From:<> transactions whose data went through.
bounces() {
	cat "$W"/rec/session-*.txt 2>/dev/null | awk '
		/^MAIL / { m = $0 } /^DATA-BYTES / { if (m ~ /^MAIL From:<>/) n++ } END { print n + 0 }'
}
bounces_are() { [ "$(($(bounces) - b0))" -eq "$1" ]; }
# sent_to ADDR: messages whose data went through with ADDR among the RCPTs.
sent_to() { cat "$W"/rec/session-*.txt 2>/dev/null | awk -v r="$1" '
	/^MAIL / { m = 0 } $0 == "RCPT To:<" r ">" { m = 1 } /^DATA-BYTES / { if (m) n++ } END { print n + 0 }'; }
sent_to_is() { [ "$(sent_to "$1")" -eq "$2" ]; }
# last_to ADDR: the size of the last message delivered to ADDR.
last_to() {
	ls "$W/rec" | sed -n 's/^session-\([0-9]*\)\.txt$/\1/p' | sort -n |
	    while read -r _n; do cat "$W/rec/session-$_n.txt"; done | awk -v r="$1" '
		/^MAIL / { m = 0 } $0 == "RCPT To:<" r ">" { m = 1 }
		/^DATA-BYTES / { if (m) n = $3 } END { print n + 0 }'
}
logged() { grep -c -- "$1" "$W/daemon.log"; }
logged_is() { [ "$(logged "$2")" -eq "$1" ]; }
queue_empty() { [ -z "$(ls "$Q")" ]; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ctl() { "$CLIENTQCTL" --socket "$S" "$@" >/dev/null 2>&1; }
# wait_long COMMAND...: as wait_for, for up to 40 s (a held write is tried
# again on an interval doubling to 30 s).
wait_long() { wait_for_s 40 "$@"; }

it_recorder_start "$PORT" "$W/rec" --fail-rcpt bad@example.test \
    --reply 'rcpt/slow@=451 4.3.0 later'
"$RUNNER" -C "$CF" --control "$S" 2>"$W/daemon.log" &
DPID=$!
IT_PIDS="$IT_PIDS $DPID"
wait_for test -S "$S"

# ------------------------------------------------- a requeue, disk full
# (delivery paused while sendmail queues the message and the disk fills)
ctl pause
id=$(submit slow@example.test)
cp -p "$Q/qf$id" "$W/qf.before"
s0=$(sessions)
fill
ctl resume
check "full disk: the requeue's rewrite fails, said once for the message" \
    wait_for logged_is 1 "$id: cannot rewrite the queue file: .*No space left on device; nothing is sent again"
check "... and once for the daemon" \
    wait_for logged_is 1 "queue files cannot be written ($id, above): no new attempt starts"
sleep 3
kill -USR1 "$DPID"	# a flush: the write tried again at once, still no room
sleep 1
check "... the control file as it was, byte for byte" cmp -s "$Q/qf$id" "$W/qf.before"
check "... no tf left" test ! -e "$Q/tf$id"
check "... the daemon stays up" kill -0 "$DPID"
"$CLIENTQCTL" --socket "$S" status >"$W/status" 2>&1
check "... and says so in clientqctl status" grep -q '^held (queue files cannot be written)' "$W/status"
check "... nothing sent again meanwhile (1 attempt in 4 s and a flush: $(($(sessions) - s0)))" \
    test $(($(sessions) - s0)) -eq 1
check "... no more lines about it ($(logged "$id"))" test "$(logged "$id")" -le 3
unfill
check "room again: the outcome of that attempt is written (N1, the 451 in M)" \
    wait_long sh -c "grep -qx N1 '$Q/qf$id' && grep -q '^MDeferred: 451 4.3.0 later' '$Q/qf$id'"
check "... without a second attempt" test $(($(sessions) - s0)) -eq 1
check "... said once, delivery resumed" \
    wait_for logged_is 1 'queue files can be written again: delivery resumes'
check "... no tf left" test ! -e "$Q/tf$id"
ctl pause
rm -f "$Q"/*

# ------------------------------------ partly delivered, then disk full
id=$(submit good@example.test slow@example.test)
g0=$(sent_to good@example.test)
fill
ctl resume
check "partly delivered on a full disk: good@ sent" wait_for sent_to_is good@example.test $((g0 + 1))
sleep 2
kill -USR1 "$DPID"
sleep 1
check "... not again while the rewrite waits" test "$(sent_to good@example.test)" -eq $((g0 + 1))
unfill
check "... room again: the file keeps slow@ alone" \
    wait_long sh -c "grep -q '^R.*:slow@' '$Q/qf$id' && ! grep -q 'good@' '$Q/qf$id'"
kill -USR1 "$DPID"
check "... and the next attempt goes to slow@ only" \
    wait_for logged_is 2 "$id: to=slow@example.test,.*stat=Deferred"
check "... good@ still has it once" test "$(sent_to good@example.test)" -eq $((g0 + 1))
ctl pause
rm -f "$Q"/*

# --------------------------------------------------- a bounce, disk full
id=$(submit bad@example.test)
cp -p "$Q/qf$id" "$W/qf.before"
b0=$(bounces)
fill
ctl resume
check "a bounce on a full disk: cannot be written, said once" \
    wait_for logged_is 1 "$id: cannot rewrite the queue file: .*No space left on device"
sleep 2
check "... the original keeps its recipients, byte for byte" cmp -s "$Q/qf$id" "$W/qf.before"
check "... no notification queued" test -z "$(ls "$Q" | grep '^qf' | grep -v "qf$id")"
unfill
check "room again: one bounce delivered" wait_long bounces_are 1
check "... the original gone, nothing left" wait_for queue_empty
sleep 1
check "... still one bounce" bounces_are 1
ctl pause

# ------------------------- the intent fits, the notification does not
printf 'Subject: big\n\n' >"$W/big"
awk 'BEGIN { for (i = 0; i < 4000; i++) printf "%075d\n", i }' >>"$W/big"
sm -Ac -C "$CF" -odq bad@example.test <"$W/big"
id=$(ls "$Q" | sed -n 's/^qf//p')
b0=$(bounces)
fill 64
ctl resume
check "room for the intent but not the notification: said once" \
    wait_for logged_is 1 "$id: cannot queue the delivery status notification .*No space left on device"
sleep 1
check "... the original holds the intent and its recipient" \
    sh -c "grep -q '^\${clientq_dsn}' '$Q/qf$id' && grep -q '^R.*:bad@' '$Q/qf$id'"
check "... no notification queued" test -z "$(ls "$Q" | grep '^qf' | grep -v "qf$id")"
unfill
check "room again: one bounce delivered" wait_long bounces_are 1
check "... the original gone, nothing left" wait_for queue_empty

# ------------------------------------------ files that cannot be read
# unreadable RULE FILE: strace, attached to the daemon, injects RULE into
# its pread64 calls on FILE; sets TPID.
unreadable() {
	strace -qq -f -p "$DPID" -e trace=pread64 -e signal=none -e inject=pread64:"$1" \
	    -P "$2" -o /dev/null &
	TPID=$!
	IT_PIDS="$IT_PIDS $TPID"
	sleep 1	# attached
}
if command -v strace >/dev/null 2>&1; then
	# A data file of 300 kB whose reads fail after the first 64 kB, or
	# end there as if it had shrunk.
	for how in error=EIO retval=0; do
		ctl pause
		rm -f "$Q"/*
		sm -Ac -C "$CF" -odq good@example.test <"$W/big"
		id=$(ls "$Q" | sed -n 's/^qf//p')
		d0=$(sent_to good@example.test)
		unreadable "$how:when=2+" "$Q/df$id"
		ctl resume
		check "df unreadable mid-way ($how): deferred" \
		    wait_for grep -q "$id: to=good@example.test,.*stat=Deferred" "$W/daemon.log"
		check "... the relay has no truncated message" test "$(sent_to good@example.test)" -eq "$d0"
		check "... the file as sendmail's requeue leaves it (N1, K, M)" \
		    sh -c "grep -qx N1 '$Q/qf$id' && ! grep -qx K0 '$Q/qf$id' && grep -q '^M' '$Q/qf$id'"
		check "... said in the log" grep -q "$id: .*df$id" "$W/daemon.log"
		kill "$TPID"
		wait "$TPID" 2>/dev/null
		kill -USR1 "$DPID"
		check "... readable again: delivered whole" wait_for sent_to_is good@example.test $((d0 + 1))
		m=$(last_to good@example.test)
		check "... all of it ($m octets)" test "$m" -gt 300000
	done
	# A control file no read of which works.
	ctl pause
	rm -f "$Q"/*
	id=$(submit good@example.test)
	d0=$(sent_to good@example.test)
	unreadable error=EIO "$Q/qf$id"
	ctl resume
	t0=$(cpu_ticks "$DPID")
	sleep 3
	t1=$(cpu_ticks "$DPID")
	check "qf unreadable: nothing sent" test "$(sent_to good@example.test)" -eq "$d0"
	check "... no busy loop ($((t1 - t0)) ticks of CPU in 3 s)" test $((t1 - t0)) -le 30
	check "... the read error said ($(grep -c "qf$id" "$W/daemon.log") lines)" \
	    sh -c "grep -q 'qf$id.*Input/output error' '$W/daemon.log' && [ \$(grep -c 'qf$id' '$W/daemon.log') -le 5 ]"
	check "... nothing quarantined" test -e "$Q/qf$id"
	kill "$TPID"
	wait "$TPID" 2>/dev/null
	kill -USR1 "$DPID"
	check "readable again: delivered" wait_for sent_to_is good@example.test $((d0 + 1))
else
	echo "# strace is not installed: the unreadable files are not tried"
fi
kill -TERM "$DPID"
wait "$DPID"
check "the daemon stops cleanly" test $? -eq 0
it_recorder_stop "$W/rec"
umount "$W/fs"
it_finish

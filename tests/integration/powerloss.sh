#!/bin/sh
# A crash between every two system calls of the requeue and bounce paths
# leaves the queue in one consistent state or the other.
#
# Four messages queued by real sendmail, each run by `clientq-runner
# --once` against the scriptable peer (good@ accepted, bad@ refused for
# good: a bounce, slow@ 451: stays queued):
#   t3  good, bad and slow: a delivery, a bounce and a requeue;
#   t1  bad alone: a bounce, then the original removed;
#   ts  slow alone: a requeue (the plain rewrite);
#   tg  good alone: a delivery and the removal.
# For each, CLIENTQ_CRASH_AT='*:K' (lib/util/crashpoint.h) SIGKILLs the runner
# at the K-th crash point it reaches, for K = 1, 2, ... until a run ends
# without reaching K: every crash point of that path (after each
# create, chmod, write, fsync, rename, unlink and directory fsync of the
# original's rewrites, of the notification's reservation, data file and
# control file, and of the removals), one crash each.  Right after each
# crash, before anything runs again, the queue must be one state or the
# other:
# - the original's control file is there and complete (it parses) unless
#   its removal had begun (then its data file went first);
# - it is the file sendmail wrote, byte for byte, or the intent of a
#   notification (the ${clientq_dsn} macro, the reported recipient
#   marked, the accepted one gone), or the final state (only slow@, K,
#   N of 1 or more, no intent);
# - a notification's control file exists only when its intent was
#   recorded (or the original is already past it), and then it parses;
# - nothing reached the relay twice, except good@ when the crash came
#   before the first rewrite recorded its acceptance (the one ambiguous
#   window, which a crash between a final dot and the disk leaves open).
# Then --once runs again, without crashes, until nothing changes; after
# that: exactly one bounce was delivered for bad@ (never none, never two),
# slow@ is still queued, alone, good@ was delivered at least once, and no
# tf, no Qf and no data file without its control file is left.
#
# SIGKILL stops the process, not the disk: the kernel keeps every write.
# What makes the same states hold across a power loss is the order of
# fsync and rename, so a last part runs t3 and t1 once under strace and
# checks that order (tests/tools/fsync-order.py): every temporary file is
# fsync'd after its last write and before it is renamed into place, and
# every rename or create in the queue directory is made durable by a
# directory fsync before the next rename or removal of a control file
# (the intent before the notification, the notification before the
# original loses its recipients).
#
# Counts: "t3: 61 crash points, 61 crashes, 0 lost, 0 bounces twice, ..."
# are printed as the test's last lines (make check keeps them in
# tests/integration/powerloss.log).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_long
it_need_root_sendmail
it_need_test_hooks
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner

for t in t3:"good@example.test bad@example.test slow@example.test" \
    t1:bad@example.test ts:slow@example.test tg:good@example.test \
    tw:slow@example.test tx:bad@example.test; do
	name=${t%%:*}
	# shellcheck disable=SC2086  # the recipients, one per word
	id=$(submit ${t#*:})
	check "real sendmail queued the $name message" test -n "$id"
	if [ "$name" = tw ]; then
		# queued 5 hours ago: past Timeout.queuewarn (4h)
		sed "s/^T.*/T$(($(date +%s) - 5 * 3600))/" "$Q/qf$id" >"$W/t" &&
		    cat "$W/t" >"$Q/qf$id"
	fi
	mkdir "$W/$name"
	cp -p "$Q"/* "$W/$name/"
	echo "$id" >"$W/$name.id"
	rm -f "$Q"/*
done

# peer: the scriptable peer for $tmpl; for tx the bounce is refused too,
# and so is the postmaster's copy of it.
peer() {
	rm -rf "$W/rec"
	if [ "$tmpl" = tx ]; then
		it_recorder_start "$PORT" "$W/rec" --fail-rcpt bad@example.test \
		    --fail-rcpt root@host.test --fail-rcpt postmaster@host.test
	else
		it_recorder_start "$PORT" "$W/rec" --fail-rcpt bad@example.test \
		    --reply 'rcpt/slow@=451 4.3.0 later'
	fi
}

# What the peer saw in the sessions of this case (tally_from: the first;
# with a second crash, sessions tally_from .. tally_to - 1 and from
# tally_again on): delivered transactions to good@, and bounces (MAIL
# From:<>).  (slow@ always gets 451.)
tally() {
	ls "$W/rec" | sed -n 's/^session-\([0-9]*\)\.txt$/\1/p' | sort -n |
	    while read -r _n; do
		if [ "$_n" -ge "$tally_from" ] && { [ -z "$tally_to" ] ||
		    [ "$_n" -lt "$tally_to" ] || [ "$_n" -ge "$tally_again" ]; }; then
			cat "$W/rec/session-$_n.txt"
		fi
	    done | awk '
		/^MAIL / { m = $0; g = 0 }
		/^RCPT To:<good@/ { g = 1 }
		/^DATA-BYTES / { if (m ~ /^MAIL From:<>/) b++; else if (g) gd++ }
		END { printf "%d %d\n", gd + 0, b + 0 }'
}
next_session() { echo $(( $(ls "$W/rec" | grep -c '^session-[0-9]*\.txt$') + 1 )); }

# state ID: what the original's control file is now: original, intent,
# final, removing (its df gone), gone, or broken (with why).
state() {
	_qf=$Q/qf$1
	if [ ! -e "$_qf" ]; then
		if [ -e "$Q/df$1" ]; then echo "broken: a data file without its control file"; else echo gone; fi
		return
	fi
	if ! _p=$("$QFTOOL" parse "$_qf" 2>&1); then
		echo "broken: $_p"
	elif cmp -s "$_qf" "$W/$tmpl/qf$1"; then
		echo original
	elif grep -q '^\${clientq_dsn}' "$_qf"; then
		if [ -e "$Q/df$1" ]; then echo intent; else echo removing; fi
	elif [ ! -e "$Q/df$1" ]; then
		echo removing
	elif grep -q "^N[1-9]" "$_qf" && ! grep -q '^R.*:good@' "$_qf" &&
	    ! grep -q '^R.*:bad@' "$_qf" && grep -q '^R.*:slow@' "$_qf"; then
		echo final
	else
		echo "broken: neither the original, an intent nor the final state"
	fi
}

# The notifications' files: any ID but the original's.
dsn_files() { ls "$Q" | grep -v "^[a-zA-Z]f$1\$" | tr '\n' ' '; }

# problem TEXT: one more thing wrong after this crash.
problem() { problems="$problems; $1"; }

# check_crashed ID: the state right after a crash (see the header).
check_crashed() {
	crash_state=$(state "$1")
	case $crash_state in
	broken*) problem "original: $crash_state" ;;
	esac
	case "$tmpl:$crash_state" in
	t3:gone | t3:removing | ts:gone | ts:removing)
		problem "the original is gone but slow@ was never delivered" ;;
	t1:final | tg:final | tg:intent | ts:intent | tx:final) problem "impossible state $crash_state" ;;
	esac
	for _f in $(dsn_files "$1"); do
		_nid=${_f#?f}
		case $_f in
		qf*)
			[ "$crash_state" != original ] ||
			    problem "the notification $_nid exists but the original has no intent"
			"$QFTOOL" parse "$Q/$_f" >/dev/null 2>&1 ||
			    problem "the notification's $_f does not parse"
			# (without its df it is being removed: every remover
			# takes the df first, and the runs after must finish)
			;;
		df* | tf*) ;;	# a reservation, or a notification being written
		Qf*) [ "$tmpl" = tx ] || problem "$_f quarantined" ;;
		*) problem "unexpected file $_f" ;;
		esac
	done
	# Sent more than once already: good@ only, and only while the
	# original does not record its acceptance yet.
	# shellcheck disable=SC2046  # two numbers
	set -- $(tally)
	[ "$crash_state" != original ] || ambiguous=$((ambiguous + 1))
	[ "$1" -le $((1 + ambiguous)) ] || problem "good@ delivered $1 times"
	[ "$2" -le 1 ] || problem "$2 bounces"
}

# check_recovered ID: after the runs without crashes.
check_recovered() {
	_id=$1
	# shellcheck disable=SC2046  # two numbers
	set -- $(tally)
	_want_bounces=0 _want_good=0
	case $tmpl in
	t3) _want_bounces=1 _want_good=1 ;;
	t1 | tw) _want_bounces=1 ;;
	tg) _want_good=1 ;;
	esac
	if [ "$2" -ne "$_want_bounces" ]; then
		[ "$2" -gt "$_want_bounces" ] || lost=$((lost + 1))
		problem "$2 bounces delivered (want $_want_bounces)"
	fi
	if [ "$1" -lt "$_want_good" ]; then
		lost=$((lost + 1))
		problem "good@ lost"
	elif [ "$1" -gt 1 ]; then
		dups=$((dups + $1 - 1))
		[ "$1" -le $((1 + ambiguous)) ] ||
		    problem "good@ delivered $1 times after $ambiguous crashes in the ambiguous window"
	fi
	case $tmpl in
	t3 | ts | tw)
		grep -q '^R[A-Z]*:slow@example.test$' "$Q/qf$_id" 2>/dev/null || {
			lost=$((lost + 1))
			problem "slow@ is no longer queued"
		}
		[ "$(grep -c '^R' "$Q/qf$_id" 2>/dev/null)" = 1 ] ||
		    problem "the original keeps: $(grep '^R' "$Q/qf$_id" 2>/dev/null | tr '\n' ' ')"
		! grep -q '^\${clientq_dsn}' "$Q/qf$_id" || problem "the intent is still there"
		_left=$(ls "$Q" | grep -v "^[qd]f$_id\$" | tr '\n' ' ')
		[ "$tmpl" != tw ] || grep -q '^F.*w' "$Q/qf$_id" ||
		    problem "the warning was sent but the original lacks F w"
		;;
	tx)
		# The postmaster's copy of the bounce, kept as Qf: nobody is
		# left to tell.
		_qf=$(ls "$Q" | grep -c '^Qf')
		if [ "$_qf" -ne 1 ]; then
			[ "$_qf" -ne 0 ] || lost=$((lost + 1))
			problem "$_qf control files quarantined (want the postmaster's copy alone)"
		fi
		_left=$(ls "$Q" | grep -v '^Qf' | while read -r _f; do
			[ -e "$Q/Qf${_f#df}" ] || echo "$_f"; done | tr '\n' ' ')
		;;
	*)
		_left=$(ls "$Q" | tr '\n' ' ')
		;;
	esac
	[ -z "$_left" ] || problem "left in the queue: $_left"
}

# recover: --once without crashes until nothing changes; then the
# checks after recovery.  The problems (if any) are reported as
# crash DESCRIPTION.
recover() {
	_prev=
	for _i in 1 2 3 4; do
		"$RUNNER" --once -C "$CF" 2>>"$W/after.log"
		_now=$(ls -l --time-style=+%s.%N "$Q" | md5sum)
		[ "$_now" != "$_prev" ] || break
		_prev=$_now
	done
	check_recovered "$id"
	if [ -n "$problems" ]; then
		bad=$((bad + 1))
		fail "$tmpl: $1$problems" "$(cat "$W/crash.log" "$W/after.log")"
	fi
	rm -f "$W/after.log"
}

# crash_at K: run --once on what is in the queue, dying at its K-th crash
# point; rc is its exit status, point where it died (after a crash,
# check_crashed has run).
crash_at() {
	CLIENTQ_CRASH_AT="*:$1" "$RUNNER" --once -C "$CF" 2>>"$W/crash.log"
	rc=$?
	if [ "$rc" -ne 137 ]; then
		[ "$rc" -eq 0 ] || [ "$rc" -eq 75 ] || {
			bad=$((bad + 1))
			fail "$tmpl: a run without a crash exits $rc" "$(cat "$W/crash.log")"
		}
		return
	fi
	crashes=$((crashes + 1))
	point=$(sed -n 's/^crashpoint: \(.*\): SIGKILL$/\1/p' "$W/crash.log" | tail -n 1)
	check_crashed "$id"
}

# crash_all TEMPLATE: K = 1, 2, ... until a run completes.  Under
# TORTURE=1 (make torture), each crash is followed by a second one in
# the first run after it, at each of that run's crash points in turn,
# before the recovery.
crash_all() {
	tmpl=$1
	id=$(cat "$W/$tmpl.id")
	peer || return
	k=0 points=0 crashes=0 bad=0 dups=0 lost=0
	while [ "$k" -lt 400 ]; do
		k=$((k + 1))
		rm -f "$Q"/* "$W/crash.log"
		cp -p "$W/$tmpl"/* "$Q/"
		tally_from=$(next_session) tally_to= problems= ambiguous=0
		crash_at "$k"
		[ "$rc" -eq 137 ] || break
		points=$((points + 1))
		first="crash $k at $point (state $crash_state)"
		if [ "${TORTURE:-0}" = 0 ]; then
			recover "$first"
			continue
		fi
		rm -rf "$W/crashed"
		mkdir "$W/crashed"
		cp -p "$Q"/* "$W/crashed/" 2>/dev/null
		saved_problems=$problems saved_ambiguous=$ambiguous
		tally_to=$(next_session)
		k2=0
		while [ "$k2" -lt 400 ]; do
			k2=$((k2 + 1))
			rm -f "$Q"/*
			cp -p "$W/crashed"/* "$Q/" 2>/dev/null
			echo "(crash $k, then $k2)" >>"$W/crash.log"
			tally_again=$(next_session) problems=$saved_problems ambiguous=$saved_ambiguous
			crash_at "$k2"
			if [ "$rc" -ne 137 ]; then
				recover "$first, then no crash (recovery)"
				break
			fi
			recover "$first, then crash $k2 at $point (state $crash_state)"
		done
	done
	it_recorder_stop "$W/rec"
	rm -f "$Q"/*
	if [ "$bad" -eq 0 ] && [ "$points" -gt 0 ]; then
		ok "$tmpl: $crashes crashes at its $points crash points: consistent after each, whole after the runs that follow"
	elif [ "$points" -eq 0 ]; then
		fail "$tmpl: no crash point reached"
	fi
	summary="$summary
$tmpl: $points crash points, $crashes crashes: $bad inconsistent, $lost lost, $dups sent twice (each after a crash in the ambiguous window)"
}

summary=
for t in t3 t1 ts tg tw tx; do
	crash_all "$t"
done

# ------------------------------------------------- the order of fsyncs
if command -v strace >/dev/null 2>&1; then
	for tmpl in t3 t1 tw tx; do
		peer || break
		cp -p "$W/$tmpl"/* "$Q/"
		strace -f -y -qq -o "$W/trace.$tmpl" \
		    -e trace=openat,write,pwrite64,fsync,fdatasync,rename,renameat,renameat2,link,linkat,unlink,unlinkat,ftruncate,close \
		    "$RUNNER" --once -C "$CF" 2>"$W/strace-run.log"
		it_recorder_stop "$W/rec"
		if out=$(python3 "$top_srcdir/tests/tools/fsync-order.py" "$Q" "$W/trace.$tmpl"); then
			ok "$tmpl under strace: every rename after its file's fsync, every step durable before the next ($(echo "$out" | tail -n 1))"
		else
			fail "$tmpl under strace: the order of fsync and rename" "$out"
		fi
		rm -f "$Q"/*
	done
else
	echo "# strace is not installed: the fsync-order part is skipped"
fi
echo "$summary" | sed '/^$/d; s/^/# /'
it_finish

# bench/lib.sh: what the backlog benchmarks share (sourced, POSIX sh,
# after tests/integration/lib.sh and it_setup): the backlog itself, the
# daemon on it, the drain into bench/sink, `clientq-runner --once` and
# `sendmail -Ac -qf` on the same queue.  Uses RUNNER, SINK, CF, Q, W and
# PORT; every name here starts with bench_ (BENCH_ for what they set
# for the scripts).
# shellcheck disable=SC2034  # the BENCH_ results are the scripts' to use

# The system's python where there is one: a version manager's shim first
# on PATH costs a second a call on a loaded machine.
BENCH_PY=python3
[ -x /usr/bin/python3 ] && BENCH_PY=/usr/bin/python3

# bench_cleanup: the EXIT trap of a benchmark (set after it_setup): the
# watchdog stopped, the tmpfs let go, then it_cleanup.
bench_cleanup() {
	it_stop_watchdog
	[ -z "${BENCH_FS-}" ] || umount -l "$BENCH_FS" 2>/dev/null || true
	it_cleanup
}

bench_now() { date +%s.%N; }
# bench_since T0: seconds since T0 (bench_now), two decimals.
bench_since() { echo "$1 $(bench_now)" | awk '{ printf "%.2f", $2 - $1 }'; }
# bench_kb PID FIELD: a /proc/PID/status field in kB (VmRSS, VmHWM).
bench_kb() { awk -v k="$2" '$1 == k ":" { print $2 }' "/proc/$1/status"; }
# bench_ticks PID: its CPU time (utime + stime) in clock ticks.
bench_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# bench_csw PID: context switches of all its threads so far.
bench_csw() { cat "/proc/$1"/task/*/status | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'; }
bench_qf_count() { find "$1" -name 'qf*' | wc -l; }

# bench_tmpfs_queue MESSAGES: under BENCH_TMPFS=yes (the script re-ran
# itself in a private mount namespace, CQ_BENCH_NS set), the queue $Q
# and CF move to a tmpfs of their own sized for MESSAGES (two files of a
# page or so each, and room for sendmail's sample: 12 MB per 1,000);
# bench_tmpfs_done empties and unmounts it.
bench_tmpfs_queue() {
	[ -n "${CQ_BENCH_NS-}" ] || return 0
	BENCH_FS=$W/fs
	mkdir -p "$BENCH_FS"
	mount -t tmpfs -o "size=$(($1 * 12 / 1024 + 1024))m,mode=0755" cq-bench "$BENCH_FS"
	[ ! -d "$Q" ] || rm -rf "$Q"
	Q=$BENCH_FS/q
	mkdir "$Q" && chown smmsp:smmsp "$Q" && chmod 2770 "$Q"
	it_make_cf "$Q" "$PORT" "$CF"
	echo "the queue on a tmpfs"
}
bench_tmpfs_done() {
	[ -n "${BENCH_FS-}" ] || return 0
	rm -rf "${BENCH_FS:?}"/*
	umount "$BENCH_FS"
	BENCH_FS=
}

# bench_body: the message body every backlog uses (12 lines of 76).
bench_body() { awk 'BEGIN { for (i = 0; i < 12; i++) printf "%076d\n", i }'; }

# bench_queue MESSAGES: an empty $Q, then MESSAGES queued in it: one by
# real sendmail (-odq; kept in $W/orig), the rest by the library's
# writer (tests/tools/qftool clone: its IDs are a function of the
# original's, so bench_queue_again makes the same queue again).  Sets
# BENCH_ID; prints how long the copies took.
bench_queue() {
	find "$Q" -mindepth 1 -delete
	printf 'Subject: backlog\n\n%s\n' "$(bench_body)" | sm -Ac -C "$CF" -odq rcpt@example.test
	BENCH_ID=$(ls "$Q" | sed -n 's/^qf//p')
	rm -rf "$W/orig" && mkdir "$W/orig" && cp -a "$Q/qf$BENCH_ID" "$Q/df$BENCH_ID" "$W/orig/"
	_bq_t0=$(bench_now)
	"$QFTOOL" clone "$Q" "$BENCH_ID" $(($1 - 1)) >/dev/null
	BENCH_CLONE_S=$(bench_since "$_bq_t0")
	echo "1 queued by sendmail, $(($1 - 1)) copies by the library's writer in $BENCH_CLONE_S s"
}

# bench_queue_again MESSAGES: the same queue (the same IDs and files)
# in $Q again, after a drain emptied it.
bench_queue_again() {
	find "$Q" -mindepth 1 -delete
	cp -a "$W/orig/qf$BENCH_ID" "$W/orig/df$BENCH_ID" "$Q/"
	"$QFTOOL" clone "$Q" "$BENCH_ID" $(($1 - 1)) >/dev/null
}

# bench_listing MESSAGES: `sendmail -bp -Ac` on $Q must list all
# MESSAGES, and three chosen at random; sets BENCH_BP_S (its time) and
# BENCH_BP_KB (its peak RSS, when /usr/bin/time is there; else "?").
# Returns 1 (having said so) when sendmail does not read the backlog.
bench_listing() {
	_bl_t0=$(bench_now)
	if [ -x /usr/bin/time ]; then
		# shellcheck disable=SC2016,SC2154  # the inner shell's; the script's
		env W="$W" top_srcdir="$top_srcdir" /usr/bin/time -f %M -o "$W/bp.kb" sh -c \
		    '. "$top_srcdir/tests/integration/lib.sh" && sm -Ac -C "$0" -bp' "$CF" \
		    >"$W/mailq" 2>&1 || true
	else
		sm -Ac -C "$CF" -bp >"$W/mailq" 2>&1 || true
	fi
	BENCH_BP_S=$(bench_since "$_bl_t0")
	BENCH_BP_KB=$(cat "$W/bp.kb" 2>/dev/null || echo '?')
	_bl_n=$(sed -n 's/.*Total requests: \([0-9]*\)$/\1/p' "$W/mailq")
	_bl_sample=$(ls "$Q" | sed -n 's/^qf//p' | shuf -n 3 | tr '\n' ' ')
	_bl_seen=0
	for _bl_s in $_bl_sample; do
		grep -q "^$_bl_s " "$W/mailq" && _bl_seen=$((_bl_seen + 1))
	done
	echo "sendmail -bp -Ac lists ${_bl_n:-none} of $1 (and $_bl_seen of 3 chosen at random: $_bl_sample), in $BENCH_BP_S s (peak RSS $BENCH_BP_KB kB)"
	if [ "${_bl_n:-0}" != "$1" ] || [ "$_bl_seen" -ne 3 ]; then
		echo "sendmail does not read the backlog: stopping" >&2
		return 1
	fi
}

# bench_daemon LABEL [ENV=VALUE...]: the daemon on CF's queue with the
# relay down, its control socket BENCH_SOCKET (default none), log in
# $W/daemon-LABEL.log; returns once it logged "watching" (the index
# made).  Sets BENCH_DPID and BENCH_UP_S (start to that line).  With
# NOTIFY_SOCKET among the ENVs, the start's time in the notify log's
# clock (time.monotonic()) is in $W/daemon-LABEL.t0.
bench_daemon() {
	_bd_label=$1
	shift
	BENCH_LOG=$W/daemon-$_bd_label.log
	rm -f "$W/daemon-$_bd_label.t0"
	env -u WATCHDOG_USEC -u WATCHDOG_PID -u NOTIFY_SOCKET -u JOURNAL_STREAM "$@" \
	    "$BENCH_PY" -S -E "$top_srcdir/tests/tools/ctl-load.py" exec "$W/daemon-$_bd_label.t0" \
	    "$RUNNER" -C "$CF" --control "${BENCH_SOCKET:-none}" 2>"$BENCH_LOG" &
	BENCH_DPID=$!
	IT_PIDS="$IT_PIDS $BENCH_DPID"
	# From the exec on (python's own start is not the daemon's).
	until [ -s "$W/daemon-$_bd_label.t0" ]; do
		kill -0 "$BENCH_DPID" 2>/dev/null || { cat "$BENCH_LOG" >&2; return 1; }
		sleep 0.01
	done
	_bd_t0=$(bench_now)
	until grep -qs watching "$BENCH_LOG"; do
		kill -0 "$BENCH_DPID" 2>/dev/null || { cat "$BENCH_LOG" >&2; return 1; }
		sleep 0.01
	done
	BENCH_UP_S=$(bench_since "$_bd_t0")
}
bench_stop_daemon() {
	kill "$BENCH_DPID" 2>/dev/null || true
	wait "$BENCH_DPID" 2>/dev/null || true
	IT_PIDS=$(echo " $IT_PIDS " | sed "s/ $BENCH_DPID / /")
}

# bench_sink_start MESSAGES: bench/sink on PORT, exiting after MESSAGES;
# returns once it listens.
bench_sink_start() {
	"$SINK" -p "$PORT" -n "$1" 2>"$W/sink.out" &
	BENCH_SPID=$!
	wait_for sh -c "ss -Hltn 'sport = :$PORT' | grep -q ."
}
# bench_sink_rate: waits for the sink; sets BENCH_GOT, BENCH_SECS (first
# MAIL to last message, as it counts) and BENCH_RATE (msg/s).
bench_sink_rate() {
	wait "$BENCH_SPID" || true
	sed -n 's/^accepted \([0-9]*\) messages, [0-9]* bytes, \([0-9.]*\) seconds$/\1 \2/p' \
	    "$W/sink.out" >"$W/drain"
	read -r BENCH_GOT BENCH_SECS <"$W/drain" || { BENCH_GOT=0 BENCH_SECS=0; }
	BENCH_RATE=$(echo "$BENCH_GOT $BENCH_SECS" | awk '$2 > 0 { printf "%.0f", $1 / $2; exit } { print 0 }')
}

# bench_drain MESSAGES: the running daemon (BENCH_DPID) drains $Q into
# the sink after a flush (SIGUSR1); sets BENCH_D_RATE.
bench_drain() {
	bench_sink_start "$1"
	_dr_sched=$(cat "/proc/$BENCH_DPID/schedstat")
	_dr_csw=$(bench_csw "$BENCH_DPID")
	if [ -n "${BENCH_PERF-}" ]; then
		perf record -g -q -o "$BENCH_PERF/daemon.data" -p "$BENCH_DPID" 2>/dev/null &
		_dr_perf=$!
		sleep 1
	fi
	_dr_t0=$(bench_now)
	kill -USR1 "$BENCH_DPID"
	bench_sink_rate
	while [ "$(bench_qf_count "$Q")" -gt 0 ]; do sleep 0.05; done
	[ -z "${BENCH_PERF-}" ] || { kill -INT "$_dr_perf"; wait "$_dr_perf" || true; }
	BENCH_D_RATE=$BENCH_RATE
	echo "daemon: $BENCH_GOT messages in $BENCH_SECS s as sink counts (${BENCH_RATE} msg/s)," \
	    "$(bench_since "$_dr_t0") s from the flush to the last control file gone"
	bench_cpu_line daemon "$_dr_sched" "$(cat "/proc/$BENCH_DPID/schedstat")" \
	    $(($(bench_csw "$BENCH_DPID") - _dr_csw))
}

# bench_cpu_line WHO SCHEDSTAT0 SCHEDSTAT1 SWITCHES: its time on a CPU and
# waiting for one between the two readings of /proc/PID/schedstat, and
# its context switches (mostly waits for the disk or the relay).
bench_cpu_line() {
	echo "$2 $3 $4" | awk -v who="$1" '{ printf "%s: %.1f s on a CPU, %.1f s waiting for one, %d context switches\n",
	    who, ($4 - $1) / 1e9, ($5 - $2) / 1e9, $7 }'
}

# bench_once MESSAGES: `clientq-runner --once` on the same queue made
# again, into the sink; sets BENCH_O_RATE and prints the daemon's share.
bench_once() {
	bench_queue_again "$1"
	bench_sink_start "$1"
	_bo_t0=$(bench_now)
	if [ -n "${BENCH_PERF-}" ]; then
		perf record -g -q -o "$BENCH_PERF/once.data" -- "$RUNNER" --once -C "$CF" 2>/dev/null &
	else
		"$RUNNER" --once -C "$CF" 2>/dev/null &
	fi
	_bo_pid=$!
	# Its CPU as the daemon's is read: from /proc while it runs (perf's
	# child when under perf).
	sleep 0.2
	_bo_run=$(pgrep -n -f -- "--once -C $CF" || echo "$_bo_pid")
	_bo_sched=$(cat "/proc/$_bo_run/schedstat" 2>/dev/null || echo "0 0 0")
	_bo_csw=$(bench_csw "$_bo_run" 2>/dev/null || echo 0)
	_bo_last=$_bo_sched _bo_lcsw=$_bo_csw
	while kill -0 "$_bo_run" 2>/dev/null; do
		_bo_last=$(cat "/proc/$_bo_run/schedstat" 2>/dev/null || echo "$_bo_last")
		_bo_lcsw=$(bench_csw "$_bo_run" 2>/dev/null || echo "$_bo_lcsw")
		sleep 0.2
	done
	wait "$_bo_pid" || true
	bench_sink_rate
	BENCH_O_RATE=$BENCH_RATE
	echo "clientq-runner --once on the same queue: $BENCH_GOT messages in $BENCH_SECS s" \
	    "(${BENCH_RATE} msg/s), $(bench_since "$_bo_t0") s in all"
	bench_cpu_line "--once (to its last 0.2 s)" "$_bo_sched" "$_bo_last" $((_bo_lcsw - _bo_csw))
	BENCH_SHARE=$(echo "$BENCH_D_RATE $BENCH_O_RATE" | awk '$2 > 0 { printf "%.0f", $1 / $2 * 100; exit } { print "?" }')
	echo "the daemon drains at $BENCH_SHARE % of --once's rate"
}

# bench_sendmail_qf MESSAGES: unless BENCH_SENDMAIL=no, `sendmail -Ac
# -qf` on BENCH_SENDMAIL_SAMPLE (1000) messages queued the same way, into
# the sink; sets BENCH_SM_RATE and compares it with BENCH_D_RATE.
bench_sendmail_qf() {
	BENCH_SM_RATE=
	[ "${BENCH_SENDMAIL:-yes}" != no ] || return 0
	_sq_n=${BENCH_SENDMAIL_SAMPLE:-1000}
	bench_queue "$_sq_n" >/dev/null
	bench_sink_start "$_sq_n"
	_sq_t0=$(bench_now)
	sm -Ac -qf -C "$CF" >/dev/null 2>&1 || true
	wait "$BENCH_SPID" || true
	_sq_s=$(bench_since "$_sq_t0")
	BENCH_SM_RATE=$(echo "$_sq_n $_sq_s" | awk '{ printf "%.1f", $1 / $2 }')
	echo "sendmail -Ac -qf, $_sq_n of them: $_sq_s s (${BENCH_SM_RATE} msg/s); at that rate $1 would take" \
	    "$(echo "$1 $BENCH_SM_RATE" | awk '{ printf "%.0f", $1 / $2 / 60 }') minutes"
	echo "$BENCH_D_RATE $BENCH_SM_RATE" | awk '{ printf "the daemon drains %.0f times as fast as sendmail -Ac -qf\n", $1 / $2 }'
}

#!/bin/sh
# The hostile queue corpus (tests/hostile/cases, made by tests/hostile/gen.sh
# from messages real sendmail queued) against `clientq-runner --once`, the
# daemon and `clientqctl list --offline`, each on a fresh copy of it beside
# good messages:
# - each case ends as its line says: delivered once, quarantined (Qf, byte
#   for byte), skipped (every entry as it was), removed (only the control
#   file of a finished removal) or ignored; nothing else is deleted;
# - each is logged exactly once, by the daemon too through two SIGHUP
#   rescans and a flush (SIGUSR1), and the daemon idles meanwhile;
# - nothing outside the queue is read: a secret's contents never reach the
#   wire, the logs or a listing; fanotify sees no open or read of the
#   secret, of a control file outside the queue or of /etc/shadow by the
#   programs; under strace, no symbolic link, FIFO, socket or device of the
#   corpus is opened and /etc/shadow is never named;
# - no run crashes or hangs (every run has a time limit), a FIFO blocks
#   nothing, and the daemon's control socket lists the queue meanwhile.
# Prints what each case is and how it ended, "N cases, N lost" per program
# (must be 0 lost), then "N passed, N failed".
# CQ_HOSTILE_MB (default 100) sizes the 100 MB lines; under CQ_VALGRIND=1
# (lib.sh: the programs run under valgrind) strace is left out.
: "${IT_TIMEOUT:=900}"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_long
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup
RUNNER=$IT_RUNNER
CHECK="python3 $top_srcdir/tests/tools/hostile-check.py"
CASES=$top_srcdir/tests/hostile/cases
. "$top_srcdir/tests/hostile/gen.sh"
: "${CQ_HOSTILE_MB:=100}"
STRACE=
if [ -z "${CQ_VALGRIND-}" ] && command -v strace >/dev/null 2>&1; then
	STRACE=strace
fi
HOSTILE_WRITERS=

# The second queue, with qf/ and df/, and its submit.cf.
Q2=$W/q2
mkdir -p "$Q2/qf" "$Q2/df"
chown smmsp:smmsp "$Q2" "$Q2/qf" "$Q2/df"
chmod 2770 "$Q2" "$Q2/qf" "$Q2/df"
it_make_cf "$Q2" "$PORT" "$W/submit2.cf"
CF2=$W/submit2.cf

# Outside the queue (same file system, for the hard links): a secret the
# runner could read, and a valid control file; both carry TOKEN.
TOKEN=CQSECRET-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
mkdir "$W/outside"
chmod 0755 "$W/outside"
SECRET=$W/outside/secret
OUTSIDE_QF=$W/outside/qf-outside
printf 'V8\nT1\nK0\nN0\nP1\nS%s@example.test\nRPFD:%s@example.test\nH??Subject: %s\n.\n' \
    "$TOKEN" "$TOKEN" "$TOKEN" >"$SECRET"
cp "$SECRET" "$OUTSIDE_QF"
# The race's own, so that its hard links change no other case's file.
FLIP_QF=$W/outside/qf-flip
cp "$SECRET" "$FLIP_QF"
chown smmsp:smmsp "$SECRET" "$OUTSIDE_QF" "$FLIP_QF"
chmod 0660 "$SECRET" "$OUTSIDE_QF" "$FLIP_QF"
# The receiver takes the 100 MB message (its default SIZE is 50 MB).
REC_EXT="PIPELINING,SIZE 1073741824,8BITMIME,DSN,SMTPUTF8,ENHANCEDSTATUSCODES"

# build: a fresh corpus in $Q and $Q2; $W/manifest and $W/snap.json
# describe it.
build() {
	for _k in $HOSTILE_WRITERS; do kill "$_k" 2>/dev/null; done
	HOSTILE_WRITERS=
	rm -rf "$W/gen" "$Q"/* "$Q2"/qf/* "$Q2"/df/*
	find "$Q2" -mindepth 1 -maxdepth 1 ! -name qf ! -name df -exec rm -rf {} +
	mkdir "$W/gen"
	: >"$W/manifest"
	set -f
	while read -r name expect layout gen <&3; do
		case $name in '#'* | '') continue ;; esac
		desc=${gen#* -- }
		gen=${gen%% -- *}
		ID=$(submit "$name@example.test")
		[ -n "$ID" ] || { echo "build: sendmail queued nothing for $name" >&2; return 1; }
		GQ=$W/gen/$name
		mkdir "$GQ"
		QQ=$GQ QDF=$GQ QUEUE_PATH=$Q
		if [ "$layout" = sub ]; then
			mkdir "$GQ/qf" "$GQ/df"
			QQ=$GQ/qf QDF=$GQ/df QUEUE_PATH=$Q2
		fi
		mv "$Q/qf$ID" "$Q/df$ID" "$GQ/"
		MARK=$ID
		# shellcheck disable=SC2086  # the generator and its words (no globs: set -f)
		set -- $gen
		"$@" </dev/null || { echo "build: $name: $gen failed" >&2; return 1; }
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$expect" "$layout" "$ID" "$MARK" "$desc" >>"$W/manifest"
		[ "$name" != race-flipper ] || FLIP_ID=$ID
	done 3<"$CASES"
	set +f
	$CHECK snap "$W/gen" "$W/manifest" "$W/snap.json" || return 1
	# Into the queues (rename: inodes, links, FIFOs, sockets and devices
	# move as they are).
	while IFS='	' read -r name expect layout id mark desc; do
		_g=$W/gen/$name
		if [ "$layout" = sub ]; then
			for _e in "$_g/qf"/* "$_g/df"/*; do
				[ -e "$_e" ] || [ -L "$_e" ] || continue
				mv "$_e" "$Q2/${_e#"$_g/"}"
			done
			rmdir "$_g/qf" "$_g/df"
			for _e in "$_g"/*; do
				[ -e "$_e" ] || [ -L "$_e" ] || continue
				mv "$_e" "$Q2/"
			done
		else
			for _e in "$_g"/*; do
				[ -e "$_e" ] || [ -L "$_e" ] || continue
				mv "$_e" "$Q/"
			done
		fi
	done <"$W/manifest"
}

# The race: qf<FLIP_ID> swapped, again and again, for a symbolic link to
# the secret, a FIFO, a hard link to the outside control file and a bogus
# (world-writable) file, until $W/flip.stop; it ends as the link.
flip_start() {
	rm -f "$W/flip.stop"
	(
		_n=0
		while [ ! -e "$W/flip.stop" ] && [ "$_n" -lt 20000 ]; do
			ln -s "$SECRET" "$Q/.flip" && mv -f "$Q/.flip" "$Q/qf$FLIP_ID"
			mkfifo "$Q/.flip" && mv -f "$Q/.flip" "$Q/qf$FLIP_ID"
			ln "$FLIP_QF" "$Q/.flip" && mv -f "$Q/.flip" "$Q/qf$FLIP_ID"
			printf 'V8\nT1\nK0\nN0\nP1\nSflip\nRPFD:race-flipper@example.test\n.\n' >"$Q/.flip" &&
			    chmod 0666 "$Q/.flip" && mv -f "$Q/.flip" "$Q/qf$FLIP_ID"
			_n=$((_n + 1))
		done
		ln -s "$SECRET" "$Q/.flip" && mv -f "$Q/.flip" "$Q/qf$FLIP_ID"
	) &
	FLIPPER=$!
}
flip_stop() {
	: >"$W/flip.stop"
	wait "$FLIPPER"
}

watch_start() {
	rm -f "$W/watch.out" "$W/watch.pid"
	: >"$W/watch.out"
	python3 "$top_srcdir/tests/tools/open-watch.py" --out "$W/watch.out" --pidfile "$W/watch.pid" \
	    --exe "$top_builddir/clientq-runner/clientq-runner" --exe "$top_builddir/clientqctl" \
	    --cmdline-has "$W" \
	    "$SECRET" "$OUTSIDE_QF" "$FLIP_QF" /etc/shadow 2>"$W/watch.err" &
	IT_PIDS="$IT_PIDS $!"
	if ! wait_for test -s "$W/watch.pid"; then
		# Then the verdict on opens has nothing to go by: a failure,
		# not a pass.
		fail "fanotify watcher did not start" "$(cat "$W/watch.err")"
		return 1
	fi
}
watch_stop() {
	_wp=$(cat "$W/watch.pid" 2>/dev/null)
	[ -n "$_wp" ] && kill "$_wp" 2>/dev/null
	wait_for sh -c '! test -e "$1"' sh "$W/watch.pid"
}

# verdicts MODE ARGS...: the checker's lines, counted as ok/fail.
verdicts() {
	$CHECK check --snap "$W/snap.json" --manifest "$W/manifest" --mode "$@" \
	    --queue "flat=$Q" --queue "sub=$Q2" --token "$TOKEN" >"$W/verdicts" 2>&1
	_last=
	while IFS= read -r _l; do
		case $_l in
		"ok - "*) ok "${_l#ok - }" ;;
		"not ok - "*) _last=${_l#not ok - }; fail "$_last" ;;
		"#   "*) printf '%s\n' "$_l" ;;
		*" cases, "*" lost") LOSTLINE="$LOSTLINE; $1: $_l"; printf '# %s: %s\n' "$1" "$_l"
			_lost=${_l#*cases, }
			LOST=$((LOST + ${_lost% lost}))
			case $_l in *" 0 lost") ;; *) fail "$1: mail or files lost: $_l" ;; esac ;;
		*) printf '# %s\n' "$_l" ;;
		esac
	done <"$W/verdicts"
	# A message that did not arrive: how far its body got before the
	# connection ended (the recorder's DATA-ABORTED: message, octets), so
	# that a relay too slow on a busy machine can be told from a runner
	# that stopped writing.
	if [ -n "$_last" ]; then
		_rec=
		while [ $# -gt 0 ]; do
			[ "$1" = --rec ] && _rec=$2
			shift
		done
		if [ -n "$_rec" ]; then
			grep -H DATA-ABORTED "$_rec"/session-*.txt 2>/dev/null | head -n 5 |
			    sed 's/^/#   recorder: /'
		fi
	fi
}
LOSTLINE=
LOST=0

# ------------------------------------------------------------- --once
build || { fail "building the corpus"; it_finish; }
printf '# the corpus: %s cases\n' "$(wc -l <"$W/manifest")"
it_recorder_start "$PORT" "$W/rec-once" --ext "$REC_EXT"
watch_start
flip_start
if [ -n "$STRACE" ]; then
	# LeakSanitizer cannot work under ptrace (an ASan build aborts at
	# exit): leaks are for the other runs here, and for valgrind's.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    timeout 300 strace -f -y -qq -s 64 -o "$W/once.strace" \
	    -e trace=open,openat,openat2,read,pread64,readv,preadv,mmap,sendfile,copy_file_range,splice \
	    "$RUNNER" --once -C "$CF" 2>"$W/once.log"
else
	timeout 300 "$RUNNER" --once -C "$CF" 2>"$W/once.log"
fi
rc=$?
flip_stop
timeout 300 "$RUNNER" --once -C "$CF2" 2>>"$W/once.log"
rc2=$?
watch_stop
it_recorder_stop "$W/rec-once"
# The qf/ queue keeps nothing in qf/ (its refused files are Qf now).
if [ "$rc" -eq 75 ] && [ "$rc2" -eq 0 ]; then
	ok "--once: exits 75 (messages left queued), and 0 for the qf/ queue; no crash, no hang"
else
	fail "--once exits $rc and $rc2 (75 and 0 expected)" "$(tail -n 5 "$W/once.log")"
fi
set --
[ -z "$STRACE" ] || set -- --strace "$W/once.strace"
verdicts once --log "$W/once.log" --rec "$W/rec-once" --watch "$W/watch.out" "$@"

# ------------------------------------------------------------- daemon
build || { fail "building the corpus"; it_finish; }
mkdir -p "$W/run" && chown smmsp:smmsp "$W/run"
it_recorder_start "$PORT" "$W/rec-daemon" --ext "$REC_EXT"
watch_start
flip_start
"$RUNNER" -C "$CF" --control "$W/run/control" 2>"$W/daemon.log" &
DPID=$!
"$RUNNER" -C "$CF2" --control none 2>"$W/daemon2.log" &
DPID2=$!
IT_PIDS="$IT_PIDS $DPID $DPID2"
sleep 3
flip_stop
goods_done() {
	for _n in $(awk -F '\t' '$2 == "delivered" { print $1 }' "$W/manifest"); do
		cat "$W/rec-daemon"/session-*.txt 2>/dev/null | grep -qi "^RCPT To:<$_n@example.test>" || return 1
	done
	for _i in $(awk -F '\t' '$2 == "quarantined" { print $4 }' "$W/manifest"); do
		[ -e "$Q/Qf$_i" ] || [ -e "$Q2/qf/Qf$_i" ] || return 1
	done
}
_t=0
while ! goods_done && [ "$_t" -lt 120 ]; do sleep 1; _t=$((_t + 1)); done
check "daemon: the good messages delivered and the refused quarantined (${_t} s)" goods_done
if timeout 60 "$CLIENTQCTL" --socket "$W/run/control" list --all >"$W/ctl-list.out" 2>&1; then
	ok "daemon: clientqctl list --all answered beside the corpus"
else
	fail "daemon: clientqctl list --all" "$(cat "$W/ctl-list.out")"
fi
# Rescans (SIGHUP re-reads submit.cf and rescans; SIGUSR1 makes all due):
# nothing may be logged again.
for _sig in HUP HUP USR1; do
	kill -"$_sig" "$DPID" "$DPID2"
	sleep 2
done
# An idle daemon beside the corpus: CPU time over 3 s, in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
c0=$(cpu "$DPID")
sleep 3
c1=$(cpu "$DPID")
hz=$(getconf CLK_TCK)
if [ $((c1 - c0)) -le "$hz" ]; then
	ok "daemon: idle beside the corpus ($((c1 - c0)) ticks of $hz/s in 3 s)"
else
	fail "daemon: busy beside the corpus: $((c1 - c0)) ticks in 3 s"
fi
kill -TERM "$DPID" "$DPID2"
wait "$DPID"
rc=$?
wait "$DPID2"
rc2=$?
check "daemon: SIGTERM, exit 0 (both queues)" test "$rc" -eq 0 -a "$rc2" -eq 0
watch_stop
it_recorder_stop "$W/rec-daemon"
cat "$W/daemon2.log" >>"$W/daemon.log"
verdicts daemon --log "$W/daemon.log" --rec "$W/rec-daemon" --watch "$W/watch.out" \
    --output "$W/ctl-list.out"

# ------------------------------------------------------ list --offline
build || { fail "building the corpus"; it_finish; }
watch_start
flip_start
timeout 60 "$CLIENTQCTL" list --offline -C "$CF" >"$W/list.out" 2>&1
rc=$?
timeout 60 "$CLIENTQCTL" list --offline --json -C "$CF" >"$W/list.json" 2>"$W/list-json.err"
rcj=$?
timeout 60 "$CLIENTQCTL" list --offline -C "$CF2" >>"$W/list.out" 2>&1
rc2=$?
flip_stop
watch_stop
check "list --offline: exit 0, no crash, no hang (text, JSON, the qf/ queue)" \
    test "$rc" -eq 0 -a "$rcj" -eq 0 -a "$rc2" -eq 0
if python3 -c '
import json, sys
for l in open(sys.argv[1], "rb"):
    assert isinstance(json.loads(l), dict)
' "$W/list.json" 2>/dev/null; then
	ok "list --offline --json: valid JSON, an object a line"
else
	fail "list --offline --json is not JSON" "$(head -c 300 "$W/list.json")"
fi
verdicts list --watch "$W/watch.out" --output "$W/list.out" --output "$W/list.json" \
    --output "$W/list-json.err"

for _k in $HOSTILE_WRITERS; do kill "$_k" 2>/dev/null; done
printf '# %s\n' "${LOSTLINE#; }"
# The count: cases, and losses summed over the three programs.
printf '%d cases, %d lost\n' "$(wc -l <"$W/manifest")" "$LOST"
it_finish

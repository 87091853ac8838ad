# Shared helpers for the integration tests (sourced, POSIX sh).
#
# Each test calls it_need_root_sendmail (exit 77 = skipped when not root or
# when sendmail-bin is missing), it_setup (a private client queue and a
# submit.cf built with m4), then ok/fail for each check, and it_finish,
# which prints "N passed, N failed" and sets the exit status.
# Every sendmail call goes through `sm`, which runs it in a private mount
# namespace with a hosts file that gives it a qualified name (otherwise
# each call sleeps 60 s looking for one).

SENDMAIL=${SENDMAIL:-/usr/libexec/sendmail/sendmail}
CF_M4=/usr/share/sendmail/cf/m4/cf.m4
: "${top_builddir:=$(pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
QFTOOL=$top_builddir/tests/tools/qftool
CLIENTQCTL=$top_builddir/clientqctl
IT_RUNNER=$top_builddir/clientq-runner/clientq-runner
# CQ_VALGRIND=1: it_setup points CLIENTQCTL and IT_RUNNER at wrappers that
# run the programs under valgrind's memcheck (make check-valgrind); an
# error or a definite leak makes the program exit with CQ_VALGRIND_RC, and
# it_finish fails the test on any report.  it_memory_measurable leaves out
# what cannot be checked that way.
CQ_VALGRIND_RC=${CQ_VALGRIND_RC:-99}

it_passed=0
it_failed=0

ok() {
	it_passed=$((it_passed + 1))
	printf 'ok %d - %s\n' "$((it_passed + it_failed))" "$1"
}

fail() {
	it_failed=$((it_failed + 1))
	printf 'not ok %d - %s\n' "$((it_passed + it_failed))" "$1"
	shift
	for line in "$@"; do
		printf '#   %s\n' "$line"
	done
}

# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	_d=$1
	shift
	if "$@"; then ok "$_d"; else fail "$_d" "command failed: $*"; fi
}

it_finish() {
	it_stop_watchdog
	[ -z "${CQ_VALGRIND-}" ] || it_valgrind_reports
	printf '%d passed, %d failed\n' "$it_passed" "$it_failed"
	[ "$it_failed" -eq 0 ]
	exit $?
}

# Under CQ_VALGRIND: a report with anything in it is a failure, shown.
it_valgrind_reports() {
	_vn=0 _vbad=0
	for _vl in "$W"/vg/*.log; do
		[ -e "$_vl" ] || continue
		_vn=$((_vn + 1))
		if [ -s "$_vl" ]; then
			_vbad=$((_vbad + 1))
			fail "valgrind: ${_vl##*/} reports errors or definite leaks" "$(head -n 60 "$_vl")"
		fi
	done
	if [ "$_vbad" -gt 0 ]; then
		:
	elif [ "$_vn" -gt 0 ]; then
		ok "valgrind: $_vn runs of the programs, no error and no definite leak"
	else
		fail "valgrind: no run of the programs under valgrind was seen"
	fi
}

# A test that hangs is killed after IT_TIMEOUT seconds (default 600), so a
# stuck sendmail or receiver can never eat CI's time.  The default is twice
# what the slowest sendmail-bound test (compat-selfcheck.sh: 23 queues
# written and flushed twice, each transaction normalized) takes beside
# another test on a 2-core machine at a load of 10: 300 s was not enough
# there.
it_watchdog() {
	(
		# wait is interrupted by a trapped signal: stopping the watchdog
		# takes its sleep with it instead of orphaning it.
		trap 'kill "$_sleep" 2>/dev/null; exit 0' TERM
		sleep "${IT_TIMEOUT:-600}" &
		_sleep=$!
		wait "$_sleep"
		echo "TIMEOUT: $0 ran longer than ${IT_TIMEOUT:-600} s" >&2
		kill -TERM $$
	) &
	IT_WATCHDOG=$!
}

it_stop_watchdog() {
	if [ -n "${IT_WATCHDOG-}" ]; then
		kill "$IT_WATCHDOG" 2>/dev/null || true
		wait "$IT_WATCHDOG" 2>/dev/null || true
		IT_WATCHDOG=
	fi
}

it_need_root_sendmail() {
	it_watchdog
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: needs root (private mount namespaces, chown to smmsp)"
		exit 77
	fi
	if [ ! -x "$SENDMAIL" ] || [ ! -f "$CF_M4" ]; then
		echo "SKIP: needs sendmail-bin and sendmail-cf (tests/install-deps)"
		exit 77
	fi
}

# it_long: the test takes minutes.  Under CQ_SUITE=short it is skipped
# (exit 77), which is how CI's distcheck runs: the tarball's own suite
# proves that it builds and that what the tests need was shipped, while
# the whole suite has already run from the same sources in CI's first
# stage.  Anywhere else, and by default, it runs.
it_long() {
	if [ "${CQ_SUITE-}" = short ]; then
		echo "SKIP: a long test; CQ_SUITE=short leaves it to the full suite"
		exit 77
	fi
}

# it_test_hooks: the programs were built with --enable-test-hooks
# (config.h's CQ_TEST_HOOKS): CLIENTQ_CRASH_AT's crash points and
# CLIENTQ_TEST_STALL's stalled loop work.  it_need_test_hooks skips (77)
# a test that is nothing without them.
it_test_hooks() {
	grep -q '^#define CQ_TEST_HOOKS 1' "$top_builddir/config.h" 2>/dev/null
}
it_need_test_hooks() {
	if ! it_test_hooks; then
		echo "SKIP: needs a build configured with --enable-test-hooks"
		exit 77
	fi
}

# it_ctl USER ARGS...: clientqctl as USER (root: directly) on the control
# socket $S; stdout in $W/out, stderr in $W/err, exit status in $rc.
it_ctl() {
	_who=$1
	shift
	if [ "$_who" = root ]; then
		"$CLIENTQCTL" --socket "$S" "$@" >"$W/out" 2>"$W/err"
	else
		setpriv --reuid="$_who" --regid="$(id -g "$_who")" --clear-groups \
		    "$CLIENTQCTL" --socket "$S" "$@" >"$W/out" 2>"$W/err"
	fi
	rc=$?
}

# it_ctl_expect DESCRIPTION RC [REGEX [FILE]]: the last it_ctl exited RC
# and FILE (default out) has a line matching REGEX.
it_ctl_expect() {
	_f=$W/${4:-out}
	if [ "$rc" -eq "$2" ] && { [ -z "${3-}" ] || grep -Eq -- "$3" "$_f"; }; then
		ok "$1"
	else
		fail "$1" "exit $rc, wanted $2" "stdout: $(cat "$W/out")" "stderr: $(cat "$W/err")"
	fi
}

# A TCP port on 127.0.0.1 that no socket uses: a random one below the
# kernel's ephemeral range (32768 and up), where the tests' own outgoing
# connections would make a listener's bind fail; random, so that tests
# running side by side (make -j check) do not pick the same.
it_free_port() {
	_p=$(( $(od -An -N2 -tu2 /dev/urandom) % 12000 + 20000 ))
	while [ -n "$(ss -Hatn "sport = :$_p" 2>/dev/null)" ]; do
		_p=$(( $(od -An -N2 -tu2 /dev/urandom) % 12000 + 20000 ))
	done
	echo "$_p"
}

# it_make_cf QUEUEDIR PORT OUTFILE [M4]: a submit.cf built with m4 like
# the stock one (FEATURE(msp, [127.0.0.1])), with confDOMAIN_NAME
# host.test, QueueDirectory QUEUEDIR and the relay mailer connecting to
# PORT; M4 (e.g. "MASQUERADE_AS(`masq.example')dnl") goes in before the
# msp feature.  OUTFILE.mc keeps the m4 source; the PidFile is OUTFILE.pid.
it_make_cf() {
	cat >"$3.mc" <<EOF
include(\`$CF_M4')dnl
VERSIONID(\`clientq-runner test submit.cf')dnl
define(\`confCF_VERSION', \`Submit')dnl
define(\`__OSTYPE__',\`')dnl
define(\`_USE_DECNET_SYNTAX_', \`1')dnl
define(\`confTIME_ZONE', \`USE_TZ')dnl
define(\`confDONT_INIT_GROUPS', \`True')dnl
define(\`MSP_QUEUE_DIR', \`$1')dnl
define(\`confPID_FILE', \`$3.pid')dnl
define(\`confSERVICE_SWITCH_FILE', \`$W/service.switch')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $2')dnl
define(\`confDOMAIN_NAME', \`host.test')dnl
${4-}
FEATURE(\`msp', \`[127.0.0.1]')dnl
EOF
	m4 "$3.mc" >"$3" && chmod 0644 "$3"
}

# it_setup: W (work dir), Q (queue dir, smmsp:smmsp 2770), CF (submit.cf
# sending to [127.0.0.1]:$PORT).
it_setup() {
	W=$(mktemp -d /tmp/cq-it.XXXXXX)
	chmod 0755 "$W"
	trap 'it_cleanup' EXIT
	# A signal (the watchdog's TERM) ends the test through exit, so that
	# the EXIT trap runs: dash runs none for a death by signal, and a
	# test's daemons and receivers would be left running.
	trap 'exit 143' TERM INT
	PORT=$(it_free_port)
	Q=$W/q
	mkdir "$Q"
	chown smmsp:smmsp "$Q"
	chmod 2770 "$Q"
	# The machine's own name too, as an alias: sendmail looks it up, and
	# without it each call asks DNS, where a lost answer costs 5 s.
	printf '127.0.0.1 host.test host localhost %s\n127.0.0.1 example.test\n::1 host.test host %s\n' \
	    "$(hostname)" "$(hostname)" >"$W/hosts"
	printf 'hosts files\naliases files\n' >"$W/service.switch"
	it_make_cf "$Q" "$PORT" "$W/submit.cf"
	CF=$W/submit.cf
	# Every daemon this test starts, and every clientqctl it runs, use a
	# control socket of the test's own (both read CLIENTQ_SOCKET), never
	# the system's: tests run side by side, and on machines with a
	# clientq-runner of their own.
	CLIENTQ_SOCKET=$W/control
	export CLIENTQ_SOCKET
	IT_PIDS=
	[ -z "${CQ_VALGRIND-}" ] || it_valgrind_wrappers
}

# CQ_RUNNER_MODE: how the tests that compare a queue run with sendmail's
# (compat-runner, failures, partial, log-format) run the queue: "once"
# (the default) with `clientq-runner --once`, "daemon" through the daemon,
# which drives the same delivery engine (it_run_queue).  Their *-daemon.sh
# twins set it.
CQ_RUNNER_MODE=${CQ_RUNNER_MODE:-once}

# it_daemon_mode: whether this run goes through the daemon.
it_daemon_mode() {
	[ "$CQ_RUNNER_MODE" = daemon ]
}

# it_run_queue QUEUEDIR ARGS...: one queue run over QUEUEDIR, as
# `clientq-runner --once ARGS...` makes it (ARGS name the submit.cf whose
# queue is QUEUEDIR), with its exit status (0: the queue is empty, 75:
# something is still queued) and its log on standard error.
# In daemon mode the daemon is started instead (ARGS without --once; one
# connection, as --once uses; no control socket; retries an hour away, so
# that a deferred message is tried once, as in one run), flushed, as
# --once tries every message whatever its retry time, and stopped with
# SIGTERM once every control file in QUEUEDIR has had its attempt: each
# one that was there is gone or rewritten, each that appeared (a
# notification) gone or tried (N > 0), at most IT_RUN_WAIT (60) seconds;
# the status is then read off the queue as --once computes it.
it_run_queue() {
	_rq_q=$1
	shift
	if ! it_daemon_mode; then
		"${RUNNER:-$IT_RUNNER}" --once "$@"
		return
	fi
	_rq_snap=$(mktemp -d "${TMPDIR:-/tmp}/cq-snap.XXXXXX") || return 70
	for _rq_f in "$_rq_q"/qf*; do
		[ ! -f "$_rq_f" ] || cp -p "$_rq_f" "$_rq_snap/"
	done
	_rq_tried=
	! grep -q '^N[1-9]' "$_rq_q"/qf* 2>/dev/null || _rq_tried=1
	"${RUNNER:-$IT_RUNNER}" --connections 1 --retry-min 3600 --retry-max 3600 \
	    --control none "$@" &
	_rq_pid=$!
	IT_PIDS="$IT_PIDS $_rq_pid"
	# Messages tried before (N > 0) are due only after their retry
	# interval; --once tries them all, the daemon after a flush (SIGUSR1),
	# sent as soon as it takes signals as requests (blocked).  Only then:
	# a flush that came after a message of this run was deferred would
	# try it again.
	if [ -n "$_rq_tried" ]; then
		while ! it__sigusr1_blocked "$_rq_pid"; do
			kill -0 "$_rq_pid" 2>/dev/null || break
		done
		kill -USR1 "$_rq_pid" 2>/dev/null
	fi
	# Twice, half a second apart: a notification is written in steps
	# (deliver.h), and the original changes at the first.
	{ wait_for_s "${IT_RUN_WAIT:-60}" it__queue_tried "$_rq_q" "$_rq_snap" && sleep 0.5 &&
	    wait_for_s "${IT_RUN_WAIT:-60}" it__queue_tried "$_rq_q" "$_rq_snap"; } ||
	    echo "# it_run_queue: the daemon did not try every message within ${IT_RUN_WAIT:-60} s" >&2
	kill -TERM "$_rq_pid" 2>/dev/null
	wait "$_rq_pid"
	_rq_rc=$?
	rm -rf "$_rq_snap"
	[ "$_rq_rc" -eq 0 ] || return "$_rq_rc"
	for _rq_f in "$_rq_q"/qf*; do
		[ ! -f "$_rq_f" ] || return 75
	done
	return 0
}

# it__sigusr1_blocked PID: whether PID blocks SIGUSR1 (reads /proc with
# builtins only: it is polled in a tight loop).
it__sigusr1_blocked() {
	while read -r _sb_k _sb_v; do
		[ "$_sb_k" = SigBlk: ] || continue
		[ $((0x$_sb_v & 0x200)) -ne 0 ]
		return
	done <"/proc/$1/status" 2>/dev/null
	return 1
}

# it__queue_tried QUEUEDIR SNAPSHOTDIR: every qf in QUEUEDIR has had its
# attempt (see it_run_queue).
it__queue_tried() {
	for _qt_f in "$1"/qf*; do
		[ -f "$_qt_f" ] || continue
		if [ -f "$2/${_qt_f##*/}" ]; then
			! cmp -s "$_qt_f" "$2/${_qt_f##*/}" || return 1
		else
			! grep -qx 'N0' "$_qt_f" || return 1
		fi
	done
	return 0
}

# it_valgrind_wrappers: $W/vg/clientq-runner and $W/vg/clientqctl exec
# the programs under memcheck (the same PID: signals, pid files and
# /proc/PID work as before; the process's name and exe are valgrind's).
# Each run's report goes to $W/vg/<program>.<pid>.log.
it_valgrind_wrappers() {
	command -v valgrind >/dev/null 2>&1 || { echo "SKIP: CQ_VALGRIND=1 needs valgrind (tests/install-deps)"; exit 77; }
	mkdir -p "$W/vg"
	chmod 0777 "$W/vg"	# the daemon writes its report as smmsp
	for _p in "$IT_RUNNER" "$top_builddir/clientqctl"; do
		cat >"$W/vg/${_p##*/}" <<EOF
#!/bin/sh
exec valgrind -q --tool=memcheck --error-exitcode=$CQ_VALGRIND_RC --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --child-silent-after-fork=yes --vgdb=no \
    --log-file="$W/vg/${_p##*/}.%p.log" "$_p" "\$@"
EOF
		chmod 0755 "$W/vg/${_p##*/}"
	done
	IT_RUNNER=$W/vg/clientq-runner
	CLIENTQCTL=$W/vg/clientqctl
}

# it_memory_measurable: whether the programs' own memory use can be read
# off /proc; not under valgrind (its own grows with every allocation) nor
# under the sanitizers (ASan's quarantine keeps 256 MB of freed memory
# and its shadow grows with the heap).  When not, says so and returns
# false, so a memory bound is checked in the plain build only.
it_memory_measurable() {
	if [ -n "${CQ_VALGRIND-}" ]; then
		echo "# under valgrind, memory bounds not checked"
		return 1
	fi
	if [ -n "${CQ_SAN-}" ]; then
		echo "# under the sanitizers, memory bounds not checked"
		return 1
	fi
	return 0
}

it_cleanup() {
	for _pid in $IT_PIDS; do
		kill "$_pid" 2>/dev/null || true
	done
	for _u in ${IT_USERS-}; do
		userdel "$_u" 2>/dev/null || true
	done
	[ -n "${KEEP_WORK-}" ] || rm -rf "$W"
}

# sm ARGS...: run sendmail with the private hosts file, in UTC.
sm() {
	TZ=UTC LC_ALL=C unshare -m --propagation private sh -c \
	    'mount --bind "$0" /etc/hosts && exec "$@"' "$W/hosts" "$SENDMAIL" "$@"
}

# sm_as USER ARGS...: sendmail run by USER through the setgid binary (a
# user's -C would cost it its group), in a private mount namespace whose
# /etc/mail is a directory holding only the test's submit.cf.
sm_as() {
	_u=$1
	shift
	mkdir -p "$W/etc-mail" && cp "$CF" "$W/etc-mail/submit.cf" || return 71
	TZ=UTC LC_ALL=C unshare -m --propagation private sh -c '
		mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/mail || exit 71
		u=$2
		shift 3
		exec setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"' \
	    "$W/hosts" "$W/etc-mail" "$_u" -- "$SENDMAIL" "$@"
}

# it_user NAME: a system user NAME for the test (removed by it_cleanup
# when the test made it).  Tests run in parallel and the one that made a
# user removes it when it ends, so each test names its own users: two
# tests sharing a name lose it under each other.
it_user() {
	if ! id "$1" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$1" || return 1
		IT_USERS="${IT_USERS-} $1"
	fi
}

# it_with_devlog [--exec] SOCKET COMMAND...: run COMMAND with the private
# hosts file in a private mount namespace where /dev is a tmpfs with the
# device nodes programs need bound back and /dev/log a link to SOCKET (a
# datagram socket of the test's): what it logs through syslog(3) goes
# there.  SOCKET "-": no /dev/log at all.  With --exec the calling
# (sub)shell becomes COMMAND: in the background, $! is COMMAND's own pid.
it_with_devlog() {
	mkdir -p "$W/olddev"
	_wd_x=
	[ "$1" != --exec ] || { _wd_x='exec'; shift; }
	_wd_sock=$1
	shift
	$_wd_x unshare -m --propagation private sh -c '
hosts=$1 sock=$2 olddev=$3
shift 3
mount --bind "$hosts" /etc/hosts &&
mount --rbind /dev "$olddev" &&
mount -t tmpfs none /dev &&
for n in null zero random urandom tty; do
	touch /dev/$n && mount --bind "$olddev/$n" /dev/$n || exit 1
done &&
if [ "$sock" = - ]; then test ! -e /dev/log; else ln -s "$sock" /dev/log; fi &&
exec "$@"' sh "$W/hosts" "$_wd_sock" "$W/olddev" "$@"
}

# sm_logged LOGFILE ARGS...: run sendmail as sm does and collect what it
# logs through syslog(3) into LOGFILE.  sendmail logs only to /dev/log; in
# its private mount namespace /dev is a tmpfs with the device nodes it
# needs bound back and /dev/log a link to a datagram socket of the test's.
sm_logged() {
	_sl_log=$1
	shift
	it_datagram_sink syslog "$W/log.sock" "$_sl_log" || return 1
	TZ=UTC LC_ALL=C it_with_devlog "$W/log.sock" "$SENDMAIL" "$@"
	_sl_rc=$?
	sleep 0.2	# let the last datagrams be written
	it_datagram_sink_stop "$_sl_log"
	return $_sl_rc
}

# it_datagram_sink MODE SOCKET OUT: tests/tools/log-sink.py bound to the
# datagram socket SOCKET (any user may write to it), writing what comes
# to OUT; MODE journal (the native protocol, decoded), syslog or notify
# (sd_notify, time-stamped).  Returns once it is bound.
it_datagram_sink() {
	rm -f "$2" "$3.pid"
	python3 "$top_srcdir/tests/tools/log-sink.py" --"$1" "$2" --out "$3" --pidfile "$3.pid" &
	IT_PIDS="$IT_PIDS $!"
	wait_for test -s "$3.pid"
}

# it_datagram_sink_stop OUT: stop the sink writing OUT.
it_datagram_sink_stop() {
	[ -s "$1.pid" ] || return 0
	_ds_pid=$(cat "$1.pid")
	kill "$_ds_pid" 2>/dev/null
	wait "$_ds_pid" 2>/dev/null
	rm -f "$1.pid"
}

# it_with_journal COMMAND...: run COMMAND (in the foreground: background
# the call; $! is then COMMAND's own pid, the subshell's process being
# replaced) with journald played by tests/tools/log-sink.py: in a private
# mount namespace, a tmpfs on /run/systemd and the sink on its journal
# socket, decoding the native protocol into $W/journal.json (its pid in
# $W/jsink.pid); COMMAND's stderr, appended to $W/stderr.log, is the
# journal's stream (JOURNAL_STREAM).  Add "$(cat "$W/jsink.pid")" to
# IT_PIDS once it is there.
it_with_journal() {
	touch "$W/stderr.log"
	rm -f "$W/jsink.pid"
	exec unshare -m --propagation private sh -c '
sink=$1 w=$2
shift 2
mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/journal || exit 1
python3 "$sink" --journal /run/systemd/journal/socket --out "$w/journal.json" \
    --pidfile "$w/jsink.pid" &
while [ ! -s "$w/jsink.pid" ]; do sleep 0.05; done
JOURNAL_STREAM=$(stat -c %d:%i "$w/stderr.log") exec "$@" 2>>"$w/stderr.log"
' sh "$top_srcdir/tests/tools/log-sink.py" "$W" "$@"
}

# it_jentry FILE NAME=REGEX...: some journal entry in FILE (log-sink.py
# --journal's output, one JSON object a line) has every field NAME matching
# its REGEX (whole value); and every entry with a QUEUE_ID has it as its
# MESSAGE's prefix.
it_jentry() {
	python3 - "$@" <<'PYEOF'
import json, re, sys
want = [a.split("=", 1) for a in sys.argv[2:]]
found = False
for line in open(sys.argv[1]):
    e = json.loads(line)
    if "QUEUE_ID" in e and not e["MESSAGE"].startswith(e["QUEUE_ID"] + ": "):
        sys.exit("QUEUE_ID %s is not the prefix of %r" % (e["QUEUE_ID"], e["MESSAGE"]))
    if all(isinstance(e.get(k), str) and re.fullmatch(v, e[k]) for k, v in want):
        found = True
sys.exit(0 if found else 1)
PYEOF
}

# submit RCPT...: queue one message (-odq) and print its queue ID.
submit() {
	_before=" $(ls "$Q" | tr '\n' ' ') "
	printf 'Subject: integration test\n\nbody\n' | sm -Ac -C "$CF" -odq "$@"
	for _f in $(ls "$Q"); do
		case $_f in qf*) ;; *) continue ;; esac
		case $_before in
		*" $_f "*) ;;
		*) echo "${_f#qf}" ;;
		esac
	done
}

# it_submit_many N PREFIX: queue N messages with real sendmail (-odq), to
# PREFIX1@example.test ... PREFIXN@example.test, in four loops side by
# side; returns when all four are done.
it_submit_many() {
	_sm_pids=
	for _sm_k in 1 2 3 4; do
		(
			_sm_i=$_sm_k
			while [ "$_sm_i" -le "$1" ]; do
				printf 'Subject: message %d\n\nbody %d\n' "$_sm_i" "$_sm_i" |
				    sm -Ac -C "$CF" -odq "$2$_sm_i@example.test"
				_sm_i=$((_sm_i + 4))
			done
		) &
		_sm_pids="$_sm_pids $!"
	done
	# shellcheck disable=SC2086  # one PID per word
	wait $_sm_pids	# not a bare wait: the watchdog is a child too
}

# it_recorder_start PORT OUTDIR [RECORDER-OPTION...]: start the recording
# receiver (tests/tools/smtp-recorder.py) on 127.0.0.1:PORT, recording into
# OUTDIR; returns once it listens (it writes its pid file then).
it_recorder_start() {
	_ir_port=$1
	_ir_out=$2
	shift 2
	mkdir -p "$_ir_out" || return 1
	rm -f "$_ir_out/recorder.pid"
	python3 "$top_srcdir/tests/tools/smtp-recorder.py" --port "$_ir_port" \
	    --out "$_ir_out" --pidfile "$_ir_out/recorder.pid" "$@" \
	    </dev/null >"$_ir_out/recorder.err" 2>&1 &
	IT_PIDS="$IT_PIDS $!"
	if ! wait_for test -s "$_ir_out/recorder.pid"; then
		cat "$_ir_out/recorder.err" >&2
		return 1
	fi
}

# it_recorder_stop OUTDIR: stop that receiver; its recording is complete
# once this returns.
it_recorder_stop() {
	[ -s "$1/recorder.pid" ] || return 0
	_is_pid=$(cat "$1/recorder.pid")
	kill "$_is_pid" 2>/dev/null
	# shellcheck disable=SC2016  # $1 of the inner shell
	wait_for sh -c '! test -e "$1"' sh "$1/recorder.pid"
	wait "$_is_pid" 2>/dev/null # reap it (when it is our child)
	IT_PIDS=$(echo " $IT_PIDS " | sed "s/ $_is_pid / /")
}

# hold_lock ID: lock qfID with the library, as the runner does, until
# release_lock.  Returns when the lock is held.
hold_lock() {
	mkfifo "$W/hold.$1"
	"$QFTOOL" lock "$Q" "$1" <"$W/hold.$1" >"$W/lock.$1" &
	IT_HOLDER=$!
	IT_PIDS="$IT_PIDS $IT_HOLDER"
	exec 9>"$W/hold.$1"
	wait_for grep -qx acquired "$W/lock.$1"
}

release_lock() {
	exec 9>&-
	wait "$IT_HOLDER"
}

# wait_for COMMAND...: retry for up to 10 s.
wait_for() {
	wait_for_s 10 "$@"
}

# wait_for_s SECONDS COMMAND...: retry for up to SECONDS.
wait_for_s() {
	_n=$(($1 * 10))
	shift
	_i=0
	while ! "$@" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ "$_i" -lt "$_n" ] || return 1
		sleep 0.1
	done
}

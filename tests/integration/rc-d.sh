#!/bin/sh
# contrib/rc.d (NetBSD's and FreeBSD's sendmail_clientq) and
# contrib/postinstall-clientq: shellcheck in sh mode, then each script run
# against tests/tools/rc.subr (a stand-in written for these tests: nothing
# here is a BSD) with stub programs that record their arguments: start
# refuses on a failed check and starts the daemon on a passed one, and
# start, stop, status, reload, restart, check and flush call the right
# commands; a stale pidfile left by the daemon (which cannot remove it
# once it runs as RunAsUser) is coped with.  Needs neither root nor
# sendmail.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_watchdog
command -v shellcheck >/dev/null 2>&1 || { echo "SKIP: needs shellcheck (tests/install-deps)"; exit 77; }
command -v bash >/dev/null 2>&1 || { echo "SKIP: needs bash (for the stub daemon's argv[0])"; exit 77; }
W=$(mktemp -d /tmp/cq-rcd.XXXXXX)
trap 'it_cleanup' EXIT
IT_PIDS=
STANDIN=$top_srcdir/tests/tools/rc.subr

for f in contrib/rc.d/sendmail_clientq contrib/rc.d/freebsd/sendmail_clientq \
    contrib/postinstall-clientq tests/tools/rc.subr; do
	if out=$(shellcheck -s sh "$top_srcdir/$f" 2>&1); then
		ok "shellcheck -s sh $f"
	else
		fail "shellcheck -s sh $f" "$out"
	fi
done

# The stubs: clientq-runner and clientqctl write one line per call to
# $W/calls.  --check prints a line of each status up to $W/check-rc's and
# exits with it; --background starts a "daemon" whose argv[0] is the
# stub's path (as the real one's is the command's), records the signals
# it gets, and writes its PID to --pidfile.
mkdir -p "$W/bin" "$W/run"
cat >"$W/bin/clientq-runner" <<'EOF'
#!/bin/sh
d=$(dirname "$0")/..
printf 'clientq-runner %s\n' "$*" >>"$d/calls"
case " $* " in
*" --check "*)
	rc=$(cat "$d/check-rc")
	echo "ok      submit.cf /etc/mail/submit.cf: found root:smmsp 0644; expected owner root"
	[ "$rc" -lt 1 ] || echo "warning relay [127.0.0.1]:25: found Connection refused; expected an SMTP greeting (220)"
	[ "$rc" -lt 2 ] || echo "error   client-queue-mode /var/spool/clientmqueue: found 0777, others have access; expected 0770 or 2770"
	exit "$rc" ;;
esac
pidfile=
while [ $# -gt 0 ]; do
	[ "$1" = --pidfile ] && pidfile=$2
	shift
done
bash -c 'exec -a "$0" bash "$1" "$2"' "$0" "$d/bin/daemon-loop" "$d/calls" </dev/null >/dev/null 2>&1 &
echo $! >"$pidfile"
EOF
cat >"$W/bin/daemon-loop" <<'EOF'
trap 'echo "daemon SIGHUP" >>"$1"' HUP
trap 'echo "daemon SIGTERM" >>"$1"; exit 0' TERM
while :; do sleep 0.1 & wait $!; done
EOF
cat >"$W/bin/clientqctl" <<'EOF'
#!/bin/sh
printf 'clientqctl %s\n' "$*" >>"$(dirname "$0")/../calls"
EOF
chmod +x "$W/bin/clientq-runner" "$W/bin/clientqctl"
echo 0 >"$W/check-rc"

# rc VARIANT COMMAND...: the script (its rc.subr the stand-in) run with
# $W/rc.conf; stdout+stderr in $W/out, status in $rc, its calls in
# $W/calls (emptied first).
rc() {
	_v=$1
	shift
	: >"$W/calls"
	RC_CONF=$W/rc.conf "$W/rc.d/$_v" "$@" >"$W/out" 2>&1
	rc=$?
}
calls_are() {
	[ "$(cat "$W/calls")" = "$1" ]
}

mkdir -p "$W/rc.d"
for v in netbsd freebsd; do
	case $v in
	netbsd)	src=contrib/rc.d/sendmail_clientq; sw=sendmail_clientq ;;
	freebsd) src=contrib/rc.d/freebsd/sendmail_clientq; sw=sendmail_clientq_enable ;;
	esac
	# The only change to the script: where rc.subr is.
	sed "s|/etc/rc.subr|$STANDIN|" "$top_srcdir/$src" >"$W/rc.d/$v"
	chmod +x "$W/rc.d/$v"
	P=$W/run/$v.pid
	S=$W/run/$v.ctl
	cat >"$W/rc.conf" <<EOF
$sw=YES
sendmail_clientq_program=$W/bin/clientq-runner
sendmail_clientq_ctl=$W/bin/clientqctl
sendmail_clientq_pidfile=$P
sendmail_clientq_socket=$S
sendmail_clientq_flags="-C /etc/mail/submit.cf -O Timeout.queuereturn=4d --connections 3"
EOF
	CHECK="clientq-runner --check -C /etc/mail/submit.cf -O Timeout.queuereturn=4d"
	START="clientq-runner -C /etc/mail/submit.cf -O Timeout.queuereturn=4d --connections 3 --background --pidfile $P --control $S"

	echo 2 >"$W/check-rc"
	rc "$v" start
	if [ "$rc" -ne 0 ] && calls_are "$CHECK" && [ ! -e "$P" ] &&
	    grep -q '^error   client-queue-mode ' "$W/out" && grep -q 'not started: the installation check failed' "$W/out"; then
		ok "$v: start refuses on a failed check (exit $rc), shows the error, starts nothing"
	else
		fail "$v: start refuses on a failed check" "exit $rc" "$(cat "$W/calls" "$W/out")"
	fi

	echo 1 >"$W/check-rc"
	rc "$v" start
	pid=$(cat "$P" 2>/dev/null)
	IT_PIDS="$IT_PIDS $pid"
	if [ "$rc" -eq 0 ] && calls_are "$CHECK
$START" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q '^warning relay ' "$W/out" &&
	    ! grep -q '^ok ' "$W/out"; then
		ok "$v: start with warnings only: the check (-C, -O of the flags), then the daemon in the background with its pidfile and socket"
	else
		fail "$v: start with warnings" "exit $rc" "$(cat "$W/calls" "$W/out")"
	fi
	rc "$v" status
	check "$v: status: running as pid $pid" grep -qx "sendmail_clientq is running as pid $pid." "$W/out"
	rc "$v" start
	check "$v: start again: already running, no second daemon" test "$rc" -ne 0 -a ! -s "$W/calls"
	rc "$v" reload
	check "$v: reload sends SIGHUP" wait_for grep -qx "daemon SIGHUP" "$W/calls"
	rc "$v" flush
	check "$v: flush is clientqctl flush on the configured socket" calls_are "clientqctl --socket $S flush"
	echo 1 >"$W/check-rc"
	rc "$v" check
	check "$v: check runs clientq-runner --check with the flags' -C and -O, its status (1)" \
	    sh -c "[ $rc -eq 1 ] && [ \"\$(cat '$W/calls')\" = '$CHECK' ]"
	rc "$v" check --fix
	check "$v: check --fix passes --fix on" calls_are "$CHECK --fix"
	rc "$v" stop
	if [ "$rc" -eq 0 ] && grep -qx "daemon SIGTERM" "$W/calls" && ! kill -0 "$pid" 2>/dev/null && [ ! -e "$P" ]; then
		ok "$v: stop: SIGTERM, waits for it, removes the pidfile the daemon could not"
	else
		fail "$v: stop" "exit $rc" "$(cat "$W/calls" "$W/out")"
	fi
	rc "$v" status
	check "$v: status: not running (exit 1)" sh -c "[ $rc -eq 1 ] && grep -qx 'sendmail_clientq is not running.' '$W/out'"

	# A stale pidfile: the PID of a process that is gone.
	sh -c 'exit 0' &
	dead=$!
	wait "$dead"
	echo "$dead" >"$P"
	rc "$v" status
	check "$v: a stale pidfile: not running" test "$rc" -eq 1
	echo 0 >"$W/check-rc"
	rc "$v" start
	pid2=$(cat "$P" 2>/dev/null)
	IT_PIDS="$IT_PIDS $pid2"
	check "$v: ... start replaces it and starts" sh -c "[ $rc -eq 0 ] && [ '$pid2' != '$dead' ] && kill -0 '$pid2'"
	rc "$v" restart
	pid3=$(cat "$P" 2>/dev/null)
	IT_PIDS="$IT_PIDS $pid3"
	if [ "$rc" -eq 0 ] && calls_are "daemon SIGTERM
$CHECK
$START" && [ "$pid3" != "$pid2" ] && kill -0 "$pid3" 2>/dev/null && ! kill -0 "$pid2" 2>/dev/null; then
		ok "$v: restart: stop, check, start (a new daemon)"
	else
		fail "$v: restart" "exit $rc" "$(cat "$W/calls" "$W/out")"
	fi
	rc "$v" stop

	echo "sendmail_suidroot=YES" >>"$W/rc.conf"
	rc "$v" start
	if [ "$rc" -ne 0 ] && calls_are "clientq-runner --check --suidroot -C /etc/mail/submit.cf -O Timeout.queuereturn=4d" &&
	    grep -q 'sendmail_suidroot=YES: sendmail is setuid root and there is no client queue to run' "$W/out" &&
	    [ ! -e "$P" ]; then
		ok "$v: sendmail_suidroot=YES: start checks the setuid layout (--suidroot) and starts nothing"
	else
		fail "$v: sendmail_suidroot=YES" "exit $rc" "$(cat "$W/calls" "$W/out")"
	fi
	echo 2 >"$W/check-rc"
	rc "$v" check
	check "$v: ... check --suidroot, its status (2)" sh -c "[ $rc -eq 2 ] && grep -q -- '--check --suidroot' '$W/calls'"

	sed -i "s/^$sw=YES/$sw=NO/" "$W/rc.conf"
	rc "$v" start
	check "$v: $sw=NO: start does nothing" sh -c "[ $rc -ne 0 ] && [ ! -s '$W/calls' ] && grep -q 'is not enabled' '$W/out'"
done

# ---------------------------------------------------- postinstall-clientq
PI=$top_srcdir/contrib/postinstall-clientq
: >"$W/calls"
echo 2 >"$W/check-rc"
CLIENTQ_RUNNER=$W/bin/clientq-runner "$PI" >"$W/out" 2>"$W/err"
rc=$?
check "postinstall-clientq (check): clientq-runner --check, its status (2) and its lines" \
    sh -c "[ $rc -eq 2 ] && [ \"\$(cat '$W/calls')\" = 'clientq-runner --check' ] && grep -q '^error ' '$W/out' && grep -q \"'postinstall-clientq fix' repairs\" '$W/err'"
: >"$W/calls"
echo 0 >"$W/check-rc"
CLIENTQ_RUNNER=$W/bin/clientq-runner "$PI" fix --fix-binary -C /x/submit.cf >"$W/out" 2>"$W/err"
rc=$?
check "postinstall-clientq fix: clientq-runner --check --fix and the options given" \
    sh -c "[ $rc -eq 0 ] && [ \"\$(cat '$W/calls')\" = 'clientq-runner --check --fix --fix-binary -C /x/submit.cf' ] && grep -q 'fix: passed' '$W/err'"
CLIENTQ_RUNNER=$W/bin/clientq-runner "$PI" frobnicate >/dev/null 2>&1
check "postinstall-clientq with an unknown operation: usage (64)" test $? -eq 64
it_finish

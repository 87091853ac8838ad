#!/bin/sh
# contrib/rc.d (NetBSD's and FreeBSD's sendmail_clientq) and
# contrib/postinstall-clientq: shellcheck in sh mode, then each script run
# against a stand-in of its system's rc.subr (tests/tools/rc.subr.netbsd,
# as revision 1.90 and as 1.102, and tests/tools/rc.subr.freebsd: written
# for these tests from a reading of the real ones; nothing here is a BSD)
# with stub programs that record their arguments.
# First the stand-ins themselves, with a small probe script: a failing
# custom command is status 1 (and the script's own exit wins), required_*
# refuse a start, checkyesno after "one" (NetBSD 1.90 says yes to any
# variable), the prefixes each system has.  Then, for each system: start
# refuses on a failed check and starts the daemon on a passed one; start,
# stop, status, reload, restart, check and flush call the right commands;
# check exits 0, 1 or 2 as clientq-runner --check did (2 also from the
# real clientq-runner on a broken installation); the process is found by
# ps, not by the pidfile alone; a stale pidfile left by the daemon (which
# cannot remove it once it runs as RunAsUser) is coped with; the fast,
# force, one and quiet prefixes; and with the service disabled, start's
# message and status on each system, and onestart, onecheck, onestop with
# sendmail_suidroot unset and NO.  Needs neither root nor sendmail.
# expect's conditions are single-quoted on purpose: sh -c expands them.
# shellcheck disable=SC2016
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
it_long
it_watchdog
command -v shellcheck >/dev/null 2>&1 || { echo "SKIP: needs shellcheck (tests/install-deps)"; exit 77; }
command -v bash >/dev/null 2>&1 || { echo "SKIP: needs bash (for the stub daemon's argv[0])"; exit 77; }
W=$(mktemp -d /tmp/cq-rcd.XXXXXX)
trap 'it_cleanup' EXIT
IT_PIDS=
NETBSD_SUBR=$top_srcdir/tests/tools/rc.subr.netbsd
FREEBSD_SUBR=$top_srcdir/tests/tools/rc.subr.freebsd

for f in contrib/rc.d/sendmail_clientq contrib/rc.d/freebsd/sendmail_clientq \
    contrib/postinstall-clientq tests/tools/rc.subr.netbsd tests/tools/rc.subr.freebsd; do
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
# it gets, and writes its PID to --pidfile.  ps is the system's, each call
# written to $W/ps.log.
mkdir -p "$W/bin" "$W/run" "$W/psbin"
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
REAL_PS=$(command -v ps)
cat >"$W/psbin/ps" <<EOF
#!/bin/sh
printf 'ps %s\n' "\$*" >>"$W/ps.log"
exec "$REAL_PS" "\$@"
EOF
chmod +x "$W/bin/clientq-runner" "$W/bin/clientqctl" "$W/psbin/ps"
echo 0 >"$W/check-rc"

# rc SCRIPT COMMAND...: $W/rc.d/SCRIPT (its rc.subr a stand-in, as
# revision $REV for NetBSD's) with $W/rc.conf and ps on PATH logged;
# stdout in $W/stdout, stderr in $W/stderr, both in $W/out, status in
# $rc; $W/calls and $W/ps.log emptied first.
rc() {
	_s=$1
	shift
	: >"$W/calls"
	: >"$W/ps.log"
	RC_CONF=$W/rc.conf RC_SUBR_REV=$REV PATH="$W/psbin:$PATH" \
	    "$W/rc.d/$_s" "$@" >"$W/stdout" 2>"$W/stderr"
	rc=$?
	cat "$W/stdout" "$W/stderr" >"$W/out"
}
calls_are() {
	[ "$(cat "$W/calls")" = "$1" ]
}
# show: what a failed check prints.
show() {
	printf 'exit %s\n--- calls\n%s\n--- stdout\n%s\n--- stderr\n%s\n' "$rc" \
	    "$(cat "$W/calls")" "$(cat "$W/stdout")" "$(cat "$W/stderr")"
}
# expect DESCRIPTION SH-CONDITION: ok when the condition (sh -c, with $rc,
# $W and $out's files to read) holds; otherwise the run is shown.
expect() {
	if rc=$rc W=$W sh -c "$2"; then
		ok "$1"
	else
		fail "$1" "$(show)"
	fi
}
# alive PID: that process runs.
alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

mkdir -p "$W/rc.d"

# ------------------------------------------- the stand-ins, with a probe
# probe: an rc.d script that is nothing but rc.subr's parts: a daemon
# (the stub), "try" (a custom command returning $PROBE_RC, or exiting with
# it when PROBE_EXIT is set), "yn" (checkyesno of a variable that is not
# the rcvar), required_* from the environment.
cat >"$W/probe.in" <<'EOF'
#!/bin/sh
. @SUBR@
name=probe
rcvar=@RCVAR@
command=@W@/bin/clientq-runner
pidfile=@W@/run/probe.pid
command_args="--pidfile $pidfile"
extra_commands="try yn"
try_cmd=probe_try
yn_cmd=probe_yn
required_files=${PROBE_FILES:-}
required_dirs=${PROBE_DIRS:-}
required_vars=${PROBE_VARS:-}
probe_try()
{
	echo "try $*"
	[ -z "${PROBE_EXIT:-}" ] || exit "$PROBE_RC"
	return "$PROBE_RC"
}
probe_yn()
{
	if checkyesno other_var; then echo "yn yes"; else echo "yn no"; fi
}
load_rc_config $name
run_rc_command "$@"
EOF
for sys in netbsd-1.90 netbsd-1.102 freebsd; do
	case $sys in
	netbsd-*) subr=$NETBSD_SUBR; rcvar=probe; REV=${sys#netbsd-} ;;
	freebsd) subr=$FREEBSD_SUBR; rcvar=probe_enable; REV= ;;
	esac
	sed -e "s|@SUBR@|$subr|" -e "s|@RCVAR@|$rcvar|" -e "s|@W@|$W|g" "$W/probe.in" >"$W/rc.d/probe-$sys"
	chmod +x "$W/rc.d/probe-$sys"
	P=$W/run/probe.pid
	printf '%s=YES\nother_var=NO\n' "$rcvar" >"$W/rc.conf"

	PROBE_RC=2 rc "probe-$sys" try a b
	expect "$sys stand-in: a custom command gets its arguments; its failure (2) is status 1" \
	    '[ $rc -eq 1 ] && grep -qx "try a b" "$W/stdout"'
	PROBE_RC=2 PROBE_EXIT=1 rc "probe-$sys" try
	expect "$sys stand-in: ... a custom command that exits with 2 makes the script's status 2" '[ $rc -eq 2 ]'
	PROBE_RC=2 rc "probe-$sys" forcetry
	case $sys in
	netbsd-*) expect "$sys stand-in: ... under force a failing custom command is status 0" '[ $rc -eq 0 ]' ;;
	freebsd) expect "$sys stand-in: ... under force the custom command's own status comes back (2)" '[ $rc -eq 2 ]' ;;
	esac

	PROBE_FILES=$W/no-such-file rc "probe-$sys" start
	expect "$sys stand-in: required_files missing: start refused (exit 1) with its warning, nothing run" \
	    "[ \$rc -eq 1 ] && [ ! -s \"\$W/calls\" ] && grep -q 'WARNING: $W/no-such-file is not readable.' \"\$W/stderr\""
	PROBE_DIRS=$W/no-such-dir rc "probe-$sys" start
	expect "$sys stand-in: required_dirs missing: start refused (exit 1) with its warning" \
	    "[ \$rc -eq 1 ] && [ ! -s \"\$W/calls\" ] && grep -q 'WARNING: $W/no-such-dir is not a directory.' \"\$W/stderr\""
	PROBE_VARS=other_var rc "probe-$sys" start
	expect "$sys stand-in: required_vars NO: start refused (exit 1) with its warning" \
	    '[ $rc -eq 1 ] && [ ! -s "$W/calls" ] && grep -q "WARNING: \$other_var is not enabled." "$W/stderr"'
	PROBE_FILES=$W/no-such-file rc "probe-$sys" forcestart
	pid=$(cat "$P" 2>/dev/null)
	IT_PIDS="$IT_PIDS $pid"
	expect "$sys stand-in: ... forcestart warns and starts anyway" \
	    '[ $rc -eq 0 ] && grep -q "is not readable" "$W/stderr" && grep -q -- "--pidfile" "$W/calls"'
	rc "probe-$sys" stop
	check "$sys stand-in: ... stop" sh -c "[ $rc -eq 0 ] && ! kill -0 '$pid' 2>/dev/null"
	rm -f "$P"

	rc "probe-$sys" yn
	expect "$sys stand-in: checkyesno of a variable set to NO: no" 'grep -qx "yn no" "$W/stdout"'
	rc "probe-$sys" oneyn
	case $sys in
	netbsd-1.90)
		expect "$sys stand-in: ... after 'one': yes, and the shell runs 'NO=YES' (not found)" \
		    'grep -qx "yn yes" "$W/stdout" && grep -q "NO=YES" "$W/stderr"' ;;
	*)
		expect "$sys stand-in: ... after 'one': still no" \
		    'grep -qx "yn no" "$W/stdout" && ! grep -q "NO=YES" "$W/stderr"' ;;
	esac
	rc "probe-$sys" quietyn
	case $sys in
	netbsd-*) expect "$sys stand-in: no quiet prefix: quietyn is an unknown directive (exit 1, usage)" \
	    '[ $rc -eq 1 ] && grep -q "unknown directive '"'quietyn'"'" "$W/stderr" && grep -q "^Usage: .* \[fast|force|one\](" "$W/stderr"' ;;
	freebsd) expect "$sys stand-in: quiet prefix: quietyn runs yn" \
	    '[ $rc -eq 0 ] && grep -qx "yn no" "$W/stdout"' ;;
	esac
	rc "probe-$sys" frobnicate
	case $sys in
	netbsd-*) usage="Usage: $W/rc.d/probe-$sys [fast|force|one](start stop restart rcvar try yn status poll)" ;;
	freebsd) usage="Usage: $W/rc.d/probe-$sys [fast|force|one|quiet](start|stop|restart|rcvar|enable|disable|delete|enabled|describe|extracommands|try|yn|status|poll)" ;;
	esac
	expect "$sys stand-in: an unknown directive: exit 1 with the usage line" \
	    "[ \$rc -eq 1 ] && [ \"\$(cat \"\$W/stderr\")\" = \"$W/rc.d/probe-$sys: unknown directive 'frobnicate'.
$usage\" ]"
done

# ------------------------------------------------ the sendmail_clientq scripts
for sys in netbsd-1.90 netbsd-1.102 freebsd; do
	case $sys in
	netbsd-*) src=contrib/rc.d/sendmail_clientq; sw=sendmail_clientq; subr=$NETBSD_SUBR; REV=${sys#netbsd-} ;;
	freebsd) src=contrib/rc.d/freebsd/sendmail_clientq; sw=sendmail_clientq_enable; subr=$FREEBSD_SUBR; REV= ;;
	esac
	v=$sys
	# The only change to the script: where rc.subr is.
	sed "s|/etc/rc.subr|$subr|" "$top_srcdir/$src" >"$W/rc.d/$v"
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
		fail "$v: start refuses on a failed check" "$(show)"
	fi

	echo 1 >"$W/check-rc"
	rc "$v" start
	pid=$(cat "$P" 2>/dev/null)
	IT_PIDS="$IT_PIDS $pid"
	if [ "$rc" -eq 0 ] && calls_are "$CHECK
$START" && alive "$pid" && grep -q '^warning relay ' "$W/out" &&
	    ! grep -q '^ok ' "$W/out" && grep -qx 'Starting sendmail_clientq.' "$W/stdout"; then
		ok "$v: start with warnings only: the check (-C, -O of the flags), then the daemon in the background with its pidfile and socket"
	else
		fail "$v: start with warnings" "$(show)"
	fi
	rc "$v" status
	expect "$v: status: running as pid $pid" "grep -qx 'sendmail_clientq is running as pid $pid.' \"\$W/stdout\""
	case $sys in
	netbsd-1.90) psform="ps -o pid,command -p $pid" ;;
	netbsd-1.102) psform="ps -o pid,args -p $pid" ;;
	freebsd) psform="ps -ww -o pid= -o command= -p $pid" ;;
	esac
	check "$v: ... found by '$psform' (the pidfile's PID running as the command)" grep -qx -- "$psform" "$W/ps.log"
	rc "$v" start
	expect "$v: start again: already running (exit 1), no second daemon" \
	    "[ \$rc -eq 1 ] && [ ! -s \"\$W/calls\" ] && grep -q 'sendmail_clientq already running? *(pid=$pid).' \"\$W/stderr\""
	rc "$v" reload
	check "$v: reload sends SIGHUP" wait_for grep -qx "daemon SIGHUP" "$W/calls"
	rc "$v" flush
	check "$v: flush is clientqctl flush on the configured socket" calls_are "clientqctl --socket $S flush"
	for want in 0 1 2; do
		echo "$want" >"$W/check-rc"
		rc "$v" check
		expect "$v: check runs clientq-runner --check with the flags' -C and -O and exits with its status ($want)" \
		    "[ \$rc -eq $want ] && [ \"\$(cat \"\$W/calls\")\" = '$CHECK' ]"
	done
	echo 0 >"$W/check-rc"
	rc "$v" check --fix
	check "$v: check --fix passes --fix on" calls_are "$CHECK --fix"
	echo 2 >"$W/check-rc"
	rc "$v" forcecheck
	expect "$v: forcecheck: still the check's own status (2)" '[ $rc -eq 2 ]'
	rc "$v" quietcheck
	case $sys in
	netbsd-*) expect "$v: quietcheck: no quiet prefix on NetBSD (unknown directive, exit 1, nothing run)" \
	    '[ $rc -eq 1 ] && [ ! -s "$W/calls" ] && grep -q "unknown directive" "$W/stderr"' ;;
	freebsd) expect "$v: quietcheck: the check's own status (2)" '[ $rc -eq 2 ]' ;;
	esac

	# A broken installation, through the script, by the real
	# clientq-runner: no submit.cf where -C says.
	if [ -x "$IT_RUNNER" ]; then
		sed "s|^sendmail_clientq_program=.*|sendmail_clientq_program=$IT_RUNNER|; s|^sendmail_clientq_flags=.*|sendmail_clientq_flags=\"-C $W/nowhere/submit.cf\"|" \
		    "$W/rc.conf" >"$W/rc.conf.real"
		cp "$W/rc.conf" "$W/rc.conf.stub"
		cp "$W/rc.conf.real" "$W/rc.conf"
		rc "$v" check
		expect "$v: check with the real clientq-runner on a broken installation (no submit.cf): exit 2 and its error" \
		    "[ \$rc -eq 2 ] && grep -q '^error   submit.cf $W/nowhere/submit.cf: found No such file' \"\$W/stdout\""
		cp "$W/rc.conf.stub" "$W/rc.conf"
	else
		fail "$v: the real clientq-runner is not built ($IT_RUNNER)"
	fi

	# fast: NetBSD does not look for the process (status is not offered;
	# stop finds nothing running and exits 1); FreeBSD still does.
	rc "$v" faststatus
	case $sys in
	netbsd-*) expect "$v: faststatus: not offered under fast (unknown directive, exit 1)" \
	    '[ $rc -eq 1 ] && grep -q "unknown directive '"'status'"'" "$W/stderr"' ;;
	freebsd) expect "$v: faststatus: running as pid $pid" "[ \$rc -eq 0 ] && grep -qx 'sendmail_clientq is running as pid $pid.' \"\$W/stdout\"" ;;
	esac
	case $sys in
	netbsd-*)
		rc "$v" faststop
		expect "$v: faststop: 'not running?' (exit 1), the daemon left running" \
		    "[ \$rc -eq 1 ] && grep -q 'sendmail_clientq not running? (check $P).' \"\$W/stderr\" && kill -0 $pid" ;;
	esac
	rc "$v" quietstart
	case $sys in
	netbsd-*) expect "$v: quietstart: unknown directive (exit 1)" '[ $rc -eq 1 ] && [ ! -s "$W/calls" ]' ;;
	freebsd) expect "$v: quietstart while running: exit 1 without the 'already running?' message" \
	    '[ $rc -eq 1 ] && [ ! -s "$W/out" ] && [ ! -s "$W/calls" ]' ;;
	esac

	rc "$v" stop
	if [ "$rc" -eq 0 ] && grep -qx "daemon SIGTERM" "$W/calls" && ! alive "$pid" && [ ! -e "$P" ] &&
	    grep -qx 'Stopping sendmail_clientq.' "$W/stdout"; then
		ok "$v: stop: SIGTERM, waits for it, removes the pidfile the daemon could not"
	else
		fail "$v: stop" "$(show)"
	fi
	rc "$v" status
	expect "$v: status: not running (exit 1)" '[ $rc -eq 1 ] && grep -qx "sendmail_clientq is not running." "$W/stdout"'
	rc "$v" stop
	expect "$v: stop while stopped: 'not running?' (exit 1)" \
	    "[ \$rc -eq 1 ] && grep -q 'sendmail_clientq not running? (check $P).' \"\$W/stderr\""
	case $sys in
	freebsd)
		rc "$v" faststop
		expect "$v: faststop while stopped: exit 0, silent" '[ $rc -eq 0 ] && [ ! -s "$W/out" ]' ;;
	esac

	# A stale pidfile: the PID of a process that is gone.
	sh -c 'exit 0' &
	dead=$!
	wait "$dead"
	echo "$dead" >"$P"
	rc "$v" status
	check "$v: a stale pidfile (a dead PID): not running" test "$rc" -eq 1
	# ... and the PID of a live process that is not the daemon.
	sleep 300 &
	other=$!
	IT_PIDS="$IT_PIDS $other"
	echo "$other" >"$P"
	rc "$v" status
	expect "$v: a pidfile naming a live process that is not the daemon: not running (ps, not the pidfile alone)" \
	    '[ $rc -eq 1 ] && grep -qx "sendmail_clientq is not running." "$W/stdout"'
	echo 0 >"$W/check-rc"
	rc "$v" start
	pid2=$(cat "$P" 2>/dev/null)
	IT_PIDS="$IT_PIDS $pid2"
	check "$v: ... start replaces it and starts, the other process untouched" \
	    sh -c "[ $rc -eq 0 ] && [ '$pid2' != '$other' ] && kill -0 '$pid2' && kill -0 '$other'"
	rc "$v" restart
	pid3=$(cat "$P" 2>/dev/null)
	IT_PIDS="$IT_PIDS $pid3"
	if [ "$rc" -eq 0 ] && calls_are "daemon SIGTERM
$CHECK
$START" && [ "$pid3" != "$pid2" ] && alive "$pid3" && ! alive "$pid2"; then
		ok "$v: restart: stop, check, start (a new daemon)"
	else
		fail "$v: restart" "$(show)"
	fi
	rc "$v" stop
	kill "$other" 2>/dev/null

	# force: a failed check does not stop the start.
	echo 2 >"$W/check-rc"
	rc "$v" forcestart
	pid4=$(cat "$P" 2>/dev/null)
	IT_PIDS="$IT_PIDS $pid4"
	expect "$v: forcestart: the check fails (shown), the daemon starts anyway" \
	    "[ \$rc -eq 0 ] && grep -q '^error   client-queue-mode ' \"\$W/out\" && [ \"\$(cat \"\$W/calls\")\" = '$CHECK
$START' ]"
	rc "$v" stop

	echo "sendmail_suidroot=YES" >>"$W/rc.conf"
	echo 0 >"$W/check-rc"
	rc "$v" start
	if [ "$rc" -ne 0 ] && calls_are "clientq-runner --check --suidroot -C /etc/mail/submit.cf -O Timeout.queuereturn=4d" &&
	    grep -q 'sendmail_suidroot=YES: sendmail is setuid root and there is no client queue to run' "$W/out" &&
	    [ ! -e "$P" ]; then
		ok "$v: sendmail_suidroot=YES: start checks the setuid layout (--suidroot) and starts nothing"
	else
		fail "$v: sendmail_suidroot=YES" "$(show)"
	fi
	echo 2 >"$W/check-rc"
	rc "$v" check
	expect "$v: ... check --suidroot, its status (2)" '[ $rc -eq 2 ] && grep -q -- "--check --suidroot" "$W/calls"'

	# Disabled.
	sed -i -e "s/^$sw=YES/$sw=NO/" -e '/^sendmail_suidroot=/d' "$W/rc.conf"
	echo 0 >"$W/check-rc"
	rc "$v" start
	case $sys in
	netbsd-*)
		expect "$v: $sw=NO: start: exit 1, 'is not enabled' and 'onestart' on stderr, nothing run" \
		    "[ \$rc -eq 1 ] && [ ! -s \"\$W/calls\" ] && [ ! -s \"\$W/stdout\" ] &&
		     [ \"\$(cat \"\$W/stderr\")\" = '\$sendmail_clientq is not enabled - see rc.conf(5).
Use the following if you wish to perform the operation:
  $W/rc.d/$v onestart' ]" ;;
	freebsd)
		expect "$v: $sw=NO: start: exit 0, 'Cannot ... use onestart' on stdout, nothing run" \
		    "[ \$rc -eq 0 ] && [ ! -s \"\$W/calls\" ] && [ ! -s \"\$W/stderr\" ] &&
		     [ \"\$(cat \"\$W/stdout\")\" = \"Cannot 'start' sendmail_clientq. Set sendmail_clientq_enable to YES in /etc/rc.conf or use 'onestart' instead of 'start'.\" ]" ;;
	esac
	rc "$v" check
	case $sys in
	netbsd-*) expect "$v: $sw=NO: check: exit 1, not enabled, nothing run" \
	    '[ $rc -eq 1 ] && [ ! -s "$W/calls" ] && grep -q "is not enabled" "$W/stderr"' ;;
	freebsd) expect "$v: $sw=NO: check: exit 0, 'Cannot' (use 'onecheck'), nothing run" \
	    "[ \$rc -eq 0 ] && [ ! -s \"\$W/calls\" ] && grep -q \"use 'onecheck' instead of 'check'\" \"\$W/stdout\"" ;;
	esac
	rc "$v" quietstart
	case $sys in
	freebsd) expect "$v: $sw=NO: quietstart: exit 0, silent, nothing run" \
	    '[ $rc -eq 0 ] && [ ! -s "$W/out" ] && [ ! -s "$W/calls" ]' ;;
	*) expect "$v: $sw=NO: quietstart: unknown directive (exit 1), nothing run" \
	    '[ $rc -eq 1 ] && [ ! -s "$W/calls" ] && grep -q "unknown directive" "$W/stderr"' ;;
	esac

	# one*, with sendmail_suidroot unset, then NO: the plain check (no
	# --suidroot), the daemon started, and no "NO=YES" from checkyesno.
	for suid in unset NO; do
		[ "$suid" = unset ] || echo "sendmail_suidroot=NO" >>"$W/rc.conf"
		echo 1 >"$W/check-rc"
		rc "$v" onestart
		pid5=$(cat "$P" 2>/dev/null)
		IT_PIDS="$IT_PIDS $pid5"
		if [ "$rc" -eq 0 ] && calls_are "$CHECK
$START" && alive "$pid5" && ! grep -q 'NO=YES' "$W/out"; then
			ok "$v: $sw=NO, sendmail_suidroot $suid: onestart checks (no --suidroot) and starts the daemon"
		else
			fail "$v: $sw=NO, sendmail_suidroot $suid: onestart" "$(show)"
		fi
		for want in 0 1 2; do
			echo "$want" >"$W/check-rc"
			rc "$v" onecheck
			expect "$v: $sw=NO, sendmail_suidroot $suid: onecheck: the check (no --suidroot), its status ($want)" \
			    "[ \$rc -eq $want ] && [ \"\$(cat \"\$W/calls\")\" = '$CHECK' ] && ! grep -q NO=YES \"\$W/out\""
		done
		rc "$v" onestatus
		expect "$v: $sw=NO, sendmail_suidroot $suid: onestatus: running" "[ \$rc -eq 0 ] && grep -qx 'sendmail_clientq is running as pid $pid5.' \"\$W/stdout\""
		rc "$v" onestop
		if [ "$rc" -eq 0 ] && grep -qx "daemon SIGTERM" "$W/calls" && ! alive "$pid5" && [ ! -e "$P" ]; then
			ok "$v: $sw=NO, sendmail_suidroot $suid: onestop stops it and removes the pidfile"
		else
			fail "$v: $sw=NO, sendmail_suidroot $suid: onestop" "$(show)"
		fi
	done
	sed -i '/^sendmail_suidroot=/d' "$W/rc.conf"
	echo "sendmail_suidroot=YES" >>"$W/rc.conf"
	echo 0 >"$W/check-rc"
	rc "$v" onestart
	expect "$v: $sw=NO, sendmail_suidroot=YES: onestart checks --suidroot and starts nothing" \
	    "[ \$rc -ne 0 ] && [ ! -e '$P' ] && grep -q -- '--check --suidroot' \"\$W/calls\""
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

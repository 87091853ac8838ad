#!/bin/sh
# clientq-runner --check: every check against an installation built in a
# temporary root (--root: its own passwd and group, a real submit.cf made
# with m4, a sendmail binary behind absolute alternatives links, a client
# queue holding real sendmail's queue files, the MTA's queue, cron,
# sendmail.conf, systemd units, rc.conf, a /proc), one thing wrong at a
# time; each asserts the line, the exit status, and for --fix exactly
# what changed (and that no queue file changed: bytes, inode, mtime).
# Then the daemon's and --once's start-up checks, a real sendmail -Ac
# -q30m found running, and the machine's own installation.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/tls-lib.sh"
it_need_root_sendmail
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner
SMMSP_UID=$(id -u smmsp)
SMMSP_GID=$(getent group smmsp | cut -d: -f3)

id1=$(submit one@example.test)
id2=$(submit two@example.test)
check "real sendmail queued two messages ($id1 $id2)" test -n "$id1" -a -n "$id2"
it_recorder_start "$PORT" "$W/relay"

# mktree NAME: a correct MSP installation under $W/NAME (T).
mktree() {
	T=$W/$1
	rm -rf "$T"
	mkdir -p "$T/etc/mail" "$T/etc/cron.d" "$T/etc/alternatives" "$T/usr/sbin" \
	    "$T/usr/libexec/sendmail" "$T/var/spool/clientmqueue" "$T/var/spool/mqueue"
	printf 'root:x:0:0:root:/root:/bin/sh\nsmmsp:x:%s:%s::/:/usr/sbin/nologin\nsmmta:x:%s:%s::/:/usr/sbin/nologin\n' \
	    "$SMMSP_UID" "$SMMSP_GID" 4999 4999 >"$T/etc/passwd"
	printf 'root:x:0:\nsmmsp:x:%s:\nsmmta:x:4999:\nmail:x:8:\n' "$SMMSP_GID" >"$T/etc/group"
	it_make_cf /var/spool/clientmqueue "$PORT" "$T/etc/mail/submit.cf"
	printf 'V10/Berkeley\nO QueueDirectory=/var/spool/mqueue\n' >"$T/etc/mail/sendmail.cf"
	printf 'MSP_MODE="None";\nQUEUE_MODE="Daemon";\n' >"$T/etc/mail/sendmail.conf"
	cp /bin/true "$T/usr/libexec/sendmail/sendmail"
	chown root:smmsp "$T/usr/libexec/sendmail/sendmail"
	chmod 2755 "$T/usr/libexec/sendmail/sendmail"
	ln -s /etc/alternatives/sendmail "$T/usr/sbin/sendmail"
	ln -s /usr/libexec/sendmail/sendmail "$T/etc/alternatives/sendmail"
	chown smmsp:smmsp "$T/var/spool/clientmqueue"
	chmod 0770 "$T/var/spool/clientmqueue"
	cp -p "$Q"/qf* "$Q"/df* "$T/var/spool/clientmqueue/"
	chmod 0700 "$T/var/spool/mqueue"
	TQ=$T/var/spool/clientmqueue
}

# chk ARGS...: --check on the tree T; output in $W/out, status in $rc.
chk() {
	"$RUNNER" --check --root "$T" "$@" >"$W/out" 2>"$W/err"
	rc=$?
}

# line STATUS CHECK PATTERN: the output has "STATUS CHECK ..." matching
# PATTERN (a grep -E regular expression for the rest of the line).
line() {
	grep -Eq "^$1 +$2 $3" "$W/out"
}

# expect DESCRIPTION CODE STATUS CHECK PATTERN: exit CODE and that line.
expect() {
	if [ "$rc" -eq "$2" ] && line "$3" "$4" "$5"; then
		ok "$1 (exit $2)"
	else
		fail "$1" "exit $rc, want $2; no line '$3 $4 $5' in:" "$(cat "$W/out" "$W/err")"
	fi
}

# fingerprint DIR: every file in DIR with its inode, mtime, size, owner,
# mode and sha256, sorted.
fingerprint() {
	for _f in "$1"/*; do
		[ -f "$_f" ] || continue
		printf '%s %s\n' "$(stat -c '%n %i %.9Y %s %u:%g %a' "$_f")" \
		    "$(sha256sum <"$_f" | cut -d' ' -f1)"
	done | sort
}

# fixed_lines: the "fixed"/"unfixed" lines of the output, one per line.
fixed_lines() {
	grep -E '^(fixed|unfixed) ' "$W/out" || true
}

# ------------------------------------------------------- a correct tree
mktree good
chk
n=$(grep -c '' "$W/out")
if [ "$rc" -eq 0 ] && [ "$(grep -c '^ok ' "$W/out")" -eq "$n" ] && [ "$n" -eq 20 ]; then
	ok "a correct installation: exit 0, 20 checks, all ok"
else
	fail "a correct installation" "exit $rc" "$(cat "$W/out")"
fi
check "... the binary resolved through both absolute links, inside the root" \
    line ok sendmail-binary "$T/usr/sbin/sendmail -> $T/etc/alternatives/sendmail -> $T/usr/libexec/sendmail/sendmail: found root:smmsp 2755;"
check "... the relay's greeting was read" line ok relay "\\[127.0.0.1\\]:$PORT: found 220 "
check "... and the check said QUIT" grep -qx QUIT "$W/relay/session-1.txt"
check "... both queue files counted" line ok client-queue-files "$TQ: found 4 queue files, nothing else"
chk --json
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "ok" and d["exit"] == 0 and d["fixes"] == []
assert len(d["checks"]) == 20
for c in d["checks"]:
    assert set(c) == {"check", "status", "path", "found", "expected", "advice"}, c
    assert c["status"] == "ok" and c["advice"] is None, c
' "$W/out"; then
	ok "--json: one object, 20 checks with every field"
else
	fail "--json" "$(cat "$W/out")"
fi

# ----------------------------------------------------------- submit.cf
mktree t; rm "$T/etc/mail/submit.cf"; chk
expect "submit.cf missing" 2 error submit.cf "$T/etc/mail/submit.cf: found No such file or directory;"
check "... and nothing that depends on it is judged" sh -c "! grep -Eq 'submit.cf-version|client-queue|relay' '$W/out'"
mktree t; chmod 0664 "$T/etc/mail/submit.cf"; chk
expect "submit.cf group-writable" 2 error submit.cf "$T/etc/mail/submit.cf: found root:root 0664;"
mktree t; chmod 0600 "$T/etc/mail/submit.cf"; chk
expect "submit.cf unreadable for the submission program" 2 error submit.cf "[^ ]*: found root:root 0600; expected readable by others"
mktree t; chown smmsp "$T/etc/mail/submit.cf"; chk
expect "submit.cf not root's" 1 warning submit.cf "[^ ]*: found smmsp:root 0644;"
mktree t; sed -i 's/^V10\//V9\//' "$T/etc/mail/submit.cf"; chk
expect "a V9 submit.cf" 2 error submit.cf-version "[^ ]*: found V9/Berkeley;"
mktree t; sed -i '/^V10/d' "$T/etc/mail/submit.cf"; chk
expect "no V line" 2 error submit.cf-version "[^ ]*: found no V line;"
mktree t; sed -i 's/^O RunAsUser=.*/O RunAsUser=cqcheck-nobody/' "$T/etc/mail/submit.cf"; chk
expect "RunAsUser unknown" 2 error submit.cf-runasuser "[^ ]*: found RunAsUser=cqcheck-nobody: no such user;"
mktree t; sed -i 's/^O RunAsUser=.*/O RunAsUser=root/' "$T/etc/mail/submit.cf"; chk
expect "RunAsUser root" 2 error submit.cf-runasuser "[^ ]*: found RunAsUser=root .*; expected RunAsUser=smmsp, not root"
mktree t; sed -i '/^O RunAsUser=/d' "$T/etc/mail/submit.cf"; chk
expect "no RunAsUser" 2 error submit.cf-runasuser "[^ ]*: found no RunAsUser;"
mktree t; mkdir -p "$T/other"; chown smmsp:smmsp "$T/other"; chmod 0770 "$T/other"; chk -O QueueDirectory=/other
expect "-O QueueDirectory differs from submit.cf" 1 warning submit.cf-queuedir \
    "[^ ]*: found QueueDirectory=/other \\(from -O\\), submit.cf says /var/spool/clientmqueue;"
mktree t; sed -i 's/^O QueueDirectory=.*/O QueueDirectory=\/var\/spool\/q*/' "$T/etc/mail/submit.cf"; chk
expect "a wildcard QueueDirectory" 2 error submit.cf-queuedir "[^ ]*: found [^;]*is a wildcard"

# ------------------------------------------------------ smmsp, binary
mktree t; sed -i '/^smmsp:/d' "$T/etc/passwd"; chk
expect "no user smmsp" 2 error smmsp-user "smmsp: found no such user;"
mktree t; sed -i '/^smmsp:/d' "$T/etc/group"; chk
expect "no group smmsp" 2 error smmsp-group "smmsp: found no such group;"
B=usr/libexec/sendmail/sendmail
for m in "4755 root:smmsp setuid root" "0755 root:smmsp not setgid" "2755 root:root its group is not smmsp" \
    "2755 smmsp:smmsp not owned by root" "2775 root:smmsp writable by group or others"; do
	mktree t
	# shellcheck disable=SC2086  # mode, owner, then the words of the problem
	set -- $m
	chown "$2" "$T/$B"
	chmod "$1" "$T/$B"
	shift 2
	chk
	expect "binary $m" 2 error sendmail-binary ".*: found [^ ]+ [0-9]+, $*"
done
mktree t; chmod 2711 "$T/$B"; chk
expect "binary 2711: unusual, not wrong" 1 warning sendmail-binary ".*: found root:smmsp 2711, an unusual mode;"
rm "$T/$B"; chk
expect "binary missing (a dangling link)" 2 error sendmail-binary "$T/usr/sbin/sendmail: found .* -> $T/$B: No such file or directory;"
mktree t; chown root:root "$T/$B"; chmod 4755 "$T/$B"; before=$(stat -c %U:%G.%a "$T/$B"); chk --fix
check "--fix alone leaves the binary alone" test "$(stat -c %U:%G.%a "$T/$B")" = "$before" -a -z "$(fixed_lines)"
chk --fix-binary
if [ "$(fixed_lines)" = "fixed   sendmail-binary $T/$B: owner root:root -> root:smmsp
fixed   sendmail-binary $T/$B: mode 4755 -> 2755" ] &&
    [ "$(stat -c %U:%G.%a "$T/$B")" = root:smmsp.2755 ] && [ "$rc" -eq 0 ] &&
    line ok sendmail-binary ".*: found root:smmsp 2755;"; then
	ok "--fix-binary: setuid root:root -> root:smmsp 2755, said so, then ok"
else
	fail "--fix-binary" "exit $rc; $(stat -c %U:%G.%a "$T/$B")" "$(cat "$W/out")"
fi

# --suidroot: the binary setuid root AND no submit.cf
mktree t; chk --suidroot
if [ "$rc" -eq 2 ] && line error submit.cf "[^ ]*: found present;" &&
    line error sendmail-binary ".*: found root:smmsp 2755, not setuid;"; then
	ok "--suidroot on the MSP layout: both the submit.cf and the binary are errors (exit 2)"
else
	fail "--suidroot on the MSP layout" "exit $rc" "$(cat "$W/out")"
fi
chmod 4555 "$T/$B"; chk --suidroot
expect "--suidroot, binary setuid but submit.cf still there" 2 error submit.cf "[^ ]*: found present;"
check "... the binary itself is right" line ok sendmail-binary ".*: found root:smmsp 4555;"
rm "$T/etc/mail/submit.cf"; chmod 2755 "$T/$B"; chk --suidroot
expect "--suidroot, no submit.cf but the binary setgid" 2 error sendmail-binary ".*: found root:smmsp 2755, not setuid;"
check "... submit.cf's absence is right" line ok submit.cf "[^ ]*: found absent;"
chmod 4555 "$T/$B"; chk --suidroot
expect "--suidroot done right: setuid binary, no submit.cf" 0 ok mta-queue "[^ ]*: found root:root 0700;"
check "... and the MSP's checks are not run" sh -c "! grep -Eq 'client-queue|relay|other-runner' '$W/out'"

# --------------------------------------------------------- client queue
mktree t; rm -r "$TQ"; chk
expect "client queue missing" 2 error client-queue "$TQ: found No such file or directory;"
chk --fix
if [ "$(fixed_lines)" = "fixed   client-queue $TQ: created, smmsp:smmsp 0770" ] &&
    [ "$(stat -c %U:%G.%a "$TQ")" = smmsp:smmsp.770 ] && [ "$rc" -eq 0 ]; then
	ok "--fix creates the client queue smmsp:smmsp 0770 and says so (then exit 0)"
else
	fail "--fix creates the client queue" "exit $rc; $(stat -c %U:%G.%a "$TQ" 2>&1)" "$(cat "$W/out")"
fi
mktree t; rm -r "$TQ"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$RUNNER" --check --root "$T" --fix >"$W/out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && [ "$(fixed_lines)" = "unfixed client-queue $TQ: cannot create it: Permission denied" ] &&
    [ ! -e "$TQ" ] && line error client-queue "$TQ: found No such file or directory;"; then
	ok "--fix without the right to: 'unfixed ... Permission denied', nothing made, still an error (exit 2)"
else
	fail "--fix without the right to" "exit $rc" "$(cat "$W/out")"
fi
mktree t; rm -r "$TQ"; touch "$TQ"; chk --fix
expect "a file where the queue should be (--fix does not touch it)" 2 error client-queue "$TQ: found not a directory;"
check "... and it is still a file" test -f "$TQ" -a -z "$(fixed_lines)"

# fixcase DESCRIPTION OWNER MODE CHECK FOUND FIXED...: the queue given
# OWNER and MODE is CHECK's error with FOUND; --fix prints exactly the
# FIXED lines, leaves the queue smmsp:smmsp with its right mode, and no
# queue file changes.
fixcase() {
	_d=$1 _own=$2 _mode=$3 _chk=$4 _found=$5
	shift 5
	mktree t
	touch "$TQ/notes.txt"
	cp -p "$Q/qf$id1" "$TQ/Qf$id1"
	chown "$_own" "$TQ"
	chmod "$_mode" "$TQ"
	chk
	expect "$_d" 2 error "$_chk" "$TQ: found $_found"
	_before=$(fingerprint "$TQ")
	chk --fix
	_want=$(for _l in "$@"; do printf 'fixed   %s\n' "$_l"; done)
	_after=$(fingerprint "$TQ")
	_m=$(stat -c %a "$TQ")
	if [ "$(fixed_lines)" = "$_want" ] && [ "$(stat -c %U:%G "$TQ")" = smmsp:smmsp ] &&
	    { [ "$_m" = 770 ] || [ "$_m" = 2770 ]; } &&
	    ! grep -Eq '^error ' "$W/out" && line ok "$_chk" "$TQ:"; then
		ok "... --fix: exactly '$*', then ok"
	else
		fail "... --fix" "want: $_want" "$(cat "$W/out")" "$(stat -c %U:%G.%a "$TQ")"
	fi
	if [ -n "$_before" ] && [ "$_before" = "$_after" ]; then
		ok "... every queue file (and the stray and lost ones) byte-identical, same inode, mtime, owner, mode"
	else
		fail "... queue files changed" "$_before" "$_after"
	fi
}
fixcase "client queue owned by root" root:smmsp 0770 client-queue-owner "owner root \\(0\\);" \
    "client-queue-owner $TQ: owner root -> smmsp"
fixcase "client queue group root" smmsp:root 0770 client-queue-group "group root \\(0\\);" \
    "client-queue-group $TQ: group root -> smmsp"
fixcase "client queue 0777" smmsp:smmsp 0777 client-queue-mode "0777, others have access;" \
    "client-queue-mode $TQ: mode 0777 -> 0770"
fixcase "client queue 2775 (Debian's setgid bit kept)" smmsp:smmsp 2775 client-queue-mode \
    "2775, others have access;" "client-queue-mode $TQ: mode 2775 -> 2770"
fixcase "client queue 0750" smmsp:smmsp 0750 client-queue-mode \
    "0750, group smmsp cannot read, write and search it;" "client-queue-mode $TQ: mode 0750 -> 0770"
fixcase "client queue sticky" smmsp:smmsp 1770 client-queue-mode "1770, sticky" \
    "client-queue-mode $TQ: mode 1770 -> 0770"
fixcase "client queue root:root 0755: all three" root:root 0755 client-queue-owner "owner root \\(0\\);" \
    "client-queue-owner $TQ: owner root -> smmsp" "client-queue-group $TQ: group root -> smmsp" \
    "client-queue-mode $TQ: mode 0755 -> 0770"
check "... the stray file and the lost file are still there" test -f "$TQ/notes.txt" -a -f "$TQ/Qf$id1"
chk
expect "a stray file" 1 warning client-queue-files "$TQ: found 1 other entry: notes.txt;"
expect "a lost (Qf) file" 1 warning client-queue-lost "$TQ: found 1 lost control file: Qf$id1;"
mktree t; mkdir "$TQ/qf" "$TQ/df"; chown smmsp:smmsp "$TQ/qf" "$TQ/df"; mv "$TQ"/qf?* "$TQ/qf/"; mv "$TQ"/df?* "$TQ/df/"
# A FIFO under a valid queue ID of its own (the PID digits 999999).
fifo=qf${id1%??????}999999
mkfifo "$TQ/qf/$fifo"; touch "$TQ/df/core"; chk
expect "qf/ and df/ subdirectories: a FIFO under a queue name and a core file are strays" 1 \
    warning client-queue-files "$TQ: found 2 other entries: (qf/$fifo, df/core|df/core, qf/$fifo);"

# ------------------------------------------------------------ MTA queue
for m in "0755 root:root others can read it" "0770 root:root writable by group or others" \
    "0700 smmsp:smmsp owned by smmsp" "0700 daemon:root its owner is not root"; do
	mktree t
	# shellcheck disable=SC2086  # mode, owner, then the words of the problem
	set -- $m
	chown "$2" "$T/var/spool/mqueue" 2>/dev/null || chown 1:0 "$T/var/spool/mqueue"
	chmod "$1" "$T/var/spool/mqueue"
	shift 2
	chk
	expect "MTA queue $m" 2 error mta-queue "$T/var/spool/mqueue: found [^ ]+ [0-9]+, $*;"
done
mktree t; chown 4999:smmsp "$T/var/spool/mqueue"; chmod 2750 "$T/var/spool/mqueue"; chk
expect "Debian's MTA queue (smmta:smmsp 2750) is right" 0 ok mta-queue "[^ ]*: found smmta:smmsp 2750;"
chown root:8 "$T/var/spool/mqueue"; chmod 00750 "$T/var/spool/mqueue"; chk
expect "MTA queue readable by group mail" 1 warning mta-queue "[^ ]*: found root:mail 0750, a group other than smmsp can read it;"
mktree t; mkdir -p "$T/q/mta"; printf 'V10/Berkeley\nO QueueDirectory=/q/mta\n' >"$T/etc/mail/sendmail.cf"; chmod 0777 "$T/q/mta"; chk
expect "the MTA queue comes from sendmail.cf (under the root)" 2 error mta-queue "$T/q/mta: found root:root 0777"
mktree t; rm -r "$T/var/spool/mqueue" "$T/etc/mail/sendmail.cf"; chk
expect "no MTA at all" 0 ok mta-queue "$T/var/spool/mqueue: found No such file or directory \\(no local MTA queue\\);"

# ------------------------------------------------------- other runners
mktree t
printf 'MAILTO=root\n#\n*/20 *    *    *    *\t\tsmmsp\ttest -x /etc/init.d/sendmail && /usr/share/sendmail/sendmail cron-msp\n' \
    >"$T/etc/cron.d/sendmail"
chk
expect "Debian's cron-msp line" 1 warning other-runner-cron \
    "$T/etc/cron.d/sendmail: found line 3: \\*/20 .* cron-msp; expected .*set MSP_MODE=\"None\""
mktree t; mkdir -p "$T/var/spool/cron/crontabs"
printf '# m h dom mon dow command\n*/30 * * * * /usr/sbin/sendmail -L sm-msp-queue -Ac -q\n' >"$T/var/spool/cron/crontabs/root"
printf '*/20 * * * * smmsp /usr/share/sendmail/sendmail cron-msp\n' >"$T/etc/cron.d/sendmail.dpkg-old"
chk
expect "a user's crontab running sendmail -Ac -q" 1 warning other-runner-cron \
    "$T/var/spool/cron/crontabs/root: found line 2: \\*/30 \\* \\* \\* \\* /usr/sbin/sendmail -L sm-msp-queue -Ac -q;"
check "... a package manager's leftover in cron.d is not read" sh -c "! grep -q dpkg-old '$W/out'"
mktree t; printf '#*/20 * * * * smmsp /usr/share/sendmail/sendmail cron-msp\n' >"$T/etc/cron.d/sendmail"; chk
expect "a commented-out cron line" 0 ok other-runner-cron "[^ ]*: found no line running the client queue;"

mktree t; printf 'MSP_MODE="Cron";\nMSP_INTERVAL="20m";\n' >"$T/etc/mail/sendmail.conf"; chk
expect "Debian MSP_MODE=Cron" 1 warning other-runner-debian "$T/etc/mail/sendmail.conf: found MSP_MODE=Cron \\($T/etc/mail/sendmail.conf:1\\), MSP_INTERVAL=20m"
mktree t; printf 'DAEMON_MODE="Daemon";\nMSP_MODE="daemon";\nMSP_INTERVAL="15m";\n' >"$T/etc/mail/sendmail.conf"; chk
expect "Debian MSP_MODE=daemon" 1 warning other-runner-debian "[^ ]*: found MSP_MODE=daemon .*starts sendmail -Ac -q15m; .*systemctl restart sendmail"
mktree t; printf 'DAEMON_PARMS="";\n' >"$T/etc/mail/sendmail.conf"; chk
expect "Debian sendmail.conf without MSP_MODE: the init script's default, Daemon" 1 warning other-runner-debian \
    "[^ ]*: found MSP_MODE=Daemon \\(the init script's default\\)"
mktree t; printf 'QUEUE_MODE="Cron";\nMSP_MODE="None";\n' >"$T/etc/mail/sendmail.conf"; chk
expect "Debian MSP_MODE=None with QUEUE_MODE=Cron (cron-mta runs it)" 1 warning other-runner-debian "[^ ]*: found MSP_MODE=None with QUEUE_MODE=Cron"
mktree t; printf 'QUEUE_MODE="Cron";\nMSP_MODE="Cron";\nMSP_INTERVAL="";\n' >"$T/etc/mail/sendmail.conf"; chk
expect "Debian MSP_MODE=Cron with no interval runs nothing" 0 ok other-runner-debian "[^ ]*: found MSP_MODE=Cron, MSP_INTERVAL=\"\";"

mktree t; mkdir -p "$T/usr/lib/systemd/system" "$T/etc/systemd/system/multi-user.target.wants"
printf '[Unit]\nDescription=Sendmail Mail Transport Client\n' >"$T/usr/lib/systemd/system/sm-client.service"
ln -s /usr/lib/systemd/system/sm-client.service "$T/etc/systemd/system/multi-user.target.wants/sm-client.service"
chk
expect "sm-client.service enabled" 1 warning other-runner-systemd \
    "$T/etc/systemd/system/multi-user.target.wants/sm-client.service: found sm-client.service enabled; .*systemctl mask --now sm-client.service"
rm "$T/etc/systemd/system/multi-user.target.wants/sm-client.service"
printf '[Unit]\nDescription=Sendmail\nWants=sm-client.service\n' >"$T/usr/lib/systemd/system/sendmail.service"
chk
expect "sm-client.service wanted by Fedora's sendmail.service" 1 warning other-runner-systemd \
    "$T/usr/lib/systemd/system/sendmail.service: found sendmail.service wants sm-client.service;"
ln -s /dev/null "$T/etc/systemd/system/sm-client.service"; chk
expect "sm-client.service masked" 0 ok other-runner-systemd "$T/etc/systemd/system/sm-client.service: found sm-client.service masked;"

mktree t; mkdir -p "$T/etc/defaults"
printf 'sendmail_enable="NO"\nsendmail_msp_queue_enable="YES"\t# Dequeue stuck clientmqueue mail (YES/NO).\n' >"$T/etc/defaults/rc.conf"
printf 'hostname="host.test"\n' >"$T/etc/rc.conf"
chk
expect "FreeBSD's default sendmail_msp_queue_enable=YES" 1 warning other-runner-rc.conf \
    "$T/etc/defaults/rc.conf:2: found sendmail_msp_queue_enable=YES \\($T/etc/defaults/rc.conf:2\\);"
printf 'sendmail_enable="NONE"\n' >>"$T/etc/rc.conf"; chk
expect "... turned off by sendmail_enable=NONE" 0 ok other-runner-rc.conf "[^ ]*: found no client-queue runner enabled;"
printf 'sendmail_msp_queue_enable=NO\nsmmsp=YES\n' >"$T/etc/rc.conf"; chk
expect "NetBSD's smmsp=YES" 1 warning other-runner-rc.conf "$T/etc/rc.conf:2: found smmsp=YES"

mktree t; mkdir -p "$T/proc/4242" "$T/proc/4243"
printf 'sendmail: Queue runner@00:30:00 for /var/spool/clientmqueue\0\0\0' >"$T/proc/4242/cmdline"
printf 'sendmail: Queue runner@00:10:00 for /var/spool/mqueue\0' >"$T/proc/4243/cmdline"
chk
expect "a sendmail queue runner of the client queue in /proc" 1 warning other-runner-process \
    "$T/proc/4242: found process 4242: sendmail: Queue runner@00:30:00 for /var/spool/clientmqueue;"
check "... not the MTA's runner" sh -c "! grep -q 4243 '$W/out'"

# ---------------------------------------------------------------- relay
it_recorder_stop "$W/relay"
mktree t; chk
expect "nothing listens at the relay" 1 warning relay "\\[127.0.0.1\\]:$PORT: found Connection refused by \\[127.0.0.1\\];"
it_recorder_start "$PORT" "$W/relay554" --reply 'greeting=554 5.3.2 not now'
chk
expect "a relay that greets with 554" 1 warning relay "[^ ]*: found 554 5.3.2 not now \\(it refuses mail\\);"
it_recorder_stop "$W/relay554"
# A relay that never answers EHLO: the check's 3 s are the bound on the
# whole session, and the timeout is named as delivery's log names it.
it_recorder_start "$PORT" "$W/relayhang" --reply 'ehlo=hang'
t0=$(date +%s)
chk
t1=$(date +%s)
expect "a relay that never answers EHLO" 1 warning relay \
    "[^ ]*: found timeout waiting for input from \\[127.0.0.1\\] during client EHLO;"
check "... given up within the check's 3 s (took $((t1 - t0)) s)" test $((t1 - t0)) -le 5
it_recorder_stop "$W/relayhang"

# The relay as delivery meets it: STARTTLS as clientq.conf's tls.policy
# asks (tls.name the name the certificate says; the relay is [127.0.0.1]).
if command -v openssl >/dev/null 2>&1 && tls_make_certs "$W/certs"; then
	it_recorder_start "$PORT" "$W/relaytls" --tls "$W/certs/mx.pem,$W/certs/mx.key"
	printf 'tls.policy = verify\ntls.cafile = %s\ntls.name = mx.example.test\n' \
	    "$W/certs/ca.pem" >"$W/tls.conf"
	chk --config "$W/tls.conf"
	expect "tls.policy=verify, a certificate that verifies: the relay is ok, over TLS" 0 ok relay \
	    "[^ ]*: found 220 .*; over TLS: version=TLSv1\\.[23], verify=OK; expected an SMTP greeting \\(220\\), EHLO and STARTTLS as tls.policy=verify asks"
	check "... the check went through STARTTLS and said QUIT, no MAIL" sh -c \
	    "grep -q '^STARTTLS' '$W'/relaytls/session-*.txt && grep -q '^QUIT' '$W'/relaytls/session-*.txt && ! grep -q '^MAIL' '$W'/relaytls/session-*.txt"
	chk --config "$W/tls.conf" -O tls.cafile="$W/certs/other-ca.pem"
	expect "tls.cafile another CA's (by -O): a warning naming the TLS failure" 1 warning relay \
	    "[^ ]*: found without TLS as tls.policy wants it: certificate verify failed: unable to get local issuer certificate \\(issuer CN=clientq test CA\\);"
	chk --config "$W/tls.conf" -O tls.name=wrong.example.test
	expect "a certificate for another name than tls.name: a warning naming the mismatch" 1 warning relay \
	    "[^ ]*: found without TLS as tls.policy wants it: certificate verify failed: hostname mismatch \\(wanted wrong.example.test, got mx.example.test\\);"
	printf '' >"$W/may.conf"
	chk --config "$W/may.conf"
	expect "the default policy (may) without the CA: ok over TLS, verify=FAIL and why" 0 ok relay \
	    "[^ ]*: found 220 .*; over TLS: version=TLSv1\\.[23], verify=FAIL \\(.*\\); expected an SMTP greeting \\(220\\) and EHLO \\(STARTTLS when offered\\)"
	it_recorder_stop "$W/relaytls"
	it_recorder_start "$PORT" "$W/relayclear"
	chk --config "$W/tls.conf"
	expect "tls.policy=verify and a relay without STARTTLS: a warning" 1 warning relay \
	    "[^ ]*: found without TLS as tls.policy wants it: TLS required \\(tls.policy = verify\\), but \\[127.0.0.1\\] does not offer STARTTLS;"
	check "... and it said QUIT, no MAIL" sh -c \
	    "grep -q '^QUIT' '$W'/relayclear/session-*.txt && ! grep -q '^MAIL' '$W'/relayclear/session-*.txt"
	chk --config "$W/may.conf"
	expect "the default policy (may) and a relay without STARTTLS: ok, in clear" 0 ok relay \
	    "[^ ]*: found 220 .*; in clear: the relay offers no STARTTLS;"
	it_recorder_stop "$W/relayclear"
	printf 'tls.policy = sideways\n' >"$W/bad.conf"
	chk --config "$W/bad.conf"
	if [ "$rc" -eq 2 ] && grep -q "bad.conf:1: tls.policy = sideways: not a policy" "$W/err" && [ ! -s "$W/out" ]; then
		ok "a clientq.conf with an error: exit 2, the file, line and problem on stderr"
	else
		fail "bad clientq.conf" "exit $rc" "$(cat "$W/out" "$W/err")"
	fi
else
	echo "# no openssl, or no certificates: the relay's TLS is not checked here"
fi
it_recorder_start "$PORT" "$W/relay"

# ------------------------------------------------------- --json, errors
mktree t; chmod 0777 "$TQ"; chk --json
if [ "$rc" -eq 2 ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "error" and d["exit"] == 2, d
m = [c for c in d["checks"] if c["check"] == "client-queue-mode"][0]
assert m["status"] == "error" and m["found"] == "0777, others have access", m
assert m["path"].endswith("/var/spool/clientmqueue") and m["advice"], m
' "$W/out"; then
	ok "--json with an error: status, exit and the failing check's fields"
else
	fail "--json with an error" "$(cat "$W/out")"
fi
chk --json --fix
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["fixes"] == [{"check": "client-queue-mode", "path": sys.argv[2], "change": "mode 0777 -> 0770", "done": True}], d["fixes"]
assert d["status"] == "ok", d["status"]
' "$W/out" "$TQ"; then
	ok "--json --fix: the change listed under fixes"
else
	fail "--json --fix" "$(cat "$W/out")"
fi
"$RUNNER" --check --once >/dev/null 2>&1
check "--check with a daemon option is a usage error (64)" test $? -eq 64

# ------------------------------------------------- start-up checks
# The daemon and --once run the checks about their own safety on the
# real paths: a queue others can write is refused (78), naming the check;
# a warning (a submit.cf not root's) is logged and they run.
chmod 00777 "$Q"
"$RUNNER" --once -C "$CF" 2>"$W/once.err"
rc=$?
if [ "$rc" -eq 78 ] && grep -q "installation check error: client-queue-mode $Q: found 0777, others have access" "$W/once.err" &&
    grep -q "not starting: 1 installation check failed" "$W/once.err"; then
	ok "--once refuses a client queue others can write (78), naming the check"
else
	fail "--once start-up check" "exit $rc" "$(cat "$W/once.err")"
fi
"$RUNNER" -C "$CF" --control none 2>"$W/daemon.err" &
dpid=$!
IT_PIDS="$IT_PIDS $dpid"
wait "$dpid"
rc=$?
check "the daemon refuses it too (78)" test "$rc" -eq 78
check "... naming the check" grep -q "installation check error: client-queue-mode $Q" "$W/daemon.err"
check "... the queue files untouched" test "$(ls "$Q" | grep -c '^qf')" -eq 2
chmod 2770 "$Q"
chown smmsp "$CF"
"$RUNNER" --once -C "$CF" 2>"$W/once.err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "installation check warning: submit.cf $CF: found smmsp:root 0644" "$W/once.err" &&
    [ -z "$(ls "$Q" | grep '^qf')" ]; then
	ok "a warning (submit.cf not root's) is logged and --once delivers the queue"
else
	fail "start-up warning" "exit $rc" "$(cat "$W/once.err")"
fi
chown root "$CF"

# ------------------------------------- a real sendmail -Ac -q30m running
sm -Ac -L sm-msp-queue -q30m -C "$CF"
smpid=
check "real sendmail -Ac -q30m started" wait_for sh -c "pgrep -f 'Queue runner@00:30:00 for $Q' >/dev/null"
smpid=$(pgrep -f "Queue runner@00:30:00 for $Q" | head -n 1)
IT_PIDS="$IT_PIDS $smpid"
"$RUNNER" --check -C "$CF" --cron "$W/none" >"$W/out" 2>&1
rc=$?
if [ -n "$smpid" ] && line warning other-runner-process "/proc/$smpid: found process $smpid: sendmail: Queue runner@00:30:00 for $Q;"; then
	ok "the running sendmail -Ac -q30m (pid $smpid, by its title in /proc) is a warning"
else
	fail "the running sendmail -Ac -q30m" "pid $smpid, exit $rc" "$(cat "$W/out")"
fi
[ -z "$smpid" ] || kill "$smpid"

# ------------------------------------------ the machine's own installation
"$RUNNER" --check >"$W/out" 2>&1
rc=$?
if [ "$rc" -le 2 ] && [ -s "$W/out" ] && ! grep -Ev '^(ok|warning|error) +[a-z.-]+ .*: found .*; expected ' "$W/out" | grep -q .; then
	ok "this machine's own installation: exit $rc, every line a check"
else
	fail "this machine's own installation" "exit $rc" "$(cat "$W/out")"
fi
sed 's/^/# /' "$W/out"
it_finish

#!/bin/sh
# The Debian package's life under a real systemd: the container of
# systemd-e2e.sh (a debootstrapped bookworm with Debian's sendmail from the
# archive, booted with systemd-nspawn), and the package built by
# tests/system/build-debs.sh, twice (a version and a higher one):
#  1. apt install ./clientq-runner_<v>.deb (its dependencies resolved from
#     Debian's package index; the postinst shows --check's warnings);
#  2. the service is active, the service, socket and timer enabled, the
#     per-MTA template not, nor the metrics socket (opt-in);
#  3. a user's message submitted while the MTA is stopped waits, is listed
#     by clientqctl list as that user, and is out of the client queue
#     within 2 s of `systemctl start sendmail` (sendmail-clientq-mta@sendmail
#     enabled), then in the mailbox;
#  4. 200 messages queued with the MTA down, an upgrade to the higher
#     version (the daemon restarted exactly once, after the new files are
#     in place), the MTA back: each of the 200 in the mailbox exactly once;
#  5. apt remove: the units stopped and gone, the daemon gone, the queue's
#     files byte for byte as they were;
#  6. apt purge: the same for the queue; the package's files, its conffile,
#     its runtime directory and its enable links gone; no file left behind
#     that was not there before the install (piuparts' check);
#  7. a reinstall: the daemon indexes the waiting mail again and delivers it.
# Also: debian/rules refuses a changelog whose upstream version is not
# configure.ac's.
# CQ_DEBS=DIR uses the packages build-debs.sh made in DIR (.ci/run's package
# stage); without it this test builds them itself.
# Not piuparts: it debootstraps a chroot of its own from the network for
# every run and forbids starting services in it, so it would cost CI
# minutes without reaching the units; its central checks (install,
# upgrade, remove and purge succeed; nothing is left behind after purge
# that was not there before) are steps 1 and 4 to 6 here, under systemd.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/system/container.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (debootstrap, systemd-nspawn)"; exit 77; }
for t in debootstrap systemd-nspawn nsenter unshare flock; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: needs $t (tests/install-deps)"; exit 77; }
done
# The package is built from the source tree with Debian's flags: a
# sanitizer build or a distcheck tree (no git checkout) has nothing to add.
if [ -n "${CQ_SAN:-}" ]; then
	echo "SKIP: a sanitizer build (the package is built with Debian's own flags)"
	exit 77
fi
if [ -z "${CQ_DEBS:-}" ]; then
	command -v dpkg-buildpackage >/dev/null 2>&1 && command -v dh >/dev/null 2>&1 ||
	    { echo "SKIP: needs dpkg-dev and debhelper to build the package (tests/install-deps)"; exit 77; }
	git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1 ||
	    { echo "SKIP: not a git checkout (the package is built from one; CQ_DEBS=DIR names built ones)"; exit 77; }
fi
IT_TIMEOUT=${IT_TIMEOUT:-900}
it_watchdog
W=$(mktemp -d)
cleanup() {
	ct_stop
	[ -n "${CQ_KEEP:-}" ] && echo "# kept $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM


# ------------------------------------------------ the packages
if [ -z "${CQ_DEBS:-}" ]; then
	t0=$(now_ms)
	CQ_DEBS=$W/debs
	"$top_srcdir/tests/system/build-debs.sh" "$CQ_DEBS" ${CQ_DEBS_FROM_WORKTREE:+--worktree} >"$W/build.log" 2>&1 ||
	    { fail "building the packages" "$(tail -n 30 "$W/build.log")"; it_finish; }
	echo "# built both packages in $(( ($(now_ms) - t0) / 1000 )) s"
fi
old=$(ls "$CQ_DEBS"/clientq-runner_*.deb 2>/dev/null | head -n 1)
new=$(ls "$CQ_DEBS"/upgrade/clientq-runner_*.deb 2>/dev/null | head -n 1)
[ -f "$old" ] && [ -f "$new" ] || { fail "packages in $CQ_DEBS" "$(ls -R "$CQ_DEBS")"; it_finish; }
vold=$(dpkg-deb -f "$old" Version) vnew=$(dpkg-deb -f "$new" Version)
dpkg --compare-versions "$vnew" gt "$vold" && ok "two packages: $vold and, to upgrade to, $vnew" ||
    { fail "versions: $vold, $vnew"; it_finish; }

# The version's one home is configure.ac: debian/rules refuses a changelog
# whose upstream version differs (checked first thing, before configure).
if command -v dpkg-parsechangelog >/dev/null 2>&1 && [ -f /usr/share/dpkg/pkg-info.mk ]; then
	mkdir -p "$W/vcheck"
	cp -r "$top_srcdir/debian" "$top_srcdir/configure.ac" "$W/vcheck/"
	sed -i '1s/(\([^-]*\)-/(\1.99-/' "$W/vcheck/debian/changelog"
	(cd "$W/vcheck" && make -s -f debian/rules override_dh_auto_configure) >"$W/vcheck.out" 2>&1
	rc=$?
	[ "$rc" -ne 0 ] && grep -q "debian/changelog says .*\.99, configure.ac's AC_INIT says" "$W/vcheck.out" &&
	    ok "debian/rules refuses a changelog whose version is not configure.ac's: $(head -n 1 "$W/vcheck/debian/changelog" | cut -d' ' -f2)" ||
	    fail "version check (exit $rc)" "$(cat "$W/vcheck.out")"
fi

ROOT=$(ct_rootfs) || { fail "the container's root could not be made"; it_finish; }
ct_boot "$ROOT" "$W/console.log" || { fail "boot" "$(tail -n 30 "$W/console.log")"; it_finish; }
ok "the container booted (systemd $(ct systemctl --version | sed -n '1s/systemd \([0-9]*\).*/\1/p'), Debian's sendmail)"
mkdir -p "$W/in/root/debs"
cp "$old" "$new" "$W/in/root/debs/"
ct_copy_in "$W/in"
ct_sh 'useradd -m cqalice && useradd -m cqbob' || fail "users"
QDIR=$(ct sed -n 's/^O QueueDirectory=//p' /etc/mail/submit.cf)
# What is on the system before the package, for step 6's leftovers.
snapshot_fs() {
	ct sh -c 'find /etc /usr /lib /run /var/lib/systemd -xdev 2>/dev/null | grep -v "^/run/systemd/\|^/run/user/\|^/run/log/\|^/var/lib/systemd/timers/\|^/var/lib/systemd/catalog/\|^/var/lib/systemd/random-seed\|^/etc/ld.so.cache\|^/run/utmp" | sort'
}
snapshot_fs >"$W/fs.before"
apt_in() { # apt's command line, inside, in /root/debs
	ct env DEBIAN_FRONTEND=noninteractive sh -c 'cd /root/debs && apt -o Dpkg::Use-Pty=0 "$@"' apt "$@"
}
submit_as() { # USER RCPT SUBJECT [sendmail options]
	_u=$1 _r=$2 _s=$3
	shift 3
	printf 'Subject: %s\n\nfrom %s\n' "$_s" "$_u" |
	    ct setpriv --reuid="$_u" --regid="$_u" --init-groups /usr/sbin/sendmail -oi "$@" "$_r"
}
nq() { ct sh -c "ls '$QDIR' | grep -c '^qf'"; }
show() { ct systemctl show -p "$2" --value "$1"; }
starts() { ct journalctl -u sendmail-clientq.service -o cat --no-pager | grep -c '^Started sendmail-clientq.service'; }
# The queue as it is on disk: every file's bytes, mode, owner and times.
queue_state() {
	ct sh -c "cd '$QDIR' && stat -c '%n %a %U:%G %s %Y' . * && sha256sum -- *"
}

# ------------------------------------------------ 1. apt install ./deb
b=${old##*/}
t0=$(now_ms)
apt_in install -y "./$b" >"$W/install.out" 2>&1
rc=$?
echo "# apt install took $(( $(now_ms) - t0 )) ms"
[ "$rc" -eq 0 ] && [ "$(ct dpkg-query -W -f '${Status} ${Version}' clientq-runner)" = "install ok installed $vold" ] &&
    ok "1. apt install ./$b: installed $vold" ||
    { fail "apt install ./$b (exit $rc)" "$(tail -n 30 "$W/install.out")"; it_finish; }
grep -q '^clientq-runner: installation check' "$W/install.out" &&
    grep -q '^  warning other-runner-cron /etc/cron.d/sendmail' "$W/install.out" &&
    ok "   the postinst showed --check's warnings (sendmail's cron runner is still scheduled)" ||
    fail "postinst's check output" "$(cat "$W/install.out")"

# ------------------------------------------------ 2. units
wait_until 10 'ct systemctl is-active --quiet sendmail-clientq.service' &&
    [ "$(show sendmail-clientq User)" = smmsp ] &&
    ok "2. sendmail-clientq.service is active, as smmsp" ||
    fail "service active" "$(ct systemctl status sendmail-clientq --no-pager 2>&1)"
st=$(ct systemctl is-enabled sendmail-clientq.service sendmail-clientq.socket sendmail-clientq.timer | tr '\n' ' ')
[ "$st" = "enabled enabled enabled " ] && ok "   the service, the socket and the timer are enabled" ||
    fail "enabled" "$st"
st=$(ct systemctl is-active sendmail-clientq.socket sendmail-clientq.timer | tr '\n' ' ')
[ "$st" = "active active " ] && ok "   the socket and the timer are active" || fail "socket, timer active" "$st"
st=$(ct systemctl is-enabled sendmail-clientq-mta@sendmail.service 2>&1)
[ "$st" = disabled ] && ok "   sendmail-clientq-mta@sendmail is not enabled by the package" ||
    fail "mta@ template" "$st"
st=$(ct systemctl is-enabled sendmail-clientq-metrics.socket 2>&1; ct systemctl is-active sendmail-clientq-metrics.socket 2>&1)
[ "$(echo $st)" = "disabled inactive" ] &&
    ok "   sendmail-clientq-metrics.socket is installed, neither enabled nor listening (opt-in)" ||
    fail "metrics socket" "$st"
ct journalctl -u sendmail-clientq --no-pager | grep -q 'control socket passed by the service manager' &&
    ok "   the daemon took the socket unit's socket" || fail "socket passed"

# ------------------------------------------------ 3. waiting mail, the MTA starts
ct systemctl stop sendmail.service
ct systemctl enable sendmail-clientq-mta@sendmail.service >/dev/null 2>&1
submit_as cqalice cqbob "pkg-e2e waiting" || fail "submission as cqalice"
wait_until 10 '[ "$(nq)" -eq 1 ]' || fail "queued" "$(ct ls -l "$QDIR")"
id1=$(ct sh -c "ls '$QDIR' | sed -n 's/^qf//p'")
ct setpriv --reuid=cqalice --regid=cqalice --init-groups clientqctl list >"$W/alice.list" 2>&1
grep -q "^$id1" "$W/alice.list" && grep -q 'Total requests: 1' "$W/alice.list" &&
    ok "3. clientqctl list as cqalice shows her waiting message ($id1)" ||
    fail "alice's list" "$(cat "$W/alice.list")"
ct systemctl start sendmail.service
t0=$(now_ms)
if wait_until 10 '[ "$(nq)" -eq 0 ]'; then
	took=$(($(now_ms) - t0))
	[ "$took" -le 2000 ] && ok "   systemctl start sendmail: out of the client queue in ${took} ms (at most 2 s)" ||
	    fail "the waiting mail took ${took} ms, more than 2 s"
else
	fail "still queued 10 s after the MTA started" "$(ct journalctl -u sendmail-clientq --no-pager | tail -n 20)"
fi
wait_until 20 'ct grep -q "^Subject: pkg-e2e waiting" /var/mail/cqbob' &&
    ok "   and in cqbob's mailbox" || fail "mailbox" "$(ct journalctl --no-pager -n 30)"

# ------------------------------------------------ 4. 200 messages across an upgrade
ct systemctl stop sendmail.service
ct sh -c 'i=1; while [ $i -le 200 ]; do
	printf "Subject: pkg-e2e %03d\n\nmessage %03d of 200\n" $i $i |
	    setpriv --reuid=cqalice --regid=cqalice --init-groups /usr/sbin/sendmail -odq -oi cqbob || exit 1
	i=$((i + 1))
done' || fail "queueing 200 messages"
wait_until 20 '[ "$(nq)" -eq 200 ]' && ok "4. 200 messages wait in the client queue, the MTA down" ||
    fail "200 queued" "$(nq)"
pid0=$(show sendmail-clientq MainPID) s0=$(starts)
b=${new##*/}
t0=$(now_ms)
apt_in install -y "./$b" >"$W/upgrade.out" 2>&1
rc=$?
echo "# the upgrade took $(( $(now_ms) - t0 )) ms"
[ "$rc" -eq 0 ] && [ "$(ct dpkg-query -W -f '${Version}' clientq-runner)" = "$vnew" ] &&
    ok "   apt install ./$b: upgraded to $vnew" ||
    fail "upgrade (exit $rc)" "$(tail -n 30 "$W/upgrade.out")"
wait_until 10 'ct systemctl is-active --quiet sendmail-clientq.service'
pid1=$(show sendmail-clientq MainPID) s1=$(starts)
[ "$pid1" != "$pid0" ] && [ "$pid1" != 0 ] && [ $((s1 - s0)) -eq 1 ] &&
    ok "   the daemon was restarted exactly once (pid $pid0 -> $pid1)" ||
    fail "restart once" "pid $pid0 -> $pid1, starts $s0 -> $s1" \
	"$(ct journalctl -u sendmail-clientq --no-pager | tail -n 20)"
[ "$(ct readlink "/proc/$pid1/exe")" = /usr/sbin/clientq-runner ] &&
    ok "   running the new binary" || fail "exe" "$(ct ls -l "/proc/$pid1/exe")"
[ "$(nq)" -eq 200 ] && ok "   the 200 are still queued" || fail "queue after upgrade" "$(nq)"
st=$(ct systemctl is-active sendmail-clientq.socket sendmail-clientq.timer | tr '\n' ' ')
ct clientqctl status >"$W/status" 2>&1 && grep -q '^running: 200 queued' "$W/status" &&
    [ "$st" = "active active " ] &&
    ok "   clientqctl reaches the new daemon through the socket (200 queued)" ||
    fail "status after upgrade ($st)" "$(cat "$W/status")"
ct systemctl start sendmail.service
wait_until 120 '[ "$(nq)" -eq 0 ]' || fail "queue not empty 120 s after the MTA came back" "$(nq) left"
inbox() { ct grep -c "^Subject: pkg-e2e [0-9]" /var/mail/cqbob; }
# All 200 are the MTA's now.  On a loaded machine sendmail keeps some in
# its own queue (QueueLA) for its next run, half an hour away: if they
# are not in the mailbox within 30 s, one queue run of the MTA's, its
# load limits lifted, delivers them.  What is checked is that our side
# handed each over once.
if ! wait_until 30 '[ "$(inbox)" -ge 200 ]'; then
	echo "# $(inbox) of 200 in the mailbox after 30 s; the MTA's queue: $(ct mailq 2>/dev/null | tail -n 1)"
	ct sendmail -OQueueLA=999 -ORefuseLA=999 -q >/dev/null 2>&1 || true
	wait_until 60 '[ "$(inbox)" -ge 200 ]'
fi
sleep 1	# anything delivered twice would follow
ct grep '^Subject: pkg-e2e [0-9]' /var/mail/cqbob | sort >"$W/subjects"
n=$(wc -l <"$W/subjects") u=$(uniq <"$W/subjects" | wc -l) d=$(uniq -d <"$W/subjects" | wc -l)
[ "$n" -eq 200 ] && [ "$u" -eq 200 ] && [ "$d" -eq 0 ] &&
    ok "   the MTA back: each of the 200 delivered exactly once" ||
    fail "exactly once" "$n delivered, $u distinct, $d twice or more" "$(uniq -d "$W/subjects" | head)"

# ------------------------------------------------ 5. apt remove
ct systemctl stop sendmail.service
for s in one two three; do submit_as cqalice cqbob "pkg-e2e kept $s"; done
wait_until 10 '[ "$(nq)" -eq 3 ]' || fail "3 queued" "$(nq)"
# No try from the daemon between the picture and the removal.
ct clientqctl pause >/dev/null 2>&1 || fail "pause"
queue_state >"$W/queue.before"
apt_in remove -y clientq-runner >"$W/remove.out" 2>&1 || fail "apt remove" "$(tail -n 20 "$W/remove.out")"
st=$(ct systemctl is-active sendmail-clientq.service sendmail-clientq.socket sendmail-clientq.timer | tr '\n' ' ')
[ "$st" = "inactive inactive inactive " ] && ! ct pgrep -x clientq-runner >/dev/null &&
    ok "5. apt remove: the service, the socket and the timer stopped, no daemon left" ||
    fail "stopped" "$st" "$(ct ps -ef)"
ct systemctl list-unit-files 'sendmail-clientq*' --no-legend >"$W/units" 2>&1
ct systemctl is-enabled sendmail-clientq.service sendmail-clientq.socket sendmail-clientq.timer \
    >"$W/is-enabled" 2>&1
rc=$?
echo "# systemctl is-enabled after remove (exit $rc): $(tr '\n' ' ' <"$W/is-enabled")"
[ ! -s "$W/units" ] && [ "$rc" -ne 0 ] && ! grep -qx 'enabled' "$W/is-enabled" &&
    ! ct test -e /run/sendmail-clientq/control &&
    ok "   the units are gone, none enabled (nothing can start them), and so is the control socket" ||
    fail "units after remove" "$(cat "$W/units")" "$(cat "$W/is-enabled")"
queue_state >"$W/queue.removed"
cmp -s "$W/queue.before" "$W/queue.removed" && ok "   the queue's 3 messages are byte for byte as they were" ||
    fail "queue changed by remove" "$(diff "$W/queue.before" "$W/queue.removed")"
ct test -f /etc/mail/clientq.conf && ok "   the conffile stays until purge" || fail "conffile after remove"

# ------------------------------------------------ 6. apt purge
apt_in purge -y clientq-runner >"$W/purge.out" 2>&1 || fail "apt purge" "$(tail -n 20 "$W/purge.out")"
queue_state >"$W/queue.purged"
cmp -s "$W/queue.before" "$W/queue.purged" && ok "6. apt purge: the queue untouched, byte for byte" ||
    fail "queue changed by purge" "$(diff "$W/queue.before" "$W/queue.purged")"
left=
for f in /etc/mail/clientq.conf /run/sendmail-clientq /usr/sbin/clientq-runner /usr/bin/clientqctl \
    /lib/systemd/system/sendmail-clientq.service /usr/lib/tmpfiles.d/clientq-runner.conf; do
	ct test -e "$f" && left="$left $f"
done
links=$(ct find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled -name '*sendmail-clientq*' 2>/dev/null)
[ -z "$left" ] && [ -z "$links" ] && [ "$(ct dpkg-query -W -f '${Status}' clientq-runner 2>/dev/null)" != "install ok installed" ] &&
    ok "   the package's files, its conffile, /run/sendmail-clientq and every enable link are gone" ||
    fail "left after purge" "$left" "$links"
snapshot_fs >"$W/fs.after"
# What may differ: the MTA's run-time files (it was stopped and started).
comm -13 "$W/fs.before" "$W/fs.after" | grep -v '^/run/sendmail/' >"$W/fs.new"
[ ! -s "$W/fs.new" ] && ok "   no file left behind that was not there before the install" ||
    fail "left behind after purge" "$(cat "$W/fs.new")"
ct test -d "$QDIR" && [ "$(ct stat -c '%a %U:%G' "$QDIR")" = "2770 smmsp:smmsp" ] && ct id smmsp >/dev/null &&
    ok "   the client queue directory and the smmsp user, sendmail's, are still there" ||
    fail "queue dir or smmsp after purge" "$(ct stat -c '%a %U:%G' "$QDIR")"

# ------------------------------------------------ 7. reinstall
apt_in install -y "./$b" >"$W/reinstall.out" 2>&1 || fail "reinstall" "$(tail -n 20 "$W/reinstall.out")"
wait_until 10 'ct systemctl is-active --quiet sendmail-clientq.service' || fail "active after reinstall"
ct clientqctl list >"$W/relist" 2>&1
ids=$(ct sh -c "ls '$QDIR' | sed -n 's/^qf//p'")
miss=
for i in $ids; do grep -q "^$i" "$W/relist" || miss="$miss $i"; done
[ -z "$miss" ] && grep -q 'Total requests: 3' "$W/relist" &&
    ok "7. reinstalled: the daemon has the 3 waiting messages again (clientqctl list)" ||
    fail "relist" "missing:$miss" "$(cat "$W/relist")"
ct systemctl start sendmail.service
ct clientqctl flush >/dev/null 2>&1
wait_until 20 '[ "$(nq)" -eq 0 ]' &&
    wait_until 20 '[ "$(ct grep -c "^Subject: pkg-e2e kept" /var/mail/cqbob)" -eq 3 ]' &&
    ok "   the MTA back and a flush: the 3 delivered, once each" ||
    fail "kept mail" "$(nq) queued" "$(ct grep "^Subject: pkg-e2e kept" /var/mail/cqbob)"
it_finish

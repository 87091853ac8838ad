#!/bin/sh
# The systemd files as `make` made them (units/), checked by systemd's own
# tools on this machine:
# - systemd-analyze verify prints nothing for any unit (it exits 0 even
#   when it prints parse errors, so any output is a failure), with the
#   programs and the man pages of this build where the units name them;
# - systemd-analyze security: the service's exposure at most 1.5 (printed);
# - tmpfiles.d makes the client queue with the MSP's owner, group and mode,
#   repairs a wrong mode, and leaves the files in it alone;
# - sysusers.d makes the MSP's user and group, and leaves existing ones;
# - the journal catalog has an entry for every MESSAGE_ID in lib/queue/log.h.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: needs systemd-analyze"; exit 77; }
[ -f "$top_builddir/units/sendmail-clientq.service" ] ||
    { echo "SKIP: the units were not made (configure without systemd)"; exit 77; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# What configure substituted, read back from the made files.
unit=$top_builddir/units/sendmail-clientq.service
sbindir=$(sed -n 's|^ExecStart=\(.*\)/clientq-runner$|\1|p' "$unit")
bindir=$(sed -n 's|^ExecReload=\(.*\)/clientqctl reload$|\1|p' "$unit")
queue=$(sed -n 's|^ReadWritePaths=-||p' "$unit")
user=$(sed -n 's|^User=||p' "$unit")
tmpfiles=$top_builddir/units/tmpfiles.d/clientq-runner.conf
mode=$(awk '$1 == "d" { print $3 }' "$tmpfiles")
[ -n "$sbindir" ] && [ -n "$bindir" ] && [ -n "$queue" ] && [ -n "$user" ] && [ -n "$mode" ] &&
    ok "the made service names its programs, queue ($queue, $mode) and user ($user)" ||
    fail "substitutions" "sbindir=$sbindir bindir=$bindir queue=$queue user=$user mode=$mode"
grep -q '@[A-Za-z_]*@' "$top_builddir"/units/*.service "$top_builddir"/units/*.socket \
    "$top_builddir"/units/*.timer "$tmpfiles" "$top_builddir/units/sysusers.d/clientq-runner.conf" &&
    fail "a template placeholder is left" "$(grep -n '@[A-Za-z_]*@' "$top_builddir"/units/*.s*)" ||
    ok "no @placeholder@ is left in any made file"

# ------------------------------------------------ systemd-analyze verify
# The units as installed, but with this build's programs (verify wants
# every Exec path to be executable) and man pages (it runs man(1) for
# each Documentation= entry).
mkdir -p "$W/units" "$W/man/man8"
for f in "$top_srcdir"/man/*.8; do ln -s "$f" "$W/man/man8/"; done
for u in "$top_builddir"/units/*.service "$top_builddir"/units/*.socket \
    "$top_builddir"/units/*.timer; do
	sed -e "s|$sbindir/clientq-runner|$top_builddir/clientq-runner/clientq-runner|" \
	    -e "s|$bindir/clientqctl|$top_builddir/clientqctl|" "$u" >"$W/units/${u##*/}"
done
for u in "$W"/units/*; do
	out=$(cd "$W/units" && MANPATH=$W/man systemd-analyze verify "$u" 2>&1)
	[ -z "$out" ] && ok "systemd-analyze verify ${u##*/}: nothing to say" ||
	    fail "systemd-analyze verify ${u##*/}" "$out"
done
# And it can fail: a misspelt directive is reported.
sed 's/^Type=notify/Typ=notify/' "$W/units/sendmail-clientq.service" >"$W/bad.service"
out=$(cd "$W" && MANPATH=$W/man systemd-analyze verify "$W/bad.service" 2>&1)
case $out in
*"Unknown key 'Typ'"*) ok "the lint sees a misspelt directive" ;;
*) fail "the lint missed a misspelt directive" "$out" ;;
esac

# ------------------------------------------------ systemd-analyze security
score() {
	systemd-analyze security --offline=yes "$1" 2>/dev/null |
	    sed -n 's/^.* Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p'
}
for u in sendmail-clientq.service sendmail-clientq-flush.service sendmail-clientq-mta@.service \
    sendmail-clientq-metrics@.service; do
	s=$(cd "$W/units" && score "$W/units/$u")
	echo "# systemd-analyze security $u: exposure $s"
	if [ -n "$s" ] && awk -v s="$s" 'BEGIN { exit !(s <= 1.5) }'; then
		ok "$u: exposure $s, at most 1.5"
	else
		fail "$u: exposure '$s', wanted at most 1.5" \
		    "$(systemd-analyze security --offline=yes "$W/units/$u" 2>&1 | tail -n 30)"
	fi
done

# ------------------------------------------------ tmpfiles.d and sysusers.d
if [ "$(id -u)" -eq 0 ] && command -v systemd-tmpfiles >/dev/null 2>&1 &&
    command -v systemd-sysusers >/dev/null 2>&1; then
	R=$W/root
	mkdir -p "$R/etc"
	: >"$R/etc/passwd"
	: >"$R/etc/group"
	systemd-sysusers --root="$R" "$top_builddir/units/sysusers.d/clientq-runner.conf" \
	    >"$W/sysusers.out" 2>&1
	pw=$(grep "^$user:" "$R/etc/passwd")
	gr=$(grep "^$user:" "$R/etc/group")
	if [ -n "$pw" ] && [ -n "$gr" ] &&
	    [ "$(echo "$pw" | cut -d: -f4)" = "$(echo "$gr" | cut -d: -f3)" ]; then
		ok "sysusers.d makes $user and its group ($pw)"
	else
		fail "sysusers.d" "$(cat "$W/sysusers.out" "$R/etc/passwd" "$R/etc/group")"
	fi
	printf '%s:x:4242:4343::/var/lib/sendmail:/bin/false\n' "$user" >"$R/etc/passwd"
	printf '%s:x:4343:\n' "$user" >"$R/etc/group"
	cp "$R/etc/passwd" "$W/passwd.before"
	systemd-sysusers --root="$R" "$top_builddir/units/sysusers.d/clientq-runner.conf" >/dev/null 2>&1
	cmp -s "$R/etc/passwd" "$W/passwd.before" && ok "sysusers.d leaves an existing $user as it is" ||
	    fail "sysusers.d changed an existing user" "$(cat "$R/etc/passwd")"

	systemd-tmpfiles --create --root="$R" "$tmpfiles" >"$W/tmpfiles.out" 2>&1
	# Owner and group as the root's own passwd and group say (4242:4343).
	st=$(stat -c '%a %u %g' "$R$queue" 2>/dev/null)
	want="$(printf '%o' "0$mode") 4242 4343"
	[ "$st" = "$want" ] && ok "tmpfiles.d makes $queue: $st" ||
	    fail "tmpfiles.d made '$st', wanted '$want'" "$(cat "$W/tmpfiles.out")"
	chmod 0777 "$R$queue"
	chown 0:0 "$R$queue"
	printf 'V8\nT1\n.\n' >"$R$queue/qf6AP6QvQA021729"
	chown 0:0 "$R$queue/qf6AP6QvQA021729"
	chmod 0600 "$R$queue/qf6AP6QvQA021729"
	before=$(stat -c '%i %a %u %g %Y %s' "$R$queue/qf6AP6QvQA021729")
	systemd-tmpfiles --create --root="$R" "$tmpfiles" >/dev/null 2>&1
	st=$(stat -c '%a %u %g' "$R$queue")
	[ "$st" = "$want" ] && ok "tmpfiles.d repairs a queue made 0777 root:root" ||
	    fail "tmpfiles.d repair: '$st'"
	[ "$(stat -c '%i %a %u %g %Y %s' "$R$queue/qf6AP6QvQA021729")" = "$before" ] &&
	    ok "tmpfiles.d leaves the files in the queue alone" || fail "tmpfiles.d touched a queue file"
	systemd-tmpfiles --clean --root="$R" "$tmpfiles" >/dev/null 2>&1
	[ -f "$R$queue/qf6AP6QvQA021729" ] && ok "tmpfiles --clean deletes no mail (no age)" ||
	    fail "tmpfiles --clean deleted a queue file"

	# ------------------------------------------------ the catalog
	mkdir -p "$R/usr/lib/systemd/catalog"
	cp "$top_srcdir/units/catalog/clientq-runner.catalog" "$R/usr/lib/systemd/catalog/"
	journalctl --root="$R" --update-catalog >"$W/catalog.out" 2>&1
	journalctl --root="$R" --list-catalog >"$W/catalog.list" 2>&1
	n=0
	for id in $(sed -n 's/^#define LOG_MID_[A-Z_]* "\([0-9a-f]*\)"$/\1/p' "$top_srcdir/lib/queue/log.h"); do
		n=$((n + 1))
		grep -q "^$id " "$W/catalog.list" || fail "MESSAGE_ID $id has no catalog entry" \
		    "$(cat "$W/catalog.out" "$W/catalog.list")"
	done
	[ "$n" -ge 4 ] && [ "$(grep -c -E '^[0-9a-f]{32} ' "$W/catalog.list")" -eq "$n" ] &&
	    ok "the catalog compiles, with an entry for each of the $n MESSAGE_IDs and no other" ||
	    fail "catalog entries" "$(cat "$W/catalog.list")"
else
	echo "# not root, or no systemd-tmpfiles/systemd-sysusers: tmpfiles.d, sysusers.d and the catalog not checked"
fi
it_finish

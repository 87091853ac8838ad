# A real systemd in a container, for the system tests (sourced, POSIX sh).
#
#   ct_rootfs            a Debian bookworm root with systemd and sendmail,
#                        made once with debootstrap and cached (CT_CACHE);
#                        prints its path
#   ct_boot ROOT         boot an ephemeral copy of it (systemd-nspawn -x: the
#                        cached root is never changed) in its own network
#                        namespace (only loopback: its MTA on port 25 is its
#                        own), with a qualified host name; sets CT_LEADER
#                        (the container's PID 1 seen from here)
#   ct COMMAND...        run a command inside (all its namespaces)
#   ct_sh 'SCRIPT'       run a shell script inside
#   ct_copy_in DIR       copy the tree DIR into the container's /
#   ct_stop              power it off (the ephemeral copy goes with it)
#
# Facts that shaped it (see the project's notes on this machine): PID 1 here
# is not systemd, so nspawn needs --register=no and --keep-unit; sendmail
# sleeps 60 s at every call when the host name is not qualified, so the
# root is made with a UTS namespace of its own named host.test, and the
# container boots with that name and a hosts file that resolves it.

CT_CACHE=${CT_CACHE:-/var/cache/clientq-tests}
# What the cached root holds; a change here makes a new one.
CT_INCLUDE=systemd,dbus,systemd-sysv
CT_PACKAGES="sendmail-bin sendmail-base sendmail-cf m4 sensible-mda"
CT_VERSION=1
CT_LEADER=
CT_NSPAWN=

ct__log() { printf 'container: %s\n' "$*" >&2; }

# The Debian mirror this machine's apt uses (deb822 or one-line sources).
ct__mirror() {
	_m=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	    grep -v security | head -n 1)
	[ -n "$_m" ] || _m=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' \
	    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security | head -n 1)
	echo "${_m:-http://deb.debian.org/debian}"
}

ct_rootfs() {
	_name=rootfs-bookworm-v$CT_VERSION-$(echo "$CT_INCLUDE $CT_PACKAGES" | cksum | cut -d' ' -f1)
	_root=$CT_CACHE/$_name
	mkdir -p "$CT_CACHE" || return 1
	# One maker at a time; a second test waits for the first's root.
	exec 9>"$CT_CACHE/$_name.lock"
	flock 9 || return 1
	if [ ! -f "$_root/.clientq-rootfs" ]; then
		_tmp=$CT_CACHE/$_name.new
		rm -rf "$_tmp"
		ct__log "making $_root (debootstrap, once; cached afterwards)"
		debootstrap --variant=minbase --include="$CT_INCLUDE" bookworm "$_tmp" \
		    "$(ct__mirror)" >"$CT_CACHE/$_name.log" 2>&1 || {
			ct__log "debootstrap failed; see $CT_CACHE/$_name.log"
			tail -n 20 "$CT_CACHE/$_name.log" >&2
			exec 9>&-
			return 1
		}
		printf '127.0.0.1 localhost\n127.0.1.1 host.test host\n::1 localhost\n' >"$_tmp/etc/hosts"
		echo host.test >"$_tmp/etc/hostname"
		# Package scripts must not start daemons while the root is made.
		printf '#!/bin/sh\nexit 101\n' >"$_tmp/usr/sbin/policy-rc.d"
		chmod 0755 "$_tmp/usr/sbin/policy-rc.d"
		# shellcheck disable=SC2086
		if ! unshare -m -u --propagation private sh -c '
			hostname host.test &&
			mount -t proc proc "$0/proc" &&
			mount --bind /dev "$0/dev" &&
			export DEBIAN_FRONTEND=noninteractive &&
			chroot "$0" apt-get update -qq &&
			chroot "$0" apt-get install -y -qq --no-install-recommends "$@"' \
		    "$_tmp" $CT_PACKAGES >>"$CT_CACHE/$_name.log" 2>&1; then
			ct__log "installing $CT_PACKAGES failed; see $CT_CACHE/$_name.log"
			tail -n 20 "$CT_CACHE/$_name.log" >&2
			exec 9>&-
			return 1
		fi
		rm -f "$_tmp/usr/sbin/policy-rc.d"
		chroot "$_tmp" apt-get clean >/dev/null 2>&1
		date -u >"$_tmp/.clientq-rootfs"
		mv "$_tmp" "$_root" || { exec 9>&-; return 1; }
	fi
	exec 9>&-
	echo "$_root"
}

ct_boot() {
	_log=${2:-/dev/null}
	systemd-nspawn --register=no --keep-unit --quiet -D "$1" -x -b --console=pipe \
	    --private-network --hostname=host.test >"$_log" 2>&1 </dev/null &
	CT_NSPAWN=$!
	_i=0
	while [ "$_i" -lt 100 ]; do
		CT_LEADER=$(pgrep -P "$CT_NSPAWN" -x systemd 2>/dev/null | head -n 1)
		[ -n "$CT_LEADER" ] && break
		kill -0 "$CT_NSPAWN" 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	[ -n "$CT_LEADER" ] || { ct__log "the container did not start"; cat "$_log" >&2; return 1; }
	# "running", or "degraded" when some unit of the image failed.  The
	# leader is there a moment before its namespaces are: until then
	# nsenter fails and says nothing.
	_i=0
	while [ "$_i" -lt 600 ]; do
		_state=$(nsenter -t "$CT_LEADER" -a systemctl is-system-running 2>/dev/null)
		case $_state in
		running | degraded) return 0 ;;
		esac
		kill -0 "$CT_NSPAWN" 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	ct__log "boot did not finish: '$_state'"
	return 1
}

ct() { nsenter -t "$CT_LEADER" -a "$@"; }
ct_sh() { nsenter -t "$CT_LEADER" -a sh -c "$1"; }

ct_copy_in() {
	tar -C "$1" -cf - . | nsenter -t "$CT_LEADER" -a tar -C / -xf -
}

ct_stop() {
	[ -n "$CT_NSPAWN" ] || return 0
	if kill -0 "$CT_NSPAWN" 2>/dev/null; then
		ct systemctl poweroff >/dev/null 2>&1 || kill -TERM "$CT_NSPAWN" 2>/dev/null
		_i=0
		while kill -0 "$CT_NSPAWN" 2>/dev/null && [ "$_i" -lt 200 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$CT_NSPAWN" 2>/dev/null
	fi
	wait "$CT_NSPAWN" 2>/dev/null
	CT_NSPAWN=
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_until SECONDS 'SHELL CODE': true once the code (run in this shell,
# so that it can use ct) succeeds.
wait_until() {
	_end=$(($(now_ms) + $1 * 1000))
	while ! eval "$2" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$_end" ] || return 1
		sleep 0.1
	done
}

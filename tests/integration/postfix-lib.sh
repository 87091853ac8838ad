# A real Postfix for the integration tests (sourced after lib.sh, POSIX sh).
#
# Debian's postfix package conflicts with sendmail-bin (both provide
# mail-transport-agent): `apt-get install postfix` would REMOVE the
# sendmail the suite tests against.  pf_install therefore never installs
# the package: it fetches the .deb with `apt-get download` and unpacks it
# with `dpkg-deb -x` into a private tree, $PF_CACHE/root.  Each test runs
# its own Postfix instance from that tree, with its own configuration,
# queue and data directories; /etc/postfix, /var/spool/postfix and the
# system's sendmail are never touched, and no system Postfix runs.
#
#   pf_install            idempotent; no apt call once done (~2 ms)
#   pf_start DIR PORT     start an instance listening on 127.0.0.1:PORT;
#                         returns once the port accepts connections
#   pf_stop DIR           stop it; returns once all its processes are gone
#   pf_messages DIR       the delivered message files, one path a line
#   pf_wait_count DIR N   wait up to 20 s until N messages are delivered
#   pf_rcpt FILE          the envelope recipient of a delivered message
#   pf_orig_rcpt FILE     that recipient as the client gave it in RCPT TO
#   pf_strip FILE         a delivered message without what Postfix added:
#                         the message as the client sent it, LF line ends
#   pf_postfix DIR ARGS / pf_postconf DIR ARGS: postfix(1), postconf(1)
#   pf_tls_listener PORT CERT KEY [NAME=VALUE]...
#                         a master.cf line: one more smtpd on 127.0.0.1:PORT
#                         that offers STARTTLS with CERT and KEY (and the
#                         smtpd_* settings given), for PF_MASTER_EXTRA
#
# PF_MAIN_EXTRA and PF_MASTER_EXTRA (when set at pf_start) are appended to
# main.cf and master.cf: more settings, more listeners.
#
# The instance accepts mail for any address @example.test (any case) and
# for unqualified local parts (made local@example.test), refuses every
# other domain with 554 5.7.1 "Relay access denied", and never sends
# anything out (no DNS, outbound transports are error:).  Each recipient's
# copy is a file in the one Maildir DIR/mail/ (new/), owned by
# $PF_MAIL_UID:$PF_MAIL_GID (nobody), with these lines prepended by Postfix
# and nothing else changed:
#
#   Return-Path: <envelope sender>
#   X-Original-To: recipient as given in RCPT TO
#   Delivered-To: envelope recipient (unqualified ones @example.test)
#   Received: from [127.0.0.1] (unknown [127.0.0.1])
#           by mx.example.test (Postfix) with ESMTP id ...; date
#
# Headers are not rewritten and no missing header (Date, Message-ID, From)
# is added.  SMTP extensions: PIPELINING SIZE 10240000 VRFY ETRN
# ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 CHUNKING (no STARTTLS, AUTH,
# except on a pf_tls_listener: STARTTLS; TLS is logged at
# smtpd_tls_loglevel 1, "... TLS connection established from ...").
# DIR/maillog is Postfix's log (maillog_file: no syslog needed); DIR/conf
# holds main.cf and master.cf, DIR/queue the queue, DIR/data the data
# directory.  pf_start makes DIR 0755 (the postfix user must reach
# DIR/queue, nobody DIR/mail: DIR's parents must let them through, as
# it_setup's $W does); DIR can be started again after pf_stop.  A test
# that starts Postfix must stop it on every exit path (trap ... EXIT, and
# trap 'exit 143' TERM for lib.sh's watchdog), or its master keeps running.
#
# Needs root.  pf_install, the first time only: the postfix .deb (and any
# shared-library package it needs that is missing) from Debian's archive;
# creates the system user and group "postfix" and the group "postdrop" as
# Debian's postinst would (so installing the real package later works).
# Postfix's start-up check logs four harmless warnings: postdrop and
# postqueue in the private tree are not set-gid postdrop (set-gid, they
# could not load their libraries, which only LD_LIBRARY_PATH finds).

PF_CACHE=${PF_CACHE:-/var/cache/clientq-tests/postfix}
PF_ROOT=$PF_CACHE/root
# owner of the delivered files
PF_MAIL_UID=${PF_MAIL_UID:-65534}
PF_MAIL_GID=${PF_MAIL_GID:-65534}

pf__log() {
	printf 'postfix-lib: %s\n' "$*" >&2
}

pf_install() {
	[ -f "$PF_ROOT/.installed" ] && getent passwd postfix >/dev/null &&
	    getent group postdrop >/dev/null && return 0
	mkdir -p "$PF_CACHE" || return 1
	# make -j runs tests in parallel: one installs, the others wait
	(
		flock 9 || exit 1
		pf__do_install
	) 9>"$PF_CACHE/.lock"
}

pf__apt_log() {
	"$@" >>"$PF_CACHE/apt.log" 2>&1
}

pf__do_install() {
	getent group postdrop >/dev/null || groupadd --system postdrop || return 1
	getent group postfix >/dev/null || groupadd --system postfix || return 1
	if ! getent passwd postfix >/dev/null; then
		# what Debian's postinst does with adduser --system --home
		# /var/spool/postfix --no-create-home --disabled-password
		# --ingroup postfix postfix
		useradd --system --gid postfix --home-dir /var/spool/postfix \
		    --no-create-home --shell /usr/sbin/nologin postfix || return 1
	fi
	[ -f "$PF_ROOT/.installed" ] && return 0

	: >"$PF_CACHE/apt.log"
	_pf_deb=$(ls "$PF_CACHE"/postfix_*.deb 2>/dev/null | tail -n 1)
	if [ -z "$_pf_deb" ]; then
		pf__log "fetching the postfix .deb (not installing it: that would remove sendmail-bin)"
		# as root, apt's _apt sandbox user cannot write here
		if ! (cd "$PF_CACHE" && pf__apt_log apt-get download -q \
		    -o APT::Sandbox::User=root postfix); then
			pf__apt_log apt-get update -q
			(cd "$PF_CACHE" && pf__apt_log apt-get download -q \
			    -o APT::Sandbox::User=root postfix) || {
				cat "$PF_CACHE/apt.log" >&2
				return 1
			}
		fi
		_pf_deb=$(ls "$PF_CACHE"/postfix_*.deb 2>/dev/null | tail -n 1)
		[ -n "$_pf_deb" ] || return 1
	fi

	# the shared libraries it links with: plain library packages, which
	# conflict with nothing (a fresh Debian 12 may lack libicu72)
	_pf_missing=
	for _pf_p in $(dpkg-deb -f "$_pf_deb" Depends | tr ',|' '\n\n' |
	    sed -n 's/^ *\(lib[^ ]*\).*/\1/p'); do
		case $(dpkg-query -W -f='${Status}' "$_pf_p" 2>/dev/null) in
		*" installed") ;;
		*) _pf_missing="$_pf_missing $_pf_p" ;;
		esac
	done
	if [ -n "$_pf_missing" ]; then
		pf__log "installing$_pf_missing"
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive pf__apt_log apt-get install -y -q \
		    --no-install-recommends $_pf_missing || {
			pf__apt_log apt-get update -q
			# shellcheck disable=SC2086
			DEBIAN_FRONTEND=noninteractive pf__apt_log apt-get \
			    install -y -q --no-install-recommends $_pf_missing
		} || {
			cat "$PF_CACHE/apt.log" >&2
			return 1
		}
	fi

	rm -rf "$PF_ROOT.new"
	mkdir "$PF_ROOT.new" && dpkg-deb -x "$_pf_deb" "$PF_ROOT.new" || return 1
	# meta_directory ($PF_ROOT/etc/postfix) holds postfix-files, which
	# post-install reads; Debian's postinst also puts dynamicmaps.cf there
	cp "$PF_ROOT.new/usr/share/postfix/dynamicmaps.cf" \
	    "$PF_ROOT.new/etc/postfix/dynamicmaps.cf" || return 1
	if LD_LIBRARY_PATH=$PF_ROOT.new/usr/lib/postfix ldd \
	    "$PF_ROOT.new"/usr/lib/postfix/sbin/* "$PF_ROOT.new"/usr/sbin/post* \
	    2>/dev/null | grep 'not found' >&2; then
		pf__log "shared libraries missing"
		return 1
	fi
	dpkg-deb -f "$_pf_deb" Version >"$PF_ROOT.new/.installed"
	rm -rf "$PF_ROOT"
	mv "$PF_ROOT.new" "$PF_ROOT"
}

# The binaries have RUNPATH /usr/lib/postfix; their libraries are in the
# private tree.  main.cf's import_environment hands LD_LIBRARY_PATH on to
# every daemon master starts.
pf_postfix() {
	_pf_d=$1
	shift
	LD_LIBRARY_PATH=$PF_ROOT/usr/lib/postfix \
	    "$PF_ROOT/usr/sbin/postfix" -c "$_pf_d/conf" "$@"
}

pf_postconf() {
	_pf_d=$1
	shift
	LD_LIBRARY_PATH=$PF_ROOT/usr/lib/postfix \
	    "$PF_ROOT/usr/sbin/postconf" -c "$_pf_d/conf" "$@"
}

pf__write_config() {
	cat >"$1/conf/main.cf" <<EOF
# Private Postfix instance of a clientq-runner integration test
# (tests/integration/postfix-lib.sh).
compatibility_level = 3.6
config_directory = $1/conf
queue_directory = $1/queue
data_directory = $1/data
command_directory = $PF_ROOT/usr/sbin
daemon_directory = $PF_ROOT/usr/lib/postfix/sbin
shlib_directory = $PF_ROOT/usr/lib/postfix
meta_directory = $PF_ROOT/etc/postfix
sample_directory = $PF_ROOT/etc/postfix
manpage_directory = $PF_ROOT/usr/share/man
html_directory = no
readme_directory = no
sendmail_path = $PF_ROOT/usr/sbin/sendmail
newaliases_path = $PF_ROOT/usr/bin/newaliases
mailq_path = $PF_ROOT/usr/bin/mailq
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C
    POSTLOG_SERVICE POSTLOG_HOSTNAME
    LD_LIBRARY_PATH=$PF_ROOT/usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $1/maillog
maillog_file_prefixes = $1/
syslog_name = postfix-test

inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.example.test
mydomain = example.test
myorigin = example.test
mydestination =
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_banner = \$myhostname ESMTP Postfix (clientq-runner test)
smtpd_peername_lookup = no
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:local delivery is disabled
default_transport = error:outbound mail is disabled
relay_transport = error:outbound mail is disabled
smtp_dns_support_level = disabled
# headers stay as they arrive
local_header_rewrite_clients =
remote_header_rewrite_domain =
always_add_missing_headers = no
# no notices to postmaster (they would be delivered here)
notify_classes =
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s

virtual_mailbox_domains = example.test
# every recipient's copy goes to the one Maildir DIR/mail/ (virtual(8)
# allows no regexp substitution that could give each its own)
virtual_mailbox_base = $1
virtual_mailbox_maps = static:mail/
virtual_uid_maps = static:$PF_MAIL_UID
virtual_gid_maps = static:$PF_MAIL_GID
# for a pf_tls_listener: the protocol and cipher in the log
smtpd_tls_loglevel = 1
${PF_MAIN_EXTRA-}
EOF
	cat >"$1/conf/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$2 inet n     -       n       -       -       smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
${PF_MASTER_EXTRA-}
EOF
}

pf_tls_listener() {
	_pf_l="127.0.0.1:$1 inet n       -       n       -       -       smtpd"
	_pf_l="$_pf_l -o smtpd_tls_security_level=may -o smtpd_tls_cert_file=$2"
	_pf_l="$_pf_l -o smtpd_tls_key_file=$3"
	shift 3
	for _pf_o in "$@"; do
		_pf_l="$_pf_l -o $_pf_o"
	done
	echo "$_pf_l"
}

pf_start() {
	mkdir -p "$1/conf" "$1/queue" "$1/data" "$1/mail" || return 1
	chmod 0755 "$1" "$1/conf" "$1/queue" &&
	    chown postfix "$1/data" && chmod 0700 "$1/data" &&
	    chown "$PF_MAIL_UID:$PF_MAIL_GID" "$1/mail" || return 1
	pf__write_config "$1" "$2" || return 1
	# Postfix waits (300 ms a try, up to 2 s) until a main.cf it reads was
	# last changed more than a second ago: "being edited"
	touch -d '2000-01-01 00:00:00' "$1/conf/main.cf" "$1/conf/master.cf"
	# post-install create-missing makes the queue's subdirectories with
	# their owners and modes, then the checks, then master -w (returns
	# once master is initialised)
	if ! pf_postfix "$1" start >"$1/start.log" 2>&1; then
		pf__log "postfix start failed:"
		cat "$1/start.log" "$1/maillog" >&2 2>/dev/null
		return 1
	fi
	wait_for pf__port_open "$2"
}

pf__port_open() {
	[ -n "$(ss -Hltn "src 127.0.0.1:$1" 2>/dev/null)" ]
}

# pf__master_pid DIR: the pid of the instance's running master (also its
# process group), if any; not a stale pid file's reused pid.
pf__master_pid() {
	_pf_pid=$(sed -n '1s/ //gp' "$1/queue/pid/master.pid" 2>/dev/null)
	[ -n "$_pf_pid" ] || return 0
	[ "$(readlink "/proc/$_pf_pid/exe" 2>/dev/null)" = \
	    "$PF_ROOT/usr/lib/postfix/sbin/master" ] || return 0
	[ "$(readlink "/proc/$_pf_pid/cwd")" = "$(cd "$1/queue" && pwd -P)" ] ||
	    return 0
	echo "$_pf_pid"
}

# pf__group_gone PGID: no process of that process group is left but
# zombies (which some init processes are slow to reap).
pf__group_gone() {
	cat /proc/[0-9]*/stat 2>/dev/null | LC_ALL=C awk -v g="$1" '
		{ sub(/^.*\) /, "") }
		$3 == g && $1 != "Z" { found = 1 }
		END { exit found }'
}

pf_stop() {
	_pf_pid=$(pf__master_pid "$1")
	[ -n "$_pf_pid" ] || return 0
	# what `postfix stop` does, without its 1 s sleeps: on SIGTERM master
	# sends SIGTERM to its process group (its children) and exits
	kill -s TERM "$_pf_pid"
	if ! wait_for pf__group_gone "$_pf_pid"; then
		pf__log "postfix in $1 did not stop: killing it"
		kill -s KILL -- "-$_pf_pid" 2>/dev/null
		wait_for pf__group_gone "$_pf_pid" || return 1
	fi
}

# pf_messages DIR: the delivered messages in order of delivery (virtual(8)
# names a Maildir file SECONDS.VdevIinodeMMICROSECONDS.host).
pf_messages() {
	for _pf_f in "$1"/mail/new/* "$1"/mail/cur/*; do
		[ -f "$_pf_f" ] || continue
		_pf_n=${_pf_f##*/}
		_pf_us=${_pf_n#*M}
		printf '%s %s %s\n' "${_pf_n%%.*}" "${_pf_us%%.*}" "$_pf_f"
	done | sort -k1,1n -k2,2n | cut -d' ' -f3-
}

pf__count_ge() {
	[ "$(pf_messages "$1" | wc -l)" -ge "$2" ]
}

# pf_wait_count DIR N: wait up to 20 s until at least N messages are
# delivered (virtual(8) writes each in tmp/ and then renames it to new/:
# a file in new/ is complete).
pf_wait_count() {
	_pf_i=0
	while ! pf__count_ge "$1" "$2"; do
		_pf_i=$((_pf_i + 1))
		[ "$_pf_i" -lt 200 ] || return 1
		sleep 0.1
	done
}

# pf__header FILE NAME: the value of the first NAME: header.
pf__header() {
	LC_ALL=C awk -v h="$2" '
		/^$/ { exit }
		tolower(substr($0, 1, length(h) + 1)) == tolower(h) ":" {
			v = substr($0, length(h) + 2); sub(/^[ \t]*/, "", v)
			print v; exit
		}' "$1"
}

pf_rcpt() {
	pf__header "$1" Delivered-To
}

pf_orig_rcpt() {
	pf__header "$1" X-Original-To
}

# pf_strip FILE: drop the Return-Path, X-Original-To and Delivered-To lines
# virtual(8) prepended and the Received header (with its continuation
# lines) Postfix's smtpd added before them.
pf_strip() {
	LC_ALL=C awk '
		NR == 1 && /^Return-Path: / { next }
		NR == 2 && /^X-Original-To: / { next }
		NR == 3 && /^Delivered-To: / { next }
		NR == 4 && /^Received: / { rcvd = 1; next }
		rcvd && /^[ \t]/ { next }
		{ rcvd = 0; print }' "$1"
}

# pf_setup: it_setup, plus PFD (the instance's directory, $W/pf) and traps
# that stop Postfix on every way out of the test.
pf_setup() {
	it_setup
	PFD=$W/pf
	trap 'pf_stop "$PFD"; it_cleanup' EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
}

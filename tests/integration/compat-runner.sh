#!/bin/sh
# The compatibility bar of delivery: real sendmail writes the client
# queues (the fixture matrix plus the extra cases of compat-lib.sh), two
# copies of them are flushed, one by `sendmail -Ac -qf`, one by
# `clientq-runner --once`, each into a recording SMTP receiver, and the
# recordings must be identical after compat_normalize (which normalizes
# nothing of what is read from the queue: see its comment).  Three
# receivers: all extensions offered (PIPELINING, SIZE, 8BITMIME, DSN,
# SMTPUTF8, ENHANCEDSTATUSCODES, AUTH, DELIVERBY), none, and one that
# refuses EHLO (HELO fallback); and all extensions with MASQUERADE_AS, with
# and without FEATURE(masquerade_envelope); and all extensions with
# STARTTLS, which both take (clientq-runner's default TLS policy is may).
#
# With no DSN offered, both runners make a "Return receipt" for each
# NOTIFY=SUCCESS recipient (dsn-options, orcpt) and send it at once: those
# are compared too, through compat_normalize's N1.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/compat-lib.sh"
. "$top_srcdir/tests/integration/tls-lib.sh"
it_long
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup
RUNNER=$top_builddir/clientq-runner/clientq-runner

if compat_make_queue "$W/cases"; then
	ok "real sendmail wrote the case queues ($(compat_cases "$W/cases" | wc -l) with a qf)"
else
	fail "compat_make_queue"
	it_finish
fi
PORT_A=$PORT
PORT_B=$(it_free_port)
[ "$PORT_B" != "$PORT_A" ] || PORT_B=$((PORT_A + 1))

compare() { # LABEL EXT CASEDIR...  ($M4: extra m4 for both submit.cf)
	l=$1
	e=$2
	shift 2
	compat_prepare_pair "$l" "$@" || return 1
	compat_flush_sendmail "$W/q-$l-a" "$W/cf-$l-a" "$PORT_A" "$W/rec-$l-a" "$e"
	compat_recorder_start "$PORT_B" "$W/rec-$l-b" "$e" || return 1
	it_run_queue "$W/q-$l-b" -C "$W/cf-$l-b" >"$W/rec-$l-b/runner.out" 2>&1
	rc=$?
	compat_recorder_stop "$W/rec-$l-b"
	if [ "$rc" -eq 0 ]; then
		ok "$l: clientq-runner ($CQ_RUNNER_MODE) exited 0"
	else
		fail "$l: clientq-runner ($CQ_RUNNER_MODE) exited $rc" "$(tail -n 5 "$W/rec-$l-b/runner.out")"
	fi
	compat_check_pair "$l" "the wire is identical to sendmail's"
}

set --
for c in $(compat_cases "$W/cases"); do
	set -- "$@" "$W/cases/$c"
done
compare full "$COMPAT_EXT_FULL" "$@"
set --
for c in $(compat_cases "$W/cases"); do
	set -- "$@" "$W/cases/$c"
done
compare none none "$@"
compare helo no-ehlo "$@"

# Masquerading: header senders take the masquerade domain; with
# masquerade_envelope, the envelope sender and local recipients too.
set --
for c in $(compat_cases "$W/cases"); do
	set -- "$@" "$W/cases/$c"
done
M4="MASQUERADE_AS(\`masq.example')dnl" compare masq "$COMPAT_EXT_FULL" "$@"
M4="MASQUERADE_AS(\`masq.example')dnl
FEATURE(\`masquerade_envelope')dnl" compare masqenv "$COMPAT_EXT_FULL" "$@"

# STARTTLS offered: sendmail's MSP takes it whenever it is offered (its
# try_tls ruleset is empty) and says EHLO again; clientq-runner's default
# policy (may) must do the same, over the same TLS version and cipher,
# before every transaction of every case.
if command -v openssl >/dev/null 2>&1 && tls_make_certs "$W/certs"; then
	M4=
	set --
	for c in $(compat_cases "$W/cases"); do
		set -- "$@" "$W/cases/$c"
	done
	COMPAT_TLS="$W/certs/mx.pem,$W/certs/mx.key"
	compare tls "$COMPAT_EXT_FULL" "$@"
	COMPAT_TLS=
	if grep -q '^TLS-ESTABLISHED TLSv1.3 ' "$W/rec-tls-b/session-1.txt"; then
		ok "tls: the sessions went over TLS 1.3"
	else
		fail "tls: no TLS session recorded" "$(head -n 5 "$W/rec-tls-b/session-1.txt")"
	fi
else
	fail "tls: cannot make certificates with the openssl command"
fi
it_finish

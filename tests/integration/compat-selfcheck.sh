#!/bin/sh
# Self-check of the compatibility suite's sendmail side (compat-lib.sh):
# real sendmail flushes two copies of the same client queues into two
# recording receivers, and the normalized recordings must be identical,
# with all extensions offered and with none.  If they are, whatever
# compat_normalize leaves is what clientq-runner must reproduce exactly.
# Also checks that sendmail delivered everything and that the recordings
# hold what the real suite compares (SIZE=, BODY=, ENVID=, RET=, NOTIFY=,
# ORCPT=, AUTH=, pipelined RCPTs).
#
# KEEP_WORK=1 keeps the work directory: $W/cases (the queues), $W/rec-*
# (the recordings: session-<n>.txt, the .eml files, session-<n>-packets.txt
# with every recv() and reply), $W/rec-*.norm (the normalized texts).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/compat-lib.sh"
it_long
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
it_setup

if compat_make_queue "$W/cases"; then
	ok "real sendmail wrote the case queues ($(compat_cases "$W/cases" | wc -l) with a qf)"
else
	fail "compat_make_queue"
	it_finish
fi
set --
for c in $(compat_cases "$W/cases"); do
	set -- "$@" "$W/cases/$c"
done
nqf=$(cat "$W"/cases/*/owner.txt | grep -c '^qf')
# many-rcpts (120 recipients) goes out as two transactions of 100 and 20
ntx=$((nqf + 1))

PORT_A=$PORT
PORT_B=$(it_free_port)
[ "$PORT_B" != "$PORT_A" ] || PORT_B=$((PORT_A + 1))

# flush LABEL EXT: copy the queues twice, flush both copies at the same
# time with sendmail into recorders on PORT_A and PORT_B, normalize.
flush() {
	l=$1
	e=$2
	shift 2
	compat_prepare_pair "$l" "$@" || return 1
	compat_flush_sendmail "$W/q-$l-a" "$W/cf-$l-a" "$PORT_A" "$W/rec-$l-a" "$e" &
	pa=$!
	compat_flush_sendmail "$W/q-$l-b" "$W/cf-$l-b" "$PORT_B" "$W/rec-$l-b" "$e" &
	pb=$!
	wait "$pa"
	ra=$?
	wait "$pb"
	rb=$?
	if [ $ra -eq 0 ] && [ $rb -eq 0 ]; then
		ok "$l: sendmail -Ac -qf ran on both copies"
	else
		fail "$l: sendmail -Ac -qf (status $ra, $rb)" \
			"$(cat "$W/rec-$l-a/sendmail.out" "$W/rec-$l-b/sendmail.out")"
	fi
	compat_check_pair "$l" "the normalized recordings of the two copies are identical"
}

# count FILE PATTERN: number of lines of FILE that match the ERE PATTERN
count() { grep -cE "$2" "$1"; }

# expect DESCRIPTION FILE PATTERN [N]: at least one line (exactly N lines)
# of FILE matches PATTERN.
expect() {
	_n=$(count "$2" "$3")
	if { [ -z "${4-}" ] && [ "$_n" -gt 0 ]; } || [ "$_n" = "${4-}" ]; then
		ok "$1"
	else
		fail "$1" "$_n lines match /$3/ in ${2#"$W"/}, expected ${4:-some}"
	fi
}

# ---------------------------------------------------------- all extensions
flush full "$COMPAT_EXT_FULL" "$@"
F=$W/rec-full-a/session-1.txt
expect "full: one session" "$W/rec-full-a.norm" '^1 sessions$' 1
expect "full: EHLO host.test" "$F" '^EHLO host\.test$' 1
expect "full: every qf delivered ($nqf messages, $ntx transactions)" "$F" '^DATA-BYTES ' "$ntx"
expect "full: SIZE= on every MAIL" "$F" '^MAIL From:<[^>]*> SIZE=[0-9]+( |$)' "$ntx"
expect "full: BODY=8BITMIME (8bitmime, 8bit-header)" "$F" ' BODY=8BITMIME( |$)' 2
expect "full: ENVID= and RET=HDRS (dsn-options)" "$F" \
	'^MAIL From:<sender@example\.test> SIZE=[0-9]+ ENVID=envid123 RET=HDRS AUTH=sender@example\.test$' 1
expect "full: ENVID= and RET=HDRS without AUTH= (orcpt, no A line)" "$F" \
	'^MAIL From:<s@example\.test> SIZE=[0-9]+ ENVID=abc RET=HDRS$' 1
expect "full: RET=FULL (ret-full)" "$F" ' RET=FULL AUTH=root@host\.test$' 1
expect "full: AUTH= from the A line" "$F" ' AUTH=root@host\.test$'
expect "full: AUTH= of a user's submission" "$F" '^MAIL From:<nobody@host\.test> .* AUTH=nobody@host\.test$' 1
expect "full: NOTIFY=SUCCESS,FAILURE (dsn-options)" "$F" '^RCPT To:<alice@example\.test> NOTIFY=SUCCESS,FAILURE$' 1
expect "full: NOTIFY=NEVER (notify-never)" "$F" '^RCPT To:<alice@example\.test> NOTIFY=NEVER$' 1
expect "full: NOTIFY= and ORCPT= (orcpt)" "$F" \
	'^RCPT To:<r@example\.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;orig@example\.test$' 1
expect "full: no BY= (DELIVERBY offered, no deliver-by time)" "$F" ' BY=' 0
expect "full: unqualified recipients get @host.test (unqualified)" "$F" '^RCPT To:<(bob|carol)@host\.test>$'
expect "full: unqualified sender gets @host.test (unqualified)" "$F" '^MAIL From:<joe@host\.test> '
expect "full: RSET probe before each reused connection" "$F" '^RSET$' "$((ntx - 1))"
if grep -q 'C .*RCPT To:<[^ ]*\\r\\nRCPT To:.*\\r\\nDATA\\r\\n' "$W/rec-full-a/session-1-packets.txt"; then
	ok "full: RCPTs and DATA pipelined in one packet"
else
	fail "full: RCPTs and DATA pipelined in one packet"
fi

# compat_normalize must see what matters and only that: the same recording
# with its transactions in reverse order (and renumbered) compares equal;
# one changed body byte, one changed RCPT parameter, or one RSET probe
# fewer do not.
mutant() { # mutant NAME: a copy of rec-full-b as $W/mut-NAME
	rm -rf "$W/mut-$1"
	cp -r "$W/rec-full-b" "$W/mut-$1"
}
differs() { # differs DESCRIPTION DIR
	compat_normalize "$2" >"$2.norm"
	if cmp -s "$W/rec-full-a.norm" "$2.norm"; then fail "$1"; else ok "$1"; fi
}
mutant reversed
rm -f "$W"/mut-reversed/session-1-msg-*.eml
LC_ALL=C awk -v src="$W/rec-full-b/session-1-msg-" -v dst="$W/mut-reversed/session-1-msg-" '
	{ v = toupper($1) }
	v == "MAIL" { nt++; intx = 1; slot[++ns] = nt }
	intx { T[nt] = T[nt] $0 "\n"; if (v == "DATA-BYTES") { K[nt] = $2; intx = 0 }; next }
	{ slot[++ns] = 0; L[ns] = $0 }
	END {
		j = nt
		for (i = 1; i <= ns; i++) {
			if (!slot[i]) { print L[i]; continue }
			t = T[j]; k++
			sub(/DATA-BYTES [0-9]+/, "DATA-BYTES " k, t)
			printf "%s", t
			print "cp " src K[j] ".eml " dst k ".eml" >"/dev/stderr"
			j--
		}
	}' "$W/rec-full-b/session-1.txt" >"$W/mut-reversed/session-1.txt" 2>"$W/mut-reversed.cp"
sh -e "$W/mut-reversed.cp"
if [ "$(sed -n 2p "$W/mut-reversed/session-1.txt")" != "$(sed -n 2p "$F")" ] &&
	compat_normalize "$W/mut-reversed" | cmp -s "$W/rec-full-a.norm" -; then
	ok "normalize: the messages in another order compare equal"
else
	fail "normalize: the messages in another order compare equal"
fi
mutant body
printf 'X' | dd of="$W/mut-body/session-1-msg-3.eml" bs=1 seek=5 conv=notrunc 2>/dev/null
differs "normalize: a changed message byte is seen" "$W/mut-body"
mutant rcpt
sed -i 's/ NOTIFY=NEVER$/ NOTIFY=FAILURE/' "$W/mut-rcpt/session-1.txt"
differs "normalize: a changed RCPT parameter is seen" "$W/mut-rcpt"
mutant rset
sed -i '0,/^RSET$/{/^RSET$/d}' "$W/mut-rset/session-1.txt"
differs "normalize: a missing RSET is seen" "$W/mut-rset"
if COMPAT_SESSIONS=ignore compat_normalize "$W/mut-rset" |
	cmp -s - "$W/mut-rset.norm"; then
	fail "normalize: COMPAT_SESSIONS=ignore leaves the session shapes out"
elif [ "$(COMPAT_SESSIONS=ignore compat_normalize "$W/mut-rset")" = \
	"$(COMPAT_SESSIONS=ignore compat_normalize "$W/rec-full-a")" ]; then
	ok "normalize: COMPAT_SESSIONS=ignore leaves the session shapes out"
else
	fail "normalize: COMPAT_SESSIONS=ignore leaves the session shapes out"
fi

# ---------------------------------------------------------- no extensions
flush none none "$@"
N=$W/rec-none-a/session-1.txt
expect "none: one session" "$W/rec-none-a.norm" '^1 sessions$' 1
expect "none: EHLO host.test (accepted with a bare 250)" "$N" '^EHLO host\.test$' 1
expect "none: no parameters on MAIL" "$N" '^MAIL From:<[^>]*>.' 0
expect "none: no parameters on RCPT" "$N" '^RCPT To:<[^>]*>.' 0
# NOTIFY=SUCCESS to a relay without DSN: the MSP sends a "Return receipt"
# (dsn-options, orcpt) through the same connection.
expect "none: every qf delivered, and two return receipts" "$N" '^DATA-BYTES ' "$((ntx + 2))"
expect "none: return receipts are sent from <>" "$N" '^MAIL From:<>$' 2
expect "none: return receipts normalized (N1)" "$W/rec-none-a.norm" '^Subject: Return receipt\\r\$$' 2
if grep -q 'C .*RCPT To:.*\\r\\n.*RCPT To:' "$W/rec-none-a/session-1-packets.txt"; then
	fail "none: without PIPELINING each RCPT waits for its reply"
else
	ok "none: without PIPELINING each RCPT waits for its reply"
fi

# The messages themselves must not depend on the extensions offered (only
# the envelope and the DSNs do).
if sed -n '/^DATA-BYTES /p' "$W/rec-full-a.norm" | sort >"$W/sizes-full" &&
	sed -n '/^DATA-BYTES [0-9]/p' "$W/rec-none-a.norm" | sort >"$W/sizes-none" &&
	cmp -s "$W/sizes-full" "$W/sizes-none"; then
	ok "the same message bytes go out with and without extensions"
else
	fail "the same message bytes go out with and without extensions" \
		"$(diff "$W/sizes-full" "$W/sizes-none" | head -n 10)"
fi
it_finish

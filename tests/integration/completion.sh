#!/bin/sh
# Bash completion for clientqctl (contrib/bash-completion/clientqctl):
# commands and each command's options as clientqctl --complete gives
# them from its command table, file names after -C and --socket, nothing
# after an option that takes free text.  (Queue IDs from a real daemon's
# listing are checked in control.sh.)
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
command -v bash >/dev/null 2>&1 || { echo "SKIP: needs bash"; exit 77; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
COMPLETION=$top_srcdir/contrib/bash-completion/clientqctl
mkdir "$W/bin"
ln -s "$CLIENTQCTL" "$W/bin/clientqctl"
: >"$W/submit-a.cf"
: >"$W/submit-b.cf"

# complete WORD... : what the completion offers for the command line
# WORD... with the cursor on the last word (sorted, one per line).
complete_words() {
	PATH=$W/bin:$PATH bash -c '
		. "$1"
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_clientqctl
		printf "%s\n" "${COMPREPLY[@]}"' bash "$COMPLETION" "$@" | sort
}
# expect_words DESCRIPTION "WANTED (space-separated)" WORD...
expect_words() {
	_d=$1 _want=$(printf '%s\n' $2 | sort)
	shift 2
	_got=$(complete_words "$@")
	if [ "$_got" = "$_want" ]; then
		ok "$_d"
	else
		fail "$_d" "wanted: $(echo $_want)" "got: $(echo $_got)"
	fi
}

all=$("$CLIENTQCTL" --complete | sort | tr '\n' ' ')
case $all in
*flush*list*pause*show*stats*status*) ok "clientqctl --complete lists the commands" ;;
*) fail "clientqctl --complete" "$all" ;;
esac
expect_words "the command word: every command and the global options" "$all" clientqctl ''
expect_words "a prefix of a command" "stats status" clientqctl st
expect_words "after --socket PATH, the command" "flush" clientqctl --socket /x fl
expect_words "flush's options: the selectors" "--reason --recipient" clientqctl flush --re
expect_words "list's options, all of them" "--all --held --help --json --json-array --newer-than --offline --older-than --reason --recent --recipient --sender --user" clientqctl list --
expect_words "check's options" "--crit --help --warn --age" clientqctl check --
expect_words "stats' options" "--json" clientqctl stats --j
expect_words "a file after -C" "$W/submit-a.cf $W/submit-b.cf" clientqctl list --offline -C "$W/sub"
expect_words "nothing after --recipient (free text)" "" clientqctl flush --recipient ''
expect_words "an unknown command offers nothing" "" clientqctl frobnicate --
# No daemon at this socket: no queue IDs, and no error on the terminal.
err=$(CLIENTQ_SOCKET=$W/none complete_words clientqctl show '' 2>&1)
[ -z "$err" ] && ok "show with no daemon: no IDs, no noise" || fail "show with no daemon" "$err"
it_finish

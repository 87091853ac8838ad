# Compatibility-suite helpers: the sendmail side (sourced after lib.sh, POSIX sh).
#
# The compatibility test makes client queues with real sendmail, copies each
# one twice, flushes copy A with `sendmail -Ac -qf` into one recording SMTP
# receiver and copy B with clientq-runner into another, and compares the two
# recordings after compat_normalize.  Call it_setup first: these functions
# use its $W (work dir, hosts file, service.switch), `sm` and IT_PIDS.
#
#   compat_make_queue DIR              gen-fixtures.sh matrix + extra cases in DIR/<case>/
#   compat_cases DIR                   the case names in DIR that hold a qf
#   compat_copy_queue DST CASEDIR...   a live queue dir (smmsp 2770) holding those cases' files
#   compat_make_cf QUEUEDIR PORT OUT   a submit.cf for QUEUEDIR relaying to [127.0.0.1]:PORT
#   compat_prepare_pair LABEL CASEDIR... two copies $W/q-LABEL-{a,b} and their cf-LABEL-{a,b} ($PORT_A/$PORT_B)
#   compat_check_pair LABEL WHAT        both queues empty, both recordings identical after normalizing
#   compat_recorder_start PORT OUTDIR [EXT] [recorder options...]
#   compat_recorder_stop OUTDIR
#   compat_flush_sendmail QUEUEDIR CF PORT OUTDIR [EXT]
#   compat_normalize SESSIONDIR        normalized text of a recording (stdout)
#   compat_queue_files QUEUEDIR        the queue files left (stdout), empty if none
#
# EXT is a comma list of EHLO keywords for the recorder, "none" (EHLO gets a
# bare 250) or "no-ehlo" (EHLO gets 502, the client must use HELO); default
# $COMPAT_EXT_FULL.

GEN_FIXTURES=${GEN_FIXTURES:-$top_srcdir/tests/fixtures/gen-fixtures.sh}

# Everything sendmail 8.17's client recognises that needs no real
# negotiation (STARTTLS comes with COMPAT_TLS: see compat_recorder_start).  AUTH is offered so that MAIL gets AUTH=;
# sendmail has no credentials in submit.cf and does not send AUTH itself.
# DELIVERBY is offered to show that no BY= goes out without a deliver-by
# time.  SMTPUTF8: Debian's 8.17.1.9 is built without USE_EAI and never
# uses it.
COMPAT_EXT_FULL='PIPELINING,SIZE 52428800,8BITMIME,DSN,SMTPUTF8,ENHANCEDSTATUSCODES,AUTH PLAIN LOGIN,DELIVERBY 0'

# ------------------------------------------------------------------ queues

# compat_make_cf QUEUEDIR PORT OUTFILE: lib.sh's it_make_cf.
compat_make_cf() {
	it_make_cf "$@"
}

# compat__new_case DIR CASE: start an extra case: an empty queue
# $_cc_q (smmsp:smmsp 2770), its submit.cf $_cc_cf, DIR/CASE/cmd.txt.
compat__new_case() {
	_cc_dir=$W/compat-extra/$2
	_cc_q=$_cc_dir/q
	mkdir -p "$_cc_q"
	chown smmsp:smmsp "$_cc_q"
	chmod 2770 "$_cc_q"
	# the relay port is never used: every submission is -odq
	compat_make_cf "$_cc_q" 9 "$_cc_dir/submit.cf" || return 1
	_cc_cf=$_cc_dir/submit.cf
	mkdir -p "$1/$2"
	_cc_case_doc=$1/$2/cmd.txt
	printf '# Case "%s": written by tests/integration/compat-lib.sh (compat_make_queue)\n' \
		"$2" >"$_cc_case_doc"
}

# compat__end_case DIR CASE: copy the case's queue files to DIR/CASE the way
# gen-fixtures.sh does (contents and mtimes; owners and modes in owner.txt).
compat__end_case() {
	: >"$1/$2/owner.txt"
	for _cc_f in "$_cc_q"/qf* "$_cc_q"/df*; do
		[ -f "$_cc_f" ] || continue
		cp -p "$_cc_f" "$1/$2/"
		(cd "$_cc_q" && stat -c '%n %U %G %04a' "${_cc_f##*/}") >>"$1/$2/owner.txt"
	done
	[ -s "$1/$2/owner.txt" ]
}

# compat__submit ARGS... < message: queue a message (-odq) in the current
# extra case, documenting the command in its cmd.txt.
compat__submit() {
	{
		printf '$ sendmail -Ac -C @CASE@/submit.cf -odq'
		printf " '%s'" "$@"
		printf '\n'
	} >>"$_cc_case_doc"
	cat >"$_cc_dir/stdin"
	{
		echo '--- stdin (cat -A) ---'
		cat -A "$_cc_dir/stdin"
		echo '--- end of stdin ---'
	} >>"$_cc_case_doc"
	sm -Ac -C "$_cc_cf" -odq "$@" <"$_cc_dir/stdin" >"$_cc_dir/sm.out" 2>&1 || {
		cat "$_cc_dir/sm.out" >&2
		return 1
	}
}

# compat_make_queue DIR: write gen-fixtures.sh's matrix of single-case
# queues into DIR/<case>/ (with real sendmail, fresh: the T times are now,
# so no delay warning or expiry gets in the way), then the extra cases
# below, in the same layout.  gen-fixtures.sh already covers unqualified
# sender and recipients (unqualified), leading dots (dot-lines), a
# 5000-octet body line (long-body-line), CRLF/LF/bare CR (line-endings),
# an empty body (empty-body), 120 recipients (many-rcpts), 8-bit header
# bytes (8bit-header), NOTIFY=NEVER (notify-never), RET=FULL (ret-full),
# ORCPT (orcpt), Bcc (to-cc-bcc).  Its "lost" case has no qf (only Qf and
# df) and is left out by compat_cases.  Extra cases:
#   header-addrs  -t with unqualified From/Sender/Reply-To/To/Cc/Bcc
#                 addresses (with phrases, comments, a group), -F full name,
#                 -f joe: how header addresses are rewritten on the wire.
#   full-name     no From: header, -F 'Joe Q. User' -f joe: the From:
#                 sendmail makes and the Full-Name: it keeps in the qf.
compat_make_queue() {
	mkdir -p "$1" || return 1
	# gen-fixtures.sh needs a relay port where nothing listens (its
	# deferred cases must see "Connection refused"); stay out of the range
	# of it_free_port, which other tests use for their receivers.
	_cm_port=$(($$ % 10000 + 10000))
	while [ -n "$(ss -Hltn "sport = :$_cm_port" 2>/dev/null)" ]; do
		_cm_port=$((_cm_port + 1))
	done
	RELAY_PORT=$_cm_port "$GEN_FIXTURES" "$1" >"$W/gen-fixtures.log" 2>&1 || {
		tail -n 20 "$W/gen-fixtures.log" >&2
		return 1
	}

	compat__new_case "$1" header-addrs || return 1
	compat__submit -t -F 'Joe Q. User' -f joe <<'EOF' || return 1
From: joe (Joe in a comment)
Sender: Joe Q. User <joe>
Reply-To: "Reply Box" <replies>, other
To: bob, "Carol C" <carol>, dave@example.test
Cc: team: erin, frank;, grace
Bcc: heidi
Subject: header addresses

Unqualified addresses in the headers.
EOF
	compat__end_case "$1" header-addrs || return 1

	compat__new_case "$1" full-name || return 1
	compat__submit -F 'Joe Q. User' -f joe bob <<'EOF' || return 1
Subject: full name

No From: header; -F gives the full name.
EOF
	compat__end_case "$1" full-name || return 1

	# Addresses at local names (class w) and the masquerading cases'
	# material: local senders in From:, Sender:, Reply-To:, recipients
	# at localhost and at $j.
	compat__new_case "$1" local-names || return 1
	compat__submit -t -f root <<'EOF' || return 1
From: Root User <root@localhost>
Sender: daemon@host.test
Reply-To: other, someone@example.test
To: bob@localhost, carol@host.test, dave
Cc: erin@example.test
Subject: local names

Senders and recipients at local names.
EOF
	compat__end_case "$1" local-names || return 1
}

# compat_cases DIR: the names of the case directories in DIR that hold at
# least one qf (so not gen-fixtures.sh's "lost"), one per line.
compat_cases() {
	for _cc_d in "$1"/*/; do
		_cc_d=${_cc_d%/}
		for _cc_f in "$_cc_d"/qf*; do
			[ -f "$_cc_f" ] && printf '%s\n' "${_cc_d##*/}"
			break
		done
	done
}

# compat_copy_queue DST CASEDIR...: make DST a live client queue
# (smmsp:smmsp 2770) holding the qf and df files of every CASEDIR, with the
# owners and modes that sendmail gave them (owner.txt) and their mtimes.
# Fails if two cases hold the same file name.
compat_copy_queue() {
	_cc_dst=$1
	shift
	mkdir -p "$_cc_dst" || return 1
	chown smmsp:smmsp "$_cc_dst"
	chmod 2770 "$_cc_dst"
	for _cc_src in "$@"; do
		for _cc_f in "$_cc_src"/qf* "$_cc_src"/df*; do
			[ -f "$_cc_f" ] || continue
			_cc_b=${_cc_f##*/}
			if [ -e "$_cc_dst/$_cc_b" ]; then
				echo "compat_copy_queue: $_cc_b twice" >&2
				return 1
			fi
			cp -p "$_cc_f" "$_cc_dst/$_cc_b" || return 1
			# owner.txt: "name owner group mode" as sendmail left it
			_cc_own=$(awk -v f="$_cc_b" '$1 == f { print $2 ":" $3 " " $4 }' "$_cc_src/owner.txt")
			[ -n "$_cc_own" ] || _cc_own="smmsp:smmsp 0660"
			chown "${_cc_own% *}" "$_cc_dst/$_cc_b"
			chmod "${_cc_own#* }" "$_cc_dst/$_cc_b"
		done
	done
}

# compat_queue_files QUEUEDIR: list what is left in the queue (nothing after
# a complete flush).
compat_queue_files() {
	ls -A "$1"
}

# ------------------------------------------------------------------ receiver

# compat_recorder_start PORT OUTDIR [EXT] [recorder options...]: start the
# recording receiver on 127.0.0.1:PORT writing to OUTDIR (with
# --log-packets), wait until it listens.  Its pid goes to IT_PIDS too.
# With COMPAT_TLS=CERT,KEY it offers STARTTLS with that certificate.
compat_recorder_start() {
	_cr_port=$1
	_cr_out=$2
	_cr_ext=${3:-$COMPAT_EXT_FULL}
	if [ $# -ge 3 ]; then shift 3; else shift $#; fi
	if [ "$_cr_ext" = no-ehlo ]; then
		set -- --no-ehlo "$@"
	else
		set -- --ext "$_cr_ext" "$@"
	fi
	[ -z "${COMPAT_TLS-}" ] || set -- --tls "$COMPAT_TLS" "$@"
	it_recorder_start "$_cr_port" "$_cr_out" --log-packets "$@"
}
compat_recorder_stop() {
	it_recorder_stop "$@"
}

# compat_flush_sendmail QUEUEDIR CF PORT OUTDIR [EXT]: deliver every message
# of QUEUEDIR with real `sendmail -Ac -qf -C CF` into a recorder on PORT
# (CF must name QUEUEDIR and relay to PORT: compat_make_cf).  The
# recordings stay in OUTDIR, sendmail's output in OUTDIR/sendmail.out.
# Returns sendmail's exit status.
compat_flush_sendmail() {
	compat_recorder_start "$3" "$4" "${5:-$COMPAT_EXT_FULL}" || return 1
	sm -Ac -qf -C "$2" >"$4/sendmail.out" 2>&1
	_cf_rc=$?
	compat_recorder_stop "$4"
	return $_cf_rc
}

# ------------------------------------------------------------------ compare

# compat_normalize SESSIONDIR: print a normalized text of all the sessions
# recorded in SESSIONDIR, for comparing two recordings with cmp or diff.
#
# Each mail transaction (MAIL, its RCPTs, DATA, the message) is printed as
# one block: the EHLO/HELO line of its session, the commands exactly as
# sent, "DATA-BYTES <length> <sha256>" of the message as sent (dot-stuffed,
# CRLF), then the message, one line per line, through `sed -n 'l 0'`
# (C escapes: \r for CR, \ooo for 8-bit bytes, "$" at the end of a line).
# The blocks are sorted by key (Message-Id, then first RCPT), then by their
# whole text, so that a different but valid order of the messages, in one
# session or spread over several, does not count.  The shape of each
# session follows at the end: its commands outside transactions with each
# transaction shown as "<transaction>" (EHLO, RSET probes, QUIT), in the
# order of the sessions; COMPAT_SESSIONS=ignore leaves that part out, for a
# runner that may legitimately connect differently.
#
# Normalizations, found by flushing two copies of the same queues with
# sendmail itself and diffing (compat-selfcheck.sh): only the messages that
# sendmail itself makes at run time differ; everything it reads from the
# queue goes out byte-identical (queue IDs in Received:, Date:, Message-Id:,
# the body; SIZE=, AUTH=, ENVID=, ... in the envelope).
#   N1  A delivery status notification that the queue run itself makes
#       (MAIL From:<> and "Auto-Submitted: auto-generated ..."; e.g. with
#       no DSN offered, a NOTIFY=SUCCESS recipient gets a "Return receipt"
#       from the MSP) has a new queue ID and the run's time.  In it, and
#       only in it: that queue ID becomes QUEUE-ID wherever it occurs
#       (Received: "id", Message-Id, MIME boundary); the date-times of its
#       own Date: and first Received: header and of Last-Attempt-Date:
#       become DATE-TIME; the YYYYMMDDhhmm of its Message-Id becomes TIME,
#       and so does the Unix time in the boundary "<qid>.<time>/host.test".
#       The program named in that Received: ("by host.test (8.17.1.9/
#       8.17.1.9/Submit) id ..." from sendmail, "(clientq-runner 0.1.0)"
#       from clientq-runner, which does not claim to be sendmail) becomes
#       "by HOST (PROGRAM)".
#       Its DATA-BYTES line shows neither length nor hash (the widths of
#       dates may differ); the normalized text is compared in full.
#       What the DSN copies from the queue (Arrival-Date:, "The original
#       message was received at", the returned headers) is not touched.
#   Nothing else is normalized.
compat_normalize() {
	_cn_dir=$1
	_cn_tmp=$(mktemp -d "${TMPDIR:-/tmp}/cq-norm.XXXXXX") || return 1
	_cn_n=1
	: >"$_cn_tmp/shape"
	while [ -f "$_cn_dir/session-$_cn_n.txt" ]; do
		# split the session into transactions t.<n>.<i> (commands only;
		# the message file is named by its DATA-BYTES line)
		LC_ALL=C awk -v tmp="$_cn_tmp" -v n="$_cn_n" -v shape="$_cn_tmp/shape" '
			function verb(s) { s = toupper(s); sub(/[ \t].*/, "", s); return s }
			function add(s) { line = line (items++ ? " | " : " ") s }
			function endt() { if (intx) { close(cur); intx = 0; add("<transaction>") } }
			BEGIN { i = 0; intx = 0; greet = "(no EHLO/HELO)"; line = "session " n ":" }
			{
				v = verb($0)
				if (v == "MAIL") {
					endt()
					i++; cur = tmp "/t." n "." i; intx = 1
					print "greeting: " greet > cur
				}
				if (intx && (v == "MAIL" || v == "RCPT" || v == "DATA" || v == "DATA-BYTES" || v == "DATA-ABORTED")) {
					print > cur
					if (v == "DATA-BYTES" || v == "DATA-ABORTED") endt()
					next
				}
				endt()
				if (v == "EHLO" || v == "HELO") greet = $0
				add($0)
			}
			END { endt(); print line > shape }
		' "$_cn_dir/session-$_cn_n.txt" || return 1
		for _cn_t in "$_cn_tmp"/t."$_cn_n".*; do
			[ -f "$_cn_t" ] || continue
			_cn_k=$(awk '$1 == "DATA-BYTES" { print $2 }' "$_cn_t")
			_cn_eml=$_cn_dir/session-$_cn_n-msg-$_cn_k.eml
			compat__block "$_cn_t" "$_cn_eml" >"$_cn_t.block" || return 1
		done
		_cn_n=$((_cn_n + 1))
	done
	# sort the blocks by key (first line), then by content (hash)
	for _cn_b in "$_cn_tmp"/t.*.block; do
		[ -f "$_cn_b" ] || continue
		printf '%s\t%s\t%s\n' "$(head -n 1 "$_cn_b")" \
			"$(sha256sum <"$_cn_b" | cut -c1-64)" "$_cn_b"
	done | LC_ALL=C sort | while IFS="$(printf '\t')" read -r _ _ _cn_b; do
		cat "$_cn_b"
	done
	printf '%s sessions\n' "$((_cn_n - 1))"
	if [ "${COMPAT_SESSIONS-}" != ignore ]; then
		cat "$_cn_tmp/shape"
	fi
	rm -rf "$_cn_tmp"
}

# compat__block TXN EML: one normalized transaction block (see
# compat_normalize): "=== key", the commands, then the message.
compat__block() {
	if [ -f "$2" ] && [ "$(awk '$1 == "DATA-BYTES" { n++ } END { print n + 0 }' "$1")" -eq 1 ]; then
		LC_ALL=C sed -n 'l 0' "$2" >"$1.msg"
	else
		: >"$1.msg"
	fi
	# N1: a DSN made by the queue run (see compat_normalize)
	_cb_dsn=no
	if grep -qi '^MAIL FROM: *<>' "$1" &&
		LC_ALL=C sed -n '/^\\r\$$/q; p' "$1.msg" | grep -qi '^Auto-Submitted: auto-generated'; then
		_cb_dsn=yes
		compat__dsn_normalize <"$1.msg" >"$1.msg.n" && mv "$1.msg.n" "$1.msg"
	fi
	_cb_mid=$(LC_ALL=C sed -n '/^\\r\$$/q; s/^[Mm][Ee][Ss][Ss][Aa][Gg][Ee]-[Ii][Dd]: *\(.*\)\\r\$$/\1/p' "$1.msg" | head -n 1)
	_cb_rcpt=$(awk 'toupper(substr($0, 1, 4)) == "RCPT" { print $2; exit }' "$1")
	printf '=== message %s, first %s\n' "${_cb_mid:-(no Message-Id)}" "${_cb_rcpt:-(no RCPT)}"
	if [ $_cb_dsn = yes ]; then
		awk '$1 == "DATA-BYTES" { print "DATA-BYTES (a DSN made by the run: length and hash not compared)"; next }
			{ print }' "$1"
	else
		awk '$1 == "DATA-BYTES" { print "DATA-BYTES " $3 " " $4; next } { print }' "$1"
	fi
	echo "--- message as sent (sed -n 'l 0') ---"
	cat "$1.msg"
	echo "--- end of message ---"
}

# compat__dsn_normalize: N1 on a DSN rendered by sed -n 'l 0' (stdin).
# Only what the run itself makes is replaced: the DSN's queue ID (taken
# from its Message-Id) wherever it occurs, the date-times in its own Date:
# and first Received: header and in Last-Attempt-Date:, the time digits of
# its Message-Id and the Unix time in its MIME boundary.  What comes from
# the original qf (Arrival-Date:, "The original message was received at",
# the returned headers with their own queue ID) stays as it is.
compat__dsn_normalize() {
	LC_ALL=C awk '
	{ L[NR] = $0 }
	function dates(s) {
		gsub(/[A-Z][a-z][a-z], [ 0-9]?[0-9] [A-Z][a-z][a-z] [0-9][0-9][0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [-+]?[0-9A-Z]+/, "DATE-TIME", s)
		return s
	}
	END {
		qid = ""
		for (i = 1; i <= NR; i++) {
			if (L[i] == "\\r$") break
			if (tolower(substr(L[i], 1, 11)) == "message-id:" && match(L[i], /<[0-9]+\.[0-9A-Za-z]+@/)) {
				qid = substr(L[i], RSTART + 1, RLENGTH - 2)
				sub(/^[0-9]+\./, "", qid)
				break
			}
		}
		hdr = 1; rcv = 0; seen = 0
		for (i = 1; i <= NR; i++) {
			l = L[i]
			if (hdr && l == "\\r$") hdr = 0
			if (hdr) {
				if (l !~ /^(\\t| )/) rcv = 0
				if (!seen && tolower(substr(l, 1, 9)) == "received:") rcv = seen = 1
				if (rcv || tolower(substr(l, 1, 5)) == "date:") l = dates(l)
				if (rcv) sub(/^\\tby ([^ ]+) \(.*\) id /, "\\tby HOST (PROGRAM) id ", l)
				if (tolower(substr(l, 1, 11)) == "message-id:") sub(/<[0-9]+\./, "<TIME.", l)
			}
			if (tolower(substr(l, 1, 18)) == "last-attempt-date:") l = dates(l)
			if (qid != "") {
				gsub(qid, "QUEUE-ID", l)
				gsub(/QUEUE-ID\.[0-9]+\//, "QUEUE-ID.TIME/", l)
			}
			print l
		}
	}'
}

# compat_check_pair LABEL WHAT: the end of a comparison of two flushed
# copies ($W/q-LABEL-a and -b, recorded in $W/rec-LABEL-a and -b): both
# queues empty, both recordings normalized (to $W/rec-LABEL-?.norm) and
# identical; WHAT names what is compared in the ok line.
compat_check_pair() {
	for _cp_x in a b; do
		_cp_left=$(compat_queue_files "$W/q-$1-$_cp_x")
		if [ -z "$_cp_left" ]; then
			ok "$1: copy $_cp_x: the queue is empty after the flush"
		else
			fail "$1: copy $_cp_x: files left in the queue" "$_cp_left"
		fi
		compat_normalize "$W/rec-$1-$_cp_x" >"$W/rec-$1-$_cp_x.norm"
	done
	if cmp -s "$W/rec-$1-a.norm" "$W/rec-$1-b.norm"; then
		ok "$1: $2 ($(grep -c '^MAIL' "$W/rec-$1-a.norm") transactions)"
	else
		fail "$1: not so: $2"
		diff "$W/rec-$1-a.norm" "$W/rec-$1-b.norm" | head -n 30 | sed 's/^/#   /'
	fi
}

# compat_prepare_pair LABEL CASEDIR...: two live copies of the cases'
# queues, $W/q-LABEL-a and -b, and their submit.cf $W/cf-LABEL-a and -b
# relaying to $PORT_A and $PORT_B ($M4: extra m4 lines for both).
compat_prepare_pair() {
	_pp_l=$1
	shift
	for _pp_x in a b; do
		compat_copy_queue "$W/q-$_pp_l-$_pp_x" "$@" || return 1
	done
	it_make_cf "$W/q-$_pp_l-a" "$PORT_A" "$W/cf-$_pp_l-a" "${M4-}" &&
		it_make_cf "$W/q-$_pp_l-b" "$PORT_B" "$W/cf-$_pp_l-b" "${M4-}"
}

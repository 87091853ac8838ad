#!/bin/sh
# Self-check of postfix-lib.sh: install the private Postfix (without
# touching sendmail-bin), start an instance on a free loopback port, send
# it three messages with Python's smtplib (one plain, one with an 8-bit
# body sent BODY=8BITMIME, one to three recipients, one of them
# unqualified), check that every recipient's copy arrives in DIR/mail byte
# for byte with its envelope recipient recorded, stop Postfix, check that
# no Postfix process is left and that sendmail is still the system's MTA.
#
# KEEP_WORK=1 keeps the work directory: $W/pf is the instance (maillog,
# conf, mail/new), $W/sent-* what was sent.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/postfix-lib.sh"
it_need_root_sendmail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
pf_setup

now() {
	date +%s.%N
}

# since T0: seconds since T0, 2 decimals
since() {
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'
}

sm_state() {
	printf 'status: %s\nsendmail: %s\npostfix: %s\netc-postfix: %s\n' \
	    "$(dpkg-query -W -f='${Status} ${Version}' sendmail-bin 2>&1)" \
	    "$(readlink -f /usr/sbin/sendmail)" \
	    "$(dpkg-query -W -f='${Status}' postfix 2>/dev/null || echo none)" \
	    "$(find /etc/postfix -printf '%p %m %u %T@\n' 2>&1 | md5sum)"
	sha256sum /usr/libexec/sendmail/sendmail
}
sm_state >"$W/sendmail-before"

# ------------------------------------------------------------ install

t0=$(now)
if pf_install; then
	ok "pf_install ($(since "$t0") s; Postfix $(cat "$PF_ROOT/.installed"))"
else
	fail "pf_install"
	it_finish
fi
t0=$(now)
if pf_install; then
	ok "pf_install again: nothing to do ($(since "$t0") s)"
else
	fail "pf_install again"
fi

# ------------------------------------------------------------ start

PF_PORT=$(it_free_port)
t0=$(now)
if pf_start "$PFD" "$PF_PORT"; then
	ok "pf_start on 127.0.0.1:$PF_PORT ($(since "$t0") s)"
else
	fail "pf_start"
	it_finish
fi
listen=$(ss -Hltn "sport = :$PF_PORT" | awk '{ print $4 }')
if [ "$listen" = "127.0.0.1:$PF_PORT" ]; then
	ok "listens on 127.0.0.1:$PF_PORT only"
else
	fail "listens on 127.0.0.1:$PF_PORT only" "ss: $listen"
fi

# ------------------------------------------------------------ send

# Each message is written LF-terminated to $W/sent-<n>.eml (what must
# arrive) and sent with CRLF line ends.  $W/sent-rcpts lists
# "<n> <RCPT TO argument> <expected Delivered-To>" for every copy.
if python3 - "$PF_PORT" "$W" >"$W/client.out" 2>&1 <<'EOF'
import smtplib
import sys

port, out = int(sys.argv[1]), sys.argv[2]
msgs = [
    # 1: plain ASCII
    ([], ["alice@example.test"],
     b"From: Sender <sender@example.test>\n"
     b"To: alice@example.test\n"
     b"Subject: plain\n"
     b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
     b"Message-ID: <plain@example.test>\n"
     b"\n"
     b"plain body\n"
     b".a line that starts with a dot\n"
     b"..two dots\n"
     b"From the start of a line\n"
     b"\n"
     b"last line\n"),
    # 2: 8-bit body, BODY=8BITMIME
    (["BODY=8BITMIME"], ["bob@example.test"],
     b"From: sender@example.test\n"
     b"To: bob@example.test\n"
     b"Subject: 8bit\n"
     b"MIME-Version: 1.0\n"
     b"Content-Type: text/plain; charset=utf-8\n"
     b"Content-Transfer-Encoding: 8bit\n"
     b"\n"
     + "Grüße, façade, naïve, 日本語, €\n".encode("utf-8")
     + bytes(range(0x80, 0x100)) + b"\n"
     + b"\t tab and trailing space \n"
     + b"x" * 990 + b"\n"
     + b".\xe9\n"),
    # 3: three recipients, one unqualified, one in upper case
    ([], ["carol@example.test", "Dave@EXAMPLE.test", "erin"],
     b"From: sender@example.test\n"
     b"To: carol@example.test, Dave@EXAMPLE.test\n"
     b"Cc: erin\n"
     b"Subject: three recipients\n"
     b"\n"
     b"multi-recipient body\n"),
]
s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test")
code, ehlo = s.ehlo()
print("EHLO", code, ehlo.decode().replace("\n", " "))
with open(out + "/sent-rcpts", "w") as r:
    for n, (opts, rcpts, body) in enumerate(msgs, 1):
        with open("%s/sent-%d.eml" % (out, n), "wb") as f:
            f.write(body)
        refused = s.sendmail("sender@example.test", rcpts,
                             body.replace(b"\n", b"\r\n"), mail_options=opts)
        if refused:
            sys.exit("refused: %r" % refused)
        for a in rcpts:
            print(n, a, a if "@" in a else a + "@example.test", file=r)
# another domain: refused, Postfix relays nothing
try:
    s.sendmail("sender@example.test", ["x@example.org"], b"Subject: no\r\n\r\nno\r\n")
    print("RELAY ACCEPTED")
except smtplib.SMTPRecipientsRefused as e:
    print("RELAY REFUSED", e.recipients["x@example.org"][0])
s.quit()
EOF
then
	ok "smtplib sent 3 messages (5 recipients)"
else
	fail "smtplib sent 3 messages" "$(cat "$W/client.out")"
fi
if grep -q ' 8BITMIME ' "$W/client.out"; then
	ok "EHLO offers 8BITMIME"
else
	fail "EHLO offers 8BITMIME" "$(grep EHLO "$W/client.out")"
fi
if grep -qx 'RELAY REFUSED 554' "$W/client.out"; then
	ok "a recipient in another domain is refused (554)"
else
	fail "a recipient in another domain is refused" "$(tail -n 1 "$W/client.out")"
fi

# ------------------------------------------------------------ delivery

t0=$(now)
if pf_wait_count "$PFD" 5; then
	ok "5 copies delivered ($(since "$t0") s after the last message)"
else
	fail "5 copies delivered" "got $(pf_messages "$PFD" | wc -l)" \
	    "$(tail -n 20 "$PFD/maillog")"
fi
sleep 0.5
n=$(pf_messages "$PFD" | wc -l)
if [ "$n" -eq 5 ]; then
	ok "no other message delivered"
else
	fail "no other message delivered" "$n messages"
fi

# every expected copy: the right recipient, the bytes that were sent
while read -r num orig rcpt; do
	f=
	for m in $(pf_messages "$PFD"); do
		if [ "$(pf_rcpt "$m")" = "$rcpt" ]; then
			f=$m
			break
		fi
	done
	if [ -z "$f" ]; then
		fail "message $num for $rcpt delivered"
		continue
	fi
	ok "message $num for $rcpt delivered (Delivered-To)"
	if [ "$(pf_orig_rcpt "$f")" = "$orig" ]; then
		ok "message $num: X-Original-To is $orig"
	else
		fail "message $num: X-Original-To is $orig" "$(pf_orig_rcpt "$f")"
	fi
	if [ "$(sed -n 1p "$f")" = "Return-Path: <sender@example.test>" ]; then
		ok "message $num: Return-Path"
	else
		fail "message $num: Return-Path" "$(sed -n 1p "$f")"
	fi
	pf_strip "$f" >"$W/got-$num-$rcpt"
	if cmp -s "$W/sent-$num.eml" "$W/got-$num-$rcpt"; then
		ok "message $num for $rcpt arrived byte for byte"
	else
		fail "message $num for $rcpt arrived byte for byte" \
		    "$(diff "$W/sent-$num.eml" "$W/got-$num-$rcpt" | head -n 10)"
	fi
done <"$W/sent-rcpts"

# ------------------------------------------------------------ stop

pgid=$(pf__master_pid "$PFD")
t0=$(now)
if pf_stop "$PFD"; then
	ok "pf_stop ($(since "$t0") s)"
else
	fail "pf_stop"
fi
left=
for p in /proc/[0-9]*; do
	case $(readlink "$p/exe" 2>/dev/null) in
	"$PF_ROOT"/*) ;;
	*) continue ;;
	esac
	# other tests may run their own instances: only this one's count
	case $(readlink "$p/cwd" 2>/dev/null) in
	"$PFD"/*) left="$left ${p#/proc/}" ;;
	esac
done
if [ -z "$left" ] && [ -n "$pgid" ] && pf__group_gone "$pgid"; then
	ok "no Postfix process left"
else
	fail "no Postfix process left" "pids:$left master was ${pgid:-?}"
fi
if [ -z "$(ss -Hltn "sport = :$PF_PORT")" ]; then
	ok "port $PF_PORT closed"
else
	fail "port $PF_PORT closed"
fi

# ------------------------------------------------------------ the log

if grep -E ': (fatal|panic|error):' "$PFD/maillog" >"$W/log-errors"; then
	fail "no fatal, panic or error in the maillog" "$(head -n 5 "$W/log-errors")"
else
	ok "no fatal, panic or error in the maillog"
fi
# the expected start-up warnings: postdrop and postqueue are not set-gid
grep ': warning: ' "$PFD/maillog" |
    grep -vE 'warning: (not owned by group postdrop|not set-gid or not owner\+group\+world executable): '"$PF_ROOT"'/usr/sbin/post(drop|queue)$' \
    >"$W/log-warnings"
if [ -s "$W/log-warnings" ]; then
	fail "no unexpected warning in the maillog" "$(head -n 5 "$W/log-warnings")"
else
	ok "no unexpected warning in the maillog"
fi

# ------------------------------------------------------------ sendmail

sm_state >"$W/sendmail-after"
if cmp -s "$W/sendmail-before" "$W/sendmail-after" &&
    grep -q '^status: install ok installed ' "$W/sendmail-after" &&
    grep -qx 'sendmail: /usr/libexec/sendmail/sendmail' "$W/sendmail-after" &&
    ! grep -q '^postfix: install ok installed' "$W/sendmail-after"; then
	ok "sendmail-bin still installed and /usr/sbin/sendmail still sendmail's; no postfix package"
else
	fail "sendmail untouched" "$(diff "$W/sendmail-before" "$W/sendmail-after")" \
	    "$(cat "$W/sendmail-after")"
fi

it_finish

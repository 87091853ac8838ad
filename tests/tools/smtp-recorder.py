#!/usr/bin/env python3
"""smtp-recorder.py -- a recording SMTP receiver for the tests (stdlib only).

    smtp-recorder.py --port N --out DIR [--ext LIST | --no-ehlo]
                     [--fail-rcpt ADDR]... [--pidfile F] [--log-packets]
                     [--hostname NAME] [--reply RULE]... [--tls CERT,KEY]

Listens on 127.0.0.1:N and accepts everything.  Session n (n = 1, 2, ... in
order of connection) is recorded in DIR/session-<n>.txt: one line per client
command exactly as received, without its line ending.  The bytes of the k-th
DATA of that session go verbatim (dot-stuffing and line endings as received,
the final ".\r\n" excluded) to DIR/session-<n>-msg-<k>.eml, and the line
"DATA-BYTES <k> <length> <sha256>" follows the DATA line.  A connection lost
in the middle of a message leaves "DATA-ABORTED <k> <length>" instead.

Replies: 220 greeting; 250 to EHLO (advertising --ext), HELO, MAIL, RCPT,
RSET and NOOP; 354 to DATA (554 if no RCPT was accepted); "250 2.0.0 Ok: queued as R<n>.<k>" after the
message; 221 to QUIT; 502 to anything else.  Nothing is enforced (any
parameters, any order).  --ext is a comma list of EHLO keywords (default
below); "--ext none" (or an empty list) answers EHLO with a bare
"250 <hostname>"; --no-ehlo answers EHLO with 502 so that the client falls
back to HELO.  --fail-rcpt ADDR (repeatable, case-insensitive) answers
"550 5.1.1 User unknown" to RCPT TO:<ADDR>.

STARTTLS (RFC 3207): with --tls CERT,KEY (PEM files) EHLO offers STARTTLS
(before TLS only), STARTTLS gets "220 2.0.0 Ready to start TLS" and the
session goes on over TLS; the session file then has the line
"TLS-ESTABLISHED <version> <cipher>" after the STARTTLS line, and what the
client sends after the handshake follows as before (the client must EHLO
again).  The phase "starttls" takes, besides a reply, "drop" and "hang",
two actions of its own: "stall" (220, then never a byte of the handshake)
and "garbage" (220, then, 0.2 s later, a line of text where the server's
handshake should be).

Fault injection: --reply PHASE[/MATCH]=ACTION (repeatable; the first rule
that matches wins) replaces the reply of PHASE, one of greeting, ehlo,
mail, rcpt, data, starttls or dot (the reply after the message), when the command
line contains MATCH (case-insensitive; for dot, the MAIL line of the
transaction, so "dot/<>=..." applies to bounces only).  ACTION is a reply
("451 4.3.0 Try again later", several lines joined by "|"), "drop" (close
the connection instead of replying; replies to earlier commands still go
out) or "hang" (never reply; keep the
connection open).  A refused MAIL or a refused DATA ends the transaction as
a real server does: the RCPTs and DATA that follow get 503.

Commands are read as they arrive, several per packet if the client
pipelines, and answered in order; the replies to everything that arrived in
one packet go out together in one write.  With --log-packets,
DIR/session-<n>-packets.txt shows every recv() (C) and every write (S) with
its time since the connection opened, its size and its (abridged) bytes.

The pid file, if any, is written once the socket listens (so its existence
means "ready") and removed on exit.  SIGTERM or SIGINT: close everything and
exit 0.
"""

import argparse
import asyncio
import hashlib
import os
import re
import ssl
import sys
import time

import pidfile

PHASES = ("greeting", "ehlo", "mail", "rcpt", "data", "dot", "starttls")
DEFAULT_EXT = "PIPELINING,SIZE 52428800,8BITMIME,DSN,SMTPUTF8,ENHANCEDSTATUSCODES"
END = b"\r\n.\r\n"
RCPT_ADDR = re.compile(rb"^RCPT\s+TO:\s*<([^>]*)>", re.IGNORECASE)


def show(data, limit=240):
    """Printable form of some bytes: \\r \\n \\t and \\xNN escapes."""
    if len(data) > limit:
        head, tail = data[: limit - 60], data[-40:]
        return show(head, limit) + "...(%d octets)..." % (len(data) - len(head) - len(tail)) + show(tail, limit)
    out = []
    for b in data:
        if b == 13:
            out.append("\\r")
        elif b == 10:
            out.append("\\n")
        elif b == 9:
            out.append("\\t")
        elif b == 92:
            out.append("\\\\")
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


class Recorder:
    def __init__(self, args):
        self.args = args
        self.sessions = 0
        self.live = set()
        self.fail_rcpt = {a.lower().encode() for a in args.fail_rcpt}
        ext = args.ext.strip()
        if ext.lower() == "none":
            ext = ""
        self.ext = [e.strip() for e in ext.split(",") if e.strip()]
        self.rules = []
        for r in args.reply:
            lhs, sep, action = r.partition("=")
            phase, _, match = lhs.partition("/")
            if not sep or phase not in PHASES:
                raise SystemExit("smtp-recorder: bad --reply rule %r" % r)
            self.rules.append((phase, match.lower().encode(), action))
        self.tls = None
        if args.tls:
            cert, _, key = args.tls.partition(",")
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(cert, key or None)

    def rule(self, phase, line):
        """The action of the first rule for phase matching line, or None."""
        for p, match, action in self.rules:
            if p == phase and match in line.lower():
                return action
        return None


class Session(asyncio.Protocol):
    def __init__(self, rec):
        self.rec = rec
        self.args = rec.args

    # ------------------------------------------------------------ plumbing
    def connection_made(self, transport):
        self.rec.sessions += 1
        self.rec.live.add(self)
        self.n = self.rec.sessions
        self.transport = transport
        self.t0 = time.monotonic()
        base = os.path.join(self.args.out, "session-%d" % self.n)
        self.base = base
        self.log = open(base + ".txt", "wb")
        self.pkt = open(base + "-packets.txt", "w") if self.args.log_packets else None
        self.buf = b""
        self.in_data = False
        self.closed = False
        self.k = 0
        self.msg = None
        self.pending = []
        self.mail_line = b""
        self.rcpt_ok = 0
        self.txn_state = None  # None, "mail" (MAIL accepted), "refused"
        self.hung = False
        self.tls_on = False
        self.upgrading = False
        self.tls_started = False
        if not self.injected("greeting", b""):
            self.reply("220 %s ESMTP smtp-recorder" % self.args.hostname)
        self.flush()
        if self.closed:
            self.transport.close()

    def injected(self, phase, line):
        """Apply a --reply rule: True if it replied (or dropped, or hung)."""
        action = self.rec.rule(phase, line)
        if action is None:
            return False
        self.log.write(b"INJECTED %s %s\n" % (phase.encode(), action.encode()))
        if action == "drop":
            # The replies already made go out first, as from a real
            # server that dies at this command.
            self.closed = True
        elif action == "hang":
            self.hung = True
        elif action in ("stall", "garbage"):
            self.reply("220 2.0.0 Ready to start TLS")
            if action == "garbage":
                # later, on its own: where the client's handshake
                # expects the server's first record
                asyncio.get_running_loop().call_later(
                    0.2, lambda: self.closed or self.transport.is_closing() or
                    self.transport.write(b"this is not a TLS handshake\r\n"))
            self.hung = True
        else:
            lines = action.split("|")
            for i, l in enumerate(lines):
                code, text = l[:3], l[4:] if len(l) > 4 else ""
                self.reply("%s%s%s" % (code, "-" if i < len(lines) - 1 else " ", text))
        return True

    def packet(self, who, data):
        if self.pkt:
            self.pkt.write("%10.3fms %s %6d %s\n" % ((time.monotonic() - self.t0) * 1000.0,
                                                       who, len(data), show(data)))

    def reply(self, text):
        self.pending.append(text.encode() + b"\r\n")

    def flush(self):
        if self.pending and not self.transport.is_closing():
            out = b"".join(self.pending)
            self.packet("S", out)
            self.transport.write(out)
        self.pending = []
        self.log.flush()
        if self.pkt:
            self.pkt.flush()

    def data_received(self, data):
        self.packet("C", data)
        if self.closed or self.hung:
            return
        self.buf = self.buf + data if self.buf else data
        self.process()

    def process(self):
        """Answer the complete commands in self.buf (not while a STARTTLS
        handshake is under way)."""
        while not self.closed and not self.hung and not self.upgrading:
            if self.in_data:
                if not self.message_chunk():
                    break
            else:
                i = self.buf.find(b"\n")
                if i < 0:
                    break
                line = self.buf[:i]
                self.buf = self.buf[i + 1:]
                if line.endswith(b"\r"):
                    line = line[:-1]
                self.command(line)
        self.flush()
        if self.closed:
            self.transport.close()
        elif self.upgrading and not self.tls_started:
            # RFC 3207: what the client sent in clear after STARTTLS is
            # not part of the session
            self.buf = b""
            self.tls_started = True
            asyncio.ensure_future(self.start_tls())

    async def start_tls(self):
        """The 220 is out: the handshake, then the session goes on."""
        loop = asyncio.get_running_loop()
        try:
            self.transport = await loop.start_tls(self.transport, self, self.rec.tls,
                                                  server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.log.write(b"TLS-FAILED %s\n" % str(e).encode())
            self.log.flush()
            return
        obj = self.transport.get_extra_info("ssl_object")
        self.log.write(b"TLS-ESTABLISHED %s %s\n" % (obj.version().encode(),
                                                      obj.cipher()[0].encode()))
        self.log.flush()
        self.tls_on = True
        self.upgrading = False
        self.txn_state = None
        # what came over TLS while the handshake was finishing (a client
        # says EHLO in the same segment as its Finished)
        self.process()

    def eof_received(self):
        self.packet("C", b"(EOF)")
        return False  # close the connection

    def connection_lost(self, exc):
        self.packet("C", b"(connection closed)")
        self.finish_files()

    def finish_files(self):
        self.rec.live.discard(self)
        if self.msg is not None:
            self.write_msg(self.buf)  # the octets held back for the end marker
            self.buf = b""
            self.msg.close()
            self.log.write(b"DATA-ABORTED %d %d\n" % (self.k, self.msg_len))
            self.msg = None
        if not self.log.closed:
            self.log.close()
        if self.pkt and not self.pkt.closed:
            self.pkt.close()

    # ------------------------------------------------------------ message
    def message_chunk(self):
        """Consume message bytes from self.buf; True when the message ended."""
        # self.tail: the last two octets of the message so far (initially
        # CRLF, so that a message may end at once with ".\r\n").
        s = self.tail + self.buf
        p = s.find(END)
        if p >= 0:
            self.write_msg(self.buf[:p])
            self.buf = self.buf[p + len(END) - 2:]
            self.end_message()
            return True
        # keep the last 4 octets: they may begin the end marker
        if len(self.buf) > 4:
            self.write_msg(self.buf[:-4])
            self.buf = self.buf[-4:]
        return False

    def write_msg(self, chunk):
        if chunk:
            self.msg.write(chunk)
            self.msg_sha.update(chunk)
            self.msg_len += len(chunk)
            self.tail = (self.tail + chunk)[-2:]

    def end_message(self):
        self.msg.close()
        self.msg = None
        self.in_data = False
        self.log.write(b"DATA-BYTES %d %d %s\n" % (self.k, self.msg_len,
                                                  self.msg_sha.hexdigest().encode()))
        self.txn_state = None
        if not self.injected("dot", self.mail_line):
            self.reply("250 2.0.0 Ok: queued as R%d.%d" % (self.n, self.k))

    # ------------------------------------------------------------ commands
    def command(self, line):
        self.log.write(line + b"\n")
        verb = line.split(None, 1)[0].upper() if line.strip() else b""
        host = self.args.hostname
        if verb == b"EHLO" and self.injected("ehlo", line):
            pass
        elif verb == b"EHLO":
            if self.args.no_ehlo:
                self.reply("502 5.5.2 Error: command not recognized")
            elif not self.rec.ext and (self.rec.tls is None or self.tls_on):
                self.reply("250 %s" % host)
            else:
                ext = list(self.rec.ext)
                if self.rec.tls is not None and not self.tls_on:
                    ext.append("STARTTLS")
                self.reply("250-%s" % host)
                for e in ext[:-1]:
                    self.reply("250-%s" % e)
                self.reply("250 %s" % ext[-1])
        elif verb == b"HELO":
            self.reply("250 %s" % host)
        elif verb == b"MAIL":
            self.mail_line = line
            self.rcpt_ok = 0
            self.txn_state = "refused"
            if not self.injected("mail", line):
                self.reply("250 2.1.0 Ok")
                self.txn_state = "mail"
            elif self.pending and self.pending[-1][:1] == b"2":
                self.txn_state = "mail"
        elif verb in (b"RCPT", b"DATA") and self.txn_state == "refused":
            self.reply("503 5.5.1 Error: need MAIL command")
        elif verb == b"RCPT" and self.injected("rcpt", line):
            if self.pending and self.pending[-1][:1] == b"2":
                self.rcpt_ok += 1
        elif verb == b"RCPT":
            m = RCPT_ADDR.match(line)
            if m and m.group(1).lower() in self.rec.fail_rcpt:
                self.reply("550 5.1.1 User unknown")
            else:
                self.reply("250 2.1.5 Ok")
                self.rcpt_ok += 1
        elif verb in (b"RSET", b"NOOP"):
            self.txn_state = None
            self.reply("250 2.0.0 Ok")
        elif verb == b"DATA" and self.txn_state == "mail" and self.rcpt_ok == 0:
            self.reply("554 5.5.1 Error: no valid recipients")
        elif verb == b"DATA" and self.injected("data", self.mail_line):
            self.txn_state = None
        elif verb == b"DATA":
            self.k += 1
            self.msg = open("%s-msg-%d.eml" % (self.base, self.k), "wb")
            self.msg_sha = hashlib.sha256()
            self.msg_len = 0
            self.tail = b"\r\n"
            self.in_data = True
            self.reply("354 End data with <CR><LF>.<CR><LF>")
        elif verb == b"STARTTLS" and self.rec.tls is not None and not self.tls_on:
            if not self.injected("starttls", line):
                self.reply("220 2.0.0 Ready to start TLS")
                self.upgrading = True
        elif verb == b"QUIT":
            self.reply("221 2.0.0 Bye")
            self.closed = True
        else:
            self.reply("502 5.5.2 Error: command not recognized")


async def main(args):
    os.makedirs(args.out, exist_ok=True)
    rec = Recorder(args)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Session(rec), "127.0.0.1", args.port,
                                      reuse_address=True)

    def close():
        server.close()
        for s in list(rec.live):
            s.transport.abort()
            s.finish_files()

    await pidfile.serve_until_signal(args.pidfile, close)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Recording SMTP receiver for tests.")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True, help="directory for the recordings")
    p.add_argument("--ext", default=DEFAULT_EXT,
                   help="comma list of EHLO extensions, or 'none' (default: %(default)s)")
    p.add_argument("--no-ehlo", action="store_true", help="answer EHLO with 502")
    p.add_argument("--fail-rcpt", action="append", default=[], metavar="ADDR",
                   help="answer 550 5.1.1 to RCPT TO:<ADDR> (repeatable)")
    p.add_argument("--pidfile")
    p.add_argument("--log-packets", action="store_true",
                   help="log every recv()/write to session-<n>-packets.txt")
    p.add_argument("--hostname", default="recorder.test")
    p.add_argument("--tls", metavar="CERT,KEY",
                   help="offer STARTTLS with this certificate and key (PEM files)")
    p.add_argument("--reply", action="append", default=[], metavar="RULE",
                   help="PHASE[/MATCH]=ACTION: inject a reply, 'drop' or 'hang' (repeatable)")
    return p.parse_args(argv)


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args(sys.argv[1:])))
    except OSError as e:
        print("smtp-recorder: %s" % e, file=sys.stderr)
        sys.exit(1)

#!/usr/bin/env python3
"""auth-receiver.py -- an SMTP receiver that requires AUTH, for the tests:
aiosmtpd (Debian: python3-aiosmtpd) with an authenticator.

    auth-receiver.py --port N --out DIR --user U --password P
                     [--tls CERT,KEY [--ca CAFILE]] [--clear-auth]
                     [--fail-rcpt ADDR]... [--pidfile F]

Listens on 127.0.0.1:N.  MAIL is refused ("530 5.7.0 Authentication
required") until the client has authenticated.  AUTH PLAIN and LOGIN
succeed for U and P only ("535 5.7.8 Authentication credentials invalid"
otherwise).  With --tls, STARTTLS is offered, and AUTH only after it unless
--clear-auth; with --ca as well, the client is asked for a certificate
(one that CAFILE does not verify ends the handshake), and AUTH EXTERNAL
succeeds for a client that presented one.  --fail-rcpt ADDR (repeatable)
answers "550 5.1.1 User unknown" to RCPT TO:<ADDR>.

DIR/auth.log gets one line per AUTH: "<MECH> <user or certificate CN>
ok|failed" (never the password); DIR/mail.log one line per MAIL: the
sender, then its parameters as sent; DIR/msg-<n>.eml each message.

aiosmtpd 1.4 does not take the AUTH= parameter of MAIL (RFC 4954 section
5), which sendmail -- and so clientq-runner -- sends whenever AUTH is
offered: it is taken off the command (and logged) before aiosmtpd parses
the rest.

The pid file, if any, is written once the socket listens and removed on
exit.  SIGTERM or SIGINT: exit 0.
"""

import argparse
import asyncio
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

import pidfile


class Receiver(SMTP):
    """aiosmtpd, with MAIL's AUTH= parameter taken off and logged."""

    async def smtp_MAIL(self, arg):
        if arg is not None:
            words = arg.split()
            kept = [w for w in words if not w.upper().startswith("AUTH=")]
            self.event_handler.note("mail.log", " ".join(words))
            arg = " ".join(kept)
        return await super().smtp_MAIL(arg)


class Handler:
    def __init__(self, args):
        self.args = args
        self.n = 0

    def note(self, name, line):
        with open(os.path.join(self.args.out, name), "a") as f:
            f.write(line + "\n")

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and
              auth_data.login == self.args.user.encode() and
              auth_data.password == self.args.password.encode())
        who = auth_data.login.decode(errors="replace") if isinstance(auth_data, LoginPassword) else "?"
        self.note("auth.log", "%s %s %s" % (mechanism, who, "ok" if ok else "failed"))
        return AuthResult(success=ok, handled=False)

    async def auth_EXTERNAL(self, server, args):
        cert = server.transport.get_extra_info("peercert") if server.transport else None
        if not cert:
            self.note("auth.log", "EXTERNAL - failed")
            return AuthResult(success=False, handled=False)
        cn = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
        self.note("auth.log", "EXTERNAL %s ok" % (cn[0] if cn else "?"))
        return AuthResult(success=True, auth_data=cn[0] if cn else "")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in (a.lower() for a in self.args.fail_rcpt):
            return "550 5.1.1 User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        with open(os.path.join(self.args.out, "msg-%d.eml" % self.n), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        return "250 2.0.0 Ok: queued as A%d" % self.n


async def main(args):
    os.makedirs(args.out, exist_ok=True)
    handler = Handler(args)
    ctx = None
    if args.tls:
        cert, _, key = args.tls.partition(",")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key or None)
        if args.ca:
            ctx.load_verify_locations(args.ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Receiver(handler, hostname="auth.test", tls_context=ctx,
                         auth_required=True, auth_require_tls=not args.clear_auth,
                         authenticator=handler.authenticate, loop=loop),
        "127.0.0.1", args.port, reuse_address=True)
    await pidfile.serve_until_signal(args.pidfile, server.close)


def parse_args(argv):
    p = argparse.ArgumentParser(description="An SMTP receiver that requires AUTH.")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--tls", metavar="CERT,KEY")
    p.add_argument("--ca", metavar="CAFILE")
    p.add_argument("--clear-auth", action="store_true",
                   help="offer AUTH without TLS too")
    p.add_argument("--fail-rcpt", action="append", default=[], metavar="ADDR")
    p.add_argument("--pidfile")
    return p.parse_args(argv)


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args(sys.argv[1:])))
    except OSError as e:
        print("auth-receiver: %s" % e, file=sys.stderr)
        sys.exit(1)

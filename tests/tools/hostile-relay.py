#!/usr/bin/env python3
"""hostile-relay.py -- an SMTP peer that misbehaves on purpose (stdlib only).

    hostile-relay.py --port N --mode-file FILE --out LOG [--pidfile F]

Listens on 127.0.0.1:N.  Each connection reads FILE (one word: the mode)
when it is accepted and behaves as that mode says, so that a test can run
one daemon against case after case.  LOG gets one JSON object per line:
{"event": "open", "n": 1, "mode": ..., "t": T} when a connection is
accepted, and {"event": "close", "n": 1, "mode": ..., "t": T, "by":
"client" | "relay", "got": OCTETS, "cmds": [the first command lines],
"sent": OCTETS} when it ends; T is time.monotonic().  "by" says who
ended it: the client (it closed or reset the connection) or the relay
(the mode closed it).

Modes (anything not listed is "normal"):
  normal          a plain relay: PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES;
                  takes every message
  silence         accepts the connection and never sends a byte
  trickle         the greeting, one byte per second
  trickle-ehlo    a normal greeting, then the EHLO reply one byte per second
  longline        a greeting line of 10 MB ("220 " and 10,485,760 x's)
  continuations   the EHLO reply in 10,001 lines ("250-..." 10,000 times)
  garbage         64 kB of random bytes instead of a greeting
  garbage-mail    random bytes (and a line end) as the reply to MAIL
  drop-greeting   closes the connection at once, before any byte
  drop-greeting-partial
                  "220 hos", then closes
  drop-ehlo, drop-mail, drop-rcpt, drop-data
                  replies to what comes before, then closes when that
                  command arrives (without a reply)
  drop-body       closes after the first line of the message's data
  drop-dot        takes the whole message and its final dot, then closes
                  without a reply
  421-rcpt        "421 4.3.2 Service shutting down" to the first RCPT,
                  then closes (a 421 in the middle of a transaction)
  starttls-stall  offers STARTTLS in EHLO; answers STARTTLS with "220
                  2.0.0 Ready to start TLS", then never a byte of the
                  handshake; a client that does not ask for STARTTLS is
                  served as by normal (the case does not apply to it)

The pid file, if any, is written once the socket listens.  SIGTERM or
SIGINT: exit 0.
"""

import argparse
import asyncio
import json
import os
import sys
import time

import pidfile

EXT = ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]
BIG = 10 * 1024 * 1024


class Conn:
    def __init__(self, n, mode, reader, writer):
        self.n, self.mode, self.r, self.w = n, mode, reader, writer
        self.got = self.sent = 0
        self.cmds = []

    async def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.w.write(data)
        await self.w.drain()
        self.sent += len(data)

    async def line(self):
        """A line from the client (b"" when it is gone)."""
        data = await self.r.readline()
        self.got += len(data)
        return data

    async def until_gone(self):
        """Read and discard until the client goes: returns "client"."""
        while True:
            data = await self.r.read(65536)
            if not data:
                return "client"
            self.got += len(data)

    async def trickle(self, text):
        for b in text.encode():
            await self.send(bytes([b]))
            await asyncio.sleep(1)


async def dialogue(c):
    """The normal dialogue, with the mode's faults; returns who ended it."""
    mode = c.mode
    drop = mode[5:] if mode.startswith("drop-") else None
    if mode == "trickle":
        await c.trickle("220 hostile.test ESMTP trickle\r\n")
    elif mode == "drop-greeting-partial":
        await c.send("220 hos")
        return "relay"
    else:
        await c.send("220 hostile.test ESMTP\r\n")
    in_txn = False
    while True:
        line = await c.line()
        if not line:
            return "client"
        text = line.rstrip(b"\r\n")
        if len(c.cmds) < 20:
            c.cmds.append(text.decode("latin-1")[:200])
        verb = text.split(b" ", 1)[0].upper().decode("latin-1") if text else ""
        if drop is not None and verb.lower() == drop:
            return "relay"
        if verb in ("EHLO", "HELO"):
            ext = EXT + (["STARTTLS"] if mode == "starttls-stall" else [])
            if mode == "continuations":
                reply = "250-hostile.test\r\n" + "".join(
                    "250-X-FILLER-%05d\r\n" % i for i in range(10000)) + "250 OK\r\n"
            else:
                reply = "250-hostile.test\r\n" + "".join(
                    "250%s%s\r\n" % ("-" if i < len(ext) - 1 else " ", e) for i, e in enumerate(ext))
            if mode == "trickle-ehlo":
                await c.trickle(reply)
            else:
                await c.send(reply)
        elif verb == "STARTTLS" and mode == "starttls-stall":
            await c.send("220 2.0.0 Ready to start TLS\r\n")
            return await c.until_gone()
        elif verb == "MAIL":
            if mode == "garbage-mail":
                await c.send(os.urandom(300) + b"\r\n")
            else:
                await c.send("250 2.1.0 Ok\r\n")
            in_txn = True
        elif verb == "RCPT":
            if mode == "421-rcpt":
                await c.send("421 4.3.2 Service shutting down\r\n")
                return "relay"
            await c.send("250 2.1.5 Ok\r\n")
        elif verb == "DATA" and in_txn:
            await c.send("354 End data with <CR><LF>.<CR><LF>\r\n")
            first = True
            while True:
                body = await c.line()
                if not body:
                    return "client"
                if mode == "drop-body" and first:
                    return "relay"
                first = False
                if body == b".\r\n":
                    break
            if mode == "drop-dot":
                return "relay"
            await c.send("250 2.0.0 Ok: queued\r\n")
            in_txn = False
        elif verb in ("RSET", "NOOP"):
            in_txn = False
            await c.send("250 2.0.0 Ok\r\n")
        elif verb == "QUIT":
            await c.send("221 2.0.0 Bye\r\n")
            return "relay"
        else:
            await c.send("502 5.5.2 Error: command not recognized\r\n")


async def serve(c):
    mode = c.mode
    if mode == "silence":
        return await c.until_gone()
    if mode == "drop-greeting":
        return "relay"
    if mode == "garbage":
        await c.send(os.urandom(65536))
        return await c.until_gone()
    if mode == "longline":
        await c.send("220 ")
        chunk = b"x" * 65536
        for _ in range(BIG // len(chunk)):
            await c.send(chunk)
        await c.send("\r\n")
        return await c.until_gone()
    return await dialogue(c)


class Relay:
    def __init__(self, args):
        self.args = args
        self.n = 0
        self.log = open(args.out, "a")

    def record(self, **kw):
        kw["t"] = time.monotonic()
        self.log.write(json.dumps(kw, sort_keys=True) + "\n")
        self.log.flush()

    async def handle(self, reader, writer):
        self.n += 1
        n = self.n
        try:
            with open(self.args.mode_file) as f:
                mode = f.read().strip() or "normal"
        except OSError:
            mode = "normal"
        c = Conn(n, mode, reader, writer)
        self.record(event="open", n=n, mode=mode)
        try:
            by = await serve(c)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            by = "client"
        self.record(event="close", n=n, mode=mode, by=by, got=c.got, sent=c.sent, cmds=c.cmds)
        try:
            writer.close()
        except OSError:
            pass


async def main(args):
    relay = Relay(args)
    server = await asyncio.start_server(relay.handle, "127.0.0.1", args.port,
                                        reuse_address=True)
    await pidfile.serve_until_signal(args.pidfile, server.close)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="An SMTP peer that misbehaves on purpose.")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--pidfile")
    try:
        asyncio.run(main(p.parse_args()))
    except OSError as e:
        print("hostile-relay: %s" % e, file=sys.stderr)
        sys.exit(1)

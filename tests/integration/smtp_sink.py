#!/usr/bin/env python3
"""A small SMTP server for the STARTTLS listener tests: it offers AUTH
PLAIN and LOGIN (user "user", password "pass"), XCLIENT, XFORWARD and
CHUNKING, takes DATA and BDAT, and appends every line it reads (commands,
AUTH responses, "<content N bytes>") to a log file, so a test can tell
exactly what reached the backend.

    smtp_sink.py PORT LOGFILE [--unsolicited]

--unsolicited: after each EHLO reply, also send "250 unasked-for" (a
backend that talks out of turn).
"""
import base64
import socket
import sys
import threading

PORT = int(sys.argv[1])
LOG = sys.argv[2]
UNSOLICITED = "--unsolicited" in sys.argv[3:]
lock = threading.Lock()


def log(line):
    with lock, open(LOG, "ab") as f:
        f.write(line + b"\n")


class Conn:
    def __init__(self, s):
        self.s = s
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d
        i = self.buf.index(b"\n") + 1
        l, self.buf = self.buf[:i], self.buf[i:]
        return l.rstrip(b"\r\n")

    def read(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def say(self, text):
        self.s.sendall(text.encode() + b"\r\n")


def plain_ok(b64):
    try:
        parts = base64.b64decode(b64).split(b"\0")
    except Exception:
        return False
    return len(parts) == 3 and parts[1] == b"user" and parts[2] == b"pass"


def serve(s):
    c = Conn(s)
    c.say("220 sink.test ESMTP")
    while True:
        l = c.line()
        if l is None:
            return
        log(l)
        words = l.split()
        verb = words[0].upper() if words else b""
        if verb in (b"EHLO", b"HELO"):
            c.say("250-sink.test\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n"
                  "250-XCLIENT ADDR NAME PORT\r\n250-XFORWARD ADDR NAME\r\n"
                  "250-8BITMIME\r\n250 CHUNKING")
            if UNSOLICITED:
                c.say("250 unasked-for")
        elif verb == b"AUTH":
            mech = words[1].upper() if len(words) > 1 else b""
            if mech == b"PLAIN":
                if len(words) > 2:
                    resp = words[2]
                else:
                    c.say("334 ")
                    resp = c.line()
                    if resp is None:
                        return
                    log(resp)
                c.say("235 2.7.0 Authentication successful" if plain_ok(resp)
                      else "535 5.7.8 Error: authentication failed")
            elif mech == b"LOGIN":
                c.say("334 VXNlcm5hbWU6")
                u = c.line()
                if u is None:
                    return
                log(u)
                c.say("334 UGFzc3dvcmQ6")
                p = c.line()
                if p is None:
                    return
                log(p)
                ok = base64.b64decode(u) == b"user" and base64.b64decode(p) == b"pass"
                c.say("235 2.7.0 Authentication successful" if ok
                      else "535 5.7.8 Error: authentication failed")
            else:
                c.say("504 5.5.4 Unrecognized authentication type")
        elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP", b"XCLIENT", b"XFORWARD"):
            c.say("250 2.0.0 Ok")
        elif verb == b"DATA":
            c.say("354 End data with <CR><LF>.<CR><LF>")
            n = 0
            while True:
                d = c.line()
                if d is None:
                    return
                if d == b".":
                    break
                n += len(d) + 2
            log(b"<content %d bytes>" % n)
            c.say("250 2.0.0 Ok: queued")
        elif verb == b"BDAT":
            d = c.read(int(words[1]))
            if d is None:
                return
            log(b"<content %d bytes>" % len(d))
            c.say("250 2.0.0 Ok")
        elif verb == b"QUIT":
            c.say("221 2.0.0 Bye")
            return
        else:
            c.say("502 5.5.2 Error: command not recognized")


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", PORT))
    ls.listen(64)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=lambda s=s: (serve(s), s.close()),
                         daemon=True).start()


main()

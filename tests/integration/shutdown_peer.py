#!/usr/bin/env python3
"""Both ends of a TLS frontend session, for the connection shutdown tests.

    shutdown_peer.py backend PORT MODE LOG
        A plaintext backend on 127.0.0.1:PORT (port 0: any; the port is
        printed). MODE:
          reply-after-eof  read the request until EOF (the proxy's
                           half-close), wait 0.5 s, answer
                           "N bytes, EOF seen\\n" and close
          close-first      send "bye\\n", shutdown(SHUT_WR), read what
                           still comes until EOF, log it to LOG, close
    shutdown_peer.py client PORT SCENARIO [TLSVERSION]
        SCENARIO:
          unwrap     echo one line, then unwrap(): our close_notify must
                     answer the client's (TLSVERSION 1.2 or 1.3)
          halfclose  a request and the client's close_notify in one TCP
                     segment (ssl.MemoryBIO); the whole answer must come,
                     then our close_notify
          late       the backend closes first: its "bye", then our
                     close_notify; the client then still sends a line and
                     its close_notify, which must reach the backend
Exit 0 when the peer behaved; "FAIL: ..." and exit 1 otherwise.
"""
import socket
import ssl
import sys
import time

TIMEOUT = 15


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


def backend(port, mode, logfile):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    print("port", ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        c.settimeout(TIMEOUT)
        try:
            if mode == "reply-after-eof":
                n = 0
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    n += len(d)
                time.sleep(0.5)
                c.sendall(b"%d bytes, EOF seen\n" % n)
            else:
                c.sendall(b"bye\n")
                c.shutdown(socket.SHUT_WR)
                got = b""
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    got += d
                with open(logfile, "ab") as f:
                    f.write(b"received after our close: " + got + b"\n")
        except OSError as e:
            with open(logfile, "ab") as f:
                f.write(b"error: %s\n" % str(e).encode())
        finally:
            c.close()


def context(version=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def unwrap(port, version):
    s = context(version).wrap_socket(socket.create_connection(("127.0.0.1", port),
                                                              timeout=TIMEOUT))
    s.sendall(b"ping\n")
    got = b""
    while not got.endswith(b"\n"):
        d = s.recv(100)
        if not d:
            fail("EOF before the echo")
        got += d
    print("echo:", got, s.version(), flush=True)
    try:
        raw = s.unwrap()	# sends ours, waits for theirs
    except (OSError, ssl.SSLError) as e:
        fail("no close_notify in answer to ours: %r" % e)
    print("ok: our close_notify was answered (%s)" % s.version())
    raw.close()


def pump(sock, obj, inc, out):
    """Send what the TLS object has for the wire."""
    data = out.read()
    if data:
        sock.sendall(data)


def memory_session(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context().wrap_bio(inc, out)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pump(sock, obj, inc, out)
            d = sock.recv(65536)
            if not d:
                fail("EOF during the handshake")
            inc.write(d)
    pump(sock, obj, inc, out)
    return sock, obj, inc, out


def read_to_close_notify(sock, obj, inc, out):
    """Everything until the server's close_notify; (data, notified)."""
    data = b""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        try:
            d = obj.read(65536)
            if not d:
                return data, True
            data += d
            continue
        except ssl.SSLZeroReturnError:
            return data, True
        except ssl.SSLWantReadError:
            pass
        d = sock.recv(65536)
        if not d:
            return data, False
        inc.write(d)
    fail("timed out waiting for the server's close_notify (got %r)" % data)


def halfclose(port):
    sock, obj, inc, out = memory_session(port)
    obj.write(b"request line\n")
    try:
        obj.unwrap()		# queues our close_notify, then wants theirs
    except ssl.SSLWantReadError:
        pass
    seg = out.read()
    sock.sendall(seg)		# the request and the close_notify together
    print("sent %d bytes: request + close_notify in one segment" % len(seg))
    data, notified = read_to_close_notify(sock, obj, inc, out)
    print("answer:", data, "close_notify:", notified, flush=True)
    if data != b"13 bytes, EOF seen\n":
        fail("the answer was lost or wrong: %r" % data)
    if not notified:
        fail("no close_notify after the answer")
    print("ok: the whole answer, then our close_notify")


def late(port):
    sock, obj, inc, out = memory_session(port)
    data, notified = read_to_close_notify(sock, obj, inc, out)
    print("from the server:", data, "close_notify:", notified, flush=True)
    if data != b"bye\n" or not notified:
        fail("expected the backend's bye, then close_notify")
    obj.write(b"late data\n")
    try:
        obj.unwrap()
    except ssl.SSLWantReadError:
        pass
    except ssl.SSLError:
        pass
    pump(sock, obj, inc, out)
    print("ok: sent a line and our close_notify after the server's")
    time.sleep(0.5)
    sock.close()


def main():
    if sys.argv[1] == "backend":
        backend(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    scen, port = sys.argv[3], int(sys.argv[2])
    if scen == "unwrap":
        unwrap(port, sys.argv[4])
    elif scen == "halfclose":
        halfclose(port)
    elif scen == "late":
        late(port)
    else:
        fail("unknown scenario " + scen)


main()

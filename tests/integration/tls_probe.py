#!/usr/bin/env python3
"""Small TLS client and helpers for the TLS parameter tests.

    tls_probe.py connect HOST:PORT [options]
        Connect, print "local=[ADDR]:PORT" at once (so that the caller can
        find this connection in the daemon's log even when the handshake
        fails), do the TLS handshake, print what was negotiated, then send
        --data random bytes and expect them back unchanged (the TCP
        frontend relays to an echo server). The last line is
        "result=ok" (exit 0) or "result=fail: REASON" (exit 1).
        Usage errors exit 2.

    tls_probe.py free-ports N
        N distinct TCP ports on 127.0.0.1 that are free right now.

    tls_probe.py fingerprints CERT.pem DIGEST
        The fingerprints the daemon should log for a client certificate:
        "fingerprint=" (DER certificate), "pkey_fingerprint=" (DER
        SubjectPublicKeyInfo) and "legacy_pkey_fingerprint=" (the bits of
        the public key only), as upper-case hex pairs joined by colons.

Every wait is bounded by --timeout.
"""

import argparse
import base64
import hashlib
import os
import socket
import ssl
import sys
import time

VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}

OID_COMMON_NAME = bytes.fromhex("550403")


# ----------------------------------------------------------------- DER

def tlv(buf, pos):
    """(tag, start of content, end of content, end of element) at pos."""
    tag = buf[pos]
    first = buf[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        size = int.from_bytes(buf[pos:pos + count], "big")
        pos += count
    else:
        size = first
    return tag, pos, pos + size


def children(buf, start, end):
    """The elements inside a constructed value: (tag, elem start, cstart, cend)."""
    out = []
    pos = start
    while pos < end:
        tag, cstart, cend = tlv(buf, pos)
        out.append((tag, pos, cstart, cend))
        pos = cend
    return out


def tbs_fields(der):
    """The fields of the TBSCertificate, without the optional version."""
    _, cstart, cend = tlv(der, 0)
    tbs = children(der, cstart, cend)[0]
    fields = children(der, tbs[2], tbs[3])
    if fields[0][0] == 0xA0:
        fields = fields[1:]
    return fields


def subject_cn(der):
    """The first commonName of the subject, or ""."""
    subject = tbs_fields(der)[4]
    for _, _, rstart, rend in children(der, subject[2], subject[3]):
        for _, _, astart, aend in children(der, rstart, rend):
            parts = children(der, astart, aend)
            if len(parts) >= 2 and der[parts[0][2]:parts[0][3]] == OID_COMMON_NAME:
                return der[parts[1][2]:parts[1][3]].decode("utf-8", "replace")
    return ""


def pem_first_cert(path):
    """DER bytes of the first certificate in a PEM file."""
    with open(path, "r", encoding="ascii") as f:
        text = f.read()
    begin = "-----BEGIN CERTIFICATE-----"
    end = "-----END CERTIFICATE-----"
    i = text.find(begin)
    j = text.find(end, i)
    if i < 0 or j < 0:
        raise ValueError("%s: no PEM certificate" % path)
    return base64.b64decode("".join(text[i + len(begin):j].split()))


def colon_hex(data):
    return ":".join("%02X" % b for b in data)


def cmd_fingerprints(args):
    der = pem_first_cert(args.cert)
    spki = tbs_fields(der)[5]
    spki_der = der[spki[1]:spki[3]]
    bits = children(der, spki[2], spki[3])[1]
    key_bits = der[bits[2] + 1:bits[3]]     # minus the unused-bits octet
    for label, data in (("fingerprint", der), ("pkey_fingerprint", spki_der),
                        ("legacy_pkey_fingerprint", key_bits)):
        print("%s=%s" % (label, colon_hex(hashlib.new(args.digest, data).digest())))
    return 0


# ----------------------------------------------------------------- ports

def cmd_free_ports(args):
    socks = []
    try:
        for _ in range(args.count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        print(" ".join(str(s.getsockname()[1]) for s in socks))
    finally:
        for s in socks:
            s.close()
    return 0


# ----------------------------------------------------------------- connect

def out(msg):
    print(msg, flush=True)


def recv_exact(tls, n, deadline):
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timeout after %d of %d echoed bytes" % (len(buf), n))
        tls.settimeout(left)
        chunk = tls.recv(min(65536, n - len(buf)))
        if not chunk:
            raise ConnectionError("EOF after %d of %d echoed bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def cmd_connect(args):
    host, _, port = args.address.rpartition(":")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if args.cafile:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=args.cafile)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if args.tls_min:
        ctx.minimum_version = VERSIONS[args.tls_min]
    if args.tls_max:
        ctx.maximum_version = VERSIONS[args.tls_max]
    if args.ciphers:
        ctx.set_ciphers(args.ciphers)
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key or None)

    deadline = time.monotonic() + args.timeout
    try:
        sock = socket.create_connection((host, int(port)), timeout=args.timeout)
    except OSError as e:
        out("result=fail: connect: %s" % e)
        return 1
    local = sock.getsockname()
    out("local=[%s]:%d" % (local[0], local[1]))
    tls = ctx.wrap_socket(sock, server_hostname=args.servername or None,
                          do_handshake_on_connect=False)
    try:
        tls.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as e:
            out("handshake=failed: %s" % e)
            out("result=fail: handshake: %s" % e)
            return 1
        der = tls.getpeercert(binary_form=True)
        cipher = tls.cipher()
        out("handshake=ok protocol=%s cipher=%s cn=%s"
            % (tls.version(), cipher[0] if cipher else "?",
               subject_cn(der) if der else "(none)"))
        if args.data > 0:
            payload = os.urandom(args.data)
            try:
                tls.settimeout(max(0.1, deadline - time.monotonic()))
                tls.sendall(payload)
                back = recv_exact(tls, len(payload), deadline)
            except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as e:
                out("echo=failed: %s" % e)
                out("result=fail: echo: %s" % e)
                return 1
            if back != payload:
                out("result=fail: echo: the data came back changed")
                return 1
            out("echo=ok %d bytes" % len(back))
        try:
            tls.settimeout(2)
            tls.unwrap()
        except (ssl.SSLError, OSError, ValueError):
            pass
        out("result=ok")
        return 0
    finally:
        tls.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("connect")
    c.add_argument("address", help="HOST:PORT")
    c.add_argument("--servername")
    c.add_argument("--cafile")
    c.add_argument("--cert", help="client certificate (PEM; may hold the chain)")
    c.add_argument("--key")
    c.add_argument("--tls-min", choices=sorted(VERSIONS))
    c.add_argument("--tls-max", choices=sorted(VERSIONS))
    c.add_argument("--ciphers", help="TLS 1.2 cipher list")
    c.add_argument("--data", type=int, default=4096, help="bytes to echo (0: none)")
    c.add_argument("--timeout", type=float, default=10)
    p = sub.add_parser("free-ports")
    p.add_argument("count", type=int)
    f = sub.add_parser("fingerprints")
    f.add_argument("cert")
    f.add_argument("digest")
    args = ap.parse_args()
    if args.cmd == "connect":
        return cmd_connect(args)
    if args.cmd == "free-ports":
        if not 1 <= args.count <= 512:
            ap.error("count must be 1..512")
        return cmd_free_ports(args)
    return cmd_fingerprints(args)


if __name__ == "__main__":
    sys.exit(main())

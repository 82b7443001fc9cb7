#!/bin/bash
# SMTP STARTTLS frontend in front of a real Postfix smtpd (a private
# instance under the test's temp dir, never the host's Postfix), with the
# PROXY protocol (v1 and v2) and XCLIENT telling it who the client is,
# and in front of a small SMTP sink that offers AUTH.
#
# Postfix runs two smtpd services on loopback ports: "pp" with
# smtpd_upstream_proxy_protocol = haproxy (no TLS of its own) and "xc"
# that trusts XCLIENT and XFORWARD from 127.0.0.1 (and offers STARTTLS
# itself, so the after-TLS EHLO edit has something to remove). Both put
# every message on hold, so it can be read back with postcat; mynetworks
# is 127.0.0.1/32 (this daemon) and relay_domains accept.test, so a
# client that passed itself off as 127.0.0.1 could relay anywhere.
# One tlsproxy daemon has one listener per case:
#   L1 starttls, proxy v1, may        L5 starttls, xclient, may
#   L2 starttls, proxy v2, may        L6 implicit TLS, proxy v2 (TLS TLVs)
#   L3 starttls, proxy v2, encrypt    L7 starttls, AUTH sink, auth_only
#   L4 starttls, proxy v1, none       L8 starttls, sink that talks out of turn
# Clients connect from 127.0.0.2, the daemon from 127.0.0.1, so the
# backend's log tells the real client from the proxy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pflib.sh"

tp_pf_need
command -v swaks >/dev/null 2>&1 || tp_skip "swaks is not installed"
tp_init
tp_gen_certs
T=$TP_TMP
CLIENT_IP=127.0.0.2

step() { tp_say "=== $*"; }

# ---------------------------------------------------------------- Postfix
PB=$(tp_free_port)	# smtpd with smtpd_upstream_proxy_protocol = haproxy
XB=$(tp_free_port)	# smtpd trusting XCLIENT and XFORWARD
tp_pf_init backend
MAILLOG=$PF_LOG
tp_pf_conf 'relay_domains = accept.test'
# Every message is held, so postcat can show it and nothing is delivered.
HOLD='-o smtpd_end_of_data_restrictions=check_client_access,static:HOLD -o smtpd_client_port_logging=yes'
tp_pf_service \
    "127.0.0.1:$PB inet n - n - - smtpd -o syslog_name=postfix/pp -o smtpd_upstream_proxy_protocol=haproxy -o smtpd_tls_security_level=none $HOLD" \
    "127.0.0.1:$XB inet n - n - - smtpd -o syslog_name=postfix/xc -o smtpd_authorized_xclient_hosts=127.0.0.1 -o smtpd_authorized_xforward_hosts=127.0.0.1 -o smtpd_tls_security_level=may -o smtpd_tls_cert_file=$T/rsa.pem -o smtpd_tls_key_file=$T/rsa.key $HOLD"
step "Postfix $(pf_postconf -h mail_version) (private instance $PF_DIR): backends on 127.0.0.1:$PB (haproxy) and :$XB (XCLIENT, XFORWARD)"
tp_pf_start
tp_wait_for 20 tp_port_listening "$PB" || tp_hard_error "Postfix does not listen on 127.0.0.1:$PB"
tp_wait_for 20 tp_port_listening "$XB" || tp_hard_error "Postfix does not listen on 127.0.0.1:$XB"

# ---------------------------------------------------------------- sinks
SB=$(tp_free_port); UB=$(tp_free_port)
tp_spawn "$T/sink.out" python3 "$TP_DIR/smtp_sink.py" "$SB" "$T/sink.log"
tp_spawn "$T/usink.out" python3 "$TP_DIR/smtp_sink.py" "$UB" "$T/usink.log" --unsolicited
tp_wait_for 10 tp_port_listening "$SB" || tp_hard_error "the SMTP sink did not start"
tp_wait_for 10 tp_port_listening "$UB" || tp_hard_error "the SMTP sink did not start"

# ---------------------------------------------------------------- tlsproxy
L1=$(tp_free_port); L2=$(tp_free_port); L3=$(tp_free_port); L4=$(tp_free_port)
L5=$(tp_free_port); L6=$(tp_free_port); L7=$(tp_free_port); L8=$(tp_free_port)
L9=$(tp_free_port)
cat >"$T/tlsproxy.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
tlsproxy_worker_threads = 16;
tlsproxy_pid_file = "$T/tlsproxy.pid";
tlsproxy_stats_socket = "$T/stats.sock";
syslog_name = "postfix";
tlsproxy_listeners = (
  { listen = "127.0.0.1:$L1"; backend = "127.0.0.1:$PB"; starttls = "smtp"; proxy_protocol = "v1"; },
  { listen = "127.0.0.1:$L2"; backend = "127.0.0.1:$PB"; starttls = "smtp"; proxy_protocol = "v2"; },
  { listen = "127.0.0.1:$L3"; backend = "127.0.0.1:$PB"; starttls = "smtp"; proxy_protocol = "v2";
    smtpd_tls_security_level = "encrypt"; },
  { listen = "127.0.0.1:$L4"; backend = "127.0.0.1:$PB"; starttls = "smtp"; proxy_protocol = "v1";
    smtpd_tls_security_level = "none"; },
  { listen = "127.0.0.1:$L5"; backend = "127.0.0.1:$XB"; starttls = "smtp"; xclient = true;
    command_timeout = "30s"; },
  { listen = "127.0.0.1:$L6"; backend = "127.0.0.1:$PB"; proxy_protocol = "v2"; },
  { listen = "127.0.0.1:$L7"; backend = "127.0.0.1:$SB"; starttls = "smtp";
    smtpd_tls_auth_only = true; },
  { listen = "127.0.0.1:$L8"; backend = "127.0.0.1:$UB"; starttls = "smtp"; },
  { listen = "127.0.0.1:$L9"; backend = "127.0.0.1:$SB"; starttls = "smtp";
    command_timeout = "3s"; plaintext_timeout = "4s"; }
);
EOF
LOG=$T/tlsproxy.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "tcp:$L1" "tcp:$L2" "tcp:$L3" "tcp:$L4" \
    "tcp:$L5" "tcp:$L6" "tcp:$L7" "tcp:$L8" "tcp:$L9"
D=$TP_DAEMON_PID

# ---------------------------------------------------------------- helpers
# A scripted SMTP client for what swaks cannot do: exact EHLO replies,
# pipelining in one write, commands we must refuse, BDAT. Each scenario
# asserts and exits non-zero with the reason; "port N" lines name the
# client ports of its sessions, for the log checks.
cat >"$T/smtpc.py" <<'PY'
import socket, ssl, sys, time

SRC = sys.argv[1]
TIMEOUT = float(sys.argv[2])
scenario = sys.argv[3]
args = sys.argv[4:]

class Conn:
    def __init__(self, port, src=SRC, proxy_v1=False):
        self.s = socket.socket()
        self.s.settimeout(TIMEOUT)
        self.s.bind((src, 0))
        self.s.connect(("127.0.0.1", port))
        self.sock = self.s
        self.lport = self.s.getsockname()[1]
        self.buf = b""
        if proxy_v1:
            self.send(b"PROXY TCP4 %s 127.0.0.1 %d %d\r\n" % (
                SRC.encode(), self.s.getsockname()[1], port))
    def port(self):
        return self.lport
    def send(self, data):
        self.sock.sendall(data)
    def line(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise SystemExit("EOF from server after %r" % self.buf)
            self.buf += d
        i = self.buf.index(b"\n") + 1
        l, self.buf = self.buf[:i], self.buf[i:]
        return l
    def reply(self):
        r = b""
        while True:
            l = self.line()
            r += l
            if len(l) < 4 or l[3:4] != b"-":
                return r
    def cmd(self, c):
        self.send(c + b"\r\n")
        return self.reply()
    def tls(self):
        if self.buf:
            raise SystemExit("bytes after 220: %r" % self.buf)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.s, server_hostname="tlsproxy-test.localdomain")
    def starttls(self):
        expect(self.cmd(b"STARTTLS") == b"220 2.0.0 Ready to start TLS\r\n", "220 to STARTTLS")
        self.tls()

def expect(cond, what):
    if not cond:
        raise SystemExit("FAILED: " + what)
    print("ok:", what)

def lines(r):
    return r.splitlines(keepends=True)

def kw(l):
    w = l[4:].split()
    return w[0].upper() if w else b""

def keywords(r):
    return [kw(l) for l in lines(r)[1:]]

def has_kw(r, kw):
    return kw in keywords(r)

def with_last(ls, sep):
    return ls[:-1] + [ls[-1][:3] + sep + ls[-1][4:]]

REFUSED = b"550 5.7.0 Error: insufficient authorization\r\n"

if scenario == "ehlo_add":
    # What the backend says to this client directly vs. through us.
    pb, lst = int(args[0]), int(args[1])
    d = Conn(pb, src="127.0.0.1", proxy_v1=True); d.reply()
    direct = d.cmd(b"EHLO client.test"); d.cmd(b"QUIT")
    print("direct:", direct)
    expect(not has_kw(direct, b"STARTTLS"), "the backend offers no STARTTLS")
    c = Conn(lst); c.reply()
    via = c.cmd(b"EHLO client.test")
    print("via:   ", via)
    want = b"".join(with_last(lines(direct), b"-")) + b"250 STARTTLS\r\n"
    expect(via == want, "EHLO reply = the backend's + '250 STARTTLS' as the last line, nothing else changed")
    c.cmd(b"QUIT")
elif scenario == "ehlo_del":
    xb, lst = int(args[0]), int(args[1])
    c = Conn(lst); c.reply()
    # The backend's view of this client: XCLIENT from 127.0.0.1, as we do.
    d = Conn(xb, src="127.0.0.1"); d.reply()
    r = d.cmd(b"XCLIENT ADDR=%s PORT=%d NAME=[UNAVAILABLE]" % (SRC.encode(), c.port()))
    expect(r.startswith(b"220"), "direct XCLIENT accepted: %r" % r)
    direct = d.cmd(b"EHLO client.test"); d.cmd(b"QUIT")
    print("direct:", direct)
    # (Postfix offers XCLIENT only before one was used.)
    for k in (b"STARTTLS", b"XFORWARD"):
        expect(has_kw(direct, k), "the backend offers " + k.decode())
    hidden = lines(direct)[:1] + [l for l in lines(direct)[1:]
                                  if kw(l) not in (b"XCLIENT", b"XFORWARD")]
    pre = c.cmd(b"EHLO client.test")
    print("pre-TLS: ", pre)
    want = b"".join(with_last(hidden, b" "))
    expect(pre == want, "before TLS the EHLO reply is the backend's without XCLIENT and XFORWARD, nothing else changed")
    c.starttls()
    post = c.cmd(b"EHLO client.test")
    print("post-TLS:", post)
    want = hidden[:1] + [l for l in hidden[1:] if kw(l) != b"STARTTLS"]
    want = b"".join(with_last(want, b" "))
    expect(post == want, "after TLS the EHLO reply also loses STARTTLS, nothing else changed")
    expect(c.cmd(b"STARTTLS") == b"554 5.5.1 Error: TLS already active\r\n", "a second STARTTLS gets 554")
    r = c.cmd(b"XCLIENT ADDR=192.0.2.1")
    expect(r == REFUSED, "the client's own XCLIENT is refused (%r)" % r)
    c.cmd(b"QUIT")
    print("port", c.port())
elif scenario == "spoof":
    # Every way the client could try to speak for the proxy; each ends in
    # a relay attempt that the backend must refuse (it sees 127.0.0.2).
    lst = int(args[0])
    def relay_attempt(c, what):
        expect(c.cmd(b"EHLO spoof.test").startswith(b"250"), what + ": EHLO")
        expect(c.cmd(b"MAIL FROM:<a@example.org>").startswith(b"250"), what + ": MAIL")
        r = c.cmd(b"RCPT TO:<victim@remote.example>")
        expect(b"Relay access denied" in r, what + ": relay refused (%r)" % r)
        c.cmd(b"QUIT")
        print("port", c.port())
    def spoof_line(c, line, what):
        r = c.cmd(line)
        expect(r == REFUSED, what + ": %r answered by the proxy (%r)" % (line, r))

    c = Conn(lst); c.reply()
    c.cmd(b"EHLO x")
    spoof_line(c, b"XCLIENT ADDR=127.0.0.1 NAME=localhost", "before MAIL")
    relay_attempt(c, "before MAIL")

    c = Conn(lst); c.reply()
    c.cmd(b"EHLO x")
    r = c.cmd(b"MAIL FROM:<broken")
    expect(r.startswith(b"501"), "malformed MAIL rejected by the backend (%r)" % r)
    spoof_line(c, b"XCLIENT ADDR=127.0.0.1 NAME=localhost", "after a rejected MAIL")
    relay_attempt(c, "after a rejected MAIL")

    c = Conn(lst); c.reply()
    c.cmd(b"EHLO x")
    c.cmd(b"MAIL FROM:<a@example.org>"); c.cmd(b"RSET")
    spoof_line(c, b"XCLIENT ADDR=127.0.0.1", "after MAIL and RSET")
    relay_attempt(c, "after MAIL and RSET")

    c = Conn(lst); c.reply()
    c.cmd(b"EHLO x")
    c.cmd(b"MAIL FROM:<a@example.org>")
    expect(c.cmd(b"RCPT TO:<x@accept.test>").startswith(b"250"), "RCPT to a relay domain")
    expect(c.cmd(b"DATA").startswith(b"354"), "DATA")
    r = c.cmd(b"Subject: spoof\r\n\r\nXCLIENT ADDR=127.0.0.1\r\n.")
    expect(r.startswith(b"250"), "a message whose body holds an XCLIENT line is queued (%r)" % r)
    spoof_line(c, b"XCLIENT ADDR=127.0.0.1", "after a whole message")
    spoof_line(c, b"XFORWARD ADDR=127.0.0.1", "after a whole message")
    relay_attempt(c, "after a whole message")

    c = Conn(lst); c.reply()
    c.cmd(b"EHLO x")
    c.starttls()
    c.cmd(b"EHLO x")
    spoof_line(c, b"XCLIENT ADDR=127.0.0.1", "inside TLS")
    spoof_line(c, b"XFORWARD ADDR=127.0.0.1 NAME=localhost", "inside TLS")
    relay_attempt(c, "inside TLS")

    c = Conn(lst); c.reply()
    c.cmd(b"EHLO x")
    for line in (b"XCLIENT\tADDR=127.0.0.1", b" XCLIENT ADDR=127.0.0.1",
                 b"xclient addr=127.0.0.1", b"XFORWARD ADDR=127.0.0.1"):
        spoof_line(c, line, "other spellings")
    r = c.cmd(b"NOOP\rXCLIENT ADDR=127.0.0.1")
    expect(r == b"500 5.5.2 Error: bad syntax\r\n", "a CR inside a line is refused (%r)" % r)
    relay_attempt(c, "other spellings")

    # Pipelined: the refusal comes in its place among the replies.
    c = Conn(lst); c.reply()
    c.cmd(b"EHLO x")
    c.send(b"MAIL FROM:<a@example.org>\r\nXCLIENT ADDR=127.0.0.1\r\nRCPT TO:<victim@remote.example>\r\nQUIT\r\n")
    r1, r2, r3, r4 = c.reply(), c.reply(), c.reply(), c.reply()
    expect(r1.startswith(b"250") and r2 == REFUSED and b"Relay access denied" in r3
           and r4.startswith(b"221"), "pipelined: 250, 550, relay denied, 221 in order (%r)" % [r1, r2, r3, r4])
    print("port", c.port())
elif scenario == "pipeline":
    c = Conn(int(args[0])); c.reply()
    c.cmd(b"EHLO client.test")
    c.send(b"STARTTLS\r\nRSET\r\n")		# one write
    r = c.reply()
    expect(r == b"220 2.0.0 Ready to start TLS\r\n", "220 after pipelined STARTTLS")
    c.tls()
    expect(c.cmd(b"EHLO client.test").startswith(b"250"), "EHLO over TLS")
    expect(c.cmd(b"QUIT").startswith(b"221"), "QUIT over TLS")
    print("port", c.port())
elif scenario == "encrypt":
    c = Conn(int(args[0])); c.reply()
    expect(has_kw(c.cmd(b"EHLO client.test"), b"STARTTLS"), "encrypt: STARTTLS offered")
    for line in (b"MAIL FROM:<sender@example.test>", b"AUTH PLAIN AGZvbwBiYXI=",
                 b"RSET", b"VRFY root", b"XCLIENT ADDR=127.0.0.1"):
        r = c.cmd(line)
        want = REFUSED if line.startswith(b"XCLIENT") else \
            b"530 5.7.0 Must issue a STARTTLS command first\r\n"
        expect(r == want, "%r before STARTTLS: %r" % (line, r))
    expect(c.cmd(b"NOOP").startswith(b"250"), "NOOP is relayed")
    expect(c.cmd(b"HELO client.test").startswith(b"250"), "HELO is relayed")
    expect(c.cmd(b"QUIT").startswith(b"221"), "QUIT is relayed")
    print("port", c.port())
elif scenario == "none":
    c = Conn(int(args[0])); c.reply()
    expect(not has_kw(c.cmd(b"EHLO client.test"), b"STARTTLS"), "none: no STARTTLS offered")
    r = c.cmd(b"STARTTLS")
    expect(r == b"502 5.5.1 Error: command not implemented\r\n", "none: STARTTLS gets 502 (%r)" % r)
    expect(c.cmd(b"QUIT").startswith(b"221"), "QUIT")
elif scenario == "abuse":
    c = Conn(int(args[0])); c.reply()
    r = c.cmd(b"NOOP " + b"x" * 3000)
    expect(r == b"500 5.5.2 Error: line too long\r\n", "over-long line: 500 (%r)" % r)
    expect(c.cmd(b"NOOP").startswith(b"250"), "the session goes on after the long line")
    n = 0
    while True:
        r = c.cmd(b"NOOP")
        n += 1
        if not r.startswith(b"250"):
            break
    expect(r.startswith(b"421 4.7.0"), "421 after %d more NOOPs (%r)" % (n, r))
elif scenario == "bdat":
    # A message in three BDAT chunks (one pipelined with MAIL and RCPT),
    # inside TLS; the chunks hold lines that look like commands.
    c = Conn(int(args[0])); c.reply()
    c.cmd(b"EHLO x"); c.starttls()
    expect(has_kw(c.cmd(b"EHLO x"), b"CHUNKING"), "CHUNKING offered")
    body = open(args[1], "rb").read()
    head, mid, tail = body[:1000], body[1000:1500], body[1500:]
    c.send(b"MAIL FROM:<bdat@example.org>\r\nRCPT TO:<x@accept.test>\r\nBDAT %d\r\n" % len(head) + head)
    rs = [c.reply() for _ in range(3)]
    expect(all(r.startswith(b"250") for r in rs), "MAIL, RCPT, BDAT accepted (%r)" % rs)
    c.send(b"BDAT %d\r\n" % len(mid) + mid + b"BDAT %d LAST\r\n" % len(tail) + tail)
    r1, r2 = c.reply(), c.reply()
    expect(r1.startswith(b"250") and r2.startswith(b"250 ") and b" queued as " in r2,
           "BDAT, BDAT LAST: queued (%r %r)" % (r1, r2))
    print("id", r2.split()[-1].decode())
    c.cmd(b"QUIT")
elif scenario == "auth":
    # smtpd_tls_auth_only: no AUTH before TLS, in EHLO or as a command.
    lst = int(args[0])
    c = Conn(lst); c.reply()
    r = c.cmd(b"EHLO x")
    expect(not has_kw(r, b"AUTH") and has_kw(r, b"STARTTLS"), "before TLS: no AUTH offered (%r)" % r)
    r = c.cmd(b"AUTH PLAIN AHVzZXIAcGFzcw==")
    expect(r == b"538 5.7.11 Encryption required for requested authentication mechanism\r\n",
           "AUTH before TLS: 538 (%r)" % r)
    r = c.cmd(b"AUTH LOGIN")
    expect(r.startswith(b"538 "), "AUTH LOGIN before TLS: 538")
    c.starttls()
    r = c.cmd(b"EHLO x")
    expect(has_kw(r, b"AUTH") and not has_kw(r, b"XCLIENT"), "after TLS: AUTH offered, XCLIENT not")
    expect(c.cmd(b"AUTH LOGIN") == b"334 VXNlcm5hbWU6\r\n", "AUTH LOGIN: 334")
    expect(c.cmd(b"dXNlcg==") == b"334 UGFzc3dvcmQ6\r\n", "user name taken")
    r = c.cmd(b"cGFzcw==")
    expect(r.startswith(b"235"), "AUTH LOGIN after TLS works (%r)" % r)
    c.cmd(b"QUIT")
elif scenario == "unsolicited":
    c = Conn(int(args[0])); c.reply()
    r = c.cmd(b"EHLO x")
    expect(r.startswith(b"250"), "EHLO")
    time.sleep(0.5)		# the sink's extra line has arrived
    r = c.cmd(b"STARTTLS")
    expect(r.startswith(b"421 4.7.0"), "STARTTLS with backend bytes pending: 421 (%r)" % r)
    print("port", c.port())
else:
    raise SystemExit("unknown scenario " + scenario)
PY
smtpc() {
	local name=$1
	shift
	tp_check "$name"
	timeout -k 5 "$(tp_secs 60)" python3 "$T/smtpc.py" "$CLIENT_IP" "$(tp_secs 10)" "$@" \
	    >"$T/$name.out" 2>&1
	local rc=$?
	sed 's/^/    | /' "$T/$name.out"
	[ "$rc" = 0 ] || tp_fail "$name: the scripted client failed ($rc)"
	tp_ok "$name"
}

# held_intact NAME ID BODYFILE: the held message's body is BODYFILE, byte for byte.
held_intact() {
	local name=$1 id=$2 body=$3
	tp_pf_postcat -bh -q "$id" >"$T/$name.postcat" 2>&1 || tp_fail "$name: postcat -q $id failed"
	# postcat shows the body after the headers' empty line, lines without CR.
	awk 'f { print } /^$/ && !f { f = 1 }' "$T/$name.postcat" | head -n "$(wc -l <"$body")" >"$T/$name.got"
	cmp -s "$body" "$T/$name.got" ||
		{ cmp "$body" "$T/$name.got" | head -3; tp_fail "$name: the body changed on the way"; }
	tp_ok "$name: message $id arrived intact ($(wc -c <"$body") bytes)"
}

# deliver NAME PORT SWAKS-ARGS...: one message from $CLIENT_IP; checks
# that it was queued, that the backend logged the client's real
# address, and that the message arrived intact. The queue id is in ID;
# BODY (default: a short one) may name a body file.
deliver() {
	local name=$1 port=$2 tag body
	shift 2
	tag="tp-$name-$$-$RANDOM"
	body=${BODY:-$T/$name.body}
	[ -n "${BODY:-}" ] ||
		printf 'Body of %s.\n.leading dot must survive\n\nlast line %s\n' "$tag" "$tag" >"$body"
	tp_check "deliver $name"
	timeout -k 5 "$(tp_secs 120)" swaks --server 127.0.0.1 --port "$port" \
	    --local-interface "$CLIENT_IP" --ehlo client.test --timeout "$(tp_secs 30)" \
	    --from sender@example.test --to x@accept.test \
	    --header "Subject: $tag" --body "@$body" "$@" >"$T/$name.swaks" 2>&1
	local rc=$?
	if [ -n "${BODY:-}" ]; then
		grep -v '^ [~-]> ' "$T/$name.swaks" | sed 's/^/    | /'
	else
		sed 's/^/    | /' "$T/$name.swaks"
	fi
	[ "$rc" = 0 ] || tp_fail "$name: swaks exited with $rc"
	ID=$(sed -n 's/^.*250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\).*$/\1/p' "$T/$name.swaks" | tail -1)
	[ -n "$ID" ] || tp_fail "$name: no queue id in the swaks output"
	tp_wait_for 10 tp_log_has "$MAILLOG" "$ID: client=unknown[$CLIENT_IP]:" ||
		tp_fail "$name: the backend did not log '$ID: client=unknown[$CLIENT_IP]:' (the proxy's address instead?)"
	tp_ok "$name: backend log: $ID: client=unknown[$CLIENT_IP]"
	held_intact "$name" "$ID" "$body"
}

# ---------------------------------------------------------------- deliveries
step "1. STARTTLS + PROXY v1: swaks --tls"
deliver v1tls "$L1" --tls
grep -q '=== TLS started with cipher' "$T/v1tls.swaks" || tp_fail "v1tls: TLS not started"
tp_expect_log "$LOG" "Anonymous TLS connection established from [$CLIENT_IP]:"

step "2. STARTTLS + PROXY v2: swaks --tls"
deliver v2tls "$L2" --tls

step "3. may, plaintext client: swaks without --tls"
deliver v1plain "$L1"

step "4. encrypt: swaks --tls delivers"
deliver encrypt "$L3" --tls

step "5. none: plaintext delivery"
deliver none "$L4"

step "6. XCLIENT backend: swaks --tls"
deliver xclient "$L5" --tls
tp_wait_for 10 tp_log_has "$MAILLOG" "postfix/xc/smtpd" || tp_fail "no postfix/xc lines"

step "7. implicit TLS + PROXY v2 with TLS TLVs: swaks --tlsc"
deliver implicit "$L6" --tlsc

# One line per session: STARTTLS taken or not, TLS summary, bytes, end.
tp_expect_log "$LOG" "SMTP session ended (QUIT): STARTTLS taken, TLSv1.3 with cipher"
tp_expect_log "$LOG" "SMTP session ended (QUIT): STARTTLS not taken, "

step "8. 20 MiB, dot-stuffed, through TLS and XCLIENT: byte exact"
python3 - "$T/big.body" <<'PY'
import sys
# 76-character lines; every 5th starts with a dot, some are a lone dot,
# some look like commands.
out = []
i = 0
size = 0
while size < 20 * 1024 * 1024:
    if i % 97 == 0:
        l = "."
    elif i % 89 == 0:
        l = "XCLIENT ADDR=127.0.0.1 NAME=localhost"
    elif i % 5 == 0:
        l = "." + ("%08d" % i) * 9 + "abc"
    else:
        l = ("%08d" % i) * 9 + "abcd"
    out.append(l)
    size += len(l) + 2
    i += 1
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
T0=$(date +%s.%N)
BODY=$T/big.body deliver big "$L5" --tls
T1=$(date +%s.%N)
tp_say "20 MiB through STARTTLS + XCLIENT in $(echo "$T1 - $T0" | bc 2>/dev/null || echo '?') s (swaks, postcat included)"

step "9. BDAT: three chunks, one pipelined, inside TLS: byte exact"
printf 'Subject: bdat\r\n\r\nfirst line\r\nXCLIENT ADDR=127.0.0.1\r\n.\r\n..two dots\r\n' >"$T/bdat.msg"
python3 -c 'import sys; sys.stdout.write("".join("line %05d with some text to fill the chunk\r\n" % i for i in range(60)))' >>"$T/bdat.msg"
smtpc bdat bdat "$L5" "$T/bdat.msg"
BID=$(sed -n 's/^id //p' "$T/bdat.out")
tail -n +3 "$T/bdat.msg" | tr -d '\r' >"$T/bdat.body"
held_intact bdat "$BID" "$T/bdat.body"

# ---------------------------------------------------------------- dialogues
step "10. EHLO edits, exactly"
smtpc ehlo_add ehlo_add "$PB" "$L1"
smtpc ehlo_del ehlo_del "$XB" "$L5"
# The client's XCLIENT never reached the backend (which trusts us).
XPORT=$(sed -n 's/^port //p' "$T/ehlo_del.out" | tail -1)
tp_wait_for 10 tp_log_has "$MAILLOG" "disconnect from unknown[$CLIENT_IP]:$XPORT " ||
	tp_fail "ehlo_del: the backend did not log the disconnect of [$CLIENT_IP]:$XPORT"
# (The scripted client's direct session logs the same address and port,
# with one EHLO; ours has two.)
DLINE=$(grep -F "disconnect from unknown[$CLIENT_IP]:$XPORT " "$MAILLOG" | grep -F " ehlo=2 " | tail -1)
tp_say "backend: ${DLINE#*: }"
case $DLINE in
*starttls=*) tp_fail "ehlo_del: the backend got a STARTTLS: $DLINE" ;;
*" ehlo=2 xclient=0/1 quit=1 "* | *" ehlo=2 xclient=1 quit=1 "*)
	tp_ok "XCLIENT backend: EHLO, our XCLIENT, EHLO, QUIT; neither STARTTLS nor the client's XCLIENT" ;;
*) tp_fail "ehlo_del: unexpected command counts: $DLINE" ;;
esac

step "11. XCLIENT/XFORWARD spoofing in every phase: refused, the backend sees the real client, no relaying"
HELD_BEFORE=$(tp_pf_queue_ids hold | wc -l)
smtpc spoof spoof "$L5"
for p in $(sed -n 's/^port //p' "$T/spoof.out"); do
	tp_wait_for 10 tp_log_has "$MAILLOG" "disconnect from unknown[$CLIENT_IP]:$p " ||
		tp_fail "spoof: no backend disconnect line for [$CLIENT_IP]:$p (was the client taken for someone else?)"
	DLINE=$(grep -F "disconnect from unknown[$CLIENT_IP]:$p " "$MAILLOG" | tail -1)
	case $DLINE in
	*" xclient=1 "* | *" xclient=0/1 "*) ;;
	*) tp_fail "spoof: the backend saw another XCLIENT than ours: $DLINE" ;;
	esac
	case $DLINE in *xforward=*) tp_fail "spoof: XFORWARD reached the backend: $DLINE" ;; esac
	tp_expect_log "$MAILLOG" "NOQUEUE: reject: RCPT from unknown[$CLIENT_IP]:$p: 454 4.7.1 <victim@remote.example>: Relay access denied"
	tp_expect_log "$LOG" "warning: [$CLIENT_IP]:$p: XCLIENT from client refused"
done
tp_expect_log "$LOG" "XFORWARD from client refused"
tp_expect_log "$LOG" "malformed command line refused"
tp_expect_no_log "$MAILLOG" "victim@remote.example>, relay="
tp_expect_no_log "$MAILLOG" "client=localhost[127.0.0.1]"
# Only the one legitimate message of the scenario was held.
HELD_AFTER=$(tp_pf_queue_ids hold | wc -l)
[ "$HELD_AFTER" -eq $((HELD_BEFORE + 1)) ] ||
	tp_fail "spoof: $((HELD_AFTER - HELD_BEFORE)) messages queued, expected 1"
tp_ok "spoof: one message queued (the legitimate one), no relay"
tp_stats "$T/stats.sock" >"$T/stats.out" 2>&1 || tp_fail "stats socket"
grep -E '^tlsproxy_smtp_refused_' "$T/stats.out" | sed 's/^/    | /'
[ "$(sed -n 's/^tlsproxy_smtp_refused_xclient_total //p' "$T/stats.out")" -ge 10 ] ||
	tp_fail "stats: tlsproxy_smtp_refused_xclient_total"
[ "$(sed -n 's/^tlsproxy_smtp_refused_xforward_total //p' "$T/stats.out")" -ge 3 ] ||
	tp_fail "stats: tlsproxy_smtp_refused_xforward_total"

step "12. encrypt refuses before STARTTLS (RSET too); none offers no STARTTLS"
smtpc encrypt encrypt "$L3"
smtpc none none "$L4"

step "13. STARTTLS\\r\\nRSET\\r\\n in one write: the RSET is not executed"
smtpc pipeline pipeline "$L1"
PPORT=$(sed -n 's/^port //p' "$T/pipeline.out" | tail -1)
[ -n "$PPORT" ] || tp_fail "pipeline: no client port"
tp_expect_log "$LOG" "warning: [$CLIENT_IP]:$PPORT: discarding 6 bytes pipelined after STARTTLS"
tp_wait_for 10 tp_log_has "$MAILLOG" "disconnect from unknown[$CLIENT_IP]:$PPORT " ||
	tp_fail "pipeline: the backend did not log the disconnect of [$CLIENT_IP]:$PPORT"
DLINE=$(grep -F "disconnect from unknown[$CLIENT_IP]:$PPORT " "$MAILLOG" | tail -1)
tp_say "backend: ${DLINE#*: }"
case $DLINE in
*rset=*) tp_fail "pipeline: the backend executed the RSET sent after STARTTLS" ;;
*"ehlo=2 quit=1 commands=3"*) tp_ok "pipeline: the backend saw EHLO, EHLO, QUIT only" ;;
*) tp_fail "pipeline: unexpected command counts: $DLINE" ;;
esac

step "14. abuse: long line (500), too many commands (421)"
smtpc abuse abuse "$L1"
tp_expect_log "$LOG" "SMTP session ended (too many commands)"

step "15. smtpd_tls_auth_only: no credentials before TLS; AUTH works after"
smtpc auth auth "$L7"
# Before TLS the client tried AUTH PLAIN (with credentials) and AUTH
# LOGIN; after TLS, AUTH LOGIN. The sink must have seen the last only.
if grep -q 'AHVzZXIAcGFzcw' "$T/sink.log" || [ "$(grep -c '^AUTH' "$T/sink.log")" != 1 ]; then
	sed 's/^/    | /' "$T/sink.log"
	tp_fail "auth: AUTH before TLS reached the backend"
fi
grep -q '^AUTH LOGIN$' "$T/sink.log" || tp_fail "auth: the AUTH after TLS did not reach the backend"
grep -q '^cGFzcw==$' "$T/sink.log" || tp_fail "auth: the AUTH response did not reach the backend"
tp_ok "the backend saw AUTH only after TLS"
tp_expect_log "$LOG" "AUTH before STARTTLS refused"
tp_check "swaks --auth without TLS fails"
if timeout -k 5 "$(tp_secs 30)" swaks --server 127.0.0.1 --port "$L7" --local-interface "$CLIENT_IP" \
    --to x@accept.test --auth PLAIN --auth-user user --auth-password pass \
    --quit-after AUTH >"$T/swaks-auth-plain.out" 2>&1; then
	cat "$T/swaks-auth-plain.out"
	tp_fail "swaks authenticated without TLS"
fi
tp_ok "swaks --auth without TLS: $(grep -E 'advertise|538' "$T/swaks-auth-plain.out" | head -1)"
tp_check "swaks --tls --auth works"
timeout -k 5 "$(tp_secs 30)" swaks --server 127.0.0.1 --port "$L7" --local-interface "$CLIENT_IP" \
    --to x@accept.test --tls --auth PLAIN --auth-user user --auth-password pass \
    --quit-after AUTH >"$T/swaks-auth-tls.out" 2>&1 || { cat "$T/swaks-auth-tls.out"; tp_fail "swaks --tls --auth failed"; }
grep -q '235 2.7.0 Authentication successful' "$T/swaks-auth-tls.out" || tp_fail "swaks: no 235"
tp_ok "swaks --tls --auth PLAIN: 235"
[ "$(grep -c '^AUTH' "$T/sink.log")" = 2 ] ||
	{ cat "$T/sink.log"; tp_fail "the sink should have seen exactly two AUTH commands (both after TLS)"; }

step "16. STARTTLS while the backend has said something unasked: 421, never inside TLS"
smtpc unsolicited unsolicited "$L8"
UPORT=$(sed -n 's/^port //p' "$T/unsolicited.out" | tail -1)
tp_expect_log "$LOG" "warning: [$CLIENT_IP]:$UPORT: backend 127.0.0.1:$UB sent 17 unrequested bytes before STARTTLS; closing the session"

# ---------------------------------------------------------------- end
step "17. plaintext_timeout: NOOP within command_timeout, forever, without TLS: 421 at the limit"
python3 - "$L9" <<'PY' >"$T/plain.out" 2>&1 || { cat "$T/plain.out"; tp_fail "plaintext_timeout: see above"; }
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        if len(l) < 4 or l[3:4] != b"-":
            return l
t0 = time.monotonic()
assert reply().startswith(b"220")
s.sendall(b"EHLO idle.test\r\n"); assert reply().startswith(b"250")
last = b""
while time.monotonic() - t0 < 15:
    time.sleep(1)
    try:
        s.sendall(b"NOOP\r\n")
    except OSError:
        break
    last = reply()
    if not last.startswith(b"250"):
        break
took = time.monotonic() - t0
print("after %.1f s: %r" % (took, last))
assert last.startswith(b"421 4.4.2"), last
assert 3.5 < took < 8, took
PY
sed 's/^/    | /' "$T/plain.out"
tp_expect_log "$LOG" "SMTP session ended (plaintext_timeout: no TLS and no message in time)"
tp_ok "a client that only sends NOOP without TLS is cut at plaintext_timeout"

step "stop"
tp_alive "$D" || tp_fail "our daemon died"
if grep -E 'postfix/(pp|xc)/smtpd' "$MAILLOG" | grep -E 'warning|fatal|panic' |
    grep -v -E 'non-SMTP command|Illegal address syntax'; then
	tp_fail "the backends logged warnings"
fi
tp_ok "no warnings from the backends"
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"
tp_say "PASS"
exit 0

#!/bin/bash
# SMTP STARTTLS frontend in front of a real Postfix smtpd, with the PROXY
# protocol (v1 and v2) and XCLIENT telling it who the client is.
#
# Postfix runs two smtpd services on loopback ports: "pp" with
# smtpd_upstream_proxy_protocol = haproxy (no TLS of its own) and "xc"
# that trusts XCLIENT from 127.0.0.1 (and offers STARTTLS itself, so the
# after-TLS EHLO edit has something to remove). Both put every message
# on hold, so it can be read back with postcat. One tlsproxy daemon has
# one listener per case:
#   L1 starttls, proxy v1, may        L4 starttls, proxy v1, none
#   L2 starttls, proxy v2, may        L5 starttls, xclient, may
#   L3 starttls, proxy v2, encrypt    L6 implicit TLS, proxy v2 (TLS TLVs)
# Clients connect from 127.0.0.2, the daemon from 127.0.0.1, so the
# backend's log tells the real client from the proxy.
#
# Needs root and an installed Postfix and swaks; it reconfigures the local
# Postfix (as t_postfix.sh does, under the same lock) and removes its own
# master.cf entries at the end.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || tp_skip "needs root"
[ -x /usr/sbin/postfix ] || tp_skip "Postfix is not installed"
command -v swaks >/dev/null 2>&1 || tp_skip "swaks is not installed"
command -v postconf >/dev/null 2>&1 || tp_skip "postconf is not installed"
tp_init
tp_gen_certs
T=$TP_TMP
MAILLOG=/var/log/postfix.log
CERTDIR=/etc/postfix/tlstest-starttls
CLIENT_IP=127.0.0.2
tp_add_log "$MAILLOG"

# One Postfix test at a time (t_postfix.sh, t_client_role.sh).
if command -v flock >/dev/null 2>&1; then
	LOCK=/run/lock/tlsproxy-postfix-tests.lock
	[ -d /run/lock ] || LOCK=/tmp/tlsproxy-postfix-tests.lock
	exec 9>"$LOCK"
	flock -w "$(tp_secs 300)" 9 || tp_hard_error "another Postfix test holds $LOCK"
fi

PB=$(tp_free_port)	# smtpd with smtpd_upstream_proxy_protocol = haproxy
XB=$(tp_free_port)	# smtpd trusting XCLIENT
SVC_PB="127.0.0.1:$PB/inet"
SVC_XB="127.0.0.1:$XB/inet"
HELD=""
POSTFIX_STARTED=0
cleanup_postfix() {
	local id
	for id in $HELD; do
		postsuper -d "$id" hold >/dev/null 2>&1
	done
	if [ "$POSTFIX_STARTED" = 1 ] && postfix status >/dev/null 2>&1; then
		postfix stop >/dev/null 2>&1
	fi
	postconf -MX "$SVC_PB" "$SVC_XB" 2>/dev/null
}
TP_CLEANUP_HOOK=cleanup_postfix

step() { tp_say "=== $*"; }
port_free() { ! tp_port_listening "$1"; }
above() { [ "$(tp_log_count "$1" "$2")" -gt "$3" ]; }

# ---------------------------------------------------------------- Postfix
step "Postfix $(postconf -h mail_version): backends on 127.0.0.1:$PB (haproxy) and :$XB (XCLIENT)"
if postfix status >/dev/null 2>&1; then
	postfix stop >/dev/null 2>&1
fi
mkdir -p "$CERTDIR"
cp "$T/rsa.pem" "$CERTDIR/server.pem"
cp "$T/rsa.key" "$CERTDIR/server.key"
chmod 600 "$CERTDIR/server.key"
postconf -e \
    "maillog_file = $MAILLOG" \
    'inet_interfaces = 127.0.0.1' \
    'inet_protocols = ipv4' \
    'mynetworks = 127.0.0.0/8' ||
	tp_hard_error "postconf -e failed"
# Every message is held, so postcat can show it and nothing is delivered.
HOLD='-o smtpd_end_of_data_restrictions=check_client_access,static:HOLD -o smtpd_client_port_logging=yes'
postconf -M \
    "$SVC_PB=127.0.0.1:$PB inet n - n - - smtpd -o syslog_name=postfix/pp -o smtpd_upstream_proxy_protocol=haproxy -o smtpd_tls_security_level=none $HOLD" \
    "$SVC_XB=127.0.0.1:$XB inet n - n - - smtpd -o syslog_name=postfix/xc -o smtpd_authorized_xclient_hosts=127.0.0.1 -o smtpd_tls_security_level=may -o smtpd_tls_cert_file=$CERTDIR/server.pem -o smtpd_tls_key_file=$CERTDIR/server.key $HOLD" ||
	tp_hard_error "postconf -M failed"
/usr/lib/postfix/configure-instance.sh - >"$T/configure-instance.log" 2>&1 ||
	tp_hard_error "configure-instance.sh: $(cat "$T/configure-instance.log")"
postfix check >"$T/postfix-check.log" 2>&1 || tp_hard_error "postfix check: $(cat "$T/postfix-check.log")"
touch "$MAILLOG"
MAILLOG_START=$(wc -l <"$MAILLOG")
postfix start >"$T/postfix-start.log" 2>&1 || tp_hard_error "postfix start: $(cat "$T/postfix-start.log")"
POSTFIX_STARTED=1
tp_wait_for 20 tp_port_listening "$PB" || tp_hard_error "Postfix does not listen on 127.0.0.1:$PB"
tp_wait_for 20 tp_port_listening "$XB" || tp_hard_error "Postfix does not listen on 127.0.0.1:$XB"

# ---------------------------------------------------------------- tlsproxy
L1=$(tp_free_port); L2=$(tp_free_port); L3=$(tp_free_port)
L4=$(tp_free_port); L5=$(tp_free_port); L6=$(tp_free_port)
cat >"$T/tlsproxy.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
tlsproxy_worker_threads = 16;
tlsproxy_pid_file = "$T/tlsproxy.pid";
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
  { listen = "127.0.0.1:$L6"; backend = "127.0.0.1:$PB"; proxy_protocol = "v2"; }
);
EOF
LOG=$T/tlsproxy.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "tcp:$L1" "tcp:$L2" "tcp:$L3" "tcp:$L4" "tcp:$L5" "tcp:$L6"
D=$TP_DAEMON_PID

# ---------------------------------------------------------------- helpers
# A scripted SMTP client for what swaks cannot do: exact EHLO replies,
# pipelining in one write, commands we must refuse. Each scenario
# asserts and exits non-zero with the reason.
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
            d = self.sock.recv(4096)
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

def expect(cond, what):
    if not cond:
        raise SystemExit("FAILED: " + what)
    print("ok:", what)

def lines(r):
    return r.splitlines(keepends=True)

def has_starttls(r):
    return any(l[4:].rstrip(b"\r\n").upper() == b"STARTTLS" for l in lines(r)[1:])

def with_last(ls, sep):
    return ls[:-1] + [ls[-1][:3] + sep + ls[-1][4:]]

if scenario == "ehlo_add":
    # What the backend says to this client directly vs. through us.
    pb, lst = int(args[0]), int(args[1])
    d = Conn(pb, src="127.0.0.1", proxy_v1=True); d.reply()
    direct = d.cmd(b"EHLO client.test"); d.cmd(b"QUIT")
    print("direct:", direct)
    expect(not has_starttls(direct), "the backend offers no STARTTLS")
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
    expect(has_starttls(direct), "the backend offers STARTTLS")
    pre = c.cmd(b"EHLO client.test")
    print("pre-TLS: ", pre)
    expect(pre == direct, "before TLS the EHLO reply is the backend's, unchanged")
    expect(c.cmd(b"STARTTLS") == b"220 2.0.0 Ready to start TLS\r\n", "220 2.0.0 Ready to start TLS")
    c.tls()
    post = c.cmd(b"EHLO client.test")
    print("post-TLS:", post)
    want = [l for l in lines(direct) if l[4:].rstrip(b"\r\n").upper() != b"STARTTLS"]
    want = b"".join(with_last(want, b" "))
    expect(post == want, "after TLS the EHLO reply is the backend's without its STARTTLS line, nothing else changed")
    expect(c.cmd(b"STARTTLS") == b"554 5.5.1 Error: TLS already active\r\n", "a second STARTTLS gets 554")
    r = c.cmd(b"XCLIENT ADDR=192.0.2.1")
    expect(r == b"550 5.7.0 Error: insufficient authorization\r\n", "the client's own XCLIENT is refused (%r)" % r)
    c.cmd(b"QUIT")
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
    expect(has_starttls(c.cmd(b"EHLO client.test")), "encrypt: STARTTLS offered")
    r = c.cmd(b"MAIL FROM:<sender@example.test>")
    expect(r == b"530 5.7.0 Must issue a STARTTLS command first\r\n", "MAIL before STARTTLS: 530 (%r)" % r)
    r = c.cmd(b"AUTH PLAIN AGZvbwBiYXI=")
    expect(r.startswith(b"530 5.7.0"), "AUTH before STARTTLS: 530")
    expect(c.cmd(b"NOOP").startswith(b"250"), "NOOP is relayed")
    expect(c.cmd(b"RSET").startswith(b"250"), "RSET is relayed")
    expect(c.cmd(b"QUIT").startswith(b"221"), "QUIT is relayed")
elif scenario == "none":
    c = Conn(int(args[0])); c.reply()
    expect(not has_starttls(c.cmd(b"EHLO client.test")), "none: no STARTTLS offered")
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
else:
    raise SystemExit("unknown scenario " + scenario)
PY
smtpc() {
	local name=$1
	shift
	tp_check "$name"
	timeout -k 5 "$(tp_secs 30)" python3 "$T/smtpc.py" "$CLIENT_IP" "$(tp_secs 10)" "$@" \
	    >"$T/$name.out" 2>&1
	local rc=$?
	sed 's/^/    | /' "$T/$name.out"
	[ "$rc" = 0 ] || tp_fail "$name: the scripted client failed ($rc)"
	tp_ok "$name"
}

# deliver NAME PORT SWAKS-ARGS...: one message from $CLIENT_IP; checks
# that it was queued, that the backend logged the client's real
# address, and that the message arrived intact. The queue id is in ID.
deliver() {
	local name=$1 port=$2 tag svc
	shift 2
	tag="tp-$name-$$-$RANDOM"
	printf 'Body of %s.\n.leading dot must survive\n\nlast line %s\n' "$tag" "$tag" >"$T/$name.body"
	tp_check "deliver $name"
	timeout -k 5 "$(tp_secs 30)" swaks --server 127.0.0.1 --port "$port" \
	    --local-interface "$CLIENT_IP" --ehlo client.test --timeout "$(tp_secs 10)" \
	    --from sender@example.test --to root@localhost \
	    --header "Subject: $tag" --body "@$T/$name.body" "$@" >"$T/$name.swaks" 2>&1
	local rc=$?
	sed 's/^/    | /' "$T/$name.swaks"
	[ "$rc" = 0 ] || tp_fail "$name: swaks exited with $rc"
	ID=$(sed -n 's/^.*250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\).*$/\1/p' "$T/$name.swaks" | tail -1)
	[ -n "$ID" ] || tp_fail "$name: no queue id in the swaks output"
	HELD="$HELD $ID"
	tp_wait_for 10 tp_log_has "$MAILLOG" "$ID: client=unknown[$CLIENT_IP]:" ||
		tp_fail "$name: the backend did not log '$ID: client=unknown[$CLIENT_IP]:' (the proxy's address instead?)"
	tp_ok "$name: backend log: $ID: client=unknown[$CLIENT_IP]"
	postcat -bh -q "$ID" >"$T/$name.postcat" 2>&1 || tp_fail "$name: postcat -q $ID failed"
	grep -q "^Subject: $tag\$" "$T/$name.postcat" || tp_fail "$name: Subject missing in the queued message"
	# swaks adds a trailing empty line; compare the body we gave it.
	awk 'f { print } /^$/ && !f { f = 1 }' "$T/$name.postcat" | head -n "$(wc -l <"$T/$name.body")" >"$T/$name.got"
	cmp -s "$T/$name.body" "$T/$name.got" ||
		{ diff "$T/$name.body" "$T/$name.got"; tp_fail "$name: the body changed on the way"; }
	tp_ok "$name: message $ID arrived intact"
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
tp_expect_log "$LOG" "disconnected): STARTTLS taken, TLSv1.3 with cipher"
tp_expect_log "$LOG" "disconnected): STARTTLS not taken, "

# ---------------------------------------------------------------- dialogues
step "8. EHLO edits, exactly"
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

step "9. encrypt refuses before STARTTLS; none offers no STARTTLS"
smtpc encrypt encrypt "$L3"
smtpc none none "$L4"

step "10. STARTTLS\\r\\nRSET\\r\\n in one write: the RSET is not executed"
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

step "11. abuse: long line (500), too many commands (421)"
smtpc abuse abuse "$L1"
tp_expect_log "$LOG" "SMTP session ended (too many commands)"

# ---------------------------------------------------------------- end
step "stop"
tp_alive "$D" || tp_fail "our daemon died"
if tail -n "+$MAILLOG_START" "$MAILLOG" | grep -E 'postfix/(pp|xc)/smtpd' | grep -E 'warning|fatal|panic'; then
	tp_fail "the backends logged warnings"
fi
tp_ok "no warnings from the backends"
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"
tp_say "PASS"
exit 0

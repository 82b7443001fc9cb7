#!/bin/bash
# Certificate rotation by reload with root-only keys (privilege
# separation). Started as root with tlsproxy_user = nobody and its key
# root:root 0600 (as ACME clients leave keys): a live session is open;
# the certificate and key are replaced and SIGHUP sent: new sessions get
# the new certificate, the live one keeps moving bytes, the process that
# talks to the network runs as nobody and the started one stays root as
# the helper. A reload adds a listener on a port below 1024 (bound by
# the helper, held only by the daemon). A reload with a broken key
# changes nothing: the certificate stays and a ticket issued before
# still resumes. Then 20 reloads: the helper's size and descriptors do
# not grow.
. "$(dirname "$0")/lib.sh"

tp_init
[ "$(id -u)" = 0 ] || tp_skip "needs root (a daemon that drops privileges)"
id nobody >/dev/null 2>&1 || tp_skip "no user nobody"
T=$TP_TMP
tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")

# Two certificates; the live one at fixed paths, keys root 0600 in a
# directory only root can enter.
K=$T/keys
mkdir -m 700 "$K"
tp_gen_cert ec "cert-one.test" "$K/one"
tp_gen_cert ec "cert-two.test" "$K/two"
cp -p "$K/one.pem" "$K/live.pem"
cp -p "$K/one.key" "$K/live.key"

P=$(tp_free_port)
S=$T/tlsproxy.sock
# A free port below 1024 for the reload that adds one.
LOW=$(python3 -c 'import socket
for p in range(990, 900, -1):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break')
[ -n "$LOW" ] || tp_skip "no free port below 1024"

# write_conf EXTRA_LISTENERS
write_conf() {
	cat >"$T/tlsproxy.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_eccert_file = "$K/live.pem";
smtpd_tls_eckey_file = "$K/live.key";
tlsproxy_user = "nobody";
tlsproxy_group = "nogroup";
tlsproxy_pid_file = "$T/tlsproxy.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$S"; mode = "0666"; },
  { listen = "127.0.0.1:$P"; backend = "127.0.0.1:$ECHO_PORT"; }$1
);
EOF
}
write_conf ""
LOG=$T/daemon.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "unix:$S" "tcp:$P"
H=$TP_DAEMON_PID
tp_wait_for 10 test -n "$(pgrep -P "$H")" || tp_fail "the helper has no child"
D=$(pgrep -P "$H")

tp_check "two processes: the helper stays root, the daemon runs as nobody"
nuid=$(id -u nobody)
[ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$D/status")" = "$nuid $nuid $nuid $nuid" ] ||
	tp_fail "the daemon $D does not run as nobody"
[ "$(awk '/^Uid:/ { print $2 }' "/proc/$H/status")" = 0 ] || tp_fail "the helper is not root"
[ "$(cat "$T/tlsproxy.pid")" = "$H" ] || tp_fail "the pid file does not name the helper"
tp_ok "helper $H (root, named by the pid file), daemon $D (uid $nuid)"

# The client side: one Python process with a live session, a saved
# ticket and fresh sessions, stepping through phases on cue.
cat >"$T/client.py" <<'PY'
import os, socket, ssl, subprocess, sys, time
port, low, step = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3

def cn(s):
    der = s.getpeercert(True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                          "-subject", "-nameopt", "multiline"],
                         input=der, capture_output=True).stdout.decode()
    return out.split("commonName")[1].split("=")[1].strip()

def connect(p, session=None):
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", p), timeout=10),
                           session=session)

def echo(s, what):
    s.sendall(what + b"\n")
    got = b""
    while not got.endswith(b"\n"):
        d = s.recv(100)
        if not d:
            raise SystemExit("FAIL: %r: connection closed" % what)
        got += d
    if got != what + b"\n":
        raise SystemExit("FAIL: %r echoed as %r" % (what, got))

def cue(name):
    open(step + "." + name, "w").close()
    for _ in range(600):
        if os.path.exists(step + ".go-" + name):
            return
        time.sleep(0.1)
    raise SystemExit("FAIL: no cue " + name)

live = connect(port)
echo(live, b"live-1")
print("live session: %s" % cn(live), flush=True)
cue("rotate")
fresh = connect(port)
echo(fresh, b"fresh")
print("after rotation: new session %s" % cn(fresh), flush=True)
fresh.close()
echo(live, b"live-2")
print("after rotation: the live session still echoes", flush=True)
t = connect(port)
echo(t, b"ticket")
saved = t.session
t.close()
cue("broken")
again = connect(port)
echo(again, b"again")
print("after the failed reload: new session %s" % cn(again), flush=True)
again.close()
r = connect(port, saved)
echo(r, b"resumed")
print("after the failed reload: ticket resumed=%s" % r.session_reused, flush=True)
r.close()
lowc = connect(low)
echo(lowc, b"low")
print("port %d: %s" % (low, cn(lowc)), flush=True)
lowc.close()
echo(live, b"live-3")
print("the live session still echoes", flush=True)
live.close()
print("client: done", flush=True)
PY
tp_spawn "$T/client.out" python3 "$T/client.py" "$P" "$LOW" "$T/step"
CL=$TP_LAST_PID
tp_wait_for "$(tp_secs 20)" test -e "$T/step.rotate" || { cat "$T/client.out"; tp_fail "the client did not open its live session"; }

tp_check "rotate certificate and key (root 0600), SIGHUP"
cp -p "$K/two.pem" "$K/live.pem"
cp -p "$K/two.key" "$K/live.key"
[ "$(stat -c '%U %a' "$K/live.key")" = "root 600" ] || tp_fail "the key is not root 0600"
NREL=$(tp_log_count "$LOG" "configuration reloaded")
kill -HUP "$H"
reloaded() { [ "$(tp_log_count "$LOG" "configuration reloaded")" -gt "$NREL" ]; }
tp_wait_for "$(tp_secs 10)" reloaded || tp_fail "no 'configuration reloaded'"
tp_expect_no_log "$LOG" "Permission denied"
tp_ok "reloaded"

tp_check "SIGHUP adding a listener on port $LOW (below 1024)"
write_conf ",
  { listen = \"127.0.0.1:$LOW\"; backend = \"127.0.0.1:$ECHO_PORT\"; }"
NREL=$(tp_log_count "$LOG" "configuration reloaded")
kill -HUP "$H"
tp_wait_for "$(tp_secs 10)" reloaded || tp_fail "no 'configuration reloaded' with port $LOW"
tp_port_listening "$LOW" || tp_fail "nothing listens on port $LOW"
# Held by the daemon only: the helper keeps no listening socket.
inode=$(awk -v p=":$(printf '%04X' "$LOW")" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp)
ls -l "/proc/$D/fd" 2>/dev/null | grep -q "socket:\[$inode\]" || tp_fail "the daemon does not hold port $LOW"
! ls -l "/proc/$H/fd" 2>/dev/null | grep -q "socket:\[$inode\]" || tp_fail "the helper holds port $LOW"
for f in "/proc/$H/fd"/*; do
	l=$(readlink "$f")
	case $l in socket:*) ;; *) continue ;; esac
	i=${l#socket:[}; i=${i%]}
	! awk '$4 == "0A" { print $10 }' /proc/net/tcp | grep -q -x "$i" ||
		tp_fail "the helper holds a listening TCP socket ($l)"
done
tp_ok "port $LOW bound through the helper, held by the daemon $D only"
touch "$T/step.go-rotate"

tp_wait_for "$(tp_secs 20)" test -e "$T/step.broken" || { cat "$T/client.out"; tp_fail "the client did not get past the rotation"; }
tp_check "a reload with a broken key keeps everything"
echo "not a key" >"$K/live.key"
kill -HUP "$H"
tp_wait_for "$(tp_secs 10)" tp_log_has "$LOG" "reload failed; keeping the running configuration" ||
	tp_fail "no 'reload failed' for a broken key"
tp_expect_log "$LOG" "smtpd_tls_eckey_file (through tlsproxy_tls_eckey_file): cannot load ECDSA private key from $K/live.key"
touch "$T/step.go-broken"
tp_wait_exit "$CL" "$(tp_secs 30)" || tp_fail "the client did not finish"
sed 's/^/    | /' "$T/client.out"
[ "$TP_LAST_STATUS" = 0 ] || tp_fail "client: $(grep FAIL "$T/client.out")"
for line in "live session: cert-one.test" \
    "after rotation: new session cert-two.test" \
    "after rotation: the live session still echoes" \
    "after the failed reload: new session cert-two.test" \
    "after the failed reload: ticket resumed=True" \
    "port $LOW: cert-two.test" \
    "the live session still echoes"; do
	grep -q -x -F "$line" "$T/client.out" || tp_fail "client output lacks: $line"
done
tp_ok "new certificate after rotation, old one kept after the broken reload, ticket resumed, live session intact"

tp_check "20 reloads: the helper does not grow"
cp -p "$K/two.key" "$K/live.key"
fds0=$(tp_fd_count "$H")
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
NREL=$(tp_log_count "$LOG" "configuration reloaded")
kill -HUP "$H"
tp_wait_for "$(tp_secs 10)" reloaded || tp_fail "no reload"
rss0=$(rss "$H")
for i in $(seq 1 20); do
	NREL=$(tp_log_count "$LOG" "configuration reloaded")
	kill -HUP "$H"
	tp_wait_for "$(tp_secs 10)" reloaded || tp_fail "reload $i did not finish"
done
fds1=$(tp_fd_count "$H"); rss1=$(rss "$H")
[ "$fds1" = "$fds0" ] || tp_fail "helper fds $fds0 -> $fds1"
# Under a sanitizer freed memory stays in quarantine; LeakSanitizer
# checks the helper at its exit instead (a leak fails the stop below).
if [ "$TP_SLOW" = 1 ]; then
	[ "$rss1" -le $((rss0 + 512)) ] || tp_fail "helper RSS $rss0 -> $rss1 KiB over 20 reloads"
fi
tp_ok "helper: fds $fds0 -> $fds1, RSS $rss0 -> $rss1 KiB"

tp_check "SIGTERM to the helper: both exit, pid file removed"
tp_stop_daemon "$H" "$LOG"
tp_alive "$D" && tp_fail "the daemon outlived the helper"
[ ! -e "$T/tlsproxy.pid" ] || tp_fail "the pid file is still there"
tp_expect_log "$LOG" "stopped"
tp_ok "stopped"
tp_say "PASS"
exit 0

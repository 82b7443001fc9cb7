#!/bin/bash
# Valgrind memcheck on a short but real run of the daemon: a handoff
# listener (postscreen-style requests, TLS 1.3 and TLS 1.2, bytes both
# ways, two sessions at once), a TCP frontend to an echo backend (TLS 1.3
# and 1.2, resumption by ticket and by session id), the stats socket,
# SIGUSR1, a SIGHUP reload that adds a listener and one that fails, a few
# hostile inputs (garbage and truncated requests, a file instead of a
# socket, peers that vanish or reset in the middle of the handshake or of
# the relay, plaintext instead of TLS), and SIGTERM with a live session
# that the drain timeout interrupts. Memcheck must report no error, no
# definitely or indirectly lost block and (--track-fds) no descriptor of
# the daemon's own still open at exit; tests/valgrind.supp is for narrow,
# explained suppressions (none are needed today). Skipped without
# valgrind and for sanitizer builds, which valgrind cannot run.
. "$(dirname "$0")/lib.sh"
tp_init
command -v valgrind >/dev/null 2>&1 || tp_skip "valgrind is not installed"
# Debian's valgrind needs libc6-dbg (ld.so's symbols) to start at all.
valgrind -q --error-exitcode=97 /bin/true >"$TP_TMP/vgprobe.out" 2>&1 ||
	{ sed 's/^/    | /' "$TP_TMP/vgprobe.out" | tail -5
	  tp_skip "valgrind cannot run here (on Debian, install libc6-dbg)"; }
if grep -q -a -e __asan_init -e __tsan_init -e __msan_init "$TLSPROXY_BIN"; then
	tp_skip "sanitizer build: valgrind cannot run it"
fi
# Under memcheck the daemon runs 20-50 times slower: widen every wait.
TP_SLOW=5
tp_gen_certs
T=$TP_TMP
SUPP=$TOP_SRCDIR/tests/valgrind.supp
[ -f "$SUPP" ] || tp_hard_error "missing $SUPP"

tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")
[ -n "$ECHO_PORT" ] || tp_hard_error "echo server port unknown"

S=$T/tlsproxy.sock
STATS=$T/stats.sock
P1=$(tp_free_port)
P2=$(tp_free_port)
while [ "$P2" = "$P1" ]; do P2=$(tp_free_port); done

# write_conf EXTRA-LISTENER [EXTRA-LINES]
write_conf() {
	cat >"$T/tlsproxy.conf.new" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_eccert_file = "$T/ec.pem";
smtpd_tls_eckey_file = "$T/ec.key";
smtpd_tls_loglevel = "1";
smtpd_tls_session_cache_database = "btree:$T/smtpd_scache";
tlsproxy_worker_threads = 4;
tlsproxy_queue_limit = 16;
tlsproxy_log_rate_limit = 0;
tlsproxy_drain_timeout = "2s";
tlsproxy_pid_file = "$T/tlsproxy.pid";
tlsproxy_stats_socket = "$STATS";
syslog_name = "postfix";
$2
tlsproxy_listeners = (
  { handoff = "$S"; mode = "0666"; },
  { listen = "127.0.0.1:$P1"; backend = "127.0.0.1:$ECHO_PORT";
    handshake_timeout = "120s"; idle_timeout = "120s"; }$1
);
EOF
	mv "$T/tlsproxy.conf.new" "$T/tlsproxy.conf"
}
write_conf ""

# ------------------------------------------------------------ start
LOG=$T/daemon.log
VGLOG=$T/valgrind.log
tp_add_log "$LOG"
tp_add_log "$VGLOG"
tp_say "valgrind $(valgrind --version 2>/dev/null)"
tp_spawn "$LOG" valgrind --tool=memcheck --leak-check=full \
    --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=97 \
    --track-fds=yes --num-callers=40 --suppressions="$SUPP" --log-file="$VGLOG" \
    "$TLSPROXY_BIN" -f -c "$T/tlsproxy.conf"
D=$TP_LAST_PID		# valgrind execs the tool: same pid as the daemon
ready() { ! tp_alive "$D" || { [ -S "$S" ] && tp_port_listening "$P1"; }; }
tp_wait_for 20 ready
tp_alive "$D" || tp_fail "the daemon exited at startup under valgrind"
tp_expect_log "$LOG" "daemon started: 4 worker threads" 20
tp_say "daemon pid $D runs under memcheck"

HC_IO=(--io-timeout "$(tp_secs 30)" --deadline "$(tp_secs 60)")

# ------------------------------------------------------------ handoff
tp_hc_ok "$T/h13.out" "handoff: TLSv1.3, 64 KiB each way" \
    --socket "$S" --bytes 65536 --cafile "$T/ca.pem" --expect-protocol TLSv1.3 \
    "${HC_IO[@]}"
tp_expect_msg "$LOG" "DISCONNECT $(tp_endpoint "$T/h13.out")"
tp_hc_ok "$T/h12.out" "handoff: TLSv1.2, 64 KiB each way, remote side closes first" \
    --socket "$S" --bytes 65536 --tls-max TLSv1.2 --expect-protocol TLSv1.2 \
    --close-first remote "${HC_IO[@]}"
tp_hc_ok "$T/hpar.out" "handoff: two sessions at once, 32 KiB each way" \
    --socket "$S" --parallel 2 --bytes 32768 "${HC_IO[@]}"

# ------------------------------------------------------------ TCP frontend
tp_hc_ok "$T/t13.out" "frontend: TLSv1.3, 64 KiB echoed" \
    --connect "127.0.0.1:$P1" --bytes 65536 --expect-protocol TLSv1.3 "${HC_IO[@]}"
tp_hc_ok "$T/t12.out" "frontend: TLSv1.2, 64 KiB echoed" \
    --connect "127.0.0.1:$P1" --bytes 65536 --tls-max TLSv1.2 \
    --expect-protocol TLSv1.2 "${HC_IO[@]}"

# resume PORT TLSv1.3|TLSv1.2 ticket|id: a full handshake, then a
# resumption with the session it gave; prints "reused=True" on success.
cat >"$T/resume.py" <<'PYEOF'
import socket, ssl, sys
port, version, how, timeout = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = getattr(ssl.TLSVersion, version.replace(".", "_"))
if how == "id":
    ctx.options |= ssl.OP_NO_TICKET
sess = None
for attempt in (1, 2):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    tls = ctx.wrap_socket(raw, session=sess)
    tls.sendall(b"ping %d\n" % attempt)
    got = b""
    while not got.endswith(b"\n"):
        chunk = tls.recv(100)
        if not chunk:
            break
        got += chunk
    if got != b"ping %d\n" % attempt:
        sys.exit("attempt %d: echo %r" % (attempt, got))
    print("attempt %d: %s reused=%s" % (attempt, tls.version(), tls.session_reused))
    sess = tls.session
    tls.close()
PYEOF
resume() {
	local out
	tp_check "frontend: $2 resumption by $3"
	out=$(python3 "$T/resume.py" "$P1" "$2" "$3" "$(tp_secs 30)" 2>&1)
	echo "$out" | sed 's/^/    | /'
	echo "$out" | grep -q "attempt 2: $2 reused=True" ||
		tp_fail "$2 session ($3) not resumed"
	tp_ok "$2 resumed by $3"
}
resume "$P1" TLSv1.3 ticket
resume "$P1" TLSv1.2 ticket
resume "$P1" TLSv1.2 id

# ------------------------------------------------------------ counters
tp_check "stats socket and SIGUSR1"
stats=$(python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(float(sys.argv[2]))
s.connect(sys.argv[1])
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())' "$STATS" "$(tp_secs 10)") || tp_fail "stats socket unreadable"
echo "$stats" | grep -q "^tlsproxy_sessions_live " || tp_fail "stats socket answer: $stats"
kill -USR1 "$D"
tp_expect_log "$LOG" "statistics: sessions_handoff=" 10
tp_ok "counters answered"

# ------------------------------------------------------------ hostile input
tp_hc_ok "$T/garbage.out" "handoff: random bytes instead of a request" \
    --socket "$S" --mode garbage "${HC_IO[@]}"
tp_expect_log "$LOG" "warning: handoff: receive request attributes: " 10
tp_hc_ok "$T/malformed.out" "handoff: a malformed request" \
    --socket "$S" --mode malformed "${HC_IO[@]}"

# Faults from fault_peer.py, each checked by its log lines and followed
# by a good session of its kind (see t_faults.sh for the full table).
REQ="warning: handoff: receive request attributes: "
FDW="warning: handoff: receive remote SMTP peer file descriptor: "
HSF="TLS handshake failed for service=smtpd peer=@EP@"
TSF="TLS handshake failed for service=127.0.0.1:$P1 peer=@EP@"
DIS="DISCONNECT @EP@"
EST="Anonymous TLS connection established from @EP@: "
GONE="warning: handoff: local client closed the connection during the TLS handshake with @EP@"
cat >"$T/faults.tab" <<EOF
trunc-record	${REQ}premature end-of-input in the middle of a request
many-attrs	${REQ}too many attributes
fd-file	${FDW}received descriptor is not a socket ;; $HSF ;; $DIS
vanish-handshake	$GONE ;; $HSF ;; $DIS
rst-handshake	$HSF ;; $DIS
vanish-relay	$EST ;; $DIS
rst-handshake-tcp	$TSF ;; $DIS
nontls-tcp	$TSF ;; $DIS
rst-relay-tcp	$EST ;; $DIS
EOF
tp_check "$(wc -l <"$T/faults.tab") hostile peers, each followed by a good session"
tp_add_log "$T/faults.out"
python3 "$TP_DIR/fault_peer.py" --batch "$T/faults.tab" --log "$LOG" --pid "$D" \
    --socket "$S" --connect "127.0.0.1:$P1" --good-connect "127.0.0.1:$P1" \
    --timeout1 60 --handshake 120 --idle 120 --slack "$(tp_secs 10)" \
    --io-timeout "$(tp_secs 30)" --deadline "$(tp_secs 120)" >"$T/faults.out" 2>&1 ||
	{ sed 's/^/    | /' "$T/faults.out"; tp_fail "hostile peers not handled as specified"; }
sed -n 's/^\(  [a-z-]*  *ok .*\)$/    |\1/p' "$T/faults.out"
tp_alive "$D" || tp_fail "the daemon died"
tp_ok "hostile peers handled"

# ------------------------------------------------------------ reload
log_count_gt() { [ "$(tp_log_count "$1" "$2")" -gt "$3" ]; }
tp_check "SIGHUP: a new configuration with a second TCP listener"
write_conf ",
  { listen = \"127.0.0.1:$P2\"; backend = \"127.0.0.1:$ECHO_PORT\"; }" \
    'tlsproxy_tls_session_cache_timeout = "600s";'
n=$(tp_log_count "$LOG" "configuration reloaded")
kill -HUP "$D"
tp_wait_for 20 log_count_gt "$LOG" "configuration reloaded" "$n" ||
	tp_fail "no 'configuration reloaded' after SIGHUP"
tp_wait_for 10 tp_port_listening "$P2" || tp_fail "the new listener is not up"
tp_hc_ok "$T/r-tcp.out" "frontend after the reload: the new listener" \
    --connect "127.0.0.1:$P2" --bytes 32768 "${HC_IO[@]}"
tp_hc_ok "$T/r-h.out" "handoff after the reload" \
    --socket "$S" --bytes 32768 "${HC_IO[@]}"

tp_check "SIGHUP: a configuration whose key file is missing is refused"
write_conf "" "smtpd_tls_key_file = \"$T/missing.key\";"
n=$(tp_log_count "$LOG" "reload failed; keeping the running configuration")
kill -HUP "$D"
tp_wait_for 20 log_count_gt "$LOG" "reload failed; keeping the running configuration" "$n" ||
	tp_fail "no 'reload failed' after a broken reload"
tp_hc_ok "$T/r2-tcp.out" "the running configuration still serves" \
    --connect "127.0.0.1:$P2" --bytes 16384 "${HC_IO[@]}"

# ------------------------------------------------------------ stop
# One session stays live (the client pauses half-way), so SIGTERM's
# drain times out and interrupts it: the teardown of a live session.
tp_check "SIGTERM with a live session"
tp_hc_bg "$T/live.out" --socket "$S" --bytes 65536 --pause-file "$T/never" \
    --io-timeout "$(tp_secs 30)" --deadline "$(tp_secs 60)"
LIVE=$TP_LAST_PID
live_session() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.exit(0 if b"\ntlsproxy_sessions_live 1\n" in b"\n" + out else 1)' "$STATS"
}
tp_wait_for 20 live_session || tp_fail "the paused session is not live"
kill -TERM "$D"
# Memcheck's leak search runs after main() returns: allow for it.
tp_wait_exit "$D" "$(tp_secs 30)" || tp_fail "no exit within $(tp_secs 30) s of SIGTERM"
RC=$TP_LAST_STATUS
tp_kill "$LIVE"
tp_expect_log "$LOG" "drain timeout: interrupting 1 live sessions"
tp_expect_log "$LOG" "stopped"
[ ! -e "$T/tlsproxy.pid" ] || tp_fail "the pid file is still there"

tp_check "memcheck's verdict"
sed -n '/HEAP SUMMARY/,$p' "$VGLOG" | sed 's/^==[0-9]*== /    | /'
[ "$RC" != 97 ] || tp_fail "memcheck found errors or leaks (exit status 97)"
[ "$RC" = 0 ] || tp_fail "the daemon exited with status $RC"
grep -q "ERROR SUMMARY: 0 errors" "$VGLOG" || tp_fail "memcheck reported errors"
if ! grep -q "All heap blocks were freed" "$VGLOG"; then
	grep -q "definitely lost: 0 bytes in 0 blocks" "$VGLOG" ||
		tp_fail "memcheck: memory definitely lost"
	grep -q "indirectly lost: 0 bytes in 0 blocks" "$VGLOG" ||
		tp_fail "memcheck: memory indirectly lost"
fi
# --track-fds: whatever the daemon opened is closed by the time it exits.
leaked=$(awk '/Open (file descriptor|AF_[A-Z0-9]+ socket) [0-9]+/ {
    o = $0; getline; if ($0 !~ /inherited from parent/) print o }' "$VGLOG")
[ -z "$leaked" ] || tp_fail "descriptors left open at exit: $leaked"
tp_ok "0 errors, nothing definitely or indirectly lost, no descriptor left open"
tp_say "PASS"
exit 0

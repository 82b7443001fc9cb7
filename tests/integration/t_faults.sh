#!/bin/bash
# Fault injection against the real daemon: misbehaving local (handoff)
# clients and remote TLS peers, a full work queue, the descriptor limit,
# and SIGHUP/SIGTERM with ~200 live sessions. For every fault: its log
# line, a good byte-exact session right after it, and at the end of each
# part the daemon's fd and thread counts back at their baseline.
# The faults themselves are in fault_peer.py (see --list); load for the
# signal part comes from soak.py.
. "$(dirname "$0")/lib.sh"
tp_init
tp_gen_certs
T=$TP_TMP
FP="$TP_DIR/fault_peer.py"
SLACK=$(tp_secs 5)

# Failures are collected so that one broken fault does not hide others.
FAILS=""
bad() {
	printf '%s: FAIL: %s\n' "$TP_NAME" "$*"
	FAILS="$FAILS
  $*"
}
still_up() { tp_alive "$1" || tp_fail "the daemon died ($2)"; }

# cpu_ticks PID: user + system time of a process, in clock ticks.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")

# ================================================================ part 1
# One daemon; handoff socket, a TCP frontend with short timeouts for the
# faulty peers (P1) and one with the defaults for good sessions (P2).
S=$T/tlsproxy.sock
P1=$(tp_free_port)
P2=$(tp_free_port)
while [ "$P2" = "$P1" ]; do P2=$(tp_free_port); done
cat >"$T/faults.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
tlsproxy_worker_threads = 16;
tlsproxy_queue_limit = 64;
tlsproxy_log_rate_limit = 0;
tlsproxy_pid_file = "$T/faults.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$S"; mode = "0666"; },
  { listen = "127.0.0.1:$P1"; backend = "127.0.0.1:$ECHO_PORT";
    handshake_timeout = "2s"; idle_timeout = "3s"; },
  { listen = "127.0.0.1:$P2"; backend = "127.0.0.1:$ECHO_PORT"; }
);
EOF
LOG=$T/daemon.log
tp_start_daemon "$LOG" "$T/faults.conf" "unix:$S" "tcp:$P1" "tcp:$P2"
D=$TP_DAEMON_PID
FP_ARGS=(--socket "$S" --connect "127.0.0.1:$P1" --good-connect "127.0.0.1:$P2"
    --timeout1 2 --handshake 2 --idle 3 --slack "$SLACK" --io-timeout "$(tp_secs 20)")

tp_hc_ok "$T/warm1.out" "warm-up: a good handoff session" --socket "$S" --bytes 65536
tp_hc_ok "$T/warm2.out" "warm-up: a good TCP session" --connect "127.0.0.1:$P2" --bytes 65536
tp_expect_msg "$LOG" "DISCONNECT $(tp_endpoint "$T/warm2.out")"
FDS=$(tp_fd_count "$D")
THREADS=$(tp_thread_count "$D")
tp_say "baseline: $FDS fds, $THREADS threads"

# The slowest fault runs alongside the others: a handoff session whose
# peers never read (idle limit: Q1 timeout2=0 + 10 s).
tp_check "never-read (handoff): runs in the background"
tp_add_log "$T/never-read.out"
tp_spawn "$T/never-read.out" python3 "$FP" --scenario never-read --no-good "${FP_ARGS[@]}" \
    --deadline "$(tp_secs 60)"
NEVER_PID=$TP_LAST_PID

# The fault table: scenario, then the log lines it must produce
# (" ;; " between lines, " || " between alternatives; @EP@ is the
# endpoint the scenario reports).
REQ="warning: handoff: receive request attributes: "
FDW="warning: handoff: receive remote SMTP peer file descriptor: "
HSF="TLS handshake failed for service=smtpd peer=@EP@"
TSF="TLS handshake failed for service=127.0.0.1:$P1 peer=@EP@"
DIS="DISCONNECT @EP@"
TMO="warning: ciphertext read/write timeout for @EP@"
EST="Anonymous TLS connection established from @EP@: "
LIB="warning: TLS library problem: "
GONE="warning: handoff: local client closed the connection during the TLS handshake with @EP@"
TAB=$T/faults.tab
: >"$TAB"
row() {
	local name=$1 line
	shift
	line=$(printf '%s ;; ' "$@")
	printf '%s\t%s\n' "$name" "${line% ;; }" >>"$TAB"
}
# -- the request (Q1) phase
row trunc-record     "${REQ}premature end-of-input in the middle of a request"
row trunc-value      "${REQ}premature end-of-input in the middle of a request"
row missing-attrs    "${REQ}missing attribute timeout"
row long-name        "${REQ}attribute name too long"
row long-value       "${REQ}attribute value of \"remote_endpoint\" too long"
row many-attrs       "${REQ}too many attributes"
row big-request      "${REQ}request larger than"
row fd-with-request  "${REQ}unexpected file descriptor before the request was complete"
# -- the descriptor
row fd-twice         "$EST" "$DIS"
row fd-two-in-one    "${FDW}malformed descriptor message" "$HSF" "$DIS"
row fd-many          "${FDW}too many descriptors" "$HSF" "$DIS"
row fd-file          "${FDW}received descriptor is not a socket" "$HSF" "$DIS"
row fd-pipe          "${FDW}received descriptor is not a socket" "$HSF" "$DIS"
row fd-udp           "${FDW}received descriptor is not a stream socket" "$HSF" "$DIS"
row fd-listen        "$FDW" "$HSF" "$DIS"
row fd-unconnected   "$FDW" "$HSF" "$DIS"
# -- the local client vanishes at every step
row vanish-connect   "$REQ || warning: handoff: write protocol attribute: "
row vanish-r1        "${REQ}unexpected EOF before the request"
row vanish-mid-q1    "${REQ}premature end-of-input in the middle of a request"
row vanish-status    "${FDW}unexpected EOF" "$HSF" "$DIS"
row vanish-fd        "$GONE" "$HSF" "$DIS"
row vanish-handshake "$GONE" "$HSF" "$DIS"
row vanish-relay     "$EST" "$DIS"
# -- remote peers on the handed-off socket
row slowloris        "$TMO" "$HSF" "$DIS"
row dribble          "$TMO" "$HSF" "$DIS"
row nontls           "${LIB}error:" "$HSF" "$DIS"
row alert            "${LIB}error:" "$HSF" "$DIS"
row rst              "$HSF" "$DIS"
row rst-handshake    "$HSF" "$DIS"
row rst-relay        "$EST" "$DIS"
row big-hello        "$HSF" "$DIS"
row huge-hello       "excessive message size" "$HSF" "$DIS"
row reneg            "${EST}TLSv1.2 " "$DIS"
# -- remote peers on the TCP frontend
row slowloris-tcp    "$TMO" "$TSF" "$DIS"
row dribble-tcp      "$TMO" "$TSF" "$DIS"
row nontls-tcp       "${LIB}error:" "$TSF" "$DIS"
row alert-tcp        "${LIB}error:" "$TSF" "$DIS"
row rst-tcp          "$TSF" "$DIS"
row rst-handshake-tcp "$TSF" "$DIS"
row rst-relay-tcp    "$EST" "$DIS"
row big-hello-tcp    "$TSF" "$DIS"
row huge-hello-tcp   "excessive message size" "$TSF" "$DIS"
row reneg-tcp        "${EST}TLSv1.2 " "$DIS"
row never-read-tcp   "$EST" "$TMO" "$DIS"

tp_check "$(wc -l <"$TAB") faults, each followed by a good session"
tp_add_log "$T/batch.out"
python3 "$FP" --batch "$TAB" --log "$LOG" --pid "$D" "${FP_ARGS[@]}" \
    --deadline "$(tp_secs 240)" >"$T/batch.out" 2>&1
BATCH_RC=$?
sed 's/^/    | /' "$T/batch.out"
if [ "$BATCH_RC" != 0 ]; then
	grep '^FAIL: ' "$T/batch.out" | while IFS= read -r l; do
		printf '%s: FAIL: fault %s\n' "$TP_NAME" "${l#FAIL: }"
	done
	bad "faults not handled as specified: $(sed -n 's/^FAIL: \([^:]*\): .*/\1/p' "$T/batch.out" | sort -u | tr '\n' ' ')"
else
	tp_ok "every fault handled as specified"
fi
still_up "$D" "faults"

tp_check "never-read (handoff): stuck session ended by the idle limit"
if ! tp_wait_exit "$NEVER_PID" "$(tp_secs 60)"; then
	bad "never-read (handoff): client still running"
else
	sed 's/^/    | /' "$T/never-read.out"
	EP=$(sed -n 's/^endpoint=//p' "$T/never-read.out" | head -1)
	if [ "$TP_LAST_STATUS" != 0 ]; then
		bad "never-read (handoff): $(grep FAIL "$T/never-read.out" | head -1)"
	elif ! tp_log_msg "$LOG" "warning: ciphertext read/write timeout for $EP" ||
	    ! tp_log_msg "$LOG" "DISCONNECT $EP"; then
		bad "never-read (handoff): no timeout/DISCONNECT line for $EP"
	else
		tp_ok "never-read (handoff): $(sed -n 's/^observed: //p' "$T/never-read.out")"
	fi
fi

tp_check "part 1: no fd or thread leak"
tp_expect_baseline "$D" "$FDS" "$THREADS"
tp_hc_ok "$T/after1.out" "a good handoff session at the end" --socket "$S" --bytes 262144
tp_hc_ok "$T/after2.out" "a good TCP session at the end" --connect "127.0.0.1:$P2" --bytes 262144
if grep -q -E 'panic:|fatal:|watchdog:' "$LOG"; then
	bad "part 1: the log has panic/fatal/watchdog lines: $(grep -E 'panic:|fatal:|watchdog:' "$LOG" | head -3)"
fi
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"

# ================================================================ part 2
# Two workers and a session limit of 4; many silent clients. Waiting
# sessions hold no worker, so the limit, not the pool, refuses.
S=$T/tlsproxy-q.sock
PQ=$(tp_free_port)
cat >"$T/queue.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
tlsproxy_worker_threads = 2;
tlsproxy_max_sessions = 4;
tlsproxy_log_rate_limit = 0;
tlsproxy_pid_file = "$T/queue.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$S"; mode = "0666"; },
  { listen = "127.0.0.1:$PQ"; backend = "127.0.0.1:$ECHO_PORT"; handshake_timeout = "30s"; }
);
EOF
LOG=$T/daemon-queue.log
tp_start_daemon "$LOG" "$T/queue.conf" "unix:$S" "tcp:$PQ"
D=$TP_DAEMON_PID
tp_hc_ok "$T/qwarm.out" "session limit: a good session (warm-up)" --socket "$S" --bytes 65536
FDS=$(tp_fd_count "$D")
THREADS=$(tp_thread_count "$D")
tp_check "session limit: 16 silent handoff clients and 8 TCP clients (2 workers, at most 4 sessions)"
python3 "$FP" --scenario session-flood --socket "$S" --connect "127.0.0.1:$PQ" \
    --handoff-clients 16 --tcp-clients 8 --max-sessions 4 --slack "$SLACK" \
    --deadline "$(tp_secs 60)" >"$T/flood.out" 2>&1
RC=$?
sed 's/^/    | /' "$T/flood.out"
if [ "$RC" != 0 ]; then
	bad "session limit: $(grep FAIL "$T/flood.out" | head -1)"
else
	n=$(tp_log_count "$LOG" "warning: too many sessions (limit 4): refused handoff client on $S")
	m=$(tp_log_count "$LOG" "warning: too many sessions (limit 4): refused connection from ")
	# 12 refused silent handoff clients + the good one refused while full.
	if [ "$n" != 13 ] || [ "$m" != 8 ]; then
		bad "session limit: $n handoff and $m TCP refusals logged, expected 13 and 8"
	else
		tp_ok "session limit: 13 handoff and 8 TCP refusals logged; served again afterwards"
	fi
fi
tp_expect_baseline "$D" "$FDS" "$THREADS"
still_up "$D" "queue"
tp_stop_daemon "$D" "$LOG"

# ================================================================ part 3
# The descriptor limit: ulimit -n 64 (soft and hard), 100 silent TCP
# connections. The capacity the limit allows is logged at start;
# beyond it clients are refused with a log line, not left to EMFILE.
S=$T/tlsproxy-fd.sock
PF=$(tp_free_port)
cat >"$T/fdlimit.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
tlsproxy_worker_threads = 4;
tlsproxy_max_sessions = 1000;
tlsproxy_log_rate_limit = 0;
tlsproxy_pid_file = "$T/fdlimit.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$S"; mode = "0666"; },
  { listen = "127.0.0.1:$PF"; backend = "127.0.0.1:$ECHO_PORT"; handshake_timeout = "30s"; }
);
EOF
LOG=$T/daemon-fd.log
tp_add_log "$LOG"
# shellcheck disable=SC2016
tp_spawn "$LOG" bash -c 'ulimit -n 64 && exec "$0" -f -c "$1"' "$TLSPROXY_BIN" "$T/fdlimit.conf"
D=$TP_LAST_PID
tp_wait_for 15 tp_daemon_ready_tcp "$D" "$PF"
tp_wait_for 15 tp_daemon_ready_unix "$D" "$S"
still_up "$D" "start with ulimit -n 64"
tp_say "daemon pid $D is up with $(awk '/Max open files/ { print $4 }' "/proc/$D/limits") descriptors at most"
CAP=$(sed -n 's/.*capacity: \([0-9]*\) sessions (fd limit 64)$/\1/p' "$LOG" | head -1)
if [ -n "$CAP" ] && [ "$CAP" -ge 4 ] && [ "$CAP" -le 30 ]; then
	tp_ok "log: capacity: $CAP sessions (fd limit 64)"
else
	bad "fd limit: no plausible 'capacity: N sessions (fd limit 64)' line (N='$CAP')"
	CAP=11
fi
tp_expect_msg "$LOG" "warning: tlsproxy_max_sessions = 1000 needs a descriptor limit of 2290; with the limit there is, at most $CAP sessions are admitted"
tp_hc_ok "$T/fwarm.out" "fd limit: a good TCP session (warm-up)" --connect "127.0.0.1:$PF" --bytes 65536
tp_expect_msg "$LOG" "DISCONNECT $(tp_endpoint "$T/fwarm.out")"
FDS=$(tp_fd_count "$D")
THREADS=$(tp_thread_count "$D")
tp_say "baseline: $FDS fds, $THREADS threads"
tp_check "fd limit: 100 silent TCP connections"
rm -f "$T/fd.go"
tp_add_log "$T/hold.out"
tp_spawn "$T/hold.out" python3 "$FP" --scenario hold-many --connect "127.0.0.1:$PF" \
    --count 100 --hold-file "$T/fd.go" --hold "$(tp_secs 60)" --deadline "$(tp_secs 90)"
HOLD_PID=$TP_LAST_PID
# shellcheck disable=SC2317
holding() { grep -q HOLDING "$T/hold.out"; }
tp_wait_for 20 holding || tp_fail "the holder did not connect"
FULL="warning: too many sessions (limit $CAP): refused connection from "
# shellcheck disable=SC2317
refused_all() { [ "$(tp_log_count "$LOG" "$FULL")" -ge $((100 - CAP)) ]; }
if tp_wait_for 20 refused_all; then
	tp_ok "log: $(tp_log_count "$LOG" "$FULL") x '${FULL}...'"
else
	bad "fd limit: $(tp_log_count "$LOG" "$FULL") '$FULL' lines, expected at least $((100 - CAP))"
fi
if tp_log_has "$LOG" "Too many open files"; then
	bad "fd limit: the daemon ran out of descriptors: $(grep -m1 'Too many open files' "$LOG")"
else
	tp_ok "fd limit: never out of descriptors"
fi
still_up "$D" "fd limit"
c0=$(cpu_ticks "$D")
sleep 2
c1=$(cpu_ticks "$D")
NFD=$(tp_fd_count "$D")
tp_say "at the limit: $NFD fds open; over 2 s: $((c1 - c0)) CPU ticks"
if [ $((c1 - c0)) -gt $(( 50 * TP_SLOW )) ]; then
	bad "fd limit: the daemon used $((c1 - c0)) CPU ticks in 2 s at the limit"
else
	tp_ok "fd limit: idle at the limit ($((c1 - c0)) CPU ticks in 2 s)"
fi
tp_hc_ok "$T/ffull.out" "fd limit: a good client while full is closed at once" \
    --connect "127.0.0.1:$PF" --mode expect-close --io-timeout "$(tp_secs 3)"
touch "$T/fd.go"
tp_wait_exit "$HOLD_PID" "$(tp_secs 30)" || bad "fd limit: the holder did not finish"
sed 's/^/    | /' "$T/hold.out"
# shellcheck disable=SC2317
drained() { [ "$(tp_fd_count "$D")" -le "$FDS" ]; }
tp_wait_for 30 drained || true
tp_hc_ok "$T/fafter.out" "fd limit: a good TCP session afterwards" --connect "127.0.0.1:$PF" --bytes 65536
tp_hc_ok "$T/fafter2.out" "fd limit: a good handoff session afterwards" --socket "$S" --bytes 65536
tp_expect_baseline "$D" "$FDS" "$THREADS"
tp_stop_daemon "$D" "$LOG"

# ================================================================ part 4
# SIGHUP and SIGTERM with 200 live sessions (100 handoff, 100 TCP),
# each held half-way through its transfer.
S=$T/tlsproxy-sig.sock
PS=$(tp_free_port)
cat >"$T/signals.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
tlsproxy_worker_threads = 256;
tlsproxy_drain_timeout = "20s";
tlsproxy_log_rate_limit = 0;
tlsproxy_pid_file = "$T/signals.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$S"; mode = "0666"; },
  { listen = "127.0.0.1:$PS"; backend = "127.0.0.1:$ECHO_PORT"; }
);
EOF
LOG=$T/daemon-sig.log
tp_start_daemon "$LOG" "$T/signals.conf" "unix:$S" "tcp:$PS"
D=$TP_DAEMON_PID
tp_hc_ok "$T/swarm.out" "signals: a good session (warm-up)" --socket "$S" --bytes 65536
FDS=$(tp_fd_count "$D")
THREADS=$(tp_thread_count "$D")
tp_say "baseline: $FDS fds, $THREADS threads"

# start_200 NAME: 200 sessions that stop half-way until $T/NAME.go exists.
start_200() {
	rm -f "$T/$1.go"
	tp_add_log "$T/$1.out"
	tp_spawn "$T/$1.out" python3 "$TP_DIR/soak.py" --socket "$S" --connect "127.0.0.1:$PS" \
	    --paused 200 --bytes 65536 --go-file "$T/$1.go" --deadline "$(tp_secs 120)"
	LOAD_PID=$TP_LAST_PID
	# shellcheck disable=SC2317
	all_paused() { grep -q 'ALL PAUSED' "$T/$1.out"; }
	tp_wait_for 60 all_paused "$1" || tp_fail "$1: the 200 sessions did not get going: $(tail -3 "$T/$1.out")"
	tp_ok "$1: 200 sessions live, half-way ($(tp_fd_count "$D") daemon fds)"
}
# finish_200 NAME: let them go on; all must complete byte-exact.
finish_200() {
	touch "$T/$1.go"
	if ! tp_wait_exit "$LOAD_PID" "$(tp_secs 90)"; then
		bad "$1: the sessions did not finish"
		return
	fi
	sed 's/^/    | /' "$T/$1.out"
	if [ "$TP_LAST_STATUS" = 0 ]; then
		tp_ok "$1: all 200 sessions completed byte-exact"
	else
		bad "$1: $(grep -c '^FAIL' "$T/$1.out") sessions failed"
	fi
}

tp_check "SIGHUP with 200 live sessions"
start_200 hup
kill -HUP "$D"
tp_expect_msg "$LOG" "configuration reloaded"
still_up "$D" "SIGHUP"
tp_hc_ok "$T/hupnew.out" "a new session after the reload, next to the 200" --socket "$S" --bytes 65536
finish_200 hup
tp_expect_baseline "$D" "$FDS" "$THREADS"

tp_check "SIGTERM with 200 live sessions: they drain, then exit 0"
start_200 term
T0=$(date +%s.%N)
kill -TERM "$D"
tp_expect_msg "$LOG" "terminating on signal 15"
tp_expect_msg "$LOG" "waiting up to 20 s for 200 live sessions"
[ ! -e "$S" ] || bad "SIGTERM: the handoff socket is still there while draining"
! tp_port_listening "$PS" || bad "SIGTERM: 127.0.0.1:$PS still listens while draining"
still_up "$D" "SIGTERM, before the sessions finished"
finish_200 term
if ! tp_wait_exit "$D" "$(tp_secs 25)"; then
	bad "SIGTERM: the daemon is still running $(tp_secs 25)s after its sessions ended"
else
	T1=$(date +%s.%N)
	SECS=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')
	if [ "$TP_LAST_STATUS" != 0 ]; then
		bad "SIGTERM: exit status $TP_LAST_STATUS"
	elif awk -v s="$SECS" 'BEGIN { exit !(s > 20 + 2) }'; then
		bad "SIGTERM: exited ${SECS}s after the signal, the drain timeout is 20s"
	else
		tp_ok "SIGTERM: exit status 0, ${SECS}s after the signal"
	fi
	tp_expect_no_log "$LOG" "drain timeout"
	tp_expect_msg "$LOG" "stopped"
	tp_check_sanitizers "$LOG"
fi

if [ -n "$FAILS" ]; then
	for f in "$T"/daemon*.log; do
		printf '%s: ----- %s (last 60 lines) -----\n' "$TP_NAME" "$f"
		tail -n 60 "$f"
	done
	printf '%s: FAIL: these faults were not handled as specified:%s\n' "$TP_NAME" "$FAILS"
	exit 1
fi
tp_say "PASS"
exit 0

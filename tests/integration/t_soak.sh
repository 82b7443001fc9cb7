#!/bin/bash
# Mixed soak: many sessions, a fifth of them faulty peers, the rest good
# sessions with random sizes (1 B .. 256 KiB each way, SHA-256 both
# ways), on the handoff socket and on a TCP frontend, with concurrency
# near the worker pool size. Afterwards: no crash, no leaked fds or
# threads, resident memory back near its baseline, every CONNECT
# matched by a DISCONNECT.
#
#   SOAK_SESSIONS     sessions (default 2000; "make soak" runs 10000)
#   SOAK_CONCURRENCY  sessions at a time (default 48; the pool has 64)
#   SOAK_SEED         random seed (default: a new one, printed)
#   SOAK_RSS_SLACK_MIB  allowed RSS growth after the soak (default 20)
. "$(dirname "$0")/lib.sh"
tp_init
tp_gen_certs
T=$TP_TMP

SESSIONS=${SOAK_SESSIONS:-2000}
CONC=${SOAK_CONCURRENCY:-48}
RSS_SLACK=${SOAK_RSS_SLACK_MIB:-20}
for v in "$SESSIONS" "$CONC" "$RSS_SLACK"; do
	case $v in
	'' | *[!0-9]*) tp_hard_error "SOAK_SESSIONS, SOAK_CONCURRENCY and SOAK_RSS_SLACK_MIB must be numbers" ;;
	esac
done
if [ "$CONC" -lt 1 ] || [ "$CONC" -gt 64 ]; then
	tp_hard_error "SOAK_CONCURRENCY must be 1..64"
fi
SEED_ARG=""
[ -n "${SOAK_SEED:-}" ] && SEED_ARG="--seed $SOAK_SEED"
# About 25 sessions a second are expected; allow for slow machines.
LIMIT=$(( (SESSIONS / 10 + 120) * TP_SLOW ))

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")
S=$T/tlsproxy.sock
P1=$(tp_free_port)
P2=$(tp_free_port)
while [ "$P2" = "$P1" ]; do P2=$(tp_free_port); done
cat >"$T/soak.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
tlsproxy_worker_threads = 64;
tlsproxy_log_rate_limit = 0;
tlsproxy_pid_file = "$T/soak.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$S"; mode = "0666"; },
  { listen = "127.0.0.1:$P1"; backend = "127.0.0.1:$ECHO_PORT";
    handshake_timeout = "2s"; idle_timeout = "3s"; },
  { listen = "127.0.0.1:$P2"; backend = "127.0.0.1:$ECHO_PORT"; }
);
EOF
LOG=$T/daemon.log
tp_start_daemon "$LOG" "$T/soak.conf" "unix:$S" "tcp:$P1" "tcp:$P2"
D=$TP_DAEMON_PID

tp_hc_ok "$T/warm1.out" "warm-up: a good handoff session" --socket "$S" --bytes 65536
tp_hc_ok "$T/warm2.out" "warm-up: a good TCP session" --connect "127.0.0.1:$P2" --bytes 65536
tp_expect_msg "$LOG" "DISCONNECT $(tp_endpoint "$T/warm2.out")"
FDS=$(tp_fd_count "$D")
THREADS=$(tp_thread_count "$D")
RSS0=$(rss_kib "$D")
tp_say "baseline: $FDS fds, $THREADS threads, RSS $(mib "$RSS0")"

tp_check "soak: $SESSIONS sessions, concurrency $CONC, 20% faulty (bound ${LIMIT}s)"
tp_add_log "$T/soak.out"
START=$(date +%s)
# shellcheck disable=SC2086
python3 "$TP_DIR/soak.py" --socket "$S" --connect "127.0.0.1:$P2" \
    --fault-connect "127.0.0.1:$P1" --handshake 2 --idle 3 --timeout1 1 \
    --sessions "$SESSIONS" --concurrency "$CONC" --fault-ratio 0.2 \
    --max-bytes 262144 --pid "$D" --slack "$(tp_secs 5)" \
    --io-timeout "$(tp_secs 60)" --deadline "$LIMIT" $SEED_ARG >"$T/soak.out" 2>&1
RC=$?
END=$(date +%s)
sed 's/^/    | /' "$T/soak.out"
tp_alive "$D" || tp_fail "the daemon died during the soak"
[ "$RC" = 0 ] || tp_fail "soak: $(grep -c 'soak: FAIL' "$T/soak.out") failures (see above)"
tp_ok "soak: every session behaved ($((END - START))s)"

tp_check "no fd or thread leak"
tp_expect_baseline "$D" "$FDS" "$THREADS"
sleep 1
RSS1=$(rss_kib "$D")
PEAK=$(sed -n 's/^SOAK_RSS_PEAK_KIB=//p' "$T/soak.out")
tp_say "RSS: baseline $(mib "$RSS0"), peak $(mib "${PEAK:-0}"), after $(mib "$RSS1")"
if [ "$TP_SLOW" -gt 1 ]; then
	# A sanitizer keeps freed memory in quarantine: RSS says nothing
	# here. LeakSanitizer checks for leaks when the daemon exits.
	tp_say "RSS not checked in a sanitizer build (leaks are checked at exit)"
else
	[ "$RSS1" -le $((RSS0 + RSS_SLACK * 1024)) ] ||
		tp_fail "RSS after the soak is $(mib "$RSS1"), more than $RSS_SLACK MiB above the baseline $(mib "$RSS0")"
	tp_ok "RSS back near its baseline (at most $RSS_SLACK MiB above it)"
fi

tp_check "log: every CONNECT has its DISCONNECT, no watchdog, no refusals"
NC=$(grep -c -E ': CONNECT (from|to) ' "$LOG")
ND=$(grep -c ': DISCONNECT ' "$LOG")
tp_say "$NC CONNECT lines, $ND DISCONNECT lines"
[ "$NC" = "$ND" ] || tp_fail "$NC CONNECT lines but $ND DISCONNECT lines"
for bad in "watchdog:" "panic:" "fatal:" "work queue full" "out of memory"; do
	tp_expect_no_log "$LOG" "$bad"
done
tp_ok "log consistent"

kill -USR1 "$D"
tp_expect_log "$LOG" "statistics: sessions_handoff="
tp_say "daemon counters: $(grep 'statistics: sessions_handoff=' "$LOG" | tail -1 | sed 's/^.*statistics: //')"
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"
tp_say "figures: $(grep '^soak: [0-9]* sessions in' "$T/soak.out" | sed 's/^soak: //')"
tp_say "figures: $(grep '^soak: good:' "$T/soak.out" | sed 's/^soak: //')"
tp_say "figures: $(grep '^soak: .* MiB of plaintext' "$T/soak.out" | sed 's/^soak: //')"
tp_say "figures: RSS baseline $(mib "$RSS0"), peak $(mib "${PEAK:-0}"), after $(mib "$RSS1")"
tp_say "PASS"
exit 0

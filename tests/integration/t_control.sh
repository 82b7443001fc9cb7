#!/bin/bash
# Daemon control and containment: "tlsproxy -s status|reload|stop" through
# the pid file (LSB exit codes), and, when run as root, the privilege drop
# to tlsproxy_user after loading keys (uid/gid checked in /proc, sessions
# still served, a warning when running as root without it).
. "$(dirname "$0")/lib.sh"
tp_init
tp_gen_certs
T=$TP_TMP
tp_start_echo --listen tcp:127.0.0.1:0
ECHO_PORT=$(awk '$1 == "tcp" { print $3 }' "$T/echo.ready")
P=$(tp_free_port)
write_conf() {
	cat >"$T/tlsproxy.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
tlsproxy_pid_file = "$T/tlsproxy.pid";
$1
tlsproxy_listeners = ( { listen = "127.0.0.1:$P"; backend = "127.0.0.1:$ECHO_PORT"; } );
EOF
}
ctl() { "$TLSPROXY_BIN" -c "$T/tlsproxy.conf" -s "$1"; }

write_conf ""
tp_check "-s status without a daemon: exit 3"
ctl status; rc=$?
[ "$rc" = 3 ] || tp_fail "-s status exit $rc, want 3"
ctl stop || tp_fail "-s stop of a stopped daemon should succeed"
tp_ok "not running: status 3, stop 0"

tp_check "daemon mode, then -s status / reload / stop"
"$TLSPROXY_BIN" -c "$T/tlsproxy.conf" || tp_fail "daemon did not start"
tp_wait_for 10 test -s "$T/tlsproxy.pid" || tp_fail "no pid file"
DPID=$(cat "$T/tlsproxy.pid")
tp_register_pid "$DPID"
tp_wait_for 10 tp_port_listening "$P" || tp_fail "daemon not listening"
out=$(ctl status) || tp_fail "-s status exit $? while running"
echo "$out" | grep -q "running (pid $DPID)" || tp_fail "-s status said: $out"
ctl reload || tp_fail "-s reload failed"
out=$(echo hi | timeout "$(tp_secs 10)" openssl s_client -connect "127.0.0.1:$P" -quiet 2>/dev/null)
[ "$out" = hi ] || tp_fail "no echo after reload"
ctl stop || tp_fail "-s stop failed"
kill -0 "$DPID" 2>/dev/null && tp_fail "daemon still running after -s stop"
tp_unregister_pid "$DPID"
[ -e "$T/tlsproxy.pid" ] && tp_fail "pid file left behind"
tp_ok "status, reload and stop work through the pid file"

tp_check "stats socket answers with counters; log file and rate limit"
write_conf "tlsproxy_stats_socket = \"$T/stats.sock\"; tlsproxy_log_file = \"$T/file.log\"; tlsproxy_log_rate_limit = 3;"
"$TLSPROXY_BIN" -c "$T/tlsproxy.conf" || tp_fail "daemon did not start"
tp_wait_for 10 test -s "$T/tlsproxy.pid" || tp_fail "no pid file"
DPID=$(cat "$T/tlsproxy.pid")
tp_register_pid "$DPID"
tp_wait_for 10 test -S "$T/stats.sock" || tp_fail "no stats socket"
[ "$(stat -c %a "$T/stats.sock")" = 600 ] || tp_fail "stats socket mode $(stat -c %a "$T/stats.sock")"
echo hi | timeout "$(tp_secs 10)" openssl s_client -connect "127.0.0.1:$P" -quiet >/dev/null 2>&1
python3 - "$P" <<'PY'
import socket, sys, time
# A burst of 10 non-TLS clients within well under a second.
cs = []
for i in range(10):
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); c.sendall(b"GARBAGE\r\n"); cs.append(c)
for c in cs:
    c.settimeout(5)
    try: c.recv(100)
    except OSError: pass
    c.close()
PY
stats=$(tp_stats "$T/stats.sock")
echo "$stats" | sed 's/^/    | /'
echo "$stats" | grep -q '^sessions_tcp [1-9]' || tp_fail "stats: sessions_tcp not counted"
echo "$stats" | grep -q '^handshakes_full [1-9]' || tp_fail "stats: handshakes_full not counted"
echo "$stats" | grep -q '^sessions_live [0-9]' || tp_fail "stats: no sessions_live gauge"
echo "$stats" | grep -q "^listener_sessions{listener=\"127.0.0.1:$P\"} [1-9]" ||
	tp_fail "stats: no per-listener session count"
echo "$stats" | grep -q "^listener_handshakes_failed{listener=\"127.0.0.1:$P\"} [1-9]" ||
	tp_fail "stats: no per-listener handshake failures"
echo "$stats" | grep -q "^listener_live{listener=\"127.0.0.1:$P\"} [0-9]" ||
	tp_fail "stats: no per-listener live gauge"
echo "$stats" | grep -q '^handoff_client_role [0-9]' || tp_fail "stats: no role counters"
tp_wait_for 10 tp_log_has "$T/file.log" "daemon started" || tp_fail "nothing in tlsproxy_log_file"
sleep 1.2
echo hi | timeout "$(tp_secs 10)" openssl s_client -connect "127.0.0.1:$P" -quiet >/dev/null 2>&1
n=$(grep -c 'TLS handshake failed for service' "$T/file.log")
[ "$n" -lt 10 ] || tp_fail "rate limit did not hold back repeated lines ($n handshake failures logged)"
tp_wait_for 10 tp_log_has "$T/file.log" "similar messages suppressed (tlsproxy_log_rate_limit): TLS handshake failed for service=" ||
	tp_fail "no 'suppressed' summary line naming the message"
# syslog's line format, with the short host name (what pflogsumm reads)
HOST=$(hostname | cut -d. -f1)
bad=$(grep -v -E "^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} $HOST postfix/tlsproxy\[$DPID\]: [^ ]" "$T/file.log" | head -3)
[ -z "$bad" ] || tp_fail "tlsproxy_log_file lines without the syslog format and host name: $bad"
mv "$T/file.log" "$T/file.log.1"
ctl reload >/dev/null
tp_wait_for 10 test -s "$T/file.log" || tp_fail "log file not reopened after reload"
# A rotation without a reload: the daemon notices within seconds.
mv "$T/file.log" "$T/file.log.2"
tp_wait_for 15 tp_log_has "$T/file.log" "reopened tlsproxy_log_file" ||
	tp_fail "log file not reopened after it was moved away (no reload)"
echo hi | timeout "$(tp_secs 10)" openssl s_client -connect "127.0.0.1:$P" -quiet >/dev/null 2>&1
tp_wait_for 10 tp_log_has "$T/file.log" "CONNECT from" || tp_fail "session lines did not go to the new log file"
ctl stop >/dev/null || tp_fail "-s stop failed"
tp_unregister_pid "$DPID"
tp_ok "stats socket, log file (host name in each line; reopened on reload and after a move) and rate limit work"

if [ "$(id -u)" != 0 ]; then
	tp_say "not root: privilege drop not tested"
	tp_say "PASS"
	exit 0
fi

tp_check "started as root without tlsproxy_user: runs, with a warning"
LOG=$T/root.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "tcp:$P"
tp_expect_log "$LOG" "warning: running as root: set tlsproxy_user"
tp_stop_daemon "$TP_DAEMON_PID" "$LOG"

tp_check "tlsproxy_user = nobody: keys loaded as root, then uid/gid switched"
chmod 600 "$T/rsa.key"
write_conf 'tlsproxy_user = "nobody"; tlsproxy_group = "nogroup";'
LOG=$T/drop.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "tcp:$P"
D=$TP_DAEMON_PID
uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$D/status")
gid=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$D/status")
groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$D/status" | xargs)
nuid=$(id -u nobody); ngid=$(getent group nogroup | cut -d: -f3)
[ "$uid" = "$nuid $nuid $nuid $nuid" ] || tp_fail "uids are '$uid', want all $nuid"
[ "$gid" = "$ngid $ngid $ngid $ngid" ] || tp_fail "gids are '$gid', want all $ngid"
[ "$groups" = "$ngid" ] || tp_fail "supplementary groups '$groups', want $ngid"
tp_expect_log "$LOG" "running as user nobody"
out=$(echo hi | timeout "$(tp_secs 10)" openssl s_client -connect "127.0.0.1:$P" -quiet 2>/dev/null)
[ "$out" = hi ] || tp_fail "no echo after the privilege drop"
tp_ok "uid/gid $nuid/$ngid, sessions still served"
tp_check "a reload that cannot read the root-only key keeps the running configuration"
kill -HUP "$D"
tp_wait_for 10 tp_log_has "$LOG" "reload failed; keeping the running configuration" ||
	tp_fail "reload of an unreadable key did not fail cleanly"
out=$(echo hi | timeout "$(tp_secs 10)" openssl s_client -connect "127.0.0.1:$P" -quiet 2>/dev/null)
[ "$out" = hi ] || tp_fail "no echo after the failed reload"
tp_ok "failed reload logged, old configuration serving"
tp_stop_daemon "$D" "$LOG"
tp_say "PASS"
exit 0

#!/bin/bash
# Daemon control and containment: "tlsproxy -s status|reload|stop" through
# the pid file (LSB exit codes), and, when run as root, the privilege drop
# to tlsproxy_user after loading keys (uid/gid of the daemon checked in
# /proc, the helper that started it still root with one thread, sessions
# still served, a reload that reads the root-only key; a warning when
# running as root without tlsproxy_user).
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
tp_stats "$T/stats.sock" >"$T/stats.txt" || tp_fail "stats socket unreadable"
stats=$(cat "$T/stats.txt")
echo "$stats" | grep -v '^#' | sed 's/^/    | /'
echo "$stats" | grep -q '^tlsproxy_sessions_tcp_total [1-9]' || tp_fail "stats: sessions_tcp not counted"
echo "$stats" | grep -q '^tlsproxy_handshakes_full_total [1-9]' || tp_fail "stats: handshakes_full not counted"
echo "$stats" | grep -q '^tlsproxy_sessions_live [0-9]' || tp_fail "stats: no sessions_live gauge"
echo "$stats" | grep -q "^tlsproxy_listener_sessions_total{listener=\"127.0.0.1:$P\"} [1-9]" ||
	tp_fail "stats: no per-listener session count"
echo "$stats" | grep -q "^tlsproxy_listener_handshakes_failed_total{listener=\"127.0.0.1:$P\"} [1-9]" ||
	tp_fail "stats: no per-listener handshake failures"
echo "$stats" | grep -q "^tlsproxy_listener_live{listener=\"127.0.0.1:$P\"} [0-9]" ||
	tp_fail "stats: no per-listener live gauge"
echo "$stats" | grep -q '^tlsproxy_handoff_client_role_total [0-9]' || tp_fail "stats: no role counters"
[ "$(tp_stat "$T/stats.sock" tlsproxy_sessions_tcp_total)" -ge 1 ] 2>/dev/null ||
	tp_fail "tp_stat: no tlsproxy_sessions_tcp_total"
[ "$(tp_stat "$T/stats.sock" sessions_tcp)" -ge 1 ] 2>/dev/null ||
	tp_fail "tp_stat: the short name sessions_tcp finds nothing"
# Prometheus' text exposition format: each family a "# HELP" and a
# "# TYPE" line first, then its samples together; counters end in _total.
python3 - "$T/stats.txt" <<'PY' || tp_fail "stats: not in Prometheus' text format"
import re, sys
header_re = re.compile(r"# (HELP|TYPE) (tlsproxy_[a-z_]+) (.+)$")
sample_re = re.compile(r'(tlsproxy_[a-z_]+)(\{listener="(?:[^"\\\n]|\\.)*"\})? \d+$')
helps, types, sampled, done, bad = {}, {}, set(), set(), []
cur = None
text = open(sys.argv[1]).read()
if not text.endswith("\n"):
    bad.append("no newline at the end")
for no, line in enumerate(text.splitlines(), 1):
    m = header_re.match(line)
    if m:
        kind, name, arg = m.groups()
        seen = helps if kind == "HELP" else types
        if name in seen:
            bad.append("%d: a second %s line for %s" % (no, kind, name))
        if kind == "TYPE" and arg not in ("gauge", "counter"):
            bad.append("%d: %s has type %s" % (no, name, arg))
        if kind == "TYPE" and (arg == "counter") != name.endswith("_total"):
            bad.append("%d: %s: _total is for counters only, and every one" % (no, name))
        seen[name] = arg
        if cur != name:
            done.add(cur)
            cur = name
        continue
    m = sample_re.match(line)
    if not m:
        bad.append("%d: neither HELP, TYPE nor a sample: %s" % (no, line))
        continue
    name = m.group(1)
    if name not in helps or name not in types:
        bad.append("%d: %s without HELP and TYPE lines before it" % (no, name))
    if name != cur or name in done:
        bad.append("%d: %s apart from its family" % (no, name))
    sampled.add(name)
for name in sorted(set(helps) | set(types)):
    if name not in helps or name not in types:
        bad.append("%s: no HELP line or no TYPE line" % name)
    if name not in sampled:
        bad.append("%s: no sample" % name)
for name in ("tlsproxy_sessions_live", "tlsproxy_cache_bytes",
    "tlsproxy_sessions_handoff_total", "tlsproxy_refused_client_rate_total",
    "tlsproxy_listener_live", "tlsproxy_listener_timeouts_total"):
    if types.get(name) is None:
        bad.append("%s missing" % name)
for b in bad:
    print("stats: " + b)
sys.exit(1 if bad else 0)
PY
if command -v promtool >/dev/null 2>&1; then
	out=$(promtool check metrics <"$T/stats.txt" 2>&1) ||
		tp_fail "promtool check metrics: exit $?: $out"
	[ -z "$out" ] || tp_fail "promtool check metrics: $out"
	tp_say "promtool check metrics: no complaints"
else
	tp_say "promtool not installed (Debian package prometheus): stats format not checked by promtool"
fi
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
H=$TP_DAEMON_PID
# The started process stays root as the privileged helper (privsep.h);
# its one child is the daemon that talks to the network.
tp_wait_for 10 test -n "$(pgrep -P "$H")" || tp_fail "the helper has no child"
D=$(pgrep -P "$H")
uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$D/status")
gid=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$D/status")
groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$D/status" | xargs)
nuid=$(id -u nobody); ngid=$(getent group nogroup | cut -d: -f3)
[ "$uid" = "$nuid $nuid $nuid $nuid" ] || tp_fail "uids are '$uid', want all $nuid"
[ "$gid" = "$ngid $ngid $ngid $ngid" ] || tp_fail "gids are '$gid', want all $ngid"
[ "$groups" = "$ngid" ] || tp_fail "supplementary groups '$groups', want $ngid"
huid=$(awk '/^Uid:/ { print $2 }' "/proc/$H/status")
[ "$huid" = 0 ] || tp_fail "the helper runs as uid $huid, want 0"
[ "$(tp_thread_count "$H")" = 1 ] || tp_fail "the helper has $(tp_thread_count "$H") threads"
tp_expect_log "$LOG" "running as user nobody"
tp_expect_log "$LOG" "privileged helper started (pid $H); daemon pid $D"
out=$(echo hi | timeout "$(tp_secs 10)" openssl s_client -connect "127.0.0.1:$P" -quiet 2>/dev/null)
[ "$out" = hi ] || tp_fail "no echo after the privilege drop"
tp_ok "daemon $D: uid/gid $nuid/$ngid, sessions served; helper $H: root, one thread"
tp_check "a reload reads the root-only key through the helper"
kill -HUP "$H"
tp_wait_for 10 tp_log_has "$LOG" "configuration reloaded" ||
	tp_fail "no 'configuration reloaded' after SIGHUP with a root-only key"
tp_expect_no_log "$LOG" "reload failed"
out=$(echo hi | timeout "$(tp_secs 10)" openssl s_client -connect "127.0.0.1:$P" -quiet 2>/dev/null)
[ "$out" = hi ] || tp_fail "no echo after the reload"
tp_ok "reloaded as nobody with a root 0600 key; sessions served"
tp_stop_daemon "$H" "$LOG"
tp_alive "$D" && tp_fail "the daemon $D outlived its helper's SIGTERM"
tp_say "PASS"
exit 0

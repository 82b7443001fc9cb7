#!/bin/bash
# The handoff socket as postscreen(8) uses it: TLS 1.3, 1 MiB byte-exact in
# each direction, 20 sessions at once, the log lines, an ECDSA-only
# certificate, the server role disabled, and a TLS 1.2-only daemon.
. "$(dirname "$0")/lib.sh"
tp_init
tp_gen_certs
T=$TP_TMP

# write_conf FILE SOCKET EXTRA-LINES
write_conf() {
	cat >"$1" <<EOF
smtpd_tls_loglevel = "1";
tlsproxy_worker_threads = 8;
tlsproxy_queue_limit = 32;
tlsproxy_pid_file = "$T/tlsproxy.pid";
tlsproxy_drain_timeout = "5s";
syslog_name = "postfix";
$3
tlsproxy_listeners = (
  { handoff = "$2"; mode = "0666"; }
);
EOF
}

cat "$T/ec.key" "$T/ec.pem" >"$T/ec-full.pem"
chmod 600 "$T/ec-full.pem"
RSA_LINES="smtpd_tls_security_level = \"may\";
smtpd_tls_cert_file = \"$T/rsa.pem\";
smtpd_tls_key_file = \"$T/rsa.key\";
tls_server_sni_maps = \"inline:{ ec-sni.test = $T/ec-full.pem }\";"

# ------------------------------------------------------------ (1) RSA, TLS 1.3
S=$T/tlsproxy.sock
write_conf "$T/rsa.conf" "$S" "$RSA_LINES"
LOG=$T/daemon-rsa.log
tp_start_daemon "$LOG" "$T/rsa.conf" "unix:$S"
D=$TP_DAEMON_PID

tp_check "socket mode 0666"
mode=$(stat -c %a "$S")
[ "$mode" = 666 ] || tp_fail "handoff socket mode is $mode, expected 666"
tp_ok "socket mode $mode"

tp_hc_ok "$T/one.out" "one session: TLSv1.3, RSA certificate, 1 MiB each way, local side closes first" \
    --socket "$S" --bytes 1048576 --cafile "$T/ca.pem" --expect-cn "$TP_RSA_CN" \
    --expect-key RSA --expect-protocol TLSv1.3 --expect-cipher TLS_AES_256_GCM_SHA384
EP=$(tp_endpoint "$T/one.out")
tp_expect_msg "$LOG" "CONNECT from $EP"
tp_expect_msg "$LOG" "Anonymous TLS connection established from $EP: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange x25519 server-signature RSA-PSS (2048 bits) server-digest SHA256"
tp_expect_msg "$LOG" "DISCONNECT $EP"
tp_expect_order "$LOG" "CONNECT from $EP" "Anonymous TLS connection established from $EP:" "DISCONNECT $EP"
tp_expect_no_log "$LOG" "handshake failed"

# Postfix 3.12 postscreen: its server TLS settings follow the request in
# the same write, before the status; read by the protocol, even when the
# two records are far longer than one read. Its files make the context,
# as with 3.12's own tlsproxy, when our configuration names them (here
# the EC chain, in an SNI map); one it does not name is never loaded.
# (Both sizes pad the record with a long CApath, which we do not name.)
for size in 1400 12000; do
	tp_hc_ok "$T/q312-$size.out" "3.12 request with a $size-byte server settings record" \
	    --socket "$S" --bytes 65536 --serverid smtp --server-props "$size" \
	    --server-prop "cert_file=$T/rsa.pem" --server-prop "key_file=$T/rsa.key" \
	    --cafile "$T/ca.pem" --expect-cn "$TP_RSA_CN" --expect-protocol TLSv1.3
done
EP=$(tp_endpoint "$T/q312-12000.out")
tp_expect_msg "$LOG" "DISCONNECT $EP"
tp_expect_log "$LOG" "warning: request from tlsproxy server names /nonexistent/x"
tp_hc_ok "$T/q312-ec.out" "3.12 request naming the EC chain our SNI map names: that certificate" \
    --socket "$S" --bytes 4096 --serverid smtp --server-props 1 \
    --server-prop "chain_files=$T/ec-full.pem" \
    --cafile "$T/ca.pem" --expect-cn "$TP_EC_CN" --expect-key EC
tp_hc_ok "$T/q312-ec2.out" "the same request again: the same certificate" \
    --socket "$S" --bytes 4096 --serverid smtp --server-props 1 \
    --server-prop "chain_files=$T/ec-full.pem" \
    --cafile "$T/ca.pem" --expect-cn "$TP_EC_CN" --expect-key EC
cp -p "$T/ec-full.pem" "$T/not-named.pem"
tp_hc_ok "$T/q312-other.out" "3.12 request naming a key file our configuration does not name: our own certificate" \
    --socket "$S" --bytes 4096 --serverid smtp --server-props 1 \
    --server-prop "chain_files=$T/not-named.pem" \
    --cafile "$T/ca.pem" --expect-cn "$TP_RSA_CN"
tp_expect_msg "$LOG" "warning: request from tlsproxy server names $T/not-named.pem, a file this daemon's configuration does not name; serving with this daemon's own settings"
tp_expect_msg "$LOG" "warning: request from tlsproxy server with unexpected settings"
tp_expect_log "$LOG" "warning: server settings that differ from this daemon's: "
n=$(tp_log_count "$LOG" "request from tlsproxy server with unexpected settings")
[ "$n" = 4 ] || tp_fail "the server settings warning was logged $n times, not once per distinct difference (4)"
tp_ok "one warning per distinct difference"

tp_hc_ok "$T/slow.out" "backpressure: 4 MiB each way while both readers start 2 s late" \
    --socket "$S" --bytes 4194304 --read-delay 2 --io-timeout "$(tp_secs 60)"

tp_hc_ok "$T/remote.out" "remote side closes first: the last bytes are flushed, then the local side is closed" \
    --socket "$S" --bytes 262144 --close-first remote --expect-protocol TLSv1.3
EP=$(tp_endpoint "$T/remote.out")
tp_expect_msg "$LOG" "DISCONNECT $EP"

tp_hc_ok "$T/serverid.out" "serverid and timeouts as smtp(8) would send them are accepted" \
    --socket "$S" --bytes 4096 --timeout1 300 --timeout2 600 --serverid smtpd

tp_hc_ok "$T/par.out" "20 sessions in parallel, 1 MiB each way each" \
    --socket "$S" --parallel 20 --bytes 1048576 --expect-protocol TLSv1.3 \
    --expect-cn "$TP_RSA_CN" --deadline "$(tp_secs 300)" --io-timeout "$(tp_secs 120)"
# Two sessions may show the same endpoint: each remote socket connects to
# a listener of its own, so the kernel may give two the same local port.
grep -o 'endpoint=\[127\.0\.0\.1\]:[0-9]*' "$T/par.out" | sed 's/endpoint=//' | sort >"$T/par.eps"
n=$(wc -l <"$T/par.eps")
[ "$n" = 20 ] || tp_fail "expected 20 endpoints, got $n"
tp_check "each of the 20 sessions logged CONNECT, TLS established (TLSv1.3), DISCONNECT"
# log_times LOG MESSAGE N: at least N lines have exactly that message.
# shellcheck disable=SC2317
log_times() {
	awk -v m=": $2" -v want="$3" '{ n = length($0); k = length(m)
	    if (n >= k && substr($0, n - k + 1) == m) c++ } END { exit !(c >= want) }' "$1"
}
while read -r k ep; do
	tp_wait_for 10 log_times "$LOG" "DISCONNECT $ep" "$k" || tp_fail "not $k DISCONNECT $ep"
	log_times "$LOG" "CONNECT from $ep" "$k" || tp_fail "not $k CONNECT from $ep"
	[ "$(grep -c -F "Anonymous TLS connection established from $ep: TLSv1.3 with cipher " "$LOG")" -ge "$k" ] ||
		tp_fail "not $k TLS established lines for $ep"
done < <(uniq -c "$T/par.eps")
tp_ok "20 sessions logged"

tp_check_log_format "$LOG" "$D" postfix
tp_check "stop with SIGTERM: exit status 0"
tp_stop_daemon "$D" "$LOG"
tp_expect_msg "$LOG" "stopped"

# ------------------------------------------------------------ (2) ECDSA only
S=$T/tlsproxy-ec.sock
write_conf "$T/ec.conf" "$S" "smtpd_tls_security_level = \"may\";
smtpd_tls_eccert_file = \"$T/ec.pem\";
smtpd_tls_eckey_file = \"$T/ec.key\";"
LOG=$T/daemon-ec.log
tp_start_daemon "$LOG" "$T/ec.conf" "unix:$S"
D=$TP_DAEMON_PID
tp_hc_ok "$T/ec.out" "ECDSA-only configuration: the EC certificate is served" \
    --socket "$S" --bytes 65536 --cafile "$T/ca.pem" --expect-cn "$TP_EC_CN" --expect-key EC \
    --expect-protocol TLSv1.3
EP=$(tp_endpoint "$T/ec.out")
tp_expect_msg "$LOG" "Anonymous TLS connection established from $EP: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange x25519 server-signature ECDSA (prime256v1) server-digest SHA256"
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"

# ------------------------------------------------------------ (3) level none
S=$T/tlsproxy-none.sock
write_conf "$T/none.conf" "$S" "smtpd_tls_security_level = \"none\";
smtpd_tls_cert_file = \"$T/rsa.pem\";
smtpd_tls_key_file = \"$T/rsa.key\";"
LOG=$T/daemon-none.log
tp_start_daemon "$LOG" "$T/none.conf" "unix:$S"
D=$TP_DAEMON_PID
tp_expect_msg "$LOG" "warning: TLS server role is disabled with tlsproxy_tls_security_level or tlsproxy_use_tls"
tp_hc_ok "$T/none.out" "security level none: the request is answered with status=0" \
    --socket "$S" --mode expect-status0 --max-wait "$(tp_secs 5)"
tp_hc_ok "$T/none2.out" "security level none: still status=0 for the next request" \
    --socket "$S" --mode expect-status0 --max-wait "$(tp_secs 5)"
tp_expect_no_log "$LOG" "TLS connection established"
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"

# ------------------------------------------------------------ (4) TLS 1.2 only
S=$T/tlsproxy-12.sock
write_conf "$T/tls12.conf" "$S" "$RSA_LINES
tlsproxy_tls_protocols = \"<=TLSv1.2\";"
LOG=$T/daemon-tls12.log
tp_start_daemon "$LOG" "$T/tls12.conf" "unix:$S"
D=$TP_DAEMON_PID
tp_hc_ok "$T/tls12.out" "tlsproxy_tls_protocols = <=TLSv1.2 gives TLSv1.2" \
    --socket "$S" --bytes 262144 --expect-protocol TLSv1.2 --expect-cn "$TP_RSA_CN"
EP=$(tp_endpoint "$T/tls12.out")
tp_expect_log "$LOG" "Anonymous TLS connection established from $EP: TLSv1.2 with cipher "
tp_hc_ok "$T/tls13only.out" "a TLS 1.3-only client fails the handshake; nothing is written to the local side" \
    --socket "$S" --mode handshake-fail --tls-min TLSv1.3 --timeout1 10
EP=$(tp_endpoint "$T/tls13only.out")
tp_expect_msg "$LOG" "TLS handshake failed for service=smtpd peer=$EP"
tp_expect_msg "$LOG" "DISCONNECT $EP"
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"

tp_say "PASS"
exit 0

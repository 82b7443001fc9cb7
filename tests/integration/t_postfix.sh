#!/bin/bash
# Real Postfix: stock postscreen(8) hands STARTTLS sessions to our daemon
# (server role), following steps 1-7 of the integration recipe in the
# shared docs, plus its extra checks (non-TLS bytes after STARTTLS, remote
# drop, handshake timeout, role unavailable, daemon down).
#
# Postfix is a private instance under the test's temp dir (pflib.sh): its
# own main.cf, master.cf, queue and master, on a loopback port; the
# host's Postfix is never touched. Needs root and the Postfix programs
# (and swaks).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pflib.sh"

tp_pf_need
command -v swaks >/dev/null 2>&1 || tp_skip "swaks is not installed"
tp_init
T=$TP_TMP
STARTTLS_CLIENT=$SHARED_DIR/tools/smtp_starttls_client.py
[ -f "$STARTTLS_CLIENT" ] || tp_hard_error "missing $STARTTLS_CLIENT (SHARED_DIR=$SHARED_DIR)"

step() { tp_say "=== $*"; }
PS=$(tp_free_port)	# postscreen

# ---------------------------------------------------------------- 1.
step "1. packages: installed by the caller; Postfix $("$PF_COMMAND_DIR/postconf" -d -h mail_version)"

# ---------------------------------------------------------------- 2.
step "2. self-signed server certificate"
CERTDIR=$T/certs
mkdir -p "$CERTDIR"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
    -subj "/CN=tlsproxy-test.localdomain" \
    -addext "subjectAltName=DNS:tlsproxy-test.localdomain" \
    -keyout "$CERTDIR/server.key" -out "$CERTDIR/server.pem" >"$T/cert.log" 2>&1 ||
	tp_hard_error "openssl: $(cat "$T/cert.log")"
chmod 600 "$CERTDIR/server.key"

# ---------------------------------------------------------------- 3.
step "3. main.cf (private instance)"
tp_pf_init ps
MAILLOG=$PF_LOG
tp_pf_conf \
    "smtpd_tls_cert_file = $CERTDIR/server.pem" \
    "smtpd_tls_key_file = $CERTDIR/server.key" \
    'smtpd_tls_security_level = may' \
    'smtpd_tls_loglevel = 1'

# ---------------------------------------------------------------- 4.
step "4. master.cf: postscreen on 127.0.0.1:$PS; no tlsproxy service"
# No tlsproxy entry: master(8) would own (and re-create) our socket.
tp_pf_postscreen "$PS"
if grep -q -E '^tlsproxy[[:space:]]+unix' "$PF_CONF/master.cf"; then
	tp_hard_error "master.cf has a tlsproxy entry"
fi

# ---------------------------------------------------------------- 5.
step "5. start postfix"
tp_pf_start
tp_wait_for 20 tp_port_listening "$PS" || tp_hard_error "postscreen does not listen on 127.0.0.1:$PS"

# ---------------------------------------------------------------- 6.
step "6. start our tlsproxy"
SOCK=$PF_SOCKDIR/tlsproxy

# write_conf FILE LEVEL
write_conf() {
	cat >"$1" <<EOF
smtpd_tls_security_level = "$2";
smtpd_tls_cert_file = "$CERTDIR/server.pem";
smtpd_tls_key_file = "$CERTDIR/server.key";
smtpd_tls_loglevel = "1";
tlsproxy_pid_file = "$T/tlsproxy.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$SOCK"; owner = "postfix"; group = "postfix"; mode = "0666"; }
);
EOF
}
write_conf "$T/tlsproxy.conf" may
LOG=$T/tlsproxy.log
tp_start_daemon "$LOG" "$T/tlsproxy.conf" "unix:$SOCK"
D=$TP_DAEMON_PID
perm=$(stat -c '%A %U:%G' "$SOCK")
tp_say "socket: $perm $SOCK"
[ "$perm" = "srw-rw-rw- postfix:postfix" ] ||
	tp_fail "socket is '$perm', expected 'srw-rw-rw- postfix:postfix'"
tp_ok "handoff socket srw-rw-rw- postfix:postfix"

# ---------------------------------------------------------------- 7.
step "7. server role: STARTTLS through postscreen"
tp_add_log "$T/swaks.out"
timeout -k 5 "$(tp_secs 60)" swaks --server 127.0.0.1 --port "$PS" --ehlo client.test --tls \
    --quit-after HELO >"$T/swaks.out" 2>&1
rc=$?
sed 's/^/    | /' "$T/swaks.out"
[ "$rc" = 0 ] || tp_fail "swaks exited with $rc"
grep -q '=== TLS started with cipher' "$T/swaks.out" || tp_fail "swaks: no 'TLS started with cipher'"
grep -q '<~  250 CHUNKING' "$T/swaks.out" || tp_fail "swaks: the EHLO after STARTTLS was not answered (no '<~  250 CHUNKING')"
tp_ok "swaks: TLS started and the EHLO after STARTTLS was answered"
tp_expect_log "$LOG" "CONNECT from [127.0.0.1]:"
tp_expect_log "$LOG" "Anonymous TLS connection established from [127.0.0.1]:"
tp_expect_log "$LOG" "DISCONNECT [127.0.0.1]:"
tp_wait_for 10 tp_log_has "$MAILLOG" "postfix/postscreen" || tp_fail "no postscreen lines in $MAILLOG"
grep -E 'postfix/(postscreen|tlsproxy)' "$MAILLOG" | sed 's/^/    maillog | /'
if grep 'warning:' "$MAILLOG" | grep -q 'private/tlsproxy'; then
	tp_fail "maillog has warnings about private/tlsproxy"
fi
tp_ok "maillog: no warning about private/tlsproxy"
tp_expect_no_log "$MAILLOG" "postfix/tlsproxy["
tp_ok "master(8) did not start its own tlsproxy"

# ---------------------------------------------------------------- extra checks
step "extra: a full session with EHLO and QUIT over TLS"
timeout -k 5 "$(tp_secs 60)" python3 "$STARTTLS_CLIENT" 127.0.0.1 "$PS" ok >"$T/ok.out" 2>&1 ||
	{ cat "$T/ok.out"; tp_fail "smtp_starttls_client.py ok failed"; }
sed 's/^/    | /' "$T/ok.out"
grep -q "^TLS TLSv1.3" "$T/ok.out" || tp_fail "no TLSv1.3 session"
grep -q "221" "$T/ok.out" || tp_fail "QUIT was not answered over TLS"
tp_ok "EHLO and QUIT answered over TLS"

step "extra: non-TLS bytes after STARTTLS"
n=$(tp_log_count "$LOG" "TLS handshake failed for service=smtpd peer=[127.0.0.1]:")
timeout -k 5 "$(tp_secs 60)" python3 "$STARTTLS_CLIENT" 127.0.0.1 "$PS" garbage >"$T/garbage.out" 2>&1
sed 's/^/    | /' "$T/garbage.out"
above() { [ "$(tp_log_count "$1" "$2")" -gt "$3" ]; }
tp_wait_for 10 above "$LOG" "TLS handshake failed for service=smtpd peer=[127.0.0.1]:" "$n" ||
	tp_fail "no 'TLS handshake failed for service=smtpd' line"
tp_ok "log: TLS handshake failed for service=smtpd"
tp_expect_log "$LOG" "warning: TLS library problem: "
tp_expect_log "$MAILLOG" "HANGUP after"

step "extra: the remote client drops after the first EHLO"
n=$(tp_log_count "$LOG" "DISCONNECT [127.0.0.1]:")
timeout -k 5 "$(tp_secs 60)" python3 "$STARTTLS_CLIENT" 127.0.0.1 "$PS" drop >"$T/drop.out" 2>&1 ||
	{ cat "$T/drop.out"; tp_fail "smtp_starttls_client.py drop failed"; }
tp_wait_for 10 above "$LOG" "DISCONNECT [127.0.0.1]:" "$n" || tp_fail "the dropped session was not ended"
tp_ok "dropped session ended"
tp_alive "$D" || tp_fail "our daemon died"

step "extra: handshake timeout (postscreen_command_time_limit = 5s)"
tp_pf_conf 'postscreen_command_time_limit = 5s'
tp_pf_reload postscreen
timeout -k 5 "$(tp_secs 60)" python3 "$STARTTLS_CLIENT" 127.0.0.1 "$PS" idle 8 >"$T/idle.out" 2>&1
sed 's/^/    | /' "$T/idle.out"
tp_wait_for 10 tp_log_has "$MAILLOG" "COMMAND TIME LIMIT from [127.0.0.1]:" ||
	tp_fail "postscreen did not log COMMAND TIME LIMIT"
EP=$(sed -n 's/^.*COMMAND TIME LIMIT from \(\[127\.0\.0\.1\]:[0-9]*\) after STARTTLS.*$/\1/p' "$MAILLOG" | tail -1)
[ -n "$EP" ] || tp_fail "no 'COMMAND TIME LIMIT from ... after STARTTLS' in the maillog"
tp_expect_msg "$LOG" "TLS handshake failed for service=smtpd peer=$EP"
tp_expect_msg "$LOG" "DISCONNECT $EP"
# Both timers are 5 s: either ours fires, or postscreen's fires first and
# closes the local socket during the handshake (our daemon may notice that
# at once).
if tp_log_msg "$LOG" "warning: ciphertext read/write timeout for $EP"; then
	tp_ok "log: warning: ciphertext read/write timeout for $EP"
else
	tp_say "postscreen's timer fired first: $(grep -F "$EP" "$LOG" | grep warning: | sed 's/^.*tlsproxy\[[0-9]*\]: //')"
fi
pf_postconf -X postscreen_command_time_limit
tp_pf_reload postscreen

# swaks_454 NAME: STARTTLS must be refused with 454.
swaks_454() {
	timeout -k 5 "$(tp_secs 60)" swaks --server 127.0.0.1 --port "$PS" --ehlo client.test --tls \
	    --quit-after HELO >"$T/$1.out" 2>&1
	sed 's/^/    | /' "$T/$1.out"
	grep -q '454 4.7.0 TLS not available due to local problem' "$T/$1.out" ||
		tp_fail "$1: STARTTLS was not answered with 454"
	tp_ok "$1: 454 TLS not available"
}

step "extra: role unavailable (our daemon with security level none)"
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"
write_conf "$T/none.conf" none
LOG=$T/tlsproxy-none.log
tp_start_daemon "$LOG" "$T/none.conf" "unix:$SOCK"
D=$TP_DAEMON_PID
tp_expect_msg "$LOG" "warning: TLS server role is disabled with tlsproxy_tls_security_level or tlsproxy_use_tls"
swaks_454 unavailable
tp_expect_log "$MAILLOG" "warning: problem receiving status from private/tlsproxy service"

step "extra: our daemon down"
tp_check_log_format "$LOG" "$D" postfix
tp_stop_daemon "$D" "$LOG"
[ ! -e "$SOCK" ] || tp_fail "the socket $SOCK was left behind"
swaks_454 down
tp_expect_log "$MAILLOG" "warning: connect to private/tlsproxy service"

step "stop"
tp_pf_stop
tp_say "PASS"
exit 0

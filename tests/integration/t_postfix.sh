#!/bin/bash
# Real Postfix: stock postscreen(8) hands STARTTLS sessions to our daemon
# (server role), following steps 1-7 of the integration recipe in the
# shared docs, plus its extra checks (non-TLS bytes after STARTTLS, remote
# drop, handshake timeout, role unavailable, daemon down).
#
# Needs root and an installed Postfix (and swaks); it reconfigures the
# local Postfix, so it is meant for throw-away test machines. It can be run
# again: every step sets what it needs.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || tp_skip "needs root"
[ -x /usr/sbin/postfix ] || tp_skip "Postfix is not installed"
command -v swaks >/dev/null 2>&1 || tp_skip "swaks is not installed"
command -v postconf >/dev/null 2>&1 || tp_skip "postconf is not installed"
tp_init
T=$TP_TMP
MAILLOG=/var/log/postfix.log
CERTDIR=/etc/postfix/tlstest
STARTTLS_CLIENT=$SHARED_DIR/tools/smtp_starttls_client.py
[ -f "$STARTTLS_CLIENT" ] || tp_hard_error "missing $STARTTLS_CLIENT (SHARED_DIR=$SHARED_DIR)"
tp_add_log "$MAILLOG"

# One Postfix test at a time: t_client_role.sh reconfigures the same Postfix.
if command -v flock >/dev/null 2>&1; then
	LOCK=/run/lock/tlsproxy-postfix-tests.lock
	[ -d /run/lock ] || LOCK=/tmp/tlsproxy-postfix-tests.lock
	exec 9>"$LOCK"
	flock -w "$(tp_secs 300)" 9 || tp_hard_error "another Postfix test holds $LOCK"
fi

POSTFIX_STARTED=0
stop_postfix() {
	if [ "$POSTFIX_STARTED" = 1 ] && postfix status >/dev/null 2>&1; then
		postfix stop >/dev/null 2>&1
	fi
}
TP_CLEANUP_HOOK=stop_postfix

step() { tp_say "=== $*"; }
port_free() { ! tp_port_listening "$1"; }

# ---------------------------------------------------------------- 1.
step "1. packages: installed by the caller; Postfix $(postconf -h mail_version)"
if postfix status >/dev/null 2>&1; then
	tp_say "stopping a running Postfix"
	postfix stop >/dev/null 2>&1
	tp_wait_for 20 port_free 2525 || true
fi

# ---------------------------------------------------------------- 2.
step "2. self-signed server certificate"
mkdir -p "$CERTDIR"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
    -subj "/CN=tlsproxy-test.localdomain" \
    -addext "subjectAltName=DNS:tlsproxy-test.localdomain" \
    -keyout "$CERTDIR/server.key" -out "$CERTDIR/server.pem" >"$T/cert.log" 2>&1 ||
	tp_hard_error "openssl: $(cat "$T/cert.log")"
chmod 600 "$CERTDIR/server.key"

# ---------------------------------------------------------------- 3.
step "3. main.cf"
postconf -e \
    "maillog_file = $MAILLOG" \
    'inet_interfaces = 127.0.0.1' \
    'inet_protocols = ipv4' \
    'mynetworks = 127.0.0.0/8' \
    "smtpd_tls_cert_file = $CERTDIR/server.pem" \
    "smtpd_tls_key_file = $CERTDIR/server.key" \
    'smtpd_tls_security_level = may' \
    'smtpd_tls_loglevel = 1' \
    'tlsproxy_service_name = tlsproxy' \
    'postscreen_access_list =' \
    'postscreen_cache_map =' \
    'postscreen_greet_wait = 1s' \
    'postscreen_pipelining_enable = yes' \
    'postscreen_dnsbl_sites =' \
    'smtp_tls_security_level = encrypt' \
    'smtp_tls_loglevel = 1' \
    'smtp_tls_connection_reuse = yes' \
    'smtp_connection_cache_destinations = 127.0.0.1' \
    'smtp_destination_concurrency_limit = 1' \
    'transport_maps = inline:{reuse.test=smtp:[127.0.0.1]:2526}' ||
	tp_hard_error "postconf -e failed"
# Left behind by an interrupted earlier run of the timeout check below.
postconf -X postscreen_command_time_limit 2>/dev/null

# ---------------------------------------------------------------- 4.
step "4. master.cf"
postconf -M# 'smtp/inet' 2>/dev/null
postconf -M \
    '127.0.0.1:2525/inet=127.0.0.1:2525 inet n - y - 1 postscreen' \
    'smtpd/pass=smtpd pass - - y - - smtpd' \
    'dnsblog/unix=dnsblog unix - - y - 0 dnsblog' \
    '127.0.0.1:2526/inet=127.0.0.1:2526 inet n - y - - smtpd -o content_filter=discard: -o syslog_name=postfix/sink' ||
	tp_hard_error "postconf -M failed"
# No tlsproxy entry: master(8) would own (and re-create) our socket.
postconf -MX 'tlsproxy/unix' 2>/dev/null
if postconf -M 2>/dev/null | grep -q -E '^tlsproxy[[:space:]]+unix'; then
	tp_hard_error "master.cf still has a tlsproxy entry"
fi

# ---------------------------------------------------------------- 5.
step "5. start postfix"
/usr/lib/postfix/configure-instance.sh - >"$T/configure-instance.log" 2>&1 ||
	tp_hard_error "configure-instance.sh: $(cat "$T/configure-instance.log")"
postfix check >"$T/postfix-check.log" 2>&1 || tp_hard_error "postfix check: $(cat "$T/postfix-check.log")"
: >"$MAILLOG"
postfix start >"$T/postfix-start.log" 2>&1 || tp_hard_error "postfix start: $(cat "$T/postfix-start.log")"
POSTFIX_STARTED=1
tp_wait_for 20 tp_port_listening 2525 || tp_hard_error "postscreen does not listen on 127.0.0.1:2525"
tp_wait_for 20 tp_port_listening 2526 || tp_hard_error "the sink does not listen on 127.0.0.1:2526"

# ---------------------------------------------------------------- 6.
step "6. start our tlsproxy"
QDIR=$(postconf -h queue_directory)
SOCK=$QDIR/private/$(postconf -h tlsproxy_service_name)
rm -f "$SOCK"

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
timeout -k 5 "$(tp_secs 60)" swaks --server 127.0.0.1 --port 2525 --ehlo client.test --tls \
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
timeout -k 5 "$(tp_secs 60)" python3 "$STARTTLS_CLIENT" 127.0.0.1 2525 ok >"$T/ok.out" 2>&1 ||
	{ cat "$T/ok.out"; tp_fail "smtp_starttls_client.py ok failed"; }
sed 's/^/    | /' "$T/ok.out"
grep -q "^TLS TLSv1.3" "$T/ok.out" || tp_fail "no TLSv1.3 session"
grep -q "221" "$T/ok.out" || tp_fail "QUIT was not answered over TLS"
tp_ok "EHLO and QUIT answered over TLS"

step "extra: non-TLS bytes after STARTTLS"
n=$(tp_log_count "$LOG" "TLS handshake failed for service=smtpd peer=[127.0.0.1]:")
timeout -k 5 "$(tp_secs 60)" python3 "$STARTTLS_CLIENT" 127.0.0.1 2525 garbage >"$T/garbage.out" 2>&1
sed 's/^/    | /' "$T/garbage.out"
above() { [ "$(tp_log_count "$1" "$2")" -gt "$3" ]; }
tp_wait_for 10 above "$LOG" "TLS handshake failed for service=smtpd peer=[127.0.0.1]:" "$n" ||
	tp_fail "no 'TLS handshake failed for service=smtpd' line"
tp_ok "log: TLS handshake failed for service=smtpd"
tp_expect_log "$LOG" "warning: TLS library problem: "
tp_expect_log "$MAILLOG" "HANGUP after"

step "extra: the remote client drops after the first EHLO"
n=$(tp_log_count "$LOG" "DISCONNECT [127.0.0.1]:")
timeout -k 5 "$(tp_secs 60)" python3 "$STARTTLS_CLIENT" 127.0.0.1 2525 drop >"$T/drop.out" 2>&1 ||
	{ cat "$T/drop.out"; tp_fail "smtp_starttls_client.py drop failed"; }
tp_wait_for 10 above "$LOG" "DISCONNECT [127.0.0.1]:" "$n" || tp_fail "the dropped session was not ended"
tp_ok "dropped session ended"
tp_alive "$D" || tp_fail "our daemon died"

step "extra: handshake timeout (postscreen_command_time_limit = 5s)"
# postfix_reload: reload and wait until the postscreen processes that ran
# with the old settings are gone.
gone() {
	local p
	for p in "$@"; do
		tp_alive "$p" && return 1
	done
	return 0
}
postfix_reload() {
	local reloads old
	old=$(pgrep -x postscreen 2>/dev/null)
	reloads=$(tp_log_count "$MAILLOG" "reload -- version")
	postfix reload >/dev/null 2>&1 || tp_fail "postfix reload failed"
	tp_wait_for 20 above "$MAILLOG" "reload -- version" "$reloads" || tp_fail "postfix did not reload"
	# shellcheck disable=SC2086
	tp_wait_for 20 gone $old || tp_fail "postscreen did not restart after the reload"
}
postconf -e 'postscreen_command_time_limit = 5s'
postfix_reload
timeout -k 5 "$(tp_secs 60)" python3 "$STARTTLS_CLIENT" 127.0.0.1 2525 idle 8 >"$T/idle.out" 2>&1
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
postconf -X postscreen_command_time_limit
postfix_reload

# swaks_454 NAME: STARTTLS must be refused with 454.
swaks_454() {
	timeout -k 5 "$(tp_secs 60)" swaks --server 127.0.0.1 --port 2525 --ehlo client.test --tls \
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
postfix stop >/dev/null 2>&1
POSTFIX_STARTED=0
tp_say "PASS"
exit 0

#!/bin/bash
# Command line and configuration checks: -d, -n, error reporting with
# file:line, a missing file, and the example configuration.
. "$(dirname "$0")/lib.sh"
tp_init
tp_gen_certs
T=$TP_TMP

# run_bin OUT ERR CMD-ARGS...: run the daemon binary (bounded), status in RC.
run_bin() {
	local out=$1 err=$2
	shift 2
	timeout -k 5 "$(tp_secs 20)" "$TLSPROXY_BIN" "$@" >"$out" 2>"$err" </dev/null
	RC=$?
	[ "$RC" = 124 ] && tp_fail "'tlsproxy $*' did not finish within $(tp_secs 20)s"
	tp_add_log "$err"
}

# ---------------------------------------------------------------- -d
tp_check "-d prints every parameter's default and exits 0"
run_bin "$T/d.out" "$T/d.err" -d
[ "$RC" = 0 ] || tp_fail "-d exited with $RC"
bad=$(grep -v -E '^(# \(read-only\) )?[a-zA-Z0-9_]+ = ".*";$' "$T/d.out" |
    grep -v -x 'tlsproxy_listeners = ( );' | head -3)
[ -z "$bad" ] || tp_fail "-d printed lines that are not 'name = \"default\";': $bad"
for line in \
    'tlsproxy_tls_ciphers = "$smtpd_tls_ciphers";' \
    'tlsproxy_watchdog_timeout = "10s";' \
    'tlsproxy_tls_cert_file = "$smtpd_tls_cert_file";' \
    'tlsproxy_tls_security_level = "$smtpd_tls_security_level";' \
    'tlsproxy_tls_protocols = "$smtpd_tls_protocols";' \
    'tlsproxy_tls_loglevel = "$smtpd_tls_loglevel";'; do
	grep -q -x -F -- "$line" "$T/d.out" || tp_fail "-d output lacks the line: $line"
done
# Pasted back as it is, -d's output is a configuration (no listeners).
run_bin "$T/dd.out" "$T/dd.err" -n -c "$T/d.out"
[ "$RC" = 0 ] || tp_fail "-d's output does not load back: $(head -3 "$T/dd.err")"
[ ! -s "$T/dd.out" ] || tp_fail "-d's output loaded back differs from the defaults: $(head -3 "$T/dd.out")"
tp_ok "-d's output loads back as a configuration that sets nothing new"
for name in smtpd_tls_security_level smtpd_tls_cert_file smtpd_tls_key_file \
    smtpd_tls_eccert_file smtpd_tls_eckey_file smtpd_tls_loglevel syslog_name \
    tlsproxy_worker_threads tlsproxy_queue_limit tlsproxy_pid_file \
    tlsproxy_drain_timeout; do
	grep -q -E "^$name = " "$T/d.out" || tp_fail "-d output lacks parameter $name"
done
dups=$(sed 's/^# (read-only) //; s/ =.*//' "$T/d.out" | sort | uniq -d | head -3)
[ -z "$dups" ] || tp_fail "-d lists these names more than once: $dups"
tp_ok "-d: $(wc -l <"$T/d.out") parameters"

# Where stock Postfix knows a tlsproxy_* parameter, the documented default
# must be the same. Conditional defaults ("${name?...}", "${name:...}") have
# several equivalent spellings and are left out.
if command -v postconf >/dev/null 2>&1; then
	tp_check "-d defaults of tlsproxy_* parameters agree with postconf -d"
	postconf -d 2>/dev/null | grep '^tlsproxy_' >"$T/postconf.d"
	n=0
	# -d quotes values as the file's syntax does; postconf prints them bare.
	sed -n 's/^\([a-z0-9_]*\) = "\(.*\)";$/\1 = \2/p' "$T/d.out" |
	    sed 's/\\\(["\\]\)/\1/g; s/ = $/ =/' >"$T/d.bare"
	while IFS= read -r line; do
		name=${line%% =*}
		grep -q "^$name = " "$T/postconf.d" || continue
		want=$(grep "^$name = " "$T/postconf.d")
		case $want in
		*'${'*) continue ;;
		esac
		[ "$line" = "$want" ] || tp_fail "-d says '$line', Postfix says '$want'"
		n=$((n + 1))
	done <"$T/d.bare"
	[ "$n" -gt 0 ] || tp_fail "no tlsproxy_* parameter of -d is known to postconf"
	tp_ok "$n tlsproxy_* defaults agree with Postfix"
fi

# ---------------------------------------------------------------- -n
cat >"$T/good.conf" <<EOF
# a small valid configuration
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
smtpd_tls_loglevel = "1";
tlsproxy_worker_threads = 8;
tlsproxy_watchdog_timeout = "10s";
tlsproxy_pid_file = "$T/tlsproxy.pid";
syslog_name = "postfix-test";
tlsproxy_listeners = (
  { handoff = "$T/tlsproxy.sock"; mode = "0666"; }
);
EOF
tp_check "-n prints the settings that differ from the defaults"
run_bin "$T/n.out" "$T/n.err" -n -c "$T/good.conf"
[ "$RC" = 0 ] || tp_fail "-n -c good.conf exited with $RC: $(cat "$T/n.err")"
sed 's/^/    | /' "$T/n.out"
for line in \
    'smtpd_tls_security_level = "may";' \
    "smtpd_tls_cert_file = \"$T/rsa.pem\";" \
    "smtpd_tls_key_file = \"$T/rsa.key\";" \
    'smtpd_tls_loglevel = "1";' \
    'tlsproxy_worker_threads = "8";' \
    'syslog_name = "postfix-test";'; do
	grep -q -x -F -- "$line" "$T/n.out" || tp_fail "-n output lacks the line: $line"
done
if grep -q '^tlsproxy_watchdog_timeout' "$T/n.out"; then
	tp_fail "-n printed tlsproxy_watchdog_timeout, which is set to its default"
fi
if grep -q '^tlsproxy_queue_limit' "$T/n.out"; then
	tp_fail "-n printed tlsproxy_queue_limit, which the file does not set"
fi
[ ! -e "$T/tlsproxy.sock" ] || tp_fail "-n created the handoff socket"
tp_ok "-n shows exactly what the file changes"

# ---------------------------------------------------------------- errors
# expect_errors FILE DESC ARGS: exit 1, nothing started, every error line
# is "FILE:LINE: ...".
expect_errors() {
	local conf=$1 desc=$2
	shift 2
	tp_check "$desc"
	rm -f "$T/bad.sock"
	run_bin "$T/e.out" "$T/e.err" "$@" -c "$conf"
	sed 's/^/    | /' "$T/e.err"
	[ "$RC" = 1 ] || tp_fail "$desc: exit status $RC, expected 1"
	[ ! -e "$T/bad.sock" ] || tp_fail "$desc: the handoff socket was created"
	grep -q -F "$conf:" "$T/e.err" || tp_fail "$desc: no '$conf:LINE:' error"
}

# expect_error_line TEXT: a line of the last stderr is exactly TEXT.
expect_error_line() {
	grep -q -x -F -- "$1" "$T/e.err" || tp_fail "stderr lacks the line: $1"
	tp_ok "error: $1"
}

cat >"$T/bad1.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
tlsproxy_tls_cert_fiel = "$T/rsa.pem";
tlsproxy_worker_threads = -1;
tlsproxy_pid_file = "$T/bad.pid";
tlsproxy_listeners = (
  { handoff = "$T/bad.sock"; mode = "0666"; }
);
EOF
for flag in -f -n; do
	expect_errors "$T/bad1.conf" "unknown name and bad value ($flag): exit 1 with both errors" "$flag"
	expect_error_line "$T/bad1.conf:4: unknown parameter \"tlsproxy_tls_cert_fiel\"; did you mean \"tlsproxy_tls_cert_file\"?"
	expect_error_line "$T/bad1.conf:5: parameter \"tlsproxy_worker_threads\": -1 is out of range (allowed: 0..4096)"
done
[ ! -e "$T/bad.pid" ] || tp_fail "a pid file was written for a bad configuration"

# One wrong value per file: the error names the file, the line and the
# parameter.
bad_value() {
	local name=$1 value=$2
	cat >"$T/bad2.conf" <<EOF
smtpd_tls_loglevel = "1";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$T/rsa.key";
tlsproxy_pid_file = "$T/bad.pid";
$name = $value;
tlsproxy_listeners = (
  { handoff = "$T/bad.sock"; mode = "0666"; }
);
EOF
	expect_errors "$T/bad2.conf" "bad value $name = $value" -f
	grep -E "^$T/bad2.conf:5: .*$name" "$T/e.err" >/dev/null ||
		tp_fail "no '$T/bad2.conf:5: ... $name ...' error line"
	tp_ok "bad value $name = $value rejected at line 5"
}
bad_value tlsproxy_worker_threads '"many"'
bad_value tlsproxy_worker_threads 5000
bad_value tlsproxy_queue_limit -1
bad_value tlsproxy_drain_timeout '"5x"'
bad_value smtpd_tls_security_level '"sometimes"'
bad_value tlsproxy_client_event_limit_exceptions '"10.1.2.3/8"'
bad_value tlsproxy_max_sessions -5

cat >"$T/bad3.conf" <<EOF
smtpd_tls_security_level = "may";
tlsproxy_worker_threads = = 4;
smtpd_tls_loglevel = "1";
EOF
expect_errors "$T/bad3.conf" "libconfig syntax error" -f
grep -E "^$T/bad3.conf:2: " "$T/e.err" >/dev/null || tp_fail "no FILE:2: syntax error"
tp_ok "syntax error reported as FILE:LINE"

tp_check "a missing configuration file: exit 1, the path is named"
run_bin "$T/m.out" "$T/m.err" -f -c "$T/no-such-dir/tlsproxy.conf"
sed 's/^/    | /' "$T/m.err"
[ "$RC" = 1 ] || tp_fail "missing file: exit status $RC, expected 1"
grep -q -F "$T/no-such-dir/tlsproxy.conf" "$T/m.err" || tp_fail "the missing file is not named"
tp_ok "missing file rejected"

tp_check "an unknown option is rejected"
run_bin "$T/o.out" "$T/o.err" -Z
[ "$RC" != 0 ] || tp_fail "-Z exited with 0"
tp_ok "-Z: exit status $RC"

# ---------------------------------------------------------------- -t
P=$(tp_free_port)
# tconf FILE KEYFILE EXTRA LISTENERS: a handoff + TCP configuration
tconf() {
	local lst="{ handoff = \"$T/t.sock\"; mode = \"0666\"; }, { listen = \"127.0.0.1:$P\"; backend = \"127.0.0.1:9\"; }"
	[ $# -ge 4 ] && lst=$4
	cat >"$1" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_cert_file = "$T/rsa.pem";
smtpd_tls_key_file = "$2";
tlsproxy_pid_file = "$T/t.pid";
$3
tlsproxy_listeners = ( $lst );
EOF
}
tp_check "-t: a good configuration is OK, and nothing is bound"
tconf "$T/t-ok.conf" "$T/rsa.key" ""
run_bin "$T/t.out" "$T/t.err" -t -c "$T/t-ok.conf"
sed 's/^/    | /' "$T/t.out" "$T/t.err"
[ "$RC" = 0 ] || tp_fail "-t exited with $RC for a good configuration"
grep -q -x -F "tlsproxy: configuration $T/t-ok.conf is OK" "$T/t.out" || tp_fail "-t did not say OK"
[ -e "$T/t.sock" ] && tp_fail "-t created the handoff socket"
tp_port_listening "$P" && tp_fail "-t bound the TCP port"
[ -e "$T/t.pid" ] && tp_fail "-t wrote a pid file"
tp_ok "-t: OK, no socket, no pid file"

tp_check "-t refuses what a start would refuse (exit 1, the error on stderr)"
i=0
while IFS='|' read -r key extra want; do
	i=$((i + 1))
	tconf "$T/t-bad$i.conf" "$key" "$extra"
	run_bin "$T/tb.out" "$T/tb.err" -t -c "$T/t-bad$i.conf"
	sed 's/^/    | /' "$T/tb.err"
	[ "$RC" = 1 ] || tp_fail "-t exited with $RC for: $extra $key"
	grep -q -F -- "$want" "$T/tb.err" || tp_fail "-t did not say: $want"
	grep -q -F "is OK" "$T/tb.out" && tp_fail "-t said OK for: $extra"
done <<EOF
$T/rsa.key|tlsproxy_tls_protocols = "TLSv9";|unknown TLS protocol "TLSv9"
$T/rsa.key|tlsproxy_tls_mandatory_protocols = ">=TLSv1.4";|unknown TLS protocol
$T/rsa.key|tls_medium_cipherlist = "NONSENSE-CIPHER";|invalid cipher list "NONSENSE-CIPHER"
$T/missing.key||$T/missing.key
$T/ec.key||$T/ec.key
$T/rsa.key|tlsproxy_tls_ticket_key_file = "$T/missing.keys";|$T/missing.keys
EOF
tconf "$T/t-none.conf" "$T/rsa.key" "" " "
run_bin "$T/tb.out" "$T/tb.err" -t -c "$T/t-none.conf"
[ "$RC" = 1 ] && grep -q "no listeners configured" "$T/tb.err" || tp_fail "-t accepted a configuration without listeners"
tp_ok "-t: bad protocols, cipher list, missing or mismatched key, ticket key file, no listeners: all refused"

tp_check "a second start leaves the running daemon untouched"
tp_start_daemon "$T/first.log" "$T/t-ok.conf" "unix:$T/t.sock" "tcp:$P"
D1=$TP_DAEMON_PID
tconf "$T/t-hoff.conf" "$T/rsa.key" "" "{ handoff = \"$T/t.sock\"; mode = \"0666\"; }"
for c in t-ok t-hoff; do
	run_bin "$T/s2.out" "$T/s2.err" -f -c "$T/$c.conf"
	sed 's/^/    | /' "$T/s2.err"
	[ "$RC" != 0 ] || tp_fail "a second start ($c) exited 0"
	grep -q -F "tlsproxy already running (pid $D1)" "$T/s2.err" ||
		tp_fail "the second start ($c) did not say 'tlsproxy already running (pid $D1)'"
	tp_alive "$D1" || tp_fail "the first daemon died"
	[ -S "$T/t.sock" ] || tp_fail "the second start ($c) removed the running daemon's socket"
	tp_hc "$T/hc-$c.out" --socket "$T/t.sock" --bytes 4096 ||
		tp_fail "the running daemon's handoff socket does not answer after a second start ($c)"
	tp_port_listening "$P" || tp_fail "the running daemon's TCP port is gone"
done
[ "$(cat "$T/t.pid")" = "$D1" ] || tp_fail "the pid file no longer names the running daemon"
tp_stop_daemon "$D1" "$T/first.log"
[ -e "$T/t.pid" ] && tp_fail "the pid file was left behind"
tp_ok "second starts refused (handoff + TCP, handoff only); the first daemon kept serving"

# ---------------------------------------------------------------- example file
tp_check "the example configuration loads (-n -c etc/tlsproxy.conf)"
[ -f "$TOP_SRCDIR/etc/tlsproxy.conf" ] || tp_fail "$TOP_SRCDIR/etc/tlsproxy.conf is missing"
run_bin "$T/x.out" "$T/x.err" -n -c "$TOP_SRCDIR/etc/tlsproxy.conf"
sed 's/^/    | /' "$T/x.err"
[ "$RC" = 0 ] || tp_fail "-n -c etc/tlsproxy.conf exited with $RC"
tp_ok "etc/tlsproxy.conf loads"

tp_say "PASS"
exit 0

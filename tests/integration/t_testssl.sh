#!/bin/bash
# The same TLS face as Postfix's smtpd with the same parameters, as an
# independent scanner sees it: testssl.sh (Debian's package) scans our
# STARTTLS listener and a private Postfix smtpd configured with the same
# smtpd_tls_* and tls_* lines (and, in the full run, our implicit-TLS
# listener and a wrappermode smtpd), and its JSON findings must be equal
# but for the few listed in testssl-expected.txt, each with its reason.
# Behind our listeners is a plaintext smtpd of the same instance, so the
# SMTP dialogue around TLS is Postfix's in both scans.
#
# Parameter sets: defaults; hardened (>=TLSv1.2, high, exclude aNULL,
# server cipher order, two curves); odd (encrypt, mandatory high with
# exclusions, no tickets, cache timeout 0, a DH parameter file).
# TLSPROXY_TESTSSL_SETS and TLSPROXY_TESTSSL_MODES pick them (default:
# "defaults", STARTTLS only; "make check-testssl": all three, both modes).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pflib.sh"

tp_pf_need
TESTSSL=$(command -v testssl || command -v testssl.sh) || tp_skip "testssl.sh is not installed"
tp_init
tp_gen_certs
T=$TP_TMP
SETS=${TLSPROXY_TESTSSL_SETS:-defaults}
MODES=${TLSPROXY_TESTSSL_MODES:-starttls}
EXPECTED=$TP_DIR/testssl-expected.txt

openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$T/dh.pem" 2>/dev/null ||
	tp_hard_error "openssl cannot write DH parameters"

# set_lines NAME: the set's parameters, one "name = value" a line.
set_lines() {
	echo "smtpd_tls_cert_file = $T/rsa.pem"
	echo "smtpd_tls_key_file = $T/rsa.key"
	echo "smtpd_tls_eccert_file = $T/ec.pem"
	echo "smtpd_tls_eckey_file = $T/ec.key"
	case $1 in
	defaults)
		echo "smtpd_tls_security_level = may" ;;
	hardened)
		echo "smtpd_tls_security_level = may"
		echo "smtpd_tls_protocols = >=TLSv1.2"
		echo "smtpd_tls_ciphers = high"
		echo "smtpd_tls_exclude_ciphers = aNULL"
		echo "tls_preempt_cipherlist = yes"
		echo "tls_eecdh_auto_curves = X25519 prime256v1" ;;
	odd)
		echo "smtpd_tls_security_level = encrypt"
		echo "smtpd_tls_mandatory_ciphers = high"
		echo "smtpd_tls_mandatory_exclude_ciphers = aNULL, CAMELLIA"
		echo "tls_session_ticket_cipher ="
		echo "smtpd_tls_session_cache_timeout = 0"
		echo "smtpd_tls_dh1024_param_file = $T/dh.pem" ;;
	*) tp_hard_error "unknown parameter set $1" ;;
	esac
}

# scan NAME PORT MODE: testssl's JSON findings in $T/NAME.json.
scan() {
	local starttls=()
	[ "$3" = starttls ] && starttls=(--starttls smtp)
	# Protocols, cipher categories, forward secrecy, server preferences
	# and defaults (certificate, tickets, resumption); no DNS, no
	# revocation lookups: loopback only.
	timeout -k 10 "$(tp_secs 600)" "$TESTSSL" --quiet --color 0 --warnings off \
	    --nodns none --connect-timeout 10 --openssl-timeout 10 \
	    --jsonfile "$T/$1.json" "${starttls[@]}" -p -s -f -P -S \
	    "127.0.0.1:$2" >"$T/$1.out" 2>&1
	[ -s "$T/$1.json" ] || { tail -20 "$T/$1.out"; tp_fail "testssl wrote no findings for $1"; }
}

FAILED=""
for set in $SETS; do
	tp_check "parameter set '$set': ours and Postfix's smtpd, the same findings"
	tp_pf_init "$set"
	set_lines "$set" >"$T/$set.lines"
	while IFS= read -r line; do tp_pf_conf "$line"; done <"$T/$set.lines"
	# testssl opens many connections at once: enough smtpd processes.
	tp_pf_conf "default_process_limit = 200"
	PS=$(tp_free_port); PW=$(tp_free_port); PB=$(tp_free_port)
	OS=$(tp_free_port); OW=$(tp_free_port)
	tp_pf_service "127.0.0.1:$PS inet n - n - - smtpd" \
	    "127.0.0.1:$PW inet n - n - - smtpd -o smtpd_tls_wrappermode=yes" \
	    "127.0.0.1:$PB inet n - n - - smtpd -o smtpd_tls_security_level=none"
	tp_pf_start
	for p in $PS $PW $PB; do
		tp_wait_for 20 tp_port_listening "$p" || tp_hard_error "Postfix does not listen on 127.0.0.1:$p"
	done
	{
		sed 's/^\([a-z0-9_]*\) = \(.*\)$/\1 = "\2";/' "$T/$set.lines"
		echo "tlsproxy_pid_file = \"$T/$set.pid\";"
		echo 'syslog_name = "postfix";'
		echo 'tlsproxy_listeners = ('
		echo "  { listen = \"127.0.0.1:$OS\"; backend = \"127.0.0.1:$PB\"; starttls = \"smtp\"; },"
		echo "  { listen = \"127.0.0.1:$OW\"; backend = \"127.0.0.1:$PB\"; }"
		echo ');'
	} >"$T/$set.conf"
	LOG=$T/$set-ours.log
	tp_start_daemon "$LOG" "$T/$set.conf" "tcp:$OS" "tcp:$OW"
	D=$TP_DAEMON_PID
	for mode in $MODES; do
		case $mode in
		starttls) po=$OS; pp=$PS ;;
		implicit) po=$OW; pp=$PW ;;
		*) tp_hard_error "unknown mode $mode" ;;
		esac
		scan "$set-$mode-ours" "$po" "$mode"
		scan "$set-$mode-postfix" "$pp" "$mode"
		if python3 "$TP_DIR/testssl_diff.py" "$EXPECTED" "$set" "$mode" \
		    "$T/$set-$mode-ours.json" "$T/$set-$mode-postfix.json" >"$T/$set-$mode.diff"; then
			sed 's/^/    | /' "$T/$set-$mode.diff"
			tp_ok "$set, $mode: $(grep -c '^same' "$T/$set-$mode.diff") findings the same as Postfix's"
		else
			sed 's/^/    | /' "$T/$set-$mode.diff"
			FAILED="$FAILED $set/$mode"
		fi
	done
	tp_stop_daemon "$D" "$LOG"
	tp_pf_stop
done
[ -z "$FAILED" ] || tp_fail "findings differ from Postfix's for:$FAILED"
tp_say "PASS"
exit 0

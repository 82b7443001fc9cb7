#!/bin/bash
# Our daemon against the Postfix releases people run, each compared with
# that release's own tlsproxy(8) in the same run.
#
# For each version in TLSPROXY_PF_VERSIONS (default: the current stable
# and the development head; "make check-postfix-versions" runs all five
# in ../shared/thirdparty/postfix), the upstream source is built into a
# private prefix (pfbuild.sh, cached under TLSPROXY_PF_BUILDS) and run
# twice as a private instance (pflib.sh; the host's Postfix is never
# touched), once with our daemon on private/tlsproxy and once with the
# release's own tlsproxy service in master.cf, through the same flows:
#   - postscreen: a client's STARTTLS is handed over (server role), the
#     EHLO after TLS is answered, and the certificate presented is the
#     one postscreen asks for (from 3.12, which sends its own settings:
#     postscreen_tls_chain_files names another certificate there, which
#     our configuration also names, in an SNI map);
#   - smtp(8) with smtp_tls_connection_reuse = yes (client role): three
#     messages over one reused TLS connection at level encrypt, then may,
#     fingerprint (right and wrong), verify and secure (right and wrong
#     name), to loopback sinks with a certificate from a test CA.
# What Postfix logged (delivered or deferred and why, the trust word of
# each TLS connection, "TLS connection reused", conn_use, warnings) is
# reduced to an outcome table per run; ours must equal theirs, and
# neither may carry a Postfix warning about tlsproxy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pflib.sh"

tp_pf_need
command -v swaks >/dev/null 2>&1 || tp_skip "swaks is not installed"
tp_init
T=$TP_TMP
VERSIONS=${TLSPROXY_PF_VERSIONS:-"3.11.6 3.12-20260821"}
BUILDS=${TLSPROXY_PF_BUILDS:-$TOP_BUILDDIR/pf-builds}
mkdir -p "$BUILDS" || tp_hard_error "cannot make $BUILDS"

step() { tp_say "=== $*"; }

tp_gen_pki "$T/pki"
PKI=$T/pki
cat "$PKI/sink.key" "$PKI/sink-chain.pem" >"$PKI/sink-full.pem"
chmod 600 "$PKI/sink-full.pem"
FP=$(openssl x509 -in "$PKI/sink.pem" -noout -fingerprint -sha256 | sed 's/^.*=//')
# The certificate a 3.12 postscreen asks for with postscreen_tls_chain_files.
tp_gen_cert ec "ps-own.tlsproxy.test" "$PKI/psown"
cat "$PKI/psown.key" "$PKI/psown.pem" >"$PKI/psown-full.pem"
# Postfix's own tlsproxy reads it after dropping privileges (ours
# through its privileged helper): readable by the postfix group.
chgrp postfix "$PKI/psown-full.pem" && chmod 640 "$PKI/psown-full.pem"
WRONG_FP=$(echo "$FP" | tr '0-9A-F' '1-9A-F0')
POLICIES="may fp fpbad verify verifybad secure securebad"

# run_flows VERSION WHO: one private instance of the built VERSION with
# WHO (ours or theirs) as tlsproxy; the outcome table in $T/VERSION-WHO.outcome.
run_flows() {
	local v=$1 who=$2 out=$T/$1-$2.outcome p r transport policy line n
	tp_pf_use_build "$BUILDS/$v"
	tp_pf_init "$v-$who"
	transport="reuse.test=smtp:[127.0.0.1]:$P_REUSE"
	for r in $POLICIES; do
		eval "p=\$P_$r"
		transport="$transport, $r.test=smtp:[127.0.0.1]:$p"
	done
	policy="[127.0.0.1]:$P_may=may"
	policy="$policy, { [127.0.0.1]:$P_fp = fingerprint match=$FP }"
	policy="$policy, { [127.0.0.1]:$P_fpbad = fingerprint match=$WRONG_FP }"
	policy="$policy, { [127.0.0.1]:$P_verify = verify match=$TP_SINK_NAME }"
	policy="$policy, { [127.0.0.1]:$P_verifybad = verify match=wrong.tlsproxy.test }"
	policy="$policy, { [127.0.0.1]:$P_secure = secure match=.tlsproxy.test }"
	policy="$policy, [127.0.0.1]:$P_securebad=secure"
	tp_pf_conf \
	    "smtpd_tls_chain_files = $PKI/sink-full.pem" \
	    'smtpd_tls_security_level = may' 'smtpd_tls_loglevel = 1' \
	    "relay_domains = reuse.test $(echo $POLICIES | sed 's/\([a-z]*\)/\1.test/g')" \
	    'smtp_tls_security_level = encrypt' 'smtp_tls_loglevel = 1' \
	    "smtp_tls_CAfile = $PKI/ca.pem" 'smtp_tls_fingerprint_digest = sha256' \
	    'smtp_tls_connection_reuse = yes' \
	    'smtp_connection_cache_destinations = 127.0.0.1' \
	    'smtp_destination_concurrency_limit = 1' \
	    "transport_maps = inline:{$transport}" \
	    "smtp_tls_policy_maps = inline:{$policy}"
	case $v in
	3.12*) tp_pf_conf "postscreen_tls_chain_files = $PKI/psown-full.pem" ;;
	esac
	tp_pf_postscreen "$P_PS"
	tp_pf_service "127.0.0.1:$P_IN inet n - n - - smtpd -o syslog_name=postfix/submit -o smtpd_tls_security_level=none"
	for p in $P_REUSE $P_may $P_fp $P_fpbad $P_verify $P_verifybad $P_secure $P_securebad; do
		tp_pf_service "127.0.0.1:$p inet n - n - - smtpd -o content_filter=discard: -o syslog_name=postfix/sink"
	done
	[ "$who" = theirs ] && tp_pf_service 'tlsproxy unix - - n - 0 tlsproxy'
	tp_pf_start
	for p in $P_PS $P_IN $P_REUSE; do
		tp_wait_for 20 tp_port_listening "$p" || tp_hard_error "$v: Postfix does not listen on 127.0.0.1:$p"
	done
	if [ "$who" = ours ]; then
		cat >"$T/$v.conf" <<EOF
smtpd_tls_security_level = "may";
smtpd_tls_chain_files = "$PKI/sink-full.pem";
smtpd_tls_loglevel = "1";
smtp_tls_security_level = "encrypt";
smtp_tls_CAfile = "$PKI/ca.pem";
tlsproxy_pid_file = "$T/$v.pid";
syslog_name = "postfix";
tlsproxy_listeners = (
  { handoff = "$PF_SOCKDIR/tlsproxy"; owner = "postfix"; group = "postfix"; mode = "0666"; }
);
EOF
		# Files a request may name are those our configuration names.
		echo "tls_server_sni_maps = \"inline:{ ps-own.tlsproxy.test = $PKI/psown-full.pem }\";" >>"$T/$v.conf"
		tp_start_daemon "$T/$v-ours.log" "$T/$v.conf" "unix:$PF_SOCKDIR/tlsproxy"
		D=$TP_DAEMON_PID
	fi

	# Server role: postscreen's STARTTLS.
	timeout -k 5 "$(tp_secs 60)" swaks --server 127.0.0.1 --port "$P_PS" --ehlo client.test \
	    --tls --tls-get-peer-cert "$T/$v-$who.peer.pem" --quit-after HELO >"$T/$v-$who.swaks" 2>&1
	{
		if grep -q '=== TLS started with cipher' "$T/$v-$who.swaks"; then
			echo "postscreen STARTTLS: TLS started"
			echo "postscreen STARTTLS: certificate $(openssl x509 -in "$T/$v-$who.peer.pem" -noout -subject -nameopt RFC2253 2>&1)"
		else
			echo "postscreen STARTTLS: no TLS ($(grep -E '^<[~-]* +[45][0-9][0-9]' "$T/$v-$who.swaks" | tail -1))"
		fi
		grep -q -E '^<~  250[ -]' "$T/$v-$who.swaks" && echo "postscreen EHLO after TLS: answered"
	} >"$out"

	# Client role: submit, then wait for every outcome.
	for r in rcpt1@reuse.test rcpt2@reuse.test rcpt3@reuse.test $(for x in $POLICIES; do echo "u@$x.test"; done); do
		timeout -k 5 "$(tp_secs 30)" swaks --server 127.0.0.1 --port "$P_IN" \
		    --from sender@test.localdomain --to "$r" --body "to $r" >"$T/$v-$who-send.out" 2>&1 ||
			{ cat "$T/$v-$who-send.out"; tp_fail "$v $who: submitting $r failed"; }
	done
	n=$(( 3 + $(echo $POLICIES | wc -w) ))
	tp_wait_for 90 pf_settled "$n" ||
		{ grep 'postfix/smtp\[' "$PF_LOG" | tail -20; tp_fail "$v $who: not every message was delivered or deferred"; }
	# Reuse: the scache'd session ends about 2 s after the last delivery.
	sleep 1
	{
		for r in rcpt1@reuse.test rcpt2@reuse.test rcpt3@reuse.test $(for x in $POLICIES; do echo "u@$x.test"; done); do
			line=$(grep -E "postfix/smtp\[.*to=<$r>" "$PF_LOG" | grep -E 'status=(sent|deferred)' | head -1)
			case $line in
			*status=sent*) echo "$r: sent$(echo "$line" | grep -o ', conn_use=[0-9]*' | sed 's/^,//;s/^/ (/;s/$/)/')" ;;
			*status=deferred*) echo "$r: deferred (${line##*status=deferred (}" ;;
			*) echo "$r: no outcome" ;;
			esac
		done
		for r in REUSE $POLICIES; do
			eval "p=\$P_$r"
			grep -E "postfix/smtp\[" "$PF_LOG" |
			    sed -n "s/^.*postfix\/smtp\[[0-9]*\]: \([A-Za-z]*\) TLS connection \(established\|reused\) to 127\.0\.0\.1\[127\.0\.0\.1\]:$p: .*$/$r: \1 TLS connection \2/p" |
			    sort -u
		done
		# What Postfix's clients of tlsproxy say (its own tlsproxy's
		# lines are about its configuration; ours are checked below).
		grep -E 'warning:' "$PF_LOG" | grep -v 'postfix/tlsproxy\[' |
		    grep -E 'tlsproxy|TLS|tls' |
		    sed 's/^.*\(warning: .*\)$/Postfix \1/; s/\[[0-9]*\]//g' | sort -u
	} >>"$out"
	tp_pf_stop
	cp "$PF_LOG" "$T/$v-$who.maillog"
	[ "$who" = ours ] && tp_stop_daemon "$D" "$T/$v-ours.log"
	return 0
}
pf_settled() {
	[ "$(grep -E 'postfix/smtp\[.*status=(sent|deferred)' "$PF_LOG" | grep -c -E 'to=<(rcpt[123]@reuse|u@[a-z]*)\.test>')" -ge "$1" ]
}

FAILED=""
: >"$T/table"
for v in $VERSIONS; do
	step "Postfix $v: build (cached in $BUILDS/$v)"
	tp_check "build Postfix $v"
	SHARED_DIR=$SHARED_DIR bash "$TP_DIR/pfbuild.sh" "$v" "$BUILDS/$v" ||
		tp_hard_error "cannot build Postfix $v (libdb-dev, m4, libssl-dev installed?)"
	tp_ok "Postfix $v built"
	P_PS=$(tp_free_port); P_IN=$(tp_free_port); P_REUSE=$(tp_free_port)
	for r in $POLICIES; do
		eval "P_$r=\$(tp_free_port)"
	done
	step "Postfix $v with its own tlsproxy"
	run_flows "$v" theirs
	step "Postfix $v with ours"
	run_flows "$v" ours
	sed 's/^/    theirs | /' "$T/$v-theirs.outcome"
	if diff -u "$T/$v-theirs.outcome" "$T/$v-ours.outcome" >"$T/$v.diff"; then
		tp_ok "Postfix $v: every outcome is the same as with its own tlsproxy"
	else
		cat "$T/$v.diff"
		FAILED="$FAILED $v"
	fi
	if grep -q '^Postfix warning' "$T/$v-ours.outcome"; then
		FAILED="$FAILED $v(warnings)"
	fi
	case $v in
	3.12*)
		# As 3.12's own: postscreen's settings are not the daemon's.
		tp_expect_log "$T/$v-ours.log" "warning: request from tlsproxy server with unexpected settings"
		tp_expect_log "$T/$v-ours.log" "chain_files = \"$PKI/psown-full.pem\" (ours: \"$PKI/sink-full.pem\")"
		grep -q 'warning: request from tlsproxy server with unexpected settings' "$T/$v-theirs.maillog" ||
			tp_fail "Postfix $v's own tlsproxy did not warn likewise"
		;;
	*) tp_expect_no_log "$T/$v-ours.log" "warning: request from tlsproxy" ;;
	esac
	# The table for the note: flow, ours, theirs.
	paste "$T/$v-ours.outcome" "$T/$v-theirs.outcome" |
	    awk -F'\t' -v v="$v" '{ printf "| %s | %s | %s |\n", v, $1, $2 }' >>"$T/table"
done
step "ours vs each release's own tlsproxy"
echo "| version | ours | Postfix's own tlsproxy |"
echo "|---|---|---|"
cat "$T/table"
[ -z "$FAILED" ] || tp_fail "outcomes differ from Postfix's own tlsproxy for:$FAILED"
tp_say "PASS"
exit 0

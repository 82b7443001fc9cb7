#!/bin/bash
# Installation: "make install DESTDIR=..." from the build tree puts the
# daemon, both man pages, the sample configuration and
# $(sysconfdir)/tlsproxy.conf under the configured directories; a second
# install keeps an edited $(sysconfdir)/tlsproxy.conf; "make uninstall"
# removes the rest; the man pages render without groff warnings. Then a
# separate build configured with other directories (--prefix=/opt/x
# --sysconfdir=/opt/etc --localstatedir=/opt/var) builds those paths into
# the daemon (-h, -d) and installs there; the systemd unit passes
# "systemd-analyze verify" against that installed daemon (when systemd's
# tools are present), and the init script and the certbot deploy hook
# pass "sh -n".
. "$(dirname "$0")/lib.sh"
tp_init
T=$TP_TMP
[ -n "${TOP_BUILDDIR:-}" ] && [ -f "$TOP_BUILDDIR/Makefile" ] ||
	tp_hard_error "TOP_BUILDDIR does not name a configured build tree"
command -v make >/dev/null 2>&1 || tp_skip "make is not installed"
# The nested makes below are not part of the make running this test.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES DESTDIR

# mkvar DIR NAME: a directory variable of the build tree's Makefile with
# its ${...} references resolved (as configure wrote it).
mkvar() {
	local v
	for v in prefix exec_prefix datarootdir datadir mandir sbindir sysconfdir localstatedir; do
		eval "local $v=\"$(sed -n "s/^$v = //p" "$1/Makefile")\""
	done
	eval "echo \"\$$2\""
}

# expect_file PATH: exists and is a regular file.
expect_file() { [ -f "$1" ] || tp_fail "not installed: $1"; tp_ok "installed: ${1#"$T"/}"; }

tp_check "make install DESTDIR=... from the build tree ($TOP_BUILDDIR)"
D=$T/dest
make -s -C "$TOP_BUILDDIR" install DESTDIR="$D" >"$T/install1.out" 2>&1 ||
	{ cat "$T/install1.out"; tp_fail "make install failed"; }
sed "s/^/    | /" "$T/install1.out"
sbindir=$(mkvar "$TOP_BUILDDIR" sbindir)
mandir=$(mkvar "$TOP_BUILDDIR" mandir)
datadir=$(mkvar "$TOP_BUILDDIR" datadir)
sysconfdir=$(mkvar "$TOP_BUILDDIR" sysconfdir)
tp_say "prefix $(mkvar "$TOP_BUILDDIR" prefix): sbindir $sbindir, mandir $mandir, sysconfdir $sysconfdir"
expect_file "$D$sbindir/tlsproxy"
[ -x "$D$sbindir/tlsproxy" ] || tp_fail "$D$sbindir/tlsproxy is not executable"
expect_file "$D$mandir/man8/tlsproxy.8"
expect_file "$D$mandir/man5/tlsproxy.conf.5"
expect_file "$D$datadir/doc/tlsproxy/tlsproxy.conf"
expect_file "$D$datadir/doc/tlsproxy/logrotate/tlsproxy"
expect_file "$D$datadir/doc/tlsproxy/certbot/tlsproxy-deploy-hook"
[ -x "$D$datadir/doc/tlsproxy/certbot/tlsproxy-deploy-hook" ] ||
	tp_fail "the certbot deploy hook is not installed executable"
expect_file "$D$sysconfdir/tlsproxy.conf"
cmp -s "$TOP_SRCDIR/etc/tlsproxy.conf" "$D$sysconfdir/tlsproxy.conf" ||
	tp_fail "$sysconfdir/tlsproxy.conf is not the sample"
"$D$sbindir/tlsproxy" -c "$D$sysconfdir/tlsproxy.conf" -n >"$T/n.out" 2>&1 ||
	{ cat "$T/n.out"; tp_fail "the installed daemon rejects the installed sample configuration"; }
tp_ok "the installed daemon accepts the installed configuration (-n)"

tp_check "a second install keeps an edited $sysconfdir/tlsproxy.conf"
echo 'smtpd_tls_loglevel = "2";   # edited' >>"$D$sysconfdir/tlsproxy.conf"
cp "$D$sysconfdir/tlsproxy.conf" "$T/edited.conf"
make -s -C "$TOP_BUILDDIR" install DESTDIR="$D" >"$T/install2.out" 2>&1 ||
	{ cat "$T/install2.out"; tp_fail "second make install failed"; }
sed "s/^/    | /" "$T/install2.out"
cmp -s "$T/edited.conf" "$D$sysconfdir/tlsproxy.conf" ||
	tp_fail "the second install overwrote the edited configuration"
cmp -s "$TOP_SRCDIR/etc/tlsproxy.conf" "$D$datadir/doc/tlsproxy/tlsproxy.conf" ||
	tp_fail "the sample in $datadir/doc/tlsproxy is not the sample"
tp_ok "edited configuration kept, sample refreshed"

tp_check "man pages render; groff -man -ww -z reports nothing"
for page in "$D$mandir/man8/tlsproxy.8" "$D$mandir/man5/tlsproxy.conf.5"; do
	if command -v groff >/dev/null 2>&1; then
		warn=$(groff -man -ww -z "$page" 2>&1)
		[ -z "$warn" ] || { echo "$warn"; tp_fail "groff warnings for $(basename "$page")"; }
		tp_ok "groff -man -ww -z $(basename "$page"): no warnings"
	else
		tp_say "groff is not installed: warnings not checked"
	fi
	if command -v man >/dev/null 2>&1; then
		out=$(MANWIDTH=80 MANPAGER=cat PAGER=cat man -l "$page" 2>"$T/man.err")
		rc=$?
		[ "$rc" = 0 ] || { cat "$T/man.err"; tp_fail "man -l $(basename "$page") failed ($rc)"; }
		[ -s "$T/man.err" ] && { cat "$T/man.err"; tp_fail "man -l $(basename "$page") printed errors"; }
		printf '%s\n' "$out" | grep -q '^NAME' || tp_fail "man -l $(basename "$page"): no NAME section"
		printf '%s\n' "$out" | grep -q 'tlsproxy' || tp_fail "man -l $(basename "$page"): no text"
		tp_ok "man -l $(basename "$page"): $(printf '%s\n' "$out" | wc -l) lines"
	else
		tp_say "man is not installed: rendering not checked"
	fi
done

tp_check "make uninstall removes what was installed but the edited configuration"
make -s -C "$TOP_BUILDDIR" uninstall DESTDIR="$D" >"$T/uninstall.out" 2>&1 ||
	{ cat "$T/uninstall.out"; tp_fail "make uninstall failed"; }
sed "s/^/    | /" "$T/uninstall.out"
left=$(cd "$D" && find . -type f | sort)
[ "$left" = ".$sysconfdir/tlsproxy.conf" ] || tp_fail "left after uninstall: $left"
tp_ok "only .$sysconfdir/tlsproxy.conf (edited) is left"

tp_check "init script and systemd unit syntax"
sh -n "$TOP_SRCDIR/contrib/init.d/tlsproxy" || tp_fail "sh -n contrib/init.d/tlsproxy"
sh -n "$TOP_SRCDIR/contrib/default/tlsproxy" || tp_fail "sh -n contrib/default/tlsproxy"
sh -n "$TOP_SRCDIR/contrib/certbot/tlsproxy-deploy-hook" ||
	tp_fail "sh -n contrib/certbot/tlsproxy-deploy-hook"
grep -q '^### BEGIN INIT INFO' "$TOP_SRCDIR/contrib/init.d/tlsproxy" &&
	grep -q '^### END INIT INFO' "$TOP_SRCDIR/contrib/init.d/tlsproxy" ||
	tp_fail "init script without an LSB header"
tp_ok "sh -n passes; LSB header present"

tp_check "configure --prefix=/opt/x --sysconfdir=/opt/etc --localstatedir=/opt/var"
if [ -f "$TOP_SRCDIR/config.status" ]; then
	tp_say "SKIP part: the source tree is configured in place, no second build tree possible"
	tp_say "PASS"
	exit 0
fi
B=$T/build
mkdir "$B"
start=$(date +%s)
(cd "$B" && "$TOP_SRCDIR/configure" -q --prefix=/opt/x --sysconfdir=/opt/etc \
    --localstatedir=/opt/var CFLAGS=-O0) >"$T/configure.out" 2>&1 ||
	{ tail -n 40 "$T/configure.out"; tail -n 40 "$B/config.log"; tp_fail "configure failed"; }
make -s -C "$B" -j"$(nproc 2>/dev/null || echo 2)" >"$T/make.out" 2>&1 ||
	{ tail -n 40 "$T/make.out"; tp_fail "make failed"; }
tp_ok "configured and built in $(( $(date +%s) - start )) s"
X=$B/src/tlsproxy
out=$("$X" -h 2>&1)
printf '%s\n' "$out" | sed "s/^/    | /"
printf '%s\n' "$out" | grep -q -- '-c FILE .*(default /opt/etc/tlsproxy.conf)' ||
	tp_fail "tlsproxy -h does not name /opt/etc/tlsproxy.conf"
out=$("$X" -d | grep '^tlsproxy_pid_file')
printf '    | %s\n' "$out"
[ "$out" = 'tlsproxy_pid_file = "/opt/var/run/tlsproxy.pid";' ] ||
	tp_fail "tlsproxy -d: $out, want /opt/var/run/tlsproxy.pid"
tp_ok "default configuration /opt/etc/tlsproxy.conf, pid file /opt/var/run/tlsproxy.pid"
D2=$T/dest2
make -s -C "$B" install DESTDIR="$D2" >"$T/install3.out" 2>&1 ||
	{ cat "$T/install3.out"; tp_fail "make install (/opt) failed"; }
for f in /opt/x/sbin/tlsproxy /opt/x/share/man/man8/tlsproxy.8 \
    /opt/x/share/man/man5/tlsproxy.conf.5 /opt/x/share/doc/tlsproxy/tlsproxy.conf \
    /opt/etc/tlsproxy.conf; do
	expect_file "$D2$f"
done

tp_check "systemd-analyze verify contrib/systemd/tlsproxy.service"
if ! command -v systemd-analyze >/dev/null 2>&1; then
	tp_say "systemd-analyze is not installed (Debian package systemd): unit not verified"
else
	# The unit names /usr/sbin/tlsproxy and /etc/tlsproxy.conf: point it
	# at the daemon and configuration just installed.
	mkdir "$T/unit"
	sed -e "s#/usr/sbin/tlsproxy#$D2/opt/x/sbin/tlsproxy#g" \
	    -e "s#/etc/tlsproxy.conf#$D2/opt/etc/tlsproxy.conf#g" \
	    "$TOP_SRCDIR/contrib/systemd/tlsproxy.service" >"$T/unit/tlsproxy.service"
	# Documentation=man:... is looked up in the installed man pages.
	if MANPATH=$D2/opt/x/share/man systemd-analyze verify "$T/unit/tlsproxy.service" \
	    >"$T/verify.out" 2>&1; then
		sed "s/^/    | /" "$T/verify.out"
		tp_ok "systemd-analyze verify: no complaints"
	else
		cat "$T/verify.out"
		tp_fail "systemd-analyze verify failed"
	fi
fi
tp_say "PASS"
exit 0

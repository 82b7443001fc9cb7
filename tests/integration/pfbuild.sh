#!/bin/bash
# pfbuild.sh VERSION ROOT - build one upstream Postfix into a private prefix
#
# The tarball $SHARED_DIR/thirdparty/postfix/postfix-VERSION.tar.gz is
# built with TLS and Berkeley DB into ROOT (programs in ROOT/libexec and
# ROOT/sbin, configuration in ROOT/etc, queue and data under ROOT): a
# Postfix for private test instances (pflib.sh, tp_pf_use_build) that
# shares nothing with the host's. Needs root (make upgrade sets owners),
# the user postfix and group postdrop, and libssl-dev libdb-dev m4.
#
# A finished build leaves ROOT/.built holding the tarball's checksum;
# while it matches, the build is not repeated. Output goes to
# ROOT.build.log; exit status 0 when ROOT is ready.
set -u
ver=$1
root=$2
shared=${SHARED_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
tarball=$shared/thirdparty/postfix/postfix-$ver.tar.gz
log=$root.build.log

[ -f "$tarball" ] || { echo "pfbuild: no $tarball" >&2; exit 2; }
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ -f "$root/.built" ] && [ "$(cat "$root/.built")" = "$sum" ] &&
    [ -x "$root/libexec/master" ]; then
	exit 0
fi
for h in /usr/include/db.h /usr/include/openssl/ssl.h; do
	[ -f "$h" ] || { echo "pfbuild: $h missing (libdb-dev, libssl-dev)" >&2; exit 2; }
done
command -v m4 >/dev/null 2>&1 || { echo "pfbuild: m4 missing" >&2; exit 2; }

rm -rf "$root" "$root.src"
mkdir -p "$root.src" || exit 2
{
	set -e
	echo "pfbuild: $ver into $root"
	tar -xzf "$tarball" -C "$root.src"
	cd "$root.src"/postfix-*
	# Every directory under ROOT; no shared libraries, no man or html pages.
	make makefiles CCARGS='-DUSE_TLS -DHAS_DB' AUXLIBS='-lssl -lcrypto -ldb' \
	    config_directory="$root/etc" command_directory="$root/sbin" \
	    daemon_directory="$root/libexec" data_directory="$root/data" \
	    queue_directory="$root/spool" meta_directory="$root/etc" \
	    shlib_directory="$root/lib" sendmail_path="$root/sbin/sendmail" \
	    mailq_path="$root/bin/mailq" newaliases_path="$root/bin/newaliases" \
	    manpage_directory="$root/man" html_directory=no readme_directory=no \
	    default_database_type=hash default_cache_db_type=btree
	make -j"$(nproc)"
	make upgrade mail_owner=postfix setgid_group=postdrop
} >"$log" 2>&1
rc=$?
rm -rf "$root.src"
if [ $rc != 0 ] || [ ! -x "$root/libexec/master" ]; then
	echo "pfbuild: building Postfix $ver failed; the end of $log:" >&2
	tail -n 30 "$log" >&2
	exit 1
fi
echo "$sum" >"$root/.built"
exit 0

#!/bin/sh
# mkcert.sh CERT KEY [CN] - make a self-signed certificate and key for tlsproxy.
# For tests and first runs; use a certificate from your CA in production.
set -eu
cert=$1 key=$2 cn=${3:-$(hostname -f 2>/dev/null || echo localhost)}
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$cn" \
    -addext "subjectAltName=DNS:$cn" -keyout "$key" -out "$cert" 2>/dev/null
chmod 600 "$key"
chmod 644 "$cert"
echo "wrote $cert and $key (CN=$cn)"

/*
 * NAME
 *	tls_files - keys, certificates and chains from PEM files, either role
 * SYNOPSIS
 *	#include "tls_files.h"
 * DESCRIPTION
 *	Every key, certificate, chain and DH parameter file is opened
 *	through priv_open_file() (privsep.h): by the privileged helper
 *	when the daemon runs as tlsproxy_user, else here. So a reload
 *	reads root-only keys, and start and reload share this code.
 *
 *	tlsf_open() gives a BIO on such a file; with TLSF_KEY (it holds a
 *	private key) a file readable by everyone is refused.
 *
 *	tlsf_load_pair() loads one certificate file (leaf, then its
 *	issuers) and its private key into the slot of the key's type; 1
 *	when loaded, 0 when both names are empty. On error *bad_key tells
 *	whether the key (1) or the certificate (0) is the one to fix.
 *
 *	tlsf_load_chain_file() loads every key + chain group of one PEM
 *	file by Postfix's rule: each key is immediately preceded or
 *	followed by its certificate, then come that certificate's issuers,
 *	up to the next key (or the certificate that goes with it). The
 *	number of keys loaded, at least 1.
 * DIAGNOSTICS
 *	NULL or -1 with a reason in err that names the file.
 */
#ifndef TLSPROXY_TLS_FILES_H
#define TLSPROXY_TLS_FILES_H

#include <stddef.h>
#include <openssl/ssl.h>

#define TLSF_KEY	0x01	/* holds a private key: not for everyone's eyes */

BIO	*tlsf_open(const char *path, const char *desc, int flags, char *err,
	    size_t errlen);
int	 tlsf_load_pair(SSL_CTX *, const char *cert, const char *key,
	    const char *what, int *bad_key, char *err, size_t errlen);
int	 tlsf_load_chain_file(SSL_CTX *, const char *path, char *err,
	    size_t errlen);

#endif

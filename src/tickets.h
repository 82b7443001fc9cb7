/*
 * NAME
 *	tickets - TLS session ticket key ring (RFC 5077 / TLS 1.3 tickets)
 * SYNOPSIS
 *	#include "tickets.h"
 * DESCRIPTION
 *	One process-wide ring of ticket keys: the current key, used to
 *	encrypt new tickets, and older keys still accepted for decryption.
 *	Each key has a 16-byte name, a cipher key and an HMAC-SHA256 key.
 *	As Postfix's tlsmgr does, a new key is made every "lifetime"
 *	seconds (the session cache timeout) and the previous one is
 *	accepted for one more lifetime; older keys are dropped, so a
 *	ticket lives at most two lifetimes. The ring outlives
 *	configuration reloads, so tickets keep working across SIGHUP.
 *
 *	With a key file (tkey_configure(..., keyfile)), the ring comes from
 *	that file instead, and is re-read when the file changes (checked by
 *	tkey_tick()), so several daemons behind one name share keys; the
 *	file is written by contrib/tlsproxy-ticketkeys. File format, one
 *	key a line, newest (current) first, '#' comments allowed:
 *	    <name: 32 hex> <cipher key: 64 hex> <hmac key: 64 hex> <created: unix time>
 *
 *	tkey_cb() is the callback for SSL_CTX_set_tlsext_ticket_key_evp_cb():
 *	enc=1 encrypts with the current key; enc=0 looks the key name up:
 *	unknown -> 0 (full handshake), current -> 1, older -> 2 (OpenSSL
 *	then issues a fresh ticket with the current key).
 *
 *	Locking: a rwlock guards the ring; the callback copies the key it
 *	needs under the read lock and sets up the cipher and MAC contexts
 *	after releasing it. Key material is wiped (OPENSSL_cleanse) when
 *	dropped, and never logged.
 * DIAGNOSTICS
 *	tkey_configure(): -1 with a reason (unknown cipher, unreadable or
 *	malformed key file: file and line named).
 */
#ifndef TLSPROXY_TICKETS_H
#define TLSPROXY_TICKETS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#define TKEY_NAME_LEN	16
#define TKEY_MAX_KEYS	8	/* keys kept from a key file */

/*
 * Set (or change, on reload) the cipher (e.g. "aes-256-cbc"), the
 * rotation lifetime in seconds (> 0), and the optional key file ("" =
 * generate keys in memory). Keeps existing in-memory keys when only
 * the lifetime changes. now: time(NULL).
 */
int	tkey_configure(const char *cipher, long lifetime, const char *keyfile,
	    int64_t now, char *err, size_t errlen);
/* Rotate in-memory keys when due, or re-read a changed key file. Call once a second. */
void	tkey_tick(int64_t now);
/* Drop and wipe every key. */
void	tkey_shutdown(void);

int	tkey_cb(SSL *ssl, unsigned char key_name[TKEY_NAME_LEN],
	    unsigned char *iv, EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx, int enc);

/* For tests: number of keys in the ring, and the name of key i (0 = current). */
size_t	tkey_count(void);
int	tkey_name(size_t i, unsigned char name[TKEY_NAME_LEN]);

#endif

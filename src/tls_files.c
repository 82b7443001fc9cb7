/*
 * NAME
 *	tls_files - keys, certificates and chains from PEM files, either role
 * DESCRIPTION
 *	See tls_files.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "privsep.h"
#include "tls_common.h"
#include "tls_files.h"

BIO *
tlsf_open(const char *path, const char *desc, int flags, char *err,
    size_t errlen)
{
	struct stat st;
	char	 why[512];
	BIO	*bio;
	int	 fd;

	if ((fd = priv_open_file(path, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "cannot read %s %s: %s", desc, path, why);
		return (NULL);
	}
	if ((flags & TLSF_KEY) && fstat(fd, &st) == 0 && (st.st_mode & S_IROTH)) {
		snprintf(err, errlen, "%s %s is readable by everyone (mode %04o); "
		    "refusing to use it: chmod o-r %s", desc, path,
		    (unsigned int)(st.st_mode & 07777), path);
		(void)close(fd);
		return (NULL);
	}
	if ((bio = BIO_new_fd(fd, BIO_CLOSE)) == NULL) {
		(void)close(fd);
		snprintf(err, errlen, "out of memory");
	}
	return (bio);
}

/*
 * tlsf_use_chain - a leaf certificate and its issuers from bio into the
 * certificate slot of its key type (what SSL_CTX_use_certificate_chain_file
 * does, from a descriptor); 1, or 0 with OpenSSL's errors queued
 */
static int
tlsf_use_chain(SSL_CTX *ctx, BIO *bio)
{
	X509	*x, *ca;
	unsigned long e;

	ERR_clear_error();
	if ((x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) == NULL)
		return (0);
	if (SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		return (0);
	}
	X509_free(x);
	if (SSL_CTX_clear_chain_certs(ctx) != 1)
		return (0);
	while ((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			return (0);
		}
	/* The end of the file is "no start line"; anything else is bad. */
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		return (1);
	}
	return (0);
}

int
tlsf_load_pair(SSL_CTX *ctx, const char *cert, const char *key,
    const char *what, int *bad_key, char *err, size_t errlen)
{
	char	 ebuf[256], desc[64];
	EVP_PKEY *pkey;
	BIO	*bio;
	int	 ok;

	*bad_key = 0;
	if (*cert == '\0' && *key == '\0')
		return (0);
	if (*cert == '\0' || *key == '\0') {
		*bad_key = *key == '\0';
		snprintf(err, errlen, "%s certificate and key must be set together "
		    "(certificate \"%s\", key \"%s\")", what, cert, key);
		return (-1);
	}
	snprintf(desc, sizeof(desc), "%s certificate file", what);
	if ((bio = tlsf_open(cert, desc, 0, err, errlen)) == NULL)
		return (-1);
	ok = tlsf_use_chain(ctx, bio);
	BIO_free(bio);
	if (!ok) {
		snprintf(err, errlen, "cannot load %s certificate chain from %s: %s",
		    what, cert, tls_errstr(ebuf, sizeof(ebuf)));
		return (-1);
	}
	*bad_key = 1;
	snprintf(desc, sizeof(desc), "%s private key file", what);
	if ((bio = tlsf_open(key, desc, TLSF_KEY, err, errlen)) == NULL)
		return (-1);
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		snprintf(err, errlen, "cannot load %s private key from %s: %s",
		    what, key, tls_errstr(ebuf, sizeof(ebuf)));
		return (-1);
	}
	/* Check ourselves first, for a message that names both files. */
	if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), pkey) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
		EVP_PKEY_free(pkey);
		ERR_clear_error();
		snprintf(err, errlen, "%s private key in %s does not match the "
		    "certificate in %s", what, key, cert);
		return (-1);
	}
	EVP_PKEY_free(pkey);
	return (1);
}

/* One PEM object of a chain file, in file order. */
struct tlsf_pem {
	X509	*cert;		/* owned, or NULL */
	EVP_PKEY *key;		/* owned, or NULL */
};

/* tlsf_read_pems - every certificate and private key of a PEM file, in order */
static int
tlsf_read_pems(const char *path, struct tlsf_pem **out, size_t *nout,
    char *err, size_t errlen)
{
	struct tlsf_pem *v = NULL, *nv;
	unsigned char *data = NULL;
	const unsigned char *p;
	char	*name = NULL, *header = NULL, ebuf[256];
	long	 len;
	size_t	 n = 0;
	BIO	*bio;

	if ((bio = tlsf_open(path, "chain file", TLSF_KEY, err, errlen)) == NULL)
		return (-1);
	while (PEM_read_bio(bio, &name, &header, &data, &len) == 1) {
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL)
			goto oom;
		v = nv;
		v[n].cert = NULL;
		v[n].key = NULL;
		p = data;
		if (strcmp(name, "CERTIFICATE") == 0 ||
		    strcmp(name, "TRUSTED CERTIFICATE") == 0) {
			v[n].cert = d2i_X509(NULL, &p, len);
		} else if (strstr(name, "PRIVATE KEY") != NULL &&
		    strstr(name, "ENCRYPTED") == NULL) {
			v[n].key = d2i_AutoPrivateKey(NULL, &p, len);
		} else {
			/* Parameters and the like: not part of a chain. */
			OPENSSL_free(name);
			OPENSSL_free(header);
			OPENSSL_free(data);
			name = header = NULL;
			data = NULL;
			continue;
		}
		if (v[n].cert == NULL && v[n].key == NULL) {
			snprintf(err, errlen, "chain file %s: cannot decode %s #%zu: %s",
			    path, name, n + 1, tls_errstr(ebuf, sizeof(ebuf)));
			goto fail;
		}
		n++;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_cleanse(data, (size_t)len);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	ERR_clear_error();		/* the normal end-of-file "no start line" */
	BIO_free(bio);
	*out = v;
	*nout = n;
	return (0);
oom:
	snprintf(err, errlen, "out of memory");
fail:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	while (n-- > 0) {
		X509_free(v[n].cert);
		EVP_PKEY_free(v[n].key);
	}
	free(v);
	return (-1);
}

/* tlsf_pem_matches - is object i a certificate for key? */
static int
tlsf_pem_matches(const struct tlsf_pem *v, size_t n, size_t i, EVP_PKEY *key)
{
	int	 ok;

	if (i >= n || v[i].cert == NULL)
		return (0);
	ok = X509_check_private_key(v[i].cert, key) == 1;
	ERR_clear_error();
	return (ok);
}

/*
 * tlsf_load_chain_file - every key + chain group of one PEM file.
 * Postfix's rule: each key is immediately preceded or followed by its
 * certificate, then come that certificate's issuers, up to the next
 * key (or the certificate that goes with the next key).
 */
int
tlsf_load_chain_file(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	STACK_OF(X509) *chain = NULL;
	struct tlsf_pem *v = NULL;
	X509	*leaf;
	char	 ebuf[256];
	size_t	 n = 0, i, j, leaf_at;
	int	 loaded = 0, rc = -1;

	if (tlsf_read_pems(path, &v, &n, err, errlen) < 0)
		return (-1);
	for (i = 0; i < n; i++) {
		if (v[i].key == NULL)
			continue;
		if (i > 0 && tlsf_pem_matches(v, n, i - 1, v[i].key))
			leaf_at = i - 1;		/* "cert, key" order */
		else if (tlsf_pem_matches(v, n, i + 1, v[i].key))
			leaf_at = i + 1;		/* "key, cert" order */
		else {
			snprintf(err, errlen, "chain file %s: private key #%d is not "
			    "next to its certificate", path, loaded + 1);
			goto done;
		}
		leaf = v[leaf_at].cert;
		if ((chain = sk_X509_new_null()) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		for (j = (leaf_at > i ? leaf_at : i) + 1; j < n; j++) {
			if (v[j].cert == NULL)
				break;		/* the next key */
			/* A certificate right before its own key starts the next group. */
			if (j + 1 < n && v[j + 1].key != NULL &&
			    tlsf_pem_matches(v, n, j, v[j + 1].key))
				break;
			if (sk_X509_push(chain, v[j].cert) == 0) {
				snprintf(err, errlen, "out of memory");
				goto done;
			}
		}
		if (SSL_CTX_use_cert_and_key(ctx, leaf, v[i].key, chain, 1) != 1) {
			snprintf(err, errlen, "chain file %s: cannot use key #%d with "
			    "its certificate chain: %s", path, loaded + 1,
			    tls_errstr(ebuf, sizeof(ebuf)));
			goto done;
		}
		sk_X509_free(chain);
		chain = NULL;
		loaded++;
	}
	if (loaded == 0) {
		snprintf(err, errlen, "chain file %s holds no private key", path);
		goto done;
	}
	rc = loaded;
done:
	sk_X509_free(chain);		/* the certificates belong to v */
	for (i = 0; i < n; i++) {
		X509_free(v[i].cert);
		EVP_PKEY_free(v[i].key);
	}
	free(v);
	return (rc);
}


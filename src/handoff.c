/*
 * NAME
 *	handoff - the Postfix tlsproxy protocol on an accepted UNIX connection
 * DESCRIPTION
 *	See handoff.h and the protocol description (R1, Q1[, Q2], R2,
 *	descriptor, handshake, plaintext). Timers follow the real
 *	tlsproxy: 100 s for the request and for the descriptor, the
 *	request's first timeout for the handshake, its second timeout
 *	+ 10 s of inactivity after it. Our own writes on the local
 *	socket are bounded by tlsproxy_watchdog_timeout.
 *
 *	Each wait (for the request, the descriptor, the handshake, the
 *	relay, the client's close after status=0) is a wait without a
 *	worker (session.h): the session's state lives in one heap object
 *	(s->ctx), and each step is a function that the next worker calls.
 *	Once the first bytes of a request or the descriptor message are
 *	there, the rest is read at once, by the same deadline: the local
 *	client writes each in one go.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "attr.h"
#include "config.h"
#include "fdpass.h"
#include "handoff.h"
#include "log.h"
#include "netlist.h"
#include "session.h"
#include "stats.h"
#include "sys.h"
#include "tls_client.h"
#include "tls_common.h"
#include "tls_props.h"
#include "tls_server.h"

#define HANDOFF_REQ_TIMEOUT_MS	(100 * 1000)	/* request, then descriptor */
#define HANDOFF_EOF_WAIT_MS	(10 * 1000)	/* after status=0 */
#define HANDOFF_REQ_MAX		(256 * 1024)	/* Q1 + Q2 never come near */

#define HANDOFF_ROLE_SERVER	(1 << 0)
#define HANDOFF_ROLE_CLIENT	(1 << 1)
#define HANDOFF_SEND_CONTEXT	(1 << 2)
#define HANDOFF_PROBE_ONLY	(1 << 3)

static const unsigned char handoff_r1[] = "protocol\0tlsproxy_protocol\0";	/* + NUL */
static const unsigned char handoff_refuse[] =
    "protocol\0tlsproxy_protocol\0\0status\0" "0\0";			/* + NUL */

const unsigned char *
handoff_refuse_bytes(size_t *len)
{
	*len = sizeof(handoff_refuse);	/* includes the final terminator NUL */
	return (handoff_refuse);
}

/* Buffered reader for request records; never reads descriptors. */
struct handoff_in {
	unsigned char *buf;		/* owned */
	size_t	 len;
	size_t	 cap;
};

/* One handoff session's state across its waits (s->ctx). */
struct handoff_st {
	struct handoff_in in;
	struct attr_rec	 q1, q2;
	struct tprops_client cp;	/* client role: decoded from q2 */
	int		 have_cp;
	unsigned int	 flags;
	int64_t		 deadline;	/* of the current wait */
	int		 connected;	/* CONNECT logged: DISCONNECT owed */
};

static void
handoff_st_free(void *p)
{
	struct handoff_st *st = p;

	if (st->have_cp)
		tprops_client_free(&st->cp);
	attr_rec_free(&st->q1);
	attr_rec_free(&st->q2);
	free(st->in.buf);
	free(st);
}

/* handoff_end - the session is over; the worker frees it */
static void
handoff_end(struct sess *s)
{
	struct handoff_st *st = s->ctx;

	if (st->connected)
		log_info("DISCONNECT %s", s->peer);
}

/*
 * handoff_wait_in - wait for the local client's next bytes (or its
 * descriptor) by st->deadline: 1 to go on at once, 0 when parked
 * (cont runs when they are there, or at the deadline)
 */
static int
handoff_wait_in(struct sess *s, void (*cont)(struct sess *))
{
	struct handoff_st *st = s->ctx;

	if (st->in.len > 0)
		return (1);
	park_item_set(&s->pk, s->plain_fd, POLLIN, -1, 0, st->deadline);
	return (sess_wait(s, cont));
}

/*
 * handoff_read_record - next complete record, reading as needed.
 * Returns 1 with rec filled, 0 at EOF before a complete record, -1 on error.
 */
static int
handoff_read_record(int fd, struct handoff_in *in, struct attr_rec *rec,
    int64_t deadline, char *err, size_t errlen)
{
	size_t	 used;
	ssize_t	 n;
	int	 r;

	for (;;) {
		r = attr_decode(in->buf, in->len, rec, &used, err, errlen);
		if (r < 0)
			return (-1);
		if (r == 1) {
			memmove(in->buf, in->buf + used, in->len - used);
			in->len -= used;
			return (1);
		}
		if (in->len == in->cap) {
			if (in->cap >= HANDOFF_REQ_MAX) {
				snprintf(err, errlen, "request larger than %d bytes",
				    HANDOFF_REQ_MAX);
				return (-1);
			}
			in->cap = in->cap ? in->cap * 2 : 4096;
			if ((in->buf = realloc(in->buf, in->cap)) == NULL) {
				snprintf(err, errlen, "out of memory");
				return (-1);
			}
		}
		n = fdpass_read(fd, in->buf + in->len, in->cap - in->len, deadline,
		    err, errlen);
		if (n < 0)
			return (-1);
		if (n == 0) {
			snprintf(err, errlen, in->len ? "premature end-of-input in the "
			    "middle of a request" : "unexpected EOF before the request");
			return (0);
		}
		in->len += (size_t)n;
	}
}

/*
 * handoff_more - has the client sent more than the request: buffered
 * bytes, or bytes (or EOF) waiting on the socket right now?
 */
static int
handoff_more(int fd, const struct handoff_in *in)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return (in->len > 0 || poll(&pfd, 1, 0) > 0);
}

/* handoff_status - write R2 */
static int
handoff_status(struct sess *s, int ok)
{
	static const unsigned char ok1[] = "status\0" "1\0";
	static const unsigned char ok0[] = "status\0" "0\0";
	int64_t	 deadline = sys_now_ms() + s->snap->watchdog_ms;

	if (sys_write_all(s->plain_fd, ok ? ok1 : ok0, sizeof(ok1), deadline) < 0) {
		log_warn("handoff: write status attribute");
		return (-1);
	}
	return (0);
}

/* handoff_drain_go - read what the client still sends, until its EOF */
static void
handoff_drain_go(struct sess *s)
{
	struct handoff_st *st = s->ctx;
	unsigned char buf[512];
	char	 err[128];

	for (;;) {
		if (s->pk.timed_out) {
			s->pk.timed_out = 0;
			break;
		}
		if (!handoff_wait_in(s, handoff_drain_go))
			return;
		st->in.len = 0;
		if (s->pk.timed_out || fdpass_read(s->plain_fd, buf, sizeof(buf),
		    st->deadline, err, sizeof(err)) <= 0)
			break;
	}
	s->pk.timed_out = 0;
	handoff_end(s);
}

/*
 * handoff_drain - after status=0 (or a probe's status) the client
 * closes; let it, within bounds, then the session ends
 */
static void
handoff_drain(struct sess *s)
{
	struct handoff_st *st = s->ctx;

	st->deadline = sys_now_ms() + HANDOFF_EOF_WAIT_MS;
	s->pk.timed_out = 0;
	handoff_drain_go(s);
}

/* handoff_check_fd - the descriptor must be a connected stream socket */
static int
handoff_check_fd(int fd, char *err, size_t errlen)
{
	struct sockaddr_storage peer;
	struct stat st;
	int	 type = 0;
	socklen_t len = sizeof(type);

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		return (-1);
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "received descriptor is not a socket");
		return (-1);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_STREAM) {
		snprintf(err, errlen, "received descriptor is not a stream socket");
		return (-1);
	}
	/* A listening or never-connected socket has no peer to talk TLS with. */
	len = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0) {
		snprintf(err, errlen, "received socket is not connected: %s",
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/* handoff_relay - the relay phase, as Postfix does it: no half-close */
static void
handoff_relay(struct sess *s)
{
	sess_relay_start(s, s->ssl, s->idle_ms, 0, handoff_end);
}

/* handoff_tls_done - the server-role handshake is over */
static void
handoff_tls_done(struct sess *s, enum tls_hs hr)
{
	if (hr != TLS_HS_OK)
		handoff_end(s);
	else
		handoff_relay(s);
}

/* handoff_tls - the server-role handshake on the received peer socket */
static void
handoff_tls(struct sess *s)
{
	char	 scope[600];

	/* Postfix keys server sessions by service id: never resume across them. */
	snprintf(scope, sizeof(scope), "%s|%s", s->scope, s->serverid);
	tlss_sid_ctx(scope, s->sid_ctx);
	sess_tls_accept(s, s->plain_fd, sys_now_ms() + s->handshake_ms,
	    "handoff: local client", handoff_tls_done);
}

/*
 * Client role: smtp(8)/lmtp(8) with connection reuse. Q2 says how to
 * build the client SSL_CTX (group B) and how to run this session
 * (group C); for the global TLS parameters of group A we use our own
 * values, as Postfix's tlsproxy does, and warn once per distinct
 * difference.
 */

/* Postfix's defaults of group A parameters that have no setting here. */
static const struct {
	const char	*name;
	const char	*value;
} handoff_param_defaults[] = {
	{ "tls_ssl_options", "" },
	{ "tls_dane_digests", "sha512 sha256" },
	{ "tls_wildcard_matches_multiple_labels", "1" },
};

#define HANDOFF_DIFF_SEEN	16	/* distinct differences warned about */
static pthread_mutex_t handoff_diff_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t handoff_diff_seen[HANDOFF_DIFF_SEEN];	/* handoff_diff_lock */
static size_t handoff_diff_next;

/* handoff_our_name - our parameter for a request's attribute, or NULL */
static const char *
handoff_our_name(const char *name)
{
	size_t	 i;

	if (strcmp(name, "config_file") == 0)
		return ("tls_config_file");
	if (strcmp(name, "config_name") == 0)
		return ("tls_config_name");
	for (i = 0; i < cfg_param_count(); i++)
		if (strcmp(cfg_param_name(i), name) == 0)
			return (cfg_param_name(i));
	return (NULL);
}

/*
 * handoff_our_param - our value of a request attribute, as sent on the
 * wire (booleans as 1/0), or NULL when we have no such setting
 */
static const char *
handoff_our_param(const struct cfg *cfg, const char *name)
{
	const char *ours = handoff_our_name(name), *v;
	size_t	 i;

	if (ours != NULL) {
		v = cfg_str(cfg, ours);
		if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0)
			return ("1");
		if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0)
			return ("0");
		return (v);
	}
	for (i = 0; i < sizeof(handoff_param_defaults) /
	    sizeof(handoff_param_defaults[0]); i++)
		if (strcmp(handoff_param_defaults[i].name, name) == 0)
			return (handoff_param_defaults[i].value);
	return (NULL);
}

/*
 * Group A defaults of earlier Postfix releases (3.7 to 3.10), where
 * they differ from ours (Postfix 3.11's): a client that sends the
 * defaults of its release is not told it differs from a daemon left at
 * its defaults.
 */
static const struct {
	const char	*name;
	const char	*value;
} handoff_old_defaults[] = {
	{ "tls_high_cipherlist", "aNULL:-aNULL:HIGH:@STRENGTH" },
	{ "tls_medium_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH" },
	{ "tls_low_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH" },
	{ "tls_export_cipherlist",
	    "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH" },
	{ "tls_null_cipherlist", "eNULL:!aNULL" },
	{ "tls_eecdh_auto_curves", "X25519 X448 prime256v1 secp521r1 secp384r1" },
};

/* handoff_norm - a list value with single spaces: "a, b  c " is "a b c" */
static void
handoff_norm(char *out, size_t outlen, const char *v)
{
	size_t	 n = 0;
	int	 sep = 0;

	for (; *v != '\0' && n + 2 < outlen; v++) {
		if (*v == ' ' || *v == '\t' || *v == ',') {
			sep = n > 0;
			continue;
		}
		if (sep)
			out[n++] = ' ';
		sep = 0;
		out[n++] = *v;
	}
	out[n] = '\0';
}

/*
 * handoff_same - does the requester's value of parameter name match
 * ours: the same list, or both the defaults of their releases?
 */
static int
handoff_same(const struct cfg *cfg, const char *param, const char *name,
    const char *theirs, const char *ours)
{
	char	 a[1024], b[1024];
	size_t	 i;

	handoff_norm(a, sizeof(a), theirs);
	handoff_norm(b, sizeof(b), ours);
	if (strcmp(a, b) == 0)
		return (1);
	if (param == NULL || cfg_is_set(cfg, param))
		return (0);
	for (i = 0; i < sizeof(handoff_old_defaults) /
	    sizeof(handoff_old_defaults[0]); i++) {
		if (strcmp(handoff_old_defaults[i].name, name) != 0)
			continue;
		handoff_norm(b, sizeof(b), handoff_old_defaults[i].value);
		if (strcmp(a, b) == 0)
			return (1);
	}
	return (0);
}

/*
 * handoff_diff - append "name = "theirs" (ours: "ours")" when they
 * differ; param is our parameter behind ours (NULL: a fixed value)
 */
static size_t
handoff_diff(const struct cfg *cfg, char *diff, size_t len, size_t n,
    const char *name, const char *theirs, const char *param, const char *ours)
{
	char	 a[160], b[160];

	if (n >= len || ours == NULL || handoff_same(cfg, param, name, theirs,
	    ours))
		return (n);
	sys_printable(a, sizeof(a), theirs);
	sys_printable(b, sizeof(b), ours);
	return (n + (size_t)snprintf(diff + n, len - n, "%s%s = \"%s\" (ours: "
	    "\"%s\")", n ? ", " : "", name, a, b));
}

/*
 * handoff_warn_diff - Postfix's "unexpected settings" warning for a
 * requester (client or server) whose settings differ from ours as diff
 * says: once per distinct difference, then the hint
 */
static void
handoff_warn_diff(const char *who, const char *diff, const char *hint)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */
	size_t	 i;
	int	 seen = 0;

	if (diff[0] == '\0')
		return;
	for (i = 0; who[i] != '\0'; i++)
		h = (h ^ (unsigned char)who[i]) * 1099511628211ULL;
	for (i = 0; diff[i] != '\0'; i++)
		h = (h ^ (unsigned char)diff[i]) * 1099511628211ULL;
	pthread_mutex_lock(&handoff_diff_lock);
	for (i = 0; i < HANDOFF_DIFF_SEEN; i++)
		if (handoff_diff_seen[i] == h)
			seen = 1;
	if (!seen) {
		handoff_diff_seen[handoff_diff_next] = h;
		handoff_diff_next = (handoff_diff_next + 1) % HANDOFF_DIFF_SEEN;
	}
	pthread_mutex_unlock(&handoff_diff_lock);
	if (seen)
		return;
	log_warnx("request from tlsproxy %s with unexpected settings", who);
	log_warnx("%s settings that differ from this daemon's: %s", who, diff);
	log_warnx("%s", hint);
}

/*
 * The file names of a client-role request (group B) and our parameters
 * for them. A request is served only with files our configuration
 * names: whoever can reach the socket must not have us read others.
 */
static const struct {
	const char	*name;		/* in the request */
	const char	*param;		/* ours */
} handoff_client_files[] = {
	{ "chain_files", "tlsproxy_client_chain_files" },
	{ "cert_file", "tlsproxy_client_cert_file" },
	{ "key_file", "tlsproxy_client_key_file" },
	{ "dcert_file", "tlsproxy_client_dcert_file" },
	{ "dkey_file", "tlsproxy_client_dkey_file" },
	{ "eccert_file", "tlsproxy_client_eccert_file" },
	{ "eckey_file", "tlsproxy_client_eckey_file" },
	{ "CAfile", "tlsproxy_client_CAfile" },
	{ "CApath", "tlsproxy_client_CApath" },
};
#define HANDOFF_CLIENT_FILES \
	(sizeof(handoff_client_files) / sizeof(handoff_client_files[0]))

/* handoff_client_file - the request's value of handoff_client_files[i] */
static const char *
handoff_client_file(const struct tprops_client *cp, size_t i)
{
	const char *theirs[HANDOFF_CLIENT_FILES] = {
		cp->chain_files, cp->cert_file, cp->key_file, cp->dcert_file,
		cp->dkey_file, cp->eccert_file, cp->eckey_file, cp->CAfile, cp->CApath,
	};

	return (theirs[i]);
}

/*
 * handoff_check_params - warn (once per distinct difference) about
 * group A parameters, and about group B files the request leaves out
 * where our tlsproxy_client_* settings name one (files that differ
 * were refused by handoff_client_keys_ok()).
 */
static void
handoff_check_params(const struct cfg *cfg, const struct tprops_client *cp)
{
	char	 diff[2048];
	size_t	 i, n = 0;

	diff[0] = '\0';
	for (i = 0; i < cp->nparams; i++)
		n = handoff_diff(cfg, diff, sizeof(diff), n,
		    cp->params[i].name, cp->params[i].value,
		    handoff_our_name(cp->params[i].name),
		    handoff_our_param(cfg, cp->params[i].name));
	for (i = 0; i < HANDOFF_CLIENT_FILES; i++)
		n = handoff_diff(cfg, diff, sizeof(diff), n,
		    handoff_client_files[i].name, handoff_client_file(cp, i),
		    handoff_client_files[i].param,
		    cfg_str(cfg, handoff_client_files[i].param));
	handoff_warn_diff("client", diff, "this daemon uses its own tls_* "
	    "parameters and the request's CA files; to avoid this "
	    "warning, give it the same tls_* and tlsproxy_client_* settings as "
	    "the main.cf of that client");
}

/*
 * handoff_check_server - a 3.12 server-role request carries the
 * requester's server settings, which make the context (as 3.12's own
 * tlsproxy does; snap_tls_request()); warn (once per distinct
 * difference) where they differ from this daemon's tlsproxy_tls_* and
 * tls_*, as that tlsproxy warns where they differ from its own
 */
static void
handoff_check_server(const struct cfg *cfg, const struct tprops_server *sp)
{
	static const struct {
		const char	*name;		/* in the request */
		const char	*param;		/* ours */
	} ours[] = {
		{ "chain_files", "tlsproxy_tls_chain_files" },
		{ "cert_file", "tlsproxy_tls_cert_file" },
		{ "key_file", "tlsproxy_tls_key_file" },
		{ "dcert_file", "tlsproxy_tls_dcert_file" },
		{ "dkey_file", "tlsproxy_tls_dkey_file" },
		{ "eccert_file", "tlsproxy_tls_eccert_file" },
		{ "eckey_file", "tlsproxy_tls_eckey_file" },
		{ "CAfile", "tlsproxy_tls_CAfile" },
		{ "CApath", "tlsproxy_tls_CApath" },
		{ "cipher_grade", "tlsproxy_tls_ciphers" },
		{ "cipher_exclusions", "tlsproxy_tls_exclude_ciphers" },
	};
	const char *theirs[] = {
		sp->chain_files, sp->cert_file, sp->key_file, sp->dcert_file,
		sp->dkey_file, sp->eccert_file, sp->eckey_file, sp->CAfile,
		sp->CApath, sp->cipher_grade, sp->cipher_exclusions,
	};
	char	 diff[2048];
	size_t	 i, n = 0;

	diff[0] = '\0';
	for (i = 0; i < sp->nparams; i++)
		n = handoff_diff(cfg, diff, sizeof(diff), n,
		    sp->params[i].name, sp->params[i].value,
		    handoff_our_name(sp->params[i].name),
		    handoff_our_param(cfg, sp->params[i].name));
	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		n = handoff_diff(cfg, diff, sizeof(diff), n, ours[i].name,
		    theirs[i], ours[i].param, cfg_str(cfg, ours[i].param));
	handoff_warn_diff("server", diff, "this daemon serves with the request's "
	    "files, protocols and cipher grade when its configuration names "
	    "those files, and with its own tls_* settings; to avoid this "
	    "warning, give it the same settings as the postscreen_tls_* (or "
	    "smtpd_tls_*) ones of that server");
}

/*
 * handoff_client_keys_ok - the request's key and certificate files must
 * be none or the ones our tlsproxy_client_* settings name: whoever can
 * reach the handoff socket must not get the daemon to sign with any
 * key it can read.
 */
static int
handoff_client_keys_ok(const struct cfg *cfg, const struct tprops_client *cp)
{
	const char *ours;
	char	 a[1024], b[1024], pa[160], pb[160];
	size_t	 i;

	for (i = 0; i < HANDOFF_CLIENT_FILES; i++) {
		ours = cfg_str(cfg, handoff_client_files[i].param);
		handoff_norm(a, sizeof(a), handoff_client_file(cp, i));
		handoff_norm(b, sizeof(b), ours);
		if (a[0] == '\0' || strcmp(a, b) == 0)
			continue;
		sys_printable(pa, sizeof(pa), handoff_client_file(cp, i));
		sys_printable(pb, sizeof(pb), ours);
		log_warnx("%s: request refused: %s = \"%s\" is not a file this "
		    "daemon's configuration names (%s = \"%s\")", cp->namaddr,
		    handoff_client_files[i].name, pa,
		    handoff_client_files[i].param, pb);
		return (0);
	}
	return (1);
}

/* handoff_client_disabled - tlsproxy_client_security_level = none, no maps */
static int
handoff_client_disabled(const struct cfg *cfg)
{
	return (strcmp(cfg_str(cfg, "tlsproxy_client_security_level"), "none") == 0 &&
	    *cfg_str(cfg, "tlsproxy_client_policy_maps") == '\0' &&
	    *cfg_str(cfg, "tlsproxy_client_per_site") == '\0');
}

/* handoff_say_no - status=0, then let the client close */
static void
handoff_say_no(struct sess *s)
{
	if (handoff_status(s, 0) == 0)
		handoff_drain(s);
	else
		handoff_end(s);
}

/*
 * handoff_say_yes - status=1, then (unless the request was a probe,
 * which gets the status only) the remote peer's descriptor: fd_step
 * runs when it is there, or at the deadline
 */
static void
handoff_say_yes(struct sess *s, void (*fd_step)(struct sess *))
{
	struct handoff_st *st = s->ctx;

	if (handoff_status(s, 1) < 0) {
		handoff_end(s);
		return;
	}
	if (st->flags & HANDOFF_PROBE_ONLY) {
		handoff_drain(s);
		return;
	}
	st->deadline = sys_now_ms() + HANDOFF_REQ_TIMEOUT_MS;
	if (handoff_wait_in(s, fd_step))
		fd_step(s);
}

/*
 * handoff_recv_fd - receive and check the remote peer socket (its
 * message is there, or st->deadline has passed); 0, or -1 after
 * logging why
 */
static int
handoff_recv_fd(struct sess *s)
{
	struct handoff_st *st = s->ctx;
	char	 err[256];
	int	 fd;

	s->pk.timed_out = 0;
	if (fdpass_recv(s->plain_fd, &fd, st->deadline, err, sizeof(err)) < 0) {
		log_warnx("handoff: receive remote SMTP peer file descriptor: %s", err);
		return (-1);
	}
	/*
	 * The request is done with: a long-lived session keeps only what
	 * it still reads (the client role's settings borrow from q2).
	 */
	free(st->in.buf);
	st->in.buf = NULL;
	st->in.len = st->in.cap = 0;
	attr_rec_free(&st->q1);
	if (!st->have_cp)
		attr_rec_free(&st->q2);
	sess_set_net_fd(s, fd);
	err[0] = '\0';
	if (handoff_check_fd(fd, err, sizeof(err)) == 0 &&
	    sys_set_nonblock(fd, 1) < 0)
		snprintf(err, sizeof(err), "fcntl: %s", strerror(errno));
	if (err[0] != '\0') {
		log_warnx("handoff: receive remote SMTP peer file descriptor: %s", err);
		return (-1);
	}
	/*
	 * Small SMTP replies must not wait for a delayed ACK (~40 ms each);
	 * Postfix's sender may not have set it. Not a TCP socket: ignored.
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	return (0);
}

/* handoff_client_loglevel - Postfix TLS log level: its leading number */
static int
handoff_client_loglevel(const char *v)
{
	int	 n = 0;

	while (*v >= '0' && *v <= '9' && n < 100)
		n = n * 10 + (*v++ - '0');
	return (n);
}

/* handoff_client_ssl - SSL for this request; NULL after logging why */
static SSL *
handoff_client_ssl(struct sess *s, const struct tprops_client *cp)
{
	const struct cfg *cfg = s->snap->cfg;
	struct tlsc_init_props ip;
	struct tlsc_start_props sp;
	struct tlsc_ctx *ctx;
	char	 ciphers[2048], err[512], groups[1024];
	SSL	*ssl;

	if (tls_cipher_list(cp->cipher_grade, cfg_str(cfg, "tls_high_cipherlist"),
	    cfg_str(cfg, "tls_medium_cipherlist"), cfg_str(cfg, "tls_low_cipherlist"),
	    cfg_str(cfg, "tls_export_cipherlist"), cfg_str(cfg, "tls_null_cipherlist"),
	    cp->cipher_exclusions, ciphers, sizeof(ciphers), err, sizeof(err)) < 0) {
		log_warnx("%s: %s", cp->namaddr, err);
		return (NULL);
	}
	memset(&ip, 0, sizeof(ip));
	ip.loglevel = handoff_client_loglevel(cp->log_level);
	ip.verifydepth = (int)(cp->verifydepth > 100 ? 100 : cp->verifydepth);
	ip.cache_type = cp->cache_type;
	ip.chain_files = cp->chain_files;
	ip.cert_file = cp->cert_file;
	ip.key_file = cp->key_file;
	ip.dcert_file = cp->dcert_file;
	ip.dkey_file = cp->dkey_file;
	ip.eccert_file = cp->eccert_file;
	ip.eckey_file = cp->eckey_file;
	ip.CAfile = cp->CAfile;
	ip.CApath = cp->CApath;
	ip.append_default_CA = cfg_bool(cfg, "tls_append_default_CA");
	ip.mdalg = *cp->init_mdalg ? cp->init_mdalg : "sha256";
	snprintf(groups, sizeof(groups), "%s %s", cfg_str(cfg,
	    "tls_eecdh_auto_curves"), cfg_str(cfg, "tls_ffdhe_auto_groups"));
	ip.curves = groups;
	ip.disable_workarounds = cfg_str(cfg, "tls_disable_workarounds");
	if ((ctx = tlsc_ctx_get(&ip, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		log_warnx("TLS client initialization failed");
		return (NULL);
	}
	memset(&sp, 0, sizeof(sp));
	sp.level = cp->tls_level;
	sp.namaddr = cp->namaddr;
	sp.nexthop = cp->nexthop;
	sp.host = cp->host;
	sp.sni = cp->sni;
	sp.serverid = cp->serverid;
	sp.helo = cp->helo;
	sp.protocols = cp->protocols;
	sp.cipherlist = ciphers;
	sp.match = cp->match;
	sp.nmatch = cp->nmatch;
	sp.mdalg = cp->mdalg;
	sp.dane_domain = cp->dane_domain;
	sp.tlsa = cp->tlsa;
	sp.ntlsa = cp->ntlsa;
	sp.legacy_pkey_fprint = cfg_bool(cfg, "tls_legacy_public_key_fingerprints");
	/* As Postfix's tlsmgr: a cache type without a database is not cached. */
	sp.cache = (strcmp(cp->cache_type, "smtp") == 0 &&
	    *cfg_str(cfg, "smtp_tls_session_cache_database") != '\0') ||
	    (strcmp(cp->cache_type, "lmtp") == 0 &&
	    *cfg_str(cfg, "lmtp_tls_session_cache_database") != '\0');
	sp.pf_version = cp->version;
	sp.forced_failure = cp->forced_failure;
	ssl = tlsc_ssl_new(ctx, &sp, err, sizeof(err));
	tlsc_ctx_release(ctx);		/* the SSL holds the SSL_CTX */
	if (ssl == NULL) {
		tls_log_errors();
		log_warnx("%s: %s", cp->namaddr, err);
	}
	return (ssl);
}

/* handoff_send_context - R3, in the layout the client's version reads */
static int
handoff_send_context(struct sess *s, const struct tprops_context *x,
    enum tprops_r3 r3)
{
	struct attr_rec rec;
	unsigned char *buf = NULL;
	size_t	 len;
	int	 r = -1;

	attr_rec_init(&rec);
	if (tprops_context_encode(x, r3, &rec) < 0 ||
	    (buf = malloc((len = attr_encoded_len(&rec)))) == NULL ||
	    attr_encode(&rec, buf, len) != (long)len) {
		log_warnx("cannot send TLS context: out of memory");
		goto out;
	}
	if (sys_write_all(s->plain_fd, buf, len, sys_now_ms() +
	    s->snap->watchdog_ms) < 0) {
		log_warn("cannot send TLS context");
		goto out;
	}
	r = 0;
out:
	free(buf);
	attr_rec_free(&rec);
	return (r);
}

/*
 * handoff_tlsrpt - a USE_TLSRPT client (3.10+) asked for TLSRPT: say in
 * the context whether there is anything left for it to report.
 * Postfix's tlsproxy reports its own failures through libtlsrpt; this
 * daemon has no TLSRPT library, so it logs them, says so once, and
 * marks them reported so that smtp(8) does not report a success.
 */
static void
handoff_tlsrpt(SSL *ssl, const struct tprops_client *cp, struct tprops_context *x)
{
	static atomic_int said;
	const struct tprops_tlsrpt *t = &cp->tlsrpt;
	const char *failure;
	char	 dom[256], mx[256], addr[64];

	if (!cp->has_tlsrpt || !t->enabled)
		return;
	if ((failure = tlsc_rpt_failure(ssl, x)) == NULL) {
		/* Postfix: a reused handshake is not reported when asked so. */
		x->rpt_reported = SSL_session_reused(ssl) && t->skip_reused_hs;
		return;
	}
	x->rpt_reported = 1;
	if (atomic_exchange(&said, 1) == 0)
		log_warnx("TLSRPT reporting is not available in this daemon (no "
		    "TLSRPT library): TLS failures of sessions with a TLSRPT policy "
		    "are logged, not reported");
	sys_printable(dom, sizeof(dom), t->policy_domain);
	sys_printable(mx, sizeof(mx), t->rcv_mta_name);
	sys_printable(addr, sizeof(addr), t->rcv_mta_addr);
	log_info("TLSRPT: status=failure (not reported), domain=%s, "
	    "receiving_mx=%s[%s], failure_type=%s", dom, mx, addr, failure);
}

/* handoff_client_tls_done - the client-role handshake is over */
static void
handoff_client_tls_done(struct sess *s, enum tls_hs hr)
{
	struct handoff_st *st = s->ctx;
	struct tprops_context ctx;

	if (hr != TLS_HS_OK) {
		STATS_INC(STAT_CLIENT_HANDSHAKE_FAILED);
		sess_count_handshake(s, 0);
		if (hr == TLS_HS_TIMEOUT)
			log_warnx("ciphertext read/write timeout for %s", s->peer);
		else if (hr == TLS_HS_LOCAL_GONE)
			log_warnx("handoff: local client closed the connection during "
			    "the TLS handshake with %s", s->peer);
		tls_log_errors();
		log_fail("TLS handshake failed for service=%s peer=%s", s->serverid,
		    s->peer);
		handoff_end(s);
		return;
	}
	STATS_INC(SSL_session_reused(s->ssl) ? STAT_CLIENT_HANDSHAKE_RESUMED :
	    STAT_CLIENT_HANDSHAKE_FULL);
	sess_count_handshake(s, 1);
	tlsc_finish(s->ssl, &ctx);
	handoff_tlsrpt(s->ssl, &st->cp, &ctx);
	/* The context goes out before any byte from the remote server. */
	if ((st->flags & HANDOFF_SEND_CONTEXT) &&
	    handoff_send_context(s, &ctx, st->cp.r3) < 0) {
		handoff_end(s);
		return;
	}
	handoff_relay(s);
}

/* handoff_client_fd - the client role's descriptor, then the handshake */
static void
handoff_client_fd(struct sess *s)
{
	if (handoff_recv_fd(s) < 0 || SSL_set_fd(s->ssl, s->net_fd) != 1) {
		tls_log_errors();
		log_fail("TLS handshake failed for service=%s peer=%s", s->serverid,
		    s->peer);
		handoff_end(s);
		return;
	}
	sess_tls_connect(s, s->plain_fd, sys_now_ms() + s->handshake_ms,
	    handoff_client_tls_done);
}

/* handoff_client - the client role, after Q1 and Q2 */
static void
handoff_client(struct sess *s)
{
	struct handoff_st *st = s->ctx;
	char	 err[256];

	if (tprops_client_decode(&st->q2, &st->cp, err, sizeof(err)) < 0) {
		log_warnx("handoff: receive client TLS settings: %s", err);
		handoff_end(s);
		return;
	}
	st->have_cp = 1;
	if (handoff_client_disabled(s->snap->cfg)) {
		log_warnx("TLS client role is disabled by configuration");
		handoff_say_no(s);
		return;
	}
	if (st->cp.tls_level > TPROPS_LEV_SECURE) {
		log_warnx("%s: unknown TLS security level %u", st->cp.namaddr,
		    st->cp.tls_level);
		handoff_say_no(s);
		return;
	}
	if (!handoff_client_keys_ok(s->snap->cfg, &st->cp)) {
		handoff_say_no(s);
		return;
	}
	handoff_check_params(s->snap->cfg, &st->cp);
	if ((s->ssl = handoff_client_ssl(s, &st->cp)) == NULL) {
		handoff_say_no(s);
		return;
	}
	handoff_say_yes(s, handoff_client_fd);
}

/* handoff_server_fd - the server role's descriptor, then the handshake */
static void
handoff_server_fd(struct sess *s)
{
	if (handoff_recv_fd(s) < 0) {
		log_fail("TLS handshake failed for service=%s peer=%s", s->serverid,
		    s->peer);
		handoff_end(s);
		return;
	}
	handoff_tls(s);
}

/* handoff_server - the server role, after Q1 */
static void
handoff_server(struct sess *s)
{
	struct handoff_st *st = s->ctx;
	struct tprops_server sp;
	const struct snap_tls *tls;
	char	 err[512];

	/*
	 * 3.12 sends its server TLS settings right after the request, in
	 * the same write, without waiting for the status; earlier releases
	 * send nothing more before the status. Read them by the protocol,
	 * so that the descriptor's byte is never taken for a record's.
	 */
	if (!(st->flags & HANDOFF_PROBE_ONLY) && handoff_more(s->plain_fd, &st->in)) {
		if (handoff_read_record(s->plain_fd, &st->in, &st->q2, st->deadline,
		    err, sizeof(err)) <= 0 || tprops_server_decode(&st->q2, &sp, err,
		    sizeof(err)) < 0) {
			log_warnx("handoff: receive server TLS settings: %s", err);
			handoff_end(s);
			return;
		}
		handoff_check_server(s->snap->cfg, &sp);
		/* As 3.12's own: the context its settings make (snapshot.h). */
		if ((tls = snap_tls_request(s->snap, s->tls, &sp, err,
		    sizeof(err))) == NULL) {
			log_warnx("handoff: %s; answered status=0", err);
			handoff_say_no(s);
			return;
		}
		s->tls = tls;
	}
	if (s->tls->tls == NULL) {
		log_warnx("handoff: %s; answered status=0", s->tls->off_reason);
		handoff_say_no(s);
		return;
	}
	handoff_say_yes(s, handoff_server_fd);
}

/* handoff_request - Q1 (its first bytes are there, or the deadline passed) */
static void
handoff_request(struct sess *s)
{
	struct handoff_st *st = s->ctx;
	const char *endpoint = NULL, *serverid = NULL;
	struct netlist_addr ca;
	unsigned int t1 = 0, t2 = 0;
	char	 err[256];
	struct attr_want want[] = {
		{ "remote_endpoint", ATTR_TYPE_STR, &endpoint },
		{ "flags", ATTR_TYPE_UINT, &st->flags },
		{ "timeout", ATTR_TYPE_UINT, &t1 },
		{ "timeout", ATTR_TYPE_UINT, &t2 },
		{ "serverid", ATTR_TYPE_STR, &serverid },
	};

	s->pk.timed_out = 0;
	if (handoff_read_record(s->plain_fd, &st->in, &st->q1, st->deadline, err,
	    sizeof(err)) <= 0 ||
	    attr_expect(&st->q1, want, sizeof(want) / sizeof(want[0]), NULL, err,
	    sizeof(err)) < 0) {
		log_warnx("handoff: receive request attributes: %s", err);
		handoff_end(s);
		return;
	}
	sess_set_peer(s, endpoint, serverid);
	/* The limits are the remote client's, not the local Postfix's. */
	if (netlist_addr_parse(endpoint, &ca) == 0 && sess_admit_client(s, &ca) < 0) {
		handoff_say_no(s);
		return;
	}
	s->handshake_ms = (int)(t1 ? t1 : 1) * 1000;
	s->idle_ms = (int)((t2 + 10) > 86400 ? 86400 : t2 + 10) * 1000;

	if (((st->flags & HANDOFF_ROLE_SERVER) != 0) ==
	    ((st->flags & HANDOFF_ROLE_CLIENT) != 0)) {
		log_info("CONNECT (bogus_direction) %s", s->peer);
		st->connected = 1;
		log_warnx("handoff: bad request flags: 0x%x", st->flags);
		handoff_say_no(s);
		return;
	}
	STATS_INC((st->flags & HANDOFF_ROLE_CLIENT) ? STAT_ROLE_CLIENT :
	    STAT_ROLE_SERVER);
	if (st->flags & HANDOFF_ROLE_CLIENT) {
		log_info("CONNECT to %s", s->peer);
		st->connected = 1;
		/* Q2 follows Q1 at once; read it so the client is not cut off mid-write. */
		if (handoff_read_record(s->plain_fd, &st->in, &st->q2, st->deadline,
		    err, sizeof(err)) <= 0) {
			log_warnx("handoff: receive client TLS settings: %s", err);
			handoff_end(s);
			return;
		}
		handoff_client(s);
		return;
	}
	log_info("CONNECT from %s", s->peer);
	st->connected = 1;
	handoff_server(s);
}

void
handoff_run(struct sess *s)
{
	struct handoff_st *st;
	int64_t	 deadline;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_warnx("handoff: out of memory");
		return;
	}
	attr_rec_init(&st->q1);
	attr_rec_init(&st->q2);
	s->ctx = st;
	s->ctx_free = handoff_st_free;

	/* R1 goes out before we read anything. */
	deadline = sys_now_ms() + s->snap->watchdog_ms;
	if (sys_write_all(s->plain_fd, handoff_r1, sizeof(handoff_r1), deadline) < 0) {
		log_warn("handoff: write protocol attribute");
		return;
	}
	st->deadline = sys_now_ms() + HANDOFF_REQ_TIMEOUT_MS;
	if (handoff_wait_in(s, handoff_request))
		handoff_request(s);
}

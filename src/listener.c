/*
 * NAME
 *	listener - listening sockets: handoff (UNIX) and TCP frontends
 * DESCRIPTION
 *	See listener.h.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listener.h"
#include "privsep.h"
#include "stats.h"
#include "log.h"

#define LST_BACKLOG	511

void
lst_key_of(const struct cfg_listener *c, char *buf, size_t len)
{
	if (c->kind == CFG_LST_HANDOFF)
		snprintf(buf, len, "handoff:%s", c->handoff);
	else if (c->kind == CFG_LST_STATS)
		snprintf(buf, len, "stats:%s", c->handoff);
	else
		snprintf(buf, len, "tcp:%s", c->listen);
}

/* lst_fill - everything but the socket, from the configuration entry */
static struct lst *
lst_new(const struct cfg_listener *c, char *err, size_t errlen)
{
	struct lst *l;
	char	 aerr[256];

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	l->magic = LST_MAGIC;
	l->kind = c->kind;
	l->fd = -1;
	lst_key_of(c, l->key, sizeof(l->key));
	/*
	 * Sessions resume only within one scope: the listener's name, so
	 * that several daemons (sharing a ticket key file) can agree on it,
	 * or else its identity.
	 */
	snprintf(l->scope, sizeof(l->scope), "%s%s", c->name ? "name:" : "",
	    c->name ? c->name : l->key);
	tlss_sid_ctx(l->scope, l->sid_ctx);
	snprintf(l->label, sizeof(l->label), "%s",
	    c->kind != CFG_LST_TCP ? c->handoff : c->listen);
	if (c->kind != CFG_LST_STATS)	/* kept across reloads, by label */
		l->stats = stats_listener(l->label);
	if (c->kind == CFG_LST_TCP) {
		snprintf(l->backend_label, sizeof(l->backend_label), "%s", c->backend);
		if (sys_parse_addr(c->backend, 0, &l->backend, aerr, sizeof(aerr)) < 0) {
			snprintf(err, errlen, "listener %s: backend: %s", c->listen, aerr);
			free(l);
			return (NULL);
		}
		l->handshake_ms = c->handshake_timeout * 1000;
		l->idle_ms = c->idle_timeout * 1000;
		l->connect_ms = c->connect_timeout * 1000;
	}
	return (l);
}

/* lst_perms_of - what lst_set_perms() applies, to tell a change */
static void
lst_perms_of(const struct cfg_listener *c, char *buf, size_t len)
{
	snprintf(buf, len, "%04o %s %s", (unsigned int)c->mode,
	    c->owner != NULL ? c->owner : "", c->group != NULL ? c->group : "");
}

/* lst_noun - what a UNIX socket listener is, for messages */
static const char *
lst_noun(const struct cfg_listener *c)
{
	return (c->kind == CFG_LST_STATS ? "stats socket" : "handoff socket");
}

/* lst_set_perms - mode and optional owner/group of a handoff socket file */
static int
lst_set_perms(const struct cfg_listener *c, char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;
	uid_t	 uid = (uid_t)-1;
	gid_t	 gid = (gid_t)-1;

	if (c->owner != NULL && *c->owner != '\0') {
		if ((pw = getpwnam(c->owner)) == NULL) {
			snprintf(err, errlen, "%s %s: unknown owner \"%s\"",
			    lst_noun(c), c->handoff, c->owner);
			return (-1);
		}
		uid = pw->pw_uid;
	}
	if (c->group != NULL && *c->group != '\0') {
		if ((gr = getgrnam(c->group)) == NULL) {
			snprintf(err, errlen, "%s %s: unknown group \"%s\"",
			    lst_noun(c), c->handoff, c->group);
			return (-1);
		}
		gid = gr->gr_gid;
	}
	if (chmod(c->handoff, c->mode) < 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(c->handoff, uid, gid) < 0)) {
		snprintf(err, errlen, "cannot set mode/owner of %s: %s", c->handoff,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/* lst_bind_unix - a handoff socket with Postfix-like permissions */
static int
lst_bind_unix(int *fdp, const struct cfg_listener *c, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(c->handoff) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s path too long: %s", lst_noun(c),
		    c->handoff);
		return (-1);
	}
	strcpy(sun.sun_path, c->handoff);
	/* A stale socket from an earlier run (ours or master's): remove it. */
	if (lstat(c->handoff, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; "
			    "refusing to remove it", c->handoff);
			return (-1);
		}
		if (unlink(c->handoff) < 0) {
			snprintf(err, errlen, "cannot remove stale socket %s: %s",
			    c->handoff, strerror(errno));
			return (-1);
		}
	}
	if ((*fdp = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(*fdp, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, errlen, "cannot bind %s %s: %s", lst_noun(c),
		    c->handoff, strerror(errno));
		return (-1);
	}
	if (lst_set_perms(c, err, errlen) < 0) {
		(void)unlink(c->handoff);
		return (-1);
	}
	return (0);
}

static int
lst_bind_tcp(int *fdp, const struct cfg_listener *c, char *err, size_t errlen)
{
	struct sys_addr a;
	char	 aerr[256];
	int	 on = 1;

	if (sys_parse_addr(c->listen, 1, &a, aerr, sizeof(aerr)) < 0) {
		snprintf(err, errlen, "listener %s: %s", c->listen, aerr);
		return (-1);
	}
	if ((*fdp = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0 ||
	    setsockopt(*fdp, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(*fdp, (struct sockaddr *)&a.ss, a.len) < 0) {
		snprintf(err, errlen, "cannot bind %s: %s", c->listen, strerror(errno));
		return (-1);
	}
	return (0);
}

int
lst_socket(const struct cfg_listener *c, char *err, size_t errlen)
{
	int	 fd = -1, rc, e;

	rc = c->kind != CFG_LST_TCP ? lst_bind_unix(&fd, c, err, errlen) :
	    lst_bind_tcp(&fd, c, err, errlen);
	if (rc == 0 && listen(fd, LST_BACKLOG) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s",
		    c->kind != CFG_LST_TCP ? c->handoff : c->listen, strerror(errno));
		rc = -1;
	}
	if (rc < 0) {
		e = errno;
		if (fd >= 0 && c->kind != CFG_LST_TCP)
			(void)unlink(c->handoff);
		sys_close(&fd);
		errno = e;
		return (-1);
	}
	return (fd);
}

struct lst *
lst_open(const struct cfg_listener *c, char *err, size_t errlen)
{
	struct lst *l;

	if ((l = lst_new(c, err, errlen)) == NULL)
		return (NULL);
	/* Through the privileged helper, if there is one (privsep.h). */
	if ((l->fd = priv_listen(c, err, errlen)) < 0) {
		free(l);
		return (NULL);
	}
	if (c->kind != CFG_LST_TCP)
		lst_perms_of(c, l->perms, sizeof(l->perms));
	return (l);
}

int
lst_matches(const struct lst *l, const struct cfg_listener *c)
{
	char	 key[sizeof(l->key)];

	lst_key_of(c, key, sizeof(key));
	return (!l->adopted && l->fd >= 0 && strcmp(l->key, key) == 0);
}

struct lst *
lst_adopt(struct lst *old, const struct cfg_listener *c, char *err, size_t errlen)
{
	struct lst *l;

	if ((l = lst_new(c, err, errlen)) == NULL)
		return (NULL);
	/* Same socket file; its mode or owner may have changed. */
	if (c->kind != CFG_LST_TCP) {
		lst_perms_of(c, l->perms, sizeof(l->perms));
		if (strcmp(l->perms, old->perms) != 0 &&
		    lst_set_perms(c, err, errlen) < 0) {
			free(l);
			return (NULL);
		}
	}
	l->fd = old->fd;
	old->adopted = 1;
	return (l);
}

void
lst_close(struct lst *l)
{
	if (l == NULL)
		return;
	if (l->magic != LST_MAGIC)
		log_panic("%s: bad magic", __func__);
	if (!l->adopted) {
		if (l->fd >= 0 && l->kind != CFG_LST_TCP)
			(void)unlink(l->label);
		sys_close(&l->fd);
	}
	l->magic = 0;
	free(l);
}

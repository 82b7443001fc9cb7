/*
 * NAME
 *	config - tlsproxy configuration (libconfig file, Postfix parameter names)
 * SYNOPSIS
 *	#include "config.h"
 *
 *	struct cfg *cfg_load(const char *path, FILE *errs);
 *	struct cfg *cfg_load_fd(const char *path, int fd, FILE *errs);
 *	struct cfg *cfg_defaults(void);
 *	void	cfg_free(struct cfg *cfg);
 *	const char *cfg_path(const struct cfg *cfg);
 *	const char *cfg_str(const struct cfg *cfg, const char *name);
 *	int	cfg_bool(const struct cfg *cfg, const char *name);
 *	long	cfg_int(const struct cfg *cfg, const char *name);
 *	int	cfg_is_set(const struct cfg *cfg, const char *name);
 *	const char *cfg_where(const struct cfg *cfg, const char *name);
 *	size_t	cfg_listener_count(const struct cfg *cfg);
 *	const struct cfg_listener *cfg_listener_get(const struct cfg *cfg,
 *		    size_t i);
 *	const struct cfg *cfg_listener_cfg(const struct cfg *cfg, size_t i);
 *	size_t	cfg_listener_noverrides(const struct cfg *cfg, size_t i);
 *	void	cfg_print_nondefault(const struct cfg *cfg, FILE *fp);
 *	void	cfg_print_defaults(FILE *fp);
 *	size_t	cfg_param_count(void);
 *	const char *cfg_param_name(size_t i);
 *	const char *cfg_param_default(size_t i);
 * DESCRIPTION
 *	The parameter table lives in cfg_params.h (an X-macro list); this
 *	file turns it into an array and a set of CFG_P_<name> indices.
 *
 *	cfg_load() works in five passes, all on a private load state so
 *	that nothing global is touched and two configurations (old and
 *	new, during a reload) can exist side by side:
 *
 *	1. read: every top-level libconfig setting becomes the raw text
 *	   of its parameter (numbers and booleans become text, lists of
 *	   strings are joined with ", "); tlsproxy_listeners is parsed
 *	   into struct cfg_listener entries, and the parameters an entry
 *	   sets (those flagged CFG_F_PER_LISTENER) into raw text of its
 *	   own.
 *	2. expand: each parameter's raw text (or its default) is expanded
 *	   recursively and memoized. A parameter that is being expanded
 *	   and is referenced again is a reference loop.
 *	3. check: each expanded value is checked against its type. A
 *	   parameter whose value came from a bad parameter is not checked
 *	   again, so each mistake is reported once.
 *	4. compare: for "-n", each parameter set in the file is compared
 *	   with what its default would have expanded to.
 *	5. listeners: for each entry that sets parameters, passes 2-4 run
 *	   again on a copy of the global raw text with the entry's text
 *	   on top. The result is the listener's effective configuration,
 *	   a struct cfg of its own that the global one owns. Mistakes in
 *	   the global settings that show up again there are reported
 *	   once, by the global pass.
 *
 *	Every pass keeps going after an error, so one run reports every
 *	problem in the file. The passes find problems in their own order,
 *	so messages are queued and printed sorted by file and line.
 * DIAGNOSTICS
 *	cfg_load() prints one line per problem to errs, prefixed with
 *	"FILE:LINE: " (and "tlsproxy_listeners entry N: " for a problem
 *	that belongs to one listener), then returns NULL. The accessors
 *	abort() with a message on stderr when used with a name that is
 *	not in the table or with the wrong type: that is a bug in the
 *	caller, not in the configuration. Running out of memory while
 *	loading also aborts; loading happens only at startup and reload,
 *	where there is no sensible way to go on with half a configuration.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "netlist.h"
#include "cfg_params.h"

#define CFG_MAGIC	0x63666731U	/* "cfg1" */
#define CFG_PRINTF(a, b)	__attribute__((format(printf, a, b)))

/* Index of each parameter: CFG_P_tls_append_default_CA, ... */
enum {
#define CFG_PARAM(n, t, f, d, lo, hi, w, s, doc)	CFG_P_##n,
#include "cfg_params.h"
#undef CFG_PARAM
	CFG_NPARAMS
};

struct cfg_param {
	const char	*name;
	enum cfg_type	 type;
	int		 flags;		/* CFG_F_* */
	const char	*def;		/* unexpanded default */
	long		 min, max;	/* CFG_INT, CFG_TIME */
	const char	*words;		/* CFG_ENUM */
	enum cfg_section sect;
	const char	*doc;
};

static const struct cfg_param cfg_params[CFG_NPARAMS] = {
#define CFG_PARAM(n, t, f, d, lo, hi, w, s, doc) \
	{ #n, t, f, d, lo, hi, w, s, doc },
#include "cfg_params.h"
#undef CFG_PARAM
};

struct cfg_val {
	char		*value;		/* owned: expanded, canonical text */
	long		 num;		/* BOOL 0/1, INT number, TIME seconds */
	int		 set;		/* given in the file */
	int		 nondefault;	/* set, and differs from the default */
	int		 own;		/* given in this listener's entry */
	char		*where;		/* owned: "FILE:LINE: name ..." (cfg_where) */
};

/* What one listener entry changes; parallel to cfg->lst. */
struct cfg_lx {
	struct cfg	*eff;		/* owned: effective cfg; NULL: parent */
	size_t		 nov;		/* parameters the entry sets */
};

struct cfg {
	unsigned int	 magic;		/* CFG_MAGIC */
	char		*path;		/* owned */
	struct cfg_val	 val[CFG_NPARAMS];
	struct cfg_listener *lst;	/* owned, nlst entries */
	struct cfg_lx	*lx;		/* owned, nlst entries, or NULL */
	size_t		 nlst;
};

/* Expansion state of one parameter during load. */
#define CFG_ST_NEW	0
#define CFG_ST_BUSY	1
#define CFG_ST_DONE	2

/* One diagnostic, held back so that all of them print in file order. */
struct cfg_msg {
	const char	*file;		/* borrowed: ld->path or libconfig's */
	int		 line;		/* 0: none */
	int		 rank;		/* order of the file's first error */
	int		 seq;		/* order of discovery, for ties */
	char		*text;		/* owned: the whole line */
};

/* The parameters that one listener entry sets, as read in pass 1. */
struct cfg_ent {
	int		 entry;			/* 1-based place in the list */
	const char	*efile;			/* borrowed from libconfig */
	int		 eline;			/* line of the entry */
	long		 lst;			/* index in cfg->lst; -1: none */
	size_t		 n;			/* parameters set */
	char		*raw[CFG_NPARAMS];	/* owned: text from the entry */
	const char	*file[CFG_NPARAMS];	/* borrowed from libconfig */
	int		 line[CFG_NPARAMS];	/* 0: not set in the entry */
	unsigned char	 bad[CFG_NPARAMS];	/* reported while reading */
};

/*
 * Everything that only lives while one file is loaded. The global
 * settings have one; each listener entry that sets parameters gets
 * one more for its effective configuration, which queues its
 * messages on the global one (root).
 */
struct cfg_ld {
	struct cfg	*cfg;
	struct cfg_ld	*root;			/* holds the message queue */
	FILE		*errs;
	const char	*path;			/* for messages */
	int		 nerr;			/* errors queued by this one */
	int		 nmsg;			/* root: messages queued */
	struct cfg_msg	*msg;			/* root: owned, nmsg entries */
	int		 entry;			/* listener entry, 0: global */
	const char	*efile;			/* entry: its file and line */
	int		 eline;
	struct cfg_ent	*ent;			/* owned, nent entries */
	size_t		 nent;
	char		*raw[CFG_NPARAMS];	/* owned: text from the file */
	const char	*file[CFG_NPARAMS];	/* borrowed from libconfig */
	int		 line[CFG_NPARAMS];	/* 0: not set in the file */
	unsigned char	 state[CFG_NPARAMS];	/* CFG_ST_* */
	unsigned char	 rbad[CFG_NPARAMS];	/* reported while reading */
	unsigned char	 bad[CFG_NPARAMS];	/* reported, or from a bad one */
	unsigned char	 checked[CFG_NPARAMS];
	unsigned char	*dep;			/* owned: [i * N + j], i read j */
	int		 stack[CFG_NPARAMS];	/* parameters being expanded */
	int		 depth;
};

/* Growing string for the expander. */
struct cfg_buf {
	char		*s;
	size_t		 len;
	size_t		 cap;
};

/* Results of cfg_parse_value(). */
#define CFG_V_OK	0
#define CFG_V_BAD	(-1)	/* wrong syntax or word */
#define CFG_V_RANGE	(-2)	/* a number, but out of bounds */

/* Listener defaults and bounds. */
#define CFG_LST_MODE		0600	/* closed by default: give owner/group/mode */
#define CFG_LST_HANDSHAKE	60
#define CFG_LST_IDLE		300
#define CFG_LST_CONNECT		10
#define CFG_LST_COMMAND		300
#define CFG_LST_PLAINTEXT	600
#define CFG_LST_TMAX		CFG_DAY

/* Listener keys; key i is bit (1 << i) in the CFG_K_* masks below. */
static const char *const cfg_lst_keys[] = {
	"handoff", "mode", "owner", "group",
	"listen", "backend", "handshake_timeout", "idle_timeout",
	"connect_timeout", "name", "starttls", "proxy_protocol", "xclient",
	"command_timeout", "plaintext_timeout", NULL
};

/* Values of the listener options that take a word. */
static const char *const cfg_lst_starttls[] = { "smtp", NULL };
static const char *const cfg_lst_proxy[] = { "v1", "v2", NULL };

static void	cfg_err(struct cfg_ld *, const char *, int, const char *, ...)
		    CFG_PRINTF(4, 5);
static void	cfg_perr(struct cfg_ld *, int, int, const char *, ...)
		    CFG_PRINTF(4, 5);
static int	cfg_expand_param(struct cfg_ld *, int);
static char	*cfg_setting_text(int, const config_setting_t *, char *, size_t);
static int	cfg_expand_text(struct cfg_ld *, int, const char *,
		    const char *, struct cfg_buf *);

/*
 * Memory. Loading runs at startup and on reload only; failing to
 * allocate a few kilobytes there means the host is in trouble, and
 * unwinding every half-built structure would only hide real bugs.
 */

/* cfg_oom - give up loudly */
static void
cfg_oom(void)
{
	fputs("tlsproxy: config: out of memory\n", stderr);
	abort();
}

/* cfg_xcalloc - calloc or abort */
static void *
cfg_xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		cfg_oom();
	return (p);
}

/* cfg_xstrdup - strdup or abort */
static char *
cfg_xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		cfg_oom();
	return (p);
}

/* cfg_buf_grow - room for n more bytes and a NUL */
static void
cfg_buf_grow(struct cfg_buf *b, size_t n)
{
	char	*p;
	size_t	 cap;

	if (b->len + n + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < b->len + n + 1)
		cap *= 2;
	if ((p = realloc(b->s, cap)) == NULL)
		cfg_oom();
	b->s = p;
	b->cap = cap;
}

/* cfg_buf_add - append n bytes */
static void
cfg_buf_add(struct cfg_buf *b, const char *s, size_t n)
{
	cfg_buf_grow(b, n);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* cfg_buf_str - append a string */
static void
cfg_buf_str(struct cfg_buf *b, const char *s)
{
	cfg_buf_add(b, s, strlen(s));
}

/* cfg_buf_fmt - append formatted text */
static void CFG_PRINTF(2, 3)
cfg_buf_fmt(struct cfg_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	cfg_buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* cfg_buf_take - the string, never NULL; the buffer is left empty */
static char *
cfg_buf_take(struct cfg_buf *b)
{
	char	*s;

	if (b->s == NULL)
		cfg_buf_add(b, "", 0);
	s = b->s;
	b->s = NULL;
	b->len = b->cap = 0;
	return (s);
}

/* cfg_strerror - thread-safe strerror for both strerror_r flavours */
static const char *
cfg_strerror(int err, char *buf, size_t len)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return (strerror_r(err, buf, len));
#else
	if (strerror_r(err, buf, len) != 0)
		snprintf(buf, len, "error %d", err);
	return (buf);
#endif
}

/*
 * Diagnostics.
 */

/* cfg_msg_text - "FILE:LINE: text", or "FILE: text" for line 0 */
static void
cfg_msg_text(struct cfg_buf *b, const char *file, int line, const char *text)
{
	if (line > 0)
		cfg_buf_fmt(b, "%s:%d: %s", file, line, text);
	else
		cfg_buf_fmt(b, "%s: %s", file, text);
}

/*
 * cfg_err - queue one "FILE:LINE: message" line (LINE 0: none). The
 * passes find problems in their own order; cfg_flush() prints them in
 * the order of the file, which is the order a user fixes them in.
 */
static void
cfg_err(struct cfg_ld *ld, const char *file, int line, const char *fmt, ...)
{
	struct cfg_buf b = { NULL, 0, 0 };
	struct cfg_ld *r = ld->root;
	struct cfg_msg *m;
	char	 text[1024], *p;
	va_list	 ap;

	if (file == NULL)
		file = ld->path;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* One error, one line: values quoted from the file may hold anything. */
	for (p = text; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	cfg_msg_text(&b, file, line, text);
	m = realloc(r->msg, (size_t)(r->nmsg + 1) * sizeof(*r->msg));
	if (m == NULL)
		cfg_oom();
	r->msg = m;
	m = &r->msg[r->nmsg];
	m->file = file;
	m->line = line > 0 ? line : 0;
	m->rank = 0;
	m->seq = r->nmsg++;
	m->text = cfg_buf_take(&b);
	ld->nerr++;
}

/* cfg_msg_cmp - by file, then line (none last), then discovery */
static int
cfg_msg_cmp(const void *a, const void *b)
{
	const struct cfg_msg *x = a, *y = b;
	unsigned int lx = x->line ? (unsigned int)x->line : UINT_MAX;
	unsigned int ly = y->line ? (unsigned int)y->line : UINT_MAX;

	if (x->rank != y->rank)
		return (x->rank < y->rank ? -1 : 1);
	if (lx != ly)
		return (lx < ly ? -1 : 1);
	return (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* cfg_flush - print the queued diagnostics in file order, free them */
static void
cfg_flush(struct cfg_ld *ld)
{
	int	 i, j;

	/* Rank: index of the first message that names the same file. */
	for (i = 0; i < ld->nmsg; i++)
		for (j = 0; j <= i; j++)
			if (strcmp(ld->msg[j].file, ld->msg[i].file) == 0) {
				ld->msg[i].rank = j;
				break;
			}
	if (ld->nmsg > 0)
		qsort(ld->msg, (size_t)ld->nmsg, sizeof(*ld->msg),
		    cfg_msg_cmp);
	for (i = 0; i < ld->nmsg; i++) {
		if (ld->errs != NULL)
			fprintf(ld->errs, "%s\n", ld->msg[i].text);
		free(ld->msg[i].text);
	}
	free(ld->msg);
	ld->msg = NULL;
	ld->nmsg = 0;
}

/*
 * cfg_said - has the root queued exactly this line already? A listener
 * inherits the global settings, so it meets their mistakes again.
 */
static int
cfg_said(struct cfg_ld *ld, const char *file, int line, const char *text)
{
	struct cfg_buf b = { NULL, 0, 0 };
	int	 k, found = 0;

	cfg_msg_text(&b, file != NULL ? file : ld->path, line, text);
	for (k = 0; k < ld->root->nmsg && !found; k++)
		found = strcmp(ld->root->msg[k].text, b.s) == 0;
	free(b.s);
	return (found);
}

/*
 * cfg_perr - message about parameter i, at the line of parameter at
 * (-1: none). For a listener's effective configuration, the message
 * names the entry, and falls back to the entry's line.
 */
static void
cfg_perr(struct cfg_ld *ld, int i, int at, const char *fmt, ...)
{
	const char *file = NULL;
	char	 msg[1024], text[1200];
	va_list	 ap;
	int	 line = 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at >= 0) {
		file = ld->file[at];
		line = ld->line[at];
	}
	snprintf(text, sizeof(text), "parameter \"%s\": %s",
	    cfg_params[i].name, msg);
	if (ld->entry == 0) {
		cfg_err(ld, file, line, "%s", text);
		return;
	}
	if (cfg_said(ld, file, line, text))
		return;
	if (at < 0) {
		file = ld->efile;
		line = ld->eline;
	}
	cfg_err(ld, file, line, "tlsproxy_listeners entry %d: %s", ld->entry,
	    text);
}

/*
 * Names.
 */

/* cfg_index_n - table index of the name s[0..n), or -1 */
static int
cfg_index_n(const char *s, size_t n)
{
	int	 i;

	for (i = 0; i < CFG_NPARAMS; i++)
		if (strncmp(cfg_params[i].name, s, n) == 0 &&
		    cfg_params[i].name[n] == '\0')
			return (i);
	return (-1);
}

/* cfg_index - table index of name, or -1 */
static int
cfg_index(const char *name)
{
	return (cfg_index_n(name, strlen(name)));
}

/*
 * cfg_distance - optimal string alignment distance, ignoring case,
 * so that "tlsproxy_tls_cafile" finds "tlsproxy_tls_CAfile" and a
 * swapped pair of letters costs one edit, not two.
 */
#define CFG_DIST_MAX	128
static size_t
cfg_distance(const char *a, const char *b)
{
	size_t	 row[3][CFG_DIST_MAX + 1];
	size_t	 la = strlen(a), lb = strlen(b), i, j, c, v;
	size_t	*pp, *p, *cur;

	if (la > CFG_DIST_MAX || lb > CFG_DIST_MAX)
		return ((size_t)-1);
	for (j = 0; j <= lb; j++)
		row[1][j] = j;
	pp = row[0];
	p = row[1];
	cur = row[2];
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			c = tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]);
			v = p[j - 1] + c;
			if (p[j] + 1 < v)
				v = p[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) ==
			    tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) ==
			    tolower((unsigned char)b[j - 1]) && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cur[j] = v;
		}
		/* Rotate: the oldest row becomes the next one to fill. */
		{
			size_t	*t = pp;

			pp = p;
			p = cur;
			cur = t;
		}
	}
	return (p[lb]);
}

/*
 * cfg_closest - the candidate nearest to name, or NULL when nothing
 * is close enough to be a plausible typo (a third of the length).
 */
static const char *
cfg_closest(const char *name, const char *const *cand, size_t ncand)
{
	const char *best = NULL;
	size_t	 d, bestd = (size_t)-1, limit, i;

	limit = strlen(name) / 3;
	if (limit < 1)
		limit = 1;
	for (i = 0; i < ncand; i++) {
		d = cfg_distance(name, cand[i]);
		if (d < bestd) {
			bestd = d;
			best = cand[i];
		}
	}
	return (bestd <= limit ? best : NULL);
}

/* cfg_closest_param - cfg_closest() over the parameter table */
static const char *
cfg_closest_param(const char *name)
{
	const char *names[CFG_NPARAMS];
	int	 i;

	for (i = 0; i < CFG_NPARAMS; i++)
		names[i] = cfg_params[i].name;
	return (cfg_closest(name, names, CFG_NPARAMS));
}

/*
 * Value syntax.
 */

/* cfg_parse_long - whole-string decimal integer; -1 bad, -2 overflow */
static int
cfg_parse_long(const char *s, long *out)
{
	char	*end;
	long	 v;

	if (*s == '\0' || isspace((unsigned char)*s))
		return (CFG_V_BAD);
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || end == s)
		return (CFG_V_BAD);
	if (errno == ERANGE) {
		*out = v;
		return (CFG_V_RANGE);
	}
	*out = v;
	return (CFG_V_OK);
}

/*
 * cfg_parse_time - Postfix time: digits and an optional unit s, m, h,
 * d or w; a bare number is seconds. -1 bad syntax, -2 overflow.
 */
static int
cfg_parse_time(const char *s, long *out)
{
	unsigned long long v = 0;
	long	 mult = 1;
	const char *p;

	if (!isdigit((unsigned char)*s))
		return (CFG_V_BAD);
	for (p = s; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > (unsigned long long)LONG_MAX)
			v = (unsigned long long)LONG_MAX + 1;	/* sticky */
	}
	if (*p != '\0') {
		switch (tolower((unsigned char)*p)) {
		case 's':
			mult = 1;
			break;
		case 'm':
			mult = CFG_MINUTE;
			break;
		case 'h':
			mult = CFG_HOUR;
			break;
		case 'd':
			mult = CFG_DAY;
			break;
		case 'w':
			mult = 7 * CFG_DAY;
			break;
		default:
			return (CFG_V_BAD);
		}
		if (p[1] != '\0')
			return (CFG_V_BAD);
	}
	if (v > (unsigned long long)(LONG_MAX / mult)) {
		*out = LONG_MAX;
		return (CFG_V_RANGE);
	}
	*out = (long)v * mult;
	return (CFG_V_OK);
}

/* cfg_fmt_time - seconds in the largest unit that divides them */
static const char *
cfg_fmt_time(long secs, char *buf, size_t len)
{
	static const struct {
		long	 mult;
		char	 unit;
	} units[] = {
		{ 7 * CFG_DAY, 'w' }, { CFG_DAY, 'd' }, { CFG_HOUR, 'h' },
		{ CFG_MINUTE, 'm' },
	};
	size_t	 i;

	for (i = 0; secs != 0 && i < sizeof(units) / sizeof(units[0]); i++)
		if (secs % units[i].mult == 0) {
			snprintf(buf, len, "%ld%c", secs / units[i].mult,
			    units[i].unit);
			return (buf);
		}
	snprintf(buf, len, "%lds", secs);
	return (buf);
}

/*
 * cfg_enum_word - find v in a comma list (leading comma: "" allowed),
 * ignoring case; set *canon to the word as spelled in the list.
 */
static int
cfg_enum_word(const char *words, const char *v, char *canon, size_t len)
{
	const char *p = words, *e;
	size_t	 n, vl = strlen(v);

	for (;;) {
		e = strchr(p, ',');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == vl && strncasecmp(p, v, n) == 0 && n < len) {
			memcpy(canon, p, n);
			canon[n] = '\0';
			return (0);
		}
		if (e == NULL)
			return (-1);
		p = e + 1;
	}
}

/* cfg_enum_allowed - "export, low, ..." for messages; "" shown as "" */
static const char *
cfg_enum_allowed(const char *words, char *buf, size_t len)
{
	const char *p = words, *e;
	size_t	 o = 0, n;
	int	 r;

	buf[0] = '\0';
	for (;;) {
		e = strchr(p, ',');
		n = e ? (size_t)(e - p) : strlen(p);
		r = snprintf(buf + o, len - o, "%s%s%.*s", p == words ? "" :
		    ", ", n == 0 ? "\"\"" : "", (int)n, p);
		if (r < 0 || (o += (size_t)r) >= len || e == NULL)
			break;
		p = e + 1;
	}
	return (buf);
}

/* cfg_bool_word - yes/no/true/false, any case; -1 otherwise */
static int
cfg_bool_word(const char *v)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0)
		return (1);
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0)
		return (0);
	return (-1);
}

/*
 * cfg_parse_value - check v against the type of parameter i. On
 * success set *num and, for BOOL and ENUM, the canonical spelling.
 */
static int
cfg_parse_value(int i, const char *v, long *num, char *canon, size_t len)
{
	const struct cfg_param *p = &cfg_params[i];
	struct netlist nets;
	int	 r;

	*num = 0;
	canon[0] = '\0';
	switch (p->type) {
	case CFG_STR:
		return (CFG_V_OK);
	case CFG_BOOL:
		if ((r = cfg_bool_word(v)) < 0)
			return (CFG_V_BAD);
		*num = r;
		snprintf(canon, len, "%s", r ? "yes" : "no");
		return (CFG_V_OK);
	case CFG_INT:
	case CFG_TIME:
		r = p->type == CFG_INT ? cfg_parse_long(v, num) :
		    cfg_parse_time(v, num);
		if (r == CFG_V_OK && (*num < p->min || *num > p->max))
			r = CFG_V_RANGE;
		return (r);
	case CFG_ENUM:
		return (cfg_enum_word(p->words, v, canon, len) == 0 ?
		    CFG_V_OK : CFG_V_BAD);
	case CFG_NETS:
		if (netlist_parse(v, &nets, canon, len) < 0)
			return (CFG_V_BAD);
		netlist_free(&nets);
		return (CFG_V_OK);
	}
	return (CFG_V_BAD);
}

/*
 * Expansion, after postconf(5): $name, ${name}, $(name),
 * ${name?value}, ${name:value}, ${name?{a}:{b}}, $$.
 */

/* cfg_isname - character of a parameter name */
static int
cfg_isname(int c)
{
	return (isalnum((unsigned char)c) || c == '_');
}

/* cfg_match - the close that matches the open at p, or NULL */
static const char *
cfg_match(const char *p, const char *end, char open, char close)
{
	int	 depth = 0;

	for (; p < end; p++) {
		if (*p == open)
			depth++;
		else if (*p == close && --depth == 0)
			return (p);
	}
	return (NULL);
}

/* cfg_skip_ws - skip blanks */
static const char *
cfg_skip_ws(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return (p);
}

/* cfg_experr - report bad expansion syntax in the text of owner */
static int
cfg_experr(struct cfg_ld *ld, int owner, const char *why)
{
	if (owner >= 0)
		cfg_perr(ld, owner, ld->line[owner] ? owner : -1,
		    "bad expansion in \"%s\": %s", ld->raw[owner] ?
		    ld->raw[owner] : cfg_params[owner].def, why);
	return (-1);
}

/* cfg_report_loop - "a -> b -> a", at the first one set in the file */
static void
cfg_report_loop(struct cfg_ld *ld, int i)
{
	struct cfg_buf b = { NULL, 0, 0 };
	int	 k, start = 0, at = -1;
	char	*s;

	for (k = ld->depth - 1; k >= 0; k--)
		if (ld->stack[k] == i) {
			start = k;
			break;
		}
	for (k = start; k < ld->depth; k++) {
		cfg_buf_str(&b, cfg_params[ld->stack[k]].name);
		cfg_buf_str(&b, " -> ");
		if (at < 0 && ld->line[ld->stack[k]] > 0)
			at = ld->stack[k];
	}
	cfg_buf_str(&b, cfg_params[i].name);
	s = cfg_buf_take(&b);
	cfg_perr(ld, at >= 0 ? at : i, at, "reference loop: %s", s);
	free(s);
}

/*
 * cfg_value_of - the expanded value of name s[0..n) into *val ("" for
 * a name that is not a parameter, as Postfix does); -1 when that
 * parameter is bad, already reported.
 */
static int
cfg_value_of(struct cfg_ld *ld, int owner, const char *s, size_t n,
    const char **val)
{
	int	 j;

	*val = "";
	if ((j = cfg_index_n(s, n)) < 0)
		return (0);
	if (owner >= 0)
		ld->dep[owner * CFG_NPARAMS + j] = 1;
	if (cfg_expand_param(ld, j) < 0)
		return (-1);
	*val = ld->cfg->val[j].value;
	return (0);
}

/* cfg_expand_ref - the inside of ${...} or $(...), in[0..end) */
static int
cfg_expand_ref(struct cfg_ld *ld, int owner, const char *in, const char *end,
    char close, struct cfg_buf *out)
{
	const char *p = in, *q, *v1 = NULL, *v1e = NULL, *v2 = NULL,
	    *v2e = NULL, *val;
	size_t	 namelen;
	char	 op;

	while (p < end && cfg_isname(*p))
		p++;
	namelen = (size_t)(p - in);
	if (namelen == 0)
		return (cfg_experr(ld, owner, "missing parameter name after "
		    "\"${\" or \"$(\""));
	if (p == end) {
		if (cfg_value_of(ld, owner, in, namelen, &val) < 0)
			return (-1);
		cfg_buf_str(out, val);
		return (0);
	}
	if (*p != '?' && *p != ':')
		return (cfg_experr(ld, owner, "expected \"?\", \":\" or the "
		    "closing bracket after the parameter name"));
	op = *p++;
	q = cfg_skip_ws(p, end);
	if (q < end && *q == '{') {
		/* Braced form: whitespace around {value} does not count. */
		if ((p = cfg_match(q, end, '{', '}')) == NULL)
			return (cfg_experr(ld, owner, "missing \"}\""));
		if (op == '?') {
			v1 = q + 1;
			v1e = p;
		} else {
			v2 = q + 1;
			v2e = p;
		}
		q = cfg_skip_ws(p + 1, end);
		if (op == '?' && q < end && *q == ':') {
			q = cfg_skip_ws(q + 1, end);
			if (q < end && *q == '{') {
				if ((p = cfg_match(q, end, '{', '}')) == NULL)
					return (cfg_experr(ld, owner,
					    "missing \"}\""));
				v2 = q + 1;
				v2e = p;
				q = cfg_skip_ws(p + 1, end);
			} else {
				v2 = q;
				v2e = q = end;
			}
		}
		if (q != end)
			return (cfg_experr(ld, owner, close == '}' ?
			    "unexpected text before \"}\"" :
			    "unexpected text before \")\""));
	} else if (op == '?') {
		v1 = p;
		v1e = end;
	} else {
		v2 = p;
		v2e = end;
	}
	if (cfg_value_of(ld, owner, in, namelen, &val) < 0)
		return (-1);
	if (*val != '\0' && v1 != NULL)
		return (cfg_expand_text(ld, owner, v1, v1e, out));
	if (*val == '\0' && v2 != NULL)
		return (cfg_expand_text(ld, owner, v2, v2e, out));
	return (0);
}

/* cfg_expand_text - expand s[0..end) into out; owner owns the text */
static int
cfg_expand_text(struct cfg_ld *ld, int owner, const char *s, const char *end,
    struct cfg_buf *out)
{
	const char *p = s, *q, *val;
	char	 close;

	while (p < end) {
		if (*p != '$') {
			for (q = p; q < end && *q != '$'; q++)
				;
			cfg_buf_add(out, p, (size_t)(q - p));
			p = q;
			continue;
		}
		p++;
		if (p < end && *p == '$') {
			cfg_buf_add(out, "$", 1);
			p++;
		} else if (p < end && (*p == '{' || *p == '(')) {
			close = *p == '{' ? '}' : ')';
			if ((q = cfg_match(p, end, *p, close)) == NULL)
				return (cfg_experr(ld, owner, close == '}' ?
				    "missing \"}\"" : "missing \")\""));
			if (cfg_expand_ref(ld, owner, p + 1, q, close, out) < 0)
				return (-1);
			p = q + 1;
		} else {
			for (q = p; q < end && cfg_isname(*q); q++)
				;
			if (q == p)
				return (cfg_experr(ld, owner, "\"$\" must be "
				    "followed by a name, \"{\", \"(\" or "
				    "\"$\"; write \"$$\" for a literal \"$\""));
			if (cfg_value_of(ld, owner, p, (size_t)(q - p),
			    &val) < 0)
				return (-1);
			cfg_buf_str(out, val);
			p = q;
		}
	}
	return (0);
}

/* cfg_expand_param - give parameter i its expanded value (memoized) */
static int
cfg_expand_param(struct cfg_ld *ld, int i)
{
	struct cfg_buf b = { NULL, 0, 0 };
	const char *text;
	int	 rc;

	if (ld->state[i] == CFG_ST_DONE)
		return (ld->bad[i] ? -1 : 0);
	if (ld->state[i] == CFG_ST_BUSY) {
		cfg_report_loop(ld, i);
		return (-1);
	}
	ld->state[i] = CFG_ST_BUSY;
	ld->stack[ld->depth++] = i;
	text = ld->raw[i] != NULL ? ld->raw[i] : cfg_params[i].def;
	rc = cfg_expand_text(ld, i, text, text + strlen(text), &b);
	ld->depth--;
	ld->state[i] = CFG_ST_DONE;
	free(ld->cfg->val[i].value);
	ld->cfg->val[i].value = cfg_buf_take(&b);
	if (rc < 0)
		ld->bad[i] = 1;
	return (rc);
}

/*
 * Checking.
 */

/* cfg_blame - first parameter set in the file that i depends on */
static int
cfg_blame(struct cfg_ld *ld, int i, unsigned char *seen)
{
	int	 j, r;

	if (seen[i])
		return (-1);
	seen[i] = 1;
	if (ld->line[i] > 0)
		return (i);
	for (j = 0; j < CFG_NPARAMS; j++)
		if (ld->dep[i * CFG_NPARAMS + j] &&
		    (r = cfg_blame(ld, j, seen)) >= 0)
			return (r);
	return (-1);
}

/*
 * cfg_where_text - where the value of i comes from, for messages about
 * it after the load (TLS settings that only OpenSSL can judge): the
 * line that sets it and, for a value that comes through $name, the
 * line that sets that name too.
 */
static char *
cfg_where_text(struct cfg_ld *ld, int i)
{
	struct cfg_buf b = { NULL, 0, 0 };
	unsigned char seen[CFG_NPARAMS];
	const char *fi, *fj;
	int	 j = -1, k;

	memset(seen, 0, sizeof(seen));
	seen[i] = 1;
	for (k = 0; ld->dep != NULL && k < CFG_NPARAMS && j < 0; k++)
		if (k != i && ld->dep[i * CFG_NPARAMS + k])
			j = cfg_blame(ld, k, seen);
	fi = ld->file[i] != NULL ? ld->file[i] : ld->path;
	if (j >= 0) {
		fj = ld->file[j] != NULL ? ld->file[j] : ld->path;
		cfg_buf_fmt(&b, "%s:%d: ", fj, ld->line[j]);
		if (ld->entry > 0 && ld->cfg->val[j].own)
			cfg_buf_fmt(&b, "tlsproxy_listeners entry %d: ", ld->entry);
		cfg_buf_fmt(&b, "%s (through %s", cfg_params[j].name,
		    cfg_params[i].name);
		if (ld->line[i] > 0 && strcmp(fi, fj) == 0)
			cfg_buf_fmt(&b, " at line %d", ld->line[i]);
		else if (ld->line[i] > 0)
			cfg_buf_fmt(&b, " at %s:%d", fi, ld->line[i]);
		cfg_buf_str(&b, ")");
	} else {
		if (ld->line[i] > 0)
			cfg_buf_fmt(&b, "%s:%d: ", fi, ld->line[i]);
		else
			cfg_buf_fmt(&b, "%s: ", ld->path);
		if (ld->entry > 0 && ld->cfg->val[i].own)
			cfg_buf_fmt(&b, "tlsproxy_listeners entry %d: ", ld->entry);
		cfg_buf_str(&b, cfg_params[i].name);
		if (ld->line[i] <= 0)
			cfg_buf_str(&b, " (the default)");
	}
	return (cfg_buf_take(&b));
}

/* cfg_check_param - check the expanded value of i; -1 when bad */
static int
cfg_check_param(struct cfg_ld *ld, int i)
{
	const struct cfg_param *p = &cfg_params[i];
	struct cfg_val *v = &ld->cfg->val[i];
	unsigned char seen[CFG_NPARAMS];
	char	 canon[256], allowed[256], lo[32], hi[32];
	int	 j, depbad = 0, at, r;

	if (ld->checked[i])
		return (ld->bad[i] ? -1 : 0);
	ld->checked[i] = 1;
	if (ld->bad[i])
		return (-1);
	for (j = 0; j < CFG_NPARAMS; j++)
		if (j != i && ld->dep[i * CFG_NPARAMS + j] &&
		    cfg_check_param(ld, j) < 0)
			depbad = 1;
	/* The referenced parameter was reported; do not say it twice. */
	if (depbad) {
		ld->bad[i] = 1;
		return (-1);
	}
	r = cfg_parse_value(i, v->value, &v->num, canon, sizeof(canon));
	if (r == CFG_V_OK) {
		if (p->type == CFG_BOOL || p->type == CFG_ENUM) {
			free(v->value);
			v->value = cfg_xstrdup(canon);
		}
		return (0);
	}
	ld->bad[i] = 1;
	memset(seen, 0, sizeof(seen));
	at = cfg_blame(ld, i, seen);
	switch (p->type) {
	case CFG_BOOL:
		cfg_perr(ld, i, at, "bad value \"%s\" (allowed: yes, no)",
		    v->value);
		break;
	case CFG_ENUM:
		cfg_perr(ld, i, at, "bad value \"%s\" (allowed: %s)", v->value,
		    cfg_enum_allowed(p->words, allowed, sizeof(allowed)));
		break;
	case CFG_INT:
		if (r == CFG_V_RANGE)
			cfg_perr(ld, i, at, "%s is out of range "
			    "(allowed: %ld..%ld)", v->value, p->min, p->max);
		else
			cfg_perr(ld, i, at, "bad value \"%s\" (allowed: an "
			    "integer %ld..%ld)", v->value, p->min, p->max);
		break;
	case CFG_TIME:
		cfg_fmt_time(p->min, lo, sizeof(lo));
		cfg_fmt_time(p->max, hi, sizeof(hi));
		if (r == CFG_V_RANGE)
			cfg_perr(ld, i, at, "%s is out of range "
			    "(allowed: %s..%s)", v->value, lo, hi);
		else
			cfg_perr(ld, i, at, "bad value \"%s\" (allowed: a time "
			    "%s..%s, as a number with an optional unit s, m, "
			    "h, d or w)", v->value, lo, hi);
		break;
	case CFG_NETS:
		/* canon has netlist_parse()'s reason. */
		cfg_perr(ld, i, at, "bad value \"%s\": %s", v->value, canon);
		break;
	case CFG_STR:
		break;
	}
	return (-1);
}

/*
 * cfg_differs - does the value of i (set in the file) differ from
 * what its default expands to in this configuration?
 */
static int
cfg_differs(struct cfg_ld *ld, int i)
{
	struct cfg_buf b = { NULL, 0, 0 };
	const char *def = cfg_params[i].def;
	const struct cfg_val *v = &ld->cfg->val[i];
	char	 canon[256], *s;
	long	 num;
	int	 differs;

	/* Owner -1: neither records dependencies nor reports. */
	if (cfg_expand_text(ld, -1, def, def + strlen(def), &b) < 0) {
		free(b.s);
		return (1);
	}
	s = cfg_buf_take(&b);
	if (cfg_parse_value(i, s, &num, canon, sizeof(canon)) != CFG_V_OK)
		differs = 1;
	else if (cfg_params[i].type == CFG_STR || cfg_params[i].type == CFG_NETS)
		differs = strcmp(s, v->value) != 0;
	else if (cfg_params[i].type == CFG_ENUM)
		differs = strcmp(canon, v->value) != 0;
	else
		differs = num != v->num;
	free(s);
	return (differs);
}

/*
 * Listeners.
 */

/* cfg_quote - append s as a libconfig string literal */
static void
cfg_quote(struct cfg_buf *b, const char *s)
{
	cfg_buf_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			cfg_buf_add(b, "\\", 1);
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			cfg_buf_fmt(b, "\\x%02x", (unsigned int)(unsigned char)*s);
		else
			cfg_buf_add(b, s, 1);
	}
	cfg_buf_add(b, "\"", 1);
}

/*
 * cfg_lst_render - one listener as a libconfig group: its options,
 * then the parameters its entry sets (lx may be NULL), expanded, in
 * table order
 */
static void
cfg_lst_render(struct cfg_buf *b, const struct cfg_listener *l,
    const struct cfg_lx *lx)
{
	int	 i;

	if (l->kind == CFG_LST_HANDOFF) {
		cfg_buf_str(b, "{ handoff = ");
		cfg_quote(b, l->handoff);
		cfg_buf_fmt(b, "; mode = \"%04o\";", (unsigned int)l->mode);
		if (l->owner != NULL) {
			cfg_buf_str(b, " owner = ");
			cfg_quote(b, l->owner);
			cfg_buf_str(b, ";");
		}
		if (l->group != NULL) {
			cfg_buf_str(b, " group = ");
			cfg_quote(b, l->group);
			cfg_buf_str(b, ";");
		}
	} else {
		cfg_buf_str(b, "{ listen = ");
		cfg_quote(b, l->listen);
		cfg_buf_str(b, "; backend = ");
		cfg_quote(b, l->backend);
		cfg_buf_fmt(b, "; handshake_timeout = \"%ds\"; idle_timeout = "
		    "\"%ds\"; connect_timeout = \"%ds\";", l->handshake_timeout,
		    l->idle_timeout, l->connect_timeout);
		if (l->starttls == CFG_STARTTLS_SMTP)
			cfg_buf_fmt(b, " starttls = \"smtp\"; xclient = %s; "
			    "command_timeout = \"%ds\"; plaintext_timeout = "
			    "\"%ds\";", l->xclient ? "true" : "false",
			    l->command_timeout, l->plaintext_timeout);
		if (l->proxy_protocol != CFG_PROXY_NONE)
			cfg_buf_fmt(b, " proxy_protocol = \"v%d\";",
			    l->proxy_protocol);
	}
	if (l->name != NULL) {
		cfg_buf_str(b, " name = ");
		cfg_quote(b, l->name);
		cfg_buf_str(b, ";");
	}
	for (i = 0; lx != NULL && lx->eff != NULL && i < CFG_NPARAMS; i++) {
		if (!lx->eff->val[i].own)
			continue;
		cfg_buf_fmt(b, " %s = ", cfg_params[i].name);
		cfg_quote(b, lx->eff->val[i].value);
		cfg_buf_str(b, ";");
	}
	cfg_buf_str(b, " }");
}

/* cfg_lst_value - the whole list, on one line, for cfg_str() */
static char *
cfg_lst_value(const struct cfg *c)
{
	struct cfg_buf b = { NULL, 0, 0 };
	size_t	 i;

	if (c->nlst == 0)
		return (cfg_xstrdup("()"));
	cfg_buf_str(&b, "( ");
	for (i = 0; i < c->nlst; i++) {
		if (i > 0)
			cfg_buf_str(&b, ", ");
		cfg_lst_render(&b, &c->lst[i], c->lx != NULL ? &c->lx[i] :
		    NULL);
	}
	cfg_buf_str(&b, " )");
	return (cfg_buf_take(&b));
}

/* cfg_lst_free - the strings of one listener */
static void
cfg_lst_free(struct cfg_listener *l)
{
	free(l->handoff);
	free(l->owner);
	free(l->group);
	free(l->name);
	free(l->listen);
	free(l->backend);
}

/*
 * cfg_addr_check - "host:port", "[v6]:port" or "*:port"; syntax only,
 * names are resolved by whoever binds or connects.
 */
static int
cfg_addr_check(const char *s, int wildcard_ok, char *why, size_t len)
{
	struct in6_addr a6;
	struct in_addr a4;
	const char *port, *h, *e;
	char	 host[INET6_ADDRSTRLEN + 64];
	size_t	 hl;
	long	 pn;
	int	 dotted = 1;

	if (*s == '[') {
		if ((e = strchr(s, ']')) == NULL) {
			snprintf(why, len, "missing \"]\"");
			return (-1);
		}
		hl = (size_t)(e - s - 1);
		if (hl == 0 || hl >= sizeof(host)) {
			snprintf(why, len, "bad IPv6 address");
			return (-1);
		}
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		host[strcspn(host, "%")] = '\0';	/* zone: fe80::1%eth0 */
		if (inet_pton(AF_INET6, host, &a6) != 1) {
			snprintf(why, len, "bad IPv6 address \"%.*s\"",
			    (int)hl, s + 1);
			return (-1);
		}
		if (e[1] != ':') {
			snprintf(why, len, "missing \":port\" after \"]\"");
			return (-1);
		}
		port = e + 2;
	} else {
		if ((e = strrchr(s, ':')) == NULL) {
			snprintf(why, len, "missing \":port\"");
			return (-1);
		}
		hl = (size_t)(e - s);
		if (memchr(s, ':', hl) != NULL) {
			snprintf(why, len, "an IPv6 address needs brackets, "
			    "as in \"[::1]:25\"");
			return (-1);
		}
		if (hl == 0) {
			snprintf(why, len, "missing host before \":\"%s",
			    wildcard_ok ? " (use \"*\" for all addresses)" :
			    "");
			return (-1);
		}
		if (hl == 1 && *s == '*') {
			if (!wildcard_ok) {
				snprintf(why, len, "\"*\" is not an address "
				    "to connect to");
				return (-1);
			}
		} else {
			for (h = s; h < e; h++) {
				if (!isalnum((unsigned char)*h) && *h != '.' &&
				    *h != '-' && *h != '_') {
					snprintf(why, len, "bad character in "
					    "host \"%.*s\"", (int)hl, s);
					return (-1);
				}
				if (!isdigit((unsigned char)*h) && *h != '.')
					dotted = 0;
			}
			if (dotted) {
				if (hl >= sizeof(host))
					hl = sizeof(host) - 1;
				memcpy(host, s, hl);
				host[hl] = '\0';
				if (inet_pton(AF_INET, host, &a4) != 1) {
					snprintf(why, len, "bad IPv4 address "
					    "\"%s\"", host);
					return (-1);
				}
			}
		}
		port = e + 1;
	}
	if (cfg_parse_long(port, &pn) != CFG_V_OK || !isdigit((unsigned char)
	    *port) || pn < 1 || pn > 65535) {
		snprintf(why, len, "bad port \"%s\" (allowed: 1..65535)", port);
		return (-1);
	}
	return (0);
}

/* cfg_unix_check - absolute path that fits a sockaddr_un */
static int
cfg_unix_check(const char *s, char *why, size_t len)
{
	struct sockaddr_un sun;

	if (*s != '/') {
		snprintf(why, len, "a UNIX socket path must be absolute");
		return (-1);
	}
	if (strlen(s) >= sizeof(sun.sun_path)) {
		snprintf(why, len, "path longer than %zu bytes",
		    sizeof(sun.sun_path) - 1);
		return (-1);
	}
	return (0);
}

/* cfg_lst_time - a listener timeout: TIME text or libconfig int */
static int
cfg_lst_time(const config_setting_t *s, int *out, char *why, size_t len)
{
	char	 lo[16], hi[16], num[32];
	const char *text;
	long	 v;
	int	 r;

	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64) {
		snprintf(num, sizeof(num), "%lld",
		    (long long)config_setting_get_int64(s));
		text = num;
		r = cfg_parse_long(num, &v);
	} else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		text = config_setting_get_string(s);
		r = cfg_parse_time(text, &v);
	} else {
		snprintf(why, len, "must be a time such as \"60s\"");
		return (-1);
	}
	cfg_fmt_time(1, lo, sizeof(lo));
	cfg_fmt_time(CFG_LST_TMAX, hi, sizeof(hi));
	if (r == CFG_V_BAD) {
		snprintf(why, len, "bad value \"%s\" (allowed: a time %s..%s, "
		    "as a number with an optional unit s, m, h, d or w)",
		    text, lo, hi);
		return (-1);
	}
	if (r == CFG_V_RANGE || v < 1 || v > CFG_LST_TMAX) {
		snprintf(why, len, "%s is out of range (allowed: %s..%s)",
		    text, lo, hi);
		return (-1);
	}
	*out = (int)v;
	return (0);
}

/*
 * cfg_lst_mode - octal socket mode. libconfig has no octal literals:
 * an int is read as octal digits, so mode = 660 means 0660.
 */
static int
cfg_lst_mode(const config_setting_t *s, mode_t *out, char *why, size_t len)
{
	char	 text[32];
	const char *p;
	long	 v = 0;

	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64)
		snprintf(text, sizeof(text), "%lld",
		    (long long)config_setting_get_int64(s));
	else if (config_setting_type(s) == CONFIG_TYPE_STRING)
		snprintf(text, sizeof(text), "%s", config_setting_get_string(s));
	else {
		snprintf(why, len, "must be an octal string such as \"0666\"");
		return (-1);
	}
	for (p = text; *p >= '0' && *p <= '7' && v <= 0777; p++)
		v = v * 8 + (*p - '0');
	if (*p != '\0' || p == text || v > 0777) {
		snprintf(why, len, "bad mode \"%s\" (allowed: octal 0..0777)",
		    text);
		return (-1);
	}
	*out = (mode_t)v;
	return (0);
}

/* cfg_lst_string - a listener string option, non-empty */
static char *
cfg_lst_string(const config_setting_t *s, char *why, size_t len)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		snprintf(why, len, "must be a string");
		return (NULL);
	}
	v = config_setting_get_string(s);
	if (*v == '\0') {
		snprintf(why, len, "must not be empty");
		return (NULL);
	}
	return (cfg_xstrdup(v));
}

/*
 * cfg_lst_word - a listener option that is one of a few words (any
 * case); its index in words[], or -1 with the reason
 */
static int
cfg_lst_word(const config_setting_t *s, const char *const *words,
    char *why, size_t len)
{
	const char *v;
	char	 allowed[128];
	size_t	 i, o = 0;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		snprintf(why, len, "must be a string");
		return (-1);
	}
	v = config_setting_get_string(s);
	for (i = 0; words[i] != NULL; i++)
		if (strcasecmp(v, words[i]) == 0)
			return ((int)i);
	allowed[0] = '\0';
	for (i = 0; words[i] != NULL && o < sizeof(allowed); i++)
		o += (size_t)snprintf(allowed + o, sizeof(allowed) - o, "%s%s",
		    i > 0 ? ", " : "", words[i]);
	snprintf(why, len, "bad value \"%s\" (allowed: %s)", v, allowed);
	return (-1);
}

/* cfg_lst_bool - a listener yes/no option: libconfig bool or a word */
static int
cfg_lst_bool(const config_setting_t *s, int *out, char *why, size_t len)
{
	int	 b;

	if (config_setting_type(s) == CONFIG_TYPE_BOOL) {
		*out = config_setting_get_bool(s) ? 1 : 0;
		return (0);
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING ||
	    (b = cfg_bool_word(config_setting_get_string(s))) < 0) {
		snprintf(why, len, "must be yes or no");
		return (-1);
	}
	*out = b;
	return (0);
}

/* Bits for the keys an entry has (order of cfg_lst_keys[]). */
#define CFG_K_HANDOFF	0x001
#define CFG_K_MODE	0x002
#define CFG_K_OWNER	0x004
#define CFG_K_GROUP	0x008
#define CFG_K_LISTEN	0x010
#define CFG_K_BACKEND	0x020
#define CFG_K_HS	0x040
#define CFG_K_IDLE	0x080
#define CFG_K_CONNECT	0x100
#define CFG_K_NAME	0x200
#define CFG_K_STARTTLS	0x400
#define CFG_K_PROXY	0x800
#define CFG_K_XCLIENT	0x1000
#define CFG_K_COMMAND	0x2000
#define CFG_K_PLAINTEXT	0x4000
#define CFG_K_HANDOFF_ONLY	(CFG_K_MODE | CFG_K_OWNER | CFG_K_GROUP)
#define CFG_K_LISTEN_ONLY	(CFG_K_BACKEND | CFG_K_HS | CFG_K_IDLE | \
				    CFG_K_CONNECT | CFG_K_STARTTLS | CFG_K_PROXY | \
				    CFG_K_XCLIENT | CFG_K_COMMAND | CFG_K_PLAINTEXT)
#define CFG_K_STARTTLS_ONLY	(CFG_K_XCLIENT | CFG_K_COMMAND | CFG_K_PLAINTEXT)

/*
 * cfg_lst_closest - the listener option or per-listener parameter
 * nearest to name, or NULL
 */
static const char *
cfg_lst_closest(const char *name)
{
	const char *names[sizeof(cfg_lst_keys) / sizeof(cfg_lst_keys[0]) +
	    CFG_NPARAMS];
	size_t	 n = 0;
	int	 i;

	for (i = 0; cfg_lst_keys[i] != NULL; i++)
		names[n++] = cfg_lst_keys[i];
	for (i = 0; i < CFG_NPARAMS; i++)
		if (cfg_params[i].flags & CFG_F_PER_LISTENER)
			names[n++] = cfg_params[i].name;
	return (cfg_closest(name, names, n));
}

/*
 * cfg_lst_param - a parameter set inside entry n: keep its text in en
 * for cfg_lst_derive(), or report why it cannot be set there
 */
static void
cfg_lst_param(struct cfg_ld *ld, const config_setting_t *k, int n, int i,
    struct cfg_ent *en)
{
	const char *file = config_setting_source_file(k);
	char	 why[512];
	int	 line = config_setting_source_line(k);

	if (!(cfg_params[i].flags & CFG_F_PER_LISTENER)) {
		cfg_err(ld, file, line, "tlsproxy_listeners entry %d: parameter "
		    "\"%s\" cannot be set per listener", n, cfg_params[i].name);
		return;
	}
	en->file[i] = file;
	en->line[i] = line > 0 ? line : en->eline > 0 ? en->eline : 1;
	en->n++;
	if ((en->raw[i] = cfg_setting_text(i, k, why, sizeof(why))) == NULL) {
		en->bad[i] = 1;
		cfg_err(ld, file, line, "tlsproxy_listeners entry %d: parameter "
		    "\"%s\": %s", n, cfg_params[i].name, why);
	}
}

/*
 * cfg_lst_entry - parse entry n (1-based) into l, and the parameters
 * it sets into en; 0, or -1 after reporting
 */
static int
cfg_lst_entry(struct cfg_ld *ld, const config_setting_t *e, int n,
    struct cfg_listener *l, struct cfg_ent *en)
{
	const config_setting_t *k;
	const char *key, *file = config_setting_source_file(e), *hint;
	char	 why[512];
	int	 kline[sizeof(cfg_lst_keys) / sizeof(cfg_lst_keys[0])];
	int	 i, ki, pi, bit, have = 0, nerr = ld->nerr;

	memset(l, 0, sizeof(*l));
	l->line = config_setting_source_line(e);
	l->mode = CFG_LST_MODE;
	l->handshake_timeout = CFG_LST_HANDSHAKE;
	l->idle_timeout = CFG_LST_IDLE;
	l->connect_timeout = CFG_LST_CONNECT;
	l->command_timeout = CFG_LST_COMMAND;
	l->plaintext_timeout = CFG_LST_PLAINTEXT;
	memset(kline, 0, sizeof(kline));
	en->entry = n;
	en->efile = file;
	en->eline = l->line;
	en->lst = -1;
	if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
		cfg_err(ld, file, l->line, "tlsproxy_listeners entry %d: not a "
		    "group { ... }", n);
		return (-1);
	}
	for (i = 0; (k = config_setting_get_elem(e, (unsigned int)i)) != NULL;
	    i++) {
		key = config_setting_name(k);
		for (ki = 0; cfg_lst_keys[ki] != NULL; ki++)
			if (strcmp(cfg_lst_keys[ki], key) == 0)
				break;
		if (cfg_lst_keys[ki] == NULL && (pi = cfg_index(key)) >= 0) {
			cfg_lst_param(ld, k, n, pi, en);
			continue;
		}
		if (cfg_lst_keys[ki] == NULL) {
			hint = cfg_lst_closest(key);
			if (hint != NULL)
				cfg_err(ld, file, config_setting_source_line(k),
				    "tlsproxy_listeners entry %d: unknown key "
				    "\"%s\"; did you mean \"%s\"?", n, key,
				    hint);
			else
				cfg_err(ld, file, config_setting_source_line(k),
				    "tlsproxy_listeners entry %d: unknown key "
				    "\"%s\"", n, key);
			continue;
		}
		bit = 1 << ki;
		have |= bit;
		kline[ki] = config_setting_source_line(k);
		why[0] = '\0';
		switch (bit) {
		case CFG_K_HANDOFF:
			if ((l->handoff = cfg_lst_string(k, why,
			    sizeof(why))) != NULL &&
			    cfg_unix_check(l->handoff, why, sizeof(why)) < 0) {
				free(l->handoff);
				l->handoff = NULL;
			}
			break;
		case CFG_K_MODE:
			(void)cfg_lst_mode(k, &l->mode, why, sizeof(why));
			break;
		case CFG_K_OWNER:
			l->owner = cfg_lst_string(k, why, sizeof(why));
			break;
		case CFG_K_GROUP:
			l->group = cfg_lst_string(k, why, sizeof(why));
			break;
		case CFG_K_NAME:
			if ((l->name = cfg_lst_string(k, why, sizeof(why))) != NULL &&
			    l->name[0] == '\0') {
				snprintf(why, sizeof(why), "must not be empty");
				free(l->name);
				l->name = NULL;
			}
			break;
		case CFG_K_LISTEN:
			if ((l->listen = cfg_lst_string(k, why,
			    sizeof(why))) != NULL &&
			    cfg_addr_check(l->listen, 1, why, sizeof(why)) < 0) {
				free(l->listen);
				l->listen = NULL;
			}
			break;
		case CFG_K_BACKEND:
			if ((l->backend = cfg_lst_string(k, why,
			    sizeof(why))) != NULL &&
			    (l->backend[0] == '/' ?
			    cfg_unix_check(l->backend, why, sizeof(why)) :
			    cfg_addr_check(l->backend, 0, why, sizeof(why))) <
			    0) {
				free(l->backend);
				l->backend = NULL;
			}
			break;
		case CFG_K_HS:
			(void)cfg_lst_time(k, &l->handshake_timeout, why,
			    sizeof(why));
			break;
		case CFG_K_IDLE:
			(void)cfg_lst_time(k, &l->idle_timeout, why,
			    sizeof(why));
			break;
		case CFG_K_CONNECT:
			(void)cfg_lst_time(k, &l->connect_timeout, why,
			    sizeof(why));
			break;
		case CFG_K_STARTTLS:
			if (cfg_lst_word(k, cfg_lst_starttls, why,
			    sizeof(why)) >= 0)
				l->starttls = CFG_STARTTLS_SMTP;
			break;
		case CFG_K_PROXY:
			if ((pi = cfg_lst_word(k, cfg_lst_proxy, why,
			    sizeof(why))) >= 0)
				l->proxy_protocol = pi + 1;
			break;
		case CFG_K_XCLIENT:
			(void)cfg_lst_bool(k, &l->xclient, why, sizeof(why));
			break;
		case CFG_K_COMMAND:
			(void)cfg_lst_time(k, &l->command_timeout, why,
			    sizeof(why));
			break;
		case CFG_K_PLAINTEXT:
			(void)cfg_lst_time(k, &l->plaintext_timeout, why,
			    sizeof(why));
			break;
		}
		if (why[0] != '\0')
			cfg_err(ld, file, kline[ki], "tlsproxy_listeners entry "
			    "%d: %s: %s", n, key, why);
	}
	if ((have & CFG_K_HANDOFF) && (have & CFG_K_LISTEN)) {
		cfg_err(ld, file, l->line, "tlsproxy_listeners entry %d: has "
		    "both \"handoff\" and \"listen\"; use one per entry", n);
	} else if ((have & (CFG_K_HANDOFF | CFG_K_LISTEN)) == 0) {
		cfg_err(ld, file, l->line, "tlsproxy_listeners entry %d: needs "
		    "\"handoff\" (a UNIX socket path) or \"listen\" "
		    "(host:port)", n);
	} else {
		/* Options of the other kind would be silently ignored. */
		int	 only = (have & CFG_K_HANDOFF) ? CFG_K_LISTEN_ONLY :
			    CFG_K_HANDOFF_ONLY;

		l->kind = (have & CFG_K_HANDOFF) ? CFG_LST_HANDOFF :
		    CFG_LST_TCP;
		for (ki = 0; cfg_lst_keys[ki] != NULL; ki++)
			if ((have & only & (1 << ki)) != 0)
				cfg_err(ld, file, kline[ki], "tlsproxy_listeners "
				    "entry %d: \"%s\" is only valid with "
				    "\"%s\"", n, cfg_lst_keys[ki],
				    l->kind == CFG_LST_HANDOFF ? "listen" :
				    "handoff");
		if (l->kind == CFG_LST_TCP && (have & CFG_K_BACKEND) == 0)
			cfg_err(ld, file, l->line, "tlsproxy_listeners entry "
			    "%d: \"listen\" needs a \"backend\"", n);
		/* XCLIENT and command timeouts are SMTP things. */
		if (l->kind == CFG_LST_TCP && (have & CFG_K_STARTTLS) == 0)
			for (ki = 0; cfg_lst_keys[ki] != NULL; ki++)
				if ((have & CFG_K_STARTTLS_ONLY & (1 << ki)) != 0)
					cfg_err(ld, file, kline[ki],
					    "tlsproxy_listeners entry %d: \"%s\" "
					    "is only valid with \"starttls\"", n,
					    cfg_lst_keys[ki]);
	}
	return (ld->nerr == nerr ? 0 : -1);
}

/*
 * cfg_read_listeners - the tlsproxy_listeners list. Every entry gets
 * an ld->ent[], even a rejected one, so that the parameters it sets
 * are checked too.
 */
static void
cfg_read_listeners(struct cfg_ld *ld, const config_setting_t *s)
{
	struct cfg *c = ld->cfg;
	struct cfg_listener l;
	const config_setting_t *e;
	const char *file = config_setting_source_file(s);
	unsigned int n, i;
	size_t	 j;

	if (config_setting_type(s) != CONFIG_TYPE_LIST) {
		cfg_err(ld, file, config_setting_source_line(s), "parameter "
		    "\"tlsproxy_listeners\": must be a list of groups, as in "
		    "( { handoff = \"/path\"; }, { listen = \"*:465\"; "
		    "backend = \"127.0.0.1:25\"; } )");
		return;
	}
	n = (unsigned int)config_setting_length(s);
	c->lst = cfg_xcalloc(n, sizeof(*c->lst));
	ld->ent = cfg_xcalloc(n, sizeof(*ld->ent));
	ld->nent = n;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (cfg_lst_entry(ld, e, (int)i + 1, &l, &ld->ent[i]) < 0) {
			cfg_lst_free(&l);
			continue;
		}
		for (j = 0; j < c->nlst; j++) {
			if (l.kind == CFG_LST_HANDOFF &&
			    c->lst[j].kind == CFG_LST_HANDOFF &&
			    strcmp(l.handoff, c->lst[j].handoff) == 0) {
				cfg_err(ld, file, l.line, "tlsproxy_listeners "
				    "entry %u: duplicate handoff \"%s\" (also "
				    "at line %d)", i + 1, l.handoff,
				    c->lst[j].line);
				break;
			}
			if (l.kind == CFG_LST_TCP &&
			    c->lst[j].kind == CFG_LST_TCP &&
			    strcasecmp(l.listen, c->lst[j].listen) == 0) {
				cfg_err(ld, file, l.line, "tlsproxy_listeners "
				    "entry %u: duplicate listen \"%s\" (also "
				    "at line %d)", i + 1, l.listen,
				    c->lst[j].line);
				break;
			}
		}
		if (j < c->nlst) {
			cfg_lst_free(&l);
			continue;
		}
		ld->ent[i].lst = (long)c->nlst;
		c->lst[c->nlst++] = l;
	}
}

/*
 * Reading the file.
 */

/* cfg_scalar_text - a libconfig scalar as text; -1 for an aggregate */
static int
cfg_scalar_text(const config_setting_t *s, struct cfg_buf *b)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		cfg_buf_str(b, config_setting_get_string(s));
		return (0);
	case CONFIG_TYPE_BOOL:
		cfg_buf_str(b, config_setting_get_bool(s) ? "yes" : "no");
		return (0);
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		cfg_buf_fmt(b, "%lld", (long long)config_setting_get_int64(s));
		return (0);
	case CONFIG_TYPE_FLOAT:
		cfg_buf_fmt(b, "%g", config_setting_get_float(s));
		return (0);
	default:
		return (-1);
	}
}

/*
 * cfg_setting_text - raw text of parameter i; NULL with the reason in
 * why, for the caller to report.
 */
static char *
cfg_setting_text(int i, const config_setting_t *s, char *why, size_t len)
{
	struct cfg_buf b = { NULL, 0, 0 };
	const config_setting_t *e;
	int	 k, n;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		snprintf(why, len, "a group { ... } is not allowed here "
		    "(only tlsproxy_listeners takes groups)");
		return (NULL);
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		if (cfg_params[i].type != CFG_STR &&
		    cfg_params[i].type != CFG_NETS) {
			snprintf(why, len, "a list is not allowed here (give "
			    "a single value)");
			return (NULL);
		}
		/* Handy for chain files and curve lists: "a, b, c". */
		n = config_setting_length(s);
		for (k = 0; k < n; k++) {
			e = config_setting_get_elem(s, (unsigned int)k);
			if (k > 0)
				cfg_buf_str(&b, ", ");
			if (cfg_scalar_text(e, &b) < 0) {
				free(b.s);
				snprintf(why, len, "element %d: nested lists "
				    "or groups are not allowed here", k + 1);
				return (NULL);
			}
		}
		return (cfg_buf_take(&b));
	default:
		if (cfg_scalar_text(s, &b) < 0) {
			free(b.s);
			snprintf(why, len, "unsupported value type");
			return (NULL);
		}
		return (cfg_buf_take(&b));
	}
}

/* cfg_read_settings - pass 1 over the top-level settings */
static void
cfg_read_settings(struct cfg_ld *ld, const config_setting_t *root)
{
	const config_setting_t *s;
	const char *name, *file, *hint;
	char	 why[512];
	unsigned int k;
	int	 i, line;

	for (k = 0; (s = config_setting_get_elem(root, k)) != NULL; k++) {
		name = config_setting_name(s);
		file = config_setting_source_file(s);
		line = config_setting_source_line(s);
		if ((i = cfg_index(name)) < 0) {
			if ((hint = cfg_closest_param(name)) != NULL)
				cfg_err(ld, file, line, "unknown parameter "
				    "\"%s\"; did you mean \"%s\"?", name, hint);
			else
				cfg_err(ld, file, line, "unknown parameter "
				    "\"%s\"", name);
			continue;
		}
		if (cfg_params[i].flags & CFG_F_RO) {
			cfg_err(ld, file, line, "parameter %s is read-only",
			    name);
			continue;
		}
		ld->file[i] = file;
		ld->line[i] = line > 0 ? line : 1;
		ld->cfg->val[i].set = 1;
		if (cfg_params[i].flags & CFG_F_LISTENERS) {
			cfg_read_listeners(ld, s);
			continue;
		}
		if ((ld->raw[i] = cfg_setting_text(i, s, why,
		    sizeof(why))) == NULL) {
			cfg_perr(ld, i, i, "%s", why);
			ld->bad[i] = ld->rbad[i] = 1;
		}
	}
}

/*
 * Putting it together.
 */

/* cfg_new - empty configuration */
static struct cfg *
cfg_new(const char *path)
{
	struct cfg *c;

	c = cfg_xcalloc(1, sizeof(*c));
	c->magic = CFG_MAGIC;
	c->path = cfg_xstrdup(path);
	return (c);
}

/* cfg_finish - passes 2-4; 0, or -1 when anything was reported */
static int
cfg_finish(struct cfg_ld *ld)
{
	struct cfg *c = ld->cfg;
	char	 pid[32];
	int	 i;

	ld->dep = cfg_xcalloc((size_t)CFG_NPARAMS * CFG_NPARAMS, 1);

	/* Values that do not come from expansion. */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	for (i = 0; i < CFG_NPARAMS; i++) {
		if (cfg_params[i].flags & CFG_F_LISTENERS)
			c->val[i].value = cfg_lst_value(c);
		else if (i == CFG_P_process_id)
			c->val[i].value = cfg_xstrdup(pid);
		else if (cfg_params[i].flags & CFG_F_RO)
			c->val[i].value = cfg_xstrdup(cfg_params[i].def);
		else
			continue;
		ld->state[i] = CFG_ST_DONE;
		ld->checked[i] = 1;
	}
	for (i = 0; i < CFG_NPARAMS; i++) {
		if (ld->bad[i]) {
			/* Already reported while reading. */
			ld->state[i] = CFG_ST_DONE;
			c->val[i].value = cfg_xstrdup("");
		}
	}
	for (i = 0; i < CFG_NPARAMS; i++)
		(void)cfg_expand_param(ld, i);
	for (i = 0; i < CFG_NPARAMS; i++)
		(void)cfg_check_param(ld, i);
	if (ld->nerr > 0)
		return (-1);
	for (i = 0; i < CFG_NPARAMS; i++) {
		if (!c->val[i].set)
			continue;
		if (cfg_params[i].flags & CFG_F_LISTENERS)
			c->val[i].nondefault = c->nlst > 0;
		else
			c->val[i].nondefault = cfg_differs(ld, i);
	}
	for (i = 0; i < CFG_NPARAMS; i++)
		c->val[i].where = cfg_where_text(ld, i);
	return (0);
}

/* cfg_ld_done - free the load state (not the messages: cfg_flush) */
static void
cfg_ld_done(struct cfg_ld *ld)
{
	size_t	 k;
	int	 i;

	for (i = 0; i < CFG_NPARAMS; i++)
		free(ld->raw[i]);
	for (k = 0; k < ld->nent; k++)
		for (i = 0; i < CFG_NPARAMS; i++)
			free(ld->ent[k].raw[i]);
	free(ld->ent);
	free(ld->dep);
}

/*
 * cfg_lst_derive - the effective configuration of one entry: passes
 * 2-4 once more, over the global text with the entry's text on top,
 * so that "$name" references see the entry's values. Mistakes of the
 * global settings that show up again are not repeated (cfg_perr()).
 * NULL when anything new was reported.
 */
static struct cfg *
cfg_lst_derive(struct cfg_ld *gld, const struct cfg_ent *en)
{
	struct cfg_ld ld;
	struct cfg *c;
	const char *raw;
	int	 i, rc;

	memset(&ld, 0, sizeof(ld));
	ld.root = gld->root;
	ld.errs = gld->errs;
	ld.path = gld->path;
	ld.entry = en->entry;
	ld.efile = en->efile;
	ld.eline = en->eline;
	ld.cfg = c = cfg_new(gld->cfg->path);
	for (i = 0; i < CFG_NPARAMS; i++) {
		if (en->line[i] > 0) {
			raw = en->raw[i];
			ld.file[i] = en->file[i];
			ld.line[i] = en->line[i];
			ld.rbad[i] = en->bad[i];
			c->val[i].set = c->val[i].own = 1;
		} else {
			raw = gld->raw[i];
			ld.file[i] = gld->file[i];
			ld.line[i] = gld->line[i];
			ld.rbad[i] = gld->rbad[i];
			c->val[i].set = gld->cfg->val[i].set;
		}
		ld.raw[i] = raw != NULL ? cfg_xstrdup(raw) : NULL;
		ld.bad[i] = ld.rbad[i];
	}
	rc = cfg_finish(&ld);
	cfg_ld_done(&ld);
	if (rc < 0) {
		cfg_free(c);
		return (NULL);
	}
	return (c);
}

/*
 * cfg_lst_finish - pass 5: the effective configuration of each entry
 * that sets parameters, rejected entries included (they are checked,
 * then dropped); 0, or -1 when anything was reported
 */
static int
cfg_lst_finish(struct cfg_ld *ld)
{
	struct cfg *c = ld->cfg, *eff;
	const struct cfg_ent *en;
	size_t	 k;
	int	 rc = 0;

	c->lx = cfg_xcalloc(c->nlst, sizeof(*c->lx));
	for (k = 0; k < ld->nent; k++) {
		en = &ld->ent[k];
		if (en->n == 0)
			continue;
		if ((eff = cfg_lst_derive(ld, en)) == NULL) {
			rc = -1;
			continue;
		}
		if (en->lst < 0) {
			cfg_free(eff);
			continue;
		}
		c->lx[en->lst].eff = eff;
		c->lx[en->lst].nov = en->n;
	}
	/* The list's own value shows what the entries set, too. */
	free(c->val[CFG_P_tlsproxy_listeners].value);
	c->val[CFG_P_tlsproxy_listeners].value = cfg_lst_value(c);
	return (rc);
}

/*
 * cfg_syntax_error - libconfig's parse error as "FILE:LINE: ...". For a
 * duplicate setting libconfig does not say which: the first name set
 * on that line is it (one setting per line is the file's style).
 */
static void
cfg_syntax_error(FILE *errs, const char *file, int line, const char *text)
{
	char	 buf[1024], name[128];
	FILE	*fp;
	size_t	 n = 0;
	int	 ln = 0;
	const char *p;

	name[0] = '\0';
	if (strcmp(text, "duplicate setting name") == 0 &&
	    (fp = fopen(file, "r")) != NULL) {
		while (ln < line && fgets(buf, sizeof(buf), fp) != NULL)
			if (strchr(buf, '\n') != NULL || feof(fp))
				ln++;
		if (ln == line) {
			for (p = buf; *p == ' ' || *p == '\t' || *p == '{' ||
			    *p == ',' || *p == '('; p++)
				;
			while ((isalnum((unsigned char)p[n]) || p[n] == '_' ||
			    p[n] == '-' || p[n] == '*') && n + 1 < sizeof(name))
				n++;
			memcpy(name, p, n);
			name[n] = '\0';
		}
		fclose(fp);
	}
	if (name[0] != '\0')
		fprintf(errs, "%s:%d: %s: set more than once in the same "
		    "group\n", file, line, name);
	else
		fprintf(errs, "%s:%d: syntax error: %s\n", file, line, text);
}

/* cfg_load - read and check a file */
struct cfg *
cfg_load(const char *path, FILE *errs)
{
	return (cfg_load_fd(path, -1, errs));
}

/* cfg_load_fd - the same from a descriptor of it (consumed), or -1 */
struct cfg *
cfg_load_fd(const char *path, int fd, FILE *errs)
{
	struct cfg_ld ld;
	config_t lc;
	FILE	*fp = NULL;
	char	 ebuf[256], *dir, *slash;
	int	 rc, ok;

	memset(&ld, 0, sizeof(ld));
	ld.errs = errs;
	ld.path = path;

	/* libconfig only says "file I/O error"; find out why ourselves. */
	if ((fp = fd >= 0 ? fdopen(fd, "r") : fopen(path, "r")) == NULL) {
		if (errs != NULL)
			fprintf(errs, "%s: cannot open: %s\n", path,
			    cfg_strerror(errno, ebuf, sizeof(ebuf)));
		if (fd >= 0)
			(void)close(fd);
		return (NULL);
	}
	if (fd < 0) {
		fclose(fp);
		fp = NULL;
	}

	config_init(&lc);
	/* @include "x" is relative to the including file's directory. */
	dir = cfg_xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		slash[slash == dir ? 1 : 0] = '\0';
		config_set_include_dir(&lc, dir);
	}
	free(dir);
	ok = fp != NULL ? config_read(&lc, fp) : config_read_file(&lc, path);
	if (fp != NULL)
		fclose(fp);
	if (ok != CONFIG_TRUE) {
		if (errs != NULL) {
			if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
				fprintf(errs, "%s: cannot read: %s\n",
				    config_error_file(&lc) ?
				    config_error_file(&lc) : path,
				    config_error_text(&lc));
			else
				cfg_syntax_error(errs, config_error_file(&lc) ?
				    config_error_file(&lc) : path,
				    config_error_line(&lc), config_error_text(&lc));
		}
		config_destroy(&lc);
		return (NULL);
	}

	ld.root = &ld;
	ld.cfg = cfg_new(path);
	cfg_read_settings(&ld, config_root_setting(&lc));
	rc = cfg_finish(&ld);
	if (cfg_lst_finish(&ld) < 0)
		rc = -1;
	/* ld.file[] and the messages point into lc: flush first. */
	cfg_flush(&ld);
	config_destroy(&lc);
	cfg_ld_done(&ld);
	if (rc < 0) {
		cfg_free(ld.cfg);
		return (NULL);
	}
	return (ld.cfg);
}

/* cfg_defaults - every parameter at its default */
struct cfg *
cfg_defaults(void)
{
	struct cfg_ld ld;
	int	 rc;

	memset(&ld, 0, sizeof(ld));
	ld.root = &ld;
	ld.errs = stderr;	/* only a broken table can complain */
	ld.path = "(defaults)";
	ld.cfg = cfg_new("(defaults)");
	rc = cfg_finish(&ld);
	cfg_flush(&ld);
	cfg_ld_done(&ld);
	if (rc < 0) {
		cfg_free(ld.cfg);
		return (NULL);
	}
	return (ld.cfg);
}

/* cfg_free - release everything; NULL is fine */
void
cfg_free(struct cfg *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < CFG_NPARAMS; i++) {
		free(c->val[i].value);
		free(c->val[i].where);
	}
	for (i = 0; i < c->nlst; i++) {
		cfg_lst_free(&c->lst[i]);
		if (c->lx != NULL)
			cfg_free(c->lx[i].eff);
	}
	free(c->lst);
	free(c->lx);
	free(c->path);
	c->magic = 0;
	free(c);
}

/*
 * Accessors. Misuse is a bug in the caller, so abort where it shows.
 */

/* cfg_misuse - report a programming error and abort */
static void __attribute__((noreturn))
cfg_misuse(const char *fn, const char *name, const char *why)
{
	fprintf(stderr, "tlsproxy: %s(\"%s\"): %s\n", fn, name ? name : "(null)",
	    why);
	abort();
}

/* cfg_lookup - index of name in a valid cfg, or abort */
static int
cfg_lookup(const struct cfg *c, const char *name, const char *fn)
{
	int	 i;

	if (c == NULL || c->magic != CFG_MAGIC)
		cfg_misuse(fn, name, "not a configuration");
	if (name == NULL || (i = cfg_index(name)) < 0)
		cfg_misuse(fn, name, "unknown parameter");
	return (i);
}

const char *
cfg_path(const struct cfg *c)
{
	if (c == NULL || c->magic != CFG_MAGIC)
		cfg_misuse(__func__, NULL, "not a configuration");
	return (c->path);
}

const char *
cfg_str(const struct cfg *c, const char *name)
{
	return (c->val[cfg_lookup(c, name, __func__)].value);
}

int
cfg_bool(const struct cfg *c, const char *name)
{
	int	 i = cfg_lookup(c, name, __func__);

	if (cfg_params[i].type != CFG_BOOL)
		cfg_misuse(__func__, name, "not a boolean parameter");
	return (c->val[i].num != 0);
}

long
cfg_int(const struct cfg *c, const char *name)
{
	int	 i = cfg_lookup(c, name, __func__);

	if (cfg_params[i].type != CFG_INT && cfg_params[i].type != CFG_TIME)
		cfg_misuse(__func__, name, "not an integer or time parameter");
	return (c->val[i].num);
}

const char *
cfg_where(const struct cfg *c, const char *name)
{
	int	 i = cfg_lookup(c, name, __func__);

	return (c->val[i].where != NULL ? c->val[i].where : cfg_params[i].name);
}

int
cfg_is_set(const struct cfg *c, const char *name)
{
	return (c->val[cfg_lookup(c, name, __func__)].set);
}

size_t
cfg_listener_count(const struct cfg *c)
{
	if (c == NULL || c->magic != CFG_MAGIC)
		cfg_misuse(__func__, NULL, "not a configuration");
	return (c->nlst);
}

const struct cfg_listener *
cfg_listener_get(const struct cfg *c, size_t i)
{
	if (c == NULL || c->magic != CFG_MAGIC)
		cfg_misuse(__func__, NULL, "not a configuration");
	return (i < c->nlst ? &c->lst[i] : NULL);
}

const struct cfg *
cfg_listener_cfg(const struct cfg *c, size_t i)
{
	if (c == NULL || c->magic != CFG_MAGIC)
		cfg_misuse(__func__, NULL, "not a configuration");
	if (i >= c->nlst)
		return (NULL);
	if (c->lx != NULL && c->lx[i].eff != NULL)
		return (c->lx[i].eff);
	return (c);
}

size_t
cfg_listener_noverrides(const struct cfg *c, size_t i)
{
	if (c == NULL || c->magic != CFG_MAGIC)
		cfg_misuse(__func__, NULL, "not a configuration");
	return (i < c->nlst && c->lx != NULL ? c->lx[i].nov : 0);
}

/*
 * Dumps, in the style of postconf -n and -d.
 */

/*
 * cfg_print_pair - "name = "value";", in the file's own syntax, so that
 * a line of -n or -d can be pasted back into a configuration
 */
static void
cfg_print_pair(FILE *fp, const char *name, const char *value)
{
	struct cfg_buf b = { NULL, 0, 0 };

	cfg_quote(&b, value);
	fprintf(fp, "%s = %s;\n", name, b.s);
	free(b.s);
}

void
cfg_print_nondefault(const struct cfg *c, FILE *fp)
{
	struct cfg_buf b = { NULL, 0, 0 };
	size_t	 k;
	int	 i;

	if (c == NULL || c->magic != CFG_MAGIC)
		cfg_misuse(__func__, NULL, "not a configuration");
	for (i = 0; i < CFG_NPARAMS; i++) {
		if (!c->val[i].nondefault)
			continue;
		if (!(cfg_params[i].flags & CFG_F_LISTENERS)) {
			cfg_print_pair(fp, cfg_params[i].name, c->val[i].value);
			continue;
		}
		/* One listener per line reads better than one long line. */
		fprintf(fp, "%s = (\n", cfg_params[i].name);
		for (k = 0; k < c->nlst; k++) {
			b.len = 0;
			cfg_lst_render(&b, &c->lst[k], c->lx != NULL ?
			    &c->lx[k] : NULL);
			fprintf(fp, "    %s%s\n", b.s, k + 1 < c->nlst ? "," : "");
		}
		fprintf(fp, ");\n");
	}
	free(b.s);
}

/*
 * cfg_print_defaults - every parameter; the read-only ones as comments
 * and the listener list as an empty list, so the output parses as it is
 */
void
cfg_print_defaults(FILE *fp)
{
	int	 i;

	for (i = 0; i < CFG_NPARAMS; i++) {
		if (cfg_params[i].flags & CFG_F_LISTENERS)
			fprintf(fp, "%s = ( );\n", cfg_params[i].name);
		else {
			if (cfg_params[i].flags & CFG_F_RO)
				fputs("# (read-only) ", fp);
			cfg_print_pair(fp, cfg_params[i].name, cfg_params[i].def);
		}
	}
}

size_t
cfg_param_count(void)
{
	return (CFG_NPARAMS);
}

const char *
cfg_param_name(size_t i)
{
	return (i < CFG_NPARAMS ? cfg_params[i].name : NULL);
}

const char *
cfg_param_default(size_t i)
{
	return (i < CFG_NPARAMS ? cfg_params[i].def : NULL);
}

/*
 * NAME
 *	fuzz_config - libFuzzer harness for cfg_load()
 * DESCRIPTION
 *	The input is the text of a tlsproxy.conf. It is written to one
 *	scratch file (an in-memory file with the same path on every run;
 *	cfg_load() wants a path) and loaded. This goes through libconfig's parser and then
 *	all of config.c: the parameter table, value checks, $name
 *	expansion with its loop detection, listener entries and their
 *	per-listener parameter sets.
 *
 *	Inputs with "@include" are rejected: libconfig would open a
 *	file named by the input, which may be anything on the host
 *	(a FIFO, a device), and that is not the code under test.
 *
 *	Checked: a failed load explains itself (at least one line, each
 *	line names the file); a successful load answers every accessor
 *	for every parameter, globally and per listener, prints with -n,
 *	and frees cleanly. The diagnostics are kept in memory, so their
 *	formatting runs too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"

#define FUZZ_CONFIG_MAX	(64 * 1024)	/* longer inputs add nothing */
#define FUZZ_CONFIG_SWEEPS 2		/* listener configurations fully read */

static FILE *devnull;

/* check_cfg - use every accessor that works for any parameter type */
static void
check_cfg(const struct cfg *c, size_t np)
{
	const char *name, *v;
	size_t	 i;
	int	 set;

	for (i = 0; i < np; i++) {
		name = cfg_param_name(i);
		v = cfg_str(c, name);
		FUZZ_CHECK(v != NULL);
		(void)strlen(v);
		set = cfg_is_set(c, name);
		FUZZ_CHECK(set == 0 || set == 1);
	}
}

/* check_errs - every diagnostic line starts with the file name */
static void
check_errs(const char *text, size_t len, const char *path)
{
	const char *line, *nl;
	size_t	 plen = strlen(path);

	FUZZ_CHECK(len > 0 && text[len - 1] == '\n');
	for (line = text; line < text + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(text + len - line));
		FUZZ_CHECK(nl != NULL);
		FUZZ_CHECK((size_t)(nl - line) > plen);
		FUZZ_CHECK(strncmp(line, path, plen) == 0 && line[plen] == ':');
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cfg_listener *l;
	const struct cfg *lc;
	struct cfg *c;
	const char *path;
	char	*errtext = NULL;
	size_t	 errlen = 0, i, n, np;
	FILE	*errs;

	if (size > FUZZ_CONFIG_MAX || fuzz_memmem_ci(data, size, "@include"))
		return (-1);
	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	path = fuzz_scratch_path("tlsproxy.conf");
	fuzz_scratch_write(data, size);

	if ((errs = open_memstream(&errtext, &errlen)) == NULL)
		abort();
	c = cfg_load(path, errs);
	if (fclose(errs) != 0)
		abort();

	if (c == NULL) {
		check_errs(errtext, errlen, path);
		free(errtext);
		return (0);
	}
	FUZZ_CHECK(strcmp(cfg_path(c), path) == 0);
	np = cfg_param_count();
	FUZZ_CHECK(np > 0);
	check_cfg(c, np);
	n = cfg_listener_count(c);
	for (i = 0; i < n; i++) {
		l = cfg_listener_get(c, i);
		FUZZ_CHECK(l != NULL);
		FUZZ_CHECK(l->kind == CFG_LST_HANDOFF || l->kind == CFG_LST_TCP);
		if (l->kind == CFG_LST_HANDOFF)
			FUZZ_CHECK(l->handoff != NULL && l->handoff[0] == '/');
		else
			FUZZ_CHECK(l->listen != NULL && l->backend != NULL);
		lc = cfg_listener_cfg(c, i);
		FUZZ_CHECK(lc != NULL);
		if (cfg_listener_noverrides(c, i) == 0) {
			FUZZ_CHECK(lc == c);
		} else {
			FUZZ_CHECK(lc != c && cfg_listener_count(lc) == 0);
			/* Name lookups are linear: sweep a few, not all. */
			if (i < FUZZ_CONFIG_SWEEPS)
				check_cfg(lc, np);
		}
	}
	FUZZ_CHECK(cfg_listener_get(c, n) == NULL);
	FUZZ_CHECK(cfg_listener_cfg(c, n) == NULL);
	cfg_print_nondefault(c, devnull);
	cfg_free(c);
	free(errtext);
	return (0);
}

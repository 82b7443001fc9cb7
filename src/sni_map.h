/*
 * NAME
 *	sni_map - tls_server_sni_maps: SNI name to key/certificate chain files
 * SYNOPSIS
 *	#include "sni_map.h"
 * DESCRIPTION
 *	sni_map_parse() reads the value of Postfix's tls_server_sni_maps:
 *	one or more tables separated by commas or whitespace, each
 *	"texthash:/path" (a file of "name value" lines, '#' comments,
 *	lines starting with whitespace continue the previous one) or
 *	"inline:{ name = value, { name = value with, commas }, ... }".
 *	A value is a list of PEM chain files (separated by whitespace or
 *	commas), each holding keys with their certificate chains.
 *
 *	sni_map_lookup() finds the files for a client's SNI name, case
 *	insensitively: the name itself, then its parent domains written
 *	with a leading dot (".example.com" matches "mail.example.com" and
 *	"a.b.example.com"), nearest parent first, as Postfix does. Tables
 *	are searched in order; the first match wins. NULL: no entry (the
 *	caller uses its default certificates).
 *
 *	The map is immutable after parsing (shared by all workers without
 *	locks; a reload builds a new one).
 * DIAGNOSTICS
 *	sni_map_parse(): NULL with a reason (file:line for texthash).
 */
#ifndef TLSPROXY_SNI_MAP_H
#define TLSPROXY_SNI_MAP_H

#include <stddef.h>

struct sni_map;

struct sni_map	*sni_map_parse(const char *spec, char *err, size_t errlen);
void		 sni_map_free(struct sni_map *);
/* Files for NAME (borrowed from the map), or NULL. */
const char	*sni_map_lookup(const struct sni_map *, const char *name);
/* Every distinct value, for preloading: n-th value or NULL past the end. */
const char	*sni_map_value(const struct sni_map *, size_t n);
/* Number of entries (names). */
size_t		 sni_map_count(const struct sni_map *);

#endif

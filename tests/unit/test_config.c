/*
 * NAME
 *	test_config - unit tests of the configuration module
 * DESCRIPTION
 *	Each test writes a small file from a string into a private
 *	temporary directory, loads it, and checks values or the exact
 *	error lines (with the "PATH:" prefix removed, so that the
 *	expected text starts with the line number).
 *
 *	The consistency test reads man/tlsproxy.conf.5 and
 *	etc/tlsproxy.conf from the source tree ($TOP_SRCDIR, default
 *	"..") and checks that they list exactly the parameters of the
 *	table, and that the example file loads.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static char	 tdir[256];		/* private temp dir */
static char	 tpath[300];		/* the file most tests load */

#define EXPECT_STR(got, want) do {					\
	const char *g_ = (got), *w_ = (want);				\
	int ok_ = g_ != NULL && strcmp(g_, w_) == 0;			\
	if (!ok_)							\
		fprintf(stderr, "\n%s:%d: got:\n[%s]\nwant:\n[%s]\n",	\
		    __FILE__, __LINE__, g_ ? g_ : "(null)", w_);	\
	CU_ASSERT(ok_);							\
} while (0)

#define EXPECT_INT(got, want) do {					\
	long g_ = (got), w_ = (want);					\
	if (g_ != w_)							\
		fprintf(stderr, "\n%s:%d: got %ld, want %ld\n",		\
		    __FILE__, __LINE__, g_, w_);			\
	CU_ASSERT_EQUAL(g_, w_);					\
} while (0)

static int
suite_init(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(tdir, sizeof(tdir), "%s/test_config.XXXXXX", tmp);
	if (mkdtemp(tdir) == NULL)
		return (-1);
	snprintf(tpath, sizeof(tpath), "%s/t.conf", tdir);
	return (0);
}

static int
suite_fini(void)
{
	char	 inc[300];

	/* The only files the tests create. */
	snprintf(inc, sizeof(inc), "%s/cfg_inc.conf", tdir);
	(void)unlink(inc);
	(void)unlink(tpath);
	return (rmdir(tdir));
}

/* write_file - create path with text */
static void
write_file(const char *path, const char *text)
{
	FILE	*fp;

	fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs(text, fp);
	fclose(fp);
}

/* strip_path - remove every "PATH:" line prefix, in place */
static char *
strip_path(char *text, const char *path)
{
	size_t	 pl = strlen(path);
	char	*in = text, *out = text;
	int	 bol = 1;

	while (*in != '\0') {
		if (bol && strncmp(in, path, pl) == 0 && in[pl] == ':') {
			in += pl + 1;
			if (*in == ' ')
				in++;
		}
		bol = *in == '\n';
		*out++ = *in++;
	}
	*out = '\0';
	return (text);
}

/*
 * load - write text to tpath and load it. *errs gets what cfg_load
 * printed, with the path prefixes removed; the caller frees it.
 */
static struct cfg *
load(const char *text, char **errs)
{
	struct cfg *c;
	size_t	 len;
	FILE	*ef;

	write_file(tpath, text);
	ef = open_memstream(errs, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ef);
	c = cfg_load(tpath, ef);
	fclose(ef);
	strip_path(*errs, tpath);
	return (c);
}

/* load_ok - load text, which must have no errors */
static struct cfg *
load_ok(const char *text)
{
	struct cfg *c;
	char	*errs;

	c = load(text, &errs);
	EXPECT_STR(errs, "");
	CU_ASSERT_PTR_NOT_NULL(c);
	free(errs);
	return (c);
}

/* expect_errs - load text, which must fail with exactly these lines */
static void
expect_errs(const char *text, const char *want)
{
	struct cfg *c;
	char	*errs;

	c = load(text, &errs);
	CU_ASSERT_PTR_NULL(c);
	EXPECT_STR(errs, want);
	cfg_free(c);
	free(errs);
}

/* value_of - load "name = value;" and return cfg_str(name), or NULL */
static char *
value_of(const char *setting, const char *name)
{
	struct cfg *c;
	char	*v;

	if ((c = load_ok(setting)) == NULL)
		return (NULL);
	v = strdup(cfg_str(c, name));
	cfg_free(c);
	return (v);
}

#define EXPECT_VALUE(setting, name, want) do {				\
	char *v_ = value_of(setting, name);				\
	EXPECT_STR(v_, want);						\
	free(v_);							\
} while (0)

/* print_n - cfg_print_nondefault() into a string */
static char *
print_n(const struct cfg *c)
{
	char	*out;
	size_t	 len;
	FILE	*fp;

	fp = open_memstream(&out, &len);
	cfg_print_nondefault(c, fp);
	fclose(fp);
	return (out);
}

/*
 * Defaults.
 */

static void
test_defaults(void)
{
	struct cfg *c;
	char	 pid[32];
	size_t	 i, n;

	c = cfg_defaults();
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_ciphers"), "medium");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_mandatory_ciphers"), "medium");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_protocols"), ">=TLSv1");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_mandatory_protocols"), ">=TLSv1");
	EXPECT_INT(cfg_int(c, "tlsproxy_watchdog_timeout"), 10);
	EXPECT_STR(cfg_str(c, "tlsproxy_watchdog_timeout"), "10s");
	EXPECT_INT(cfg_int(c, "tlsproxy_worker_threads"), 0);
	EXPECT_INT(cfg_int(c, "tlsproxy_queue_limit"), 1024);
	EXPECT_INT(cfg_int(c, "tlsproxy_drain_timeout"), 30);
	EXPECT_INT(cfg_int(c, "tlsproxy_tls_ccert_verifydepth"), 9);
	EXPECT_INT(cfg_int(c, "tlsproxy_client_scert_verifydepth"), 9);
	EXPECT_INT(cfg_int(c, "tls_daemon_random_bytes"), 32);
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_eecdh_grade"), "auto");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_fingerprint_digest"), "sha256");
	EXPECT_STR(cfg_str(c, "tlsproxy_client_fingerprint_digest"), "sha256");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_loglevel"), "0");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_security_level"), "");
	EXPECT_STR(cfg_str(c, "tlsproxy_client_security_level"), "");
	EXPECT_STR(cfg_str(c, "tlsproxy_client_policy_maps"), "");
	EXPECT_STR(cfg_str(c, "tlsproxy_client_loglevel_parameter"),
	    "smtp_tls_loglevel");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_cert_file"), "");
	/* Postfix 3.11's defaults. */
	EXPECT_STR(cfg_str(c, "tls_null_cipherlist"),
	    "eNULL:!kDH:!kECDH:!aDSS:!MD5:!aNULL");
	EXPECT_STR(cfg_str(c, "tls_eecdh_auto_curves"),
	    "X25519 X448 prime256v1 secp384r1 secp521r1");
	EXPECT_STR(cfg_str(c, "tls_ffdhe_auto_groups"), "ffdhe2048 ffdhe3072");
	EXPECT_STR(cfg_str(c, "tls_low_cipherlist"), "");
	EXPECT_STR(cfg_str(c, "tls_session_ticket_cipher"), "aes-256-cbc");
	EXPECT_STR(cfg_str(c, "tls_config_file"), "default");
	EXPECT_STR(cfg_str(c, "tls_dane_digest_agility"), "on");
	CU_ASSERT_EQUAL(cfg_bool(c, "tls_dane_trust_anchor_digest_enable"), 1);
	CU_ASSERT_EQUAL(cfg_bool(c, "tls_fast_shutdown_enable"), 1);
	CU_ASSERT_EQUAL(cfg_bool(c, "tlsproxy_tls_always_issue_session_ids"), 1);
	CU_ASSERT_EQUAL(cfg_bool(c, "tlsproxy_tls_ask_ccert"), 0);
	CU_ASSERT_EQUAL(cfg_bool(c, "tlsproxy_use_tls"), 0);
	CU_ASSERT_EQUAL(cfg_bool(c, "tls_append_default_CA"), 0);
	EXPECT_STR(cfg_str(c, "tls_append_default_CA"), "no");
	EXPECT_STR(cfg_str(c, "syslog_name"), "postfix");
	EXPECT_STR(cfg_str(c, "syslog_facility"), "mail");
	EXPECT_STR(cfg_str(c, "config_directory"), "/etc/postfix");
	EXPECT_STR(cfg_str(c, "tlsmgr_service_name"), "tlsmgr");
	EXPECT_STR(cfg_str(c, "process_name"), "tlsproxy");
	EXPECT_STR(cfg_str(c, "service_name"), "tlsproxy");
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	EXPECT_STR(cfg_str(c, "process_id"), pid);
	n = strlen(cfg_str(c, "tlsproxy_pid_file"));
	CU_ASSERT(n > 13 && strcmp(cfg_str(c, "tlsproxy_pid_file") + n - 13,
	    "/tlsproxy.pid") == 0);
	EXPECT_STR(cfg_str(c, "tlsproxy_listeners"), "()");
	CU_ASSERT_EQUAL(cfg_listener_count(c), 0);
	CU_ASSERT_PTR_NULL(cfg_listener_get(c, 0));
	CU_ASSERT_EQUAL(cfg_is_set(c, "tlsproxy_tls_ciphers"), 0);
	EXPECT_STR(cfg_path(c), "(defaults)");

	/* Table introspection, and every entry readable by name. */
	EXPECT_INT((long)cfg_param_count(), 148);
	for (i = 0; i < cfg_param_count(); i++) {
		CU_ASSERT_PTR_NOT_NULL(cfg_param_name(i));
		CU_ASSERT_PTR_NOT_NULL(cfg_param_default(i));
		CU_ASSERT_PTR_NOT_NULL(cfg_str(c, cfg_param_name(i)));
	}
	CU_ASSERT_PTR_NULL(cfg_param_name(cfg_param_count()));
	CU_ASSERT_PTR_NULL(cfg_param_default(cfg_param_count()));
	EXPECT_STR(cfg_param_name(0), "tls_append_default_CA");
	EXPECT_STR(cfg_param_default(0), "no");
	cfg_free(c);
	cfg_free(NULL);
}

static void
test_empty_file(void)
{
	struct cfg *c;
	char	*out;

	c = load_ok("# nothing but a comment\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_STR(cfg_path(c), tpath);
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_ciphers"), "medium");
	out = print_n(c);
	EXPECT_STR(out, "");
	free(out);
	cfg_free(c);
}

/*
 * Expansion.
 */

static void
test_indirection(void)
{
	struct cfg *c;

	c = load_ok("smtpd_tls_cert_file = \"/etc/x/cert.pem\";\n"
	    "smtp_tls_eccert_file = \"/etc/x/ec.pem\";\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_cert_file"), "/etc/x/cert.pem");
	/* tlsproxy_tls_key_file -> smtpd_tls_key_file -> smtpd_tls_cert_file */
	EXPECT_STR(cfg_str(c, "smtpd_tls_key_file"), "/etc/x/cert.pem");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_key_file"), "/etc/x/cert.pem");
	EXPECT_STR(cfg_str(c, "tlsproxy_client_eckey_file"), "/etc/x/ec.pem");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_dcert_file"), "");
	CU_ASSERT_EQUAL(cfg_is_set(c, "smtpd_tls_cert_file"), 1);
	CU_ASSERT_EQUAL(cfg_is_set(c, "tlsproxy_tls_cert_file"), 0);
	cfg_free(c);

	/* The clone wins over its smtpd_* counterpart when both are set. */
	c = load_ok("smtpd_tls_cert_file = \"/a\";\n"
	    "tlsproxy_tls_cert_file = \"/b\";\n"
	    "smtpd_tls_ciphers = \"high\";\n"
	    "smtpd_tls_loglevel = 2;\n"
	    "smtpd_use_tls = true;\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_cert_file"), "/b");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_key_file"), "/a");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_ciphers"), "high");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_loglevel"), "2");
	CU_ASSERT_EQUAL(cfg_bool(c, "tlsproxy_use_tls"), 1);
	cfg_free(c);

	/* The pre-3.7 client names win when set, else smtp_* is used. */
	EXPECT_VALUE("smtp_tls_security_level = \"verify\";\n",
	    "tlsproxy_client_security_level", "verify");
	EXPECT_VALUE("smtp_tls_security_level = \"verify\";\n"
	    "tlsproxy_client_level = \"dane\";\n",
	    "tlsproxy_client_security_level", "dane");
	EXPECT_VALUE("smtp_tls_policy_maps = \"hash:/a\";\n",
	    "tlsproxy_client_policy_maps", "hash:/a");
	EXPECT_VALUE("smtp_tls_policy_maps = \"hash:/a\";\n"
	    "tlsproxy_client_policy = \"hash:/b\";\n",
	    "tlsproxy_client_policy_maps", "hash:/b");
}

static void
test_expansion_forms(void)
{
	/* $name, ${name}, $(name); a name ends at a non-name character. */
	EXPECT_VALUE("tls_config_name = \"$openssl_path/x\";\n",
	    "tls_config_name", "openssl/x");
	EXPECT_VALUE("tls_config_name = \"<${openssl_path}>\";\n",
	    "tls_config_name", "<openssl>");
	EXPECT_VALUE("tls_config_name = \"<$(openssl_path)>\";\n",
	    "tls_config_name", "<openssl>");
	/* $$ is a literal $, and is not expanded again. */
	EXPECT_VALUE("tls_config_name = \"a$$b$$$$\";\n",
	    "tls_config_name", "a$b$$");
	EXPECT_VALUE("tls_config_name = \"a$$openssl_path\";\n"
	    "tls_server_sni_maps = \"[$tls_config_name]\";\n",
	    "tls_server_sni_maps", "[a$openssl_path]");
	/* An unknown name expands to nothing. */
	EXPECT_VALUE("tls_config_name = \"a${no_such_parameter}b\";\n",
	    "tls_config_name", "ab");

	/* ${name?value} */
	EXPECT_VALUE("tls_config_name = \"${openssl_path?yes $openssl_path}\";\n",
	    "tls_config_name", "yes openssl");
	EXPECT_VALUE("tls_config_name = \"${smtpd_tls_CAfile?set}\";\n",
	    "tls_config_name", "");
	EXPECT_VALUE("tls_config_name = \"${openssl_path?{braced}}\";\n",
	    "tls_config_name", "braced");
	/* ${name:value} */
	EXPECT_VALUE("tls_config_name = \"${smtpd_tls_CAfile:fallback}\";\n",
	    "tls_config_name", "fallback");
	EXPECT_VALUE("tls_config_name = \"${openssl_path:fallback}\";\n",
	    "tls_config_name", "");
	EXPECT_VALUE("tls_config_name = \"${smtpd_tls_CAfile:{braced}}\";\n",
	    "tls_config_name", "braced");
	/* ${name?{a}:{b}}, with blanks around the braces */
	EXPECT_VALUE("tls_config_name = \"${openssl_path?{A}:{B}}\";\n",
	    "tls_config_name", "A");
	EXPECT_VALUE("tls_config_name = \"${smtpd_tls_CAfile?{A}:{B}}\";\n",
	    "tls_config_name", "B");
	EXPECT_VALUE("tls_config_name = \"${smtpd_tls_CAfile? {A} : {B} }\";\n",
	    "tls_config_name", "B");
	EXPECT_VALUE("tls_config_name = \"${smtpd_tls_CAfile?{A}:B b}\";\n",
	    "tls_config_name", "B b");
	/* Nested and recursive. */
	EXPECT_VALUE("smtpd_tls_CAfile = \"/ca\";\n"
	    "tls_config_name = \"${smtpd_tls_CAfile?{x${smtpd_tls_CAfile}y}}\";\n",
	    "tls_config_name", "x/cay");
	EXPECT_VALUE("tls_server_sni_maps = \"$tls_config_name!\";\n"
	    "tls_config_name = \"$tls_disable_workarounds?\";\n"
	    "tls_disable_workarounds = \"$openssl_path.\";\n",
	    "tls_server_sni_maps", "openssl.?!");
	/* Values of other types are expanded before they are checked. */
	EXPECT_VALUE("syslog_name = \"HIGH\";\n"
	    "smtpd_tls_ciphers = \"$syslog_name\";\n",
	    "tlsproxy_tls_ciphers", "high");
	EXPECT_VALUE("tls_config_name = \"5m\";\n"
	    "tlsproxy_watchdog_timeout = \"$tls_config_name\";\n",
	    "tlsproxy_watchdog_timeout", "5m");
}

static void
test_expansion_errors(void)
{
	expect_errs("syslog_name = \"a${openssl_path\";\n",
	    "1: parameter \"syslog_name\": bad expansion in "
	    "\"a${openssl_path\": missing \"}\"\n");
	expect_errs("syslog_name = \"a$(openssl_path\";\n",
	    "1: parameter \"syslog_name\": bad expansion in "
	    "\"a$(openssl_path\": missing \")\"\n");
	expect_errs("syslog_name = \"cost: 5$\";\n",
	    "1: parameter \"syslog_name\": bad expansion in \"cost: 5$\": "
	    "\"$\" must be followed by a name, \"{\", \"(\" or \"$\"; "
	    "write \"$$\" for a literal \"$\"\n");
	expect_errs("syslog_name = \"${}\";\n",
	    "1: parameter \"syslog_name\": bad expansion in \"${}\": "
	    "missing parameter name after \"${\" or \"$(\"\n");
	expect_errs("syslog_name = \"${openssl_path!x}\";\n",
	    "1: parameter \"syslog_name\": bad expansion in "
	    "\"${openssl_path!x}\": expected \"?\", \":\" or the closing "
	    "bracket after the parameter name\n");
	expect_errs("syslog_name = \"${openssl_path?{a}junk}\";\n",
	    "1: parameter \"syslog_name\": bad expansion in "
	    "\"${openssl_path?{a}junk}\": unexpected text before \"}\"\n");
}

static void
test_loop(void)
{
	/* Reported once, at the first looping parameter set in the file. */
	expect_errs("# loop\n"
	    "smtpd_tls_key_file = \"$smtpd_tls_cert_file\";\n"
	    "smtpd_tls_cert_file = \"$smtpd_tls_key_file\";\n",
	    "3: parameter \"smtpd_tls_cert_file\": reference loop: "
	    "smtpd_tls_cert_file -> smtpd_tls_key_file -> "
	    "smtpd_tls_cert_file\n");
	expect_errs("syslog_name = \"x${syslog_name}\";\n",
	    "1: parameter \"syslog_name\": reference loop: "
	    "syslog_name -> syslog_name\n");
	/* Through a default: tlsproxy_tls_CAfile is not set. */
	expect_errs("smtpd_tls_CAfile = \"$tls_config_name\";\n"
	    "tls_config_name = \"${tlsproxy_tls_CAfile:x}\";\n",
	    "2: parameter \"tls_config_name\": reference loop: "
	    "tls_config_name -> tlsproxy_tls_CAfile -> smtpd_tls_CAfile -> "
	    "tls_config_name\n");
}

/*
 * Errors.
 */

static void
test_unknown(void)
{
	expect_errs("# comment\n\n"
	    "tlsproxy_tls_cert_fiel = \"/x\";\n",
	    "3: unknown parameter \"tlsproxy_tls_cert_fiel\"; did you mean "
	    "\"tlsproxy_tls_cert_file\"?\n");
	expect_errs("tlsproxy_worker_thread = 5;\n",
	    "1: unknown parameter \"tlsproxy_worker_thread\"; did you mean "
	    "\"tlsproxy_worker_threads\"?\n");
	expect_errs("TLSPROXY_TLS_CAFILE = \"/x\";\n",
	    "1: unknown parameter \"TLSPROXY_TLS_CAFILE\"; did you mean "
	    "\"tlsproxy_tls_CAfile\"?\n");
	expect_errs("frobnicate = 1;\n",
	    "1: unknown parameter \"frobnicate\"\n");
	/* multi_instance_name is not ours: only the listed names are. */
	expect_errs("multi_instance_name = \"x\";\n",
	    "1: unknown parameter \"multi_instance_name\"\n");
}

static void
test_bad_bool(void)
{
	struct cfg *c;

	expect_errs("smtpd_use_tls = \"maybe\";\n",
	    "1: parameter \"smtpd_use_tls\": bad value \"maybe\" "
	    "(allowed: yes, no)\n");
	expect_errs("tls_preempt_cipherlist = 1;\n",
	    "1: parameter \"tls_preempt_cipherlist\": bad value \"1\" "
	    "(allowed: yes, no)\n");
	expect_errs("tls_preempt_cipherlist = \"\";\n",
	    "1: parameter \"tls_preempt_cipherlist\": bad value \"\" "
	    "(allowed: yes, no)\n");
	c = load_ok("tls_preempt_cipherlist = true;\n"
	    "tls_append_default_CA = \"Yes\";\n"
	    "tls_fast_shutdown_enable = \"FALSE\";\n"
	    "smtpd_tls_ask_ccert = \"true\";\n"
	    "tls_legacy_public_key_fingerprints = false;\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cfg_bool(c, "tls_preempt_cipherlist"), 1);
	EXPECT_STR(cfg_str(c, "tls_preempt_cipherlist"), "yes");
	CU_ASSERT_EQUAL(cfg_bool(c, "tls_append_default_CA"), 1);
	EXPECT_STR(cfg_str(c, "tls_append_default_CA"), "yes");
	CU_ASSERT_EQUAL(cfg_bool(c, "tls_fast_shutdown_enable"), 0);
	EXPECT_STR(cfg_str(c, "tls_fast_shutdown_enable"), "no");
	CU_ASSERT_EQUAL(cfg_bool(c, "tlsproxy_tls_ask_ccert"), 1);
	CU_ASSERT_EQUAL(cfg_bool(c, "tls_legacy_public_key_fingerprints"), 0);
	cfg_free(c);
}

static void
test_bad_int(void)
{
	struct cfg *c;

	expect_errs("tlsproxy_worker_threads = -1;\n",
	    "1: parameter \"tlsproxy_worker_threads\": -1 is out of range "
	    "(allowed: 0..4096)\n");
	expect_errs("tlsproxy_worker_threads = 4097;\n",
	    "1: parameter \"tlsproxy_worker_threads\": 4097 is out of range "
	    "(allowed: 0..4096)\n");
	/* Network lists: the bad element is named. */
	expect_errs("tlsproxy_client_event_limit_exceptions = \"127.0.0.0/8, 10.1.2.3/8\";\n",
	    "1: parameter \"tlsproxy_client_event_limit_exceptions\": bad value "
	    "\"127.0.0.0/8, 10.1.2.3/8\": \"10.1.2.3/8\" has host bits set under "
	    "its prefix length\n");
	expect_errs("tlsproxy_client_event_limit_exceptions = [\"::1\", \"mail.example\"];\n",
	    "1: parameter \"tlsproxy_client_event_limit_exceptions\": bad value "
	    "\"::1, mail.example\": \"mail.example\" is not an IP address or "
	    "network (address or address/prefix)\n");
	expect_errs("tlsproxy_client_event_limit_exceptions = \"[::1]/129\";\n",
	    "1: parameter \"tlsproxy_client_event_limit_exceptions\": bad value "
	    "\"[::1]/129\": prefix length in \"[::1]/129\" is larger than 128\n");
	expect_errs("tlsproxy_tls_ccert_verifydepth = -1;\n",
	    "1: parameter \"tlsproxy_tls_ccert_verifydepth\": -1 is out of "
	    "range (allowed: 0..100)\n");
	expect_errs("tls_daemon_random_bytes = \"2000\";\n",
	    "1: parameter \"tls_daemon_random_bytes\": 2000 is out of range "
	    "(allowed: 1..1024)\n");
	expect_errs("tlsproxy_queue_limit = \"99999999999999999999999\";\n",
	    "1: parameter \"tlsproxy_queue_limit\": 99999999999999999999999 "
	    "is out of range (allowed: 1..1000000)\n");
	expect_errs("tlsproxy_queue_limit = \"12x\";\n",
	    "1: parameter \"tlsproxy_queue_limit\": bad value \"12x\" "
	    "(allowed: an integer 1..1000000)\n");
	expect_errs("tlsproxy_queue_limit = \"\";\n",
	    "1: parameter \"tlsproxy_queue_limit\": bad value \"\" "
	    "(allowed: an integer 1..1000000)\n");
	expect_errs("tlsproxy_queue_limit = 1.5;\n",
	    "1: parameter \"tlsproxy_queue_limit\": bad value \"1.5\" "
	    "(allowed: an integer 1..1000000)\n");
	expect_errs("tlsproxy_queue_limit = true;\n",
	    "1: parameter \"tlsproxy_queue_limit\": bad value \"yes\" "
	    "(allowed: an integer 1..1000000)\n");
	c = load_ok("tlsproxy_worker_threads = \"12\";\n"
	    "tlsproxy_queue_limit = 1000000;\n"
	    "smtpd_tls_ccert_verifydepth = 0;\n"
	    "tls_daemon_random_bytes = 0x20;\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_INT(cfg_int(c, "tlsproxy_worker_threads"), 12);
	EXPECT_INT(cfg_int(c, "tlsproxy_queue_limit"), 1000000);
	EXPECT_INT(cfg_int(c, "tlsproxy_tls_ccert_verifydepth"), 0);
	EXPECT_INT(cfg_int(c, "tls_daemon_random_bytes"), 32);
	cfg_free(c);
}

static void
test_time(void)
{
	struct cfg *c;
	static const struct {
		const char	*text;
		long		 secs;
	} ok[] = {
		{ "1", 1 }, { "\"90\"", 90 }, { "\"45s\"", 45 },
		{ "\"2m\"", 120 }, { "\"1h\"", 3600 }, { "\"1d\"", 86400 },
		{ "\"10S\"", 10 }, { "86400", 86400 },
	};
	char	 text[128];
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "tlsproxy_watchdog_timeout = %s;\n",
		    ok[i].text);
		c = load_ok(text);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		EXPECT_INT(cfg_int(c, "tlsproxy_watchdog_timeout"),
		    ok[i].secs);
		cfg_free(c);
	}
	c = load_ok("tlsproxy_drain_timeout = 0;\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_INT(cfg_int(c, "tlsproxy_drain_timeout"), 0);
	cfg_free(c);

	expect_errs("tlsproxy_watchdog_timeout = \"2d\";\n",
	    "1: parameter \"tlsproxy_watchdog_timeout\": 2d is out of range "
	    "(allowed: 1s..1d)\n");
	expect_errs("tlsproxy_watchdog_timeout = 0;\n",
	    "1: parameter \"tlsproxy_watchdog_timeout\": 0 is out of range "
	    "(allowed: 1s..1d)\n");
	expect_errs("tlsproxy_drain_timeout = \"1w\";\n",
	    "1: parameter \"tlsproxy_drain_timeout\": 1w is out of range "
	    "(allowed: 0s..1h)\n");
	expect_errs("tlsproxy_drain_timeout = \"99999999999999999999w\";\n",
	    "1: parameter \"tlsproxy_drain_timeout\": 99999999999999999999w "
	    "is out of range (allowed: 0s..1h)\n");
	expect_errs("tlsproxy_drain_timeout = \"10x\";\n",
	    "1: parameter \"tlsproxy_drain_timeout\": bad value \"10x\" "
	    "(allowed: a time 0s..1h, as a number with an optional unit s, "
	    "m, h, d or w)\n");
	expect_errs("tlsproxy_drain_timeout = \"1h30m\";\n",
	    "1: parameter \"tlsproxy_drain_timeout\": bad value \"1h30m\" "
	    "(allowed: a time 0s..1h, as a number with an optional unit s, "
	    "m, h, d or w)\n");
	expect_errs("tlsproxy_drain_timeout = -5;\n",
	    "1: parameter \"tlsproxy_drain_timeout\": bad value \"-5\" "
	    "(allowed: a time 0s..1h, as a number with an optional unit s, "
	    "m, h, d or w)\n");
	expect_errs("tlsproxy_drain_timeout = \"s\";\n",
	    "1: parameter \"tlsproxy_drain_timeout\": bad value \"s\" "
	    "(allowed: a time 0s..1h, as a number with an optional unit s, "
	    "m, h, d or w)\n");
}

static void
test_enum(void)
{
	struct cfg *c;

	expect_errs("smtpd_tls_ciphers = \"bogus\";\n",
	    "1: parameter \"smtpd_tls_ciphers\": bad value \"bogus\" "
	    "(allowed: export, low, medium, high, null)\n");
	expect_errs("tlsproxy_tls_mandatory_ciphers = \"\";\n",
	    "1: parameter \"tlsproxy_tls_mandatory_ciphers\": bad value \"\" "
	    "(allowed: export, low, medium, high, null)\n");
	/* Client-only levels are not server levels. */
	expect_errs("tlsproxy_tls_security_level = \"dane\";\n",
	    "1: parameter \"tlsproxy_tls_security_level\": bad value \"dane\" "
	    "(allowed: \"\", none, may, encrypt)\n");
	expect_errs("smtp_tls_security_level = \"bogus\";\n",
	    "1: parameter \"smtp_tls_security_level\": bad value \"bogus\" "
	    "(allowed: \"\", none, may, encrypt, dane, dane-only, fingerprint, "
	    "verify, secure)\n");
	expect_errs("smtpd_tls_fingerprint_digest = \"sha3\";\n",
	    "1: parameter \"smtpd_tls_fingerprint_digest\": bad value \"sha3\" "
	    "(allowed: md5, sha1, sha224, sha256, sha384, sha512)\n");
	expect_errs("tlsproxy_client_loglevel = 5;\n",
	    "1: parameter \"tlsproxy_client_loglevel\": bad value \"5\" "
	    "(allowed: 0, 1, 2, 3, 4)\n");
	expect_errs("smtpd_tls_eecdh_grade = \"medium\";\n",
	    "1: parameter \"smtpd_tls_eecdh_grade\": bad value \"medium\" "
	    "(allowed: auto, strong, ultra, none)\n");
	expect_errs("tls_dane_digest_agility = \"maybe\";\n",
	    "1: parameter \"tls_dane_digest_agility\": bad value \"maybe\" "
	    "(allowed: on, off, trust-only)\n");
	expect_errs("syslog_facility = \"mial\";\n",
	    "1: parameter \"syslog_facility\": bad value \"mial\" (allowed: "
	    "mail, daemon, user, local0, local1, local2, local3, local4, "
	    "local5, local6, local7, auth, authpriv, cron, ftp, kern, lpr, "
	    "news, syslog, uucp)\n");

	c = load_ok("smtpd_tls_ciphers = \"HIGH\";\n"
	    "smtpd_tls_security_level = \"Encrypt\";\n"
	    "tlsproxy_client_security_level = \"dane-only\";\n"
	    "smtpd_tls_fingerprint_digest = \"SHA512\";\n"
	    "smtpd_tls_loglevel = 1;\n"
	    "syslog_facility = \"local3\";\n"
	    "tls_dane_digest_agility = \"trust-only\";\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_ciphers"), "high");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_security_level"), "encrypt");
	EXPECT_STR(cfg_str(c, "tlsproxy_client_security_level"), "dane-only");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_fingerprint_digest"), "sha512");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_loglevel"), "1");
	EXPECT_STR(cfg_str(c, "syslog_facility"), "local3");
	EXPECT_STR(cfg_str(c, "tls_dane_digest_agility"), "trust-only");
	cfg_free(c);
}

static void
test_str_conversions(void)
{
	/* Lists of strings are joined; numbers and booleans become text. */
	EXPECT_VALUE("tlsproxy_tls_chain_files = [ \"/a.pem\", \"/b.pem\" ];\n",
	    "tlsproxy_tls_chain_files", "/a.pem, /b.pem");
	EXPECT_VALUE("tls_eecdh_auto_curves = ( \"X25519\", \"prime256v1\" );\n",
	    "tls_eecdh_auto_curves", "X25519, prime256v1");
	EXPECT_VALUE("tls_eecdh_auto_curves = [ ];\n",
	    "tls_eecdh_auto_curves", "");
	EXPECT_VALUE("tls_disable_workarounds = 4;\n",
	    "tls_disable_workarounds", "4");
	EXPECT_VALUE("tls_disable_workarounds = 0x10;\n",
	    "tls_disable_workarounds", "16");
	EXPECT_VALUE("tls_config_name = true;\n", "tls_config_name", "yes");
	EXPECT_VALUE("tls_config_name = \"\";\n", "tls_config_name", "");
	EXPECT_VALUE("tls_config_file = \"none\";\n", "tls_config_file", "none");

	expect_errs("tls_config_name = { a = 1; };\n",
	    "1: parameter \"tls_config_name\": a group { ... } is not allowed "
	    "here (only tlsproxy_listeners takes groups)\n");
	expect_errs("tls_config_name = ( \"a\", { b = 1; } );\n",
	    "1: parameter \"tls_config_name\": element 2: nested lists or "
	    "groups are not allowed here\n");
	expect_errs("smtpd_tls_loglevel = [ 1, 2 ];\n",
	    "1: parameter \"smtpd_tls_loglevel\": a list is not allowed here "
	    "(give a single value)\n");
	expect_errs("tls_preempt_cipherlist = ( true );\n",
	    "1: parameter \"tls_preempt_cipherlist\": a list is not allowed "
	    "here (give a single value)\n");
}

static void
test_expansion_blame(void)
{
	/* The line named is that of the parameter set in the file. */
	expect_errs("syslog_name = \"bogus\";\n"
	    "smtpd_tls_ciphers = \"$syslog_name\";\n",
	    "2: parameter \"smtpd_tls_ciphers\": bad value \"bogus\" "
	    "(allowed: export, low, medium, high, null)\n");
	/* tlsproxy_tls_ciphers follows it, but is not reported twice. */
	expect_errs("\n\nsmtpd_tls_ciphers = \"bogus\";\n",
	    "3: parameter \"smtpd_tls_ciphers\": bad value \"bogus\" "
	    "(allowed: export, low, medium, high, null)\n");
	expect_errs("smtp_tls_security_level = \"bogus\";\n",
	    "1: parameter \"smtp_tls_security_level\": bad value \"bogus\" "
	    "(allowed: \"\", none, may, encrypt, dane, dane-only, fingerprint, "
	    "verify, secure)\n");
	/* A set parameter that only copies a bad one is not reported either. */
	expect_errs("smtpd_tls_loglevel = 9;\n"
	    "tlsproxy_tls_loglevel = \"$smtpd_tls_loglevel\";\n",
	    "1: parameter \"smtpd_tls_loglevel\": bad value \"9\" "
	    "(allowed: 0, 1, 2, 3, 4)\n");
	/* An unknown name expands to "", which a cipher grade is not. */
	expect_errs("smtpd_tls_ciphers = \"$no_such_parameter\";\n",
	    "1: parameter \"smtpd_tls_ciphers\": bad value \"\" "
	    "(allowed: export, low, medium, high, null)\n");
}

static void
test_readonly(void)
{
	expect_errs("process_id = 5;\n"
	    "process_name = \"x\";\n"
	    "service_name = \"y\";\n",
	    "1: parameter process_id is read-only\n"
	    "2: parameter process_name is read-only\n"
	    "3: parameter service_name is read-only\n");
	/* They can still be referenced. */
	EXPECT_VALUE("syslog_name = \"$process_name-$service_name\";\n",
	    "syslog_name", "tlsproxy-tlsproxy");
}

static void
test_multiple_errors(void)
{
	expect_errs("tlsproxy_worker_threads = -1;\n"
	    "smtpd_tls_ciphers = \"bogus\";\n"
	    "tlsproxy_tls_cert_fiel = \"/x\";\n"
	    "smtpd_use_tls = \"maybe\";\n"
	    "# fine:\n"
	    "smtpd_tls_cert_file = \"/x\";\n"
	    "tlsproxy_watchdog_timeout = \"10y\";\n"
	    "process_id = 1;\n"
	    "tlsproxy_listeners = ( { listen = \"*:0\"; backend = \"x:1\"; } );\n"
	    "syslog_name = \"${x\";\n",
	    "1: parameter \"tlsproxy_worker_threads\": -1 is out of range "
	    "(allowed: 0..4096)\n"
	    "2: parameter \"smtpd_tls_ciphers\": bad value \"bogus\" "
	    "(allowed: export, low, medium, high, null)\n"
	    "3: unknown parameter \"tlsproxy_tls_cert_fiel\"; did you mean "
	    "\"tlsproxy_tls_cert_file\"?\n"
	    "4: parameter \"smtpd_use_tls\": bad value \"maybe\" "
	    "(allowed: yes, no)\n"
	    "7: parameter \"tlsproxy_watchdog_timeout\": bad value \"10y\" "
	    "(allowed: a time 1s..1d, as a number with an optional unit s, m, "
	    "h, d or w)\n"
	    "8: parameter process_id is read-only\n"
	    "9: tlsproxy_listeners entry 1: listen: bad port \"0\" "
	    "(allowed: 1..65535)\n"
	    "10: parameter \"syslog_name\": bad expansion in \"${x\": "
	    "missing \"}\"\n");
}

static void
test_syntax_error(void)
{
	struct cfg *c;
	char	*errs;

	c = load("a = \"x\";\nb = ;\n", &errs);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT(strncmp(errs, "2: syntax error: ", 17) == 0);
	if (strncmp(errs, "2: syntax error: ", 17) != 0)
		fprintf(stderr, "\ngot [%s]\n", errs);
	free(errs);

	/* libconfig rejects duplicates itself, without the name: we say it. */
	c = load("syslog_name = \"a\";\nsyslog_name = \"b\";\n", &errs);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT(strcmp(errs, "2: syslog_name: set more than once in the "
	    "same group\n") == 0);
	if (strcmp(errs, "2: syslog_name: set more than once in the same "
	    "group\n") != 0)
		fprintf(stderr, "\ngot [%s]\n", errs);
	free(errs);
}

static void
test_cannot_open(void)
{
	struct cfg *c;
	char	 path[300], want[512], *errs;
	size_t	 len;
	FILE	*ef;

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tdir);
	ef = open_memstream(&errs, &len);
	c = cfg_load(path, ef);
	fclose(ef);
	CU_ASSERT_PTR_NULL(c);
	snprintf(want, sizeof(want), "%s: cannot open: %s\n", path,
	    strerror(ENOENT));
	EXPECT_STR(errs, want);
	free(errs);

	/* A NULL error stream is allowed: just no messages. */
	CU_ASSERT_PTR_NULL(cfg_load(path, NULL));
	write_file(tpath, "nonsense = 1;\n");
	CU_ASSERT_PTR_NULL(cfg_load(tpath, NULL));
}

static void
test_include(void)
{
	struct cfg *c;
	char	 inc[300], *errs;

	snprintf(inc, sizeof(inc), "%s/cfg_inc.conf", tdir);
	write_file(inc, "smtpd_tls_cert_file = \"/inc\";\n");
	c = load_ok("@include \"cfg_inc.conf\"\nsyslog_name = \"x\";\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_cert_file"), "/inc");
	cfg_free(c);

	/* Errors name the included file and its line. */
	write_file(inc, "\nbogus_name = 1;\n");
	c = load("@include \"cfg_inc.conf\"\n", &errs);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT(strstr(errs, "cfg_inc.conf:2: unknown parameter "
	    "\"bogus_name\"") != NULL);
	free(errs);
}

static void
test_two_configs(void)
{
	struct cfg *a, *b;

	/* No global state: two loaded configurations coexist. */
	a = load_ok("smtpd_tls_cert_file = \"/a\";\n");
	b = load_ok("smtpd_tls_cert_file = \"/b\";\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	EXPECT_STR(cfg_str(a, "tlsproxy_tls_cert_file"), "/a");
	EXPECT_STR(cfg_str(b, "tlsproxy_tls_cert_file"), "/b");
	cfg_free(b);
	EXPECT_STR(cfg_str(a, "tlsproxy_tls_key_file"), "/a");
	cfg_free(a);
}

/*
 * Listeners.
 */

static void
test_listeners_good(void)
{
	const struct cfg_listener *l;
	struct cfg *c;

	c = load_ok("tlsproxy_listeners = (\n"
	    "  { handoff = \"/var/run/a.sock\"; },\n"
	    "  { handoff = \"/var/run/b.sock\"; mode = \"0660\";\n"
	    "    owner = \"postfix\"; group = \"mail\"; },\n"
	    "  { handoff = \"/var/run/c.sock\"; mode = 640; },\n"
	    "  { handoff = \"/var/run/d.sock\"; mode = \"600\"; },\n"
	    "  { listen = \"127.0.0.1:8465\"; backend = \"127.0.0.1:8025\"; },\n"
	    "  { listen = \"[::1]:465\"; backend = \"/var/run/backend.sock\";\n"
	    "    handshake_timeout = \"2m\"; idle_timeout = 30;\n"
	    "    connect_timeout = \"1s\"; },\n"
	    "  { listen = \"*:465\"; backend = \"mail.example.com:25\"; },\n"
	    "  { listen = \"localhost:466\"; backend = \"[2001:db8::1]:25\"; }\n"
	    ");\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(cfg_listener_count(c), 8);
	CU_ASSERT_EQUAL(cfg_is_set(c, "tlsproxy_listeners"), 1);

	l = cfg_listener_get(c, 0);
	CU_ASSERT_EQUAL(l->kind, CFG_LST_HANDOFF);
	EXPECT_STR(l->handoff, "/var/run/a.sock");
	CU_ASSERT_EQUAL(l->mode, 0600);	/* closed by default */
	CU_ASSERT_PTR_NULL(l->owner);
	CU_ASSERT_PTR_NULL(l->group);
	CU_ASSERT_PTR_NULL(l->listen);
	EXPECT_INT(l->line, 2);

	l = cfg_listener_get(c, 1);
	CU_ASSERT_EQUAL(l->mode, 0660);
	EXPECT_STR(l->owner, "postfix");
	EXPECT_STR(l->group, "mail");
	EXPECT_INT(l->line, 3);
	CU_ASSERT_EQUAL(cfg_listener_get(c, 2)->mode, 0640);
	CU_ASSERT_EQUAL(cfg_listener_get(c, 3)->mode, 0600);

	l = cfg_listener_get(c, 4);
	CU_ASSERT_EQUAL(l->kind, CFG_LST_TCP);
	EXPECT_STR(l->listen, "127.0.0.1:8465");
	EXPECT_STR(l->backend, "127.0.0.1:8025");
	CU_ASSERT_PTR_NULL(l->handoff);
	EXPECT_INT(l->handshake_timeout, 60);
	EXPECT_INT(l->idle_timeout, 300);
	EXPECT_INT(l->connect_timeout, 10);

	l = cfg_listener_get(c, 5);
	EXPECT_STR(l->listen, "[::1]:465");
	EXPECT_STR(l->backend, "/var/run/backend.sock");
	EXPECT_INT(l->handshake_timeout, 120);
	EXPECT_INT(l->idle_timeout, 30);
	EXPECT_INT(l->connect_timeout, 1);
	EXPECT_INT(l->line, 8);
	EXPECT_STR(cfg_listener_get(c, 6)->listen, "*:465");
	EXPECT_STR(cfg_listener_get(c, 7)->backend, "[2001:db8::1]:25");
	CU_ASSERT_PTR_NULL(cfg_listener_get(c, 8));
	cfg_free(c);

	c = load_ok("tlsproxy_listeners = ();\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(cfg_listener_count(c), 0);
	cfg_free(c);

	EXPECT_VALUE("tlsproxy_listeners = ( { handoff = \"/s\"; owner = "
	    "\"a\\\"b\"; }, { listen = \"*:1\"; backend = \"h:2\"; } );\n",
	    "tlsproxy_listeners", "( { handoff = \"/s\"; mode = \"0600\"; "
	    "owner = \"a\\\"b\"; }, { listen = \"*:1\"; backend = \"h:2\"; "
	    "handshake_timeout = \"60s\"; idle_timeout = \"300s\"; "
	    "connect_timeout = \"10s\"; } )");
}

/* lst_err - one bad entry (at line 2) and the error text after "2: " */
static void
lst_err(const char *entry, const char *want)
{
	char	 text[512], exp[512];

	snprintf(text, sizeof(text), "tlsproxy_listeners = (\n%s\n);\n",
	    entry);
	snprintf(exp, sizeof(exp), "2: tlsproxy_listeners entry 1: %s\n",
	    want);
	expect_errs(text, exp);
}

static void
test_listeners_bad(void)
{
	lst_err("{ handoff = \"/a\"; listen = \"*:1\"; backend = \"h:1\"; }",
	    "has both \"handoff\" and \"listen\"; use one per entry");
	lst_err("{ mode = \"0600\"; }",
	    "needs \"handoff\" (a UNIX socket path) or \"listen\" (host:port)");
	lst_err("{ }",
	    "needs \"handoff\" (a UNIX socket path) or \"listen\" (host:port)");
	lst_err("{ listen = \"*:465\"; }", "\"listen\" needs a \"backend\"");
	lst_err("{ handoff = \"/a\"; backend = \"h:1\"; }",
	    "\"backend\" is only valid with \"listen\"");
	lst_err("{ handoff = \"/a\"; idle_timeout = 5; }",
	    "\"idle_timeout\" is only valid with \"listen\"");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; mode = \"0600\"; }",
	    "\"mode\" is only valid with \"handoff\"");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; owner = \"x\"; }",
	    "\"owner\" is only valid with \"handoff\"");
	lst_err("{ lsiten = \"*:1\"; handoff = \"/a\"; }",
	    "unknown key \"lsiten\"; did you mean \"listen\"?");
	lst_err("{ handoff = \"/a\"; frobnicate = 1; }",
	    "unknown key \"frobnicate\"");
	lst_err("{ handoff = \"private/tlsproxy\"; }",
	    "handoff: a UNIX socket path must be absolute");
	lst_err("{ handoff = \"\"; }", "handoff: must not be empty");
	lst_err("{ handoff = 5; }", "handoff: must be a string");
	lst_err("{ handoff = { x = 1; }; }", "handoff: must be a string");
	lst_err("{ handoff = \"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"; }",
	    "handoff: path longer than 107 bytes");
	lst_err("{ handoff = \"/a\"; mode = \"0999\"; }",
	    "mode: bad mode \"0999\" (allowed: octal 0..0777)");
	lst_err("{ handoff = \"/a\"; mode = 1000; }",
	    "mode: bad mode \"1000\" (allowed: octal 0..0777)");
	lst_err("{ handoff = \"/a\"; mode = \"rw\"; }",
	    "mode: bad mode \"rw\" (allowed: octal 0..0777)");
	lst_err("{ handoff = \"/a\"; mode = -1; }",
	    "mode: bad mode \"-1\" (allowed: octal 0..0777)");
	lst_err("{ handoff = \"/a\"; mode = true; }",
	    "mode: must be an octal string such as \"0666\"");
	lst_err("{ handoff = \"/a\"; group = \"\"; }",
	    "group: must not be empty");
	lst_err("{ listen = \"127.0.0.1\"; backend = \"h:1\"; }",
	    "listen: missing \":port\"");
	lst_err("{ listen = \"127.0.0.1:0\"; backend = \"h:1\"; }",
	    "listen: bad port \"0\" (allowed: 1..65535)");
	lst_err("{ listen = \"127.0.0.1:65536\"; backend = \"h:1\"; }",
	    "listen: bad port \"65536\" (allowed: 1..65535)");
	lst_err("{ listen = \"127.0.0.1:smtp\"; backend = \"h:1\"; }",
	    "listen: bad port \"smtp\" (allowed: 1..65535)");
	lst_err("{ listen = \"127.0.0.1:+25\"; backend = \"h:1\"; }",
	    "listen: bad port \"+25\" (allowed: 1..65535)");
	lst_err("{ listen = \":25\"; backend = \"h:1\"; }",
	    "listen: missing host before \":\" (use \"*\" for all addresses)");
	lst_err("{ listen = \"::1:25\"; backend = \"h:1\"; }",
	    "listen: an IPv6 address needs brackets, as in \"[::1]:25\"");
	lst_err("{ listen = \"[::g]:25\"; backend = \"h:1\"; }",
	    "listen: bad IPv6 address \"::g\"");
	lst_err("{ listen = \"[::1]25\"; backend = \"h:1\"; }",
	    "listen: missing \":port\" after \"]\"");
	lst_err("{ listen = \"[::1:25\"; backend = \"h:1\"; }",
	    "listen: missing \"]\"");
	lst_err("{ listen = \"300.1.1.1:25\"; backend = \"h:1\"; }",
	    "listen: bad IPv4 address \"300.1.1.1\"");
	lst_err("{ listen = \"ho st:25\"; backend = \"h:1\"; }",
	    "listen: bad character in host \"ho st\"");
	lst_err("{ listen = \"*:1\"; backend = \"*:25\"; }",
	    "backend: \"*\" is not an address to connect to");
	lst_err("{ listen = \"*:1\"; backend = \"relative.sock\"; }",
	    "backend: missing \":port\"");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; handshake_timeout = 0; }",
	    "handshake_timeout: 0 is out of range (allowed: 1s..1d)");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; idle_timeout = \"2d\"; }",
	    "idle_timeout: 2d is out of range (allowed: 1s..1d)");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; "
	    "connect_timeout = \"soon\"; }",
	    "connect_timeout: bad value \"soon\" (allowed: a time 1s..1d, as a "
	    "number with an optional unit s, m, h, d or w)");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; "
	    "connect_timeout = [ 1 ]; }",
	    "connect_timeout: must be a time such as \"60s\"");
	/* libconfig dates a scalar by the token after it: keep both on line 2. */
	expect_errs("tlsproxy_listeners = (\n"
	    "\"/just/a/path\", { handoff = \"/a\"; }\n"
	    ");\n",
	    "2: tlsproxy_listeners entry 1: not a group { ... }\n");

	expect_errs("tlsproxy_listeners = \"/var/run/x\";\n",
	    "1: parameter \"tlsproxy_listeners\": must be a list of groups, as "
	    "in ( { handoff = \"/path\"; }, { listen = \"*:465\"; backend = "
	    "\"127.0.0.1:25\"; } )\n");
	expect_errs("tlsproxy_listeners = { handoff = \"/x\"; };\n",
	    "1: parameter \"tlsproxy_listeners\": must be a list of groups, as "
	    "in ( { handoff = \"/path\"; }, { listen = \"*:465\"; backend = "
	    "\"127.0.0.1:25\"; } )\n");

	/* Duplicates, and every bad entry of a list. */
	expect_errs("tlsproxy_listeners = (\n"
	    "  { handoff = \"/a\"; },\n"
	    "  { handoff = \"/a\"; mode = \"0600\"; },\n"
	    "  { listen = \"*:25\"; backend = \"h:1\"; },\n"
	    "  { listen = \"*:25\"; backend = \"h:2\"; },\n"
	    "  { listen = \"*:26\"; }\n"
	    ");\n",
	    "3: tlsproxy_listeners entry 2: duplicate handoff \"/a\" "
	    "(also at line 2)\n"
	    "5: tlsproxy_listeners entry 4: duplicate listen \"*:25\" "
	    "(also at line 4)\n"
	    "6: tlsproxy_listeners entry 5: \"listen\" needs a \"backend\"\n");
}

/* The SMTP STARTTLS and PROXY protocol options of a TCP listener. */
static void
test_listeners_starttls(void)
{
	const struct cfg_listener *l;
	struct cfg *c;

	c = load_ok("tlsproxy_listeners = (\n"
	    "  { listen = \"*:25\"; backend = \"127.0.0.1:10025\";\n"
	    "    starttls = \"smtp\"; proxy_protocol = \"v2\"; },\n"
	    "  { listen = \"*:587\"; backend = \"127.0.0.1:10587\";\n"
	    "    starttls = \"SMTP\"; xclient = \"yes\"; command_timeout = \"1m\";\n"
	    "    plaintext_timeout = \"2m\"; },\n"
	    "  { listen = \"*:465\"; backend = \"127.0.0.1:10465\";\n"
	    "    proxy_protocol = \"V1\"; },\n"
	    "  { listen = \"*:466\"; backend = \"127.0.0.1:10465\"; }\n"
	    ");\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	l = cfg_listener_get(c, 0);
	EXPECT_INT(l->starttls, CFG_STARTTLS_SMTP);
	EXPECT_INT(l->proxy_protocol, CFG_PROXY_V2);
	EXPECT_INT(l->xclient, 0);
	EXPECT_INT(l->command_timeout, 300);
	EXPECT_INT(l->plaintext_timeout, 600);
	l = cfg_listener_get(c, 1);
	EXPECT_INT(l->starttls, CFG_STARTTLS_SMTP);
	EXPECT_INT(l->proxy_protocol, CFG_PROXY_NONE);
	EXPECT_INT(l->xclient, 1);
	EXPECT_INT(l->command_timeout, 60);
	EXPECT_INT(l->plaintext_timeout, 120);
	l = cfg_listener_get(c, 2);
	EXPECT_INT(l->starttls, CFG_STARTTLS_NONE);
	EXPECT_INT(l->proxy_protocol, CFG_PROXY_V1);
	l = cfg_listener_get(c, 3);
	EXPECT_INT(l->starttls, CFG_STARTTLS_NONE);
	EXPECT_INT(l->proxy_protocol, CFG_PROXY_NONE);
	cfg_free(c);

	EXPECT_VALUE("tlsproxy_listeners = ( { listen = \"*:1\"; backend = "
	    "\"h:2\"; starttls = \"smtp\"; xclient = true; proxy_protocol = "
	    "\"v1\"; } );\n",
	    "tlsproxy_listeners", "( { listen = \"*:1\"; backend = \"h:2\"; "
	    "handshake_timeout = \"60s\"; idle_timeout = \"300s\"; "
	    "connect_timeout = \"10s\"; starttls = \"smtp\"; xclient = true; "
	    "command_timeout = \"300s\"; plaintext_timeout = \"600s\"; "
	    "proxy_protocol = \"v1\"; } )");

	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; starttls = \"imap\"; }",
	    "starttls: bad value \"imap\" (allowed: smtp)");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; starttls = true; }",
	    "starttls: must be a string");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; proxy_protocol = \"v3\"; }",
	    "proxy_protocol: bad value \"v3\" (allowed: v1, v2)");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; starttls = \"smtp\"; "
	    "xclient = \"maybe\"; }", "xclient: must be yes or no");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; xclient = true; }",
	    "\"xclient\" is only valid with \"starttls\"");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; command_timeout = 5; }",
	    "\"command_timeout\" is only valid with \"starttls\"");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; plaintext_timeout = 5; }",
	    "\"plaintext_timeout\" is only valid with \"starttls\"");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; starttls = \"smtp\"; "
	    "command_timeout = 0; }",
	    "command_timeout: 0 is out of range (allowed: 1s..1d)");
	lst_err("{ handoff = \"/a\"; starttls = \"smtp\"; }",
	    "\"starttls\" is only valid with \"listen\"");
	lst_err("{ handoff = \"/a\"; proxy_protocol = \"v1\"; }",
	    "\"proxy_protocol\" is only valid with \"listen\"");
	lst_err("{ listen = \"*:1\"; backend = \"h:1\"; starttsl = \"smtp\"; }",
	    "unknown key \"starttsl\"; did you mean \"starttls\"?");
}

/*
 * Per-listener settings.
 */

/* Two TCP listeners; the second sets what extra says. */
#define LST_TWO(global, extra)						\
	global								\
	"tlsproxy_listeners = (\n"					\
	"  { listen = \"*:465\"; backend = \"127.0.0.1:25\"; },\n"	\
	"  { listen = \"*:466\"; backend = \"127.0.0.1:25\";\n"		\
	"    " extra " }\n"						\
	");\n"

static void
test_listener_override(void)
{
	const struct cfg *l0, *l1;
	struct cfg *c;

	c = load_ok(LST_TWO("tlsproxy_tls_protocols = \">=TLSv1.1\";\n"
	    "tls_preempt_cipherlist = true;\n",
	    "tlsproxy_tls_protocols = \">=TLSv1.2\";"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(cfg_listener_count(c), 2);

	/* The global value and the other listener are unchanged. */
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_protocols"), ">=TLSv1.1");
	l0 = cfg_listener_cfg(c, 0);
	CU_ASSERT_PTR_EQUAL(l0, c);
	EXPECT_INT((long)cfg_listener_noverrides(c, 0), 0);
	EXPECT_STR(cfg_str(l0, "tlsproxy_tls_protocols"), ">=TLSv1.1");

	l1 = cfg_listener_cfg(c, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l1);
	CU_ASSERT_PTR_NOT_EQUAL(l1, c);
	EXPECT_INT((long)cfg_listener_noverrides(c, 1), 1);
	EXPECT_STR(cfg_str(l1, "tlsproxy_tls_protocols"), ">=TLSv1.2");
	/* Everything else is the global configuration. */
	EXPECT_STR(cfg_str(l1, "tlsproxy_tls_mandatory_protocols"), ">=TLSv1");
	CU_ASSERT_EQUAL(cfg_bool(l1, "tls_preempt_cipherlist"), 1);
	EXPECT_INT(cfg_int(l1, "tlsproxy_worker_threads"), 0);
	EXPECT_STR(cfg_path(l1), tpath);
	CU_ASSERT_EQUAL(cfg_is_set(l1, "tlsproxy_tls_protocols"), 1);
	CU_ASSERT_EQUAL(cfg_is_set(l1, "tls_preempt_cipherlist"), 1);
	CU_ASSERT_EQUAL(cfg_is_set(l1, "tlsproxy_tls_ciphers"), 0);
	/* A listener's configuration has no listeners of its own. */
	EXPECT_INT((long)cfg_listener_count(l1), 0);
	CU_ASSERT_PTR_NULL(cfg_listener_cfg(l1, 0));
	CU_ASSERT_PTR_NULL(cfg_listener_cfg(c, 2));
	EXPECT_INT((long)cfg_listener_noverrides(c, 2), 0);
	/* The listener options are still where they were. */
	EXPECT_STR(cfg_listener_get(c, 1)->listen, "*:466");
	EXPECT_INT(cfg_listener_get(c, 1)->line, 5);
	cfg_free(c);

	/* Types are converted as for global settings. */
	c = load_ok(LST_TWO("",
	    "tlsproxy_tls_ask_ccert = true; tls_daemon_random_bytes = \"64\";\n"
	    "    tlsproxy_tls_ciphers = \"HIGH\"; "
	    "tlsproxy_tls_chain_files = [ \"/a.pem\", \"/b.pem\" ];"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	l1 = cfg_listener_cfg(c, 1);
	EXPECT_INT((long)cfg_listener_noverrides(c, 1), 4);
	CU_ASSERT_EQUAL(cfg_bool(l1, "tlsproxy_tls_ask_ccert"), 1);
	EXPECT_STR(cfg_str(l1, "tlsproxy_tls_ask_ccert"), "yes");
	EXPECT_INT(cfg_int(l1, "tls_daemon_random_bytes"), 64);
	EXPECT_STR(cfg_str(l1, "tlsproxy_tls_ciphers"), "high");
	EXPECT_STR(cfg_str(l1, "tlsproxy_tls_chain_files"), "/a.pem, /b.pem");
	CU_ASSERT_EQUAL(cfg_bool(c, "tlsproxy_tls_ask_ccert"), 0);
	EXPECT_INT(cfg_int(c, "tls_daemon_random_bytes"), 32);
	cfg_free(c);

	/* A rejected entry loses its listener and its settings together. */
	expect_errs("tlsproxy_listeners = (\n"
	    "  { listen = \"*:465\"; tlsproxy_tls_protocols = \">=TLSv1.3\"; }\n"
	    ");\n",
	    "2: tlsproxy_listeners entry 1: \"listen\" needs a \"backend\"\n");
}

static void
test_listener_indirection(void)
{
	const struct cfg *l1;
	struct cfg *c;

	/* The entry's smtpd_* value flows into its tlsproxy_tls_* ones. */
	c = load_ok(LST_TWO("smtpd_tls_cert_file = \"/etc/g/cert.pem\";\n"
	    "config_directory = \"/etc/tp\";\n",
	    "smtpd_tls_cert_file = \"$config_directory/l.pem\";\n"
	    "    smtpd_tls_security_level = \"encrypt\";"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	l1 = cfg_listener_cfg(c, 1);
	EXPECT_STR(cfg_str(l1, "smtpd_tls_cert_file"), "/etc/tp/l.pem");
	EXPECT_STR(cfg_str(l1, "tlsproxy_tls_cert_file"), "/etc/tp/l.pem");
	/* ... -> smtpd_tls_key_file -> smtpd_tls_cert_file */
	EXPECT_STR(cfg_str(l1, "tlsproxy_tls_key_file"), "/etc/tp/l.pem");
	EXPECT_STR(cfg_str(l1, "tlsproxy_tls_security_level"), "encrypt");
	CU_ASSERT_EQUAL(cfg_is_set(l1, "tlsproxy_tls_cert_file"), 0);
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_cert_file"), "/etc/g/cert.pem");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_key_file"), "/etc/g/cert.pem");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_security_level"), "");
	EXPECT_STR(cfg_str(cfg_listener_cfg(c, 0), "tlsproxy_tls_cert_file"),
	    "/etc/g/cert.pem");
	cfg_free(c);

	/*
	 * Layers, not values: a tlsproxy_tls_* set globally stays set, so
	 * the entry's smtpd_* counterpart does not reach it; a global
	 * reference to a parameter the entry sets sees the entry's value.
	 */
	c = load_ok(LST_TWO("tlsproxy_tls_cert_file = \"/g.pem\";\n"
	    "tlsproxy_tls_CAfile = \"${smtpd_tls_CApath}/ca.pem\";\n",
	    "smtpd_tls_cert_file = \"/l.pem\"; smtpd_tls_CApath = \"/l\";"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	l1 = cfg_listener_cfg(c, 1);
	EXPECT_STR(cfg_str(l1, "tlsproxy_tls_cert_file"), "/g.pem");
	EXPECT_STR(cfg_str(l1, "tlsproxy_tls_key_file"), "/l.pem");
	EXPECT_STR(cfg_str(l1, "tlsproxy_tls_CAfile"), "/l/ca.pem");
	EXPECT_STR(cfg_str(c, "tlsproxy_tls_CAfile"), "/ca.pem");
	cfg_free(c);
}

static void
test_listener_errors(void)
{
	/* A bad value names the entry and the line of the setting. */
	expect_errs("tlsproxy_listeners = (\n"
	    "  { handoff = \"/run/a.sock\"; },\n"
	    "  { listen = \"*:465\"; backend = \"127.0.0.1:25\";\n"
	    "    tlsproxy_tls_ciphers = \"bogus\"; }\n"
	    ");\n",
	    "4: tlsproxy_listeners entry 2: parameter \"tlsproxy_tls_ciphers\": "
	    "bad value \"bogus\" (allowed: export, low, medium, high, null)\n");
	/* Through a reference: the line of what the entry set. */
	expect_errs(LST_TWO("",
	    "smtpd_tls_ccert_verifydepth = 200;"),
	    "4: tlsproxy_listeners entry 2: parameter "
	    "\"smtpd_tls_ccert_verifydepth\": 200 is out of range "
	    "(allowed: 0..100)\n");
	expect_errs(LST_TWO("",
	    "tlsproxy_tls_CAfile = \"$smtpd_tls_CAfile\";\n"
	    "    smtpd_tls_CAfile = \"$tlsproxy_tls_CAfile\";"),
	    "4: tlsproxy_listeners entry 2: parameter \"tlsproxy_tls_CAfile\": "
	    "reference loop: tlsproxy_tls_CAfile -> smtpd_tls_CAfile -> "
	    "tlsproxy_tls_CAfile\n");
	expect_errs(LST_TWO("",
	    "tls_preempt_cipherlist = \"sometimes\";\n"
	    "    tlsproxy_tls_loglevel = [ 1 ];\n"
	    "    tlsproxy_tls_cert_file = \"${smtpd_tls_cert_file\";"),
	    "4: tlsproxy_listeners entry 2: parameter \"tls_preempt_cipherlist\": "
	    "bad value \"sometimes\" (allowed: yes, no)\n"
	    "5: tlsproxy_listeners entry 2: parameter \"tlsproxy_tls_loglevel\": "
	    "a list is not allowed here (give a single value)\n"
	    "6: tlsproxy_listeners entry 2: parameter \"tlsproxy_tls_cert_file\": "
	    "bad expansion in \"${smtpd_tls_cert_file\": missing \"}\"\n");

	/* A global mistake is reported once, not again for each listener. */
	expect_errs(LST_TWO("smtpd_tls_ciphers = \"bogus\";\n",
	    "tlsproxy_tls_protocols = \">=TLSv1.2\";"),
	    "1: parameter \"smtpd_tls_ciphers\": bad value \"bogus\" (allowed: "
	    "export, low, medium, high, null)\n");
	/* ... but one that only the entry's value causes is. */
	expect_errs(LST_TWO("smtpd_tls_security_level = "
	    "\"${smtpd_tls_CApath?{bogus}:{may}}\";\n",
	    "smtpd_tls_CApath = \"/l\";"),
	    "1: tlsproxy_listeners entry 2: parameter "
	    "\"smtpd_tls_security_level\": bad value \"bogus\" (allowed: \"\", "
	    "none, may, encrypt)\n");

	/* Settings of a rejected entry are checked too. */
	expect_errs("tlsproxy_listeners = (\n"
	    "  { listen = \"*:465\";\n"
	    "    tlsproxy_tls_loglevel = 9; }\n"
	    ");\n",
	    "2: tlsproxy_listeners entry 1: \"listen\" needs a \"backend\"\n"
	    "3: tlsproxy_listeners entry 1: parameter \"tlsproxy_tls_loglevel\": "
	    "bad value \"9\" (allowed: 0, 1, 2, 3, 4)\n");
}

static void
test_listener_forbidden(void)
{
	expect_errs(LST_TWO("",
	    "tlsproxy_worker_threads = 4;\n"
	    "    syslog_name = \"smtps\";\n"
	    "    tlsproxy_client_CAfile = \"/ca.pem\"; smtp_tls_CAfile = \"/x\";\n"
	    "    process_id = 1; tlsmgr_service_name = \"t\";\n"
	    "    tlsproxy_listeners = ();"),
	    "4: tlsproxy_listeners entry 2: parameter \"tlsproxy_worker_threads\" "
	    "cannot be set per listener\n"
	    "5: tlsproxy_listeners entry 2: parameter \"syslog_name\" cannot be "
	    "set per listener\n"
	    "6: tlsproxy_listeners entry 2: parameter \"tlsproxy_client_CAfile\" "
	    "cannot be set per listener\n"
	    "6: tlsproxy_listeners entry 2: parameter \"smtp_tls_CAfile\" cannot "
	    "be set per listener\n"
	    "7: tlsproxy_listeners entry 2: parameter \"process_id\" cannot be "
	    "set per listener\n"
	    "7: tlsproxy_listeners entry 2: parameter \"tlsmgr_service_name\" "
	    "cannot be set per listener\n"
	    "8: tlsproxy_listeners entry 2: parameter \"tlsproxy_listeners\" "
	    "cannot be set per listener\n");
}

/* per_listener - should name be allowed in a listener entry? */
static int
per_listener(const char *name)
{
	/* One cache and one ticket key ring serve the whole process. */
	if (strcmp(name, "tlsproxy_tls_session_cache_size") == 0 ||
	    strcmp(name, "tlsproxy_tls_session_cache_bytes") == 0 ||
	    strcmp(name, "tlsproxy_tls_ticket_key_file") == 0)
		return (0);
	return (strncmp(name, "tls_", 4) == 0 ||
	    strncmp(name, "tlsproxy_tls_", 13) == 0 ||
	    strncmp(name, "smtpd_", 6) == 0 ||
	    strcmp(name, "tlsproxy_use_tls") == 0 ||
	    strcmp(name, "tlsproxy_enforce_tls") == 0);
}

static void
test_listener_every_name(void)
{
	char	 text[1024], want[512], *errs;
	struct cfg *c;
	size_t	 i;
	long	 nallowed = 0;

	/* Each parameter, set in an entry to its own default. */
	for (i = 0; i < cfg_param_count(); i++) {
		snprintf(text, sizeof(text), "tlsproxy_listeners = (\n"
		    "  { handoff = \"/run/a.sock\"; %s = \"%s\"; }\n);\n",
		    cfg_param_name(i), cfg_param_default(i));
		c = load(text, &errs);
		if (per_listener(cfg_param_name(i))) {
			nallowed++;
			EXPECT_STR(errs, "");
			CU_ASSERT_PTR_NOT_NULL(c);
			if (c != NULL)
				EXPECT_INT((long)cfg_listener_noverrides(c, 0),
				    1);
		} else {
			snprintf(want, sizeof(want), "2: tlsproxy_listeners "
			    "entry 1: parameter \"%s\" cannot be set per "
			    "listener\n", cfg_param_name(i));
			EXPECT_STR(errs, want);
			CU_ASSERT_PTR_NULL(c);
		}
		cfg_free(c);
		free(errs);
	}
	/* the TLS server settings: tls_*, tlsproxy_tls_*, smtpd_* and the obsolete two */
	EXPECT_INT(nallowed, 79);
}

static void
test_listener_unknown(void)
{
	lst_err("{ handoff = \"/a\"; tlsproxy_tls_protocl = \">=TLSv1.2\"; }",
	    "unknown key \"tlsproxy_tls_protocl\"; did you mean "
	    "\"tlsproxy_tls_protocols\"?");
	lst_err("{ handoff = \"/a\"; smtpd_tls_cert_fiel = \"/x\"; }",
	    "unknown key \"smtpd_tls_cert_fiel\"; did you mean "
	    "\"smtpd_tls_cert_file\"?");
	lst_err("{ handoff = \"/a\"; TLS_PREEMPT_CIPHERLIST = true; }",
	    "unknown key \"TLS_PREEMPT_CIPHERLIST\"; did you mean "
	    "\"tls_preempt_cipherlist\"?");
	lst_err("{ handoff = \"/a\"; handshake_timout = 5; }",
	    "unknown key \"handshake_timout\"; did you mean "
	    "\"handshake_timeout\"?");
	lst_err("{ handoff = \"/a\"; multi_instance_name = \"x\"; }",
	    "unknown key \"multi_instance_name\"");
}

static void
test_listener_print(void)
{
	struct cfg *c;
	char	*out;

	c = load_ok("config_directory = \"/etc/tp\";\n"
	    "tlsproxy_tls_protocols = \">=TLSv1.1\";\n"
	    "tlsproxy_listeners = (\n"
	    "  { handoff = \"/run/t.sock\"; tls_preempt_cipherlist = true; },\n"
	    "  { listen = \"*:465\"; backend = \"127.0.0.1:25\";\n"
	    "    tlsproxy_tls_protocols = \">=TLSv1.2\";\n"
	    "    smtpd_tls_security_level = \"ENCRYPT\";\n"
	    "    tlsproxy_tls_eccert_file = \"$config_directory/ec.pem\"; },\n"
	    "  { listen = \"*:587\"; backend = \"127.0.0.1:25\"; }\n"
	    ");\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	out = print_n(c);
	/* Expanded and canonical values, in table order. */
	EXPECT_STR(out,
	    "tlsproxy_tls_protocols = \">=TLSv1.1\";\n"
	    "config_directory = \"/etc/tp\";\n"
	    "tlsproxy_listeners = (\n"
	    "    { handoff = \"/run/t.sock\"; mode = \"0600\"; "
	    "tls_preempt_cipherlist = \"yes\"; },\n"
	    "    { listen = \"*:465\"; backend = \"127.0.0.1:25\"; "
	    "handshake_timeout = \"60s\"; idle_timeout = \"300s\"; "
	    "connect_timeout = \"10s\"; "
	    "tlsproxy_tls_eccert_file = \"/etc/tp/ec.pem\"; "
	    "tlsproxy_tls_protocols = \">=TLSv1.2\"; "
	    "smtpd_tls_security_level = \"encrypt\"; },\n"
	    "    { listen = \"*:587\"; backend = \"127.0.0.1:25\"; "
	    "handshake_timeout = \"60s\"; idle_timeout = \"300s\"; "
	    "connect_timeout = \"10s\"; }\n"
	    ");\n");
	free(out);
	/* The list's value shows the same. */
	CU_ASSERT(strstr(cfg_str(c, "tlsproxy_listeners"),
	    "connect_timeout = \"10s\"; tlsproxy_tls_eccert_file = "
	    "\"/etc/tp/ec.pem\"; tlsproxy_tls_protocols = \">=TLSv1.2\"; "
	    "smtpd_tls_security_level = \"encrypt\"; }, { listen = \"*:587\"")
	    != NULL);
	cfg_free(c);

	/* The printed list loads back to the same listeners. */
	c = load_ok("tlsproxy_listeners = (\n"
	    "    { listen = \"*:465\"; backend = \"127.0.0.1:25\"; "
	    "tlsproxy_tls_protocols = \">=TLSv1.2\"; }\n"
	    ");\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	out = print_n(c);
	EXPECT_STR(out, "tlsproxy_listeners = (\n"
	    "    { listen = \"*:465\"; backend = \"127.0.0.1:25\"; "
	    "handshake_timeout = \"60s\"; idle_timeout = \"300s\"; "
	    "connect_timeout = \"10s\"; tlsproxy_tls_protocols = "
	    "\">=TLSv1.2\"; }\n"
	    ");\n");
	free(out);
	cfg_free(c);
}

/*
 * Dumps.
 */

static void
test_print_nondefault(void)
{
	struct cfg *c;
	char	*out;

	c = load_ok("smtpd_tls_cert_file = \"/etc/x/cert.pem\";\n"
	    "tlsproxy_tls_cert_file = \"$smtpd_tls_cert_file\";\n"
	    "smtpd_tls_ciphers = \"medium\";\n"
	    "tlsproxy_watchdog_timeout = 10;\n"
	    "tlsproxy_worker_threads = \"64\";\n"
	    "tls_preempt_cipherlist = true;\n"
	    "tls_fast_shutdown_enable = true;\n"
	    "syslog_name = \"${smtpd_tls_cert_file?{mail}:{x}}\";\n"
	    "tlsproxy_drain_timeout = \"1m\";\n"
	    "tlsproxy_listeners = (\n"
	    "  { handoff = \"/run/t.sock\"; mode = 600; },\n"
	    "  { listen = \"*:465\"; backend = \"127.0.0.1:25\"; }\n"
	    ");\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	out = print_n(c);
	/*
	 * Not shown: tlsproxy_tls_cert_file (what its default gives),
	 * smtpd_tls_ciphers and tls_fast_shutdown_enable (the defaults),
	 * tlsproxy_watchdog_timeout (10 is 10s).
	 */
	EXPECT_STR(out,
	    "tls_preempt_cipherlist = \"yes\";\n"
	    "syslog_name = \"mail\";\n"
	    "smtpd_tls_cert_file = \"/etc/x/cert.pem\";\n"
	    "tlsproxy_listeners = (\n"
	    "    { handoff = \"/run/t.sock\"; mode = \"0600\"; },\n"
	    "    { listen = \"*:465\"; backend = \"127.0.0.1:25\"; "
	    "handshake_timeout = \"60s\"; idle_timeout = \"300s\"; "
	    "connect_timeout = \"10s\"; }\n"
	    ");\n"
	    "tlsproxy_worker_threads = \"64\";\n"
	    "tlsproxy_drain_timeout = \"1m\";\n");
	/* What -n prints loads back to the same settings. */
	{
		struct cfg *back = load_ok(out);
		char	*again;

		CU_ASSERT_PTR_NOT_NULL_FATAL(back);
		again = print_n(back);
		EXPECT_STR(again, out);
		free(again);
		cfg_free(back);
	}
	free(out);
	cfg_free(c);

	/* Empty, quotes, backslashes, control characters: the file's syntax. */
	c = load_ok("tls_config_file = \"\";\nsyslog_name = \"a\\\"b\\\\c\\x01\";\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	out = print_n(c);
	EXPECT_STR(out, "tls_config_file = \"\";\n"
	    "syslog_name = \"a\\\"b\\\\c\\x01\";\n");
	free(out);
	cfg_free(c);
}

static void
test_print_defaults(void)
{
	char	*out, *p;
	size_t	 len, lines = 0;
	FILE	*fp;

	fp = open_memstream(&out, &len);
	cfg_print_defaults(fp);
	fclose(fp);
	for (p = out; *p != '\0'; p++)
		if (*p == '\n')
			lines++;
	EXPECT_INT((long)lines, (long)cfg_param_count());
	CU_ASSERT(strncmp(out, "tls_append_default_CA = \"no\";\n", 30) == 0);
	CU_ASSERT(strstr(out, "\ntlsproxy_tls_ciphers = \"$smtpd_tls_ciphers\";\n")
	    != NULL);
	CU_ASSERT(strstr(out, "\ntlsproxy_watchdog_timeout = \"10s\";\n") != NULL);
	CU_ASSERT(strstr(out, "\ntls_disable_workarounds = \"\";\n") != NULL);
	CU_ASSERT(strstr(out, "\ntlsproxy_client_security_level = "
	    "\"${tlsproxy_client_level?{$tlsproxy_client_level}:"
	    "{$smtp_tls_security_level}}\";\n") != NULL);
	CU_ASSERT(strstr(out, "\nsmtpd_tls_key_file = \"$smtpd_tls_cert_file\";\n")
	    != NULL);
	/* Read-only ones as comments, so that the whole output loads. */
	CU_ASSERT(strstr(out, "\n# (read-only) process_id = \"(read-only: the "
	    "process ID)\";\n") != NULL);
	CU_ASSERT(strstr(out, "\n# (read-only) process_name = \"tlsproxy\";\n")
	    != NULL);
	CU_ASSERT(strstr(out, "\n# (read-only) service_name = \"tlsproxy\";\n")
	    != NULL);
	CU_ASSERT(strstr(out, "\ntlsproxy_listeners = ( );\n") != NULL);
	CU_ASSERT(strstr(out, "\ntlsproxy_worker_threads = \"0\";\n") != NULL);
	CU_ASSERT(strstr(out, "\ntlsproxy_drain_timeout = \"30s\";\n") != NULL);
	/* It loads back, and sets nothing that is not a default. */
	{
		struct cfg *back = load_ok(out);
		char	*n;

		CU_ASSERT_PTR_NOT_NULL_FATAL(back);
		n = print_n(back);
		EXPECT_STR(n, "");
		free(n);
		cfg_free(back);
	}
	free(out);
}

/*
 * Misuse of the accessors aborts.
 */

/* aborts - does fn(c) abort in a child process? */
static int
aborts(void (*fn)(const struct cfg *), const struct cfg *c)
{
	pid_t	 pid;
	int	 status, fd;

	fflush(NULL);
	if ((pid = fork()) == -1)
		return (0);
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) >= 0)
			dup2(fd, 2);
		fn(c);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return (0);
	return (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

static void
misuse_str(const struct cfg *c)
{
	(void)cfg_str(c, "no_such_parameter");
}

static void
misuse_bool(const struct cfg *c)
{
	(void)cfg_bool(c, "tlsproxy_tls_ciphers");
}

static void
misuse_int(const struct cfg *c)
{
	(void)cfg_int(c, "tls_append_default_CA");
}

static void
misuse_is_set(const struct cfg *c)
{
	(void)cfg_is_set(c, "tlsproxy_tls_cert_fiel");
}

static void
misuse_null(const struct cfg *c)
{
	(void)c;
	(void)cfg_str(NULL, "syslog_name");
}

static void
test_accessor_misuse(void)
{
	struct cfg *c;

	c = cfg_defaults();
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT(aborts(misuse_str, c));
	CU_ASSERT(aborts(misuse_bool, c));
	CU_ASSERT(aborts(misuse_int, c));
	CU_ASSERT(aborts(misuse_is_set, c));
	CU_ASSERT(aborts(misuse_null, c));
	/* Right types do not abort. */
	CU_ASSERT_EQUAL(cfg_int(c, "tlsproxy_drain_timeout"), 30);
	CU_ASSERT_EQUAL(cfg_bool(c, "tls_append_default_CA"), 0);
	cfg_free(c);
}

/*
 * Table, manual page and example file agree.
 */

struct names {
	char	**v;
	size_t	 n;
};

static void
names_add(struct names *ns, const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < ns->n; i++)
		if (strlen(ns->v[i]) == len && strncmp(ns->v[i], s, len) == 0)
			return;
	ns->v = realloc(ns->v, (ns->n + 1) * sizeof(*ns->v));
	ns->v[ns->n++] = strndup(s, len);
}

static int
names_has(const struct names *ns, const char *s)
{
	size_t	 i;

	for (i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], s) == 0)
			return (1);
	return (0);
}

static void
names_free(struct names *ns)
{
	size_t	 i;

	for (i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

static size_t
name_len(const char *s)
{
	size_t	 n = 0;

	if (!isalpha((unsigned char)*s))
		return (0);
	while (isalnum((unsigned char)s[n]) || s[n] == '_')
		n++;
	return (n);
}

/* read_all - a whole file, or NULL */
static char *
read_all(const char *path)
{
	FILE	*fp;
	char	*buf;
	long	 n;

	if ((fp = fopen(path, "r")) == NULL)
		return (NULL);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, fp) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(fp);
	return (buf);
}

/* man_names - ".TP" then "\fBname\fR (" */
static void
man_names(const char *text, struct names *ns)
{
	const char *p, *q;
	size_t	 n;

	for (p = text; (p = strstr(p, "\n.TP\n")) != NULL; p += 4) {
		q = p + 5;
		if (strncmp(q, "\\fB", 3) != 0)
			continue;
		n = name_len(q + 3);
		if (n > 0 && strncmp(q + 3 + n, "\\fR (", 5) == 0)
			names_add(ns, q + 3, n);
	}
}

/* conf_names - lines "#name = ..." */
static void
conf_names(const char *text, struct names *ns)
{
	const char *p;
	size_t	 n;

	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'),
	    p = p ? p + 1 : NULL) {
		if (*p != '#')
			continue;
		n = name_len(p + 1);
		if (n > 0 && strncmp(p + 1 + n, " = ", 3) == 0)
			names_add(ns, p + 1, n);
	}
}

/* compare - report names only on one side */
static int
compare(const struct names *a, const char *an, const struct names *b,
    const char *bn)
{
	size_t	 i;
	int	 diff = 0;

	for (i = 0; i < a->n; i++)
		if (!names_has(b, a->v[i])) {
			fprintf(stderr, "\n  %s in %s, not in %s", a->v[i], an,
			    bn);
			diff++;
		}
	for (i = 0; i < b->n; i++)
		if (!names_has(a, b->v[i])) {
			fprintf(stderr, "\n  %s in %s, not in %s", b->v[i], bn,
			    an);
			diff++;
		}
	return (diff);
}

/* uncomment - turn every "#name = " line into "name = " unless skipped */
static char *
uncomment(const char *text, const char *const *skip)
{
	char	*out = malloc(strlen(text) + 1), *o = out;
	const char *p = text, *eol;
	size_t	 n, i;
	int	 drop;

	while (*p != '\0') {
		eol = strchr(p, '\n');
		eol = eol ? eol + 1 : p + strlen(p);
		n = *p == '#' ? name_len(p + 1) : 0;
		drop = 0;
		if (n > 0 && strncmp(p + 1 + n, " = ", 3) == 0) {
			for (i = 0; skip[i] != NULL; i++)
				if (strlen(skip[i]) == n &&
				    strncmp(skip[i], p + 1, n) == 0)
					drop = 1;
			if (!drop)
				p++;
		}
		if (!drop) {
			memcpy(o, p, (size_t)(eol - p));
			o += eol - p;
		}
		p = eol;
	}
	*o = '\0';
	return (out);
}

/* word_in - does name occur in [start, end) as a whole word? */
static int
word_in(const char *start, const char *end, const char *name)
{
	const char *p;
	size_t	 n = strlen(name);

	for (p = start; (p = strstr(p, name)) != NULL && p + n <= end; p++)
		if ((p == start || (!isalnum((unsigned char)p[-1]) &&
		    p[-1] != '_')) && !isalnum((unsigned char)p[n]) &&
		    p[n] != '_')
			return (1);
	return (0);
}

/*
 * man_per_listener - the "Per-listener settings" section names each
 * tls_* parameter that may be set in an entry, and no other tls*
 */
static int
man_per_listener(const char *text)
{
	const char *sect, *end, *name;
	size_t	 i;
	int	 diff = 0, want;

	sect = strstr(text, "\n.SS Per\\-listener settings\n");
	if (sect == NULL) {
		fprintf(stderr, "\n  no \"Per-listener settings\" section");
		return (1);
	}
	if ((end = strstr(sect + 1, "\n.S")) == NULL)
		end = sect + strlen(sect);
	for (i = 0; i < cfg_param_count(); i++) {
		name = cfg_param_name(i);
		if (strncmp(name, "tls", 3) != 0 ||
		    strncmp(name, "tlsproxy_", 9) == 0)
			continue;
		want = per_listener(name);
		if (word_in(sect, end, name) != want) {
			fprintf(stderr, "\n  %s %s in the per-listener list of "
			    "man/tlsproxy.conf.5", name, want ? "missing" :
			    "wrongly");
			diff++;
		}
	}
	return (diff);
}

static void
test_consistency(void)
{
	static const char *const none[] = { NULL };
	static const char *const ro[] = {
		"process_id", "process_name", "service_name", NULL
	};
	struct names tab = { NULL, 0 }, man = { NULL, 0 }, conf = { NULL, 0 };
	const char *top = getenv("TOP_SRCDIR");
	char	 path[512], *text, *mod, *errs, *out;
	struct cfg *c;
	size_t	 i;
	int	 diff;

	if (top == NULL || *top == '\0')
		top = "..";
	for (i = 0; i < cfg_param_count(); i++)
		names_add(&tab, cfg_param_name(i), strlen(cfg_param_name(i)));
	CU_ASSERT_EQUAL(tab.n, cfg_param_count());	/* no duplicates */

	snprintf(path, sizeof(path), "%s/man/tlsproxy.conf.5", top);
	text = read_all(path);
	if (text == NULL)
		fprintf(stderr, "\n  cannot read %s (set TOP_SRCDIR)", path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	man_names(text, &man);
	CU_ASSERT_EQUAL(man_per_listener(text), 0);
	free(text);
	diff = compare(&tab, "the table", &man, "man/tlsproxy.conf.5");
	CU_ASSERT_EQUAL(diff, 0);

	snprintf(path, sizeof(path), "%s/etc/tlsproxy.conf", top);
	text = read_all(path);
	if (text == NULL)
		fprintf(stderr, "\n  cannot read %s (set TOP_SRCDIR)", path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	conf_names(text, &conf);
	diff = compare(&tab, "the table", &conf, "etc/tlsproxy.conf");
	CU_ASSERT_EQUAL(diff, 0);

	/* As shipped, the example loads. */
	c = cfg_load(path, stderr);
	CU_ASSERT_PTR_NOT_NULL(c);
	cfg_free(c);

	/* With every line uncommented, only the read-only ones complain. */
	mod = uncomment(text, none);
	c = load(mod, &errs);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT(strstr(errs, "parameter process_id is read-only\n") != NULL);
	CU_ASSERT(strstr(errs, "parameter process_name is read-only\n") != NULL);
	CU_ASSERT(strstr(errs, "parameter service_name is read-only\n") != NULL);
	for (i = 0, out = errs; (out = strchr(out, '\n')) != NULL; out++)
		i++;
	EXPECT_INT((long)i, 3);
	cfg_free(c);
	free(errs);
	free(mod);

	/* Without those, it loads, and every value is its default. */
	mod = uncomment(text, ro);
	c = load_ok(mod);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (c != NULL) {
		out = print_n(c);
		/* The pid file path depends on the build; nothing else may. */
		if (strncmp(out, "tlsproxy_pid_file = ", 20) == 0)
			*out = '\0';
		EXPECT_STR(out, "");
		free(out);
		cfg_free(c);
	}
	free(mod);
	free(text);

	names_free(&tab);
	names_free(&man);
	names_free(&conf);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "defaults", test_defaults },
		{ "empty file", test_empty_file },
		{ "$name indirection", test_indirection },
		{ "expansion forms", test_expansion_forms },
		{ "expansion syntax errors", test_expansion_errors },
		{ "reference loops", test_loop },
		{ "unknown names", test_unknown },
		{ "booleans", test_bad_bool },
		{ "integers", test_bad_int },
		{ "times", test_time },
		{ "word lists", test_enum },
		{ "string conversions", test_str_conversions },
		{ "errors from expansion", test_expansion_blame },
		{ "read-only parameters", test_readonly },
		{ "every error reported", test_multiple_errors },
		{ "syntax errors", test_syntax_error },
		{ "unreadable file", test_cannot_open },
		{ "@include", test_include },
		{ "two configurations", test_two_configs },
		{ "listeners", test_listeners_good },
		{ "listener errors", test_listeners_bad },
		{ "listeners: starttls, proxy_protocol, xclient",
		    test_listeners_starttls },
		{ "per-listener settings", test_listener_override },
		{ "per-listener $name indirection", test_listener_indirection },
		{ "per-listener errors", test_listener_errors },
		{ "per-listener forbidden names", test_listener_forbidden },
		{ "per-listener names, whole table", test_listener_every_name },
		{ "per-listener unknown names", test_listener_unknown },
		{ "per-listener -n output", test_listener_print },
		{ "-n output", test_print_nondefault },
		{ "-d output", test_print_defaults },
		{ "accessor misuse aborts", test_accessor_misuse },
		{ "table, man page, example agree", test_consistency },
		{ NULL, NULL }
	};

	return (unit_run("config", tests, suite_init, suite_fini));
}

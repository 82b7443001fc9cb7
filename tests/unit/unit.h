/*
 * NAME
 *	unit - tiny helpers shared by the CUnit test binaries
 * DESCRIPTION
 *	UNIT_RUN(suite_name, tests) registers one suite (one per module),
 *	runs it with the basic interface, and exits with the number of
 *	failures, as automake's test driver expects (0 = pass).
 *	shared_dir() finds ../shared (SHARED_DIR overrides), where the
 *	captured Postfix protocol vectors live.
 */
#ifndef TLSPROXY_UNIT_H
#define TLSPROXY_UNIT_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

struct unit_test {
	const char	*name;
	CU_TestFunc	 fn;
};

static inline int
unit_run(const char *suite_name, const struct unit_test *tests,
    CU_InitializeFunc init, CU_CleanupFunc fini)
{
	CU_pSuite	 s;
	unsigned int	 failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return (99);
	if ((s = CU_add_suite(suite_name, init, fini)) == NULL)
		return (99);
	for (; tests->name != NULL; tests++)
		if (CU_add_test(s, tests->name, tests->fn) == NULL)
			return (99);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	if (CU_get_number_of_tests_run() == 0)
		failed = 99;
	CU_cleanup_registry();
	return (failed > 250 ? 250 : (int)failed);
}

static inline const char *
shared_dir(void)
{
	const char *d = getenv("SHARED_DIR");

	return (d != NULL && *d != '\0' ? d : "../shared");
}

#endif

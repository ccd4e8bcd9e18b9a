/*
 * check - the unit tests' assertions, printed as TAP for automake's driver.
 *
 * CHECK(cond, fmt, ...) reports one numbered test; a failure prints the
 * file, line and condition.  check_done() prints the plan and returns the
 * exit status for main().  Header-only; single-threaded tests.
 */
#ifndef AUTHSCORE_CHECK_H
#define AUTHSCORE_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int check_count, check_failed;

static inline int check_report(int ok, const char *file, int line, const char *cond,
			       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline int check_report(int ok, const char *file, int line, const char *cond,
			       const char *fmt, ...)
{
	va_list ap;

	check_count++;
	printf("%s %d - ", ok ? "ok" : "not ok", check_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok) {
		check_failed++;
		printf("# %s:%d: failed: %s\n", file, line, cond);
	}
	fflush(stdout);
	return ok;
}

#define CHECK(cond, ...) check_report(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)
#define CHECK_STR(got, want, ...)                                                                  \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		if (!CHECK(g_ != NULL && w_ != NULL ? strcmp(g_, w_) == 0 : g_ == w_, __VA_ARGS__)) \
			printf("#   got:  %s\n#   want: %s\n", g_ ? g_ : "(null)",              \
			       w_ ? w_ : "(null)");                                                \
	} while (0)

static inline int check_done(void)
{
	printf("1..%d\n", check_count);
	return check_failed ? 1 : 0;
}

#endif

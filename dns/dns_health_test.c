/*
 * dns_health_test - a run of failed lookups marks DNS down with one log
 * line naming the run and what messages get; more failures say nothing
 * more; the first answer marks it up with one line; a failed start-up probe
 * marks it down at once.  stderr is captured through a file.  Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dns_health.h"
#include "log.h"

static char captured[16384];
static FILE *capture;
static int saved_stderr;

static void capture_start(void)
{
	fflush(stderr);
	capture = tmpfile();
	saved_stderr = dup(2);
	dup2(fileno(capture), 2);
}

static const char *capture_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(capture);
	n = fread(captured, 1, sizeof(captured) - 1, capture);
	captured[n] = '\0';
	fclose(capture);
	return captured;
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

int main(void)
{
	struct dns_health_stats s;
	const char *out;

	log_init("dns_health_test", 1);
	dns_health_get(&s);
	CHECK(s.up == 1 && s.failures == 0 && s.outages == 0, "up at start");

	dns_health_set_consequence("tempfail (on-spf-temperror)");
	capture_start();
	for (int i = 0; i < DNS_HEALTH_FAILURES - 1; i++)
		dns_health_record(1, 1, "timeout", "example.com");
	dns_health_record(0, 0, NULL, "example.org"); /* an answer breaks the run */
	for (int i = 0; i < DNS_HEALTH_FAILURES - 1; i++)
		dns_health_record(1, 0, "SERVFAIL", "example.com");
	out = capture_end();
	dns_health_get(&s);
	CHECK(s.up == 1 && strstr(out, "DNS resolution") == NULL,
	      "%d failures in a row, an answer between: still up, nothing logged",
	      DNS_HEALTH_FAILURES - 1);
	CHECK(s.failures == 2 * (DNS_HEALTH_FAILURES - 1) && s.timeouts == DNS_HEALTH_FAILURES - 1,
	      "every failure and timeout counted");

	capture_start();
	dns_health_record(1, 1, "timeout", "_dmarc.example.com");
	for (int i = 0; i < 50; i++)
		dns_health_record(1, 1, "timeout", "example.net");
	out = capture_end();
	dns_health_get(&s);
	CHECK(s.up == 0 && s.outages == 1, "the %dth failure in a row: down", DNS_HEALTH_FAILURES);
	CHECK(count(out, "DNS resolution failing") == 1, "one line for the whole outage");
	if (!CHECK(strstr(out, "DNS resolution failing: timeout for _dmarc.example.com (10 lookups "
			       "failed in a row, 1 timed out); messages get tempfail "
			       "(on-spf-temperror)") != NULL,
		   "the line says what failed, how many in a row, and what messages get"))
		printf("# got: %s\n", out);

	capture_start();
	dns_health_record(0, 0, NULL, "example.org");
	dns_health_record(0, 0, NULL, "example.org");
	out = capture_end();
	dns_health_get(&s);
	CHECK(s.up == 1 && s.outages == 1, "an answer: up again");
	CHECK(count(out, "DNS resolution works again") == 1 &&
		  strstr(out, "example.org answered after 60 failed lookups") != NULL,
	      "one line when it recovers");

	capture_start();
	dns_health_mark_down();
	dns_health_mark_down();
	out = capture_end();
	dns_health_get(&s);
	CHECK(s.up == 0 && s.outages == 2 && out[0] == '\0',
	      "a failed probe marks it down, silently (its caller logs)");
	capture_start();
	dns_health_record(0, 0, NULL, "example.org");
	out = capture_end();
	CHECK(count(out, "DNS resolution works again") == 1, "and the first answer brings it up");
	return check_done();
}

/*
 * message_sign_test - which messages the daemon's path signs and what it
 * hands the milter: trusted-network and authenticated mail signed (as the
 * dkim-sign-trusted and dkim-sign-authenticated keys say), checked mail
 * not; the DKIM-Signature edits with no other edit; the failure action
 * (on-dkim-sign-error: accept unsigned, or tempfail 451 4.3.0); the
 * summary line and the metrics naming the keys.  Keys are made with
 * libcrypto in a temporary directory; fake resolver.  TAP.
 */
#include "config.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "check.h"
#include "dkim.h"
#include "dkim_sign.h"
#include "fake_dns.h"
#include "mem.h"
#include "message.h"
#include "metrics.h"
#include "runtime.h"
#include "session.h"
#include "spf.h"
#include "summary.h"

static char dir[] = "/tmp/message_sign_test.XXXXXX";
static char rsa_path[256], ed_path[256];
static struct dns *dns;

struct outcome {
	int signing;
	struct verdict v;
	size_t sigs, other_edits;
	char sig_text[8192];
	char line[4096];
};

static void write_key(char *path, size_t size, const char *name, const char *alg)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, alg, (size_t)2048);
	FILE *f;

	if (strcmp(alg, "ED25519") == 0) {
		EVP_PKEY_free(k);
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	}
	snprintf(path, size, "%s/%s", dir, name);
	f = fopen(path, "w");
	PEM_write_PKCS8PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(path, 0600);
	EVP_PKEY_free(k);
}

static struct runtime *runtime_with(const char *extra)
{
	char *text = xasprintf("authserv-id mx.example.test\ntrusted-networks 192.0.2.0/24\n"
			       "dkim-key example.test rsa %s\ndkim-key example.test ed %s\n"
			       "dkim-sign example.test example.test:rsa example.test:ed\n%s",
			       rsa_path, ed_path, extra);
	char *error = NULL;
	struct conf *conf = conf_parse("test.conf", text, &error);
	struct runtime *rt = conf != NULL ? runtime_load(conf, dns, NULL, &error) : NULL;

	free(text);
	if (rt == NULL) {
		printf("Bail out! %s\n", error);
		exit(1);
	}
	return rt;
}

/* One message from ip (authenticated as auth, or not) From from_addr. */
static void run(struct runtime *rt, const char *ip, const char *auth, const char *from_addr,
		unsigned extra_fields, struct outcome *o)
{
	struct addr client;
	struct session *s;
	struct message *m;
	struct message_edits e;
	struct buf b;
	char *from = xasprintf(" <%s>", from_addr);

	memset(o, 0, sizeof(*o));
	addr_parse(ip, &client);
	s = session_new(rt, "client.example.test", &client);
	m = message_new(s, from_addr, auth);
	o->signing = message_signing(m);
	message_header(m, "From", from);
	message_header(m, "Subject", " hello");
	for (unsigned i = 0; i < extra_fields; i++)
		message_header(m, "Received", " from a by b");
	message_eoh(m);
	message_body(m, (const unsigned char *)"body\r\n", 6);
	message_eom(m, &o->v, &e);
	o->sigs = e.sign_count;
	o->other_edits = e.ar_delete_count + e.remove_count + e.add_count + (e.ar_value != NULL) +
			 (e.subject != NULL);
	for (size_t i = 0; i < e.sign_count; i++)
		snprintf(o->sig_text + strlen(o->sig_text), sizeof(o->sig_text) - strlen(o->sig_text),
			 "%s: %s\n", e.sign[i].name, e.sign[i].value);
	buf_init(&b, SUMMARY_MAX_BYTES);
	summary_line(&b, SUMMARY_KV, message_facts(m), &o->v, 0, 0);
	snprintf(o->line, sizeof(o->line), "%s", buf_str(&b));
	buf_release(&b);
	message_log(m, &o->v); /* counts the metrics */
	message_free(&m);
	session_free(&s);
	free(from);
}

static void test_who(void)
{
	struct runtime *rt = runtime_with("");
	struct outcome o;

	run(rt, "192.0.2.7", NULL, "alice@example.test", 0, &o);
	CHECK(o.signing && o.sigs == 2 && o.v.action == VERDICT_ACCEPT,
	      "trusted network: signed twice, accepted");
	CHECK(strstr(o.sig_text, "DKIM-Signature: v=1; a=rsa-sha256;") != NULL &&
		  strstr(o.sig_text, "a=ed25519-sha256;") != NULL,
	      "the edits: DKIM-Signature fields, rsa and ed25519");
	CHECK(o.other_edits == 0, "no other edit of an outgoing message (no AR, no X-Spam-*)");
	CHECK(strstr(o.line, "skipped=\"trusted network\" "
			     "dkim.signed=example.test/rsa/rsa-sha256,example.test/ed/ed25519-sha256") !=
		  NULL,
	      "the log line names d=, s= and the algorithm");
	run(rt, "192.0.2.7", NULL, "alice@other.test", 0, &o);
	CHECK(o.signing && o.sigs == 0 && o.v.action == VERDICT_ACCEPT &&
		  strstr(o.line, "dkim.signed") == NULL,
	      "trusted, no signing-table line for the From domain: accepted unsigned");
	run(rt, "203.0.113.10", "alice", "alice@example.test", 0, &o);
	CHECK(o.signing && o.sigs == 2, "authenticated client: signed");
	CHECK(strstr(o.line, "skipped=authenticated dkim.signed=") != NULL, "authenticated: logged");
	run(rt, "203.0.113.10", NULL, "alice@example.test", 0, &o);
	CHECK(!o.signing && o.sigs == 0 && o.other_edits > 0,
	      "an outside client: checked, never signed");
	runtime_unref(&rt);
	rt = runtime_with("dkim-sign-trusted no\ndkim-sign-authenticated no\n");
	run(rt, "192.0.2.7", NULL, "alice@example.test", 0, &o);
	CHECK(!o.signing && o.sigs == 0, "dkim-sign-trusted no: not signed");
	run(rt, "203.0.113.10", "alice", "alice@example.test", 0, &o);
	CHECK(!o.signing && o.sigs == 0, "dkim-sign-authenticated no: not signed");
	runtime_unref(&rt);
	rt = runtime_with("skip-authenticated no\n");
	run(rt, "203.0.113.10", "alice", "alice@example.test", 0, &o);
	CHECK(!o.signing && o.sigs == 0 && o.other_edits > 0,
	      "skip-authenticated no: checked, so not signed");
	runtime_unref(&rt);
}

static void test_failure(void)
{
	struct runtime *rt = runtime_with("");
	struct outcome o;

	run(rt, "192.0.2.7", NULL, "alice@example.test", 1001, &o);
	CHECK(o.sigs == 0 && o.v.action == VERDICT_ACCEPT,
	      "cannot sign (1001 fields), default on-dkim-sign-error: accepted unsigned");
	CHECK(strstr(o.line, "dkim.sign_error=\"too many or too large header fields to sign\"") != NULL,
	      "the log line says why");
	runtime_unref(&rt);
	rt = runtime_with("on-dkim-sign-error tempfail\n");
	run(rt, "192.0.2.7", NULL, "alice@example.test", 1001, &o);
	CHECK(o.sigs == 0 && o.v.action == VERDICT_TEMPFAIL && strcmp(o.v.rcode, "451") == 0 &&
		  strcmp(o.v.xcode, "4.3.0") == 0,
	      "on-dkim-sign-error tempfail: 451 4.3.0");
	runtime_unref(&rt);
}

static void test_metrics(void)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	metrics_render(&b, &(struct metrics_extra){0});
	CHECK(strstr(buf_str(&b), "authscore_dkim_signatures_total{domain=\"example.test\","
				  "selector=\"ed\",algorithm=\"ed25519-sha256\"} 2\n") != NULL,
	      "metrics: signatures per key and algorithm");
	CHECK(strstr(buf_str(&b), "authscore_dkim_sign_errors_total 2\n") != NULL,
	      "metrics: messages that could not be signed");
	buf_release(&b);
}

int main(void)
{
	char *error = NULL;
	struct conf *c = conf_parse("t", "", &error);

	spf_init();
	if (mkdtemp(dir) == NULL || (dns = runtime_dns_new(c, &error)) == NULL ||
	    dkim_module_init(dns, &error) < 0) {
		printf("Bail out! set-up\n");
		return 1;
	}
	conf_free(&c);
	write_key(rsa_path, sizeof(rsa_path), "rsa.pem", "RSA");
	write_key(ed_path, sizeof(ed_path), "ed.pem", "ED25519");
	test_who();
	test_failure();
	test_metrics();
	remove(rsa_path);
	remove(ed_path);
	rmdir(dir);
	dkim_module_deinit();
	dns_free(&dns);
	return check_done();
}

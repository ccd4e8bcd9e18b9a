/*
 * main - authscore-milter: options, start-up, privilege drop, signals.
 *
 * Start-up order matters: parse and validate everything first (so -n and a
 * bad file fail before anything is touched), detach, start the resolver,
 * bind the socket as root, then drop to the configured user.  libmilter
 * runs in its own thread; the main thread only handles signals:
 *   SIGHUP   reload the configuration; a bad file is logged, the old kept;
 *   SIGTERM, SIGINT  stop accepting, answer the messages in flight, flush
 *            the history queue to the store or the spool, exit.  A signal
 *            during a reload is acted on when the reload is done; another
 *            stop signal while stopping changes nothing (the wait for the
 *            messages in flight is bounded by their own deadlines).
 * libmilter's own signal thread would treat SIGHUP as "stop", so every
 * other thread blocks these signals and only the main thread takes them:
 * Linux delivers a process signal to the thread group leader whenever that
 * thread does not block it.  So the main thread never blocks them, and
 * waits on a pipe its handler writes to (a flag checked before pause()
 * could miss a signal arriving in between).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libmilter/mfapi.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "callbacks.h"
#include "content.h"
#include "conf.h"
#include "arc.h"
#include "dkim.h"
#include "dns.h"
#include "dns_health.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "metrics_http.h"
#include "rules.h"
#include "runtime.h"
#include "spf.h"
#include "store.h"
#include "ratelimit.h"

#define STOP_GRACE_SECONDS 60
/* No callback for this long: the last reply is written (see wait_callbacks). */
#define STOP_SETTLE_MS 20
/* The open transactions' longest DNS deadline, and this, then the gate closes. */
#define STOP_DRAIN_SLACK_MS 500
/* Interrupts the listener's poll() (see stop_listener); a no-op otherwise. */
#define SIG_WAKE_LISTENER SIGUSR2

struct options {
	const char *config_path;
	const char *socket;
	const char *user;
	const char *pidfile;
	int foreground;
	int check_only;
};

static volatile sig_atomic_t got_hup, got_stop;
static int signal_pipe[2] = {-1, -1}; /* the handler writes, the main thread reads */

/* Each line's words open the option's entry in doc/authscore-milter.8;
 * tests/helpman.sh holds the two to that. */
static const char usage_text[] =
    "usage: authscore-milter [-fhknV] [-c config] [-p socket] [-u user[:group]] [-P pidfile]\n";
static const char help_text[] =
    "  -c config          Read this configuration file.\n"
    "  -p socket          Listen on socket: unix:/path, local:/path, inet:port@host or "
    "inet6:port@host.\n"
    "  -f                 Stay in the foreground.\n"
    "  -u user[:group]    After binding the socket as root, become this user (and group).\n"
    "  -P pidfile         Write the process id to this file (before privileges are dropped).\n"
    "  -n                 Check the configuration and exit.\n"
    "  -k                 List every configuration key with its default and help, and exit.\n"
    "  -V, --version      Print the version and exit.\n"
    "  -h, --help         Print this help and exit.\n";

static void usage(FILE *out, int full)
{
	fputs(usage_text, out);
	if (full)
		fprintf(out, "%sWithout -c: %s if it exists, else the built-in defaults.\n",
			help_text, CONF_DEFAULT_PATH);
}

static void on_signal(int sig)
{
	int saved = errno;
	char c = 0;

	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
	if (write(signal_pipe[1], &c, 1) < 0) {
		/* full: the main thread has wake-ups enough to read */
	}
	errno = saved;
}

static void on_wake_listener(int sig)
{
	(void)sig;
}

/* Sleep until a signal handler ran (or ms passed, when ms >= 0). */
static void wait_signal(int ms)
{
	struct pollfd p = {.fd = signal_pipe[0], .events = POLLIN};
	char buf[64];

	if (poll(&p, 1, ms) > 0)
		while (read(signal_pipe[0], buf, sizeof(buf)) > 0)
			;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:p:u:P:fnkVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config_path = optarg;
			break;
		case 'p':
			o->socket = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'P':
			o->pidfile = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'n':
			o->check_only = 1;
			break;
		case 'k':
			conf_print_keys(stdout);
			exit(0);
		case 'V':
			printf("authscore-milter %s\n", PACKAGE_VERSION);
			exit(0);
		case 'h':
			usage(stdout, 1);
			exit(0);
		default:
			usage(stderr, 0);
			exit(1);
		}
	}
	if (optind != argc) {
		usage(stderr, 0);
		exit(1);
	}
}

static struct conf *load_conf(const struct options *o, char **error_r)
{
	struct conf *conf = conf_load(o->config_path ? o->config_path : CONF_DEFAULT_PATH,
				      o->config_path != NULL, error_r);

	if (conf == NULL)
		return NULL;
	/* Command-line options win over the file, as admins expect from opendkim. */
	if (o->socket != NULL) {
		free(conf->socket);
		conf->socket = xstrdup(o->socket);
	}
	if (o->user != NULL) {
		free(conf->user);
		conf->user = xstrdup(o->user);
	}
	if (o->pidfile != NULL) {
		free(conf->pidfile);
		conf->pidfile = xstrdup(o->pidfile);
	}
	return conf;
}

/* libmilter knows "unix:" and "inet:"; accept the spellings admins use. */
static char *milter_socket(const char *s)
{
	if (strncmp(s, "local:", 6) == 0)
		return xasprintf("unix:%s", s + 6);
	if (s[0] == '/')
		return xasprintf("unix:%s", s);
	return xstrdup(s);
}

static const char *socket_path(const char *conn)
{
	return strncmp(conn, "unix:", 5) == 0 ? conn + 5 : NULL;
}

struct identity {
	uid_t uid;
	gid_t gid;
	const char *name;
};

static int lookup_user(const char *spec, struct identity *id, char **error_r)
{
	char *copy = xstrdup(spec), *colon = strchr(copy, ':');
	struct passwd *pw;

	if (colon != NULL)
		*colon++ = '\0';
	if ((pw = getpwnam(copy)) == NULL) {
		*error_r = xasprintf("user %s: no such user", copy);
		free(copy);
		return -1;
	}
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	id->name = xstrdup(pw->pw_name);
	if (colon != NULL) {
		struct group *gr = getgrnam(colon);

		if (gr == NULL) {
			*error_r = xasprintf("group %s: no such group", colon);
			free(copy);
			return -1;
		}
		id->gid = gr->gr_gid;
	}
	free(copy);
	return 0;
}

static void drop_privileges(const struct identity *id)
{
	if (getuid() == id->uid && geteuid() == id->uid)
		return;
	if (initgroups(id->name, id->gid) != 0 || setgid(id->gid) != 0 || setuid(id->uid) != 0)
		log_fatal("cannot become user %s: %s", id->name, strerror(errno));
	if (setuid(0) == 0)
		log_fatal("privileges were not dropped: setuid(0) still works");
}

static void daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		log_fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		log_fatal("setsid: %s", strerror(errno));
	if ((pid = fork()) < 0)
		log_fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		log_fatal("chdir /: %s", strerror(errno));
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

static void write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0)
		log_fatal("pidfile %s: %s", path, strerror(errno));
}

/*
 * libmilter starts a thread per connection with the default attributes:
 * glibc's 8 MB stacks.  Its stack cache (40 MB) then holds only five, so
 * under load every connection paid mmap, mprotect, munmap and a TLB flush
 * for its stack, and the exit madvise()d megabytes.  The callbacks need
 * far less (libspf2's recursion runs on the SPF pool's own stacks).
 */
#if defined(__SANITIZE_ADDRESS__)
#define CONNECTION_STACK (2 * 1024 * 1024) /* ASan's redzones grow frames */
#else
#define CONNECTION_STACK (512 * 1024)
#endif

static void set_thread_stack_default(void)
{
	pthread_attr_t attr;

	if (pthread_attr_init(&attr) != 0)
		return;
	if (pthread_attr_setstacksize(&attr, CONNECTION_STACK) != 0 ||
	    pthread_setattr_default_np(&attr) != 0)
		log_warn("cannot set the connection threads' stack size; keeping the default");
	pthread_attr_destroy(&attr);
}

/*
 * glibc gives threads up to 8 malloc arenas per CPU, and libmilter's
 * hundreds of connection threads use them all; what a burst of ends of
 * message frees stays in each arena, interleaved with the memory of the
 * messages still in transit, and new allocations grow another arena rather
 * than reuse it.  With 500 sessions holding a newsletter that was about
 * 10 MB of the peak RSS, which came within 1 MB of issue 19's budget of
 * 64 MB (doc/BENCHMARKS.md).  Two arenas per CPU (at least 4) keep the
 * peak near 50 MB for 0.02 to 0.04 ms more CPU a message; one per CPU
 * saved no more memory and cost 0.04 to 0.15 ms in lock waits.
 * MALLOC_ARENA_MAX or GLIBC_TUNABLES in the environment win.
 */
static void limit_malloc_arenas(void)
{
#ifdef M_ARENA_MAX
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (getenv("MALLOC_ARENA_MAX") != NULL || getenv("GLIBC_TUNABLES") != NULL)
		return;
	if (mallopt(M_ARENA_MAX, cpus > 2 ? 2 * (int)cpus : 4) != 1)
		log_warn("cannot limit the malloc arenas; keeping glibc's default");
#endif
}

static void *milter_thread(void *arg)
{
	(void)arg;
	if (smfi_main() != MI_SUCCESS)
		log_err("libmilter stopped with an error");
	got_stop = 1;
	kill(getpid(), SIGTERM); /* wake the main thread if it is waiting */
	return NULL;
}

static atomic_int stopper_started;

static void *smfi_stop_thread(void *arg)
{
	(void)arg;
	atomic_store(&stopper_started, 1);
	smfi_stop();
	return NULL;
}

/*
 * smfi_stop() sets libmilter's stop flag at once, then closes the listening
 * socket under the listener's lock, which the listener holds for the whole
 * of its poll(): up to MI_CHK_TIME (5 s, listener.c).  So smfi_stop() runs
 * in a thread of its own, and this one interrupts the listener's poll()
 * with a signal (EINTR: the listener looks at the stop flag again and
 * returns), every 50 ms until the milter thread is gone, the first 10 ms
 * after the stopper started: woken before the flag was set, the listener
 * polls again; woken between its look at the flag and its lock while the
 * stopper closes the socket, libmilter would abort the sessions in flight.
 * Waking it by connecting does not do: once stopped, libmilter's worker
 * pool refuses the new session and its listener sleeps 1 s over that.
 */
static void stop_listener(pthread_t milter)
{
	struct sigaction sa = {.sa_handler = on_wake_listener}; /* no SA_RESTART */
	sigset_t all, old;
	pthread_t stopper;
	int have_stopper;

	sigaction(SIG_WAKE_LISTENER, &sa, NULL);
	sigfillset(&all); /* the stopper takes no signal */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	have_stopper = pthread_create(&stopper, NULL, smfi_stop_thread, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!have_stopper)
		smfi_stop(); /* returns when the listener's poll() times out */
	while (have_stopper && !atomic_load(&stopper_started))
		wait_signal(1);
	for (;;) {
		struct timespec ts;

		wait_signal(10);
		pthread_kill(milter, SIG_WAKE_LISTENER);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 40 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_timedjoin_np(milter, NULL, &ts) != ETIMEDOUT)
			break;
	}
	if (have_stopper)
		pthread_join(stopper, NULL);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Stopping: the transactions open go on to their verdicts, which their
 * own DNS deadlines bound; new connections and transactions get tempfail
 * (callbacks_drain).  Done when none is open and no callback has run for
 * STOP_SETTLE_MS (libmilter writes a callback's reply after it returns),
 * or after drain_ms: a client that stalls in the middle of its message
 * must not hold the stop.  Then the gate closes (every later callback
 * answers tempfail without touching what main() frees next) and the
 * callbacks that entered before it are waited for.  A stop signal
 * meanwhile changes nothing but the log. */
static int drained(int64_t start, int64_t limit_ms, int open_too)
{
	int64_t quiet_since = now_ms(), now;
	int again = 0;

	while ((now = now_ms()) - start < limit_ms) {
		got_stop = 0;
		wait_signal(10);
		if (got_stop && !again++)
			log_notice("stopping already: waiting for %d message(s) in progress",
				   callbacks_open_messages());
		if (callbacks_busy() > 0 || (open_too && callbacks_open_messages() > 0))
			quiet_since = now_ms();
		else if (now - quiet_since >= (open_too ? STOP_SETTLE_MS : 0))
			return 0;
	}
	return -1;
}

static void wait_callbacks(int64_t start, int64_t drain_ms)
{
	(void)drained(start, drain_ms, 1);
	callbacks_close_gate();
	if (drained(start, STOP_GRACE_SECONDS * 1000, 0) == 0)
		return;
	log_warn("stopped with %d message(s) still in progress", callbacks_busy());
}

/* How long the transactions open may take: the longest DNS deadline a
 * verdict waits for, and a little for the reply. */
static int64_t drain_ms(void)
{
	struct runtime *rt = runtime_current();
	int64_t ms = 5000;

	if (rt != NULL) {
		ms = rt->conf->dns_timeout_ms > rt->conf->spf_timeout_ms ? rt->conf->dns_timeout_ms
									 : rt->conf->spf_timeout_ms;
		runtime_unref(&rt);
	}
	return ms + STOP_DRAIN_SLACK_MS;
}

/* libmilter answers each stage with a small packet and waits for the next:
 * with Nagle's algorithm on, a reply held back for a delayed ACK costs tens
 * of milliseconds per message over TCP.  libmilter does not expose its
 * listening socket, so find it among our descriptors and set TCP_NODELAY
 * there: Linux gives every accepted connection the listener's setting. */
static void tcp_nodelay_on_listener(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name), on = 1, listening = 0, domain = 0;
		socklen_t len = sizeof(listening);

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
			continue;
		len = sizeof(domain);
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
		    (domain != AF_INET && domain != AF_INET6))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0)
			log_warn("TCP_NODELAY on the milter socket: %s", strerror(errno));
	}
	closedir(d);
}

/* mkdir -p: the default state directory's parents may not exist yet. */
static int mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int r = 0;

	for (char *s = p + 1; r == 0 && *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			r = -1;
		*s = '/';
	}
	if (r == 0 && mkdir(p, mode) != 0 && errno != EEXIST)
		r = -1;
	free(p);
	return r;
}

/* The history store in writer mode: milter threads only queue records.
 * An unreachable store is not fatal: records are spooled until it works. */
static struct store *open_store(const struct conf *conf)
{
	char *location = conf_history_location(conf), *error = NULL;
	struct store_options so = {
		.location = location,
		.spool_dir = conf->state_dir,
		.writer = 1,
	};
	struct store *store;

	if (location == NULL) {
		log_notice("history off (history none): no DMARC records, no reports");
		return NULL;
	}
	if ((store = store_open(&so, &error)) == NULL) {
		log_err("history store %s: %s; no history will be kept", location, error);
		free(error);
	} else {
		log_info("history store %s", location);
	}
	free(location);
	return store;
}

/* What messages get while DNS fails: the DNS-error actions of the
 * configuration, grouped by action, for dns_health's log line. */
static void set_dns_consequence(const struct conf *conf)
{
	static const struct {
		const char *key;
		size_t offset;
	} keys[] = {
	    {"on-spf-temperror", offsetof(struct conf, on_spf_temperror)},
	    {"on-dkim-temperror", offsetof(struct conf, on_dkim_temperror)},
	    {"on-dmarc-temperror", offsetof(struct conf, on_dmarc_temperror)},
	};
	static const enum conf_action order[] = {ACTION_TEMPFAIL, ACTION_REJECT, ACTION_QUARANTINE,
						 ACTION_TAG, ACTION_ACCEPT};
	char text[256];
	size_t len = 0;

	text[0] = '\0';
	for (size_t a = 0; a < sizeof(order) / sizeof(order[0]); a++) {
		int n = 0;

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if (*(const enum conf_action *)((const char *)conf + keys[k].offset) !=
			    order[a])
				continue;
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s%s",
						n     ? ", "
						: len ? "; "
						      : "",
						n ? "" : conf_action_name(order[a]), n ? "" : " (");
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s", keys[k].key);
			n++;
		}
		if (n > 0)
			len += (size_t)snprintf(text + len, sizeof(text) - len, ")");
	}
	dns_health_set_consequence(text);
}

/* The start-up check that DNS works: one NS query for `dns-probe`, never
 * waited for (start-up goes on); the main loop looks at it until it is
 * answered or its deadline passes, and says how it went. */
struct probe {
	struct dns_query *q;
	char *name;
	int64_t started, deadline;
};

static void probe_start(struct dns *dns, const struct conf *conf, struct probe *p)
{
	memset(p, 0, sizeof(*p));
	if (strcmp(conf->dns_probe, "none") == 0)
		return;
	p->name = xstrdup(conf->dns_probe);
	p->started = now_ms();
	p->deadline = p->started + conf->dns_timeout_ms;
	p->q = dns_start(dns, p->name, DNS_T_NS, conf->dns_timeout_ms);
}

static void probe_check(struct probe *p)
{
	const struct dns_answer *a;
	int64_t ms = now_ms() - p->started;
	char what[256];

	if (p->q == NULL || (!dns_done(p->q) && ms < p->deadline - p->started))
		return;
	a = dns_wait(p->q); /* answered, or at its deadline: does not block */
	if (a->status == DNS_TEMPFAIL) {
		dns_health_mark_down();
		dns_health_consequence(what, sizeof(what));
		log_err("DNS resolution failing at start: %s NS: %s after %lld ms (dns-probe); "
			"messages get %s",
			p->name, a->why != NULL ? a->why : "error", (long long)ms, what);
	} else {
		log_info("DNS works: %s NS answered (%s) in %lld ms", p->name,
			 dns_status_name(a->status), (long long)ms);
	}
	dns_query_free(&p->q);
	xfree(&p->name);
}

static int same_dns(const struct conf *a, const struct conf *b)
{
	char **lists[2][2] = {{a->dns_forwarders, a->dns_stubs}, {b->dns_forwarders, b->dns_stubs}};

	for (int l = 0; l < 2; l++) {
		char **x = lists[0][l], **y = lists[1][l];

		while (x != NULL && *x != NULL && y != NULL && *y != NULL && strcmp(*x, *y) == 0)
			x++, y++;
		if ((x != NULL && *x != NULL) || (y != NULL && *y != NULL))
			return 0;
	}
	return a->dns_timeout_ms == b->dns_timeout_ms;
}

/*
 * Can the bodies past 16 kB be spilled where the configuration says?  An
 * explicit content-spool-dir that cannot take a file is the admin's error
 * (the daemon does not start, a reload is refused); the default, the state
 * directory, may be read-only as the history store may be unavailable:
 * then the bodies wait in memory, with a warning, and mail flows.  Called
 * before conf is shared.  0, or -1 with a malloc'd *error_r.
 */
static int check_spool_dir(struct conf *conf, char **error_r)
{
	const char *dir = conf_content_spool_dir(conf);

	if (dir == NULL || content_spool_check(dir, error_r) == 0)
		return 0;
	if (conf->content_spool_dir != NULL)
		return -1;
	log_warn("%s; message bodies wait for their scan in memory (set content-spool-dir)",
		 *error_r);
	free(*error_r);
	*error_r = NULL;
	conf->content_spool_dir = xstrdup("none");
	return 0;
}

static void reload(const struct options *o, struct dns *dns)
{
	struct runtime *old = runtime_current(), *fresh;
	char *error = NULL;
	struct conf *conf = load_conf(o, &error);

	if (conf != NULL && check_spool_dir(conf, &error) < 0)
		conf_free(&conf);
	if (conf == NULL) {
		log_err("reload failed, keeping the running configuration: %s", error);
		free(error);
		runtime_unref(&old);
		metrics_reload(0);
		return;
	}
	if (!same_dns(old->conf, conf))
		log_warn("reload: DNS settings changed; they take effect at the next restart");
	if (strcmp(old->conf->socket, conf->socket) != 0)
		log_warn("reload: socket changed; it takes effect at the next restart");
	if (memcmp(&old->conf->metrics_listen, &conf->metrics_listen, sizeof(conf->metrics_listen)) !=
	    0)
		log_warn("reload: metrics-listen changed; it takes effect at the next restart");
	if ((fresh = runtime_load(conf, dns, old->store, &error)) == NULL) {
		log_err("reload failed, keeping the running configuration: %s", error);
		free(error);
		runtime_unref(&old);
		metrics_reload(0);
		return;
	}
	metrics_reload(1);
	if (fresh->conf->log_facility != old->conf->log_facility)
		log_warn("reload: log-facility changed; it takes effect at the next restart");
	set_dns_consequence(fresh->conf);
	fresh->ratelimit = old->ratelimit; /* the buckets outlive the limits */
	if (fresh->conf->ratelimit_table_size != old->conf->ratelimit_table_size)
		log_warn("reload: ratelimit-table-size changed; it takes effect at the next restart");
	log_set_level(fresh->conf->log_level);
	log_notice("configuration reloaded from %s (%zu rules)", fresh->conf->path,
		   rules_count(fresh->rules));
	runtime_publish(fresh);
	runtime_unref(&old);
}

/* What the daemon holds from start-up to its stop. */
struct daemon {
	struct options o;
	struct conf *conf; /* the runtime's once published */
	struct dns *dns;
	struct identity id;
	int have_user;
	char *conn, *pidfile;
	const char *path; /* of a unix socket, inside conn; NULL: TCP */
	struct store *store;
	struct metrics_http *metrics;
	struct ratelimit *ratelimit;
	pthread_t milter;
	struct probe probe;
};

/* -n: the rules and GeoIP databases are part of the configuration. */
static int check_only(struct daemon *d, int defaults_only)
{
	char *error = NULL;
	struct runtime *rt = runtime_load(d->conf, NULL, NULL, &error);

	free((char *)d->id.name);
	if (rt == NULL) {
		fprintf(stderr, "authscore-milter: %s\n", error);
		free(error);
		return 1;
	}
	printf("%s: %s (%zu rules from %s)\n", rt->conf->path,
	       defaults_only ? "no such file; the built-in defaults are OK" : "configuration OK",
	       rules_count(rt->rules),
	       rt->conf->rules_path ? rt->conf->rules_path : "the built-in default.rules");
	runtime_unref(&rt);
	return 0;
}

/* Every thread from here on inherits these blocked; see the top. */
static void block_stop_signals(void)
{
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The milter socket, bound as root: its directory, libmilter, the listener. */
static void open_milter_socket(struct daemon *d)
{
	d->conn = milter_socket(d->conf->socket);
	if ((d->path = socket_path(d->conn)) != NULL) {
		char *dir = xstrdup(d->path), *slash = strrchr(dir, '/');

		if (slash != NULL && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0750) == 0 && d->have_user &&
			    chown(dir, d->id.uid, d->id.gid) != 0)
				log_warn("chown %s: %s", dir, strerror(errno));
		}
		free(dir);
	}
	if (callbacks_register("authscore") < 0 || smfi_setconn(d->conn) != MI_SUCCESS)
		log_fatal("cannot register with libmilter (socket %s)", d->conn);
	smfi_setbacklog(128);
	{
		mode_t old = umask(d->conf->socket_mode ^ 0777);

		if (smfi_opensocket(1) != MI_SUCCESS)
			log_fatal("cannot listen on %s: %s", d->conn, strerror(errno));
		umask(old);
	}
	if (d->path == NULL)
		tcp_nodelay_on_listener();
}

/* Still root: the metrics listener, the socket's owner, the pid file and
 * the state directory (history store, spool), which belong to our user. */
static void claim_files(struct daemon *d)
{
	const struct conf *conf = d->conf;
	char *error = NULL;

	if (conf->metrics_listen.port != 0 &&
	    (d->metrics = metrics_http_listen(&conf->metrics_listen.addr,
					      conf->metrics_listen.port, &error)) == NULL)
		log_fatal("%s", error);
	if (d->path != NULL) {
		if (chmod(d->path, conf->socket_mode) != 0)
			log_warn("chmod %s: %s", d->path, strerror(errno));
		if (d->have_user && chown(d->path, d->id.uid, d->id.gid) != 0)
			log_warn("chown %s: %s", d->path, strerror(errno));
	}
	if (conf->pidfile != NULL) {
		d->pidfile = xstrdup(conf->pidfile);
		write_pidfile(d->pidfile);
	}
	if (mkdir_p(conf->state_dir, 0750) == 0) {
		if (d->have_user && chown(conf->state_dir, d->id.uid, d->id.gid) != 0)
			log_warn("chown %s: %s", conf->state_dir, strerror(errno));
	} else {
		log_warn("state directory %s: %s", conf->state_dir, strerror(errno));
	}
}

/* Rules and databases are read as our user, as every reload will be. */
static void start_runtime(struct daemon *d)
{
	const struct conf *conf = d->conf;
	char *error = NULL;
	struct runtime *rt = runtime_load(d->conf, d->dns, d->store, &error);

	if (rt == NULL)
		log_fatal("%s", error);
	log_info("%zu rules loaded from %s", rules_count(rt->rules),
		 rt->conf->rules_path ? rt->conf->rules_path : "the built-in default.rules");
	if (d->metrics != NULL) {
		char *spool = xasprintf("%s/%s", conf->state_dir, STORE_SPOOL_NAME);

		if (metrics_http_start(d->metrics, d->store, spool, &error) < 0)
			log_fatal("%s", error);
		log_info("metrics on http://%s%s%s:%u/metrics",
			 conf->metrics_listen.addr.family == AF_INET6 ? "[" : "",
			 addr_format(&conf->metrics_listen.addr, (char[ADDR_STRLEN]){0},
				     ADDR_STRLEN),
			 conf->metrics_listen.addr.family == AF_INET6 ? "]" : "",
			 conf->metrics_listen.port);
		free(spool);
	}
	rt->ratelimit = d->ratelimit;
	runtime_publish(rt); /* from here on `conf` belongs to the runtime */
}

/* The milter thread, then the main thread takes the signals (see the top). */
static void start_serving(struct daemon *d)
{
	struct sigaction sa;
	sigset_t none;

	set_thread_stack_default();
	if (pthread_create(&d->milter, NULL, milter_thread, NULL) != 0)
		log_fatal("cannot start the milter thread");
	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		log_fatal("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	log_notice("authscore-milter %s listening on %s", PACKAGE_VERSION, d->conn);
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
}

/* Until a stop signal: reloads on SIGHUP, and the DNS probe's outcome. */
static void signal_loop(struct daemon *d)
{
	while (!got_stop) {
		probe_check(&d->probe);
		wait_signal(d->probe.q != NULL ? 20 : -1);
		if (got_hup && !got_stop) {
			got_hup = 0;
			reload(&d->o, d->dns);
		}
	}
}

/* The order matters: refuse new work, answer what is open, then free. */
static void stop(struct daemon *d)
{
	int64_t stop_start = now_ms();

	callbacks_drain();
	log_notice("stopping: no new connections; waiting for %d message(s) in progress",
		   callbacks_open_messages());
	stop_listener(d->milter);
	wait_callbacks(stop_start, drain_ms());
	if (d->pidfile != NULL && unlink(d->pidfile) != 0)
		log_warn("cannot remove %s: %s", d->pidfile, strerror(errno));
	if (d->path != NULL)
		unlink(d->path);
	free(d->pidfile);
	free(d->conn);
	runtime_publish(NULL);
	metrics_http_stop(&d->metrics); /* before the store it reads */
	store_close(&d->store); /* flushes the queue, spooling what it cannot write */
	ratelimit_free(&d->ratelimit);
	dkim_module_deinit();
	arc_module_deinit();
	dns_query_free(&d->probe.q);
	free(d->probe.name);
	dns_free(&d->dns);
	log_notice("stopped");
}

int main(int argc, char **argv)
{
	struct daemon d = {0};
	char *error = NULL;
	int defaults_only;

	parse_options(argc, argv, &d.o);
	/* Without -c the default file may be absent: built-in defaults, said
	 * so at start and by -n.  A file named with -c must exist. */
	defaults_only =
	    d.o.config_path == NULL && access(CONF_DEFAULT_PATH, F_OK) != 0 && errno == ENOENT;
	log_init("authscore-milter", 1);
	/* The early exits free what they hold: LeakSanitizer checks -n too. */
	if ((d.conf = load_conf(&d.o, &error)) == NULL) {
		fprintf(stderr, "authscore-milter: %s\n", error);
		free(error);
		return 1;
	}
	if (d.conf->user != NULL) {
		if (lookup_user(d.conf->user, &d.id, &error) < 0) {
			fprintf(stderr, "authscore-milter: %s: %s\n", d.conf->path, error);
			free(error);
			conf_free(&d.conf);
			return 1;
		}
		d.have_user = 1;
	}
	if (d.o.check_only)
		return check_only(&d, defaults_only);
	/* Unless the file says where, a daemon in the foreground logs to stderr. */
	log_set_facility(d.conf->log_facility);
	log_init("authscore-milter",
		 d.conf->log_to_stderr < 0 ? d.o.foreground : d.conf->log_to_stderr);
	log_set_level(d.conf->log_level);
	if (!d.o.foreground)
		daemonize();
	limit_malloc_arenas(); /* before any thread */
	block_stop_signals();
	spf_init();
	content_init(); /* GMime, the public suffix list: once, before any thread */
	metrics_start(PACKAGE_VERSION);
	if ((d.dns = runtime_dns_new(d.conf, &error)) == NULL)
		log_fatal("%s", error);
	if (defaults_only)
		log_notice("no configuration file %s: running with the built-in defaults",
			   CONF_DEFAULT_PATH);
	set_dns_consequence(d.conf);
	probe_start(d.dns, d.conf, &d.probe);
	if (dkim_module_init(d.dns, &error) < 0 || arc_module_init(d.dns, &error) < 0)
		log_fatal("%s", error);
	open_milter_socket(&d);
	claim_files(&d);
	if (d.have_user)
		drop_privileges(&d.id);
	else if (geteuid() == 0)
		log_notice("running as root: set `user` in %s or use -u", d.conf->path);
	if (check_spool_dir(d.conf, &error) < 0) /* as our user: the messages' files */
		log_fatal("%s", error);
	d.store = open_store(d.conf);
	d.ratelimit = ratelimit_new(d.conf->ratelimit_table_size);
	start_runtime(&d);
	start_serving(&d);
	signal_loop(&d);
	stop(&d);
	return 0;
}

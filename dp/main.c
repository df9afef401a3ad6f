/* tollgate-dp: the data plane. Options are named after kong.conf keys (flag --proxy-listen,
 * environment TOLLGATE_PROXY_LISTEN, line "proxy_listen = ..." in --conf FILE; flags win
 * over the environment over the file over defaults). The main thread owns configuration:
 * it loads and compiles snapshots, publishes them to the workers, serves /status and
 * handles signals (SIGHUP reloads the declarative file, SIGTERM/SIGINT drain and exit). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "canon.h"
#include "conf.h"
#include "doc_cli.h"
#include "health.h"
#include "model.h"
#include "realip.h"
#include "snapshot.h"
#include "status.h"
#include "tls.h"
#include "version.h"
#include "worker.h"

struct opts {
    const char *check;
    const char *decl;
    const char *access_log;
    const char *ssl_cert, *ssl_cert_key;
    double dns_refresh; /* s; 0: off */
    struct gw_listen status[GW_MAX_LISTENERS];
    int nstatus;
    int nproxy_given, nstatus_given, ntrusted_given;
};

static struct opts o;
static struct gw_snapshot *current;
static uint64_t version;

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: tollgate-dp --check FILE\n"
            "       tollgate-dp --declarative-config FILE [options]\n"
            "       tollgate-dp --version\n"
            "\n"
            "  --check FILE               validate a declarative file (kong.yml or JSON) and\n"
            "                             print every error with its path; exit 1 if invalid\n"
            "  --declarative-config FILE  run a standalone data plane from FILE\n"
            "  --proxy-listen ADDR:PORT   proxy listener (repeatable; default 0.0.0.0:8000 and\n"
            "                             0.0.0.0:8443 ssl); 'ADDR:PORT ssl' serves TLS\n"
            "  --proxy-ssl-listen ADDR:PORT  a TLS proxy listener (repeatable)\n"
            "  --ssl-cert F --ssl-cert-key F  default certificate (else a self-signed one)\n"
            "  --status-listen ADDR:PORT  /status listener (repeatable; default 127.0.0.1:8100)\n"
            "  --workers N                worker threads (default: number of cores)\n"
            "  --access-log PATH|off      access log (default off)\n"
            "  --access-log-format combined|json  (default combined)\n"
            "  --client-max-body-size N[k|m|g]  largest request body (default 0: unlimited)\n"
            "  --max-buffered-body-size N[k|m|g]  largest body held in memory for plugins that\n"
            "                          read it (default 8m; larger requests: 413)\n"
            "  --client-header-timeout S, --client-body-timeout S  (60s), --keepalive-timeout S (75s)\n"
            "  --dns-resolver IP[:PORT],...  DNS servers (default: /etc/resolv.conf)\n"
            "  --dns-refresh-interval S   lookups of names without a TTL (default 30; 0: none)\n"
            "  --trusted-ips IP[/BITS],...  peers whose real-IP and X-Forwarded-* headers are\n"
            "                             believed (repeatable; 0.0.0.0/0,::/0: all)\n"
            "  --real-ip-header NAME      header with the client address (default X-Real-IP)\n"
            "  --real-ip-recursive on|off  skip trusted addresses in it (default off)\n"
            "  --conf FILE                kong.conf-style file: key = value\n"
            "Each option may also come from the environment: TOLLGATE_PROXY_LISTEN, ...\n");
}

/* "ADDR:PORT" or "[v6]:PORT"; a trailing " ssl" marks TLS (not served yet). */
static int
parse_listen(const char *text, struct gw_listen *l)
{
    char host[64];
    const char *colon;
    int port;

    memset(l, 0, sizeof *l);
    snprintf(l->text, sizeof l->text, "%s", text);
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (end == NULL || end[1] != ':') {
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(end - text - 1), text + 1);
        colon = end + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
    }
    char *endp;
    port = (int)strtol(colon + 1, &endp, 10);
    if (port <= 0 || port > 65535 || (*endp && strcmp(endp, " ssl") != 0)) {
        return -1;
    }
    l->ssl = *endp != '\0';
    l->port = port;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&l->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&l->addr;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        l->addrlen = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        l->addrlen = sizeof *a6;
        return 0;
    }
    return -1;
}

/* nginx sizes: 1024, 8k, 10m, 1g; 0 means unlimited. */
static int
parse_size(const char *v, int64_t *out)
{
    char *end;
    long long n = strtoll(v, &end, 10);

    if (end == v || n < 0) {
        return -1;
    }
    switch (*end) {
    case 'k': case 'K': n *= 1024; end++; break;
    case 'm': case 'M': n *= 1024 * 1024; end++; break;
    case 'g': case 'G': n *= 1024LL * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end) {
        return -1;
    }
    *out = n;
    return 0;
}

/* One option by its kong.conf key; from the file, the environment or a flag. */
static int
set_option(const char *key, const char *val, int *nproxy_src)
{
    if (strcmp(key, "declarative_config") == 0) {
        o.decl = strdup(val);
    } else if (strcmp(key, "proxy_listen") == 0 || strcmp(key, "status_listen") == 0 ||
               strcmp(key, "proxy_ssl_listen") == 0) {
        int proxy = key[0] == 'p';
        int ssl = strcmp(key, "proxy_ssl_listen") == 0;
        /* kong.conf lists several addresses separated by commas */
        char *copy = strdup(val), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (isspace((unsigned char)*t)) {
                t++;
            }
            int *n = proxy ? &gw_opts.nlisten : &o.nstatus;
            struct gw_listen *arr = proxy ? gw_opts.listens : o.status;
            if (*n >= GW_MAX_LISTENERS || parse_listen(t, &arr[*n]) < 0) {
                fprintf(stderr, "tollgate-dp: bad %s '%s': expected ADDR:PORT\n", key, t);
                free(copy);
                return -1;
            }
            arr[*n].ssl |= ssl;
            (*n)++;
        }
        free(copy);
        (void)nproxy_src;
    } else if (strcmp(key, "client_max_body_size") == 0 ||
               strcmp(key, "nginx_http_client_max_body_size") == 0) {
        if (parse_size(val, &gw_opts.client_max_body_size) < 0) {
            fprintf(stderr, "tollgate-dp: %s: expected a size such as 10m (0: unlimited)\n", key);
            return -1;
        }
    } else if (strcmp(key, "max_buffered_body_size") == 0) {
        /* ours: kong.conf has no key for it (client_body_buffer_size only says when nginx
         * spills a body to a temporary file) */
        if (parse_size(val, &gw_opts.max_buffered_body_size) < 0 ||
            gw_opts.max_buffered_body_size < 1) {
            fprintf(stderr, "tollgate-dp: %s: expected a size such as 8m\n", key);
            return -1;
        }
    } else if (strcmp(key, "client_header_timeout") == 0 ||
               strcmp(key, "nginx_http_client_header_timeout") == 0 ||
               strcmp(key, "client_body_timeout") == 0 ||
               strcmp(key, "nginx_http_client_body_timeout") == 0 ||
               strcmp(key, "keepalive_timeout") == 0 ||
               strcmp(key, "nginx_http_keepalive_timeout") == 0) {
        double *dst = strstr(key, "header") ? &gw_opts.client_header_timeout
                      : strstr(key, "body") ? &gw_opts.client_body_timeout
                                             : &gw_opts.keepalive_timeout;
        char *end;
        double t = strtod(val, &end);
        if (end == val || t <= 0 || (*end && strcmp(end, "s") != 0)) {
            fprintf(stderr, "tollgate-dp: %s: expected seconds such as 60s\n", key);
            return -1;
        }
        *dst = t;
    } else if (strcmp(key, "trusted_ips") == 0) {
        if (gw_realip_add_trusted(val) < 0) {
            fprintf(stderr, "tollgate-dp: trusted_ips: expected IP or CIDR entries: '%s'\n", val);
            return -1;
        }
    } else if (strcmp(key, "real_ip_header") == 0) {
        if (strcmp(val, "proxy_protocol") == 0 || gw_realip_set_header(val) < 0) {
            fprintf(stderr, "tollgate-dp: real_ip_header: expected a header name\n");
            return -1;
        }
    } else if (strcmp(key, "real_ip_recursive") == 0) {
        if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0) {
            fprintf(stderr, "tollgate-dp: real_ip_recursive: expected on or off\n");
            return -1;
        }
        gw_realip_set_recursive(strcmp(val, "on") == 0);
    } else if (strcmp(key, "dns_resolver") == 0) {
        gw_dns_resolver = strdup(val);
    } else if (strcmp(key, "dns_refresh_interval") == 0) {
        o.dns_refresh = strtod(val, NULL);
    } else if (strcmp(key, "nginx_worker_processes") == 0 || strcmp(key, "workers") == 0) {
        gw_opts.workers = atoi(val);
    } else if (strcmp(key, "ssl_cert") == 0) {
        o.ssl_cert = strdup(val);
    } else if (strcmp(key, "ssl_cert_key") == 0) {
        o.ssl_cert_key = strdup(val);
    } else if (strcmp(key, "access_log_format") == 0) {
        if (strcmp(val, "json") != 0 && strcmp(val, "combined") != 0) {
            fprintf(stderr, "tollgate-dp: access_log_format: expected combined or json\n");
            return -1;
        }
        gw_opts.access_log_json = strcmp(val, "json") == 0;
    } else if (strcmp(key, "proxy_access_log") == 0 || strcmp(key, "access_log") == 0) {
        o.access_log = strdup(val);
    } else {
        fprintf(stderr, "tollgate-dp: unknown option '%s'\n", key);
        return -1;
    }
    return 0;
}

static int
conf_line(const char *key, const char *value, void *ud)
{
    (void)ud;
    return set_option(key, value, NULL);
}

static struct gw_snapshot *
load_snapshot(const char *path)
{
    size_t len;
    char *buf = gw_read_file(path, &len);
    struct gw_config *cfg;
    struct gw_parse_err perr;
    json_t *errs = NULL;
    char err[256];

    if (buf == NULL) {
        fprintf(stderr, "tollgate-dp: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    int rc = gw_doc_load(buf, len, gw_fmt_for_path(path), &cfg, &errs, &perr);
    free(buf);
    if (rc == GW_DOC_EPARSE) {
        fprintf(stderr, "tollgate-dp: %s:%d:%d: %s\n", path, perr.line, perr.column, perr.msg);
        return NULL;
    }
    if (rc == GW_DOC_EINVALID) {
        gw_doc_print_errors(errs, stderr);
        json_decref(errs);
        fprintf(stderr, "tollgate-dp: %s: invalid declarative configuration\n", path);
        return NULL;
    }
    if (rc < 0) {
        fprintf(stderr, "tollgate-dp: %s: out of memory\n", path);
        return NULL;
    }
    struct gw_snapshot *s = gw_snapshot_build(cfg, ++version, err, sizeof err);
    if (s == NULL) {
        fprintf(stderr, "tollgate-dp: %s: %s\n", path, err);
    }
    return s;
}

static void dns_schedule(int ttl);

static void
publish(struct gw_snapshot *s)
{
    gw_workers_publish(s);
    gw_health_publish(s);
    gw_snapshot_unref(current);
    current = s;
    gw_status_set_config(s->cfg->hash, s->version);
    dns_schedule(s->dns_ttl);
}

/* The config thread: reloads and DNS re-resolution block (file reads, getaddrinfo, a
 * snapshot compile), so they run here, never on the main loop (which serves /status and
 * signals) nor on a worker. The main loop only posts work. */
enum { WORK_RELOAD = 1, WORK_DNS = 2, WORK_EXIT = 4 };

static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cond = PTHREAD_COND_INITIALIZER;
static unsigned work;
static pthread_t config_thread;

static void
post_work(unsigned w)
{
    pthread_mutex_lock(&work_lock);
    work |= w;
    pthread_cond_signal(&work_cond);
    pthread_mutex_unlock(&work_lock);
}

static void
reload(void)
{
    struct gw_snapshot *s = load_snapshot(o.decl);

    if (s == NULL) {
        fprintf(stderr, "tollgate-dp: reload refused; still serving config version %llu\n",
                (unsigned long long)current->version);
        return;
    }
    publish(s);
    fprintf(stderr, "tollgate-dp: reloaded %s: version %llu hash %s\n", o.decl,
            (unsigned long long)s->version, s->cfg->hash);
}

/* DNS answers change without the config changing: when a name now has other addresses,
 * the same config (its canonical form) is compiled again. Health and pools are keyed by
 * upstream and address, so they carry over. getaddrinfo gives no TTL: names are
 * re-resolved every dns_refresh_interval seconds instead. */
static double dns_due; /* monotonic time of the next lookup; config thread only */

static double
mono_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Next lookup: when the shortest TTL runs out, or dns_refresh_interval for names without a
 * TTL (hosts file); at least a second apart. */
static void
dns_schedule(int ttl)
{
    double wait = ttl > 0 ? ttl : o.dns_refresh;
    dns_due = mono_now() + (wait < 1 ? 1 : wait);
}

static void
dns_check(void)
{
    char which[128], err[256];
    size_t len;
    int ttl;

    if (mono_now() < dns_due) {
        return;
    }
    int changed = gw_snapshot_dns_changed(current, which, sizeof which, &ttl);
    dns_schedule(ttl);
    if (!changed) {
        return;
    }
    char *text = gw_canon_json(current->cfg, &len);
    struct gw_config *cfg = NULL;
    struct gw_parse_err perr;
    if (text == NULL || gw_doc_load(text, len, GW_FMT_JSON, &cfg, NULL, &perr) != 0) {
        free(text);
        return;
    }
    free(text);
    struct gw_snapshot *s = gw_snapshot_build(cfg, ++version, err, sizeof err);
    if (s == NULL) {
        fprintf(stderr, "tollgate-dp: DNS refresh: %s\n", err);
        return;
    }
    fprintf(stderr, "tollgate-dp: DNS answer changed for %s: config version %llu\n", which,
            (unsigned long long)s->version);
    publish(s);
}

static void *
config_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&work_lock);
        while (work == 0) {
            pthread_cond_wait(&work_cond, &work_lock);
        }
        unsigned w = work;
        work = 0;
        pthread_mutex_unlock(&work_lock);
        if (w & WORK_EXIT) {
            return NULL;
        }
        if (w & WORK_RELOAD) {
            reload();
        }
        if (w & WORK_DNS) {
            dns_check();
        }
    }
}

static void
on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop, (void)w, (void)revents;
    post_work(WORK_RELOAD);
}

static void
on_dns_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)t, (void)revents;
    post_work(WORK_DNS);
}

static void
on_term(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w, (void)revents;
    fprintf(stderr, "tollgate-dp: draining and exiting\n");
    ev_break(loop, EVBREAK_ALL);
}

static int
run(void)
{
    struct ev_loop *loop = ev_default_loop(0);
    static ev_signal hup, term, intr;
    sigset_t block, old;

    if (gw_opts.nlisten == 0) {
        /* Kong's default proxy_listen: 0.0.0.0:8000, 0.0.0.0:8443 ssl */
        parse_listen("0.0.0.0:8000", &gw_opts.listens[gw_opts.nlisten++]);
        parse_listen("0.0.0.0:8443 ssl", &gw_opts.listens[gw_opts.nlisten++]);
    }
    if (o.nstatus == 0) {
        parse_listen("127.0.0.1:8100", &o.status[o.nstatus++]);
    }
    if (gw_opts.workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        gw_opts.workers = n > 0 ? (int)n : 1;
    }
    if (gw_tls_init(o.ssl_cert, o.ssl_cert_key) < 0) {
        fprintf(stderr, "tollgate-dp: TLS initialisation failed\n");
        return 1;
    }
    if (o.access_log && strcmp(o.access_log, "off") != 0) {
        gw_opts.access_log = fopen(o.access_log, "a");
        if (gw_opts.access_log == NULL) {
            fprintf(stderr, "tollgate-dp: cannot open %s: %s\n", o.access_log, strerror(errno));
            return 1;
        }
        setvbuf(gw_opts.access_log, NULL, _IOLBF, 0);
    }
    current = load_snapshot(o.decl);
    if (current == NULL) {
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* workers inherit a mask without the signals the main loop handles */
    sigemptyset(&block);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    if (gw_workers_start(current) < 0) {
        return 1;
    }
    if (gw_health_start(current) < 0) {
        return 1;
    }
    if (pthread_create(&config_thread, NULL, config_main, NULL) != 0) {
        return 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (gw_status_start(loop, o.status, o.nstatus) < 0) {
        return 1;
    }
    gw_status_set_config(current->cfg->hash, current->version);
    ev_signal_init(&hup, on_hup, SIGHUP);
    ev_signal_init(&term, on_term, SIGTERM);
    ev_signal_init(&intr, on_term, SIGINT);
    ev_signal_start(loop, &hup);
    ev_signal_start(loop, &term);
    ev_signal_start(loop, &intr);
    static ev_timer dns;
    if (o.dns_refresh > 0) {
        /* a tick: the config thread looks up names whose TTL ran out */
        dns_schedule(current->dns_ttl);
        ev_timer_init(&dns, on_dns_timer, 1., 1.);
        ev_timer_start(loop, &dns);
    }
    for (int i = 0; i < gw_opts.nlisten; i++) {
        fprintf(stderr, "tollgate-dp: proxy listening on %s\n", gw_opts.listens[i].text);
    }
    for (int i = 0; i < o.nstatus; i++) {
        fprintf(stderr, "tollgate-dp: status on http://%s/status\n", o.status[i].text);
    }
    fprintf(stderr, "tollgate-dp: %d workers, config %s version %llu hash %s\n", gw_nworkers,
            o.decl, (unsigned long long)current->version, current->cfg->hash);
    ev_run(loop, 0);
    post_work(WORK_EXIT);
    pthread_join(config_thread, NULL);
    gw_workers_stop(30);
    gw_health_stop();
    gw_snapshot_unref(current);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"check", required_argument, NULL, 'c'},
        {"declarative-config", required_argument, NULL, 'd'},
        {"proxy-listen", required_argument, NULL, 'p'},
        {"proxy-ssl-listen", required_argument, NULL, 'P'},
        {"ssl-cert", required_argument, NULL, 'C'},
        {"ssl-cert-key", required_argument, NULL, 'K'},
        {"status-listen", required_argument, NULL, 's'},
        {"workers", required_argument, NULL, 'w'},
        {"access-log", required_argument, NULL, 'a'},
        {"access-log-format", required_argument, NULL, 'L'},
        {"client-max-body-size", required_argument, NULL, 1000},
        {"client-header-timeout", required_argument, NULL, 1001},
        {"client-body-timeout", required_argument, NULL, 1002},
        {"keepalive-timeout", required_argument, NULL, 1003},
        {"dns-refresh-interval", required_argument, NULL, 1004},
        {"dns-resolver", required_argument, NULL, 1005},
        {"trusted-ips", required_argument, NULL, 1006},
        {"real-ip-header", required_argument, NULL, 1007},
        {"real-ip-recursive", required_argument, NULL, 1008},
        {"max-buffered-body-size", required_argument, NULL, 1100},
        {"conf", required_argument, NULL, 'f'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const env_keys[] = {"declarative_config", "proxy_listen",
                                           "proxy_ssl_listen", "status_listen", "workers",
                                           "access_log", "access_log_format", "ssl_cert",
                                           "ssl_cert_key", "client_max_body_size",
                                           "max_buffered_body_size",
                                           "client_header_timeout", "client_body_timeout",
                                           "keepalive_timeout", "dns_refresh_interval",
                                           "dns_resolver", "trusted_ips", "real_ip_header",
                                           "real_ip_recursive", NULL};
    /* flags 1000.. carry the kong.conf key of the same name */
    static const char *const generic[] = {"client_max_body_size", "client_header_timeout",
                                          "client_body_timeout", "keepalive_timeout",
                                          "dns_refresh_interval", "dns_resolver",
                                          "trusted_ips", "real_ip_header", "real_ip_recursive"};
    const char *conf = getenv("TOLLGATE_CONF");
    int c;

    o.dns_refresh = 30;
    /* first pass: --conf and the informational flags */
    while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        if (c == 'f') {
            conf = optarg;
        } else if (c == 'V') {
            printf("%s\n", GW_PRODUCT);
            return 0;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else if (c == '?') {
            usage(stderr);
            return 2;
        }
    }
    if (conf && gw_conf_read(conf, "tollgate-dp", conf_line, NULL) < 0) {
        return 2;
    }
    /* then the environment, then flags; a listener list from a later source replaces the
     * earlier one */
    for (const char *const *k = env_keys; *k; k++) {
        char name[64];
        gw_conf_env_name(*k, name, sizeof name);
        const char *v = getenv(name);
        if (v && *v) {
            if (strcmp(*k, "proxy_listen") == 0) {
                gw_opts.nlisten = 0;
            } else if (strcmp(*k, "status_listen") == 0) {
                o.nstatus = 0;
            } else if (strcmp(*k, "trusted_ips") == 0) {
                gw_realip_clear_trusted();
            }
            if (set_option(*k, v, NULL) < 0) {
                return 2;
            }
        }
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'c':
            o.check = optarg;
            break;
        case 'd':
            rc = set_option("declarative_config", optarg, NULL);
            break;
        case 'p':
            if (o.nproxy_given++ == 0) {
                gw_opts.nlisten = 0;
            }
            rc = set_option("proxy_listen", optarg, NULL);
            break;
        case 'P':
            if (o.nproxy_given++ == 0) {
                gw_opts.nlisten = 0;
            }
            rc = set_option("proxy_ssl_listen", optarg, NULL);
            break;
        case 'C':
            rc = set_option("ssl_cert", optarg, NULL);
            break;
        case 'K':
            rc = set_option("ssl_cert_key", optarg, NULL);
            break;
        case 's':
            if (o.nstatus_given++ == 0) {
                o.nstatus = 0;
            }
            rc = set_option("status_listen", optarg, NULL);
            break;
        case 'w':
            rc = set_option("workers", optarg, NULL);
            break;
        case 'a':
            rc = set_option("access_log", optarg, NULL);
            break;
        case 'L':
            rc = set_option("access_log_format", optarg, NULL);
            break;
        case 1000:
        case 1001:
        case 1002:
        case 1003:
        case 1004:
        case 1005:
        case 1007:
        case 1008:
            rc = set_option(generic[c - 1000], optarg, NULL);
            break;
        case 1006:
            if (o.ntrusted_given++ == 0) {
                gw_realip_clear_trusted();
            }
            rc = set_option("trusted_ips", optarg, NULL);
            break;
        case 1100:
            rc = set_option("max_buffered_body_size", optarg, NULL);
            break;
        default:
            break;
        }
        if (rc < 0) {
            return 2;
        }
    }
    if (gw_model_init() < 0) {
        fprintf(stderr, "tollgate-dp: schema initialisation failed\n");
        return 1;
    }
    if (o.check) {
        return gw_doc_check_file(o.check, stdout, stderr);
    }
    if (o.decl) {
        return run();
    }
    usage(stderr);
    return 2;
}

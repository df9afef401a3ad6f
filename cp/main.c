/* tollgate-cp: the control plane. It owns PostgreSQL (schema migrations, the entity store)
 * and serves the Admin API. Options are named after kong.conf keys: the key admin_listen is
 * the flag --admin-listen, the environment variable TOLLGATE_ADMIN_LISTEN and the line
 * "admin_listen = ..." in --conf FILE; flags win over the environment over the file over
 * defaults. */
#define _GNU_SOURCE
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "admin_ent.h"
#include "conf.h"
#include "doc_cli.h"
#include "migrate.h"
#include "model.h"
#include "store.h"
#include "version.h"

enum okind { O_STR = 0, O_INT, O_SIZE, O_LISTEN, O_SSL_LISTEN };

static struct gw_admin_opts admin;
static const char *pg_dsn, *pg_host = "127.0.0.1", *pg_user = "kong", *pg_password,
                           *pg_database = "kong", *pg_ssl = "off";
static int pg_port = 5432, pg_pool_size = 16;

/* every option: its kong.conf key, how to read it, where it goes */
static const struct opt {
    const char *key;
    enum okind kind;
    void *dst;
    const char *help;
} opts[] = {
    {"pg_dsn", O_STR, &pg_dsn, "libpq connection string (else the pg_* options)"},
    {"pg_host", O_STR, &pg_host, "PostgreSQL host (127.0.0.1)"},
    {"pg_port", O_INT, &pg_port, "PostgreSQL port (5432)"},
    {"pg_user", O_STR, &pg_user, "PostgreSQL user (kong)"},
    {"pg_password", O_STR, &pg_password, "PostgreSQL password"},
    {"pg_database", O_STR, &pg_database, "PostgreSQL database (kong)"},
    {"pg_ssl", O_STR, &pg_ssl, "on: require TLS to PostgreSQL (off)"},
    {"pg_pool_size", O_INT, &pg_pool_size, "PostgreSQL connections (16)"},
    {"admin_listen", O_LISTEN, NULL, "Admin API ADDR:PORT, repeatable (127.0.0.1:8001)"},
    {"admin_ssl_listen", O_SSL_LISTEN, NULL, "Admin API over TLS, ADDR:PORT, repeatable"},
    {"admin_ssl_cert", O_STR, &admin.ssl_cert, "PEM certificate for the TLS listeners"},
    {"admin_ssl_cert_key", O_STR, &admin.ssl_cert_key, "PEM key for the TLS listeners"},
    {"admin_ssl_client_ca", O_STR, &admin.ssl_client_ca,
     "PEM CA: the TLS listeners then require client certificates it signed"},
    {"admin_token", O_STR, &admin.token,
     "require this token (Kong-Admin-Token or Authorization: Bearer)"},
    {"admin_gui_url", O_STR, &admin.gui_url, "Kong Manager origins allowed by CORS (comma list)"},
    {"admin_client_max_body_size", O_SIZE, &admin.max_body_bytes,
     "largest request body, e.g. 10m (also nginx_admin_client_max_body_size)"},
    {"admin_workers", O_INT, &admin.threads, "Admin API threads (8)"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

static void
usage(FILE *f)
{
    fprintf(f, "usage: tollgate-cp [options]                 run the control plane\n"
               "       tollgate-cp migrations bootstrap|up|finish|list|reset [--yes] [options]\n"
               "       tollgate-cp --check FILE               validate a declarative file\n"
               "       tollgate-cp --version\n\noptions (kong.conf keys; also TOLLGATE_<KEY> "
               "and 'key = value' lines in --conf FILE):\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", opts[i].key);
        for (char *p = flag; *p; p++) {
            *p = *p == '_' ? '-' : *p;
        }
        fprintf(f, "  %-30s %s\n", flag, opts[i].help);
    }
    fprintf(f, "  %-30s %s\n", "--conf FILE", "kong.conf-style file");
}

static int
parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);

    if (end == s) {
        return -1;
    }
    switch (tolower((unsigned char)*end)) {
    case 'k': v <<= 10, end++; break;
    case 'm': v <<= 20, end++; break;
    case 'g': v <<= 30, end++; break;
    default: break;
    }
    if (*end != '\0') {
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static int nlisten_src, nssl_src; /* which source set the listeners last: 0 none */

static int
set_option(const char *key, const char *val, int src)
{
    if (strcmp(key, "nginx_admin_client_max_body_size") == 0) {
        key = "admin_client_max_body_size";
    }
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        if (strcmp(o->key, key) != 0) {
            continue;
        }
        switch (o->kind) {
        case O_STR:
            *(const char **)o->dst = strdup(val);
            return 0;
        case O_INT: {
            char *end;
            long v = strtol(val, &end, 10);
            if (*val == '\0' || *end != '\0' || v < 0 || v > 1 << 20) {
                fprintf(stderr, "tollgate-cp: %s: expected a number, got '%s'\n", key, val);
                return -1;
            }
            *(int *)o->dst = (int)v;
            return 0;
        }
        case O_SIZE:
            if (parse_size(val, o->dst) < 0) {
                fprintf(stderr, "tollgate-cp: %s: expected a size such as 10m, got '%s'\n", key,
                        val);
                return -1;
            }
            return 0;
        case O_LISTEN:
        case O_SSL_LISTEN: {
            int ssl = o->kind == O_SSL_LISTEN;
            int *n = ssl ? &admin.nssl_listen : &admin.nlisten;
            const char **arr = ssl ? admin.ssl_listen : admin.listen;
            int *from = ssl ? &nssl_src : &nlisten_src;
            if (*from != src) { /* a later source replaces the list */
                *n = 0;
                *from = src;
            }
            /* kong.conf lists several addresses separated by commas; "off" means none */
            char *copy = strdup(val), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                while (isspace((unsigned char)*t)) {
                    t++;
                }
                t[strcspn(t, " \t")] = '\0'; /* "127.0.0.1:8444 ssl http2": the address */
                if (strcmp(t, "off") == 0) {
                    continue;
                }
                if (*n >= GW_ADMIN_MAX_LISTEN || strrchr(t, ':') == NULL) {
                    fprintf(stderr, "tollgate-cp: bad %s '%s': expected ADDR:PORT\n", key, t);
                    free(copy);
                    return -1;
                }
                arr[(*n)++] = strdup(t);
            }
            free(copy);
            return 0;
        }
        }
    }
    fprintf(stderr, "tollgate-cp: unknown option '%s'\n", key);
    return -1;
}

/* one line of a --conf file; a kong.conf carries many keys that mean nothing here: skip them */
static int
conf_line(const char *key, const char *value, void *ud)
{
    int known = strcmp(key, "nginx_admin_client_max_body_size") == 0;

    (void)ud;
    for (size_t i = 0; i < NOPTS && !known; i++) {
        known = strcmp(opts[i].key, key) == 0;
    }
    return known ? set_option(key, value, 1) : 0;
}

/* the DSN: --pg-dsn, else one built from Kong's pg_* keys */
static char *
dsn(void)
{
    char buf[1024];

    if (pg_dsn && *pg_dsn) {
        return strdup(pg_dsn);
    }
    snprintf(buf, sizeof buf, "host=%s port=%d user=%s dbname=%s%s%s sslmode=%s", pg_host,
             pg_port, pg_user, pg_database, pg_password ? " password=" : "",
             pg_password ? pg_password : "", strcmp(pg_ssl, "on") == 0 ? "require" : "prefer");
    return strdup(buf);
}

static int
serve(void)
{
    char *conninfo = dsn(), msg[512];
    sigset_t set;
    int sig;

    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "tollgate-cp: cannot connect to PostgreSQL: %s", PQerrorMessage(c));
        PQfinish(c);
        return 1;
    }
    int rc = gw_migrate_check(c, msg, sizeof msg);
    PQfinish(c);
    if (rc != 0) {
        fprintf(stderr, "tollgate-cp: %s\n", msg);
        return 1;
    }
    if (msg[0]) {
        fprintf(stderr, "tollgate-cp: warning: %s\n", msg);
    }
    PQconninfoOption *info = PQconninfoParse(conninfo, NULL);
    for (PQconninfoOption *o = info; o && o->keyword; o++) {
        if (o->val && strcmp(o->keyword, "host") == 0) {
            admin.pg_host = strdup(o->val);
        } else if (o->val && strcmp(o->keyword, "port") == 0) {
            admin.pg_port = atoi(o->val);
        } else if (o->val && strcmp(o->keyword, "user") == 0) {
            admin.pg_user = strdup(o->val);
        } else if (o->val && strcmp(o->keyword, "dbname") == 0) {
            admin.pg_database = strdup(o->val);
        }
    }
    PQconninfoFree(info);
    admin.store = gw_store_open(conninfo, pg_pool_size > 0 ? pg_pool_size : 16);
    if (admin.store == NULL) {
        return 1;
    }
    /* signals are taken by this thread only: block them before any thread starts */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (gw_admin_start(&admin) < 0) {
        return 1;
    }
    fprintf(stderr, "tollgate-cp: %s started\n", GW_PRODUCT);
    sigwait(&set, &sig);
    fprintf(stderr, "tollgate-cp: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    gw_admin_stop();
    gw_store_close(admin.store);
    free(conninfo);
    return 0;
}

int
main(int argc, char **argv)
{
    static struct option lo[NOPTS + 6]; /* static: its strings live as long as the process */
    const char *conf = getenv("TOLLGATE_CONF"), *check = NULL;
    int yes = 0, c, n = 0;

    for (size_t i = 0; i < NOPTS; i++) {
        char *flag = strdup(opts[i].key);
        for (char *p = flag; *p; p++) {
            *p = *p == '_' ? '-' : *p;
        }
        lo[n++] = (struct option){flag, required_argument, NULL, 1000 + (int)i};
    }
    lo[n++] = (struct option){"conf", required_argument, NULL, 'f'};
    lo[n++] = (struct option){"check", required_argument, NULL, 'c'};
    lo[n++] = (struct option){"yes", no_argument, NULL, 'y'};
    lo[n++] = (struct option){"version", no_argument, NULL, 'V'};
    lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n] = (struct option){NULL, 0, NULL, 0};

    admin.max_body_bytes = 10 << 20;
    admin.threads = 8;
    /* first pass: --conf and the informational flags */
    while ((c = getopt_long(argc, argv, "hVy", lo, NULL)) != -1) {
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
    if (conf && gw_conf_read(conf, "tollgate-cp", conf_line, NULL) < 0) {
        return 2;
    }
    for (size_t i = 0; i < NOPTS; i++) {
        char name[80];
        gw_conf_env_name(opts[i].key, name, sizeof name);
        const char *v = getenv(name);
        if (v && *v && set_option(opts[i].key, v, 2) < 0) {
            return 2;
        }
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "hVy", lo, NULL)) != -1) {
        if (c >= 1000 && set_option(opts[c - 1000].key, optarg, 3) < 0) {
            return 2;
        } else if (c == 'c') {
            check = optarg;
        } else if (c == 'y') {
            yes = 1;
        }
    }
    if (gw_model_init() < 0) {
        fprintf(stderr, "tollgate-cp: schema initialisation failed\n");
        return 1;
    }
    if (check) {
        return gw_doc_check_file(check, stdout, stderr);
    }
    if (optind < argc && strcmp(argv[optind], "migrations") == 0) {
        char *args[8];
        int na = 0;
        for (int i = optind + 1; i < argc && na < 6; i++) {
            args[na++] = argv[i];
        }
        if (yes) {
            args[na++] = "--yes";
        }
        args[na] = NULL;
        if (na == 0) {
            usage(stderr);
            return 2;
        }
        char *conninfo = dsn();
        int rc = gw_migrate_cli(conninfo, na, args);
        free(conninfo);
        return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "tollgate-cp: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (admin.nlisten == 0 && nlisten_src == 0) {
        admin.listen[admin.nlisten++] = "127.0.0.1:8001";
    }
    gw_ent_init();
    return serve();
}

/* The Admin API server: libmicrohttpd plumbing, dispatch, CORS, the token check, replies
 * and the audit line. Handlers live in admin_entity.c, admin_info.c and admin_config.c. */
#include "admin.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "admin_int.h"
#include "store.h"
#include "version.h"

static struct gw_admin_opts opts;
static struct MHD_Daemon *daemons[2 * GW_ADMIN_MAX_LISTEN];
static int ndaemons;
static char *ssl_cert_pem, *ssl_key_pem, *ssl_ca_pem;
static _Atomic long total_requests, connections_accepted, connections_active;

void
gw_admin_counters(long *total, long *accepted, long *active)
{
    *total = total_requests;
    *accepted = connections_accepted;
    *active = connections_active;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
              enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    (void)conn;
    (void)socket_ctx;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        connections_accepted++;
        connections_active++;
    } else {
        connections_active--;
    }
}

/* ---- small helpers ---- */

int
is_uuid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    size_t n = strlen(s);

    if (n != 36) {
        return 0;
    }
    for (size_t i = 0, d = 0; i < n; i++) {
        if (d < 4 && (int)i == dash[d]) {
            if (s[i] != '-') {
                return 0;
            }
            d++;
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static int
hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* %XX decoded in place; a %00 stays encoded (a key never holds a NUL) */
static void
pct_decode(char *s)
{
    char *w = s;

    for (; *s; s++) {
        int hi, lo;
        if (*s == '%' && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            s += 2;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
}

/* libmicrohttpd hands the URL and its arguments over undecoded (see keep_raw): the path is
 * split first and each segment decoded after, so an endpoint key may hold an encoded '/'
 * (Kong decodes after routing too); arguments are decoded here, on first use. */
const char *
areq_arg(struct areq *r, const char *name)
{
    const char *raw = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);

    if (raw == NULL || strchr(raw, '%') == NULL) {
        return raw;
    }
    if (r->nargbufs == AREQ_MAX_ARGBUFS) {
        return raw;
    }
    char *d = strdup(raw);
    if (d == NULL) {
        return raw;
    }
    pct_decode(d);
    r->argbufs[r->nargbufs++] = d;
    return d;
}

static size_t
keep_raw(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

const char *
areq_header(struct areq *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

PGconn *
areq_pg(struct areq *r)
{
    char err[256];

    if (r->pg) {
        return r->pg;
    }
    r->pg = gw_store_get(opts.store, err, sizeof err);
    if (r->pg == NULL) {
        char msg[400];
        snprintf(msg, sizeof msg, "database unavailable: %s", err);
        reply_msg(r, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    return r->pg;
}

void
reply_raw(struct areq *r, int status, char *text, size_t len)
{
    free(r->out);
    r->status = status;
    r->out = text;
    r->out_len = len;
}

void
reply_json(struct areq *r, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (s == NULL) {
        s = strdup("{\"message\":\"An unexpected error occurred\"}");
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    reply_raw(r, status, s, strlen(s));
}

void
reply_msg(struct areq *r, int status, const char *msg)
{
    reply_json(r, status, json_pack("{s:s}", "message", msg));
}

void
reply_err(struct areq *r, int status, int code, const char *name, const char *message,
          json_t *fields)
{
    json_t *j = json_pack("{s:i,s:s,s:s}", "code", code, "name", name, "message", message);

    if (fields) {
        json_object_set_new(j, "fields", fields);
    }
    reply_json(r, status, j);
}

void
reply_db(struct areq *r, PGresult *res)
{
    if (r->pg && gw_store_conn_lost(r->pg, res)) {
        char msg[400];
        const char *e = PQerrorMessage(r->pg);
        size_t n = strcspn(e, "\n");
        snprintf(msg, sizeof msg, "database unavailable: %.*s", (int)n, e);
        reply_msg(r, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
        return;
    }
    fprintf(stderr, "tollgate-cp: database error on %s %s: %s", r->method, r->path_text,
            res ? PQresultErrorMessage(res) : "no result\n");
    reply_msg(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "An unexpected error occurred");
}

/* ---- CORS (what Kong Manager needs, admin-gui.md) ---- */

static const char *
cors_origin(struct areq *r)
{
    const char *origin = areq_header(r, "Origin");

    if (opts.gui_url == NULL || *opts.gui_url == '\0') {
        return origin ? origin : "*";
    }
    /* the request's origin when configured, else the first configured one */
    static __thread char first[256];
    const char *p = opts.gui_url;
    size_t n = strcspn(p, ",");
    snprintf(first, sizeof first, "%.*s", (int)n, p);
    for (; *p; p += n + (p[n] == ',')) {
        while (*p == ' ') {
            p++;
        }
        n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '/')) {
            m--;
        }
        if (origin && strlen(origin) == m && strncmp(origin, p, m) == 0) {
            return origin;
        }
    }
    return first;
}

/* ---- the token ---- */

static int
token_ok(struct areq *r)
{
    const char *given = areq_header(r, "Kong-Admin-Token");
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];

    if (opts.token == NULL) {
        return 1;
    }
    if (given == NULL) {
        const char *auth = areq_header(r, "Authorization");
        if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
            given = auth + 7;
        }
    }
    if (given == NULL) {
        return 0;
    }
    /* compare digests: constant time, and the length of the token does not leak */
    SHA256((const unsigned char *)given, strlen(given), a);
    SHA256((const unsigned char *)opts.token, strlen(opts.token), b);
    return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

/* ---- client certificates on the TLS listener ---- */

/* libmicrohttpd only asks for a certificate (MHD_OPTION_HTTPS_MEM_TRUST); whether one was
 * sent and verified is checked here, on every request. */
static int
client_cert_ok(struct areq *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    unsigned int status = 0;

    if (ci == NULL || ci->tls_session == NULL) {
        return 1; /* the plain listener */
    }
    if (ssl_ca_pem == NULL) {
        return 1;
    }
    gnutls_session_t s = (gnutls_session_t)ci->tls_session;
    if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509) {
        return 0;
    }
    unsigned int n = 0;
    if (gnutls_certificate_get_peers(s, &n) == NULL || n == 0) {
        return 0;
    }
    return gnutls_certificate_verify_peers2(s, &status) == 0 && status == 0;
}

/* ---- dispatch ---- */

int
areq_method_in(const char *allow, const char *method)
{
    size_t n = strlen(method);

    for (const char *p = allow; p && *p;) {
        size_t m = strcspn(p, ",");
        if (m == n && strncmp(p, method, n) == 0) {
            return 1;
        }
        p += m;
        while (*p == ',' || *p == ' ') {
            p++;
        }
    }
    return 0;
}

/* Kong's OPTIONS answer lists the path's methods with HEAD where GET is, and OPTIONS,
 * sorted. */
static void
allow_header(const char *allow, char *out, size_t len)
{
    const char *list[12];
    int n = 0;
    static const char *const all[] = {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"};

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int have = areq_method_in(allow, all[i]) || strcmp(all[i], "OPTIONS") == 0 ||
                   (strcmp(all[i], "HEAD") == 0 && areq_method_in(allow, "GET"));
        if (have) {
            list[n++] = all[i];
        }
    }
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, len - l, "%s%s", i ? ", " : "", list[i]);
    }
}

static void
split_path(struct areq *r, const char *url)
{
    char *p;

    snprintf(r->path_text, sizeof r->path_text, "%s", url);
    p = strdup(url);
    r->nseg = 0;
    for (char *save = NULL, *t = strtok_r(p, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (r->nseg == AREQ_MAX_SEG) {
            r->nseg = AREQ_MAX_SEG + 1; /* too deep: no such path */
            break;
        }
        pct_decode(t);
        r->seg[r->nseg++] = t;
    }
    r->path_buf = p; /* the segments point into it */
}

static void
dispatch(struct areq *r)
{
    int head = strcmp(r->method, "HEAD") == 0;
    const char *real = r->method;

    if (head) {
        r->method = "GET";
    }
    if (r->nseg > AREQ_MAX_SEG) {
        reply_msg(r, MHD_HTTP_NOT_FOUND, "Not found");
        return;
    }
    int found = gw_admin_info(r) || gw_admin_config(r) || gw_admin_entity(r);
    r->method = real;
    if (!found) {
        reply_msg(r, MHD_HTTP_NOT_FOUND, "Not found");
    } else if (r->status == 0) {
        reply_msg(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed");
    }
}

/* OPTIONS: run the path through the handlers with a method none of them serves, to learn
 * the path's methods without doing anything. */
static void
options(struct areq *r)
{
    r->method = "OPTIONS";
    if (r->nseg > AREQ_MAX_SEG || !(gw_admin_info(r) || gw_admin_config(r) || gw_admin_entity(r))) {
        reply_msg(r, MHD_HTTP_NOT_FOUND, "Not found");
        return;
    }
    free(r->out);
    r->out = NULL;
    r->status = MHD_HTTP_NO_CONTENT;
}

static int
is_write(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

static void
audit(struct areq *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char addr[INET6_ADDRSTRLEN + 8] = "-";

    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof addr);
        } else if (sa->sa_family == AF_INET6) {
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof addr);
        }
    }
    /* the path never carries a secret (credentials are addressed by id or key names that are
     * not secrets... except a key-auth key used as the endpoint key): mask that case */
    char path[512];
    snprintf(path, sizeof path, "%s", r->path_text);
    if (strstr(path, "/key-auth") != NULL) {
        char *last = strrchr(path, '/');
        if (last && !is_uuid(last + 1) && strcmp(last + 1, "key-auth") != 0 &&
            strcmp(last + 1, "key-auths") != 0) {
            snprintf(last + 1, sizeof path - (size_t)(last + 1 - path), "<key>");
        }
    }
    fprintf(stderr, "tollgate-cp: audit method=%s path=%s status=%d id=%s client=%s\n", r->method,
            path, r->status, r->audit_id[0] ? r->audit_id : "-", addr);
}

/* ---- libmicrohttpd callbacks ---- */

/* Sends r's reply with the headers every Admin API answer carries. */
static enum MHD_Result
respond(struct areq *r, struct MHD_Connection *conn, const char *method, const struct timespec *t0)
{
    struct timespec t1;

    /* HEAD: the GET answer; libmicrohttpd sends its headers (Content-Length too) without the body */
    struct MHD_Response *resp;
    if (r->status == MHD_HTTP_NO_CONTENT || r->out == NULL) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(r->out_len, r->out, MHD_RESPMEM_MUST_FREE);
        r->out = NULL;
    }
    if (resp == NULL) {
        return MHD_NO;
    }
    if (r->status != MHD_HTTP_NO_CONTENT) {
        MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    }
    MHD_add_response_header(resp, "Server", GW_PRODUCT);
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", cors_origin(r));
    MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
    if (strcmp(method, "OPTIONS") == 0 && r->status == MHD_HTTP_NO_CONTENT) {
        char allow[128];
        const char *reqh = areq_header(r, "Access-Control-Request-Headers");
        allow_header(r->allow, allow, sizeof allow);
        MHD_add_response_header(resp, "Allow", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", reqh ? reqh : "Content-Type");
    }
    if (r->status == MHD_HTTP_UNAUTHORIZED && opts.token) {
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char lat[32];
    snprintf(lat, sizeof lat, "%ld",
             (long)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000));
    MHD_add_response_header(resp, "X-Kong-Admin-Latency", lat);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}


static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct areq *r = *con_cls;
    struct timespec t0;

    (void)cls;
    (void)version;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL) {
            return MHD_NO;
        }
        r->conn = conn;
        r->opts = &opts;
        *con_cls = r;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > opts.max_body_bytes) {
            /* answered before the body is read: libmicrohttpd then closes the connection */
            clock_gettime(CLOCK_MONOTONIC, &t0);
            r->method = method;
            snprintf(r->path_text, sizeof r->path_text, "%s", url);
            reply_msg(r, MHD_HTTP_CONTENT_TOO_LARGE, "Payload too large");
            return respond(r, conn, method, &t0);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big && r->body_len + *upload_size > opts.max_body_bytes) {
            r->too_big = 1;
        }
        if (!r->too_big) {
            if (r->body_len + *upload_size + 1 > r->body_cap) {
                size_t cap = (r->body_len + *upload_size + 1) * 2;
                char *b = realloc(r->body, cap);
                if (b == NULL) {
                    return MHD_NO;
                }
                r->body = b;
                r->body_cap = cap;
            }
            memcpy(r->body + r->body_len, upload, *upload_size);
            r->body_len += *upload_size;
            r->body[r->body_len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    total_requests++;
    r->method = method;
    r->ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    split_path(r, url);
    if (strcmp(method, "OPTIONS") == 0) {
        options(r);
    } else if (!token_ok(r)) {
        reply_msg(r, MHD_HTTP_UNAUTHORIZED,
                  "Invalid credentials. Token or User credentials required");
    } else if (!client_cert_ok(r)) {
        reply_msg(r, MHD_HTTP_UNAUTHORIZED, "a valid client certificate is required");
    } else if (r->too_big) {
        reply_msg(r, MHD_HTTP_CONTENT_TOO_LARGE, "Payload too large");
    } else {
        dispatch(r);
    }
    if (r->pg) {
        gw_store_put(opts.store, r->pg);
        r->pg = NULL;
    }
    if (is_write(method) && r->status < 500) {
        audit(r);
    }

    return respond(r, conn, method, &t0);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct areq *r = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (r == NULL) {
        return;
    }
    if (r->pg) {
        gw_store_put(opts.store, r->pg);
    }
    free(r->path_buf);
    for (int i = 0; i < r->nargbufs; i++) {
        free(r->argbufs[i]);
    }
    free(r->body);
    free(r->out);
    free(r);
    *con_cls = NULL;
}

/* ---- start / stop ---- */

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = '\0';
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

static int
parse_addr(const char *s, struct sockaddr_storage *ss)
{
    char host[256];
    const char *colon = strrchr(s, ':');
    long port;

    if (colon == NULL || (size_t)(colon - s) >= sizeof host) {
        return -1;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535) {
        return -1;
    }
    memset(ss, 0, sizeof *ss);
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strcspn(h, "]")] = '\0';
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
    } else {
        return -1;
    }
    return 0;
}

static int
start_one(const char *addr, int tls)
{
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem o[16];
    int n = 0;

    if (parse_addr(addr, &ss) < 0) {
        fprintf(stderr, "tollgate-cp: bad admin listen address '%s': expected ADDR:PORT\n", addr);
        return -1;
    }
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, opts.threads, NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)keep_raw, NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL};
    if (tls) {
        flags |= MHD_USE_TLS;
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, ssl_cert_pem};
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, ssl_key_pem};
        if (ssl_ca_pem) {
            o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, ssl_ca_pem};
        }
    }
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
                                            MHD_OPTION_ARRAY, o, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "tollgate-cp: cannot listen on %s%s (address in use?)\n", addr,
                tls ? " (TLS)" : "");
        return -1;
    }
    daemons[ndaemons++] = d;
    fprintf(stderr, "tollgate-cp: Admin API on %s://%s\n", tls ? "https" : "http", addr);
    return 0;
}

int
gw_admin_start(const struct gw_admin_opts *o)
{
    opts = *o;
    if (opts.threads <= 0) {
        opts.threads = 8;
    }
    if (opts.nssl_listen > 0) {
        ssl_cert_pem = opts.ssl_cert ? read_file(opts.ssl_cert) : NULL;
        ssl_key_pem = opts.ssl_cert_key ? read_file(opts.ssl_cert_key) : NULL;
        if (ssl_cert_pem == NULL || ssl_key_pem == NULL) {
            fprintf(stderr, "tollgate-cp: the admin TLS listener needs --admin-ssl-cert and "
                            "--admin-ssl-cert-key (readable PEM files)\n");
            return -1;
        }
        if (opts.ssl_client_ca && (ssl_ca_pem = read_file(opts.ssl_client_ca)) == NULL) {
            fprintf(stderr, "tollgate-cp: cannot read %s\n", opts.ssl_client_ca);
            return -1;
        }
    }
    for (int i = 0; i < opts.nlisten; i++) {
        if (start_one(opts.listen[i], 0) < 0) {
            return -1;
        }
    }
    for (int i = 0; i < opts.nssl_listen; i++) {
        if (start_one(opts.ssl_listen[i], 1) < 0) {
            return -1;
        }
    }
    return 0;
}

void
gw_admin_stop(void)
{
    for (int i = 0; i < ndaemons; i++) {
        MHD_stop_daemon(daemons[i]);
    }
    ndaemons = 0;
}

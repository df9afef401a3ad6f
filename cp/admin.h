/* The Admin API server: libmicrohttpd daemons on the admin listeners (plain and TLS), Kong's
 * paths, bodies, errors and CORS, an optional token, an audit line per change. Handlers run
 * on libmicrohttpd's thread pool and take PostgreSQL connections from the store. */
#ifndef GW_ADMIN_H
#define GW_ADMIN_H

#include <stddef.h>

struct gw_store;

#define GW_ADMIN_MAX_LISTEN 8

struct gw_admin_opts {
    const char *listen[GW_ADMIN_MAX_LISTEN]; /* "ADDR:PORT" */
    int nlisten;
    const char *ssl_listen[GW_ADMIN_MAX_LISTEN];
    int nssl_listen;
    const char *ssl_cert, *ssl_cert_key; /* PEM files for the TLS listeners */
    const char *ssl_client_ca;           /* PEM: when set, client certificates are required */
    const char *token;                   /* NULL: no token needed */
    const char *gui_url;                 /* admin_gui_url: allowed CORS origins, comma list */
    size_t max_body_bytes;               /* larger request bodies get 413 */
    int threads;                         /* libmicrohttpd thread pool size */
    struct gw_store *store;
    /* what GET / reports */
    const char *pg_host, *pg_user, *pg_database;
    int pg_port;
};

/* Starts every listener. 0, or -1 after printing why (port in use, bad certificate). */
int gw_admin_start(const struct gw_admin_opts *o);
/* Stops them, waiting for handlers in flight. */
void gw_admin_stop(void);

#endif

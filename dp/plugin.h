/* Plugins on the data plane: the handler table (generated from shared/plugins/plugins.def,
 * like the schema table), per-snapshot compiled instances, Kong's scope precedence and
 * priority order, and the small API handlers use on a request.
 *
 * A handler file dp/plugins/<id>.c defines `const struct gw_plugin gw_handler_<id>`. A plugin
 * whose schema exists but whose handler does not is accepted in configs and not enforced
 * (the snapshot build says so once). */
#ifndef GW_PLUGIN_H
#define GW_PLUGIN_H

#include <stdint.h>

#include "arena.h"
#include "http1.h"
#include "plugin_schema.h"
#include "str.h"

struct gw_snapshot;
struct gw_pctx;
struct ssl_st; /* OpenSSL's SSL */

/* compile: the validated config record -> the state a handler reads (from a, the
 * snapshot's arena). NULL with a message refuses the snapshot. Config thread. */
typedef void *gw_compile_fn(const struct gw_record *r, const struct gw_val *conf,
                            struct gw_arena *a, char *err, size_t errlen);

/* init: per-snapshot state shared by all instances of a plugin (credential indexes). */
typedef void *gw_init_fn(const struct gw_snapshot *s, struct gw_arena *a);

/* access: 0 to go on, 1 when the handler answered (gw_pctx_exit / gw_pctx_error). */
typedef int gw_access_fn(struct gw_pctx *ctx, const void *conf, const void *global);

/* header_filter: adjust the response head (gw_pctx_set_resp_header). */
typedef void gw_header_filter_fn(struct gw_pctx *ctx, const void *conf, const void *global);

/* needs_body: whether this instance's access handler reads this request's body (key-auth
 * with key_in_body and a form, multipart or JSON body, ...). Asked just before the handler
 * would run (ctx has the head and the edits so far); when yes, the proxy reads the whole
 * body first. Requests no plugin asks this for stream their bodies as they come. */
typedef int gw_needs_body_fn(const void *conf, const struct gw_pctx *ctx);

/* body_filter: the whole response body, after header_filter asked for it
 * (gw_pctx_buffer_resp_body); read it with gw_pctx_resp_body, replace it with
 * gw_pctx_set_resp_body. */
typedef void gw_body_filter_fn(struct gw_pctx *ctx, const void *conf, const void *global);

/* rewrite: Kong's rewrite phase. Runs before routing, for global instances only (no route,
 * service or consumer is known yet; ctx->route_id and service_id are NULL). 0 to go on, 1
 * when the handler answered (gw_pctx_exit / gw_pctx_error): routing and access are skipped. */
typedef int gw_rewrite_fn(struct gw_pctx *ctx, const void *conf, const void *global);

/* log: once per request, after the response was sent or the client went away (ctx->log
 * says which). On the worker: it must not block (hand slow work to a thread of its own). */
typedef void gw_log_fn(struct gw_pctx *ctx, const void *conf, const void *global);

/* Kong's certificate phase (TLS handshake, SNI known, no route yet) has no hook here. Its
 * one use among the plugins we enforce is mtls-auth asking for a client certificate:
 * dp/tls.c does that in its client hello callback, only when an mtls-auth instance of the
 * snapshot could apply to the SNI sent, and never fails the handshake; plugins/mtls_auth.c
 * then verifies the certificate in access (ctx->ssl), where the route and the instance are
 * known. */
struct gw_plugin {
    const struct gw_plugin_schema *schema;
    gw_compile_fn *compile;
    gw_init_fn *init;
    gw_access_fn *access;
    gw_header_filter_fn *header_filter;
    gw_needs_body_fn *needs_body;
    gw_body_filter_fn *body_filter;
    gw_rewrite_fn *rewrite;
    gw_log_fn *log;
};

/* ---- per snapshot (snapshot.c calls these on the config thread) ---- */

struct gw_plugin_set;
struct gw_plugin_set *gw_plugins_build(const struct gw_snapshot *s, char *err, size_t errlen);
void gw_plugins_free(struct gw_plugin_set *ps);

/* ---- per request (proxy.c) ---- */

struct gw_header_edit {
    struct gw_str name, value;
    int remove; /* else set (replacing every value) */
    int append; /* with remove == 0: another value line, after the current ones */
};

/* Upstream query argument edits, applied in order by the proxy. Names and values are as
 * they go on the wire (percent-encoded by the plugin). */
enum gw_query_op { GW_QE_REMOVE, GW_QE_SET, GW_QE_APPEND, GW_QE_RENAME };
struct gw_query_edit {
    enum gw_query_op op;
    struct gw_str name, value; /* rename: value is the new name */
};

/* What the log phase knows about a finished request (proxy.c fills it just before the log
 * handlers run; valid during them only). */
struct gw_log_info {
    const char *request_id;
    int status;              /* sent to the client; 499 when it went away before any head */
    int client_aborted;      /* the client went away before the whole response was sent */
    int proxied;             /* an upstream answered (Kong's source "upstream"), else "kong" */
    int upstream_status;     /* 0: none */
    struct gw_str upstream_uri; /* the target sent upstream (query included); .p NULL: none */
    const char *upstream_ip; /* the last target tried, or NULL */
    int upstream_port;
    int server_port;         /* the listener's */
    uint64_t request_bytes;  /* nginx's $request_length: head and body read from the client */
    uint64_t response_bytes; /* $bytes_sent: head and body */
    struct gw_str response_head; /* as sent to the client, through the empty line; or empty */
    double started_at;       /* seconds since the epoch */
    double kong_ms;          /* start -> upstream chosen (or -> a local answer) */
    double proxy_ms;         /* upstream chosen -> its first response byte; -1: not proxied */
    double request_ms;       /* start -> end ($request_time) */
    double receive_ms;       /* first response byte -> end; 0 when not proxied */
};

struct gw_pctx {
    struct gw_arena *arena;
    const struct gw_snapshot *snap;
    const struct gw_http_head *h; /* the client's request head */
    const char *route_id, *service_id;
    const char *peer_ip; /* the client address after trusted_ips / real_ip_header */
    int https;
    struct ssl_st *ssl; /* the client's TLS connection (its certificate), NULL over HTTP */
    /* the client connection: its socket (for the local address), the gateway-wide serial
     * number of the connection, the request's number on it (1 for the first) and the
     * loop's cached time, as nginx's $connection, $connection_requests and ngx.now() */
    int client_fd;
    uint64_t conn_serial;
    uint32_t conn_requests;
    double now;
    /* the authenticated consumer (a consumers record) and its credential, or NULL */
    const struct gw_val *consumer, *credential;
    int anonymous;
    /* kong.ctx.shared.authenticated_groups (mtls-auth without a consumer lookup), read by
     * acl; from the request arena */
    const struct gw_str *auth_groups;
    unsigned nauth_groups;
    /* upstream request header edits, in order */
    struct gw_header_edit *req_edits;
    unsigned nreq_edits, req_cap;
    /* response header edits (header_filter phase and exits) */
    struct gw_header_edit *resp_edits;
    unsigned nresp_edits, resp_cap;
    /* query arguments removed from the upstream request (hide_credentials) */
    struct gw_str removed_args[8];
    unsigned nremoved_args;
    /* query argument edits (request-transformer), after removed_args */
    struct gw_query_edit *query_edits;
    unsigned nquery_edits, query_cap;
    /* the upstream's response head in header_filter; NULL for answers made locally */
    const struct gw_http_head *resp_h;
    /* an answer made by a plugin */
    int exit_status;        /* 0: none */
    int exit_error;         /* kong.response.error: message in Kong's error template */
    const char *exit_msg;   /* error: the message */
    struct gw_str exit_body; /* exit: the raw body */
    const char *exit_ctype;
    /* request body limit set by a plugin (request-size-limiting), counted by the proxy as
     * a chunked body streams, answered with body_limit_status (0: no limit) */
    uint64_t body_limit;
    int body_limit_status;
    /* the plugins chosen in access, for header_filter, body_filter and log (indexes into
     * the set); when access never ran (no route, a rewrite answer), the global instances */
    uint16_t ran[64];
    const void *ran_conf[64];
    unsigned nran;
    int access_ran, globals_chosen;
    /* the log phase's summary (gw_plugins_log) */
    const struct gw_log_info *log;
    /* request body: read whole by the proxy before the first access handler that needs it
     * (body_read then 1, req_body the payload, chunked framing removed); a replacement set
     * by a plugin goes upstream with a Content-Length */
    int body_read;
    struct gw_str req_body;
    int body_replaced;
    struct gw_str new_body;
    uint32_t resume; /* access: the plugin type to go on from after the body is read */
    struct gw_str method; /* the upstream request's method when a plugin changed it */
    /* response body: header_filter asked for it (resp_buffer); in body_filter resp_body is
     * the whole payload and a replacement goes out instead */
    int resp_buffer;
    struct gw_str resp_body;
    int resp_body_replaced;
    struct gw_str new_resp_body;
};

/* gw_plugins_access: 0 go on, 1 a plugin answered, GW_ACCESS_BODY the proxy must read the
 * request body (set body_read and req_body) and call it again: it resumes where it stopped. */
#define GW_ACCESS_BODY 2

/* Runs the rewrite handlers of the global instances in priority order, before routing
 * (ctx: arena, snap, h and the connection fields set). 1 when one answered, else 0. */
int gw_plugins_rewrite(struct gw_pctx *ctx);

/* Runs the access phase in priority order with Kong's scope precedence. 1 when a plugin
 * answered (ctx->exit_status set), else 0. After an answer the remaining plugins are still
 * chosen, without running their access handlers, so that their header_filter and log run on
 * the answer (Kong: CORS headers and log entries on a 401). An instance whose `protocols`
 * hold no protocol of the HTTP subsystem (http, https, grpc, grpcs) is left out of the set
 * when it is built, so it neither runs nor shadows a less specific instance; as in Kong,
 * protocols do not tell http from https at run time. */
int gw_plugins_access(struct gw_pctx *ctx);

/* Runs header_filter for the plugins access chose (also on answers made by plugins or the
 * gateway). */
void gw_plugins_header_filter(struct gw_pctx *ctx);

/* Runs body_filter for the plugins access chose, on the buffered response body. */
void gw_plugins_body_filter(struct gw_pctx *ctx);

/* Whether some plugin instance of the snapshot has a log handler: when not, the proxy skips
 * the log phase (and filling its summary) altogether. */
int gw_plugins_want_log(const struct gw_snapshot *s);

/* Runs the log handlers of the plugins access chose (the global ones when access never ran),
 * with li as ctx->log. Once per request. */
void gw_plugins_log(struct gw_pctx *ctx, const struct gw_log_info *li);

/* ---- the handler API ---- */

/* The request header's first value; .p == NULL when absent. *count gets how many. */
struct gw_str gw_pctx_header(const struct gw_pctx *ctx, const char *name, unsigned *count);
/* A query argument's first value (still percent-encoded); .p == NULL when absent. */
struct gw_str gw_pctx_query_arg(const struct gw_pctx *ctx, const char *name, unsigned *count);
void gw_pctx_set_header(struct gw_pctx *ctx, const char *name, struct gw_str value);
void gw_pctx_remove_header(struct gw_pctx *ctx, const char *name);
void gw_pctx_remove_query_arg(struct gw_pctx *ctx, struct gw_str name);
void gw_pctx_set_resp_header(struct gw_pctx *ctx, const char *name, struct gw_str value);
/* Another value line for the header (kept with the current ones), request or response. */
void gw_pctx_append_header(struct gw_pctx *ctx, const char *name, struct gw_str value);
void gw_pctx_append_resp_header(struct gw_pctx *ctx, const char *name, struct gw_str value);
void gw_pctx_remove_resp_header(struct gw_pctx *ctx, const char *name);
/* A query argument edit (names and values already percent-encoded). */
void gw_pctx_query_edit(struct gw_pctx *ctx, enum gw_query_op op, struct gw_str name,
                        struct gw_str value);
/* Whether the upstream request will carry this (encoded) query argument, counting the
 * removed arguments and the query edits so far. */
int gw_pctx_query_present(const struct gw_pctx *ctx, struct gw_str name);
/* The current values of a header (head h, may be NULL, then the edits in order), up to max
 * into out; the count. */
unsigned gw_pctx_header_values(const struct gw_http_head *h, const struct gw_header_edit *edits,
                               unsigned nedits, const char *name, struct gw_str *out,
                               unsigned max);
/* The request body as the upstream will get it (a replacement when one was set), once the
 * proxy read it (ctx->body_read: this handler's needs_body or an earlier one's asked for it);
 * before that, and for an empty body, .p may be NULL. */
struct gw_str gw_pctx_body(const struct gw_pctx *ctx);
/* kong.service.request.set_raw_body: the upstream gets this body (arena memory, or memory
 * that outlives the request) with a Content-Length, not chunked. */
void gw_pctx_set_body(struct gw_pctx *ctx, struct gw_str body);
/* The request's Content-Type as the upstream will get it (header edits so far applied);
 * .p == NULL when absent. */
struct gw_str gw_pctx_content_type(const struct gw_pctx *ctx);
/* header_filter: asks for the whole response body in body_filter (the head waits for it). */
void gw_pctx_buffer_resp_body(struct gw_pctx *ctx);
/* body_filter: the response body, and its replacement (arena memory). */
struct gw_str gw_pctx_resp_body(const struct gw_pctx *ctx);
void gw_pctx_set_resp_body(struct gw_pctx *ctx, struct gw_str body);
/* The response's Content-Type as the client will get it (header_filter, body_filter). */
struct gw_str gw_pctx_resp_content_type(const struct gw_pctx *ctx);
/* kong.response.error: status and message in Kong's error template (with request_id). */
int gw_pctx_error(struct gw_pctx *ctx, int status, const char *msg);
/* kong.response.exit: status and a raw body (JSON when ctype is NULL). */
int gw_pctx_exit(struct gw_pctx *ctx, int status, struct gw_str body, const char *ctype);
/* kong.client.authenticate: sets the consumer and credential and the X-Consumer-* headers
 * (cleared when absent, so a client cannot inject them). */
void gw_pctx_authenticate(struct gw_pctx *ctx, const struct gw_val *consumer,
                          const struct gw_val *credential, const char *credential_identifier);
/* The consumer with this id or username (the anonymous setting), or NULL. */
const struct gw_val *gw_pctx_find_consumer(const struct gw_pctx *ctx, const char *id_or_name);

/* An auth plugin's failure with `anonymous` set: assigns that consumer (id or username) and
 * returns 0, or answers 500 "anonymous consumer <x> is configured but doesn't exist" and
 * returns 1. */
int gw_pctx_anonymous(struct gw_pctx *ctx, const char *anonymous);
/* The first cookie of this name (ASCII case-insensitive, like nginx's $cookie_<name>) in the
 * Cookie headers; .p == NULL when absent. */
struct gw_str gw_pctx_cookie(const struct gw_pctx *ctx, const char *name);
/* ngx.decode_base64: standard alphabet (url: also '-' and '_'), padding optional, everything
 * from the first '=' ignored. out needs in.n * 3 / 4 + 3 bytes. The length, or -1. */
long gw_plugin_base64_decode(struct gw_str in, int url, unsigned char *out);

#endif

/* correlation-id: tags each request with an id header (Kong priority 100001, so it runs
 * first). A non-empty id sent by the client is kept; otherwise one is generated and set on
 * the upstream request, and with echo_downstream the same value goes on the response.
 *
 * A worker is one thread, so Kong's per-worker state (the uuid#counter prefix and counter)
 * is thread-local. The handler API has no per-request plugin slot, so header_filter finds
 * the generated value again among the upstream request edits. The tracker generator needs
 * the listener's address and port and the connection's serial and request count, which the
 * handler API does not expose: until it does, tracker ids are made like uuid#counter. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "plugin.h"
#include "schema.h"
#include "uuid.h"

enum gen {
    GEN_UUID = 0,
    GEN_COUNTER,
    GEN_TRACKER,
};

struct conf {
    const char *header;
    enum gen gen;
    int echo;
};

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);
    const struct gw_val *h = gw_rec_get(r, c, "header_name");
    const struct gw_val *g = gw_rec_get(r, c, "generator");
    const struct gw_val *e = gw_rec_get(r, c, "echo_downstream");

    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->header = h && h->type == GW_V_STR ? h->u.s : "Kong-Request-ID";
    k->gen = GEN_COUNTER;
    if (g && g->type == GW_V_STR && strcmp(g->u.s, "uuid") == 0) {
        k->gen = GEN_UUID;
    } else if (g && g->type == GW_V_STR && strcmp(g->u.s, "tracker") == 0) {
        k->gen = GEN_TRACKER;
    }
    k->echo = e && e->type == GW_V_BOOL && e->u.b;
    return k;
}

static struct gw_str
tracker(struct gw_pctx *ctx)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char addr[INET6_ADDRSTRLEN] = "";
    int port = 0;
    enum {
        CAP = INET6_ADDRSTRLEN + 96
    };
    char *out;
    int n;

    if (getsockname(ctx->client_fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *s = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s->sin_addr, addr, sizeof addr);
            port = ntohs(s->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s->sin6_addr, addr, sizeof addr);
            port = ntohs(s->sin6_port);
        }
    }
    if ((out = gw_arena_alloc(ctx->arena, CAP)) == NULL) {
        return GW_STR_NULL;
    }
    n = snprintf(out, CAP, "%s-%d-%ld-%llu-%u-%.3f", addr, port, (long)getpid(),
                 (unsigned long long)ctx->conn_serial, ctx->conn_requests, ctx->now);
    return n > 0 && n < CAP ? (struct gw_str){out, (size_t)n} : GW_STR_NULL;
}

static struct gw_str
generate(struct gw_pctx *ctx, enum gen gen)
{
    static _Thread_local char worker_uuid[GW_UUID_LEN + 1];
    static _Thread_local uint64_t counter;
    char *out = gw_arena_alloc(ctx->arena, GW_UUID_LEN + 24);
    int n;

    if (gen == GEN_TRACKER) {
        return tracker(ctx);
    }
    if (out == NULL) {
        return GW_STR_NULL;
    }
    if (gen == GEN_UUID) {
        if (gw_uuid_v4(out) != 0) {
            return GW_STR_NULL;
        }
        return (struct gw_str){out, GW_UUID_LEN};
    }
    if (worker_uuid[0] == '\0' && gw_uuid_v4(worker_uuid) != 0) {
        return GW_STR_NULL;
    }
    n = snprintf(out, GW_UUID_LEN + 24, "%s#%llu", worker_uuid, (unsigned long long)++counter);
    return (struct gw_str){out, (size_t)n};
}

static int
cid_access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    struct gw_str id = gw_pctx_header(ctx, k->header, NULL);
    (void)global;

    if (id.p && id.n) {
        return 0;
    }
    id = generate(ctx, k->gen);
    if (id.p) {
        gw_pctx_set_header(ctx, k->header, id);
    }
    return 0;
}

static void
header_filter(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    struct gw_str id = gw_pctx_header(ctx, k->header, NULL);
    (void)global;

    if (!k->echo) {
        return;
    }
    /* the value access set, when the client sent none (the last edit of the name) */
    for (unsigned i = 0; i < ctx->nreq_edits; i++) {
        const struct gw_header_edit *e = &ctx->req_edits[i];
        if (gw_str_caseeqz(e->name, k->header)) {
            id = e->remove ? GW_STR_NULL : e->value;
        }
    }
    if (id.p && id.n) {
        gw_pctx_set_resp_header(ctx, k->header, id);
    }
}

const struct gw_plugin gw_handler_correlation_id = {
    .schema = &gw_schema_correlation_id,
    .compile = compile,
    .access = cid_access,
    .header_filter = header_filter,
};

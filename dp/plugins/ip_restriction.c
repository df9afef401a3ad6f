/* ip-restriction: allow or deny clients by IP address or CIDR range (Kong priority 990). The
 * lists are parsed once at compile time into binary prefixes; a request parses its peer
 * address once and walks them. deny is checked first, then a non-empty allow must match. The
 * client address is the connection's peer (Kong's remote_addr without trusted_ips). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "schema.h"

struct net {
    int v6;
    unsigned bits;
    uint8_t addr[16];
};

struct list {
    struct net *nets;
    uint32_t n;
};

struct conf {
    struct list allow, deny;
    int status;
    const char *message; /* NULL: "IP address not allowed: <client ip>" */
};

/* An address in text form: 4 or 16 bytes, IPv4-mapped IPv6 folded to IPv4. -1 if invalid. */
static int
parse_addr(const char *s, struct net *n)
{
    if (inet_pton(AF_INET, s, n->addr) == 1) {
        n->v6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, s, n->addr) != 1) {
        return -1;
    }
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(n->addr, mapped, sizeof mapped) == 0) {
        memmove(n->addr, n->addr + 12, 4);
        n->v6 = 0;
        return 0;
    }
    n->v6 = 1;
    return 0;
}

/* "a.b.c.d", "a.b.c.d/n", "x::y", "x::/n" (the schema checked them) */
static int
parse_net(const char *s, struct net *n)
{
    char buf[INET6_ADDRSTRLEN + 8];
    char *slash;
    long bits = -1;

    if (strlen(s) >= sizeof buf) {
        return -1;
    }
    strcpy(buf, s);
    if ((slash = strchr(buf, '/')) != NULL) {
        char *end;
        *slash = '\0';
        bits = strtol(slash + 1, &end, 10);
        if (*end != '\0' || end == slash + 1 || bits < 0) {
            return -1;
        }
    }
    int mapped = strchr(buf, ':') != NULL;
    if (parse_addr(buf, n) != 0) {
        return -1;
    }
    unsigned max = n->v6 ? 128 : 32;
    if (bits >= 0 && mapped && !n->v6) {
        bits = bits > 96 ? bits - 96 : 0; /* ::ffff:a.b.c.d/n counts IPv6 bits */
    }
    if (bits > (long)max) {
        return -1;
    }
    n->bits = bits < 0 ? max : (unsigned)bits;
    return 0;
}

static int
contains(const struct net *n, const struct net *ip)
{
    unsigned full = n->bits / 8, rest = n->bits % 8;

    if (n->v6 != ip->v6 || memcmp(n->addr, ip->addr, full) != 0) {
        return 0;
    }
    return rest == 0 || ((n->addr[full] ^ ip->addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static int
in_list(const struct list *l, const struct net *ip)
{
    for (uint32_t i = 0; i < l->n; i++) {
        if (contains(&l->nets[i], ip)) {
            return 1;
        }
    }
    return 0;
}

static int
compile_list(const struct gw_val *arr, struct list *l, struct gw_arena *a, char *err, size_t errlen)
{
    if (arr == NULL || arr->type != GW_V_ARR || arr->n == 0) {
        return 0;
    }
    if ((l->nets = gw_arena_calloc(a, sizeof *l->nets * arr->n)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < arr->n; i++) {
        if (parse_net(arr->u.items[i].u.s, &l->nets[l->n]) != 0) {
            snprintf(err, errlen, "ip-restriction: invalid ip or cidr range: '%.64s'",
                     arr->u.items[i].u.s);
            return -1;
        }
        l->n++;
    }
    return 0;
}

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);
    const struct gw_val *st = gw_rec_get(r, c, "status");
    const struct gw_val *msg = gw_rec_get(r, c, "message");

    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (compile_list(gw_rec_get(r, c, "allow"), &k->allow, a, err, errlen) != 0 ||
        compile_list(gw_rec_get(r, c, "deny"), &k->deny, a, err, errlen) != 0) {
        return NULL;
    }
    k->status = 403;
    if (st && st->type == GW_V_INT) {
        k->status = (int)st->u.i;
    } else if (st && st->type == GW_V_NUM) {
        k->status = (int)st->u.d;
    }
    k->message = msg && msg->type == GW_V_STR ? msg->u.s : NULL;
    return k;
}

static int
reject(struct gw_pctx *ctx, const struct conf *k)
{
    char *m;

    if (k->message) {
        return gw_pctx_error(ctx, k->status, k->message);
    }
    m = gw_arena_alloc(ctx->arena, strlen(ctx->peer_ip) + 32);
    if (m) {
        sprintf(m, "IP address not allowed: %s", ctx->peer_ip);
    }
    return gw_pctx_error(ctx, k->status, m ? m : "IP address not allowed");
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    struct net ip;
    (void)global;

    if (ctx->peer_ip == NULL || parse_addr(ctx->peer_ip, &ip) != 0) {
        return gw_pctx_error(
            ctx, 403,
            "Cannot identify the client IP address, unix domain sockets are not supported.");
    }
    if (in_list(&k->deny, &ip)) {
        return reject(ctx, k);
    }
    if (k->allow.n && !in_list(&k->allow, &ip)) {
        return reject(ctx, k);
    }
    return 0;
}

const struct gw_plugin gw_handler_ip_restriction = {
    .schema = &gw_schema_ip_restriction,
    .compile = compile,
    .access = access,
};

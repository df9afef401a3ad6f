/* The realip module's rules (ngx_http_get_forwarded_addr): nothing changes unless the
 * connecting peer is trusted. Then the real-IP header is read as a comma-separated list, from
 * the right: its last address is the client; in recursive mode, while that address is itself
 * trusted, the one to its left is taken instead. An entry that is not an address stops the
 * walk (what was found so far stays). X-Forwarded-For lines are read as one list, in order;
 * any other header by its first line. Entries may carry a port ("a.b.c.d:p", "[v6]:p"). */
#include "realip.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct net {
    int v6;
    unsigned bits;
    uint8_t addr[16];
};

static struct net *nets;
static size_t nnets;
static char header_name[64] = "X-Real-IP";
static int recursive;

/* 4 or 16 bytes; IPv4-mapped IPv6 folded to IPv4. */
static int
parse_addr(const char *s, struct net *n)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (inet_pton(AF_INET, s, n->addr) == 1) {
        n->v6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, s, n->addr) != 1) {
        return -1;
    }
    n->v6 = 1;
    if (memcmp(n->addr, mapped, sizeof mapped) == 0) {
        memmove(n->addr, n->addr + 12, 4);
        n->v6 = 0;
    }
    return 0;
}

static int
add_one(const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 8];
    struct net n;
    char *slash, *end;
    long bits = -1;

    if (len == 5 && memcmp(s, "unix:", 5) == 0) {
        return 0;
    }
    if (len == 0 || len >= sizeof buf) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if ((slash = strchr(buf, '/')) != NULL) {
        *slash = '\0';
        bits = strtol(slash + 1, &end, 10);
        if (*end != '\0' || end == slash + 1 || bits < 0) {
            return -1;
        }
    }
    if (parse_addr(buf, &n) < 0) {
        return -1;
    }
    if (bits >= 0 && !n.v6 && strchr(buf, ':')) {
        bits = bits > 96 ? bits - 96 : 0; /* ::ffff:a.b.c.d/n counts IPv6 bits */
    }
    if (bits > (n.v6 ? 128 : 32)) {
        return -1;
    }
    n.bits = bits < 0 ? (n.v6 ? 128u : 32u) : (unsigned)bits;
    struct net *a = realloc(nets, sizeof *a * (nnets + 1));
    if (a == NULL) {
        return -1;
    }
    nets = a;
    nets[nnets++] = n;
    return 0;
}

int
gw_realip_add_trusted(const char *list)
{
    const char *p = list;

    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        size_t n = strcspn(p, ", \t");
        if (n && add_one(p, n) < 0) {
            return -1;
        }
        p += n;
    }
    return 0;
}

void
gw_realip_clear_trusted(void)
{
    free(nets);
    nets = NULL;
    nnets = 0;
}

int
gw_realip_set_header(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n >= sizeof header_name || strpbrk(name, " \t:\r\n")) {
        return -1;
    }
    memcpy(header_name, name, n + 1);
    return 0;
}

void
gw_realip_set_recursive(int on)
{
    recursive = on;
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
trusted(const struct net *ip)
{
    for (size_t i = 0; i < nnets; i++) {
        if (contains(&nets[i], ip)) {
            return 1;
        }
    }
    return 0;
}

int
gw_realip_trusted(const char *addr)
{
    struct net ip;

    return nnets && parse_addr(addr, &ip) == 0 && trusted(&ip);
}

/* One list entry, an address with an optional port, into ip; -1 when it is not one. */
static int
parse_entry(struct gw_str e, struct net *ip)
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *colon;

    if (e.n >= sizeof buf) {
        return -1;
    }
    if (e.n && e.p[0] == '[') {
        const char *close = memchr(e.p, ']', e.n);
        if (close == NULL) {
            return -1;
        }
        size_t rest = e.n - (size_t)(close + 1 - e.p);
        if (rest && close[1] != ':') {
            return -1;
        }
        e = (struct gw_str){e.p + 1, (size_t)(close - e.p - 1)};
    } else if ((colon = memchr(e.p, ':', e.n)) != NULL &&
               !memchr(colon + 1, ':', e.n - (size_t)(colon + 1 - e.p))) {
        e.n = (size_t)(colon - e.p); /* a.b.c.d:port */
    }
    memcpy(buf, e.p, e.n);
    buf[e.n] = '\0';
    return parse_addr(buf, ip);
}

/* The walk from the right over one header value; 1 when it moved past an untrusted address
 * or a bad entry (the caller stops), else 0. */
static int
walk(struct gw_str v, struct net *cur, int *found)
{
    size_t end = v.n;

    while (end > 0) {
        while (end > 0 && (v.p[end - 1] == ' ' || v.p[end - 1] == ',' || v.p[end - 1] == '\t')) {
            end--;
        }
        if (end == 0) {
            break;
        }
        size_t st = end;
        while (st > 0 && v.p[st - 1] != ' ' && v.p[st - 1] != ',' && v.p[st - 1] != '\t') {
            st--;
        }
        struct net ip;
        if (parse_entry((struct gw_str){v.p + st, end - st}, &ip) < 0) {
            return 1;
        }
        *cur = ip;
        *found = 1;
        if (!recursive || !trusted(&ip)) {
            return 1;
        }
        end = st;
    }
    return 0;
}

int
gw_realip_client(const char *peer, const struct gw_http_head *h, char *out, size_t outlen)
{
    struct net cur;
    int found = 0, xff = strcasecmp(header_name, "X-Forwarded-For") == 0;

    snprintf(out, outlen, "%s", peer);
    if (nnets == 0 || parse_addr(peer, &cur) < 0 || !trusted(&cur)) {
        return 0;
    }
    if (!xff) {
        /* any other header: its first line */
        for (unsigned i = 0; i < h->nheaders; i++) {
            if (gw_str_caseeqz(h->headers[i].name, header_name)) {
                walk(h->headers[i].value, &cur, &found);
                break;
            }
        }
    }
    /* X-Forwarded-For lines form one list: walk them from the last */
    for (unsigned i = h->nheaders; xff && i-- > 0;) {
        if (gw_str_caseeqz(h->headers[i].name, header_name) &&
            walk(h->headers[i].value, &cur, &found)) {
            break;
        }
    }
    if (found) {
        inet_ntop(cur.v6 ? AF_INET6 : AF_INET, cur.addr, out, (socklen_t)outlen);
    }
    return 1;
}

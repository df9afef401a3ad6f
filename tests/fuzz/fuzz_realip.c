/* Fuzz target: real-IP processing (dp/realip.c). The first byte picks the settings (header,
 * recursion, which trusted set); the rest is header values, one per line, sent as that header
 * in a parsed request head; the whole input is also read as a trusted_ips list. Checked: the
 * client address written is always an address (or the peer) and fits its buffer; a peer that
 * is not trusted keeps its own address. Violations abort. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "realip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const sets[] = {"0.0.0.0/0,::/0", "127.0.0.1,10.0.0.0/8,2001:db8::/32",
                                   "10.0.0.0/8", "::ffff:127.0.0.0/104"};

static void
check_trusted_list(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL) {
        abort();
    }
    memcpy(s, data, size);
    s[size] = '\0';
    gw_realip_clear_trusted();
    (void)gw_realip_add_trusted(s);
    (void)gw_realip_trusted("127.0.0.1");
    gw_realip_clear_trusted();
    free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char head[8192], out[INET6_ADDRSTRLEN];
    struct gw_http_head h;
    unsigned char buf[sizeof(struct in6_addr)];
    size_t n;

    check_trusted_list(data, size);
    if (size == 0) {
        return 0;
    }
    unsigned sel = data[0];
    const char *name = sel & 1 ? "X-Forwarded-For" : "X-Real-IP";
    n = (size_t)snprintf(head, sizeof head, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (size_t i = 1; i < size && n + 64 < sizeof head;) {
        size_t st = i;
        while (i < size && data[i] != '\n') {
            i++;
        }
        size_t len = i - st;
        if (n + len + 32 >= sizeof head) {
            break;
        }
        n += (size_t)snprintf(head + n, sizeof head - n, "%s: %.*s\r\n", name, (int)len,
                              (const char *)data + st);
        i++;
    }
    n += (size_t)snprintf(head + n, sizeof head - n, "\r\n");
    if (gw_http1_parse_request(head, n, NULL, &h) <= 0) {
        return 0; /* values the parser refuses never reach realip */
    }
    gw_realip_clear_trusted();
    if (gw_realip_add_trusted(sets[(sel >> 2) & 3]) < 0 || gw_realip_set_header(name) < 0) {
        abort();
    }
    gw_realip_set_recursive(sel & 2);
    const char *peer = sel & 16 ? "10.1.2.3" : "127.0.0.1";
    int trusted = gw_realip_client(peer, &h, out, sizeof out);
    if (memchr(out, '\0', sizeof out) == NULL) {
        abort();
    }
    if (inet_pton(AF_INET, out, buf) != 1 && inet_pton(AF_INET6, out, buf) != 1) {
        fprintf(stderr, "fuzz_realip: not an address: %s\n", out);
        abort();
    }
    if (trusted != gw_realip_trusted(peer) || (!trusted && strcmp(out, peer) != 0)) {
        abort();
    }
    gw_realip_clear_trusted();
    return 0;
}

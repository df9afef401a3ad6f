/* Field rules shared by entity and plugin schemas, with Kong's messages (typedefs.lua). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "schema.h"

const struct gw_field gw_elem_string = {.type = GW_T_STRING};
const struct gw_field gw_elem_string_ne = {.type = GW_T_STRING, .len_min = 1};
const struct gw_field gw_elem_integer = {.type = GW_T_INTEGER};
const struct gw_field gw_elem_header_name = {.type = GW_T_STRING, .check = gw_check_header_name};
const struct gw_field gw_elem_tag = {.type = GW_T_STRING, .check = gw_check_tag};
const struct gw_field gw_elem_http_status = {
    .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .min = 100, .max = 999};
const struct gw_field gw_elem_ip_or_cidr = {.type = GW_T_STRING, .check = gw_check_ip_or_cidr};

static int
is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int
is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

const char *
gw_check_header_name(const struct gw_val *v, char *buf, size_t len)
{
    for (uint32_t i = 0; i < v->n; i++) {
        int c = (unsigned char)v->u.s[i];
        if (!is_alnum(c) && c != '_' && c != '-') {
            snprintf(buf, len,
                     "bad header name '%.100s', allowed characters are A-Z, a-z, 0-9, '_', and '-'",
                     v->u.s);
            return buf;
        }
    }
    return NULL;
}

const char *
gw_check_uuid(const struct gw_val *v, char *buf, size_t len)
{
    (void)buf, (void)len;
    if (v->n != 36) {
        return "expected a valid UUID";
    }
    for (int i = 0; i < 36; i++) {
        int c = (unsigned char)v->u.s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return "expected a valid UUID";
            }
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return "expected a valid UUID";
        }
    }
    return NULL;
}

const char *
gw_check_utf8_name(const struct gw_val *v, char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)v->u.s;

    for (uint32_t i = 0; i < v->n;) {
        int c = s[i];
        if (c >= 0x80) {
            size_t l = gw_utf8_len(s + i, v->n - i);
            if (l) {
                i += (uint32_t)l;
                continue;
            }
        } else if (is_alnum(c) || c == '.' || c == '-' || c == '_' || c == '~') {
            i++;
            continue;
        }
        snprintf(buf, len,
                 "invalid value '%.100s': the only accepted ascii characters are alphanumerics "
                 "or ., -, _, and ~",
                 v->u.s);
        return buf;
    }
    return NULL;
}

const char *
gw_check_tag(const struct gw_val *v, char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)v->u.s;

    for (uint32_t i = 0; i < v->n;) {
        int c = s[i];
        if (c >= 0x80) {
            size_t l = gw_utf8_len(s + i, v->n - i);
            if (l) {
                i += (uint32_t)l;
                continue;
            }
        } else if (c >= 0x20 && c <= 0x7e && c != ',' && c != '/') {
            i++;
            continue;
        }
        snprintf(buf, len,
                 "invalid tag '%.100s': expected printable ascii (except `,` and `/`) or valid "
                 "utf-8 sequences",
                 v->u.s);
        return buf;
    }
    return NULL;
}

/* RFC 1123 name: labels of letters, digits, '-' and '_', not starting or ending with '-'. */
static int
valid_hostname(const char *s, size_t n)
{
    size_t label = 0;

    if (n == 0 || n > 253) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') {
                return 0;
            }
            label = 0;
            continue;
        }
        if (!is_alnum(c) && c != '-' && c != '_') {
            return 0;
        }
        /* a label may start with '-' (punycode), not end with one (Kong's check_hostname) */
        if (++label > 63) {
            return 0;
        }
    }
    return label > 0 && s[n - 1] != '-';
}

static int
is_ipv4(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

static int
is_ipv6(const char *s)
{
    struct in6_addr a;
    return inet_pton(AF_INET6, s, &a) == 1;
}

/* Splits "host[:port]" / "[v6]:port". Returns 0, or -1 for a bad port. host is copied. */
static int
split_host_port(const char *s, char *host, size_t hlen, long *port)
{
    const char *colon;

    *port = -1;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL) {
            snprintf(host, hlen, "%s", s);
            return 0;
        }
        snprintf(host, hlen, "%.*s", (int)(end - s - 1), s + 1);
        if (end[1] == '\0') {
            return 0;
        }
        if (end[1] != ':') {
            snprintf(host, hlen, "%s", s);
            return 0;
        }
        colon = end + 1;
    } else {
        colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) {
            snprintf(host, hlen, "%s", s); /* bare IPv6, no port */
            return 0;
        }
        if (colon == NULL) {
            snprintf(host, hlen, "%s", s);
            return 0;
        }
        snprintf(host, hlen, "%.*s", (int)(colon - s), s);
    }
    /* Kong's check_hostname: only ":<digits>" at the end is a port; anything else after a
     * colon stays in the name (and fails as an invalid hostname) */
    size_t digits = strspn(colon + 1, "0123456789");
    if (digits == 0 || colon[1 + digits] != '\0') {
        snprintf(host, hlen, "%s", s);
        return 0;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (digits > 6 || p > 65535) {
        return -1;
    }
    *port = p;
    return 0;
}

const char *
gw_check_host(const struct gw_val *v, char *buf, size_t len)
{
    char host[300];
    long port;

    if (v->n >= sizeof host) {
        snprintf(buf, len, "invalid value: %.100s", v->u.s);
        return buf;
    }
    if (is_ipv4(v->u.s) || is_ipv6(v->u.s)) {
        return NULL;
    }
    /* Kong's validate_host: an out-of-range port is still a port */
    if (split_host_port(v->u.s, host, sizeof host, &port) < 0 || port >= 0) {
        return "must not have a port";
    }
    if (!valid_hostname(v->u.s, v->n)) {
        snprintf(buf, len, "invalid value: %.100s", v->u.s);
        return buf;
    }
    return NULL;
}

const char *
gw_check_host_port(const struct gw_val *v, char *buf, size_t len)
{
    char host[300];
    long port;

    if (v->n >= sizeof host) {
        snprintf(buf, len, "invalid hostname: %.100s", v->u.s);
        return buf;
    }
    if (split_host_port(v->u.s, host, sizeof host, &port) < 0) {
        return "invalid port number";
    }
    if (is_ipv4(host) || is_ipv6(host)) {
        return NULL;
    }
    if (!valid_hostname(host, strlen(host))) {
        snprintf(buf, len, "invalid hostname: %.100s", v->u.s);
        return buf;
    }
    return NULL;
}

/* Route hosts and SNIs: one '*' as the whole leftmost or rightmost label. */
static const char *
check_wildcard(const char *host, char *buf, size_t len)
{
    const char *star = strchr(host, '*');
    size_t n = strlen(host);
    char tmp[300];

    if (star == NULL) {
        return NULL;
    }
    if (strchr(star + 1, '*')) {
        return "invalid wildcard: must have at most one wildcard";
    }
    if (!((star == host && host[1] == '.') || (star == host + n - 1 && n > 1 && star[-1] == '.'))) {
        return "invalid wildcard: must be placed at leftmost or rightmost label";
    }
    /* the rest must be a hostname: replace the wildcard by a plain label */
    snprintf(tmp, sizeof tmp, "%.*sx%s", (int)(star - host), host, star + 1);
    if (!valid_hostname(tmp, strlen(tmp))) {
        snprintf(buf, len, "invalid hostname: %.100s", host);
        return buf;
    }
    return "";
}

const char *
gw_check_wildcard_host(const struct gw_val *v, char *buf, size_t len)
{
    char host[300];
    long port;
    const char *w;

    if (v->n >= sizeof host) {
        snprintf(buf, len, "invalid hostname: %.100s", v->u.s);
        return buf;
    }
    if (is_ipv4(v->u.s) || is_ipv6(v->u.s)) {
        return "must not be an IP";
    }
    if (split_host_port(v->u.s, host, sizeof host, &port) < 0 || port >= 0) {
        return "must not have a port";
    }
    w = check_wildcard(host, buf, len);
    if (w) {
        return *w ? w : NULL;
    }
    if (!valid_hostname(host, strlen(host))) {
        snprintf(buf, len, "invalid hostname: %.100s", v->u.s);
        return buf;
    }
    return NULL;
}

const char *
gw_check_route_host(const struct gw_val *v, char *buf, size_t len)
{
    char host[300];
    long port;
    const char *w;

    if (v->n >= sizeof host) {
        snprintf(buf, len, "invalid hostname: %.100s", v->u.s);
        return buf;
    }
    if (split_host_port(v->u.s, host, sizeof host, &port) < 0) {
        return "invalid port number";
    }
    w = check_wildcard(host, buf, len);
    if (w) {
        return *w ? w : NULL;
    }
    if (is_ipv4(host) || is_ipv6(host)) {
        return NULL;
    }
    if (!valid_hostname(host, strlen(host))) {
        snprintf(buf, len, "invalid hostname: %.100s", v->u.s);
        return buf;
    }
    return NULL;
}

/* RFC 3986 characters allowed in a path: unreserved, sub-delims, ':', '@', '/', '%'. */
static int
path_char(int c)
{
    return is_alnum(c) || strchr("-._~!$&'()*+,;=:@/%", c) != NULL;
}

const char *
gw_check_path(const struct gw_val *v, char *buf, size_t len)
{
    const char *s = v->u.s;

    if (s[0] != '/') {
        return "should start with: /";
    }
    for (uint32_t i = 0; i < v->n; i++) {
        int c = (unsigned char)s[i];
        if (!path_char(c)) {
            snprintf(buf, len,
                     "invalid path: '%.100s' (characters outside of the reserved list of RFC "
                     "3986 found)",
                     s);
            return buf;
        }
        if (c == '%' && !(i + 2 < v->n + 0 && is_hex(s[i + 1]) && is_hex(s[i + 2]))) {
            snprintf(buf, len, "invalid url-encoded value: '%.3s'", s + i);
            return buf;
        }
        if (c == '/' && s[i + 1] == '/') {
            return "must not have empty segments";
        }
    }
    return NULL;
}

const char *
gw_check_ip_or_cidr(const struct gw_val *v, char *buf, size_t len)
{
    char ip[64];
    const char *slash = strchr(v->u.s, '/');
    size_t n = slash ? (size_t)(slash - v->u.s) : v->n;
    int v6;

    if (n >= sizeof ip) {
        goto bad;
    }
    memcpy(ip, v->u.s, n);
    ip[n] = '\0';
    v6 = is_ipv6(ip);
    if (!v6 && !is_ipv4(ip)) {
        goto bad;
    }
    if (slash) {
        char *end;
        long bits = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || bits < 0 || bits > (v6 ? 128 : 32)) {
            goto bad;
        }
    }
    return NULL;
bad:
    snprintf(buf, len, "invalid ip or cidr range: '%.100s'", v->u.s);
    return buf;
}

const char *
gw_check_regex(const struct gw_val *v, char *buf, size_t len)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)v->u.s, v->n, PCRE2_UTF, &errcode, &erroff, NULL);
    PCRE2_UCHAR msg[160];

    if (re) {
        pcre2_code_free(re);
        return NULL;
    }
    pcre2_get_error_message(errcode, msg, sizeof msg);
    snprintf(buf, len, "invalid regex: '%.100s' (PCRE returned: %s)", v->u.s, (char *)msg);
    return buf;
}

const char *
gw_check_url(const struct gw_val *v, char *buf, size_t len)
{
    const char *s = v->u.s, *rest;
    char host[300];
    size_t n;

    if (strncmp(s, "http://", 7) == 0) {
        rest = s + 7;
    } else if (strncmp(s, "https://", 8) == 0) {
        rest = s + 8;
    } else {
        const char *colon = strstr(s, "://");
        if (colon == NULL) {
            return "missing host in url";
        }
        rest = colon + 3;
    }
    n = strcspn(rest, "/?#");
    const char *at = memchr(rest, '@', n);
    if (at) {
        /* user info (http://user:pass@host/) is allowed */
        n -= (size_t)(at + 1 - rest);
        rest = at + 1;
    }
    if (n == 0 || n >= sizeof host) {
        return "missing host in url";
    }
    memcpy(host, rest, n);
    host[n] = '\0';
    struct gw_val hv;
    gw_val_str(&hv, host, n);
    if (gw_check_host_port(&hv, buf, len)) {
        snprintf(buf, len, "invalid url: %.100s", s);
        return buf;
    }
    return NULL;
}

const char *
gw_check_lua_pattern_free(const struct gw_val *v, char *buf, size_t len)
{
    (void)v, (void)buf, (void)len;
    return NULL;
}

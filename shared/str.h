/* Byte strings that are not NUL-terminated: network bytes, slices of a buffer. */
#ifndef GW_STR_H
#define GW_STR_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

struct gw_str {
    const char *p;
    size_t n;
};

#define GW_STR_LIT(s) ((struct gw_str){(s), sizeof(s) - 1})
#define GW_STR_NULL   ((struct gw_str){NULL, 0})

static inline int
gw_str_eq(struct gw_str a, struct gw_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* ASCII case-insensitive equality (header names, hosts). */
static inline int
gw_str_caseeq(struct gw_str a, struct gw_str b)
{
    return a.n == b.n && (a.n == 0 || strncasecmp(a.p, b.p, a.n) == 0);
}

static inline int
gw_str_eqz(struct gw_str a, const char *z)
{
    return gw_str_eq(a, (struct gw_str){z, strlen(z)});
}

static inline int
gw_str_caseeqz(struct gw_str a, const char *z)
{
    return gw_str_caseeq(a, (struct gw_str){z, strlen(z)});
}

/* n bytes as 2n lower-case hex digits and a NUL. */
static inline void
gw_hex_lower(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

#endif

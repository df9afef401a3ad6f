/* Body fields for plugins (see body.h). Parsing never trusts the input: JSON is checked
 * whole by the strict well-formedness test of shared/parse.c before the top level is walked;
 * form arguments are split as ngx.decode_args splits them; multipart parts are found by
 * their delimiter lines, as lua-multipart finds them. */
#define _GNU_SOURCE /* memmem */
#include "body.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

static const char hex[] = "0123456789ABCDEF";

enum gw_body_kind
gw_body_kind(struct gw_str ct)
{
    static const struct {
        const char *s;
        enum gw_body_kind k;
    } t[] = {{"application/json", GW_BODY_JSON},
             {"multipart/form-data", GW_BODY_MULTIPART},
             {"application/x-www-form-urlencoded", GW_BODY_FORM}};

    for (size_t k = 0; ct.p && k < sizeof t / sizeof t[0]; k++) {
        size_t n = strlen(t[k].s);
        for (size_t i = 0; i + n <= ct.n; i++) {
            if (strncasecmp(ct.p + i, t[k].s, n) == 0) {
                return t[k].k;
            }
        }
    }
    return GW_BODY_OTHER;
}

static struct gw_body_field *
push(struct gw_body_doc *d)
{
    if (d->n >= GW_BODY_MAX_FIELDS) {
        return NULL; /* a body of millions of tiny fields would cost 50 times its size */
    }
    if (d->n == d->cap) {
        unsigned nc = d->cap ? d->cap * 2 : 16;
        struct gw_body_field *f = gw_arena_alloc(d->a, sizeof *f * nc);
        if (f == NULL) {
            return NULL;
        }
        if (d->n) {
            memcpy(f, d->f, sizeof *f * d->n);
        }
        d->f = f;
        d->cap = nc;
    }
    struct gw_body_field *f = &d->f[d->n++];
    memset(f, 0, sizeof *f);
    return f;
}

/* ---- JSON */

static size_t
ws(struct gw_str s, size_t i)
{
    while (i < s.n && (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == '\r' || s.p[i] == '\n')) {
        i++;
    }
    return i;
}

/* From the opening quote of a (well-formed) string to just after its closing quote. */
static size_t
string_end(struct gw_str s, size_t i)
{
    for (i++; i < s.n; i++) {
        if (s.p[i] == '\\') {
            i++;
        } else if (s.p[i] == '"') {
            return i + 1;
        }
    }
    return s.n;
}

/* Just after the (well-formed) value at i. */
static size_t
value_end(struct gw_str s, size_t i)
{
    int depth = 0;

    if (s.p[i] != '{' && s.p[i] != '[') {
        if (s.p[i] == '"') {
            return string_end(s, i);
        }
        while (i < s.n && s.p[i] != ',' && s.p[i] != '}' && s.p[i] != ']' && s.p[i] != ' ' &&
               s.p[i] != '\t' && s.p[i] != '\r' && s.p[i] != '\n') {
            i++;
        }
        return i;
    }
    for (; i < s.n; i++) {
        char c = s.p[i];
        if (c == '"') {
            i = string_end(s, i) - 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            return i + 1;
        }
    }
    return s.n;
}

static int
hexdig(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static unsigned
u4(const char *p)
{
    return (unsigned)(hexdig(p[0]) << 12 | hexdig(p[1]) << 8 | hexdig(p[2]) << 4 | hexdig(p[3]));
}

/* The contents of a well-formed JSON string literal, unescaped (UTF-8). */
static struct gw_str
json_unescape(struct gw_arena *a, struct gw_str lit)
{
    const char *p = lit.p + 1, *end = lit.p + lit.n - 1;
    char *out, *o;

    if (memchr(p, '\\', (size_t)(end - p)) == NULL) {
        return (struct gw_str){p, (size_t)(end - p)};
    }
    if ((out = o = gw_arena_alloc(a, lit.n)) == NULL) {
        return GW_STR_NULL;
    }
    while (p < end) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        char e = p[1];
        p += 2;
        if (e != 'u') {
            *o++ = e == 'b'   ? '\b'
                   : e == 'f' ? '\f'
                   : e == 'n' ? '\n'
                   : e == 'r' ? '\r'
                   : e == 't' ? '\t'
                              : e;
            continue;
        }
        uint32_t cp = u4(p);
        p += 4;
        if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
            uint32_t lo = u4(p + 2);
            if (lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
        }
        if (cp < 0x80) {
            *o++ = (char)cp;
        } else if (cp < 0x800) {
            *o++ = (char)(0xc0 | cp >> 6);
            *o++ = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            *o++ = (char)(0xe0 | cp >> 12);
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
            *o++ = (char)(0x80 | (cp & 0x3f));
        } else {
            *o++ = (char)(0xf0 | cp >> 18);
            *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
            *o++ = (char)(0x80 | (cp & 0x3f));
        }
    }
    return (struct gw_str){out, (size_t)(o - out)};
}

static int
parse_json(struct gw_body_doc *d, struct gw_str s)
{
    size_t i;

    if (s.n == 0 || !gw_parse_json_wellformed(s.p, s.n)) {
        return -1;
    }
    i = ws(s, 0);
    if (s.p[i] != '{') {
        return -1; /* an array or a scalar has no top-level keys to edit */
    }
    i = ws(s, i + 1);
    while (i < s.n && s.p[i] == '"') {
        struct gw_body_field *f = push(d);
        size_t ke = string_end(s, i);
        if (f == NULL) {
            return -1;
        }
        f->key = (struct gw_str){s.p + i, ke - i};
        f->name = json_unescape(d->a, f->key);
        i = ws(s, ws(s, ke) + 1); /* past ':' */
        size_t ve = value_end(s, i);
        f->raw = (struct gw_str){s.p + i, ve - i};
        switch (s.p[i]) {
        case '"':
            f->type = 's';
            f->value = json_unescape(d->a, f->raw);
            break;
        case '{':
            f->type = 'o';
            break;
        case '[':
            f->type = 'a';
            break;
        case 't':
            f->type = 't';
            break;
        case 'f':
            f->type = 'f';
            break;
        case 'n':
            f->type = 'z';
            break;
        default:
            f->type = 'n';
        }
        if (f->name.p == NULL && f->key.n > 2) {
            return -1;
        }
        i = ws(s, ve);
        if (i < s.n && s.p[i] == ',') {
            i = ws(s, i + 1);
        }
    }
    return 0;
}

/* ---- x-www-form-urlencoded */

/* ngx.unescape_uri with '+' as a space, as ngx.decode_args decodes */
static struct gw_str
form_unescape(struct gw_arena *a, struct gw_str s)
{
    char *out = gw_arena_alloc(a, s.n + 1), *o = out;

    if (out == NULL) {
        return GW_STR_NULL;
    }
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] == '+') {
            *o++ = ' ';
        } else if (s.p[i] == '%' && i + 2 < s.n && hexdig(s.p[i + 1]) >= 0 &&
                   hexdig(s.p[i + 2]) >= 0) {
            *o++ = (char)(hexdig(s.p[i + 1]) << 4 | hexdig(s.p[i + 2]));
            i += 2;
        } else {
            *o++ = s.p[i];
        }
    }
    return (struct gw_str){out, (size_t)(o - out)};
}

/* ngx.escape_uri as ngx.encode_args uses it: all but unreserved characters */
static size_t
form_escape(char *o, struct gw_str s)
{
    size_t n = 0;

    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            o[n++] = (char)ch;
        } else {
            o[n++] = '%';
            o[n++] = hex[ch >> 4];
            o[n++] = hex[ch & 15];
        }
    }
    return n;
}

static int
parse_form(struct gw_body_doc *d, struct gw_str s)
{
    size_t i = 0;

    while (i < s.n) {
        size_t st = i;
        while (i < s.n && s.p[i] != '&') {
            i++;
        }
        struct gw_str arg = {s.p + st, i - st};
        const char *eq = memchr(arg.p, '=', arg.n);
        struct gw_str k = {arg.p, eq ? (size_t)(eq - arg.p) : arg.n};
        i++;
        if (k.n == 0) {
            continue; /* ngx.decode_args skips arguments without a name */
        }
        struct gw_body_field *f = push(d);
        if (f == NULL) {
            return -1;
        }
        f->raw = arg;
        f->name = form_unescape(d->a, k);
        f->type = eq ? 's' : 'b';
        if (eq) {
            f->value =
                form_unescape(d->a, (struct gw_str){eq + 1, (size_t)(arg.p + arg.n - eq - 1)});
        }
        if (f->name.p == NULL || (eq && f->value.p == NULL)) {
            return -1;
        }
    }
    return 0;
}

/* ---- multipart/form-data */

static const char *
find(struct gw_str s, size_t from, const char *needle, size_t n)
{
    if (from > s.n) {
        return NULL;
    }
    return memmem(s.p + from, s.n - from, needle, n);
}

/* boundary=... from the Content-Type parameters, quoted or not */
static struct gw_str
boundary(struct gw_str ct)
{
    for (size_t i = 0; i + 9 <= ct.n; i++) {
        if (strncasecmp(ct.p + i, "boundary=", 9) != 0 ||
            (i > 0 && ct.p[i - 1] != ';' && ct.p[i - 1] != ' ' && ct.p[i - 1] != '\t')) {
            continue;
        }
        const char *p = ct.p + i + 9, *end = ct.p + ct.n;
        if (p < end && *p == '"') {
            const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
            return q ? (struct gw_str){p + 1, (size_t)(q - p - 1)} : GW_STR_NULL;
        }
        const char *e = p;
        while (e < end && *e != ';' && *e != ' ' && *e != '\t') {
            e++;
        }
        return (struct gw_str){p, (size_t)(e - p)};
    }
    return GW_STR_NULL;
}

/* name="..." in a part's Content-Disposition header */
static struct gw_str
part_name(struct gw_str headers)
{
    for (size_t i = 0; i + 6 <= headers.n; i++) {
        if (strncasecmp(headers.p + i, "name=\"", 6) == 0 &&
            (i == 0 || headers.p[i - 1] == ' ' || headers.p[i - 1] == ';')) {
            const char *p = headers.p + i + 6;
            const char *q = memchr(p, '"', (size_t)(headers.p + headers.n - p));
            return q ? (struct gw_str){p, (size_t)(q - p)} : GW_STR_NULL;
        }
    }
    return GW_STR_NULL;
}

static int
parse_multipart(struct gw_body_doc *d, struct gw_str ct, struct gw_str s)
{
    struct gw_str b = boundary(ct);
    char *delim;
    size_t dn;
    const char *p;

    if (b.n == 0 || b.n > 200) {
        return -1; /* RFC 2046 5.1.1: at most 70 characters */
    }
    if ((delim = gw_arena_alloc(d->a, b.n + 4)) == NULL) {
        return -1;
    }
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, b.p, b.n);
    dn = b.n + 4;
    d->boundary = b;
    /* the first delimiter may open the body without the CRLF before it */
    if (s.n >= dn - 2 && memcmp(s.p, delim + 2, dn - 2) == 0) {
        p = s.p + dn - 2;
    } else if ((p = find(s, 0, delim, dn)) != NULL) {
        p += dn;
    } else {
        return -1;
    }
    for (;;) {
        size_t at = (size_t)(p - s.p);
        if (s.n - at >= 2 && p[0] == '-' && p[1] == '-') {
            return 0; /* the close delimiter */
        }
        const char *eol = find(s, at, "\r\n", 2);
        if (eol == NULL) {
            return -1;
        }
        const char *start = eol + 2;
        const char *next = find(s, (size_t)(start - s.p), delim, dn);
        if (next == NULL) {
            return -1;
        }
        struct gw_str part = {start, (size_t)(next - start)};
        const char *blank = memmem(part.p, part.n, "\r\n\r\n", 4);
        struct gw_str hdrs = {part.p, blank ? (size_t)(blank - part.p) : 0};
        if (part.n >= 2 && part.p[0] == '\r' && part.p[1] == '\n') {
            blank = part.p - 2; /* no headers at all */
            hdrs.n = 0;
        }
        if (blank == NULL) {
            return -1;
        }
        struct gw_body_field *f = push(d);
        if (f == NULL) {
            return -1;
        }
        f->raw = part;
        f->name = part_name(hdrs);
        f->value = (struct gw_str){blank + 4, (size_t)(next - blank - 4)};
        f->type = 's';
        if (f->name.p == NULL) {
            f->name = (struct gw_str){"", 0}; /* kept as it is, never matched */
        }
        p = next + dn;
    }
}

int
gw_body_parse(struct gw_arena *a, enum gw_body_kind kind, struct gw_str ct, struct gw_str body,
              struct gw_body_doc *d)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->a = a;
    switch (kind) {
    case GW_BODY_JSON:
        return body.n ? parse_json(d, body) : 0;
    case GW_BODY_FORM:
        return parse_form(d, body);
    case GW_BODY_MULTIPART:
        if (body.n == 0) {
            d->boundary = boundary(ct);
            return d->boundary.n ? 0 : -1;
        }
        return parse_multipart(d, ct, body);
    default:
        return -1;
    }
}

int
gw_body_find(const struct gw_body_doc *d, struct gw_str name, unsigned *count)
{
    int first = -1;
    unsigned n = 0;

    for (unsigned i = 0; i < d->n; i++) {
        if (!d->f[i].removed && gw_str_eq(d->f[i].name, name)) {
            /* JSON: a repeated key is one value, the last (cjson's table) */
            if (n++ == 0 || d->kind == GW_BODY_JSON) {
                first = (int)i;
            }
        }
    }
    if (count) {
        *count = d->kind == GW_BODY_JSON && n ? 1 : n;
    }
    return first;
}

unsigned
gw_body_remove(struct gw_body_doc *d, struct gw_str name)
{
    unsigned n = 0;

    for (unsigned i = 0; i < d->n; i++) {
        if (!d->f[i].removed && gw_str_eq(d->f[i].name, name)) {
            d->f[i].removed = 1;
            n++;
        }
    }
    return n;
}

struct gw_str
gw_body_json_string(struct gw_arena *a, struct gw_str s)
{
    char *out = gw_arena_alloc(a, s.n * 6 + 2), *o = out;

    if (out == NULL) {
        return GW_STR_NULL;
    }
    *o++ = '"';
    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch == '"' || ch == '\\') {
            *o++ = '\\';
            *o++ = (char)ch;
        } else if (ch < 0x20) {
            const char *e = ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : ch == '\t' ? "\\t" : NULL;
            if (e) {
                memcpy(o, e, 2);
                o += 2;
            } else {
                memcpy(o, "\\u00", 4);
                o[4] = hex[ch >> 4];
                o[5] = hex[ch & 15];
                o += 6;
            }
        } else {
            *o++ = (char)ch;
        }
    }
    *o++ = '"';
    return (struct gw_str){out, (size_t)(o - out)};
}

/* The field's bytes from its name and value (form, multipart) or key (JSON). */
static int
rebuild(struct gw_body_doc *d, struct gw_body_field *f)
{
    char *o;

    switch (d->kind) {
    case GW_BODY_JSON:
        f->key = gw_body_json_string(d->a, f->name);
        return f->key.p ? 0 : -1;
    case GW_BODY_FORM:
        if ((o = gw_arena_alloc(d->a, (f->name.n + f->value.n) * 3 + 2)) == NULL) {
            return -1;
        }
        f->raw.p = o;
        f->raw.n = form_escape(o, f->name);
        if (f->type != 'b') {
            o[f->raw.n++] = '=';
            f->raw.n += form_escape(o + f->raw.n, f->value);
        }
        return 0;
    case GW_BODY_MULTIPART: {
        static const char h1[] = "Content-Disposition: form-data; name=\"";
        static const char h2[] = "\"\r\n\r\n";
        size_t n = sizeof h1 - 1 + f->name.n + sizeof h2 - 1 + f->value.n;
        if ((o = gw_arena_alloc(d->a, n)) == NULL) {
            return -1;
        }
        memcpy(o, h1, sizeof h1 - 1);
        memcpy(o + sizeof h1 - 1, f->name.p, f->name.n);
        memcpy(o + sizeof h1 - 1 + f->name.n, h2, sizeof h2 - 1);
        if (f->value.n) {
            memcpy(o + n - f->value.n, f->value.p, f->value.n);
        }
        f->raw = (struct gw_str){o, n};
        f->value = (struct gw_str){o + n - f->value.n, f->value.n};
        return 0;
    }
    default:
        return -1;
    }
}

int
gw_body_add(struct gw_body_doc *d, struct gw_str name, struct gw_str raw, struct gw_str value,
            char type)
{
    struct gw_body_field *f = push(d);

    if (f == NULL) {
        return -1;
    }
    f->name = name;
    f->raw = raw;
    f->value = value;
    f->type = type;
    return rebuild(d, f);
}

int
gw_body_set(struct gw_body_doc *d, unsigned i, struct gw_str raw, struct gw_str value, char type)
{
    struct gw_body_field *f = &d->f[i];

    for (unsigned k = 0; k < d->n; k++) {
        if (k != i && !d->f[k].removed && gw_str_eq(d->f[k].name, f->name)) {
            d->f[k].removed = 1;
        }
    }
    f->raw = raw;
    f->value = value;
    f->type = type;
    if (d->kind == GW_BODY_JSON) {
        return 0; /* the key stays as written */
    }
    return rebuild(d, f);
}

void
gw_body_rename(struct gw_body_doc *d, struct gw_str from, struct gw_str to)
{
    for (unsigned i = 0; i < d->n; i++) {
        struct gw_body_field *f = &d->f[i];
        if (f->removed || !gw_str_eq(f->name, from)) {
            continue;
        }
        f->name = to;
        if (d->kind == GW_BODY_FORM && f->type == 's' && memchr(f->raw.p, '=', f->raw.n)) {
            /* keep the value as it was encoded */
            const char *eq = memchr(f->raw.p, '=', f->raw.n);
            struct gw_str rest = {eq, (size_t)(f->raw.p + f->raw.n - eq)};
            char *o = gw_arena_alloc(d->a, to.n * 3 + rest.n);
            if (o == NULL) {
                continue;
            }
            size_t n = form_escape(o, to);
            memcpy(o + n, rest.p, rest.n);
            f->raw = (struct gw_str){o, n + rest.n};
            continue;
        }
        rebuild(d, f);
    }
    /* JSON: the renamed key replaces a field of that name (a table has one value per key) */
    if (d->kind == GW_BODY_JSON) {
        int last = -1;
        for (unsigned i = 0; i < d->n; i++) {
            if (!d->f[i].removed && gw_str_eq(d->f[i].name, to)) {
                if (last >= 0) {
                    d->f[last].removed = 1;
                }
                last = (int)i;
            }
        }
    }
}

struct gw_str
gw_body_serialize(const struct gw_body_doc *d)
{
    size_t n = 16 + (d->kind == GW_BODY_MULTIPART ? d->boundary.n + 8 : 0);
    char *out, *o;
    int first = 1;

    for (unsigned i = 0; i < d->n; i++) {
        n += d->f[i].raw.n + d->f[i].key.n + 8 + d->boundary.n;
    }
    if ((out = o = gw_arena_alloc(d->a, n)) == NULL) {
        return GW_STR_NULL;
    }
    if (d->kind == GW_BODY_JSON) {
        *o++ = '{';
    }
    for (unsigned i = 0; i < d->n; i++) {
        const struct gw_body_field *f = &d->f[i];
        if (f->removed) {
            continue;
        }
        if (d->kind == GW_BODY_JSON) {
            if (!first) {
                *o++ = ',';
            }
            memcpy(o, f->key.p, f->key.n);
            o += f->key.n;
            *o++ = ':';
        } else if (d->kind == GW_BODY_FORM) {
            if (!first) {
                *o++ = '&';
            }
        } else {
            memcpy(o, "--", 2);
            memcpy(o + 2, d->boundary.p, d->boundary.n);
            o += 2 + d->boundary.n;
            memcpy(o, "\r\n", 2);
            o += 2;
        }
        if (f->raw.n) {
            memcpy(o, f->raw.p, f->raw.n);
            o += f->raw.n;
        }
        if (d->kind == GW_BODY_MULTIPART) {
            memcpy(o, "\r\n", 2);
            o += 2;
        }
        first = 0;
    }
    if (d->kind == GW_BODY_JSON) {
        *o++ = '}';
    } else if (d->kind == GW_BODY_MULTIPART) {
        memcpy(o, "--", 2);
        memcpy(o + 2, d->boundary.p, d->boundary.n);
        o += 2 + d->boundary.n;
        memcpy(o, "--\r\n", 4);
        o += 4;
    }
    return (struct gw_str){out, (size_t)(o - out)};
}

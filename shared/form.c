/* Form bodies (urlencoded and multipart) into JSON objects, with Kong's key forms. */
#define _GNU_SOURCE
#include "form.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "val.h"

static int
hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* %XX and '+' decoded in place; returns the new length */
static size_t
url_decode(char *s, size_t n)
{
    size_t w = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            s[w++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            s[w++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            s[w++] = s[i];
        }
    }
    s[w] = '\0';
    return w;
}

/* Puts value at the path the key names. Components: names split by '.', and "[n]" / "[]"
 * for array elements (1-based as Kong's forms, "[]" appends). A plain key given twice
 * becomes an array. */
static int
form_set(json_t *root, const char *key, json_t *value)
{
    json_t *cur = root;
    const char *p = key;
    char name[256];

    /* jansson takes only UTF-8 (a value that is not gives NULL here); a failed insertion
     * would leave us holding a freed container */
    for (size_t i = 0, n = strlen(key); i < n;) {
        size_t l = gw_utf8_len((const unsigned char *)key + i, n - i);
        if (l == 0) {
            json_decref(value);
            return -1;
        }
        i += l;
    }
    if (value == NULL) {
        return -1;
    }

    for (;;) {
        size_t n = strcspn(p, ".[");
        if (n == 0 || n >= sizeof name) {
            json_decref(value);
            return -1;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        p += n;
        if (!json_is_object(cur)) {
            json_decref(value);
            return -1;
        }
        if (*p == '\0') {
            json_t *old = json_object_get(cur, name);
            if (old && json_is_array(old)) {
                json_array_append_new(old, value);
            } else if (old && !json_is_object(old)) {
                json_t *arr = json_array();
                json_array_append(arr, old);
                json_array_append_new(arr, value);
                json_object_set_new(cur, name, arr);
            } else {
                json_object_set_new(cur, name, value);
            }
            return 0;
        }
        if (*p == '.') {
            p++;
            json_t *next = json_object_get(cur, name);
            if (next == NULL || !json_is_object(next)) {
                next = json_object();
                json_object_set_new(cur, name, next);
            }
            cur = next;
            continue;
        }
        /* '[': an array element */
        const char *close = strchr(p, ']');
        if (close == NULL) {
            json_decref(value);
            return -1;
        }
        json_t *arr = json_object_get(cur, name);
        if (arr == NULL || !json_is_array(arr)) {
            arr = json_array();
            json_object_set_new(cur, name, arr);
        }
        long idx = 0;
        if (close > p + 1) {
            idx = strtol(p + 1, NULL, 10);
            if (idx < 1 || idx > 10000) {
                json_decref(value);
                return -1;
            }
        }
        p = close + 1;
        if (*p == '\0') {
            if (idx == 0) {
                json_array_append_new(arr, value);
            } else {
                while (json_array_size(arr) < (size_t)idx) {
                    json_array_append_new(arr, json_null());
                }
                json_array_set_new(arr, (size_t)idx - 1, value);
            }
            return 0;
        }
        /* paths[1].x or config.list[1].field: records inside arrays */
        if (*p == '.') {
            p++;
        }
        json_t *elem;
        if (idx == 0 || (size_t)idx > json_array_size(arr) ||
            !json_is_object(json_array_get(arr, (size_t)idx - 1))) {
            elem = json_object();
            if (idx == 0) {
                json_array_append_new(arr, elem);
            } else {
                while (json_array_size(arr) < (size_t)idx) {
                    json_array_append_new(arr, json_null());
                }
                json_array_set_new(arr, (size_t)idx - 1, elem);
            }
        } else {
            elem = json_array_get(arr, (size_t)idx - 1);
        }
        cur = elem;
    }
}

static json_t *
form_value(const char *v, size_t n)
{
    /* Kong: an empty form value means null */
    return n == 0 ? json_null() : json_stringn(v, n);
}

json_t *
gw_form_urlencoded(const char *text, size_t len)
{
    json_t *root = json_object();
    char *body = malloc(len + 1);
    if (body == NULL || root == NULL) {
        free(body);
        json_decref(root);
        return NULL;
    }
    memcpy(body, text, len);
    body[len] = '\0';
    char *p = body, *end = body + len;

    while (p < end) {
        char *amp = memchr(p, '&', (size_t)(end - p));
        char *stop = amp ? amp : end;
        char *eq = memchr(p, '=', (size_t)(stop - p));
        if (stop > p) {
            char *k = p, *v = eq ? eq + 1 : stop;
            size_t kn = (size_t)((eq ? eq : stop) - k), vn = (size_t)(stop - v);
            char save = *stop;
            k[kn] = '\0'; /* eq or stop */
            kn = url_decode(k, kn);
            if (eq) {
                v[vn] = '\0';
                vn = url_decode(v, vn);
            }
            if (kn > 0 && form_set(root, k, form_value(v, eq ? vn : 0)) < 0) {
                json_decref(root);
                free(body);
                return NULL;
            }
            (void)save;
        }
        p = stop + 1;
    }
    free(body);
    return root;
}

static const char *
memmem_s(const char *h, size_t hn, const char *n, size_t nn)
{
    return memmem(h, hn, n, nn);
}

json_t *
gw_form_multipart(const char *ctype, const char *body, size_t len)
{
    const char *b = strcasestr(ctype, "boundary=");
    char delim[256];
    json_t *root;

    if (b == NULL) {
        return NULL;
    }
    b += 9;
    size_t bn = *b == '"' ? strcspn(b + 1, "\"") : strcspn(b, "; \t");
    if (*b == '"') {
        b++;
    }
    if (bn == 0 || bn > 200) {
        return NULL;
    }
    int dn = snprintf(delim, sizeof delim, "--%.*s", (int)bn, b);
    root = json_object();
    const char *p = memmem_s(body, len, delim, (size_t)dn);
    while (p) {
        p += dn;
        if ((size_t)(body + len - p) >= 2 && p[0] == '-' && p[1] == '-') {
            break; /* the closing delimiter */
        }
        const char *hend = memmem_s(p, (size_t)(body + len - p), "\r\n\r\n", 4);
        if (hend == NULL) {
            break;
        }
        const char *data = hend + 4;
        char ndelim[260];
        int nn = snprintf(ndelim, sizeof ndelim, "\r\n%s", delim);
        const char *next = memmem_s(data, (size_t)(body + len - data), ndelim, (size_t)nn);
        if (next == NULL) {
            break;
        }
        /* the name from Content-Disposition: form-data; name="x" */
        const char *nm = NULL;
        for (const char *q = p; q + 5 < hend; q++) {
            if (strncasecmp(q, "name=\"", 6) == 0 && (q == p || q[-1] == ' ' || q[-1] == ';')) {
                nm = q + 6;
                break;
            }
        }
        /* the closing quote must be in this part's headers (the body is not NUL-terminated) */
        const char *q2 = nm ? memchr(nm, '"', (size_t)(hend - nm)) : NULL;
        if (nm && q2 == NULL) {
            json_decref(root);
            return NULL;
        }
        if (nm) {
            size_t kn = (size_t)(q2 - nm);
            char *key = strndup(nm, kn);
            int rc = form_set(root, key, form_value(data, (size_t)(next - data)));
            free(key);
            if (rc < 0) {
                json_decref(root);
                return NULL;
            }
        }
        p = next + 2;
    }
    return root;
}

/* Value tree helpers. */
#include "val.h"

#include <string.h>

#include "arena.h"

const struct gw_val *
gw_val_get(const struct gw_val *obj, const char *key)
{
    if (obj == NULL || obj->type != GW_V_OBJ) {
        return NULL;
    }
    for (uint32_t i = 0; i < obj->n; i++) {
        if (strcmp(obj->u.kv[i].key, key) == 0) {
            return &obj->u.kv[i].val;
        }
    }
    return NULL;
}

void
gw_val_str(struct gw_val *v, const char *s, size_t n)
{
    memset(v, 0, sizeof *v);
    v->type = GW_V_STR;
    v->n = (uint32_t)n;
    v->u.s = s;
}

int
gw_val_copy(struct gw_arena *a, struct gw_val *dst, const struct gw_val *src)
{
    *dst = *src;
    switch (src->type) {
    case GW_V_STR:
        dst->u.s = gw_arena_strndup(a, src->u.s, src->n);
        return dst->u.s ? 0 : -1;
    case GW_V_ARR:
    case GW_V_REC:
        if (src->n == 0) {
            return 0;
        }
        dst->u.items = gw_arena_alloc(a, sizeof(struct gw_val) * src->n);
        if (dst->u.items == NULL) {
            return -1;
        }
        for (uint32_t i = 0; i < src->n; i++) {
            if (gw_val_copy(a, &dst->u.items[i], &src->u.items[i]) < 0) {
                return -1;
            }
        }
        return 0;
    case GW_V_OBJ:
        if (src->n == 0) {
            return 0;
        }
        dst->u.kv = gw_arena_alloc(a, sizeof(struct gw_kv) * src->n);
        if (dst->u.kv == NULL) {
            return -1;
        }
        for (uint32_t i = 0; i < src->n; i++) {
            struct gw_kv *d = &dst->u.kv[i];
            const struct gw_kv *s = &src->u.kv[i];
            d->klen = s->klen;
            d->key = gw_arena_strndup(a, s->key, s->klen);
            if (d->key == NULL || gw_val_copy(a, &d->val, &s->val) < 0) {
                return -1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

int
gw_val_equal(const struct gw_val *x, const struct gw_val *y)
{
    if (gw_val_is_null(x) && gw_val_is_null(y)) {
        return 1;
    }
    if (x == NULL || y == NULL || x->type != y->type || x->n != y->n) {
        return 0;
    }
    switch (x->type) {
    case GW_V_BOOL:
        return !x->u.b == !y->u.b;
    case GW_V_INT:
        return x->u.i == y->u.i;
    case GW_V_NUM:
        return x->u.d == y->u.d;
    case GW_V_STR:
        return memcmp(x->u.s, y->u.s, x->n) == 0;
    case GW_V_ARR:
    case GW_V_REC:
        for (uint32_t i = 0; i < x->n; i++) {
            if (!gw_val_equal(&x->u.items[i], &y->u.items[i])) {
                return 0;
            }
        }
        return 1;
    case GW_V_OBJ:
        for (uint32_t i = 0; i < x->n; i++) {
            const struct gw_val *o = gw_val_get(y, x->u.kv[i].key);
            if (o == NULL || !gw_val_equal(&x->u.kv[i].val, o)) {
                return 0;
            }
        }
        return 1;
    default:
        return 1;
    }
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates,
 * at most U+10FFFF), 0 when there is none. */
size_t
gw_utf8_len(const unsigned char *s, size_t n)
{
    size_t need;
    uint32_t cp;

    if (s[0] < 0x80) {
        return 1;
    } else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 2, cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        need = 3, cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < need) {
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
        return 0;
    }
    return need;
}

/* Fuzz target: body fields for plugins (dp/plugins/body.c). The first byte picks JSON, form
 * or multipart; a body that parses is edited (remove, rename, replace, add) and serialized,
 * and the result must parse again (for JSON: be a well-formed object). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "plugins/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct gw_str ct = GW_STR_LIT("multipart/form-data; boundary=XyZ");

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum gw_body_kind kinds[] = {GW_BODY_JSON, GW_BODY_FORM, GW_BODY_MULTIPART};
    struct gw_arena *a;
    struct gw_body_doc d, again;
    struct gw_str body, out;
    enum gw_body_kind kind;

    if (size == 0 || (a = gw_arena_create(0)) == NULL) {
        return 0;
    }
    kind = kinds[data[0] % 3];
    body = (struct gw_str){(const char *)data + 1, size - 1};
    if (gw_body_parse(a, kind, ct, body, &d) == 0) {
        int json = kind == GW_BODY_JSON;
        gw_body_remove(&d, GW_STR_LIT("b"));
        gw_body_rename(&d, GW_STR_LIT("c"), GW_STR_LIT("d\"q"));
        if (d.n) {
            gw_body_set(&d, 0, json ? GW_STR_LIT("[1]") : GW_STR_LIT("v&=\r\n"),
                        GW_STR_LIT("v&=\r\n"), json ? 'a' : 's');
        }
        gw_body_add(&d, GW_STR_LIT("e f"), json ? GW_STR_LIT("\"x\"") : GW_STR_LIT("x"),
                    GW_STR_LIT("x"), 's');
        out = gw_body_serialize(&d);
        if (out.p == NULL) {
            abort();
        }
        if (json && !gw_parse_json_wellformed(out.p, out.n)) {
            abort();
        }
        if (gw_body_parse(a, kind, ct, out, &again) != 0) {
            abort();
        }
    }
    gw_arena_destroy(a);
    return 0;
}

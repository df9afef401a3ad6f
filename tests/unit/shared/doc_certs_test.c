/* Certificates, SNIs, CA certificates, the credentials that hold keys (jwt secrets with RSA,
 * EC or Ed25519 public keys), key sets and keys, with keys and certificates generated at test
 * time. Messages from the reference §1.7-§1.11 and Kong's keys.lua and typedefs.lua;
 * "…" marks what the reference does not give. Documents are tables of templates in which
 * $NAME stands for a generated PEM (written as a YAML double-quoted scalar). */
#include "testcerts.h"

#define V3 "_format_version: \"3.0\"\n"
#define ID1 "11111111-1111-4111-8111-111111111111"
#define ID2 "22222222-2222-4222-8222-222222222222"
#define ID3 "33333333-3333-4333-8333-333333333333"

static struct {
    const char *name;
    char *pem;
} pems[] = {
    {"CERT", NULL},   /* RSA, CN a.example.test, not a CA */
    {"KEY", NULL},    /* its key */
    {"CERT2", NULL},  /* another RSA pair */
    {"KEY2", NULL},
    {"ECCERT", NULL}, /* an ECDSA pair */
    {"ECKEY", NULL},
    {"CA", NULL},     /* CA:TRUE, valid */
    {"CA2", NULL},    /* another CA */
    {"CAEXP", NULL},  /* CA:TRUE, expired yesterday */
    {"TWOCA", NULL},  /* CA then CA2 in one text */
    {"PUB", NULL},    /* RSA public key of KEY */
    {"ECPUB", NULL},  /* EC public key of ECKEY */
    {"EDPUB", NULL},  /* Ed25519 public key */
};

enum { P_CERT, P_KEY, P_CERT2, P_KEY2, P_ECCERT, P_ECKEY, P_CA, P_CA2, P_CAEXP, P_TWOCA, P_PUB,
       P_ECPUB, P_EDPUB };

static int
setup(void **state)
{
    EVP_PKEY *rsa = tc_rsa_key(), *rsa2 = tc_rsa_key(), *ec = tc_ec_key(), *ca = tc_ec_key();
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    size_t n;

    (void)state;
    assert_non_null(ed);
    pems[P_CERT].pem = tc_cert_pem(rsa, "a.example.test", 0, -1, 365);
    pems[P_KEY].pem = tc_key_pem(rsa);
    pems[P_CERT2].pem = tc_cert_pem(rsa2, "b.example.test", 0, -1, 365);
    pems[P_KEY2].pem = tc_key_pem(rsa2);
    pems[P_ECCERT].pem = tc_cert_pem(ec, "a.example.test", 0, -1, 365);
    pems[P_ECKEY].pem = tc_key_pem(ec);
    pems[P_CA].pem = tc_cert_pem(ca, "Test CA", 1, -1, 365);
    pems[P_CA2].pem = tc_cert_pem(ca, "Test CA 2", 1, -1, 365);
    pems[P_CAEXP].pem = tc_cert_pem(ca, "Old CA", 1, -30, -1);
    n = strlen(pems[P_CA].pem) + strlen(pems[P_CA2].pem) + 1;
    pems[P_TWOCA].pem = malloc(n);
    assert_non_null(pems[P_TWOCA].pem);
    snprintf(pems[P_TWOCA].pem, n, "%s%s", pems[P_CA].pem, pems[P_CA2].pem);
    pems[P_PUB].pem = tc_pubkey_pem(rsa);
    pems[P_ECPUB].pem = tc_pubkey_pem(ec);
    pems[P_EDPUB].pem = tc_pubkey_pem(ed);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa2);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ca);
    EVP_PKEY_free(ed);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < TU_COUNT(pems); i++) {
        free(pems[i].pem);
        pems[i].pem = NULL;
    }
    return 0;
}

/* The template with every $NAME replaced by the PEM as a YAML double-quoted scalar. */
static char *
expand(const char *tmpl)
{
    struct tu_str s = {0};

    tu_str_add(&s, "%s", "");
    for (const char *p = tmpl; *p;) {
        if (*p != '$') {
            size_t n = strcspn(p, "$");
            tu_str_add(&s, "%.*s", (int)n, p);
            p += n;
            continue;
        }
        size_t n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        size_t i;
        for (i = 0; i < TU_COUNT(pems); i++) {
            if (strlen(pems[i].name) == n && strncmp(pems[i].name, p + 1, n) == 0) {
                break;
            }
        }
        if (i == TU_COUNT(pems)) {
            print_error("unknown placeholder in %s\n", p);
            fail();
        }
        json_t *j = json_string(pems[i].pem);
        char *q = json_dumps(j, JSON_ENCODE_ANY);
        assert_non_null(q);
        tu_str_add(&s, "%s", q);
        free(q);
        json_decref(j);
        p += 1 + n;
    }
    return s.p;
}

struct err_case {
    const char *tmpl;
    const char *want; /* error lines, or NULL when the document is valid */
};

static int
run_err_cases(const char *table, const struct err_case *cases, size_t n)
{
    int failed = 0;

    for (size_t i = 0; i < n; i++) {
        char *doc = expand(cases[i].tmpl);
        char *got = tu_doc_errors(doc);
        failed += tu_check_row(table, i, cases[i].tmpl, got, cases[i].want);
        free(got);
        free(doc);
    }
    return failed;
}

#define RUN(cases) assert_int_equal(run_err_cases(#cases, cases, TU_COUNT(cases)), 0)

/* ------------------------------------------------------------------ certificates, snis */

static const struct err_case certificate_cases[] = {
    {V3 "certificates:\n- cert: $CERT\n  key: $KEY\n  snis:\n  - name: a.example.test\n"
        "  - b.example.test\n  - name: \"*.wild.example.test\"\n",
     NULL},
    {V3 "certificates:\n- {cert: $CERT, key: $KEY2}\n",
     "certificates[0]: certificate does not match key"},
    {V3 "certificates:\n- {cert: $ECCERT, key: $KEY}\n",
     "certificates[0]: certificate does not match key"},
    {V3 "certificates:\n- {cert: \"-----BEGIN CERTIFICATE-----\\nnope\\n-----END CERTIFICATE-----"
        "\\n\", key: $KEY}\n",
     "certificates[0].cert: invalid certificate: …"},
    {V3 "certificates:\n- {cert: hello, key: $KEY}\n", "certificates[0].cert: invalid certificate: …"},
    {V3 "certificates:\n- {cert: $CERT, key: hello}\n", "certificates[0].key: invalid key: …"},
    {V3 "certificates:\n- {cert: $CERT, key: $CERT}\n", "certificates[0].key: invalid key: …"},
    {V3 "certificates:\n- {key: $KEY}\n", "certificates[0].cert: required field missing"},
    {V3 "certificates:\n- {cert: $CERT}\n", "certificates[0].key: required field missing"},
    /* the alternative pair */
    {V3 "certificates:\n- {cert: $CERT, key: $KEY, cert_alt: $ECCERT, key_alt: $ECKEY}\n", NULL},
    {V3 "certificates:\n- {cert: $CERT, key: $KEY, cert_alt: $ECCERT}\n",
     "certificates[0]: all or none of these fields must be set: 'cert_alt', 'key_alt'"},
    {V3 "certificates:\n- {cert: $CERT, key: $KEY, cert_alt: $ECCERT, key_alt: $KEY2}\n",
     "certificates[0]: alternative certificate does not match key"},
    {V3 "certificates:\n- {cert: $CERT, key: $KEY, cert_alt: $CERT2, key_alt: $KEY2}\n",
     "certificates[0]: …"},
    /* SNIs: wildcard hosts, not IPs, no port */
    {V3 "certificates:\n- cert: $CERT\n  key: $KEY\n  snis:\n  - name: 10.0.0.1\n",
     "certificates[0].snis[0].name: must not be an IP"},
    {V3 "certificates:\n- cert: $CERT\n  key: $KEY\n  snis:\n  - name: a.example.test:443\n",
     "certificates[0].snis[0].name: must not have a port"},
    {V3 "certificates:\n- cert: $CERT\n  key: $KEY\n  snis:\n  - name: \"a.*.test\"\n",
     "certificates[0].snis[0].name: invalid wildcard: must be placed at leftmost or rightmost "
     "label"},
    {V3 "certificates:\n- cert: $CERT\n  key: $KEY\n  snis:\n  - {}\n",
     "certificates[0].snis[0].name: required field missing"},
    {V3 "certificates:\n- cert: $CERT\n  key: $KEY\n  snis:\n  - name: a.example.test\n"
        "- cert: $CERT2\n  key: $KEY2\n  snis:\n  - name: a.example.test\n",
     "certificates[1].snis[0]: uniqueness violation: 'snis' entity with name set to "
     "'a.example.test' already declared"},
    /* top-level SNIs reference their certificate by id */
    {V3 "certificates:\n- {id: " ID1 ", cert: $CERT, key: $KEY}\n"
        "snis:\n- {name: a.example.test, certificate: " ID1 "}\n"
        "- {name: b.example.test, certificate: {id: " ID1 "}}\n",
     NULL},
    {V3 "snis:\n- name: a.example.test\n", "snis[0].certificate: required field missing"},
    /* tags on a certificate */
    {V3 "certificates:\n- cert: $CERT\n  key: $KEY\n  tags: [edge]\n", NULL},
};

static void
test_certificates(void **state)
{
    (void)state;
    RUN(certificate_cases);
}

/* ------------------------------------------------------------------ ca_certificates */

static const struct err_case ca_cases[] = {
    {V3 "ca_certificates:\n- cert: $CA\n", NULL},
    {V3 "ca_certificates:\n- cert: $CERT\n",
     "ca_certificates[0].cert: certificate does not appear to be a CA because it is missing the "
     "\"CA\" basic constraint"},
    {V3 "ca_certificates:\n- cert: $CAEXP\n",
     "ca_certificates[0].cert: certificate expired, \"Not After\" time is in the past"},
    {V3 "ca_certificates:\n- cert: $TWOCA\n",
     "ca_certificates[0].cert: please submit only one certificate at a time"},
    {V3 "ca_certificates:\n- cert: garbage\n", "ca_certificates[0].cert: …"},
    {V3 "ca_certificates:\n- {}\n", "ca_certificates[0].cert: required field missing"},
    {V3 "ca_certificates:\n- cert: $CA\n- cert: $CA\n",
     "ca_certificates[1]: uniqueness violation: 'ca_certificates' entity with cert_digest set "
     "to '…' already declared"},
    {V3 "ca_certificates:\n- cert: $CA\n- cert: $CA2\n", NULL},
    /* services and upstreams that use them */
    {V3 "certificates:\n- {id: " ID1 ", cert: $CERT, key: $KEY}\n"
        "ca_certificates:\n- {id: " ID2 ", cert: $CA}\n"
        "services:\n- {host: a, protocol: https, client_certificate: " ID1 ", ca_certificates: "
        "[" ID2 "], tls_verify: true}\n"
        "upstreams:\n- {name: u, client_certificate: {id: " ID1 "}}\n",
     NULL},
    {V3 "services:\n- {host: a, protocol: https, client_certificate: " ID3 "}\n",
     "services[0].client_certificate: invalid reference 'client_certificate: " ID3 "' (no such "
     "entry in 'certificates')"},
    {V3 "certificates:\n- {id: " ID1 ", cert: $CERT, key: $KEY}\n"
        "services:\n- {host: a, protocol: http, client_certificate: " ID1 "}\n",
     "services[0]: failed conditional validation given value of field 'protocol'\n"
     "services[0].client_certificate: value must be null"},
};

static void
test_ca_certificates(void **state)
{
    (void)state;
    RUN(ca_cases);
}

/* ------------------------------------------------------------------ jwt keys */

static const struct err_case jwt_cases[] = {
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - {algorithm: RS256, rsa_public_key: $PUB}\n",
     NULL},
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - {algorithm: PS512, rsa_public_key: $PUB}\n",
     NULL},
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - {algorithm: ES256, rsa_public_key: $ECPUB}\n",
     NULL},
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - {algorithm: EdDSA, rsa_public_key: $EDPUB}\n",
     NULL},
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - {algorithm: RS384, rsa_public_key: $CERT}\n",
     "consumers[0].jwt_secrets[0]: failed conditional validation given value of field "
     "'algorithm'\n"
     "consumers[0].jwt_secrets[0].rsa_public_key: invalid key"},
};

static void
test_jwt_keys(void **state)
{
    (void)state;
    RUN(jwt_cases);
}

/* ------------------------------------------------------------------ key sets, keys */

/* Kong's keys.lua and typedefs.pem/jwk (§1.11); a jwk is a string holding JSON */
#define JWK(kid) "'{\"kty\": \"RSA\", \"kid\": \"" kid "\", \"n\": \"AQAB\", \"e\": \"AQAB\"}'"

static const struct err_case key_cases[] = {
    {V3 "key_sets:\n- name: s\n  keys:\n  - {kid: k1, name: a, jwk: " JWK("k1") "}\n"
        "  - {kid: k2, pem: {private_key: $KEY, public_key: $PUB}}\n",
     NULL},
    {V3 "keys:\n- {kid: k1, pem: {public_key: $ECPUB}}\n- {kid: k2, pem: {private_key: $ECKEY}}\n",
     NULL},
    /* one kid per set: the same kid in two sets, or once without a set, is fine */
    {V3 "key_sets:\n- name: s\n  keys:\n  - {kid: k1, jwk: " JWK("k1") "}\n"
        "- name: t\n  keys:\n  - {kid: k1, jwk: " JWK("k1") "}\n"
        "keys:\n- {kid: k1, jwk: " JWK("k1") "}\n- {kid: k2, set: t, jwk: " JWK("k2") "}\n",
     NULL},
    {V3 "keys:\n- {kid: k1, jwk: " JWK("other") "}\n",
     "keys[0]: kid in jwk.kid must be equal to keys.kid"},
    {V3 "keys:\n- {kid: k1, jwk: '[1, 2]'}\n", "keys[0]: kid in jwk.kid must be equal to keys.kid"},
    {V3 "keys:\n- {kid: k1, jwk: '{nope'}\n", "keys[0]: could not json decode jwk string"},
    {V3 "keys:\n- {kid: k1, jwk: " JWK("k1") ", pem: {public_key: $PUB}}\n",
     "keys[0]: only one or none of these fields must be set: 'jwk', 'pem'"},
    {V3 "keys:\n- {kid: k1, name: a}\n",
     "keys[0]: at least one of these fields must be non-empty: 'jwk', 'pem'"},
    {V3 "keys:\n- {jwk: " JWK("k1") "}\n", "keys[0].kid: required field missing"},
    {V3 "keys:\n- {kid: k1, pem: {public_key: garbage}}\n",
     "keys[0].pem: could not load public key"},
    {V3 "keys:\n- {kid: k1, pem: {public_key: $CERT}}\n", "keys[0].pem: could not load public key"},
    {V3 "keys:\n- {kid: k1, pem: {private_key: $PUB}}\n", "keys[0].pem: could not load private key"},
    {V3 "keys:\n- {kid: k1, pem: {private_key: $KEY, public_key: $ECPUB}}\n",
     "keys[0].pem: public key does not match private key"},
    {V3 "keys:\n- {kid: k1, pem: {}}\n",
     "keys[0].pem: at least one of these fields must be non-empty: 'private_key', 'public_key'"},
    {V3 "keys:\n- {kid: k1, pem: {public_key: $PUB, x: 1}}\n", "keys[0].pem.x: unknown field"},
    /* nested: the set comes from the parent */
    {V3 "key_sets:\n- name: s\n  keys:\n  - {kid: k1, set: s, jwk: " JWK("k1") "}\n",
     "key_sets[0].keys[0].set: value must be null"},
    {V3 "keys:\n- {kid: k1, set: nope, jwk: " JWK("k1") "}\n",
     "keys[0].set: invalid reference 'set: nope' (no such entry in 'key_sets')"},
    /* uniqueness: (kid, set) as Kong's cache key, names */
    {V3 "key_sets:\n- name: s\n  keys:\n  - {kid: k1, jwk: " JWK("k1") "}\n"
        "  - {kid: k1, pem: {public_key: $PUB}}\n",
     "key_sets[0].keys[1]: uniqueness violation: 'keys' entity with cache key set to 'k1:…' "
     "already declared"},
    {V3 "keys:\n- {kid: k1, jwk: " JWK("k1") "}\n- {kid: k1, pem: {public_key: $PUB}}\n",
     "keys[1]: uniqueness violation: 'keys' entity with cache key set to 'k1:' already declared"},
    {V3 "keys:\n- {kid: k1, name: a, jwk: " JWK("k1") "}\n- {kid: k2, name: a, jwk: " JWK("k2")
        "}\n",
     "keys[1]: uniqueness violation: 'keys' entity with name set to 'a' already declared"},
    {V3 "key_sets:\n- name: s\n- name: s\n",
     "key_sets[1]: uniqueness violation: 'key_sets' entity with name set to 's' already declared"},
};

static void
test_keys(void **state)
{
    (void)state;
    RUN(key_cases);
}

/* a nested key points at its set; pem stays a record; the canonical form loads again */
static void
test_keys_loaded(void **state)
{
    char *doc = expand(V3 "key_sets:\n- name: s\n  keys:\n  - {kid: k1, jwk: " JWK("k1") "}\n"
                          "  - {kid: k2, pem: {private_key: $KEY, public_key: $PUB}}\n");
    struct gw_config *cfg = tu_load_ok(doc);
    const struct gw_record *r = gw_entities[GW_ENT_KEYS].schema;

    (void)state;
    assert_int_equal(cfg->sets[GW_ENT_KEY_SETS].n, 1);
    assert_int_equal(cfg->sets[GW_ENT_KEYS].n, 2);
    const char *set_id = tu_id_of(cfg, GW_ENT_KEY_SETS, "name", "s");
    for (int i = 0; i < 2; i++) {
        const struct gw_val *k = tu_find(cfg, GW_ENT_KEYS, "kid", i ? "k2" : "k1");
        assert_non_null(k);
        const struct gw_val *fk = gw_rec_get(r, k, "set");
        assert_int_equal(fk->type, GW_V_STR);
        assert_string_equal(fk->u.s, set_id);
    }
    char *pem = tu_field_json(GW_ENT_KEYS, tu_find(cfg, GW_ENT_KEYS, "kid", "k1"), "pem");
    assert_string_equal(pem, "null");
    free(pem);
    size_t n;
    char *canon = gw_canon_json(cfg, &n);
    assert_non_null(canon);
    struct gw_config *again = tu_load_ok_fmt(canon, GW_FMT_JSON);
    assert_string_equal(again->hash, cfg->hash);
    assert_string_equal(tu_id_of(again, GW_ENT_KEY_SETS, "name", "s"), set_id);
    free(canon);
    gw_config_free(again);
    gw_config_free(cfg);
    free(doc);
}

/* ------------------------------------------------------------------ loaded values */

static void
test_loaded_values(void **state)
{
    char *doc = expand(V3 "certificates:\n- cert: $CERT\n  key: $KEY\n  snis:\n"
                          "  - name: a.example.test\n  - b.example.test\n"
                          "ca_certificates:\n- {cert: $CA, tags: [root]}\n");
    struct gw_config *cfg = tu_load_ok(doc);
    char digest[65];

    (void)state;
    assert_int_equal(cfg->sets[GW_ENT_CERTIFICATES].n, 1);
    assert_int_equal(cfg->sets[GW_ENT_SNIS].n, 2);
    const char *cert_id = gw_config_id(GW_ENT_CERTIFICATES, &cfg->sets[GW_ENT_CERTIFICATES].recs[0]);
    static const char *const names[] = {"a.example.test", "b.example.test"};
    for (size_t i = 0; i < TU_COUNT(names); i++) {
        const struct gw_val *sni = tu_find(cfg, GW_ENT_SNIS, "name", names[i]);
        assert_non_null(sni);
        const struct gw_val *fk = gw_rec_get(gw_entities[GW_ENT_SNIS].schema, sni, "certificate");
        assert_int_equal(fk->type, GW_V_STR);
        assert_string_equal(fk->u.s, cert_id);
    }
    /* the certificate keeps its PEM text as given */
    const struct gw_val *c =
        gw_rec_get(gw_entities[GW_ENT_CERTIFICATES].schema, &cfg->sets[GW_ENT_CERTIFICATES].recs[0],
                   "cert");
    assert_string_equal(c->u.s, pems[P_CERT].pem);
    /* cert_digest: hex SHA-256 of the DER certificate */
    tc_cert_digest(pems[P_CA].pem, digest);
    const struct gw_val *ca = tu_find(cfg, GW_ENT_CA_CERTIFICATES, "cert_digest", digest);
    assert_non_null(ca);
    /* and the whole thing survives the canonical round trip */
    size_t n;
    char *canon = gw_canon_json(cfg, &n);
    assert_non_null(canon);
    struct gw_config *again = tu_load_ok_fmt(canon, GW_FMT_JSON);
    assert_string_equal(again->hash, cfg->hash);
    free(canon);
    gw_config_free(again);
    gw_config_free(cfg);
    free(doc);
}

/* PEM written as a YAML literal block, as people write kong.yml */
static void
test_yaml_block_pem(void **state)
{
    struct tu_str s = {0};
    const char *pem_list[] = {pems[P_CERT].pem, pems[P_KEY].pem};
    const char *keys[] = {"cert", "key"};

    (void)state;
    tu_str_add(&s, V3 "certificates:\n");
    for (int k = 0; k < 2; k++) {
        tu_str_add(&s, "%s %s: |\n", k == 0 ? "-" : " ", keys[k]);
        for (const char *p = pem_list[k]; *p;) {
            size_t n = strcspn(p, "\n");
            tu_str_add(&s, "    %.*s\n", (int)n, p);
            p += n + (p[n] == '\n');
        }
    }
    struct gw_config *cfg = tu_load_ok(s.p);
    assert_int_equal(cfg->sets[GW_ENT_CERTIFICATES].n, 1);
    gw_config_free(cfg);
    free(s.p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certificates),
        cmocka_unit_test(test_ca_certificates),
        cmocka_unit_test(test_jwt_keys),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_keys_loaded),
        cmocka_unit_test(test_loaded_values),
        cmocka_unit_test(test_yaml_block_pem),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

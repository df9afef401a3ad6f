/* UUID generation. */
#include "uuid.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
format(const unsigned char b[16], char out[GW_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

static int
hexval(int c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

int
gw_uuid_v4(char out[GW_UUID_LEN + 1])
{
    unsigned char b[16];

    if (RAND_bytes(b, sizeof b) != 1) {
        return -1;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    format(b, out);
    return 0;
}

/* the v5 hashing state of one thread, freed when the thread exits */
struct v5 {
    EVP_MD_CTX *ctx;
    EVP_MD *sha1;
};

static pthread_key_t v5_key;
static pthread_once_t v5_once = PTHREAD_ONCE_INIT;

static void
v5_free(void *p)
{
    struct v5 *t = p;

    EVP_MD_CTX_free(t->ctx);
    EVP_MD_free(t->sha1);
    free(t);
}

static void
v5_key_init(void)
{
    pthread_key_create(&v5_key, v5_free);
}

static pthread_key_t
v5_key_get(void)
{
    pthread_once(&v5_once, v5_key_init);
    return v5_key;
}

void
gw_uuid_v5(const char *ns, const char *name, size_t n, char out[GW_UUID_LEN + 1])
{
    unsigned char nsb[16], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int j = 0;
    /* one context per thread, reused: a fresh one per id costs more than the hash */
    struct v5 *t = pthread_getspecific(v5_key_get());

    if (t == NULL && (t = calloc(1, sizeof *t)) != NULL) {
        t->ctx = EVP_MD_CTX_new();
        t->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL); /* fetched once: implicit fetches lock */
        pthread_setspecific(v5_key_get(), t);
    }
    EVP_MD_CTX *ctx = t ? t->ctx : NULL;
    EVP_MD *sha1 = t ? t->sha1 : NULL;
    if (ctx == NULL || sha1 == NULL) {
        static const unsigned char zero[16];
        format(zero, out); /* out of memory: the nil UUID rather than a crash */
        return;
    }

    for (int i = 0; ns[i] && j < 16; i++) {
        if (ns[i] == '-') {
            continue;
        }
        nsb[j++] = (unsigned char)(hexval(ns[i]) * 16 + hexval(ns[i + 1]));
        i++;
    }
    EVP_DigestInit_ex(ctx, sha1, NULL);
    EVP_DigestUpdate(ctx, nsb, 16);
    EVP_DigestUpdate(ctx, name, n);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    md[6] = (md[6] & 0x0f) | 0x50;
    md[8] = (md[8] & 0x3f) | 0x80;
    format(md, out);
}

/* Region allocator. Blocks are chained; an allocation larger than a quarter of a block gets a
 * block of its own, so big documents do not waste the tail of the current block. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ALIGN 16

struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    size_t clean; /* bytes from max(used, clean) to size are known to be zero */
    int mapped;   /* from mmap (big blocks), else calloc */
    _Alignas(ALIGN) unsigned char data[];
};

struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *data;
};

struct gw_arena {
    struct block *head;
    struct cleanup *cleanups;
    size_t chunk;     /* size of the next block */
    size_t chunk_max; /* blocks double up to this */
    size_t footprint;
};

/* Blocks from this size up are mapped with MAP_POPULATE: one system call fills the pages,
 * which on virtual machines costs a fraction of one page fault per page. */
#define MAP_MIN (1024 * 1024)

struct gw_arena *
gw_arena_create(size_t chunk_bytes)
{
    struct gw_arena *a = calloc(1, sizeof *a);

    if (a == NULL) {
        return NULL;
    }
    a->chunk = chunk_bytes ? chunk_bytes : 64 * 1024;
    /* big arenas (configs) grow geometrically: few blocks, little waste when small */
    a->chunk_max = a->chunk >= 256 * 1024 ? 2 * 1024 * 1024 : a->chunk;
    return a;
}

static void
free_block(struct block *b)
{
    if (b->mapped) {
        munmap(b, sizeof *b + b->size);
    } else {
        free(b);
    }
}

void
gw_arena_destroy(struct gw_arena *a)
{
    if (a == NULL) {
        return;
    }
    while (a->cleanups) {
        struct cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->data);
    }
    while (a->head) {
        struct block *b = a->head;
        a->head = b->next;
        free_block(b);
    }
    free(a);
}

static struct block *
new_block(struct gw_arena *a, size_t size)
{
    struct block *b;
    int mapped = 0;

    if (size >= MAP_MIN) {
        void *p = mmap(NULL, sizeof *b + size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        b = p == MAP_FAILED ? NULL : p;
        mapped = 1;
    } else {
        /* calloc: fresh pages come zeroed for free, and gw_arena_calloc can skip its memset */
        b = calloc(1, sizeof *b + size);
    }
    if (b == NULL) {
        return NULL;
    }
    b->size = size;
    b->used = 0;
    b->clean = 0;
    b->mapped = mapped;
    a->footprint += sizeof *b + size;
    return b;
}

void
gw_arena_reset(struct gw_arena *a)
{
    while (a->cleanups) {
        struct cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->data);
    }
    if (a->head == NULL) {
        return;
    }
    while (a->head->next) {
        struct block *b = a->head->next;
        a->head->next = b->next;
        a->footprint -= sizeof *b + b->size;
        free_block(b);
    }
    if (a->head->used > a->head->clean) {
        a->head->clean = a->head->used;
    }
    a->head->used = 0;
}

void *
gw_arena_alloc(struct gw_arena *a, size_t n)
{
    struct block *b = a->head;

    if (n > SIZE_MAX - ALIGN) {
        return NULL;
    }
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (b) {
        b->used = (b->used + ALIGN - 1) & ~(size_t)(ALIGN - 1); /* strings may have unaligned it */
        if (b->used > b->size) {
            b->used = b->size;
        }
    }
    if (b && b->size - b->used >= n) {
        void *p = b->data + b->used;
        b->used += n;
        return p;
    }
    if (n > a->chunk / 4) {
        /* a block of its own, linked behind the current one so its tail stays usable */
        struct block *big = new_block(a, n);
        if (big == NULL) {
            return NULL;
        }
        big->used = n;
        if (b) {
            big->next = b->next;
            b->next = big;
        } else {
            big->next = NULL;
            a->head = big;
        }
        return big->data;
    }
    b = new_block(a, a->chunk);
    if (b == NULL) {
        return NULL;
    }
    if (a->chunk < a->chunk_max) {
        a->chunk *= 2;
    }
    b->next = a->head;
    a->head = b;
    b->used = n;
    return b->data;
}

void *
gw_arena_calloc(struct gw_arena *a, size_t n)
{
    unsigned char *p = gw_arena_alloc(a, n);
    struct block *b = a->head;

    if (p == NULL) {
        return NULL;
    }
    /* memory never handed out before is still zero (calloc'd or mapped blocks): validated
     * records are mostly that, and their memset was a tenth of a config load */
    for (; b; b = b->next) {
        if (p >= b->data && p < b->data + b->size) {
            if ((size_t)(p - b->data) >= b->clean) {
                return p;
            }
            break;
        }
    }
    memset(p, 0, n);
    return p;
}

/* Strings need no alignment: pack them at the end of the current block. */
static void *
alloc_bytes(struct gw_arena *a, size_t n)
{
    struct block *b = a->head;

    if (b && b->size - b->used >= n) {
        void *p = b->data + b->used;
        b->used += n;
        return p;
    }
    return gw_arena_alloc(a, n);
}

char *
gw_arena_strndup(struct gw_arena *a, const char *s, size_t n)
{
    char *p;

    if (n == SIZE_MAX) {
        return NULL;
    }
    p = alloc_bytes(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

int
gw_arena_on_destroy(struct gw_arena *a, void (*fn)(void *), void *data)
{
    struct cleanup *c = gw_arena_alloc(a, sizeof *c);

    if (c == NULL) {
        return -1;
    }
    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}

size_t
gw_arena_footprint(const struct gw_arena *a)
{
    return a->footprint;
}

/* Region allocator: many small allocations, one free. */
#ifndef GW_ARENA_H
#define GW_ARENA_H

#include <stddef.h>

struct gw_arena; /* opaque; used by one thread at a time */

/* chunk_bytes is the size of each block taken from malloc (0: 64 KiB).
 * NULL when out of memory. */
struct gw_arena *gw_arena_create(size_t chunk_bytes);

/* Runs the destroy callbacks (newest first), then frees every block. NULL is a no-op. */
void gw_arena_destroy(struct gw_arena *a);

/* Aligned for any type; valid until gw_arena_destroy(). No per-object free.
 * NULL when out of memory or n overflows. */
void *gw_arena_alloc(struct gw_arena *a, size_t n);
void *gw_arena_calloc(struct gw_arena *a, size_t n);

/* Copies n bytes and appends a NUL. */
char *gw_arena_strndup(struct gw_arena *a, const char *s, size_t n);

/* Forgets every allocation and runs the destroy callbacks, keeping the newest block for
 * reuse (memory that is already mapped costs nothing to use again). */
void gw_arena_reset(struct gw_arena *a);

/* Runs fn(data) at destroy time, newest first: for what is not arena memory. */
int gw_arena_on_destroy(struct gw_arena *a, void (*fn)(void *), void *data);

/* Bytes taken from malloc so far (for measurements). */
size_t gw_arena_footprint(const struct gw_arena *a);

#endif

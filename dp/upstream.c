/* Upstream keep-alive pools. Idle connections stay watched for readability: a readable idle
 * connection is a close (or garbage) from the upstream, so it is dropped at once instead of
 * failing the next request. */
#define _GNU_SOURCE
#include "upstream.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUCKETS 256

struct gw_pool {
    struct gw_worker *w;
    struct gw_upconn *bucket[BUCKETS]; /* idle lists, newest first */
    uint32_t count[BUCKETS];
    ev_timer sweep;
};

static void
unlink_idle(struct gw_pool *p, struct gw_upconn *c)
{
    uint32_t b = (uint32_t)(c->key % BUCKETS);

    if (c->prev) {
        c->prev->next = c->next;
    } else {
        p->bucket[b] = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    c->next = c->prev = NULL;
    p->count[b]--;
}

static void
on_idle_event(struct ev_loop *loop, ev_io *io, int revents)
{
    struct gw_upconn *c = io->data;
    (void)loop, (void)revents;

    unlink_idle(c->w->pool, c);
    gw_upconn_close(c);
}

static void
on_sweep(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct gw_pool *p = t->data;
    ev_tstamp now = ev_now(loop);
    (void)revents;

    for (int b = 0; b < BUCKETS; b++) {
        struct gw_upconn *c = p->bucket[b];
        while (c) {
            struct gw_upconn *next = c->next;
            if (now - c->idle_since > GW_POOL_IDLE_TIMEOUT) {
                unlink_idle(p, c);
                gw_upconn_close(c);
            }
            c = next;
        }
    }
}

struct gw_pool *
gw_pool_new(struct gw_worker *w)
{
    struct gw_pool *p = calloc(1, sizeof *p);

    if (p == NULL) {
        return NULL;
    }
    p->w = w;
    ev_timer_init(&p->sweep, on_sweep, 5., 5.);
    p->sweep.data = p;
    ev_timer_start(w->loop, &p->sweep);
    ev_unref(w->loop); /* the sweep timer alone must not keep the loop alive */
    return p;
}

void
gw_pool_drain(struct gw_pool *p)
{
    for (int b = 0; b < BUCKETS; b++) {
        while (p->bucket[b]) {
            struct gw_upconn *c = p->bucket[b];
            unlink_idle(p, c);
            gw_upconn_close(c);
        }
    }
    if (ev_is_active(&p->sweep)) {
        ev_ref(p->w->loop);
        ev_timer_stop(p->w->loop, &p->sweep);
    }
}

void
gw_pool_free(struct gw_pool *p)
{
    if (p) {
        gw_pool_drain(p);
        free(p);
    }
}

struct gw_upconn *
gw_pool_get(struct gw_pool *p, const struct gw_target *t)
{
    return gw_pool_get_key(p, t->key);
}

struct gw_upconn *
gw_pool_get_key(struct gw_pool *p, uint64_t key)
{
    uint32_t b = (uint32_t)(key % BUCKETS);

    for (struct gw_upconn *c = p->bucket[b]; c; c = c->next) {
        if (c->key == key) {
            unlink_idle(p, c);
            return c; /* its watcher stays armed: the caller re-targets it */
        }
    }
    return NULL;
}

void
gw_pool_put(struct gw_pool *p, struct gw_upconn *c)
{
    uint32_t b = (uint32_t)(c->key % BUCKETS);

    if (c->requests >= GW_POOL_MAX_REQUESTS || p->count[b] >= GW_POOL_MAX_IDLE_PER_TARGET ||
        atomic_load(&p->w->stopping)) {
        gw_upconn_close(c);
        return;
    }
    c->idle_since = ev_now(p->w->loop);
    c->prev = NULL;
    c->next = p->bucket[b];
    if (c->next) {
        c->next->prev = c;
    }
    p->bucket[b] = c;
    p->count[b]++;
    /* idle: any event is a close; the watcher stays armed for reading, so taking the
     * connection again changes nothing in epoll */
    ev_set_cb(&c->io, on_idle_event);
    c->io.data = c;
    if (!ev_is_active(&c->io) || (c->io.events & (EV_READ | EV_WRITE)) != EV_READ) {
        ev_io_stop(p->w->loop, &c->io);
        ev_io_set(&c->io, c->fd, EV_READ);
        ev_io_start(p->w->loop, &c->io);
    }
}

struct gw_upconn *
gw_upconn_connect(struct gw_worker *w, const struct gw_target *t)
{
    struct gw_upconn *c;
    int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0) {
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    c->fd = fd;
    c->key = t->key;
    c->w = w;
    ev_init(&c->io, on_idle_event);
    ev_io_set(&c->io, fd, EV_WRITE);
    return c;
}

void
gw_upconn_close(struct gw_upconn *c)
{
    if (c) {
        ev_io_stop(c->w->loop, &c->io);
        if (c->ssl) {
            SSL_free(c->ssl);
        }
        close(c->fd);
        free(c);
    }
}

/* Worker threads and listeners. Each worker binds its own socket for every listen address
 * (SO_REUSEPORT: the kernel spreads connections, no accept lock) and runs one libev loop.
 * A new snapshot reaches a worker through w->pending and an ev_async: the worker swaps it in
 * between events, so a request never sees two configs; requests in flight keep a reference
 * to the one they started with. */
#define _GNU_SOURCE /* accept4 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "upstream.h"

struct gw_proxy_opts gw_opts = {
    .client_header_timeout = 60,
    .client_body_timeout = 60,
    .keepalive_timeout = 75,
    .max_buffered_body_size = 8 * 1024 * 1024,
};

struct gw_worker *gw_workers;
int gw_nworkers;

static int
bind_listener(const struct gw_listen *l)
{
    int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0 || listen(fd, 511) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void
on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    struct gw_worker *w = ev_userdata(loop);
    int idx = (int)(io - w->listen_io);
    (void)revents;

    /* a bounded batch per wake-up keeps other connections served */
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(io->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                fprintf(stderr, "tollgate-dp: accept: %s\n", strerror(errno));
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        atomic_fetch_add(&w->stats.accepted, 1);
        gw_proxy_accept(w, fd, &w->listens[idx], &peer, len);
    }
}

static void
adopt(struct gw_worker *w, struct gw_snapshot *s)
{
    uint32_t *rr = calloc(s->nservices ? s->nservices : 1, sizeof *rr);

    if (rr == NULL) {
        gw_snapshot_unref(s); /* keep serving the old one */
        return;
    }
    free(w->rr);
    w->rr = rr;
    gw_snapshot_unref(w->snap);
    w->snap = s;
}

static void
on_drain_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)t, (void)revents;
    ev_break(loop, EVBREAK_ALL); /* requests still running after the grace period are cut */
}

void
gw_worker_sync(struct gw_worker *w)
{
    /* acquire: the snapshot's contents were written before it was published */
    if (atomic_load_explicit(&w->pending, memory_order_acquire) != NULL) {
        struct gw_snapshot *s = atomic_exchange(&w->pending, NULL);
        if (s) {
            adopt(w, s);
        }
    }
}

static void
on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
    struct gw_worker *w = ev_userdata(loop);
    (void)a, (void)revents;

    gw_worker_sync(w);
    if (atomic_load(&w->stopping)) {
        gw_proxy_close_idle(w);
        gw_pool_drain(w->pool);
        for (int i = 0; i < w->nlisten; i++) {
            ev_io_stop(loop, &w->listen_io[i]);
            close(w->listen_fd[i]);
            w->listen_fd[i] = -1;
        }
        ev_async_stop(loop, &w->wake);
        ev_timer_init(&w->drain, on_drain_timeout, w->drain_s, 0.);
        ev_timer_start(loop, &w->drain);
        ev_unref(loop); /* the grace timer alone does not keep the loop running */
    }
}

static void *
run(void *arg)
{
    struct gw_worker *w = arg;

    ev_run(w->loop, 0);
    return NULL;
}

int
gw_workers_start(struct gw_snapshot *first)
{
    gw_nworkers = gw_opts.workers > 0 ? gw_opts.workers : 1;
    gw_workers = calloc((size_t)gw_nworkers, sizeof *gw_workers);
    if (gw_workers == NULL) {
        return -1;
    }
    for (int i = 0; i < gw_nworkers; i++) {
        struct gw_worker *w = &gw_workers[i];
        w->id = i;
        w->loop = ev_loop_new(EVFLAG_AUTO);
        if (w->loop == NULL) {
            return -1;
        }
        ev_set_userdata(w->loop, w);
        w->listens = gw_opts.listens;
        w->nlisten = gw_opts.nlisten;
        for (int j = 0; j < gw_opts.nlisten; j++) {
            w->listen_fd[j] = bind_listener(&gw_opts.listens[j]);
            if (w->listen_fd[j] < 0) {
                fprintf(stderr, "tollgate-dp: cannot listen on %s: %s\n", gw_opts.listens[j].text,
                        strerror(errno));
                return -1;
            }
            ev_io_init(&w->listen_io[j], on_accept, w->listen_fd[j], EV_READ);
            ev_io_start(w->loop, &w->listen_io[j]);
        }
        ev_async_init(&w->wake, on_wake);
        ev_async_start(w->loop, &w->wake);
        w->pool = gw_pool_new(w);
        if (w->pool == NULL) {
            return -1;
        }
        adopt(w, gw_snapshot_ref(first));
    }
    for (int i = 0; i < gw_nworkers; i++) {
        if (pthread_create(&gw_workers[i].thread, NULL, run, &gw_workers[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

void
gw_workers_publish(struct gw_snapshot *snap)
{
    for (int i = 0; i < gw_nworkers; i++) {
        struct gw_worker *w = &gw_workers[i];
        struct gw_snapshot *old = atomic_exchange(&w->pending, gw_snapshot_ref(snap));
        if (old) {
            gw_snapshot_unref(old); /* superseded before the worker took it */
        }
        ev_async_send(w->loop, &w->wake);
    }
}

void
gw_workers_stop(double timeout_s)
{
    for (int i = 0; i < gw_nworkers; i++) {
        gw_workers[i].drain_s = timeout_s;
        atomic_store(&gw_workers[i].stopping, 1);
        ev_async_send(gw_workers[i].loop, &gw_workers[i].wake);
    }
    for (int i = 0; i < gw_nworkers; i++) {
        pthread_join(gw_workers[i].thread, NULL);
    }
}

void
gw_workers_stats(uint64_t *accepted, uint64_t *active, uint64_t *requests)
{
    *accepted = *active = *requests = 0;
    for (int i = 0; i < gw_nworkers; i++) {
        *accepted += atomic_load(&gw_workers[i].stats.accepted);
        *active += atomic_load(&gw_workers[i].stats.active);
        *requests += atomic_load(&gw_workers[i].stats.requests);
    }
}

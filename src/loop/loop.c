/* loop: single-threaded epoll event loop with fd watchers, timers, deferred calls and signals. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "loop/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#define LOOP_MAX_EVENTS 256
#define LOOP_MAX_TIMERS (1u << 20)

struct loop_deferred {
  void (*cb)(void *);
  void *arg;
};

static void run_deferred(struct loop *l);

struct loop {
  int epfd;
  int stop;
  uint64_t now_ms;
  struct loop_timer **heap;
  size_t nheap, capheap;
  struct loop_deferred *defer;
  size_t ndefer, capdefer;
  /* signals */
  struct loop_io sigio;
  int (*sig_hook)(int, void *);
  void *sig_arg;
};

int loop_new(struct loop **out) {
  struct loop *l = calloc(1, sizeof(*l));
  if (!l) return ERR_NOMEM;
  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (l->epfd < 0) {
    free(l);
    return ERR_IO;
  }
  l->sigio.fd = -1;
  l->now_ms = util_mono_ms();
  *out = l;
  return 0;
}

void loop_free(struct loop *l) {
  if (!l) return;
  /* Objects freed through loop_defer must not leak when the loop goes away first. */
  run_deferred(l);
  if (l->sigio.active) {
    loop_io_del(l, &l->sigio);
    close(l->sigio.fd);
  }
  close(l->epfd);
  free(l->heap);
  free(l->defer);
  free(l);
}

uint64_t loop_now_ms(struct loop *l) { return l->now_ms; }

void loop_stop(struct loop *l) { l->stop = 1; }

int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_cb cb,
                void *data) {
  io->fd = fd;
  io->events = events;
  io->cb = cb;
  io->data = data;
  struct epoll_event ev = {.events = events, .data.ptr = io};
  if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) return ERR_IO;
  io->active = 1;
  return 0;
}

int loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events) {
  if (!io->active) return ERR_INVALID;
  if (io->events == events) return 0;
  struct epoll_event ev = {.events = events, .data.ptr = io};
  if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0) return ERR_IO;
  io->events = events;
  return 0;
}

void loop_io_del(struct loop *l, struct loop_io *io) {
  if (!io->active) return;
  epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
  io->active = 0;
  io->cb = NULL;
}

/* --- timers: binary min-heap on when_ms --- */

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *data) {
  t->when_ms = 0;
  t->heap_idx = (size_t)-1;
  t->cb = cb;
  t->data = data;
}

static void heap_swap(struct loop *l, size_t a, size_t b) {
  struct loop_timer *t = l->heap[a];
  l->heap[a] = l->heap[b];
  l->heap[b] = t;
  l->heap[a]->heap_idx = a;
  l->heap[b]->heap_idx = b;
}

static void heap_up(struct loop *l, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (l->heap[p]->when_ms <= l->heap[i]->when_ms) break;
    heap_swap(l, p, i);
    i = p;
  }
}

static void heap_down(struct loop *l, size_t i) {
  for (;;) {
    size_t a = 2 * i + 1, b = a + 1, m = i;
    if (a < l->nheap && l->heap[a]->when_ms < l->heap[m]->when_ms) m = a;
    if (b < l->nheap && l->heap[b]->when_ms < l->heap[m]->when_ms) m = b;
    if (m == i) break;
    heap_swap(l, m, i);
    i = m;
  }
}

void loop_timer_stop(struct loop *l, struct loop_timer *t) {
  size_t i = t->heap_idx;
  if (i == (size_t)-1 || i >= l->nheap || l->heap[i] != t) return;
  l->nheap--;
  if (i != l->nheap) {
    l->heap[i] = l->heap[l->nheap];
    l->heap[i]->heap_idx = i;
    heap_down(l, i);
    heap_up(l, i);
  }
  t->heap_idx = (size_t)-1;
}

void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms) {
  loop_timer_stop(l, t);
  if (l->nheap == l->capheap) {
    size_t nc = l->capheap ? l->capheap * 2 : 64;
    struct loop_timer **nh = nc <= LOOP_MAX_TIMERS ? realloc(l->heap, nc * sizeof(*nh)) : NULL;
    if (!nh) {
      /* Timers guard liveness; failing to arm one is not recoverable safely. */
      log_error("loop_timer_oom", "timers=%zu", l->nheap);
      abort();
    }
    l->heap = nh;
    l->capheap = nc;
  }
  t->when_ms = l->now_ms + delay_ms;
  t->heap_idx = l->nheap;
  l->heap[l->nheap++] = t;
  heap_up(l, t->heap_idx);
}

static void run_timers(struct loop *l) {
  while (l->nheap > 0 && l->heap[0]->when_ms <= l->now_ms) {
    struct loop_timer *t = l->heap[0];
    loop_timer_stop(l, t);
    t->cb(t);
  }
}

int loop_defer(struct loop *l, void (*cb)(void *), void *arg) {
  if (l->ndefer == l->capdefer) {
    size_t nc = l->capdefer ? l->capdefer * 2 : 32;
    struct loop_deferred *nd = realloc(l->defer, nc * sizeof(*nd));
    if (!nd) return ERR_NOMEM;
    l->defer = nd;
    l->capdefer = nc;
  }
  l->defer[l->ndefer].cb = cb;
  l->defer[l->ndefer].arg = arg;
  l->ndefer++;
  return 0;
}

static void run_deferred(struct loop *l) {
  /* Deferred callbacks may defer more; run until empty. */
  for (size_t i = 0; i < l->ndefer; i++) {
    struct loop_deferred d = l->defer[i];
    d.cb(d.arg);
  }
  l->ndefer = 0;
}

int loop_run_once(struct loop *l, int timeout_ms) {
  l->now_ms = util_mono_ms();
  int wait = timeout_ms;
  if (l->ndefer) wait = 0;
  if (l->nheap > 0) {
    uint64_t due = l->heap[0]->when_ms;
    int until = due <= l->now_ms ? 0 : (int)CC_MIN(due - l->now_ms, (uint64_t)60000);
    if (wait < 0 || until < wait) wait = until;
  }
  struct epoll_event evs[LOOP_MAX_EVENTS];
  int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, wait);
  if (n < 0 && errno != EINTR) return ERR_IO;
  l->now_ms = util_mono_ms();
  for (int i = 0; i < n; i++) {
    struct loop_io *io = evs[i].data.ptr;
    /* A watcher removed earlier in this batch must not fire; owners free watchers only
     * via loop_defer, so the pointer is still valid here. */
    if (io->active && io->cb) io->cb(io, evs[i].events);
  }
  run_timers(l);
  run_deferred(l);
  return 0;
}

int loop_run(struct loop *l) {
  l->stop = 0;
  while (!l->stop) {
    int rc = loop_run_once(l, -1);
    if (rc) return rc;
  }
  run_deferred(l);
  return 0;
}

static void sig_cb(struct loop_io *io, uint32_t events) {
  struct loop *l = io->data;
  struct signalfd_siginfo si;
  while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    int signo = (int)si.ssi_signo;
    log_info("signal", "signo=%d", signo);
    if (l->sig_hook && l->sig_hook(signo, l->sig_arg)) continue;
    loop_stop(l);
  }
}

int loop_handle_signals(struct loop *l, int (*hook)(int, void *), void *arg) {
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return ERR_IO;
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return ERR_IO;
  l->sig_hook = hook;
  l->sig_arg = arg;
  int rc = loop_io_add(l, &l->sigio, fd, LOOP_READ, sig_cb, l);
  if (rc) close(fd);
  return rc;
}

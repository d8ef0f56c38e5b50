/* loop: single-threaded epoll event loop with fd watchers, timers, deferred calls and signals. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_LOOP_LOOP_H
#define COCOON_LOOP_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct loop;

/* Event bits for loop_io (same values as EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP). */
#define LOOP_READ 0x001u
#define LOOP_WRITE 0x004u
#define LOOP_ERROR 0x008u
#define LOOP_HUP 0x010u

struct loop_io;
typedef void (*loop_io_cb)(struct loop_io *io, uint32_t events);

/* An fd watcher embedded in its owner (use CC_CONTAINER_OF or `data`). The loop borrows it;
 * the owner must loop_io_del before freeing it. */
struct loop_io {
  int fd;
  uint32_t events;
  int active;
  loop_io_cb cb;
  void *data;
};

struct loop_timer;
typedef void (*loop_timer_cb)(struct loop_timer *t);

/* A one-shot timer embedded in its owner. Restart from the callback to repeat. Started with
 * delay 0 from an fd or timer callback it fires later in the same iteration, after the fd
 * callbacks: a cancellable "at the end of this iteration" hook (loop_defer cannot be cancelled). */
struct loop_timer {
  uint64_t when_ms;
  size_t heap_idx; /* position in the loop's heap, SIZE_MAX when not armed */
  loop_timer_cb cb;
  void *data;
};

CC_NODISCARD int loop_new(struct loop **out);
/* Frees the loop; all watchers must have been removed. NULL-safe. */
void loop_free(struct loop *l);

/* Runs until loop_stop; returns 0. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
/* Runs one iteration waiting at most timeout_ms (-1: until an event). For tests. */
int loop_run_once(struct loop *l, int timeout_ms);

CC_NODISCARD int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events,
                             loop_io_cb cb, void *data);
CC_NODISCARD int loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events);
void loop_io_del(struct loop *l, struct loop_io *io);

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *data);
/* (Re)arms the timer to fire after delay_ms. */
void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms);
void loop_timer_stop(struct loop *l, struct loop_timer *t);
static inline int loop_timer_armed(const struct loop_timer *t) { return t->heap_idx != (size_t)-1; }

/* Cached monotonic time of the current iteration, in ms. */
uint64_t loop_now_ms(struct loop *l);

/* Calls cb(arg) after the current iteration's callbacks finish (safe place to free objects). */
CC_NODISCARD int loop_defer(struct loop *l, void (*cb)(void *arg), void *arg);

/* Stops the loop on SIGINT/SIGTERM (via signalfd) and ignores SIGPIPE. Optional hook
 * called with the signal number before stopping; if the hook returns nonzero the loop is
 * not stopped. */
CC_NODISCARD int loop_handle_signals(struct loop *l, int (*hook)(int signo, void *arg), void *arg);

#endif

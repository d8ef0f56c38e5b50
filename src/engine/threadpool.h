/* threadpool: fixed worker threads for data-parallel kernels; the calling thread takes a share. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_THREADPOOL_H
#define COCOON_ENGINE_THREADPOOL_H

#include <stdint.h>

#include "base/err.h"

#define THREADPOOL_MAX_THREADS 256u

/* Runs share `ith` of `nth` of a job. */
typedef void (*threadpool_job_cb)(void *arg, uint32_t ith, uint32_t nth);

struct threadpool;

/* A pool of n_threads participants (the caller plus n_threads-1 workers), 1..THREADPOOL_MAX_THREADS. */
CC_NODISCARD int threadpool_new(uint32_t n_threads, struct threadpool **out, struct err *e);
/* Stops and joins the workers; NULL is a no-op. */
void threadpool_free(struct threadpool *p);
uint32_t threadpool_size(const struct threadpool *p);

/* Calls fn(arg, i, n) once for each i < n (n = the pool size) and returns when all shares are
 * done: one barrier per call (workers and caller spin for some microseconds, then block).
 * Shares go to whichever participant claims them first, the caller included, so two shares
 * may run one after the other on one thread (a worker the OS has not scheduled yet takes
 * none); i still names a share's own scratch. A NULL pool runs fn(arg, 0, 1).
 * Not reentrant: one caller at a time. */
void threadpool_run(struct threadpool *p, threadpool_job_cb fn, void *arg);

#endif

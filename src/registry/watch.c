/* watch: a node's current root configuration: first load, periodic reload of newer versions,
 * and a persisted version floor against rollbacks. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "registry/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

/* The state file holds "N\n": the highest version this node ever accepted. */
static int read_floor(const char *path, uint64_t *out, struct err *e) {
  *out = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return err_set(e, ERR_IO, "cannot read %s: %s", path, strerror(errno));
  }
  char b[32];
  ssize_t n = read(fd, b, sizeof(b) - 1);
  close(fd);
  if (n <= 1 || b[n - 1] != '\n') return err_set(e, ERR_PARSE, "%s: not a registry version record", path);
  b[n - 1] = 0;
  int64_t v = 0;
  if (util_parse_i64(b, 1, INT64_MAX, &v) != 0) return err_set(e, ERR_PARSE, "%s: not a registry version record", path);
  *out = (uint64_t)v;
  return 0;
}

static int write_floor(const char *path, uint64_t v) {
  char tmp[4300], b[32];
  int k = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  int bl = snprintf(b, sizeof(b), "%" PRIu64 "\n", v);
  if (k < 0 || (size_t)k >= sizeof(tmp)) return -1;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -1;
  int ok = write(fd, b, (size_t)bl) == bl && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

static void accept_version(struct registry_watch *w) {
  struct registry *t = w->cur;
  w->cur = w->scratch;
  w->scratch = t;
  w->loaded_at = (int64_t)time(NULL);
  w->last_error[0] = 0;
  if (w->state_path[0] && w->cur->version > w->floor) {
    if (write_floor(w->state_path, w->cur->version) == 0) w->floor = w->cur->version;
    else log_warn("registry_state_unwritable", "path=%s", w->state_path);
  }
}

int registry_watch_open(struct registry_watch *w, struct registry_source *src, const char *state_path,
                        struct err *e) {
  memset(w, 0, sizeof(*w));
  w->src = src;
  int rc = 0;
  if (state_path && state_path[0]) {
    snprintf(w->state_path, sizeof(w->state_path), "%s", state_path);
    if ((rc = read_floor(w->state_path, &w->floor, e))) goto fail;
  }
  w->cur = calloc(1, sizeof(*w->cur));
  w->scratch = calloc(1, sizeof(*w->scratch));
  if (!w->cur || !w->scratch) {
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto fail;
  }
  rc = registry_source_poll(src, 1, w->scratch, e);
  if (rc < 0) goto fail;
  if (w->scratch->version < w->floor) {
    rc = err_set(e, ERR_REFUSED,
                 "registry version %" PRIu64 " is older than version %" PRIu64
                 " accepted before (%s); refusing a rollback",
                 w->scratch->version, w->floor, w->state_path);
    goto fail;
  }
  accept_version(w);
  log_info("registry_loaded", "source=\"%s\" version=%" PRIu64, src->where, w->cur->version);
  return 0;
fail:
  registry_watch_cleanup(w);
  return rc;
}

int registry_watch_poll(struct registry_watch *w) {
  struct err e = {0};
  int rc = registry_source_poll(w->src, 0, w->scratch, &e);
  if (rc == 0) return 0;
  if (rc > 0) {
    if (w->scratch->version > w->cur->version) {
      uint64_t old = w->cur->version;
      accept_version(w);
      w->reloads++;
      log_info("registry_reloaded", "source=\"%s\" version=%" PRIu64 " previous=%" PRIu64, w->src->where,
               w->cur->version, old);
      if (w->changed_cb) w->changed_cb(w->arg, w->cur);
      return 1;
    }
    if (w->scratch->version == w->cur->version &&
        memcmp(w->scratch->signature, w->cur->signature, REGISTRY_SIG_LEN) == 0)
      return 0; /* touched or rewritten with the same content */
    if (w->scratch->version == w->cur->version)
      rc = err_set(&e, ERR_REFUSED, "registry version %" PRIu64 " differs from the loaded version %" PRIu64
                   " of the same number; a change needs a higher version", w->scratch->version, w->cur->version);
    else
      rc = err_set(&e, ERR_REFUSED, "registry version %" PRIu64 " is older than the loaded version %" PRIu64,
                   w->scratch->version, w->cur->version);
  }
  w->rejected++;
  snprintf(w->last_error, sizeof(w->last_error), "%s", e.msg);
  log_warn("registry_rejected", "source=\"%s\" keeping_version=%" PRIu64 " reason=\"%s\"", w->src->where,
           w->cur->version, e.msg);
  return rc;
}

static void timer_cb(struct loop_timer *t) {
  struct registry_watch *w = t->data;
  (void)registry_watch_poll(w);
  loop_timer_start(w->loop, &w->timer, w->interval_ms);
}

void registry_watch_start(struct registry_watch *w, struct loop *loop, uint32_t interval_ms,
                          void (*cb)(void *arg, const struct registry *r), void *arg) {
  w->loop = loop;
  w->interval_ms = interval_ms ? interval_ms : REGISTRY_POLL_MS;
  w->changed_cb = cb;
  w->arg = arg;
  loop_timer_init(&w->timer, timer_cb, w);
  loop_timer_start(loop, &w->timer, w->interval_ms);
  struct err e = {0};
  if (w->src->ops->attach_cb && w->src->ops->attach_cb(w->src, loop, &e)) {
    /* Polls go on blocking; say so where operators look. */
    snprintf(w->last_error, sizeof(w->last_error), "%s", e.msg);
    log_warn("registry_attach_failed", "source=\"%s\" error=\"%s\"", w->src->where, e.msg);
  }
}

void registry_watch_cleanup(struct registry_watch *w) {
  if (w->loop) loop_timer_stop(w->loop, &w->timer);
  registry_source_free(w->src);
  free(w->cur);
  free(w->scratch);
  memset(w, 0, sizeof(*w));
}

int registry_watch_json(const struct registry_watch *w, struct buf *out) {
  char owner[2 * REGISTRY_KEY_LEN + 1];
  util_hex(w->cur->owner, REGISTRY_KEY_LEN, owner);
  int rc = buf_append_str(out, "\"source\":\"");
  if (!rc) rc = buf_append_json_str(out, w->src->where, strlen(w->src->where));
  if (!rc)
    rc = buf_appendf(out,
                     "\",\"version\":%" PRIu64 ",\"owner\":\"%s\",\"loaded_at\":%" PRId64 ",\"reloads\":%" PRIu64
                     ",\"rejected\":%" PRIu64 ",\"proxy_images\":%zu,\"worker_images\":%zu,\"models\":%zu"
                     ",\"proxy_addrs\":%zu,\"last_error\":\"",
                     w->cur->version, owner, w->loaded_at, w->reloads, w->rejected,
                     w->cur->n_hashes[REGISTRY_PROXY_IMAGE], w->cur->n_hashes[REGISTRY_WORKER_IMAGE],
                     w->cur->n_hashes[REGISTRY_MODEL], w->cur->n_proxy_addrs);
  if (!rc) rc = buf_append_json_str(out, w->last_error, strlen(w->last_error));
  if (!rc) rc = buf_append_str(out, "\"");
  return rc;
}

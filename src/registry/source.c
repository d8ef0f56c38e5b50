/* source: where a node's root configuration comes from (a signed file; the TON root contract
 * later), behind one interface. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "registry/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int registry_source_poll(struct registry_source *s, int force, struct registry *out, struct err *e) {
  return s->ops->poll_cb(s, force, out, e);
}

void registry_source_free(struct registry_source *s) {
  if (s) s->ops->free_cb(s);
}

int registry_read_file(const char *path, struct buf *out, struct err *e) {
  return buf_read_file(out, path, REGISTRY_MAX_FILE, e);
}

/* ---------------------------------------------------------------- file source */

struct file_source {
  struct registry_source base;
  char *path;
  int have_stat;
  struct stat last;
};

static int same_stat(const struct stat *a, const struct stat *b) {
  return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int file_poll(struct registry_source *s, int force, struct registry *out, struct err *e) {
  struct file_source *f = (struct file_source *)s;
  struct stat st;
  if (stat(f->path, &st) != 0) {
    int was = f->have_stat;
    f->have_stat = 0;
    /* A missing file is reported once, not every poll. */
    if (!was && !force) return 0;
    return err_set(e, ERR_IO, "cannot read registry %s: %s", f->path, strerror(errno));
  }
  if (!force && f->have_stat && same_stat(&st, &f->last)) return 0;
  f->last = st;
  f->have_stat = 1;
  struct buf b;
  buf_init(&b, REGISTRY_MAX_FILE + 1);
  int rc = registry_read_file(f->path, &b, e);
  if (!rc) rc = registry_load((const uint8_t *)buf_ptr(&b), b.len, s->owner, out, e);
  buf_free(&b);
  return rc ? rc : 1;
}

static void file_free(struct registry_source *s) {
  struct file_source *f = (struct file_source *)s;
  free(f->path);
  free(f);
}

static const struct registry_source_ops file_ops = {.kind = "file", .poll_cb = file_poll, .free_cb = file_free};

int registry_file_source_new(const char *path, const uint8_t owner[REGISTRY_KEY_LEN], struct registry_source **out,
                             struct err *e) {
  *out = NULL;
  if (!path || !path[0]) return err_set(e, ERR_INVALID, "no registry file given");
  struct file_source *f = calloc(1, sizeof(*f));
  if (!f || !(f->path = strdup(path))) {
    free(f);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  f->base.ops = &file_ops;
  memcpy(f->base.owner, owner, REGISTRY_KEY_LEN);
  snprintf(f->base.where, sizeof(f->base.where), "file %s", path);
  *out = &f->base;
  return 0;
}

/* buf: growable byte buffer with a hard maximum size. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "base/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void buf_init(struct buf *b, size_t max) {
  memset(b, 0, sizeof(*b));
  b->max = max ? max : BUF_DEFAULT_MAX;
}

void buf_free(struct buf *b) {
  if (!b) return;
  free(b->data);
  b->data = NULL;
  b->off = b->len = b->cap = 0;
}

int buf_reserve(struct buf *b, size_t extra) {
  size_t need;
  if (__builtin_add_overflow(b->len, extra, &need) || need > b->max) return ERR_LIMIT;
  if (b->off + need <= b->cap) return 0;
  /* Reclaim consumed front space before growing. */
  if (b->off > 0) {
    if (b->len) memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
    if (need <= b->cap) return 0;
  }
  size_t ncap = b->cap ? b->cap : 256;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2) return ERR_LIMIT;
    ncap *= 2;
  }
  if (ncap > b->max) ncap = b->max;
  uint8_t *nd = realloc(b->data, ncap);
  if (!nd) return ERR_NOMEM;
  b->data = nd;
  b->cap = ncap;
  return 0;
}

int buf_append(struct buf *b, const void *p, size_t n) {
  if (n == 0) return 0;
  int rc = buf_reserve(b, n);
  if (rc) return rc;
  memcpy(buf_tail(b), p, n);
  b->len += n;
  return 0;
}

int buf_append_str(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_appendf(struct buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[512];
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0) return ERR_INVALID;
  if ((size_t)n < sizeof(tmp)) return buf_append(b, tmp, (size_t)n);
  int rc = buf_reserve(b, (size_t)n + 1);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf((char *)buf_tail(b), (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

void buf_consume(struct buf *b, size_t n) {
  if (n >= b->len) {
    b->off = 0;
    b->len = 0;
    return;
  }
  b->off += n;
  b->len -= n;
}

void buf_reset(struct buf *b) {
  b->off = 0;
  b->len = 0;
}

uint8_t *buf_steal(struct buf *b, size_t *len_out) {
  if (b->off && b->len) memmove(b->data, b->data + b->off, b->len);
  uint8_t *d = b->data;
  *len_out = b->len;
  b->data = NULL;
  b->off = b->len = b->cap = 0;
  return d;
}

int buf_append_json_str(struct buf *b, const char *s, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') rc = buf_appendf(b, "\\%c", ch);
    else if (ch < 0x20 || ch == 0x7f) rc = buf_appendf(b, "\\u%04x", ch);
    else rc = buf_append(b, &ch, 1);
  }
  return rc;
}

int buf_read_file(struct buf *out, const char *path, size_t max, struct err *e) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err_set(e, ERR_IO, "cannot open %s: %s", path, strerror(errno));
  int rc = 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = err_set(e, ERR_IO, "%s is not a regular file", path);
    goto out;
  }
  if (max == SIZE_MAX || (rc = buf_reserve(out, max + 1))) {
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto out;
  }
  size_t got = 0;
  uint8_t *dst = (uint8_t *)buf_ptr(out) + out->len;
  for (;;) {
    ssize_t r = read(fd, dst + got, max + 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = err_set(e, ERR_IO, "cannot read %s: %s", path, strerror(errno));
      goto out;
    }
    if (r == 0) break;
    got += (size_t)r;
    if (got > max) {
      rc = err_set(e, ERR_LIMIT, "%s is larger than %zu bytes", path, max);
      goto out;
    }
  }
  out->len += got;
out:
  close(fd);
  return rc;
}

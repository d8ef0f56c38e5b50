/* provider: where a node's own quote comes from (none, fake_tdx, sim, tdx via configfs-tsm). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "attest/provider.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "base/util.h"

#define PROVIDER_PATH_MAX 4096

struct attest_provider {
  enum attest_provider_kind kind;
  struct attest_sim_platform *own_platform; /* loaded from a file, owned */
  const struct attest_sim_platform *platform;
  struct attest_td_report td; /* what we attest (sim, fake_tdx; tdx after the first quote) */
  int have_td;
  char tsm_dir[PROVIDER_PATH_MAX];
  unsigned seq; /* distinguishes our configfs report entries */
};

static const char *const kind_names[] = {"none", "fake_tdx", "sim", "tdx"};

int attest_provider_kind_parse(const char *s, enum attest_provider_kind *out, struct err *e) {
  for (size_t i = 0; i < CC_ARRAY_LEN(kind_names); i++) {
    if (!strcmp(s, kind_names[i])) {
      *out = (enum attest_provider_kind)i;
      return 0;
    }
  }
  return err_set(e, ERR_INVALID, "quote_provider must be none, fake_tdx, sim or tdx, not '%s'", s);
}

const char *attest_provider_kind_name(enum attest_provider_kind k) {
  return (size_t)k < CC_ARRAY_LEN(kind_names) ? kind_names[k] : "?";
}

int attest_report_data_for_key(const uint8_t pubkey[32], uint8_t out[ATTEST_REPORT_DATA_LEN]) {
  unsigned int len = 0;
  if (EVP_Digest(pubkey, 32, out, &len, EVP_sha512(), NULL) != 1 || len != ATTEST_REPORT_DATA_LEN) {
    ERR_clear_error();
    return ERR_CRYPTO;
  }
  return 0;
}

/* SHA-384 of a whole file, streamed. */
static int hash_file_sha384(const char *path, uint8_t out[ATTEST_MR_LEN], struct err *e) {
  int rc = 0;
  uint8_t chunk[65536];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err_set(e, ERR_IO, "sim: cannot read %s to measure it: %s", path, strerror(errno));
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md || EVP_DigestInit_ex(md, EVP_sha384(), NULL) != 1) {
    rc = err_set(e, ERR_CRYPTO, "sim: SHA-384 unavailable");
    goto out;
  }
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof(chunk));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = err_set(e, ERR_IO, "sim: cannot read %s: %s", path, strerror(errno));
      goto out;
    }
    if (r == 0) break;
    if (EVP_DigestUpdate(md, chunk, (size_t)r) != 1) {
      rc = err_set(e, ERR_CRYPTO, "sim: SHA-384 failed");
      goto out;
    }
  }
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(md, out, &len) != 1 || len != ATTEST_MR_LEN)
    rc = err_set(e, ERR_CRYPTO, "sim: SHA-384 failed");
out:
  EVP_MD_CTX_free(md);
  close(fd);
  ERR_clear_error();
  return rc;
}

int attest_provider_new(const struct attest_provider_opts *opts, struct attest_provider **out,
                        struct err *e) {
  *out = NULL;
  int rc = 0;
  struct attest_provider *p = calloc(1, sizeof(*p));
  if (!p) return err_set(e, ERR_NOMEM, "out of memory");
  p->kind = opts->kind;
  switch (opts->kind) {
    case ATTEST_PROVIDER_NONE:
      break;
    case ATTEST_PROVIDER_FAKE_TDX:
      p->have_td = 1; /* all measurements zero, as in COCOON's fake TDX */
      break;
    case ATTEST_PROVIDER_SIM:
      if (opts->sim_platform) {
        p->platform = opts->sim_platform;
      } else {
        if (!opts->sim_platform_key_path || !opts->sim_platform_key_path[0]) {
          rc = err_set(e, ERR_INVALID, "quote_provider sim needs sim_platform_key (a key file path)");
          goto out;
        }
        if ((rc = attest_sim_platform_load(opts->sim_platform_key_path, 1, &p->own_platform, e)))
          goto out;
        p->platform = p->own_platform;
      }
      if ((rc = hash_file_sha384(opts->sim_exe_path ? opts->sim_exe_path : ATTEST_SELF_EXE,
                                 p->td.mrtd, e)))
        goto out;
      if (opts->sim_config_measure) memcpy(p->td.rtmr[0], opts->sim_config_measure, ATTEST_MR_LEN);
      p->have_td = 1;
      break;
    case ATTEST_PROVIDER_TDX: {
      const char *dir = opts->tsm_dir ? opts->tsm_dir : ATTEST_TSM_DIR;
      int k = snprintf(p->tsm_dir, sizeof(p->tsm_dir), "%s", dir);
      if (k < 0 || (size_t)k >= sizeof(p->tsm_dir)) {
        rc = err_set(e, ERR_INVALID, "tsm directory path too long");
        goto out;
      }
      struct stat st;
      if (stat(p->tsm_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = err_set(e, ERR_NOTFOUND, "TDX is not available on this machine: %s missing", p->tsm_dir);
        goto out;
      }
      break;
    }
    default:
      rc = err_set(e, ERR_INVALID, "unknown quote provider %d", (int)opts->kind);
      goto out;
  }
out:
  if (rc) {
    attest_provider_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

void attest_provider_free(struct attest_provider *p) {
  if (!p) return;
  attest_sim_platform_free(p->own_platform);
  free(p);
}

enum attest_provider_kind attest_provider_kind(const struct attest_provider *p) { return p->kind; }

int attest_provider_td(const struct attest_provider *p, struct attest_td_report *td) {
  if (!p->have_td) return ERR_NOTFOUND;
  *td = p->td;
  return 0;
}

/* ---------------- tdx: configfs-tsm ---------------- */

static int tsm_write(const char *path, const uint8_t *p, size_t n, struct err *e) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return err_set(e, ERR_IO, "tdx: cannot open %s: %s", path, strerror(errno));
  int rc = 0;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      rc = err_set(e, ERR_IO, "tdx: cannot write %s: %s", path, strerror(errno));
      break;
    }
    p += w;
    n -= (size_t)w;
  }
  if (close(fd) != 0 && rc == 0) rc = err_set(e, ERR_IO, "tdx: cannot write %s: %s", path, strerror(errno));
  return rc;
}

/* Reads a whole configfs attribute, at most max bytes (more is ERR_LIMIT). */
static int tsm_read(const char *path, struct buf *out, size_t max, struct err *e) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err_set(e, ERR_IO, "tdx: cannot open %s: %s", path, strerror(errno));
  int rc = 0;
  uint8_t chunk[4096];
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof(chunk));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = err_set(e, ERR_IO, "tdx: cannot read %s: %s", path, strerror(errno));
      break;
    }
    if (r == 0) break;
    if (out->len + (size_t)r > max) {
      rc = err_set(e, ERR_LIMIT, "tdx: %s is larger than %zu bytes", path, max);
      break;
    }
    if (buf_append(out, chunk, (size_t)r) != 0) {
      rc = err_set(e, ERR_NOMEM, "out of memory");
      break;
    }
  }
  close(fd);
  return rc;
}

static int tdx_quote(struct attest_provider *p, const uint8_t rd[ATTEST_REPORT_DATA_LEN], struct buf *out,
                     struct err *e) {
  char entry[PROVIDER_PATH_MAX + 64], file[PROVIDER_PATH_MAX + 128];
  struct buf tmp;
  buf_init(&tmp, ATTEST_QUOTE_MAX);
  int rc;
  snprintf(entry, sizeof(entry), "%s/cocoon-%ld-%u", p->tsm_dir, (long)getpid(), p->seq++);
  if (mkdir(entry, 0700) != 0) {
    if (errno == ENOENT)
      return err_set(e, ERR_NOTFOUND, "TDX is not available on this machine: %s missing", p->tsm_dir);
    return err_set(e, ERR_IO, "tdx: cannot create %s: %s", entry, strerror(errno));
  }
  snprintf(file, sizeof(file), "%s/provider", entry);
  if ((rc = tsm_read(file, &tmp, 64, e)) == 0) {
    if (tmp.len < 9 || memcmp(buf_ptr(&tmp), "tdx_guest", 9) != 0) {
      rc = err_set(e, ERR_NOTFOUND, "TDX is not available on this machine: configfs-tsm provider is '%.*s'",
                   (int)CC_MIN(tmp.len, (size_t)32), tmp.len ? (const char *)buf_ptr(&tmp) : "");
      goto out;
    }
  } else {
    goto out;
  }
  buf_reset(&tmp);
  snprintf(file, sizeof(file), "%s/inblob", entry);
  if ((rc = tsm_write(file, rd, ATTEST_REPORT_DATA_LEN, e))) goto out;
  snprintf(file, sizeof(file), "%s/outblob", entry);
  if ((rc = tsm_read(file, &tmp, ATTEST_QUOTE_MAX, e))) goto out;
  struct attest_quote q;
  if ((rc = attest_quote_parse(buf_ptr(&tmp), tmp.len, &q, e))) goto out;
  if (memcmp(q.td.report_data, rd, ATTEST_REPORT_DATA_LEN) != 0) {
    rc = err_set(e, ERR_PROTO, "tdx: the kernel returned a quote for other report data");
    goto out;
  }
  p->td = q.td;
  p->have_td = 1;
  if (buf_append(out, buf_ptr(&tmp), tmp.len) != 0) rc = err_set(e, ERR_NOMEM, "out of memory");
out:
  rmdir(entry);
  buf_free(&tmp);
  return rc;
}

int attest_provider_quote(struct attest_provider *p, const uint8_t pubkey[32], struct buf *out,
                          struct err *e) {
  uint8_t rd[ATTEST_REPORT_DATA_LEN];
  if (p->kind == ATTEST_PROVIDER_NONE) return 0;
  if (attest_report_data_for_key(pubkey, rd) != 0) return err_set(e, ERR_CRYPTO, "SHA-512 failed");
  switch (p->kind) {
    case ATTEST_PROVIDER_FAKE_TDX:
      if (buf_append(out, rd, sizeof(rd)) != 0) return err_set(e, ERR_NOMEM, "out of memory");
      return 0;
    case ATTEST_PROVIDER_SIM: {
      uint8_t q[ATTEST_SIM_QUOTE_LEN];
      struct attest_td_report td = p->td;
      memcpy(td.report_data, rd, sizeof(rd));
      int rc = attest_sim_quote_build(p->platform, &td, q, e);
      if (!rc && buf_append(out, q, sizeof(q)) != 0) rc = err_set(e, ERR_NOMEM, "out of memory");
      return rc;
    }
    case ATTEST_PROVIDER_TDX:
      return tdx_quote(p, rd, out, e);
    default:
      return err_set(e, ERR_INVALID, "unknown quote provider");
  }
}

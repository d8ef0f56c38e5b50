/* keyfile: Ed25519 private keys in files only their owner can read (0600). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "base/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/util.h"

/* The seed of a PEM private key, if it is an Ed25519 one. */
static int seed_from_pem(const char *text, size_t len, uint8_t seed[KEYFILE_SEED_LEN]) {
  BIO *bio = BIO_new_mem_buf(text, (int)len);
  EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
  size_t sl = KEYFILE_SEED_LEN;
  int ok = k && EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 && EVP_PKEY_get_raw_private_key(k, seed, &sl) == 1 &&
           sl == KEYFILE_SEED_LEN;
  EVP_PKEY_free(k);
  BIO_free(bio);
  ERR_clear_error();
  return ok ? 0 : -1;
}

int keyfile_load(const char *path, const char *what, uint8_t seed[KEYFILE_SEED_LEN], struct err *e) {
  if (!path || !path[0]) return err_set(e, ERR_INVALID, "%s: no file given", what);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ELOOP) return err_set(e, ERR_INVALID, "%s %s: is a symbolic link", what, path);
    return err_set(e, ERR_IO, "%s %s: cannot open: %s", what, path, strerror(errno));
  }
  char text[KEYFILE_MAX + 1];
  size_t n = 0;
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = err_set(e, ERR_INVALID, "%s %s: not a regular file", what, path);
  } else if (st.st_mode & 077) {
    rc = err_set(e, ERR_REFUSED, "%s %s: mode %03o lets others read it; chmod 600 it", what, path,
                 (unsigned)(st.st_mode & 0777));
  } else {
    for (;;) {
      ssize_t r = read(fd, text + n, sizeof(text) - n);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        rc = err_set(e, ERR_IO, "%s %s: cannot read: %s", what, path, strerror(errno));
        break;
      }
      if (r == 0) break;
      n += (size_t)r;
      if (n > KEYFILE_MAX) {
        rc = err_set(e, ERR_LIMIT, "%s %s: larger than %d bytes", what, path, KEYFILE_MAX);
        break;
      }
    }
  }
  close(fd);
  if (!rc) {
    size_t len = n;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) len--;
    int ok = len == 2 * KEYFILE_SEED_LEN && util_unhex(text, len, seed, KEYFILE_SEED_LEN) == 0;
    if (!ok && len >= 10 && memcmp(text, "-----BEGIN", 10) == 0) ok = seed_from_pem(text, len, seed) == 0;
    if (!ok)
      rc = err_set(e, ERR_PARSE, "%s %s: neither 64 hex digits nor an Ed25519 PEM private key", what, path);
  }
  OPENSSL_cleanse(text, sizeof(text));
  if (rc) OPENSSL_cleanse(seed, KEYFILE_SEED_LEN);
  return rc;
}

/* The file's text for seed: hex or PEM, in out (cleansed by the caller). */
static int key_text(const uint8_t seed[KEYFILE_SEED_LEN], enum keyfile_format fmt, char *out, size_t cap,
                    size_t *len) {
  if (fmt == KEYFILE_HEX) {
    util_hex(seed, KEYFILE_SEED_LEN, out);
    out[2 * KEYFILE_SEED_LEN] = '\n';
    *len = 2 * KEYFILE_SEED_LEN + 1;
    return 0;
  }
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, KEYFILE_SEED_LEN);
  BIO *bio = BIO_new(BIO_s_mem());
  char *pem = NULL;
  long pl = 0;
  int rc = -1;
  if (k && bio && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) == 1 &&
      (pl = BIO_get_mem_data(bio, &pem)) > 0 && (size_t)pl < cap) {
    memcpy(out, pem, (size_t)pl);
    *len = (size_t)pl;
    rc = 0;
  }
  if (pem && pl > 0) OPENSSL_cleanse(pem, (size_t)pl);
  BIO_free(bio);
  EVP_PKEY_free(k);
  ERR_clear_error();
  return rc;
}

int keyfile_create(const char *path, const char *what, enum keyfile_format fmt, uint8_t seed[KEYFILE_SEED_LEN],
                   struct err *e) {
  if (!path || !path[0]) return err_set(e, ERR_INVALID, "%s: no file given", what);
  char tmp[4200], text[1024];
  size_t len = 0;
  int k = snprintf(tmp, sizeof(tmp), "%s.%ld.%llx.tmp", path, (long)getpid(), (unsigned long long)util_random_u64());
  if (k < 0 || (size_t)k >= sizeof(tmp)) return err_set(e, ERR_INVALID, "%s %.100s...: path too long", what, path);
  util_random(seed, KEYFILE_SEED_LEN);
  if (key_text(seed, fmt, text, sizeof(text), &len) != 0) {
    OPENSSL_cleanse(seed, KEYFILE_SEED_LEN);
    return err_set(e, ERR_CRYPTO, "%s: cannot encode a new key", what);
  }
  int rc = 0;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    rc = err_set(e, ERR_IO, "%s %s: cannot create %s: %s", what, path, tmp, strerror(errno));
  } else {
    for (size_t off = 0; off < len && !rc;) {
      ssize_t w = write(fd, text + off, len - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) rc = err_set(e, ERR_IO, "%s %s: cannot write: %s", what, path, strerror(errno));
      else off += (size_t)w;
    }
    if (!rc && fsync(fd) != 0) rc = err_set(e, ERR_IO, "%s %s: cannot write: %s", what, path, strerror(errno));
    if (close(fd) != 0 && !rc) rc = err_set(e, ERR_IO, "%s %s: cannot write: %s", what, path, strerror(errno));
    /* link(2) refuses an existing path: a key that may guard funds is never replaced. */
    if (!rc && link(tmp, path) != 0) {
      if (errno == EEXIST) rc = err_set(e, ERR_INVALID, "%s %s: exists; not overwritten", what, path);
      else rc = err_set(e, ERR_IO, "%s %s: cannot create: %s", what, path, strerror(errno));
    }
    unlink(tmp);
  }
  OPENSSL_cleanse(text, sizeof(text));
  if (rc) OPENSSL_cleanse(seed, KEYFILE_SEED_LEN);
  return rc;
}

int keyfile_load_or_create(const char *path, const char *what, uint8_t seed[KEYFILE_SEED_LEN], struct err *e) {
  if (path && path[0] && access(path, F_OK) != 0 && errno == ENOENT) {
    int rc = keyfile_create(path, what, KEYFILE_PEM, seed, e);
    if (rc != ERR_INVALID) return rc; /* ERR_INVALID: another process created it meanwhile */
  }
  return keyfile_load(path, what, seed, e);
}

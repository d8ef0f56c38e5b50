/* wallet_key: a node's TON wallet private key in a 0600 file (hex seed or Ed25519 PEM). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "chain/wallet_key.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

#define KEY_FILE_MAX 4096

int chain_wallet_key_load(const char *path, uint8_t seed[32], struct err *e) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return err_set(e, ERR_IO, "wallet key %s: cannot open: %s", path, strerror(errno));
  struct stat st;
  char text[KEY_FILE_MAX + 1];
  ssize_t n = -1;
  int rc = 0;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = err_set(e, ERR_IO, "wallet key %s: not a regular file", path);
  } else if (st.st_mode & 077) {
    rc = err_set(e, ERR_REFUSED, "wallet key %s: mode %03o lets others read it; chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
  } else if ((n = read(fd, text, KEY_FILE_MAX + 1)) < 0 || n > KEY_FILE_MAX) {
    rc = err_set(e, ERR_IO, "wallet key %s: unreadable or larger than %d bytes", path, KEY_FILE_MAX);
  }
  close(fd);
  if (rc) return rc;
  text[n] = '\0';
  size_t len = (size_t)n;
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) len--;
  if (len == 64 && util_unhex(text, 64, seed, 32) == 0) {
    OPENSSL_cleanse(text, sizeof(text));
    return 0;
  }
  rc = err_set(e, ERR_PARSE, "wallet key %s: neither 64 hex digits nor an Ed25519 PEM private key", path);
  if (strstr(text, "-----BEGIN PRIVATE KEY-----")) {
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    size_t sl = 32;
    if (k && EVP_PKEY_id(k) == EVP_PKEY_ED25519 && EVP_PKEY_get_raw_private_key(k, seed, &sl) == 1 && sl == 32)
      rc = 0;
    EVP_PKEY_free(k);
    BIO_free(bio);
  }
  OPENSSL_cleanse(text, sizeof(text));
  return rc;
}

int chain_wallet_key_create(const char *path, uint8_t seed[32], struct err *e) {
  if (RAND_bytes(seed, 32) != 1) return err_set(e, ERR_CRYPTO, "wallet key: no randomness");
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return err_set(e, ERR_IO, "wallet key %s: cannot create: %s", path, strerror(errno));
  char hex[66];
  util_hex(seed, 32, hex);
  hex[64] = '\n';
  int ok = write(fd, hex, 65) == 65 && fsync(fd) == 0;
  OPENSSL_cleanse(hex, sizeof(hex));
  if (close(fd) != 0) ok = 0;
  if (!ok) {
    unlink(path);
    return err_set(e, ERR_IO, "wallet key %s: cannot write: %s", path, strerror(errno));
  }
  return 0;
}

/* signer: the registry owner's Ed25519 key file (PEM, mode 0600) and signing a registry. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "registry/signer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/util.h"

struct registry_signer {
  EVP_PKEY *key;
  uint8_t pub[REGISTRY_KEY_LEN];
};

static int from_key(EVP_PKEY *key, struct registry_signer **out, struct err *e) {
  size_t n = REGISTRY_KEY_LEN;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return err_set(e, ERR_PARSE, "the owner key is not Ed25519");
  }
  struct registry_signer *s = calloc(1, sizeof(*s));
  if (!s) {
    EVP_PKEY_free(key);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  s->key = key;
  if (EVP_PKEY_get_raw_public_key(key, s->pub, &n) != 1 || n != REGISTRY_KEY_LEN) {
    registry_signer_free(s);
    ERR_clear_error();
    return err_set(e, ERR_CRYPTO, "cannot read the owner public key");
  }
  *out = s;
  return 0;
}

void registry_signer_free(struct registry_signer *s) {
  if (!s) return;
  EVP_PKEY_free(s->key);
  OPENSSL_cleanse(s, sizeof(*s));
  free(s);
}

const uint8_t *registry_signer_pubkey(const struct registry_signer *s) { return s->pub; }

int registry_signer_create(const char *path, struct registry_signer **out, struct err *e) {
  *out = NULL;
  int rc = 0, fd = -1;
  char *pem = NULL;
  long pem_len = 0;
  BIO *bio = BIO_new(BIO_s_mem());
  EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  if (!key || !bio || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
      (pem_len = BIO_get_mem_data(bio, &pem)) <= 0) {
    rc = err_set(e, ERR_CRYPTO, "cannot generate an owner key");
    goto out;
  }
  /* O_EXCL: an existing key is never overwritten (it may sign a live registry). */
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    rc = err_set(e, ERR_IO, "cannot create %s: %s", path, strerror(errno));
    goto out;
  }
  for (size_t left = (size_t)pem_len, off = 0; left > 0;) {
    ssize_t w = write(fd, pem + off, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      rc = err_set(e, ERR_IO, "cannot write %s: %s", path, strerror(errno));
      goto out;
    }
    off += (size_t)w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0) rc = err_set(e, ERR_IO, "cannot write %s: %s", path, strerror(errno));
out:
  if (fd >= 0) {
    close(fd);
    if (rc) unlink(path);
  }
  if (pem) OPENSSL_cleanse(pem, (size_t)pem_len);
  BIO_free(bio);
  ERR_clear_error();
  if (rc) {
    EVP_PKEY_free(key);
    return rc;
  }
  return from_key(key, out, e);
}

int registry_signer_load(const char *path, struct registry_signer **out, struct err *e) {
  *out = NULL;
  struct stat st;
  if (stat(path, &st) != 0) return err_set(e, ERR_IO, "cannot read owner key %s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode)) return err_set(e, ERR_INVALID, "%s is not a regular file", path);
  if (st.st_mode & 077)
    return err_set(e, ERR_REFUSED, "%s is readable by others (mode %03o); chmod 600 it", path,
                   (unsigned)(st.st_mode & 0777));
  if ((size_t)st.st_size > REGISTRY_KEY_FILE_MAX)
    return err_set(e, ERR_LIMIT, "%s is too large for a key (%lld bytes)", path, (long long)st.st_size);
  BIO *bio = BIO_new_file(path, "rb");
  if (!bio) {
    ERR_clear_error();
    return err_set(e, ERR_IO, "cannot open %s", path);
  }
  EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  BIO_free(bio);
  ERR_clear_error();
  if (!key) return err_set(e, ERR_PARSE, "%s: not a PEM private key", path);
  return from_key(key, out, e);
}

int registry_sign(struct registry *r, const struct registry_signer *s, struct err *e) {
  if (memcmp(r->owner, s->pub, REGISTRY_KEY_LEN) != 0)
    return err_set(e, ERR_INVALID, "this key is not the registry's owner (the file names another owner)");
  int was_signed = r->is_signed;
  r->is_signed = 0; /* serialize the body only */
  struct buf body;
  buf_init(&body, REGISTRY_MAX_FILE);
  int rc = registry_serialize(r, &body);
  r->is_signed = was_signed;
  if (rc) {
    buf_free(&body);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  size_t sl = REGISTRY_SIG_LEN;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, s->key) == 1 &&
           EVP_DigestSign(md, r->signature, &sl, buf_ptr(&body), body.len) == 1 && sl == REGISTRY_SIG_LEN;
  size_t body_len = body.len;
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  buf_free(&body);
  if (!ok) return err_set(e, ERR_CRYPTO, "cannot sign the registry");
  r->is_signed = 1;
  r->body_len = body_len;
  return 0;
}

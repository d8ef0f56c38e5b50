/* keygen: `cocoon keygen --dir DIR`: creates a node's Ed25519 key and RA-TLS certificate. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/keygen.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "net/ratls.h"

int keygen_main(int argc, char **argv) {
  const char *dir = NULL;
  int force = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--force")) force = 1;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: cocoon keygen --dir DIR [--force]\n"
             "Creates DIR/key.pem (Ed25519, mode 0600) and DIR/cert.pem (self-signed RA-TLS certificate,\n"
             "one day valid, no quote) and prints the public key. Daemons take the same DIR as key_dir\n"
             "and reissue the certificate for the same key when it nears its end.\n"
             "  --force   replace an existing key\n");
      return 0;
    } else {
      fprintf(stderr, "cocoon keygen: unknown option '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (!dir) {
    fprintf(stderr, "cocoon keygen: --dir is required\n");
    return 2;
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "cocoon keygen: cannot create %s: %s\n", dir, strerror(errno));
    return 1;
  }
  char cert[4200], key[4200];
  snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
  snprintf(key, sizeof(key), "%s/key.pem", dir);
  if (!force && access(key, F_OK) == 0) {
    fprintf(stderr, "cocoon keygen: %s exists; use --force to replace it\n", key);
    return 1;
  }
  struct ratls_cert_opts opts = {.user_claims = 1};
  struct ratls_identity *id = NULL;
  struct err e = {0};
  if (ratls_identity_generate(&opts, &id, &e) || ratls_identity_save(id, cert, key, &e)) {
    fprintf(stderr, "cocoon keygen: %s\n", e.msg);
    ratls_identity_free(id);
    return 1;
  }
  char hex[65];
  util_hex(ratls_identity_public_key(id), 32, hex);
  printf("public_key: %s\ncert: %s\nkey: %s\n", hex, cert, key);
  ratls_identity_free(id);
  return 0;
}

/* err: error codes and the user-facing error message carrier. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_BASE_ERR_H
#define COCOON_BASE_ERR_H

#include <stddef.h>

#define CC_NODISCARD __attribute__((warn_unused_result))

/* Negative return codes used across layers. 0 means success. */
enum {
  ERR_OK = 0,
  ERR_NOMEM = -1,    /* allocation failed */
  ERR_LIMIT = -2,    /* a hard size/count limit was exceeded */
  ERR_PARSE = -3,    /* malformed input */
  ERR_IO = -4,       /* socket/file error */
  ERR_TIMEOUT = -5,  /* deadline passed */
  ERR_CLOSED = -6,   /* peer or object closed */
  ERR_PROTO = -7,    /* protocol violation by the peer */
  ERR_INVALID = -8,  /* bad argument or configuration */
  ERR_NOTFOUND = -9, /* no such object */
  ERR_AGAIN = -10,   /* try again later (would block, not ready) */
  ERR_CRYPTO = -11,  /* crypto/TLS failure */
  ERR_REFUSED = -12, /* refused by policy */
};

/* Error with a message for the user. Functions that take `struct err *` fill it on
 * failure (when non-NULL) and return the same negative code. */
struct err {
  int code;
  char msg[256];
};

/* Records code+message in e (if non-NULL) and returns code. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *err_name(int code);

#endif

/* err: error codes and the user-facing error message carrier. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>

int err_set(struct err *e, int code, const char *fmt, ...) {
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    e->code = code;
  }
  return code;
}

const char *err_name(int code) {
  switch (code) {
  case ERR_OK: return "ok";
  case ERR_NOMEM: return "out of memory";
  case ERR_LIMIT: return "limit exceeded";
  case ERR_PARSE: return "malformed input";
  case ERR_IO: return "i/o error";
  case ERR_TIMEOUT: return "timeout";
  case ERR_CLOSED: return "closed";
  case ERR_PROTO: return "protocol violation";
  case ERR_INVALID: return "invalid argument";
  case ERR_NOTFOUND: return "not found";
  case ERR_AGAIN: return "not ready";
  case ERR_CRYPTO: return "crypto failure";
  case ERR_REFUSED: return "refused";
  default: return "unknown error";
  }
}

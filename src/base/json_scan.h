/* json_scan: a validating, non-allocating JSON reader that reports tokens to a callback. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_BASE_JSON_SCAN_H
#define COCOON_BASE_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* Deepest value accepted, counting the top-level value as 1: jansson's limit, so a text is
 * valid here exactly when json_loadb(..., JSON_DECODE_ANY) accepts it. */
#define JSON_SCAN_MAX_DEPTH 2048
/* Keys are handed over decoded up to this many bytes; a longer key is flagged truncated. */
#define JSON_SCAN_KEY_MAX 64

enum json_scan_ev {
  JSON_SCAN_OBJ_BEGIN = 1,
  JSON_SCAN_OBJ_END,
  JSON_SCAN_ARR_BEGIN,
  JSON_SCAN_ARR_END,
  JSON_SCAN_KEY,    /* an object member's name; its value's events follow */
  JSON_SCAN_STRING, /* a string value (not decoded) */
  JSON_SCAN_INT,    /* a number without fraction or exponent, in int64 range */
  JSON_SCAN_REAL,   /* any other number (finite as a double) */
  JSON_SCAN_TRUE,
  JSON_SCAN_FALSE,
  JSON_SCAN_NULL,
};

struct json_scan_tok {
  enum json_scan_ev ev;
  size_t depth;     /* containers open around this token (the top-level value: 0) */
  int64_t i;        /* JSON_SCAN_INT: the value */
  const char *key;  /* JSON_SCAN_KEY: decoded name (not NUL-terminated) */
  size_t key_len;   /* its length; key_truncated: only the first JSON_SCAN_KEY_MAX bytes */
  int key_truncated;
};

/* Called for each token in order. Tokens of a text later found invalid have been reported
 * already: keep what they say aside until json_scan returns 0. */
typedef void (*json_scan_cb)(void *arg, const struct json_scan_tok *t);

/* Reads one JSON value (any type) and the whitespace around it. Returns 0 when valid, -1
 * when not, under jansson's rules: RFC 8259 grammar, UTF-8 checked, no \u0000, paired
 * surrogates only, integers in int64 range, reals that do not overflow a double. A raw NUL
 * byte is refused everywhere (jansson skips one right after a number or a literal). */
int json_scan(const char *text, size_t len, json_scan_cb cb, void *arg);

#endif

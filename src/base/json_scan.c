/* json_scan: a validating, non-allocating JSON reader that reports tokens to a callback. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "base/json_scan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

struct scan {
  const uint8_t *p;
  size_t n, i;
  json_scan_cb cb;
  void *arg;
  char key[JSON_SCAN_KEY_MAX];
  size_t key_len;
  int key_truncated;
};

static int is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static void skip_ws(struct scan *s) {
  while (s->i < s->n && is_ws(s->p[s->i])) s->i++;
}

static void emit(struct scan *s, enum json_scan_ev ev, size_t depth, int64_t i) {
  struct json_scan_tok t = {.ev = ev, .depth = depth, .i = i};
  if (ev == JSON_SCAN_KEY) {
    t.key = s->key;
    t.key_len = s->key_len;
    t.key_truncated = s->key_truncated;
  }
  s->cb(s->arg, &t);
}

static void key_put(struct scan *s, const uint8_t *b, size_t k) {
  for (size_t j = 0; j < k; j++) {
    if (s->key_len < JSON_SCAN_KEY_MAX)
      s->key[s->key_len++] = (char)b[j];
    else
      s->key_truncated = 1;
  }
}

static int hex4(struct scan *s, uint32_t *out) {
  uint32_t v = 0;
  if (s->n - s->i < 4) return -1;
  for (int j = 0; j < 4; j++) {
    uint8_t c = s->p[s->i + (size_t)j];
    v <<= 4;
    if (is_digit(c)) v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return -1;
  }
  s->i += 4;
  *out = v;
  return 0;
}

/* At the opening quote. is_key: decode into s->key. */
static int read_string(struct scan *s, int is_key) {
  s->i++;
  if (is_key) s->key_len = 0, s->key_truncated = 0;
  for (;;) {
    size_t start = s->i;
    while (s->i < s->n) { /* the common run: printable ASCII */
      uint8_t c = s->p[s->i];
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      s->i++;
    }
    if (is_key) key_put(s, s->p + start, s->i - start);
    if (s->i >= s->n) return -1;
    uint8_t c = s->p[s->i];
    if (c == '"') {
      s->i++;
      return 0;
    }
    if (c < 0x20) return -1;
    if (c >= 0x80) {
      size_t k;
      if (utf8_next(s->p + s->i, s->n - s->i, &k) == UTF8_INVALID) return -1;
      if (is_key) key_put(s, s->p + s->i, k);
      s->i += k;
      continue;
    }
    /* an escape */
    if (s->n - s->i < 2) return -1;
    uint8_t e = s->p[s->i + 1];
    uint32_t cp;
    s->i += 2;
    switch (e) {
    case '"': case '\\': case '/': cp = e; break;
    case 'b': cp = '\b'; break;
    case 'f': cp = '\f'; break;
    case 'n': cp = '\n'; break;
    case 'r': cp = '\r'; break;
    case 't': cp = '\t'; break;
    case 'u':
      if (hex4(s, &cp)) return -1;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo;
        if (s->n - s->i < 2 || s->p[s->i] != '\\' || s->p[s->i + 1] != 'u') return -1;
        s->i += 2;
        if (hex4(s, &lo) || lo < 0xDC00 || lo > 0xDFFF) return -1;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return -1;
      }
      if (cp == 0) return -1; /* \u0000 */
      break;
    default: return -1;
    }
    if (is_key) {
      uint8_t u[4];
      key_put(s, u, utf8_put(cp, u));
    }
  }
}

/* At '-' or a digit. */
static int read_number(struct scan *s, size_t depth) {
  size_t start = s->i;
  int neg = 0, real = 0;
  if (s->p[s->i] == '-') neg = 1, s->i++;
  if (s->i >= s->n) return -1;
  if (s->p[s->i] == '0') {
    s->i++;
    if (s->i < s->n && is_digit(s->p[s->i])) return -1;
  } else if (is_digit(s->p[s->i])) {
    while (s->i < s->n && is_digit(s->p[s->i])) s->i++;
  } else {
    return -1;
  }
  if (s->i < s->n && s->p[s->i] == '.') {
    s->i++;
    if (s->i >= s->n || !is_digit(s->p[s->i])) return -1;
    while (s->i < s->n && is_digit(s->p[s->i])) s->i++;
    real = 1;
  }
  if (s->i < s->n && (s->p[s->i] == 'e' || s->p[s->i] == 'E')) {
    s->i++;
    if (s->i < s->n && (s->p[s->i] == '+' || s->p[s->i] == '-')) s->i++;
    if (s->i >= s->n || !is_digit(s->p[s->i])) return -1;
    while (s->i < s->n && is_digit(s->p[s->i])) s->i++;
    real = 1;
  }
  if (!real) {
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (size_t j = start + (size_t)neg; j < s->i; j++) {
      uint64_t d = (uint64_t)(s->p[j] - '0');
      if (v > (lim - d) / 10) return -1; /* outside int64 */
      v = v * 10 + d;
    }
    int64_t iv = !neg ? (int64_t)v : v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    emit(s, JSON_SCAN_INT, depth, iv);
    return 0;
  }
  /* A real: only whether it overflows a double matters. */
  char small[128], *b = small;
  size_t len = s->i - start;
  if (len >= sizeof(small) && (b = malloc(len + 1)) == NULL) return -1;
  memcpy(b, s->p + start, len);
  b[len] = 0;
  double d = strtod(b, NULL);
  if (b != small) free(b);
  if (isinf(d)) return -1;
  emit(s, JSON_SCAN_REAL, depth, 0);
  return 0;
}

static int literal(struct scan *s, const char *word, enum json_scan_ev ev, size_t depth) {
  size_t k = strlen(word);
  if (s->n - s->i < k || memcmp(s->p + s->i, word, k) != 0) return -1;
  s->i += k;
  emit(s, ev, depth, 0);
  return 0;
}

int json_scan(const char *text, size_t len, json_scan_cb cb, void *arg) {
  struct scan s = {.p = (const uint8_t *)text, .n = len, .cb = cb, .arg = arg};
  uint8_t is_obj[JSON_SCAN_MAX_DEPTH / 8]; /* bit per open container: object or array */
  size_t depth = 0;                        /* containers open */
  skip_ws(&s);
value:
  if (s.i >= s.n || depth >= JSON_SCAN_MAX_DEPTH) return -1;
  switch (s.p[s.i]) {
  case '{':
  case '[': {
    int obj = s.p[s.i] == '{';
    emit(&s, obj ? JSON_SCAN_OBJ_BEGIN : JSON_SCAN_ARR_BEGIN, depth, 0);
    if (obj) is_obj[depth / 8] |= (uint8_t)(1u << (depth % 8));
    else is_obj[depth / 8] &= (uint8_t)~(1u << (depth % 8));
    depth++;
    s.i++;
    skip_ws(&s);
    if (s.i < s.n && s.p[s.i] == (obj ? '}' : ']')) {
      s.i++;
      depth--;
      emit(&s, obj ? JSON_SCAN_OBJ_END : JSON_SCAN_ARR_END, depth, 0);
      goto after;
    }
    if (obj) goto member;
    goto value;
  }
  case '"':
    if (read_string(&s, 0)) return -1;
    emit(&s, JSON_SCAN_STRING, depth, 0);
    goto after;
  case 't':
    if (literal(&s, "true", JSON_SCAN_TRUE, depth)) return -1;
    goto after;
  case 'f':
    if (literal(&s, "false", JSON_SCAN_FALSE, depth)) return -1;
    goto after;
  case 'n':
    if (literal(&s, "null", JSON_SCAN_NULL, depth)) return -1;
    goto after;
  default:
    if (s.p[s.i] != '-' && !is_digit(s.p[s.i])) return -1;
    if (read_number(&s, depth)) return -1;
    goto after;
  }
member:
  if (s.i >= s.n || s.p[s.i] != '"' || read_string(&s, 1)) return -1;
  emit(&s, JSON_SCAN_KEY, depth, 0);
  skip_ws(&s);
  if (s.i >= s.n || s.p[s.i] != ':') return -1;
  s.i++;
  skip_ws(&s);
  goto value;
after:
  skip_ws(&s);
  if (depth == 0) return s.i == s.n ? 0 : -1;
  if (s.i >= s.n) return -1;
  {
    int obj = (is_obj[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
    uint8_t c = s.p[s.i++];
    if (c == ',') {
      skip_ws(&s);
      if (obj) goto member;
      goto value;
    }
    if (c != (obj ? '}' : ']')) return -1;
    depth--;
    emit(&s, obj ? JSON_SCAN_OBJ_END : JSON_SCAN_ARR_END, depth, 0);
    goto after;
  }
}

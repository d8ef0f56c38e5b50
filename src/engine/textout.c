/* textout: generated tokens to text for one sequence: UTF-8 safe pieces and stop strings. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/textout.h"

#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer.h"

#define TEXTOUT_MAX_PIECE 1024u

struct textout {
  const struct tok *t;
  char *stops[TEXTOUT_MAX_STOPS];
  size_t stop_len[TEXTOUT_MAX_STOPS];
  size_t n_stops;
  struct buf pend; /* decoded bytes not given out yet */
  int stopped;
};

int textout_new(const struct tok *t, const char *const *stops, const size_t *stop_lens, size_t n_stops,
                struct textout **out, struct err *e) {
  *out = NULL;
  if (n_stops > TEXTOUT_MAX_STOPS) return err_set(e, ERR_LIMIT, "at most %u stop strings", TEXTOUT_MAX_STOPS);
  for (size_t i = 0; i < n_stops; i++)
    if (stop_lens[i] == 0 || stop_lens[i] > TEXTOUT_MAX_STOP_LEN)
      return err_set(e, ERR_INVALID, "a stop string must have 1..%u bytes", TEXTOUT_MAX_STOP_LEN);
  struct textout *o = calloc(1, sizeof(*o));
  if (!o) return err_set(e, ERR_NOMEM, "out of memory");
  o->t = t;
  buf_init(&o->pend, 0);
  for (size_t i = 0; i < n_stops; i++) {
    o->stops[i] = malloc(stop_lens[i]);
    if (!o->stops[i]) {
      o->n_stops = i;
      textout_free(o);
      return err_set(e, ERR_NOMEM, "out of memory");
    }
    memcpy(o->stops[i], stops[i], stop_lens[i]);
    o->stop_len[i] = stop_lens[i];
  }
  o->n_stops = n_stops;
  *out = o;
  return 0;
}

void textout_free(struct textout *o) {
  if (!o) return;
  for (size_t i = 0; i < o->n_stops; i++) free(o->stops[i]);
  buf_free(&o->pend);
  free(o);
}

/* Length of the UTF-8 sequence that starts at s[0..n): > 0 for a valid character, 0 when it
 * is valid so far but incomplete, -1 when s[0] starts no valid character. */
static int utf8_len(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  int need;
  uint32_t min;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) need = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) need = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) need = 4, min = 0x10000;
  else return -1;
  uint32_t cp = c & (0x7f >> need);
  for (int i = 1; i < need; i++) {
    if ((size_t)i >= n) return 0;
    if ((s[i] & 0xc0) != 0x80) return -1;
    cp = (cp << 6) | (s[i] & 0x3f);
    /* Reject overlong, surrogate and out-of-range forms as soon as the second byte says so. */
    if (i == 1) {
      if (need == 3 && c == 0xe0 && s[1] < 0xa0) return -1;
      if (need == 3 && c == 0xed && s[1] >= 0xa0) return -1;
      if (need == 4 && c == 0xf0 && s[1] < 0x90) return -1;
      if (need == 4 && c == 0xf4 && s[1] >= 0x90) return -1;
    }
  }
  return cp >= min ? need : -1;
}

/* Appends p[0..n) to emit with invalid bytes replaced; the caller passes only complete text. */
static int emit_valid(struct buf *emit, const uint8_t *p, size_t n) {
  static const uint8_t repl[3] = {0xef, 0xbf, 0xbd};
  size_t i = 0;
  while (i < n) {
    int l = utf8_len(p + i, n - i);
    if (l > 0) {
      int rc = buf_append(emit, p + i, (size_t)l);
      if (rc) return rc;
      i += (size_t)l;
    } else {
      int rc = buf_append(emit, repl, 3);
      if (rc) return rc;
      i++;
    }
  }
  return 0;
}

/* Bytes at the end of p[0..n) that could still grow into a stop string or a character. */
static size_t holdback(const struct textout *o, const uint8_t *p, size_t n) {
  size_t hold = 0;
  for (size_t s = 0; s < o->n_stops; s++) {
    size_t max = o->stop_len[s] - 1 < n ? o->stop_len[s] - 1 : n;
    for (size_t k = max; k > hold; k--)
      if (memcmp(p + n - k, o->stops[s], k) == 0) {
        hold = k;
        break;
      }
  }
  /* An unfinished UTF-8 character at the end (at most 3 bytes). */
  for (size_t k = 1; k <= 3 && k <= n; k++) {
    const uint8_t *c = p + n - k;
    if ((*c & 0xc0) == 0x80) continue; /* continuation byte: look further back */
    if (utf8_len(c, k) == 0 && k > hold) hold = k;
    break;
  }
  return hold;
}

int textout_feed(struct textout *o, int32_t token, struct buf *emit) {
  if (o->stopped) return 1;
  /* Control, unknown and unused tokens are not text (vLLM's skip_special_tokens); user-defined
   * tokens are. */
  int type = tok_type_of(o->t, token);
  if (type == TOK_TYPE_CONTROL || type == TOK_TYPE_UNKNOWN || type == TOK_TYPE_UNUSED) return 0;
  char piece[TEXTOUT_MAX_PIECE];
  int n = tok_decode_piece(o->t, token, piece, sizeof(piece));
  if (n < 0) return n;
  if ((size_t)n > sizeof(piece)) return ERR_LIMIT;
  int rc = buf_append(&o->pend, piece, (size_t)n);
  if (rc) return rc;
  const uint8_t *p = buf_ptr(&o->pend);
  size_t len = o->pend.len;
  /* The earliest stop string wins. */
  size_t best = len;
  for (size_t s = 0; s < o->n_stops; s++) {
    if (o->stop_len[s] > len) continue;
    for (size_t i = 0; i + o->stop_len[s] <= len && i < best; i++)
      if (memcmp(p + i, o->stops[s], o->stop_len[s]) == 0) {
        best = i;
        break;
      }
  }
  if (best < len) {
    rc = emit_valid(emit, p, best);
    buf_reset(&o->pend);
    o->stopped = 1;
    return rc ? rc : 1;
  }
  size_t out = len - holdback(o, p, len);
  rc = emit_valid(emit, p, out);
  buf_consume(&o->pend, out);
  return rc;
}

int textout_flush(struct textout *o, struct buf *emit) {
  if (o->stopped) return 0;
  int rc = emit_valid(emit, buf_ptr(&o->pend), o->pend.len);
  buf_reset(&o->pend);
  return rc;
}

/* tok_spm: SentencePiece-style tokenizer: U+2581 for spaces, best-score pair merges, byte fallback. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "engine/tok_internal.h"
#include "engine/tok_unicode.h"

struct sym {
  size_t start;
  uint32_t len;
  int64_t prev, next;
};

struct pair {
  float score;
  uint32_t left, right;
  uint32_t size;
};

/* Higher score first, then the leftmost pair. */
static int before(const struct pair *a, const struct pair *b) {
  return a->score > b->score || (a->score == b->score && a->left < b->left);
}

struct heap {
  struct pair *v;
  size_t n;
};

static void heap_push(struct heap *h, struct pair b) {
  size_t i = h->n++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(&b, &h->v[parent])) break;
    h->v[i] = h->v[parent];
    i = parent;
  }
  h->v[i] = b;
}

static struct pair heap_pop(struct heap *h) {
  struct pair top = h->v[0], last = h->v[--h->n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const struct pair *best = &last;
    if (l < h->n && before(&h->v[l], best)) m = l, best = &h->v[l];
    if (r < h->n && before(&h->v[r], best)) m = r;
    if (m == i) break;
    h->v[i] = h->v[m];
    i = m;
  }
  if (h->n) h->v[i] = last;
  return top;
}

static void try_pair(const struct tok *t, const uint8_t *s, struct sym *sy, struct heap *h, int64_t l, int64_t r) {
  if (l < 0 || r < 0) return;
  size_t n = (size_t)sy[l].len + sy[r].len;
  if (n > TOK_MAX_TOKEN_BYTES) return;
  int32_t id = tok_map_get(&t->by_text, s + sy[l].start, n);
  if (id < 0) return;
  heap_push(h, (struct pair){t->score[id], (uint32_t)l, (uint32_t)r, (uint32_t)n});
}

int tok_spm_fragment(const struct tok *t, const uint8_t *p, size_t n, int prefix_space, struct tok_out *o) {
  /* Escaped text: optional leading space, then every space as U+2581 (3 bytes). */
  size_t cap = 3 * (n + 1);
  uint8_t *s = malloc(cap);
  struct sym *sy = malloc((cap ? cap : 1) * sizeof(*sy));
  struct heap h = {malloc(3 * (cap ? cap : 1) * sizeof(*h.v)), 0};
  int rc = ERR_NOMEM;
  if (!s || !sy || !h.v) goto out;
  size_t m = 0;
  if (prefix_space) {
    memcpy(s, "\xe2\x96\x81", 3);
    m = 3;
  }
  for (size_t i = 0; i < n; i++) {
    if (p[i] == ' ') {
      memcpy(s + m, "\xe2\x96\x81", 3);
      m += 3;
    } else {
      s[m++] = p[i];
    }
  }
  size_t ns = 0;
  for (size_t i = 0; i < m;) {
    /* One symbol per character. llama.cpp trusts the lead byte's length, so an invalid byte can
     * swallow the escaped space after it; a strict split keeps such bytes apart (identical for
     * valid UTF-8) and the round trip exact. */
    size_t l;
    (void)utf8_next(s + i, m - i, &l);
    sy[ns] = (struct sym){i, (uint32_t)l, (int64_t)ns - 1, i + l < m ? (int64_t)ns + 1 : -1};
    ns++;
    i += l;
  }
  for (size_t i = 1; i < ns; i++) try_pair(t, s, sy, &h, (int64_t)i - 1, (int64_t)i);
  while (h.n) {
    struct pair b = heap_pop(&h);
    struct sym *l = &sy[b.left], *r = &sy[b.right];
    if (l->len == 0 || r->len == 0 || (size_t)l->len + r->len != b.size) continue;
    l->len += r->len;
    r->len = 0;
    l->next = r->next;
    if (r->next >= 0) sy[r->next].prev = b.left;
    try_pair(t, s, sy, &h, l->prev, b.left);
    try_pair(t, s, sy, &h, b.left, l->next);
  }
  for (int64_t i = ns ? 0 : -1; i >= 0; i = sy[i].next) {
    int32_t id = tok_map_get(&t->by_text, s + sy[i].start, sy[i].len);
    if (id >= 0) {
      tok_out_push(o, id);
      continue;
    }
    /* Not a piece (only single characters get here: merged symbols are pieces): bytes. */
    for (uint32_t j = 0; j < sy[i].len; j++) {
      int32_t b = t->byte_tok[s[sy[i].start + j]];
      tok_out_push(o, b >= 0 ? b : t->unk >= 0 ? t->unk : 0);
    }
  }
  rc = 0;
out:
  free(s);
  free(sy);
  free(h.v);
  return rc;
}

/* tok_bpe: byte-level BPE: the gpt2 / llama-3 / qwen2 pre-tokenizers and rank-ordered merges. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "engine/tok_internal.h"
#include "engine/tok_unicode.h"

/* Code point classes; C_IN marks a position inside the fragment (llama.cpp's non-zero flags). */
#define C_L 1u
#define C_N 2u
#define C_WS 4u
#define C_IN 8u
#define OUT_CP 0xFFFFFFFFu

struct split {
  const uint32_t *cp;
  const uint8_t *cls;
  size_t n;
};

static uint32_t cp_at(const struct split *s, size_t i) { return i < s->n ? s->cp[i] : OUT_CP; }
static unsigned cls_at(const struct split *s, size_t i) { return i < s->n ? s->cls[i] : 0u; }
static uint32_t lower_ascii(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Length of a contraction ('s 't 're 've 'm 'll 'd) at pos, 0 if none; case-folded unless `exact`. */
static size_t contraction(const struct split *s, size_t pos, int exact) {
  if (s->cp[pos] != '\'' || pos + 1 >= s->n) return 0;
  uint32_t a = cp_at(s, pos + 1), b = cp_at(s, pos + 2);
  if (!exact) a = lower_ascii(a), b = lower_ascii(b);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (pos + 2 < s->n && ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))) return 3;
  return 0;
}

/* End (exclusive) of the pre-token starting at pos, following llama.cpp's hand-written
 * matchers for these regexes:
 *   gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
 *   llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 *           \s*[\r\n]+|\s+(?!\S)|\s+
 *   qwen2:  the same with \p{N} (one digit per pre-token). */
static size_t next_word(const struct split *s, size_t pos, enum tok_pre pre) {
  uint32_t c = s->cp[pos];
  unsigned f = s->cls[pos];
  size_t k = contraction(s, pos, pre == TOK_PRE_GPT2);
  if (k) return pos + k;
  if (pre == TOK_PRE_GPT2) {
    unsigned f2 = c == ' ' ? cls_at(s, pos + 1) : f;
    size_t i = pos + (c == ' ');
    if (f2 & C_L) {
      while (cls_at(s, i) & C_L) i++;
      return i;
    }
    if (f2 & C_N) {
      while (cls_at(s, i) & C_N) i++;
      return i;
    }
    if (!(f2 & (C_WS | C_L | C_N)) && f2) {
      while (!(cls_at(s, i) & (C_WS | C_L | C_N)) && cls_at(s, i)) i++;
      return i;
    }
  } else {
    if (!(c == '\r' || c == '\n' || (f & C_N)) && ((f & C_L) || (cls_at(s, pos + 1) & C_L))) {
      size_t i = pos + 1;
      while (cls_at(s, i) & C_L) i++;
      return i;
    }
    if (f & C_N) {
      size_t i = pos, lim = pre == TOK_PRE_LLAMA3 ? 3 : 1;
      while ((cls_at(s, i) & C_N) && i - pos < lim) i++;
      return i;
    }
    unsigned f2 = c == ' ' ? cls_at(s, pos + 1) : f;
    if (!(f2 & (C_WS | C_L | C_N)) && f) {
      size_t i = pos + (c == ' ');
      while (!(cls_at(s, i) & (C_WS | C_L | C_N)) && cls_at(s, i)) i++;
      while (cp_at(s, i) == '\r' || cp_at(s, i) == '\n') i++;
      return i;
    }
  }
  size_t nws = 0, last_nl = 0;
  while (cls_at(s, pos + nws) & C_WS) {
    uint32_t c2 = s->cp[pos + nws];
    if (pre != TOK_PRE_GPT2 && (c2 == '\r' || c2 == '\n')) last_nl = pos + nws + 1;
    nws++;
  }
  if (last_nl) return last_nl;                          /* \s*[\r\n]+ */
  if (nws > 1 && pos + nws < s->n) return pos + nws - 1; /* \s+(?!\S) */
  if (nws > 0) return pos + nws;                         /* \s+ */
  return pos + 1;
}

/* ---- merges ---- */

struct bigram {
  int32_t rank;
  uint32_t left, right;
  uint32_t lsize, rsize;
};

/* Lower rank first, then the leftmost pair. */
static int before(const struct bigram *a, const struct bigram *b) {
  return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

struct heap {
  struct bigram *v;
  size_t n;
};

static void heap_push(struct heap *h, struct bigram b) {
  size_t i = h->n++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(&b, &h->v[parent])) break;
    h->v[i] = h->v[parent];
    i = parent;
  }
  h->v[i] = b;
}

static struct bigram heap_pop(struct heap *h) {
  struct bigram top = h->v[0], last = h->v[--h->n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const struct bigram *best = &last;
    if (l < h->n && before(&h->v[l], best)) m = l, best = &h->v[l];
    if (r < h->n && before(&h->v[r], best)) m = r;
    if (m == i) break;
    h->v[i] = h->v[m];
    i = m;
  }
  if (h->n) h->v[i] = last;
  return top;
}

/* Scratch for one fragment, sized by its byte length. */
struct bpe_work {
  size_t *start;
  uint32_t *len;
  int64_t *prev, *next;
  struct heap heap;
};

static void add_bigram(const struct tok *t, const uint8_t *w, struct bpe_work *k, int64_t l, int64_t r) {
  if (l < 0 || r < 0) return;
  uint32_t ll = k->len[l], rl = k->len[r];
  uint8_t key[4 + 2 * TOK_MAX_TOKEN_BYTES];
  if ((size_t)ll + rl > 2 * TOK_MAX_TOKEN_BYTES) return; /* no merge that long was loaded */
  memcpy(key, &ll, 4);
  memcpy(key + 4, w + k->start[l], ll);
  memcpy(key + 4 + ll, w + k->start[r], rl);
  int32_t rank = tok_map_get(&t->merges, key, 4 + (size_t)ll + rl);
  if (rank < 0) return;
  heap_push(&k->heap, (struct bigram){rank, (uint32_t)l, (uint32_t)r, ll, rl});
}

static void emit_symbol(const struct tok *t, const uint8_t *p, size_t n, struct tok_out *o) {
  int32_t id = tok_map_get(&t->by_bytes, p, n);
  if (id >= 0) {
    tok_out_push(o, id);
    return;
  }
  /* llama.cpp looks each byte of the symbol's alphabet form up as a one-byte token text. */
  for (size_t i = 0; i < n; i++) {
    uint8_t u[4];
    size_t m = utf8_put(tok_gpt2_cp(p[i]), u);
    for (size_t j = 0; j < m; j++) {
      id = tok_map_get(&t->by_text, &u[j], 1);
      if (id >= 0) tok_out_push(o, id);
    }
  }
}

static void bpe_word(const struct tok *t, const uint8_t *w, size_t n, struct bpe_work *k, struct tok_out *o) {
  if (t->ignore_merges) {
    int32_t id = tok_map_get(&t->by_bytes, w, n);
    if (id >= 0) {
      tok_out_push(o, id);
      return;
    }
  }
  /* One symbol per byte: each byte is one character of GPT-2's alphabet. */
  for (size_t i = 0; i < n; i++) {
    k->start[i] = i;
    k->len[i] = 1;
    k->prev[i] = (int64_t)i - 1;
    k->next[i] = i + 1 < n ? (int64_t)i + 1 : -1;
  }
  k->heap.n = 0;
  for (size_t i = 1; i < n; i++) add_bigram(t, w, k, (int64_t)i - 1, (int64_t)i);
  while (k->heap.n) {
    struct bigram b = heap_pop(&k->heap);
    if (k->len[b.left] != b.lsize || k->len[b.right] != b.rsize) continue; /* outdated */
    k->len[b.left] += k->len[b.right];
    k->len[b.right] = 0;
    k->next[b.left] = k->next[b.right];
    if (k->next[b.right] >= 0) k->prev[k->next[b.right]] = b.left;
    add_bigram(t, w, k, k->prev[b.left], b.left);
    add_bigram(t, w, k, b.left, k->next[b.left]);
  }
  for (int64_t i = n ? 0 : -1; i >= 0; i = k->next[i]) emit_symbol(t, w + k->start[i], k->len[i], o);
}

int tok_bpe_fragment(const struct tok *t, const uint8_t *p, size_t n, struct tok_out *o) {
  if (n == 0) return 0;
  int rc = ERR_NOMEM;
  uint32_t *cp = malloc(n * sizeof(*cp));
  uint8_t *cls = malloc(n);
  size_t *off = malloc((n + 1) * sizeof(*off));
  struct bpe_work k = {0};
  k.start = malloc(n * sizeof(*k.start));
  k.len = malloc(n * sizeof(*k.len));
  k.prev = malloc(n * sizeof(*k.prev));
  k.next = malloc(n * sizeof(*k.next));
  k.heap.v = malloc(3 * n * sizeof(*k.heap.v)); /* n - 1 seeds + 2 per merge */
  if (!cp || !cls || !off || !k.start || !k.len || !k.prev || !k.next || !k.heap.v) goto out;
  size_t ncp = 0;
  for (size_t i = 0; i < n;) {
    size_t l;
    uint32_t c = utf8_next(p + i, n - i, &l);
    /* An invalid byte stays a byte of its own but is classified as llama.cpp classifies the
     * U+FFFD it substitutes: neither letter, number nor space. */
    if (c == UTF8_INVALID) c = 0xFFFD;
    cp[ncp] = c;
    cls[ncp] = (uint8_t)(C_IN | (tok_uni_is_letter(c) ? C_L : 0) | (tok_uni_is_number(c) ? C_N : 0) |
                         (tok_uni_is_whitespace(c) ? C_WS : 0));
    off[ncp++] = i;
    i += l;
  }
  off[ncp] = n;
  struct split s = {cp, cls, ncp};
  for (size_t pos = 0; pos < ncp;) {
    size_t end = next_word(&s, pos, t->pre);
    bpe_word(t, p + off[pos], off[end] - off[pos], &k, o);
    pos = end;
  }
  rc = 0;
out:
  free(cp);
  free(cls);
  free(off);
  free(k.start);
  free(k.len);
  free(k.prev);
  free(k.next);
  free(k.heap.v);
  return rc;
}

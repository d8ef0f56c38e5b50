/* boc: TON bag-of-cells serialization (deduplicated, @ton/core's cell order) and strict parsing. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/boc.h"

#include <stdlib.h>
#include <string.h>

#include "ton/crc.h"

/* ---- reading ---- */

/* A bounded big-endian cursor over untrusted bytes. */
struct rd {
  const uint8_t *p;
  size_t len;
  size_t pos;
};

static int rd_uint(struct rd *r, unsigned nbytes, uint64_t *out) {
  if (nbytes > 8 || r->len - r->pos < nbytes) return ERR_PARSE;
  uint64_t v = 0;
  for (unsigned i = 0; i < nbytes; i++) v = (v << 8) | r->p[r->pos + i];
  r->pos += nbytes;
  *out = v;
  return 0;
}

/* One cell as found in the BoC, before its children exist. */
struct raw_cell {
  size_t data_off; /* offset of the data bytes in the input */
  uint16_t bits;
  uint8_t nrefs;
  uint32_t refs[TON_CELL_MAX_REFS];
};

static unsigned ctz8(uint8_t b) {
  unsigned n = 0;
  while (!(b & 1u)) {
    b >>= 1;
    n++;
  }
  return n;
}

/* Reads one cell's descriptors, data and ref indexes at r (within the cell-data area). */
static int read_raw_cell(struct rd *r, unsigned size_bytes, uint64_t index, uint64_t ncells,
                         struct raw_cell *rc, struct err *e) {
  uint64_t d1, d2;
  if (rd_uint(r, 1, &d1) || rd_uint(r, 1, &d2))
    return err_set(e, ERR_PARSE, "BoC cell %llu: truncated descriptors", (unsigned long long)index);
  if (d1 & 8) {
    /* The first data byte of an exotic cell names its type. */
    unsigned type = r->pos < r->len ? r->p[r->pos] : 0;
    const char *name = type == 1 ? "pruned branch" : type == 2 ? "library" : type == 3 ? "Merkle proof"
                       : type == 4 ? "Merkle update" : "unknown";
    return err_set(e, ERR_PARSE, "BoC cell %llu is exotic (type %u, %s); only ordinary cells are supported",
                   (unsigned long long)index, type, name);
  }
  if (d1 & 16)
    return err_set(e, ERR_PARSE, "BoC cell %llu carries stored hashes; not supported",
                   (unsigned long long)index);
  if (d1 >> 5)
    return err_set(e, ERR_PARSE, "BoC cell %llu: ordinary cell with level mask %llu",
                   (unsigned long long)index, (unsigned long long)(d1 >> 5));
  if ((d1 & 7) > TON_CELL_MAX_REFS)
    return err_set(e, ERR_PARSE, "BoC cell %llu: %llu refs (at most 4)", (unsigned long long)index,
                   (unsigned long long)(d1 & 7));
  size_t nbytes = (size_t)(d2 + 1) / 2;
  if (r->len - r->pos < nbytes)
    return err_set(e, ERR_PARSE, "BoC cell %llu: data runs past the cell area", (unsigned long long)index);
  rc->data_off = r->pos;
  if (d2 & 1) {
    uint8_t last = r->p[r->pos + nbytes - 1];
    if (last == 0)
      return err_set(e, ERR_PARSE, "BoC cell %llu: padded data without a completion bit",
                     (unsigned long long)index);
    unsigned bits = (unsigned)(nbytes * 8 - 1 - ctz8(last));
    if (bits % 8 == 0)
      return err_set(e, ERR_PARSE, "BoC cell %llu: non-canonical padding (whole bytes marked as padded)",
                     (unsigned long long)index);
    rc->bits = (uint16_t)bits;
  } else {
    rc->bits = (uint16_t)(nbytes * 8);
  }
  r->pos += nbytes;
  rc->nrefs = (uint8_t)(d1 & 7);
  for (unsigned i = 0; i < rc->nrefs; i++) {
    uint64_t ref;
    if (rd_uint(r, size_bytes, &ref))
      return err_set(e, ERR_PARSE, "BoC cell %llu: truncated ref list", (unsigned long long)index);
    if (ref <= index || ref >= ncells)
      return err_set(e, ERR_PARSE, "BoC cell %llu: ref %u points to cell %llu (must be after it and below %llu)",
                     (unsigned long long)index, i, (unsigned long long)ref, (unsigned long long)ncells);
    rc->refs[i] = (uint32_t)ref;
  }
  return 0;
}

int ton_boc_parse(const uint8_t *p, size_t n, struct ton_cell **roots, size_t max_roots,
                  size_t *nroots, struct err *e) {
  struct raw_cell *raw = NULL;
  struct ton_cell **cells = NULL;
  uint64_t *root_idx = NULL;
  uint64_t ncells = 0, nroot = 0;
  int rc = ERR_PARSE;
  *nroots = 0;
  if (n > TON_BOC_MAX_BYTES)
    return err_set(e, ERR_LIMIT, "BoC of %zu bytes exceeds the limit of %zu", n, TON_BOC_MAX_BYTES);

  struct rd r = {p, n, 0};
  uint64_t magic, b;
  if (rd_uint(&r, 4, &magic)) return err_set(e, ERR_PARSE, "BoC too short for its magic");
  int has_idx, has_crc, has_cache = 0, legacy = 0;
  if (magic == TON_BOC_MAGIC) {
    if (rd_uint(&r, 1, &b)) return err_set(e, ERR_PARSE, "BoC truncated in its header");
    has_idx = (b >> 7) & 1;
    has_crc = (b >> 6) & 1;
    has_cache = (b >> 5) & 1;
    if ((b >> 3) & 3) return err_set(e, ERR_PARSE, "BoC header has reserved flags set");
    if (has_cache && !has_idx) return err_set(e, ERR_PARSE, "BoC has cache bits without an index");
    b &= 7;
  } else if (magic == TON_BOC_MAGIC_IDX || magic == TON_BOC_MAGIC_IDX_CRC) {
    legacy = 1;
    has_idx = 1;
    has_crc = magic == TON_BOC_MAGIC_IDX_CRC;
    if (rd_uint(&r, 1, &b)) return err_set(e, ERR_PARSE, "BoC truncated in its header");
  } else {
    return err_set(e, ERR_PARSE, "not a BoC: magic %08llx (want b5ee9c72)", (unsigned long long)magic);
  }
  unsigned size_bytes = (unsigned)b;
  if (size_bytes < 1 || size_bytes > 4)
    return err_set(e, ERR_PARSE, "BoC size field is %u bytes (1..4 allowed)", size_bytes);
  uint64_t off_bytes;
  if (rd_uint(&r, 1, &off_bytes)) return err_set(e, ERR_PARSE, "BoC truncated in its header");
  if (off_bytes < 1 || off_bytes > 8)
    return err_set(e, ERR_PARSE, "BoC offset field is %llu bytes (1..8 allowed)", (unsigned long long)off_bytes);

  /* Check the CRC first: it covers everything before it, and nothing may follow it. */
  if (has_crc) {
    if (n - r.pos < 4) return err_set(e, ERR_PARSE, "BoC truncated before its CRC32C");
    uint32_t want = (uint32_t)p[n - 4] | (uint32_t)p[n - 3] << 8 | (uint32_t)p[n - 2] << 16 |
                    (uint32_t)p[n - 1] << 24;
    uint32_t got = ton_crc32c(p, n - 4);
    if (got != want)
      return err_set(e, ERR_PARSE, "BoC CRC32C mismatch (stored %08x, computed %08x)", want, got);
    r.len = n - 4;
  }

  uint64_t absent, tot_size;
  if (rd_uint(&r, size_bytes, &ncells) || rd_uint(&r, size_bytes, &nroot) ||
      rd_uint(&r, size_bytes, &absent) || rd_uint(&r, (unsigned)off_bytes, &tot_size))
    return err_set(e, ERR_PARSE, "BoC truncated in its header");
  if (ncells == 0) return err_set(e, ERR_PARSE, "BoC has no cells");
  if (ncells > TON_BOC_MAX_CELLS)
    return err_set(e, ERR_LIMIT, "BoC has %llu cells (limit %u)", (unsigned long long)ncells, TON_BOC_MAX_CELLS);
  if (nroot == 0) return err_set(e, ERR_PARSE, "BoC has no roots");
  if (nroot > ncells)
    return err_set(e, ERR_PARSE, "BoC has %llu roots but %llu cells", (unsigned long long)nroot,
                   (unsigned long long)ncells);
  if (nroot > TON_BOC_MAX_ROOTS || nroot > max_roots)
    return err_set(e, ERR_LIMIT, "BoC has %llu roots (at most %zu accepted here)", (unsigned long long)nroot,
                   max_roots < TON_BOC_MAX_ROOTS ? max_roots : (size_t)TON_BOC_MAX_ROOTS);
  if (legacy && nroot != 1) return err_set(e, ERR_PARSE, "legacy BoC with %llu roots", (unsigned long long)nroot);
  if (absent != 0)
    return err_set(e, ERR_PARSE, "BoC declares %llu absent cells; not supported", (unsigned long long)absent);
  /* Every cell takes at least 2 bytes: reject impossible counts before allocating. */
  if (ncells * 2 > tot_size || tot_size > r.len - r.pos)
    return err_set(e, ERR_PARSE, "BoC cell area of %llu bytes does not fit %llu cells in %zu bytes",
                   (unsigned long long)tot_size, (unsigned long long)ncells, r.len - r.pos);

  root_idx = calloc((size_t)nroot, sizeof(*root_idx));
  raw = calloc((size_t)ncells, sizeof(*raw));
  cells = calloc((size_t)ncells, sizeof(*cells));
  if (!root_idx || !raw || !cells) {
    rc = err_set(e, ERR_NOMEM, "out of memory for a BoC of %llu cells", (unsigned long long)ncells);
    goto out;
  }
  for (uint64_t i = 0; i < nroot; i++) {
    if (legacy) {
      root_idx[i] = 0;
      continue;
    }
    if (rd_uint(&r, size_bytes, &root_idx[i])) {
      rc = err_set(e, ERR_PARSE, "BoC truncated in its root list");
      goto out;
    }
    if (root_idx[i] >= ncells) {
      rc = err_set(e, ERR_PARSE, "BoC root %llu is cell %llu of %llu", (unsigned long long)i,
                   (unsigned long long)root_idx[i], (unsigned long long)ncells);
      goto out;
    }
  }
  size_t idx_pos = r.pos;
  if (has_idx) {
    size_t idx_len;
    if (__builtin_mul_overflow((size_t)ncells, (size_t)off_bytes, &idx_len) || idx_len > r.len - r.pos) {
      rc = err_set(e, ERR_PARSE, "BoC truncated in its index");
      goto out;
    }
    r.pos += idx_len;
  }
  if (tot_size != r.len - r.pos) {
    rc = err_set(e, ERR_PARSE, "BoC cell area is %llu bytes but %zu bytes remain%s",
                 (unsigned long long)tot_size, r.len - r.pos, has_crc ? " before the CRC" : "");
    goto out;
  }
  size_t area_start = r.pos;
  struct rd idx = {p, r.len, idx_pos};
  for (uint64_t i = 0; i < ncells; i++) {
    rc = read_raw_cell(&r, size_bytes, i, ncells, &raw[i], e);
    if (rc) goto out;
    if (has_idx) {
      uint64_t end;
      if (rd_uint(&idx, (unsigned)off_bytes, &end)) {
        rc = err_set(e, ERR_PARSE, "BoC index truncated");
        goto out;
      }
      if (has_cache) end >>= 1;
      if (end != r.pos - area_start) {
        rc = err_set(e, ERR_PARSE, "BoC index entry %llu is %llu, cell ends at %zu", (unsigned long long)i,
                     (unsigned long long)end, r.pos - area_start);
        goto out;
      }
    }
  }
  if (r.pos != r.len) {
    rc = err_set(e, ERR_PARSE, "BoC has %zu bytes after its cells", r.len - r.pos);
    goto out;
  }
  /* Refs point forward, so building from the last cell gives every parent its children. */
  for (uint64_t i = ncells; i-- > 0;) {
    struct ton_cell *kids[TON_CELL_MAX_REFS];
    for (unsigned k = 0; k < raw[i].nrefs; k++) kids[k] = cells[raw[i].refs[k]];
    rc = ton_cell_new(p + raw[i].data_off, raw[i].bits, kids, raw[i].nrefs, &cells[i], e);
    if (rc) goto out;
  }
  for (uint64_t i = 0; i < nroot; i++) roots[i] = ton_cell_ref(cells[root_idx[i]]);
  *nroots = (size_t)nroot;
  rc = 0;
out:
  if (cells)
    for (uint64_t i = 0; i < ncells; i++) ton_cell_unref(cells[i]);
  free(cells);
  free(raw);
  free(root_idx);
  return rc;
}

int ton_boc_parse_one(const uint8_t *p, size_t n, struct ton_cell **root, struct err *e) {
  struct ton_cell *roots[TON_BOC_MAX_ROOTS];
  size_t nr = 0;
  *root = NULL;
  int rc = ton_boc_parse(p, n, roots, TON_BOC_MAX_ROOTS, &nr, e);
  if (rc) return rc;
  if (nr != 1) {
    for (size_t i = 0; i < nr; i++) ton_cell_unref(roots[i]);
    return err_set(e, ERR_PARSE, "BoC has %zu roots, expected one", nr);
  }
  *root = roots[0];
  return 0;
}

/* ---- writing ---- */

/* Cells met so far, by representation hash (open addressing; identical cells share a slot). */
struct seen {
  struct ton_cell **cells; /* slot -> cell, NULL when empty */
  uint32_t *order;         /* slot -> position in the output */
  size_t cap;
  size_t count;
};

static size_t slot_of(const struct seen *s, const uint8_t *hash) {
  uint64_t h;
  memcpy(&h, hash, sizeof(h));
  size_t i = (size_t)h & (s->cap - 1);
  while (s->cells[i] && memcmp(s->cells[i]->hash, hash, TON_HASH_LEN) != 0) i = (i + 1) & (s->cap - 1);
  return i;
}

static int seen_grow(struct seen *s) {
  size_t ncap = s->cap ? s->cap * 2 : 64;
  struct seen n = {calloc(ncap, sizeof(*n.cells)), calloc(ncap, sizeof(*n.order)), ncap, s->count};
  if (!n.cells || !n.order) {
    free(n.cells);
    free(n.order);
    return ERR_NOMEM;
  }
  for (size_t i = 0; i < s->cap; i++) {
    if (!s->cells[i]) continue;
    size_t j = slot_of(&n, s->cells[i]->hash);
    n.cells[j] = s->cells[i];
    n.order[j] = s->order[i];
  }
  free(s->cells);
  free(s->order);
  *s = n;
  return 0;
}

struct writer {
  struct seen seen;
  struct ton_cell **post; /* post-order of the DFS; output order is its reverse */
  size_t npost;
  size_t post_cap;
};

/* @ton/core's order: a DFS visiting refs last to first, cells emitted in reverse post-order. */
static int visit(struct writer *w, struct ton_cell *c) {
  if (w->seen.cap && w->seen.cells[slot_of(&w->seen, c->hash)]) return 0;
  if (w->seen.count >= TON_BOC_MAX_CELLS) return ERR_LIMIT;
  if ((w->seen.count + 1) * 2 > w->seen.cap && seen_grow(&w->seen) != 0) return ERR_NOMEM;
  if (w->seen.count == w->post_cap) {
    size_t ncap = w->post_cap ? w->post_cap * 2 : 32;
    struct ton_cell **np = realloc(w->post, ncap * sizeof(*np));
    if (!np) return ERR_NOMEM;
    w->post = np;
    w->post_cap = ncap;
  }
  w->seen.cells[slot_of(&w->seen, c->hash)] = c;
  w->seen.count++;
  for (unsigned i = c->nrefs; i-- > 0;) {
    int rc = visit(w, c->refs[i]);
    if (rc) return rc;
  }
  w->post[w->npost++] = c;
  return 0;
}

static unsigned bytes_for(uint64_t v) {
  unsigned n = 1;
  while (n < 8 && (v >> (8 * n)) != 0) n++;
  return n;
}

static int put_uint(struct buf *out, uint64_t v, unsigned nbytes) {
  uint8_t tmp[8];
  for (unsigned i = 0; i < nbytes; i++) tmp[i] = (uint8_t)(v >> (8 * (nbytes - 1 - i)));
  return buf_append(out, tmp, nbytes);
}

int ton_boc_serialize(struct ton_cell *root, unsigned flags, struct buf *out, struct err *e) {
  struct writer w = {{NULL, NULL, 0, 0}, NULL, 0, 0};
  int rc = 0;
  if (!root) return err_set(e, ERR_INVALID, "no root cell to serialize");
  if (flags & ~(unsigned)(TON_BOC_IDX | TON_BOC_CRC)) return err_set(e, ERR_INVALID, "unknown BoC flags");
  rc = visit(&w, root);
  if (rc) {
    rc = err_set(e, rc, rc == ERR_LIMIT ? "BoC would exceed %u cells" : "out of memory serializing a BoC",
                 TON_BOC_MAX_CELLS);
    goto out;
  }
  size_t ncells = w.npost;
  /* Position of each cell in the output. */
  for (size_t i = 0; i < ncells; i++)
    w.seen.order[slot_of(&w.seen, w.post[ncells - 1 - i]->hash)] = (uint32_t)i;
  unsigned size_bytes = bytes_for(ncells);
  uint64_t total = 0;
  for (size_t i = 0; i < ncells; i++) {
    const struct ton_cell *c = w.post[i];
    total += 2 + (c->bits + 7u) / 8u + (uint64_t)c->nrefs * size_bytes;
  }
  unsigned off_bytes = bytes_for(total);
  size_t start = out->len;
  uint8_t hdr[6] = {0xb5, 0xee, 0x9c, 0x72,
                    (uint8_t)(((flags & TON_BOC_IDX) ? 0x80 : 0) | ((flags & TON_BOC_CRC) ? 0x40 : 0) | size_bytes),
                    (uint8_t)off_bytes};
  rc = buf_append(out, hdr, sizeof(hdr));
  if (!rc) rc = put_uint(out, ncells, size_bytes);
  if (!rc) rc = put_uint(out, 1, size_bytes);
  if (!rc) rc = put_uint(out, 0, size_bytes);
  if (!rc) rc = put_uint(out, total, off_bytes);
  if (!rc) rc = put_uint(out, 0, size_bytes);
  if (!rc && (flags & TON_BOC_IDX)) {
    uint64_t end = 0;
    for (size_t i = ncells; i-- > 0 && !rc;) {
      const struct ton_cell *c = w.post[i];
      end += 2 + (c->bits + 7u) / 8u + (uint64_t)c->nrefs * size_bytes;
      rc = put_uint(out, end, off_bytes);
    }
  }
  for (size_t i = ncells; i-- > 0 && !rc;) {
    const struct ton_cell *c = w.post[i];
    uint8_t cd[2 + TON_CELL_MAX_BYTES];
    cd[0] = ton_cell_d1(c);
    cd[1] = ton_cell_d2(c);
    size_t dn = ton_cell_padded_data(c, cd + 2);
    rc = buf_append(out, cd, 2 + dn);
    for (unsigned k = 0; k < c->nrefs && !rc; k++)
      rc = put_uint(out, w.seen.order[slot_of(&w.seen, c->refs[k]->hash)], size_bytes);
  }
  if (!rc && (flags & TON_BOC_CRC)) {
    uint32_t crc = ton_crc32c(buf_ptr(out) + start, out->len - start);
    uint8_t le[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
    rc = buf_append(out, le, sizeof(le));
  }
  if (rc) rc = err_set(e, rc, "BoC output buffer: %s", err_name(rc));
out:
  free(w.post);
  free(w.seen.cells);
  free(w.seen.order);
  return rc;
}

/* message: TON message cells: internal (as a wallet sends it) and external-in. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/message.h"

#include <string.h>

/* Appends `init` and `body` after a message header, choosing inline or ref placement. @ton/core
 * uses two slightly different rules for relaxed (internal) and full (external) messages; the
 * hashes only match when we apply the same one. */
static int store_init_body(struct ton_builder *b, struct ton_cell *init, struct ton_cell *body, unsigned flags,
                           int relaxed) {
  int rc = 0;
  if (!init) {
    rc = ton_builder_store_bit(b, 0);
  } else {
    int need_ref;
    if (flags & TON_MSG_FORCE_REF)
      need_ref = 1;
    else if (relaxed)
      need_ref = (int)ton_builder_bits_left(b) - 2 < (int)init->bits;
    else
      need_ref = (int)ton_builder_bits_left(b) - 2 < (int)init->bits + (int)body->bits;
    rc = ton_builder_store_bit(b, 1);
    if (!rc) rc = ton_builder_store_bit(b, need_ref);
    if (!rc) rc = need_ref ? ton_builder_store_ref(b, init) : ton_builder_store_cell_contents(b, init);
  }
  if (rc) return rc;
  int need_ref = (flags & TON_MSG_FORCE_REF) || (int)ton_builder_bits_left(b) - 1 < (int)body->bits ||
                 (unsigned)(TON_CELL_MAX_REFS - ton_builder_refs_left(b)) + body->nrefs > TON_CELL_MAX_REFS;
  rc = ton_builder_store_bit(b, need_ref);
  if (!rc) rc = need_ref ? ton_builder_store_ref(b, body) : ton_builder_store_cell_contents(b, body);
  return rc;
}

static int finish(struct ton_builder *b, int rc, struct ton_cell *empty, const char *what, struct ton_cell **out,
                  struct err *e) {
  ton_cell_unref(empty);
  if (rc) {
    ton_builder_clear(b);
    return err_set(e, rc, "message: the %s does not fit in a cell", what);
  }
  return ton_builder_end(b, out, e);
}

int ton_int_msg_cell(const struct ton_int_msg *m, unsigned flags, struct ton_cell **out, struct err *e) {
  struct ton_cell *empty = NULL, *body = m->body;
  if (!body && !(body = empty = ton_cell_empty())) return err_set(e, ERR_NOMEM, "message: out of memory");
  struct ton_builder b;
  ton_builder_init(&b);
  int rc = ton_builder_store_bit(&b, 0);       /* int_msg_info$0 */
  if (!rc) rc = ton_builder_store_bit(&b, 1);  /* ihr_disabled */
  if (!rc) rc = ton_builder_store_bit(&b, m->bounce ? 1 : 0);
  if (!rc) rc = ton_builder_store_bit(&b, 0);  /* bounced */
  if (!rc) rc = ton_builder_store_addr(&b, NULL);
  if (!rc) rc = ton_builder_store_addr(&b, &m->dest);
  if (!rc) rc = ton_builder_store_coins(&b, m->value);
  if (!rc) rc = ton_builder_store_bit(&b, 0);  /* no extra currencies */
  if (!rc) rc = ton_builder_store_coins(&b, 0); /* ihr_fee */
  if (!rc) rc = ton_builder_store_coins(&b, 0); /* fwd_fee */
  if (!rc) rc = ton_builder_store_uint(&b, 0, 64);
  if (!rc) rc = ton_builder_store_uint(&b, 0, 32);
  if (!rc) rc = store_init_body(&b, m->init, body, flags, 1);
  return finish(&b, rc, empty, "internal message", out, e);
}

int ton_ext_in_msg_cell(const struct ton_addr *dest, struct ton_cell *init, struct ton_cell *body, unsigned flags,
                        struct ton_cell **out, struct err *e) {
  struct ton_cell *empty = NULL;
  if (!body && !(body = empty = ton_cell_empty())) return err_set(e, ERR_NOMEM, "message: out of memory");
  struct ton_builder b;
  ton_builder_init(&b);
  int rc = ton_builder_store_uint(&b, 2, 2); /* ext_in_msg_info$10 */
  if (!rc) rc = ton_builder_store_addr(&b, NULL);
  if (!rc) rc = ton_builder_store_addr(&b, dest);
  if (!rc) rc = ton_builder_store_coins(&b, 0); /* import_fee */
  if (!rc) rc = store_init_body(&b, init, body, flags, 0);
  return finish(&b, rc, empty, "external message", out, e);
}

/* Builds the chain from the tail: each cell holds up to 127 bytes (the first 123 after op 0). */
int ton_comment_cell(const char *text, struct ton_cell **out, struct err *e) {
  size_t n = strlen(text);
  if (n > 64 * 1024) return err_set(e, ERR_LIMIT, "message: a comment of %zu bytes is too long", n);
  size_t first = n < 123 ? n : 123;
  size_t rest = n - first, ntail = (rest + 126) / 127;
  struct ton_cell *next = NULL;
  for (size_t i = ntail; i-- > 0;) {
    size_t off = first + i * 127, len = n - off < 127 ? n - off : 127;
    struct ton_builder b;
    ton_builder_init(&b);
    int rc = ton_builder_store_bytes(&b, text + off, len);
    if (!rc && next) rc = ton_builder_store_ref(&b, next);
    ton_cell_unref(next);
    next = NULL;
    if (rc) {
      ton_builder_clear(&b);
      return err_set(e, rc, "message: cannot build the comment");
    }
    if ((rc = ton_builder_end(&b, &next, e))) return rc;
  }
  struct ton_builder b;
  ton_builder_init(&b);
  int rc = ton_builder_store_uint(&b, 0, 32);
  if (!rc) rc = ton_builder_store_bytes(&b, text, first);
  if (!rc && next) rc = ton_builder_store_ref(&b, next);
  ton_cell_unref(next);
  if (rc) {
    ton_builder_clear(&b);
    return err_set(e, rc, "message: cannot build the comment");
  }
  return ton_builder_end(&b, out, e);
}

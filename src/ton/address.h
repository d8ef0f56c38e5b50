/* address: MsgAddressInt (addr_std), raw and friendly forms, StateInit and address derivation. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_ADDRESS_H
#define COCOON_TON_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ton/cell.h"

/* addr_std without anycast: an 8-bit workchain (0 basechain, -1 masterchain) and a hash. */
struct ton_addr {
  int32_t wc; /* -128..127 */
  uint8_t hash[32];
};

/* Friendly-form tag bits. */
#define TON_ADDR_TAG_BOUNCEABLE 0x11
#define TON_ADDR_TAG_NON_BOUNCEABLE 0x51
#define TON_ADDR_TAG_TESTNET 0x80

#define TON_ADDR_RAW_MAX 70      /* "-128:" + 64 hex + NUL */
#define TON_ADDR_FRIENDLY_LEN 48 /* base64 of 36 bytes */

/* How an address string was written. */
struct ton_addr_form {
  int friendly; /* 0: raw "wc:hex" */
  int bounceable;
  int testnet;
  int urlsafe; /* friendly form used '-' '_' (or neither special character appeared) */
};

/* "wc:hex64" (lowercase) into out (TON_ADDR_RAW_MAX bytes). */
void ton_addr_to_raw(const struct ton_addr *a, char *out, size_t outsz);
/* The 48-character friendly form into out (at least 49 bytes). ERR_INVALID for a workchain
 * outside -128..127. */
CC_NODISCARD int ton_addr_to_friendly(const struct ton_addr *a, int bounceable, int testnet,
                                      int urlsafe, char *out, size_t outsz);
/* Parses either form; the error names what is wrong (length, character, tag, CRC, ...).
 * form may be NULL. */
CC_NODISCARD int ton_addr_parse(const char *s, struct ton_addr *out, struct ton_addr_form *form,
                                struct err *e);
int ton_addr_equal(const struct ton_addr *a, const struct ton_addr *b);

/* addr_std$10 anycast:0 workchain:int8 hash:bits256 (267 bits), or addr_none$00 for NULL. */
CC_NODISCARD int ton_builder_store_addr(struct ton_builder *b, const struct ton_addr *a);
/* Reads addr_none (*is_none = 1) or addr_std without anycast; refuses addr_extern, addr_var
 * and anycast with ERR_PARSE. is_none may be NULL (then addr_none is refused). */
CC_NODISCARD int ton_slice_load_addr(struct ton_slice *s, struct ton_addr *out, int *is_none);

/* StateInit fields; cells are borrowed. split_depth and special are optional. */
struct ton_state_init {
  int has_split_depth;
  unsigned split_depth; /* 0..31 */
  int has_special;
  int tick, tock;
  struct ton_cell *code;    /* NULL: absent */
  struct ton_cell *data;    /* NULL: absent */
  struct ton_cell *library; /* the library dictionary's root cell; NULL: empty */
};

/* _ split_depth:(Maybe (## 5)) special:(Maybe TickTock) code:(Maybe ^Cell) data:(Maybe ^Cell)
 *   library:(Maybe ^Cell) = StateInit;  caller unrefs *out. */
CC_NODISCARD int ton_state_init_cell(const struct ton_state_init *si, struct ton_cell **out,
                                     struct err *e);
/* The contract address: workchain wc and the hash of the StateInit cell. */
CC_NODISCARD int ton_state_init_address(int wc, const struct ton_state_init *si,
                                        struct ton_addr *out, struct err *e);

#endif

/* address: MsgAddressInt (addr_std), raw and friendly forms, StateInit and address derivation. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/address.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "ton/crc.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int ton_addr_equal(const struct ton_addr *a, const struct ton_addr *b) {
  return a->wc == b->wc && memcmp(a->hash, b->hash, 32) == 0;
}

void ton_addr_to_raw(const struct ton_addr *a, char *out, size_t outsz) {
  char hex[65];
  util_hex(a->hash, 32, hex);
  snprintf(out, outsz, "%d:%s", (int)a->wc, hex);
}

int ton_addr_to_friendly(const struct ton_addr *a, int bounceable, int testnet, int urlsafe,
                         char *out, size_t outsz) {
  if (a->wc < -128 || a->wc > 127) return ERR_INVALID;
  if (outsz < TON_ADDR_FRIENDLY_LEN + 1) return ERR_LIMIT;
  uint8_t raw[36];
  raw[0] = (uint8_t)((bounceable ? TON_ADDR_TAG_BOUNCEABLE : TON_ADDR_TAG_NON_BOUNCEABLE) |
                     (testnet ? TON_ADDR_TAG_TESTNET : 0));
  raw[1] = (uint8_t)(a->wc & 0xFF);
  memcpy(raw + 2, a->hash, 32);
  uint16_t crc = ton_crc16(raw, 34);
  raw[34] = (uint8_t)(crc >> 8);
  raw[35] = (uint8_t)crc;
  const char *alpha = urlsafe ? b64_url : b64_std;
  size_t o = 0;
  for (size_t i = 0; i < 36; i += 3) {
    uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
    out[o++] = alpha[(v >> 18) & 63];
    out[o++] = alpha[(v >> 12) & 63];
    out[o++] = alpha[(v >> 6) & 63];
    out[o++] = alpha[v & 63];
  }
  out[o] = '\0';
  return 0;
}

static int b64_val(char c, int *url, int *std) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '_') {
    *url = 1;
    return c == '-' ? 62 : 63;
  }
  if (c == '+' || c == '/') {
    *std = 1;
    return c == '+' ? 62 : 63;
  }
  return -1;
}

static int parse_raw(const char *s, size_t len, const char *colon, struct ton_addr *out,
                     struct err *e) {
  size_t wlen = (size_t)(colon - s);
  if (wlen == 0 || wlen > 4)
    return err_set(e, ERR_PARSE, "raw address: bad workchain '%.*s'", (int)(wlen > 8 ? 8 : wlen), s);
  int64_t wc = 0;
  size_t i = 0;
  int neg = 0;
  if (s[0] == '-') {
    neg = 1;
    i = 1;
  }
  if (i == wlen) return err_set(e, ERR_PARSE, "raw address: workchain has no digits");
  for (; i < wlen; i++) {
    if (s[i] < '0' || s[i] > '9')
      return err_set(e, ERR_PARSE, "raw address: workchain '%.*s' is not a number", (int)wlen, s);
    wc = wc * 10 + (s[i] - '0');
  }
  if (neg) wc = -wc;
  if (wc < -128 || wc > 127)
    return err_set(e, ERR_PARSE, "raw address: workchain %lld outside -128..127", (long long)wc);
  const char *hex = colon + 1;
  size_t hlen = len - wlen - 1;
  if (hlen != 64)
    return err_set(e, ERR_PARSE, "raw address: hash has %zu hex digits, want 64", hlen);
  if (util_unhex(hex, 64, out->hash, 32) != 0)
    return err_set(e, ERR_PARSE, "raw address: hash is not hexadecimal");
  out->wc = (int32_t)wc;
  return 0;
}

int ton_addr_parse(const char *s, struct ton_addr *out, struct ton_addr_form *form,
                   struct err *e) {
  struct ton_addr_form f = {0};
  size_t len = strnlen(s, 128);
  if (len == 0) return err_set(e, ERR_PARSE, "empty address");
  if (len >= 128) return err_set(e, ERR_PARSE, "address too long");
  const char *colon = memchr(s, ':', len);
  if (colon) {
    int rc = parse_raw(s, len, colon, out, e);
    if (rc) return rc;
    if (form) *form = f;
    return 0;
  }
  if (len != TON_ADDR_FRIENDLY_LEN)
    return err_set(e, ERR_PARSE,
                   "address has %zu characters: want 48 (friendly base64) or the raw form wc:hex", len);
  uint8_t raw[36];
  int url = 0, std = 0;
  for (size_t i = 0; i < 48; i += 4) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
      int d = b64_val(s[i + k], &url, &std);
      if (d < 0)
        return err_set(e, ERR_PARSE, "friendly address: character %zu ('%c') is not base64", i + k + 1,
                       (s[i + k] >= 0x20 && s[i + k] < 0x7f) ? s[i + k] : '?');
      v = v << 6 | (uint32_t)d;
    }
    raw[i / 4 * 3] = (uint8_t)(v >> 16);
    raw[i / 4 * 3 + 1] = (uint8_t)(v >> 8);
    raw[i / 4 * 3 + 2] = (uint8_t)v;
  }
  if (url && std)
    return err_set(e, ERR_PARSE, "friendly address mixes base64url ('-', '_') and base64 ('+', '/')");
  uint16_t crc = ton_crc16(raw, 34);
  if (raw[34] != (uint8_t)(crc >> 8) || raw[35] != (uint8_t)crc)
    return err_set(e, ERR_PARSE, "friendly address: CRC16 mismatch (stored %02x%02x, computed %04x): mistyped?",
                   raw[34], raw[35], crc);
  uint8_t tag = raw[0];
  f.friendly = 1;
  f.testnet = (tag & TON_ADDR_TAG_TESTNET) != 0;
  tag &= (uint8_t)~TON_ADDR_TAG_TESTNET;
  if (tag == TON_ADDR_TAG_BOUNCEABLE) f.bounceable = 1;
  else if (tag != TON_ADDR_TAG_NON_BOUNCEABLE)
    return err_set(e, ERR_PARSE, "friendly address: unknown tag byte 0x%02x (want 0x11 or 0x51, +0x80 testnet)",
                   raw[0]);
  f.urlsafe = !std;
  out->wc = (int32_t)(int8_t)raw[1];
  memcpy(out->hash, raw + 2, 32);
  if (form) *form = f;
  return 0;
}

int ton_builder_store_addr(struct ton_builder *b, const struct ton_addr *a) {
  if (!a) return ton_builder_store_uint(b, 0, 2);
  if (a->wc < -128 || a->wc > 127) return ERR_INVALID;
  if (ton_builder_bits_left(b) < 267) return ERR_LIMIT;
  int rc = ton_builder_store_uint(b, 4, 3); /* addr_std$10, anycast nothing$0 */
  if (!rc) rc = ton_builder_store_int(b, a->wc, 8);
  if (!rc) rc = ton_builder_store_bytes(b, a->hash, 32);
  return rc;
}

int ton_slice_load_addr(struct ton_slice *s, struct ton_addr *out, int *is_none) {
  struct ton_slice save = *s;
  uint64_t tag;
  int rc = ton_slice_load_uint(s, 2, &tag);
  if (rc) return rc;
  if (tag == 0 && is_none) {
    *is_none = 1;
    return 0;
  }
  uint64_t anycast;
  int64_t wc;
  if (tag != 2 || ton_slice_load_uint(s, 1, &anycast) || anycast != 0 || ton_slice_load_int(s, 8, &wc) ||
      ton_slice_load_bits(s, 256, out->hash)) {
    *s = save;
    return ERR_PARSE;
  }
  out->wc = (int32_t)wc;
  if (is_none) *is_none = 0;
  return 0;
}

int ton_state_init_cell(const struct ton_state_init *si, struct ton_cell **out, struct err *e) {
  struct ton_builder b;
  ton_builder_init(&b);
  *out = NULL;
  int rc = 0;
  if (si->has_split_depth) {
    if (si->split_depth > 31) return err_set(e, ERR_INVALID, "split_depth %u exceeds 31", si->split_depth);
    rc = ton_builder_store_bit(&b, 1);
    if (!rc) rc = ton_builder_store_uint(&b, si->split_depth, 5);
  } else {
    rc = ton_builder_store_bit(&b, 0);
  }
  if (!rc) rc = ton_builder_store_bit(&b, si->has_special);
  if (!rc && si->has_special) {
    rc = ton_builder_store_bit(&b, si->tick);
    if (!rc) rc = ton_builder_store_bit(&b, si->tock);
  }
  if (!rc) rc = ton_builder_store_maybe_ref(&b, si->code);
  if (!rc) rc = ton_builder_store_maybe_ref(&b, si->data);
  if (!rc) rc = ton_builder_store_maybe_ref(&b, si->library);
  if (rc) {
    ton_builder_clear(&b);
    return err_set(e, rc, "cannot build the StateInit cell");
  }
  return ton_builder_end(&b, out, e);
}

int ton_state_init_address(int wc, const struct ton_state_init *si, struct ton_addr *out,
                           struct err *e) {
  if (wc < -128 || wc > 127) return err_set(e, ERR_INVALID, "workchain %d outside -128..127", wc);
  struct ton_cell *c = NULL;
  int rc = ton_state_init_cell(si, &c, e);
  if (rc) return rc;
  out->wc = wc;
  memcpy(out->hash, c->hash, 32);
  ton_cell_unref(c);
  return 0;
}

/* wallet: the standard wallet contracts v4r2 and v5r1: code, initial data, StateInit, address. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/wallet.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "ton/boc.h"

/* The published code BoCs, byte for byte as the wallets were deployed (v4r2 from
 * ton-blockchain/wallet-contract, v5r1 from ton-blockchain/wallet-contract-v5 build
 * wallet_v5.compiled.json; both as @ton/ton 16.3.0 embeds them). Their root hashes are
 * TON_WALLET_*_CODE_HASH. */
/* 736 bytes. */
static const char v4r2_code_hex[] =
    "b5ee9c72010214010002d4000114ff00f4a413f4bcf2c80b010201200203020148040504f8f28308d71820d31fd31fd3"
    "1f02f823bbf264ed44d0d31fd31fd3fff404d15143baf2a15151baf2a205f901541064f910f2a3f80024a4c8cb1f5240"
    "cb1f5230cbff5210f400c9ed54f80f01d30721c0009f6c519320d74a96d307d402fb00e830e021c001e30021c002e300"
    "01c0039130e30d03a4c8cb1f12cb1fcbff1011121302e6d001d0d3032171b0925f04e022d749c120925f04e002d31f21"
    "8210706c7567bd22821064737472bdb0925f05e003fa403020fa4401c8ca07cbffc9d0ed44d0810140d721f404305c81"
    "0108f40a6fa131b3925f07e005d33fc8258210706c7567ba923830e30d03821064737472ba925f06e30d060702012008"
    "09007801fa00f40430f8276f2230500aa121bef2e0508210706c7567831eb17080185004cb0526cf1658fa0219f400cb"
    "6917cb1f5260cb3f20c98040fb0006008a5004810108f45930ed44d0810140d720c801cf16f400c9ed540172b08e2382"
    "1064737472831eb17080185005cb055003cf1623fa0213cb6acb1fcb3fc98040fb00925f03e20201200a0b0059bd242b"
    "6f6a2684080a06b90fa0218470d4080847a4937d29910ce6903e9ff9837812801b7810148987159f31840201580c0d00"
    "11b8c97ed44d0d70b1f8003db29dfb513420405035c87d010c00b23281f2fff274006040423d029be84c600201200e0f"
    "0019adce76a26840206b90eb85ffc00019af1df6a26840106b90eb858fc0006ed207fa00d4d422f90005c8ca0715cbff"
    "c9d077748018c8cb05cb0222cf165005fa0214cb6b12ccccc973fb00c84014810108f451f2a7020070810108d718fa00"
    "d33fc8542047810108f451f2a782106e6f746570748018c8cb05cb025006cf165004fa0214cb6a12cb1fcb3fc973fb00"
    "02006c810108d718fa00d33f305224810108f459f2a782106473747270748018c8cb05cb025005cf165003fa0213cb6a"
    "cb1f12cb3fc973fb00000af400c9ed54";

/* 657 bytes. */
static const char v5r1_code_hex[] =
    "b5ee9c7241021401000281000114ff00f4a413f4bcf2c80b01020120020d020148030402dcd020d749c120915b8f6320"
    "d70b1f2082106578746ebd21821073696e74bdb0925f03e082106578746eba8eb48020d72101d074d721fa4030fa44f8"
    "28fa443058bd915be0ed44d0810141d721f4058307f40e6fa1319130e18040d721707fdb3ce03120d749810280b99130"
    "e070e2100f020120050c020120060902016e07080019adce76a2684020eb90eb85ffc00019af1df6a2684010eb90eb85"
    "8fc00201480a0b0017b325fb51341c75c875c2c7e00011b262fb513435c280200019be5f0f6a2684080a0eb90fa02c01"
    "02f20e011e20d70b1f82107369676ebaf2e08a7f0f01e68ef0eda2edfb218308d722028308d723208020d721d31fd31f"
    "d31fed44d0d200d31f20d31fd3ffd70a000af90140ccf9109a28945f0adb31e1f2c087df02b35007b0f2d0845125baf2"
    "e0855036baf2e086f823bbf2d0882292f800de01a47fc8ca00cb1f01cf16c9ed542092f80fde70db3cd81003f6eda2ed"
    "fb02f404216e926c218e4c0221d73930709421c700b38e2d01d72820761e436c20d749c008f2e09320d74ac002f2e093"
    "20d71d06c712c2005230b0f2d089d74cd7393001a4e86c128407bbf2e093d74ac000f2e093ed55e2d20001c000915be0"
    "ebd72c08142091709601d72c081c12e25210b1e30f20d74a111213009601fa4001fa44f828fa443058baf2e091ed44d0"
    "810141d718f405049d7fc8ca0040048307f453f2e08b8e14038307f45bf2e08c22d70a00216e01b3b0f2d090e2c85003"
    "cf1612f400c9ed54007230d72c08248e2d21f2e092d200ed44d0d2005113baf2d08f54503091319c01810140d721d70a"
    "00f2e08ee2c8ca0058cf16c9ed5493f2c08de20010935bdb31e1d74cd0b4d6c35e";

int ton_wallet_kind_parse(const char *s, enum ton_wallet_kind *out) {
  if (!strcmp(s, "v4r2") || !strcmp(s, "v4")) *out = TON_WALLET_V4R2;
  else if (!strcmp(s, "v5r1") || !strcmp(s, "v5")) *out = TON_WALLET_V5R1;
  else return ERR_INVALID;
  return 0;
}

const char *ton_wallet_kind_name(enum ton_wallet_kind k) {
  return k == TON_WALLET_V4R2 ? "v4r2" : k == TON_WALLET_V5R1 ? "v5r1" : "?";
}

uint32_t ton_wallet_default_id(enum ton_wallet_kind k, int wc, int testnet) {
  if (k == TON_WALLET_V4R2) return (uint32_t)(698983191 + wc);
  uint32_t context = 0x80000000u | (uint32_t)(uint8_t)(int8_t)wc << 23; /* version 0, subwallet 0 */
  int32_t global = testnet ? TON_GLOBAL_ID_TESTNET : TON_GLOBAL_ID_MAINNET;
  return (uint32_t)global ^ context;
}

int ton_wallet_init(struct ton_wallet *w, enum ton_wallet_kind k, int wc, const uint8_t pubkey[32],
                    int testnet) {
  if (k != TON_WALLET_V4R2 && k != TON_WALLET_V5R1) return ERR_INVALID;
  if (wc < -128 || wc > 127) return ERR_INVALID;
  memset(w, 0, sizeof(*w));
  w->kind = k;
  w->wc = wc;
  memcpy(w->pubkey, pubkey, 32);
  w->wallet_id = ton_wallet_default_id(k, wc, testnet);
  return 0;
}

int ton_wallet_code(enum ton_wallet_kind k, struct ton_cell **out, struct err *e) {
  const char *hex = k == TON_WALLET_V4R2 ? v4r2_code_hex : k == TON_WALLET_V5R1 ? v5r1_code_hex : NULL;
  *out = NULL;
  if (!hex) return err_set(e, ERR_INVALID, "unknown wallet kind %d", (int)k);
  size_t hlen = strlen(hex);
  uint8_t *boc = malloc(hlen / 2);
  if (!boc) return err_set(e, ERR_NOMEM, "out of memory");
  int rc = util_unhex(hex, hlen, boc, hlen / 2);
  if (rc == 0) rc = ton_boc_parse_one(boc, hlen / 2, out, e);
  else rc = err_set(e, ERR_INVALID, "embedded wallet code is not hex");
  free(boc);
  return rc;
}

int ton_wallet_data(const struct ton_wallet *w, struct ton_cell **out, struct err *e) {
  struct ton_builder b;
  ton_builder_init(&b);
  int rc;
  *out = NULL;
  if (w->kind == TON_WALLET_V4R2) {
    /* seqno:32 subwallet:32 pubkey:256 plugins:(HashmapE) empty */
    rc = ton_builder_store_uint(&b, 0, 32);
    if (!rc) rc = ton_builder_store_uint(&b, w->wallet_id, 32);
    if (!rc) rc = ton_builder_store_bytes(&b, w->pubkey, 32);
    if (!rc) rc = ton_builder_store_bit(&b, 0);
  } else if (w->kind == TON_WALLET_V5R1) {
    /* is_signature_allowed:1 seqno:32 wallet_id:32 pubkey:256 extensions:(HashmapE) empty */
    rc = ton_builder_store_bit(&b, 1);
    if (!rc) rc = ton_builder_store_uint(&b, 0, 32);
    if (!rc) rc = ton_builder_store_uint(&b, w->wallet_id, 32);
    if (!rc) rc = ton_builder_store_bytes(&b, w->pubkey, 32);
    if (!rc) rc = ton_builder_store_bit(&b, 0);
  } else {
    return err_set(e, ERR_INVALID, "unknown wallet kind %d", (int)w->kind);
  }
  if (rc) {
    ton_builder_clear(&b);
    return err_set(e, rc, "cannot build the wallet data cell");
  }
  return ton_builder_end(&b, out, e);
}

int ton_wallet_state_init(const struct ton_wallet *w, struct ton_cell **out, struct err *e) {
  struct ton_cell *code = NULL, *data = NULL;
  *out = NULL;
  int rc = ton_wallet_code(w->kind, &code, e);
  if (!rc) rc = ton_wallet_data(w, &data, e);
  if (!rc) {
    struct ton_state_init si = {.code = code, .data = data};
    rc = ton_state_init_cell(&si, out, e);
  }
  ton_cell_unref(code);
  ton_cell_unref(data);
  return rc;
}

int ton_wallet_address(const struct ton_wallet *w, struct ton_addr *out, struct err *e) {
  if (w->wc < -128 || w->wc > 127) return err_set(e, ERR_INVALID, "workchain %d outside -128..127", w->wc);
  struct ton_cell *si = NULL;
  int rc = ton_wallet_state_init(w, &si, e);
  if (rc) return rc;
  out->wc = w->wc;
  memcpy(out->hash, si->hash, 32);
  ton_cell_unref(si);
  return 0;
}

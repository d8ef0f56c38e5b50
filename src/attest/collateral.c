/* collateral: Intel's TCB info, QE identity and CRLs, and the TDX TCB-status evaluation. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "attest/collateral.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "attest/pkix.h"
#include "base/util.h"

static const struct {
  enum attest_tcb_status s;
  const char *name;
} status_names[] = {
    {ATTEST_TCB_UP_TO_DATE, "UpToDate"},
    {ATTEST_TCB_SW_HARDENING_NEEDED, "SWHardeningNeeded"},
    {ATTEST_TCB_CONFIGURATION_NEEDED, "ConfigurationNeeded"},
    {ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED, "ConfigurationAndSWHardeningNeeded"},
    {ATTEST_TCB_OUT_OF_DATE, "OutOfDate"},
    {ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, "OutOfDateConfigurationNeeded"},
    {ATTEST_TCB_REVOKED, "Revoked"},
};

const char *attest_tcb_status_name(enum attest_tcb_status s) {
  for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
    if (status_names[i].s == s) return status_names[i].name;
  return "NotEvaluated";
}

int attest_tcb_status_parse(const char *s, enum attest_tcb_status *out) {
  for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
    if (strcmp(status_names[i].name, s) == 0) {
      *out = status_names[i].s;
      return 0;
    }
  return ERR_PARSE;
}

/* ---- locating the signed part ------------------------------------------------------------ */

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* Skips one JSON string starting at p ('"'); returns the byte after it, or NULL. */
static const char *skip_string(const char *p, const char *end) {
  if (p >= end || *p != '"') return NULL;
  for (p++; p < end; p++) {
    if (*p == '\\') {
      if (++p >= end) return NULL;
    } else if (*p == '"') {
      return p + 1;
    }
  }
  return NULL;
}

/* Skips one JSON value (objects and arrays nest at most 32 deep); NULL on malformed input.
 * Only the extent matters here: jansson validates the content afterwards. */
static const char *skip_value(const char *p, const char *end) {
  int depth = 0;
  p = skip_ws(p, end);
  do {
    if (p >= end) return NULL;
    if (*p == '"') {
      p = skip_string(p, end);
      if (!p) return NULL;
    } else if (*p == '{' || *p == '[') {
      if (++depth > 32) return NULL;
      p++;
    } else if (*p == '}' || *p == ']') {
      if (depth == 0) return NULL;
      depth--;
      p++;
    } else if (*p == ',' || *p == ':' || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
      if (depth == 0) return NULL;
      p++;
    } else {
      /* number or literal */
      const char *s = p;
      while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
             *p != '\r' && *p != '\t')
        p++;
      if (p == s) return NULL;
    }
  } while (depth > 0);
  return p;
}

/* In a document {"<body_key>":{...},"signature":"<128 hex>"} (keys in either order, nothing
 * else), finds the exact bytes of the body value and decodes the signature. */
static int split_signed(const char *json, size_t len, const char *body_key, const char **body,
                        size_t *body_len, uint8_t sig[ATTEST_ECDSA_SIG_LEN], struct err *e) {
  const char *p = json, *end = json + len;
  int have_body = 0, have_sig = 0;
  if (len > ATTEST_COLLATERAL_JSON_MAX)
    return err_set(e, ERR_LIMIT, "collateral: %s document larger than %d bytes", body_key,
                   ATTEST_COLLATERAL_JSON_MAX);
  p = skip_ws(p, end);
  if (p >= end || *p != '{') return err_set(e, ERR_PARSE, "collateral: %s: not a JSON object", body_key);
  p = skip_ws(p + 1, end);
  for (;;) {
    const char *ks = p, *ke = skip_string(p, end);
    if (!ke) return err_set(e, ERR_PARSE, "collateral: %s: bad key", body_key);
    p = skip_ws(ke, end);
    if (p >= end || *p != ':') return err_set(e, ERR_PARSE, "collateral: %s: missing ':'", body_key);
    const char *vs = skip_ws(p + 1, end), *ve = skip_value(vs, end);
    if (!ve) return err_set(e, ERR_PARSE, "collateral: %s: malformed value", body_key);
    size_t klen = (size_t)(ke - ks) - 2;
    if (klen == strlen(body_key) && memcmp(ks + 1, body_key, klen) == 0) {
      if (have_body || *vs != '{')
        return err_set(e, ERR_PARSE, "collateral: %s repeated or not an object", body_key);
      *body = vs;
      *body_len = (size_t)(ve - vs);
      have_body = 1;
    } else if (klen == 9 && memcmp(ks + 1, "signature", 9) == 0) {
      if (have_sig || ve - vs != 2 + 2 * ATTEST_ECDSA_SIG_LEN ||
          util_unhex(vs + 1, 2 * ATTEST_ECDSA_SIG_LEN, sig, ATTEST_ECDSA_SIG_LEN) != 0)
        return err_set(e, ERR_PARSE, "collateral: %s: signature is not 128 hex digits", body_key);
      have_sig = 1;
    } else {
      return err_set(e, ERR_PARSE, "collateral: %s: unexpected top-level key", body_key);
    }
    p = skip_ws(ve, end);
    if (p < end && *p == ',') {
      p = skip_ws(p + 1, end);
      continue;
    }
    if (p < end && *p == '}') break;
    return err_set(e, ERR_PARSE, "collateral: %s: malformed object", body_key);
  }
  p = skip_ws(p + 1, end);
  if (p != end && !(p + 1 == end && *p == '\0'))
    return err_set(e, ERR_PARSE, "collateral: %s: bytes after the document", body_key);
  if (!have_body) return err_set(e, ERR_PARSE, "collateral: no \"%s\" object", body_key);
  if (!have_sig) return err_set(e, ERR_PARSE, "collateral: %s: no signature", body_key);
  return 0;
}

/* ---- typed field access ------------------------------------------------------------------- */

static int get_hex(json_t *o, const char *key, uint8_t *out, size_t n, const char *doc, struct err *e) {
  json_t *v = json_object_get(o, key);
  const char *s = json_is_string(v) ? json_string_value(v) : NULL;
  if (!s || strlen(s) != 2 * n || util_unhex(s, 2 * n, out, n) != 0)
    return err_set(e, ERR_PARSE, "collateral: %s.%s is not %zu hex bytes", doc, key, n);
  return 0;
}

static int get_uint(json_t *o, const char *key, uint64_t max, uint64_t *out, const char *doc,
                    struct err *e) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
    return err_set(e, ERR_PARSE, "collateral: %s.%s is not an integer 0..%llu", doc, key,
                   (unsigned long long)max);
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

/* "YYYY-MM-DDTHH:MM:SSZ" (optionally with fractional seconds) -> Unix seconds. */
static int get_date(json_t *o, const char *key, int64_t *out, const char *doc, struct err *e) {
  json_t *v = json_object_get(o, key);
  const char *s = json_is_string(v) ? json_string_value(v) : NULL;
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  if (rest && *rest == '.') {
    rest++;
    while (*rest >= '0' && *rest <= '9') rest++;
  }
  if (!rest || strcmp(rest, "Z") != 0)
    return err_set(e, ERR_PARSE, "collateral: %s.%s is not a UTC date (YYYY-MM-DDTHH:MM:SSZ)", doc, key);
  *out = (int64_t)timegm(&tm);
  return 0;
}

static int get_status(json_t *o, enum attest_tcb_status *out, const char *doc, struct err *e) {
  json_t *v = json_object_get(o, "tcbStatus");
  if (!json_is_string(v) || attest_tcb_status_parse(json_string_value(v), out) != 0)
    return err_set(e, ERR_PARSE, "collateral: %s: unknown tcbStatus", doc);
  return 0;
}

static int get_svn_array(json_t *tcb, const char *key, uint8_t out[ATTEST_TCB_COMPONENTS],
                         const char *doc, struct err *e) {
  json_t *a = json_object_get(tcb, key);
  if (!json_is_array(a) || json_array_size(a) != ATTEST_TCB_COMPONENTS)
    return err_set(e, ERR_PARSE, "collateral: %s: %s is not an array of 16", doc, key);
  for (size_t i = 0; i < ATTEST_TCB_COMPONENTS; i++) {
    uint64_t svn = 0;
    if (get_uint(json_array_get(a, i), "svn", 255, &svn, doc, e) != 0) return -1;
    out[i] = (uint8_t)svn;
  }
  return 0;
}

static int get_isv_levels(json_t *o, struct attest_isv_level *lv, size_t *n, const char *doc,
                          struct err *e) {
  json_t *a = json_object_get(o, "tcbLevels");
  if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > ATTEST_TCB_LEVELS_MAX)
    return err_set(e, ERR_PARSE, "collateral: %s.tcbLevels is not an array of 1..%d", doc,
                   ATTEST_TCB_LEVELS_MAX);
  *n = json_array_size(a);
  for (size_t i = 0; i < *n; i++) {
    json_t *l = json_array_get(a, i);
    uint64_t svn = 0;
    if (get_uint(json_object_get(l, "tcb"), "isvsvn", 65535, &svn, doc, e) != 0 ||
        get_status(l, &lv[i].status, doc, e) != 0)
      return -1;
    lv[i].isvsvn = (uint16_t)svn;
  }
  return 0;
}

static int check_id(json_t *o, const char *want_id, uint64_t want_version, const char *doc,
                    struct err *e) {
  json_t *id = json_object_get(o, "id");
  uint64_t ver = 0;
  if (!json_is_string(id) || strcmp(json_string_value(id), want_id) != 0)
    return err_set(e, ERR_PARSE, "collateral: %s.id is not \"%s\"", doc, want_id);
  if (get_uint(o, "version", 1000, &ver, doc, e) != 0) return -1;
  if (ver != want_version)
    return err_set(e, ERR_PARSE, "collateral: %s version %llu is not supported (want %llu)", doc,
                   (unsigned long long)ver, (unsigned long long)want_version);
  return 0;
}

static json_t *load_body(const char *body, size_t len, const char *doc, struct err *e) {
  json_error_t je;
  json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
  if (!o || !json_is_object(o)) {
    json_decref(o);
    err_set(e, ERR_PARSE, "collateral: %s: %s", doc, o ? "not an object" : je.text);
    return NULL;
  }
  return o;
}

static int parse_module(json_t *m, struct attest_module_identity *mi, struct err *e) {
  const char *doc = "tdxModuleIdentities";
  json_t *id = json_object_get(m, "id");
  const char *s = json_is_string(id) ? json_string_value(id) : "";
  uint8_t major;
  if (strlen(s) != 6 || strncmp(s, "TDX_", 4) != 0 || util_unhex(s + 4, 2, &major, 1) != 0)
    return err_set(e, ERR_PARSE, "collateral: %s id is not TDX_XX", doc);
  mi->major = major;
  if (get_hex(m, "mrsigner", mi->mrsigner, ATTEST_MR_LEN, doc, e) != 0 ||
      get_hex(m, "attributes", mi->attributes, 8, doc, e) != 0 ||
      get_hex(m, "attributesMask", mi->attributes_mask, 8, doc, e) != 0)
    return -1;
  return get_isv_levels(m, mi->levels, &mi->n_levels, doc, e);
}

int attest_tcb_info_parse(const char *json, size_t len, struct attest_tcb_info *out, struct err *e) {
  const char *doc = "tcbInfo";
  memset(out, 0, sizeof(*out));
  if (split_signed(json, len, doc, &out->signed_part, &out->signed_len, out->signature, e) != 0)
    return -1;
  json_t *o = load_body(out->signed_part, out->signed_len, doc, e);
  if (!o) return -1;
  int rc = -1;
  uint64_t u = 0;
  if (check_id(o, "TDX", 3, doc, e) != 0 || get_date(o, "issueDate", &out->issue_date, doc, e) != 0 ||
      get_date(o, "nextUpdate", &out->next_update, doc, e) != 0 ||
      get_hex(o, "fmspc", out->fmspc, ATTEST_FMSPC_LEN, doc, e) != 0 ||
      get_hex(o, "pceId", out->pce_id, ATTEST_PCE_ID_LEN, doc, e) != 0 ||
      get_uint(o, "tcbEvaluationDataNumber", UINT32_MAX, &u, doc, e) != 0)
    goto out;
  out->eval_number = (uint32_t)u;
  json_t *mod = json_object_get(o, "tdxModule");
  if (mod) {
    if (get_hex(mod, "mrsigner", out->module_mrsigner, ATTEST_MR_LEN, "tdxModule", e) != 0 ||
        get_hex(mod, "attributes", out->module_attributes, 8, "tdxModule", e) != 0 ||
        get_hex(mod, "attributesMask", out->module_attributes_mask, 8, "tdxModule", e) != 0)
      goto out;
    out->has_module = 1;
  }
  json_t *mids = json_object_get(o, "tdxModuleIdentities");
  if (mids) {
    if (!json_is_array(mids) || json_array_size(mids) > ATTEST_MODULE_IDS_MAX) {
      err_set(e, ERR_PARSE, "collateral: tcbInfo.tdxModuleIdentities is not an array of 0..%d",
              ATTEST_MODULE_IDS_MAX);
      goto out;
    }
    out->n_modules = json_array_size(mids);
    for (size_t i = 0; i < out->n_modules; i++)
      if (parse_module(json_array_get(mids, i), &out->modules[i], e) != 0) goto out;
  }
  json_t *levels = json_object_get(o, "tcbLevels");
  if (!json_is_array(levels) || json_array_size(levels) == 0 ||
      json_array_size(levels) > ATTEST_TCB_LEVELS_MAX) {
    err_set(e, ERR_PARSE, "collateral: tcbInfo.tcbLevels is not an array of 1..%d", ATTEST_TCB_LEVELS_MAX);
    goto out;
  }
  out->n_levels = json_array_size(levels);
  for (size_t i = 0; i < out->n_levels; i++) {
    json_t *l = json_array_get(levels, i), *tcb = json_object_get(l, "tcb");
    struct attest_tcb_level *lv = &out->levels[i];
    if (!json_is_object(tcb)) {
      err_set(e, ERR_PARSE, "collateral: tcbInfo.tcbLevels[%zu] has no tcb object", i);
      goto out;
    }
    if (get_svn_array(tcb, "sgxtcbcomponents", lv->sgx_svn, doc, e) != 0 ||
        get_svn_array(tcb, "tdxtcbcomponents", lv->tdx_svn, doc, e) != 0 ||
        get_uint(tcb, "pcesvn", 65535, &u, doc, e) != 0 || get_status(l, &lv->status, doc, e) != 0 ||
        get_date(l, "tcbDate", &lv->tcb_date, doc, e) != 0)
      goto out;
    lv->pcesvn = (uint16_t)u;
  }
  rc = 0;
out:
  json_decref(o);
  return rc;
}

int attest_qe_identity_parse(const char *json, size_t len, struct attest_qe_identity *out,
                             struct err *e) {
  const char *doc = "enclaveIdentity";
  memset(out, 0, sizeof(*out));
  if (split_signed(json, len, doc, &out->signed_part, &out->signed_len, out->signature, e) != 0)
    return -1;
  json_t *o = load_body(out->signed_part, out->signed_len, doc, e);
  if (!o) return -1;
  int rc = -1;
  uint64_t u = 0;
  uint8_t b4[4];
  if (check_id(o, "TD_QE", 2, doc, e) != 0 || get_date(o, "issueDate", &out->issue_date, doc, e) != 0 ||
      get_date(o, "nextUpdate", &out->next_update, doc, e) != 0 ||
      get_uint(o, "tcbEvaluationDataNumber", UINT32_MAX, &u, doc, e) != 0)
    goto out;
  out->eval_number = (uint32_t)u;
  if (get_hex(o, "miscselect", b4, 4, doc, e) != 0) goto out;
  out->miscselect = (uint32_t)b4[0] << 24 | (uint32_t)b4[1] << 16 | (uint32_t)b4[2] << 8 | b4[3];
  if (get_hex(o, "miscselectMask", b4, 4, doc, e) != 0) goto out;
  out->miscselect_mask = (uint32_t)b4[0] << 24 | (uint32_t)b4[1] << 16 | (uint32_t)b4[2] << 8 | b4[3];
  if (get_hex(o, "attributes", out->attributes, 16, doc, e) != 0 ||
      get_hex(o, "attributesMask", out->attributes_mask, 16, doc, e) != 0 ||
      get_hex(o, "mrsigner", out->mrsigner, 32, doc, e) != 0 ||
      get_uint(o, "isvprodid", 65535, &u, doc, e) != 0)
    goto out;
  out->isvprodid = (uint16_t)u;
  if (get_isv_levels(o, out->levels, &out->n_levels, doc, e) != 0) goto out;
  rc = 0;
out:
  json_decref(o);
  return rc;
}

/* ---- evaluation ---------------------------------------------------------------------------- */

static int date_ok(int64_t issue, int64_t next, int64_t now, const char *doc, struct err *e) {
  char when[40];
  if (issue > now) {
    attest_pkix_fmt_time(issue, when, sizeof(when));
    return err_set(e, ERR_REFUSED, "collateral: %s issued in the future (%s)", doc, when);
  }
  if (next < now) {
    attest_pkix_fmt_time(next, when, sizeof(when));
    return err_set(e, ERR_REFUSED, "collateral: %s expired (next update was due %s)", doc, when);
  }
  return 0;
}

/* A CRL issued by `issuer`, current at now; *expires lowered to its nextUpdate. */
static int crl_load(const uint8_t *der, size_t len, X509 *issuer, const char *name, int64_t now,
                    X509_CRL **out, int64_t *expires, struct err *e) {
  const unsigned char *p = der;
  if (!der || len == 0 || len > ATTEST_COLLATERAL_JSON_MAX)
    return err_set(e, ERR_REFUSED, "collateral: %s missing or too large", name);
  X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
  if (!crl || p != der + len) {
    X509_CRL_free(crl);
    ERR_clear_error();
    return err_set(e, ERR_PARSE, "collateral: %s is not one DER CRL", name);
  }
  int64_t this_up, next_up;
  int rc = 0;
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0 ||
      X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1)
    rc = err_set(e, ERR_REFUSED, "collateral: %s is not signed by its issuer", name);
  else if (!X509_CRL_get0_nextUpdate(crl) ||
           attest_pkix_asn1_time(X509_CRL_get0_lastUpdate(crl), &this_up) != 0 ||
           attest_pkix_asn1_time(X509_CRL_get0_nextUpdate(crl), &next_up) != 0)
    rc = err_set(e, ERR_PARSE, "collateral: %s has unreadable dates", name);
  else
    rc = date_ok(this_up, next_up, now, name, e);
  ERR_clear_error();
  if (rc != 0) {
    X509_CRL_free(crl);
    return rc;
  }
  if (next_up < *expires) *expires = next_up;
  *out = crl;
  return 0;
}

static int revoked(X509_CRL *crl, X509 *cert) {
  X509_REVOKED *rv = NULL;
  int r = X509_CRL_get0_by_serial(crl, &rv, X509_get0_serialNumber(cert));
  ERR_clear_error();
  return r == 1;
}

static int ge_all(const uint8_t *have, const uint8_t *need, size_t from, size_t n) {
  for (size_t i = from; i < n; i++)
    if (have[i] < need[i]) return 0;
  return 1;
}

static int masked_eq(const uint8_t *a, const uint8_t *b, const uint8_t *mask, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((a[i] & mask[i]) != (b[i] & mask[i])) return 0;
  return 1;
}

/* QE or TDX module OutOfDate/Revoked lowers the platform's status (Intel's convergence). */
static enum attest_tcb_status converge(enum attest_tcb_status platform, enum attest_tcb_status other) {
  if (other == ATTEST_TCB_REVOKED || platform == ATTEST_TCB_REVOKED) return ATTEST_TCB_REVOKED;
  if (other == ATTEST_TCB_OUT_OF_DATE) {
    if (platform == ATTEST_TCB_UP_TO_DATE || platform == ATTEST_TCB_SW_HARDENING_NEEDED)
      return ATTEST_TCB_OUT_OF_DATE;
    if (platform == ATTEST_TCB_CONFIGURATION_NEEDED ||
        platform == ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
      return ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
  }
  return platform;
}

static enum attest_tcb_status isv_status(const struct attest_isv_level *lv, size_t n, uint16_t svn,
                                         int *found) {
  for (size_t i = 0; i < n; i++)
    if (svn >= lv[i].isvsvn) {
      *found = 1;
      return lv[i].status;
    }
  *found = 0;
  return ATTEST_TCB_NOT_EVALUATED;
}

int attest_collateral_evaluate(const struct attest_quote *q, X509 **certs, int n,
                               const struct attest_collateral *c,
                               const uint8_t root_key[ATTEST_ECDSA_KEY_LEN], int64_t now,
                               struct attest_collateral_result *r, struct err *e) {
  memset(r, 0, sizeof(*r));
  r->expires = INT64_MAX;
  if (!q || !c || n < 2)
    return err_set(e, ERR_INVALID, "collateral: needs the quote and its PCK leaf and CA");
  struct attest_tcb_info *ti = calloc(1, sizeof(*ti));
  struct attest_qe_identity *qi = calloc(1, sizeof(*qi));
  X509 *sign_chain[ATTEST_PCK_CHAIN_MAX] = {0};
  X509_CRL *root_crl = NULL, *pck_crl = NULL;
  X509 *root = NULL;
  int ns = 0, rc = -1;
  char why[200];
  struct attest_pck_info pck;
  if (!ti || !qi) {
    err_set(e, ERR_NOMEM, "collateral: out of memory");
    goto out;
  }
  if (!c->tcb_info_json || !c->qe_identity_json || !c->tcb_signing_chain_pem) {
    err_set(e, ERR_INVALID, "collateral: TCB info, QE identity and TCB signing chain are required");
    goto out;
  }
  if (attest_pck_info_from_cert(certs[0], &pck, e) != 0 ||
      attest_tcb_info_parse(c->tcb_info_json, c->tcb_info_len, ti, e) != 0 ||
      attest_qe_identity_parse(c->qe_identity_json, c->qe_identity_len, qi, e) != 0)
    goto out;

  /* The TCB signing certificate chains to the same pinned root and is current. */
  ns = attest_pkix_read_pem((const uint8_t *)c->tcb_signing_chain_pem, c->tcb_signing_chain_len,
                            sign_chain, ATTEST_PCK_CHAIN_MAX, why, sizeof(why));
  if (ns < 0) {
    err_set(e, ERR_PARSE, "collateral: TCB signing chain: %s", why);
    goto out;
  }
  if (attest_pkix_verify_path(sign_chain, ns, root_key, why, sizeof(why)) != 0 ||
      attest_pkix_check_dates(sign_chain, ns, now, NULL, NULL, why, sizeof(why)) != 0) {
    err_set(e, ERR_REFUSED, "collateral: TCB signing chain: %s", why);
    goto out;
  }
  for (int i = 0; i < ns && !root; i++) {
    uint8_t xy[ATTEST_ECDSA_KEY_LEN];
    if (attest_pkix_p256_raw_of(X509_get0_pubkey(sign_chain[i]), xy) == 0 &&
        memcmp(xy, root_key, sizeof(xy)) == 0)
      root = sign_chain[i];
  }
  if (!root) {
    err_set(e, ERR_REFUSED, "collateral: TCB signing chain does not include the root");
    goto out;
  }
  EVP_PKEY *signer = X509_get0_pubkey(sign_chain[0]);
  if (!attest_pkix_ecdsa_verify_raw(signer, (const uint8_t *)ti->signed_part, ti->signed_len,
                                    ti->signature)) {
    err_set(e, ERR_REFUSED, "collateral: TCB info signature does not verify");
    goto out;
  }
  if (!attest_pkix_ecdsa_verify_raw(signer, (const uint8_t *)qi->signed_part, qi->signed_len,
                                    qi->signature)) {
    err_set(e, ERR_REFUSED, "collateral: QE identity signature does not verify");
    goto out;
  }
  if (date_ok(ti->issue_date, ti->next_update, now, "TCB info", e) != 0 ||
      date_ok(qi->issue_date, qi->next_update, now, "QE identity", e) != 0)
    goto out;
  r->expires = ti->next_update < qi->next_update ? ti->next_update : qi->next_update;
  r->eval_number = ti->eval_number < qi->eval_number ? ti->eval_number : qi->eval_number;

  /* Revocation: root CA CRL (PCK CA, TCB signing cert) and PCK CRL (the PCK leaf). */
  if (crl_load(c->root_ca_crl_der, c->root_ca_crl_len, root, "root CA CRL", now, &root_crl,
               &r->expires, e) != 0 ||
      crl_load(c->pck_crl_der, c->pck_crl_len, certs[1], "PCK CRL", now, &pck_crl, &r->expires, e) != 0)
    goto out;
  int pck_revoked = revoked(root_crl, certs[1]) || revoked(root_crl, sign_chain[0]) ||
                    revoked(pck_crl, certs[0]);

  if (memcmp(ti->fmspc, pck.fmspc, ATTEST_FMSPC_LEN) != 0) {
    err_set(e, ERR_REFUSED, "collateral: TCB info is for another FMSPC than the PCK certificate's");
    goto out;
  }
  if (memcmp(ti->pce_id, pck.pce_id, ATTEST_PCE_ID_LEN) != 0) {
    err_set(e, ERR_REFUSED, "collateral: TCB info is for another PCE id than the PCK certificate's");
    goto out;
  }

  /* QE identity. */
  const struct attest_qe_report *qe = &q->qe_report;
  uint8_t mask_all[16];
  memset(mask_all, 0xff, sizeof(mask_all));
  if (memcmp(qe->mrsigner, qi->mrsigner, 32) != 0 || qe->isv_prod_id != qi->isvprodid ||
      (qe->miscselect & qi->miscselect_mask) != (qi->miscselect & qi->miscselect_mask) ||
      !masked_eq(qe->attributes, qi->attributes, qi->attributes_mask, 16)) {
    err_set(e, ERR_REFUSED, "collateral: the quoting enclave does not match the QE identity");
    goto out;
  }
  int found;
  r->qe_status = isv_status(qi->levels, qi->n_levels, qe->isv_svn, &found);
  if (!found) {
    err_set(e, ERR_REFUSED, "collateral: QE ISVSVN %u is below every QE identity level", qe->isv_svn);
    goto out;
  }

  /* TDX module: major version 0 uses tdxModule; others the matching module identity, whose
   * ISVSVN is TEE_TCB_SVN[0], and then TEE_TCB_SVN[0..1] are not compared again below. */
  const struct attest_td_report *td = &q->td;
  size_t tdx_from = 0;
  r->module_status = ATTEST_TCB_UP_TO_DATE;
  if (td->tee_tcb_svn[1] > 0 && ti->n_modules > 0) {
    const struct attest_module_identity *mi = NULL;
    for (size_t i = 0; i < ti->n_modules && !mi; i++)
      if (ti->modules[i].major == td->tee_tcb_svn[1]) mi = &ti->modules[i];
    if (!mi) {
      err_set(e, ERR_REFUSED, "collateral: no TDX module identity TDX_%02X", td->tee_tcb_svn[1]);
      goto out;
    }
    if (memcmp(mi->mrsigner, td->mrsignerseam, ATTEST_MR_LEN) != 0 ||
        !masked_eq(td->seam_attributes, mi->attributes, mi->attributes_mask, 8)) {
      err_set(e, ERR_REFUSED, "collateral: the TDX module does not match its identity");
      goto out;
    }
    r->module_status = isv_status(mi->levels, mi->n_levels, td->tee_tcb_svn[0], &found);
    if (!found) {
      err_set(e, ERR_REFUSED, "collateral: TDX module SVN %u is below every level", td->tee_tcb_svn[0]);
      goto out;
    }
    tdx_from = 2;
  } else if (ti->has_module) {
    if (memcmp(ti->module_mrsigner, td->mrsignerseam, ATTEST_MR_LEN) != 0 ||
        !masked_eq(td->seam_attributes, ti->module_attributes, ti->module_attributes_mask, 8)) {
      err_set(e, ERR_REFUSED, "collateral: the TDX module does not match the TCB info");
      goto out;
    }
  }

  /* Platform level. */
  const struct attest_tcb_level *lv = NULL;
  for (size_t i = 0; i < ti->n_levels && !lv; i++) {
    const struct attest_tcb_level *l = &ti->levels[i];
    if (ge_all(pck.comp_svn, l->sgx_svn, 0, ATTEST_TCB_COMPONENTS) && pck.pcesvn >= l->pcesvn &&
        ge_all(td->tee_tcb_svn, l->tdx_svn, tdx_from, ATTEST_TCB_COMPONENTS))
      lv = l;
  }
  if (!lv) {
    err_set(e, ERR_REFUSED, "collateral: the platform's TCB is below every level of the TCB info");
    goto out;
  }
  r->platform_status = lv->status;
  r->tcb_date = lv->tcb_date;
  r->status = converge(converge(lv->status, r->qe_status), r->module_status);
  if (pck_revoked) r->status = ATTEST_TCB_REVOKED;
  rc = 0;
out:
  for (int i = 0; i < ns; i++) X509_free(sign_chain[i]);
  X509_CRL_free(root_crl);
  X509_CRL_free(pck_crl);
  free(ti);
  free(qi);
  ERR_clear_error();
  return rc;
}

/* ---- collateral on disk -------------------------------------------------------------------- */

static int read_small_file(const char *dir, const char *name, char **out, size_t *len, struct err *e) {
  char path[4096];
  if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
    return err_set(e, ERR_INVALID, "collateral: path too long");
  FILE *f = fopen(path, "rb");
  if (!f) return err_set(e, ERR_IO, "collateral: cannot open %s", path);
  char *buf = malloc(ATTEST_COLLATERAL_JSON_MAX + 1);
  if (!buf) {
    fclose(f);
    return err_set(e, ERR_NOMEM, "collateral: out of memory");
  }
  size_t n = fread(buf, 1, ATTEST_COLLATERAL_JSON_MAX + 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad || n > ATTEST_COLLATERAL_JSON_MAX || n == 0) {
    free(buf);
    return err_set(e, bad ? ERR_IO : ERR_LIMIT, "collateral: %s is %s", path,
                   bad ? "unreadable" : n == 0 ? "empty" : "too large");
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

static int is_hex_text(const uint8_t *p, size_t n) {
  size_t digits = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t ch = p[i];
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'))
      digits++;
    else if (ch != '\n' && ch != '\r' && ch != ' ')
      return 0;
  }
  return digits > 0 && digits % 2 == 0;
}

int attest_crl_to_der(const uint8_t *in, size_t len, uint8_t **der, size_t *der_len, struct err *e) {
  *der = NULL;
  *der_len = 0;
  if (len > ATTEST_COLLATERAL_JSON_MAX) return err_set(e, ERR_LIMIT, "collateral: CRL too large");
  static const char pem_tag[] = "-----BEGIN X509 CRL-----";
  if (len >= sizeof(pem_tag) - 1 && memcmp(in, pem_tag, sizeof(pem_tag) - 1) == 0) {
    BIO *b = BIO_new_mem_buf(in, (int)len);
    X509_CRL *crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    unsigned char *out = NULL;
    int n = crl ? i2d_X509_CRL(crl, &out) : -1;
    X509_CRL_free(crl);
    ERR_clear_error();
    if (n <= 0) return err_set(e, ERR_PARSE, "collateral: PEM CRL does not decode");
    *der = malloc((size_t)n);
    if (!*der) {
      OPENSSL_free(out);
      return err_set(e, ERR_NOMEM, "collateral: out of memory");
    }
    memcpy(*der, out, (size_t)n);
    OPENSSL_free(out);
    *der_len = (size_t)n;
    return 0;
  }
  if (is_hex_text(in, len)) {
    uint8_t *out = malloc(len / 2 + 1);
    size_t n = 0;
    if (!out) return err_set(e, ERR_NOMEM, "collateral: out of memory");
    for (size_t i = 0; i < len;) {
      if (in[i] == '\n' || in[i] == '\r' || in[i] == ' ') {
        i++;
        continue;
      }
      if (i + 1 >= len || util_unhex((const char *)in + i, 2, out + n, 1) != 0) {
        free(out);
        return err_set(e, ERR_PARSE, "collateral: CRL hex text is malformed");
      }
      n++;
      i += 2;
    }
    *der = out;
    *der_len = n;
    return 0;
  }
  *der = malloc(len ? len : 1);
  if (!*der) return err_set(e, ERR_NOMEM, "collateral: out of memory");
  memcpy(*der, in, len);
  *der_len = len;
  return 0;
}

void attest_collateral_files_free(struct attest_collateral_files *f) {
  if (!f) return;
  for (size_t i = 0; i < sizeof(f->bufs) / sizeof(f->bufs[0]); i++) free(f->bufs[i]);
  memset(f, 0, sizeof(*f));
}

int attest_collateral_load_dir(const char *dir, struct attest_collateral_files *out, struct err *e) {
  return attest_collateral_load_for(dir, NULL, out, e);
}

int attest_quote_pck_info(const struct attest_quote *q, struct attest_pck_info *out, struct err *e) {
  X509 *certs[ATTEST_PCK_CHAIN_MAX] = {0};
  char why[200];
  int n = attest_pkix_read_pem(q->pck_chain_pem, q->pck_chain_len, certs, ATTEST_PCK_CHAIN_MAX, why,
                               sizeof(why));
  if (n < 1) return err_set(e, ERR_PARSE, "collateral: PCK chain: %s", why);
  int rc = attest_pck_info_from_cert(certs[0], out, e);
  for (int i = 0; i < n; i++) X509_free(certs[i]);
  return rc;
}

int attest_collateral_load_for(const char *dir, const uint8_t *fmspc, struct attest_collateral_files *out,
                               struct err *e) {
  memset(out, 0, sizeof(*out));
  char tcb_name[64] = ATTEST_COLLATERAL_TCB_INFO;
  if (fmspc) {
    char hex[2 * ATTEST_FMSPC_LEN + 1], path[4200];
    util_hex(fmspc, ATTEST_FMSPC_LEN, hex);
    snprintf(tcb_name, sizeof(tcb_name), "tcb_info_%s.json", hex);
    snprintf(path, sizeof(path), "%s/%s", dir, tcb_name);
    if (access(path, F_OK) != 0) snprintf(tcb_name, sizeof(tcb_name), "%s", ATTEST_COLLATERAL_TCB_INFO);
  }
  char *raw[2] = {NULL, NULL};
  size_t rl[2] = {0, 0};
  struct attest_collateral *c = &out->c;
  if (read_small_file(dir, tcb_name, &out->bufs[0], &c->tcb_info_len, e) != 0 ||
      read_small_file(dir, ATTEST_COLLATERAL_QE_IDENTITY, &out->bufs[1], &c->qe_identity_len, e) != 0 ||
      read_small_file(dir, ATTEST_COLLATERAL_SIGNING_CHAIN, &out->bufs[2], &c->tcb_signing_chain_len, e) != 0 ||
      read_small_file(dir, ATTEST_COLLATERAL_ROOT_CRL, &raw[0], &rl[0], e) != 0 ||
      read_small_file(dir, ATTEST_COLLATERAL_PCK_CRL, &raw[1], &rl[1], e) != 0)
    goto fail;
  uint8_t *der;
  size_t dl;
  if (attest_crl_to_der((const uint8_t *)raw[0], rl[0], &der, &dl, e) != 0) goto fail;
  out->bufs[3] = (char *)der;
  c->root_ca_crl_der = der;
  c->root_ca_crl_len = dl;
  if (attest_crl_to_der((const uint8_t *)raw[1], rl[1], &der, &dl, e) != 0) goto fail;
  out->bufs[4] = (char *)der;
  c->pck_crl_der = der;
  c->pck_crl_len = dl;
  c->tcb_info_json = out->bufs[0];
  c->qe_identity_json = out->bufs[1];
  c->tcb_signing_chain_pem = out->bufs[2];
  free(raw[0]);
  free(raw[1]);
  return 0;
fail:
  free(raw[0]);
  free(raw[1]);
  attest_collateral_files_free(out);
  return e ? e->code : ERR_IO;
}

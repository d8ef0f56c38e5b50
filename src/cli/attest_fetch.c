/* attest_fetch: `cocoon attest fetch-collateral`: TDX collateral from a PCCS or Intel PCS. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/attest_fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/x509v3.h>

#include "attest/collateral.h"
#include "attest/pck.h"
#include "attest/pkix.h"
#include "attest/quote.h"
#include "base/util.h"

struct body {
  char *p;
  size_t n;
  int too_big;
};

struct response {
  struct body body;
  const char *want_header; /* issuer-chain header to capture */
  char *header;            /* its value, URL-decoded */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
  struct body *b = arg;
  size_t n = size * nmemb;
  if (b->n + n > ATTEST_COLLATERAL_JSON_MAX) {
    b->too_big = 1;
    return 0;
  }
  char *np = realloc(b->p, b->n + n + 1);
  if (!np) return 0;
  memcpy(np + b->n, data, n);
  b->p = np;
  b->n += n;
  b->p[b->n] = '\0';
  return n;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static char *url_decode(const char *s, size_t n) {
  char *out = malloc(n + 1);
  size_t o = 0;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out[o++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return out;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg) {
  struct response *r = arg;
  size_t n = size * nmemb, k = r->want_header ? strlen(r->want_header) : 0;
  if (k && n > k + 1 && strncasecmp(data, r->want_header, k) == 0 && data[k] == ':' && !r->header) {
    const char *v = data + k + 1;
    size_t vl = n - k - 1;
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
    r->header = url_decode(v, vl);
  }
  return n;
}

/* GET url; 200 only. Returns 0 or -1 with the reason printed. */
static int get(const char *url, struct response *r) {
  CURL *c = curl_easy_init();
  if (!c) {
    fprintf(stderr, "cocoon attest fetch-collateral: out of memory\n");
    return -1;
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode cc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  if (r->body.too_big) {
    fprintf(stderr, "cocoon attest fetch-collateral: %s: answer larger than %d bytes\n", url,
            ATTEST_COLLATERAL_JSON_MAX);
    return -1;
  }
  if (cc != CURLE_OK) {
    fprintf(stderr, "cocoon attest fetch-collateral: %s: %s\n", url, curl_easy_strerror(cc));
    return -1;
  }
  if (status != 200) {
    fprintf(stderr, "cocoon attest fetch-collateral: %s: HTTP %ld\n", url, status);
    return -1;
  }
  if (r->body.n == 0) {
    fprintf(stderr, "cocoon attest fetch-collateral: %s: empty answer\n", url);
    return -1;
  }
  return 0;
}

static void response_free(struct response *r) {
  free(r->body.p);
  free(r->header);
}

/* Writes dir/name atomically (temporary file, fsync, rename). */
static int write_file(const char *dir, const char *name, const void *p, size_t n) {
  char path[4096], tmp[4200];
  if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
      snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
    fprintf(stderr, "cocoon attest fetch-collateral: path too long\n");
    return -1;
  }
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(p, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (f && fclose(f) != 0) ok = 0;
  if (!ok || rename(tmp, path) != 0) {
    fprintf(stderr, "cocoon attest fetch-collateral: cannot write %s: %s\n", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* The root certificate's first CRL distribution point URI, if any (malloc'd). */
static char *crl_dp(X509 *cert) {
  STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
  char *out = NULL;
  for (int i = 0; dps && i < sk_DIST_POINT_num(dps) && !out; i++) {
    DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
    if (!dp->distpoint || dp->distpoint->type != 0) continue;
    GENERAL_NAMES *names = dp->distpoint->name.fullname;
    for (int j = 0; j < sk_GENERAL_NAME_num(names) && !out; j++) {
      GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, j);
      if (gn->type != GEN_URI) continue;
      const ASN1_IA5STRING *u = gn->d.uniformResourceIdentifier;
      out = strndup((const char *)ASN1_STRING_get0_data(u), (size_t)ASN1_STRING_length(u));
    }
  }
  CRL_DIST_POINTS_free(dps);
  return out;
}

/* Downloads the four documents for fmspc into out; root_dp is the root CRL's fallback URL. */
static int fetch(const char *base, const uint8_t fm[ATTEST_FMSPC_LEN], const char *ca,
                 const char *root_dp, const char *out) {
  struct response r[4];
  struct err e = {0};
  int rc = 1;
  char fmspc[2 * ATTEST_FMSPC_LEN + 1], url[1024];
  memset(r, 0, sizeof(r));
  util_hex(fm, ATTEST_FMSPC_LEN, fmspc);
  if (mkdir(out, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "cocoon attest fetch-collateral: cannot create %s: %s\n", out, strerror(errno));
    goto done;
  }
  size_t bl = strlen(base);
  while (bl && base[bl - 1] == '/') bl--;
  r[0].want_header = "TCB-Info-Issuer-Chain";
  snprintf(url, sizeof(url), "%.*s/tdx/certification/v4/tcb?fmspc=%s", (int)bl, base, fmspc);
  if (get(url, &r[0]) != 0) goto done;
  snprintf(url, sizeof(url), "%.*s/tdx/certification/v4/qe/identity", (int)bl, base);
  if (get(url, &r[1]) != 0) goto done;
  snprintf(url, sizeof(url), "%.*s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", (int)bl, base, ca);
  if (get(url, &r[2]) != 0) goto done;
  /* A PCCS serves the root CA CRL; Intel's PCS does not, its root names where it lives. */
  snprintf(url, sizeof(url), "%.*s/sgx/certification/v4/rootcacrl", (int)bl, base);
  if (get(url, &r[3]) != 0) {
    if (!root_dp) goto done;
    fprintf(stderr, "cocoon attest fetch-collateral: trying the root's CRL distribution point\n");
    free(r[3].body.p);
    memset(&r[3], 0, sizeof(r[3]));
    if (get(root_dp, &r[3]) != 0) goto done;
  }
  if (!r[0].header) {
    fprintf(stderr, "cocoon attest fetch-collateral: the TCB info answer has no "
                    "TCB-Info-Issuer-Chain header\n");
    goto done;
  }
  uint8_t *der[2] = {NULL, NULL};
  size_t dl[2];
  if (attest_crl_to_der((const uint8_t *)r[2].body.p, r[2].body.n, &der[0], &dl[0], &e) != 0 ||
      attest_crl_to_der((const uint8_t *)r[3].body.p, r[3].body.n, &der[1], &dl[1], &e) != 0) {
    fprintf(stderr, "cocoon attest fetch-collateral: %s\n", e.msg);
    free(der[0]);
    goto done;
  }
  char per_fmspc[64];
  snprintf(per_fmspc, sizeof(per_fmspc), "tcb_info_%s.json", fmspc);
  int w = write_file(out, per_fmspc, r[0].body.p, r[0].body.n) == 0 &&
          write_file(out, ATTEST_COLLATERAL_TCB_INFO, r[0].body.p, r[0].body.n) == 0 &&
          write_file(out, ATTEST_COLLATERAL_SIGNING_CHAIN, r[0].header, strlen(r[0].header)) == 0 &&
          write_file(out, ATTEST_COLLATERAL_QE_IDENTITY, r[1].body.p, r[1].body.n) == 0 &&
          write_file(out, ATTEST_COLLATERAL_PCK_CRL, der[0], dl[0]) == 0 &&
          write_file(out, ATTEST_COLLATERAL_ROOT_CRL, der[1], dl[1]) == 0;
  free(der[0]);
  free(der[1]);
  if (!w) goto done;
  printf("fmspc: %s\npck_ca: %s\ncollateral: %s\n", fmspc, ca, out);
  rc = 0;
done:
  for (int i = 0; i < 4; i++) response_free(&r[i]);
  return rc;
}

static const char fetch_usage[] =
    "usage: cocoon attest fetch-collateral --pccs URL (--quote FILE | --fmspc HEX [--ca "
    "platform|processor]) --out DIR\n";

int attest_fetch_main(int argc, char **argv) {
  const char *base = NULL, *quote_path = NULL, *out = NULL, *fmspc_arg = NULL, *ca_arg = NULL;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--pccs") == 0 && i + 1 < argc) base = argv[++i];
    else if (strcmp(argv[i], "--quote") == 0 && i + 1 < argc) quote_path = argv[++i];
    else if (strcmp(argv[i], "--fmspc") == 0 && i + 1 < argc) fmspc_arg = argv[++i];
    else if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc) ca_arg = argv[++i];
    else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
    else {
      fputs(fetch_usage, stderr);
      return 2;
    }
  }
  if (!base || !out || !!quote_path == !!fmspc_arg) {
    fputs(fetch_usage, stderr);
    return 2;
  }
  if (fmspc_arg) {
    uint8_t fm[ATTEST_FMSPC_LEN];
    if (strlen(fmspc_arg) != 2 * ATTEST_FMSPC_LEN ||
        util_unhex(fmspc_arg, strlen(fmspc_arg), fm, sizeof(fm)) != 0) {
      fprintf(stderr, "cocoon attest fetch-collateral: --fmspc wants 12 hex digits\n");
      return 2;
    }
    if (ca_arg && strcmp(ca_arg, "platform") != 0 && strcmp(ca_arg, "processor") != 0) {
      fprintf(stderr, "cocoon attest fetch-collateral: --ca is platform or processor\n");
      return 2;
    }
    return fetch(base, fm, ca_arg ? ca_arg : "platform", NULL, out);
  }
  static uint8_t data[ATTEST_QUOTE_MAX];
  FILE *f = fopen(quote_path, "rb");
  if (!f) {
    fprintf(stderr, "cocoon attest fetch-collateral: cannot open %s: %s\n", quote_path, strerror(errno));
    return 1;
  }
  size_t len = fread(data, 1, sizeof(data), f);
  fclose(f);
  struct attest_quote q;
  struct err e = {0};
  if (attest_quote_parse(data, len, &q, &e) != 0) {
    fprintf(stderr, "cocoon attest fetch-collateral: %s\n", e.msg);
    return 1;
  }
  X509 *certs[ATTEST_PCK_CHAIN_MAX] = {0};
  char why[200];
  int n = attest_pkix_read_pem(q.pck_chain_pem, q.pck_chain_len, certs, ATTEST_PCK_CHAIN_MAX, why,
                               sizeof(why));
  if (n < 2) {
    fprintf(stderr, "cocoon attest fetch-collateral: PCK chain: %s\n", n < 0 ? why : "too short");
    for (int i = 0; i < n; i++) X509_free(certs[i]);
    return 1;
  }
  struct attest_pck_info pck;
  int rc = 1;
  char *root_dp = NULL;
  if (attest_pck_info_from_cert(certs[0], &pck, &e) != 0) {
    fprintf(stderr, "cocoon attest fetch-collateral: %s\n", e.msg);
    goto done;
  }
  char cn[96];
  attest_pkix_cn(certs[1], cn, sizeof(cn));
  root_dp = crl_dp(certs[n - 1]);
  rc = fetch(base, pck.fmspc, strstr(cn, "Processor") ? "processor" : "platform", root_dp, out);
done:
  free(root_dp);
  for (int i = 0; i < n; i++) X509_free(certs[i]);
  return rc;
}

/* test_net: PoW, framing, tcp.* packets, RA-TLS certificates and loopback packet connections. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "loop/loop.h"
#include "net/conn.h"
#include "net/frame.h"
#include "net/pow.h"
#include "net/ratls.h"
#include "net/tcp_packet.h"
#include "net/tls.h"

/* ------------------------------------------------------------------ pow */

static void test_pow_leading_zero_bits(void **state) {
  (void)state;
  uint8_t h[32] = {0};
  assert_int_equal(pow_leading_zero_bits(h), 64);
  h[7] = 0x80; /* byte 7 is the most significant */
  assert_int_equal(pow_leading_zero_bits(h), 0);
  h[7] = 0x01;
  assert_int_equal(pow_leading_zero_bits(h), 7);
  memset(h, 0, sizeof(h));
  h[0] = 0x01;
  assert_int_equal(pow_leading_zero_bits(h), 63);
  memset(h, 0, sizeof(h));
  h[6] = 0x10;
  h[0] = 0xff;
  assert_int_equal(pow_leading_zero_bits(h), 11);
  memset(h, 0, sizeof(h));
  h[8] = 0xff; /* bytes past the first 8 do not count */
  assert_int_equal(pow_leading_zero_bits(h), 64);
}

static void test_pow_vector(void **state) {
  (void)state;
  struct pow_challenge c;
  for (int i = 0; i < 16; i++) c.salt[i] = (uint8_t)i;
  /* SHA256(00..0f || 64 1b 00 00 00 00 00 00) = 7e7aa796bce60400...: as a LE u64 the first 8
   * bytes are 0x0004e6bc96a77a7e, i.e. 13 leading zero bits (a big-endian reading gives 1). */
  uint8_t msg[24], h[32];
  memcpy(msg, c.salt, 16);
  int64_t nonce = 7012;
  for (int i = 0; i < 8; i++) msg[16 + i] = (uint8_t)((uint64_t)nonce >> (8 * i));
  unsigned int hl = 0;
  assert_int_equal(EVP_Digest(msg, sizeof(msg), h, &hl, EVP_sha256(), NULL), 1);
  const uint8_t want[8] = {0x7e, 0x7a, 0xa7, 0x96, 0xbc, 0xe6, 0x04, 0x00};
  assert_memory_equal(h, want, 8);
  assert_int_equal(pow_leading_zero_bits(h), 13);
  c.difficulty = 13;
  assert_true(pow_check(&c, nonce));
  c.difficulty = 14;
  assert_false(pow_check(&c, nonce));
  c.difficulty = 0;
  assert_true(pow_check(&c, 1));
  /* 7012 is the first nonce from 0 with >= 12 bits. */
  c.difficulty = 12;
  int64_t n = 0;
  assert_int_equal(pow_solve(&c, &n, 100), ERR_AGAIN);
  assert_int_equal(n, 100);
  n = 0;
  assert_int_equal(pow_solve(&c, &n, 100000), 0);
  assert_int_equal(n, 7012);
  /* A random challenge solved and checked. */
  struct pow_challenge r;
  pow_challenge_make(&r, 10);
  n = 0;
  assert_int_equal(pow_solve(&r, &n, 1u << 24), 0);
  assert_true(pow_check(&r, n));
}

static void test_pow_wire(void **state) {
  (void)state;
  struct pow_challenge c = {.difficulty = 20};
  for (int i = 0; i < 16; i++) c.salt[i] = (uint8_t)(0xa0 + i);
  uint8_t b[POW_CHALLENGE_SIZE];
  pow_challenge_encode(&c, b);
  const uint8_t head[8] = {0x91, 0x12, 0x8e, 0x41, 20, 0, 0, 0};
  assert_memory_equal(b, head, 8);
  assert_memory_equal(b + 8, c.salt, 16);
  struct pow_challenge p;
  struct err e = {0};
  assert_int_equal(pow_challenge_parse(b, sizeof(b), 28, &p, &e), 0);
  assert_int_equal(p.difficulty, 20);
  assert_memory_equal(p.salt, c.salt, 16);
  /* Difficulty above the client's max is refused. */
  assert_int_equal(pow_challenge_parse(b, sizeof(b), 19, &p, &e), ERR_REFUSED);
  /* Bad magic, bad size, negative difficulty. */
  b[0] ^= 1;
  assert_int_equal(pow_challenge_parse(b, sizeof(b), 28, &p, &e), ERR_PROTO);
  b[0] ^= 1;
  assert_int_equal(pow_challenge_parse(b, sizeof(b) - 1, 28, &p, &e), ERR_PROTO);
  b[4] = 0xff, b[5] = 0xff, b[6] = 0xff, b[7] = 0xff;
  assert_int_equal(pow_challenge_parse(b, sizeof(b), 28, &p, &e), ERR_PROTO);

  uint8_t a[POW_ANSWER_SIZE];
  pow_answer_encode(0x0102030405060708, a);
  const uint8_t wa[12] = {0x19, 0x73, 0x82, 0x01, 8, 7, 6, 5, 4, 3, 2, 1};
  assert_memory_equal(a, wa, 12);
  int64_t nonce = 0;
  assert_int_equal(pow_answer_parse(a, sizeof(a), &nonce, &e), 0);
  assert_int_equal(nonce, 0x0102030405060708);
  a[3] = 0;
  assert_int_equal(pow_answer_parse(a, sizeof(a), &nonce, &e), ERR_PROTO);
  assert_int_equal(pow_answer_parse(a, 11, &nonce, &e), ERR_PROTO);
}

/* ------------------------------------------------------------------ frame */

static void test_frame_encode(void **state) {
  (void)state;
  struct frame_encoder enc;
  frame_encoder_init(&enc, 0);
  struct buf b;
  buf_init(&b, 0);
  assert_int_equal(frame_encode(&enc, &b, "abcd", 4), 0);
  assert_int_equal(frame_encode(&enc, &b, "efghi", 5), 0);
  const uint8_t want[] = {4, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c', 'd',
                          5, 0, 0, 0, 1, 0, 0, 0, 'e', 'f', 'g', 'h', 'i'};
  assert_int_equal(b.len, sizeof(want));
  assert_memory_equal(buf_ptr(&b), want, sizeof(want));
  /* Too small / too large payloads are refused and append nothing. */
  assert_int_equal(frame_encode(&enc, &b, "abc", 3), ERR_LIMIT);
  struct frame_encoder small;
  frame_encoder_init(&small, 8);
  assert_int_equal(frame_encode(&small, &b, "123456789", 9), ERR_LIMIT);
  assert_int_equal(b.len, sizeof(want));
  /* Zero-copy form, including the rollback. */
  size_t mark;
  assert_int_equal(frame_begin(&b, &mark), 0);
  assert_int_equal(buf_append(&b, "xy", 2), 0);
  assert_int_equal(frame_finish(&enc, &b, mark, 0), ERR_LIMIT);
  assert_int_equal(b.len, sizeof(want));
  assert_int_equal(frame_begin(&b, &mark), 0);
  assert_int_equal(buf_append(&b, "wxyz", 4), 0);
  assert_int_equal(frame_finish(&enc, &b, mark, 0), 0);
  const uint8_t third[] = {4, 0, 0, 0, 2, 0, 0, 0, 'w', 'x', 'y', 'z'};
  assert_memory_equal(buf_ptr(&b) + sizeof(want), third, sizeof(third));
  buf_free(&b);
}

static void test_frame_decode_splits(void **state) {
  (void)state;
  struct frame_encoder enc;
  frame_encoder_init(&enc, 0);
  struct buf s;
  buf_init(&s, 0);
  const char *payloads[] = {"abcd", "0123456789", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"};
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(frame_encode(&enc, &s, payloads[i], strlen(payloads[i])), 0);
  /* Feed the stream in two pieces split at every position, then byte by byte. */
  for (size_t split = 0; split <= s.len + 1; split++) {
    struct frame_decoder d;
    frame_decoder_init(&d, 0);
    struct buf in;
    buf_init(&in, 0);
    size_t fed = 0, got = 0;
    while (fed < s.len) {
      size_t step = split <= s.len ? (fed < split ? split - fed : s.len - fed) : 1;
      assert_int_equal(buf_append(&in, buf_ptr(&s) + fed, step), 0);
      fed += step;
      for (;;) {
        struct frame f;
        size_t used;
        struct err e = {0};
        int r = frame_decode(&d, buf_ptr(&in), in.len, &f, &used, &e);
        assert_true(r >= 0);
        if (r == 0) break;
        assert_int_equal(f.seqno, (int32_t)got);
        assert_int_equal(f.len, strlen(payloads[got]));
        assert_memory_equal(f.payload, payloads[got], f.len);
        buf_consume(&in, used);
        got++;
      }
    }
    assert_int_equal(got, 3);
    assert_int_equal(in.len, 0);
    buf_free(&in);
  }
  buf_free(&s);
}

static void test_frame_decode_errors(void **state) {
  (void)state;
  struct frame_decoder d;
  struct frame f;
  size_t used;
  struct err e = {0};
  /* seqno must start at 0 */
  const uint8_t bad_seq[] = {4, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4};
  frame_decoder_init(&d, 0);
  assert_int_equal(frame_decode(&d, bad_seq, sizeof(bad_seq), &f, &used, &e), ERR_PROTO);
  /* and go up by one */
  const uint8_t two[] = {4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
  frame_decoder_init(&d, 0);
  assert_int_equal(frame_decode(&d, two, sizeof(two), &f, &used, &e), 1);
  assert_int_equal(used, 12);
  assert_int_equal(frame_decode(&d, two + 12, 12, &f, &used, &e), ERR_PROTO);
  /* too small: rejected as soon as the length is in */
  const uint8_t small[] = {3, 0, 0, 0};
  frame_decoder_init(&d, 0);
  assert_int_equal(frame_decode(&d, small, sizeof(small), &f, &used, &e), ERR_PROTO);
  const uint8_t zero[] = {0, 0, 0, 0};
  assert_int_equal(frame_decode(&d, zero, sizeof(zero), &f, &used, &e), ERR_PROTO);
  /* 2^24 is the largest allowed; one more is refused before any payload arrives */
  const uint8_t max[] = {0, 0, 0, 1, 0, 0, 0, 0};
  assert_int_equal(frame_decode(&d, max, sizeof(max), &f, &used, &e), 0);
  const uint8_t over[] = {1, 0, 0, 1};
  assert_int_equal(frame_decode(&d, over, sizeof(over), &f, &used, &e), ERR_LIMIT);
  const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff};
  assert_int_equal(frame_decode(&d, huge, sizeof(huge), &f, &used, &e), ERR_LIMIT);
  /* configured maximum */
  frame_decoder_init(&d, 100);
  const uint8_t o101[] = {101, 0, 0, 0};
  assert_int_equal(frame_decode(&d, o101, sizeof(o101), &f, &used, &e), ERR_LIMIT);
  const uint8_t o100[] = {100, 0, 0, 0};
  assert_int_equal(frame_decode(&d, o100, sizeof(o100), &f, &used, &e), 0);
  /* fewer than 4 bytes: just wait */
  assert_int_equal(frame_decode(&d, o100, 3, &f, &used, &e), 0);
}

/* ------------------------------------------------------------------ tcp packets */

static void check_encoding(const struct tcp_packet *p, const uint8_t *want, size_t n) {
  struct buf b;
  buf_init(&b, 0);
  assert_int_equal(tcp_packet_encode(&b, p), 0);
  assert_int_equal(b.len, n);
  assert_memory_equal(buf_ptr(&b), want, n);
  struct tcp_packet d;
  assert_int_equal(tcp_packet_decode(buf_ptr(&b), b.len, &d), 0);
  assert_int_equal(d.kind, p->kind);
  assert_int_equal(d.id, p->id);
  assert_int_equal(d.code, p->code);
  assert_int_equal(d.data_len, p->data_len);
  if (p->data_len) assert_memory_equal(d.data, p->data, p->data_len);
  assert_int_equal(d.message_len, p->message_len);
  if (p->message_len) assert_memory_equal(d.message, p->message, p->message_len);
  /* trailing bytes and truncation are refused */
  assert_int_equal(buf_append(&b, "\0\0\0\0", 4), 0);
  assert_int_equal(tcp_packet_decode(buf_ptr(&b), b.len, &d), ERR_PARSE);
  for (size_t cut = 0; cut < n; cut++)
    assert_int_equal(tcp_packet_decode(buf_ptr(&b), cut, &d), ERR_PARSE);
  buf_free(&b);
}

static void test_tcp_packet_bytes(void **state) {
  (void)state;
  const int64_t id = 0x0102030405060708;
  {
    struct tcp_packet p = {.kind = TCP_PING, .id = id};
    const uint8_t w[] = {0x7c, 0x62, 0xe9, 0xbb, 8, 7, 6, 5, 4, 3, 2, 1};
    check_encoding(&p, w, sizeof(w));
  }
  {
    struct tcp_packet p = {.kind = TCP_PONG, .id = id};
    const uint8_t w[] = {0x2c, 0x30, 0xd4, 0x0b, 8, 7, 6, 5, 4, 3, 2, 1};
    check_encoding(&p, w, sizeof(w));
  }
  {
    struct tcp_packet p = {.kind = TCP_CONNECT, .id = id};
    const uint8_t w[] = {0x61, 0x42, 0x7c, 0xa5, 8, 7, 6, 5, 4, 3, 2, 1};
    check_encoding(&p, w, sizeof(w));
  }
  {
    struct tcp_packet p = {.kind = TCP_CONNECTED, .id = id};
    const uint8_t w[] = {0xd6, 0x41, 0x6d, 0x63, 8, 7, 6, 5, 4, 3, 2, 1};
    check_encoding(&p, w, sizeof(w));
  }
  {
    struct tcp_packet p = {.kind = TCP_PACKET, .data = (const uint8_t *)"hi", .data_len = 2};
    const uint8_t w[] = {0xf8, 0xba, 0x17, 0x9c, 2, 'h', 'i', 0};
    check_encoding(&p, w, sizeof(w));
  }
  {
    struct tcp_packet p = {.kind = TCP_QUERY, .id = id, .data = (const uint8_t *)"abc", .data_len = 3};
    const uint8_t w[] = {0x08, 0x19, 0xf5, 0x3a, 8, 7, 6, 5, 4, 3, 2, 1, 3, 'a', 'b', 'c'};
    check_encoding(&p, w, sizeof(w));
  }
  {
    struct tcp_packet p = {.kind = TCP_QUERY_ANSWER, .id = id, .data = NULL, .data_len = 0};
    const uint8_t w[] = {0x11, 0xc3, 0x48, 0xc0, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0};
    check_encoding(&p, w, sizeof(w));
  }
  {
    struct tcp_packet p = {.kind = TCP_QUERY_ERROR, .id = id, .code = 500, .message = "no",
                           .message_len = 2};
    const uint8_t w[] = {0x02, 0xf6, 0xd2, 0x4c, 8, 7, 6, 5, 4, 3, 2, 1,
                         0xf4, 1, 0, 0, 2, 'n', 'o', 0};
    check_encoding(&p, w, sizeof(w));
  }
  /* a long data field uses the 0xfe length form */
  {
    uint8_t big[300];
    memset(big, 0x5a, sizeof(big));
    struct tcp_packet p = {.kind = TCP_PACKET, .data = big, .data_len = sizeof(big)};
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(tcp_packet_encode(&b, &p), 0);
    assert_int_equal(b.len, 4 + 4 + 300);
    const uint8_t hdr[] = {0xf8, 0xba, 0x17, 0x9c, 0xfe, 0x2c, 0x01, 0x00};
    assert_memory_equal(buf_ptr(&b), hdr, sizeof(hdr));
    struct tcp_packet d;
    assert_int_equal(tcp_packet_decode(buf_ptr(&b), b.len, &d), 0);
    assert_int_equal(d.data_len, 300);
    buf_free(&b);
  }
  /* unknown constructor */
  const uint8_t unk[] = {1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0};
  struct tcp_packet d;
  assert_int_equal(tcp_packet_decode(unk, sizeof(unk), &d), ERR_PARSE);
  assert_int_equal(tcp_packet_decode(unk, 0, &d), ERR_PARSE);
}

/* ------------------------------------------------------------------ RA-TLS certificates */

static X509 *pem_roundtrip(const struct ratls_identity *id) {
  struct buf pem;
  buf_init(&pem, 0);
  assert_int_equal(ratls_identity_cert_pem(id, &pem), 0);
  BIO *bio = BIO_new_mem_buf(buf_ptr(&pem), (int)pem.len);
  X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
  buf_free(&pem);
  assert_non_null(x);
  return x;
}

static X509_EXTENSION *ext_by_oid(X509 *x, const char *oid) {
  ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
  int pos = X509_get_ext_by_OBJ(x, o, -1);
  ASN1_OBJECT_free(o);
  return pos < 0 ? NULL : X509_get_ext(x, pos);
}

static void test_ratls_cert_layout(void **state) {
  (void)state;
  const uint8_t quote[] = "not really a quote";
  struct ratls_cert_opts o = {.quote = quote, .quote_len = sizeof(quote), .user_claims = 1};
  struct ratls_identity *id = NULL;
  struct err e = {0};
  assert_int_equal(ratls_identity_generate(&o, &id, &e), 0);
  X509 *x = pem_roundtrip(id);

  assert_int_equal(X509_get_version(x), 2); /* v3 */
  BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
  assert_true(BN_num_bits(serial) <= 128 && BN_num_bits(serial) > 64);
  BN_free(serial);
  EVP_PKEY *key = X509_get0_pubkey(x);
  assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_ED25519);
  int days = -1, secs = -1;
  assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
  assert_int_equal(days * 86400 + secs, 86400);
  assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) <= 0);

  char name[256];
  X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
  assert_string_equal(name, "/C=AE/ST=DUBAI/O=TDLib Development/OU=Security/CN=localhost");
  assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);

  const int critical_nids[] = {NID_basic_constraints, NID_key_usage, NID_ext_key_usage};
  for (size_t i = 0; i < 3; i++) {
    int pos = X509_get_ext_by_NID(x, critical_nids[i], -1);
    assert_true(pos >= 0);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, pos)), 1);
  }
  assert_int_equal(X509_get_extension_flags(x) & EXFLAG_CA, 0);
  assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
  assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
  assert_non_null(X509_get0_subject_key_id(x));

  GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  assert_non_null(san);
  assert_int_equal(sk_GENERAL_NAME_num(san), 3);
  const GENERAL_NAME *g0 = sk_GENERAL_NAME_value(san, 0), *g1 = sk_GENERAL_NAME_value(san, 1),
                     *g2 = sk_GENERAL_NAME_value(san, 2);
  assert_int_equal(g0->type, GEN_DNS);
  assert_string_equal((const char *)ASN1_STRING_get0_data(g0->d.dNSName), "localhost");
  assert_int_equal(g1->type, GEN_DNS);
  assert_string_equal((const char *)ASN1_STRING_get0_data(g1->d.dNSName), "127.0.0.1");
  assert_int_equal(g2->type, GEN_IPADD);
  const uint8_t v6one[16] = {[15] = 1};
  assert_int_equal(ASN1_STRING_length(g2->d.iPAddress), 16);
  assert_memory_equal(ASN1_STRING_get0_data(g2->d.iPAddress), v6one, 16);
  GENERAL_NAMES_free(san);

  X509_EXTENSION *q = ext_by_oid(x, RATLS_OID_QUOTE), *uc = ext_by_oid(x, RATLS_OID_USER_CLAIMS);
  assert_non_null(q);
  assert_non_null(uc);
  assert_int_equal(X509_EXTENSION_get_critical(q), 1);
  assert_int_equal(X509_EXTENSION_get_critical(uc), 1);
  assert_int_equal(ASN1_STRING_length(X509_EXTENSION_get_data(q)), sizeof(quote));
  assert_memory_equal(ASN1_STRING_get0_data(X509_EXTENSION_get_data(q)), quote, sizeof(quote));
  assert_int_equal(ASN1_STRING_length(X509_EXTENSION_get_data(uc)), 32);
  assert_memory_equal(ASN1_STRING_get0_data(X509_EXTENSION_get_data(uc)),
                      ratls_identity_public_key(id), 32);

  /* OpenSSL's verification through our callback accepts it, and reports the key. */
  struct ratls_result res;
  assert_int_equal(ratls_verify_x509(x, ratls_policy_any(), &res), 0);
  assert_int_equal(res.ok, 1);
  assert_string_equal(res.policy_name, "any");
  assert_memory_equal(res.peer.public_key, ratls_identity_public_key(id), 32);
  assert_int_equal(res.peer.quote_len, sizeof(quote));
  assert_null(res.peer.quote);

  X509_free(x);
  ratls_identity_free(id);

  /* Without the optional extensions. */
  assert_int_equal(ratls_identity_generate(NULL, &id, &e), 0);
  assert_null(ext_by_oid(ratls_identity_cert(id), RATLS_OID_QUOTE));
  assert_null(ext_by_oid(ratls_identity_cert(id), RATLS_OID_USER_CLAIMS));
  assert_int_equal(ratls_verify_x509(ratls_identity_cert(id), ratls_policy_any(), &res), 0);
  ratls_identity_free(id);

  /* A fixed seed gives a fixed key; an oversized quote is refused. */
  uint8_t seed[32] = {1, 2, 3};
  struct ratls_identity *a = NULL, *b = NULL;
  struct ratls_cert_opts so = {.seed = seed};
  assert_int_equal(ratls_identity_generate(&so, &a, &e), 0);
  assert_int_equal(ratls_identity_generate(&so, &b, &e), 0);
  assert_memory_equal(ratls_identity_public_key(a), ratls_identity_public_key(b), 32);
  ratls_identity_free(a);
  ratls_identity_free(b);
  static uint8_t bigq[RATLS_MAX_EXT_SIZE + 1];
  struct ratls_cert_opts bo = {.quote = bigq, .quote_len = sizeof(bigq)};
  assert_int_equal(ratls_identity_generate(&bo, &a, &e), ERR_LIMIT);
  assert_null(a);
}

/* A self-signed certificate with an arbitrary key, for the negative cases. */
static X509 *make_cert(EVP_PKEY *key, const char *extra_oid, int extra_critical) {
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
  X509_set_issuer_name(x, n);
  if (extra_oid) {
    ASN1_OBJECT *o = OBJ_txt2obj(extra_oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(os, (const unsigned char *)"x", 1);
    X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, o, extra_critical, os);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(o);
  }
  int is_ed = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
  assert_true(X509_sign(x, key, is_ed ? NULL : EVP_sha256()) > 0);
  return x;
}

static int g_policy_calls;
static int refuse_validate(struct ratls_policy *p, struct ratls_peer *peer, struct err *e) {
  (void)peer;
  g_policy_calls++;
  return err_set(e, ERR_REFUSED, "%s says no", p->name);
}

static void test_ratls_verify_rejects(void **state) {
  (void)state;
  struct ratls_result res;
  struct ratls_peer peer;
  struct err e = {0};

  /* Not Ed25519. */
  EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  assert_non_null(ec);
  X509 *x = make_cert(ec, NULL, 0);
  assert_int_not_equal(ratls_verify_cert(x, ratls_policy_any(), &peer, &e), 0);
  assert_non_null(strstr(e.msg, "Ed25519"));
  assert_int_not_equal(ratls_verify_x509(x, ratls_policy_any(), &res), 0);
  assert_int_equal(res.ok, 0);
  assert_non_null(strstr(res.err.msg, "Ed25519"));
  X509_free(x);
  EVP_PKEY_free(ec);

  EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  /* Unknown critical extension. */
  x = make_cert(ed, "1.3.6.1.4.1.99999.1", 1);
  assert_int_not_equal(ratls_verify_x509(x, ratls_policy_any(), &res), 0);
  assert_non_null(strstr(res.err.msg, "1.3.6.1.4.1.99999.1"));
  X509_free(x);
  /* The same extension, not critical: fine. */
  x = make_cert(ed, "1.3.6.1.4.1.99999.1", 0);
  assert_int_equal(ratls_verify_x509(x, ratls_policy_any(), &res), 0);
  X509_free(x);
  /* Our OIDs, critical, are accepted even on a minimal cert. */
  x = make_cert(ed, RATLS_OID_QUOTE, 1);
  assert_int_equal(ratls_verify_x509(x, ratls_policy_any(), &res), 0);
  assert_int_equal(res.peer.quote_len, 1);
  /* A policy's refusal is final and its message kept. */
  struct ratls_policy no = {.name = "no", .validate_cb = refuse_validate};
  g_policy_calls = 0;
  assert_int_not_equal(ratls_verify_x509(x, &no, &res), 0);
  assert_int_equal(g_policy_calls, 1);
  assert_int_equal(res.ok, 0);
  assert_non_null(strstr(res.err.msg, "no says no"));
  X509_free(x);
  /* COCOON's certificates are X.509 v1 (its tdx.cpp never sets the version) yet carry the
   * critical extensions; its gen-cert and router sent such certificates in the interop run
   * (docs/interop.md). They must pass, whatever OpenSSL's strict mode would say. */
  x = make_cert(ed, RATLS_OID_QUOTE, 1);
  assert_int_equal(X509_set_version(x, 0), 1);
  assert_true(X509_sign(x, ed, NULL) > 0);
  assert_int_equal(X509_get_version(x), 0);
  assert_int_equal(ratls_verify_x509(x, ratls_policy_any(), &res), 0);
  assert_int_equal(res.peer.quote_len, 1);
  X509_free(x);
  EVP_PKEY_free(ed);

  /* Expired certificates are refused by OpenSSL's checks. */
  struct ratls_cert_opts old = {.not_before = (int64_t)util_wall_time() - 3 * 86400};
  struct ratls_identity *id = NULL;
  assert_int_equal(ratls_identity_generate(&old, &id, &e), 0);
  assert_int_not_equal(ratls_verify_x509(ratls_identity_cert(id), ratls_policy_any(), &res), 0);
  assert_non_null(strstr(res.err.msg, "expired"));
  ratls_identity_free(id);

  /* A tampered signature is refused. */
  assert_int_equal(ratls_identity_generate(NULL, &id, &e), 0);
  X509 *t = X509_dup(ratls_identity_cert(id));
  const ASN1_BIT_STRING *sig = NULL;
  X509_get0_signature(&sig, NULL, t);
  ((ASN1_BIT_STRING *)sig)->data[0] ^= 1;
  assert_int_not_equal(ratls_verify_cert(t, ratls_policy_any(), &peer, &e), 0);
  X509_free(t);
  ratls_identity_free(id);
}

static void test_ratls_save_load(void **state) {
  (void)state;
  char dir[] = "/tmp/cocoon-net-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char cert[128], key[128];
  snprintf(cert, sizeof(cert), "%s/x_cert.pem", dir);
  snprintf(key, sizeof(key), "%s/x_key.pem", dir);
  struct ratls_identity *id = NULL, *back = NULL, *other = NULL;
  struct err e = {0};
  assert_int_equal(ratls_identity_generate(NULL, &id, &e), 0);
  assert_int_equal(ratls_identity_save(id, cert, key, &e), 0);
  struct stat st;
  assert_int_equal(stat(key, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(ratls_identity_load(cert, key, &back, &e), 0);
  assert_memory_equal(ratls_identity_public_key(id), ratls_identity_public_key(back), 32);
  assert_int_equal(X509_cmp(ratls_identity_cert(id), ratls_identity_cert(back)), 0);
  /* A key that does not match the certificate is refused. */
  assert_int_equal(ratls_identity_generate(NULL, &other, &e), 0);
  char key2[128], cert2[128];
  snprintf(key2, sizeof(key2), "%s/y_key.pem", dir);
  snprintf(cert2, sizeof(cert2), "%s/y_cert.pem", dir);
  assert_int_equal(ratls_identity_save(other, cert2, key2, &e), 0);
  struct ratls_identity *mixed = NULL;
  assert_int_not_equal(ratls_identity_load(cert, key2, &mixed, &e), 0);
  assert_null(mixed);
  assert_int_not_equal(ratls_identity_load("/nonexistent/c.pem", key, &mixed, &e), 0);
  ratls_identity_free(id);
  ratls_identity_free(back);
  ratls_identity_free(other);
  unlink(cert);
  unlink(key);
  unlink(cert2);
  unlink(key2);
  rmdir(dir);
}

/* ------------------------------------------------------------------ loopback connections */

struct side {
  struct net_conn *conn;
  int ready, closed, close_code;
  char reason[256];
  int packets;
  size_t bytes;
  char last[64];
  int drains;
};

struct env {
  struct loop *sl, *cl; /* server and client loops: one thread, pumped in turn */
  struct ratls_identity *sid, *cid;
  struct tls_ctx *sctx, *cctx;
  struct net_listener *lst;
  struct side srv, cli;
  int pump_server; /* 0: leave the server loop idle (it stops reading) */
  /* query results */
  int answers;
  enum net_answer_kind kinds[8];
  int32_t codes[8];
  char texts[8][64];
};

static struct env *env_of(struct net_conn *c) { return net_conn_user(c); }
static struct side *side_of(struct net_conn *c) {
  struct env *v = env_of(c);
  return net_conn_is_outbound(c) ? &v->cli : &v->srv;
}

static void on_ready(struct net_conn *c) {
  struct side *s = side_of(c);
  s->conn = c;
  s->ready = 1;
}

static void on_packet(struct net_conn *c, const uint8_t *d, size_t n) {
  struct side *s = side_of(c);
  s->packets++;
  s->bytes += n;
  size_t k = CC_MIN(n, sizeof(s->last) - 1);
  memcpy(s->last, d, k);
  s->last[k] = 0;
}

static void on_query(struct net_conn *c, int64_t qid, const uint8_t *d, size_t n) {
  if (n == 4 && memcmp(d, "fail", 4) == 0) {
    assert_int_equal(net_conn_answer_error(c, qid, 42, "nope"), 0);
  } else if (n == 6 && memcmp(d, "silent", 6) == 0) {
    /* never answered */
  } else {
    char out[80];
    int k = snprintf(out, sizeof(out), "echo:%.*s", (int)CC_MIN(n, (size_t)60), (const char *)d);
    assert_int_equal(net_conn_answer(c, qid, out, (size_t)k), 0);
  }
}

static void on_drain(struct net_conn *c) { side_of(c)->drains++; }

static void on_close(struct net_conn *c, int code, const char *reason) {
  struct side *s = side_of(c);
  assert_int_equal(s->closed, 0); /* exactly once */
  s->closed = 1;
  s->close_code = code;
  snprintf(s->reason, sizeof(s->reason), "%s", reason);
  s->conn = NULL;
}

static const struct net_conn_handler g_handler = {
    .ready_cb = on_ready,
    .packet_cb = on_packet,
    .query_cb = on_query,
    .drain_cb = on_drain,
    .close_cb = on_close,
};

static void on_answer(struct net_conn *c, void *arg, const struct net_answer *a) {
  (void)c;
  struct env *v = arg;
  assert_true(v->answers < 8);
  int i = v->answers++;
  v->kinds[i] = a->kind;
  v->codes[i] = a->code;
  if (a->kind == NET_ANSWER_OK)
    snprintf(v->texts[i], sizeof(v->texts[i]), "%.*s", (int)CC_MIN(a->len, (size_t)60),
             (const char *)a->data);
  else
    snprintf(v->texts[i], sizeof(v->texts[i]), "%s", a->message);
}

static void pump(struct env *v, int ms) {
  if (v->pump_server) assert_int_equal(loop_run_once(v->sl, 0), 0);
  assert_int_equal(loop_run_once(v->cl, ms), 0);
  if (v->pump_server) assert_int_equal(loop_run_once(v->sl, 0), 0);
}

/* Runs both loops until *flag is set or timeout_ms passed; returns whether it got set. */
static int run_until(struct env *v, const int *flag, int timeout_ms) {
  uint64_t end = util_mono_ms() + (uint64_t)timeout_ms;
  while (!*flag && util_mono_ms() < end) pump(v, 1);
  return *flag;
}

static void run_for(struct env *v, int ms) {
  uint64_t end = util_mono_ms() + (uint64_t)ms;
  while (util_mono_ms() < end) pump(v, 1);
}

static void env_setup(struct env *v, const struct net_conn_opts *so, const struct net_conn_opts *co) {
  memset(v, 0, sizeof(*v));
  v->pump_server = 1;
  struct err e = {0};
  assert_int_equal(loop_new(&v->sl), 0);
  assert_int_equal(loop_new(&v->cl), 0);
  assert_int_equal(ratls_identity_generate(NULL, &v->sid, &e), 0);
  assert_int_equal(ratls_identity_generate(NULL, &v->cid, &e), 0);
  assert_int_equal(tls_ctx_new(TLS_SERVER, v->sid, ratls_policy_any(), &v->sctx, &e), 0);
  assert_int_equal(tls_ctx_new(TLS_CLIENT, v->cid, ratls_policy_any(), &v->cctx, &e), 0);
  assert_int_equal(net_listener_new(v->sl, v->sctx, "127.0.0.1", 0, so, &g_handler, v, &v->lst, &e), 0);
  assert_true(net_listener_port(v->lst) > 0);
}

static void env_connect(struct env *v, const struct net_conn_opts *co) {
  struct err e = {0};
  assert_int_equal(net_conn_connect(v->cl, v->cctx, "127.0.0.1", net_listener_port(v->lst), co,
                                    &g_handler, v, &v->cli.conn, &e),
                   0);
}

static void env_teardown(struct env *v) {
  if (v->cli.conn) net_conn_close(v->cli.conn, "test over");
  if (v->srv.conn) net_conn_close(v->srv.conn, "test over");
  net_listener_free(v->lst);
  v->pump_server = 1;
  for (int i = 0; i < 5; i++) pump(v, 0);
  tls_ctx_unref(v->sctx);
  tls_ctx_unref(v->cctx);
  ratls_identity_free(v->sid);
  ratls_identity_free(v->cid);
  loop_free(v->sl);
  loop_free(v->cl);
}

static void test_opts(struct net_conn_opts *o, int32_t difficulty) {
  net_conn_opts_init(o);
  o->pow_difficulty = difficulty;
}

static void both_ready(struct env *v) {
  assert_true(run_until(v, &v->cli.ready, 5000));
  assert_true(run_until(v, &v->srv.ready, 5000));
}

static void test_conn_ready_packets_queries(void **state) {
  (void)state;
  struct env v;
  struct net_conn_opts so, co;
  test_opts(&so, 8);
  test_opts(&co, 8);
  env_setup(&v, &so, &co);
  env_connect(&v, &co);
  both_ready(&v);
  /* Peer identities as seen by each side. */
  assert_memory_equal(net_conn_peer_key(v.cli.conn), ratls_identity_public_key(v.sid), 32);
  assert_memory_equal(net_conn_peer_key(v.srv.conn), ratls_identity_public_key(v.cid), 32);
  assert_string_equal(net_conn_peer(v.cli.conn)->policy_name, "any");
  assert_int_equal(net_conn_peer(v.srv.conn)->ok, 1);
  assert_true(strncmp(net_conn_remote(v.srv.conn), "127.0.0.1:", 10) == 0);
  assert_true(net_conn_is_ready(v.cli.conn));

  /* packets both ways, in order */
  assert_int_equal(net_conn_send_packet(v.cli.conn, "hello", 5), 0);
  assert_true(run_until(&v, &v.srv.packets, 2000));
  assert_string_equal(v.srv.last, "hello");
  assert_int_equal(net_conn_send_packet(v.srv.conn, "world", 5), 0);
  assert_true(run_until(&v, &v.cli.packets, 2000));
  assert_string_equal(v.cli.last, "world");
  for (int i = 0; i < 200; i++) {
    char m[16];
    int k = snprintf(m, sizeof(m), "m%d", i);
    assert_int_equal(net_conn_send_packet(v.cli.conn, m, (size_t)k), 0);
  }
  uint64_t end = util_mono_ms() + 3000;
  while (v.srv.packets < 201 && util_mono_ms() < end) pump(&v, 1);
  assert_int_equal(v.srv.packets, 201);
  assert_string_equal(v.srv.last, "m199");
  /* an empty packet is legal too (the frame still holds the constructor) */
  assert_int_equal(net_conn_send_packet(v.cli.conn, NULL, 0), 0);
  end = util_mono_ms() + 2000;
  while (v.srv.packets < 202 && util_mono_ms() < end) pump(&v, 1);
  assert_int_equal(v.srv.packets, 202);

  /* queries: answered, answered with an error, timed out, and cancelled */
  int64_t qid = 0;
  assert_int_equal(net_conn_query(v.cli.conn, "ping?", 5, 2000, on_answer, &v, &qid), 0);
  assert_int_equal(net_conn_query(v.cli.conn, "fail", 4, 2000, on_answer, &v, NULL), 0);
  end = util_mono_ms() + 3000;
  while (v.answers < 2 && util_mono_ms() < end) pump(&v, 1);
  assert_int_equal(v.answers, 2);
  assert_int_equal(v.kinds[0], NET_ANSWER_OK);
  assert_string_equal(v.texts[0], "echo:ping?");
  assert_int_equal(v.kinds[1], NET_ANSWER_ERROR);
  assert_int_equal(v.codes[1], 42);
  assert_string_equal(v.texts[1], "nope");
  assert_int_equal(net_conn_query_cancel(v.cli.conn, qid), ERR_NOTFOUND);

  assert_int_equal(net_conn_query(v.cli.conn, "silent", 6, 100, on_answer, &v, NULL), 0);
  assert_int_equal(net_conn_query(v.cli.conn, "silent", 6, 100, on_answer, &v, &qid), 0);
  assert_int_equal(net_conn_query_cancel(v.cli.conn, qid), 0);
  run_for(&v, 300);
  assert_int_equal(v.answers, 3);
  assert_int_equal(v.kinds[2], NET_ANSWER_TIMEOUT);
  assert_int_equal(v.codes[2], ERR_TIMEOUT);
  assert_true(net_conn_is_ready(v.cli.conn));

  /* a query pending at close gets NET_ANSWER_CLOSED; the peer's close reaches the client */
  assert_int_equal(net_conn_query(v.cli.conn, "silent", 6, 5000, on_answer, &v, NULL), 0);
  run_for(&v, 20);
  net_conn_close(v.srv.conn, "server done");
  assert_true(run_until(&v, &v.cli.closed, 2000));
  assert_int_equal(v.srv.closed, 1);
  assert_int_equal(v.srv.close_code, 0);
  assert_int_equal(v.cli.close_code, ERR_CLOSED);
  assert_int_equal(v.answers, 4);
  assert_int_equal(v.kinds[3], NET_ANSWER_CLOSED);
  env_teardown(&v);
}

static void test_conn_ping_and_idle(void **state) {
  (void)state;
  struct env v;
  struct net_conn_opts so, co;
  /* Pings every 50 ms keep both sides (idle cutoff 300 ms) alive. */
  test_opts(&so, 8);
  so.idle_timeout_ms = 300;
  test_opts(&co, 8);
  co.idle_timeout_ms = 300;
  co.ping_interval_ms = 50;
  env_setup(&v, &so, &co);
  env_connect(&v, &co);
  both_ready(&v);
  run_for(&v, 1000);
  assert_int_equal(v.cli.closed, 0);
  assert_int_equal(v.srv.closed, 0);
  assert_true(net_conn_is_ready(v.cli.conn));
  env_teardown(&v);

  /* Without pings the client's idle cutoff closes it; the server sees the close. */
  test_opts(&so, 8);
  test_opts(&co, 8);
  co.idle_timeout_ms = 200;
  co.ping_interval_ms = 10000;
  env_setup(&v, &so, &co);
  env_connect(&v, &co);
  both_ready(&v);
  uint64_t t0 = util_mono_ms();
  assert_true(run_until(&v, &v.cli.closed, 2000));
  assert_true(util_mono_ms() - t0 >= 150);
  assert_int_equal(v.cli.close_code, ERR_TIMEOUT);
  assert_non_null(strstr(v.cli.reason, "idle"));
  assert_true(run_until(&v, &v.srv.closed, 2000));
  assert_int_equal(v.srv.close_code, ERR_CLOSED);
  env_teardown(&v);

  /* The inbound side's cutoff works the same way. */
  test_opts(&so, 8);
  so.idle_timeout_ms = 200;
  test_opts(&co, 8);
  co.ping_interval_ms = 10000;
  env_setup(&v, &so, &co);
  env_connect(&v, &co);
  both_ready(&v);
  assert_true(run_until(&v, &v.srv.closed, 2000));
  assert_int_equal(v.srv.close_code, ERR_TIMEOUT);
  assert_true(run_until(&v, &v.cli.closed, 2000));
  env_teardown(&v);
}

static void test_conn_oversized_frame(void **state) {
  (void)state;
  struct env v;
  struct net_conn_opts so, co;
  test_opts(&so, 8);
  so.max_frame = 1024;
  test_opts(&co, 8);
  env_setup(&v, &so, &co);
  env_connect(&v, &co);
  both_ready(&v);
  static uint8_t big[2000];
  /* The server itself refuses to send beyond its own maximum. */
  assert_int_equal(net_conn_send_packet(v.srv.conn, big, sizeof(big)), ERR_LIMIT);
  assert_int_equal(net_conn_send_packet(v.cli.conn, big, sizeof(big)), 0);
  assert_true(run_until(&v, &v.srv.closed, 2000));
  assert_int_equal(v.srv.close_code, ERR_LIMIT);
  assert_non_null(strstr(v.srv.reason, "too big"));
  assert_int_equal(v.srv.packets, 0);
  assert_true(run_until(&v, &v.cli.closed, 2000));
  env_teardown(&v);
}

static void test_conn_pow_failures(void **state) {
  (void)state;
  struct env v;
  struct net_conn_opts so, co;
  /* Difficulty above the client's maximum: the client gives up. */
  test_opts(&so, 12);
  test_opts(&co, 8);
  co.pow_max_difficulty = 10;
  env_setup(&v, &so, &co);
  env_connect(&v, &co);
  assert_true(run_until(&v, &v.cli.closed, 3000));
  assert_int_equal(v.cli.close_code, ERR_REFUSED);
  assert_int_equal(v.srv.ready, 0);
  assert_int_equal(v.srv.closed, 0); /* never surfaced on the server */
  env_teardown(&v);

  /* A wrong answer: the server closes the socket. */
  test_opts(&so, 16);
  env_setup(&v, &so, NULL);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)net_listener_port(v.lst))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  for (int i = 0; i < 20; i++) pump(&v, 1);
  uint8_t ch[POW_CHALLENGE_SIZE];
  assert_int_equal(recv(fd, ch, sizeof(ch), MSG_WAITALL), (ssize_t)sizeof(ch));
  struct pow_challenge c;
  struct err e = {0};
  assert_int_equal(pow_challenge_parse(ch, sizeof(ch), 28, &c, &e), 0);
  assert_int_equal(c.difficulty, 16);
  int64_t bad = 0;
  while (pow_check(&c, bad)) bad++;
  uint8_t ans[POW_ANSWER_SIZE];
  pow_answer_encode(bad, ans);
  assert_int_equal(send(fd, ans, sizeof(ans), 0), (ssize_t)sizeof(ans));
  for (int i = 0; i < 50; i++) pump(&v, 1);
  uint8_t tmp[16];
  assert_true(recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT) <= 0);
  close(fd);
  env_teardown(&v);

  /* Connection refused reaches close_cb. */
  test_opts(&so, 8);
  env_setup(&v, &so, NULL);
  int port = net_listener_port(v.lst);
  net_listener_free(v.lst);
  v.lst = NULL;
  for (int i = 0; i < 3; i++) pump(&v, 0);
  assert_int_equal(net_conn_connect(v.cl, v.cctx, "127.0.0.1", port, NULL, &g_handler, &v,
                                    &v.cli.conn, &e),
                   0);
  assert_true(run_until(&v, &v.cli.closed, 2000));
  assert_int_equal(v.cli.close_code, ERR_CLOSED);
  env_teardown(&v);

  /* Bad arguments fail synchronously. */
  struct net_conn *nc = NULL;
  test_opts(&so, 8);
  env_setup(&v, &so, NULL);
  assert_int_equal(net_conn_connect(v.cl, v.cctx, "not-an-ip", 1, NULL, &g_handler, &v, &nc, &e),
                   ERR_INVALID);
  assert_int_equal(net_conn_connect(v.cl, v.sctx, "127.0.0.1", 1, NULL, &g_handler, &v, &nc, &e),
                   ERR_INVALID);
  assert_null(nc);
  env_teardown(&v);
}

static void test_conn_backpressure(void **state) {
  (void)state;
  struct env v;
  struct net_conn_opts so, co;
  test_opts(&so, 8);
  test_opts(&co, 8);
  co.max_frame = 64 << 10;
  co.write_high_water = 256 << 10;
  co.write_hard_cap = 1 << 20;
  env_setup(&v, &so, &co);
  env_connect(&v, &co);
  both_ready(&v);
  /* The server stops reading: output piles up, the high-water mark trips, then drains. */
  v.pump_server = 0;
  static uint8_t chunk[32 << 10];
  int sent = 0;
  while (net_conn_writable(v.cli.conn) && sent < 100000) {
    assert_int_equal(net_conn_send_packet(v.cli.conn, chunk, sizeof(chunk)), 0);
    sent++;
    pump(&v, 0);
  }
  assert_false(net_conn_writable(v.cli.conn));
  assert_true(net_conn_write_pending(v.cli.conn) > co.write_high_water);
  v.pump_server = 1;
  assert_true(run_until(&v, &v.cli.drains, 5000));
  uint64_t end = util_mono_ms() + 5000;
  while (v.srv.packets < sent && util_mono_ms() < end) pump(&v, 1);
  assert_int_equal(v.srv.packets, sent);
  assert_int_equal(v.srv.bytes, (size_t)sent * sizeof(chunk));

  /* Ignoring the signal runs into the hard cap, which closes the conn. */
  v.pump_server = 0;
  int rc = 0;
  for (int i = 0; i < 100000 && rc == 0; i++) {
    rc = net_conn_send_packet(v.cli.conn, chunk, sizeof(chunk));
    if (i % 8 == 0) pump(&v, 0);
  }
  assert_int_equal(rc, ERR_LIMIT);
  v.pump_server = 1;
  assert_true(run_until(&v, &v.cli.closed, 2000));
  assert_int_equal(v.cli.close_code, ERR_LIMIT);
  assert_non_null(strstr(v.cli.reason, "hard cap"));
  assert_true(run_until(&v, &v.srv.closed, 5000));
  env_teardown(&v);
}

/* Closing from inside callbacks: the conn survives until the callback returns. */
static void close_in_packet(struct net_conn *c, const uint8_t *d, size_t n) {
  on_packet(c, d, n);
  net_conn_close(c, "closing from packet_cb");
  net_conn_close(c, "twice");
  assert_int_equal(net_conn_send_packet(c, "x", 1), ERR_CLOSED);
  assert_false(net_conn_is_ready(c));
}

static void test_conn_close_in_callback(void **state) {
  (void)state;
  struct env v;
  struct net_conn_opts so, co;
  test_opts(&so, 8);
  test_opts(&co, 8);
  env_setup(&v, &so, &co);
  env_connect(&v, &co);
  both_ready(&v);
  struct net_conn_handler h = g_handler;
  h.packet_cb = close_in_packet;
  net_conn_set_handler(v.srv.conn, &h);
  /* Two packets in one burst: the second must not be delivered after the close. */
  assert_int_equal(net_conn_send_packet(v.cli.conn, "a1", 2), 0);
  assert_int_equal(net_conn_send_packet(v.cli.conn, "a2", 2), 0);
  assert_true(run_until(&v, &v.srv.closed, 2000));
  assert_int_equal(v.srv.packets, 1);
  assert_int_equal(v.srv.close_code, 0);
  assert_string_equal(v.srv.reason, "closing from packet_cb");
  assert_true(run_until(&v, &v.cli.closed, 2000));
  env_teardown(&v);
}

static void test_conn_refusals(void **state) {
  (void)state;
  struct env v;
  struct net_conn_opts so, co;
  struct err e = {0};
  struct ratls_policy no = {.name = "no", .validate_cb = refuse_validate};
  /* The client's policy refuses the server. */
  test_opts(&so, 8);
  test_opts(&co, 8);
  env_setup(&v, &so, &co);
  struct tls_ctx *strict = NULL;
  assert_int_equal(tls_ctx_new(TLS_CLIENT, v.cid, &no, &strict, &e), 0);
  assert_int_equal(net_conn_connect(v.cl, strict, "127.0.0.1", net_listener_port(v.lst), &co,
                                    &g_handler, &v, &v.cli.conn, &e),
                   0);
  tls_ctx_unref(strict); /* the conn holds its own reference */
  assert_true(run_until(&v, &v.cli.closed, 3000));
  assert_int_equal(v.cli.close_code, ERR_REFUSED);
  assert_non_null(strstr(v.cli.reason, "no says no"));
  assert_int_equal(v.srv.ready, 0);
  env_teardown(&v);

  /* The server's policy refuses the client: the client never gets ready. */
  test_opts(&so, 8);
  env_setup(&v, &so, &co);
  net_listener_free(v.lst);
  assert_int_equal(tls_ctx_new(TLS_SERVER, v.sid, &no, &strict, &e), 0);
  assert_int_equal(net_listener_new(v.sl, strict, "127.0.0.1", 0, &so, &g_handler, &v, &v.lst, &e), 0);
  tls_ctx_unref(strict);
  env_connect(&v, &co);
  assert_true(run_until(&v, &v.cli.closed, 3000));
  assert_int_equal(v.cli.ready, 0);
  assert_int_equal(v.srv.ready, 0);
  assert_int_not_equal(v.cli.close_code, 0);
  env_teardown(&v);

  /* A server that never answers: the handshake deadline closes the client. */
  test_opts(&so, 8);
  test_opts(&co, 8);
  co.handshake_timeout_ms = 200;
  env_setup(&v, &so, &co);
  v.pump_server = 0;
  env_connect(&v, &co);
  assert_true(run_until(&v, &v.cli.closed, 3000));
  assert_int_equal(v.cli.close_code, ERR_TIMEOUT);
  assert_non_null(strstr(v.cli.reason, "handshake timeout"));
  env_teardown(&v);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  log_set_level(LOG_WARN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pow_leading_zero_bits),
      cmocka_unit_test(test_pow_vector),
      cmocka_unit_test(test_pow_wire),
      cmocka_unit_test(test_frame_encode),
      cmocka_unit_test(test_frame_decode_splits),
      cmocka_unit_test(test_frame_decode_errors),
      cmocka_unit_test(test_tcp_packet_bytes),
      cmocka_unit_test(test_ratls_cert_layout),
      cmocka_unit_test(test_ratls_verify_rejects),
      cmocka_unit_test(test_ratls_save_load),
      cmocka_unit_test(test_conn_ready_packets_queries),
      cmocka_unit_test(test_conn_ping_and_idle),
      cmocka_unit_test(test_conn_oversized_frame),
      cmocka_unit_test(test_conn_pow_failures),
      cmocka_unit_test(test_conn_backpressure),
      cmocka_unit_test(test_conn_close_in_callback),
      cmocka_unit_test(test_conn_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

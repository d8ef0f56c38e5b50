/* errcode: error codes carried in TL errors (COCOON's TON codes, plus HTTP-like ones). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CORE_ERRCODE_H
#define COCOON_CORE_ERRCODE_H

/* TON's ErrorCode values, as COCOON sends them. */
#define COCOON_ERR_FAILURE 601
#define COCOON_ERR_ERROR 602
#define COCOON_ERR_WARNING 603
#define COCOON_ERR_PROTOVIOLATION 621
#define COCOON_ERR_NOTREADY 651
#define COCOON_ERR_TIMEOUT 652
#define COCOON_ERR_CANCELLED 653

/* Codes in 400..499 are ours: the request itself is at fault and the client answers the app
 * with that HTTP status. A COCOON peer treats them like any other error. */
#define COCOON_ERR_BAD_REQUEST 400
#define COCOON_ERR_PAYMENT 402 /* the client's available credit does not cover the reservation */
#define COCOON_ERR_UNKNOWN_MODEL 404

/* HTTP status the client gives the app for an error code from the network. */
static inline int cocoon_err_http_status(int code) {
  if (code >= 400 && code <= 499) return code;
  if (code == COCOON_ERR_TIMEOUT) return 504;
  if (code == COCOON_ERR_NOTREADY) return 503;
  return 502;
}

#endif

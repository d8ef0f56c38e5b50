/* keyfile: Ed25519 private keys in files only their owner can read (0600). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_BASE_KEYFILE_H
#define COCOON_BASE_KEYFILE_H

#include <stdint.h>

#include "base/err.h"

#define KEYFILE_SEED_LEN 32 /* Ed25519 private key (RFC 8032 seed) */
#define KEYFILE_MAX 8192    /* bytes of a key file */

/* How keyfile_create writes the key: 64 hex digits and a newline, or a PKCS#8 PEM block. */
enum keyfile_format { KEYFILE_HEX = 0, KEYFILE_PEM = 1 };

/* Reads the seed from path, which holds either form. `what` names the key in every error
 * ("wallet key /x: ..."). Refused: a symlink or non-regular file (ERR_INVALID), a file group
 * or others may read (ERR_REFUSED, "chmod 600 it"), one above KEYFILE_MAX (ERR_LIMIT), and
 * content that is neither 64 hex digits nor an Ed25519 PEM private key (ERR_PARSE). The seed
 * is wiped on failure and every copy of the file's text is cleansed. */
CC_NODISCARD int keyfile_load(const char *path, const char *what, uint8_t seed[KEYFILE_SEED_LEN], struct err *e);

/* Creates path holding a fresh random key and returns its seed. The key is written to a
 * private temporary file beside path, fsync'd, then linked into place, so a reader never sees
 * a partial key and an existing file is never overwritten (ERR_INVALID "... exists"). */
CC_NODISCARD int keyfile_create(const char *path, const char *what, enum keyfile_format fmt,
                                uint8_t seed[KEYFILE_SEED_LEN], struct err *e);

/* keyfile_load, or keyfile_create (PEM) first when path does not exist. When another process
 * creates it at the same moment, its key wins and is the one loaded. */
CC_NODISCARD int keyfile_load_or_create(const char *path, const char *what, uint8_t seed[KEYFILE_SEED_LEN],
                                        struct err *e);

#endif

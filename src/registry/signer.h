/* signer: the registry owner's Ed25519 key file (PEM, mode 0600) and signing a registry. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_REGISTRY_SIGNER_H
#define COCOON_REGISTRY_SIGNER_H

#include "base/err.h"
#include "registry/registry.h"

struct registry_signer; /* the private key; wiped on free */

/* Creates a new PEM key file at path (base/keyfile.h: mode 0600; ERR_INVALID if path exists). Caller frees. */
CC_NODISCARD int registry_signer_create(const char *path, struct registry_signer **out, struct err *e);
/* Loads an Ed25519 key file (PEM or 64 hex digits); refuses one group or others may read. Caller frees. */
CC_NODISCARD int registry_signer_load(const char *path, struct registry_signer **out, struct err *e);
void registry_signer_free(struct registry_signer *s); /* NULL-safe */
const uint8_t *registry_signer_pubkey(const struct registry_signer *s); /* 32 bytes, borrowed */

/* Signs r's canonical body; r->owner must be the signer's key (ERR_INVALID otherwise). Sets
 * r->is_signed and r->signature. */
CC_NODISCARD int registry_sign(struct registry *r, const struct registry_signer *s, struct err *e);

#endif

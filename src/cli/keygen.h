/* keygen: `cocoon keygen --dir DIR`: creates a node's Ed25519 key and RA-TLS certificate. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_KEYGEN_H
#define COCOON_CLI_KEYGEN_H

int keygen_main(int argc, char **argv);

#endif

/* ton_chain_cmd: `cocoon ton` commands that talk to a chain through toncenter v2. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_TON_CHAIN_CMD_H
#define COCOON_CLI_TON_CHAIN_CMD_H

/* argv[0] is the command name (wallet-key, wallet-info, wallet-send, balance, get-method,
 * send-boc, root-info); returns the exit status, or -1 when name is not one of them. */
int ton_chain_cmd_main(int argc, char **argv);
void ton_chain_cmd_usage(void *file);

#endif

/* ledger_cmd: the `cocoon ledger` subcommand: show balances and history, verify a ledger file. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_LEDGER_CMD_H
#define COCOON_CLI_LEDGER_CMD_H

/* argv[0] == "ledger". Exit status: 0 ok, 1 violations or errors, 2 usage. */
int ledger_cmd_main(int argc, char **argv);

#endif

/* ton_cmd: the `cocoon ton` subcommand. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_TON_CMD_H
#define COCOON_CLI_TON_CMD_H

int ton_cmd_main(int argc, char **argv);

#endif

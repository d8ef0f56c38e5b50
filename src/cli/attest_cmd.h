/* attest_cmd: the `cocoon attest` subcommand. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_ATTEST_CMD_H
#define COCOON_CLI_ATTEST_CMD_H

int attest_cmd_main(int argc, char **argv);

#endif

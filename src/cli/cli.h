/* cli: the `cocoon <command>` dispatcher. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_CLI_H
#define COCOON_CLI_CLI_H

int cli_main(int argc, char **argv);

#endif

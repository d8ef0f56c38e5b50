/* generate_cmd: `cocoon generate`: run a GGUF model on a prompt and print the continuation. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_GENERATE_CMD_H
#define COCOON_CLI_GENERATE_CMD_H

int generate_main(int argc, char **argv);

#endif

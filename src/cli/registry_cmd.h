/* registry_cmd: `cocoon registry init|add|remove|sign|show|verify`: edit and check the signed
 * root configuration file. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_REGISTRY_CMD_H
#define COCOON_CLI_REGISTRY_CMD_H

int registry_cmd_main(int argc, char **argv);

#endif

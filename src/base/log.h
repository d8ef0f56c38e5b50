/* log: one logfmt line per event on stderr. Never pass payloads or secrets. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_BASE_LOG_H
#define COCOON_BASE_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Sets the component name printed in every line (e.g. "proxy"). Borrows the string. */
void log_set_component(const char *name);
/* log_msg(LOG_INFO, "conn_open", "peer=%s fd=%d", ...): prints
 * `ts=... lvl=info comp=proxy ev=conn_open peer=... fd=...`. */
void log_msg(enum log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) \
  do { if (log_get_level() <= LOG_DEBUG) log_msg(LOG_DEBUG, ev, __VA_ARGS__); } while (0)
#define log_info(ev, ...) log_msg(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_msg(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_msg(LOG_ERROR, ev, __VA_ARGS__)

#endif

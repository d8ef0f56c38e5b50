/* test_loop: unit tests for the event loop: timers, fd watchers, deferred calls. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include "loop/loop.h"

static int order[16];
static int norder;

static void timer_cb(struct loop_timer *t) { order[norder++] = (int)(intptr_t)t->data; }

static void test_timer_order(void **state) {
  struct loop *l;
  assert_int_equal(loop_new(&l), 0);
  struct loop_timer t[5];
  int delays[5] = {30, 10, 20, 5, 40};
  norder = 0;
  for (int i = 0; i < 5; i++) {
    loop_timer_init(&t[i], timer_cb, (void *)(intptr_t)delays[i]);
    loop_timer_start(l, &t[i], (uint64_t)delays[i]);
  }
  loop_timer_stop(l, &t[2]); /* the 20 ms one */
  assert_false(loop_timer_armed(&t[2]));
  while (norder < 4) assert_int_equal(loop_run_once(l, 100), 0);
  assert_int_equal(order[0], 5);
  assert_int_equal(order[1], 10);
  assert_int_equal(order[2], 30);
  assert_int_equal(order[3], 40);
  loop_free(l);
}

static int got_read;
static void io_cb(struct loop_io *io, uint32_t ev) {
  char c;
  if (ev & LOOP_READ) {
    assert_int_equal(read(io->fd, &c, 1), 1);
    got_read = c;
  }
}

static int deferred;
static void defer_cb(void *arg) { deferred += (int)(intptr_t)arg; }

static void test_io_and_defer(void **state) {
  struct loop *l;
  assert_int_equal(loop_new(&l), 0);
  int p[2];
  assert_int_equal(pipe(p), 0);
  struct loop_io io;
  assert_int_equal(loop_io_add(l, &io, p[0], LOOP_READ, io_cb, NULL), 0);
  assert_int_equal(write(p[1], "z", 1), 1);
  assert_int_equal(loop_defer(l, defer_cb, (void *)(intptr_t)3), 0);
  assert_int_equal(loop_run_once(l, 1000), 0);
  assert_int_equal(got_read, 'z');
  assert_int_equal(deferred, 3);
  loop_io_del(l, &io);
  close(p[0]);
  close(p[1]);
  loop_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_timer_order),
      cmocka_unit_test(test_io_and_defer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

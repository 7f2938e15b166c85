/*
 * The oracle of the fake-engine tests (test_timeline.c, test_nav.c,
 * test_timeline_points.c): the fake machine's own forward run, moment by
 * moment, with nothing of the timeline in it; and the replay target set up
 * over the fake engine and driven as gdb drives it.
 */
#ifndef UKVM_TEST_FAKE_LOG_H
#define UKVM_TEST_FAKE_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "fake_engine.h"

#define FAKE_LOG_MAX 256

/* Moment j: the state before the j-th instruction runs, and what that
 * instruction does (the last moment's instruction wants the missing event). */
struct fake_log {
    struct fake_state s[FAKE_LOG_MAX];
    struct fake_effect effect[FAKE_LOG_MAX];
    size_t n;
};

void fake_log_build(struct fake_log *log, const struct fake_program *p);
/* The one moment the live machine equals, SIZE_MAX when none (two fail). */
size_t fake_log_find(const struct fake_log *log);
/* The same, failing the test when there is none (label: what was tested, or NULL). */
size_t fake_log_where(const struct fake_log *log, const char *label);

/* replay_target_init over the fake engine (after fake_reset), with its
 * periods: a tick every tick_us instructions of a continue, a checkpoint
 * every `interval` single steps re-executed. */
void fake_target_open(struct replay_target *rt, uint64_t tick_us, uint64_t interval);
/* Free what the target holds; no error may have been said. */
void fake_target_close(struct replay_target *rt);
/* gdb's resume, insert and remove: each must succeed. */
struct ukvm_stop fake_resume(struct replay_target *rt, enum ukvm_resume_kind kind);
void fake_insert(struct replay_target *rt, enum ukvm_bp_type type, uint64_t addr, uint64_t len);
void fake_remove(struct replay_target *rt, enum ukvm_bp_type type, uint64_t addr, uint64_t len);

#endif

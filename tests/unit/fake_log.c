/* The fake-engine tests' oracle and target driving (fake_log.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_log.h"

void fake_log_build(struct fake_log *log, const struct fake_program *p)
{
    struct fake_state s;
    memset(&s, 0, sizeof(s));
    s.regs.rip = FAKE_BASE;
    log->n = 0;
    for (;;) {
        assert_true(log->n < FAKE_LOG_MAX);
        log->s[log->n] = s;
        log->effect[log->n] = fake_exec(p, &s);
        if (log->effect[log->n].end)
            break;
        log->n++;
    }
    log->n++;
}

size_t fake_log_find(const struct fake_log *log)
{
    size_t found = SIZE_MAX;
    for (size_t j = 0; j < log->n; j++)
        if (fake_state_equal(&log->s[j], fake_now())) {
            assert_true(found == SIZE_MAX);
            found = j;
        }
    return found;
}

size_t fake_log_where(const struct fake_log *log, const char *label)
{
    size_t found = fake_log_find(log);
    if (found == SIZE_MAX)
        fail_msg("%s%sthe machine (rip 0x%llx) is at no moment of the run", label ? label : "",
                label ? ": " : "", (unsigned long long)fake_now()->regs.rip);
    return found;
}

void fake_target_open(struct replay_target *rt, uint64_t tick_us, uint64_t interval)
{
    char err[256];
    assert_int_equal(replay_target_init(rt, fake_engine(), fake_setup(), err, sizeof(err)), 0);
    rt->tick_us = tick_us;
    rt->step_checkpoint_interval = interval;
}

void fake_target_close(struct replay_target *rt)
{
    fake_interrupt_after(0);
    fake_free_checkpoints(&rt->st);
    free(rt->place);
    free(rt->user);
    assert_int_equal(fake_errors(), 0);
}

struct ukvm_stop fake_resume(struct replay_target *rt, enum ukvm_resume_kind kind)
{
    struct ukvm_stop stop;
    memset(&stop, 0xa5, sizeof(stop));
    assert_int_equal(rt->base.ops->resume(&rt->base, kind, &stop), 0);
    return stop;
}

void fake_insert(struct replay_target *rt, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    assert_int_equal(rt->base.ops->insert_bp(&rt->base, type, addr, len), 0);
}

void fake_remove(struct replay_target *rt, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    assert_int_equal(rt->base.ops->remove_bp(&rt->base, type, addr, len), 0);
}

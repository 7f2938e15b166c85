/*
 * The timeline's thinning policy (src/replay/thinning.c) without KVM: a
 * replay that pushes a checkpoint every second under a budget of a few
 * checkpoints, dropping the policy's victim whenever there are too many.
 * What must hold is what reverse execution relies on, not the policy's
 * formula: boot, the newest and bookmarked checkpoints stay, and for every
 * moment of the past the checkpoint before it is no further back than about
 * its distance from the present (at most twice; a reverse operation far back never
 * re-executes the whole run). Dropping the oldest, or the newest, fails it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "replay/thinning.h"

#define SECOND 1000000000ULL
#define MAX_CPS 64

struct timeline {
    struct thinning_mark cp[MAX_CPS];
    size_t n;
    uint64_t now;
};

static void drop(struct timeline *t, size_t i)
{
    memmove(&t->cp[i], &t->cp[i + 1], (t->n - i - 1) * sizeof(t->cp[0]));
    t->n--;
}

/* One second more of run, a checkpoint there, then thin to `budget`. */
static void tick(struct timeline *t, size_t budget)
{
    t->now += SECOND;
    assert_true(t->n < MAX_CPS);
    t->cp[t->n++] = (struct thinning_mark){ .at_ns = t->now };
    while (t->n > budget) {
        size_t v = thinning_victim(t->cp, sizeof(t->cp[0]), t->n, t->now);
        if (v == 0)
            break;
        assert_true(v > 0 && v + 1 < t->n);
        assert_int_equal(t->cp[v].pins, 0);
        drop(t, v);
    }
}

/* For a moment x just before checkpoint i + 1, the re-execution starts at
 * checkpoint i: at most twice the distance to the present, plus a second
 * (one push period). */
static void assert_covers(const struct timeline *t)
{
    for (size_t i = 0; i + 1 < t->n; i++) {
        uint64_t gap = t->cp[i + 1].at_ns - t->cp[i].at_ns;
        uint64_t distance = t->now - t->cp[i + 1].at_ns;
        if (gap > 2 * distance + SECOND)
            fail_msg("checkpoints at %llu s and %llu s: a gap of %llu s, %llu s back",
                    (unsigned long long)(t->cp[i].at_ns / SECOND),
                    (unsigned long long)(t->cp[i + 1].at_ns / SECOND),
                    (unsigned long long)(gap / SECOND), (unsigned long long)(distance / SECOND));
    }
}

static void test_geometric_under_budget(void **state)
{
    (void)state;
    static struct timeline t; /* checkpoint 0: boot, at 0 */
    memset(&t, 0, sizeof(t));
    t.n = 1;
    for (int s = 1; s <= 10000; s++) {
        tick(&t, 24);
        assert_int_equal(t.cp[0].at_ns, 0);             /* boot stays */
        assert_int_equal(t.cp[t.n - 1].at_ns, t.now);   /* so does the newest */
        assert_true(t.n <= 24);
        if (s % 97 == 0 || s == 10000)
            assert_covers(&t);
    }
    for (size_t i = 0; i + 1 < t.n; i++)
        assert_true(t.cp[i].at_ns < t.cp[i + 1].at_ns);
}

static void test_bookmarks_stay(void **state)
{
    (void)state;
    static struct timeline t;
    memset(&t, 0, sizeof(t));
    t.n = 1;
    for (int s = 1; s <= 3000; s++) {
        tick(&t, 24);
        if (s == 37 || s == 1200)
            t.cp[t.n - 1].pins = 1; /* a bookmark on the newest */
    }
    int found = 0;
    for (size_t i = 0; i < t.n; i++)
        if (t.cp[i].at_ns == 37 * SECOND || t.cp[i].at_ns == 1200 * SECOND) {
            assert_int_equal(t.cp[i].pins, 1);
            found++;
        }
    assert_int_equal(found, 2);
    assert_covers(&t);
}

static void test_nothing_to_drop(void **state)
{
    (void)state;
    struct thinning_mark cp[4] = {
        { .at_ns = 0 }, { .at_ns = SECOND, .pins = 1 }, { .at_ns = 2 * SECOND, .pins = 2 },
        { .at_ns = 3 * SECOND },
    };
    /* boot and the newest never go; the rest are pinned */
    assert_int_equal(thinning_victim(cp, sizeof(cp[0]), 4, 3 * SECOND), 0);
    assert_int_equal(thinning_victim(cp, sizeof(cp[0]), 2, 3 * SECOND), 0);
    assert_int_equal(thinning_victim(cp, sizeof(cp[0]), 1, 3 * SECOND), 0);
    cp[2].pins = 0;
    assert_int_equal(thinning_victim(cp, sizeof(cp[0]), 4, 3 * SECOND), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometric_under_budget),
        cmocka_unit_test(test_bookmarks_stay),
        cmocka_unit_test(test_nothing_to_drop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

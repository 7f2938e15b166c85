/* The thinning policy (thinning.h). */
#include "replay/thinning.h"

static const struct thinning_mark *mark(const struct thinning_mark *first, size_t stride,
        size_t i)
{
    return (const struct thinning_mark *)((const char *)first + i * stride);
}

size_t thinning_victim(const struct thinning_mark *first, size_t stride, size_t n,
        uint64_t now_ns)
{
    size_t best = 0;
    double best_score = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        const struct thinning_mark *m = mark(first, stride, i);
        if (m->pins)
            continue;
        uint64_t gap = mark(first, stride, i + 1)->at_ns - mark(first, stride, i - 1)->at_ns;
        uint64_t age = now_ns > m->at_ns ? now_ns - m->at_ns : 0;
        double score = (double)gap / (double)(age + 1);
        if (best == 0 || score < best_score) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

/*
 * `ukvm-trace diff A B`: where two recordings of the same kernel part
 * (trace_diff.c). The option parsing is ukvm-trace.c's.
 */
#ifndef UKVM_TOOLS_TRACE_DIFF_H
#define UKVM_TOOLS_TRACE_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "ukvm/trace.h"

#define TRACE_DIFF_CONTEXT_MAX 100

struct trace_diff_opts {
    bool ignore[UKVM_EV_KIND_MAX];  /* kinds skipped on both sides */
    unsigned context;               /* events shown before and after the parting */
};

/*
 * Compares traces a and b and prints the result on stdout. Returns the exit
 * status: 0 the same, 1 they differ, 2 the same as far as a cut-short trace
 * goes; or -1 with a one-line message in err (different kernels, an
 * unreadable or corrupt trace; whatever was compared before a corrupt
 * event has been printed).
 */
int trace_diff(const char *a, const char *b, const struct trace_diff_opts *o,
        char *err, size_t errlen);

#endif

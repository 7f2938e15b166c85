/*
 * libFuzzer target for the trace reader: open the input as a trace, read the
 * header and every event, try a tell/seek round trip, and ask how it ended;
 * then the frame index: the summary, and goto into the middle.
 * Seeds: tests/fuzz/corpus/trace_reader/ (made with tools/ukvm-trace-synth).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ukvm/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct ukvm_trace_reader *r = ukvm_trace_reader_open_mem(data, size, err, sizeof err);
    if (!r)
        return 0;
    const struct ukvm_trace_header *h = ukvm_trace_reader_header(r);
    volatile uint64_t sink = h->kernel_len + h->n_devices + h->n_cpuid + h->n_patches;
    if (h->kernel_len)
        sink += h->kernel[0] + h->kernel[h->kernel_len - 1];
    sink += strlen(h->cmdline);
    for (uint32_t i = 0; i < h->n_devices; i++)
        sink += strlen(h->devices[i].name);
    for (uint32_t i = 0; i < h->n_patches; i++)
        sink += h->patches[i].orig[h->patches[i].len - 1];

    struct ukvm_trace_pos pos;
    uint64_t mark = 0;
    bool marked = false;
    struct ukvm_event ev;
    int rc;
    while ((rc = ukvm_trace_reader_next(r, &ev, err, sizeof err)) == 1) {
        if (ev.data_len)
            sink += ev.data[0] + ev.data[ev.data_len - 1];
        struct ukvm_trace_event_info info;
        ukvm_trace_reader_event_info(r, &info);
        sink += info.record_bytes;
        if (!marked && ukvm_trace_reader_event_number(r) >= 2) {
            ukvm_trace_reader_tell(r, &pos);
            mark = ukvm_trace_reader_event_number(r);
            marked = true;
        }
    }
    struct ukvm_trace_end end;
    ukvm_trace_reader_end(r, &end);
    sink += end.events;
    /* go back and read on again: the same events must come */
    if (marked && ukvm_trace_reader_seek(r, &pos) == 0) {
        if (ukvm_trace_reader_event_number(r) != mark)
            __builtin_trap();
        uint64_t again = 0;
        while (ukvm_trace_reader_next(r, &ev, err, sizeof err) == 1)
            again++;
        if (rc == 0 && mark + again != end.events)
            __builtin_trap();
    }
    ukvm_trace_reader_close(r);

    r = ukvm_trace_reader_open_mem(data, size, err, sizeof err);
    struct ukvm_trace_summary sum;
    if (r && ukvm_trace_reader_summary(r, &sum, err, sizeof err) == 0) {
        sink += sum.frames + sum.kinds[1].count;
        if (ukvm_trace_reader_goto(r, sum.end.events / 2, err, sizeof err) == 0)
            while (ukvm_trace_reader_next(r, &ev, err, sizeof err) == 1)
                sink++;
        (void)ukvm_trace_reader_goto(r, 0, err, sizeof err);
    }
    (void)sink;
    ukvm_trace_reader_close(r);
    return 0;
}

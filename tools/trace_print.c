/* Events as dump prints them (see trace_print.h). */
#include <inttypes.h>

#include "record/event_format.h"
#include "trace_print.h"

void trace_print_escaped(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char esc[5];
        ukvm_escape_byte(p[i], esc);
        fputs(esc, f);
    }
}

/* The shared event line (event_format.c, also `monitor events`), then the
 * console text a puts carried, escaped. */
void trace_print_event(FILE *f, uint64_t n, const struct ukvm_event *e)
{
    char line[UKVM_EVENT_LINE_MAX];
    ukvm_event_format(line, sizeof(line), n, e);
    fputs(line, f);
    if (e->text_len) {
        fputs(" text=\"", f);
        trace_print_escaped(f, e->text, e->text_len);
        fputc('"', f);
    }
    fputc('\n', f);
}

void trace_print_data(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t off = 0; off < n; off += 16) {
        size_t k = n - off < 16 ? n - off : 16;
        fprintf(f, "    %06zx ", off);
        for (size_t i = 0; i < 16; i++) {
            if (i < k)
                fprintf(f, " %02x", p[off + i]);
            else
                fputs("   ", f);
        }
        fputs("  |", f);
        for (size_t i = 0; i < k; i++)
            fputc(p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.', f);
        fputs("|\n", f);
    }
}

void trace_print_cut(FILE *f, uint64_t events, uint64_t bytes)
{
    if (events)
        fprintf(f, "cut short after event %" PRIu64 " at byte %" PRIu64, events - 1, bytes);
    else
        fprintf(f, "cut short before the first event at byte %" PRIu64, bytes);
}

void trace_print_end(FILE *f, const char *prefix, const struct ukvm_trace_end *end)
{
    double secs = (double)end->elapsed_ns / 1e9;
    fputs(prefix, f);
    if (end->complete) {
        fprintf(f, "complete, %" PRIu64 " events, exit status %d, %.3f s\n",
                end->events, end->exit_status, secs);
    } else {
        trace_print_cut(f, end->events, end->valid_bytes);
        fprintf(f, " (%" PRIu64 " events readable, %.3f s recorded)\n", end->events, secs);
    }
}

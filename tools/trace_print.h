/*
 * Events as `ukvm-trace dump` prints them, shared by its commands (dump,
 * diff): the event line (record/event_format.h) with the console text of a
 * puts, escaped, and the bytes of a read.
 */
#ifndef UKVM_TOOLS_TRACE_PRINT_H
#define UKVM_TOOLS_TRACE_PRINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ukvm/trace.h"

/* Bytes that came from the trace, escaped (ukvm_escape_byte): a hostile
 * trace cannot send escape sequences to the terminal. */
void trace_print_escaped(FILE *f, const uint8_t *p, size_t n);

/* Event n's line, as dump prints it, with its newline. */
void trace_print_event(FILE *f, uint64_t n, const struct ukvm_event *e);

/* Lines of "    OFFSET  16 hex bytes  |printable|" (dump --data). */
void trace_print_data(FILE *f, const uint8_t *p, size_t n);

/* The position a cut-short trace ends at, in the words replay uses (no
 * newline): "cut short after event N at byte B". */
void trace_print_cut(FILE *f, uint64_t events, uint64_t bytes);

/* How the trace ends, after `prefix`: "complete, N events, exit status S,
 * T s" or where it is cut short; with its newline. */
void trace_print_end(FILE *f, const char *prefix, const struct ukvm_trace_end *end);

#endif

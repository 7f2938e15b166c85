/*
 * One event as a line of text, in the words of `ukvm-trace dump`
 * ("#12 walltime rip=0x100219 nsecs=..."), shared by the trace tool and the
 * debugger's `monitor events`.
 */
#ifndef UKVM_EVENT_FORMAT_H
#define UKVM_EVENT_FORMAT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "ukvm/trace.h"

/* Enough for any event's line. */
#define UKVM_EVENT_LINE_MAX 512

/* Text appended to buf (len bytes, NUL-terminated once anything is added),
 * cut short when it is full. */
struct ukvm_line {
    char *buf;
    size_t len, used;
};
void ukvm_line_add(struct ukvm_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ukvm_line_vadd(struct ukvm_line *l, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Writes event number n's line (no newline) into buf; returns its length
 * (cut short to len - 1 when buf is too small). */
size_t ukvm_event_format(char *buf, size_t len, uint64_t n, const struct ukvm_event *e);

/* The name of argument a[i] of events of `kind` ("nsecs", "tsc"...), or NULL
 * when that kind has no such argument. */
const char *ukvm_event_field_name(uint32_t kind, unsigned i);

/* Argument a[i] of an event of `kind` with value v, written as the event's
 * line writes it (decimal, signed, 0x-hex or a 16-digit digest). */
#define UKVM_EVENT_VALUE_MAX 24
void ukvm_event_field_value(char out[UKVM_EVENT_VALUE_MAX], uint32_t kind, unsigned i, uint64_t v);

/* Text that came from a trace, one byte at a time, made safe for a terminal:
 * printable ASCII as is, a backslash doubled, any other byte as \xNN (a
 * hostile trace must not send escape sequences). Writes a NUL-terminated
 * string of at most 4 characters into out. */
void ukvm_escape_byte(uint8_t c, char out[5]);

#endif

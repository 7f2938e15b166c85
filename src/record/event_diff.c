/* What differs between two events (see event_diff.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "record/event_diff.h"
#include "record/event_format.h"

struct parts {
    struct ukvm_line l;
    unsigned n;
};

/* Appends one part, after a "; " when it is not the first. */
static void part(struct parts *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void part(struct parts *p, const char *fmt, ...)
{
    if (p->n++)
        ukvm_line_add(&p->l, "; ");
    va_list ap;
    va_start(ap, fmt);
    ukvm_line_vadd(&p->l, fmt, ap);
    va_end(ap);
}

/* Two byte strings (the bytes read, the console text) named `what`. */
static void bytes_part(struct parts *p, const char *what, const uint8_t *a, uint32_t na,
        const uint8_t *b, uint32_t nb)
{
    uint32_t common = na < nb ? na : nb, i = 0;
    while (i < common && a[i] == b[i])
        i++;
    if (na == nb && i == na)
        return;
    if (na == nb)
        part(p, "%s: first differing byte at offset %" PRIu32 ": 0x%02x vs 0x%02x", what, i,
                a[i], b[i]);
    else if (common == 0)
        part(p, "%s: %" PRIu32 " vs %" PRIu32 " bytes", what, na, nb);
    else if (i == common)
        part(p, "%s: %" PRIu32 " vs %" PRIu32 " bytes, the same for the first %" PRIu32,
                what, na, nb, common);
    else
        part(p, "%s: %" PRIu32 " vs %" PRIu32 " bytes, first differing byte at offset %"
                PRIu32 ": 0x%02x vs 0x%02x", what, na, nb, i, a[i], b[i]);
}

bool ukvm_event_diff(char *buf, size_t len, const struct ukvm_event *a, const struct ukvm_event *b)
{
    struct parts p = { { buf, len, 0 }, 0 };
    if (len)
        buf[0] = 0;
    if (a->kind != b->kind)
        part(&p, "kind: %s vs %s", ukvm_event_kind_name(a->kind), ukvm_event_kind_name(b->kind));
    if (a->rip != b->rip)
        part(&p, "rip: 0x%" PRIx64 " vs 0x%" PRIx64, a->rip, b->rip);
    if (a->kind != b->kind)
        return true;
    for (unsigned i = 0; i < UKVM_EVENT_NARGS; i++) {
        if (a->a[i] == b->a[i])
            continue;
        char va[UKVM_EVENT_VALUE_MAX], vb[UKVM_EVENT_VALUE_MAX];
        ukvm_event_field_value(va, a->kind, i, a->a[i]);
        ukvm_event_field_value(vb, b->kind, i, b->a[i]);
        const char *name = ukvm_event_field_name(a->kind, i);
        if (name)
            part(&p, "%s: %s vs %s", name, va, vb);
        else
            part(&p, "a%u: %s vs %s", i, va, vb);
    }
    bytes_part(&p, "data", a->data, a->data_len, b->data, b->data_len);
    bytes_part(&p, "text", a->text, a->text_len, b->text, b->text_len);
    return p.n > 0;
}

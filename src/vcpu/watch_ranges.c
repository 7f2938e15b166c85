/* Watchpoints stored as ranges, and the protected runs they make. */
#include <stdlib.h>
#include <string.h>

#include "vcpu/watch_ranges.h"

static bool same(const struct watch *w, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    return w->type == type && w->addr == addr && w->len == len;
}

enum watch_add watch_set_add(struct watch_set *ws, const struct watch *w)
{
    for (size_t i = 0; i < ws->n; i++)
        if (same(&ws->w[i], w->type, w->addr, w->len)) {
            ws->w[i].ghost = false;
            return WATCH_PRESENT;
        }
    if (ws->n >= WATCH_MAX)
        return WATCH_FULL;
    if (ws->n == ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : 8;
        struct watch *n = realloc(ws->w, cap * sizeof(*n));
        if (!n)
            return WATCH_FULL;
        ws->w = n;
        ws->cap = cap;
    }
    ws->w[ws->n++] = *w;
    return WATCH_ADDED;
}

bool watch_set_remove(struct watch_set *ws, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    for (size_t i = 0; i < ws->n; i++)
        if (same(&ws->w[i], type, addr, len)) {
            /* keep the order: the first watch hit is the oldest one */
            memmove(&ws->w[i], &ws->w[i + 1], (ws->n - i - 1) * sizeof(ws->w[0]));
            ws->n--;
            return true;
        }
    return false;
}

void watch_set_clear(struct watch_set *ws)
{
    ws->n = 0;
}

size_t watch_set_drop_ghosts(struct watch_set *ws)
{
    size_t u = 0;
    for (size_t i = 0; i < ws->n; i++)
        if (!ws->w[i].ghost)
            ws->w[u++] = ws->w[i];
    size_t dropped = ws->n - u;
    ws->n = u;
    return dropped;
}

void watch_set_free(struct watch_set *ws)
{
    free(ws->w);
    memset(ws, 0, sizeof(*ws));
}

const struct watch *watch_set_hit(const struct watch_set *ws, uint64_t gpa, uint64_t len,
        bool write)
{
    for (size_t i = 0; i < ws->n; i++)
        if (watch_hit_by(&ws->w[i], gpa, len, write))
            return &ws->w[i];
    return NULL;
}

bool watch_hit_by(const struct watch *w, uint64_t gpa, uint64_t len, bool write)
{
    bool kind_ok = w->type == UKVM_WP_ACCESS ||
        (write ? w->type == UKVM_WP_WRITE : w->type == UKVM_WP_READ);
    return len && kind_ok && !w->ghost && gpa < w->gpa + w->len && w->gpa < gpa + len;
}

void access_list_add(struct access_list *l, uint64_t gpa, uint64_t len, bool write)
{
    for (size_t i = 0; i < l->n; i++) {
        uint64_t a = l->a[i].gpa, e = a + l->a[i].len;
        if (l->a[i].write != write || gpa > e || gpa + len < a)
            continue;
        uint64_t lo = gpa < a ? gpa : a, hi = gpa + len > e ? gpa + len : e;
        l->a[i].gpa = lo;
        l->a[i].len = hi - lo;
        return;
    }
    if (l->n < ACCESS_LIST_MAX) {
        l->a[l->n].gpa = gpa;
        l->a[l->n].len = len;
        l->a[l->n++].write = write;
    }
}

bool access_list_hits(const struct access_list *l, const struct watch *w)
{
    for (size_t i = 0; i < l->n; i++)
        if (watch_hit_by(w, l->a[i].gpa, l->a[i].len, l->a[i].write))
            return true;
    return false;
}

struct span {
    uint64_t start, end;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int run_cmp(const void *a, const void *b)
{
    const struct prot_run *x = a, *y = b;
    return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Sorts spans and joins the overlapping and adjacent ones; returns how many. */
static size_t merge_spans(struct span *s, size_t n)
{
    if (n == 0)
        return 0;
    qsort(s, n, sizeof(*s), span_cmp);
    size_t u = 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i].start <= s[u].end) {
            if (s[i].end > s[u].end)
                s[u].end = s[i].end;
        } else {
            s[++u] = s[i];
        }
    }
    return u + 1;
}

static struct span page_span(const struct watch *w)
{
    return (struct span){ w->gpa & ~0xfffULL, (w->gpa + w->len + 0xfff) & ~0xfffULL };
}

long watch_set_runs(const struct watch_set *ws, const struct watch *extra, long skip,
        bool with_ghosts, struct prot_run **out)
{
    size_t total = ws->n + (extra ? 1 : 0);
    struct span *ro = malloc((total ? total : 1) * sizeof(*ro));
    struct span *un = malloc((total ? total : 1) * sizeof(*un));
    /* every read-only span is cut at most once per unmapped span, plus one */
    struct prot_run *runs = malloc((2 * total + 1) * sizeof(*runs));
    if (!ro || !un || !runs) {
        free(ro);
        free(un);
        free(runs);
        return -1;
    }
    size_t n_ro = 0, n_un = 0;
    for (size_t i = 0; i < total; i++) {
        const struct watch *w = i < ws->n ? &ws->w[i] : extra;
        if ((long)i == skip || (w->ghost && !with_ghosts))
            continue;
        if (w->type == UKVM_WP_WRITE)
            ro[n_ro++] = page_span(w);
        else
            un[n_un++] = page_span(w);
    }
    n_ro = merge_spans(ro, n_ro);
    n_un = merge_spans(un, n_un);

    size_t n = 0;
    for (size_t j = 0; j < n_un; j++)
        runs[n++] = (struct prot_run){ un[j].start, un[j].end - un[j].start, PAGE_UNMAPPED };
    /* read-only spans less the unmapped ones */
    size_t j = 0;
    for (size_t i = 0; i < n_ro; i++) {
        uint64_t at = ro[i].start;
        while (at < ro[i].end) {
            while (j < n_un && un[j].end <= at)
                j++;
            if (j < n_un && un[j].start <= at) {
                at = un[j].end;
                continue;
            }
            uint64_t end = j < n_un && un[j].start < ro[i].end ? un[j].start : ro[i].end;
            runs[n++] = (struct prot_run){ at, end - at, PAGE_READONLY };
            at = end;
        }
    }
    free(ro);
    free(un);
    qsort(runs, n, sizeof(*runs), run_cmp);
    *out = runs;
    return (long)n;
}

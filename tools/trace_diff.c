/*
 * `ukvm-trace diff A B` (see trace_diff.h): reads both traces side by side,
 * the events of ignored kinds left out of both, and prints the first pair
 * of events that differ with the events around it in dump's words, what
 * differs (record/event_diff.h), then how many events of each kind each
 * side holds and how many differ from there on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/event_diff.h"
#include "trace_diff.h"
#include "trace_print.h"

struct side {
    const char *name;           /* "A" or "B" */
    const char *path;
    struct ukvm_trace_reader *r;
    struct ukvm_event e;        /* the current event (when rc is 1) */
    uint64_t n;                 /* its number */
    int rc;                     /* 1 an event, 0 the end, -1 corrupt (err) */
    char err[256];
    uint64_t count[UKVM_EV_KIND_MAX];   /* events read, by kind (0: unknown) */
    struct ukvm_trace_end end;  /* once rc is 0 */
};

/* Lines of a pair of events: either may be NULL (that side has ended). */
struct pair {
    char *a, *b;
};

static unsigned kind_index(uint32_t kind)
{
    return kind < UKVM_EV_KIND_MAX ? kind : 0;
}

/* The next event not of an ignored kind; once ended, stays ended. */
static int side_next(struct side *s, const struct trace_diff_opts *o)
{
    if (s->rc != 1)
        return s->rc;
    while ((s->rc = ukvm_trace_reader_next(s->r, &s->e, s->err, sizeof s->err)) == 1) {
        s->n = ukvm_trace_reader_event_number(s->r) - 1;
        unsigned k = kind_index(s->e.kind);
        s->count[k]++;
        if (!o->ignore[k])
            return 1;
    }
    if (s->rc == 0)
        ukvm_trace_reader_end(s->r, &s->end);
    return s->rc;
}

/* The current event's line as dump prints it (malloc'd), or NULL when the
 * side has ended. */
static char *side_line(const struct side *s)
{
    if (s->rc != 1)
        return NULL;
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (!f) {
        perror("ukvm-trace: diff");
        exit(1);
    }
    trace_print_event(f, s->n, &s->e);
    fclose(f);
    return line;
}

/* A pair once when both lines are the same (unless `apart`: the pair that
 * differs, whose lines may read alike), else each with its side's name. */
static void print_pair(const struct pair *p, bool apart)
{
    if (!apart && p->a && p->b && !strcmp(p->a, p->b)) {
        printf("  %s", p->a);
        return;
    }
    if (p->a)
        printf("A %s", p->a);
    if (p->b)
        printf("B %s", p->b);
}

static void free_pair(struct pair *p)
{
    free(p->a);
    free(p->b);
    p->a = p->b = NULL;
}

static void hex32(char out[65], const uint8_t *d)
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* What a reader says about its trace's header; false when the kernels differ. */
static bool compare_headers(const struct side *s, char *err, size_t errlen)
{
    const struct ukvm_trace_header *ha = ukvm_trace_reader_header(s[0].r);
    const struct ukvm_trace_header *hb = ukvm_trace_reader_header(s[1].r);
    char xa[65], xb[65];
    hex32(xa, ha->kernel_sha256);
    hex32(xb, hb->kernel_sha256);
    if (strcmp(xa, xb)) {
        snprintf(err, errlen, "diff: %s and %s are recordings of different kernels "
                "(sha256 %.16s... vs %.16s...)", s[0].path, s[1].path, xa, xb);
        return false;
    }
    printf("A: %s\nB: %s\nkernel: the same, sha256 %s\n", s[0].path, s[1].path, xa);
    if (strcmp(ha->cmdline, hb->cmdline)) {
        fputs("note: the command lines differ: A \"", stdout);
        trace_print_escaped(stdout, (const uint8_t *)ha->cmdline, strlen(ha->cmdline));
        fputs("\", B \"", stdout);
        trace_print_escaped(stdout, (const uint8_t *)hb->cmdline, strlen(hb->cmdline));
        puts("\"");
    }
    if (ha->mem_size != hb->mem_size)
        printf("note: the memory sizes differ: A %" PRIu64 " bytes, B %" PRIu64 "\n",
                ha->mem_size, hb->mem_size);
    if (ha->n_devices != hb->n_devices)
        printf("note: the device counts differ: A %u, B %u\n", ha->n_devices, hb->n_devices);
    return true;
}

static void print_summary(const struct side *s, const uint64_t *differ, bool parted,
        const struct trace_diff_opts *o)
{
    printf("by kind: events of A and of B%s\n", parted ? "; differ: from the first difference "
            "on, pairs at the same place that are not the same, by A's kind" : "");
    printf("  %-12s %10s %10s %10s\n", "kind", "A", "B", "differ");
    uint64_t ta = 0, tb = 0, td = 0;
    for (unsigned k = 0; k < UKVM_EV_KIND_MAX; k++) {
        if (!s[0].count[k] && !s[1].count[k])
            continue;
        printf("  %-12s %10" PRIu64 " %10" PRIu64, k ? ukvm_event_kind_name(k) : "?",
                s[0].count[k], s[1].count[k]);
        if (o->ignore[k])
            printf(" %10s\n", "ignored");
        else
            printf(" %10" PRIu64 "\n", differ[k]);
        ta += s[0].count[k];
        tb += s[1].count[k];
        td += differ[k];
    }
    printf("  %-12s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n", "all", ta, tb, td);
}

/* The side that made the comparison stop (corrupt), as a one-line error. */
static int corrupt(const struct side *s, char *err, size_t errlen)
{
    const struct side *c = s[0].rc < 0 ? &s[0] : &s[1];
    fflush(stdout);
    snprintf(err, errlen, "diff: %s (%s): %s; the traces were compared up to there",
            c->name, c->path, c->err);
    return -1;
}

/*
 * From the pair that differs (the current events) to the end of both sides:
 * the pair and `context` more are printed; every pair at the same place that
 * differs (or lacks a partner) is counted in differ[] by A's kind.
 */
static void after_parting(struct side *s, const struct trace_diff_opts *o, uint64_t *differ,
        int *ra, int *rb)
{
    unsigned after = 0;
    while (*ra >= 0 && *rb >= 0 && (*ra == 1 || *rb == 1)) {
        bool d = *ra != 1 || *rb != 1 || ukvm_event_diff(NULL, 0, &s[0].e, &s[1].e);
        if (d)
            differ[kind_index(*ra == 1 ? s[0].e.kind : s[1].e.kind)]++;
        if (after++ <= o->context) {
            struct pair p = { side_line(&s[0]), side_line(&s[1]) };
            print_pair(&p, after == 1);
            free_pair(&p);
        }
        *ra = side_next(&s[0], o);
        *rb = side_next(&s[1], o);
    }
}

static int compare(struct side *s, const struct trace_diff_opts *o, char *err, size_t errlen)
{
    struct pair ring[TRACE_DIFF_CONTEXT_MAX] = { { NULL, NULL } };
    unsigned nring = 0, head = 0;
    uint64_t same = 0, differ[UKVM_EV_KIND_MAX] = { 0 };
    char what[1024];
    int ra, rb;
    bool parted = false;

    /* up to the first pair that differs */
    while (true) {
        ra = side_next(&s[0], o);
        rb = side_next(&s[1], o);
        if (ra < 0 || rb < 0)
            break;
        if (ra == 0 && rb == 0)
            break;
        if (ra == 1 && rb == 1 && !ukvm_event_diff(what, sizeof what, &s[0].e, &s[1].e)) {
            same++;
            if (o->context) {
                /* the last `context` pairs: filling up (head 0), then round */
                struct pair *p = &ring[nring];
                if (nring < o->context) {
                    nring++;
                } else {
                    p = &ring[head];
                    head = (head + 1) % o->context;
                }
                free_pair(p);
                p->a = side_line(&s[0]);
                p->b = side_line(&s[1]);
            }
            continue;
        }
        parted = true;
        break;
    }

    /* the end of one side (cut short) is no difference: that is all it holds */
    const struct side *ended = ra == 0 ? &s[0] : rb == 0 ? &s[1] : NULL;
    bool cut_end = parted && ended && !ended->end.complete;
    if (parted && !cut_end) {
        if (ra == 1 && rb == 1) {
            printf("first difference: A event %" PRIu64 ", B event %" PRIu64, s[0].n, s[1].n);
            if (s[0].e.kind == s[1].e.kind)
                printf(" (%s)", ukvm_event_kind_name(s[0].e.kind));
            printf(": %s\n", what);
        } else {
            const struct side *on = ended == &s[0] ? &s[1] : &s[0];
            printf("first difference: %s ends after %" PRIu64 " events; %s goes on with event %"
                    PRIu64 " (%s)\n", ended->name, ended->end.events, on->name, on->n,
                    ukvm_event_kind_name(on->e.kind));
        }
        for (unsigned i = 0; i < nring; i++)
            print_pair(&ring[(head + i) % o->context], false);
        after_parting(s, o, differ, &ra, &rb);
    } else if (ra >= 0 && rb >= 0) {
        /* the same: as far as a cut-short side goes, when one is */
        printf("the same: %" PRIu64 " events compared", same);
        bool any = false;
        for (unsigned k = 1; k < UKVM_EV_KIND_MAX; k++)
            if (o->ignore[k]) {
                printf("%s%s", any ? ", " : " (ignoring ", ukvm_event_kind_name(k));
                any = true;
            }
        if (any)
            putchar(')');
        for (int i = 0; i < 2; i++) {
            if (s[i].rc == 0 && !s[i].end.complete) {
                printf("; %s is ", s[i].name);
                trace_print_cut(stdout, s[i].end.events, s[i].end.valid_bytes);
                fputs(", compared up to there", stdout);
            }
        }
        putchar('\n');
        if (cut_end) {
            /* read the rest of the other side for its counts */
            struct side *on = ended == &s[0] ? &s[1] : &s[0];
            while (side_next(on, o) == 1)
                ;
            if (on->rc < 0)
                ra = -1;
        }
    }
    for (unsigned i = 0; i < nring; i++)
        free_pair(&ring[i]);
    if (ra < 0 || rb < 0 || s[0].rc < 0 || s[1].rc < 0)
        return corrupt(s, err, errlen);
    print_summary(s, differ, parted && !cut_end, o);
    trace_print_end(stdout, "A end: ", &s[0].end);
    trace_print_end(stdout, "B end: ", &s[1].end);
    if (parted && !cut_end)
        return 1;
    return s[0].end.complete && s[1].end.complete ? 0 : 2;
}

int trace_diff(const char *a, const char *b, const struct trace_diff_opts *o,
        char *err, size_t errlen)
{
    struct side s[2] = {
        { .name = "A", .path = a, .rc = 1 },
        { .name = "B", .path = b, .rc = 1 },
    };
    int ret = -1;
    for (int i = 0; i < 2; i++) {
        s[i].r = ukvm_trace_reader_open(s[i].path, s[i].err, sizeof s[i].err);
        if (!s[i].r) {
            snprintf(err, errlen, "diff: %s (%s): %s", s[i].name, s[i].path, s[i].err);
            goto out;
        }
    }
    if (compare_headers(s, err, errlen))
        ret = compare(s, o, err, errlen);
out:
    for (int i = 0; i < 2; i++)
        if (s[i].r)
            ukvm_trace_reader_close(s[i].r);
    return ret;
}

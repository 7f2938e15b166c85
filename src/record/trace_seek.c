/*
 * The trace reader's random access (include/ukvm/trace.h): the frame index
 * built on first use (summary, goto by event number), and positions
 * (tell, seek) to come back to a moment already read.
 */
#include <stdio.h>
#include <string.h>

#include "trace_reader.h"
#include "ukvm/lower_bound.h"

/* ---- the frame index: summary and goto ---- */

static int need_index(struct ukvm_trace_reader *r, char *err, size_t errlen)
{
    if (r->ix_state == 0) {
        r->ix_state = trace_index_build(&r->ix, &r->in, r->dctx, r->events_start, &r->ix_buf,
                &r->ix_cap, r->ix_err, sizeof r->ix_err) < 0 ? -1 : 1;
        /* the scratch frame is not needed again unless goto looks up frames */
    }
    if (r->ix_state < 0) {
        snprintf(err, errlen, "%s", r->ix_err);
        return -1;
    }
    return 0;
}

int ukvm_trace_reader_summary(struct ukvm_trace_reader *r, struct ukvm_trace_summary *out,
        char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (need_index(r, err, errlen) < 0)
        return -1;
    out->end = r->ix.end;
    out->frames = r->ix.n;
    out->has_kinds = r->ix.has_kinds;
    memcpy(out->kinds, r->ix.kinds, sizeof out->kinds);
    out->header_bytes = r->hdr_csize;
    out->file_bytes = r->in.len;
    return 0;
}

int ukvm_trace_reader_goto(struct ukvm_trace_reader *r, uint64_t n, char *err, size_t errlen)
{
    if (r->state == ST_ERR)
        return trace_reader_set_err(r, err, errlen, "%s", r->errmsg);
    if (need_index(r, err, errlen) < 0)
        return -1;
    size_t lo = 0, hi = r->ix.n;
    uint64_t first = 0;
    /* the last frame whose first event is <= n */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t f;
        if (trace_index_first_event(&r->ix, mid, &r->in, r->dctx, &r->ix_buf, &r->ix_cap, &f,
                    err, errlen) < 0)
            return trace_reader_set_err(r, err, errlen, "%s", err);
        if (f <= n)
            lo = mid;
        else
            hi = mid;
    }
    r->fr_loaded = false;
    if (r->ix.n) {
        r->fr_off = r->ix.f[lo].off;
        first = r->ix.f[lo].first_event;
        r->jumped = r->jumped || lo > 0 || r->n_fk > 0;
    } else {
        r->fr_off = r->events_start;
    }
    r->evno = first;
    memset(&r->d, 0, sizeof r->d);
    r->state = ST_READING;
    struct ukvm_event ev;
    while (r->evno < n) {
        int rc = ukvm_trace_reader_next(r, &ev, err, errlen);
        if (rc <= 0)
            return rc;
    }
    return 0;
}

/* ---- positions ---- */

enum { POS_OFF, POS_INNER, POS_EVNO, POS_RIP, POS_TSC, POS_WALL, POS_ID, POS_STATE };
#define POS_NOT_LOADED UINT64_MAX

void ukvm_trace_reader_tell(const struct ukvm_trace_reader *r, struct ukvm_trace_pos *pos)
{
    uint64_t *o = pos->opaque;
    o[POS_OFF] = r->fr_off;
    o[POS_INNER] = r->fr_loaded ? r->buf_pos : POS_NOT_LOADED;
    o[POS_EVNO] = r->evno;
    o[POS_RIP] = r->d.rip;
    o[POS_TSC] = r->d.tsc;
    o[POS_WALL] = r->d.wall;
    o[POS_ID] = r->id;
    o[POS_STATE] = r->state == ST_END ? ST_END : ST_READING;
}

static const struct frame_known *find_frame(const struct ukvm_trace_reader *r, uint64_t off)
{
    size_t i = UKVM_LOWER_BOUND(r->fk, r->n_fk, off, off);
    if (i < r->n_fk && r->fk[i].off == off)
        return &r->fk[i];
    return NULL;
}

int ukvm_trace_reader_seek(struct ukvm_trace_reader *r, const struct ukvm_trace_pos *pos)
{
    const uint64_t *o = pos->opaque;
    if (o[POS_ID] != r->id)
        return -1;
    if (o[POS_STATE] == ST_END) {
        if (!r->end.complete)
            return -1;
        r->state = ST_END;
        r->evno = r->end.events;
        return 0;
    }
    if (o[POS_STATE] != ST_READING)
        return -1;
    uint64_t off = o[POS_OFF];
    if (o[POS_INNER] == POS_NOT_LOADED) {
        /* between frames: the header's end, a known frame, or just after one */
        bool ok = off == r->events_start;
        const struct frame_known *f = find_frame(r, off);
        if (f && f->first_event == o[POS_EVNO])
            ok = true;
        for (size_t i = 0; !ok && i < r->n_fk; i++)
            ok = r->fk[i].off + r->fk[i].csize == off;
        if (!ok || off > r->in.len)
            return -1;
        r->fr_loaded = false;
        r->fr_off = (size_t)off;
    } else {
        const struct frame_known *f = find_frame(r, off);
        if (!f || o[POS_EVNO] < f->first_event)
            return -1;
        if (!r->fr_loaded || r->fr_off != off) {
            /* The frame decoded before, so this fails only if the file
             * changed under us; the reader is then unusable. */
            struct first_rec fr;
            if (trace_reader_load_frame(r, (size_t)off, NULL, 0) != 1 ||
                    trace_reader_frame_start(r, &fr, NULL, 0) < 0 || fr.tag != TAG_FRAME) {
                r->fr_loaded = false;
                trace_reader_set_err(r, NULL, 0, "seek: the trace frame at byte %llu no longer decodes",
                        (unsigned long long)off);
                return -1;
            }
        }
        if (o[POS_INNER] < r->frame_rec_len || o[POS_INNER] > r->buf_len)
            return -1;
        r->buf_pos = (size_t)o[POS_INNER];
    }
    r->evno = o[POS_EVNO];
    r->d.rip = o[POS_RIP];
    r->d.tsc = o[POS_TSC];
    r->d.wall = o[POS_WALL];
    r->state = ST_READING;
    return 0;
}

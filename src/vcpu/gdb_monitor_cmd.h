/*
 * ukvm's `monitor` commands (gdb's `monitor CMD`): parsing a command line
 * into a request, the help text, and where a `goto` lands. Knows nothing of
 * the remote protocol nor of KVM: the targets act on the parsed request.
 */
#ifndef UKVM_GDB_MONITOR_CMD_H
#define UKVM_GDB_MONITOR_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ukvm/outbuf.h"
#include "ukvm/target.h"

enum mon_verb {
    MON_HELP,
    MON_WHEN,
    MON_GOTO,
    MON_BOOKMARK,       /* name: given, or empty for a generated one */
    MON_BOOKMARKS,
    MON_DELETE,
    MON_EVENTS,
    MON_DIVERSION,      /* n: 0 = status, 1 = end it */
};

enum mon_where {
    WHERE_EVENT,        /* n */
    WHERE_START,
    WHERE_END,
    WHERE_FORWARD,      /* +n events */
    WHERE_BACK,         /* -n events */
    WHERE_BOOKMARK,     /* name */
};

#define MON_NAME_MAX 32
_Static_assert(UKVM_POSITION_NAME_MAX == MON_NAME_MAX, "a position names any bookmark");
/* `monitor events` shows at most this many. */
#define MON_EVENTS_MAX 1000
#define MON_EVENTS_DEFAULT 5

struct monitor_cmd {
    enum mon_verb verb;
    enum mon_where where;   /* MON_GOTO */
    uint64_t n;             /* the event, or the distance */
    int64_t count;          /* MON_EVENTS: > 0 next, < 0 previous */
    char name[MON_NAME_MAX + 1];
};

/* Parses one command line. 0, or -1 with a one-line message. */
int monitor_cmd_parse(const char *line, struct monitor_cmd *c, char *err, size_t errlen);

/* Is `name` usable as a bookmark's name (a letter or '_' first, then
 * letters, digits, '_', '-', '.'; not start or end)? */
bool monitor_bookmark_name_ok(const char *name);
/* One place, as `goto` takes it (an event number, start, end, +N, -N or a
 * bookmark's name): also gdb's `run ARG` and `--goto=ARG`. 0, or -1 with a
 * one-line message (no "ukvm: "). */
int monitor_parse_place(const char *word, struct ukvm_position *pos, char *err, size_t errlen);

/* The event a goto to an event, start, end, +n or -n means, from a position
 * whose next event is `next`, in a trace whose end (trace_nav_end_event)
 * is `end`. 0 with *event set, or -1 with a message. */
int monitor_goto_event(const struct monitor_cmd *c, uint64_t next, uint64_t end,
        uint64_t *event, char *err, size_t errlen);

extern const char monitor_help_text[];

/* The start every monitor op shares: parse `line` into *c. -1: the parse
 * failed, its "ukvm: " line is on out; 1: it was help, printed on out;
 * 0: *c is a command for the caller to carry out. */
int monitor_cmd_read(const char *line, struct monitor_cmd *c, struct ukvm_outbuf *out);

/* The monitor op of a live run: help, and a clear no for the rest. */
int monitor_cmd_live(struct ukvm_target *t, const char *line, struct ukvm_outbuf *out);

#endif

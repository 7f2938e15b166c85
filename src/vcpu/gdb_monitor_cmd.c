/* Parsing ukvm's `monitor` commands (see gdb_monitor_cmd.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcpu/gdb_monitor_cmd.h"

const char monitor_help_text[] =
    "ukvm monitor commands (replay):\n"
    "  monitor when              where the replay is: the next event, instructions since\n"
    "                            the last one (when known), the guest's clock, share behind\n"
    "  monitor goto EVENT        go to just before event EVENT (forwards or backwards)\n"
    "  monitor goto start|end    the start of the trace; the stop before the final halt\n"
    "  monitor goto +N|-N        N events forwards or backwards\n"
    "  monitor goto NAME         a bookmark\n"
    "  monitor bookmark [NAME]   name the current position\n"
    "  monitor bookmarks         list the bookmarks with their positions\n"
    "  monitor delete NAME       forget a bookmark\n"
    "  monitor events [N|-N]     the next (or previous) N events, as ukvm-trace dump\n"
    "  monitor diversion [end]   whether gdb's writes diverted the replay; end: back to\n"
    "                            the recording (as a reverse command or goto does)\n"
    "  monitor help              this text\n"
    "After a plain `monitor goto`, run `maintenance flush register-cache` (or use the\n"
    "extension's ukvm-goto, which does it) so that gdb reads registers and memory again.\n";

/* Splits off the next word (spaces separate words). */
static const char *next_word(const char *p, char *word, size_t len, bool *too_long)
{
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = 0;
    *too_long = false;
    while (*p && *p != ' ' && *p != '\t') {
        if (n + 1 < len)
            word[n++] = *p;
        else
            *too_long = true;
        p++;
    }
    word[n] = 0;
    return p;
}

/* A decimal number with nothing after it. */
static bool parse_u64(const char *s, uint64_t *v)
{
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

bool monitor_bookmark_name_ok(const char *name)
{
    if (!(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return false;
    if (strlen(name) > MON_NAME_MAX || !strcmp(name, "start") || !strcmp(name, "end"))
        return false;
    for (const char *p = name; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

int monitor_parse_place(const char *word, struct ukvm_position *pos, char *err, size_t errlen)
{
    memset(pos, 0, sizeof(*pos));
    if (!*word) {
        snprintf(err, errlen, "no place given: EVENT, start, end, +N, -N or a bookmark");
        return -1;
    }
    if (!strcmp(word, "start")) {
        pos->where = UKVM_AT_START;
        return 0;
    }
    if (!strcmp(word, "end")) {
        pos->where = UKVM_AT_END;
        return 0;
    }
    if (word[0] == '+' || word[0] == '-') {
        if (!parse_u64(word + 1, &pos->n)) {
            snprintf(err, errlen, "'%.40s' is not +N or -N (a number of events)", word);
            return -1;
        }
        pos->where = word[0] == '+' ? UKVM_AT_FORWARD : UKVM_AT_BACK;
        return 0;
    }
    if (isdigit((unsigned char)word[0])) {
        if (!parse_u64(word, &pos->n)) {
            snprintf(err, errlen, "'%.40s' is not an event number", word);
            return -1;
        }
        pos->where = UKVM_AT_EVENT;
        return 0;
    }
    if (!monitor_bookmark_name_ok(word)) {
        snprintf(err, errlen, "'%.40s' is not an event number, start, end, +N, -N or "
                "a bookmark name", word);
        return -1;
    }
    pos->where = UKVM_AT_BOOKMARK;
    snprintf(pos->name, sizeof(pos->name), "%s", word);
    return 0;
}

static int parse_where(const char *arg, struct monitor_cmd *c, char *err, size_t errlen)
{
    if (!*arg) {
        snprintf(err, errlen, "goto needs a place: EVENT, start, end, +N, -N or a bookmark");
        return -1;
    }
    struct ukvm_position pos;
    char why[160];
    if (monitor_parse_place(arg, &pos, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "goto: %s", why);
        return -1;
    }
    static const enum mon_where from[] = {
        [UKVM_AT_START] = WHERE_START, [UKVM_AT_END] = WHERE_END,
        [UKVM_AT_EVENT] = WHERE_EVENT, [UKVM_AT_FORWARD] = WHERE_FORWARD,
        [UKVM_AT_BACK] = WHERE_BACK, [UKVM_AT_BOOKMARK] = WHERE_BOOKMARK,
    };
    c->where = from[pos.where];
    c->n = pos.n;
    snprintf(c->name, sizeof(c->name), "%s", pos.name);
    return 0;
}

int monitor_cmd_parse(const char *line, struct monitor_cmd *c, char *err, size_t errlen)
{
    char verb[16], arg[MON_NAME_MAX + 8], extra[8];
    bool long1, long2, long3;
    memset(c, 0, sizeof(*c));
    const char *p = next_word(line, verb, sizeof(verb), &long1);
    p = next_word(p, arg, sizeof(arg), &long2);
    next_word(p, extra, sizeof(extra), &long3);
    if (!verb[0] || !strcmp(verb, "help")) {
        c->verb = MON_HELP;
        return 0;
    }
    struct { const char *name; enum mon_verb verb; int args; /* 0 none, 1 optional, 2 one */ }
    const table[] = {
        { "when", MON_WHEN, 0 }, { "goto", MON_GOTO, 2 }, { "bookmark", MON_BOOKMARK, 1 },
        { "bookmarks", MON_BOOKMARKS, 0 }, { "delete", MON_DELETE, 2 },
        { "events", MON_EVENTS, 1 }, { "diversion", MON_DIVERSION, 1 },
    };
    size_t i;
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (!long1 && !strcmp(verb, table[i].name))
            break;
    if (i == sizeof(table) / sizeof(table[0])) {
        snprintf(err, errlen, "unknown monitor command '%.40s' (try 'monitor help')", line);
        return -1;
    }
    c->verb = table[i].verb;
    if (extra[0] || (table[i].args == 0 && arg[0])) {
        snprintf(err, errlen, "%s: too many arguments (try 'monitor help')", table[i].name);
        return -1;
    }
    if (table[i].args == 2 && !arg[0]) {
        snprintf(err, errlen, "%s needs an argument (try 'monitor help')", table[i].name);
        return -1;
    }
    if (long2) {
        snprintf(err, errlen, "%s: argument too long", table[i].name);
        return -1;
    }
    switch (c->verb) {
    case MON_GOTO:
        return parse_where(arg, c, err, errlen);
    case MON_BOOKMARK:
    case MON_DELETE:
        if (arg[0] && !monitor_bookmark_name_ok(arg)) {
            snprintf(err, errlen, "%s: '%s' is not a bookmark name (a letter first, then "
                    "letters, digits, _ - .; at most %d; not start or end)", table[i].name,
                    arg, MON_NAME_MAX);
            return -1;
        }
        snprintf(c->name, sizeof(c->name), "%.*s", MON_NAME_MAX, arg);
        return 0;
    case MON_DIVERSION:
        if (arg[0] && strcmp(arg, "end")) {
            snprintf(err, errlen, "diversion: '%s' is not 'end' (try 'monitor help')", arg);
            return -1;
        }
        c->n = arg[0] != 0;
        return 0;
    case MON_EVENTS: {
        c->count = MON_EVENTS_DEFAULT;
        if (!arg[0])
            return 0;
        uint64_t n;
        bool back = arg[0] == '-';
        const char *num = arg + (arg[0] == '-' || arg[0] == '+');
        if (!parse_u64(num, &n) || n == 0 || n > MON_EVENTS_MAX) {
            snprintf(err, errlen, "events: '%s' is not a count from 1 to %d (or -1 to -%d)",
                    arg, MON_EVENTS_MAX, MON_EVENTS_MAX);
            return -1;
        }
        c->count = back ? -(int64_t)n : (int64_t)n;
        return 0;
    }
    default:
        return 0;
    }
}

int monitor_goto_event(const struct monitor_cmd *c, uint64_t next, uint64_t end,
        uint64_t *event, char *err, size_t errlen)
{
    switch (c->where) {
    case WHERE_START:
        *event = 0;
        return 0;
    case WHERE_END:
        *event = end;
        return 0;
    case WHERE_EVENT:
        *event = c->n;
        break;
    case WHERE_FORWARD:
        if (c->n > end - (next < end ? next : end)) {
            snprintf(err, errlen, "goto +%" PRIu64 ": only %" PRIu64 " events to the end "
                    "(event %" PRIu64 ")", c->n, next < end ? end - next : 0, end);
            return -1;
        }
        *event = next + c->n;
        return 0;
    case WHERE_BACK:
        if (c->n > next) {
            snprintf(err, errlen, "goto -%" PRIu64 ": only %" PRIu64 " events since the start",
                    c->n, next);
            return -1;
        }
        *event = next - c->n;
        return 0;
    default:
        snprintf(err, errlen, "goto: not an event");
        return -1;
    }
    if (*event > end) {
        snprintf(err, errlen, "goto %" PRIu64 ": the trace ends at event %" PRIu64
                " ('goto end')", *event, end);
        return -1;
    }
    return 0;
}

int monitor_cmd_read(const char *line, struct monitor_cmd *c, struct ukvm_outbuf *out)
{
    char err[200];
    if (monitor_cmd_parse(line, c, err, sizeof(err)) < 0) {
        ukvm_outbuf_printf(out, "ukvm: %s\n", err);
        return -1;
    }
    if (c->verb == MON_HELP) {
        ukvm_outbuf_printf(out, "%s", monitor_help_text);
        return 1;
    }
    return 0;
}

int monitor_cmd_live(struct ukvm_target *t, const char *line, struct ukvm_outbuf *out)
{
    (void)t;
    struct monitor_cmd c;
    int r = monitor_cmd_read(line, &c, out);
    if (r < 0)
        return -1;
    if (r > 0) {
        ukvm_outbuf_printf(out, "This is a live run (ukvm run --gdb): only help works here; "
                "record it and use ukvm replay --gdb to move in time.\n");
        return 0;
    }
    ukvm_outbuf_printf(out, "ukvm: monitor %.40s works only in replay (ukvm replay --gdb); "
            "this is a live run\n", line);
    return -1;
}

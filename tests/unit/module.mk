# cmocka unit tests: every tests/unit/test_*.c is one binary, built with
# AddressSanitizer and UndefinedBehaviorSanitizer against the library.
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)

.PHONY: unit-tests
unit-tests: $(UNIT_BINS)

$(BUILD)/unit/%: tests/unit/%.c $(BUILD)/libukvm-san.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -o $@ $< $(BUILD)/libukvm-san.a -lcmocka $(LIBS)

# The replay timeline over a fake engine: the real replay objects and
# tests/unit/fake_engine.c (with the oracle's forward log, fake_log.c),
# without the library, so that a function the timeline calls and the fake
# lacks fails the link instead of coming in from libukvm.
TIMELINE_OBJS := $(addprefix $(BUILD)/san/src/replay/,replay_timeline.o replay_reverse.o \
                 replay_target.o thinning.o) $(BUILD)/san/src/monitor/outbuf.o
FAKE_SRCS := tests/unit/fake_engine.c tests/unit/fake_log.c
FAKE_HDRS := tests/unit/fake_engine.h tests/unit/fake_log.h

# test_timeline.c: stepping and continuing both ways; test_timeline_points.c:
# conditional breakpoints, read and access watchpoints, overlapping points.
$(BUILD)/unit/test_timeline $(BUILD)/unit/test_timeline_points: $(BUILD)/unit/%: \
		tests/unit/%.c $(FAKE_SRCS) $(FAKE_HDRS) $(TIMELINE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -o $@ $< $(FAKE_SRCS) $(TIMELINE_OBJS) -lcmocka

# The navigation by event (replay_nav.c) over the same fake engine, with
# the real monitor-command parser and event printing; tests/unit/fake_nav.c
# fakes the trace index (test_nav.c).
NAV_OBJS := $(TIMELINE_OBJS) $(BUILD)/san/src/replay/replay_nav.o \
            $(BUILD)/san/src/vcpu/gdb_monitor_cmd.o $(BUILD)/san/src/record/event_format.o \
            $(BUILD)/san/src/monitor/digest.o

$(BUILD)/unit/test_nav: tests/unit/test_nav.c tests/unit/fake_nav.c tests/unit/fake_nav.h \
		$(FAKE_SRCS) $(FAKE_HDRS) $(NAV_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -o $@ tests/unit/test_nav.c tests/unit/fake_nav.c \
		$(FAKE_SRCS) $(NAV_OBJS) -lcmocka

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
# tests/unit/fake_engine.c, without the library, so that a function the
# timeline calls and the fake lacks fails the link instead of coming in
# from libukvm (test_timeline.c).
TIMELINE_OBJS := $(addprefix $(BUILD)/san/src/replay/,replay_timeline.o replay_reverse.o \
                 replay_target.o thinning.o) $(BUILD)/san/src/monitor/outbuf.o

$(BUILD)/unit/test_timeline: tests/unit/test_timeline.c tests/unit/fake_engine.c \
		tests/unit/fake_engine.h $(TIMELINE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -o $@ tests/unit/test_timeline.c \
		tests/unit/fake_engine.c $(TIMELINE_OBJS) -lcmocka

# The navigation by event (replay_nav.c) over the same fake engine, with
# the real monitor-command parser and event printing; tests/unit/fake_nav.c
# fakes the trace index (test_nav.c).
NAV_OBJS := $(TIMELINE_OBJS) $(BUILD)/san/src/replay/replay_nav.o \
            $(BUILD)/san/src/vcpu/gdb_monitor_cmd.o $(BUILD)/san/src/record/event_format.o \
            $(BUILD)/san/src/monitor/digest.o

$(BUILD)/unit/test_nav: tests/unit/test_nav.c tests/unit/fake_nav.c tests/unit/fake_nav.h \
		tests/unit/fake_engine.c tests/unit/fake_engine.h $(NAV_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -o $@ tests/unit/test_nav.c tests/unit/fake_nav.c \
		tests/unit/fake_engine.c $(NAV_OBJS) -lcmocka

# Conditional breakpoints, read and access watchpoints and overlapping
# points on the same timeline objects and fake engine (test_timeline_points.c).
$(BUILD)/unit/test_timeline_points: tests/unit/test_timeline_points.c tests/unit/fake_engine.c \
		tests/unit/fake_engine.h $(TIMELINE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -o $@ tests/unit/test_timeline_points.c \
		tests/unit/fake_engine.c $(TIMELINE_OBJS) -lcmocka

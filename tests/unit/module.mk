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
                 replay_target.o thinning.o)

$(BUILD)/unit/test_timeline: tests/unit/test_timeline.c tests/unit/fake_engine.c \
		tests/unit/fake_engine.h $(TIMELINE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -o $@ tests/unit/test_timeline.c \
		tests/unit/fake_engine.c $(TIMELINE_OBJS) -lcmocka

# cmocka unit tests: every tests/unit/test_*.c is one binary, built with
# AddressSanitizer and UndefinedBehaviorSanitizer against the library.
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)

.PHONY: unit-tests
unit-tests: $(UNIT_BINS)

$(BUILD)/unit/%: tests/unit/%.c $(BUILD)/libukvm-san.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -o $@ $< $(BUILD)/libukvm-san.a -lcmocka $(LIBS)

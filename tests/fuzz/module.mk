# libFuzzer targets (clang): every tests/fuzz/fuzz_*.c is one binary, linked
# with the library sources compiled by clang. Built by `make fuzzers`, run for
# a bounded time by the test suite.
FUZZ_CC    ?= clang
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

.PHONY: fuzzers
fuzzers: $(FUZZ_BINS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) $(WARN) -Wno-unused-command-line-argument -o $@ $< $(LIB_SRCS) $(LIBS)

# The seed corpus of fuzz_fpu_complete is written by a script.
.PHONY: fuzz-seeds
fuzz-seeds:
	python3 tests/fuzz/fpu_seeds.py tests/fuzz/corpus/fpu_complete

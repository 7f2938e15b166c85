# libFuzzer targets (clang): every tests/fuzz/fuzz_*.c is one binary, linked
# with the library sources compiled once by clang with the fuzzer's
# instrumentation (build/fuzzobj/). Built by `make fuzzers`, run for a
# bounded time by the test suite (tests/fuzz/run-fuzz.sh).
FUZZ_CC    ?= clang
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SAN   := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_FLAGS := $(FUZZ_SAN) -fsanitize=fuzzer
FUZZ_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/fuzzobj/%.o)

.PHONY: fuzzers
fuzzers: $(FUZZ_BINS)
# named outside the pattern rule, so make neither skips nor deletes them
$(FUZZ_BINS): $(FUZZ_OBJS)

# -fsanitize=fuzzer-no-link: instrumented, but no libFuzzer main in the objects
$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(WARN) -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) $(WARN) -Wno-unused-command-line-argument -o $@ $< \
		$(FUZZ_OBJS) $(LIBS)

# `make fuzz`: every fuzzer for FUZZ_SECONDS (default ten minutes) each,
# growing its corpus in build/fuzz-work/. `make test` runs them for 30 s.
FUZZ_SECONDS ?= 600
.PHONY: fuzz
fuzz: fuzzers guests
	@FUZZ_KEEP=1 FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run-fuzz.sh

# The seed corpus of fuzz_fpu_complete is written by a script.
.PHONY: fuzz-seeds
fuzz-seeds:
	python3 tests/fuzz/fpu_seeds.py tests/fuzz/corpus/fpu_complete

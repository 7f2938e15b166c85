# ukvm: plain GNU make. `make` builds everything, `make test` runs the suite,
# `make check` runs both test targets (what CI runs), `make bench` prints the
# benchmark figures.
#
# Each part of the tree owns a fragment (module.mk) that appends its sources to
# the lists below; this file only knows how to compile and link.

CC       ?= gcc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror
CPPFLAGS += -Iinclude -Isrc -D_GNU_SOURCE
# libelf and libzstd linked statically: every shared library costs each start
# its loading and relocation (0.15 ms for these two on the development KVM;
# docs/benchmarks.md, start-up). libZydis has no static archive in Debian.
LIBS     := -Wl,-Bstatic -lelf -lzstd -lz -Wl,-Bdynamic -lZydis -lpthread
BUILD    := build
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Library sources (everything but the CLIs' main functions); fragments append.
LIB_SRCS :=
# Programs: each fragment appends its program name to PROGRAMS and defines
# <name>_SRCS with its main file(s).
PROGRAMS :=

include src/cli/module.mk
include src/monitor/module.mk
include src/record/module.mk
include src/vcpu/module.mk
include src/replay/module.mk
include src/rsp/module.mk
include tools/module.mk
include tests/guests/module.mk
include tests/unit/module.mk
include tests/fuzz/module.mk
include tools/install.mk

LIB_OBJS     := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_SAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)

.DEFAULT_GOAL := all
.PHONY: all test test-vm check bench clean
all: $(PROGRAMS) guests unit-tests

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -MMD -MP -c -o $@ $<

$(BUILD)/libukvm.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libukvm-san.a: $(LIB_SAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Programs are linked at the top of the tree (./ukvm, tools/ukvm-trace).
define program_rule
$(1): $$($(notdir $(1))_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/libukvm.a
	$$(CC) $$(CFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

test: all fuzzers
	@bash tests/run-tests.sh

# The KVM tests again, on a standard KVM (kvm_amd with nested paging) inside a
# QEMU virtual machine under software emulation: works with or without
# /dev/kvm on this machine (tests/vm/run-vm.sh).
test-vm: all
	@bash tests/vm/run-vm.sh bash tests/run-tests.sh integration

# Both, as CI runs them (.ci/run): `make test`, then `make test-vm` even where
# this machine has a /dev/kvm, with each part's summary and their total.
check: all fuzzers
	@bash tests/check.sh

bench: all
	@bash tests/bench/run-bench.sh

clean:
	rm -rf $(BUILD) $(PROGRAMS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

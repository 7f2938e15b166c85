# Freestanding test unikernels, built with the system gcc and no Solo5 code.
# `make guests` builds build/guests/NAME.elf for every NAME in GUESTS, from
# tests/guests/NAME.c and the shared runtime in tests/guests/rt/.
GUESTS := hello time blk net compute abort fault nullptr badcall loop clockstorm hypercalls sse udpsvc \
          condloop det_cpuid det_rdtsc_gen det_bigread fpu_hostile ckpt_dirty traps exceptions flags \
          dumpcore sse_cost clocks
.PHONY: guests
guests: $(GUESTS:%=$(BUILD)/guests/%.elf)

GUEST_SRC     := tests/guests
GUEST_OUT     := $(BUILD)/guests
GUEST_LDS     := $(GUEST_SRC)/rt/guest.ld
GUEST_RT_OBJS := $(GUEST_OUT)/rt/start.o $(GUEST_OUT)/rt/rt.o
GUEST_OPT     := -O2
GUEST_CFLAGS   = -ffreestanding -nostdlib -fno-pic -no-pie -mno-red-zone \
                 -fno-stack-protector -fcf-protection=none -mgeneral-regs-only \
                 -fno-asynchronous-unwind-tables -fno-unwind-tables \
                 -fno-tree-loop-distribute-patterns -fno-omit-frame-pointer \
                 $(GUEST_OPT) -g -Wall -Wextra -Werror \
                 -Iinclude -I$(GUEST_SRC)/rt
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,$(GUEST_LDS) \
                 -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none \
                 -Wl,-z,noexecstack

# compute is for debugger tests: less optimisation, frame pointers.
$(GUEST_OUT)/compute.o: GUEST_OPT := -O1

# sse is built the way Solo5's toolchain builds unikernels: SSE allowed.
$(GUEST_OUT)/sse.o: GUEST_CFLAGS := $(filter-out -mgeneral-regs-only,$(GUEST_CFLAGS)) -msse2 -O2 -fno-math-errno

# sse_cost times SSE instructions (inline asm) and the conversion of its result.
$(GUEST_OUT)/sse_cost.o: GUEST_CFLAGS := $(filter-out -mgeneral-regs-only,$(GUEST_CFLAGS)) -msse2

# fpu_hostile runs chosen x87/SSE instructions (inline asm): SSE allowed.
$(GUEST_OUT)/fpu_hostile.o: GUEST_CFLAGS := $(filter-out -mgeneral-regs-only,$(GUEST_CFLAGS)) -msse2

$(GUEST_OUT)/%.o: $(GUEST_SRC)/%.c $(GUEST_SRC)/module.mk
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<

$(GUEST_OUT)/%.o: $(GUEST_SRC)/%.S $(GUEST_SRC)/module.mk
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<

$(GUEST_OUT)/%.elf: $(GUEST_OUT)/%.o $(GUEST_RT_OBJS) $(GUEST_LDS)
	$(CC) $(GUEST_LDFLAGS) -o $@ $(GUEST_RT_OBJS) $<

# Keep the objects (they are intermediate files of the pattern chain).
.SECONDARY: $(GUESTS:%=$(GUEST_OUT)/%.o) $(GUEST_RT_OBJS)

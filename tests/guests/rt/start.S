/*
 * Guest entry point. The monitor starts us in 64-bit mode with
 *   rdi = address of struct hvt_boot_info (0x10000)
 *   rsp = guest memory size - 8
 * We align the stack, clear .bss and hand over to rt_main() (rt.c), which
 * calls main() and halts with its return value. rt_main never returns.
 */
    .section .text.boot, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    cld
    andq    $-16, %rsp          /* 16-byte aligned before the call */
    xorl    %ebp, %ebp          /* end of the frame-pointer chain */
    movq    %rdi, %r12          /* keep the boot info across the clear */

    leaq    __bss_start(%rip), %rdi
    leaq    __bss_end(%rip), %rcx
    subq    %rdi, %rcx
    xorl    %eax, %eax
    rep stosb

    movq    %r12, %rdi
    call    rt_main
1:  jmp     1b                  /* not reached */
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits

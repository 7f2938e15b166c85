/* abort: prints a message and halts with status 255 (Solo5's abort). */
#include "rt.h"

RT_MANIFEST(0);

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    puts("abort: halting with status 255\n");
    hc_halt(255);
}

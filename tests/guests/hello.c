/* hello: prints "Hello, world! args: <cmdline>" and exits 0. */
#include "rt.h"

RT_MANIFEST(0);

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    printf("Hello, world! args: %s\n", cmdline());
    return 0;
}

/* Finding ukvm's gdb extension from the running ukvm binary. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/gdb_extension.h"

const char *gdb_extension_path(void)
{
    static char found[PATH_MAX];
    const char *env = getenv("UKVM_GDB_EXTENSION");
    if (env && *env)
        return access(env, R_OK) == 0 && realpath(env, found) ? found : NULL;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = 0;                                 /* the binary's directory */
    static const char *const rel[] = { "tools/gdb/ukvm.py", "../share/ukvm/gdb/ukvm.py" };
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s", exe, rel[i]);
        if (access(path, R_OK) == 0 && realpath(path, found))
            return found;
    }
    return NULL;
}

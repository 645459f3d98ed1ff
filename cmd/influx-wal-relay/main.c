/* influx-wal-relay: the daemon. Flags, config, wiring; the work is in relay/, wal/, replay/. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("influx-wal-relay %s\n", IWR_VERSION);
            return 0;
        }
    }
    printf("usage: influx-wal-relay [--config FILE] [--version]\n");
    return 0;
}

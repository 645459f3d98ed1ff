/* influx-wal: the operator's CLI over a log directory. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("influx-wal %s\n", IWR_VERSION);
            return 0;
        }
    }
    printf("usage: influx-wal COMMAND [--data-dir DIR]\n");
    return 0;
}

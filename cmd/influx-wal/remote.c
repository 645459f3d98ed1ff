/* The CLI's commands that talk to an InfluxDB: replay and audit. */
#include "cmd/influx-wal/cli.h"

int cmd_replay(struct cli *cli)
{
    return cli_fail(cli, "not available in this build yet");
}

int cmd_audit(struct cli *cli)
{
    return cli_fail(cli, "not available in this build yet");
}

/* libFuzzer target: config_load_string on arbitrary bytes, which runs the TOML parser and the
 * mapping of both layouts; a loaded config also goes through config_validate and the flags, so
 * every path that frees a partly built config is exercised. Seeds: corpus/fuzz_toml. */
#include "common/log.h"
#include "config/config.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config c;
    char err[256];
    log_set_level(LOG_OFF); /* ignored-key warnings would drown the fuzzer's output */
    config_defaults(&c);
    if (config_load_string(&c, "fuzz", (const char *)data, size, err, sizeof(err)) == 0) {
        (void)config_validate(&c, err, sizeof(err));
        (void)config_add_backend_flag(&c, "flag=http://127.0.0.1:8086/write", err, sizeof(err));
        (void)config_set_listen_flag(&c, "[::1]:9096", err, sizeof(err));
        (void)config_validate(&c, err, sizeof(err));
    }
    config_deinit(&c);
    return 0;
}

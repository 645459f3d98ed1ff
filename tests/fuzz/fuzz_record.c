/* libFuzzer target: the log's record decoder and the dead-letter decoder must reject any bytes
 * that are not a record they wrote, without reading out of bounds; what decodes must re-encode
 * to the same bytes. */
#include "wal/wal_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t seq;
    memcpy(&seq, data, 8);
    /* Copy so ASan sees the exact bounds of the value, as LMDB would hand it over. */
    unsigned char *v = malloc(size - 8 ? size - 8 : 1);
    memcpy(v, data + 8, size - 8);
    struct wal_record rec;
    if (wal_record_decode(v, size - 8, seq, &rec) == 0) {
        size_t len = 0;
        char *again = wal_record_encode(&rec, seq, &len);
        if (again == NULL || len != size - 8 || memcmp(again, v, len) != 0)
            abort();
        free(again);
    }
    /* The same bytes as a dead letter under a key built from the first byte. */
    unsigned char key[WAL_NAME_MAX + 9];
    size_t klen = 10 + (size_t)(data[0] % (WAL_NAME_MAX - 1));
    memset(key, 'k', klen);
    key[klen - 9] = '\0';
    MDB_val k = {klen, key}, d = {size - 8, v};
    struct wal_dead_letter dl;
    if (wal_dead_decode(&k, &d, &dl) == 0 && dl.answer + dl.answer_len > (char *)v + size - 8)
        abort();
    free(v);
    return 0;
}

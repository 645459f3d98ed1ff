#!/usr/bin/python3
"""Writes the seed corpus of tests/fuzz/fuzz_promwrite.c into tests/fuzz/corpus/fuzz_promwrite:
remote write requests built by tests/integ/harness.py (as Prometheus sends them, and some that
influxd refuses), each seed one mode byte (bound, snappy or raw protobuf) then the bytes."""
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "integ"))
import harness as h  # noqa: E402

OUT = os.path.join(HERE, "..", "fuzz", "corpus", "fuzz_promwrite")
SNAPPY_1MIB, RAW = 3, 4 | 3


def main():
    os.makedirs(OUT, exist_ok=True)
    scrape = h.prom_write_request([
        ([("__name__", "up"), ("instance", "127.0.0.1:9090"), ("job", "self")],
         [(1.0, 1700000000000), (1.0, 1700000001000)]),
        ([("__name__", "go_gc_duration_seconds"), ("quantile", "0.5"), ("job", "self")],
         [(2.5e-05, 1700000000000), (math.nan, 1700000001000)]),
        ([("__name__", "http_requests_total"), ("code", "200"), ("handler", "/a b,c=d"), ("empty", "")],
         [(12345678901.0, 1700000000000)]),
        ([("le", "+Inf")], [(0.1, -1)]),
    ])
    seeds = {
        "scrape": bytes([SNAPPY_1MIB]) + h.snappy_block(scrape),
        "scrape_raw": bytes([RAW]) + scrape,
        "metadata_raw": bytes([RAW]) + scrape + h._pb_bytes(3, b"\x08\x01\x12\x02up"),
        "inf_raw": bytes([RAW]) + h.prom_write_request([([("__name__", "x")], [(math.inf, 1)])]),
        "wrong_wire_raw": bytes([RAW]) + b"\x08\x01",
        "group_raw": bytes([RAW]) + b"\x53\x08\x01\x54" + scrape,
        "truncated": bytes([SNAPPY_1MIB]) + h.snappy_block(scrape)[:-5],
        "claim_4g": bytes([SNAPPY_1MIB]) + b"\xff\xff\xff\xff\x0f\x00",
        "small_bound": bytes([1]) + h.snappy_block(scrape),
        "empty": bytes([SNAPPY_1MIB]) + b"\x00",
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

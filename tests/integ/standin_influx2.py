#!/usr/bin/python3
"""A stand-in for the InfluxDB 2.x OSS HTTP API, for tests only (no 2.x server can be
installed here). It follows the InfluxDB OSS v2.7 API reference (API_REFERENCE below), the
parts the relay's v2 backends use:

  GET  /health                        200 {"name":"influxdb","status":"pass",...}
  GET  /ping                          204
  GET  /api/v2/orgs?org=NAME          200 {"orgs":[{"id","name"}]}
  POST /api/v2/buckets                201 the bucket; 422 when the name is taken
  GET  /api/v2/buckets?org=&name=     200 {"buckets":[...]} (empty when none has that name)
  DELETE /api/v2/buckets/ID           204; 404 when there is no such bucket
  POST /api/v2/write?org=&bucket=&precision=   204; 400 invalid line protocol (nothing
       written: 2.x parses the whole batch first); 401; 404 org or bucket not found;
       422 a field type conflict with what the bucket holds
  POST /api/v2/delete?org=&bucket=    204; body {"start","stop"} (RFC 3339, both inclusive) and
       an optional "predicate" (key="value" joined by AND; _measurement names the measurement);
       400 a missing or bad time or predicate; 404 org or bucket not found
  GET  /standin/points                the stand-in's own inspection endpoint (not InfluxDB's)

Authorization: "Token <token>" on everything under /api/v2 (a missing or wrong one: 401
{"code":"unauthorized","message":"unauthorized access"}). Error bodies are 2.x's
{"code": ..., "message": ...}. Each answer names, in EXAMPLE, the reference example its
shape was checked against. Run: standin_influx2.py PORT TOKEN ORG"""

import calendar
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin_common as sc  # noqa: E402

API_REFERENCE = "InfluxDB OSS v2.7 API reference (docs.influxdata.com/influxdb/v2/api/, swagger 2.7)"
EXAMPLE = {
    "health": "GET /health 200 HealthCheck {name, message, status: pass, checks, version}",
    "write_ok": "POST /api/v2/write 204 'Success. No content'",
    "invalid": "POST /api/v2/write 400 LineProtocolError {code: invalid, message}",
    "unauthorized": "POST /api/v2/write 401 Error {code: unauthorized, message: unauthorized access}",
    "not_found": "POST /api/v2/write 404 Error {code: not found, message: bucket \"x\" not found}",
    "conflict": "POST /api/v2/write 422 Error {code: unprocessable entity, message: ...field type conflict}",
    "orgs": "GET /api/v2/orgs 200 Organizations {orgs: [{id, name}]}",
    "bucket_created": "POST /api/v2/buckets 201 Bucket {id, orgID, name}",
    "buckets": "GET /api/v2/buckets 200 Buckets {links, buckets: [{id, orgID, name}]}",
    "bucket_deleted": "DELETE /api/v2/buckets/{bucketID} 204 'Success. The bucket was deleted'",
    "bucket_exists": "POST /api/v2/buckets 422 Error {code: conflict, message: bucket with name x already exists}",
    "deleted": "POST /api/v2/delete 204 'Success. The delete was run.' (DeletePredicateRequest "
               "{start, stop, predicate: _measurement=\"example\" AND tagKey=\"tagValue\"})",
    "delete_invalid": "POST /api/v2/delete 400 Error {code: invalid, message}",
}

RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
PREDICATE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$')


def rfc3339_ns(text):
    m = RFC3339.match(text or "")
    if m is None:
        return None
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    frac = int((m.group(7) or ".0")[1:].ljust(9, "0"))
    off = 0
    if m.group(8) != "Z":
        sign = -1 if m.group(8)[0] == "-" else 1
        off = sign * (int(m.group(8)[1:3]) * 3600 + int(m.group(8)[4:6]) * 60)
    return (calendar.timegm((y, mo, d, h, mi, sec)) - off) * 1000000000 + frac


def parse_predicate(text):
    """key="value" AND ... (the delete predicate syntax without OR, regex or parentheses, which
    2.x refuses); a dict, or None when it does not parse."""
    conds = {}
    if not text or not text.strip():
        return conds
    for part in re.split(r"\s+AND\s+", text.strip()):
        m = PREDICATE.match(part)
        if m is None:
            return None
        conds[m.group(1)] = re.sub(r"\\(.)", r"\1", m.group(2))
    return conds

PRECISION_NS = {"ns": 1, "us": 1000, "ms": 1000000, "s": 1000000000}


def err(status, code, message, example):
    return status, {"X-Standin-Example": EXAMPLE[example]}, {"code": code, "message": message}


class Influx2(sc.StandIn):
    name = "standin-influx2"

    def __init__(self, token, org):
        super().__init__()
        self.token = token
        self.org = {"id": "0000000000000001", "name": org}
        self.buckets = {}  # name -> id
        self.types = {}    # (bucket, measurement, field) -> type

    def authorized(self, headers):
        return headers.get("Authorization", "") == "Token " + self.token

    def handle(self, method, path, params, headers, body):
        if path == "/standin/points":
            return self.inspect()
        if path == "/health":
            return 200, {"X-Standin-Example": EXAMPLE["health"]}, {
                "name": "influxdb", "message": "ready for queries and writes", "status": "pass",
                "checks": [], "version": "v2.7-standin", "commit": "standin"}
        if path == "/ping":
            return 204, {"X-Influxdb-Version": "v2.7-standin"}, b""
        if path.startswith("/api/v2/") and not self.authorized(headers):
            return err(401, "unauthorized", "unauthorized access", "unauthorized")
        if path == "/api/v2/orgs" and method == "GET":
            orgs = [self.org] if params.get("org") in (None, self.org["name"]) else []
            if not orgs:
                return err(404, "not found", "organization name \"%s\" not found" % params.get("org"),
                           "not_found")
            return 200, {"X-Standin-Example": EXAMPLE["orgs"]}, {"orgs": orgs}
        if path == "/api/v2/buckets" and method == "POST":
            doc = json.loads(body or b"{}")
            if doc.get("orgID") != self.org["id"]:
                return err(404, "not found", "organization not found", "not_found")
            name = doc.get("name", "")
            if name in self.buckets:
                return err(422, "conflict", "bucket with name %s already exists" % name,
                           "bucket_exists")
            self.buckets[name] = "%016x" % (len(self.buckets) + 2)
            return 201, {"X-Standin-Example": EXAMPLE["bucket_created"]}, {
                "id": self.buckets[name], "orgID": self.org["id"], "name": name}
        if path == "/api/v2/buckets" and method == "GET":
            found = [{"id": i, "orgID": self.org["id"], "name": n} for n, i in self.buckets.items()
                     if params.get("name") in (None, n)]
            return 200, {"X-Standin-Example": EXAMPLE["buckets"]}, {
                "links": {"self": "/api/v2/buckets"}, "buckets": found}
        if path.startswith("/api/v2/buckets/") and method == "DELETE":
            bid = path[len("/api/v2/buckets/"):]
            names = [n for n, i in self.buckets.items() if i == bid]
            if not names:
                return err(404, "not found", "bucket not found", "not_found")
            del self.buckets[names[0]]
            self.points = {k: p for k, p in self.points.items() if p["where"] != names[0]}
            return 204, {"X-Standin-Example": EXAMPLE["bucket_deleted"]}, b""
        if path == "/api/v2/write" and method == "POST":
            return self.write(params, body)
        if path == "/api/v2/delete" and method == "POST":
            return self.delete(params, body)
        return err(404, "not found", "path not found", "not_found")

    def delete(self, params, body):
        if not params.get("org") and not params.get("orgID"):
            return err(400, "invalid", "Please provide either orgID or org", "delete_invalid")
        if params.get("org", self.org["name"]) != self.org["name"]:
            return err(404, "not found", "organization name \"%s\" not found" % params["org"],
                       "not_found")
        bucket = params.get("bucket", "")
        if bucket not in self.buckets:
            return err(404, "not found", "bucket \"%s\" not found" % bucket, "not_found")
        try:
            doc = json.loads(body or b"")
        except ValueError:
            return err(400, "invalid", "invalid request; error parsing request json",
                       "delete_invalid")
        start, stop = rfc3339_ns(doc.get("start")), rfc3339_ns(doc.get("stop"))
        if start is None or stop is None:
            return err(400, "invalid", "invalid request; error parsing request json: start and "
                       "stop must be RFC3339Nano times", "delete_invalid")
        if start > stop:
            return err(400, "invalid", "invalid request; start time must be before stop time",
                       "delete_invalid")
        conds = parse_predicate(doc.get("predicate", ""))
        if conds is None:
            return err(400, "invalid", "invalid request; the predicate does not parse",
                       "delete_invalid")
        now = time.time_ns()

        def hit(p):
            ts = p["time"] if p["time"] is not None else now
            if p["where"] != bucket or not start <= ts <= stop:
                return False
            for k, v in conds.items():
                have = p["measurement"] if k == "_measurement" else p["tags"].get(k)
                if have != v:
                    return False
            return True
        self.points = {k: p for k, p in self.points.items() if not hit(p)}
        return 204, {"X-Standin-Example": EXAMPLE["deleted"]}, b""

    def write(self, params, body):
        if not params.get("org") and not params.get("orgID"):
            return err(400, "invalid", "Please provide either orgID or org", "invalid")
        if params.get("org", self.org["name"]) != self.org["name"]:
            return err(404, "not found", "organization name \"%s\" not found" % params["org"],
                       "not_found")
        bucket = params.get("bucket", "")
        if bucket not in self.buckets:
            return err(404, "not found", "bucket \"%s\" not found" % bucket, "not_found")
        mult = PRECISION_NS.get(params.get("precision", "ns"))
        if mult is None:
            return err(400, "invalid", "invalid precision; valid precision units are ns, us, ms, and s",
                       "invalid")
        points = []
        for line in body.decode("utf-8", "replace").split("\n"):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                meas, tags, fields, ts = sc.parse_line(line)
            except sc.LineError as e:
                return err(400, "invalid", "unable to parse '%s': %s" % (line, e), "invalid")
            points.append((meas, tags, fields, ts))
        for meas, tags, fields, ts in points:
            for f, (typ, _v) in fields.items():
                have = self.types.get((bucket, meas, f))
                if have is not None and have != typ:
                    return err(422, "unprocessable entity",
                               "failure writing points to database: partial write: field type "
                               "conflict: input field \"%s\" on measurement \"%s\" is type %s, "
                               "already exists as type %s dropped=1" % (f, meas, typ, have),
                               "conflict")
        for meas, tags, fields, ts in points:
            for f, (typ, _v) in fields.items():
                self.types[(bucket, meas, f)] = typ
            self.store(bucket, meas, tags, {k: v[1] for k, v in fields.items()},
                       ts * mult if ts is not None else None)
        return 204, {"X-Standin-Example": EXAMPLE["write_ok"]}, b""


if __name__ == "__main__":
    sc.serve(Influx2(sys.argv[2], sys.argv[3]), int(sys.argv[1]))

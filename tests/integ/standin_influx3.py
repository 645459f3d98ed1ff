#!/usr/bin/python3
"""A stand-in for the InfluxDB 3 Core HTTP API, for tests only (no 3.x server can be installed
here). It follows the InfluxDB 3 Core API reference (API_REFERENCE below), the parts the
relay's v3 backends use:

  GET    /health                     200 "OK" (with a token; 401 without)
  GET    /ping                       200 {"version","revision"}
  POST   /api/v3/write_lp?db=&precision=&accept_partial=&no_sync=
         204 every line stored; 400 with per-line errors: accept_partial=true (3.x's default)
         stores the valid lines and answers {"error":"partial write of line protocol
         occurred","data":[{"original_line","line_number","error_message"}, ...]};
         accept_partial=false stores nothing and answers {"error":"parsing failed for
         write_lp endpoint","data":{...the first error}}; 401 a missing or wrong token
  POST   /api/v3/configure/database  {"db":NAME}: 200; 409 when it exists
  DELETE /api/v3/configure/database?db=NAME: 200; 404 when it does not exist
  GET    /api/v3/configure/database?format=json: the databases
  GET    /standin/points             the stand-in's own inspection endpoint (not InfluxDB's)

Schema refusals, per line, as 3.x refuses what 1.x takes: a tag and a field of one name in a
line, a tag a table did not have when it was created (its tag set is fixed by its first
write), a field of another type than the table's. A database is created by its first write.
Lines are numbered from 1 in the body. Each answer names, in EXAMPLE, the reference example its
shape was checked against. Run: standin_influx3.py PORT TOKEN"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin_common as sc  # noqa: E402

API_REFERENCE = ("InfluxDB 3 Core API reference, influxdb3-core-openapi.yml "
                 "(docs.influxdata.com/influxdb3/core/api/, v3.x) and the write guide "
                 "/influxdb3/core/write-data/http-api/v3-write-lp/")
EXAMPLE = {
    "health": "GET /health 200 text 'OK'",
    "ping": "GET /ping 200 {version, revision}",
    "write_ok": "POST /api/v3/write_lp 204 'Success (no content)'",
    "partial": "POST /api/v3/write_lp 400 partial write: {error: partial write of line protocol occurred, data: [{original_line, line_number, error_message}]}",
    "rejected": "POST /api/v3/write_lp?accept_partial=false 400 {error: parsing failed for write_lp endpoint, data: {original_line, line_number, error_message}}",
    "bad_request": "POST /api/v3/write_lp 400 {error: ...} (missing db, bad precision)",
    "unauthorized": "401 Unauthorized: missing or invalid token",
    "db_created": "POST /api/v3/configure/database 200",
    "db_exists": "POST /api/v3/configure/database 409 database already exists",
    "db_deleted": "DELETE /api/v3/configure/database 200",
    "db_not_found": "DELETE /api/v3/configure/database 404 database not found",
}

PRECISION_NS = {"nanosecond": 1, "microsecond": 1000, "millisecond": 1000000,
                "second": 1000000000}
DB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_/-]{0,63}$")


def err(status, message, example, data=None):
    doc = {"error": message}
    if data is not None:
        doc["data"] = data
    return status, {"X-Standin-Example": EXAMPLE[example]}, doc


class Influx3(sc.StandIn):
    name = "standin-influx3"

    def __init__(self, token):
        super().__init__()
        self.token = token
        self.dbs = {}  # db -> {table: {"tags": set, "fields": {name: type}}}

    def authorized(self, headers):
        return headers.get("Authorization", "") in ("Bearer " + self.token, "Token " + self.token)

    def handle(self, method, path, params, headers, body):
        if path == "/standin/points":
            return self.inspect()
        if not self.authorized(headers):
            return err(401, "the request was not authenticated", "unauthorized")
        if path == "/health":
            return 200, {"Content-Type": "text/plain", "X-Standin-Example": EXAMPLE["health"]}, "OK"
        if path == "/ping":
            return 200, {"X-Standin-Example": EXAMPLE["ping"]}, {"version": "3-standin",
                                                                 "revision": "standin"}
        if path == "/api/v3/configure/database":
            return self.configure(method, params, body)
        if path == "/api/v3/write_lp" and method == "POST":
            return self.write(params, body)
        return 404, {}, {"error": "not found"}

    def configure(self, method, params, body):
        if method == "GET":
            return 200, {}, [{"iox::database": d} for d in sorted(self.dbs)]
        if method == "POST":
            name = json.loads(body or b"{}").get("db", "")
            if not DB_NAME.match(name):
                return err(400, "invalid database name", "bad_request")
            if name in self.dbs:
                return err(409, "attempted to create a resource that already exists", "db_exists")
            self.dbs[name] = {}
            return 200, {"X-Standin-Example": EXAMPLE["db_created"]}, b""
        if method == "DELETE":
            name = params.get("db", "")
            if name not in self.dbs:
                return err(404, "the requested resource was not found", "db_not_found")
            del self.dbs[name]
            self.points = {k: p for k, p in self.points.items() if p["where"] != name}
            return 200, {"X-Standin-Example": EXAMPLE["db_deleted"]}, b""
        return 405, {}, b""

    def refusal(self, schema, meas, tags, fields):
        """Why 3.x refuses this line given the schema so far (None: it takes it)."""
        both = set(tags) & set(fields)
        if both:
            return ("invalid column type for column '%s', expected iox::column_type::tag, "
                    "got iox::column_type::field" % sorted(both)[0])
        table = schema.get(meas)
        if table is None:
            return None
        new = set(tags) - table["tags"]
        if new:
            return ("write to table '%s' has new tag column '%s'; the table's tags are fixed"
                    % (meas, sorted(new)[0]))
        for f, (typ, _v) in fields.items():
            have = table["fields"].get(f)
            if have is not None and have != typ:
                return ("invalid field value in line protocol for field '%s' on line: expected "
                        "type %s, but got %s" % (f, have, typ))
        return None

    def write(self, params, body):
        db = params.get("db", "")
        if not db:
            return err(400, "missing query parameter: db", "bad_request")
        if not DB_NAME.match(db):
            return err(400, "invalid database name: %s" % db, "bad_request")
        mult = PRECISION_NS.get(params.get("precision", "nanosecond"))
        if mult is None and params.get("precision") != "auto":
            return err(400, "invalid precision: %s" % params.get("precision"), "bad_request")
        partial = params.get("accept_partial", "true") != "false"
        schema = {k: {"tags": set(v["tags"]), "fields": dict(v["fields"])}
                  for k, v in self.dbs.get(db, {}).items()}
        errors, good = [], []
        for n, line in enumerate(body.decode("utf-8", "replace").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                meas, tags, fields, ts = sc.parse_line(line)
                why = self.refusal(schema, meas, tags, fields)
            except sc.LineError as e:
                why = str(e)
            if why is not None:
                errors.append({"original_line": line, "line_number": n, "error_message": why})
                continue
            t = schema.setdefault(meas, {"tags": set(tags), "fields": {}})
            for f, (typ, _v) in fields.items():
                t["fields"][f] = typ
            good.append((meas, tags, fields, ts))
        if errors and not partial:
            return err(400, "parsing failed for write_lp endpoint", "rejected", errors[0])
        self.dbs[db] = {k: {"tags": set(v["tags"]), "fields": dict(v["fields"])}
                        for k, v in schema.items()}
        for meas, tags, fields, ts in good:
            self.store(db, meas, tags, {k: v[1] for k, v in fields.items()},
                       ts * (mult or 1) if ts is not None else None)
        if errors:
            return err(400, "partial write of line protocol occurred", "partial", errors)
        return 204, {"X-Standin-Example": EXAMPLE["write_ok"]}, b""


if __name__ == "__main__":
    sc.serve(Influx3(sys.argv[2]), int(sys.argv[1]))

#!/usr/bin/python3
"""A stand-in for the InfluxDB 3 Core HTTP API, for tests only (no 3.x server can be installed
here). It follows the API reference and the write guide pinned in API_REFERENCE, the parts the
relay's v3 backends use:

  GET    /health                     200 "OK" (with a token; 401 without)
  GET    /ping                       200 {"version","revision","process_id"}; HEAD 404
  POST   /api/v3/write_lp?db=&precision=&accept_partial=&no_sync=
         204 every line stored; 400 with per-line errors: accept_partial=true (3.x's default)
         stores the valid lines and answers {"error":"partial write of line protocol
         occurred","data":[{"original_line","line_number","error_message"}, ...]};
         accept_partial=false stores nothing and answers {"error":"parsing failed for
         write_lp endpoint","data":{...the first error}}; 401 a missing or wrong token
  GET|POST /query?db=&q=&epoch=       the v1-compatible InfluxQL read: SELECT fields|* FROM m
         [WHERE time >= / > / <= / < N]; {"results":[{"series":[...]}]}; 404 no such database
  POST   /api/v3/configure/database  {"db":NAME}: 200; 400 a name the pattern refuses; 409
  DELETE /api/v3/configure/database?db=NAME: 200; 404 when it does not exist
  GET    /api/v3/configure/database?format=json: the databases
  GET    /standin/points             the stand-in's own inspection endpoint (not InfluxDB's)

Auth as the reference's table has it: "Bearer <token>" everywhere, "Token <token>" on the v1
and v2 compatibility endpoints only (/query here). Schema refusals, per line, as 3.x refuses
what 1.x takes: a tag and a field of one name in a line (schema-design guide: "the write fails
due to a column conflict"), a tag a table did not have when it was created (compatibility-APIs
guide: "Tags in a table (measurement) are immutable"; its get-started guide says new tags can
be added later, so this one follows one page of two), a field of another type than the
table's (the write guide's partial-write example, whose error_message text is copied). A
database is created by its first write. Lines are numbered from 1 in the body.

Every answer carries X-Standin-Doc-Example naming the documentation example (an operation's
status and example, or a guide's section) it was checked against; DOC_BODIES holds the bodies
the documentation gives literally, which the tests compare with. Run: standin_influx3.py PORT
TOKEN"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin_common as sc  # noqa: E402

DOCS_COMMIT = "79332006271f9d416c054e22c1433f0a26c49c41"
API_REFERENCE = {
    "repository": "github.com/influxdata/docs-v2",
    "commit": DOCS_COMMIT,
    "reference": "api-docs/influxdb3/core/influxdb3-core-openapi.yaml (info.version v3.10.0)",
    "write_guide": "content/shared/influxdb3-write-guides/http-api/v3-write-lp.md",
    "query_guide": "content/shared/influxdb3-query-guides/execute-queries/influxdb-v1-api.md",
}
HEADER = "X-Standin-Doc-Example"
REF = "influxdb3-core-openapi.yaml v3.10.0 "
GUIDE = "v3-write-lp.md "
EXAMPLE = {
    "health": REF + "GetHealth 200 text/plain example 'OK'",
    "unauthorized": REF + "components.responses.Unauthorized (ErrorMessage {error, data}; no "
                          "literal body)",
    "ping": REF + "GetPing 200 {version, revision, process_id}, headers x-influxdb-version and "
                  "x-influxdb-build",
    "ping_head": REF + "GetPing 404 'Returned for HEAD requests'",
    "write_ok": REF + "PostWriteLP 204 'All data in the batch is written and queryable'",
    "partial": GUIDE + "'Accept partial writes' (400, partial write of line protocol occurred)",
    "rejected": GUIDE + "'Do not accept partial writes' (400, parsing failed for write_lp "
                        "endpoint)",
    "bad_request": REF + "components.responses.BadRequest (invalid database name, invalid "
                         "timestamp precision; ErrorMessage, no literal body)",
    "query": REF + "GetV1ExecuteQuery 200 QueryResponse example",
    "query_db_not_found": REF + "GetV1ExecuteQuery 404 'Database not found.' (ErrorMessage, no "
                                "literal body)",
    "query_bad": REF + "GetV1ExecuteQuery 400 'Bad request.' (no literal body)",
    "db_created": REF + "PostConfigureDatabase 200 'Database created.'",
    "db_exists": REF + "PostConfigureDatabase 409 'Database already exists.'",
    "db_deleted": REF + "DeleteConfigureDatabase 200 'Database deleted.'",
    "db_not_found": REF + "DeleteConfigureDatabase 404 'Database not found.'",
    "db_list": REF + "GetConfigureDatabase 200 ShowDatabasesResponse",
    "db_list_bad": REF + "GetConfigureDatabase 400 'Bad request.' (format is required)",
    "no_route": "none: the reference documents no answer for a path it does not list",
}
# The bodies the documentation gives literally (the tests send the requests that provoke them).
DOC_BODIES = {
    # v3-write-lp.md, "Accept partial writes", for the body
    #   home,room=Sunroom temp=96 1735545600
    #   home,room=Sunroom temp="hi" 1735549200
    # The page's original_line shows the string value without its quotes; the stand-in echoes
    # the line as sent, so the tests compare that one member with the line they sent.
    "partial": {"error": "partial write of line protocol occurred", "data": [{
        "original_line": "home,room=Sunroom temp=hi 1735549200", "line_number": 2,
        "error_message": "invalid column type for column 'temp', expected "
                         "iox::column_type::field::float, got iox::column_type::field::string"}]},
    # The guide's text; 3.x servers since at least 3.11 answer "line protocol parsing error"
    # (the relay reads only the line numbers of a backend's answer).
    "rejected": {"error": "parsing failed for write_lp endpoint", "data": {
        "original_line": "home,room=Sunroom temp=hi 1735549200", "line_number": 2,
        "error_message": "invalid column type for column 'temp', expected "
                         "iox::column_type::field::float, got iox::column_type::field::string"}},
    "health": "OK",
    # QueryResponse example: one series, time in RFC 3339, no statement_id.
    "query": {"results": [{"series": [{"name": "mytable", "columns": ["time", "value"],
                                       "values": [["2024-02-02T12:00:00Z", 42]]}]}]},
}

# PrecisionWrite's enum; the write_lp code samples also send precision=ms and precision=ns,
# and the compatibility enum (PrecisionWriteCompatibility) names ms, s, us, u, ns and n.
PRECISION_NS = {"nanosecond": 1, "microsecond": 1000, "millisecond": 1000000,
                "second": 1000000000, "ns": 1, "n": 1, "us": 1000, "u": 1000, "ms": 1000000,
                "s": 1000000000}
# CreateDatabaseRequest.db's pattern: no underscores; alphanumeric at both ends.
DB_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]$|^[a-zA-Z0-9]$")
# The field types, as iox names its columns (the partial-write example names float and string;
# the other three are named the same way).
IOX_TYPE = {"float": "float", "string": "string", "integer": "integer", "uinteger": "uinteger",
            "boolean": "boolean"}


def auto_ns(ts):
    """The write_lp reference's auto precision: < 5e9 seconds, < 5e12 ms, < 5e15 us, else ns."""
    a = abs(ts)
    if a < 5 * 10**9:
        return ts * 1000000000
    if a < 5 * 10**12:
        return ts * 1000000
    if a < 5 * 10**15:
        return ts * 1000
    return ts


def answer(status, example, body=b"", headers=None):
    out = dict(headers or {})
    out[HEADER] = EXAMPLE[example]
    return status, out, body


def err(status, message, example, data=None):
    doc = {"error": message}
    if data is not None:
        doc["data"] = data
    return answer(status, example, doc)


class Influx3(sc.StandIn):
    name = "standin-influx3"

    def __init__(self, token):
        super().__init__()
        self.token = token
        self.dbs = {}  # db -> {table: {"tags": set, "fields": {name: type}}}

    def authorized(self, path, headers):
        have = headers.get("Authorization", "")
        if have == "Bearer " + self.token:
            return True
        # Token authentication "works with v1 and v2 compatibility endpoints".
        return path in ("/query", "/write", "/api/v2/write") and have == "Token " + self.token

    def handle(self, method, path, params, headers, body):
        if path == "/standin/points":
            return self.inspect()
        if not self.authorized(path, headers):
            return err(401, "the request was not authenticated", "unauthorized")
        if path == "/health":
            return answer(200, "health", DOC_BODIES["health"], {"Content-Type": "text/plain"})
        if path == "/ping":
            if method == "HEAD":
                return answer(404, "ping_head")
            return answer(200, "ping", {"version": "3.10.0", "revision": "standin",
                                        "process_id": "00000000-0000-0000-0000-000000000000"},
                          {"x-influxdb-version": "3.10.0", "x-influxdb-build": "Core"})
        if path == "/api/v3/configure/database":
            return self.configure(method, params, body)
        if path == "/api/v3/write_lp" and method == "POST":
            return self.write(params, body)
        if path == "/query" and method in ("GET", "POST"):
            return self.query(method, params, headers, body)
        return err(404, "not found", "no_route")

    def configure(self, method, params, body):
        if method == "GET":
            if not params.get("format"):
                return err(400, "missing query parameter: format", "db_list_bad")
            return answer(200, "db_list", {"databases": sorted(self.dbs)})
        if method == "POST":
            name = json.loads(body or b"{}").get("db", "")
            if not DB_NAME.match(name):
                return err(400, "invalid database name", "bad_request")
            if name in self.dbs:
                return err(409, "attempted to create a resource that already exists", "db_exists")
            self.dbs[name] = {}
            return answer(200, "db_created")
        if method == "DELETE":
            name = params.get("db", "")
            if name not in self.dbs:
                return err(404, "the requested resource was not found", "db_not_found")
            del self.dbs[name]
            self.points = {k: p for k, p in self.points.items() if p["where"] != name}
            return answer(200, "db_deleted")
        return err(404, "not found", "no_route")

    def refusal(self, schema, meas, tags, fields):
        """Why 3.x refuses this line given the schema so far (None: it takes it)."""
        both = set(tags) & set(fields)
        if both:
            return ("invalid column type for column '%s', expected iox::column_type::tag, "
                    "got iox::column_type::field::%s"
                    % (sorted(both)[0], IOX_TYPE[fields[sorted(both)[0]][0]]))
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
                return ("invalid column type for column '%s', expected "
                        "iox::column_type::field::%s, got iox::column_type::field::%s"
                        % (f, IOX_TYPE[have], IOX_TYPE[typ]))
        return None

    def write(self, params, body):
        db = params.get("db", "")
        if not db:
            return err(400, "missing query parameter: db", "bad_request")
        if not DB_NAME.match(db):
            return err(400, "invalid database name: %s" % db, "bad_request")
        precision = params.get("precision", "auto")
        mult = PRECISION_NS.get(precision)
        if mult is None and precision != "auto":
            return err(400, "invalid precision: %s" % precision, "bad_request")
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
            if ts is not None:
                ts = auto_ns(ts) if mult is None else ts * mult
            self.store(db, meas, tags, {k: v[1] for k, v in fields.items()}, ts)
        if errors:
            return err(400, "partial write of line protocol occurred", "partial", errors)
        return answer(204, "write_ok")

    def query(self, method, params, headers, body):
        form = sc.query_form(method, params, headers, body)
        db = form.get("db", "")
        if not db or "q" not in form:
            return err(400, "missing query parameter: %s" % ("db" if not db else "q"), "query_bad")
        if db not in self.dbs:
            return err(404, "database not found: %s" % db, "query_db_not_found")
        # 3.x has no retention policies: the reference says an rp is "honored but discouraged"
        # without saying how; the stand-in reads the database whatever rp says.
        try:
            results = sc.influxql_select(self.points, db, form["q"], form.get("epoch"),
                                         statement_ids=False)
        except sc.QueryError as e:
            return err(400, str(e), "query_bad")
        return answer(200, "query", {"results": results})


if __name__ == "__main__":
    sc.serve(Influx3(sys.argv[2]), int(sys.argv[1]))

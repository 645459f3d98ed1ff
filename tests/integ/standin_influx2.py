"""A stand-in for the InfluxDB 2.x OSS HTTP API, for tests only (no 2.x server can be
installed here). It follows the API reference pinned in API_REFERENCE, the parts the relay's v2
backends use:

  GET  /health                        200 {"name":"influxdb","status":"pass",...}
  GET  /ping                          204, X-Influxdb-Version and X-Influxdb-Build
  GET  /api/v2/orgs?org=NAME          200 {"links","orgs":[{"id","name"}]}; 404 no such org
  POST /api/v2/buckets                201 the bucket; 404 no such orgID; 422 the name is taken
  GET  /api/v2/buckets?org=&name=     200 {"links","buckets":[...]} (empty when none matches)
  DELETE /api/v2/buckets/ID           204; 404 when there is no such bucket
  POST /api/v2/write?org=&bucket=&precision=   204; 400 invalid line protocol (nothing
       written: 2.x parses the whole batch first) or an org that is not there; 401; 404 bucket
       not found; 413 a body over MAX_BODY_BYTES; 422 a field type conflict with the bucket
  POST /api/v2/delete?org=&bucket=    204; body {"start","stop"} (RFC 3339, both inclusive) and
       an optional "predicate" (key="value" joined by AND, any case; _measurement names the
       measurement); 400 a missing or bad time or predicate, or no such org; 404 no bucket
  GET|POST /query?db=&rp=&q=&epoch=    the v1-compatible InfluxQL read (SELECT fields|* FROM m
       [WHERE time >= / > / <= / < N]) of the bucket the virtual DBRP mapping names: "db/rp",
       or with no rp the bucket "db", else the first "db/..." made; 200 {"results":[...]}
  GET  /standin/points                the stand-in's own inspection endpoint (not InfluxDB's)

Authorization: "Token <token>" on everything under /api/v2 and on /query (a missing or wrong
one: 401 {"code":"unauthorized","message":"unauthorized access"}). Error bodies are 2.x's
{"code": ..., "message": ...}. Every answer carries X-Standin-Doc-Example naming the reference
example (operation, status, example name) it was checked against; DOC_BODIES holds the bodies
the reference gives literally, which the tests compare with. Run: standin_influx2.py PORT TOKEN
ORG"""

import calendar
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin_common as sc  # noqa: E402

DOCS_COMMIT = "79332006271f9d416c054e22c1433f0a26c49c41"
API_REFERENCE = {
    "repository": "github.com/influxdata/docs-v2",
    "commit": DOCS_COMMIT,
    "reference": "api-docs/influxdb/v2/influxdb-oss-v2-openapi.yaml (info.version 2.x)",
    "query_guide": "content/influxdb/v2/api-guide/influxdb-1x/query.md",
    "dbrp_guide": "content/influxdb/v2/api-guide/influxdb-1x/dbrp.md (virtual DBRP mappings)",
    "delete_predicate": "content/shared/influxdb-v2/reference/syntax/delete-predicate.md",
}
HEADER = "X-Standin-Doc-Example"
REF = "influxdb-oss-v2-openapi.yaml "
NO_LITERAL = " (schema Error; no literal example)"
EXAMPLE = {
    "health": REF + "GetHealth 200 HealthCheck (no literal example)",
    "ping": REF + "GetPing 204 with X-Influxdb-Build and X-Influxdb-Version",
    "write_ok": REF + "PostWrite 204 'Successfully wrote all points in the batch'",
    "invalid": REF + "PostWrite 400 LineProtocolError {code: invalid} (no OSS literal example; "
                     "message 'unable to parse <line>: ...' as in measurementSchemaFieldTypeConflict)",
    "org_required": REF + "PostWrite 400 'Requires either the org parameter or the orgID "
                          "parameter'" + NO_LITERAL,
    "precision": REF + "PostWrite 400 WritePrecision ms|s|us|ns" + NO_LITERAL,
    "org_not_found_400": REF + "PostWrite 400 orgNotFound",
    "unauthorized": REF + "AuthorizationError tokenNotAuthorized",
    "bucket_not_found": REF + "ResourceNotFoundError bucket-not-found",
    "org_name_not_found": REF + "ResourceNotFoundError org-not-found",
    "org_id_not_found": REF + "ResourceNotFoundError orgID-not-found",
    "too_large": REF + "PostWrite 413 dataExceedsSizeLimitOSS",
    "conflict": REF + "PostWrite 422 'some or all the points were rejected due to semantic "
                      "errors'" + NO_LITERAL,
    "orgs": REF + "GetOrgs 200 successResponse (links, orgs: id, name)",
    "bucket_created": REF + "PostBuckets 201 successResponse (id, orgID, name)",
    "buckets": REF + "GetBuckets 200 successResponse (links, buckets: id, orgID, name)",
    "bucket_deleted": REF + "DeleteBucketsID 204 'The bucket is deleted'",
    "bucket_delete_not_found": REF + "DeleteBucketsID 404 notFound",
    "bucket_exists": REF + "PostBuckets 422 'The request body failed validation'" + NO_LITERAL,
    "deleted": REF + "PostDelete 204 'Deleted the data' (x-codeSamples body {start, stop, "
                     "predicate})",
    "delete_org_not_found": REF + "PostDelete 400 orgNotFound",
    "delete_invalid": REF + "PostDelete 400 'Bad request'" + NO_LITERAL,
    "query": REF + "GetLegacyQuery 200 InfluxqlJsonResponse (influxql-chunk_size_2's shape, "
                   "unchunked)",
    "query_error": REF + "GetLegacyQuery default 'Error processing query'" + NO_LITERAL,
    "no_route": "none: the reference documents no answer for a path it does not list",
}
# The bodies the reference gives literally (the tests provoke each and compare).
DOC_BODIES = {
    "unauthorized": {"code": "unauthorized", "message": "unauthorized access"},
    "org_not_found_400": {"code": "invalid",
                          "message": "failed to decode request body: organization not found"},
    "bucket_not_found": {"code": "not found", "message": 'bucket "air_sensor" not found'},
    "org_name_not_found": {"code": "not found", "message": 'organization name "my-org" not found'},
    "org_id_not_found": {"code": "not found", "message": "organization not found"},
    "bucket_delete_not_found": {"code": "not found", "message": "bucket not found"},
    "too_large": {"code": "request too large",
                  "message": "unable to read data: points batch is too large"},
}
DOC_BODIES["delete_org_not_found"] = DOC_BODIES["org_not_found_400"]  # PostDelete's is the same
# The OSS 413 comes from reading the body; the stand-in's limit stands for that failure.
MAX_BODY_BYTES = 1 << 20

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
    """key="value" AND ... (the delete predicate syntax: equality joined by AND, keywords in
    any case; its page says OR, regular expressions and != are not supported); a dict, or None
    when it does not parse."""
    conds = {}
    if not text or not text.strip():
        return conds
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.I):
        m = PREDICATE.match(part)
        if m is None:
            return None
        conds[m.group(1)] = re.sub(r"\\(.)", r"\1", m.group(2))
    return conds

PRECISION_NS = {"ns": 1, "us": 1000, "ms": 1000000, "s": 1000000000}


def answer(status, example, body=b"", headers=None):
    out = dict(headers or {})
    out[HEADER] = EXAMPLE[example]
    return status, out, body


def err(status, code, message, example):
    return answer(status, example, {"code": code, "message": message})


class Influx2(sc.StandIn):
    name = "standin-influx2"

    def __init__(self, token, org):
        super().__init__()
        self.token = token
        self.org = {"id": "0000000000000001", "name": org}
        self.buckets = {}  # name -> id, in the order made
        self.types = {}    # (bucket, measurement, field) -> type

    def authorized(self, headers):
        return headers.get("Authorization", "") == "Token " + self.token

    def unauthorized(self):
        d = DOC_BODIES["unauthorized"]
        return err(401, d["code"], d["message"], "unauthorized")

    def org_of(self, params, example_400):
        """None when org/orgID name this stand-in's org, else the answer: 400 without either
        (OSS "requires either"), 400 orgNotFound for one that is not there (PostWrite's and
        PostDelete's documented answer)."""
        if not params.get("org") and not params.get("orgID"):
            return err(400, "invalid", "Please provide either orgID or org", example_400)
        if params.get("org", self.org["name"]) != self.org["name"] or \
                params.get("orgID", self.org["id"]) != self.org["id"]:
            d = DOC_BODIES["org_not_found_400"]
            return err(400, d["code"], d["message"],
                       "org_not_found_400" if example_400 != "delete_invalid"
                       else "delete_org_not_found")
        return None

    def bucket_not_found(self, bucket):
        return err(404, "not found", 'bucket "%s" not found' % bucket, "bucket_not_found")

    def handle(self, method, path, params, headers, body):
        if path == "/standin/points":
            return self.inspect()
        if path == "/health":
            return answer(200, "health", {
                "name": "influxdb", "message": "ready for queries and writes", "status": "pass",
                "checks": [], "version": "v2.7-standin", "commit": "standin"})
        if path == "/ping":
            return answer(204, "ping", b"", {"X-Influxdb-Version": "v2.7-standin",
                                              "X-Influxdb-Build": "OSS"})
        if (path.startswith("/api/v2/") or path == "/query") and not self.authorized(headers):
            return self.unauthorized()
        if path == "/api/v2/orgs" and method == "GET":
            if params.get("org") not in (None, self.org["name"]):
                return err(404, "not found", 'organization name "%s" not found' % params["org"],
                           "org_name_not_found")
            return answer(200, "orgs", {"links": {"self": "/api/v2/orgs"}, "orgs": [self.org]})
        if path == "/api/v2/buckets" and method == "POST":
            doc = json.loads(body or b"{}")
            if doc.get("orgID") != self.org["id"]:
                d = DOC_BODIES["org_id_not_found"]
                return err(404, d["code"], d["message"], "org_id_not_found")
            name = doc.get("name", "")
            if name in self.buckets:
                return err(422, "conflict", "bucket with name %s already exists" % name,
                           "bucket_exists")
            self.buckets[name] = "%016x" % (len(self.buckets) + 2)
            return answer(201, "bucket_created", {"id": self.buckets[name],
                                                  "orgID": self.org["id"], "name": name})
        if path == "/api/v2/buckets" and method == "GET":
            found = [{"id": i, "orgID": self.org["id"], "name": n} for n, i in self.buckets.items()
                     if params.get("name") in (None, n)]
            return answer(200, "buckets", {"links": {"self": "/api/v2/buckets"},
                                           "buckets": found})
        if path.startswith("/api/v2/buckets/") and method == "DELETE":
            bid = path[len("/api/v2/buckets/"):]
            names = [n for n, i in self.buckets.items() if i == bid]
            if not names:
                d = DOC_BODIES["bucket_delete_not_found"]
                return err(404, d["code"], d["message"], "bucket_delete_not_found")
            del self.buckets[names[0]]
            self.points = {k: p for k, p in self.points.items() if p["where"] != names[0]}
            return answer(204, "bucket_deleted")
        if path == "/api/v2/write" and method == "POST":
            return self.write(params, body)
        if path == "/api/v2/delete" and method == "POST":
            return self.delete(params, body)
        if path == "/query" and method in ("GET", "POST"):
            return self.query(method, params, headers, body)
        return err(404, "not found", "path not found", "no_route")

    def delete(self, params, body):
        bad = self.org_of(params, "delete_invalid")
        if bad is not None:
            return bad
        bucket = params.get("bucket", "")
        if bucket not in self.buckets:
            return self.bucket_not_found(bucket)
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
        return answer(204, "deleted")

    def write(self, params, body):
        bad = self.org_of(params, "org_required")
        if bad is not None:
            return bad
        bucket = params.get("bucket", "")
        if bucket not in self.buckets:
            return self.bucket_not_found(bucket)
        if len(body) > MAX_BODY_BYTES:
            d = DOC_BODIES["too_large"]
            return err(413, d["code"], d["message"], "too_large")
        mult = PRECISION_NS.get(params.get("precision", "ns"))
        if mult is None:
            return err(400, "invalid", "invalid precision; valid precision units are ns, us, ms, and s",
                       "precision")
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
        return answer(204, "write_ok")

    def dbrp_bucket(self, db, rp):
        """The virtual DBRP mapping (dbrp.md): a bucket "db/rp" is database db, retention policy
        rp; a bucket without a slash is its database with rp autogen, the default; the first
        "db/..." made is db's default when db has no bucket of its own name."""
        if rp:
            if db + "/" + rp in self.buckets:
                return db + "/" + rp
            return db if rp == "autogen" and db in self.buckets else None
        if db in self.buckets:
            return db
        return next((n for n in self.buckets if n.startswith(db + "/")), None)

    def query(self, method, params, headers, body):
        form = sc.query_form(method, params, headers, body)
        if not form.get("db") or "q" not in form:
            return err(400, "invalid", "missing %s" % ("db" if not form.get("db") else "q"),
                       "query_error")
        bucket = self.dbrp_bucket(form["db"], form.get("rp"))
        if bucket is None:
            return err(404, "not found", "no dbrp mapping for database %s" % form["db"],
                       "query_error")
        try:
            results = sc.influxql_select(self.points, bucket, form["q"], form.get("epoch"))
        except sc.QueryError as e:
            return err(400, "invalid", str(e), "query_error")
        return answer(200, "query", {"results": results})


if __name__ == "__main__":
    sc.serve(Influx2(sys.argv[2], sys.argv[3]), int(sys.argv[1]))

"""What the two API stand-ins (standin_influx2.py, standin_influx3.py) share: a threaded HTTP
server on loopback, a small line protocol reader (enough for the lines the tests send: escapes
of ',', ' ', '=' and quoted string fields) and a test-only inspection endpoint.

These are stand-ins, not InfluxDB: no InfluxDB 2.x or 3.x server can be installed on this
machine, so the relay's v2 and v3 backends are tested against these, each implementing the
published API reference named in its module (paths, parameters, status codes, error bodies).
The inspection endpoint GET /standin/points (JSON: every stored point, and every answer given
with the documentation example it named) is not part of any InfluxDB API and is named so."""

import json
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LineError(Exception):
    pass


def _split(s, sep):
    """Split on 'sep' outside quotes and backslash escapes."""
    out, cur, i, quoted = [], [], 0, False
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        if c == sep and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def _unescape(s):
    return s.replace("\\,", ",").replace("\\ ", " ").replace("\\=", "=").replace("\\\\", "\\")


def parse_line(line):
    """(measurement, {tag: value}, {field: (type, value)}, timestamp or None)."""
    parts = [p for p in _split(line, " ") if p != ""]
    if len(parts) < 2:
        raise LineError("No fields were provided")
    if len(parts) > 3:
        raise LineError("invalid line: too many parts")
    head = _split(parts[0], ",")
    meas, tags = _unescape(head[0]), {}
    for kv in head[1:]:
        k, eq, v = kv.partition("=")
        if not eq or not k or not v:
            raise LineError("invalid tag set")
        tags[_unescape(k)] = _unescape(v)
    fields = {}
    for kv in _split(parts[1], ","):
        k, eq, v = kv.partition("=")
        if not eq or not k or not v:
            raise LineError("invalid field set")
        if v.startswith('"') and v.endswith('"') and len(v) >= 2:
            typ, val = "string", v[1:-1]
        elif v.endswith("i") and v[:-1].lstrip("-").isdigit():
            typ, val = "integer", int(v[:-1])
        elif v.endswith("u") and v[:-1].isdigit():
            typ, val = "uinteger", int(v[:-1])
        elif v in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"):
            typ, val = "boolean", v[0] in "tT"
        else:
            try:
                typ, val = "float", float(v)
            except ValueError:
                raise LineError("invalid field value %r" % v)
        fields[_unescape(k)] = (typ, val)
    ts = None
    if len(parts) == 3:
        if not parts[2].lstrip("-").isdigit():
            raise LineError("invalid timestamp")
        ts = int(parts[2])
    return meas, tags, fields, ts


class Handler(BaseHTTPRequestHandler):
    """Routes to self.server.standin.<method>_<path> methods; each returns (status, headers
    dict, body bytes or str or a JSON-able value)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.server.standin.name, fmt % args))

    def _route(self, method):
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        st = self.server.standin
        with st.lock:
            st.requests.append((method, url.path, params))
            status, headers, out = st.handle(method, url.path, params, self.headers, body)
            if url.path != "/standin/points":
                # What each answer named as its documentation example, for the tests' check
                # that none goes without one.
                st.answers.append({"method": method, "path": url.path, "status": status,
                                   "example": headers.get("X-Standin-Doc-Example"),
                                   "params": sorted(query_form(method, params, self.headers,
                                                               body))})
        if not isinstance(out, (bytes, str)):
            out = json.dumps(out)
            headers.setdefault("Content-Type", "application/json")
        if isinstance(out, str):
            out = out.encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(out)

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_DELETE(self):
        self._route("DELETE")

    def do_HEAD(self):
        self._route("HEAD")


class StandIn:
    name = "standin"

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        # {method, path, status, example, params (the names only)} for every answer but the
        # inspection endpoint's.
        self.answers = []
        # (where, measurement, tags, time) -> point dict: where (bucket or db), measurement,
        # tags, fields, time. One series at one time is one point in every generation: a
        # second write merges its fields in (the last value wins).
        self.points = {}

    def store(self, where, meas, tags, fields, ts):
        key = (where, meas, tuple(sorted(tags.items())), ts)
        p = self.points.setdefault(key, {"where": where, "measurement": meas, "tags": tags,
                                         "fields": {}, "time": ts})
        p["fields"].update(fields)

    def inspect(self):
        writes = sum(1 for _m, path, _p in self.requests if path.endswith(("/write", "/write_lp")))
        return 200, {}, {"points": list(self.points.values()), "write_requests": writes,
                         "answers": self.answers}


def serve(standin, port):
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.standin = standin
    srv.serve_forever()


class QueryError(Exception):
    pass


def query_form(method, params, headers, body):
    """The v1-compatible /query's parameters: the query string, and for a POST the form body
    (application/x-www-form-urlencoded) or the query itself (application/vnd.influxql)."""
    form = dict(params)
    if method == "POST" and body:
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/vnd.influxql" or ctype == "text/plain":
            form["q"] = body.decode("utf-8", "replace")
        else:
            for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                              keep_blank_values=True).items():
                form[k] = v[-1]
    return form


_SELECT = re.compile(r'^\s*SELECT\s+(?P<cols>.+?)\s+FROM\s+(?P<m>"(?:[^"\\]|\\.)+"|[A-Za-z_][\w.]*)'
                     r'(?:\s+WHERE\s+(?P<where>.+?))?\s*$', re.I | re.S)
_COND = re.compile(r'^\s*time\s*(?P<op>>=|<=|>|<|=)\s*(?P<v>-?\d+)(?P<u>ns|u|µ|ms|s)?\s*$', re.I)
_EPOCH_NS = {"ns": 1, "u": 1000, "µ": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
             "h": 3600 * 10**9}
_UNIT_NS = {None: 1, "ns": 1, "u": 1000, "µ": 1000, "ms": 10**6, "s": 10**9}


def _ident(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] == '"':
        return re.sub(r'\\(.)', r'\1', s[1:-1])
    return s


def _json_number(v):
    """A float with no fraction as Go's encoding/json writes it (90, not 90.0)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    return v


def rfc3339(ns):
    secs, frac = divmod(ns, 10**9)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        text += ("." + "%09d" % frac).rstrip("0")
    return text + "Z"


def influxql_select(points, where, q, epoch=None, statement_ids=True):
    """The stand-ins' InfluxQL: 'SELECT a, b | * FROM m [WHERE time OP N[unit] [AND ...]]' over
    the points stored in 'where' (a bucket or a database), one result per statement (';'
    between them), series as 1.x shapes them (time first, then the columns by name; '*' takes
    tags and fields). Raises QueryError for anything else."""
    if epoch is not None and epoch not in _EPOCH_NS:
        raise QueryError("invalid epoch %r" % epoch)
    results = []
    for sid, stmt in enumerate(s for s in q.split(";") if s.strip()):
        m = _SELECT.match(stmt)
        if m is None:
            raise QueryError("the stand-in reads only SELECT ... FROM m [WHERE time ...]: %r"
                             % stmt.strip())
        meas = _ident(m.group("m"))
        conds = []
        for c in re.split(r"\s+AND\s+", m.group("where") or "", flags=re.I) if m.group("where") else []:
            cm = _COND.match(c)
            if cm is None:
                raise QueryError("the stand-in reads only time conditions: %r" % c)
            conds.append((cm.group("op"), int(cm.group("v")) * _UNIT_NS[cm.group("u")]))
        ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
               "<": lambda a, b: a < b, "=": lambda a, b: a == b}
        rows = sorted((p for p in points.values()
                       if p["where"] == where and p["measurement"] == meas and p["time"] is not None
                       and all(ops[o](p["time"], v) for o, v in conds)),
                      key=lambda p: p["time"])
        star = m.group("cols").strip() == "*"
        if star:
            cols = sorted({k for p in rows for k in list(p["fields"]) + list(p["tags"])})
        else:
            cols = [_ident(c) for c in m.group("cols").split(",")]
        res = {"statement_id": sid} if statement_ids else {}
        if rows:
            values = []
            for p in rows:
                t = rfc3339(p["time"]) if epoch is None else p["time"] // _EPOCH_NS[epoch]
                values.append([t] + [_json_number(p["fields"].get(c, p["tags"].get(c) if star
                                                                    else None)) for c in cols])
            values = [v for v in values if any(x is not None for x in v[1:])]
            if values:
                res["series"] = [{"name": meas, "columns": ["time"] + cols, "values": values}]
        results.append(res)
    return results

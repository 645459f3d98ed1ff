// Writes through InfluxDB's own client libraries for test_clients_v2v3.py: one JSON command as
// argv[2], one JSON answer on stdout ({"ok": true} or the error the library raised: its
// statusCode, message, code and body as the library parsed them).
//   {"lib": "v3", "host", "token", "database", "noSync", "org"?, "lines": [...]}
//       @influxdata/influxdb3-client: noSync posts to /api/v3/write_lp, else /api/v2/write
//   {"lib": "v2", "url", "token", "org", "bucket", "lines": [...]}
//       @influxdata/influxdb-client's WriteApi (no retries, one batch)
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cmd = JSON.parse(process.argv[2]);

function describe(e) {
  return {
    ok: false,
    name: e && e.name,
    statusCode: e && e.statusCode,
    message: e && e.message,
    code: e && e.code,
    body: e && e.body,
  };
}

async function writeV3() {
  const { InfluxDBClient } = require('@influxdata/influxdb3-client');
  const client = new InfluxDBClient({
    host: cmd.host,
    token: cmd.token,
    database: cmd.database,
    writeOptions: { noSync: !!cmd.noSync, precision: cmd.precision || 'ns' },
  });
  try {
    await client.write(cmd.lines, cmd.database, cmd.org);
    return { ok: true };
  } finally {
    await client.close();
  }
}

async function writeV2() {
  const { InfluxDB } = require('@influxdata/influxdb-client');
  const api = new InfluxDB({ url: cmd.url, token: cmd.token, timeout: 10000 }).getWriteApi(
    cmd.org, cmd.bucket, 'ns',
    { maxRetries: 0, batchSize: cmd.lines.length + 1, flushInterval: 0, writeFailed: () => {} },
  );
  api.writeRecords(cmd.lines);
  await api.close();
  return { ok: true };
}

// The libraries log a failed write on the console: keep stdout for the answer.
console.error = () => {};
console.warn = () => {};
let out;
try {
  out = cmd.lib === 'v3' ? await writeV3() : await writeV2();
} catch (e) {
  out = describe(e);
}
process.stdout.write(JSON.stringify(out) + '\n');

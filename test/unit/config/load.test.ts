import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, loadConfigDetailed } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/errors.ts';
import { defaultRecordSettings } from '../../../src/config/schema.ts';

const minimal = { LOGAGENT_TOPIC: 'web_log', LOGAGENT_PATHS: '/logs/*.log' };

function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

test('env variables fill the config with their types', () => {
  const c = loadConfig({
    env: {
      ...minimal,
      KAFKA_BROKERS: 'a:1, b:2',
      KAFKA_ACKS: '1',
      KAFKA_PARTITION: '3',
      KAFKA_IDEMPOTENT: 'false',
      LOGAGENT_START_AT: 'beginning',
    },
  });
  assert.deepEqual(c.kafka.brokers, ['a:1', 'b:2']);
  assert.equal(c.kafka.acks, '1');
  assert.equal(c.kafka.partition, 3);
  assert.deepEqual(c.inputs[0]?.paths, ['/logs/*.log']);
  assert.equal(c.inputs[0]?.startAt, 'beginning');
  assert.ok(Object.isFrozen(c.kafka));
});

test('a bad KAFKA_ACKS names the variable, the value and the allowed values', () => {
  const msg = problemsOf(() => loadConfig({ env: { ...minimal, KAFKA_ACKS: 'most' } }));
  assert.match(msg, /KAFKA_ACKS/);
  assert.match(msg, /"most"/);
  assert.match(msg, /all.*1.*0/);
});

test('numbers and booleans are parsed strictly', () => {
  const msg = problemsOf(() => loadConfig({ env: { ...minimal, KAFKA_PARTITION: '1.5', KAFKA_TOPIC_CREATE: 'maybe' } }));
  assert.match(msg, /KAFKA_PARTITION.*whole number.*"1.5"/);
  assert.match(msg, /KAFKA_TOPIC_CREATE.*true or false.*"maybe"/);
});

test('topic and paths are required', () => {
  const msg = problemsOf(() => loadConfig({ env: {} }));
  assert.match(msg, /LOGAGENT_TOPIC.*required/);
  assert.match(msg, /LOGAGENT_PATHS.*required/);
});

test('a broker without a port is rejected', () => {
  assert.match(
    problemsOf(() => loadConfig({ env: { ...minimal, KAFKA_BROKERS: 'kafka' } })),
    /KAFKA_BROKERS.*host:port/,
  );
});

test('cross-key rules: a max line larger than the in-flight budget is rejected', () => {
  const msg = problemsOf(() => loadConfig({ env: { ...minimal, LOGAGENT_MAX_LINE_BYTES: '2000', LOGAGENT_INFLIGHT_MAX_BYTES: '1000' } }));
  assert.match(msg, /LOGAGENT_MAX_LINE_BYTES/);
});

test('a config file is read and the environment overrides it; unknown keys are errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-config-'));
  const file = join(dir, 'logagent.yaml');
  writeFileSync(file, 'topic: from_file\npaths: [/a.log]\nkafka:\n  acks: "1"\n');
  const c = loadConfig({ env: { LOGAGENT_TOPIC: 'from_env' }, file });
  assert.equal(c.inputs[0]?.topic, 'from_env');
  assert.equal(c.kafka.acks, '1');
  writeFileSync(file, 'topic: t\npaths: [/a.log]\nkafka:\n  akcs: all\n');
  assert.match(
    problemsOf(() => loadConfig({ env: {}, file })),
    /kafka\.akcs: unknown key/,
  );
});

test('process.env is not read behind the caller', () => {
  process.env.KAFKA_ACKS = 'bogus';
  try {
    assert.equal(loadConfig({ env: minimal }).kafka.acks, 'all');
  } finally {
    delete process.env.KAFKA_ACKS;
  }
});

test('a config file lists several inputs; brokers may be a YAML list or a comma-separated string; defaults fill each input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-config-'));
  const file = join(dir, 'logagent.yaml');
  writeFileSync(
    file,
    'kafka:\n  brokers: "k1:9092, k2:9092"\ninputs:\n  - name: web\n    paths: [/logs/web-*.log]\n    topic: web_log\n  - name: api\n    paths: /logs/api.log\n    exclude: [/logs/api.debug.log]\n    topic: api_log\n    startAt: beginning\n',
  );
  const c = loadConfig({ env: {}, file });
  assert.deepEqual(c.kafka.brokers, ['k1:9092', 'k2:9092']);
  assert.deepEqual(c.inputs, [
    { name: 'web', topic: 'web_log', paths: ['/logs/web-*.log'], exclude: [], startAt: 'end', ...defaultRecordSettings() },
    {
      name: 'api',
      topic: 'api_log',
      paths: ['/logs/api.log'],
      exclude: ['/logs/api.debug.log'],
      startAt: 'beginning',
      ...defaultRecordSettings(),
    },
  ]);
});

test('the top-level input (LOGAGENT_PATHS + LOGAGENT_TOPIC) is named default and comes first', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-config-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'inputs:\n  - name: web\n    paths: [/w.log]\n    topic: w\n');
  const c = loadConfig({ env: minimal, file });
  assert.deepEqual(
    c.inputs.map((i) => i.name),
    ['default', 'web'],
  );
});

test('every problem of every input is reported at once, naming the input by index and name, the key and the rule', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-config-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(
    file,
    'inputs:\n  - name: web\n    paths: [/w.log]\n    topic: "bad topic"\n    colour: red\n  - name: web\n    topic: t\n  - 5\n',
  );
  const msg = problemsOf(() => loadConfig({ env: {}, file }));
  assert.match(msg, /inputs\[0\] \(web\)\.topic: must be a Kafka topic name.*"bad topic"/);
  assert.match(msg, /inputs\[0\] \(web\)\.colour: unknown key/);
  assert.match(msg, /inputs\[1\] \(web\)\.name: duplicate input name \(also inputs\[0\]\)/);
  assert.match(msg, /inputs\[1\] \(web\)\.paths: is required/);
  assert.match(msg, /inputs\[2\]: must be a mapping/);
});

test('a directory (a mounted ConfigMap) is read through its config.yaml, else config.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-config-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ inputs: [{ name: 'j', paths: ['/j.log'], topic: 'j' }] }));
  assert.equal(loadConfig({ env: {}, file: dir }).inputs[0]?.name, 'j');
  writeFileSync(join(dir, 'config.yaml'), 'inputs:\n  - name: y\n    paths: [/y.log]\n    topic: y\n');
  assert.equal(loadConfig({ env: {}, file: dir }).inputs[0]?.name, 'y');
  const empty = mkdtempSync(join(tmpdir(), 'logagent-config-'));
  assert.match(
    problemsOf(() => loadConfig({ env: {}, file: empty })),
    /neither config\.yaml nor config\.json/,
  );
});

test('a key set in the file and in the environment is reported as overridden, naming both', () => {
  const r = loadConfigDetailed({
    env: { KAFKA_ACKS: 'all' },
    source: { text: 'topic: t\npaths: [/a]\nkafka:\n  acks: "1"\n', origin: 'x.yaml' },
  });
  assert.equal(r.config.kafka.acks, 'all');
  assert.deepEqual(r.overrides, [{ key: 'kafka.acks', env: 'KAFKA_ACKS' }]);
});

test('record settings per input, and for the top-level input from the environment', () => {
  const c = loadConfig({
    env: {
      ...minimal,
      LOGAGENT_FORMAT: 'json',
      LOGAGENT_KEY: 'pod',
      LOGAGENT_FIELDS: 'team=web, tier=1',
      LOGAGENT_MULTILINE_START: '^\\S',
    },
    source: {
      text: 'inputs:\n  - name: api\n    paths: [/a.log]\n    topic: a\n    parse: json\n    key: field:user\n    headers: {env: prod}\n    multiline: {start: "^\\\\d", maxLines: 20}\n',
      origin: 't',
    },
  });
  const [top, api] = c.inputs;
  assert.equal(top?.format, 'json');
  assert.equal(top?.key, 'pod');
  assert.deepEqual(top?.fields, { team: 'web', tier: '1' });
  assert.equal(top?.multiline.start, '^\\S');
  assert.equal(api?.parse, 'json');
  assert.equal(api?.key, 'field:user');
  assert.deepEqual(api?.headers, { env: 'prod' });
  assert.equal(api?.multiline.maxLines, 20);
  assert.equal(api?.multiline.timeoutMs, 1000, 'defaults fill the rest');
});

test('bad record settings name the input and the key', () => {
  const msg = problemsOf(() =>
    loadConfig({
      env: {},
      source: {
        text: 'inputs:\n  - name: api\n    paths: [/a.log]\n    topic: a\n    key: user\n    multiline: {start: "(", maxLines: 0}\n    parsedField: message\n',
        origin: 't',
      },
    }),
  );
  assert.match(msg, /inputs\[0\] \(api\)\.key: must be path, none, pod, or field:<name/);
  assert.match(msg, /inputs\[0\] \(api\)\.multiline\.start: is not a valid regular expression/);
  assert.match(msg, /inputs\[0\] \(api\)\.multiline\.maxLines/);
  assert.match(msg, /inputs\[0\] \(api\)\.parsedField/);
});

// Where secrets come from (a value or a file, the environment or the
// configuration file), which TLS/SASL combinations are refused, and that
// no message or printed configuration carries a secret's value.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashConfig } from '../../../src/agent.ts';
import { loadConfig, loadConfigDetailed } from '../../../src/config/load.ts';
import { REDACTED, redactConfig, resolveSecretSources, scrubSecrets } from '../../../src/config/security.ts';
import { ConfigError } from '../../../src/errors.ts';

const minimal = { LOGAGENT_TOPIC: 'web_log', LOGAGENT_PATHS: '/logs/*.log' };
const SECRET = 'pa55-w0rd-never-printed';

function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

function yaml(text: string) {
  return { text, origin: '/etc/logagent/config.yaml' };
}

const envs = new Map([
  ['kafka.sasl.password', 'KAFKA_SASL_PASSWORD'],
  ['kafka.sasl.passwordFile', 'KAFKA_SASL_PASSWORD_FILE'],
  ['kafka.tls.keyPassphrase', 'KAFKA_TLS_KEY_PASSPHRASE'],
  ['kafka.tls.keyPassphraseFile', 'KAFKA_TLS_KEY_PASSPHRASE_FILE'],
]);

test('precedence: a secret in the environment, in either form, replaces the file’s secret in either form', () => {
  const table: Array<{ file: Record<string, string>; env: Record<string, string>; kept: Record<string, string>; overridden: string[] }> = [
    { file: { password: 'a' }, env: { passwordFile: '/s/pw' }, kept: {}, overridden: ['kafka.sasl.password'] },
    { file: { passwordFile: '/f/pw' }, env: { password: 'b' }, kept: {}, overridden: ['kafka.sasl.passwordFile'] },
    { file: { passwordFile: '/f/pw' }, env: { passwordFile: '/s/pw' }, kept: {}, overridden: ['kafka.sasl.passwordFile'] },
    { file: { passwordFile: '/f/pw', username: 'u' }, env: {}, kept: { passwordFile: '/f/pw', username: 'u' }, overridden: [] },
    // An empty variable (a chart rendering an unset value) is not given.
    { file: { passwordFile: '/f/pw' }, env: { password: '' }, kept: { passwordFile: '/f/pw' }, overridden: [] },
  ];
  for (const row of table) {
    const r = resolveSecretSources({ kafka: { sasl: row.file } }, { kafka: { sasl: row.env } }, envs);
    assert.deepEqual(r.problems, [], JSON.stringify(row));
    assert.deepEqual((r.file as any).kafka.sasl, row.kept, JSON.stringify(row));
    assert.deepEqual(
      r.overrides.map((o) => o.key),
      row.overridden,
      JSON.stringify(row),
    );
  }
});

test('precedence: a value and a file for the same secret in one source is an error naming both keys', () => {
  const inEnv = resolveSecretSources(undefined, { kafka: { sasl: { password: 'x', passwordFile: '/p' } } }, envs);
  assert.match(inEnv.problems[0]?.message ?? '', /KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set/);
  const inFile = resolveSecretSources({ kafka: { tls: { keyPassphrase: 'x', keyPassphraseFile: '/p' } } }, {}, envs, 'cm.yaml');
  assert.match(inFile.problems[0]?.message ?? '', /kafka\.tls\.keyPassphrase and kafka\.tls\.keyPassphraseFile are both set in cm\.yaml/);
});

test('loadConfig: KAFKA_SASL_PASSWORD_FILE beats kafka.sasl.password of the file, and says so', () => {
  const r = loadConfigDetailed({
    env: { ...minimal, KAFKA_SASL_PASSWORD_FILE: '/var/run/secrets/kafka/password' },
    source: yaml(`kafka:\n  sasl:\n    mechanism: SCRAM-SHA-512\n    username: app\n    password: ${SECRET}\n`),
  });
  assert.equal(r.config.kafka.sasl?.mechanism, 'scram-sha-512', 'Kafka’s upper-case names are accepted');
  assert.equal(r.config.kafka.sasl?.password, '');
  assert.equal(r.config.kafka.sasl?.passwordFile, '/var/run/secrets/kafka/password');
  assert.deepEqual(r.overrides, [{ key: 'kafka.sasl.password', env: 'KAFKA_SASL_PASSWORD_FILE' }]);
});

test('loadConfig: both forms of a secret are refused, and the message never shows the value', () => {
  const msg = problemsOf(() =>
    loadConfig({
      env: minimal,
      source: yaml(`kafka:\n  sasl:\n    mechanism: plain\n    username: app\n    password: ${SECRET}\n    passwordFile: /s/pw\n`),
    }),
  );
  assert.match(msg, /kafka\.sasl\.password and kafka\.sasl\.passwordFile are both set/);
  assert.ok(!msg.includes(SECRET), msg);
});

test('a secret of the wrong type, or a YAML error on its line, is reported without the value', () => {
  const typed = problemsOf(() =>
    loadConfig({
      env: { ...minimal, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' },
      source: yaml('kafka:\n  sasl:\n    password: 8675309123\n'),
    }),
  );
  assert.match(typed, /kafka\.sasl\.password.*must be a string/);
  assert.ok(!typed.includes('8675309123'), typed);
  const broken = problemsOf(() => loadConfig({ env: minimal, source: yaml(`kafka:\n  sasl:\n    password: ${SECRET}: [x\n`) }));
  assert.match(broken, /not valid YAML/);
  assert.ok(!broken.includes(SECRET), broken);
});

test('TLS and SASL keys that cannot work together are each named', () => {
  const table: Array<[Record<string, string>, RegExp]> = [
    [{ KAFKA_TLS_CA_FILE: '/ca.pem' }, /kafka\.tls\.caFile \(env KAFKA_TLS_CA_FILE\): is set but kafka\.tls\.enabled is false/],
    [{ KAFKA_TLS_ENABLED: 'true', KAFKA_TLS_CERT_FILE: '/c.pem' }, /kafka\.tls\.keyFile.*required with kafka\.tls\.certFile/],
    [{ KAFKA_TLS_ENABLED: 'true', KAFKA_TLS_KEY_FILE: '/k.pem' }, /kafka\.tls\.certFile.*required with kafka\.tls\.keyFile/],
    [{ KAFKA_TLS_ENABLED: 'true', KAFKA_TLS_KEY_PASSPHRASE_FILE: '/p' }, /keyPassphraseFile.*no kafka\.tls\.keyFile/],
    [{ KAFKA_TLS_ENABLED: 'true', KAFKA_TLS_SERVER_NAME: '10.0.0.1' }, /KAFKA_TLS_SERVER_NAME.*DNS name/],
    [{ KAFKA_SASL_MECHANISM: 'scram-sha-256' }, /kafka\.sasl\.username.*required with kafka\.sasl\.mechanism scram-sha-256/],
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' }, /kafka\.sasl\.passwordFile.*\(or kafka\.sasl\.password\) is required/],
    [{ KAFKA_SASL_MECHANISM: 'oauthbearer' }, /kafka\.sasl\.tokenFile.*required with kafka\.sasl\.mechanism oauthbearer/],
    [
      { KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_TOKEN_FILE: '/t', KAFKA_SASL_USERNAME: 'u' },
      /kafka\.sasl\.username.*not used by oauthbearer/,
    ],
    [{ KAFKA_SASL_USERNAME: 'u' }, /kafka\.sasl\.username.*mechanism is none/],
    [{ KAFKA_SASL_MECHANISM: 'gssapi' }, /KAFKA_SASL_MECHANISM.*must be one of none, plain, scram-sha-256, scram-sha-512, oauthbearer/],
  ];
  for (const [env, expected] of table) {
    assert.match(
      problemsOf(() => loadConfig({ env: { ...minimal, ...env } })),
      expected,
      JSON.stringify(env),
    );
  }
});

test('a complete TLS + SASL section loads', () => {
  const c = loadConfig({
    env: {
      ...minimal,
      KAFKA_TLS_ENABLED: 'true',
      KAFKA_TLS_CA_FILE: '/tls/ca.crt',
      KAFKA_TLS_CERT_FILE: '/tls/tls.crt',
      KAFKA_TLS_KEY_FILE: '/tls/tls.key',
      KAFKA_TLS_VERIFY_SERVER_NAME: 'false',
      KAFKA_SASL_MECHANISM: 'oauthbearer',
      KAFKA_SASL_TOKEN_FILE: '/var/run/secrets/tokens/kafka',
    },
  });
  assert.equal(c.kafka.tls?.verifyServerName, false);
  assert.equal(c.kafka.sasl?.tokenRefreshMs, 60_000);
});

test('redaction: printed configuration and the config hash carry no secret, empty secrets stay empty', () => {
  const c = loadConfig({
    env: { ...minimal, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: SECRET },
  });
  const shown = JSON.stringify(redactConfig(c));
  assert.ok(!shown.includes(SECRET));
  assert.equal(redactConfig(c).kafka.sasl?.password, REDACTED);
  assert.equal(redactConfig(c).kafka.tls?.keyPassphrase, '');
  assert.equal(c.kafka.sasl?.password, SECRET, 'the configuration itself is not changed');
  const other = loadConfig({
    env: { ...minimal, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'another' },
  });
  assert.equal(hashConfig(c), hashConfig(other), 'the exported hash is not a function of the password');
});

test('scrubSecrets replaces every occurrence, also JSON-escaped, longest first', () => {
  assert.equal(scrubSecrets('a abc b "abc" abcd', ['abc', 'abcd']), `a ${REDACTED} b "${REDACTED}" ${REDACTED}`);
  assert.equal(scrubSecrets('say "q\\"x"', ['q"x']), `say "${REDACTED}"`);
});

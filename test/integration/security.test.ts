// TLS and SASL against a real secured broker (scripts/kafka-local.sh
// --secure, started once for this file on its own ports): a client
// certificate, each SASL mechanism on the native producer and on kafkajs,
// a certificate rotated while shipping, a wrong password and its
// recovery, an expired token and its renewal, server name verification,
// `logagent consume` on the same configuration, and check-config. Every
// run's stdout, stderr, metrics and /status are searched for the secrets.

import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { ConfigMapDir } from './configmap-dir.ts';
import {
  agentStarted,
  appendNumbered,
  consumeAll,
  freePort,
  metric,
  missing,
  runCli,
  scrape,
  startAgent,
  tally,
  tmpDir,
  uniqueTopic,
  type AgentProcess,
} from './helpers.ts';
import {
  assertNoSecret,
  issueClientCert,
  SASL_PLAINTEXT_MECHANISMS,
  startSecureCluster,
  unsecuredJwt,
  type SecureCluster,
} from './security-helpers.ts';

let kafka: SecureCluster;
const WRONG_PASSWORD = `wrong-${Date.now().toString(36)}-pw`;

before(async () => {
  kafka = await startSecureCluster();
});
after(async () => {
  await kafka?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Run {
  readonly agent: AgentProcess;
  readonly topic: string;
  readonly log: string;
  readonly dir: string;
  readonly httpPort: number;
}

/** Starts the agent on a fresh file and topic with `env` on top; HTTP on, for metrics and /status. */
async function run(t: TestContext, env: Record<string, string>, args: string[] = ['run']): Promise<Run> {
  const dir = tmpDir(t);
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const topic = uniqueTopic('sec');
  const httpPort = await freePort();
  const agent = startAgent(
    t,
    {
      LOGAGENT_PATHS: log,
      LOGAGENT_TOPIC: topic,
      LOGAGENT_START_AT: 'beginning',
      LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
      LOGAGENT_HTTP_PORT: String(httpPort),
      LOGAGENT_HTTP_HOST: '127.0.0.1',
      LOGAGENT_CONFIG_CHECK_INTERVAL_MS: '2000',
      KAFKA_RETRY_MAX_BACKOFF_MS: '1000',
      ...env,
    },
    args,
  );
  return { agent, topic, log, dir, httpPort };
}

async function status(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/status`)).text();
}

/** Every output of a run, to grep: logs, metrics, /status. */
async function outputs(r: Run): Promise<{ logs: string; metrics: string; status: string }> {
  return { logs: r.agent.logs(), metrics: await scrape(r.httpPort), status: await status(r.httpPort) };
}

async function assertNoSecrets(r: Run, secrets: readonly string[]): Promise<void> {
  for (const [where, text] of Object.entries(await outputs(r))) assertNoSecret(where, text, secrets);
}

/** Ships `count` lines and checks that every one arrived (read back on the plaintext listener). */
async function shipAndCheck(r: Run, count: number, what: string): Promise<void> {
  appendNumbered(r.log, 0, count);
  const got = await consumeAll(r.topic, { expected: count, bootstrap: kafka.plaintext, timeoutMs: 60_000, settleMs: 500 });
  assert.deepEqual(missing(tally(got), 0, count).slice(0, 20), [], `${what}: lines missing`);
}

const tlsEnv = (): Record<string, string> => ({ KAFKA_TLS_ENABLED: 'true', KAFKA_TLS_CA_FILE: kafka.caFile });

test('mutual TLS: with the client certificate every line arrives; without it the broker refuses, counted as a tls authentication failure', async (t) => {
  const withCert = await run(t, {
    KAFKA_BROKERS: kafka.ssl,
    ...tlsEnv(),
    KAFKA_TLS_CERT_FILE: kafka.certFile,
    KAFKA_TLS_KEY_FILE: kafka.keyFile,
  });
  await agentStarted(withCert.agent);
  await withCert.agent.waitForLog((r) => r.msg === 'TLS client certificate' && r.subject === 'CN=logagent-client');
  await shipAndCheck(withCert, 500, 'mTLS');
  assert.equal(metric(await scrape(withCert.httpPort), 'logagent_kafka_auth_failures_total'), 0);
  assert.equal(await withCert.agent.stop(), 0);

  const without = await run(t, { KAFKA_BROKERS: kafka.ssl, ...tlsEnv() });
  appendNumbered(without.log, 0, 10);
  const failed = await without.agent.waitForLog((r) => String(r.msg).startsWith('kafka authentication failed'));
  assert.equal(failed.mechanism, 'tls');
  assert.match(String(failed.error), /TLS handshake failed on a certificate \(ERR_SSL_/);
  const text = await scrape(without.httpPort);
  assert.ok(metric(text, 'logagent_kafka_auth_failures_total{mechanism="tls"}') >= 1, text);
  assert.equal(JSON.parse(await status(without.httpPort)).kafka.authFailing, true);
});

// Each mechanism with its secret in another of the accepted places.
const mechanisms: Array<{ name: string; env: () => Record<string, string>; config?: () => string }> = [
  { name: 'plain', env: () => ({ KAFKA_SASL_USERNAME: kafka.user, KAFKA_SASL_PASSWORD: kafka.password }) },
  { name: 'scram-sha-256', env: () => ({ KAFKA_SASL_USERNAME: kafka.user, KAFKA_SASL_PASSWORD_FILE: kafka.passwordFile }) },
  {
    name: 'SCRAM-SHA-512',
    env: () => ({}),
    config: () => `kafka:\n  sasl:\n    username: ${kafka.user}\n    passwordFile: ${kafka.passwordFile}\n`,
  },
  { name: 'oauthbearer', env: () => ({}) },
];

for (const m of mechanisms) {
  test(`SASL ${m.name} over SASL_SSL (native producer): every line arrives, no secret anywhere`, async (t) => {
    const extra: Record<string, string> = {};
    const secrets = [kafka.password];
    if (m.name === 'oauthbearer') {
      const token = unsecuredJwt('logagent-oauth', 3600);
      const file = join(tmpDir(t), 'token');
      writeFileSync(file, `${token}\n`);
      extra.KAFKA_SASL_TOKEN_FILE = file;
      secrets.push(token);
    }
    if (m.config) {
      const cm = join(tmpDir(t), 'config.yaml');
      writeFileSync(cm, m.config());
      extra.LOGAGENT_CONFIG = cm;
    }
    const r = await run(t, { KAFKA_BROKERS: kafka.saslSsl, ...tlsEnv(), KAFKA_SASL_MECHANISM: m.name, ...m.env(), ...extra });
    await agentStarted(r.agent);
    await shipAndCheck(r, 300, m.name);
    await assertNoSecrets(r, secrets);
    assert.equal(await r.agent.stop(), 0);
    assertNoSecret('logs after shutdown', r.agent.logs(), secrets);
  });
}

test('kafkajs: SCRAM-SHA-512 over SASL_SSL and OAUTHBEARER over SASL_PLAINTEXT ship every line; even its debug logs hold no secret', async (t) => {
  const scram = await run(t, {
    KAFKA_CLIENT: 'kafkajs',
    LOGAGENT_LOG_LEVEL: 'debug',
    KAFKA_BROKERS: kafka.saslSsl,
    ...tlsEnv(),
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: kafka.user,
    KAFKA_SASL_PASSWORD_FILE: kafka.passwordFile,
  });
  await agentStarted(scram.agent);
  await shipAndCheck(scram, 300, 'kafkajs scram-sha-512');
  await assertNoSecrets(scram, [kafka.password]);
  assert.ok(
    scram.agent.records().some((r) => r.level === 'debug' && /SASL/.test(String(r.msg))),
    'kafkajs’s debug lines about SASL were captured',
  );
  assert.equal(await scram.agent.stop(), 0);

  const token = unsecuredJwt('logagent-kafkajs', 3600);
  const tokenFile = join(tmpDir(t), 'token');
  writeFileSync(tokenFile, token);
  const oauth = await run(t, {
    KAFKA_CLIENT: 'kafkajs',
    KAFKA_BROKERS: kafka.saslPlaintext,
    KAFKA_SASL_MECHANISM: 'oauthbearer',
    KAFKA_SASL_TOKEN_FILE: tokenFile,
  });
  await agentStarted(oauth.agent);
  await shipAndCheck(oauth, 200, 'kafkajs oauthbearer');
  await assertNoSecrets(oauth, [token]);
  assert.equal(await oauth.agent.stop(), 0);
});

test(
  'a client certificate rotated twice while shipping (Secret ..data swaps): a new producer each time, every line arrives',
  { timeout: 180_000 },
  async (t) => {
    const secret = new ConfigMapDir(join(tmpDir(t), 'tls'));
    const first = await issueClientCert(kafka, 'rotation-1');
    secret.update({ 'tls.crt': first.cert, 'tls.key': first.key });
    const r = await run(t, {
      KAFKA_BROKERS: kafka.ssl,
      ...tlsEnv(),
      KAFKA_TLS_CERT_FILE: join(secret.dir, 'tls.crt'),
      KAFKA_TLS_KEY_FILE: join(secret.dir, 'tls.key'),
      // Events, not the periodic check, must find the swap.
      LOGAGENT_CONFIG_CHECK_INTERVAL_MS: '600000',
    });
    await agentStarted(r.agent);
    let n = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        appendNumbered(r.log, n, n + 20);
        n += 20;
        await sleep(10);
      }
    })();
    const serials = [first.serial];
    for (const cn of ['rotation-2', 'rotation-3']) {
      await sleep(1_500);
      const next = await issueClientCert(kafka, cn);
      serials.push(next.serial);
      secret.update({ 'tls.crt': next.cert, 'tls.key': next.key });
      await r.agent.waitForLog((rec) => rec.msg === 'TLS client certificate' && rec.serialNumber === next.serial, 10_000);
    }
    await sleep(1_500);
    writing = false;
    await writer;
    const got = await consumeAll(r.topic, { expected: n, bootstrap: kafka.plaintext, timeoutMs: 90_000 });
    assert.equal(await r.agent.stop(), 0);
    const replaced = r.agent.records().filter((rec) => rec.msg === 'kafka producer replaced');
    t.diagnostic(`${n} lines, ${got.length} messages, ${replaced.length} producer replacements`);
    assert.deepEqual(missing(tally(got), 0, n).slice(0, 20), [], 'every line arrived');
    assert.equal(replaced.length, 2, 'one new producer per rotation');
    const used = r.agent
      .records()
      .filter((rec) => rec.msg === 'TLS client certificate')
      .map((rec) => rec.serialNumber);
    assert.deepEqual(used, serials, 'each certificate in turn');
  },
);

test('a wrong password: one clear error naming mechanism and user, counted; shipping resumes when the password file is fixed; no password anywhere', async (t) => {
  const secret = new ConfigMapDir(join(tmpDir(t), 'kafka-secret'));
  secret.update({ password: `${WRONG_PASSWORD}\n` });
  const r = await run(t, {
    KAFKA_BROKERS: kafka.saslSsl,
    ...tlsEnv(),
    KAFKA_SASL_MECHANISM: 'scram-sha-256',
    KAFKA_SASL_USERNAME: kafka.user,
    KAFKA_SASL_PASSWORD_FILE: join(secret.dir, 'password'),
  });
  await agentStarted(r.agent);
  appendNumbered(r.log, 0, 200);
  const failed = await r.agent.waitForLog((rec) => String(rec.msg).startsWith('kafka authentication failed'));
  assert.equal(failed.mechanism, 'scram-sha-256');
  assert.equal(failed.user, kafka.user);
  assert.match(String(failed.error), /SASL SCRAM-SHA-256 authentication of user "logagent" failed: .*invalid credentials/);
  await sleep(3_000); // several retries (backoff capped at 1 s here)
  const during = await outputs(r);
  const failures = metric(during.metrics, 'logagent_kafka_auth_failures_total{mechanism="scram-sha-256"}');
  assert.ok(failures >= 2, `retried and counted (${failures})`);
  assert.equal(
    r.agent.records().filter((rec) => String(rec.msg).startsWith('kafka authentication')).length,
    1,
    'one line for all those attempts (the reminder comes every 30 s)',
  );
  assert.equal(
    r.agent.records().filter((rec) => rec.msg === 'kafka delivery failed; retrying (lines wait on disk, nothing is dropped)').length,
    0,
    'no second, generic line for the same failure',
  );
  const kafkaStatus = JSON.parse(during.status).kafka;
  assert.equal(kafkaStatus.authFailing, true);
  assert.match(kafkaStatus.lastError, /SCRAM-SHA-256.*"logagent"/);

  secret.update({ password: kafka.password });
  await r.agent.waitForLog((rec) => rec.msg === 'kafka authentication works again', 20_000);
  const got = await consumeAll(r.topic, { expected: 200, bootstrap: kafka.plaintext });
  assert.deepEqual(missing(tally(got), 0, 200), [], 'every line arrived after the fix');
  await assertNoSecrets(r, [WRONG_PASSWORD, kafka.password]);
  assert.equal(JSON.parse(await status(r.httpPort)).kafka.authFailing, false);
  assert.equal(await r.agent.stop(), 0);
});

test('a mechanism the listener does not offer (native) and a wrong password on kafkajs: one clear line each, naming mechanism and user, counted', async (t) => {
  const refused = await run(t, {
    KAFKA_BROKERS: kafka.saslPlaintext,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: kafka.user,
    KAFKA_SASL_PASSWORD_FILE: kafka.passwordFile,
  });
  appendNumbered(refused.log, 0, 10);
  const line = await refused.agent.waitForLog((rec) => String(rec.msg).startsWith('kafka authentication failed'));
  assert.equal(line.mechanism, 'scram-sha-512');
  assert.equal(line.user, kafka.user);
  assert.equal(
    line.error,
    `SASL SCRAM-SHA-512 authentication of user "logagent" failed: UNSUPPORTED_SASL_MECHANISM (the broker offers ${SASL_PLAINTEXT_MECHANISMS.join(', ')})`,
  );
  assert.ok(metric(await scrape(refused.httpPort), 'logagent_kafka_auth_failures_total{mechanism="scram-sha-512"}') >= 1);
  await assertNoSecrets(refused, [kafka.password]);
  refused.agent.signal('SIGKILL');

  const passwordFile = join(tmpDir(t), 'password');
  writeFileSync(passwordFile, WRONG_PASSWORD);
  const wrong = await run(t, {
    KAFKA_CLIENT: 'kafkajs',
    KAFKA_BROKERS: kafka.saslSsl,
    ...tlsEnv(),
    KAFKA_SASL_MECHANISM: 'scram-sha-256',
    KAFKA_SASL_USERNAME: kafka.user,
    KAFKA_SASL_PASSWORD_FILE: passwordFile,
  });
  appendNumbered(wrong.log, 0, 10);
  const failed = await wrong.agent.waitForLog((rec) => String(rec.msg).startsWith('kafka authentication failed'));
  assert.equal(failed.mechanism, 'scram-sha-256');
  assert.equal(failed.user, kafka.user);
  assert.match(String(failed.error), /^SASL SCRAM-SHA-256 authentication of user "logagent" failed: .*invalid credentials/);
  const text = await scrape(wrong.httpPort);
  assert.ok(metric(text, 'logagent_kafka_auth_failures_total{mechanism="scram-sha-256"}') >= 1, text);
  assert.equal(JSON.parse(await status(wrong.httpPort)).kafka.authFailing, true);
  await assertNoSecrets(wrong, [WRONG_PASSWORD, kafka.password]);
  wrong.agent.signal('SIGKILL');
});

test('an expired OAUTHBEARER token is refused and counted; a renewed token file resumes shipping', async (t) => {
  const dir = tmpDir(t);
  const tokenFile = join(dir, 'token');
  const expired = unsecuredJwt('logagent-oauth', -60);
  writeFileSync(tokenFile, expired);
  const r = await run(t, {
    KAFKA_BROKERS: kafka.saslSsl,
    ...tlsEnv(),
    KAFKA_SASL_MECHANISM: 'oauthbearer',
    KAFKA_SASL_TOKEN_FILE: tokenFile,
  });
  await agentStarted(r.agent);
  appendNumbered(r.log, 0, 100);
  const failed = await r.agent.waitForLog((rec) => String(rec.msg).startsWith('kafka authentication failed'));
  assert.equal(failed.mechanism, 'oauthbearer');
  assert.equal(failed.user, 'logagent-oauth', 'the token’s subject');
  await r.agent.waitForLog((rec) => rec.msg === 'the OAUTHBEARER token in its file has expired; waiting for a new one', 15_000);
  // Renewed as a token projector does it: a new file renamed over the old one.
  const renewed = unsecuredJwt('logagent-oauth', 3600);
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(dir, 'tmp', 'token'), renewed);
  renameSync(join(dir, 'tmp', 'token'), tokenFile);
  const got = await consumeAll(r.topic, { expected: 100, bootstrap: kafka.plaintext });
  assert.deepEqual(missing(tally(got), 0, 100), []);
  assert.ok(metric(await scrape(r.httpPort), 'logagent_kafka_auth_failures_total{mechanism="oauthbearer"}') >= 1);
  await assertNoSecrets(r, [expired, renewed]);
  assert.equal(await r.agent.stop(), 0);
});

test('server name verification: a certificate that does not name KAFKA_TLS_SERVER_NAME is refused; KAFKA_TLS_VERIFY_SERVER_NAME=false accepts it', async (t) => {
  const strict = await run(t, {
    KAFKA_BROKERS: kafka.saslSsl,
    ...tlsEnv(),
    KAFKA_TLS_SERVER_NAME: 'kafka.example.invalid',
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: kafka.user,
    KAFKA_SASL_PASSWORD_FILE: kafka.passwordFile,
  });
  appendNumbered(strict.log, 0, 10);
  const failed = await strict.agent.waitForLog((rec) => String(rec.msg).startsWith('kafka authentication failed'));
  assert.equal(failed.mechanism, 'tls');
  assert.match(String(failed.error), /ERR_TLS_CERT_ALTNAME_INVALID.*kafka\.example\.invalid/);
  strict.agent.signal('SIGKILL');

  const relaxed = await run(t, {
    KAFKA_BROKERS: kafka.saslSsl,
    ...tlsEnv(),
    KAFKA_TLS_SERVER_NAME: 'kafka.example.invalid',
    KAFKA_TLS_VERIFY_SERVER_NAME: 'false',
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: kafka.user,
    KAFKA_SASL_PASSWORD_FILE: kafka.passwordFile,
  });
  await agentStarted(relaxed.agent);
  await shipAndCheck(relaxed, 50, 'name check off, chain still checked');
  assert.equal(await relaxed.agent.stop(), 0);
});

test('logagent consume reads through SASL_SSL with the configuration the agent uses', async (t) => {
  const env = {
    KAFKA_BROKERS: kafka.saslSsl,
    ...tlsEnv(),
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: kafka.user,
    KAFKA_SASL_PASSWORD_FILE: kafka.passwordFile,
  };
  const r = await run(t, env);
  await agentStarted(r.agent);
  await shipAndCheck(r, 50, 'agent');
  const consumed = await runCli(['consume', '--topic', r.topic, '--from-beginning', '--max-messages', '50', '--timeout-ms', '10000'], env);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.equal(consumed.stdout.trim().split('\n').length, 50);
  assert.match(consumed.stdout, /line-49$/m);
  assertNoSecret('consume output', consumed.stdout + consumed.stderr, [kafka.password]);
  const refused = await runCli(['consume', '--topic', r.topic, '--from-beginning', '--max-messages', '1', '--timeout-ms', '5000'], {
    ...env,
    KAFKA_SASL_PASSWORD_FILE: '',
    KAFKA_SASL_PASSWORD: WRONG_PASSWORD,
  });
  assert.notEqual(refused.code, 0, 'a wrong password does not read');
  assertNoSecret('consume output', refused.stdout + refused.stderr, [WRONG_PASSWORD, kafka.password]);
  assert.equal(await r.agent.stop(), 0);
});

test('check-config and configuration errors never print a secret', async (t) => {
  const dir = tmpDir(t);
  const passphrase = `pp-${Date.now().toString(36)}-secret`;
  const base = { LOGAGENT_PATHS: join(dir, '*.log'), LOGAGENT_TOPIC: 't' };
  const sasl = { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: kafka.user };

  const ok = await runCli(['check-config'], { ...base, ...sasl, KAFKA_SASL_PASSWORD: kafka.password });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).kafka.sasl.password, '[redacted]');
  assertNoSecret('check-config', ok.stdout + ok.stderr, [kafka.password]);

  const withTls = await runCli(['check-config'], {
    ...base,
    ...tlsEnv(),
    KAFKA_TLS_CERT_FILE: kafka.certFile,
    KAFKA_TLS_KEY_FILE: kafka.keyFile,
  });
  assert.equal(withTls.code, 0, withTls.stderr);
  assert.match(withTls.stderr, /kafka\.tls\.certFile: CN=logagent-client, serial [0-9A-F]+, valid until/);

  const both = await runCli(['check-config'], {
    ...base,
    ...sasl,
    KAFKA_SASL_PASSWORD: kafka.password,
    KAFKA_SASL_PASSWORD_FILE: kafka.passwordFile,
  });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set/);
  assertNoSecret('check-config error', both.stdout + both.stderr, [kafka.password]);

  const config = join(dir, 'config.yaml');
  writeFileSync(config, `kafka:\n  tls:\n    keyPassphrase: ${passphrase}\n  sasl:\n    password: ${kafka.password}\n`);
  const unused = await runCli(['check-config', '--config', config], base);
  assert.equal(unused.code, 2);
  assert.match(unused.stderr, /kafka\.tls\.keyPassphrase.*kafka\.tls\.enabled is false/);
  assert.match(unused.stderr, /kafka\.sasl\.password.*mechanism is none/);
  assertNoSecret('check-config error', unused.stdout + unused.stderr, [kafka.password, passphrase]);

  const missingCa = await runCli(['run'], { ...base, ...tlsEnv(), KAFKA_TLS_CA_FILE: join(dir, 'no-ca.pem'), LOGAGENT_HTTP_PORT: '0' });
  assert.equal(missingCa.code, 2);
  assert.match(missingCa.stderr, /kafka\.tls\.caFile \(env KAFKA_TLS_CA_FILE\): cannot read .*no-ca\.pem/);
});

// The credential watch on real files and directories, updated the way a
// mounted Secret is (the kubelet's ..data swap) and the way a half-done
// rotation looks; and AuthFailures' one clear line, its reminder and its
// counter.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import type { KafkaConfig } from '../../../src/config/config.ts';
import { Metrics } from '../../../src/metrics.ts';
import { AuthFailures, authFailureKind, REMINDER_INTERVAL_MS } from '../../../src/sink/auth-failures.ts';
import { CredentialWatch } from '../../../src/sink/credential-watch.ts';
import { PLAINTEXT, readCredentials, type KafkaCredentials } from '../../../src/sink/credentials.ts';
import { KafkaConnectionError } from '../../../src/sink/native/errors.ts';
import { SaslAuthenticationError } from '../../../src/sink/native/sasl.ts';
import { waitUntil } from '../wait.ts';

const FIXTURES = new URL('../../support/tls/', import.meta.url).pathname;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A directory updated as the kubelet updates a Secret volume: files in a new timestamped dir, ..data swapped. */
function secretDir(): { dir: string; update(files: Record<string, string>): void } {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-secret-'));
  dirs.push(dir);
  let generation = 0;
  return {
    dir,
    update(files) {
      const stamp = `..gen${generation++}`;
      mkdirSync(join(dir, stamp));
      for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, stamp, name), content);
      let old: string | undefined;
      try {
        old = readlinkSync(join(dir, '..data'));
      } catch {
        // first update
      }
      symlinkSync(stamp, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      for (const name of Object.keys(files)) {
        try {
          symlinkSync(join('..data', name), join(dir, name));
        } catch {
          // the visible link exists already
        }
      }
      if (old) rmSync(join(dir, old), { recursive: true, force: true });
    },
  };
}

function kafka(dir: string): KafkaConfig {
  return {
    client: 'native',
    brokers: ['127.0.0.1:9092'],
    clientId: 'logagent',
    acks: 'all',
    partitioner: 'hash',
    partition: 0,
    compression: 'none',
    idempotent: true,
    batchMaxBytes: 1 << 20,
    lingerMs: 5,
    requestTimeoutMs: 30_000,
    connectionTimeoutMs: 5_000,
    retryMaxBackoffMs: 10_000,
    topicCreate: true,
    topicPartitions: 1,
    topicReplicationFactor: 0,
    tls: {
      enabled: true,
      caFile: '',
      certFile: join(dir, 'tls.crt'),
      keyFile: join(dir, 'tls.key'),
      keyPassphrase: '',
      keyPassphraseFile: '',
      verifyServerName: true,
      serverName: '',
    },
    sasl: { mechanism: 'plain', username: 'app', password: '', passwordFile: join(dir, 'password'), tokenFile: '', tokenRefreshMs: 60_000 },
  };
}

const pem = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

function watchOf(config: KafkaConfig, changes: Array<{ next: KafkaCredentials; reason: string }>, metrics = new Metrics()) {
  const watch = new CredentialWatch({
    kafka: config,
    initial: readCredentials(config),
    checkIntervalMs: 60_000,
    logger: pino({ level: 'silent' }),
    metrics,
    onChange: (_kafka, next, reason) => changes.push({ next, reason }),
  });
  return watch;
}

test('a Secret update (..data swap) of the certificate and key gives one new snapshot; rewriting the same content gives none', async (t) => {
  const secret = secretDir();
  secret.update({ 'tls.crt': pem('client.crt'), 'tls.key': pem('client.key'), password: 'pw' });
  const changes: Array<{ next: KafkaCredentials; reason: string }> = [];
  const metrics = new Metrics();
  const watch = watchOf(kafka(secret.dir), changes, metrics);
  t.after(() => watch.close());
  watch.start();
  await new Promise((r) => setTimeout(r, 300)); // the directory watch is ready
  secret.update({ 'tls.crt': pem('client.crt'), 'tls.key': pem('client.key'), password: 'pw' });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(changes.length, 0, 'same content: no new producer');
  secret.update({ 'tls.crt': pem('other.crt'), 'tls.key': pem('other.key'), password: 'pw' });
  assert.ok(await waitUntil(() => changes.length === 1, 5_000), 'the swap is seen');
  assert.equal(changes[0]?.next.certificate?.subject, 'CN=logagent-other');
  assert.equal(watch.current.certificate?.subject, 'CN=logagent-other');
  assert.equal(await metrics.value(metrics.credentialReloads, { result: 'applied' }), 1);
});

test('a half-done rotation (new certificate, old key) is not applied; the completed one is', async (t) => {
  const secret = secretDir();
  secret.update({ 'tls.crt': pem('client.crt'), 'tls.key': pem('client.key'), password: 'pw' });
  const changes: Array<{ next: KafkaCredentials; reason: string }> = [];
  const metrics = new Metrics();
  const watch = watchOf(kafka(secret.dir), changes, metrics);
  t.after(() => watch.close());
  watch.start();
  await new Promise((r) => setTimeout(r, 300));
  secret.update({ 'tls.crt': pem('other.crt'), 'tls.key': pem('client.key'), password: 'pw' });
  const deadline = Date.now() + 5_000;
  while ((await metrics.value(metrics.credentialReloads, { result: 'rejected' })) < 1) {
    assert.ok(Date.now() < deadline, 'the mismatched pair was read and rejected');
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(changes.length, 0, 'a mismatched pair never reaches a producer');
  assert.equal(watch.current.certificate?.subject, 'CN=logagent-client');
  secret.update({ 'tls.crt': pem('other.crt'), 'tls.key': pem('other.key'), password: 'pw' });
  assert.ok(await waitUntil(() => changes.length === 1, 5_000));
});

test('without events, the periodic check finds a changed password', async (t) => {
  const secret = secretDir();
  secret.update({ 'tls.crt': pem('client.crt'), 'tls.key': pem('client.key'), password: 'old' });
  const config = kafka(secret.dir);
  const changes: KafkaCredentials[] = [];
  const timerOnly = new CredentialWatch({
    kafka: config,
    initial: readCredentials(config),
    checkIntervalMs: 200,
    logger: pino({ level: 'silent' }),
    metrics: new Metrics(),
    onChange: (_k, next) => changes.push(next),
    events: false,
  });
  t.after(() => timerOnly.close());
  timerOnly.start();
  secret.update({ 'tls.crt': pem('client.crt'), 'tls.key': pem('client.key'), password: 'new' });
  assert.ok(await waitUntil(() => changes.length === 1, 3_000));
  assert.equal(changes[0]?.sasl?.password, 'new');
});

test('an OAUTHBEARER token is read again before it expires, with no event', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'logagent-token-'));
  dirs.push(d);
  const jwt = (exp: number): string =>
    `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'app', exp })).toString('base64url')}.`;
  const file = join(d, 'token');
  // Expires in 1.5 s: read again at 80% of that (1.2 s), long before the 60 s interval.
  writeFileSync(file, jwt(Math.floor(Date.now() / 1000) + 2));
  const config: KafkaConfig = {
    ...kafka(d),
    tls: { ...kafka(d).tls!, enabled: false, certFile: '', keyFile: '' },
    sasl: { mechanism: 'oauthbearer', username: '', password: '', passwordFile: '', tokenFile: file, tokenRefreshMs: 60_000 },
  };
  const changes: KafkaCredentials[] = [];
  const watch = new CredentialWatch({
    kafka: config,
    initial: readCredentials(config),
    checkIntervalMs: 60_000,
    logger: pino({ level: 'silent' }),
    metrics: new Metrics(),
    onChange: (_k, next) => changes.push(next),
    events: false,
  });
  t.after(() => watch.close());
  watch.start();
  const renewed = jwt(Math.floor(Date.now() / 1000) + 3600);
  writeFileSync(file, renewed);
  assert.ok(await waitUntil(() => changes.length === 1, 3_000), 'the renewed token is in use before the old one expired');
  assert.equal(changes[0]?.sasl?.token?.(), renewed);
});

test('AuthFailures: a refused password is counted by mechanism and logged once, naming mechanism and user, never the password', () => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
  const metrics = new Metrics();
  let now = 0;
  const creds: KafkaCredentials = {
    ...PLAINTEXT,
    sasl: { mechanism: 'SCRAM-SHA-256', username: 'app', password: 'the-password' },
    mechanism: 'scram-sha-256',
    principal: 'app',
  };
  const auth = new AuthFailures(logger, metrics, creds, { now: () => now });
  const err = new SaslAuthenticationError('SCRAM-SHA-256', 'app', 'Authentication failed: invalid credentials');
  assert.match(auth.record(err, 'getting a producer id') ?? '', /SASL SCRAM-SHA-256 authentication of user "app" failed/);
  auth.record(err, 'fetching metadata');
  now += REMINDER_INTERVAL_MS - 1;
  auth.record(err, 'fetching metadata');
  assert.equal(lines.length, 1, 'one line, however many attempts');
  assert.equal(lines[0]?.mechanism, 'scram-sha-256');
  assert.equal(lines[0]?.user, 'app');
  now += 1;
  auth.record(err, 'fetching metadata');
  assert.equal(lines.length, 2, 'then a reminder per interval');
  assert.equal(lines[1]?.failuresSinceLastReminder, 3);
  assert.equal(auth.failing, true);
  auth.succeeded();
  assert.equal(auth.failing, false);
  assert.equal(lines[2]?.msg, 'kafka authentication works again');
  assert.equal(auth.record(new Error('ECONNREFUSED'), 'connecting'), undefined, 'other failures are not authentication failures');
  assert.ok(!JSON.stringify(lines).includes('the-password'));
  return metrics.value(metrics.authFailures, { mechanism: 'scram-sha-256' }).then((n) => assert.equal(n, 4));
});

test('authFailureKind: SASL errors of both clients, TLS certificate failures inside connection errors, nothing else', () => {
  assert.deepEqual(authFailureKind(new SaslAuthenticationError('PLAIN', 'u', 'x')), { kind: 'sasl' });
  const kafkajs = Object.assign(new Error('SASL SCRAM SHA512 authentication failed'), { name: 'KafkaJSSASLAuthenticationError' });
  assert.deepEqual(authFailureKind({ name: 'KafkaJSNonRetriableError', originalError: kafkajs }), { kind: 'sasl' });
  const tlsAlert = Object.assign(new Error('alert unknown ca'), { code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' });
  assert.deepEqual(authFailureKind(new KafkaConnectionError('127.0.0.1:9093', 'alert', tlsAlert)), {
    kind: 'tls',
    code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  });
  assert.deepEqual(authFailureKind(Object.assign(new Error('x'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })), {
    kind: 'tls',
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
  });
  assert.equal(authFailureKind(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })), undefined);
});

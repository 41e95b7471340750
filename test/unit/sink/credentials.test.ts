// Reading credential files into client options: real files (the
// throwaway PEM material of test/support/tls), no Kafka.

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { KafkaConfig, KafkaSaslConfig, KafkaTlsConfig } from '../../../src/config/config.ts';
import {
  jwtClaims,
  kafkajsSecurity,
  readCredentials,
  TOKEN_EXPIRED_REREAD_MS,
  TOKEN_MIN_REREAD_MS,
  tokenRereadDelayMs,
} from '../../../src/sink/credentials.ts';
import { ConfigError } from '../../../src/errors.ts';

const FIXTURES = new URL('../../support/tls/', import.meta.url).pathname;
const fixture = (name: string): string => join(FIXTURES, name);

const TLS_OFF: KafkaTlsConfig = {
  enabled: false,
  caFile: '',
  certFile: '',
  keyFile: '',
  keyPassphrase: '',
  keyPassphraseFile: '',
  verifyServerName: true,
  serverName: '',
};
const SASL_OFF: KafkaSaslConfig = {
  mechanism: 'none',
  username: '',
  password: '',
  passwordFile: '',
  tokenFile: '',
  tokenRefreshMs: 60_000,
};

function kafka(tls: Partial<KafkaTlsConfig> = {}, sasl: Partial<KafkaSaslConfig> = {}): KafkaConfig {
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
    tls: { ...TLS_OFF, ...tls },
    sasl: { ...SASL_OFF, ...sasl },
  };
}

function problem(fn: () => unknown): { key: string; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    const p = err.problems[0];
    assert.ok(p);
    return { key: p.key, message: p.message };
  }
  assert.fail('expected a ConfigError');
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'logagent-cred-'));
  dirs.push(d);
  return d;
}

const jwt = (claims: Record<string, unknown>): string =>
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;

test('the token is read again at 80% of its remaining life, at least every interval, never in a loop, often once expired', () => {
  const now = 1_000_000;
  const rows: Array<[number | undefined, number, number]> = [
    [undefined, 60_000, 60_000], // not a JWT: the interval
    [now + 3_600_000, 60_000, 60_000], // an hour left: the interval comes first
    [now + 50_000, 60_000, 40_000], // 50 s left: at 80% of it
    [now + 500, 60_000, TOKEN_MIN_REREAD_MS], // about to expire: not sooner than the floor
    [now - 1, 60_000, TOKEN_EXPIRED_REREAD_MS], // expired: look for the renewed one every few seconds
    [now - 1, 2_000, 2_000], // ... or the interval when that is shorter
  ];
  for (const [expiresAt, interval, want] of rows)
    assert.equal(tokenRereadDelayMs(expiresAt, now, interval), want, JSON.stringify([expiresAt, interval]));
});

test('jwtClaims reads the payload of a JWT and nothing else', () => {
  assert.deepEqual(jwtClaims(jwt({ sub: 'app', exp: 1 })), { sub: 'app', exp: 1 });
  assert.equal(jwtClaims('opaque-token'), undefined);
  assert.equal(jwtClaims('a.!!!.c'), undefined);
  assert.equal(jwtClaims(`a.${Buffer.from('[1]').toString('base64url')}.c`), undefined);
});

test('a password file loses one trailing newline; an empty or missing one is an error naming key, variable and file', () => {
  const d = dir();
  const file = join(d, 'password');
  writeFileSync(file, 's3cret\n');
  const c = readCredentials(kafka({}, { mechanism: 'scram-sha-256', username: 'app', passwordFile: file }));
  assert.deepEqual(c.sasl, { mechanism: 'SCRAM-SHA-256', username: 'app', password: 's3cret' });
  assert.deepEqual(c.files, [file]);
  assert.equal(c.principal, 'app');
  writeFileSync(file, '\n');
  const empty = problem(() => readCredentials(kafka({}, { mechanism: 'plain', username: 'app', passwordFile: file })));
  assert.deepEqual(empty, { key: 'kafka.sasl.passwordFile', message: `${file} is empty` });
  const missing = problem(() => readCredentials(kafka({}, { mechanism: 'plain', username: 'app', passwordFile: join(d, 'nope') })));
  assert.equal(missing.key, 'kafka.sasl.passwordFile');
  assert.match(missing.message, /cannot read .*nope: ENOENT/);
});

test('a changed secret changes the fingerprint; the same content does not', () => {
  const d = dir();
  const file = join(d, 'password');
  writeFileSync(file, 'one');
  const config = kafka({}, { mechanism: 'plain', username: 'app', passwordFile: file });
  const a = readCredentials(config);
  assert.equal(readCredentials(config).fingerprint, a.fingerprint);
  writeFileSync(file, 'two');
  assert.notEqual(readCredentials(config).fingerprint, a.fingerprint);
});

test('TLS: CA, client certificate and key become tls.connect options; the certificate is described', () => {
  const c = readCredentials(
    kafka({ enabled: true, caFile: fixture('ca.crt'), certFile: fixture('client.crt'), keyFile: fixture('client.key') }),
  );
  assert.match(String(c.tls?.ca), /BEGIN CERTIFICATE/);
  assert.match(String(c.tls?.cert), /BEGIN CERTIFICATE/);
  assert.match(c.tls?.key as string, /BEGIN PRIVATE KEY/);
  assert.equal(c.tls?.rejectUnauthorized, true);
  assert.equal(c.tls?.checkServerIdentity, undefined, 'the name is verified by default');
  assert.equal(c.certificate?.subject, 'CN=logagent-client');
  assert.ok((c.certificate?.expiresAt ?? 0) > Date.now());
  assert.deepEqual(c.files, [fixture('ca.crt'), fixture('client.crt'), fixture('client.key')]);
});

test('TLS: verifyServerName false skips the name check only; serverName replaces the host', () => {
  const c = readCredentials(kafka({ enabled: true, verifyServerName: false, serverName: 'kafka.internal' }));
  assert.equal(c.tls?.rejectUnauthorized, true);
  assert.equal(typeof c.tls?.checkServerIdentity, 'function');
  assert.equal(c.tls?.checkServerIdentity?.('x', {} as never), undefined);
  assert.equal(c.tls?.servername, 'kafka.internal');
  assert.equal(c.tls?.ca, undefined, 'no caFile: the system CAs');
});

test('TLS: a key of another certificate, an encrypted key without or with a wrong passphrase, a CA file without certificates: errors naming the key', () => {
  const d = dir();
  const base = { enabled: true, certFile: fixture('client.crt') };
  assert.match(
    problem(() => readCredentials(kafka({ ...base, keyFile: fixture('other.key') }))).message,
    /does not go with the certificate/,
  );
  const noPass = problem(() => readCredentials(kafka({ ...base, keyFile: fixture('client-encrypted.key') })));
  assert.equal(noPass.key, 'kafka.tls.keyFile');
  assert.match(noPass.message, /is encrypted: set kafka\.tls\.keyPassphraseFile/);
  const wrong = join(d, 'wrong');
  writeFileSync(wrong, 'not-the-passphrase\n');
  const bad = problem(() => readCredentials(kafka({ ...base, keyFile: fixture('client-encrypted.key'), keyPassphraseFile: wrong })));
  assert.deepEqual(bad, {
    key: 'kafka.tls.keyPassphraseFile',
    message: `the passphrase does not decrypt ${fixture('client-encrypted.key')}`,
  });
  const right = join(d, 'right');
  writeFileSync(right, 'fixture-passphrase\n');
  const ok = readCredentials(kafka({ ...base, keyFile: fixture('client-encrypted.key'), keyPassphraseFile: right }));
  assert.equal(ok.tls?.passphrase, 'fixture-passphrase');
  const notPem = join(d, 'ca.pem');
  writeFileSync(notPem, 'hello');
  assert.deepEqual(
    problem(() => readCredentials(kafka({ enabled: true, caFile: notPem }))),
    {
      key: 'kafka.tls.caFile',
      message: `${notPem} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    },
  );
});

test('OAUTHBEARER: the token file’s JWT gives expiry and principal; an opaque token has neither', () => {
  const d = dir();
  const file = join(d, 'token');
  writeFileSync(file, `${jwt({ sub: 'system:serviceaccount:web:app', exp: 2_000_000_000 })}\n`);
  const c = readCredentials(kafka({}, { mechanism: 'oauthbearer', tokenFile: file }));
  assert.equal(c.tokenExpiresAt, 2_000_000_000_000);
  assert.equal(c.principal, 'system:serviceaccount:web:app');
  assert.equal(c.sasl?.mechanism, 'OAUTHBEARER');
  assert.equal(c.sasl?.token?.(), jwt({ sub: 'system:serviceaccount:web:app', exp: 2_000_000_000 }));
  writeFileSync(file, 'opaque');
  assert.equal(readCredentials(kafka({}, { mechanism: 'oauthbearer', tokenFile: file })).tokenExpiresAt, undefined);
});

test('kafkajs gets the same credentials: ssl as given, sasl in its own names, a token provider reading the snapshot', async () => {
  const d = dir();
  copyFileSync(fixture('ca.crt'), join(d, 'ca.crt'));
  writeFileSync(join(d, 'pw'), 'pw1');
  const scram = kafkajsSecurity(
    readCredentials(
      kafka({ enabled: true, caFile: join(d, 'ca.crt') }, { mechanism: 'scram-sha-512', username: 'app', passwordFile: join(d, 'pw') }),
    ),
  );
  assert.match(String(scram.ssl?.ca), /BEGIN CERTIFICATE/);
  assert.deepEqual(scram.sasl, { mechanism: 'scram-sha-512', username: 'app', password: 'pw1' });
  writeFileSync(join(d, 'token'), 'tok');
  const oauth = kafkajsSecurity(readCredentials(kafka({}, { mechanism: 'oauthbearer', tokenFile: join(d, 'token') })));
  assert.equal(oauth.ssl, undefined);
  assert.equal(oauth.sasl?.mechanism, 'oauthbearer');
  assert.deepEqual(await (oauth.sasl as { oauthBearerProvider: () => Promise<unknown> }).oauthBearerProvider(), { value: 'tok' });
  assert.deepEqual(kafkajsSecurity(readCredentials(kafka())), {});
});

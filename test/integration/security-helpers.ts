// A secured Kafka for the security tests: scripts/kafka-local.sh in its
// secured mode (SASL_SSL, SSL with client certificates, SASL_PLAINTEXT
// beside PLAINTEXT), in its own run dir and ports, with a password the test
// chose (so it can grep every output for it). Started once per test file
// and stopped by pid through the script.

import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KAFKA_LOCAL, kafkaLocal } from './helpers.ts';

export interface SecureCluster {
  /** PLAINTEXT listener: test consumers and topic checks. */
  readonly plaintext: string;
  readonly saslSsl: string;
  /** SSL with a required client certificate. */
  readonly ssl: string;
  readonly saslPlaintext: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly user: string;
  readonly passwordFile: string;
  readonly password: string;
  /** Env of the script for this cluster (its run dir and ports). */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/** Below the ephemeral range, away from the ports other test files use (19092, 29092, 29592, 29792). */
export const SECURE_PORT = 18492;

/** SASL_PLAINTEXT offers fewer mechanisms than SASL_SSL, so that a refused mechanism can be tested. */
export const SASL_PLAINTEXT_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'OAUTHBEARER'];

export async function startSecureCluster(): Promise<SecureCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-kafka-secure-'));
  const password = `pw-${randomUUID()}`;
  const env = {
    KAFKA_LOCAL_DIR: dir,
    KAFKA_LOCAL_PORT: String(SECURE_PORT),
    KAFKA_LOCAL_SASL_USER: 'logagent',
    KAFKA_LOCAL_SASL_PASSWORD: password,
    KAFKA_LOCAL_PROPS: `listener.name.sasl_plaintext.sasl.enabled.mechanisms=${SASL_PLAINTEXT_MECHANISMS.join(',')}`,
  };
  const stop = async (): Promise<void> => {
    try {
      await kafkaLocal(['stop'], env);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    await kafkaLocal(['start', '--secure'], env);
    const { stdout } = await promisify(execFile)('bash', [KAFKA_LOCAL, 'secure-env'], { env: { ...process.env, ...env } });
    const facts = new Map(
      stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]),
    );
    const fact = (name: string): string => {
      const v = facts.get(name);
      if (!v) throw new Error(`kafka-local.sh secure-env lacks ${name}:\n${stdout}`);
      return v;
    };
    const passwordFile = fact('KAFKA_LOCAL_SASL_PASSWORD_FILE');
    if (readFileSync(passwordFile, 'utf8') !== password) throw new Error('the secured broker did not take the test password');
    return {
      plaintext: fact('KAFKA_LOCAL_PLAINTEXT'),
      saslSsl: fact('KAFKA_LOCAL_SASL_SSL'),
      ssl: fact('KAFKA_LOCAL_SSL'),
      saslPlaintext: fact('KAFKA_LOCAL_SASL_PLAINTEXT'),
      caFile: fact('KAFKA_LOCAL_CA_FILE'),
      certFile: fact('KAFKA_LOCAL_CLIENT_CERT_FILE'),
      keyFile: fact('KAFKA_LOCAL_CLIENT_KEY_FILE'),
      user: fact('KAFKA_LOCAL_SASL_USER'),
      passwordFile,
      password,
      env,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** A new client certificate from the cluster's CA: { cert, key } PEM text (certificate rotation). */
export async function issueClientCert(cluster: SecureCluster, cn: string): Promise<{ cert: string; key: string; serial: string }> {
  const out = mkdtempSync(join(tmpdir(), 'logagent-cert-'));
  try {
    await kafkaLocal(['client-cert', out, cn], cluster.env);
    const cert = readFileSync(join(out, 'client.crt'), 'utf8');
    const { X509Certificate } = await import('node:crypto');
    return { cert, key: readFileSync(join(out, 'client.key'), 'utf8'), serial: new X509Certificate(cert).serialNumber };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** An unsigned JWT as Kafka's unsecured OAUTHBEARER validator accepts it (header alg none, sub, exp in seconds). */
export function unsecuredJwt(sub: string, expiresInS: number): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ sub, iat: now, exp: now + expiresInS })}.`;
}

/** Fails naming where a secret showed up (never the secret itself). */
export function assertNoSecret(where: string, text: string, secrets: readonly string[]): void {
  for (const [i, secret] of secrets.entries()) {
    if (secret !== '' && text.includes(secret)) throw new Error(`secret #${i + 1} appears in ${where}`);
  }
}

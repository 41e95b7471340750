// Reads what a `kafka` section's security keys name (CA bundle, client
// certificate and key, key passphrase, SASL password, OAUTHBEARER token)
// into the options both Kafka clients take. A producer runs on one such
// snapshot from start to close; when a file changes, credential-watch.ts
// reads a new snapshot and the agent builds a new producer on it through
// the same lossless switch a configuration change uses. So a half-written
// rotation (a certificate without its new key) is never half-applied: a
// snapshot that does not hold together is rejected, and the running
// producer stays until the files agree again.
//
// Errors are ConfigErrors naming the key, its environment variable and the
// file; they never carry a file's content.

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import type { KafkaConfig } from '../config/config.ts';
import { ConfigError, errorMessage } from '../errors.ts';
import type { SaslMechanism, SaslOptions } from './native/sasl.ts';

export interface ClientCertificate {
  readonly subject: string;
  readonly serialNumber: string;
  readonly validFrom: string;
  readonly validTo: string;
  /** Unix ms. */
  readonly expiresAt: number;
}

export interface KafkaCredentials {
  /** tls.connect options (CA, client certificate, name checks); undefined: plaintext. */
  readonly tls: tls.ConnectionOptions | undefined;
  /** SASL for the native producer; undefined: none. */
  readonly sasl: SaslOptions | undefined;
  /** The SASL mechanism as configured (lower case), for metrics labels. */
  readonly mechanism: string | undefined;
  /** Who authenticates, for error messages: the SASL user, the token's subject, or the certificate's. Never a secret. */
  readonly principal: string | undefined;
  readonly certificate: ClientCertificate | undefined;
  /** OAUTHBEARER: when the token expires (a JWT's exp), Unix ms. */
  readonly tokenExpiresAt: number | undefined;
  /** Files read, to be watched. */
  readonly files: readonly string[];
  /** Hash of everything read: a different value means a new producer. Internal, never shown (it derives from secrets). */
  readonly fingerprint: string;
}

const ENV: Record<string, string> = {
  'kafka.tls.caFile': 'KAFKA_TLS_CA_FILE',
  'kafka.tls.certFile': 'KAFKA_TLS_CERT_FILE',
  'kafka.tls.keyFile': 'KAFKA_TLS_KEY_FILE',
  'kafka.tls.keyPassphrase': 'KAFKA_TLS_KEY_PASSPHRASE',
  'kafka.tls.keyPassphraseFile': 'KAFKA_TLS_KEY_PASSPHRASE_FILE',
  'kafka.sasl.passwordFile': 'KAFKA_SASL_PASSWORD_FILE',
  'kafka.sasl.tokenFile': 'KAFKA_SASL_TOKEN_FILE',
};

function problem(key: string, message: string): ConfigError {
  return new ConfigError([{ key, env: ENV[key], message }]);
}

function readText(key: string, path: string, files: string[]): string {
  files.push(path);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw problem(key, `cannot read ${path}: ${errorMessage(err)}`);
  }
}

/** A secret from a file: one trailing newline (what `echo` and editors add) is not part of it. */
function readSecretFile(key: string, path: string, files: string[]): string {
  const text = readText(key, path, files).replace(/\r?\n$/, '');
  if (text === '') throw problem(key, `${path} is empty`);
  return text;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificates(key: string, path: string, pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw problem(key, `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw problem(key, `${path}: certificate ${i + 1} is not valid: ${errorMessage(err)}`);
    }
  });
}

const MECHANISMS: Record<string, SaslMechanism> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
  oauthbearer: 'OAUTHBEARER',
};

/** Reads every file `kafka` names. Throws a ConfigError naming the key and the file. */
export function readCredentials(kafka: KafkaConfig): KafkaCredentials {
  const files: string[] = [];
  const hash = createHash('sha256');
  let tlsOptions: tls.ConnectionOptions | undefined;
  let certificate: ClientCertificate | undefined;
  let principal: string | undefined;
  const t = kafka.tls;
  if (t?.enabled) {
    const options: tls.ConnectionOptions = { rejectUnauthorized: true };
    if (t.caFile !== '') {
      const ca = readText('kafka.tls.caFile', t.caFile, files);
      certificates('kafka.tls.caFile', t.caFile, ca);
      options.ca = ca;
    }
    if (t.certFile !== '') {
      const cert = readText('kafka.tls.certFile', t.certFile, files);
      const [leaf] = certificates('kafka.tls.certFile', t.certFile, cert);
      const key = readText('kafka.tls.keyFile', t.keyFile, files);
      const passphrase =
        t.keyPassphraseFile !== '' ? readSecretFile('kafka.tls.keyPassphraseFile', t.keyPassphraseFile, files) : t.keyPassphrase;
      try {
        createPrivateKey(passphrase === '' ? { key } : { key, passphrase });
      } catch (err) {
        const encrypted = /ENCRYPTED/.test(key);
        throw problem(
          encrypted && passphrase !== ''
            ? t.keyPassphraseFile !== ''
              ? 'kafka.tls.keyPassphraseFile'
              : 'kafka.tls.keyPassphrase'
            : 'kafka.tls.keyFile',
          encrypted && passphrase === ''
            ? `${t.keyFile} is encrypted: set kafka.tls.keyPassphraseFile (or kafka.tls.keyPassphrase)`
            : encrypted
              ? `the passphrase does not decrypt ${t.keyFile}`
              : `${t.keyFile} is not a PEM private key: ${errorMessage(err)}`,
        );
      }
      try {
        // Proves that the key belongs to the certificate before a broker has to say so.
        tls.createSecureContext(passphrase === '' ? { cert, key } : { cert, key, passphrase });
      } catch (err) {
        throw problem('kafka.tls.keyFile', `${t.keyFile} does not go with the certificate in ${t.certFile}: ${errorMessage(err)}`);
      }
      options.cert = cert;
      options.key = key;
      if (passphrase !== '') options.passphrase = passphrase;
      if (leaf) {
        certificate = {
          subject: leaf.subject.replace(/\n/g, ', '),
          serialNumber: leaf.serialNumber,
          validFrom: leaf.validFrom,
          validTo: leaf.validTo,
          expiresAt: Date.parse(leaf.validTo),
        };
        principal = certificate.subject;
      }
    }
    if (t.serverName !== '') options.servername = t.serverName;
    // The chain is still verified (rejectUnauthorized); only the name check is skipped.
    if (!t.verifyServerName) options.checkServerIdentity = () => undefined;
    tlsOptions = options;
    hash.update(JSON.stringify(['tls', options.ca, options.cert, options.key, options.passphrase, t.serverName, t.verifyServerName]));
  }

  let sasl: SaslOptions | undefined;
  let tokenExpiresAt: number | undefined;
  const s = kafka.sasl;
  const mechanism = s && s.mechanism !== 'none' ? MECHANISMS[s.mechanism] : undefined;
  if (s && mechanism) {
    if (mechanism === 'OAUTHBEARER') {
      const token = readSecretFile('kafka.sasl.tokenFile', s.tokenFile, files).trim();
      const claims = jwtClaims(token);
      tokenExpiresAt = typeof claims?.exp === 'number' ? claims.exp * 1000 : undefined;
      principal = typeof claims?.sub === 'string' ? claims.sub : '(token subject unknown)';
      sasl = { mechanism, token: () => token };
      hash.update(JSON.stringify(['sasl', mechanism, token]));
    } else {
      const password = s.passwordFile !== '' ? readSecretFile('kafka.sasl.passwordFile', s.passwordFile, files) : s.password;
      sasl = { mechanism, username: s.username, password };
      principal = s.username;
      hash.update(JSON.stringify(['sasl', mechanism, s.username, password]));
    }
  }
  return {
    tls: tlsOptions,
    sasl,
    mechanism: s && s.mechanism !== 'none' ? s.mechanism : undefined,
    principal,
    certificate,
    tokenExpiresAt,
    files,
    fingerprint: hash.digest('hex'),
  };
}

/** No TLS, no SASL: what a section without security keys reads as. */
export const PLAINTEXT: KafkaCredentials = Object.freeze({
  tls: undefined,
  sasl: undefined,
  mechanism: undefined,
  principal: undefined,
  certificate: undefined,
  tokenExpiresAt: undefined,
  files: [],
  fingerprint: '',
});

/** The claims of a JWT (header.payload.signature, base64url), or undefined when `token` is not one. The signature is not checked: the broker does that. */
export function jwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Shortest wait between two reads of a token file (a token about to expire is not re-read in a loop). */
export const TOKEN_MIN_REREAD_MS = 1_000;
/** Wait between reads while the token in the file has expired (waiting for whoever renews it). */
export const TOKEN_EXPIRED_REREAD_MS = 5_000;

/**
 * When to read the token file again: after `intervalMs` at the latest, and
 * for a JWT once 80% of its remaining lifetime has passed, so that a
 * renewed token (a projected service account token is rewritten at 80% of
 * its lifetime) is in use before the old one expires, even when no
 * filesystem event says so. An expired token is looked for every few
 * seconds.
 */
export function tokenRereadDelayMs(expiresAt: number | undefined, now: number, intervalMs: number): number {
  if (expiresAt === undefined) return intervalMs;
  const remaining = expiresAt - now;
  if (remaining <= 0) return Math.min(intervalMs, TOKEN_EXPIRED_REREAD_MS);
  return Math.max(TOKEN_MIN_REREAD_MS, Math.min(intervalMs, Math.floor(remaining * 0.8)));
}

/** The same credentials in kafkajs's terms: its `ssl` (passed to our socket factory) and `sasl` options. */
export function kafkajsSecurity(c: KafkaCredentials): { ssl?: tls.ConnectionOptions; sasl?: SASLOptions } {
  const out: { ssl?: tls.ConnectionOptions; sasl?: SASLOptions } = {};
  if (c.tls) out.ssl = c.tls;
  const s = c.sasl;
  if (s) {
    switch (s.mechanism) {
      case 'PLAIN':
        out.sasl = { mechanism: 'plain', username: s.username ?? '', password: s.password ?? '' };
        break;
      case 'SCRAM-SHA-256':
        out.sasl = { mechanism: 'scram-sha-256', username: s.username ?? '', password: s.password ?? '' };
        break;
      case 'SCRAM-SHA-512':
        out.sasl = { mechanism: 'scram-sha-512', username: s.username ?? '', password: s.password ?? '' };
        break;
      case 'OAUTHBEARER': {
        const token = s.token;
        out.sasl = { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: token ? await token() : '' }) };
        break;
      }
    }
  }
  return out;
}

// The configuration side of Kafka security: where a secret may come from,
// which source wins, which combinations of TLS and SASL keys make sense,
// and how configuration is shown without its secrets. No file is read here:
// the sink reads the files a configuration names (src/sink/credentials.ts)
// and watches them.
//
// A secret is one setting with two forms: its value (kafka.sasl.password,
// KAFKA_SASL_PASSWORD) or a file holding it (kafka.sasl.passwordFile,
// KAFKA_SASL_PASSWORD_FILE). Precedence, as for every key: the environment
// beats the configuration file, and here it does so for the secret as a
// whole: either form in the environment replaces either form in the file
// (reported as an override, like any overridden key). Within one source,
// both forms at once is an error naming both keys: which one was meant
// cannot be guessed, and guessing wrong ships with the wrong credentials.

import type { ConfigProblem } from '../errors.ts';
import type { Config, KafkaConfig } from './config.ts';
import { schemaKeys } from './schema.ts';

/** A secret that may be given as a value or as a file (dotted keys). */
export interface SecretPair {
  readonly value: string;
  readonly file: string;
}

export const SECRET_PAIRS: readonly SecretPair[] = [
  { value: 'kafka.sasl.password', file: 'kafka.sasl.passwordFile' },
  { value: 'kafka.tls.keyPassphrase', file: 'kafka.tls.keyPassphraseFile' },
];

/** What redacted secrets show instead of their value. */
export const REDACTED = '[redacted]';

type Tree = Record<string, unknown>;

function get(tree: Tree | undefined, key: string): unknown {
  let node: unknown = tree;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) return undefined;
    node = (node as Tree)[part];
  }
  return node;
}

/** Given: present and not an empty string (an empty env variable, as a chart may render, means "not set"). */
function given(tree: Tree | undefined, key: string): boolean {
  const v = get(tree, key);
  return v !== undefined && v !== null && v !== '';
}

function without(tree: Tree, keys: readonly string[]): Tree {
  const copy = structuredClone(tree);
  for (const key of keys) {
    const parts = key.split('.');
    let node: unknown = copy;
    for (const part of parts.slice(0, -1)) {
      node = typeof node === 'object' && node !== null ? (node as Tree)[part] : undefined;
    }
    if (typeof node === 'object' && node !== null) delete (node as Tree)[parts[parts.length - 1] as string];
  }
  return copy;
}

export interface SecretSources {
  /** The configuration file's tree, without the secrets the environment replaces. */
  readonly file: Tree | undefined;
  readonly problems: ConfigProblem[];
  /** Secret keys of the file replaced by an environment variable. */
  readonly overrides: Array<{ key: string; env: string }>;
}

/**
 * Applies the precedence of secrets (see the module comment) to the two
 * sources before they are merged. `envs` maps dotted keys to their
 * environment variables; `origin` names the file in messages.
 */
export function resolveSecretSources(
  file: Tree | undefined,
  environment: Tree,
  envs: ReadonlyMap<string, string>,
  origin = 'the configuration file',
): SecretSources {
  const problems: ConfigProblem[] = [];
  const overrides: Array<{ key: string; env: string }> = [];
  let resolved = file;
  for (const pair of SECRET_PAIRS) {
    const valueEnv = envs.get(pair.value) ?? pair.value;
    const fileEnv = envs.get(pair.file) ?? pair.file;
    if (given(environment, pair.value) && given(environment, pair.file)) {
      problems.push({
        key: pair.value,
        env: valueEnv,
        message: `${valueEnv} and ${fileEnv} are both set; give the secret once, as a value or (better) as a file`,
      });
    }
    if (given(file, pair.value) && given(file, pair.file)) {
      problems.push({
        key: pair.value,
        env: undefined,
        message: `${pair.value} and ${pair.file} are both set in ${origin}; give the secret once, as a value or (better) as a file`,
      });
    }
    const fromEnv = given(environment, pair.value) ? valueEnv : given(environment, pair.file) ? fileEnv : undefined;
    if (fromEnv !== undefined && resolved !== undefined) {
      for (const key of [pair.value, pair.file]) if (given(resolved, key)) overrides.push({ key, env: fromEnv });
      resolved = without(resolved, [pair.value, pair.file]);
    }
  }
  return { file: resolved, problems, overrides };
}

/** Dotted keys marked `sensitive` in the schema. */
export function sensitiveKeys(): string[] {
  return schemaKeys()
    .filter((k) => k.sensitive)
    .map((k) => k.key);
}

/** A copy of `config` with every non-empty secret replaced by REDACTED: what check-config prints and the config hash is made of. */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config) as unknown as Tree;
  for (const key of sensitiveKeys()) {
    const parts = key.split('.');
    let node: unknown = copy;
    for (const part of parts.slice(0, -1)) node = typeof node === 'object' && node !== null ? (node as Tree)[part] : undefined;
    const leaf = parts[parts.length - 1] as string;
    if (typeof node === 'object' && node !== null && (node as Tree)[leaf] !== '' && (node as Tree)[leaf] !== undefined) {
      (node as Tree)[leaf] = REDACTED;
    }
  }
  return copy as unknown as Config;
}

/** The secret values present in raw configuration trees (for scrubbing messages built from them). */
export function secretValues(...trees: Array<Tree | undefined>): string[] {
  const out = new Set<string>();
  for (const tree of trees) {
    for (const key of sensitiveKeys()) {
      const v = get(tree, key);
      if ((typeof v === 'string' || typeof v === 'number') && String(v) !== '') out.add(String(v));
    }
  }
  return [...out];
}

/**
 * `text` with every occurrence of a secret replaced by REDACTED. A safety
 * net under messages made from configuration (convict's, the YAML
 * parser's): none of ours prints a value of a sensitive key, but a
 * message that quotes a line of the file could.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s.length === 0) continue;
    out = out.split(s).join(REDACTED);
    const quoted = JSON.stringify(s).slice(1, -1);
    if (quoted !== s) out = out.split(quoted).join(REDACTED);
  }
  return out;
}

/**
 * Combinations of TLS and SASL keys that cannot work, each named by its key:
 * a mechanism without its credentials, credentials without their
 * mechanism, TLS files with TLS off, half a client certificate.
 */
export function kafkaSecurityProblems(kafka: KafkaConfig, envs: ReadonlyMap<string, string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (key: string, message: string): void => {
    problems.push({ key, env: envs.get(key), message });
  };
  const { tls, sasl } = kafka;
  if (!tls || !sasl) return problems;
  if (!tls.enabled) {
    for (const key of ['caFile', 'certFile', 'keyFile', 'keyPassphrase', 'keyPassphraseFile', 'serverName'] as const) {
      if (tls[key] !== '')
        problem(`kafka.tls.${key}`, 'is set but kafka.tls.enabled is false; enable TLS (KAFKA_TLS_ENABLED=true) or remove it');
    }
  } else {
    if (tls.certFile !== '' && tls.keyFile === '')
      problem('kafka.tls.keyFile', 'is required with kafka.tls.certFile (the client certificate needs its key)');
    if (tls.keyFile !== '' && tls.certFile === '')
      problem('kafka.tls.certFile', 'is required with kafka.tls.keyFile (the key needs its client certificate)');
    if (tls.keyFile === '') {
      for (const key of ['keyPassphrase', 'keyPassphraseFile'] as const) {
        if (tls[key] !== '') problem(`kafka.tls.${key}`, 'is set but there is no kafka.tls.keyFile to decrypt');
      }
    }
  }
  const hasPassword = sasl.password !== '' || sasl.passwordFile !== '';
  switch (sasl.mechanism) {
    case 'none':
      for (const key of ['username', 'password', 'passwordFile', 'tokenFile'] as const) {
        if (sasl[key] !== '')
          problem(`kafka.sasl.${key}`, 'is set but kafka.sasl.mechanism is none; set the mechanism (KAFKA_SASL_MECHANISM) or remove it');
      }
      break;
    case 'plain':
    case 'scram-sha-256':
    case 'scram-sha-512':
      if (sasl.username === '') problem('kafka.sasl.username', `is required with kafka.sasl.mechanism ${sasl.mechanism}`);
      if (!hasPassword) {
        problem('kafka.sasl.passwordFile', `(or kafka.sasl.password) is required with kafka.sasl.mechanism ${sasl.mechanism}`);
      }
      if (sasl.tokenFile !== '') problem('kafka.sasl.tokenFile', `is for oauthbearer, not ${sasl.mechanism}`);
      break;
    case 'oauthbearer':
      if (sasl.tokenFile === '') problem('kafka.sasl.tokenFile', 'is required with kafka.sasl.mechanism oauthbearer');
      for (const key of ['username', 'password', 'passwordFile'] as const) {
        if (sasl[key] !== '') problem(`kafka.sasl.${key}`, 'is not used by oauthbearer (the token names the principal); remove it');
      }
      break;
  }
  return problems;
}

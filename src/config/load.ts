// Builds a Config from the environment and an optional config file through
// the convict schema, and turns convict's error text into problems that name
// the key, its environment variable and the value received.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage, type ConfigProblem } from '../errors.ts';
import type { Config, InputConfig } from './config.ts';
import { createConvict, schemaKeys } from './schema.ts';

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** A YAML or JSON file with the schema's keys (nested); environment variables override it. */
  file?: string | undefined;
}

/** key (dotted) -> env variable, from the schema. */
function envNames(): Map<string, string> {
  return new Map(schemaKeys().map((k) => [k.key, k.env]));
}

function problemsFromConvict(message: string, envs: Map<string, string>): ConfigProblem[] {
  return message
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const undeclared = /^configuration param '([^']+)' not declared in the schema/.exec(line);
      if (undeclared?.[1]) return { key: undeclared[1], env: undefined, message: 'unknown key' };
      const match = /^([A-Za-z0-9_.]+): (.*)$/.exec(line);
      if (!match?.[1] || match[2] === undefined) return { key: '(config)', env: undefined, message: line };
      const key = match[1];
      return { key, env: envs.get(key), message: match[2] };
    });
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const envs = envNames();
  const envProblems: ConfigProblem[] = [];
  const fromEnvironment = fromEnv(env, envs, envProblems);
  if (envProblems.length > 0) throw new ConfigError(envProblems);
  const fromFile = options.file === undefined ? undefined : readConfigFile(options.file);
  let conf;
  try {
    conf = createConvict();
    if (fromFile !== undefined) conf.load(fromFile);
    conf.load(fromEnvironment);
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(problemsFromConvict(err instanceof Error ? err.message : String(err), envs));
  }
  const raw = conf.getProperties() as RawConfig;
  const problems = crossCheck(raw, envs);
  if (problems.length > 0) throw new ConfigError(problems);
  return freeze(toConfig(raw));
}

/**
 * Maps env variables onto the schema tree. Done here rather than by convict
 * so that tests pass an env object and nothing reads process.env behind
 * their back.
 */
function fromEnv(env: NodeJS.ProcessEnv, envs: Map<string, string>, problems: ConfigProblem[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, name] of envs) {
    const value = env[name];
    if (value === undefined) continue;
    const path = key.split('.');
    let node = out;
    for (const part of path.slice(0, -1)) {
      node[part] ??= {};
      node = node[part] as Record<string, unknown>;
    }
    const coerced = coerceEnv(key, value);
    if (coerced.ok) node[path[path.length - 1] as string] = coerced.value;
    else problems.push({ key, env: name, message: `${coerced.expected}: value was ${JSON.stringify(value)}` });
  }
  return out;
}

type Coerced = { ok: true; value: unknown } | { ok: false; expected: string };

/**
 * Env values are strings; give convict the type the schema expects. Done
 * strictly here because convict's own coercion turns "maybe" into true and
 * "x" into NaN without saying what it received.
 */
function coerceEnv(key: string, value: string): Coerced {
  const def = lookupDefault(key);
  if (Array.isArray(def)) {
    return {
      ok: true,
      value: value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    };
  }
  if (typeof def === 'number') {
    const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    return Number.isSafeInteger(n) ? { ok: true, value: n } : { ok: false, expected: 'must be a whole number' };
  }
  if (typeof def === 'boolean') {
    const v = value.trim().toLowerCase();
    if (v === 'true' || v === '1' || v === 'yes') return { ok: true, value: true };
    if (v === 'false' || v === '0' || v === 'no') return { ok: true, value: false };
    return { ok: false, expected: 'must be true or false' };
  }
  return { ok: true, value };
}

const defaults = new Map(schemaKeys().map((k) => [k.key, k.default]));

function lookupDefault(key: string): unknown {
  return defaults.get(key);
}

interface RawConfig {
  kafka: Config['kafka'];
  topic: string;
  paths: string[];
  exclude: string[];
  startAt: InputConfig['startAt'];
  reader: Config['reader'];
  discovery: Config['discovery'];
  rotated: Config['rotated'];
  inflightMaxBytes: number;
  checkpoint: Config['checkpoint'];
  shutdown: Config['shutdown'];
  http: Config['http'];
  logLevel: Config['logLevel'];
}

function crossCheck(raw: RawConfig, envs: Map<string, string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (key: string, message: string): void => {
    problems.push({ key, env: envs.get(key), message });
  };
  if (raw.topic === '') problem('topic', 'is required: the Kafka topic lines are produced to');
  if (raw.paths.length === 0) problem('paths', 'is required: at least one file path or glob to tail');
  if (raw.reader.maxLineBytes > raw.inflightMaxBytes) {
    problem('reader.maxLineBytes', `(${raw.reader.maxLineBytes}) must not exceed inflightMaxBytes (${raw.inflightMaxBytes})`);
  }
  if (raw.kafka.idempotent && raw.kafka.acks !== 'all') {
    problem('kafka.idempotent', `requires KAFKA_ACKS=all, got acks ${raw.kafka.acks}`);
  }
  if (raw.shutdown.quietMs >= raw.shutdown.deadlineMs) {
    problem('shutdown.quietMs', `(${raw.shutdown.quietMs}) must be below shutdown.deadlineMs (${raw.shutdown.deadlineMs})`);
  }
  return problems;
}

function toConfig(raw: RawConfig): Config {
  return {
    kafka: { ...raw.kafka, brokers: raw.kafka.brokers.map((b) => b.trim()) },
    inputs: [{ name: 'default', topic: raw.topic, paths: raw.paths, exclude: raw.exclude, startAt: raw.startAt }],
    reader: raw.reader,
    discovery: raw.discovery,
    rotated: raw.rotated,
    inflightMaxBytes: raw.inflightMaxBytes,
    checkpoint: raw.checkpoint,
    shutdown: raw.shutdown,
    http: raw.http,
    logLevel: raw.logLevel,
  };
}

function freeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) freeze(child);
    Object.freeze(value);
  }
  return value;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ key: '(config file)', env: undefined, message: `cannot read ${file}: ${errorMessage(err)}` }]);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new ConfigError([{ key: '(config file)', env: undefined, message: `${file} is not valid YAML: ${errorMessage(err)}` }]);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([{ key: '(config file)', env: undefined, message: `${file} must hold a mapping of configuration keys` }]);
  }
  return data as Record<string, unknown>;
}

// Builds a Config from the environment and an optional configuration text
// (the file, or the ConfigMap's key) through the convict schema, and turns
// convict's error text into problems that name the key (for an input: its
// index and name), its environment variable and the value received.
//
// Precedence: defaults < configuration text < environment. A key set in
// both is reported as an override at every load, naming both: an operator
// who edits that key in the ConfigMap would otherwise see nothing happen.
// Secrets (a value or a file holding it) follow security.ts's rules, and no
// message made here carries a secret's value.

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage, type ConfigProblem } from '../errors.ts';
import type { Config, InputConfig, KafkaConfig, KafkaSaslConfig, KafkaTlsConfig, RecordSettings } from './config.ts';
import { createConvict, INPUT_PROBLEM_SEPARATOR, INPUT_PROBLEMS_END, INPUT_PROBLEMS_MARK, normalizeInput, schemaKeys } from './schema.ts';
import { kafkaSecurityProblems, resolveSecretSources, scrubSecrets, secretValues, sensitiveKeys } from './security.ts';

/** Configuration text and where it came from (a file path, or configmap/<ns>/<name>). */
export interface ConfigText {
  readonly text: string;
  readonly origin: string;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** A YAML or JSON file (or a directory holding config.yaml or config.json); environment variables override it. */
  file?: string | undefined;
  /** The configuration text itself (a reload): takes the place of `file`. */
  source?: ConfigText | undefined;
  /**
   * Only the `kafka` section matters (`logagent consume`): what an agent
   * needs besides (inputs, limits) is not required.
   */
  kafkaOnly?: boolean;
}

export interface LoadResult {
  readonly config: Config;
  /** Keys set in the configuration text and overridden by an environment variable. */
  readonly overrides: ReadonlyArray<{ readonly key: string; readonly env: string }>;
  readonly origin: string | undefined;
}

/** key (dotted) -> env variable, from the schema. */
function envNames(): Map<string, string> {
  return new Map(schemaKeys().flatMap((k) => (k.env ? [[k.key, k.env] as [string, string]] : [])));
}

function problemsFromConvict(message: string, envs: Map<string, string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const line of message.split('\n')) {
    if (line.trim() === '') continue;
    const undeclared = /^configuration param '([^']+)' not declared in the schema/.exec(line);
    if (undeclared?.[1]) {
      problems.push({ key: undeclared[1], env: undefined, message: 'unknown key' });
      continue;
    }
    const match = /^([A-Za-z0-9_.]+): (.*)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) {
      problems.push({ key: '(config)', env: undefined, message: line });
      continue;
    }
    const [, key, rest] = match;
    const mark = rest.indexOf(INPUT_PROBLEMS_MARK);
    if (key === 'inputs' && mark >= 0) {
      // One problem per input key, already naming the input: "inputs[1] (web).topic: ...".
      // convict appends the whole list as ": value was [...]" after our end mark: the parts name their own values.
      const body = rest.slice(mark + INPUT_PROBLEMS_MARK.length);
      const end = body.indexOf(INPUT_PROBLEMS_END);
      const list = end >= 0 ? body.slice(0, end) : body;
      for (const part of list.split(INPUT_PROBLEM_SEPARATOR)) {
        const sep = part.indexOf(': ');
        problems.push({ key: part.slice(0, sep), env: undefined, message: part.slice(sep + 2) });
      }
      continue;
    }
    problems.push({ key, env: envs.get(key), message: rest });
  }
  return problems;
}

/** Loads and validates; throws a ConfigError listing every problem. */
export function loadConfig(options: LoadOptions = {}): Config {
  return loadConfigDetailed(options).config;
}

export function loadConfigDetailed(options: LoadOptions = {}): LoadResult {
  const env = options.env ?? process.env;
  const envs = envNames();
  const envProblems: ConfigProblem[] = [];
  const fromEnvironment = fromEnv(env, envs, envProblems);
  if (envProblems.length > 0) throw new ConfigError(envProblems);
  const source = options.source ?? (options.file === undefined ? undefined : readConfigSource(options.file));
  const parsed = source === undefined ? undefined : parseConfigText(source);
  const secrets = secretValues(parsed, fromEnvironment);
  const fail = (problems: ConfigProblem[]): never => {
    throw new ConfigError(problems.map((p) => ({ ...p, message: scrubSecrets(p.message, secrets) })));
  };
  const resolved = resolveSecretSources(parsed, fromEnvironment, envs, source?.origin);
  if (resolved.problems.length > 0) fail(resolved.problems);
  const fromFile = resolved.file;
  let conf;
  try {
    conf = createConvict();
    if (fromFile !== undefined) conf.load(fromFile);
    conf.load(fromEnvironment);
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    return fail(problemsFromConvict(err instanceof Error ? err.message : String(err), envs));
  }
  const raw = conf.getProperties() as RawConfig;
  const problems = options.kafkaOnly ? kafkaSecurityProblems(raw.kafka, envs) : crossCheck(raw, envs);
  if (problems.length > 0) fail(problems);
  const overrides = fromFile === undefined ? [] : [...resolved.overrides, ...findOverrides(fromFile, fromEnvironment, envs)];
  return { config: freeze(toConfig(raw)), overrides, origin: source?.origin };
}

/**
 * Reads the configuration from a file, or from a directory as a mounted
 * ConfigMap is: its config.yaml, else its config.json.
 */
export function readConfigSource(path: string): ConfigText {
  let file = path;
  try {
    if (statSync(path).isDirectory()) {
      const candidates = ['config.yaml', 'config.json'].map((name) => join(path, name));
      const found = candidates.find((c) => {
        try {
          return statSync(c).isFile();
        } catch {
          return false;
        }
      });
      if (!found) {
        throw new ConfigError([
          { key: '(config file)', env: 'LOGAGENT_CONFIG', message: `directory ${path} holds neither config.yaml nor config.json` },
        ]);
      }
      file = found;
    }
    return { text: readFileSync(file, 'utf8'), origin: file };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([{ key: '(config file)', env: 'LOGAGENT_CONFIG', message: `cannot read ${file}: ${errorMessage(err)}` }]);
  }
}

/** Parses YAML (a superset of JSON): a mapping of configuration keys, or nothing. */
export function parseConfigText(source: ConfigText): Record<string, unknown> {
  let data: unknown;
  try {
    data = parseYaml(source.text);
  } catch (err) {
    // The parser's message quotes the offending lines, which may hold a
    // secret: only its first line (what is wrong, and where) is shown.
    const what = errorMessage(err).split('\n')[0]?.replace(/:$/, '') ?? 'parse error';
    throw new ConfigError([{ key: '(config file)', env: undefined, message: `${source.origin} is not valid YAML: ${what}` }]);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([
      { key: '(config file)', env: undefined, message: `${source.origin} must hold a mapping of configuration keys` },
    ]);
  }
  return data as Record<string, unknown>;
}

/**
 * Maps env variables onto the schema tree. Done here rather than by convict
 * so that tests pass an env object and nothing reads process.env behind
 * their back.
 */
function fromEnv(env: NodeJS.ProcessEnv, envs: Map<string, string>, problems: ConfigProblem[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const sensitive = new Set(sensitiveKeys());
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
    else if (sensitive.has(key)) problems.push({ key, env: name, message: coerced.expected });
    else problems.push({ key, env: name, message: `${coerced.expected}: value was ${JSON.stringify(value)}` });
  }
  return out;
}

/** Keys present in both the file and the environment (env wins). */
function findOverrides(
  file: Record<string, unknown>,
  environment: Record<string, unknown>,
  envs: Map<string, string>,
): Array<{ key: string; env: string }> {
  const out: Array<{ key: string; env: string }> = [];
  for (const [key, name] of envs) {
    if (hasPath(file, key) && hasPath(environment, key)) out.push({ key, env: name });
  }
  return out;
}

function hasPath(tree: Record<string, unknown>, key: string): boolean {
  let node: unknown = tree;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) return false;
    node = (node as Record<string, unknown>)[part];
  }
  return true;
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

type RawInput = InputConfig;

interface RawConfig extends RecordSettings {
  kafka: KafkaConfig & { tls: KafkaTlsConfig; sasl: KafkaSaslConfig };
  topic: string;
  paths: string[];
  exclude: string[];
  startAt: InputConfig['startAt'];
  inputs: RawInput[];
  reader: Config['reader'];
  discovery: Config['discovery'];
  rotated: Config['rotated'];
  inflightMaxBytes: number;
  checkpoint: Config['checkpoint'];
  shutdown: Config['shutdown'];
  http: Config['http'];
  logLevel: Config['logLevel'];
  kubernetes: Config['kubernetes'];
  config: Config['config'];
}

/** Name of the top-level input (LOGAGENT_PATHS + LOGAGENT_TOPIC). */
export const DEFAULT_INPUT = 'default';

function crossCheck(raw: RawConfig, envs: Map<string, string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (key: string, message: string): void => {
    problems.push({ key, env: envs.get(key), message });
  };
  const hasTopLevel = raw.paths.length > 0 || raw.topic !== '';
  if (hasTopLevel || raw.inputs.length === 0) {
    if (raw.topic === '') problem('topic', 'is required: the Kafka topic lines are produced to (or list `inputs` in the config file)');
    if (raw.paths.length === 0)
      problem('paths', 'is required: at least one file path or glob to tail (or list `inputs` in the config file)');
  }
  raw.inputs.forEach((input, index) => {
    if (hasTopLevel && input.name === DEFAULT_INPUT) {
      problems.push({
        key: `inputs[${index}] (${input.name}).name`,
        env: undefined,
        message: `"${DEFAULT_INPUT}" is the top-level input's name (topic/paths, LOGAGENT_TOPIC/LOGAGENT_PATHS); choose another`,
      });
    }
  });
  if (raw.reader.maxLineBytes > raw.inflightMaxBytes) {
    problem('reader.maxLineBytes', `(${raw.reader.maxLineBytes}) must not exceed inflightMaxBytes (${raw.inflightMaxBytes})`);
  }
  if (raw.shutdown.quietMs >= raw.shutdown.deadlineMs) {
    problem('shutdown.quietMs', `(${raw.shutdown.quietMs}) must be below shutdown.deadlineMs (${raw.shutdown.deadlineMs})`);
  }
  problems.push(...kafkaSecurityProblems(raw.kafka, envs));
  return problems;
}

function toConfig(raw: RawConfig): Config {
  const inputs: InputConfig[] = [];
  if (raw.paths.length > 0) {
    inputs.push({
      name: DEFAULT_INPUT,
      topic: raw.topic,
      paths: raw.paths,
      exclude: raw.exclude,
      startAt: raw.startAt,
      ...recordSettingsOf(raw),
    });
  }
  for (const element of raw.inputs) {
    const i = normalizeInput(element) as unknown as RawInput;
    inputs.push({ name: i.name, topic: i.topic, paths: i.paths, exclude: i.exclude, startAt: i.startAt, ...recordSettingsOf(i) });
  }
  return {
    kafka: { ...raw.kafka, brokers: raw.kafka.brokers.map((b) => b.trim()), tls: { ...raw.kafka.tls }, sasl: { ...raw.kafka.sasl } },
    inputs,
    reader: raw.reader,
    discovery: raw.discovery,
    rotated: raw.rotated,
    inflightMaxBytes: raw.inflightMaxBytes,
    checkpoint: raw.checkpoint,
    shutdown: raw.shutdown,
    http: raw.http,
    logLevel: raw.logLevel,
    kubernetes: raw.kubernetes,
    config: raw.config,
  };
}

function recordSettingsOf(r: RecordSettings): RecordSettings {
  return {
    format: r.format,
    parse: r.parse,
    parsedField: r.parsedField,
    key: r.key,
    container: r.container,
    fields: { ...r.fields },
    headers: { ...r.headers },
    multiline: { ...r.multiline },
  };
}

function freeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) freeze(child);
    Object.freeze(value);
  }
  return value;
}

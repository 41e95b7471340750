// One error hierarchy for the whole agent. Every error carries a stable
// `code`, an optional `cause`, and whether retrying the same operation can
// help, so callers decide between "log and retry", "retire this file" and
// "exit with a clear message" without parsing messages.

export const ERROR_CODES = [
  'CONFIG_INVALID',
  'CHECKPOINT_CORRUPT',
  'CHECKPOINT_IO',
  'CHECKPOINT_DIR',
  'USAGE',
  'KAFKAJS_PATCH',
  'KAFKA_TIMEOUT',
  'KAFKA_PROTOCOL',
  'KAFKA_CONNECTION',
  'KAFKA_TOPIC_MISSING',
  'KAFKA_SASL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class LogAgentError extends Error {
  readonly code: ErrorCode;
  readonly canRetry: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; canRetry?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LogAgentError';
    this.code = code;
    this.canRetry = options.canRetry ?? false;
  }
}

/** One invalid configuration key: the key, where it came from, and the rule it broke. */
export interface ConfigProblem {
  key: string;
  env: string | undefined;
  message: string;
}

export class ConfigError extends LogAgentError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super('CONFIG_INVALID', ConfigError.describe(problems));
    this.name = 'ConfigError';
    this.problems = problems;
  }

  static describe(problems: readonly ConfigProblem[]): string {
    const lines = problems.map((p) => `  ${p.key}${p.env ? ` (env ${p.env})` : ''}: ${p.message}`);
    return `invalid configuration:\n${lines.join('\n')}`;
  }
}

export class UsageError extends LogAgentError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
}

export class CheckpointError extends LogAgentError {
  constructor(code: 'CHECKPOINT_CORRUPT' | 'CHECKPOINT_IO' | 'CHECKPOINT_DIR', message: string, cause?: unknown) {
    super(code, message, { cause, canRetry: code === 'CHECKPOINT_IO' });
    this.name = 'CheckpointError';
  }
}

/** A load-time replacement of kafkajs internals did not take effect: the agent must not run on unknown code. */
export class KafkajsPatchError extends LogAgentError {
  constructor(message: string) {
    super('KAFKAJS_PATCH', message);
    this.name = 'KafkajsPatchError';
  }
}

/** Kafka did not answer within our own deadline (a broker that accepts connections and stays silent). */
export class KafkaTimeoutError extends LogAgentError {
  constructor(what: string, timeoutMs: number) {
    super('KAFKA_TIMEOUT', `${what} got no answer from Kafka within ${timeoutMs} ms`, { canRetry: true });
    this.name = 'KafkaTimeoutError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Node's errno code of a filesystem error, if there is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

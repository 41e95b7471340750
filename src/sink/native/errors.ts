// Kafka's error codes as the native producer acts on them, and its error
// classes. Each code says whether a retry can help and whether our view of
// the cluster (leaders, topics) is stale. The sink retries everything in
// the end (lines wait on disk), but the class decides how: at once, after a
// metadata refresh, after a backoff, or by splitting the request.

import { LogAgentError } from '../../errors.ts';

export interface ErrorInfo {
  readonly name: string;
  /** Kafka says a retry of the same request may succeed. */
  readonly retriable: boolean;
  /** Our metadata is likely stale (leader moved, topic or partition unknown). */
  readonly refresh: boolean;
}

const E = (name: string, retriable: boolean, refresh = false): ErrorInfo => ({ name, retriable, refresh });

export const NONE = 0;
export const UNKNOWN_TOPIC_OR_PARTITION = 3;
export const MESSAGE_TOO_LARGE = 10;
export const RECORD_LIST_TOO_LARGE = 18;
export const UNSUPPORTED_VERSION = 35;
export const TOPIC_ALREADY_EXISTS = 36;
export const OUT_OF_ORDER_SEQUENCE_NUMBER = 45;
export const DUPLICATE_SEQUENCE_NUMBER = 46;
export const INVALID_PRODUCER_EPOCH = 47;
export const INVALID_PRODUCER_ID_MAPPING = 49;
export const UNKNOWN_PRODUCER_ID = 59;
export const PRODUCER_FENCED = 90;
export const UNKNOWN_TOPIC_ID = 100;

const CODES: Record<number, ErrorInfo> = {
  [-1]: E('UNKNOWN_SERVER_ERROR', false),
  1: E('OFFSET_OUT_OF_RANGE', false),
  2: E('CORRUPT_MESSAGE', true),
  3: E('UNKNOWN_TOPIC_OR_PARTITION', true, true),
  4: E('INVALID_FETCH_SIZE', false),
  5: E('LEADER_NOT_AVAILABLE', true, true),
  6: E('NOT_LEADER_OR_FOLLOWER', true, true),
  7: E('REQUEST_TIMED_OUT', true),
  8: E('BROKER_NOT_AVAILABLE', false, true),
  9: E('REPLICA_NOT_AVAILABLE', true, true),
  10: E('MESSAGE_TOO_LARGE', false),
  13: E('NETWORK_EXCEPTION', true, true),
  14: E('COORDINATOR_LOAD_IN_PROGRESS', true),
  15: E('COORDINATOR_NOT_AVAILABLE', true),
  16: E('NOT_COORDINATOR', true),
  17: E('INVALID_TOPIC_EXCEPTION', false),
  18: E('RECORD_LIST_TOO_LARGE', false),
  19: E('NOT_ENOUGH_REPLICAS', true),
  20: E('NOT_ENOUGH_REPLICAS_AFTER_APPEND', true),
  21: E('INVALID_REQUIRED_ACKS', false),
  29: E('TOPIC_AUTHORIZATION_FAILED', false),
  31: E('CLUSTER_AUTHORIZATION_FAILED', false),
  32: E('INVALID_TIMESTAMP', false),
  33: E('UNSUPPORTED_SASL_MECHANISM', false),
  34: E('ILLEGAL_SASL_STATE', false),
  35: E('UNSUPPORTED_VERSION', false),
  36: E('TOPIC_ALREADY_EXISTS', false),
  37: E('INVALID_PARTITIONS', false),
  38: E('INVALID_REPLICATION_FACTOR', false),
  39: E('INVALID_REPLICA_ASSIGNMENT', false),
  40: E('INVALID_CONFIG', false),
  41: E('NOT_CONTROLLER', true, true),
  42: E('INVALID_REQUEST', false),
  43: E('UNSUPPORTED_FOR_MESSAGE_FORMAT', false),
  44: E('POLICY_VIOLATION', false),
  45: E('OUT_OF_ORDER_SEQUENCE_NUMBER', false),
  46: E('DUPLICATE_SEQUENCE_NUMBER', false),
  47: E('INVALID_PRODUCER_EPOCH', false),
  49: E('INVALID_PRODUCER_ID_MAPPING', false),
  53: E('TRANSACTIONAL_ID_AUTHORIZATION_FAILED', false),
  56: E('KAFKA_STORAGE_ERROR', true, true),
  58: E('SASL_AUTHENTICATION_FAILED', false),
  59: E('UNKNOWN_PRODUCER_ID', false),
  74: E('FENCED_LEADER_EPOCH', true, true),
  75: E('UNKNOWN_LEADER_EPOCH', true, true),
  87: E('INVALID_RECORD', false),
  89: E('THROTTLING_QUOTA_EXCEEDED', true),
  90: E('PRODUCER_FENCED', false),
  100: E('UNKNOWN_TOPIC_ID', true, true),
};

export function errorInfo(code: number): ErrorInfo {
  return CODES[code] ?? E(`KAFKA_ERROR_${code}`, false);
}

export function isTooLarge(code: number): boolean {
  return code === MESSAGE_TOO_LARGE || code === RECORD_LIST_TOO_LARGE;
}

/** A broker answered with an error code. */
export class KafkaProtocolError extends LogAgentError {
  readonly errorCode: number;
  readonly type: string;
  readonly refresh: boolean;

  constructor(code: number, context: string, brokerMessage?: string | null) {
    const info = errorInfo(code);
    super('KAFKA_PROTOCOL', `${context}: ${info.name}${brokerMessage ? ` (${brokerMessage})` : ''}`, { canRetry: info.retriable });
    this.name = 'KafkaProtocolError';
    this.errorCode = code;
    this.type = info.name;
    this.refresh = info.refresh;
  }
}

/** A broker connection failed or closed: every request on it has an unknown outcome. */
export class KafkaConnectionError extends LogAgentError {
  readonly broker: string;

  constructor(broker: string, message: string, cause?: unknown) {
    super('KAFKA_CONNECTION', `broker ${broker}: ${message}`, { cause, canRetry: true });
    this.name = 'KafkaConnectionError';
    this.broker = broker;
  }
}

/** The topic does not exist and the configuration says not to create it. */
export class TopicMissingError extends LogAgentError {
  constructor(topic: string) {
    super('KAFKA_TOPIC_MISSING', `topic "${topic}" does not exist and KAFKA_TOPIC_CREATE is false; create the topic`, {
      canRetry: true,
    });
    this.name = 'TopicMissingError';
  }
}

// Reads a topic for `logagent consume`: every partition, from the beginning
// or the end, until a number of messages or a quiet period. Lives beside the
// producer so that only src/sink/ talks to kafkajs.

import type tls from 'node:tls';
import type pino from 'pino';
import type { Kafka, SASLOptions } from 'kafkajs';
import { registerCodecs } from './codecs.ts';
import kafkajs from './kafkajs.ts';

export interface TopicMessage {
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, Buffer>;
}

export interface ReadTopicOptions {
  brokers: string[];
  /** TLS options (credentials.ts kafkajsSecurity). */
  ssl?: tls.ConnectionOptions;
  sasl?: SASLOptions;
  topic: string;
  group: string;
  fromBeginning: boolean;
  maxMessages?: number;
  /** Ends after this long without a message once joined; also how long to wait for the topic to exist. */
  timeoutMs: number;
  logger: pino.Logger;
  onWaiting?: () => void;
  onBatch: (messages: TopicMessage[]) => void;
}

export type ReadTopicResult = { kind: 'no-topic' } | { kind: 'done'; count: number };

export async function readTopic(o: ReadTopicOptions): Promise<ReadTopicResult> {
  registerCodecs();
  const kafka = new kafkajs.Kafka({
    clientId: 'logagent-consume',
    brokers: o.brokers,
    ...(o.ssl ? { ssl: o.ssl } : {}),
    ...(o.sasl ? { sasl: o.sasl } : {}),
    logCreator:
      () =>
      ({ log }) =>
        o.logger.debug(log, 'kafkajs'),
  });
  // disconnect() waits for the fetch in flight: with kafkajs's default long
  // poll (5 s) the command would outlive --timeout-ms by up to 5 s.
  const consumer = kafka.consumer({
    groupId: o.group,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: Math.max(100, Math.min(500, o.timeoutMs)),
  });
  // The topic may not exist yet (the agent creates it on its first delivery):
  // wait for it as long as the timeout allows.
  if (!(await waitForTopic(kafka, o.topic, o.timeoutMs, o.onWaiting))) return { kind: 'no-topic' };

  let count = 0;
  let lastActivity = Date.now();
  let joined = false;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
    lastActivity = Date.now();
  });
  const timer = setInterval(() => {
    if (joined && Date.now() - lastActivity >= o.timeoutMs) finish();
  }, 50);
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: o.topic, fromBeginning: o.fromBeginning });
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const messages: TopicMessage[] = [];
        for (const m of batch.messages) {
          if (o.maxMessages !== undefined && count >= o.maxMessages) break;
          count++;
          const headers: Record<string, Buffer> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) {
            const first = Array.isArray(v) ? v[0] : v;
            if (first !== undefined) headers[k] = Buffer.isBuffer(first) ? first : Buffer.from(String(first));
          }
          messages.push({ partition: batch.partition, offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value, headers });
        }
        o.onBatch(messages);
        lastActivity = Date.now();
        if (o.maxMessages !== undefined && count >= o.maxMessages) finish();
      },
    });
    await finished;
  } finally {
    clearInterval(timer);
    await consumer.disconnect().catch(() => undefined);
  }
  return { kind: 'done', count };
}

async function waitForTopic(kafka: Kafka, topic: string, timeoutMs: number, onWaiting?: () => void): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    let told = false;
    for (;;) {
      if ((await admin.listTopics()).includes(topic)) return true;
      if (Date.now() >= deadline) return false;
      if (!told) onWaiting?.();
      told = true;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await admin.disconnect();
  }
}

// `logagent consume`: print what arrived in a topic, every partition.
// Text: `partition offset key value` per line; --json: one object per line.
// Exits after --max-messages messages, or after --timeout-ms without a
// message once the consumer has joined its group (exit 1 if --max-messages
// was given and not reached).

import { parseArgs } from 'node:util';
import type { Kafka } from 'kafkajs';
import { UsageError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import kafkajs from '../sink/kafkajs.ts';
import { registerCodecs } from '../sink/codecs.ts';

export async function consumeCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      brokers: { type: 'string' },
      topic: { type: 'string' },
      'from-beginning': { type: 'boolean', default: false },
      group: { type: 'string' },
      'max-messages': { type: 'string' },
      'timeout-ms': { type: 'string', default: '10000' },
      json: { type: 'boolean', default: false },
    },
  });
  const topic = values.topic ?? process.env.LOGAGENT_TOPIC;
  if (!topic) throw new UsageError('--topic is required');
  const brokers = (values.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  const maxMessages = values['max-messages'] === undefined ? undefined : wholeNumber('--max-messages', values['max-messages']);
  const timeoutMs = wholeNumber('--timeout-ms', values['timeout-ms']);
  const group = values.group ?? `logagent-consume-${process.pid}-${Date.now()}`;
  const logger = createLogger('warn');

  registerCodecs();
  const kafka = new kafkajs.Kafka({
    clientId: 'logagent-consume',
    brokers,
    logCreator:
      () =>
      ({ log }) =>
        logger.debug(log, 'kafkajs'),
  });
  // disconnect() waits for the fetch in flight: with kafkajs's default long
  // poll (5 s) the command would outlive --timeout-ms by up to 5 s.
  const consumer = kafka.consumer({
    groupId: group,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: Math.max(100, Math.min(500, timeoutMs)),
  });
  let count = 0;
  let lastActivity = Date.now();
  let joined = false;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
    lastActivity = Date.now();
  });
  const timer = setInterval(() => {
    if (joined && Date.now() - lastActivity >= timeoutMs) finish(maxMessages !== undefined && count < maxMessages ? 1 : 0);
  }, 50);

  const out: string[] = [];
  const flush = (): void => {
    if (out.length > 0) process.stdout.write(out.join(''));
    out.length = 0;
  };

  // The topic may not exist yet (the agent creates it on its first delivery):
  // wait for it as long as --timeout-ms allows.
  if (!(await waitForTopic(kafka, topic, timeoutMs))) {
    clearInterval(timer);
    process.stderr.write(`topic ${topic} does not exist (waited ${timeoutMs} ms)\n`);
    return 1;
  }
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: values['from-beginning'] });
  await consumer.run({
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        if (maxMessages !== undefined && count >= maxMessages) break;
        count++;
        const key = m.key?.toString('utf8') ?? '';
        const value = m.value?.toString('utf8') ?? '';
        if (values.json) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = Array.isArray(v) ? v.map(String).join(',') : String(v ?? '');
          out.push(
            `${JSON.stringify({ topic: batch.topic, partition: batch.partition, offset: m.offset, key, value, headers, timestamp: m.timestamp })}\n`,
          );
        } else {
          out.push(`${batch.partition} ${m.offset} ${key} ${value}\n`);
        }
      }
      flush();
      lastActivity = Date.now();
      if (maxMessages !== undefined && count >= maxMessages) finish(0);
    },
  });

  const code = await finished;
  clearInterval(timer);
  flush();
  await consumer.disconnect().catch(() => undefined);
  process.stderr.write(`consumed ${count} messages from ${topic}\n`);
  return code;
}

async function waitForTopic(kafka: Kafka, topic: string, timeoutMs: number): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    let told = false;
    for (;;) {
      if ((await admin.listTopics()).includes(topic)) return true;
      if (Date.now() >= deadline) return false;
      if (!told) process.stderr.write(`waiting for topic ${topic} to exist\n`);
      told = true;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await admin.disconnect();
  }
}

function wholeNumber(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number, got "${value}"`);
  return Number(value);
}

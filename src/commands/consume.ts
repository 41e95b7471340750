// `logagent consume`: print what arrived in a topic, every partition.
// Text: `partition offset key value` per line; --json: one object per line.
// Exits after --max-messages messages, or after --timeout-ms without a
// message once the consumer has joined its group (exit 1 if --max-messages
// was given and not reached).

import { parseArgs } from 'node:util';
import { UsageError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { readTopic } from '../sink/topic-reader.ts';

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

  const out: string[] = [];
  const result = await readTopic({
    brokers,
    topic,
    group,
    fromBeginning: values['from-beginning'],
    ...(maxMessages === undefined ? {} : { maxMessages }),
    timeoutMs,
    logger,
    onWaiting: () => process.stderr.write(`waiting for topic ${topic} to exist\n`),
    onBatch: (messages) => {
      for (const m of messages) {
        const key = m.key?.toString('utf8') ?? '';
        const value = m.value?.toString('utf8') ?? '';
        if (values.json) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers)) headers[k] = v.toString('utf8');
          out.push(`${JSON.stringify({ topic, partition: m.partition, offset: m.offset, key, value, headers, timestamp: m.timestamp })}\n`);
        } else {
          out.push(`${m.partition} ${m.offset} ${key} ${value}\n`);
        }
      }
      if (out.length > 0) process.stdout.write(out.join(''));
      out.length = 0;
    },
  });
  if (result.kind === 'no-topic') {
    process.stderr.write(`topic ${topic} does not exist (waited ${timeoutMs} ms)\n`);
    return 1;
  }
  process.stderr.write(`consumed ${result.count} messages from ${topic}\n`);
  return maxMessages !== undefined && result.count < maxMessages ? 1 : 0;
}

function wholeNumber(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number, got "${value}"`);
  return Number(value);
}

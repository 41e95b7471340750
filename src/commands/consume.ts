// `logagent consume`: print what arrived in a topic, every partition.
// Text: `partition offset key value` per line; --json: one object per line.
// Exits after --max-messages messages, or after --timeout-ms without a
// message once the consumer has joined its group (exit 1 if --max-messages
// was given and not reached).
//
// The Kafka client is the agent's: brokers, TLS and SASL from the same
// configuration (--config or LOGAGENT_CONFIG, and the environment), so what
// the agent can reach, consume can read. --brokers overrides the brokers
// only. The agent's own keys (inputs, topic) are not required here.

import { UsageError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { kafkajsSecurity, readCredentials } from '../sink/credentials.ts';
import { readTopic } from '../sink/topic-reader.ts';
import { loadFromArgs, parseConfigArgs } from './options.ts';

export async function consumeCommand(args: string[]): Promise<number> {
  const { values } = parseConfigArgs(args, {
    brokers: { type: 'string' },
    topic: { type: 'string' },
    'from-beginning': { type: 'boolean' },
    group: { type: 'string' },
    'max-messages': { type: 'string' },
    'timeout-ms': { type: 'string' },
    json: { type: 'boolean' },
  });
  const topic = values.topic ?? process.env.LOGAGENT_TOPIC;
  if (!topic) throw new UsageError('--topic is required');
  const { config } = loadFromArgs(values, { kafkaOnly: true });
  const brokers =
    values.brokers === undefined
      ? [...config.kafka.brokers]
      : values.brokers
          .split(',')
          .map((b) => b.trim())
          .filter((b) => b !== '');
  if (brokers.length === 0) throw new UsageError('--brokers must name at least one host:port');
  const security = kafkajsSecurity(readCredentials(config.kafka));
  const maxMessages = values['max-messages'] === undefined ? undefined : wholeNumber('--max-messages', values['max-messages']);
  const timeoutMs = wholeNumber('--timeout-ms', values['timeout-ms'] ?? '10000');
  const group = values.group ?? `logagent-consume-${process.pid}-${Date.now()}`;
  const logger = createLogger('warn');

  const out: string[] = [];
  const result = await readTopic({
    brokers,
    ...security,
    topic,
    group,
    fromBeginning: values['from-beginning'] ?? false,
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

// Builds the producer for a `kafka` configuration section. The native
// producer is part of the agent; kafkajs is loaded only when a configuration
// asks for it (KAFKA_CLIENT=kafkajs): loading it costs ~17 MiB of RSS and
// ~100 ms of start-up that an agent on the default client never uses.
// Loading is asynchronous, so it happens before a sink is needed: at start
// for the initial client, and before a reload that switches to kafkajs.

import type pino from 'pino';
import type { KafkaClientName, KafkaConfig } from '../config/config.ts';
import type { Metrics } from '../metrics.ts';
import { NativeKafkaSink } from './native/native-sink.ts';
import type { ManagedSink } from './sink.ts';

type KafkajsSinkModule = typeof import('./kafka-sink.ts');

export class SinkFactory {
  private kafkajs: KafkajsSinkModule | undefined;
  private readonly logger: pino.Logger;
  private readonly metrics: Metrics;

  constructor(logger: pino.Logger, metrics: Metrics) {
    this.logger = logger;
    this.metrics = metrics;
  }

  /**
   * Loads what `client` needs. For kafkajs this also proves the agent's
   * replacements inside kafkajs are the code it runs (KafkajsPatchError
   * otherwise), so a mismatched kafkajs fails before a line is read.
   */
  async prepare(client: KafkaClientName): Promise<void> {
    if (client !== 'kafkajs' || this.kafkajs) return;
    const patches = await import('./kafkajs.ts');
    await patches.verifyKafkajsPatches();
    this.kafkajs = await import('./kafka-sink.ts');
  }

  /** A sink for `kafka`; its client must have been prepared. */
  create(kafka: KafkaConfig): ManagedSink {
    const options = { config: kafka, logger: this.logger.child({ component: 'kafka', client: kafka.client }), metrics: this.metrics };
    if (kafka.client === 'native') return new NativeKafkaSink(options);
    if (!this.kafkajs) throw new Error('kafkajs is not loaded: SinkFactory.prepare("kafkajs") must run first');
    return new this.kafkajs.KafkaSink(options);
  }
}

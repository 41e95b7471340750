// Builds the producer for a `kafka` configuration section. The native
// producer is part of the agent; kafkajs is loaded only when a configuration
// asks for it (KAFKA_CLIENT=kafkajs): loading it costs ~17 MiB of RSS and
// ~100 ms of start-up that an agent on the default client never uses.
// Loading is asynchronous, so it happens before a sink is needed: at start
// for the initial client, and before a reload that switches to kafkajs.
// A sink gets its TLS and SASL as a snapshot read from the files the
// section names (credentials.ts); the caller reads it, so that unreadable
// files reject a configuration before anything changes.

import type pino from 'pino';
import type { KafkaClientName, KafkaConfig } from '../config/config.ts';
import type { Metrics } from '../metrics.ts';
import type { KafkaCredentials } from './credentials.ts';
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

  /**
   * A sink for `kafka` on `credentials` (readCredentials(kafka)); its client
   * must have been prepared. `authFailing`: the sink it replaces could not
   * authenticate.
   */
  create(kafka: KafkaConfig, credentials: KafkaCredentials, authFailing = false): ManagedSink {
    const logger = this.logger.child({ component: 'kafka', client: kafka.client });
    const c = credentials.certificate;
    this.metrics.clientCertificateExpiry.set(c ? c.expiresAt / 1000 : 0);
    if (c) {
      const fields = { subject: c.subject, serialNumber: c.serialNumber, validTo: c.validTo };
      if (c.expiresAt <= Date.now()) logger.warn(fields, 'the TLS client certificate has expired; the broker will refuse it');
      else logger.info(fields, 'TLS client certificate');
    }
    if (credentials.sasl?.mechanism === 'PLAIN' && !credentials.tls) {
      logger.warn({ mechanism: 'plain' }, 'SASL PLAIN without TLS sends the password readable on the network; enable kafka.tls');
    }
    const options = { config: kafka, logger, metrics: this.metrics, credentials, authFailing };
    if (kafka.client === 'native') return new NativeKafkaSink(options);
    if (!this.kafkajs) throw new Error('kafkajs is not loaded: SinkFactory.prepare("kafkajs") must run first');
    return new this.kafkajs.KafkaSink(options);
  }
}

// The bench's own Kafka: one KRaft node from scripts/kafka-local.sh in its own
// run dir and on its own ports (never the brokers other test runs use),
// started and stopped by the harness; one long-lived kafkajs admin in the
// harness process for topics and for polling end offsets, so that "last line
// delivered" is seen without starting a process per poll.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import kafkajs, { type Admin } from 'kafkajs';
import { ROOT } from './util.ts';

const KAFKA_LOCAL = join(ROOT, 'scripts', 'kafka-local.sh');

export interface BrokerOptions {
  /** Run dir of the bench cluster (configs, data, logs, pid file). */
  dir: string;
  port: number;
}

export class Broker {
  readonly bootstrap: string;
  private adminClient: Admin | undefined;
  private readonly options: BrokerOptions;

  constructor(options: BrokerOptions) {
    this.options = options;
    this.bootstrap = `127.0.0.1:${options.port}`;
  }

  private env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      KAFKA_LOCAL_DIR: this.options.dir,
      KAFKA_LOCAL_PORT: String(this.options.port),
      KAFKA_LOCAL_CONTROLLER_PORT: String(this.options.port + 100),
    };
  }

  /** Starts a fresh cluster (kafka-local.sh wipes its run dir) and connects the admin. */
  async start(): Promise<void> {
    // "Address already in use" with nothing listening happens when another
    // process's client connection holds the port as its local port: the
    // default port (31092) is below Linux's ephemeral range for that reason
    // (39092 was hit). One retry for the rest.
    for (let attempt = 1; ; attempt++) {
      try {
        await promisify(execFile)('bash', [KAFKA_LOCAL, 'start'], { env: this.env(), timeout: 240_000, maxBuffer: 16 << 20 });
        break;
      } catch (err) {
        if (attempt >= 2) throw err;
        await new Promise((r) => setTimeout(r, 3_000));
      }
    }
    const kafka = new kafkajs.Kafka({ clientId: 'logagent-bench', brokers: [this.bootstrap], logCreator: () => () => undefined });
    this.adminClient = kafka.admin();
    await this.adminClient.connect();
  }

  /**
   * Disconnects the admin and stops the cluster by its pid file, then
   * removes its data (gigabytes after a full run; the next start formats
   * fresh storage anyway). Configs and logs stay.
   */
  async stop(): Promise<void> {
    await this.adminClient?.disconnect().catch(() => undefined);
    this.adminClient = undefined;
    await promisify(execFile)('bash', [KAFKA_LOCAL, 'stop'], { env: this.env(), timeout: 60_000 });
    if (existsSync(this.options.dir)) {
      for (const node of readdirSync(this.options.dir).filter((d) => d.startsWith('node'))) {
        rmSync(join(this.options.dir, node, 'data'), { recursive: true, force: true });
      }
    }
  }

  get admin(): Admin {
    if (!this.adminClient) throw new Error('broker not started');
    return this.adminClient;
  }

  /** The broker JVM's pid (for its CPU), from kafka-local.sh's pid file. */
  pid(): number | undefined {
    const dir = this.options.dir;
    if (!existsSync(dir)) return undefined;
    for (const node of readdirSync(dir).filter((d) => d.startsWith('node'))) {
      try {
        const pid = Number(readFileSync(join(dir, node, 'kafka.pid'), 'utf8').trim());
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka')) return pid;
      } catch {
        // not running
      }
    }
    return undefined;
  }

  /**
   * A fresh topic. LogAppendTime makes every record's timestamp the broker's
   * append time, which the latency scenario compares with the write time
   * carried in the line.
   */
  async createTopic(topic: string, partitions: number): Promise<void> {
    const ok = await this.admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
        },
      ],
      waitForLeaders: true,
    });
    if (!ok) throw new Error(`topic ${topic} already exists`);
  }

  async deleteTopic(topic: string): Promise<void> {
    await this.admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  }

  /** High watermarks per partition. With acks=all they cover acknowledged records only. */
  async endOffsets(topic: string): Promise<number[]> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
  }

  async delivered(topic: string): Promise<number> {
    return (await this.endOffsets(topic)).reduce((a, b) => a + b, 0);
  }
}

export interface DeliveryWatch {
  /** ms (performance.now() clock) of the first poll that saw a record, if any. */
  firstAt: number | undefined;
  /** ms of the first poll that saw `expected` records, if reached. */
  allAt: number | undefined;
  /** Records seen by the last poll. */
  count: number;
  polls: number;
}

/**
 * Polls the topic's end offsets every `everyMs` until `expected` records are
 * there, `until()` says stop, or `timeoutMs` passed. `onAll` runs in the same
 * tick as the poll that saw the last record (to read the process's CPU then).
 */
export async function watchDelivery(
  broker: Broker,
  topic: string,
  expected: number,
  options: { everyMs?: number; timeoutMs: number; until?: () => boolean; onAll?: () => void; onPoll?: (count: number, at: number) => void },
): Promise<DeliveryWatch> {
  const everyMs = options.everyMs ?? 50;
  const t0 = performance.now();
  const w: DeliveryWatch = { firstAt: undefined, allAt: undefined, count: 0, polls: 0 };
  for (;;) {
    w.count = await broker.delivered(topic);
    w.polls++;
    const at = performance.now();
    options.onPoll?.(w.count, at);
    if (w.count > 0 && w.firstAt === undefined) w.firstAt = at;
    if (w.count >= expected) {
      w.allAt = at;
      options.onAll?.();
      return w;
    }
    if (at - t0 > options.timeoutMs || options.until?.()) return w;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

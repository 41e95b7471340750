// What the producer knows of the cluster and how it reaches it: the broker
// addresses (bootstrap list, then Metadata), one connection per broker
// address (opened on demand, coalesced, never reopened by itself), the
// topics' partitions and leaders, and the cluster-level requests:
// Metadata, CreateTopics, InitProducerId. It holds no timers: metadata is
// fetched when the producer asks (a request failed, a leader is unknown,
// or what it has is older than metadataMaxAgeMs when it sends).

import type pino from 'pino';
import { BrokerConnection, type ConnectionOptions } from './connection.ts';
import { KafkaConnectionError, KafkaProtocolError, TOPIC_ALREADY_EXISTS } from './errors.ts';
import {
  CreateTopics,
  InitProducerId,
  Metadata,
  type BrokerInfo,
  type MetadataResponse,
  type PartitionInfo,
  type TopicInfo,
} from './protocol.ts';

export type ConnectionFactory = (host: string, port: number, onClose: ConnectionOptions['onClose']) => BrokerConnection;

export interface TopicMetadata {
  readonly name: string;
  readonly topicId: Buffer;
  readonly partitions: readonly PartitionInfo[];
  readonly errorCode: number;
  readonly fetchedAt: number;
}

export interface ClusterOptions {
  readonly bootstrap: readonly string[];
  readonly connect: ConnectionFactory;
  readonly logger: pino.Logger;
  readonly now?: () => number;
}

export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address.trim());
  if (!m) return { host: address.trim(), port: 9092 };
  return { host: m[1] as string, port: Number(m[2]) };
}

export class Cluster {
  private readonly options: ClusterOptions;
  private readonly now: () => number;
  readonly brokers = new Map<number, BrokerInfo>();
  readonly topics = new Map<string, TopicMetadata>();
  private readonly connections = new Map<string, BrokerConnection>();
  private readonly opening = new Map<string, Promise<BrokerConnection>>();
  /** Every connection not yet closed, open or opening: close() destroys them all. */
  private readonly live = new Set<BrokerConnection>();
  private rotation = 0;
  private closed = false;
  /** Called when a connection closes (the producer fails what was in flight on it). */
  onConnectionClosed: ((connection: BrokerConnection, err: Error) => void) | undefined;

  constructor(options: ClusterOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /** An open connection to `nodeId`, if there is one (never opens one). */
  connectionTo(nodeId: number): BrokerConnection | undefined {
    const b = this.brokers.get(nodeId);
    if (!b) return undefined;
    const c = this.connections.get(`${b.host}:${b.port}`);
    return c?.isOpen ? c : undefined;
  }

  isConnecting(nodeId: number): boolean {
    const b = this.brokers.get(nodeId);
    return b !== undefined && this.opening.has(`${b.host}:${b.port}`);
  }

  get hasOpenConnection(): boolean {
    for (const c of this.connections.values()) if (c.isOpen) return true;
    return false;
  }

  /** Opens (or joins the opening of) the connection to `nodeId`. */
  connectTo(nodeId: number): Promise<BrokerConnection> {
    const b = this.brokers.get(nodeId);
    if (!b) return Promise.reject(new KafkaConnectionError(`node ${nodeId}`, 'unknown broker (metadata has no address for it)'));
    return this.open(b.host, b.port);
  }

  private open(host: string, port: number): Promise<BrokerConnection> {
    if (this.closed) return Promise.reject(new Error('cluster closed'));
    const key = `${host}:${port}`;
    const existing = this.connections.get(key);
    if (existing?.isOpen) return Promise.resolve(existing);
    const pending = this.opening.get(key);
    if (pending) return pending;
    const connection = this.options.connect(host, port, (c, err) => {
      this.live.delete(c);
      if (this.connections.get(key) === c) this.connections.delete(key);
      this.onConnectionClosed?.(c, err);
    });
    this.live.add(connection);
    const opening = connection.open().then(
      () => {
        this.opening.delete(key);
        if (this.closed) {
          connection.destroy(new Error('cluster closed'));
          throw new Error('cluster closed');
        }
        this.connections.set(key, connection);
        return connection;
      },
      (err: unknown) => {
        this.opening.delete(key);
        connection.destroy(err as Error);
        throw err;
      },
    );
    this.opening.set(key, opening);
    return opening;
  }

  /** An open connection to any broker: one already open, else the known brokers and the bootstrap list in turn. */
  async any(): Promise<BrokerConnection> {
    for (const c of this.connections.values()) if (c.isOpen) return c;
    const addresses = [...this.brokers.values()].map((b) => ({ host: b.host, port: b.port }));
    for (const a of this.options.bootstrap) addresses.push(parseAddress(a));
    let last: unknown = new KafkaConnectionError(this.options.bootstrap.join(','), 'no broker address');
    const start = this.rotation++;
    for (let i = 0; i < addresses.length; i++) {
      const a = addresses[(start + i) % addresses.length] as { host: string; port: number };
      try {
        return await this.open(a.host, a.port);
      } catch (err) {
        last = err;
        if (this.closed) break;
      }
    }
    throw last;
  }

  /** Fetches metadata for `topics` and records brokers and topics. Never creates a topic. */
  async refresh(topics: readonly string[]): Promise<MetadataResponse> {
    const c = await this.any();
    const res = await c.request(Metadata, { topics, allowAutoTopicCreation: false });
    this.apply(res);
    return res;
  }

  private apply(res: MetadataResponse): void {
    if (res.brokers.length > 0) {
      this.brokers.clear();
      for (const b of res.brokers) this.brokers.set(b.nodeId, b);
    }
    const at = this.now();
    for (const t of res.topics) this.topics.set(t.name, toTopic(t, at));
  }

  /** Creates a topic; an existing one is not an error. `replicationFactor` 0 means min(3, brokers). */
  async createTopic(name: string, partitions: number, replicationFactor: number, timeoutMs: number): Promise<number> {
    const c = await this.any();
    const rf = replicationFactor > 0 ? replicationFactor : Math.max(1, Math.min(3, this.brokers.size));
    const res = await c.request(CreateTopics, { topics: [{ name, partitions, replicationFactor: rf }], timeoutMs });
    const t = res.topics[0];
    if (t && t.errorCode !== 0 && t.errorCode !== TOPIC_ALREADY_EXISTS) {
      throw new KafkaProtocolError(t.errorCode, `creating topic "${name}"`, t.errorMessage);
    }
    return rf;
  }

  async initProducerId(): Promise<{ producerId: number; producerEpoch: number }> {
    const c = await this.any();
    const res = await c.request(InitProducerId, {});
    if (res.errorCode !== 0) throw new KafkaProtocolError(res.errorCode, 'InitProducerId');
    return { producerId: res.producerId, producerEpoch: res.producerEpoch };
  }

  /** Protocol versions in use on an open connection (for logs and docs). */
  versions(): Record<string, number> | undefined {
    for (const c of this.connections.values()) {
      if (!c.isOpen) continue;
      const out: Record<string, number> = {};
      for (const api of [Metadata, CreateTopics, InitProducerId]) {
        try {
          out[api.name] = c.version(api);
        } catch {
          // not spoken: left out
        }
      }
      return out;
    }
    return undefined;
  }

  /** Destroys every connection, open or opening; resolves once their sockets are released. Idempotent. */
  async close(reason: Error): Promise<void> {
    this.closed = true;
    const all = [...this.live];
    for (const c of all) c.destroy(reason);
    this.live.clear();
    this.connections.clear();
    await Promise.all(all.map((c) => c.whenClosed()));
  }

  /** Destroys the connection to one node (after it misbehaved). */
  drop(connection: BrokerConnection, reason: Error): void {
    connection.destroy(reason);
  }
}

function toTopic(t: TopicInfo, fetchedAt: number): TopicMetadata {
  const partitions = [...t.partitions].sort((a, b) => a.partition - b.partition);
  return { name: t.name, topicId: t.topicId, partitions, errorCode: t.errorCode, fetchedAt };
}

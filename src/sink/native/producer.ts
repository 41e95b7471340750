// The producer's engine: topics and their partitions, the schedule of
// produce requests, and what each answer does. Event-driven: it runs when
// a batch arrives, an answer or a connection comes back, metadata arrives,
// or its one wake-up timer fires (armed only for a linger or a backoff that
// is due; with nothing to send there is no timer at all).
//
// Per broker, up to `maxInflightPerBroker` requests are in flight; each
// carries at most one record batch per partition and at most batchMaxBytes
// of lines. Requests to one broker are written in the order they were
// built, even when compression makes building them asynchronous, so a
// partition's batches reach the broker in sequence order. What a partition
// may send, and how an answer changes that, is partition-state.ts.
//
// Observability (metrics, logs) is the owner's: the engine reports through
// ProducerEvents.

import type { LineBatch } from '../line-batch.ts';
import type { Cluster } from './cluster.ts';
import { Directory, type TopicState } from './directory.ts';
import type { BrokerConnection } from './connection.ts';
import {
  DUPLICATE_SEQUENCE_NUMBER,
  errorInfo,
  INVALID_PRODUCER_EPOCH,
  INVALID_PRODUCER_ID_MAPPING,
  isTooLarge,
  KafkaProtocolError,
  OUT_OF_ORDER_SEQUENCE_NUMBER,
  PRODUCER_FENCED,
  UNKNOWN_PRODUCER_ID,
} from './errors.ts';
import { LinePartitioner } from './partitioning.ts';
import { PartitionState, type Outcome, type OutcomeEffects, type WireBatch } from './partition-state.ts';
import { Produce, type ProduceResponse, type ProduceTopic } from './produce.ts';
import { ZERO_UUID } from './protocol.ts';
import { encodeBatch, KeyCache, type EncodedBatch, type RecordHeaders } from './record-batch.ts';
import type { NativeProducerOptions } from './options.ts';

export interface RequestReport {
  readonly node: number;
  readonly durationMs: number;
  readonly records: number;
  readonly payloadBytes: number;
  /** Lines acknowledged by this request. */
  readonly ackedLines: number;
  /** Lines that must be sent again. */
  readonly failedLines: number;
  /** The first failure, if any. */
  readonly error: Error | undefined;
}

export interface ProducerEvents {
  /** Every line of `batch` is acknowledged. */
  batchAcked(batch: LineBatch): void;
  requestDone(report: RequestReport): void;
  /** A failure outside a produce request (metadata, topic, producer id, connection). */
  failure(err: Error, context: string): void;
  tooLarge(info: NonNullable<OutcomeEffects['tooLarge']>): void;
  topicCreated(topic: string, partitions: number, replicationFactor: number): void;
}

interface Entry {
  readonly p: PartitionState;
  readonly wb: WireBatch;
}

export class Producer {
  private readonly o: NativeProducerOptions;
  readonly cluster: Cluster;
  private readonly events: ProducerEvents;
  private readonly headers: RecordHeaders;
  private readonly keys = new KeyCache();
  private readonly partitioner: LinePartitioner;
  private readonly dir: Directory;
  private readonly nodeInflight = new Map<number, number>();
  private readonly nodeChains = new Map<number, Promise<void>>();
  private readonly nodeRetryAt = new Map<number, number>();
  private nodeFailures = 0;
  private requestsInflight = 0;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private closed = false;
  private closing: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(options: NativeProducerOptions, cluster: Cluster, events: ProducerEvents, headers: RecordHeaders) {
    this.o = options;
    this.cluster = cluster;
    this.events = events;
    this.headers = headers;
    this.partitioner = new LinePartitioner(options.partitioner, options.partition, options.random);
    this.dir = new Directory(options, cluster, {
      changed: () => this.pump(),
      place: (topic, batch) => this.place(topic, batch),
      failure: (err, context) => events.failure(err, context),
      topicCreated: (topic, partitions, rf) => events.topicCreated(topic, partitions, rf),
    });
    cluster.onConnectionClosed = () => this.pump();
  }

  get connected(): boolean {
    return this.cluster.hasOpenConnection;
  }

  /** Produce requests in flight. */
  get inflightRequests(): number {
    return this.requestsInflight;
  }

  add(batch: LineBatch): void {
    const topic = this.dir.topic(batch.topic);
    if (topic.partitions.length === 0) {
      topic.waiting.push(batch);
      this.dir.ensureTopic(topic);
      return;
    }
    this.place(topic, batch);
    this.pump();
  }

  /** Connects and fetches the producer id ahead of the first line (start to first ack). */
  warmUp(): void {
    if (this.o.idempotent) this.dir.ensureProducerId();
    else this.cluster.any().catch(() => undefined);
  }

  private place(topic: TopicState, batch: LineBatch): void {
    const now = this.o.now();
    for (const { partition, slice } of this.partitioner.place(batch, topic.partitions.length)) {
      let p = topic.partitions[partition];
      if (!p) {
        // manual partition past the topic's count: kept (and reported) until the topic grows
        p = new PartitionState(topic.name, partition, this.o.idempotent);
        topic.partitions[partition] = p;
      }
      let bytes = 0;
      for (let k = slice.from; k < slice.to; k++) bytes += batch.recordSizeBound(slice.lines === null ? k : slice.lines[k]!);
      p.enqueue(slice, bytes, now);
    }
  }

  // ------------------------------------------------------------ scheduling

  /** Sends what may be sent now; arms the wake-up timer for what will be later. Synchronous and cheap. */
  pump(): void {
    if (this.closed) return;
    const now = this.o.now();
    let wake = Infinity;
    let needRefresh = false;
    if (this.o.idempotent) {
      const dir = this.dir;
      let stale = dir.producerId < 0;
      for (const t of dir.topics.values()) for (const p of t.partitions) if (p?.needsProducerId(dir.producerId)) stale = true;
      if (stale) {
        if (now >= dir.producerIdRetryAt) dir.ensureProducerId();
        else wake = Math.min(wake, dir.producerIdRetryAt);
      }
    }
    const byNode = new Map<number, PartitionState[]>();
    for (const t of this.dir.topics.values()) {
      if (t.partitions.length === 0) {
        if (!t.ensuring && t.waiting.length > 0) {
          if (now >= t.retryAt) this.dir.ensureTopic(t);
          else wake = Math.min(wake, t.retryAt);
        }
        continue;
      }
      let busy = false;
      for (const p of t.partitions) {
        if (!p?.hasWork) continue;
        busy = true;
        if (p.leader < 0) {
          needRefresh = true;
          continue;
        }
        if (p.queuedLines > 0 && !this.lingered(p, now)) wake = Math.min(wake, p.firstQueuedAt + this.o.lingerMs);
        if (p.backoffUntil > now) wake = Math.min(wake, p.backoffUntil);
        let list = byNode.get(p.leader);
        if (!list) byNode.set(p.leader, (list = []));
        list.push(p);
      }
      if (busy && now - t.fetchedAt > this.o.metadataMaxAgeMs) needRefresh = true;
    }
    for (const [node, parts] of byNode) {
      const connection = this.cluster.connectionTo(node);
      if (!connection) {
        const retryAt = this.nodeRetryAt.get(node) ?? 0;
        if (now < retryAt) wake = Math.min(wake, retryAt);
        else if (!this.cluster.isConnecting(node)) this.connect(node);
        continue;
      }
      while ((this.nodeInflight.get(node) ?? 0) < this.o.maxInflightPerBroker) {
        const entries = this.build(node, parts, now);
        if (entries.length === 0) break;
        this.dispatch(node, connection, entries);
      }
    }
    if (needRefresh || this.dir.refreshWanted) {
      if (now >= this.dir.refreshNotBefore) this.dir.refresh();
      else wake = Math.min(wake, this.dir.refreshNotBefore);
    }
    this.arm(wake);
  }

  /**
   * Whether a partition's queued lines go out now. Linger batches lines only
   * while the partition has a request in flight (as Nagle's algorithm does):
   * an idle partition sends at once, so a quiet file's line is not held back
   * and a reader waiting for room in the in-flight budget never waits on a
   * timer too; lines that come while a request is out go in the next one.
   */
  private lingered(p: PartitionState, now: number): boolean {
    return (
      this.o.lingerMs <= 0 || p.unacked.length === 0 || p.queuedBytes >= this.o.batchMaxBytes || now - p.firstQueuedAt >= this.o.lingerMs
    );
  }

  private arm(at: number): void {
    if (at === Infinity || this.closed) return;
    if (this.wakeTimer && this.wakeAt <= at) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.wakeAt = Infinity;
        this.pump();
      },
      Math.max(1, at - this.o.now()),
    );
  }

  /** One request's worth for `node`: at most one batch per partition, up to batchMaxBytes. */
  private build(node: number, parts: PartitionState[], now: number): Entry[] {
    const entries: Entry[] = [];
    let bytes = 0;
    for (let i = 0; i < parts.length && bytes < this.o.batchMaxBytes; i++) {
      const p = parts[i] as PartitionState;
      if (entries.some((e) => e.p === p)) continue;
      const wb = p.next(now, this.o.batchMaxBytes - bytes, this.lingered(p, now), this.dir.producerId, this.dir.producerEpoch);
      if (!wb) continue;
      p.markSent(wb, node);
      entries.push({ p, wb });
      bytes += wb.bytes;
    }
    // Rotate, so that the next request starts with another partition.
    if (parts.length > 1) parts.push(parts.shift() as PartitionState);
    return entries;
  }

  private connect(node: number): void {
    this.cluster.connectTo(node).then(
      () => {
        this.nodeFailures = 0;
        this.nodeRetryAt.delete(node);
        this.pump();
      },
      (err: unknown) => {
        if (this.closed) return;
        this.nodeFailures++;
        this.nodeRetryAt.set(node, this.o.now() + this.o.backoffMs(this.nodeFailures));
        this.events.failure(err as Error, `connecting to broker ${node}`);
        this.dir.wantRefresh();
        this.pump();
      },
    );
  }

  // ------------------------------------------------------------ requests

  private dispatch(node: number, connection: BrokerConnection, entries: Entry[]): void {
    this.nodeInflight.set(node, (this.nodeInflight.get(node) ?? 0) + 1);
    this.requestsInflight++;
    const started = performance.now();
    const encoded = entries.map((e) =>
      encodeBatch(this.o.compression, { slices: e.wb.slices, stamp: e.wb.stamp }, this.headers, this.keys),
    );
    // Written in build order: a compressed batch may finish after a later one.
    const previous = this.nodeChains.get(node) ?? Promise.resolve();
    const sent = previous.then(async () => {
      const batches = await Promise.all(encoded);
      if (this.closed) throw new Error('producer closed');
      const topics = groupByTopic(this.dir.topics, entries, batches);
      // Version 13 names topics by id: only when metadata gave us every id.
      const highest = connection.version(Produce);
      const version = topics.some((t) => t.topicId.equals(ZERO_UUID)) ? Math.min(highest, 12) : highest;
      const request = { acks: this.o.acks, timeoutMs: this.o.requestTimeoutMs, topics };
      const response =
        this.o.acks === 0
          ? connection.request(Produce, request, { version, expectResponse: false })
          : connection.request(Produce, request, { version });
      return { batches, response };
    });
    const chained = sent.then(
      () => undefined,
      () => undefined,
    );
    this.nodeChains.set(node, chained);
    sent
      .then(async ({ batches, response }) => ({ batches, res: await response }))
      .then(
        ({ batches, res }) => this.complete(node, entries, batches, res, undefined, started),
        (err: unknown) => this.complete(node, entries, undefined, undefined, err as Error, started),
      )
      .catch((err: unknown) => this.events.failure(err as Error, 'handling a produce response'))
      .finally(() => {
        if (this.nodeChains.get(node) === chained) this.nodeChains.delete(node);
      });
  }

  private complete(
    node: number,
    entries: Entry[],
    batches: EncodedBatch[] | undefined,
    res: ProduceResponse | undefined,
    failure: Error | undefined,
    started: number,
  ): void {
    this.nodeInflight.set(node, Math.max(0, (this.nodeInflight.get(node) ?? 1) - 1));
    this.requestsInflight--;
    const now = this.o.now();
    let acked = 0;
    let failed = 0;
    let error = failure;
    for (let i = 0; i < entries.length; i++) {
      const { p, wb } = entries[i] as Entry;
      const outcome = failure ? this.failed(failure) : this.outcome(p, res, wb, (e) => (error ??= e));
      const effects = p.settle(wb, outcome, now, this.o.backoffMs);
      if (outcome.kind === 'acked') {
        for (const done of effects.acked) acked += this.acknowledge(done);
      } else failed += wb.records;
      if (effects.tooLarge) this.events.tooLarge(effects.tooLarge);
    }
    if (failure) this.dir.wantRefresh();
    const payloadBytes = batches?.reduce((n, b) => n + b.payloadBytes, 0) ?? 0;
    const records = batches?.reduce((n, b) => n + b.records, 0) ?? entries.reduce((n, e) => n + e.wb.records, 0);
    this.events.requestDone({
      node,
      durationMs: performance.now() - started,
      records,
      payloadBytes,
      ackedLines: acked,
      failedLines: failed,
      error,
    });
    if (this.closed && this.requestsInflight === 0) this.notifyIdle();
    this.pump();
  }

  private failed(err: Error): Outcome {
    return { kind: 'retry', backoff: !(err instanceof Error && err.message === 'producer closed') };
  }

  /** Reads one partition's answer. `fail` records the first error for the report. */
  private outcome(p: PartitionState, res: ProduceResponse | undefined, wb: WireBatch, fail: (e: Error) => void): Outcome {
    if (!res) return { kind: 'acked' }; // acks=0: written is all we get
    const topicId = this.dir.topics.get(p.topic)?.topicId;
    const r = res.partitions.find(
      (x) => x.partition === p.partition && (x.topic === p.topic || (x.topicId !== null && topicId?.equals(x.topicId))),
    );
    if (!r) {
      fail(new Error(`produce response has no result for ${p.topic}/${p.partition}`));
      return { kind: 'retry', backoff: true };
    }
    const code = r.errorCode;
    if (code === 0 || (code === DUPLICATE_SEQUENCE_NUMBER && this.o.idempotent)) return { kind: 'acked' };
    const err = new KafkaProtocolError(code, `produce to ${p.topic}/${p.partition}`, r.errorMessage);
    if (isTooLarge(code)) return { kind: 'too-large' };
    fail(err);
    if (this.o.idempotent) {
      if (code === OUT_OF_ORDER_SEQUENCE_NUMBER) return { kind: 'out-of-order' };
      if (
        code === UNKNOWN_PRODUCER_ID ||
        code === INVALID_PRODUCER_ID_MAPPING ||
        code === INVALID_PRODUCER_EPOCH ||
        code === PRODUCER_FENCED
      ) {
        return { kind: 'producer-id' };
      }
    }
    if (r.currentLeader && r.currentLeader.leaderId >= 0) p.leader = r.currentLeader.leaderId;
    if (errorInfo(code).refresh) this.dir.wantRefresh();
    return { kind: 'retry', backoff: true };
  }

  /** Counts a batch's lines as acknowledged; tells each LineBatch's owner once all its lines are. Returns the lines. */
  private acknowledge(wb: WireBatch): number {
    for (const s of wb.slices) {
      const batch = s.batch;
      batch.ackedLines += s.to - s.from;
      if (batch.ackedLines === batch.count) this.events.batchAcked(batch);
    }
    return wb.records;
  }

  // ------------------------------------------------------------ shutdown

  /** Stops sending at once and forgets every line (their batches are handed to another sink); close() still releases connections. */
  abandon(): void {
    this.closed = true;
    this.dir.close();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    for (const t of this.dir.topics.values()) {
      t.waiting = [];
      for (const p of t.partitions) p?.clear();
    }
  }

  /**
   * Stops sending: no new request leaves, requests in flight may still be
   * answered (their lines are then acknowledged) until `deadline` passes;
   * then every connection is destroyed and the timer cleared.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = this.shutDown(timeoutMs);
    return this.closing;
  }

  private async shutDown(timeoutMs: number): Promise<void> {
    this.dir.close();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (this.requestsInflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    await this.cluster.close(new Error('producer closed'));
    for (const t of this.dir.topics.values()) for (const p of t.partitions) p?.clear();
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

function groupByTopic(topics: Map<string, TopicState>, entries: Entry[], batches: EncodedBatch[]): ProduceTopic[] {
  const byTopic = new Map<string, { name: string; topicId: Buffer; partitions: Array<{ partition: number; batch: EncodedBatch }> }>();
  entries.forEach(({ p }, i) => {
    let t = byTopic.get(p.topic);
    if (!t) byTopic.set(p.topic, (t = { name: p.topic, topicId: topics.get(p.topic)?.topicId ?? Buffer.alloc(16), partitions: [] }));
    t.partitions.push({ partition: p.partition, batch: batches[i] as EncodedBatch });
  });
  return [...byTopic.values()];
}

// What the producer must know before it sends: each topic's partitions,
// leaders and id (Metadata, with CreateTopics for a missing topic when
// allowed), and the producer id (InitProducerId). Every fetch is on demand,
// coalesced and retried with backoff; none runs on a timer: the producer's
// pump asks (a leader unknown, a request failed, metadata older than
// metadataMaxAgeMs) and is told through hooks.changed() when something
// arrived.

import type { LineBatch } from '../line-batch.ts';
import type { Cluster } from './cluster.ts';
import { KafkaProtocolError, TopicMissingError, UNKNOWN_TOPIC_OR_PARTITION } from './errors.ts';
import type { NativeProducerOptions } from './options.ts';
import { PartitionState } from './partition-state.ts';

export interface TopicState {
  readonly name: string;
  partitions: PartitionState[];
  topicId: Buffer;
  fetchedAt: number;
  /** Batches waiting for the topic's metadata. */
  waiting: LineBatch[];
  ensuring: boolean;
  retryAt: number;
  failures: number;
}

export interface DirectoryHooks {
  /** Something arrived: the producer may send. */
  changed(): void;
  /** Puts a batch that waited for its topic into the topic's partitions. */
  place(topic: TopicState, batch: LineBatch): void;
  failure(err: Error, context: string): void;
  topicCreated(topic: string, partitions: number, replicationFactor: number): void;
}

export class Directory {
  private readonly o: NativeProducerOptions;
  private readonly cluster: Cluster;
  private readonly hooks: DirectoryHooks;
  readonly topics = new Map<string, TopicState>();
  producerId = -1;
  producerEpoch = -1;
  private producerIdPending = false;
  producerIdRetryAt = 0;
  private producerIdFailures = 0;
  private refreshing = false;
  /** A refresh is wanted (a leader error, a lost connection). */
  refreshWanted = false;
  /** Earliest time of the next refresh (backoff, or a leader being elected). */
  refreshNotBefore = 0;
  private refreshFailures = 0;
  private closed = false;

  constructor(options: NativeProducerOptions, cluster: Cluster, hooks: DirectoryHooks) {
    this.o = options;
    this.cluster = cluster;
    this.hooks = hooks;
  }

  topic(name: string): TopicState {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = { name, partitions: [], topicId: Buffer.alloc(16), fetchedAt: 0, waiting: [], ensuring: false, retryAt: 0, failures: 0 };
      this.topics.set(name, topic);
    }
    return topic;
  }

  /** Asks for a refresh as soon as allowed. */
  wantRefresh(): void {
    this.refreshWanted = true;
    this.refreshNotBefore = 0;
  }

  close(): void {
    this.closed = true;
  }

  /** Fetches metadata for the topics in use (one fetch at a time; a request during one asks for another). */
  refresh(): void {
    if (this.closed) return;
    if (this.refreshing) {
      this.refreshWanted = true;
      return;
    }
    this.refreshing = true;
    this.refreshWanted = false;
    const names = [...this.topics.values()].filter((t) => t.partitions.length > 0).map((t) => t.name);
    this.cluster.refresh(names).then(
      () => {
        this.refreshing = false;
        this.refreshFailures = 0;
        let leaderless = false;
        for (const name of names) leaderless = this.applyMetadata(this.topics.get(name) as TopicState) || leaderless;
        // A leader being elected: ask again soon, not in a loop.
        this.refreshNotBefore = this.o.now() + (leaderless ? 200 : 50);
        this.hooks.changed();
      },
      (err: unknown) => {
        this.refreshing = false;
        if (this.closed) return;
        this.refreshFailures++;
        this.refreshNotBefore = this.o.now() + this.o.backoffMs(this.refreshFailures);
        this.hooks.failure(err as Error, 'fetching metadata');
        this.hooks.changed();
      },
    );
  }

  /** Updates a topic's partitions and leaders from the cluster's metadata. Returns whether a partition has no leader. */
  private applyMetadata(topic: TopicState): boolean {
    const meta = this.cluster.topics.get(topic.name);
    if (!meta || meta.errorCode !== 0 || meta.partitions.length === 0) return true;
    topic.topicId = meta.topicId;
    topic.fetchedAt = meta.fetchedAt;
    let leaderless = false;
    for (const info of meta.partitions) {
      let p = topic.partitions[info.partition];
      if (!p) topic.partitions[info.partition] = p = new PartitionState(topic.name, info.partition, this.o.idempotent);
      p.leader = info.errorCode === 0 || info.leader >= 0 ? info.leader : -1;
      if (p.leader < 0) leaderless = true;
    }
    return leaderless;
  }

  /** Learns the topic's partitions, creating the topic when allowed; retried with backoff until it works. */
  ensureTopic(topic: TopicState): void {
    if (topic.ensuring || this.closed) return;
    topic.ensuring = true;
    const run = async (): Promise<void> => {
      await this.cluster.refresh([topic.name]);
      let meta = this.cluster.topics.get(topic.name);
      if (!meta || meta.errorCode === UNKNOWN_TOPIC_OR_PARTITION) {
        if (!this.o.topicCreate) throw new TopicMissingError(topic.name);
        const rf = await this.cluster.createTopic(
          topic.name,
          this.o.topicPartitions,
          this.o.topicReplicationFactor,
          this.o.requestTimeoutMs,
        );
        this.hooks.topicCreated(topic.name, this.o.topicPartitions, rf);
        await this.cluster.refresh([topic.name]);
        meta = this.cluster.topics.get(topic.name);
      }
      if (!meta || meta.errorCode !== 0 || meta.partitions.length === 0) {
        throw new KafkaProtocolError(meta?.errorCode ?? UNKNOWN_TOPIC_OR_PARTITION, `metadata of topic "${topic.name}"`);
      }
    };
    run().then(
      () => {
        topic.ensuring = false;
        topic.failures = 0;
        // The partitions appear and the waiting batches are placed in one step: a batch
        // sent in between would otherwise overtake them.
        this.applyMetadata(topic);
        const waiting = topic.waiting;
        topic.waiting = [];
        for (const b of waiting) this.hooks.place(topic, b);
        this.hooks.changed();
      },
      (err: unknown) => {
        topic.ensuring = false;
        if (this.closed) return;
        topic.failures++;
        topic.retryAt = this.o.now() + this.o.backoffMs(topic.failures);
        this.hooks.failure(err as Error, `preparing topic "${topic.name}"`);
        this.hooks.changed();
      },
    );
  }

  ensureProducerId(): void {
    if (this.producerIdPending || this.closed) return;
    this.producerIdPending = true;
    this.cluster.initProducerId().then(
      ({ producerId, producerEpoch }) => {
        this.producerIdPending = false;
        this.producerIdFailures = 0;
        this.producerId = producerId;
        this.producerEpoch = producerEpoch;
        this.hooks.changed();
      },
      (err: unknown) => {
        this.producerIdPending = false;
        if (this.closed) return;
        this.producerIdFailures++;
        this.producerIdRetryAt = this.o.now() + this.o.backoffMs(this.producerIdFailures);
        this.hooks.failure(err as Error, 'getting a producer id');
        this.hooks.changed();
      },
    );
  }
}

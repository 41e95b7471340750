// Produce request and response, versions 3 (Kafka 4's floor, record batch
// v2) to 13. Flexible from 9; version 13 names topics by id (KIP-516)
// instead of by name. A request carries at most one record batch per
// partition (the broker refuses more for an idempotent producer). With
// acks=0 the broker sends no response at all.

import type { EncodedBatch } from './record-batch.ts';
import type { Api } from './protocol.ts';

export interface ProduceTopic {
  readonly name: string;
  readonly topicId: Buffer;
  readonly partitions: ReadonlyArray<{ readonly partition: number; readonly batch: EncodedBatch }>;
}

export interface ProduceRequest {
  readonly acks: number;
  readonly timeoutMs: number;
  readonly topics: readonly ProduceTopic[];
}

export interface ProducePartitionResult {
  /** Topic name (versions < 13) or null (13: see topicId). */
  readonly topic: string | null;
  readonly topicId: Buffer | null;
  readonly partition: number;
  readonly errorCode: number;
  readonly baseOffset: number;
  readonly errorMessage: string | null;
  /** The partition's leader, when the broker says it moved (versions >= 10, KIP-951). */
  readonly currentLeader: { readonly leaderId: number; readonly leaderEpoch: number } | undefined;
}

export interface ProduceResponse {
  readonly partitions: ProducePartitionResult[];
  readonly throttleTimeMs: number;
}

export const Produce: Api<ProduceRequest, ProduceResponse> = {
  key: 0,
  name: 'Produce',
  min: 3,
  max: 13,
  flexibleFrom: 9,
  encode(e, version, req) {
    const flexible = version >= 9;
    if (flexible) e.compactString(null);
    else e.string(null); // transactional id
    e.i16(req.acks);
    e.i32(req.timeoutMs);
    if (flexible) e.uvarint(req.topics.length + 1);
    else e.i32(req.topics.length);
    for (const topic of req.topics) {
      if (version >= 13) e.uuid(topic.topicId);
      else if (flexible) e.compactString(topic.name);
      else e.string(topic.name);
      if (flexible) e.uvarint(topic.partitions.length + 1);
      else e.i32(topic.partitions.length);
      for (const { partition, batch } of topic.partitions) {
        e.i32(partition);
        if (flexible) e.uvarint(batch.size + 1);
        else e.i32(batch.size);
        e.deferred(batch.size, (w) => batch.write(w));
        if (flexible) e.tags();
      }
      if (flexible) e.tags();
    }
    if (flexible) e.tags();
  },
  decode(r, version) {
    const flexible = version >= 9;
    const partitions: ProducePartitionResult[] = [];
    r.array(flexible, (t) => {
      let topic: string | null = null;
      let topicId: Buffer | null = null;
      if (version >= 13) topicId = t.uuid();
      else topic = flexible ? t.compactString() : t.string();
      t.array(flexible, (p) => {
        const partition = p.i32();
        const errorCode = p.i16();
        const baseOffset = p.i64();
        p.i64(); // log append time
        if (version >= 5) p.i64(); // log start offset
        let errorMessage: string | null = null;
        if (version >= 8) {
          p.array(flexible, (e) => {
            e.i32();
            if (flexible) e.compactString();
            else e.string();
            if (flexible) e.tags();
          });
          errorMessage = flexible ? p.compactString() : p.string();
        }
        let currentLeader: ProducePartitionResult['currentLeader'];
        if (flexible)
          p.tags((tag, tr) => {
            if (tag === 0) {
              currentLeader = { leaderId: tr.i32(), leaderEpoch: tr.i32() };
            }
          });
        partitions.push({ topic, topicId, partition, errorCode, baseOffset, errorMessage, currentLeader });
      });
      if (flexible) t.tags();
    });
    const throttleTimeMs = r.i32();
    if (flexible) r.tags();
    return { partitions, throttleTimeMs };
  },
};

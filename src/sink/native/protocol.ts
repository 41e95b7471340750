// The request/response codecs the producer needs besides Produce
// (produce.ts): ApiVersions, Metadata, CreateTopics, InitProducerId, and
// SaslHandshake/SaslAuthenticate for the SASL step a connection can run
// (issue 11). Field lists follow Kafka's own message schemas
// (clients/src/main/resources/common/message/*.json of Kafka 4.1), versions
// from the floors Kafka 4 keeps (KIP-896) to the highest this file encodes.
// A version is "flexible" from `flexibleFrom` on: compact strings, arrays
// and bytes, and a tagged-field section after every struct.

import type { Encoder, Reader } from './wire.ts';

export interface Api<Req, Res> {
  readonly key: number;
  readonly name: string;
  /** Versions this module encodes, inclusive. */
  readonly min: number;
  readonly max: number;
  readonly flexibleFrom: number;
  encode(e: Encoder, version: number, req: Req): void;
  decode(r: Reader, version: number): Res;
}

export const API_KEYS = {
  produce: 0,
  metadata: 3,
  saslHandshake: 17,
  apiVersions: 18,
  createTopics: 19,
  initProducerId: 22,
  saslAuthenticate: 36,
};

/** Request header v1 (classic) or v2 (flexible). The client id is a classic nullable string in both. */
export function encodeRequestHeader(
  e: Encoder,
  apiKey: number,
  version: number,
  correlationId: number,
  clientId: string,
  flexible: boolean,
): void {
  e.i16(apiKey);
  e.i16(version);
  e.i32(correlationId);
  e.string(clientId);
  if (flexible) e.tags();
}

/** Whether a response has header v1 (tagged fields after the correlation id). ApiVersions never has: clients must read it before they know the broker's versions. */
export function responseHeaderIsFlexible(apiKey: number, flexible: boolean): boolean {
  return flexible && apiKey !== API_KEYS.apiVersions;
}

const str = (e: Encoder, flexible: boolean, v: string | null): void => (flexible ? e.compactString(v) : e.string(v));
const readStr = (r: Reader, flexible: boolean): string | null => (flexible ? r.compactString() : r.string());
const arrayLength = (e: Encoder, flexible: boolean, n: number): void => (flexible ? e.uvarint(n + 1) : e.i32(n));

// ---------------------------------------------------------------- ApiVersions

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export interface ApiVersionsResponse {
  readonly errorCode: number;
  readonly apis: Map<number, VersionRange>;
}

export const CLIENT_SOFTWARE_NAME = 'logagent-native';
export const CLIENT_SOFTWARE_VERSION = '0.1.0';

export const ApiVersions: Api<Record<string, never>, ApiVersionsResponse> = {
  key: 18,
  name: 'ApiVersions',
  min: 0,
  max: 4,
  flexibleFrom: 3,
  encode(e, version) {
    if (version >= 3) {
      e.compactString(CLIENT_SOFTWARE_NAME);
      e.compactString(CLIENT_SOFTWARE_VERSION);
      e.tags();
    }
  },
  decode(r, version) {
    const errorCode = r.i16();
    // A broker that does not know our version answers in v0 layout, with its own range for ApiVersions.
    const flexible = version >= 3 && errorCode === 0;
    const apis = new Map<number, VersionRange>();
    r.array(flexible, (a) => {
      const key = a.i16();
      const min = a.i16();
      const max = a.i16();
      if (flexible) a.tags();
      apis.set(key, { min, max });
    });
    return { errorCode, apis };
  },
};

/** The highest version both sides speak, or undefined when the ranges do not meet. */
export function negotiate(api: { min: number; max: number }, broker: VersionRange | undefined): number | undefined {
  if (!broker) return undefined;
  const v = Math.min(api.max, broker.max);
  return v >= Math.max(api.min, broker.min) ? v : undefined;
}

// ---------------------------------------------------------------- Metadata

export interface MetadataRequest {
  /** Topic names; null asks for every topic. */
  readonly topics: readonly string[] | null;
  readonly allowAutoTopicCreation: boolean;
}

export interface BrokerInfo {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface PartitionInfo {
  readonly errorCode: number;
  readonly partition: number;
  readonly leader: number;
  readonly leaderEpoch: number;
}

export interface TopicInfo {
  readonly errorCode: number;
  readonly name: string;
  /** 16 bytes, all zero when unknown (versions < 10). */
  readonly topicId: Buffer;
  readonly partitions: PartitionInfo[];
}

export interface MetadataResponse {
  readonly brokers: BrokerInfo[];
  readonly controllerId: number;
  readonly topics: TopicInfo[];
  readonly errorCode: number;
}

export const ZERO_UUID = Buffer.alloc(16);

export const Metadata: Api<MetadataRequest, MetadataResponse> = {
  key: 3,
  name: 'Metadata',
  min: 4,
  max: 13,
  flexibleFrom: 9,
  encode(e, version, req) {
    const flexible = version >= 9;
    if (req.topics === null) {
      if (flexible) e.uvarint(0);
      else e.i32(-1);
    } else {
      arrayLength(e, flexible, req.topics.length);
      for (const name of req.topics) {
        if (version >= 10) e.uuid(ZERO_UUID);
        str(e, flexible, name);
        if (flexible) e.tags();
      }
    }
    e.bool(req.allowAutoTopicCreation);
    if (version >= 8 && version <= 10) e.bool(false); // include cluster authorized operations
    if (version >= 8) e.bool(false); // include topic authorized operations
    if (flexible) e.tags();
  },
  decode(r, version) {
    const flexible = version >= 9;
    r.i32(); // throttle time
    const brokers = r.array(flexible, (b) => {
      const nodeId = b.i32();
      const host = readStr(b, flexible) ?? '';
      const port = b.i32();
      readStr(b, flexible); // rack
      if (flexible) b.tags();
      return { nodeId, host, port };
    });
    readStr(r, flexible); // cluster id
    const controllerId = r.i32();
    const topics = r.array(flexible, (t) => {
      const errorCode = t.i16();
      const name = readStr(t, flexible) ?? '';
      const topicId = version >= 10 ? t.uuid() : ZERO_UUID;
      t.bool(); // is internal
      const partitions = t.array(flexible, (p) => {
        const info = { errorCode: p.i16(), partition: p.i32(), leader: p.i32(), leaderEpoch: version >= 7 ? p.i32() : -1 };
        p.array(flexible, (x) => x.i32()); // replicas
        p.array(flexible, (x) => x.i32()); // isr
        if (version >= 5) p.array(flexible, (x) => x.i32()); // offline replicas
        if (flexible) p.tags();
        return info;
      });
      if (version >= 8) t.i32(); // topic authorized operations
      if (flexible) t.tags();
      return { errorCode, name, topicId, partitions };
    });
    if (version >= 8 && version <= 10) r.i32(); // cluster authorized operations
    const errorCode = version >= 13 ? r.i16() : 0;
    if (flexible) r.tags();
    return { brokers, controllerId, topics, errorCode };
  },
};

// ---------------------------------------------------------------- CreateTopics

export interface CreateTopicsRequest {
  readonly topics: ReadonlyArray<{ name: string; partitions: number; replicationFactor: number }>;
  readonly timeoutMs: number;
}

export interface CreateTopicsResponse {
  readonly topics: Array<{ name: string; errorCode: number; errorMessage: string | null }>;
}

export const CreateTopics: Api<CreateTopicsRequest, CreateTopicsResponse> = {
  key: 19,
  name: 'CreateTopics',
  min: 2,
  max: 7,
  flexibleFrom: 5,
  encode(e, version, req) {
    const flexible = version >= 5;
    arrayLength(e, flexible, req.topics.length);
    for (const t of req.topics) {
      str(e, flexible, t.name);
      e.i32(t.partitions);
      e.i16(t.replicationFactor);
      arrayLength(e, flexible, 0); // assignments
      arrayLength(e, flexible, 0); // configs
      if (flexible) e.tags();
    }
    e.i32(req.timeoutMs);
    e.bool(false); // validate only
    if (flexible) e.tags();
  },
  decode(r, version) {
    const flexible = version >= 5;
    r.i32(); // throttle time
    const topics = r.array(flexible, (t) => {
      const name = readStr(t, flexible) ?? '';
      if (version >= 7) t.uuid();
      const errorCode = t.i16();
      const errorMessage = readStr(t, flexible);
      if (version >= 5) {
        t.i32(); // partitions
        t.i16(); // replication factor
        const n = t.uvarint() - 1; // configs (nullable)
        for (let i = 0; i < n; i++) {
          t.compactString();
          t.compactString();
          t.bool();
          t.i8();
          t.bool();
          t.tags();
        }
      }
      if (flexible) t.tags();
      return { name, errorCode, errorMessage };
    });
    if (flexible) r.tags();
    return { topics };
  },
};

// ---------------------------------------------------------------- InitProducerId

export interface InitProducerIdResponse {
  readonly errorCode: number;
  readonly producerId: number;
  readonly producerEpoch: number;
}

export const InitProducerId: Api<Record<string, never>, InitProducerIdResponse> = {
  key: 22,
  name: 'InitProducerId',
  min: 0,
  // v6 (two-phase commit) is marked unstable in Kafka 4.1 and adds nothing an idempotent producer uses.
  max: 5,
  flexibleFrom: 2,
  encode(e, version) {
    const flexible = version >= 2;
    str(e, flexible, null); // transactional id: none, an idempotent producer only
    e.i32(2147483647); // transaction timeout: unused without a transactional id
    if (version >= 3) {
      e.i64(-1); // producer id: ask for a new one
      e.i16(-1);
    }
    if (flexible) e.tags();
  },
  decode(r, version) {
    const flexible = version >= 2;
    r.i32(); // throttle time
    const out = { errorCode: r.i16(), producerId: r.i64(), producerEpoch: r.i16() };
    if (flexible) r.tags();
    return out;
  },
};

// ---------------------------------------------------------------- SASL (used by a connection's authenticate step)

export const SaslHandshake: Api<{ mechanism: string }, { errorCode: number; mechanisms: string[] }> = {
  key: 17,
  name: 'SaslHandshake',
  min: 1,
  max: 1,
  flexibleFrom: 99,
  encode(e, _version, req) {
    e.string(req.mechanism);
  },
  decode(r) {
    const errorCode = r.i16();
    const mechanisms = r.array(false, (m) => m.string() ?? '');
    return { errorCode, mechanisms };
  },
};

export interface SaslAuthenticateResponse {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly authBytes: Buffer;
  readonly sessionLifetimeMs: number;
}

export const SaslAuthenticate: Api<{ authBytes: Buffer }, SaslAuthenticateResponse> = {
  key: 36,
  name: 'SaslAuthenticate',
  min: 0,
  max: 2,
  flexibleFrom: 2,
  encode(e, version, req) {
    if (version >= 2) {
      e.compactBytes(req.authBytes);
      e.tags();
    } else e.bytes(req.authBytes);
  },
  decode(r, version) {
    const flexible = version >= 2;
    const errorCode = r.i16();
    const errorMessage = readStr(r, flexible);
    const authBytes = (flexible ? r.compactBytes() : r.bytes()) ?? Buffer.alloc(0);
    const sessionLifetimeMs = version >= 1 ? r.i64() : 0;
    if (flexible) r.tags();
    return { errorCode, errorMessage, authBytes, sessionLifetimeMs };
  },
};

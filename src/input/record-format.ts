// What a record's value and key are, per input.
//
// format raw (default): the line's bytes, unchanged.
// format json: an envelope
//   {"@timestamp": read time (ISO 8601), "message": the line,
//    "log": {"file": {"path": ..., "offset": line's byte offset}},
//    "kubernetes": {"pod": {"name", "uid"}, "namespace", "node": {"name"},
//                   "container": {"name"}},      (from the Downward API env)
//    "fields": {...static fields},                (when configured)
//    "<parsedField>": {...the line's own keys}}   (parse: json, when the line is a JSON object)
// The line's own keys never overwrite ours: they live under parsedField. A
// line that is not a JSON object stays a string in "message" (counted). A
// line that is not valid UTF-8 keeps every byte: it is written with each
// backslash doubled and each invalid byte as \xHH, and "message_escaped":
// true says so (a consumer can undo it exactly).
//
// Keys: path (the file path: a file's lines stay on one partition, in
// order), none (no key: the partitioner spreads lines; no order across
// partitions), pod (the pod name: all of a pod's files on one partition, in
// order per file), field:<name> (a top-level field of the parsed JSON line:
// lines with the same value stay in order; a line without it has no key).

const HEX = '0123456789abcdef';

export type FormatName = 'raw' | 'json';
export type ParseName = 'none' | 'json';

export interface PodMetadata {
  readonly podName: string | undefined;
  readonly podUid: string | undefined;
  readonly namespace: string | undefined;
  readonly nodeName: string | undefined;
  readonly container: string | undefined;
}

export interface RecordFormatConfig {
  readonly format: FormatName;
  readonly parse: ParseName;
  readonly parsedField: string;
  readonly key: string;
  readonly fields: Readonly<Record<string, string>>;
}

export interface Encoded {
  readonly value: Buffer;
  /** Kafka key of this record (undefined: the batch's). */
  readonly key: string | null | undefined;
  readonly parseFailed: boolean;
  readonly escaped: boolean;
}

export function podMetadataFromEnv(env: NodeJS.ProcessEnv, container: string): PodMetadata {
  return {
    podName: env.POD_NAME || undefined,
    podUid: env.POD_UID || undefined,
    namespace: env.POD_NAMESPACE || undefined,
    nodeName: env.NODE_NAME || undefined,
    container: container || env.CONTAINER_NAME || undefined,
  };
}

/** The key of every record of a file when it does not depend on the line; undefined: it does (field:<name>). */
export function fileKey(key: string, path: string, meta: PodMetadata): string | null | undefined {
  if (key === 'path') return path;
  if (key === 'none') return null;
  if (key === 'pod') return meta.podName ?? null;
  return undefined;
}

export class RecordFormatter {
  readonly cfg: RecordFormatConfig;
  private readonly keyField: string | undefined;
  /** The constant part of every envelope after "message" (pod metadata, static fields), as JSON. */
  private readonly constant: string;

  constructor(cfg: RecordFormatConfig, meta: PodMetadata) {
    this.cfg = cfg;
    this.keyField = cfg.key.startsWith('field:') ? cfg.key.slice('field:'.length) : undefined;
    const k8s: Record<string, unknown> = {};
    if (meta.podName || meta.podUid)
      k8s.pod = { ...(meta.podName ? { name: meta.podName } : {}), ...(meta.podUid ? { uid: meta.podUid } : {}) };
    if (meta.namespace) k8s.namespace = meta.namespace;
    if (meta.nodeName) k8s.node = { name: meta.nodeName };
    if (meta.container) k8s.container = { name: meta.container };
    let constant = '';
    if (Object.keys(k8s).length > 0) constant += `,"kubernetes":${JSON.stringify(k8s)}`;
    if (Object.keys(cfg.fields).length > 0) constant += `,"fields":${JSON.stringify(cfg.fields)}`;
    this.constant = constant;
  }

  /** Whether records need encoding at all (raw lines with a per-file key do not). */
  get isIdentity(): boolean {
    return this.cfg.format === 'raw' && this.keyField === undefined;
  }

  encode(line: Buffer, path: string, offset: number, readAt: number): Encoded {
    let parsed: Record<string, unknown> | undefined;
    let parseFailed = false;
    if (this.cfg.parse === 'json' || this.keyField !== undefined) {
      parsed = parseObject(line);
      parseFailed = this.cfg.parse === 'json' && parsed === undefined;
    }
    const key = this.keyField === undefined ? undefined : keyOf(parsed?.[this.keyField]);
    if (this.cfg.format === 'raw') return { value: line, key, parseFailed, escaped: false };
    const text = decodeStrict(line);
    const escaped = text === undefined;
    const message = escaped ? escapeBytes(line) : text;
    let json = `{"@timestamp":"${new Date(readAt).toISOString()}","message":${JSON.stringify(message)}`;
    if (escaped) json += ',"message_escaped":true';
    json += `,"log":{"file":{"path":${JSON.stringify(path)},"offset":${offset}}}${this.constant}`;
    if (parsed !== undefined && this.cfg.parse === 'json') json += `,${JSON.stringify(this.cfg.parsedField)}:${JSON.stringify(parsed)}`;
    json += '}';
    return { value: Buffer.from(json, 'utf8'), key, parseFailed, escaped };
  }
}

function keyOf(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The line as a JSON object, or undefined (not JSON, or JSON but not an object). */
function parseObject(line: Buffer): Record<string, unknown> | undefined {
  const first = firstNonSpace(line);
  if (first !== 0x7b) return undefined; // '{': cheap refusal of plain text
  try {
    const value = JSON.parse(line.toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function firstNonSpace(line: Buffer): number | undefined {
  for (const b of line) if (b !== 0x20 && b !== 0x09) return b;
  return undefined;
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

function decodeStrict(line: Buffer): string | undefined {
  try {
    return strictDecoder.decode(line);
  } catch {
    return undefined;
  }
}

/**
 * Valid UTF-8 sequences as they are, backslashes doubled, and each byte that
 * is not part of a valid sequence as \xHH: every byte survives, and the
 * original bytes can be rebuilt exactly.
 */
export function escapeBytes(line: Buffer): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    const len = validSequenceLength(line, i);
    if (len === 0) {
      const b = line[i] as number;
      out += `\\x${HEX[b >> 4]}${HEX[b & 15]}`;
      i++;
      continue;
    }
    const chunk = line.toString('utf8', i, i + len);
    out += chunk === '\\' ? '\\\\' : chunk;
    i += len;
  }
  return out;
}

/** Length of the valid UTF-8 sequence at i, or 0. */
function validSequenceLength(b: Buffer, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const cont = (k: number): boolean => i + k < b.length && ((b[i + k] as number) & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1] as number;
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 > 0x9f) return 0; // surrogates
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1] as number;
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 > 0x8f) return 0;
    return 4;
  }
  return 0;
}

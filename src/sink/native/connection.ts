// One TCP connection to one broker. It owns the socket, frames requests
// (int32 size, header, body: one buffer per request, sized up front) and
// responses, matches responses to requests by correlation id, and keeps
// every request under a deadline: when the oldest pending request is past
// it, the socket is destroyed and everything pending on it fails, so a
// broker that accepts TCP and never answers costs one timeout, not a hang.
//
// Opening runs three steps: the transport (plain TCP by default; a
// SocketFactory can return a TLS socket), ApiVersions (so each request goes
// out at the highest version both sides speak), then an optional
// `authenticate` step that may exchange requests before the connection is
// handed out (SASL, issue 11). Nothing here retries: callers decide.
//
// Timers: one, armed only while requests are pending (or the socket is
// connecting); an idle connection holds a socket and nothing else.

import net from 'node:net';
import { KafkaTimeoutError } from '../../errors.ts';
import type { BufferPool } from './buffer-pool.ts';
import { KafkaConnectionError, KafkaProtocolError, UNSUPPORTED_VERSION } from './errors.ts';
import { ApiVersions, encodeRequestHeader, negotiate, responseHeaderIsFlexible, type Api, type VersionRange } from './protocol.ts';
import { Reader, Sizer, Writer } from './wire.ts';

/** Opens the transport: resolves once bytes can flow (after the TLS handshake for TLS). */
export type SocketFactory = (host: string, port: number) => net.Socket;

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** net.connect by default; a TLS factory returns tls.connect(...) and must set `connectEvent` to 'secureConnect'. */
  readonly socketFactory?: SocketFactory;
  readonly connectEvent?: 'connect' | 'secureConnect';
  /** Runs after ApiVersions, before the connection is handed out (SASL handshake and authentication). */
  readonly authenticate?: (connection: BrokerConnection) => Promise<void>;
  /** Where request buffers come from and return to once written (allocated per request without one). */
  readonly pool?: BufferPool;
  /** Called once when the connection closes for any reason after it opened (or failed to). */
  readonly onClose?: (connection: BrokerConnection, err: Error) => void;
}

interface Pending {
  readonly correlationId: number;
  readonly apiKey: number;
  readonly version: number;
  readonly flexible: boolean;
  readonly deadline: number;
  readonly resolve: (r: Reader) => void;
  readonly reject: (err: Error) => void;
}

const KEEP_ALIVE_DELAY_MS = 60_000;

export class BrokerConnection {
  readonly host: string;
  readonly port: number;
  readonly label: string;
  private readonly options: ConnectionOptions;
  private socket: net.Socket | undefined;
  private versions = new Map<number, VersionRange>();
  private readonly pending: Pending[] = [];
  private pendingHead = 0;
  /** Writes without a response (acks=0 produce) not yet flushed to the kernel. */
  private unflushed = 0;
  private nextCorrelationId = 1;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private inbox: Buffer | undefined;
  private closedWith: Error | undefined;
  private opened = false;
  private socketClosed: Promise<void> = Promise.resolve();

  constructor(options: ConnectionOptions) {
    this.options = options;
    this.host = options.host;
    this.port = options.port;
    this.label = `${options.host}:${options.port}`;
  }

  get isOpen(): boolean {
    return this.opened && this.closedWith === undefined;
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Requests sent and not yet answered (or not yet flushed, without a response). */
  get inflight(): number {
    return this.pending.length - this.pendingHead + this.unflushed;
  }

  /** Opens the socket, negotiates versions and authenticates. Rejects (and closes) on any failure. */
  async open(): Promise<void> {
    if (this.socket) throw new Error('connection already opened');
    const factory = this.options.socketFactory ?? ((host, port) => net.connect({ host, port }));
    const socket = factory(this.host, this.port);
    this.socket = socket;
    this.socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.destroy(new KafkaConnectionError(this.label, err.message, err)));
    socket.on('close', () => this.destroy(new KafkaConnectionError(this.label, 'connection closed')));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.destroy(new KafkaConnectionError(this.label, `no connection within ${this.options.connectTimeoutMs} ms`));
      }, this.options.connectTimeoutMs);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        socket.off(this.options.connectEvent ?? 'connect', onConnect);
        socket.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onConnect = (): void => done();
      const onClose = (): void => done(this.closedWith ?? new KafkaConnectionError(this.label, 'connection closed'));
      socket.once(this.options.connectEvent ?? 'connect', onConnect);
      socket.once('close', onClose);
    });
    await this.negotiateVersions();
    if (this.options.authenticate) await this.options.authenticate(this);
    if (this.closedWith) throw this.closedWith;
    this.opened = true;
  }

  /** The version of `api` this connection will use; throws when the broker speaks none of ours. */
  version(api: { key: number; name: string; min: number; max: number }): number {
    const v = negotiate(api, this.versions.get(api.key));
    if (v === undefined) {
      const b = this.versions.get(api.key);
      throw new KafkaProtocolError(
        UNSUPPORTED_VERSION,
        `${this.label} ${api.name}: broker speaks ${b ? `${b.min}-${b.max}` : 'none'}, we speak ${api.min}-${api.max}`,
      );
    }
    return v;
  }

  /**
   * Sends one request and resolves with its decoded response. With
   * `expectResponse: false` (acks=0 produce) it resolves once the bytes are
   * handed to the kernel, with undefined.
   */
  request<Req, Res>(api: Api<Req, Res>, req: Req, options?: { version?: number }): Promise<Res>;
  request<Req, Res>(api: Api<Req, Res>, req: Req, options: { version?: number; expectResponse: false }): Promise<undefined>;
  request<Req, Res>(api: Api<Req, Res>, req: Req, options: { version?: number; expectResponse?: boolean } = {}): Promise<Res | undefined> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error('connection not opened'));
    const version = options.version ?? this.version(api);
    const flexible = version >= api.flexibleFrom;
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = (this.nextCorrelationId + 1) & 0x7fffffff;
    const sizer = new Sizer();
    encodeRequestHeader(sizer, api.key, version, correlationId, this.options.clientId, flexible);
    api.encode(sizer, version, req);
    const pool = this.options.pool;
    const w = new Writer(pool ? pool.take(4 + sizer.size) : Buffer.allocUnsafe(4 + sizer.size));
    w.i32(sizer.size);
    encodeRequestHeader(w, api.key, version, correlationId, this.options.clientId, flexible);
    api.encode(w, version, req);
    if (w.offset !== w.buf.length) throw new Error(`${api.name} v${version} wrote ${w.offset} bytes, sized ${w.buf.length}`);

    if (options.expectResponse === false) {
      this.unflushed++;
      return new Promise((resolve, reject) => {
        socket.write(w.buf, (err) => {
          this.unflushed--;
          pool?.give(w.buf);
          if (err) reject(new KafkaConnectionError(this.label, err.message, err));
          else resolve(undefined);
        });
      });
    }
    return new Promise<Res>((resolve, reject) => {
      const deadline = Date.now() + this.options.requestTimeoutMs;
      this.pending.push({
        correlationId,
        apiKey: api.key,
        version,
        flexible,
        deadline,
        resolve: (r) => {
          try {
            resolve(api.decode(r, version));
          } catch (err) {
            reject(new KafkaConnectionError(this.label, `cannot decode ${api.name} v${version} response: ${(err as Error).message}`, err));
          }
        },
        reject,
      });
      this.armTimer(deadline);
      socket.write(w.buf, () => pool?.give(w.buf));
    });
  }

  /** Resolves once the socket's handle is released (after destroy()). */
  whenClosed(): Promise<void> {
    return this.socketClosed;
  }

  /** Fails everything pending with `err` and closes the socket. Idempotent. */
  destroy(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.socket?.destroy();
    const pending = this.pending.splice(this.pendingHead);
    this.pending.length = 0;
    this.pendingHead = 0;
    this.inbox = undefined;
    for (const p of pending) p.reject(err);
    this.options.onClose?.(this, err);
  }

  private async negotiateVersions(): Promise<void> {
    let version = ApiVersions.max;
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await this.request(ApiVersions, {}, { version });
      if (res.errorCode === 0) {
        this.versions = res.apis;
        return;
      }
      const theirs = res.apis.get(ApiVersions.key);
      if (res.errorCode !== UNSUPPORTED_VERSION || !theirs) break;
      version = Math.min(theirs.max, ApiVersions.max);
    }
    throw new KafkaConnectionError(this.label, 'ApiVersions failed: the broker speaks no version of ours');
  }

  /** One timer for the oldest pending request; when it fires early (that request completed), it re-arms for the next. */
  private armTimer(deadline: number): void {
    if (this.timer && this.timerAt <= deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(() => this.onTimer(), Math.max(1, deadline - Date.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    const head = this.pending[this.pendingHead];
    if (!head) return;
    if (head.deadline <= Date.now()) {
      this.destroy(new KafkaTimeoutError(`${this.label} request ${head.apiKey}`, this.options.requestTimeoutMs));
      return;
    }
    this.armTimer(head.deadline);
  }

  private onData(chunk: Buffer): void {
    const buf = this.inbox ? Buffer.concat([this.inbox, chunk]) : chunk;
    let pos = 0;
    while (buf.length - pos >= 4) {
      const size = buf.readInt32BE(pos);
      if (buf.length - pos - 4 < size) break;
      const frame = buf.subarray(pos + 4, pos + 4 + size);
      pos += 4 + size;
      this.onFrame(frame);
      if (this.closedWith) return;
    }
    this.inbox = pos === buf.length ? undefined : buf.subarray(pos);
    if (this.inbox && pos > 0) this.inbox = Buffer.from(this.inbox); // do not pin the consumed chunk
  }

  private onFrame(frame: Buffer): void {
    const head = this.pending[this.pendingHead];
    const r = new Reader(frame);
    const correlationId = r.i32();
    if (!head || head.correlationId !== correlationId) {
      this.destroy(
        new KafkaConnectionError(this.label, `response ${correlationId} does not match the oldest request ${head?.correlationId}`),
      );
      return;
    }
    this.pending[this.pendingHead] = undefined as unknown as Pending;
    this.pendingHead++;
    if (this.pendingHead === this.pending.length) {
      this.pending.length = 0;
      this.pendingHead = 0;
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    } else if (this.pendingHead > 64) {
      this.pending.splice(0, this.pendingHead);
      this.pendingHead = 0;
    }
    if (responseHeaderIsFlexible(head.apiKey, head.flexible)) r.tags();
    head.resolve(r);
  }
}

// The operator's window. Semantics chosen for a sidecar, whose readiness
// decides whether the whole pod gets traffic and whose startup probe (native
// sidecar) holds the application's start, so neither depends on Kafka:
//   /healthz  200 while the agent's loops are alive: discovery scans and the
//             checkpoint loop ran recently (503 with the stalled loop named);
//   /readyz   200 once the configuration is loaded and the inputs started;
//   /status   JSON: config hash, Kafka delivery state, every open or dormant
//             file (path, identity, size, offsets, lag, state);
//   /metrics  Prometheus text.
// Kafka's state is in /status and the metrics, never in the probes.

import { createServer, type Server } from 'node:http';
import type pino from 'pino';
import type { Metrics } from '../metrics.ts';

export interface Liveness {
  readonly ok: boolean;
  /** Per loop: how long ago it last ran, and its allowance. */
  readonly loops: Record<string, { readonly agoMs: number; readonly limitMs: number; readonly ok: boolean }>;
}

export interface HealthSource {
  liveness(): Liveness;
  isReady(): boolean;
  status(): unknown;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  health: HealthSource;
  logger: pino.Logger;
}

export class HttpServer {
  private server: Server | undefined;
  private readonly options: HttpServerOptions;

  constructor(options: HttpServerOptions) {
    this.options = options;
  }

  async start(): Promise<number> {
    const { metrics, health, logger } = this.options;
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      const json = (code: number, body: unknown): void => {
        res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(body, null, 2)}\n`);
      };
      try {
        if (url === '/metrics') {
          metrics.render().then(
            (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
            (err: unknown) => {
              logger.error({ err }, 'cannot render metrics');
              res.writeHead(500).end();
            },
          );
        } else if (url === '/healthz') {
          const live = health.liveness();
          json(live.ok ? 200 : 503, { status: live.ok ? 'ok' : 'stalled', loops: live.loops });
        } else if (url === '/readyz') {
          const ok = health.isReady();
          res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
        } else if (url === '/status') {
          json(200, health.status());
        } else {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        }
      } catch (err) {
        logger.error({ err, url }, 'http handler failed');
        res.writeHead(500).end();
      }
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.options.port;
    logger.info({ host: this.options.host, port }, 'http server listening');
    return port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

// The operator's window: /metrics (Prometheus text), /healthz (the process
// is alive and its loops run), /readyz (Kafka accepted the last delivery
// attempt, or nothing was sent yet and the producer connected).

import { createServer, type Server } from 'node:http';
import type pino from 'pino';
import type { Metrics } from '../metrics.ts';

export interface HealthSource {
  isLive(): boolean;
  isReady(): boolean;
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
    const { metrics, health } = this.options;
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      if (url === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
      } else if (url === '/healthz') {
        const ok = health.isLive();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not live\n');
      } else if (url === '/readyz') {
        const ok = health.isReady();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
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
    this.options.logger.info({ host: this.options.host, port }, 'http server listening');
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

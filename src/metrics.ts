// A small Prometheus registry: counters and gauges with fixed label names,
// rendered in the text exposition format. Owned by the agent and passed to
// every component; there is no global registry.

type Labels = Record<string, string>;

interface Series {
  labels: Labels;
  value: number;
}

abstract class Metric {
  readonly name: string;
  readonly help: string;
  protected readonly series = new Map<string, Series>();
  abstract readonly type: 'counter' | 'gauge';

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  protected entry(labels: Labels): Series {
    const id = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
    let s = this.series.get(id);
    if (!s) {
      s = { labels: { ...labels }, value: 0 };
      this.series.set(id, s);
    }
    return s;
  }

  get(labels: Labels = {}): number {
    return this.entry(labels).value;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, value } of this.series.values()) {
      const l = Object.entries(labels)
        .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
        .join(',');
      lines.push(`${this.name}${l ? `{${l}}` : ''} ${value}`);
    }
    return lines.join('\n');
  }
}

export class Counter extends Metric {
  readonly type = 'counter' as const;
  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels).value += by;
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge' as const;
  set(value: number, labels: Labels = {}): void {
    this.entry(labels).value = value;
  }
  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels).value += by;
  }
}

export class Metrics {
  private readonly all: Metric[] = [];
  private readonly collectors: Array<() => void> = [];

  readonly linesRead = this.counter('logagent_lines_read_total', 'Lines read from files.');
  readonly bytesRead = this.counter('logagent_bytes_read_total', 'Bytes read from files.');
  readonly linesAcked = this.counter('logagent_lines_acked_total', 'Lines acknowledged by Kafka.');
  readonly linesTruncated = this.counter('logagent_lines_truncated_total', 'Lines longer than the maximum line size, shipped truncated.');
  readonly bytesSkipped = this.counter('logagent_line_bytes_skipped_total', 'Bytes cut from over-long lines.');
  readonly partialLinesFlushed = this.counter(
    'logagent_partial_lines_flushed_total',
    'Last lines without a newline shipped after a quiet period, rotation or shutdown.',
  );
  readonly filesOpened = this.counter('logagent_files_opened_total', 'Files opened for reading.');
  readonly filesClosed = this.counter('logagent_files_closed_total', 'Files closed, by reason.');
  readonly truncations = this.counter(
    'logagent_file_truncations_total',
    'Files found shorter than the read offset (copytruncate) and read again from 0.',
  );
  readonly rotations = this.counter('logagent_file_rotations_total', 'Files renamed or deleted while open.');
  readonly abandonedBytes = this.counter(
    'logagent_rotated_abandoned_bytes_total',
    'Unacknowledged bytes of rotated or deleted files given up on (hold time or byte cap).',
  );
  readonly fileErrors = this.counter('logagent_file_errors_total', 'Errors reading files.');
  readonly sendErrors = this.counter('logagent_kafka_send_errors_total', 'Failed produce attempts (retried).');
  readonly messagesTooLarge = this.counter(
    'logagent_kafka_messages_too_large_total',
    'Messages the broker rejected as too large, then split or truncated.',
  );
  readonly checkpointWrites = this.counter('logagent_checkpoint_writes_total', 'Checkpoint files written.');
  readonly checkpointErrors = this.counter('logagent_checkpoint_errors_total', 'Checkpoint load or write errors.');
  readonly inflightBytes = this.gauge('logagent_inflight_bytes', 'Bytes read and not yet acknowledged.');
  readonly openFiles = this.gauge('logagent_open_files', 'Files open for reading.');
  readonly kafkaUp = this.gauge('logagent_kafka_connected', '1 when the last produce attempt succeeded.');
  readonly memory = this.gauge(
    'logagent_process_memory_bytes',
    'Process memory by kind (rss, heap_used, heap_total, external, array_buffers).',
  );

  constructor() {
    this.onCollect(() => {
      const m = process.memoryUsage();
      this.memory.set(m.rss, { kind: 'rss' });
      this.memory.set(m.heapUsed, { kind: 'heap_used' });
      this.memory.set(m.heapTotal, { kind: 'heap_total' });
      this.memory.set(m.external, { kind: 'external' });
      this.memory.set(m.arrayBuffers, { kind: 'array_buffers' });
    });
  }

  counter(name: string, help: string): Counter {
    const c = new Counter(name, help);
    this.all.push(c);
    return c;
  }

  gauge(name: string, help: string): Gauge {
    const g = new Gauge(name, help);
    this.all.push(g);
    return g;
  }

  /** Registers a function that refreshes gauges right before rendering. */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  render(): string {
    for (const fn of this.collectors) fn();
    return `${this.all.map((m) => m.render()).join('\n')}\n`;
  }
}

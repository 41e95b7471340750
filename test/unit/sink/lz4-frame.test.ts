import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import fc from 'fast-check';
import { lz4Frame } from '../../../src/sink/lz4-frame.ts';

const require = createRequire(import.meta.url);
const lz4js = require('lz4js') as { decompress(b: Uint8Array): Uint8Array };

test('property: an LZ4 frame decompresses to its input (random, repetitive, and multi-block inputs)', () => {
  const repetitive = fc
    .tuple(fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 5_000 }))
    .map(([s, n]) => Buffer.from(s.repeat(n)));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)),
        repetitive,
      ),
      (input) => {
        assert.deepEqual(Buffer.from(lz4js.decompress(lz4Frame(input))), input);
      },
    ),
    { numRuns: 300 },
  );
});

test('the frame header sets version 01 and block independence, as Kafka requires', () => {
  const frame = lz4Frame(Buffer.from('x'.repeat(200_000)));
  assert.equal(frame.readUInt32LE(0), 0x184d2204);
  assert.equal(frame[4], 0x60);
});

// lz4js is a lenient decoder: it accepted frames the broker rejected. The
// reference implementation (Debian's `lz4` command, the LZ4 project's own
// CLI) decodes our frames too. CI installs it; elsewhere the test says why it
// is skipped.
const lz4Cli = ['/usr/bin/lz4', '/usr/local/bin/lz4'].find((p) => existsSync(p));

test(
  'property: the reference lz4 command decodes every frame to its input',
  { skip: lz4Cli === undefined && !process.env.CI && 'the lz4 command is not installed (apt-get install lz4)' },
  () => {
    assert.ok(lz4Cli, 'CI must have the lz4 command (.ci/run installs it)');
    const repetitive = fc
      .tuple(fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 20_000 }))
      .map(([s, n]) => Buffer.from(s.repeat(n)));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 5_000 }).map((b) => Buffer.from(b)),
          repetitive,
        ),
        (input) => {
          const decoded = execFileSync(lz4Cli, ['-d', '-c'], { input: lz4Frame(input), maxBuffer: 64 * 1024 * 1024 });
          assert.deepEqual(decoded, input);
        },
      ),
      { numRuns: 60 },
    );
  },
);

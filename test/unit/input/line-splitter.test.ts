import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LineSplitter, runEndOffset, type LineRun } from '../../../src/input/line-splitter.ts';

/** One line of a run, as the tests look at it. */
interface Line {
  bytes: Buffer;
  startOffset: number;
  endOffset: number;
  truncated: boolean;
  partial: boolean;
}

function flat(runs: LineRun | LineRun[] | undefined): Line[] {
  const out: Line[] = [];
  for (const run of runs === undefined ? [] : Array.isArray(runs) ? runs : [runs]) {
    Array.from(run.ends).forEach((end, i) => {
      const start = i === 0 ? run.first : (run.nexts[i - 1] as number);
      out.push({
        bytes: run.buffer.subarray(start, end),
        startOffset: run.bufferOffset + start,
        endOffset: run.bufferOffset + (run.nexts[i] as number),
        truncated: run.truncated,
        partial: run.partial,
      });
    });
  }
  return out;
}

const text = (runs: LineRun[]) => flat(runs).map((l) => l.bytes.toString('latin1'));

test('splits lines and reports the offset just past each newline', () => {
  const s = new LineSplitter(100);
  const runs = s.push(Buffer.from('a\nbb\n\nccc'));
  assert.equal(runs.length, 1, 'lines whole inside one chunk share one run');
  const lines = flat(runs);
  assert.deepEqual(text(runs), ['a', 'bb', '']);
  assert.deepEqual(
    lines.map((l) => l.endOffset),
    [2, 5, 6],
  );
  assert.equal(s.nextOffset, 9);
  assert.equal(s.lineStartOffset, 6);
});

test('a partial line waits for its newline across chunks', () => {
  const s = new LineSplitter(100, 10);
  assert.deepEqual(s.push(Buffer.from('hel')), []);
  assert.deepEqual(s.push(Buffer.from('lo')), []);
  const [line] = flat(s.push(Buffer.from(' world\nx')));
  assert.equal(line?.bytes.toString(), 'hello world');
  assert.equal(line?.startOffset, 10);
  assert.equal(line?.endOffset, 10 + 12);
  assert.equal(line?.partial, false);
});

test('strips one carriage return before the newline, even across a chunk boundary', () => {
  const s = new LineSplitter(100);
  assert.deepEqual(text(s.push(Buffer.from('a\r\nb\r'))), ['a']);
  assert.deepEqual(text(s.push(Buffer.from('\nc\r\r\n'))), ['b', 'c\r']);
});

test('flush emits the unfinished line as partial, ending at the current offset', () => {
  const s = new LineSplitter(100);
  s.push(Buffer.from('done\npart'));
  const [line] = flat(s.flush());
  assert.equal(line?.bytes.toString(), 'part');
  assert.equal(line?.startOffset, 5);
  assert.equal(line?.partial, true);
  assert.equal(line?.endOffset, 9);
  assert.equal(s.flush(), undefined);
});

test('passes invalid UTF-8 and binary bytes through unchanged', () => {
  const s = new LineSplitter(100);
  const bytes = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x0a]);
  const [line] = flat(s.push(bytes));
  assert.deepEqual(line?.bytes, bytes.subarray(0, 5));
});

test('a line over maxLineBytes keeps its first maxLineBytes, is marked truncated, and the skipped bytes are counted', () => {
  const s = new LineSplitter(4);
  const lines = flat(s.push(Buffer.from('ok\n0123456789\nafter\n')));
  assert.deepEqual(
    lines.map((l) => l.bytes.toString()),
    ['ok', '0123', 'afte'],
  );
  assert.deepEqual(
    lines.map((l) => l.truncated),
    [false, true, true],
  );
  assert.equal(lines[1]?.endOffset, 14);
  assert.equal(s.takeSkippedBytes(), 6 + 1);
  assert.equal(s.takeSkippedBytes(), 0);
});

test('memory held for an over-long line in progress stays at maxLineBytes', () => {
  const s = new LineSplitter(8);
  for (let i = 0; i < 1000; i++) s.push(Buffer.alloc(1000, 0x61));
  assert.equal(s.pendingLength, 8);
  const [line] = flat(s.push(Buffer.from('\n')));
  assert.equal(line?.bytes.length, 8);
  assert.equal(line?.startOffset, 0);
  assert.equal(line?.truncated, true);
  assert.equal(line?.endOffset, 1_000_001);
});

test('reset forgets the unfinished line and restarts at the given offset', () => {
  const s = new LineSplitter(100);
  s.push(Buffer.from('abc'));
  s.reset(0);
  assert.equal(s.hasPending, false);
  const [line] = flat(s.push(Buffer.from('x\n')));
  assert.equal(line?.endOffset, 2);
});

test('property: any chunking of the same bytes yields the same lines and offsets', () => {
  fc.assert(
    fc.property(
      fc.array(fc.stringMatching(/^[a-z\r]{0,12}$/), { maxLength: 30 }),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 40 }),
      fc.integer({ min: 1, max: 16 }),
      (lines, trailing, cuts, maxLineBytes) => {
        const whole = Buffer.from(lines.join('\n') + (trailing ? '\n' : ''));
        const reference = new LineSplitter(maxLineBytes);
        const expected = flat([...reference.push(whole), reference.flush()].filter((l) => l !== undefined));
        const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
        const chunked = new LineSplitter(maxLineBytes);
        const got: Line[] = [];
        let prev = 0;
        for (const p of [...points, whole.length]) {
          const runs = chunked.push(whole.subarray(prev, p));
          for (const run of runs) assert.equal(runEndOffset(run), flat(run).at(-1)?.endOffset);
          got.push(...flat(runs));
          prev = p;
        }
        got.push(...flat(chunked.flush()));
        const view = (ls: Line[]) => ls.map((l) => [l.bytes.toString('latin1'), l.startOffset, l.endOffset, l.truncated, l.partial]);
        assert.deepEqual(view(got), view(expected));
        // Each line starts where the previous one ended, and the last one covers the input.
        got.forEach((l, i) => assert.equal(l.startOffset, i === 0 ? 0 : got[i - 1]?.endOffset));
        if (got.length > 0) assert.equal(got[got.length - 1]?.endOffset, whole.length);
      },
    ),
    { numRuns: 2000 },
  );
});

test('property: carrying the unfinished line into the next buffer (as the reader does) yields the same lines; no line views a buffer after it is reused', () => {
  fc.assert(
    fc.property(
      fc.array(fc.stringMatching(/^[a-z\r]{0,12}$/), { maxLength: 30 }),
      fc.boolean(),
      fc.array(fc.record({ cut: fc.nat(), detach: fc.boolean() }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 16 }),
      fc.boolean(),
      (lines, trailing, steps, maxLineBytes, indexed) => {
        const whole = Buffer.from(lines.join('\n') + (trailing ? '\n' : ''));
        const reference = new LineSplitter(maxLineBytes);
        const expected = flat([...reference.push(whole), reference.flush()].filter((l) => l !== undefined));
        const sorted = steps.map((st) => ({ ...st, cut: st.cut % (whole.length + 1) })).sort((a, b) => a.cut - b.cut);
        const s = new LineSplitter(maxLineBytes);
        // Copies taken when the lines come out, as a sink encodes them when it gets them.
        const got: Line[] = [];
        const take = (runs: LineRun[] | LineRun | undefined) => got.push(...flat(runs).map((l) => ({ ...l, bytes: Buffer.from(l.bytes) })));
        let prev = 0;
        let viewed: Buffer | undefined;
        for (const { cut, detach } of [...sorted, { cut: whole.length, detach: false }]) {
          const fresh = whole.subarray(prev, cut);
          const buf = Buffer.alloc(s.carryLength + fresh.length + 3, 0x21);
          const carried = s.takeCarry(buf);
          // The buffer the unfinished line was in is read into again.
          viewed?.fill(0x3f);
          viewed = undefined;
          fresh.copy(buf, carried);
          const chunk = buf.subarray(0, carried + fresh.length);
          const index = indexed ? { ends: new Uint32Array(1), nexts: new Uint32Array(1) } : undefined;
          const runs = s.push(chunk, carried, index);
          for (const run of runs) assert.equal(runEndOffset(run), flat(run).at(-1)?.endOffset);
          take(runs);
          if (s.holdsView) viewed = buf;
          if (detach && viewed) {
            // The reader stops at end of file: the unfinished line is copied out.
            s.detach();
            viewed.fill(0x3f);
            viewed = undefined;
          }
          prev = cut;
        }
        take(s.flush());
        const view = (ls: Line[]) => ls.map((l) => [l.bytes.toString('latin1'), l.startOffset, l.endOffset, l.truncated, l.partial]);
        assert.deepEqual(view(got), view(expected));
      },
    ),
    { numRuns: 3000 },
  );
});

test('a carried line that was not read after all is kept again (uncarry)', () => {
  const s = new LineSplitter(100);
  s.push(Buffer.from('a\nbc'));
  s.detach();
  const buf = Buffer.alloc(10);
  assert.equal(s.takeCarry(buf), 2);
  assert.equal(s.lineStartOffset, 2, 'the carried line still starts where it did');
  s.uncarry(buf.subarray(0, 2));
  buf.fill(0);
  const [line] = flat(s.push(Buffer.from('d\n')));
  assert.equal(line?.bytes.toString(), 'bcd');
  assert.equal(line?.startOffset, 2);
});

test('property: without truncation, lines joined with newlines give back the input', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
      const input = Buffer.from(bytes).map((b) => (b === 0x0d ? 0x0e : b)); // keep \r out: it is stripped on purpose
      const s = new LineSplitter(1000);
      const out: Buffer[] = [];
      let prev = 0;
      for (const p of [...cuts.map((c) => c % (input.length + 1)).sort((a, b) => a - b), input.length]) {
        for (const l of flat(s.push(Buffer.from(input.subarray(prev, p))))) out.push(l.bytes, Buffer.from('\n'));
        prev = Math.max(prev, p);
      }
      for (const l of flat(s.flush())) out.push(l.bytes);
      assert.deepEqual(Buffer.concat(out), Buffer.from(input));
    }),
    { numRuns: 1000 },
  );
});

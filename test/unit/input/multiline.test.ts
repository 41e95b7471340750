import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MultilineAggregator, type MultilineEvent } from '../../../src/input/multiline.ts';

/** Feeds whole lines (as written, "\n"-terminated) and returns the events, the last one flushed. */
function run(agg: MultilineAggregator, text: string): MultilineEvent[] {
  const events: MultilineEvent[] = [];
  let offset = 0;
  for (const line of text.split('\n').slice(0, -1)) {
    const value = Buffer.from(line);
    const e = agg.push(value, offset, offset + value.length + 1);
    if (e) events.push(e);
    offset += value.length + 1;
  }
  const last = agg.flush();
  if (last) events.push(last);
  return events;
}

const java = {
  start: /^\d{4}-\d{2}-\d{2} /,
  text:
    '2026-12-02 10:00:00 INFO started\n' +
    '2026-12-02 10:00:01 ERROR request failed\n' +
    'java.lang.IllegalStateException: boom\n' +
    '\tat com.example.App.handle(App.java:42)\n' +
    '\tat com.example.App.main(App.java:7)\n' +
    'Caused by: java.io.IOException: disk\n' +
    '\t... 2 more\n' +
    '2026-12-02 10:00:02 INFO recovered\n',
};

test('a Java stack trace is one event with its exception and every frame; offsets cover the file without gaps', () => {
  const events = run(new MultilineAggregator({ start: java.start, maxLines: 500, maxBytes: 100_000 }), java.text);
  assert.deepEqual(
    events.map((e) => e.lines),
    [1, 6, 1],
  );
  assert.match(
    events[1]?.bytes.toString() ?? '',
    /^2026-12-02 10:00:01 ERROR request failed\njava\.lang\.IllegalStateException: boom\n\tat com/,
  );
  assert.ok(events[1]?.bytes.toString().endsWith('\t... 2 more'));
  assert.equal(events[0]?.startOffset, 0);
  for (let i = 1; i < events.length; i++) assert.equal(events[i]?.startOffset, events[i - 1]?.endOffset);
  assert.equal(events.at(-1)?.endOffset, Buffer.byteLength(java.text));
});

test('a Python traceback, with the start pattern on its first line, is one event', () => {
  const text = 'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n    main()\nValueError: bad\nINFO next\n';
  const events = run(new MultilineAggregator({ start: /^(Traceback|INFO|ERROR)/, maxLines: 50, maxBytes: 10_000 }), text);
  assert.deepEqual(
    events.map((e) => e.bytes.toString()),
    ['Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n    main()\nValueError: bad', 'INFO next'],
  );
});

test('past maxLines or maxBytes an event is cut, marked truncated, and its end still covers every line it had', () => {
  const text = 'START a\nb\nc\nd\nSTART e\n';
  const byLines = run(new MultilineAggregator({ start: /^START/, maxLines: 2, maxBytes: 1_000 }), text);
  assert.equal(byLines[0]?.bytes.toString(), 'START a\nb');
  assert.equal(byLines[0]?.truncated, true);
  assert.equal(byLines[0]?.endOffset, 'START a\nb\nc\nd\n'.length);
  const agg = new MultilineAggregator({ start: /^START/, maxLines: 100, maxBytes: 10 });
  const byBytes = run(agg, text);
  assert.equal(byBytes[0]?.bytes.toString(), 'START a\nb', 'whole lines while they fit in 10 bytes');
  assert.equal(byBytes[0]?.truncated, true);
  assert.equal(byBytes[1]?.truncated, false);
});

test('property: events partition the lines in order, every kept byte is a line byte, offsets are contiguous', () => {
  fc.assert(
    fc.property(fc.array(fc.stringMatching(/^[a-zS]{0,8}$/), { maxLength: 40 }), fc.integer({ min: 1, max: 6 }), (lines, maxLines) => {
      const text = lines.map((l) => `${l}\n`).join('');
      const events = run(new MultilineAggregator({ start: /^S/, maxLines, maxBytes: 1_000 }), text);
      assert.equal(
        events.reduce((n, e) => n + e.lines, 0),
        lines.length,
      );
      let offset = 0;
      for (const e of events) {
        assert.equal(e.startOffset, offset);
        offset = e.endOffset;
      }
      assert.equal(offset, Buffer.byteLength(text));
    }),
    { numRuns: 500 },
  );
});

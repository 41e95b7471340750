// Tracks, for one file, which emitted lines Kafka has acknowledged, and
// yields the checkpoint offset: the end of the last line of the contiguous
// run of acknowledged lines from the start. Acks may arrive in any order
// (batches to different partitions complete independently); the committed
// offset only ever moves forward over acknowledged lines.

export class AckTracker {
  /** Sequence number the next issued line gets. */
  private nextSeq = 0;
  /** Sequence number of pending[head]. */
  private headSeq = 0;
  private head = 0;
  private readonly endOffsets: number[] = [];
  private readonly acked: boolean[] = [];
  private committed: number;

  constructor(startOffset: number) {
    this.committed = startOffset;
  }

  /** End offset of the last line of the contiguous acknowledged run. */
  get committedOffset(): number {
    return this.committed;
  }

  /** Lines issued and not yet acknowledged (including ones behind a gap). */
  get pendingCount(): number {
    return this.endOffsets.length - this.head;
  }

  /** Registers a line ending at endOffset; returns the sequence number to ack it with. */
  issue(endOffset: number): number {
    const last = this.endOffsets.length > this.head ? this.endOffsets[this.endOffsets.length - 1] : this.committed;
    if (last !== undefined && endOffset < last) {
      throw new RangeError(`line end ${endOffset} is before the previous line end ${last}`);
    }
    this.endOffsets.push(endOffset);
    this.acked.push(false);
    return this.nextSeq++;
  }

  /** Marks a line acknowledged; returns true when the committed offset moved. */
  ack(seq: number): boolean {
    const index = this.head + (seq - this.headSeq);
    if (seq < this.headSeq || index >= this.acked.length) return false;
    this.acked[index] = true;
    if (index !== this.head) return false;
    while (this.head < this.acked.length && this.acked[this.head]) {
      this.committed = this.endOffsets[this.head] as number;
      this.head++;
      this.headSeq++;
    }
    // Compact now and then so the arrays do not grow with the file.
    if (this.head > 1024 && this.head * 2 > this.acked.length) {
      this.endOffsets.splice(0, this.head);
      this.acked.splice(0, this.head);
      this.head = 0;
    }
    return true;
  }
}

import { closeSync, existsSync, fstatSync, ftruncateSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SequencedEvent } from '../../domain/events.js';
import type { FeedbackRecord, ObjectRef, ResponseRecord, Stored } from '../../domain/types.js';
import { MemoryState, type StateSnapshot } from './memory-state.js';
import { feedbackTouches, imagesOf, type FeedbackQuery, type FeedbackRow, type FeedbackStore } from '../../domain/store.js';

export interface FileStoreOptions {
  dir: string;
  /** Compact (snapshot + empty log) after this many appended events. */
  snapshotEvery?: number;
  /** fsync each appended batch. Not needed for kill -9 (the page cache survives the process);
   *  only for power loss, which the stream covers anyway by replaying from lastSeq. */
  fsync?: boolean;
}

/**
 * Embedded default store: an append-only JSON-lines log of applied events plus in-memory indexes,
 * compacted into `snapshot.json` (write to a temp file, fsync, rename — atomic) every
 * `snapshotEvery` events and after every erasure, so erased data leaves the disk at once.
 * Recovery: load the snapshot, replay log lines with seq > snapshot.lastSeq, cut a torn last line.
 * No native module: installs anywhere Node 20 runs (better-sqlite3 13 segfaults on Node 20,
 * 12.x compiles for 2+ minutes here).
 */
export class FileStore implements FeedbackStore {
  readonly kind = 'file' as const;
  private state = new MemoryState();
  private fd = -1;
  private sinceSnapshot = 0;
  private readonly snapshotEvery: number;
  private readonly logPath: string;
  private readonly snapPath: string;

  private constructor(private readonly opts: FileStoreOptions) {
    this.snapshotEvery = opts.snapshotEvery ?? 50_000;
    this.logPath = join(opts.dir, 'log.jsonl');
    this.snapPath = join(opts.dir, 'snapshot.json');
  }

  static open(opts: FileStoreOptions, now = Date.now()): FileStore {
    const s = new FileStore(opts);
    s.load(now);
    return s;
  }

  private load(now: number): void {
    mkdirSync(this.opts.dir, { recursive: true });
    if (existsSync(this.snapPath)) this.state = MemoryState.fromSnapshot(JSON.parse(readFileSync(this.snapPath, 'utf8')) as StateSnapshot);
    this.fd = openSync(this.logPath, 'a+');
    const buf = readFileSync(this.logPath);
    let pos = 0;
    while (pos < buf.length) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) {
        // A torn tail from a kill mid-write: drop it; those events were never acked and come again.
        ftruncateSync(this.fd, pos);
        break;
      }
      const line = JSON.parse(buf.subarray(pos, nl).toString('utf8')) as { seq: number; e: SequencedEvent['event'] };
      this.state.apply(line.seq, line.e, now);
      this.sinceSnapshot++;
      pos = nl + 1;
    }
  }

  async lastSeq(): Promise<number> {
    return this.state.lastSeq;
  }

  async apply(batch: readonly SequencedEvent[], now: number): Promise<void> {
    let lines = '';
    let erased = false;
    for (const { seq, event, json } of batch) {
      if (seq <= this.state.lastSeq) continue;
      this.state.apply(seq, event, now);
      if (event.type === 'erase') erased = true;
      lines += `{"seq":${seq},"e":${json ?? JSON.stringify(event)}}\n`;
      this.sinceSnapshot++;
    }
    if (lines) {
      writeSync(this.fd, lines);
      if (this.opts.fsync) fsyncSync(this.fd);
    }
    if (erased || this.sinceSnapshot >= this.snapshotEvery) this.compact();
  }

  /** Snapshot the state atomically, then empty the log (its lines are all covered by the snapshot). */
  compact(): void {
    const tmp = this.snapPath + '.tmp';
    writeFileSync(tmp, JSON.stringify(this.state.snapshot()));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.snapPath);
    ftruncateSync(this.fd, 0);
    this.sinceSnapshot = 0;
  }

  async getResponse(tenant: string, responseId: string, now: number): Promise<Stored<ResponseRecord> | undefined> {
    const r = this.state.tenant(tenant)?.responses.get(responseId);
    return r && r.expiresAt > now ? r : undefined;
  }

  async getFeedback(tenant: string, feedbackId: string): Promise<Stored<FeedbackRecord> | undefined> {
    return this.state.tenant(tenant)?.feedback.get(feedbackId);
  }

  async *scanFeedback(q: FeedbackQuery, now: number): AsyncIterable<FeedbackRow> {
    const s = this.state.tenant(q.tenant);
    if (!s) return;
    // Copy the values: the projector may append while a long export is being written.
    const all = [...s.feedback.values()];
    if (q.newestFirst) all.reverse();
    const live = (id: string) => {
      const r = s.responses.get(id);
      return r && r.expiresAt > now ? r : undefined;
    };
    for (const f of all) {
      if (q.beforeSeq !== undefined && f.seq >= q.beforeSeq) continue;
      if (q.from !== undefined && f.createdAt < q.from) continue;
      if (q.to !== undefined && f.createdAt >= q.to) continue;
      if (q.source !== undefined && f.annotator.source !== q.source) continue;
      if (q.responseId !== undefined && !feedbackTouches(f, q.responseId)) continue;
      const response = live(f.responseId);
      if (!response) continue;
      if (f.preference) {
        const chosen = live(f.preference.chosenResponseId);
        const rejected = live(f.preference.rejectedResponseId);
        if (!chosen || !rejected) continue;
        yield { feedback: f, response, chosen, rejected };
      } else yield { feedback: f, response };
    }
  }

  async *scanResponses(tenant: string, now: number): AsyncIterable<Stored<ResponseRecord>> {
    const s = this.state.tenant(tenant);
    if (!s) return;
    for (const r of [...s.responses.values()]) if (r.expiresAt > now) yield r;
  }

  async counts(tenant: string): Promise<{ responses: number; feedback: number }> {
    const s = this.state.tenant(tenant);
    return { responses: s?.responses.size ?? 0, feedback: s?.feedback.size ?? 0 };
  }

  async imageRefs(tenant: string): Promise<ObjectRef[]> {
    const out = new Map<string, ObjectRef>();
    for (const r of this.state.tenant(tenant)?.responses.values() ?? []) for (const i of imagesOf(r)) out.set(`${i.bucket}/${i.key}`, i);
    return [...out.values()];
  }

  async isObjectReferenced(bucket: string, key: string): Promise<boolean> {
    for (const s of this.state.tenants.values()) {
      for (const r of s.responses.values()) if (imagesOf(r).some((i) => i.bucket === bucket && i.key === key)) return true;
    }
    return false;
  }

  async sweepExpired(now: number): Promise<number> {
    const n = this.state.sweepExpired(now);
    if (n > 0) this.compact();
    return n;
  }

  /** Bytes in the log file now (tests check that erasure empties it). */
  logBytes(): number {
    return fstatSync(this.fd).size;
  }

  async close(): Promise<void> {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

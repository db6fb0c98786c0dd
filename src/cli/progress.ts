// Progress on a terminal for long updates: one line, rewritten in place, at most 10 times a second.
// Never on a pipe or with -q (the caller passes no Progress then).
import { formatBytes } from './output.ts';

/** A per-peer progress line writer. */
export class Progress {
  private readonly write: (t: string) => void;
  private readonly peers = new Map<string, { done: number; total: number; bytes: number }>();
  private lastMs = 0;
  private shown = false;

  constructor(write: (t: string) => void) {
    this.write = write;
  }

  /** Records a peer's totals and redraws if 100 ms passed (or the peer just finished). */
  update(p: { peer: string; done: number; total: number; bytes: number }): void {
    this.peers.set(p.peer, p);
    const now = Date.now();
    if (now - this.lastMs < 100 && p.done !== p.total) return;
    this.lastMs = now;
    const parts = [...this.peers].map(([peer, s]) => `${peer} ${s.done}/${s.total} ${formatBytes(s.bytes)}`);
    this.write(`\r\u001b[2Kupdate: ${parts.join(' · ')}`);
    this.shown = true;
  }

  /** Check progress: files hashed and bytes under one root (throttled like update()). */
  check(p: { root: string; files: number; bytes: number }): void {
    const now = Date.now();
    if (now - this.lastMs < 100) return;
    this.lastMs = now;
    this.write(`\r\u001b[2Kcheck: ${p.root}: ${p.files} files hashed, ${formatBytes(p.bytes)}`);
    this.shown = true;
  }

  /** Clears the line before the final report is printed. */
  done(): void {
    if (this.shown) this.write('\r\u001b[2K');
  }
}

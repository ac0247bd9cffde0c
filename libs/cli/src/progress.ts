/**
 * A dependency-free progress bar for long CLI steps. Draws on stderr only when it is a TTY, so
 * piped output (`--json`) stays clean; otherwise prints a line every 10 %.
 */
export class ProgressBar {
  private done = 0;
  private lastDecile = -1;
  private readonly started = Date.now();
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  tick(n = 1): void {
    this.update(this.done + n);
  }

  update(done: number): void {
    this.done = Math.min(done, this.total);
    const frac = this.total > 0 ? this.done / this.total : 1;
    if (this.stream.isTTY) {
      const width = 30;
      const filled = Math.round(frac * width);
      const secs = ((Date.now() - this.started) / 1000).toFixed(1);
      this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${this.done}/${this.total} ${secs}s`);
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        this.stream.write(`${this.label}: ${Math.round(frac * 100)}% (${this.done}/${this.total})\n`);
      }
    }
  }

  finish(): void {
    this.update(this.total);
    if (this.stream.isTTY) this.stream.write('\n');
  }
}

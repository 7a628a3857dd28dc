// Progress for long work: redrawn in place on a TTY, a plain line every few seconds otherwise (logs, CI).
export class Progress {
  private lastPrint = 0;
  private readonly tty = process.stderr.isTTY === true;
  private readonly start = Date.now();

  constructor(private readonly label: string, private readonly total: number, private readonly intervalMs = 3000) {}

  update(done: number, extra = ''): void {
    const now = Date.now();
    const finished = done >= this.total;
    if (!finished && now - this.lastPrint < (this.tty ? 100 : this.intervalMs)) return;
    this.lastPrint = now;
    const seconds = (now - this.start) / 1000;
    const rate = done / Math.max(seconds, 1e-9);
    const eta = done > 0 ? (this.total - done) / rate : NaN;
    const pct = this.total > 0 ? ((100 * done) / this.total).toFixed(1) : '100.0';
    const etaText = Number.isFinite(eta) ? ` eta ${formatSeconds(eta)}` : '';
    const line = `${this.label} ${done}/${this.total} (${pct}%) ${formatSeconds(seconds)}${etaText}${extra ? ' ' + extra : ''}`;
    if (this.tty) process.stderr.write(`\r\x1b[K${line}${finished ? '\n' : ''}`);
    else process.stderr.write(line + '\n');
  }
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s - m * 60).toString().padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${(m % 60).toString().padStart(2, '0')}m`;
}

/**
 * Training progress on stderr: a cli-progress bar on a TTY (epoch, step, loss terms, img/s, ETA), one plain line per
 * epoch otherwise (and per step with --verbose). Never writes to stdout, so --json output stays clean.
 */
import cliProgress from 'cli-progress';
import type { EpochMetrics, StepProgress } from '../train/index.js';
import type { Output } from './common.js';

function fmtTerms(terms: Readonly<Record<string, number>>): string {
  return Object.entries(terms)
    .filter(([k]) => k !== 'loss')
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(' ');
}

/**
 * A throughput rounded to 2 significant digits: 1234 -> '1200', 56.7 -> '57', 0.234 -> '0.23' (a slow run is never
 * shown as '0'); '-' when not a finite positive number (0 stays '0').
 */
export function formatRate(x: number): string {
  if (!Number.isFinite(x) || x < 0) return '-';
  if (x === 0) return '0';
  return String(Number(x.toPrecision(2)));
}

export interface ProgressOptions {
  /** Prefix for every line (e.g. the method name in the demo). */
  readonly label?: string;
  /** Force plain lines even on a TTY. */
  readonly plain?: boolean;
}

export class Progress {
  private readonly out: Output;
  private readonly label: string;
  private readonly tty: boolean;
  private bar: cliProgress.SingleBar | undefined;
  private barEpoch = -1;

  constructor(out: Output, options: ProgressOptions = {}) {
    this.out = out;
    this.label = options.label ? `[${options.label}] ` : '';
    this.tty = process.stderr.isTTY === true && options.plain !== true;
  }

  readonly onStep = (p: StepProgress): void => {
    if (this.tty) {
      if (!this.bar || this.barEpoch !== p.epoch) {
        this.bar?.stop();
        this.bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format:
              `${this.label}epoch {ep}/{eps} {bar} step {value}/{total} | loss {loss} {terms} | {ips} img/s | ETA {eta_formatted}`,
            barsize: 20,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        this.barEpoch = p.epoch;
        this.bar.start(p.stepsPerEpoch, 0, { ep: p.epoch, eps: p.epochs, loss: '-', terms: '', ips: '-' });
      }
      this.bar.update(p.step, { ep: p.epoch, eps: p.epochs, loss: p.loss.toFixed(3), terms: fmtTerms(p.terms), ips: formatRate(p.imgPerSec) });
      return;
    }
    this.out.debug(
      `${this.label}epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.stepsPerEpoch} loss ${p.loss.toFixed(4)} ${fmtTerms(p.terms)} ` +
        `lr ${p.lr.toPrecision(3)} ${formatRate(p.imgPerSec)} img/s`,
    );
  };

  readonly onEpoch = (m: EpochMetrics): void => {
    this.stop();
    const train = Object.entries(m.train)
      .map(([k, v]) => `${k} ${v.toFixed(3)}`)
      .join(' ');
    this.out.log(
      `${this.label}epoch ${m.epoch}: ${train} | test top1 ${(100 * m.test.top1).toFixed(2)}% top5 ${(100 * m.test.top5).toFixed(2)}% ` +
        `ece ${m.test.ece.toFixed(4)} nll ${m.test.nll.toFixed(4)} | lr ${m.lr.toPrecision(3)} | ${formatRate(m.imgPerSec)} img/s | ${m.seconds.toFixed(1)} s`,
    );
  };

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.barEpoch = -1;
  }
}

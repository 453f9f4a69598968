// Progress on stderr: a bar on a terminal, a few plain lines otherwise (CI logs, pipes).
import cliProgress from 'cli-progress';

export interface Progress {
  update(label: string, done: number, total?: number): void;
  stop(): void;
}

export function makeProgress(quiet = false): Progress {
  if (quiet) return { update() {}, stop() {} };
  if (!process.stderr.isTTY) {
    let last = '';
    return {
      update(label, done, total) {
        if (label !== last) {
          last = label;
          process.stderr.write(`${label}…\n`);
        }
        void done;
        void total;
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{label} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let label = '';
  return {
    update(l, done, total) {
      if (!started) {
        bar.start(total ?? done, done, { label: l });
        started = true;
      }
      if (l !== label) {
        label = l;
        bar.setTotal(total ?? done);
      }
      bar.update(done, { label: l });
      if (total) bar.setTotal(total);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

import fs from 'node:fs';

/** Collects small strings and writes them to a file descriptor in ~1 MB pieces: streaming output, few syscalls. */
export class BufferedWriter {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly fd: number) {}
  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.parts.length) {
      fs.writeSync(this.fd, this.parts.join(''));
      this.parts = [];
      this.size = 0;
    }
  }
}

import fs from 'node:fs';

const SIZE = 1 << 20;

/** Copies strings (as UTF-8) and bytes into one 1 MiB buffer and writes it to a file descriptor when full: streaming output, few syscalls. */
export class BufferedWriter {
  private readonly buf = Buffer.allocUnsafe(SIZE);
  private pos = 0;
  constructor(private readonly fd: number) {}
  write(s: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    if (s.length * 3 > SIZE - this.pos) {
      this.flush();
      if (s.length * 3 > SIZE) {
        fs.writeSync(this.fd, s);
        return;
      }
    }
    this.pos += this.buf.write(s, this.pos);
  }
  writeBytes(b: Uint8Array): void {
    if (b.length > SIZE - this.pos) {
      this.flush();
      if (b.length > SIZE) {
        writeAll(this.fd, b);
        return;
      }
    }
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  flush(): void {
    if (this.pos) writeAll(this.fd, this.buf.subarray(0, this.pos));
    this.pos = 0;
  }
}

/** fs.writeSync may write less than asked (a full disk, a pipe): loop until every byte is out. */
export function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
}

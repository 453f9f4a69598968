// Where the backup key comes from: --password, then --key-file, then IOS_TIMELINE_PASSWORD, then a prompt without
// echo (only when stdin is a terminal). The password itself is never written anywhere: not to the case file, the
// custody log (its command line is redacted), warnings or reports.
import type { OpenOptions } from '../backup/backup.js';
import { unlockBackup, type BackupDecryptor, type KeySource } from '../backup/decrypt.js';
import { UsageError } from './errors.js';

export interface PasswordOptions {
  password?: string;
  keyFile?: string;
  quiet?: boolean;
}

export const PASSWORD_ENV = 'IOS_TIMELINE_PASSWORD';

const HOW_TO = `pass --password <pw>, set ${PASSWORD_ENV}, or give --key-file <file> (saved earlier with \`ios-timeline save-key\`)`;

/** Which key source to use, asking on the terminal when nothing was given. Called only for an encrypted backup. */
export async function resolveKeySource(o: PasswordOptions, interactive: boolean): Promise<KeySource> {
  const onDeriving = o.quiet
    ? undefined
    : (s: number) => {
        process.stderr.write(`deriving key (${s < 1 ? 'under 1 s' : `about ${Math.round(s)} s`})…\n`);
      };
  if (o.password !== undefined) return { password: o.password, onDeriving };
  if (o.keyFile !== undefined) return { keyFile: o.keyFile };
  const env = process.env[PASSWORD_ENV];
  if (env) return { password: env, onDeriving };
  if (!interactive || !process.stdin.isTTY) {
    throw new UsageError(`this backup is encrypted and no password was given (stdin is not a terminal, so there is no prompt): ${HOW_TO}`);
  }
  const pw = await promptHidden('Backup password: ');
  if (!pw) throw new UsageError(`no password entered: ${HOW_TO}`);
  return { password: pw, onDeriving };
}

export function openOptionsFrom(o: PasswordOptions, mode: { interactive: boolean; forInfo?: boolean }): OpenOptions {
  const given = o.password !== undefined || o.keyFile !== undefined || !!process.env[PASSWORD_ENV];
  // info never asks: without a key it shows what the plists say and that the backup is encrypted.
  if (mode.forInfo && !given) return { allowLocked: true };
  return { unlock: async (manifestPlist) => unlockBackup(manifestPlist, await resolveKeySource(o, mode.interactive)), keyGiven: given };
}

/** Open options that also hand back the decryptor (for save-key, which needs the class keys). */
export function openOptionsCapturing(o: PasswordOptions, interactive: boolean): { open: OpenOptions; decryptor: () => BackupDecryptor | null } {
  let dec: BackupDecryptor | null = null;
  return {
    open: { unlock: async (manifestPlist) => (dec = await unlockBackup(manifestPlist, await resolveKeySource(o, interactive))) },
    decryptor: () => dec,
  };
}

/** Read a line from the terminal without echoing it (raw mode; backspace edits, Ctrl-C cancels). */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  stdin.setRawMode(true); // before the prompt shows, so nothing typed after it is ever echoed
  stdin.setEncoding('utf8');
  stdin.resume();
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let pw = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(pw);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new UsageError('password prompt cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') {
          pw = [...pw].slice(0, -1).join('');
          continue;
        }
        pw += ch;
      }
    };
    stdin.on('data', onData);
  });
}

// Where the backup password comes from: --password, IOS_TIMELINE_PASSWORD, or a prompt without echo.
// The password itself is never written anywhere.
import type { OpenOptions } from '../backup/backup.js';
import { BackupError } from '../backup/backup.js';

export interface PasswordOptions { password?: string; keyFile?: string }

export function openOptionsFrom(o: PasswordOptions, mode: { interactive: boolean; forInfo?: boolean }): OpenOptions {
  const password = o.password ?? process.env.IOS_TIMELINE_PASSWORD;
  if (mode.forInfo && !password && !o.keyFile) return { allowLocked: true };
  return {
    unlock: async () => {
      throw new BackupError('this backup is encrypted, and encrypted backups are not supported yet');
    },
  };
}

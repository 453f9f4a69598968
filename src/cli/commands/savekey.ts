import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { Backup, BackupError, findBackupRoot } from '../../backup/backup.js';
import { saveKeyFile } from '../../backup/keyFile.js';
import { openOptionsCapturing, type PasswordOptions } from '../password.js';
import { UsageError } from '../errors.js';

export function registerSaveKey(program: Command): void {
  program
    .command('save-key')
    .description('Derive the keys of an encrypted backup once and save them, so later runs can use --key-file instead of the password (and skip the slow derivation).')
    .argument('<backup>', 'backup folder')
    .requiredOption('--out <keyfile>', 'key file to create (mode 0600; anyone holding it can decrypt the backup)')
    .option('--password <pw>', 'backup password (or IOS_TIMELINE_PASSWORD, or a prompt)')
    .option('-q, --quiet', 'no progress output')
    .action(async (dir: string, o: PasswordOptions & { out: string }) => {
      const out = path.resolve(o.out);
      if (fs.existsSync(out)) throw new UsageError(`${out} already exists; choose another name or delete it`);
      if (!fs.existsSync(path.dirname(out))) throw new UsageError(`folder ${path.dirname(out)} does not exist`);
      // Evidence is read-only: never put the key file inside the backup folder (checked before the slow derivation).
      const root = fs.realpathSync(findBackupRoot(path.resolve(dir)));
      const outDir = fs.realpathSync(path.dirname(out));
      if (outDir === root || outDir.startsWith(root + path.sep)) throw new UsageError('the key file must not be written inside the backup folder');
      const { open, decryptor } = openOptionsCapturing({ password: o.password, quiet: o.quiet }, true);
      const backup = await Backup.open(dir, open);
      try {
        const dec = decryptor();
        if (!backup.encrypted || !dec) throw new BackupError('this backup is not encrypted: there is no key to save');
        // Backup.open has already decrypted Manifest.db with these keys, so they are known to be right.
        await saveKeyFile(out, dec.keybag, dec.classKeys);
        process.stdout.write(`Key file ${o.out}: ${dec.classKeys.size} class keys for keybag ${dec.keybag.uuid.toString('hex')} (keep it as safe as the password)\n`);
      } finally {
        backup.close();
      }
    });
}

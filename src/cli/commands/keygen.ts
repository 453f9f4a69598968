// ios-timeline keygen --out DIR: an Ed25519 key pair for signing output manifests (--sign-key) and checking them (--pub-key).
import type { Command } from 'commander';
import { generateKeys, KeyError } from '../../custody/sign.js';
import { UsageError } from '../errors.js';

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('Create an Ed25519 key pair for signing report/export manifests (private key mode 0600).')
    .requiredOption('--out <dir>', 'folder for ios-timeline-signing.key and ios-timeline-signing.pub')
    .action((o: { out: string }) => {
      try {
        const k = generateKeys(o.out);
        process.stdout.write(
          `Private key: ${k.privateKeyPath} (keep it secret; use with --sign-key)\nPublic key:  ${k.publicKeyPath} (share it; use with verify --pub-key)\nFingerprint: sha256:${k.fingerprint}\n`,
        );
      } catch (e) {
        if (e instanceof KeyError) throw new UsageError(e.message);
        throw e;
      }
    });
}

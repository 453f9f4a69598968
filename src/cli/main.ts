// ios-timeline command line. Exit codes: 0 ok, 1 evidence problem or verify mismatch, 2 usage error.
import { Command, CommanderError } from 'commander';
import { Settings } from 'luxon';
import { TOOL_VERSION } from '../version.js';
import { setCommandLine } from '../timeline/custodyLog.js';
import { UsageError, EXIT_EVIDENCE, EXIT_USAGE } from './errors.js';
import { registerInfo } from './commands/info.js';
import { registerIngest } from './commands/ingest.js';
import { registerExport } from './commands/export.js';
import { registerExtract } from './commands/extract.js';
import { registerDemo } from './commands/demo.js';
import { registerSaveKey } from './commands/savekey.js';
import { registerReport } from './commands/report.js';
import { registerVerify } from './commands/verify.js';
import { registerKeygen } from './commands/keygen.js';
import { registerTags } from './commands/tags.js';
import { RefusedError } from '../workdir.js';
import { onCustodyAppended } from '../timeline/caseFile.js';

// Never let the machine's zone leak into a time: every conversion names its zone explicitly.
Settings.defaultZone = 'utc';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('ios-timeline')
    .description('Turn an iPhone iTunes/Finder backup into a forensic timeline and a case report.')
    .version(TOOL_VERSION)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  registerInfo(program);
  registerIngest(program);
  registerExport(program);
  registerExtract(program);
  registerDemo(program);
  registerSaveKey(program);
  registerReport(program);
  registerVerify(program);
  registerKeygen(program);
  registerTags(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv = process.argv): Promise<number> {
  setCommandLine(argv.slice(2));
  if (argv.length <= 2) {
    // No command: the help, on stderr (nothing was done), and a usage exit.
    process.stderr.write(buildProgram().helpInformation());
    return EXIT_USAGE;
  }
  // Every command that appends to a custody log says where its chain now ends: the examiner can note it down.
  onCustodyAppended((casePath, row) => {
    process.stderr.write(`custody head of ${casePath}: row ${row.seq}, ${row.hash}\n`);
  });
  try {
    await buildProgram().parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return EXIT_USAGE; // commander already printed the message
    }
    if (e instanceof UsageError || e instanceof RefusedError) {
      process.stderr.write(`ios-timeline: ${e.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`ios-timeline: ${(e as Error).message}\n`);
    if (process.env.IOS_TIMELINE_DEBUG) console.error(e);
    return EXIT_EVIDENCE;
  }
}

// bin entry: run the CLI with the process arguments. Nothing else.
import { runCli } from './cli/main.ts';

await runCli(process.argv);

// What every lab agent script shares: its arguments ("JOB --key value ..."),
// one JSON line per result, and running the job named on the command line.

/** An agent's options, as strings. */
export type Args = Record<string, string>;

/** A job of an agent: reads its options, prints its result with printResult. */
export type Job = (args: Args) => Promise<void>;

/** Print one result line (the harness reads the last JSON line). */
export function printResult(result: object): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Run the job named by argv[0] of `argv`; a failure prints {error, code} and sets exit code 1. */
export function runAgent(jobs: Record<string, Job>, argv: string[]): void {
  const [job, ...rest] = argv;
  const args: Args = {};
  for (let i = 0; i < rest.length; i += 2) args[rest[i].replace(/^--/, '')] = rest[i + 1];
  const run = jobs[job];
  if (run === undefined) {
    console.error(`unknown job ${job} (jobs: ${Object.keys(jobs).join(', ')})`);
    process.exit(2);
  }
  run(args).catch((error: Error & { code?: string }) => {
    printResult({ error: error.message, code: error.code });
    process.exitCode = 1;
  });
}

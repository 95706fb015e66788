// A small, strict command-line parser: every option is declared, unknown
// ones and bad values are one-line errors that name the option.

export type OptionKind = 'string' | 'integer' | 'number' | 'boolean';

export interface OptionSpec {
  kind: OptionKind;
  /** Shown in --help. */
  help: string;
  /** Default value (shown in --help). */
  default?: string | number | boolean;
  /** Allowed values for string options. */
  choices?: readonly string[];
  /** Inclusive bounds for numeric options. */
  min?: number;
  max?: number;
  /** Placeholder shown in --help, e.g. "IP/PREFIX". */
  meta?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;
export type ParsedOptions = Record<string, string | number | boolean | undefined>;

/** A usage error: the CLI prints its message alone and exits with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parse `argv` against `specs`; returns options and positional arguments. */
export function parseArgs(argv: string[], specs: OptionSpecs): { options: ParsedOptions; positionals: string[] } {
  const options: ParsedOptions = {};
  const positionals: string[] = [];
  for (const [name, spec] of Object.entries(specs)) if (spec.default !== undefined) options[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--') || arg === '--') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = specs[name];
    if (spec === undefined) throw new UsageError(`unknown option --${name} (see --help)`);
    if (spec.kind === 'boolean') {
      if (eq >= 0) {
        const text = arg.slice(eq + 1);
        if (text !== 'true' && text !== 'false') throw new UsageError(`--${name} takes no value (or =true/=false), got "${text}"`);
        options[name] = text === 'true';
      } else {
        options[name] = true;
      }
      continue;
    }
    let text: string;
    if (eq >= 0) text = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value${spec.meta ? ` (${spec.meta})` : ''}`);
      text = argv[++i];
    }
    options[name] = convert(name, spec, text);
  }
  return { options, positionals };
}

function convert(name: string, spec: OptionSpec, text: string): string | number {
  if (spec.kind === 'string') {
    if (spec.choices && !spec.choices.includes(text)) throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}, got "${text}"`);
    return text;
  }
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || (spec.kind === 'integer' && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be ${spec.kind === 'integer' ? 'an integer' : 'a number'}, got "${text}"`);
  }
  if (spec.min !== undefined && value < spec.min) throw new UsageError(`--${name} must be at least ${spec.min}, got ${value}`);
  if (spec.max !== undefined && value > spec.max) throw new UsageError(`--${name} must be at most ${spec.max}, got ${value}`);
  return value;
}

/** The options part of a --help text. */
export function formatOptions(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const left = `  --${name}${spec.kind === 'boolean' ? '' : ` ${spec.meta ?? spec.kind.toUpperCase()}`}`;
    const choices = spec.choices ? ` (${spec.choices.join('|')})` : '';
    const fallback = spec.default !== undefined && spec.default !== false ? ` [default: ${spec.default}]` : '';
    return [left, `${spec.help}${choices}${fallback}`] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => left.padEnd(width) + right).join('\n');
}

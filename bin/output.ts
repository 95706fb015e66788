// Live figures on the terminal: one rewritten line on a TTY, one line (or
// one JSON object) per second otherwise.

import { formatOptions, type OptionSpecs } from './args';

/** "1.23 M", "45.6 k", "789 " — for rates followed by a unit. */
export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k`;
  return `${perSecond.toFixed(0)} `;
}

/** A command's --help text. */
export function helpText(command: string, synopsis: string, specs: OptionSpecs, more = ''): string {
  return `Usage: nicring ${command} ${synopsis}\n${more ? `\n${more}\n` : ''}\nOptions:\n${formatOptions(specs)}`;
}

/** Prints live figures. */
export class LiveLine {
  private lastLength = 0;
  constructor(private readonly json: boolean) {}

  show(text: string, fields: object): void {
    if (this.json) console.log(JSON.stringify(fields));
    else if (process.stdout.isTTY) {
      process.stdout.write(`\r${text.padEnd(this.lastLength)}`);
      this.lastLength = text.length;
    } else console.log(text);
  }

  end(): void {
    if (!this.json && process.stdout.isTTY && this.lastLength > 0) process.stdout.write('\n');
    this.lastLength = 0;
  }
}

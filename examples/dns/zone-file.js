// @ts-check
// Zone master files (RFC 1035 5.1, $TTL from RFC 2308 4): $ORIGIN, $TTL,
// records of type SOA, NS, A, AAAA, CNAME, MX and TXT in class IN, comments,
// parentheses over several lines, quoted strings, \X and \DDD escapes, names
// relative to the origin, `@` for the origin, and a blank owner for the
// previous record's owner. TTLs take BIND's units too (1h30m, 2d, 1w).
//
// Off the packet path: this runs once at start and may allocate freely. Every
// error names the file and line.
'use strict';

const { MAX_LABEL_LEN, MAX_NAME_LEN, type: TYPE } = require('./constants');

/** A domain name as its labels, leftmost first (raw bytes: escapes decoded, case kept); [] is the root. */
/** @typedef {Buffer[]} Labels */

/**
 * @typedef {{ kind: 'address', address: Buffer }
 *   | { kind: 'name', target: Labels }
 *   | { kind: 'mx', preference: number, exchange: Labels }
 *   | { kind: 'soa', mname: Labels, rname: Labels, serial: number, refresh: number, retry: number, expire: number, minimum: number }
 *   | { kind: 'txt', strings: Buffer[] }} RecordData
 */

/** @typedef {{ owner: Labels, ttl: number, type: number, line: number, data: RecordData }} ZoneRecord */

/** A zone file that does not parse: the message names the file and line. */
class ZoneError extends Error {
  /** @param {string} file @param {number} line @param {string} message */
  constructor(file, line, message) {
    super(`${file}:${line}: ${message}`);
    this.name = 'ZoneError';
    this.file = file;
    this.line = line;
  }
}

/** @typedef {{ text: string, quoted: boolean }} Token */
/** @typedef {{ line: number, blankOwner: boolean, tokens: Token[] }} Entry */

const TYPE_NAMES = /** @type {Record<string, number>} */ ({ A: TYPE.A, NS: TYPE.NS, CNAME: TYPE.CNAME, SOA: TYPE.SOA, MX: TYPE.MX, TXT: TYPE.TXT, AAAA: TYPE.AAAA });
const OTHER_CLASSES = new Set(['CH', 'CS', 'HS', 'ANY', 'NONE']);
const TTL_UNITS = /** @type {Record<string, number>} */ ({ s: 1, m: 60, h: 3600, d: 86400, w: 604800 });
const MAX_TTL = 0x7fffffff;

/**
 * Split a master file into entries (one per logical line: parentheses join
 * lines), each a list of tokens with escapes still in place.
 * @param {string} text the file, one character per byte (latin1)
 * @param {string} file
 * @returns {Entry[]}
 */
function tokenize(text, file) {
  /** @type {Entry[]} */
  const entries = [];
  let line = 1;
  let depth = 0;
  let openLine = 0;
  /** @type {Entry | null} */
  let entry = null;
  let atLineStart = true;
  let i = 0;
  const push = (/** @type {Token} */ token) => {
    if (entry === null) {
      entry = { line, blankOwner: false, tokens: [] };
      entries.push(entry);
    }
    entry.tokens.push(token);
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
      if (depth === 0) entry = null;
      atLineStart = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      if (atLineStart && depth === 0 && entry === null) {
        // Leading space: the entry's owner is the previous one (marked when its first token comes).
        let j = i;
        while (j < text.length && (text[j] === ' ' || text[j] === '\t' || text[j] === '\r')) j++;
        if (j < text.length && text[j] !== '\n' && text[j] !== ';') {
          entry = { line, blankOwner: true, tokens: [] };
          entries.push(entry);
        }
        i = j;
        atLineStart = false;
        continue;
      }
      i++;
      atLineStart = false;
      continue;
    }
    atLineStart = false;
    if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '(') {
      if (depth === 0) openLine = line;
      depth++;
      i++;
      continue;
    }
    if (c === ')') {
      if (depth === 0) throw new ZoneError(file, line, '")" without "("');
      depth--;
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let value = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\n') line++;
        if (text[j] === '\\' && j + 1 < text.length) {
          value += text[j] + text[j + 1];
          j += 2;
          continue;
        }
        value += text[j++];
      }
      if (j >= text.length) throw new ZoneError(file, line, 'a quoted string is not closed');
      push({ text: value, quoted: true });
      i = j + 1;
      continue;
    }
    let j = i;
    let value = '';
    while (j < text.length && !' \t\r\n;()"'.includes(text[j])) {
      if (text[j] === '\\' && j + 1 < text.length && text[j + 1] !== '\n') {
        value += text[j] + text[j + 1];
        j += 2;
        continue;
      }
      value += text[j++];
    }
    push({ text: value, quoted: false });
    i = j;
  }
  if (depth > 0) throw new ZoneError(file, openLine, '"(" is not closed');
  return entries;
}

/**
 * Decode the escapes of a character-string or label (\X is X, \DDD the byte DDD).
 * @param {string} text @param {() => never} fail
 * @returns {number[]}
 */
function decodeEscapes(text, fail) {
  /** @type {number[]} */
  const bytes = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '\\') {
      bytes.push(text.charCodeAt(i) & 0xff);
      continue;
    }
    if (/^[0-9]{3}$/.test(text.slice(i + 1, i + 4))) {
      const value = Number(text.slice(i + 1, i + 4));
      if (value > 255) fail();
      bytes.push(value);
      i += 3;
    } else if (i + 1 < text.length) {
      bytes.push(text.charCodeAt(++i) & 0xff);
    } else fail();
  }
  return bytes;
}

/**
 * A name in master-file text: absolute when it ends in an unescaped dot,
 * else relative to `origin`; `@` is the origin.
 * @param {string} text @param {Labels | null} origin @param {(message: string) => never} fail
 * @returns {Labels}
 */
function parseName(text, origin, fail) {
  if (text === '@') {
    if (origin === null) fail('@ used before $ORIGIN');
    return /** @type {Labels} */ (origin);
  }
  if (text === '.') return [];
  /** @type {Labels} */
  const labels = [];
  let current = '';
  let absolute = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      current += text.slice(i, i + 2);
      if (/^[0-9]$/.test(text[i + 1] ?? '')) {
        current += text.slice(i + 2, i + 4);
        i += 2;
      }
      i++;
      continue;
    }
    if (c === '.') {
      if (current === '') fail(`empty label in name "${text}"`);
      labels.push(Buffer.from(decodeEscapes(current, () => fail(`bad escape in name "${text}"`))));
      current = '';
      if (i === text.length - 1) absolute = true;
      continue;
    }
    current += c;
  }
  if (current !== '') labels.push(Buffer.from(decodeEscapes(current, () => fail(`bad escape in name "${text}"`))));
  if (!absolute) {
    if (origin === null) fail(`relative name "${text}" before $ORIGIN`);
    labels.push(.../** @type {Labels} */ (origin));
  }
  let wireLength = 1;
  for (const label of labels) {
    if (label.length > MAX_LABEL_LEN) fail(`label longer than ${MAX_LABEL_LEN} bytes in "${text}"`);
    wireLength += 1 + label.length;
  }
  if (wireLength > MAX_NAME_LEN) fail(`name longer than ${MAX_NAME_LEN} bytes: "${text}"`);
  return labels;
}

/**
 * A TTL: seconds, or BIND's units (1h30m).
 * @param {string} text
 * @returns {number | null}
 */
function parseTtl(text) {
  let seconds;
  if (/^[0-9]+$/.test(text)) seconds = Number(text);
  else if (/^([0-9]+[smhdwSMHDW])+$/.test(text)) {
    seconds = 0;
    for (const [, count, unit] of text.matchAll(/([0-9]+)([a-zA-Z])/g)) seconds += Number(count) * TTL_UNITS[unit.toLowerCase()];
  } else return null;
  return seconds <= MAX_TTL ? seconds : null;
}

/** @param {string} text @returns {Buffer | null} */
function parseIpv4(text) {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((part) => !/^[0-9]{1,3}$/.test(part) || Number(part) > 255)) return null;
  return Buffer.from(parts.map(Number));
}

/** @param {string} text @returns {Buffer | null} */
function parseIpv6(text) {
  let tail = /** @type {number[]} */ ([]);
  let head = text;
  const v4 = /^(.*:)([0-9.]+)$/.exec(text);
  if (v4 !== null && v4[2].includes('.')) {
    const address = parseIpv4(v4[2]);
    if (address === null) return null;
    tail = [address.readUInt16BE(0), address.readUInt16BE(2)];
    head = v4[1].endsWith('::') ? v4[1] : v4[1].slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const group = (/** @type {string} */ part) => (part === '' ? [] : part.split(':'));
  const left = group(halves[0]);
  const right = halves.length === 2 ? group(halves[1]) : [];
  const hex = [...left, ...right];
  if (hex.some((part) => !/^[0-9a-fA-F]{1,4}$/.test(part))) return null;
  const total = hex.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const words = [...left.map((part) => parseInt(part, 16)), ...new Array(8 - total).fill(0), ...right.map((part) => parseInt(part, 16)), ...tail];
  const bytes = Buffer.alloc(16);
  words.forEach((word, index) => bytes.writeUInt16BE(word, index * 2));
  return bytes;
}

/**
 * Parse a zone master file.
 * @param {string | Buffer} source the file's contents
 * @param {{ file?: string, origin?: string }} [options] file: for messages; origin: the $ORIGIN before the file sets one
 * @returns {{ apex: Labels, records: ZoneRecord[] }} the zone's apex (its SOA's owner) and its records, in file order
 */
function parseZone(source, options = {}) {
  const file = options.file ?? 'zone';
  const text = typeof source === 'string' ? source : source.toString('latin1');
  /** @type {Labels | null} */
  let origin = null;
  /** @type {number | null} */
  let defaultTtl = null;
  /** @type {number | null} */
  let lastTtl = null;
  /** @type {Labels | null} */
  let lastOwner = null;
  /** @type {ZoneRecord[]} */
  const records = [];
  if (options.origin !== undefined) {
    origin = parseName(options.origin.endsWith('.') ? options.origin : `${options.origin}.`, null, (message) => { throw new ZoneError(file, 0, message); });
  }

  for (const entry of tokenize(text, file)) {
    /** @type {(message: string) => never} */
    const fail = (message) => { throw new ZoneError(file, entry.line, message); };
    const tokens = entry.tokens;
    const first = tokens[0].text;
    if (!entry.blankOwner && !tokens[0].quoted && first.startsWith('$')) {
      const directive = first.toUpperCase();
      if (directive === '$ORIGIN') {
        if (tokens.length !== 2) fail('$ORIGIN takes one name');
        origin = parseName(tokens[1].text, origin, fail);
      } else if (directive === '$TTL') {
        if (tokens.length !== 2) fail('$TTL takes one TTL');
        defaultTtl = parseTtl(tokens[1].text);
        if (defaultTtl === null) fail(`bad TTL "${tokens[1].text}"`);
      } else fail(`${first} is not supported ($ORIGIN and $TTL are)`);
      continue;
    }
    let at = 0;
    /** @type {Labels} */
    let owner;
    if (entry.blankOwner) {
      if (lastOwner === null) fail('a record with no owner comes first');
      owner = /** @type {Labels} */ (lastOwner);
    } else {
      owner = parseName(tokens[at++].text, origin, fail);
    }
    /** @type {number | null} */
    let ttl = null;
    let typeCode = 0;
    while (at < tokens.length) {
      const word = tokens[at++].text;
      const upper = word.toUpperCase();
      if (ttl === null && parseTtl(word) !== null) ttl = parseTtl(word);
      else if (upper === 'IN') continue;
      else if (OTHER_CLASSES.has(upper)) fail(`class ${upper} is not supported (only IN)`);
      else if (TYPE_NAMES[upper] !== undefined) {
        typeCode = TYPE_NAMES[upper];
        break;
      } else fail(`type ${word} is not supported (SOA, NS, A, AAAA, CNAME, MX, TXT are)`);
    }
    if (typeCode === 0) fail('a record needs a type');
    const rdata = tokens.slice(at);
    const data = parseRdata(typeCode, rdata, origin, fail);
    if (ttl === null) ttl = defaultTtl ?? lastTtl;
    if (ttl === null) {
      if (data.kind === 'soa') ttl = data.minimum;
      else fail('no TTL: give one, or set $TTL');
    }
    lastTtl = ttl;
    lastOwner = owner;
    records.push({ owner, ttl: /** @type {number} */ (ttl), type: typeCode, line: entry.line, data });
  }
  const soas = records.filter((record) => record.type === TYPE.SOA);
  if (soas.length !== 1) throw new ZoneError(file, soas[1]?.line ?? 0, soas.length === 0 ? 'the zone has no SOA record' : 'the zone has more than one SOA record');
  return { apex: soas[0].owner, records };
}

/**
 * @param {number} typeCode @param {Token[]} tokens @param {Labels | null} origin @param {(message: string) => never} fail
 * @returns {RecordData}
 */
function parseRdata(typeCode, tokens, origin, fail) {
  const want = (/** @type {number} */ count, /** @type {string} */ what) => {
    if (tokens.length !== count) fail(`${what} takes ${count === 1 ? 'one field' : `${count} fields`}, got ${tokens.length}`);
  };
  const u32 = (/** @type {Token} */ token, /** @type {string} */ what) => {
    const value = parseTtl(token.text) ?? (/^[0-9]+$/.test(token.text) && Number(token.text) <= 0xffffffff ? Number(token.text) : null);
    if (value === null) fail(`bad ${what} "${token.text}"`);
    return /** @type {number} */ (value);
  };
  switch (typeCode) {
    case TYPE.A: {
      want(1, 'A');
      const address = parseIpv4(tokens[0].text);
      if (address === null) fail(`bad IPv4 address "${tokens[0].text}"`);
      return { kind: 'address', address: /** @type {Buffer} */ (address) };
    }
    case TYPE.AAAA: {
      want(1, 'AAAA');
      const address = parseIpv6(tokens[0].text);
      if (address === null) fail(`bad IPv6 address "${tokens[0].text}"`);
      return { kind: 'address', address: /** @type {Buffer} */ (address) };
    }
    case TYPE.NS:
    case TYPE.CNAME:
      want(1, typeCode === TYPE.NS ? 'NS' : 'CNAME');
      return { kind: 'name', target: parseName(tokens[0].text, origin, fail) };
    case TYPE.MX: {
      want(2, 'MX');
      const preference = Number(tokens[0].text);
      if (!/^[0-9]+$/.test(tokens[0].text) || preference > 0xffff) fail(`bad MX preference "${tokens[0].text}"`);
      return { kind: 'mx', preference, exchange: parseName(tokens[1].text, origin, fail) };
    }
    case TYPE.SOA:
      want(7, 'SOA');
      return {
        kind: 'soa', mname: parseName(tokens[0].text, origin, fail), rname: parseName(tokens[1].text, origin, fail),
        serial: u32(tokens[2], 'serial'), refresh: u32(tokens[3], 'refresh'), retry: u32(tokens[4], 'retry'),
        expire: u32(tokens[5], 'expire'), minimum: u32(tokens[6], 'minimum'),
      };
    default: {
      if (tokens.length === 0) fail('TXT needs at least one string');
      const strings = tokens.map((token) => {
        const bytes = decodeEscapes(token.text, () => fail(`bad escape in "${token.text}"`));
        if (bytes.length > 255) fail('a TXT string is longer than 255 bytes');
        return Buffer.from(bytes);
      });
      return { kind: 'txt', strings };
    }
  }
}

/** A name as text (for messages and tests): labels joined by dots, with a final dot. */
function nameText(/** @type {Labels} */ labels) {
  return labels.length === 0 ? '.' : `${labels.map((label) => label.toString('latin1').replace(/[.\\]/g, '\\$&')).join('.')}.`;
}

module.exports = { parseZone, ZoneError, nameText, parseIpv6 };

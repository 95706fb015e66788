// @ts-check
// The zones in memory, laid out for lookups that allocate nothing.
//
// Names form a tree of nodes (the root is node 0); a node is found from its
// parent and one label through an open-addressing hash table, so a query
// name is looked up label by label, right to left, straight from the bytes
// of the received packet (compared without regard to ASCII case). Each node
// has its RRsets; each RR is stored ready for the wire: raw bytes, and the
// node ids of the names in its RDATA (NS, CNAME, MX, SOA), which the writer
// compresses against what the message already holds. Everything lives in
// typed arrays built once at start.
'use strict';

const { type: TYPE, MAX_LABEL_LEN } = require('./constants');
const { nameText } = require('./zone-file');

/** @typedef {import('./zone-file').Labels} Labels */
/** @typedef {import('./zone-file').ZoneRecord} ZoneRecord */
/** @typedef {{ apex: Labels, records: ZoneRecord[], file?: string }} ParsedZone */

/** Node flags. */
const NODE_EXISTS = 1;
const NODE_APEX = 2;

/** ASCII upper case to lower case, every other byte as it is (RFC 4343). */
const LOWER = new Uint8Array(256);
for (let i = 0; i < 256; i++) LOWER[i] = i >= 0x41 && i <= 0x5a ? i + 0x20 : i;

/**
 * The hash of (parent node, label) that places a node in the table.
 * @param {number} parent @param {Uint8Array} bytes @param {number} at @param {number} length
 */
function labelHash(parent, bytes, at, length) {
  let h = Math.imul(parent + 1, 0x9e3779b1) ^ length;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ LOWER[bytes[at + i]], 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** A zone file whose content breaks a rule of RFC 1034/2181 (CNAME and other data, no NS at the apex, ...). */
class ZoneDataError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ZoneDataError';
  }
}

/** Every zone served, in typed arrays. */
class ZoneStore {
  /** @param {ParsedZone[]} zones */
  constructor(zones) {
    const builder = new StoreBuilder();
    for (const zone of zones) builder.addZone(zone);
    const built = builder.finish();
    /** Nodes. */
    this.nodeCount = built.nodeCount;
    this.parent = built.parent;
    this.flags = built.flags;
    this.zoneApex = built.zoneApex;
    this.labelStart = built.labelStart;
    this.labelLength = built.labelLength;
    this.labelLower = built.labelLower;
    this.labelOriginal = built.labelOriginal;
    this.setStart = built.setStart;
    this.setCount = built.setCount;
    /** The SOA RRset of an apex node, and the TTL of that SOA in negative answers (RFC 2308 5). */
    this.apexSoaSet = built.apexSoaSet;
    this.apexNegativeTtl = built.apexNegativeTtl;
    /** RRsets. */
    this.setType = built.setType;
    this.setTtl = built.setTtl;
    this.setFirst = built.setFirst;
    this.setSize = built.setSize;
    /** RRs. */
    this.rrRawStart = built.rrRawStart;
    this.rrPreLength = built.rrPreLength;
    this.rrNameA = built.rrNameA;
    this.rrNameB = built.rrNameB;
    this.rrPostLength = built.rrPostLength;
    this.raw = built.raw;
    /** The hash table: node id + 1 per slot, 0 for empty. */
    this.slots = built.slots;
    this.slotMask = built.slots.length - 1;
    /** The zones' apexes as text, and how many records each holds. */
    this.zones = built.zones;
  }

  /**
   * The child of `parent` whose label is `length` bytes of `bytes` at `at`
   * (any ASCII case), or -1. Allocates nothing.
   * @param {number} parent @param {Uint8Array} bytes @param {number} at @param {number} length
   */
  findChild(parent, bytes, at, length) {
    const slots = this.slots;
    const mask = this.slotMask;
    const labelLength = this.labelLength;
    const labelStart = this.labelStart;
    const lower = this.labelLower;
    const parents = this.parent;
    for (let index = labelHash(parent, bytes, at, length) & mask; ; index = (index + 1) & mask) {
      const entry = slots[index];
      if (entry === 0) return -1;
      const node = entry - 1;
      if (parents[node] !== parent || labelLength[node] !== length) continue;
      const start = labelStart[node];
      let i = 0;
      while (i < length && lower[start + i] === LOWER[bytes[at + i]]) i++;
      if (i === length) return node;
    }
  }

  /** The RRset of `type` at `node`, or -1. @param {number} node @param {number} type */
  findSet(node, type) {
    const end = this.setStart[node] + this.setCount[node];
    for (let set = this.setStart[node]; set < end; set++) if (this.setType[set] === type) return set;
    return -1;
  }

  /** The node of a name given as text (for tests and tools; allocates), or -1. @param {string} text */
  nodeOf(text) {
    const labels = text === '.' ? [] : text.replace(/\.$/, '').split('.');
    let node = 0;
    for (let i = labels.length - 1; i >= 0 && node >= 0; i--) {
      const bytes = Buffer.from(labels[i], 'latin1');
      node = this.findChild(node, bytes, 0, bytes.length);
    }
    return node;
  }
}

/** Collects zones in plain arrays, checks them, then packs them. */
class StoreBuilder {
  constructor() {
    /** @type {{ parent: number, label: Buffer, lower: string, flags: number, sets: Map<number, { ttl: number, records: ZoneRecord[], keys: Set<string>, zone: number }> }[]} */
    this.nodes = [{ parent: -1, label: Buffer.alloc(0), lower: '', flags: NODE_EXISTS, sets: new Map() }];
    /** @type {Map<string, number>} */
    this.index = new Map();
    /** @type {{ apex: number, file: string, records: number }[]} */
    this.zoneList = [];
  }

  /** The node of `labels`, made (with its ancestors) when missing. @param {Labels} labels */
  intern(labels) {
    let node = 0;
    for (let i = labels.length - 1; i >= 0; i--) {
      const lower = Buffer.from(labels[i].map((byte) => LOWER[byte])).toString('latin1');
      const key = `${node}/${lower}`;
      let child = this.index.get(key);
      if (child === undefined) {
        child = this.nodes.length;
        this.nodes.push({ parent: node, label: labels[i], lower, flags: 0, sets: new Map() });
        this.index.set(key, child);
      }
      node = child;
    }
    return node;
  }

  /** @param {number} node @param {number} ancestor */
  isAtOrBelow(node, ancestor) {
    for (let n = node; n >= 0; n = this.nodes[n].parent) if (n === ancestor) return true;
    return false;
  }

  /** @param {ParsedZone} zone */
  addZone(zone) {
    const file = zone.file ?? nameText(zone.apex);
    const apex = this.intern(zone.apex);
    if ((this.nodes[apex].flags & NODE_APEX) !== 0) throw new ZoneDataError(`${file}: zone ${nameText(zone.apex)} is loaded twice`);
    this.nodes[apex].flags |= NODE_APEX;
    const zoneIndex = this.zoneList.length;
    this.zoneList.push({ apex, file, records: 0 });
    for (const record of zone.records) {
      const at = `${file}:${record.line}`;
      const owner = this.intern(record.owner);
      if (!this.isAtOrBelow(owner, apex)) throw new ZoneDataError(`${at}: ${nameText(record.owner)} is outside the zone ${nameText(zone.apex)}`);
      const sets = this.nodes[owner].sets;
      let set = sets.get(record.type);
      if (set === undefined) {
        set = { ttl: record.ttl, records: [], keys: new Set(), zone: zoneIndex };
        sets.set(record.type, set);
      }
      // RFC 2181 5: an RRset holds no duplicates; RFC 2181 5.2: one TTL for the set (the lowest given).
      const key = recordKey(record.data);
      if (set.keys.has(key)) continue;
      set.keys.add(key);
      set.records.push(record);
      set.ttl = Math.min(set.ttl, record.ttl);
      this.zoneList[zoneIndex].records++;
      if (record.data.kind === 'name') this.intern(record.data.target);
      if (record.data.kind === 'mx') this.intern(record.data.exchange);
      if (record.data.kind === 'soa') {
        this.intern(record.data.mname);
        this.intern(record.data.rname);
      }
    }
    const apexSets = this.nodes[apex].sets;
    if (!apexSets.has(TYPE.SOA)) throw new ZoneDataError(`${file}: the SOA record must be at the apex ${nameText(zone.apex)}`);
    if (!apexSets.has(TYPE.NS)) throw new ZoneDataError(`${file}: the zone has no NS records at its apex ${nameText(zone.apex)}`);
  }

  finish() {
    const nodes = this.nodes;
    const count = nodes.length;
    // The zone a node belongs to: its nearest apex (a child zone we serve takes its names from the parent).
    const zoneApex = new Int32Array(count).fill(-1);
    for (let n = 0; n < count; n++) {
      for (let a = n; a >= 0; a = nodes[a].parent) {
        if ((nodes[a].flags & NODE_APEX) !== 0) {
          zoneApex[n] = a;
          break;
        }
      }
    }
    for (let n = 0; n < count; n++) {
      const node = nodes[n];
      for (const [type, set] of node.sets) {
        // The parent zone's data at or below a child zone we also serve (its delegation and glue) gives way to the child's.
        if (this.zoneList[set.zone].apex !== zoneApex[n]) {
          node.sets.delete(type);
          continue;
        }
        if (type === TYPE.CNAME && set.records.length > 1) throw new ZoneDataError(`${this.zoneList[set.zone].file}:${set.records[1].line}: more than one CNAME at ${nameText(set.records[0].owner)}`);
      }
      if (node.sets.has(TYPE.CNAME) && node.sets.size > 1) {
        const cname = /** @type {{ records: ZoneRecord[], zone: number }} */ (node.sets.get(TYPE.CNAME));
        throw new ZoneDataError(`${this.zoneList[cname.zone].file}:${cname.records[0].line}: a CNAME at ${nameText(cname.records[0].owner)} cannot have other data beside it (RFC 1034 3.6.2)`);
      }
      // A name exists when it owns data or has a descendant that does (RFC 8020: empty non-terminals exist).
      if (node.sets.size > 0) for (let a = n; a >= 0 && (nodes[a].flags & NODE_EXISTS) === 0; a = nodes[a].parent) nodes[a].flags |= NODE_EXISTS;
    }

    const labelStart = new Int32Array(count);
    const labelLength = new Uint8Array(count);
    const parent = new Int32Array(count);
    const flags = new Uint8Array(count);
    let labelBytes = 0;
    for (const node of nodes) labelBytes += node.label.length;
    const labelLower = new Uint8Array(labelBytes);
    const labelOriginal = new Uint8Array(labelBytes);
    const setStart = new Int32Array(count);
    const setCount = new Int32Array(count);
    const apexSoaSet = new Int32Array(count).fill(-1);
    const apexNegativeTtl = new Uint32Array(count);
    let setTotal = 0;
    let rrTotal = 0;
    for (const node of nodes) for (const set of node.sets.values()) {
      setTotal++;
      rrTotal += set.records.length;
    }
    const setType = new Uint16Array(setTotal);
    const setTtl = new Uint32Array(setTotal);
    const setFirst = new Int32Array(setTotal);
    const setSize = new Int32Array(setTotal);
    const rrRawStart = new Int32Array(rrTotal);
    const rrPreLength = new Uint16Array(rrTotal);
    const rrNameA = new Int32Array(rrTotal).fill(-1);
    const rrNameB = new Int32Array(rrTotal).fill(-1);
    const rrPostLength = new Uint16Array(rrTotal);
    /** @type {number[]} */
    const raw = [];
    const nodeOf = (/** @type {Labels} */ labels) => this.intern(labels);

    let labelAt = 0;
    let set = 0;
    let rr = 0;
    for (let n = 0; n < count; n++) {
      const node = nodes[n];
      if (node.label.length > MAX_LABEL_LEN) throw new ZoneDataError(`label too long: ${node.lower}`);
      parent[n] = node.parent;
      flags[n] = node.flags;
      labelStart[n] = labelAt;
      labelLength[n] = node.label.length;
      for (let i = 0; i < node.label.length; i++) {
        labelOriginal[labelAt + i] = node.label[i];
        labelLower[labelAt + i] = LOWER[node.label[i]];
      }
      labelAt += node.label.length;
      setStart[n] = set;
      setCount[n] = node.sets.size;
      for (const [type, entry] of node.sets) {
        setType[set] = type;
        setTtl[set] = entry.ttl;
        setFirst[set] = rr;
        setSize[set] = entry.records.length;
        for (const record of entry.records) {
          const data = record.data;
          rrRawStart[rr] = raw.length;
          switch (data.kind) {
            case 'address':
              raw.push(...data.address);
              rrPostLength[rr] = data.address.length;
              break;
            case 'name':
              rrNameA[rr] = nodeOf(data.target);
              break;
            case 'mx':
              raw.push(data.preference >> 8, data.preference & 0xff);
              rrPreLength[rr] = 2;
              rrNameA[rr] = nodeOf(data.exchange);
              break;
            case 'soa':
              rrNameA[rr] = nodeOf(data.mname);
              rrNameB[rr] = nodeOf(data.rname);
              for (const value of [data.serial, data.refresh, data.retry, data.expire, data.minimum]) raw.push(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
              rrPostLength[rr] = 20;
              if (zoneApex[n] === n) {
                apexSoaSet[n] = set;
                apexNegativeTtl[n] = Math.min(entry.ttl, data.minimum);
              }
              break;
            default: {
              let length = 0;
              for (const text of data.strings) {
                raw.push(text.length, ...text);
                length += 1 + text.length;
              }
              if (length > 0xffff) throw new ZoneDataError(`${nameText(record.owner)}: TXT data longer than 65535 bytes`);
              rrPostLength[rr] = length;
            }
          }
          rr++;
        }
        set++;
      }
    }
    if (nodes.length !== count) throw new Error('a name was added while packing');

    let size = 16;
    while (size < count * 2) size *= 2;
    const slots = new Int32Array(size);
    for (let n = 1; n < count; n++) {
      const label = labelOriginal.subarray(labelStart[n], labelStart[n] + labelLength[n]);
      let index = labelHash(parent[n], label, 0, label.length) & (size - 1);
      while (slots[index] !== 0) index = (index + 1) & (size - 1);
      slots[index] = n + 1;
    }
    const zones = this.zoneList.map((zone) => ({ apex: nodeNameText(nodes, zone.apex), file: zone.file, records: zone.records }));
    return {
      nodeCount: count, parent, flags, zoneApex, labelStart, labelLength, labelLower, labelOriginal, setStart, setCount, apexSoaSet, apexNegativeTtl,
      setType, setTtl, setFirst, setSize, rrRawStart, rrPreLength, rrNameA, rrNameB, rrPostLength, raw: Uint8Array.from(raw), slots, zones,
    };
  }
}

/** RDATA as text for finding duplicates (names compare without regard to case). @param {import('./zone-file').RecordData} data */
function recordKey(data) {
  const name = (/** @type {Labels} */ labels) => nameText(labels).toLowerCase();
  switch (data.kind) {
    case 'address': return data.address.toString('hex');
    case 'name': return name(data.target);
    case 'mx': return `${data.preference} ${name(data.exchange)}`;
    case 'soa': return `${name(data.mname)} ${name(data.rname)}`;
    default: return data.strings.map((text) => `${text.length}:${text.toString('hex')}`).join(' ');
  }
}

/** @param {{ parent: number, label: Buffer }[]} nodes @param {number} node */
function nodeNameText(nodes, node) {
  /** @type {Labels} */
  const labels = [];
  for (let n = node; n > 0; n = nodes[n].parent) labels.push(nodes[n].label);
  return nameText(labels);
}

module.exports = { ZoneStore, ZoneDataError, NODE_EXISTS, NODE_APEX, LOWER };

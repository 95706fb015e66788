// @ts-check
// An authoritative DNS server's answer to one query, written over the query
// in its own buffer (RFC 1034 4.3.2, RFC 1035, RFC 2308 for negative
// answers, RFC 6891 for EDNS(0)).
//
// - QUERY only (other opcodes: NOTIMP); AA set, RA clear, RD and CD copied.
// - A name in a zone: its RRset of the asked type, CNAMEs followed inside
//   the zones served (the final name decides NXDOMAIN, RFC 6604), NODATA or
//   NXDOMAIN with the zone's SOA in the authority section; a delegation: a
//   referral (AA clear, NS in authority, glue in additional); a name in no
//   zone served: REFUSED.
// - The question goes back as it came (same bytes, same case), and records
//   owned by the name asked for point at it; other names are compressed
//   against each other and against the parts of the question written in
//   the zone's own case.
// - Over UDP the reply fits 512 bytes, or with EDNS the client's size (at
//   least 512) up to this server's; an answer that does not fit is sent
//   empty with TC=1, and the client asks again over TCP, where the reply may
//   take 65535 bytes whatever the EDNS size (RFC 7766 8) and is never rate
//   limited. Unknown EDNS versions get BADVERS.
// - Malformed queries get FORMERR (header only); responses and fragments
//   shorter than a header get nothing.
//
// Every query, over either transport, ends in exactly one outcome counter;
// `tcpQueries` says how many came over TCP, and the other tcp* counters are
// the TCP service's (tcp-service.js). Nothing here allocates.
'use strict';

const {
  header: H, HEADER_LEN, flag, OPCODE_SHIFT, OPCODE_MASK, OPCODE_QUERY, rcode: RCODE, type: TYPE, CLASS_IN,
  MAX_NAME_LEN, MAX_LABEL_LEN, MAX_LABELS, POINTER_BITS, MAX_POINTER_OFFSET, CLASSIC_UDP_SIZE, RR_FIXED_LEN, OPT_RR_LEN, EDNS_DO,
} = require('./constants');
const { NODE_EXISTS, NODE_APEX } = require('./zone-store');
const { RRL_SEND, RRL_SLIP } = require('./rrl');

/** @typedef {import('./zone-store').ZoneStore} ZoneStore */
/** @typedef {import('./rrl').ResponseRateLimiter} ResponseRateLimiter */

/** CNAMEs followed for one answer before the server gives up on the chain. */
const MAX_CNAME_HOPS = 8;
/** The EDNS UDP size this server takes and advertises unless told otherwise (the 2020 DNS flag day's value). */
const DEFAULT_EDNS_UDP_SIZE = 1232;

/**
 * What became of each query: exactly one of these per query.
 * @typedef {{
 *   queries: number, answers: number, noData: number, nxDomain: number, referrals: number, truncated: number,
 *   refused: number, formErr: number, notImp: number, badVers: number, rrlSlipped: number, rrlDropped: number,
 *   ignoredResponses: number, ignoredTooShort: number,
 *   tcpQueries: number, tcpAccepted: number, tcpRefused: number, tcpIdleTimeouts: number,
 *   tcpBadLength: number, tcpClosedAfterFormErr: number, tcpIncomplete: number,
 * }} DnsCounters
 */

/** Outcomes before rate limiting (indexes into the counters, by name). */
const OUT_ANSWER = 0;
const OUT_NODATA = 1;
const OUT_NXDOMAIN = 2;
const OUT_REFERRAL = 3;
const OUT_TRUNCATED = 4;
const OUT_REFUSED = 5;
const OUT_FORMERR = 6;
const OUT_NOTIMP = 7;
const OUT_BADVERS = 8;

/** @returns {DnsCounters} */
function newCounters() {
  return {
    queries: 0, answers: 0, noData: 0, nxDomain: 0, referrals: 0, truncated: 0,
    refused: 0, formErr: 0, notImp: 0, badVers: 0, rrlSlipped: 0, rrlDropped: 0,
    ignoredResponses: 0, ignoredTooShort: 0,
    tcpQueries: 0, tcpAccepted: 0, tcpRefused: 0, tcpIdleTimeouts: 0, tcpBadLength: 0, tcpClosedAfterFormErr: 0, tcpIncomplete: 0,
  };
}

/** Answers queries from a ZoneStore. One per worker: it keeps per-message scratch state. */
class DnsServer {
  /**
   * @param {ZoneStore} store
   * @param {{ ednsUdpSize?: number, rrl?: ResponseRateLimiter | null, clock?: { nowMs(): number } }} [options]
   *   ednsUdpSize: the largest reply with EDNS, and the size advertised; rrl: a rate limiter; clock: for the limiter
   */
  constructor(store, options = {}) {
    const size = options.ednsUdpSize ?? DEFAULT_EDNS_UDP_SIZE;
    if (!Number.isInteger(size) || size < CLASSIC_UDP_SIZE || size > 0xffff) throw new RangeError(`EDNS UDP size must be 512 to 65535, got ${size}`);
    this.store = store;
    this.ednsUdpSize = size;
    this.rrl = options.rrl ?? null;
    this.clock = options.clock ?? { nowMs: () => performance.now() };
    /** @type {DnsCounters} */
    this.counters = newCounters();

    // Per message: the buffer, where the message starts (base), where writing is (pos), and how far it may go.
    /** @type {Uint8Array} */
    this.bytes = new Uint8Array(0);
    /** @type {DataView} */
    this.view = new DataView(this.bytes.buffer);
    this.base = 0;
    this.pos = 0;
    this.limit = 0;
    this.labelCount = 0;
    /** The node of the name asked for when it exists, else -1. */
    this.questionNode = -1;
    /** Where the question ends, or -1 before it has been read. */
    this.questionEnd = -1;
    /** Offsets (in bytes) of the question name's length bytes, leftmost label first, and the node matching the suffix from each. */
    this.labelAt = new Int32Array(MAX_LABELS + 1);
    this.suffixNode = new Int32Array(MAX_LABELS + 1);
    // EDNS of the query.
    this.hasOpt = false;
    this.optVersion = 0;
    this.optUdpSize = 0;
    this.optDo = false;
    // Name compression: a node written in this message (stamp === generation) is at writtenAt.
    this.stamp = new Int32Array(store.nodeCount);
    this.writtenAt = new Int32Array(store.nodeCount);
    this.addedStamp = new Int32Array(store.nodeCount);
    this.generation = 0;
    this.answerCount = 0;
    this.authorityCount = 0;
    this.additionalCount = 0;
  }

  /**
   * Answer the DNS query of `length` bytes at `base` in `bytes`/`view` that
   * came over UDP, writing the reply in its place (at most `capacity` bytes);
   * returns the reply's length, or -1 for no reply.
   * @param {Uint8Array} bytes @param {DataView} view @param {number} base @param {number} length
   * @param {number} capacity @param {number} client the client's IPv4 address as a 32-bit integer (`address | 0`), for rate limiting
   */
  answer(bytes, view, base, length, capacity, client) {
    return this.respond(bytes, view, base, length, capacity, client, false);
  }

  /**
   * The same for a query that came over TCP (its length prefix already
   * taken off): the reply may fill `capacity` (up to 65535 bytes) whatever
   * the query's EDNS size, and is not rate limited.
   * @param {Uint8Array} bytes @param {DataView} view @param {number} base @param {number} length @param {number} capacity
   */
  answerTcp(bytes, view, base, length, capacity) {
    this.counters.tcpQueries++;
    return this.respond(bytes, view, base, length, capacity, 0, true);
  }

  /**
   * @param {Uint8Array} bytes @param {DataView} view @param {number} base @param {number} length
   * @param {number} capacity @param {number} client @param {boolean} overTcp
   */
  respond(bytes, view, base, length, capacity, client, overTcp) {
    const counters = this.counters;
    counters.queries++;
    if (length < HEADER_LEN) {
      counters.ignoredTooShort++;
      return -1;
    }
    const queryFlags = view.getUint16(base + H.FLAGS);
    if ((queryFlags & flag.QR) !== 0) {
      counters.ignoredResponses++;
      return -1;
    }
    this.bytes = bytes;
    this.view = view;
    this.base = base;
    this.hasOpt = false;
    this.questionEnd = -1;
    const outcome = this.resolve(queryFlags, base + length, capacity, overTcp);
    const replyLength = this.pos - base;
    if (this.rrl !== null && !overTcp) {
      const verdict = this.rrl.check(client, this.clock.nowMs());
      if (verdict !== RRL_SEND) {
        if (verdict === RRL_SLIP) {
          counters.rrlSlipped++;
          this.truncate(queryFlags, view.getUint16(base + H.FLAGS) & 0xf, false);
          return this.pos - base;
        }
        counters.rrlDropped++;
        return -1;
      }
    }
    switch (outcome) {
      case OUT_ANSWER: counters.answers++; break;
      case OUT_NODATA: counters.noData++; break;
      case OUT_NXDOMAIN: counters.nxDomain++; break;
      case OUT_REFERRAL: counters.referrals++; break;
      case OUT_TRUNCATED: counters.truncated++; break;
      case OUT_REFUSED: counters.refused++; break;
      case OUT_FORMERR: counters.formErr++; break;
      case OUT_NOTIMP: counters.notImp++; break;
      default: counters.badVers++;
    }
    return replyLength;
  }

  /**
   * Check the query, look its name up and write the reply; returns the outcome.
   * @param {number} queryFlags @param {number} end @param {number} capacity @param {boolean} overTcp
   */
  resolve(queryFlags, end, capacity, overTcp) {
    const view = this.view;
    const base = this.base;
    const opcode = (queryFlags >> OPCODE_SHIFT) & OPCODE_MASK;
    if (opcode !== OPCODE_QUERY) return this.bare(queryFlags, RCODE.NOTIMP, OUT_NOTIMP);
    if (view.getUint16(base + H.QDCOUNT) !== 1 || view.getUint16(base + H.ANCOUNT) !== 0 || view.getUint16(base + H.NSCOUNT) !== 0) {
      return this.bare(queryFlags, RCODE.FORMERR, OUT_FORMERR);
    }
    const nameEnd = this.readQuestionName(base + HEADER_LEN, end);
    if (nameEnd < 0 || nameEnd + 4 > end) return this.bare(queryFlags, RCODE.FORMERR, OUT_FORMERR);
    const qtype = view.getUint16(nameEnd);
    const qclass = view.getUint16(nameEnd + 2);
    const questionEnd = nameEnd + 4;
    this.questionEnd = questionEnd;
    if (!this.readAdditional(questionEnd, end, view.getUint16(base + H.ARCOUNT))) return this.bare(queryFlags, RCODE.FORMERR, OUT_FORMERR);

    // From here on the reply keeps the question and may carry an OPT record.
    let limit = overTcp ? capacity : CLASSIC_UDP_SIZE;
    if (this.hasOpt && !overTcp) {
      limit = this.optUdpSize < CLASSIC_UDP_SIZE ? CLASSIC_UDP_SIZE : this.optUdpSize;
      if (limit > this.ednsUdpSize) limit = this.ednsUdpSize;
    }
    if (limit > capacity) limit = capacity;
    this.limit = base + limit - (this.hasOpt ? OPT_RR_LEN : 0);
    this.pos = questionEnd;
    this.answerCount = 0;
    this.authorityCount = 0;
    this.additionalCount = 0;

    if (this.hasOpt && this.optVersion !== 0) return this.finish(queryFlags, RCODE.BADVERS, false, OUT_BADVERS);
    if (qtype === TYPE.OPT) return this.bare(queryFlags, RCODE.FORMERR, OUT_FORMERR);
    if (qclass !== CLASS_IN) return this.finish(queryFlags, RCODE.REFUSED, false, OUT_REFUSED);
    if (qtype === TYPE.AXFR || qtype === TYPE.IXFR || qtype === 253 || qtype === 254) return this.finish(queryFlags, RCODE.NOTIMP, false, OUT_NOTIMP);
    return this.lookup(queryFlags, qtype);
  }

  /**
   * Find the answer for the question name (labelAt/labelCount) and write it.
   * @param {number} queryFlags @param {number} qtype
   */
  lookup(queryFlags, qtype) {
    const store = this.store;
    const bytes = this.bytes;
    const nodeFlags = store.flags;
    const labelAt = this.labelAt;
    const suffixNode = this.suffixNode;
    this.nextGeneration();
    const generation = this.generation;

    // Walk the name from the root: the zone it is in, a delegation on the way, how much of it exists.
    const original = store.labelOriginal;
    let node = 0;
    let apex = -1;
    let cut = -1;
    let matched = this.labelCount;
    let sameCase = true;
    this.questionNode = -1;
    for (let i = this.labelCount - 1; i >= 0; i--) {
      const at = labelAt[i];
      const length = bytes[at];
      const child = store.findChild(node, bytes, at + 1, length);
      if (child < 0 || (nodeFlags[child] & NODE_EXISTS) === 0) break;
      node = child;
      matched = i;
      suffixNode[i] = child;
      // Compression: names in the answer may point at this suffix of the question, if it is written as the zone writes it.
      const start = store.labelStart[child];
      for (let j = 0; j < length && sameCase; j++) sameCase = bytes[at + 1 + j] === original[start + j];
      if (sameCase) {
        this.stamp[child] = generation;
        this.writtenAt[child] = at - this.base;
      }
      if ((nodeFlags[child] & NODE_APEX) !== 0) apex = child;
      else if (apex >= 0 && store.findSet(child, TYPE.NS) >= 0) {
        cut = child;
        break;
      }
    }
    // Records owned by the name asked for point at the question: its case, as asked (RFC 4343).
    if (matched === 0) this.questionNode = suffixNode[0];
    if (apex < 0) return this.finish(queryFlags, RCODE.REFUSED, false, OUT_REFUSED);
    if (cut >= 0) return this.referral(queryFlags, cut);
    if (matched > 0) {
      // The name does not exist in its zone.
      if (!this.writeNegative(apex)) return this.truncate(queryFlags, RCODE.NXDOMAIN, true);
      return this.finish(queryFlags, RCODE.NXDOMAIN, true, OUT_NXDOMAIN);
    }

    node = suffixNode[0];
    for (let hops = 0; ; hops++) {
      const cname = qtype === TYPE.CNAME ? -1 : store.findSet(node, TYPE.CNAME);
      if (cname < 0) break;
      if (!this.writeSet(cname, node)) return this.truncate(queryFlags, RCODE.NOERROR, true);
      this.answerCount++;
      const target = store.rrNameA[store.setFirst[cname]];
      const zone = store.zoneApex[target];
      // Follow the chain only inside the zones served, not past a delegation, and not forever.
      if (zone < 0 || hops + 1 >= MAX_CNAME_HOPS || this.delegated(target, zone)) return this.finish(queryFlags, RCODE.NOERROR, true, OUT_ANSWER);
      if ((nodeFlags[target] & NODE_EXISTS) === 0) {
        if (!this.writeNegative(zone)) return this.truncate(queryFlags, RCODE.NXDOMAIN, true);
        return this.finish(queryFlags, RCODE.NXDOMAIN, true, OUT_NXDOMAIN);
      }
      node = target;
    }

    // RFC 8482: ANY gets one RRset.
    const set = qtype === TYPE.ANY ? (store.setCount[node] > 0 ? store.setStart[node] : -1) : store.findSet(node, qtype);
    if (set < 0) {
      if (!this.writeNegative(store.zoneApex[node])) return this.truncate(queryFlags, RCODE.NOERROR, true);
      return this.finish(queryFlags, RCODE.NOERROR, true, this.answerCount > 0 ? OUT_ANSWER : OUT_NODATA);
    }
    if (!this.writeSet(set, node)) return this.truncate(queryFlags, RCODE.NOERROR, true);
    this.answerCount += store.setSize[set];
    const type = store.setType[set];
    if (type === TYPE.NS || type === TYPE.MX) this.writeAddresses(set);
    return this.finish(queryFlags, RCODE.NOERROR, true, OUT_ANSWER);
  }

  /** A referral to the zone cut at `cut`: its NS RRset in authority, glue in additional. @param {number} queryFlags @param {number} cut */
  referral(queryFlags, cut) {
    const set = this.store.findSet(cut, TYPE.NS);
    if (!this.writeSet(set, cut)) return this.truncate(queryFlags, RCODE.NOERROR, true);
    this.authorityCount += this.store.setSize[set];
    this.writeAddresses(set);
    return this.finish(queryFlags, RCODE.NOERROR, false, OUT_REFERRAL);
  }

  /** Whether `node` lies at or below a delegation inside `zone`. @param {number} node @param {number} zone */
  delegated(node, zone) {
    const store = this.store;
    for (let n = node; n !== zone && n > 0; n = store.parent[n]) {
      if ((store.flags[n] & NODE_EXISTS) !== 0 && store.findSet(n, TYPE.NS) >= 0) return true;
    }
    return false;
  }

  /** The zone's SOA in the authority section, with the negative-caching TTL. @param {number} apex */
  writeNegative(apex) {
    const store = this.store;
    const set = store.apexSoaSet[apex];
    if (!this.writeRecord(apex, TYPE.SOA, store.apexNegativeTtl[apex], store.setFirst[set])) return false;
    this.authorityCount++;
    return true;
  }

  /**
   * Addresses (A, then AAAA) of the names an NS or MX RRset points at, where
   * they are in a zone served; left out, without TC, when they do not fit.
   * @param {number} set
   */
  writeAddresses(set) {
    const store = this.store;
    const first = store.setFirst[set];
    const end = first + store.setSize[set];
    const generation = this.generation;
    for (let rr = first; rr < end; rr++) {
      const target = store.rrNameA[rr];
      if (store.zoneApex[target] < 0 || (store.flags[target] & NODE_EXISTS) === 0 || this.addedStamp[target] === generation) continue;
      this.addedStamp[target] = generation;
      for (let pass = 0; pass < 2; pass++) {
        const addresses = store.findSet(target, pass === 0 ? TYPE.A : TYPE.AAAA);
        if (addresses < 0) continue;
        const before = this.pos;
        if (!this.writeSet(addresses, target)) {
          // Additional data that does not fit is left out (RFC 2181 9): undo the partial RRset, write nothing more.
          this.pos = before;
          this.limit = before;
          return;
        }
        this.additionalCount += store.setSize[addresses];
      }
    }
  }

  /**
   * Write every RR of `set`, owned by `owner`; false when it does not fit.
   * @param {number} set @param {number} owner
   */
  writeSet(set, owner) {
    const store = this.store;
    const type = store.setType[set];
    const ttl = store.setTtl[set];
    const first = store.setFirst[set];
    const end = first + store.setSize[set];
    for (let rr = first; rr < end; rr++) if (!this.writeRecord(owner, type, ttl, rr)) return false;
    return true;
  }

  /**
   * One resource record: owner, type, class IN, TTL, RDATA with its names compressed.
   * @param {number} owner @param {number} type @param {number} ttl @param {number} rr
   */
  writeRecord(owner, type, ttl, rr) {
    const store = this.store;
    const bytes = this.bytes;
    if (owner === this.questionNode) {
      if (this.pos + 2 > this.limit) return false;
      bytes[this.pos] = POINTER_BITS;
      bytes[this.pos + 1] = HEADER_LEN;
      this.pos += 2;
    } else if (!this.writeName(owner)) return false;
    let pos = this.pos;
    if (pos + RR_FIXED_LEN > this.limit) return false;
    const view = this.view;
    view.setUint16(pos, type);
    view.setUint16(pos + 2, CLASS_IN);
    view.setUint32(pos + 4, ttl);
    const lengthAt = pos + 8;
    pos += RR_FIXED_LEN;
    const raw = store.raw;
    let from = store.rrRawStart[rr];
    const pre = store.rrPreLength[rr];
    if (pos + pre > this.limit) return false;
    for (let i = 0; i < pre; i++) bytes[pos + i] = raw[from + i];
    pos += pre;
    from += pre;
    this.pos = pos;
    const nameA = store.rrNameA[rr];
    if (nameA >= 0 && !this.writeName(nameA)) return false;
    const nameB = store.rrNameB[rr];
    if (nameB >= 0 && !this.writeName(nameB)) return false;
    pos = this.pos;
    const post = store.rrPostLength[rr];
    if (pos + post > this.limit) return false;
    for (let i = 0; i < post; i++) bytes[pos + i] = raw[from + i];
    pos += post;
    view.setUint16(lengthAt, pos - lengthAt - 2);
    this.pos = pos;
    return true;
  }

  /**
   * A name, compressed (RFC 1035 4.1.4): labels until a suffix already in the
   * message, then a pointer to it; false when it does not fit.
   * @param {number} node
   */
  writeName(node) {
    const store = this.store;
    const bytes = this.bytes;
    const generation = this.generation;
    const stamp = this.stamp;
    const writtenAt = this.writtenAt;
    const limit = this.limit;
    let pos = this.pos;
    for (let n = node; n !== 0; n = store.parent[n]) {
      if (stamp[n] === generation) {
        if (pos + 2 > limit) return false;
        const offset = writtenAt[n];
        bytes[pos] = POINTER_BITS | (offset >> 8);
        bytes[pos + 1] = offset & 0xff;
        this.pos = pos + 2;
        return true;
      }
      const length = store.labelLength[n];
      if (pos + 1 + length > limit) return false;
      const offset = pos - this.base;
      if (offset <= MAX_POINTER_OFFSET) {
        stamp[n] = generation;
        writtenAt[n] = offset;
      }
      bytes[pos] = length;
      const start = store.labelStart[n];
      const original = store.labelOriginal;
      for (let i = 0; i < length; i++) bytes[pos + 1 + i] = original[start + i];
      pos += 1 + length;
    }
    if (pos + 1 > limit) return false;
    bytes[pos] = 0;
    this.pos = pos + 1;
    return true;
  }

  /**
   * Finish a reply that keeps the question: header, then the OPT record when the query had one.
   * @param {number} queryFlags @param {number} code @param {boolean} authoritative @param {number} outcome
   */
  finish(queryFlags, code, authoritative, outcome) {
    this.writeHeader(queryFlags, code, authoritative, false, 1, this.answerCount, this.authorityCount, this.additionalCount);
    return outcome;
  }

  /**
   * Make the reply header and question alone (and OPT), with TC=1: an answer
   * too large, or a slipped response. Without a question read, header only.
   * @param {number} queryFlags @param {number} code @param {boolean} authoritative
   */
  truncate(queryFlags, code, authoritative) {
    const hasQuestion = this.questionEnd >= 0;
    this.pos = hasQuestion ? this.questionEnd : this.base + HEADER_LEN;
    this.writeHeader(queryFlags, code, authoritative, true, hasQuestion ? 1 : 0, 0, 0, 0);
    return OUT_TRUNCATED;
  }

  /**
   * A header-only reply (counts zero) for a query that could not be read, or whose opcode is not served.
   * @param {number} queryFlags @param {number} code @param {number} outcome
   */
  bare(queryFlags, code, outcome) {
    this.hasOpt = false;
    this.questionEnd = -1;
    this.pos = this.base + HEADER_LEN;
    this.writeHeader(queryFlags, code, false, false, 0, 0, 0, 0);
    return outcome;
  }

  /**
   * The header, and the OPT record at pos when the query had one.
   * @param {number} queryFlags @param {number} code @param {boolean} authoritative @param {boolean} truncated
   * @param {number} qd @param {number} an @param {number} ns @param {number} ar
   */
  writeHeader(queryFlags, code, authoritative, truncated, qd, an, ns, ar) {
    const view = this.view;
    const base = this.base;
    let flags = flag.QR | (queryFlags & ((OPCODE_MASK << OPCODE_SHIFT) | flag.RD | flag.CD)) | (code & 0xf);
    if (authoritative) flags |= flag.AA;
    if (truncated) flags |= flag.TC;
    if (this.hasOpt) {
      // OPT: root name, type, our UDP size as the class, extended RCODE / version 0 / DO as the TTL, no options.
      const pos = this.pos;
      this.bytes[pos] = 0;
      view.setUint16(pos + 1, TYPE.OPT);
      view.setUint16(pos + 3, this.ednsUdpSize);
      view.setUint32(pos + 5, (((code >> 4) & 0xff) << 24) | (this.optDo ? EDNS_DO : 0));
      view.setUint16(pos + 9, 0);
      this.pos = pos + OPT_RR_LEN;
      ar++;
    }
    view.setUint16(base + H.FLAGS, flags);
    view.setUint16(base + H.QDCOUNT, qd);
    view.setUint16(base + H.ANCOUNT, an);
    view.setUint16(base + H.NSCOUNT, ns);
    view.setUint16(base + H.ARCOUNT, ar);
  }

  /**
   * Read the question name at `start`: no compression (a query has nothing
   * before its question to point at), labels of at most 63 bytes, at most
   * 255 bytes in all, inside the message. Returns where it ends, or -1.
   * @param {number} start @param {number} end
   */
  readQuestionName(start, end) {
    const bytes = this.bytes;
    const labelAt = this.labelAt;
    let pos = start;
    let count = 0;
    for (;;) {
      if (pos >= end) return -1;
      const length = bytes[pos];
      if (length === 0) break;
      if (length > MAX_LABEL_LEN || pos + 1 + length >= end || count === MAX_LABELS) return -1;
      labelAt[count++] = pos;
      pos += 1 + length;
    }
    if (pos + 1 - start > MAX_NAME_LEN) return -1;
    this.labelCount = count;
    return pos + 1;
  }

  /**
   * Read the additional section: at most one OPT record (root owner, options
   * well formed), other records skipped; nothing may follow. False when malformed.
   * @param {number} start @param {number} end @param {number} count
   */
  readAdditional(start, end, count) {
    const view = this.view;
    const bytes = this.bytes;
    let pos = start;
    for (let i = 0; i < count; i++) {
      const nameEnd = this.skipName(pos, end);
      if (nameEnd < 0 || nameEnd + RR_FIXED_LEN > end) return false;
      const type = view.getUint16(nameEnd);
      const dataLength = view.getUint16(nameEnd + 8);
      const dataStart = nameEnd + RR_FIXED_LEN;
      if (dataStart + dataLength > end) return false;
      if (type === TYPE.OPT) {
        if (this.hasOpt || nameEnd !== pos + 1 || bytes[pos] !== 0) return false;
        for (let option = dataStart; option < dataStart + dataLength;) {
          if (option + 4 > dataStart + dataLength) return false;
          option += 4 + view.getUint16(option + 2);
          if (option > dataStart + dataLength) return false;
        }
        this.hasOpt = true;
        this.optUdpSize = view.getUint16(nameEnd + 2);
        this.optVersion = bytes[nameEnd + 5];
        this.optDo = (view.getUint16(nameEnd + 6) & EDNS_DO) !== 0;
      }
      pos = dataStart + dataLength;
    }
    return pos === end;
  }

  /**
   * Skip a name that may be compressed; every pointer must point before
   * itself (so no loop), every label stay inside the message, the whole
   * name within 255 bytes. Returns where the name ends in place, or -1.
   * @param {number} start @param {number} end
   */
  skipName(start, end) {
    const bytes = this.bytes;
    const base = this.base;
    let pos = start;
    let after = -1;
    let total = 1;
    for (;;) {
      if (pos >= end) return -1;
      const length = bytes[pos];
      if ((length & POINTER_BITS) === POINTER_BITS) {
        if (pos + 2 > end) return -1;
        const target = base + (((length & ~POINTER_BITS) << 8) | bytes[pos + 1]);
        if (target >= pos) return -1;
        if (after < 0) after = pos + 2;
        pos = target;
        continue;
      }
      if (length > MAX_LABEL_LEN) return -1;
      if (length === 0) return after < 0 ? pos + 1 : after;
      total += 1 + length;
      if (total > MAX_NAME_LEN || pos + 1 + length > end) return -1;
      pos += 1 + length;
    }
  }

  nextGeneration() {
    this.generation = (this.generation + 1) | 0;
    if (this.generation === 0) {
      this.stamp.fill(0);
      this.addedStamp.fill(0);
      this.generation = 1;
    }
  }
}

module.exports = { DnsServer, DEFAULT_EDNS_UDP_SIZE, newCounters };

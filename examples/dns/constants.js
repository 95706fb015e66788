// @ts-check
// DNS message constants (RFC 1035 4.1, RFC 6891 for EDNS(0)).
//
//                                 1  1  1  1  1  1
//   0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
// +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
// |                      ID                       |
// |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
// |                    QDCOUNT                    |
// |                    ANCOUNT                    |
// |                    NSCOUNT                    |
// |                    ARCOUNT                    |
// +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
'use strict';

/** Header field offsets. */
const header = Object.freeze({ ID: 0, FLAGS: 2, QDCOUNT: 4, ANCOUNT: 6, NSCOUNT: 8, ARCOUNT: 10 });
const HEADER_LEN = 12;

/** Flag bits in the 16-bit flags word. */
const flag = Object.freeze({ QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080, AD: 0x0020, CD: 0x0010 });
const OPCODE_SHIFT = 11;
const OPCODE_MASK = 0xf;
const OPCODE_QUERY = 0;

const rcode = Object.freeze({ NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 });

const type = Object.freeze({ A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 });
const CLASS_IN = 1;
const CLASS_ANY = 255;

/** Longest name on the wire, and longest label (RFC 1035 2.3.4). */
const MAX_NAME_LEN = 255;
const MAX_LABEL_LEN = 63;
/** Labels in the longest name: 127 one-byte labels and the root. */
const MAX_LABELS = 127;
/** A compression pointer's two top bits, and the largest offset it can hold. */
const POINTER_BITS = 0xc0;
const MAX_POINTER_OFFSET = 0x3fff;

/** Without EDNS a UDP reply holds 512 bytes (RFC 1035 4.2.1); EDNS sizes under 512 count as 512 (RFC 6891 6.2.5). */
const CLASSIC_UDP_SIZE = 512;
/** Fixed part of a resource record after its name: type, class, TTL, RDLENGTH. */
const RR_FIXED_LEN = 10;
/** An OPT record with no options: root name, then the fixed part. */
const OPT_RR_LEN = 1 + RR_FIXED_LEN;
/** The DO bit in the OPT record's TTL field (RFC 3225). */
const EDNS_DO = 0x8000;

module.exports = {
  header, HEADER_LEN, flag, OPCODE_SHIFT, OPCODE_MASK, OPCODE_QUERY, rcode, type, CLASS_IN, CLASS_ANY,
  MAX_NAME_LEN, MAX_LABEL_LEN, MAX_LABELS, POINTER_BITS, MAX_POINTER_OFFSET, CLASSIC_UDP_SIZE, RR_FIXED_LEN, OPT_RR_LEN, EDNS_DO,
};

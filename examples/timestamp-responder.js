// A timestamp service for `nicring respond --handler examples/timestamp-responder.js`.
//
// Request: at least 12 bytes; the first 4 are the client's request id.
// Reply (12 bytes, written over the request in its own frame): the request
// id, then the server's wall-clock time in microseconds since the epoch as
// two big-endian u32 (high, low). Shorter requests get no reply; the reply is
// never larger than the request, so the service cannot amplify.
'use strict';

const REPLY_LENGTH = 12;

/** @param {import('nicring').UdpDatagram} request */
module.exports.handle = function handle(request) {
  if (request.payloadLength < REPLY_LENGTH) return -1;
  const view = request.view;
  const at = request.payloadOffset;
  const micros = Date.now() * 1000;
  // The request id stays in place at [0, 4).
  view.setUint32(at + 4, Math.floor(micros / 0x100000000));
  view.setUint32(at + 8, micros >>> 0);
  return REPLY_LENGTH;
};

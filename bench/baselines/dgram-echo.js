// UDP echo server on Node's dgram: the Node baseline for `nicring bench`.
// Answers every datagram to its sender until SIGINT/SIGTERM or --duration
// seconds, then prints one JSON line with the datagrams it answered.
'use strict';
const dgram = require('node:dgram');

const args = { address: '0.0.0.0', port: 9000, duration: 0 };
for (let i = 2; i + 1 < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '');
  if (!(key in args)) {
    console.error(`dgram-echo: unknown option ${process.argv[i]}`);
    process.exit(2);
  }
  args[key] = key === 'address' ? process.argv[i + 1] : Number(process.argv[i + 1]);
}

const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
let received = 0;
let sent = 0;
let sendErrors = 0;
const start = process.hrtime.bigint();
socket.on('message', (message, rinfo) => {
  received++;
  socket.send(message, rinfo.port, rinfo.address, (error) => {
    if (error) sendErrors++;
    else sent++;
  });
});
socket.bind(args.port, args.address, () => console.log('ready'));

function finish() {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  socket.close(() => {
    console.log(JSON.stringify({ received, sent, sendErrors, seconds: +seconds.toFixed(3) }));
    process.exit(0);
  });
}
process.on('SIGINT', finish);
process.on('SIGTERM', finish);
if (args.duration > 0) setTimeout(finish, args.duration * 1000);

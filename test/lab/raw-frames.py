#!/usr/bin/env python3
"""Raw Ethernet frames from the lab's peer namespace (AF_PACKET), for the
abuse tests. Every job is bounded in count and time and ends by itself;
it prints one JSON line at the end.

  exchange      frames given as hex, one JSON object a line on stdin
                ({"name": ..., "frame": HEX}); each is sent and what the
                target sends back within --wait-ms is described
  fragments     --count first fragments of datagrams that never complete,
                from spoofed sources, at --rate frames a second
  fuzz          --count frames mutated from valid seeds, at --rate
"""

import argparse
import json
import random
import socket
import struct
import sys
import time
from array import array

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
LITTLE_ENDIAN = sys.byteorder == 'little'


def checksum(data):
    """RFC 1071 internet checksum of bytes."""
    if len(data) % 2:
        data = bytes(data) + b'\0'
    total = sum(array('H', bytes(data)))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    total = ~total & 0xffff
    # The sum was taken in host order; ones' complement sums swap with the bytes.
    if LITTLE_ENDIAN:
        total = ((total & 0xff) << 8) | (total >> 8)
    return total


def mac_bytes(text):
    return bytes(int(part, 16) for part in text.split(':'))


def ip_bytes(text):
    return socket.inet_aton(text)


def open_socket(ifname):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((ifname, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    return sock


def ipv4_header(source, destination, protocol, payload_length, identification=0, flags_offset=0, ttl=64, options=b''):
    header_length = 20 + len(options)
    header = struct.pack('!BBHHHBBH4s4s', 0x40 | (header_length // 4), 0, header_length + payload_length,
                         identification, flags_offset, ttl, protocol, 0, source, destination) + options
    return header[:10] + struct.pack('!H', checksum(header)) + header[12:]


def udp_datagram(source, destination, source_port, destination_port, payload):
    length = 8 + len(payload)
    pseudo = source + destination + struct.pack('!BBH', 0, 17, length)
    header = struct.pack('!HHHH', source_port, destination_port, length, 0)
    value = checksum(pseudo + header + payload) or 0xffff
    return header[:6] + struct.pack('!H', value) + payload


def describe(frame, target_ip):
    """What the target sent: IPv4 frames from its address, decoded a little."""
    if len(frame) < 34 or frame[12:14] != b'\x08\x00' or frame[26:30] != target_ip:
        return None
    header_length = (frame[14] & 0x0f) * 4
    total_length, identification, flags_offset = struct.unpack('!HHH', frame[16:22])
    protocol = frame[23]
    payload = frame[14 + header_length:14 + total_length]
    out = {'protocol': protocol, 'id': identification, 'moreFragments': bool(flags_offset & 0x2000),
           'offset': (flags_offset & 0x1fff) * 8, 'dontFragment': bool(flags_offset & 0x4000),
           'headerLength': header_length, 'length': total_length}
    if out['offset'] == 0 and protocol == 1 and len(payload) >= 8:
        out['icmp'] = {'type': payload[0], 'code': payload[1], 'rest': struct.unpack('!I', payload[4:8])[0]}
    elif out['offset'] == 0 and protocol == 17 and len(payload) >= 8:
        source_port, destination_port, length = struct.unpack('!HHH', payload[:6])
        out['udp'] = {'sourcePort': source_port, 'destinationPort': destination_port, 'length': length}
    out['payload'] = payload.hex()
    return out


def job_exchange(args):
    sock = open_socket(args.iface)
    target_ip = ip_bytes(args.target)
    results = []
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        case = json.loads(line)
        # Drop whatever arrived before this case.
        sock.setblocking(False)
        try:
            while True:
                sock.recv(65536)
        except BlockingIOError:
            pass
        sock.send(bytes.fromhex(case['frame']))
        replies = []
        deadline = time.monotonic() + args.wait_ms / 1000
        sock.setblocking(True)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                frame, address = sock.recvfrom(65536)
            except socket.timeout:
                break
            if address[2] == PACKET_OUTGOING:
                continue
            seen = describe(frame, target_ip)
            if seen is not None:
                replies.append(seen)
        results.append({'name': case['name'], 'replies': replies})
    print(json.dumps({'cases': results}))


def paced(count, rate, duration_s):
    """Yield how many frames to send now, until `count` or `duration_s`, at `rate` a second."""
    start = time.monotonic()
    sent = 0
    while sent < count:
        now = time.monotonic()
        if now - start > duration_s:
            return
        due = min(count, int((now - start) * rate) + 64)
        if due > sent:
            yield due - sent
            sent = due
        else:
            time.sleep(0.0005)


def job_fragments(args):
    """First fragments (MF set, offset 0) of datagrams that never complete, each from another source."""
    sock = open_socket(args.iface)
    rng = random.Random(args.seed)
    ethernet = mac_bytes(args.dst_mac) + mac_bytes(args.src_mac) + b'\x08\x00'
    destination = ip_bytes(args.dst_ip)
    payload = bytes(rng.getrandbits(8) for _ in range(args.size))
    subnet = struct.unpack('!I', ip_bytes(args.dst_ip))[0] & 0xffffff00
    sent = errors = 0
    start = time.monotonic()
    for burst in paced(args.count, args.rate, args.duration):
        for _ in range(burst):
            # Half from the target's own subnet (they would need ARP), half from anywhere else.
            if sent & 1:
                source = subnet | (3 + rng.randrange(250))
            else:
                source = 0x0b000000 | rng.getrandbits(24)
            header = ipv4_header(struct.pack('!I', source), destination, 17, len(payload), rng.getrandbits(16), 0x2000)
            try:
                sock.send(ethernet + header + payload)
            except OSError:
                errors += 1
            sent += 1
    print(json.dumps({'sent': sent - errors, 'sendErrors': errors, 'seconds': round(time.monotonic() - start, 3)}))


class Fuzzer:
    """Valid seed frames to the target, then a few random mutations each."""

    def __init__(self, args):
        self.rng = random.Random(args.seed)
        rng = self.rng
        self.target_mac = mac_bytes(args.dst_mac)
        self.own_mac = mac_bytes(args.src_mac)
        self.target_ip = ip_bytes(args.dst_ip)
        self.own_ip = ip_bytes(args.src_ip)
        ethernet = self.target_mac + self.own_mac + b'\x08\x00'
        seeds = []
        for size in (0, 1, 16, 64, 512, 1400):
            body = bytes(rng.getrandbits(8) for _ in range(size))
            udp = udp_datagram(self.own_ip, self.target_ip, 40000 + size, args.port, body)
            seeds.append(ethernet + ipv4_header(self.own_ip, self.target_ip, 17, len(udp)) + udp)
            closed = udp_datagram(self.own_ip, self.target_ip, 40000, 9, body)
            seeds.append(ethernet + ipv4_header(self.own_ip, self.target_ip, 17, len(closed)) + closed)
            echo = struct.pack('!BBHHH', 8, 0, 0, 0x4242, size) + body
            echo = echo[:2] + struct.pack('!H', checksum(echo)) + echo[4:]
            seeds.append(ethernet + ipv4_header(self.own_ip, self.target_ip, 1, len(echo)) + echo)
        whole = udp_datagram(self.own_ip, self.target_ip, 41000, args.port, bytes(rng.getrandbits(8) for _ in range(3000)))
        for offset in (0, 1480, 2960):
            part = whole[offset:offset + 1480]
            more = 0x2000 if offset + 1480 < len(whole) else 0
            seeds.append(ethernet + ipv4_header(self.own_ip, self.target_ip, 17, len(part), 0x7777, more | (offset // 8)) + part)
        for options in (b'\x01\x01\x01\x00', b'\x07\x07\x04\x00\x00\x00\x00\x00', b'\x44\x08\x05\x00\x00\x00\x00\x00', b'\x94\x04\x00\x00'):
            udp = udp_datagram(self.own_ip, self.target_ip, 42000, args.port, b'options')
            seeds.append(ethernet + ipv4_header(self.own_ip, self.target_ip, 17, len(udp), options=options) + udp)
        arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, self.own_mac, self.own_ip, b'\0' * 6, self.target_ip)
        seeds.append(b'\xff' * 6 + self.own_mac + b'\x08\x06' + arp)
        seeds.append(self.target_mac + self.own_mac + b'\x08\x06' + arp[:7] + b'\x02' + arp[8:])
        seeds.append(self.target_mac + self.own_mac + b'\x81\x00\x00\x05\x08\x00' + seeds[0][14:])
        self.seeds = seeds

    def frame(self):
        rng = self.rng
        frame = bytearray(rng.choice(self.seeds))
        kind = rng.randrange(8)
        if kind < 4:
            # Flip bytes, mostly in the headers.
            for _ in range(1 + rng.randrange(4)):
                at = rng.randrange(min(len(frame), 64)) if rng.random() < 0.8 else rng.randrange(len(frame))
                frame[at] = rng.getrandbits(8)
        elif kind == 4:
            del frame[14 + rng.randrange(max(1, len(frame) - 14)):]
        elif kind == 5:
            frame += bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 64)))
        elif kind == 6:
            at = 14 + rng.randrange(max(1, min(len(frame), 60) - 14))
            if at < len(frame):
                frame[at] = rng.choice((0, 1, 2, 4, 5, 7, 8, 0x0f, 0x40, 0x44, 0x45, 0x46, 0x4f, 0x7f, 0x80, 0xff))
        # kind 7: sent as it is.
        if len(frame) >= 34 and frame[12:14] == b'\x08\x00' and rng.random() < 0.7:
            # Keep the IPv4 header checksum right most of the time, so the checks behind it are reached.
            header_length = (frame[14] & 0x0f) * 4
            if 20 <= header_length <= len(frame) - 14:
                frame[24:26] = b'\0\0'
                frame[24:26] = struct.pack('!H', checksum(frame[14:14 + header_length]))
        return bytes(frame[:1514])


def job_fuzz(args):
    sock = open_socket(args.iface)
    fuzzer = Fuzzer(args)
    sent = errors = 0
    start = time.monotonic()
    for burst in paced(args.count, args.rate, args.duration):
        for _ in range(burst):
            frame = fuzzer.frame()
            if len(frame) < 14:
                frame = frame + bytes(14 - len(frame))
            try:
                sock.send(frame)
                sent += 1
            except OSError:
                errors += 1
    print(json.dumps({'sent': sent, 'sendErrors': errors, 'seconds': round(time.monotonic() - start, 3)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('job', choices=['exchange', 'fragments', 'fuzz'])
    parser.add_argument('--iface', required=True)
    parser.add_argument('--target', help='exchange: the address whose frames are described')
    parser.add_argument('--wait-ms', type=int, default=300)
    parser.add_argument('--dst-mac')
    parser.add_argument('--src-mac')
    parser.add_argument('--dst-ip')
    parser.add_argument('--src-ip')
    parser.add_argument('--port', type=int, default=9000)
    parser.add_argument('--count', type=int, default=1000)
    parser.add_argument('--rate', type=float, default=10000)
    parser.add_argument('--duration', type=float, default=60, help='seconds at most')
    parser.add_argument('--size', type=int, default=1480, help='fragments: payload bytes of each')
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()
    {'exchange': job_exchange, 'fragments': job_fragments, 'fuzz': job_fuzz}[args.job](args)


if __name__ == '__main__':
    main()

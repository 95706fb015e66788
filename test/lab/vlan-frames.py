# Raw 802.1Q frames from the peer's side of the lab (this kernel has no 8021q
# module, so no VLAN sub-interface): sends the frames described on the command
# line through an AF_PACKET socket, then prints as JSON every frame that
# arrives from nicring's MAC within the listening time, with the 802.1Q tag it
# carried (the kernel moves a received tag out of the frame; PACKET_AUXDATA
# gives it back).
#
#   python3 vlan-frames.py '{"iface": ..., "srcmac": ..., "dstmac": ..., "src": ..., "dst": ...,
#                            "port": 9000, "listen": 1.5, "frames": [{"kind": "ping"|"udp", "seq": 1, "size": 56, "tci": 10|null}]}'

import json
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 3
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
ETHERTYPE_VLAN = 0x8100

config = json.loads(sys.argv[1])
source = socket.inet_aton(config['src'])
destination = socket.inet_aton(config['dst'])


def mac(text):
    return bytes(int(part, 16) for part in text.split(':'))


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while total > 0xffff:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def payload(size, seq):
    return bytes((seq * 31 + i) & 0xff for i in range(size))


def ipv4(protocol, body, identification):
    header = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(body), identification, 0, 64, protocol, 0, source, destination)
    return header[:10] + struct.pack('!H', checksum(header)) + header[12:] + body


def frame(spec):
    seq = spec['seq']
    data = payload(spec['size'], seq)
    if spec['kind'] == 'ping':
        body = struct.pack('!BBHHH', 8, 0, 0, 0x4e52, seq) + data
        packet = ipv4(1, body[:2] + struct.pack('!H', checksum(body)) + body[4:], seq)
    else:
        segment = struct.pack('!HHHH', 40000 + seq, spec.get('port', config['port']), 8 + len(data), 0) + data
        field = checksum(source + destination + struct.pack('!HH', 17, len(segment)) + segment) or 0xffff
        packet = ipv4(17, segment[:6] + struct.pack('!H', field) + segment[8:], seq)
    header = mac(config['dstmac']) + mac(config['srcmac'])
    if spec['tci'] is not None:
        header += struct.pack('!HH', ETHERTYPE_VLAN, spec['tci'])
    return header + struct.pack('!H', 0x0800) + packet


def describe(data, tci):
    ether_type = struct.unpack('!H', data[12:14])[0]
    at = 14
    if ether_type == ETHERTYPE_VLAN:
        tci = struct.unpack('!H', data[14:16])[0]
        ether_type = struct.unpack('!H', data[16:18])[0]
        at = 18
    entry = {'tci': tci, 'etherType': ether_type, 'length': len(data)}
    if ether_type == 0x0806:
        entry['kind'] = 'arp'
        entry['operation'] = struct.unpack('!H', data[at + 6:at + 8])[0]
    elif ether_type == 0x0800:
        header_length = (data[at] & 15) * 4
        total = struct.unpack('!H', data[at + 2:at + 4])[0]
        protocol = data[at + 9]
        body = data[at + header_length:at + total]
        entry['ipOk'] = checksum(data[at:at + header_length]) == 0
        if protocol == 1:
            seq = struct.unpack('!H', body[6:8])[0]
            entry.update(kind='icmp', type=body[0], seq=seq, icmpOk=checksum(body) == 0)
            if body[0] == 0:
                entry['dataOk'] = body[8:] == payload(len(body) - 8, seq)
        elif protocol == 17:
            seq = struct.unpack('!H', body[2:4])[0] - 40000
            pseudo = destination + source + struct.pack('!HH', 17, len(body))
            entry.update(kind='udp', seq=seq, size=len(body) - 8, dataOk=body[8:] == payload(len(body) - 8, seq),
                         udpOk=checksum(pseudo + body) == 0)
    return entry


sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sock.bind((config['iface'], 0))
sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
for spec in config['frames']:
    sock.send(frame(spec))

seen = []
deadline = time.time() + config.get('listen', 1.5)
while True:
    left = deadline - time.time()
    if left <= 0:
        break
    ready, _, _ = select.select([sock], [], [], left)
    if not ready:
        break
    data, ancillary, _, address = sock.recvmsg(65536, socket.CMSG_SPACE(20))
    if address[2] == socket.PACKET_OUTGOING or data[6:12] != mac(config['dstmac']):
        continue
    tci = None
    for level, kind, value in ancillary:
        if level == SOL_PACKET and kind == PACKET_AUXDATA:
            status, _, _, _, _, vlan_tci, _ = struct.unpack('IIIHHHH', value[:20])
            if status & TP_STATUS_VLAN_VALID:
                tci = vlan_tci
    seen.append(describe(data, tci))
print(json.dumps(seen))

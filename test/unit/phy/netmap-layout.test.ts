// The netmap ABI as shared/ref/netmap-abi.md states it. Every number below is
// copied from its tables, never from the code: the compiled structures
// (netmapLayout()) and the offsets the TypeScript device reads must both match.

import { strict as assert } from 'node:assert';
import type { NativeAddon } from '../../../src/native';
import { loadNative } from '../../../src/native';
import { NETMAP_DEVICE_LAYOUT } from '../../../src/phy/netmap';

const NETMAP_ABI: Record<string, number> = {
  'nmreq_header.size': 88,
  'nmreq_header.nr_version': 0,
  'nmreq_header.nr_reqtype': 2,
  'nmreq_header.nr_reserved': 4,
  'nmreq_header.nr_name': 8,
  'nmreq_header.nr_options': 72,
  'nmreq_header.nr_body': 80,

  'nmreq_register.size': 56,
  'nmreq_register.nr_offset': 0,
  'nmreq_register.nr_memsize': 8,
  'nmreq_register.nr_tx_slots': 16,
  'nmreq_register.nr_rx_slots': 20,
  'nmreq_register.nr_tx_rings': 24,
  'nmreq_register.nr_rx_rings': 26,
  'nmreq_register.nr_host_tx_rings': 28,
  'nmreq_register.nr_host_rx_rings': 30,
  'nmreq_register.nr_mem_id': 32,
  'nmreq_register.nr_ringid': 34,
  'nmreq_register.nr_mode': 36,
  'nmreq_register.nr_extra_bufs': 40,
  'nmreq_register.nr_flags': 48,

  'netmap_if.ni_name': 0,
  'netmap_if.ni_version': 16,
  'netmap_if.ni_flags': 20,
  'netmap_if.ni_tx_rings': 24,
  'netmap_if.ni_rx_rings': 28,
  'netmap_if.ni_bufs_head': 32,
  'netmap_if.ni_host_tx_rings': 36,
  'netmap_if.ni_host_rx_rings': 40,
  'netmap_if.ring_ofs': 56,

  'netmap_ring.buf_ofs': 0,
  'netmap_ring.num_slots': 8,
  'netmap_ring.nr_buf_size': 12,
  'netmap_ring.ringid': 16,
  'netmap_ring.dir': 18,
  'netmap_ring.head': 20,
  'netmap_ring.cur': 24,
  'netmap_ring.tail': 28,
  'netmap_ring.flags': 32,
  'netmap_ring.ts': 40,
  'netmap_ring.slot': 256,

  'netmap_slot.size': 16,
  'netmap_slot.buf_idx': 0,
  'netmap_slot.len': 4,
  'netmap_slot.flags': 6,
  'netmap_slot.ptr': 8,

  NIOCCTRL: 0xc0586997,
  NIOCTXSYNC: 0x6994,
  NIOCRXSYNC: 0x6995,
  NETMAP_API: 14,
};

describe('netmap ABI layout (netmap-abi.md)', () => {
  it('the TypeScript device reads netmap_if, netmap_ring and netmap_slot at the documented offsets', () => {
    const read = Object.keys(NETMAP_DEVICE_LAYOUT);
    for (const key of [
      'netmap_if.ni_tx_rings', 'netmap_if.ni_rx_rings', 'netmap_if.ni_host_tx_rings', 'netmap_if.ni_host_rx_rings',
      'netmap_if.ring_ofs', 'netmap_ring.buf_ofs', 'netmap_ring.num_slots', 'netmap_ring.nr_buf_size',
      'netmap_ring.head', 'netmap_ring.cur', 'netmap_ring.tail', 'netmap_ring.slot',
      'netmap_slot.size', 'netmap_slot.buf_idx', 'netmap_slot.len', 'netmap_slot.flags',
    ]) {
      assert.ok(read.includes(key), `the device reads ${key}`);
    }
    for (const key of read) {
      assert.ok(key in NETMAP_ABI, `${key} is in netmap-abi.md`);
      assert.equal(NETMAP_DEVICE_LAYOUT[key], NETMAP_ABI[key], key);
    }
  });

  describe('the compiled addon', () => {
    let addon: NativeAddon;
    before(function () {
      try {
        addon = loadNative();
      } catch {
        this.skip(); // not built: `npx node-gyp rebuild --nodedir=/usr`
      }
    });

    it('netmapLayout() reports every size, offset and ioctl number of netmap-abi.md', () => {
      const compiled = addon.netmapLayout();
      for (const [key, expected] of Object.entries(NETMAP_ABI)) {
        assert.equal(compiled[key], expected, key);
      }
      assert.deepEqual(Object.keys(compiled).sort(), Object.keys(NETMAP_ABI).sort());
    });
  });
});

import { strict as assert } from 'node:assert';
import {
  NR_EXCLUSIVE, NR_REG_ALL_NIC, NR_REG_NIC_SW, NR_REG_ONE_NIC, NR_REG_ONE_SW, NR_REG_SW, NR_RX_RINGS_ONLY,
  NR_TX_RINGS_ONLY, hasNetmapPrefix, parseNetmapName, registerModeName,
} from '../../../src/phy/netmap-name';
import { netmapPortOptions } from '../../../src/phy/netmap';

describe('netmap port names', () => {
  const accepted: [string, string, number, number, number][] = [
    // argument, name, mode, ringId, flags
    ['eth0', 'eth0', NR_REG_ALL_NIC, 0, 0],
    ['netmap:eth0', 'eth0', NR_REG_ALL_NIC, 0, 0],
    ['netmap:eth0-2', 'eth0', NR_REG_ONE_NIC, 2, 0],
    ['eth0-0', 'eth0', NR_REG_ONE_NIC, 0, 0],
    ['netmap:eth0^', 'eth0', NR_REG_SW, 0, 0],
    ['eth0^1', 'eth0', NR_REG_ONE_SW, 1, 0],
    ['eth0*', 'eth0', NR_REG_NIC_SW, 0, 0],
    ['netmap:eth0/x', 'eth0', NR_REG_ALL_NIC, 0, NR_EXCLUSIVE],
    ['netmap:eth0-3/Rx', 'eth0', NR_REG_ONE_NIC, 3, NR_RX_RINGS_ONLY | NR_EXCLUSIVE],
    ['eth0^/T', 'eth0', NR_REG_SW, 0, NR_TX_RINGS_ONLY],
    ['veth-a', 'veth-a', NR_REG_ALL_NIC, 0, 0],
    ['nrl-veth-b-1', 'nrl-veth-b', NR_REG_ONE_NIC, 1, 0],
    ['vale0:p1', 'vale0:p1', NR_REG_ALL_NIC, 0, 0],
  ];
  for (const [argument, name, mode, ringId, flags] of accepted) {
    it(`reads "${argument}" as ${name}, ${registerModeName(mode)}${ringId > 0 ? ` ring ${ringId}` : ''}`, () => {
      assert.deepEqual(parseNetmapName(argument), { name, mode, ringId, flags });
    });
  }

  const refused: [string, RegExp][] = [
    ['', /name is empty/],
    ['netmap:', /name is empty/],
    ['netmap:-1', /name is empty/],
    ['eth0^x', /unexpected "\^x"/],
    ['eth0**', /unexpected "\*\*"/],
    ['eth0^1*', /unexpected/],
    ['eth0/', /nothing follows "\/"/],
    ['eth0/q', /unknown flag "q"/],
    ['eth0/RT', /exclude each other/],
    ['eth0-5000', /out of range/],
    ['eth0{1', /not an interface name/],
    ['eth 0', /not an interface name/],
    ['netmap:netmap:eth0', /not an interface name/],
    [`netmap:${'e'.repeat(64)}`, /longer than 63 bytes/],
  ];
  for (const [argument, reason] of refused) {
    it(`refuses "${argument.length > 20 ? `${argument.slice(0, 20)}...` : argument}" with an error naming it`, () => {
      assert.throws(() => parseNetmapName(argument), (error: Error) => {
        assert.ok(error.message.includes(`"${argument}"`), error.message);
        assert.match(error.message, reason);
        return true;
      });
    });
  }

  it('knows which arguments are written for netmap', () => {
    assert.equal(hasNetmapPrefix('netmap:eth0'), true);
    assert.equal(hasNetmapPrefix('eth0'), false);
  });

  describe('the register request open() sends', () => {
    it('binds one NIC ring pair for a queue when the name does not choose rings', () => {
      assert.deepEqual(netmapPortOptions('eth0', { queue: 3 }),
        { name: 'eth0', mode: NR_REG_ONE_NIC, ringId: 3, flags: 0, txSlots: 0, rxSlots: 0 });
      assert.deepEqual(netmapPortOptions('netmap:eth0/x', { txSlots: 512, rxSlots: 1024 }),
        { name: 'eth0', mode: NR_REG_ALL_NIC, ringId: 0, flags: NR_EXCLUSIVE, txSlots: 512, rxSlots: 1024 });
    });

    it('refuses a queue that contradicts the rings the name chose', () => {
      assert.deepEqual(netmapPortOptions('eth0-2', { queue: 2 }).ringId, 2);
      assert.throws(() => netmapPortOptions('eth0-2', { queue: 1 }), /cannot also take queue 1/);
      assert.throws(() => netmapPortOptions('eth0^', { queue: 0 }), /already names its rings/);
    });
  });
});

/** Where a call for a session is served: the router's rules, with the leases and the directory faked. */
import { describe, expect, it } from 'vitest';
import type { ReplicaInfo } from '../src/replicas/directory.js';
import type { LeaseHolder } from '../src/replicas/leases.js';
import { SessionRouter } from '../src/replicas/router.js';

function world(opts: { live?: ReplicaInfo[]; holders?: Record<string, string>; load?: number; owned?: string[]; random?: () => number }) {
  const holders = new Map(Object.entries(opts.holders ?? {}));
  const owned = new Set(opts.owned ?? []);
  const bumped: string[] = [];
  const claims: string[] = [];
  const live = opts.live ?? [];
  const router = new SessionRouter({
    replicaId: 'me',
    owns: (s) => owned.has(s),
    load: () => opts.load ?? owned.size,
    claim: async (s) => {
      claims.push(s);
      if (holders.has(s)) return false;
      owned.add(s);
      return true;
    },
    holder: async (s): Promise<LeaseHolder | undefined> => {
      const id = holders.get(s);
      return id === undefined ? undefined : { replicaId: id, token: 1, remainingMs: 1000 };
    },
    directory: {
      live: async () => live,
      addressOf: async (id) => live.find((r) => r.id === id)?.address,
      bump: async (id) => {
        bumped.push(id);
      },
    },
    patienceMs: 300,
    pollMs: 20,
    ...(opts.random ? { random: opts.random } : {}),
  });
  return { router, holders, owned, bumped, claims };
}

const replica = (id: string, sessions: number): ReplicaInfo => ({ id, address: `http://${id}:1`, sessions, expiresAt: 0 });

describe('SessionRouter', () => {
  it('serves here what this replica owns, and forwards what another live replica holds to it', async () => {
    const { router } = world({ owned: ['mine'], holders: { theirs: 'b' }, live: [replica('me', 1), replica('b', 1)] });
    expect(await router.route('mine', 'place')).toEqual({ kind: 'local' });
    expect(await router.route('theirs', 'find')).toEqual({ kind: 'remote', replicaId: 'b', address: 'http://b:1', place: false });
  });

  it('places a free session on the least loaded replica, counting it there at once, or claims it here when this one is as light', async () => {
    const heavy = world({ load: 3, live: [replica('b', 2), replica('c', 1)] });
    expect(await heavy.router.route('new', 'place')).toEqual({ kind: 'remote', replicaId: 'c', address: 'http://c:1', place: true });
    expect(heavy.bumped).toEqual(['c']);
    expect(heavy.claims).toEqual([]);

    const light = world({ load: 1, live: [replica('b', 1), replica('c', 4)] });
    expect(await light.router.route('new', 'place')).toEqual({ kind: 'local' });
    expect(light.claims).toEqual(['new']);
    expect(light.owned.has('new')).toBe(true);
  });

  it('spreads ties at random, and a draining replica places nothing on itself', async () => {
    const tie = world({ load: 5, live: [replica('b', 0), replica('c', 0)], random: () => 0.9 });
    expect(await tie.router.route('new', 'place')).toMatchObject({ replicaId: 'c' });
    const draining = world({ load: 0, live: [replica('b', 7)] });
    draining.router.drain();
    expect(await draining.router.route('new', 'place')).toMatchObject({ kind: 'remote', replicaId: 'b' });
  });

  it('serves a free session here for a read, and claims one placed here rather than placing it again', async () => {
    const { router, claims } = world({ load: 9, live: [replica('b', 0)] });
    expect(await router.route('free', 'find')).toEqual({ kind: 'local' });
    expect(claims).toEqual([]);
    expect(await router.route('placed', 'claim')).toEqual({ kind: 'local' });
    expect(claims).toEqual(['placed']);
  });

  it('follows whoever won a race for a session placed here', async () => {
    const { router, holders } = world({ live: [replica('b', 0)] });
    holders.set('raced', 'b');
    expect(await router.route('raced', 'claim')).toMatchObject({ kind: 'remote', replicaId: 'b', place: false });
  });

  it('waits for the lease of an owner that cannot be reached, then places the session; gives up after its patience', async () => {
    const { router, holders } = world({ live: [replica('dead', 0)] });
    holders.set('orphan', 'dead');
    // 'dead' is unreachable this call: its lease has to run out first.
    setTimeout(() => holders.delete('orphan'), 60);
    expect(await router.route('orphan', 'place', new Set(['dead']))).toEqual({ kind: 'local' });

    holders.set('stuck', 'gone');
    const stuck = await router.route('stuck', 'place');
    expect(stuck.kind).toBe('unavailable');
    if (stuck.kind === 'unavailable') expect(stuck.why).toContain('replica gone');
  });
});

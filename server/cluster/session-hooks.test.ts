/**
 * The session's cluster hooks without Redis: a scripted SessionCluster decides who owns the engine.
 * (The Redis-backed cluster is tested end to end in cluster.test.ts.)
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { DEFAULT_PARAMS } from '../../shared/schema.ts';
import type { FramePayload } from '../../shared/protocol.ts';
import { ImageStore } from '../images/store.ts';
import { FakeEngineHost } from '../session/fake-engine.ts';
import { Session, type SessionCluster, type SessionDeps } from '../session/session.ts';
import { GroupCommit } from '../storage/group-commit.ts';
import { MemoryStorage } from '../storage/memory.ts';
import { waitFor } from '../testing/index.ts';

class ScriptedCluster implements SessionCluster {
  wants = 0;
  releases = 0;
  opened(): void {}
  closed(): void {}
  wantEngine(): void {
    this.wants++;
  }
  releaseEngine(): void {
    this.releases++;
  }
}

const record = (id: string) => ({ id, editorTokenHash: Buffer.alloc(32, 1), viewerTokenHash: Buffer.alloc(32, 2), createdAt: 1 });
const init = { params: { ...DEFAULT_PARAMS, resolution: 64 }, styles: [], content: { background: '#336699', width: 64, height: 48 } };

describe('session cluster hooks', () => {
  const open: { session: Session; host: FakeEngineHost }[] = [];
  afterEach(async () => {
    for (const { session, host } of open.splice(0)) {
      await session.close();
      await host.close();
    }
  });

  async function make(storage = new MemoryStorage(), id = 'hooks0001', create = true) {
    const cluster = new ScriptedCluster();
    const host = new FakeEngineHost({ frameRate: 20, frameQuality: 60 });
    const deps: SessionDeps = { storage, commits: new GroupCommit(storage), images: new ImageStore(storage), engineHost: host, idlePauseMs: 60_000, keyframeIntervalMs: 100_000, cluster };
    const session = create ? await Session.create(record(id), deps, init) : await Session.load((await storage.getSession(id))!, deps);
    open.push({ session, host });
    return { session, cluster, storage, host };
  }

  test('C2: without the lease the session asks for it and runs no engine; once granted it runs, and it releases when closed', async () => {
    const { session, cluster } = await make();
    const frames: FramePayload[] = [];
    session.subscribe({ frame: (f) => frames.push(f) });
    const release = session.attach('socket');
    assert.ok(cluster.wants >= 1, 'asked for the lease');
    assert.equal(session.ownsEngine, false);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(frames.length, 0, 'no frames without the lease');
    session.grantEngine(5);
    await waitFor(() => frames.length > 0, 5_000, 'frames once the lease is granted');
    release();
    await session.close();
    assert.ok(cluster.releases >= 1, 'the lease is given back on close');
  });

  test('C3: a keyframe refused for a stale fencing token stops the engine and asks for the lease again', async () => {
    const { session, cluster, storage } = await make(new MemoryStorage(), 'hooks0002');
    const frames: FramePayload[] = [];
    session.subscribe({ frame: (f) => frames.push(f) });
    session.attach('socket');
    session.grantEngine(5);
    await waitFor(() => frames.length > 0, 5_000, 'frames');
    // A newer owner stored a keyframe with a higher token.
    await storage.putKeyframe({ sessionId: 'hooks0002', iter: 1, width: 1, height: 1, mime: 'image/jpeg', data: Buffer.from([1]), losses: { total: 1, style: 1, content: 1, tv: 1 }, time: 1, fencingToken: 9 });
    const wantsBefore = cluster.wants;
    await session.saveKeyframe();
    assert.equal(session.ownsEngine, false, 'the stale owner stepped down');
    assert.equal((await storage.latestKeyframe('hooks0002'))?.iter, 1, "the newer owner's keyframe stands");
    assert.ok(cluster.wants > wantsBefore, 'it waits for the lease again');
    const n = frames.length;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(frames.length, n, 'no frames from the stepped-down engine');
  });

  test("C2: a follower applies remote updates without storing them, relays the owner's frames, and mirrors its state", async () => {
    const storage = new MemoryStorage();
    const owner = await make(storage, 'hooks0003');
    const follower = await make(storage, 'hooks0003', false);
    const stored = (await storage.loadUpdates('hooks0003')).length;
    let relayed = 0;
    follower.session.subscribe({ durableUpdate: () => relayed++ });
    const edit = new Y.Doc();
    Y.applyUpdate(edit, Y.encodeStateAsUpdate(owner.session.doc));
    const before = Y.encodeStateVector(edit);
    edit.getMap('params').set('styleWeight', 9);
    await follower.session.applyRemoteUpdate(Y.encodeStateAsUpdate(edit, before));
    assert.equal(follower.session.validator.state().params.styleWeight, 9, 'validated into the engine-facing state');
    await new Promise((r) => setTimeout(r, 40)); // a group commit window
    assert.equal((await storage.loadUpdates('hooks0003')).length, stored, 'not stored again');
    assert.equal(relayed, 0, 'not relayed again (the writer relayed it)');

    const frames: FramePayload[] = [];
    follower.session.subscribe({ frame: (f) => frames.push(f) });
    const frame: FramePayload = { iter: 42, w: 1, h: 1, mime: 'image/jpeg', losses: { total: 1, style: 1, content: 1, tv: 1 }, stepsPerSec: 3, backend: 'fake', data: new Uint8Array([1]) };
    follower.session.applyRemoteFrame(frame);
    assert.equal(frames.length, 1);
    assert.equal(follower.session.latestFrame?.iter, 42);
    follower.session.applyRemoteState('paused');
    assert.equal(follower.session.state, 'paused');

    // A stored update the follower never received arrives with catch-up, relayed to its clients.
    const missed = new Y.Doc();
    Y.applyUpdate(missed, Y.encodeStateAsUpdate(edit));
    const sv = Y.encodeStateVector(missed);
    missed.getMap('params').set('tvWeight', 4);
    await storage.appendUpdates([{ sessionId: 'hooks0003', update: Y.encodeStateAsUpdate(missed, sv), author: 'dead#1', time: 2 }]);
    await follower.session.catchUp();
    assert.equal(follower.session.validator.state().params.tvWeight, 4);
    assert.equal(relayed, 1, 'the caught-up change is relayed to local clients');
  });
});

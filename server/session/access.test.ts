/** One authorisation (session/access.ts) for REST and sockets: statuses, codes and wording. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, bearer } from '../../shared/protocol.ts';
import { AccessDenied, authorizeAccess, requestToken, storedSessionLookup, type SessionLookup } from './access.ts';
import { hashToken } from './session-manager.ts';
import type { SessionRecord } from '../storage/types.ts';

const denied = (status: number, code: ErrorCode, message: RegExp) => (e: unknown) =>
  e instanceof AccessDenied && e.status === status && e.code === code && message.test(e.message);

describe('access', () => {
  test('S3, S17: the token comes from a Bearer header, else from ?token=', () => {
    assert.equal(requestToken(bearer('abc-_1').authorization, 'q'), 'abc-_1', 'the header clients build (shared bearer) is the one the server reads');
    assert.equal(requestToken('Bearer abc', 'q'), 'abc');
    assert.equal(requestToken('bearer  abc', undefined), 'abc');
    assert.equal(requestToken('Basic abc', 'q'), 'q');
    assert.equal(requestToken(undefined, ['a', 'b']), undefined);
  });

  test('S3: each refusal has its status, code and wording', async () => {
    const lookup: SessionLookup<{ role: 'editor' | 'viewer' }> = async (id, token) =>
      id === 'busy' ? { error: 'too-many-sessions' } : id !== 'known' ? { error: 'unknown-session' } : token === 'ed' ? { role: 'editor' } : token === 'vw' ? { role: 'viewer' } : { error: 'bad-token' };
    await assert.rejects(authorizeAccess(lookup, 'known', undefined, 'viewer'), denied(401, ErrorCode.Unauthorized, /Authorization: Bearer <token> or \?token=/));
    await assert.rejects(authorizeAccess(lookup, 'nope', 'ed', 'viewer'), denied(404, ErrorCode.UnknownSession, /^unknown session 'nope'$/));
    await assert.rejects(authorizeAccess(lookup, 'known', 'x', 'viewer'), denied(401, ErrorCode.Unauthorized, /not valid for session 'known'/));
    await assert.rejects(authorizeAccess(lookup, 'busy', 'ed', 'viewer'), denied(503, ErrorCode.TooManySessions, /maximum of live sessions/));
    await assert.rejects(authorizeAccess(lookup, 'known', 'vw', 'editor'), denied(403, ErrorCode.Forbidden, /needs the editor token/));
    assert.deepEqual(await authorizeAccess(lookup, 'known', 'vw', 'viewer'), { role: 'viewer' });
    assert.deepEqual(await authorizeAccess(lookup, 'known', 'ed', 'editor'), { role: 'editor' });
  });

  test('S3: the stored lookup reads storage only, and knows both tokens', async () => {
    const record = { id: 'stored-01', editorTokenHash: hashToken('ed'), viewerTokenHash: hashToken('vw') } as SessionRecord;
    const reads: string[] = [];
    const lookup = storedSessionLookup(async (id) => (reads.push(id), id === record.id ? record : undefined));
    assert.equal((await authorizeAccess(lookup, record.id, 'ed', 'editor')).role, 'editor');
    assert.equal((await authorizeAccess(lookup, record.id, 'vw', 'viewer')).record, record);
    await assert.rejects(authorizeAccess(lookup, 'bad id!', 'ed', 'viewer'), denied(404, ErrorCode.UnknownSession, /unknown session/));
    assert.ok(!reads.includes('bad id!'), 'a malformed id is refused before any read');
  });
});

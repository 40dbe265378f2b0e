import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, PROTOCOL_VERSION, incompatibleClientMessage, protocolCompatible } from '../../../shared/protocol.ts';
import { fatalText } from './fatal-error.ts';

describe('the error screen for links that cannot work', () => {
  test('C94: a wrong token, an unknown session and a full session each say what happened and what to do', () => {
    const wrong = fatalText(ErrorCode.Unauthorized, 'abc123', 'editor')!;
    assert.match(wrong.title, /token is not valid/);
    assert.match(wrong.detail, /abc123/);
    assert.ok(wrong.todo.some((t) => /whole link/.test(t)));
    assert.equal(wrong.retry, false);
    assert.match(fatalText(ErrorCode.UnknownSession, 'abc123', 'projector')!.title, /no session abc123/);
    const full = fatalText(ErrorCode.TooManyClients, 'abc123', 'editor')!;
    assert.equal(full.retry, true, 'a full session may have room in a minute');
    assert.match(fatalText(ErrorCode.Unauthorized, 'x', 'replay')!.detail, /the replay/);
  });

  test('C27/S32: a page of another protocol version is told to reload, and the server\'s message names both versions', () => {
    const t = fatalText(ErrorCode.IncompatibleClient, 'abc123', 'editor')!;
    assert.match(t.title, /reload/);
    assert.equal(t.retry, true, 'the button reloads the page');
    assert.match(incompatibleClientMessage(1), /protocol 1 .*protocol 2.*reload/);
    assert.equal(protocolCompatible(PROTOCOL_VERSION), true);
    assert.equal(protocolCompatible(PROTOCOL_VERSION - 1), false);
    assert.equal(protocolCompatible(PROTOCOL_VERSION + 1), false);
  });

  test('C94: errors that are retried or shown briefly get no screen', () => {
    for (const code of [ErrorCode.ReadOnly, ErrorCode.InvalidValue, ErrorCode.RateLimited, ErrorCode.TooManySessions, 'HTTP_500']) {
      assert.equal(fatalText(code, 's', 'editor'), null, code);
    }
  });
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../shared/protocol.ts';
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

  test('C94: errors that are retried or shown briefly get no screen', () => {
    for (const code of [ErrorCode.ReadOnly, ErrorCode.InvalidValue, ErrorCode.RateLimited, ErrorCode.TooManySessions, 'HTTP_500']) {
      assert.equal(fatalText(code, 's', 'editor'), null, code);
    }
  });
});

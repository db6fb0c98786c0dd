// Tests renderEffectiveConfig() and formatDuration().
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/parse.ts';
import { formatDuration, renderEffectiveConfig } from '../../../src/config/render.ts';
import { resolveNode } from '../../../src/config/resolve.ts';

const FIXTURES = new URL('../../../../test/fixtures/config/valid/', import.meta.url);
const SPEC_CONFIG = parseConfig(readFileSync(new URL('spec-example.toml', FIXTURES), 'utf8'), 'spec.toml');

describe('renderEffectiveConfig', () => {
  const text = renderEffectiveConfig(resolveNode(SPEC_CONFIG, 'web2'));

  it('names the node, its listen address and expanded tls paths', () => {
    assert.match(text, /^node +web2 \(listens on 10\.0\.0\.12:30865\)$/m);
    assert.match(text, /^tls cert +\/etc\/csync\/tls\/web2\.crt$/m);
  });
  it('shows each root with its expansion for this node', () => {
    assert.match(text, /^ +%www%\/htdocs -> \/export\/www\/htdocs$/m);
  });
  it('shows peers with receive-only markers and defaults', () => {
    assert.match(text, /web3 10\.0\.0\.13:30866 \(receive-only\)/);
    assert.match(text, /^ +max_delete +50%$/m);
    assert.match(text, /^ +check every +1h$/m);
    assert.match(text, /\[check: nginx -t\] nginx -s reload \(on receivers and the originating node, timeout 5m/);
  });
  it('ends with a newline', () => {
    assert.ok(text.endsWith('\n'));
  });
});

describe('formatDuration', () => {
  it('uses the largest exact unit', () => {
    assert.deepEqual([86_400_000, 5_400_000, 90_000, 1500, 0].map(formatDuration), ['1d', '90m', '90s', '1500ms', '0ms']);
  });
});

// Micro-benchmark: encoding and decoding offers (src/protocol/messages.ts + frame.ts), ops/s and MB/s.
import { decodeMessage, encodeMessage } from '../src/protocol/messages.ts';
import type { Message } from '../src/protocol/messages.ts';
import { encodeFrame, FrameDecoder } from '../src/protocol/frame.ts';
import { seededBytes } from './lib/util.ts';

const offer = (n: number, content: Uint8Array): Message => ({
  type: 'offer', id: n, group: 'web', root: '%www%/htdocs', rel: `assets/d${n % 200}/f${n}.css`, force: false, content,
  state: { kind: 'file', size: content.length, mtimeNs: '1795389578492591000', mode: 0o644, uid: 33, gid: 33, hash: '0123456789abcdef', version: { web1: n + 1, web2: 3 }, origin: 'web1', changedAtMs: 1795389578492 },
});
for (const size of [0, 4096, 65536]) {
  const content = seededBytes(size, 3);
  const n = size === 0 ? 200_000 : 50_000;
  let bytes = 0;
  const t0 = performance.now();
  const dec = new FrameDecoder();
  for (let i = 0; i < n; i++) {
    const frame = encodeFrame(encodeMessage(offer(i, content)));
    bytes += frame.length;
    dec.push(frame);
    const body = dec.next();
    if (body) decodeMessage(body);
  }
  const s = (performance.now() - t0) / 1000;
  process.stdout.write(`offer with ${size} B inline: ${(n / s).toFixed(0)} encode+decode/s, ${(bytes / s / 1e6).toFixed(0)} MB/s\n`);
}

// Block delta for changed large files (docs/semantics.md "Update pass", issue 5 item 3): the receiver hashes its current
// file in fixed-size blocks, the sender sends only the blocks whose hash differs at the same offset,
// and the receiver rebuilds the new content from its old file plus those blocks. Memory stays
// bounded on both sides (one read chunk, one block); the whole-file hash is checked by applyFile().
import { CsyncError } from '../core/errors.ts';
import type { FileSystem } from '../fs/filesystem.ts';
import { BLOCK_HASH_BYTES, MAX_BLOCK_BYTES, MAX_BLOCK_COUNT, MIN_BLOCK_BYTES } from '../protocol/messages.ts';
import type { Hasher } from '../scanner/hasher.ts';

/** The receiver's block hashes of its current file, as carried by a `need` reply. */
export interface BlockSignatures {
  /** Block i covers bytes [i × blockBytes, (i + 1) × blockBytes) of the file (the last may be shorter). */
  readonly blockBytes: number;
  /** xxh64 of each block, 8 bytes big-endian per block, in block order. */
  readonly hashes: Uint8Array;
}

/** Bytes of the new file at `offset` (one `data` frame of a delta transfer). */
export interface DeltaBlock {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** A receiver asks for a delta only when its current file is at least this large. */
export const DELTA_MIN_BYTES = 256 * 1024;
/** Block size is chosen so a file has about this many blocks (64 KiB of hashes on the wire). */
const TARGET_BLOCKS = 8192;
/** Smallest block size picked (the wire allows down to MIN_BLOCK_BYTES). */
const PICK_MIN_BLOCK_BYTES = 64 * 1024;
/** Files are read in chunks of this size (a multiple of every block size), then cut into blocks. */
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * The block size for a file of `sizeBytes`: the smallest power of two ≥ 64 KiB giving at most
 * 8192 blocks, capped at MAX_BLOCK_BYTES (1 MiB); undefined when even 1 MiB blocks would exceed
 * MAX_BLOCK_COUNT (files over 256 GiB are sent whole).
 */
export function pickBlockBytes(sizeBytes: number): number | undefined {
  let block = PICK_MIN_BLOCK_BYTES;
  while (block < MAX_BLOCK_BYTES && Math.ceil(sizeBytes / block) > TARGET_BLOCKS) block *= 2;
  return Math.ceil(sizeBytes / block) > MAX_BLOCK_COUNT ? undefined : block;
}

/** Number of blocks of `blockBytes` covering `sizeBytes`. */
export function blockCount(sizeBytes: number, blockBytes: number): number {
  return Math.ceil(sizeBytes / blockBytes);
}

/** Hashes the file at `abs` block by block (one block in memory at a time). */
export async function blockSignatures(fs: FileSystem, hasher: Hasher, abs: string, blockBytes: number): Promise<BlockSignatures> {
  checkBlockBytes(blockBytes);
  const st = fs.lstat(abs);
  if (st?.kind !== 'file') throw new CsyncError('CSYNC_IO', `block hashes of ${JSON.stringify(abs)}: not a regular file`);
  const count = blockCount(st.sizeBytes, blockBytes);
  if (count > MAX_BLOCK_COUNT) throw new Error(`bug: ${count} blocks of ${blockBytes} bytes exceed MAX_BLOCK_COUNT`);
  // Room for one block more than lstat saw: a file that grew meanwhile fails below, not out of bounds.
  const hashes = new Uint8Array((count + 1) * BLOCK_HASH_BYTES);
  let i = 0;
  for await (const block of exactChunks(fs.readChunks(abs, READ_CHUNK_BYTES), blockBytes)) {
    if (i > count) break;
    putHash(hashes, i++, hasher.hashBytes(block));
  }
  if (i !== count) {
    throw new CsyncError('CSYNC_IO', `block hashes of ${JSON.stringify(abs)}: the file changed while it was read`, {
      hint: 'the next update retries it',
    });
  }
  return { blockBytes, hashes: hashes.subarray(0, count * BLOCK_HASH_BYTES) };
}

/**
 * The receiver's side of the decision: block hashes of its current file at `abs` when a delta is
 * worth asking for (a regular file of at least DELTA_MIN_BYTES, and a block size exists for the
 * larger of the two sizes), else undefined (the sender then streams the whole file). A file that
 * changes or cannot be read while it is hashed also gives undefined: the whole file is always a
 * correct answer.
 */
export async function deltaSignatures(fs: FileSystem, hasher: Hasher, abs: string, newSizeBytes: number): Promise<BlockSignatures | undefined> {
  const st = fs.lstat(abs);
  if (st?.kind !== 'file' || st.sizeBytes < DELTA_MIN_BYTES) return undefined;
  const blockBytes = pickBlockBytes(Math.max(st.sizeBytes, newSizeBytes));
  if (blockBytes === undefined) return undefined;
  try {
    return await blockSignatures(fs, hasher, abs, blockBytes);
  } catch (err) {
    // Safe to fall back: the delta is an optimisation; the whole-file transfer needs no old content.
    if (err instanceof CsyncError && err.code === 'CSYNC_IO') return undefined;
    throw err;
  }
}

/**
 * The sender's side: reads the file at `abs` block by block and yields every block whose hash
 * differs from the receiver's at the same index, or that lies past the receiver's blocks.
 */
export async function* changedBlocks(fs: FileSystem, hasher: Hasher, abs: string, remote: BlockSignatures): AsyncIterable<DeltaBlock> {
  checkBlockBytes(remote.blockBytes);
  const remoteCount = remote.hashes.length / BLOCK_HASH_BYTES;
  let i = 0;
  for await (const block of exactChunks(fs.readChunks(abs, READ_CHUNK_BYTES), remote.blockBytes)) {
    if (i >= remoteCount || !hashEquals(remote.hashes, i, hasher.hashBytes(block))) {
      yield { offset: i * remote.blockBytes, bytes: block };
    }
    i++;
  }
}

/**
 * The sender's fallback when it has no changedBlocks source (e.g. a wrapped channel): the whole
 * content as delta blocks at consecutive offsets. Always valid, never smaller.
 */
export async function* allBlocks(chunks: AsyncIterable<Uint8Array>): AsyncIterable<DeltaBlock> {
  let offset = 0;
  for await (const bytes of chunks) {
    yield { offset, bytes };
    offset += bytes.length;
  }
}

/**
 * The receiver's side: the new file's content, in order, built from `incoming` blocks (offsets
 * increasing, not overlapping, within `newSizeBytes`) and, for every byte range they leave
 * uncovered, the bytes at the same offset of the old file at `oldAbs`, which is read sequentially
 * in bounded chunks and must still be in place while this runs. Feed the result to applyFile(),
 * which hashes it, checks the whole-file hash and size, and only then replaces the old file.
 * Throws CSYNC_PROTO_INVALID_MESSAGE for out-of-order or out-of-range blocks and CSYNC_IO when the
 * old file is shorter than the ranges to copy.
 */
export async function* reconstruct(
  fs: FileSystem, oldAbs: string, newSizeBytes: number, incoming: AsyncIterable<DeltaBlock>,
): AsyncIterable<Uint8Array> {
  const old = new SequentialReader(fs.readChunks(oldAbs, READ_CHUNK_BYTES), oldAbs);
  try {
    let pos = 0;
    for await (const block of incoming) {
      const end = block.offset + block.bytes.length;
      if (block.offset < pos || end > newSizeBytes) {
        throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE',
          `delta block [${block.offset}, ${end}) is out of order or past the new size ${newSizeBytes} (next offset ${pos})`);
      }
      yield* old.copyTo(block.offset);
      await old.skipTo(end);
      if (block.bytes.length > 0) yield block.bytes;
      pos = end;
    }
    yield* old.copyTo(newSizeBytes);
  } finally {
    await old.close();
  }
}

/** Reads a file front to back: copy a range out, or skip over one. Holds at most one chunk. */
class SequentialReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private readonly abs: string;
  private chunk: Uint8Array = new Uint8Array(0);
  private chunkPos = 0;
  /** File offset of chunk[chunkPos]. */
  private pos = 0;

  constructor(source: AsyncIterable<Uint8Array>, abs: string) {
    this.it = source[Symbol.asyncIterator]();
    this.abs = abs;
  }

  /** Yields the bytes from the current position up to `target` (views of the read chunks). */
  async *copyTo(target: number): AsyncIterable<Uint8Array> {
    while (this.pos < target) {
      const piece = await this.take(target - this.pos);
      yield piece;
    }
  }

  /** Advances to `target` without yielding; the file may end first (received bytes past its end). */
  async skipTo(target: number): Promise<void> {
    while (this.pos < target) {
      if (this.chunkPos >= this.chunk.length && !(await this.refill())) {
        this.pos = target;
        return;
      }
      await this.take(target - this.pos);
    }
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }

  /** Reads the next chunk; false at the end of the file. */
  private async refill(): Promise<boolean> {
    const next = await this.it.next();
    if (next.done === true) return false;
    this.chunk = next.value;
    this.chunkPos = 0;
    return true;
  }

  /** Up to `max` bytes from the current position; throws when the file ends first. */
  private async take(max: number): Promise<Uint8Array> {
    if (this.chunkPos >= this.chunk.length && !(await this.refill())) {
      throw new CsyncError('CSYNC_IO', `delta source ${JSON.stringify(this.abs)}: ends before byte ${this.pos}, which is not in the received blocks`, {
        hint: 'the file changed on this node during the transfer; the next update retries it',
      });
    }
    const n = Math.min(max, this.chunk.length - this.chunkPos);
    const piece = this.chunk.subarray(this.chunkPos, this.chunkPos + n);
    this.chunkPos += n;
    this.pos += n;
    return piece;
  }
}

/**
 * Re-cuts a chunk stream into chunks of exactly `size` bytes (the last may be shorter). Whole
 * pieces of a chunk are yielded as views of it (the source must not reuse its buffers, which no
 * FileSystem.readChunks does); only a piece spanning two chunks is copied.
 */
export async function* exactChunks(source: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Uint8Array> {
  let carry: Uint8Array | undefined;
  let fill = 0;
  for await (const chunk of source) {
    let off = 0;
    if (carry !== undefined) {
      off = Math.min(size - fill, chunk.length);
      carry.set(chunk.subarray(0, off), fill);
      fill += off;
      if (fill < size) continue;
      yield carry;
      carry = undefined;
      fill = 0;
    }
    for (; chunk.length - off >= size; off += size) yield chunk.subarray(off, off + size);
    if (off < chunk.length) {
      carry = new Uint8Array(size);
      carry.set(chunk.subarray(off));
      fill = chunk.length - off;
    }
  }
  if (carry !== undefined) yield carry.subarray(0, fill);
}

function checkBlockBytes(blockBytes: number): void {
  const pow2 = Number.isSafeInteger(blockBytes) && blockBytes > 0 && (blockBytes & (blockBytes - 1)) === 0;
  if (!pow2 || blockBytes < MIN_BLOCK_BYTES || blockBytes > MAX_BLOCK_BYTES) throw new Error(`bug: invalid block size ${blockBytes}`);
}

/** Stores a 16-hex-digit xxh64 as 8 big-endian bytes at block index `i`. */
function putHash(out: Uint8Array, i: number, hex: string): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(i * BLOCK_HASH_BYTES, parseInt(hex.slice(0, 8), 16), false);
  view.setUint32(i * BLOCK_HASH_BYTES + 4, parseInt(hex.slice(8, 16), 16), false);
}

/** True when block `i` of `hashes` equals the 16-hex-digit xxh64 `hex`. */
function hashEquals(hashes: Uint8Array, i: number, hex: string): boolean {
  const view = new DataView(hashes.buffer, hashes.byteOffset, hashes.byteLength);
  return view.getUint32(i * BLOCK_HASH_BYTES, false) === parseInt(hex.slice(0, 8), 16)
    && view.getUint32(i * BLOCK_HASH_BYTES + 4, false) === parseInt(hex.slice(8, 16), 16);
}

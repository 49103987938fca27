/**
 * A video host for storage tests: serves generated MP4 files (the simulator's playable clip,
 * SERVED_CLIP, then a free box holding the rest) and every way a download can go wrong (no ftyp, body cut off, wrong or no
 * Content-Length, error statuses, redirects, a stall). Bytes are generated on the fly, so a 200 MB
 * video costs no memory on the serving side.
 */
import { createHash } from 'node:crypto';
import http, { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ClipSpec, simClip } from '../../src/sim/kieSimClip';
import { paddedHead } from '../../src/sim/kieSimVideo';

/** What every served MP4 is, before its padding. */
export const SERVED_CLIP: ClipSpec = { aspectRatio: '16:9', seconds: 8, sound: true };

export interface VideoBytes {
  size: number;
  /** Default true: an MP4's boxes (bytes 4..7 "ftyp"); false: bytes that are not an MP4. */
  ftyp?: boolean;
  /** An MP4 that is not whole, whatever its length: its mdat declares 1000 bytes more than the file has, or it has no moov. */
  broken?: 'short-mdat' | 'no-moov';
}

export type VideoRoute =
  | ({
      kind: 'video';
      /** Default: the true size; 'none': no length and no chunks, the body ends when the connection closes. */
      contentLength?: number | 'none';
      /** End the connection after this many bytes: a reset, or with contentLength 'none' a clean close. */
      cutAfter?: number;
    } & VideoBytes)
  | { kind: 'status'; status: number }
  | { kind: 'redirect'; location: string; status?: number }
  /** Headers and the first bytes (`after`, default 1024), then silence. */
  | { kind: 'stall'; size: number; after?: number };

export interface VideoServer {
  origin: string;
  port: number;
  /** Paths (with query) of every request received, in order. */
  requests: string[];
  route(path: string, route: VideoRoute): void;
  close(): Promise<void>;
}

const BLOCK_SIZE = 1024 * 1024;
let block: Buffer | undefined;

/** 1 MiB of hash output, built once: incompressible and deterministic. */
function baseBlock(): Buffer {
  if (!block) {
    block = Buffer.alloc(BLOCK_SIZE);
    for (let i = 0; i < BLOCK_SIZE / 32; i++)
      createHash('sha256')
        .update(`block-${i}`)
        .digest()
        .copy(block, i * 32);
  }
  return block;
}

function box(type: string, size: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(size, 0);
  header.write(type, 4, 'latin1');
  return header;
}

/** The first bytes of a file of `size` bytes; the rest is filler inside its last box. */
function head({ size, ftyp = true, broken }: VideoBytes): Buffer {
  if (!ftyp) return Buffer.from([0, 0, 0, 0x18, ...Buffer.from('moovabcd')]);
  const clip = simClip(SERVED_CLIP);
  const moovAt = clip.indexOf('moov') - 4;
  const mdatAt = clip.indexOf('mdat') - 4;
  if (broken === 'short-mdat') return Buffer.concat([clip.subarray(0, mdatAt), box('mdat', size - mdatAt + 1000)]);
  if (broken === 'no-moov') return Buffer.concat([clip.subarray(0, moovAt), box('mdat', size - moovAt)]);
  return paddedHead(clip, size);
}

/** The video's bytes in 1 MiB chunks; each chunk is stamped with its index, so parts cannot be swapped unseen. */
export function* videoChunks(bytes: VideoBytes): Generator<Buffer> {
  const { size } = bytes;
  for (let offset = 0, index = 0; offset < size; offset += BLOCK_SIZE, index++) {
    const chunk = Buffer.from(baseBlock().subarray(0, Math.min(BLOCK_SIZE, size - offset)));
    if (index === 0) head(bytes).copy(chunk);
    else if (chunk.length >= 4) chunk.writeUInt32BE(index, 0);
    yield chunk;
  }
}

export function videoSha256(bytes: VideoBytes): string {
  const hash = createHash('sha256');
  for (const chunk of videoChunks(bytes)) hash.update(chunk);
  return hash.digest('hex');
}

export function videoBuffer(bytes: VideoBytes): Buffer {
  return Buffer.concat([...videoChunks(bytes)]);
}

/** Writes with backpressure; stops at `limit` bytes. */
async function writeVideo(res: ServerResponse, bytes: VideoBytes, limit = Infinity): Promise<void> {
  let sent = 0;
  for (const chunk of videoChunks(bytes)) {
    const part = chunk.subarray(0, Math.max(0, limit - sent));
    if (part.length === 0) return;
    sent += part.length;
    if (!res.write(part)) await new Promise((resolve) => res.once('drain', resolve));
    if (res.destroyed) return;
  }
}

export async function startVideoServer(): Promise<VideoServer> {
  const routes = new Map<string, VideoRoute>();
  const requests: string[] = [];
  const server = http.createServer(async (req, res) => {
    requests.push(req.url ?? '');
    const route = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!route) return res.writeHead(404).end();
    switch (route.kind) {
      case 'status':
        return res.writeHead(route.status).end('no');
      case 'redirect':
        return res.writeHead(route.status ?? 302, { location: route.location }).end();
      case 'stall':
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': route.size });
        return writeVideo(res, route, route.after ?? 1024);
      case 'video': {
        const length = route.contentLength ?? route.size;
        // Without a length, no chunks either: as an HTTP/1.0-style server, the close ends the body.
        if (length === 'none') res.useChunkedEncodingByDefault = false;
        res.writeHead(200, { 'content-type': 'video/mp4', ...(length === 'none' ? { connection: 'close' } : { 'content-length': length }) });
        if (route.cutAfter !== undefined) {
          await writeVideo(res, route, route.cutAfter);
          return length === 'none' ? res.end() : res.destroy();
        }
        await writeVideo(res, route);
        // A shorter body than announced: end the socket, as a dying server would.
        if (typeof length === 'number' && length > route.size) return res.destroy();
        return res.end();
      }
    }
  });
  // Longer than a benchmark's pause between two downloads: a keep-alive socket the server closes
  // just as the client reuses it ends the next download with ECONNRESET.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    route: (path, route) => void routes.set(path, route),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

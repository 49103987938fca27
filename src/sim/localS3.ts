/**
 * An S3 server on loopback for tests and the demo: s3rver (files on disk), served by our own
 * HTTP server so it can be stopped and restarted on the same port with its data (outage tests).
 *
 * s3rver 3.7 lacks two multipart calls that the storage code relies on: AbortMultipartUpload
 * (it answers 405) and ListMultipartUploads (501). They are answered here, path-style only and
 * without signature checks, from s3rver's on-disk layout (`<dir>/<bucket>/._S3rver_uploads/<id>/`
 * holding `key` and the parts), so a test can prove that a failed upload leaves no parts behind.
 * It also answers a part sent to an aborted upload with NoSuchUpload, as S3 does, where s3rver
 * would throw.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http, { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

export interface LocalS3Options {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Where objects live; a fresh temporary directory (removed by close) when omitted. */
  directory?: string;
  buckets?: string[];
  /** Default true: s3rver logs every request otherwise. */
  silent?: boolean;
}

export interface LocalS3 {
  /** http://127.0.0.1:PORT, for S3_ENDPOINT (path-style). Credentials: S3RVER / S3RVER. */
  endpoint: string;
  directory: string;
  /** Stops the server; removes the directory if startLocalS3 created it. */
  close(): Promise<void>;
  /** Stops answering (open connections are cut), keeping the data and the port. */
  stop(): Promise<void>;
  restart(): Promise<void>;
}

const UPLOADS_DIR = '._S3rver_uploads';

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const NO_SUCH_UPLOAD = '<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>';

function noSuchUpload(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'application/xml' }).end(NO_SUCH_UPLOAD);
}

async function listMultipartUploads(directory: string, bucket: string, res: ServerResponse): Promise<void> {
  const root = path.join(directory, bucket, UPLOADS_DIR);
  const ids = await readdir(root).catch(() => [] as string[]);
  const uploads = await Promise.all(
    ids.map(async (id) => {
      const key = await readFile(path.join(root, id, 'key'), 'utf8').catch(() => '');
      return `<Upload><Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId></Upload>`;
    }),
  );
  res
    .writeHead(200, { 'content-type': 'application/xml' })
    .end(
      `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${escapeXml(bucket)}</Bucket>` +
        `<IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`,
    );
}

/**
 * Multipart calls s3rver lacks, and the one race it gets wrong: s3rver writes and reads parts in
 * the upload's directory, and throws (uncaught, no answer) when an abort removed it meanwhile. S3
 * answers NoSuchUpload instead, so here an abort waits for the part requests already under way,
 * and later ones for that upload get NoSuchUpload.
 */
class MultipartShim {
  private readonly aborted = new Set<string>();
  private readonly inFlight = new Map<string, { count: number; drained: Array<() => void> }>();

  constructor(private readonly directory: string) {}

  /** Answers the calls s3rver lacks and guards the ones it has; false when s3rver should answer. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://local');
    const [bucket, ...keyParts] = url.pathname.split('/').filter(Boolean);
    const uploadId = url.searchParams.get('uploadId');
    if (!bucket) return false;
    if (uploadId !== null && keyParts.length > 0 && (req.method === 'PUT' || req.method === 'POST')) {
      if (this.aborted.has(uploadId)) {
        req.resume();
        noSuchUpload(res);
        return true;
      }
      this.track(uploadId, res);
      return false;
    }
    let answer: Promise<void> | undefined;
    if (req.method === 'DELETE' && keyParts.length > 0 && uploadId !== null) {
      answer = this.abort(decodeURIComponent(bucket), uploadId, res);
    } else if (req.method === 'GET' && keyParts.length === 0 && url.searchParams.has('uploads')) {
      answer = listMultipartUploads(this.directory, decodeURIComponent(bucket), res);
    }
    if (!answer) return false;
    req.resume();
    answer.catch((err: Error) => res.writeHead(500).end(err.message));
    return true;
  }

  private track(uploadId: string, res: ServerResponse): void {
    const entry = this.inFlight.get(uploadId) ?? { count: 0, drained: [] };
    entry.count += 1;
    this.inFlight.set(uploadId, entry);
    res.once('close', () => {
      entry.count -= 1;
      if (entry.count > 0) return;
      this.inFlight.delete(uploadId);
      for (const resolve of entry.drained.splice(0)) resolve();
    });
  }

  private async abort(bucket: string, uploadId: string, res: ServerResponse): Promise<void> {
    // The id is used as a directory name: accept only what s3rver itself generates (hex).
    if (!/^[0-9a-f]+$/.test(uploadId)) return noSuchUpload(res);
    this.aborted.add(uploadId);
    const entry = this.inFlight.get(uploadId);
    if (entry) await new Promise<void>((resolve) => entry.drained.push(resolve));
    await rm(path.join(this.directory, bucket, UPLOADS_DIR, uploadId), { recursive: true, force: true });
    res.writeHead(204).end();
  }
}

export async function startLocalS3(opts: LocalS3Options = {}): Promise<LocalS3> {
  const ownsDirectory = opts.directory === undefined;
  const directory = opts.directory ?? (await mkdtemp(path.join(tmpdir(), 'local-s3-')));
  const s3rver = new S3rver({
    directory,
    silent: opts.silent ?? true,
    configureBuckets: (opts.buckets ?? []).map((name) => ({ name })),
  });
  await s3rver.configureBuckets();
  const handle = s3rver.callback();
  const multipart = new MultipartShim(directory);
  const server = http.createServer((req, res) => {
    if (!multipart.handle(req, res)) handle(req, res);
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const port = await listen(opts.port ?? 0);

  const stop = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Idle keep-alive sockets would otherwise keep serving the SDK: an outage must be an outage.
    server.closeAllConnections();
    await closed;
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    directory,
    stop,
    restart: async () => {
      await stop();
      await listen(port);
    },
    close: async () => {
      await stop();
      if (ownsDirectory) await rm(directory, { recursive: true, force: true });
    },
  };
}

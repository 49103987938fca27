/**
 * The only code that talks HTTP to KIE. One instance per account; the dialect decides the wire
 * format. Requests are not paced here: callers take a turn from the account limiter first.
 */
import http from 'node:http';
import https from 'node:https';
import axios, { AxiosInstance, isAxiosError } from 'axios';
import type { AccountConfig, Config } from '../shared/config';
import { AuthenticationError, KieAmbiguousError, KieConnectionError, KieError, LinkRefusedError, TaskNotFoundError, UnexpectedResponseError } from '../shared/errors';
import type { RenderRequest } from '../shared/renderRequest';
import { errorForAnswer, isKieRefusal } from './errorForAnswer';
import { createJobsDialect } from './jobsDialect';
import { soraDialect } from './soraDialect';
import type { HttpAnswer, KieClient, KieDialect, TaskConfirmation, TaskParams, TaskRecord } from './types';

/** Failures that happen before any byte of the request reached KIE. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export function dialectFor(kie: Pick<Config['kie'], 'apiStyle' | 'jobsModels'>): KieDialect {
  switch (kie.apiStyle) {
    case 'sora':
      return soraDialect;
    case 'jobs':
      return createJobsDialect(kie.jobsModels);
  }
}

class HttpKieClient implements KieClient {
  constructor(
    readonly account: string,
    private readonly http: AxiosInstance,
    private readonly dialect: KieDialect,
  ) {}

  /**
   * Only KIE's own refusal proves that no task was created; it is thrown as its typed error. Any
   * other answer that is not a taskId (a gateway's page, a 5xx without KIE's envelope, a success
   * without a taskId, a body that does not parse) may stand for a task KIE made and charged:
   * KieAmbiguousError, never to be resent blindly.
   */
  async createTask(req: Parameters<KieClient['createTask']>[0], callBackUrl?: string): Promise<string> {
    const { path, body } = this.dialect.createTask(req, callBackUrl);
    const what = `POST ${path}`;
    const answer = await this.exchange('POST', path, body);
    const error = errorForAnswer(answer);
    if (error && isKieRefusal(answer)) throw error;
    if (error) throw new KieAmbiguousError(`${what} answered HTTP ${answer.status} without KIE's envelope (${describeBody(answer.body)}): a task may have been created`);
    try {
      return this.dialect.parseCreated(answer.body);
    } catch (err) {
      throw new KieAmbiguousError(`${what}: ${(err as Error).message} (HTTP ${answer.status}, ${describeBody(answer.body)}): a task may have been created`);
    }
  }

  async getTaskRecord(taskId: string) {
    return this.dialect.parseRecord(await this.send('GET', this.dialect.recordPath(taskId)), taskId);
  }

  async confirmTask(taskId: string, req: RenderRequest, callBackUrl: string | undefined): Promise<TaskConfirmation> {
    let record: TaskRecord;
    try {
      record = await this.getTaskRecord(taskId);
    } catch (err) {
      if (err instanceof TaskNotFoundError) return { confirmed: false, reason: `account ${this.account} has no task ${taskId} (${err.message})` };
      throw err;
    }
    const expected = this.dialect.taskParams?.(this.dialect.createTask(req, callBackUrl).body);
    if (!expected || !record.params) return { confirmed: true, record };
    const differing = (Object.keys(expected) as Array<keyof TaskParams>).filter((field) => expected[field] !== record.params![field]);
    if (differing.length) return { confirmed: false, reason: `task ${taskId} was created with another ${differing.join(', ')} than this job's` };
    return { confirmed: true, record };
  }

  async refreshVideoUrl(taskId: string, staleUrl: string): Promise<string> {
    if (staleUrl !== '' && this.dialect.refreshLink && this.dialect.parseRefreshedLink) {
      const { path, body } = this.dialect.refreshLink(taskId, staleUrl);
      try {
        return this.dialect.parseRefreshedLink(await this.send('POST', path, body));
      } catch (err) {
        // A refused link (foreign, malformed, too old) can still be re-minted by reading the record,
        // but that is a second request: it needs a limiter turn of its own, which only the caller
        // can take. A transient failure or a bad key is the caller's to handle as it is.
        if (!(err instanceof KieError) || err.retryable || err instanceof AuthenticationError) throw err;
        throw new LinkRefusedError(`KIE would not refresh the link of task ${taskId}: ${err.message}`, err.code, err.httpStatus);
      }
    }
    const record = await this.getTaskRecord(taskId);
    if (record.state !== 'success' || !record.videoUrl) {
      throw new UnexpectedResponseError(`task ${taskId} has no video link to refresh (state ${record.state})`);
    }
    return record.videoUrl;
  }

  async getCredits(): Promise<number | undefined> {
    if (!this.dialect.creditsPath || !this.dialect.parseCredits) return undefined;
    return this.dialect.parseCredits(await this.send('GET', this.dialect.creditsPath()));
  }

  /** One request whose answer must be a success: any other answer is thrown as its typed error. */
  private async send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const answer = await this.exchange(method, path, body);
    const error = errorForAnswer(answer);
    if (error) throw error;
    return answer.body;
  }

  /** One HTTP request and whatever came back; a failure in transport is a typed error. */
  private async exchange(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpAnswer> {
    try {
      const res = await this.http.request({ method, url: path, data: body });
      return { status: res.status, body: res.data, headers: res.headers as HttpAnswer['headers'] };
    } catch (err) {
      throw transportError(err, `${method} ${path.split('?')[0]}`);
    }
  }
}

/** A short view of an answer's body for error messages (a gateway's page can be long). */
function describeBody(body: unknown): string {
  const text = JSON.stringify(body) ?? String(body);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Rebuilds axios' error without its request config, which holds the Authorization header. */
function transportError(err: unknown, what: string): KieError {
  if (!isAxiosError(err)) return new KieConnectionError(`${what} failed: ${(err as Error)?.message ?? err}`);
  const code = err.code ?? 'unknown';
  if (NOT_SENT_CODES.has(code)) return new KieConnectionError(`${what} could not connect to KIE (${code})`);
  return new KieAmbiguousError(`${what} got no answer from KIE (${code}): the request may have been received`);
}

/**
 * Keep-alive connections: a cold connection adds jitter to when KIE sees a request. With a socket
 * timeout the agent also honours the server's `Keep-Alive: timeout=N` and drops an idle connection
 * a second before the server would: reusing one the server is closing fails the request after it
 * may have been sent, which for a create means an ambiguous submit.
 */
const IDLE_SOCKET_TIMEOUT_MS = 60_000;
const agents = {
  httpAgent: new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_TIMEOUT_MS }),
  httpsAgent: new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_TIMEOUT_MS }),
};

const WARM_UP_TIMEOUT_MS = 5000;

/**
 * Before a process takes its first request turn: resolves KIE's host, opens a kept-alive connection
 * (TLS included) in the agent every client shares, and runs the HTTP client's code once, so the
 * first real request does not arrive late. It sends `HEAD /` without any account's key: KIE applies
 * its limits per account, and a request without a key counts against none. Any answer will do; a
 * failure only leaves the connection cold.
 */
export async function warmKieConnection(config: Config): Promise<void> {
  await axios
    .head(`${new URL(config.kie.baseUrl).origin}/`, { timeout: WARM_UP_TIMEOUT_MS, validateStatus: () => true, maxRedirects: 0, ...agents })
    .catch(() => undefined);
}

export function createKieClient(config: Config, account: AccountConfig): KieClient {
  const instance = axios.create({
    baseURL: config.kie.baseUrl,
    timeout: config.kie.requestTimeoutMs,
    headers: { Authorization: `Bearer ${account.apiKey}`, 'Content-Type': 'application/json' },
    validateStatus: () => true,
    maxRedirects: 0,
    ...agents,
  });
  return new HttpKieClient(account.name, instance, dialectFor(config.kie));
}

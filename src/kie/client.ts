/**
 * The only code that talks HTTP to KIE. One instance per account; the dialect decides the wire
 * format. Requests are not paced here: callers take a turn from the account limiter first.
 */
import http from 'node:http';
import https from 'node:https';
import axios, { AxiosInstance, isAxiosError } from 'axios';
import type { AccountConfig, Config } from '../shared/config';
import { AuthenticationError, KieAmbiguousError, KieConnectionError, KieError, UnexpectedResponseError } from '../shared/errors';
import { errorForAnswer } from './errorForAnswer';
import { createJobsDialect } from './jobsDialect';
import { soraDialect } from './soraDialect';
import type { HttpAnswer, KieClient, KieDialect } from './types';

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

  async createTask(req: Parameters<KieClient['createTask']>[0], callBackUrl?: string): Promise<string> {
    const { path, body } = this.dialect.createTask(req, callBackUrl);
    return this.dialect.parseCreated(await this.send('POST', path, body));
  }

  async getTaskRecord(taskId: string) {
    return this.dialect.parseRecord(await this.send('GET', this.dialect.recordPath(taskId)), taskId);
  }

  async refreshVideoUrl(taskId: string, staleUrl: string): Promise<string> {
    if (staleUrl !== '' && this.dialect.refreshLink && this.dialect.parseRefreshedLink) {
      const { path, body } = this.dialect.refreshLink(taskId, staleUrl);
      try {
        return this.dialect.parseRefreshedLink(await this.send('POST', path, body));
      } catch (err) {
        // A refused link (foreign, malformed, too old) can still be re-minted by reading the record.
        // That is a second request inside the caller's one limiter turn; a strictly paced caller
        // passes staleUrl '' instead. A transient failure or a bad key is the caller's to handle.
        if (!(err instanceof KieError) || err.retryable || err instanceof AuthenticationError) throw err;
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

  private async send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const endpoint = `${method} ${this.http.defaults.baseURL ?? ''}${path.split('?')[0]}`;
    let answer: HttpAnswer;
    try {
      const res = await this.http.request({ method, url: path, data: body });
      answer = { status: res.status, body: res.data, headers: res.headers as HttpAnswer['headers'] };
    } catch (err) {
      const error = transportError(err, `${method} ${path.split('?')[0]}`);
      error.endpoint = endpoint;
      throw error;
    }
    const error = errorForAnswer(answer);
    if (error) {
      error.endpoint = endpoint;
      throw error;
    }
    return answer.body;
  }
}

/** Rebuilds axios' error without its request config, which holds the Authorization header. */
function transportError(err: unknown, what: string): KieError {
  if (!isAxiosError(err)) return new KieConnectionError(`${what} failed: ${(err as Error)?.message ?? err}`);
  const code = err.code ?? 'unknown';
  if (NOT_SENT_CODES.has(code)) return new KieConnectionError(`${what} could not connect to KIE (${code})`);
  return new KieAmbiguousError(`${what} got no answer from KIE (${code}): the request may have been received`);
}

/** Keep-alive connections: a cold connection adds jitter to when KIE sees a request. */
const agents = { httpAgent: new http.Agent({ keepAlive: true }), httpsAgent: new https.Agent({ keepAlive: true }) };

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

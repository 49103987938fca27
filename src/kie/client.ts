/**
 * The only code that talks HTTP to KIE. One instance per account; each request's model decides
 * its family, and the family's dialect the wire format. Requests are not paced here: callers take
 * a turn from the account limiter first.
 */
import http from 'node:http';
import https from 'node:https';
import axios, { AxiosInstance, isAxiosError } from 'axios';
import { SpanKind, trace } from '@opentelemetry/api';
import type { AccountConfig, Config } from '../shared/config';
import {
  AuthenticationError,
  KieAmbiguousError,
  KieConnectionError,
  KieError,
  LinkRefusedError,
  ModelUnavailableError,
  TaskNotFoundError,
  TransientKieError,
  UnexpectedResponseError,
} from '../shared/errors';
import type { RenderRequest } from '../shared/renderRequest';
import { inSpan, type Attributes, type Span } from '../shared/tracing';
import { familyOf, modeOf, type ModelCatalog } from './catalog/modelCatalog';
import type { Family } from './catalog/modelEntry';
import { errorForAnswer, isKieRefusal } from './errorForAnswer';
import { jobsDialect } from './jobsDialect';
import { outcomeOf, type KieOutcome, type KieRequestObserver } from './requestOutcome';
import { soraDialect } from './soraDialect';
import type { HttpAnswer, KieClient, KieDialect, TaskConfirmation, TaskParams, TaskRecord, WireOrder } from './types';
import { veoDialect } from './veoDialect';

/** Failures that happen before any byte of the request reached KIE. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

const DIALECTS: Record<Family, KieDialect> = { sora: soraDialect, jobs: jobsDialect, veo: veoDialect };

/** The adapter of an endpoint family. */
export function dialectOf(family: Family): KieDialect {
  return DIALECTS[family];
}

/** The dialect of KIE_API_STYLE: the one whose account-wide endpoints (the credit balance) the worker uses. */
export function dialectFor(kie: Pick<Config['kie'], 'apiStyle'>): KieDialect {
  return DIALECTS[kie.apiStyle];
}

class HttpKieClient implements KieClient {
  constructor(
    readonly account: string,
    private readonly http: AxiosInstance,
    private readonly catalog: ModelCatalog,
    private readonly accountDialect: KieDialect,
    private readonly observe?: KieRequestObserver,
  ) {}

  /**
   * Only KIE's own refusal proves that no task was created; it is thrown as its typed error. Any
   * other answer that is not a taskId (a gateway's page, a 5xx without KIE's envelope, a success
   * without a taskId, a body that does not parse) may stand for a task KIE made and charged:
   * KieAmbiguousError, never to be resent blindly.
   */
  async createTask(req: RenderRequest, callBackUrl?: string): Promise<string> {
    const order = this.orderFor(req);
    const dialect = dialectOf(order.entry.family);
    const { path, body } = dialect.createTask(order, callBackUrl);
    const what = `POST ${path}`;
    return this.request('POST', path, { 'kie.model': req.model }, async (span) => {
      const answer = await this.exchange('POST', path, body);
      const error = errorForAnswer(answer);
      if (error && isKieRefusal(answer)) throw this.located(error, 'POST', path);
      if (error) {
        throw this.located(
          new KieAmbiguousError(`${what} answered HTTP ${answer.status} without KIE's envelope (${describeBody(answer.body)}): a task may have been created`),
          'POST',
          path,
        );
      }
      let taskId: string;
      try {
        taskId = dialect.parseCreated(answer.body);
      } catch (err) {
        throw this.located(
          new KieAmbiguousError(`${what}: ${(err as Error).message} (HTTP ${answer.status}, ${describeBody(answer.body)}): a task may have been created`),
          'POST',
          path,
        );
      }
      span.setAttribute('kie.task_id', taskId);
      return taskId;
    });
  }

  async getTaskRecord(taskId: string, model?: string) {
    const dialect = dialectOf(familyOf(this.catalog, model));
    return dialect.parseRecord(
      await this.send('GET', dialect.recordPath(taskId), undefined, { 'kie.task_id': taskId, ...(model ? { 'kie.model': model } : {}) }),
      taskId,
    );
  }

  async confirmTask(taskId: string, req: RenderRequest, callBackUrl: string | undefined): Promise<TaskConfirmation> {
    let record: TaskRecord;
    try {
      record = await this.getTaskRecord(taskId, req.model);
    } catch (err) {
      if (err instanceof TaskNotFoundError) return { confirmed: false, reason: `account ${this.account} has no task ${taskId} (${err.message})` };
      throw err;
    }
    const order = this.orderFor(req);
    const dialect = dialectOf(order.entry.family);
    const expected = dialect.taskParams?.(dialect.createTask(order, callBackUrl).body);
    if (!expected || !record.params) return { confirmed: true, record };
    const differing = (Object.keys(expected) as Array<keyof TaskParams>).filter((field) => expected[field] !== record.params![field]);
    if (differing.length) return { confirmed: false, reason: `task ${taskId} was created with another ${differing.join(', ')} than this job's` };
    return { confirmed: true, record };
  }

  recordLinkServes(req: RenderRequest): boolean {
    const order = this.orderFor(req);
    return dialectOf(order.entry.family).resultPath?.(order, '') === undefined;
  }

  async refreshVideoUrl(taskId: string, staleUrl: string, req?: RenderRequest): Promise<string> {
    const order = req && this.orderFor(req);
    const dialect = dialectOf(familyOf(this.catalog, req?.model));
    const resultPath = order && dialect.resultPath?.(order, taskId);
    const attributes = { 'kie.task_id': taskId, ...(req ? { 'kie.model': req.model } : {}) };
    if (resultPath && dialect.parseResultLink) return dialect.parseResultLink(await this.send('GET', resultPath, undefined, attributes));
    if (staleUrl !== '' && dialect.refreshLink && dialect.parseRefreshedLink) {
      const { path, body } = dialect.refreshLink(taskId, staleUrl);
      try {
        return dialect.parseRefreshedLink(await this.send('POST', path, body, attributes));
      } catch (err) {
        // A refused link (foreign, malformed, too old) can still be re-minted by reading the record,
        // but that is a second request: it needs a limiter turn of its own, which only the caller
        // can take. A transient failure or a bad key is the caller's to handle as it is.
        if (!(err instanceof KieError) || err.retryable || err instanceof AuthenticationError) throw err;
        throw new LinkRefusedError(`KIE would not refresh the link of task ${taskId}: ${err.message}`, err.code, err.httpStatus);
      }
    }
    const record = await this.getTaskRecord(taskId, req?.model);
    if (record.state !== 'success' || !record.videoUrl) {
      throw new UnexpectedResponseError(`task ${taskId} has no video link to refresh (state ${record.state})`);
    }
    return record.videoUrl;
  }

  async getCredits(): Promise<number | undefined> {
    const dialect = this.accountDialect;
    if (!dialect.creditsPath || !dialect.parseCredits) return undefined;
    return dialect.parseCredits(await this.send('GET', dialect.creditsPath()));
  }

  private orderFor(request: RenderRequest): WireOrder {
    return { request, ...modeOf(this.catalog, request) };
  }

  /**
   * One request whose answer must be a success: any other answer is thrown as its typed error. A
   * paused model's interface may refuse these reads (records, links) too: for a task that exists
   * that is an outage to wait out, not a reason to pause the model again.
   */
  private send(method: 'GET' | 'POST', path: string, body?: unknown, attributes: Attributes = {}): Promise<unknown> {
    return this.request(method, path, attributes, async () => {
      const answer = await this.exchange(method, path, body);
      const error = errorForAnswer(answer);
      if (error instanceof ModelUnavailableError) throw this.located(new TransientKieError(error.message, error.code, error.httpStatus), method, path);
      if (error) throw this.located(error, method, path);
      return answer.body;
    });
  }

  /**
   * One KIE request as traces and metrics see it: a client span (endpoint, account, what else the
   * caller knows, the outcome; never the key, which only the HTTP instance holds) and a report to
   * the observer.
   */
  private request<T>(method: 'GET' | 'POST', path: string, attributes: Attributes, run: (span: Span) => Promise<T>): Promise<T> {
    const endpoint = `${method} ${path.split('?')[0]}`;
    return inSpan(
      `kie ${endpoint}`,
      { 'kie.endpoint': endpoint, 'kie.account': this.account, ...attributes },
      async (span) => {
        let outcome: KieOutcome = 'ok';
        try {
          return await run(span);
        } catch (err) {
          outcome = outcomeOf(err);
          throw err;
        } finally {
          span.setAttribute('kie.outcome', outcome);
          this.observe?.({ account: this.account, endpoint, outcome });
        }
      },
      SpanKind.CLIENT,
    );
  }

  /** One HTTP request and whatever came back; a failure in transport is a typed error. */
  private async exchange(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpAnswer> {
    try {
      const res = await this.http.request({ method, url: path, data: body });
      trace.getActiveSpan()?.setAttribute('http.response.status_code', res.status);
      return { status: res.status, body: res.data, headers: res.headers as HttpAnswer['headers'] };
    } catch (err) {
      throw this.located(transportError(err, `${method} ${path.split('?')[0]}`), method, path);
    }
  }

  /** Names the endpoint on the error (for retry logs): method and URL without its query. */
  private located(error: KieError, method: 'GET' | 'POST', path: string): KieError {
    error.endpoint = `${method} ${this.http.defaults.baseURL ?? ''}${path.split('?')[0]}`;
    return error;
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

/** `observe` hears of every request the client sends (the worker counts them). */
export function createKieClient(config: Config, account: AccountConfig, observe?: KieRequestObserver): KieClient {
  const instance = axios.create({
    baseURL: config.kie.baseUrl,
    timeout: config.kie.requestTimeoutMs,
    headers: { Authorization: `Bearer ${account.apiKey}`, 'Content-Type': 'application/json' },
    validateStatus: () => true,
    maxRedirects: 0,
    ...agents,
  });
  return new HttpKieClient(account.name, instance, config.kie.models, dialectFor(config.kie), observe);
}

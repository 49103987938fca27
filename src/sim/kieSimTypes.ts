/** The KIE simulator's vocabulary: its options, its fault knobs, its tasks and the counters tests read. */
import type { ModelEntryInput } from '../kie/catalog/modelEntry';
import type { ClipSpec } from './kieSimClip';

export interface SimOptions {
  /** 0 = a random free port (default). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Accepted Bearer keys; each key is one account with its own caps. */
  apiKeys: string[];
  /** Tasks generating at once per key (default 10). */
  maxConcurrent?: number;
  /** Tasks created per key per window (default 100). */
  dailyLimit?: number;
  /** Length of the rolling daily window (default 86_400_000). */
  dailyWindowMs?: number;
  /** Minimum gap between any two API requests of one key, judged at arrival (default 1000; 0 = off). */
  minIntervalMs?: number;
  /**
   * KIE's live limits per request class (none by default): at most `limit` creates, or reads
   * (record reads, link refreshes, credit reads), of one key in any `windowMs`, judged at arrival.
   */
  rates?: Partial<Record<SimRequestClass, { limit: number; windowMs: number }>>;
  /** Generation time (default 5000); a [min, max] range draws per task from the seeded RNG. */
  generationMs?: number | [number, number];
  /** Generation time by KIE model name (e.g. { veo3: [8000, 12000] }), where it differs from generationMs. */
  generationMsByModel?: Record<string, number | [number, number]>;
  /** How long after a Veo task finished its 1080p version is ready; until then get-1080p-video answers "processing" (default 0). */
  hdDelayMs?: number;
  /**
   * Catalog entries the simulator serves beside the built-in ones, as KIE serves models sora-batch
   * only learns about through KIE_MODELS_FILE. Validated like the catalog's own.
   */
  models?: ModelEntryInput[];
  /** Lifetime of a video link (default 20 min); an expired link answers 403. */
  linkTtlMs?: number;
  /**
   * Size of every video file (default 256 KiB): a playable clip of the task's aspect ratio, length and
   * sound (a few KB), padded with a free box. A clip that needs more (a long one, over a tiny size) is sent whole.
   */
  videoBytes?: number;
  /** A prompt containing one (case-insensitive) is refused: 1001 (sora) / 422 (jobs). Default ['forbidden']. */
  bannedWords?: string[];
  /** Seed of the RNG behind faults and generation times (default 1). */
  seed?: number;
  faults?: Partial<SimFaults>;
  /** Jobs dialect: sign callbacks with X-Webhook-Timestamp / X-Webhook-Signature. */
  callbackHmacKey?: string;
  /** Credit balance per key, spent by jobs-dialect creates (default 1000 each). */
  credits?: Record<string, number>;
}

export interface SimFaults {
  /** Create answers 1003 (sora) / 455 (jobs) without creating. */
  overloadRate: number;
  /** Any API request answers HTTP 500 without effect. */
  serverErrorRate: number;
  /** The connection is destroyed before the request is processed: no effect, not even on pacing. */
  resetRate: number;
  /**
   * A gateway in front of KIE answers HTTP 502 with an HTML page before KIE sees the request:
   * nothing happens, not even on pacing. KIE's own 500 (`serverErrorRate`) comes in its envelope.
   */
  gatewayErrorRate: number;
  /** Create makes the task, then destroys the connection unanswered (an ambiguous submit). */
  createThenResetRate: number;
  /** Create makes the task, then a gateway answers HTTP 504 with an HTML page in place of KIE's answer. */
  createThenGatewayErrorRate: number;
  /** Create makes the task and answers success without a taskId (no `data`). */
  createWithoutTaskIdRate: number;
  /** Create makes the task and answers a body that does not parse (KIE's JSON cut in half). */
  createThenGarbledRate: number;
  /** download-url refuses a link it issued (422), as KIE does one it will not re-mint; the record still has a fresh one. */
  linkRefreshRefusedRate: number;
  /** A video download sends its Content-Length, then the socket is destroyed about halfway. */
  cutBodyRate: number;
  /**
   * A video download comes without Content-Length, its end marked only by the connection closing
   * (as an HTTP/1.0-style server sends it); with cutBodyRate, the cut then looks like a clean end.
   */
  noContentLengthRate: number;
  /** A task's video is not what was asked for: half the seconds, the aspect ratio turned (16:9 -> 9:16; 1:1 -> 16:9). */
  offSpecVideoRate: number;
  /** A task ends failed: status 2 (sora) / state fail (jobs). */
  failRate: number;
  /** Keys whose creates answer 1002 (sora) / 402 (jobs). */
  insufficientCredits: string[];
  /** Never deliver callbacks. */
  dropCallbacks: boolean;
  /** KIE model names whose creates answer 500 "This interface is temporarily paused" (the sora API's are sora-2 and sora-2-pro). */
  pausedModels: string[];
}

export type SimDialect = 'sora' | 'jobs' | 'veo';
/** What a request counts against: a create, or anything else (record reads, link refreshes, credit reads). */
export type SimRequestClass = 'create' | 'read';
/** The rates the simulator judges arrivals by: the interval between any two, or a class's. */
export type SimRate = 'interval' | SimRequestClass;
export type SimTaskState = 'generating' | 'success' | 'fail';

/** One task the simulator created. The same object sits in `counters.tasks` and changes as the task runs. */
export interface SimTask {
  readonly taskId: string;
  readonly key: string;
  /** The dialect it was created with; it decides the callback's shape. */
  readonly dialect: SimDialect;
  /** KIE's model name: the jobs or Veo model, 'sora-2' or 'sora-2-pro' for the sora API. */
  readonly model: string;
  /** The prompt; for a storyboard, the scenes joined by newlines. */
  readonly prompt: string;
  readonly seed?: number;
  readonly durationSeconds: number;
  /** As the catalog names it ('16:9'); absent when the create named none. */
  readonly aspectRatio?: string;
  /** What its video is: the requested ratio (16:9 for one without a fixture) and seconds, sound for Sora 2, Veo 3.1 or the `sound` option. */
  readonly video: ClipSpec;
  readonly quality: 'standard' | 'high';
  /** The images the create named (image-to-video). */
  readonly imageUrls: readonly string[];
  readonly callBackUrl?: string;
  /** The create request's body as received. */
  readonly params: unknown;
  /** Credits it cost, by the catalog's price of its model (0 for the sora API). */
  readonly credits: number;
  readonly generationMs: number;
  /** Epoch ms. */
  readonly createdAt: number;
  completedAt?: number;
  /** Epoch ms of the first status read that reported it finished (how soon the client knew). */
  seenDoneAt?: number;
  state: SimTaskState;
  failMsg?: string;
}

export interface CapViolations {
  concurrency: number;
  daily: number;
  interval: number;
}

export interface KeyCounters {
  /** API requests this key made (rejections included, resets excluded). */
  requests: number;
  tasksCreated: number;
  generating: number;
  /** The most tasks ever seen generating at once. */
  peakGenerating: number;
  violations: CapViolations;
  /** Requests refused by a class's rate (SimOptions.rates). */
  rateViolations: Record<SimRequestClass, number>;
  /**
   * Per rate, the shortest time in which `limit` + 1 of its requests arrived, as KIE saw them (for
   * the interval: the smallest gap between two requests); below the rate's window is a violation.
   */
  tightestMs: Partial<Record<SimRate, number>>;
  /** (epoch ms, generating) at every change, for plotting slot use. */
  generatingSeries: Array<{ t: number; generating: number }>;
}

export interface SimCounters {
  /**
   * API requests processed (rejections included, injected resets excluded), in total and by
   * "METHOD /path" (e.g. "POST /api/v1/sora/generate"). File downloads are not API requests.
   */
  requests: { total: number; byEndpoint: Record<string, number> };
  perKey: Record<string, KeyCounters>;
  violations: CapViolations;
  rateViolations: Record<SimRequestClass, number>;
  /** Tasks created per prompt: more than one means a prompt was paid for twice. */
  submitsByPrompt: Map<string, number>;
  /** Tasks created per seed (tasks without a seed are not counted). */
  submitsBySeed: Map<number, number>;
  callbacks: { delivered: number; failed: number };
  downloads: { requests: number; forbidden: number };
  /** How often each fault knob fired. */
  faults: {
    overload: number;
    serverError: number;
    reset: number;
    gatewayError: number;
    createThenReset: number;
    createThenGatewayError: number;
    createWithoutTaskId: number;
    createThenGarbled: number;
    linkRefreshRefused: number;
    cutBody: number;
    noContentLength: number;
    offSpecVideo: number;
    failedTasks: number;
    insufficientCredits: number;
    /** Creates refused because the model's interface is paused. */
    modelPaused: number;
  };
  /** Every task created, in creation order. */
  tasks: SimTask[];
}

export interface KieSimulator {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  close(): Promise<void>;
  setFaults(f: Partial<SimFaults>): void;
  /** Live object: it changes as the simulator runs. */
  readonly counters: SimCounters;
  /** What a download of this task's video must yield (throws for a task it never created). */
  expectedVideo(taskId: string): { size: number; sha256: string };
  task(taskId: string): SimTask | undefined;
  /** Makes every link issued so far expired (links minted afterwards are fresh). */
  expireLinks(): void;
}

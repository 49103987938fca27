/**
 * The simulator's accounts and tasks, shared by every family: creating a task (paused models,
 * credits, caps, faults), running it to completion on a timer, and handing finished tasks to the
 * callback sender.
 */
import { randomBytes } from 'node:crypto';
import { creditsFor } from '../kie/catalog/modelPrice';
import type { CallbackSender } from './kieSimCallbacks';
import { type ClipSpec, offSpecClip } from './kieSimClip';
import type { SimCaps } from './kieSimCaps';
import { countGenerating, countTaskCreated } from './kieSimCounters';
import { type Answer, gatewayError, type Outcome, RESET, type SimDialectApi } from './kieSimDialect';
import type { VideoLinks } from './kieSimLinks';
import type { SimModels } from './kieSimModels';
import type { SimCreateRequest } from './kieSimValidation';
import type { SimCounters, SimFaults, SimTask } from './kieSimTypes';

/** What KIE answers a create for a model whose interface it paused (a 500, told apart by its words only). */
export const MODEL_PAUSED_MESSAGE = 'This interface is temporarily paused';

const TASK_ID_PREFIX: Record<SimTask['dialect'], string> = { sora: 'sora_', jobs: '', veo: 'veo_task_' };

export interface EngineSettings {
  generationMs: number | [number, number];
  /** Generation time by KIE model name, where it differs from generationMs. */
  generationMsByModel: Record<string, number | [number, number]>;
  /** How long after a task finished its 1080p version is ready (Veo). */
  hdDelayMs: number;
  bannedWords: readonly string[];
  callbackHmacKey?: string;
  credits: Record<string, number>;
}

export class SimEngine {
  private readonly tasks = new Map<string, SimTask>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly settings: EngineSettings,
    readonly models: SimModels,
    private readonly counters: SimCounters,
    private readonly faults: SimFaults,
    readonly links: VideoLinks,
    private readonly caps: SimCaps,
    private readonly callbacks: CallbackSender,
    private readonly random: () => number,
    private readonly dialectOf: (task: SimTask) => SimDialectApi,
  ) {}

  /** True with probability `rate`, drawn from the seeded RNG. */
  roll(rate: number): boolean {
    return rate > 0 && this.random() < rate;
  }

  task(taskId: string): SimTask | undefined {
    return this.tasks.get(taskId);
  }

  /** A task as its owner sees it: another key's task does not exist for this key. */
  taskOf(key: string, taskId: string | null): SimTask | undefined {
    const task = taskId ? this.tasks.get(taskId) : undefined;
    return task?.key === key ? task : undefined;
  }

  /** A status read: the first one to see a task finished is when the client could know it was done. */
  noteStatusRead(task: SimTask): void {
    if (task.state !== 'generating' && task.seenDoneAt === undefined) task.seenDoneAt = Date.now();
  }

  balance(key: string): number {
    return this.settings.credits[key] ?? 0;
  }

  /**
   * Creates a task and answers with `created(task)`, or answers why not: the model's interface is
   * paused, the key cannot pay the model's price (where the family charges credits), a cap.
   */
  create(dialect: SimDialectApi, key: string, call: { request: SimCreateRequest; params: unknown }, created: (task: SimTask) => Answer): Outcome {
    const { request, params } = call;
    if (this.faults.pausedModels.includes(request.model)) {
      this.counters.faults.modelPaused++;
      return dialect.answer(500, MODEL_PAUSED_MESSAGE);
    }
    const credits = dialect.chargesCredits ? creditsFor({ duration: request.durationSeconds, options: request.options }, request.mode) : 0;
    if (this.faults.insufficientCredits.includes(key) || credits > this.balance(key)) {
      this.counters.faults.insufficientCredits++;
      const why = `insufficient credits: the task costs ${credits}, the balance is ${this.balance(key)}`;
      return dialect.answer(dialect.codes.insufficientCredits, why);
    }
    const refusal = this.caps.checkCreate(key);
    if (refusal) return dialect.answer(429, refusal.message);
    if (this.roll(this.faults.overloadRate)) {
      this.counters.faults.overload++;
      return dialect.answer(dialect.codes.overloaded, 'model overloaded, retry later');
    }

    const now = Date.now();
    const task: SimTask = {
      taskId: `${TASK_ID_PREFIX[dialect.name]}${randomBytes(dialect.name === 'sora' ? 8 : 16).toString('hex')}`,
      key,
      dialect: dialect.name,
      model: request.model,
      prompt: request.prompt,
      seed: request.seed,
      durationSeconds: request.durationSeconds,
      aspectRatio: request.aspectRatio,
      video: this.videoOf(request),
      quality: request.quality,
      imageUrls: request.imageUrls,
      callBackUrl: request.callBackUrl,
      params,
      credits,
      generationMs: this.drawGenerationMs(request.model),
      createdAt: now,
      state: 'generating',
    };
    const fails = this.roll(this.faults.failRate);
    this.tasks.set(task.taskId, task);
    this.settings.credits[key] = this.balance(key) - credits;
    this.caps.recordCreated(key, now);
    countTaskCreated(this.counters, task);
    countGenerating(this.counters, key, 1, now);
    this.after(task.generationMs, () => this.finish(task, fails));

    return this.answerCreated(dialect, created(task));
  }

  /** KIE's answer to a create that made its task, unless a fault replaces it. */
  private answerCreated(dialect: SimDialectApi, answer: Answer): Outcome {
    const { faults, counters } = this;
    if (this.roll(faults.createThenResetRate)) {
      counters.faults.createThenReset++;
      return RESET;
    }
    if (this.roll(faults.createThenGatewayErrorRate)) {
      counters.faults.createThenGatewayError++;
      return gatewayError(504);
    }
    if (this.roll(faults.createWithoutTaskIdRate)) {
      counters.faults.createWithoutTaskId++;
      return dialect.answer(dialect.codes.ok, 'success');
    }
    if (this.roll(faults.createThenGarbledRate)) {
      counters.faults.createThenGarbled++;
      const json = JSON.stringify(answer.body);
      return { status: answer.status, contentType: 'application/json', text: json.slice(0, Math.floor(json.length / 2)) };
    }
    return answer;
  }

  /** The clip a task's video will be: as requested, or off spec when the offSpecVideoRate fault fires (counted). */
  private videoOf(request: SimCreateRequest): ClipSpec {
    const asked = { aspectRatio: request.aspectRatio, seconds: request.durationSeconds, sound: request.sound };
    if (!this.roll(this.faults.offSpecVideoRate)) return asked;
    this.counters.faults.offSpecVideo++;
    return offSpecClip(asked);
  }

  /** Whether this link refresh is refused by the linkRefreshRefusedRate fault (counted). */
  refusesLinkRefresh(): boolean {
    if (!this.roll(this.faults.linkRefreshRefusedRate)) return false;
    this.counters.faults.linkRefreshRefused++;
    return true;
  }

  /** Stops every pending completion; tasks still generating stay so. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private finish(task: SimTask, fails: boolean): void {
    task.completedAt = Date.now();
    task.state = fails ? 'fail' : 'success';
    if (fails) {
      task.failMsg = 'generation failed (simulated)';
      this.counters.faults.failedTasks++;
    }
    countGenerating(this.counters, task.key, -1, task.completedAt);
    if (task.callBackUrl && !this.faults.dropCallbacks) {
      const { body, headers } = this.dialectOf(task).callback(this, task);
      this.callbacks.send(task.callBackUrl, body, headers);
    }
  }

  /** When the task's 1080p version can be fetched (Veo), or undefined while it generates. */
  hdReadyAt(task: SimTask): number | undefined {
    return task.completedAt === undefined ? undefined : task.completedAt + this.settings.hdDelayMs;
  }

  private drawGenerationMs(model: string): number {
    const g = this.settings.generationMsByModel[model] ?? this.settings.generationMs;
    return typeof g === 'number' ? g : Math.round(g[0] + this.random() * (g[1] - g[0]));
  }

  private after(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }
}

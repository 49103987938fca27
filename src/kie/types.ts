import type { RenderRequest } from '../shared/renderRequest';
import type { ModeSpec, ModelEntry } from './catalog/modelEntry';

export type TaskState = 'generating' | 'success' | 'failed';

/** A KIE task as the worker sees it, whichever API family reported it. */
export interface TaskRecord {
  taskId: string;
  state: TaskState;
  videoUrl?: string;
  durationSeconds?: number;
  resolution?: string;
  createdAt?: string;
  completedAt?: string;
  /** KIE's own words when the generation failed. */
  failReason?: string;
  /** What the task was created with, where the dialect echoes it (jobs: `param`); see TaskParams. */
  params?: TaskParams;
}

/** The create parameters that tie a task to the job that asked for it. */
export interface TaskParams {
  model?: string;
  /** The prompt; for a storyboard, its scenes joined by newlines. */
  prompt?: string;
  callBackUrl?: string;
}

/** Whether a task announced by a callback is the one this job's create request made. */
export type TaskConfirmation = { confirmed: true; record: TaskRecord } | { confirmed: false; reason: string };

/** The KIE operations the worker needs, for one account. Requests are not paced here. */
export interface KieClient {
  readonly account: string;
  /** Creates a task with the request's model (its family decides the API) and returns its taskId. */
  createTask(req: RenderRequest, callBackUrl?: string): Promise<string>;
  /** The task's record, read through the API of `model`'s family (default: the catalog's default model). */
  getTaskRecord(taskId: string, model?: string): Promise<TaskRecord>;
  /**
   * One record read: does the task exist on this account and, where the family echoes the
   * create parameters, were they this request's (model, prompt, callBackUrl)?
   */
  confirmTask(taskId: string, req: RenderRequest, callBackUrl: string | undefined): Promise<TaskConfirmation>;
  /** False where the request asks for another version of the finished video than the record links (Veo 1080p). */
  recordLinkServes(req: RenderRequest): boolean;
  /**
   * A download link for a finished task: a fresh one for an expired link (staleUrl '' when not
   * known), or the version the request asked for (Veo 1080p). `req` names the model (default: the
   * catalog's). One request: where the family re-mints from the stale link and KIE refuses it, this
   * throws LinkRefusedError; ask again with '' (on a turn of its own) to read the link from the record.
   */
  refreshVideoUrl(taskId: string, staleUrl: string, req?: RenderRequest): Promise<string>;
  /** The account's credit balance, or undefined (without a request) where the API style has none. */
  getCredits(): Promise<number | undefined>;
}

/** A parsed HTTP answer, before the dialect reads it. */
export interface HttpAnswer {
  status: number;
  body: unknown;
  headers: Record<string, string | undefined>;
}

/** What a create is made of: the validated request, its model's entry and the mode it renders in. */
export interface WireOrder {
  request: RenderRequest;
  entry: ModelEntry;
  mode: ModeSpec;
}

/** Everything one KIE API family knows about its wire format. */
export interface KieDialect {
  createTask(order: WireOrder, callBackUrl: string | undefined): { path: string; body: unknown };
  parseCreated(body: unknown): string;
  recordPath(taskId: string): string;
  parseRecord(body: unknown, taskId: string): TaskRecord;
  /** The identifying parameters of a create body, where records echo them (so both can be compared). */
  taskParams?(createBody: unknown): TaskParams;
  /** How to mint a fresh link, when the family has a way other than reading the record again. */
  refreshLink?(taskId: string, staleUrl: string): { path: string; body: unknown };
  parseRefreshedLink?(body: unknown): string;
  /** Where (GET) the video the order asked for is fetched instead of the record's link, if anywhere. */
  resultPath?(order: WireOrder, taskId: string): string | undefined;
  parseResultLink?(body: unknown): string;
  /** Where the account's credit balance is read, when the API style has one. */
  creditsPath?(): string;
  parseCredits?(body: unknown): number;
}

/**
 * Experiments between strategies, as the service keeps them: what an
 * experiment is, which arm a unit got, and what each send in it achieved.
 * The API (experiment_service.proto) translates to and from these.
 */

/** What is randomised: a WhatsApp session (all its sends get one arm) or each send. */
export type ExperimentUnit = 'SESSION' | 'SEND';

export type ExperimentState = 'RUNNING' | 'STOPPED';

export interface Arm {
  /** Unique within the experiment. */
  readonly name: string;
  /** A strategy name the server offers. */
  readonly strategy: string;
  /** A positive integer: arms get units in proportion to their weights. */
  readonly weight: number;
  /** Exactly one arm of an experiment is the control the others are compared with. */
  readonly control: boolean;
}

export interface Experiment {
  /** Unique on the server; also the hash seed, so two experiments split the same units differently. */
  readonly key: string;
  readonly description: string;
  readonly arms: readonly Arm[];
  readonly unit: ExperimentUnit;
  /** Share of units in the experiment, in (0, 1]; units outside it get the control's strategy and are not counted. */
  readonly coverage: number;
  readonly state: ExperimentState;
  readonly createdAt: number;
  /** Set once stopped. */
  readonly stoppedAt?: number;
  /** Once stopped: the arm every new send gets from then on. */
  readonly winner?: string;
}

/** What one send in an experiment achieved, recorded for its arm when it ends. */
export interface SendOutcome {
  readonly experiment: string;
  readonly arm: string;
  /** The unit's id: the session id (unit SESSION) or the send's id (unit SEND). */
  readonly unit: string;
  readonly sendId: string;
  readonly sessionId: string;
  /** Valid recipients of the send. */
  readonly recipients: number;
  readonly delivered: number;
  /** Recipients given up on (failed in the summary). */
  readonly givenUp: number;
  /** From planned to summary. */
  readonly durationMs: number;
  /** Transport calls after the anchor, and how many of them failed. */
  readonly calls: number;
  readonly failedCalls: number;
  /** The send ran to its summary without being stopped (cancelled or a fatal error). */
  readonly finished: boolean;
  readonly at: number;
}

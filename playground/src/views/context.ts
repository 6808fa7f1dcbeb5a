// What every view gets: the data, the session, the workspace and a way to change it.
import type { Session } from "../session.js";
import type { Store } from "../store.js";
import type { Workspace } from "../workspace.js";

export interface ViewContext {
  readonly store: Store;
  readonly session: Session;
  workspace(): Workspace;
  /** Changes the workspace, saves it and redraws what depends on it. */
  update(change: (w: Workspace) => void): void;
  /** Says something to screen readers and in the status line. */
  announce(message: string): void;
  /** Whether a job has run since the last Reset (its topics hold records in IndexedDB). */
  hasData(): boolean;
  /** Records produced by hand to a topic in this session. */
  manualCount(topic: string): number;
  addManual(topic: string, n: number): void;
  /** Starts / stops a topic's generator (starting the job's worker first when needed). */
  setGenerator(topic: string, on: boolean): Promise<void>;
}

/** A view: built once into its panel, redrawn by the render loop while visible. */
export interface View {
  readonly id: string;
  readonly title: string;
  mount(panel: HTMLElement): void;
  render(): void;
}

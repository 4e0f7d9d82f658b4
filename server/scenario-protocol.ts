// The scenario requests between the editor and the language server (server/scenarios.ts
// answers them): their names and shapes only, no code, so the client can import them.

export const SCENARIOS_REQUEST = "promisegrid/scenarios";
export const RUN_SCENARIO_REQUEST = "promisegrid/runScenario";
export const TRACE_REQUEST = "promisegrid/scenarioTrace";
export const GRAPH_REQUEST = "promisegrid/scenarioGraph";
export const TIMELINE_REQUEST = "promisegrid/scenarioTimeline";
export const LESSON_REQUEST = "promisegrid/lessonDeck";

interface LspRange { start: { line: number; character: number }; end: { line: number; character: number } }

export interface ScenarioInfo {
  title: string;
  /** The title string's range (0-based, LSP). */
  range: LspRange;
}

export interface ScenarioListing {
  scenarios: ScenarioInfo[];
  /** 1-based lines of every `step N:` item in the file (where breakpoints hold). */
  stepLines: number[];
}

export interface ScenarioTestResult {
  title: string;
  file: string;
  passed: boolean;
  /** One per failed expectation or diagnostic: 1-based line and text. */
  messages: { line: number; message: string }[];
}

export interface DebugView {
  present: boolean;
  balances: Record<string, number>;
  promises: Record<string, string>;
  heard: { id: number; text: string }[];
}

/** The state after `step` steps (0: the setup). */
export interface DebugStep {
  step: number;
  agents: { name: string; view: DebugView }[];
  /** This step's events and gossip (none at 0). */
  events: { text: string; outcome: string; reason: string }[];
  gossip: { from: string; to: string; notices: number[] }[];
  /** Expectations that failed when checked at this step. */
  failed: { line: number; text: string; saw: string }[];
  /** Every expectation checked so far. */
  results: { line: number; text: string; passed: boolean; saw: string }[];
  /** Money issued per currency, as "taco 10, ...". */
  issued: string;
}

export interface DebugTrace {
  title: string;
  path: string;
  /** 1-based line of the `scenario` keyword. */
  scenarioLine: number;
  lastStep: number;
  /** Step number -> 1-based lines of its events in this file. */
  stepLines: Record<number, number[]>;
  /** steps[k] is the state after k steps. */
  steps: DebugStep[];
}

/** Why a scenario has no trace: 2 syntax errors, 3 no such scenario, 4 it cannot run. */
export interface TraceError { code: 2 | 3 | 4; message: string }

export interface ScenarioParams {
  /** The document's URI. */
  uri: string;
  /** The scenario's title: all of the file's (run), or its first (trace, graph), when left out. */
  title?: string;
}

export interface GraphParams extends ScenarioParams {
  /** Steps run before drawing (0: the setup). */
  step: number;
  /** Draw the states as this agent knows them. */
  as?: string;
}

export type TraceAnswer = { trace: DebugTrace } | { error: TraceError };
export type GraphAnswer = { svg: string } | { error: TraceError };

export interface TimelineParams extends ScenarioParams {
  /** Steps drawn (1..step); the whole scenario when left out. */
  step?: number;
}

export type TimelineAnswer = { svg: string } | { error: TraceError };
/** The lesson deck: one self-contained HTML page, a slide per step. */
export type LessonAnswer = { html: string } | { error: TraceError };

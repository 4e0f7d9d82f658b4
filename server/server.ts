// The language server: LSP requests and notifications wired to server/features.ts over a Workspace.
// Every handler is isolated: an internal error in one feature answers that request with an error and leaves
// the others working.
import {
  ErrorCodes, ResponseError, type CancellationToken, TextDocuments, TextDocumentSyncKind,
  type Connection, type InitializeParams, type InitializeResult,
} from "vscode-languageserver/node.js";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { Diagnostic } from "../language/index.ts";
import { CheckerThread, type OpenText } from "./checker-thread.ts";
import { takeEarlyWorker } from "./early-checker.ts";
import { tooLarge } from "./host.ts";
import * as features from "./features.ts";
import { fitHeapGrowth, idle } from "./idle-gc.ts";
import { registerScenarios } from "./scenarios.ts";
import { uriToPath, Workspace } from "./workspace.ts";

/** How long a scenario may simulate for inlay hints. */
const SIMULATION_LIMIT_MS = 10_000;

export interface Settings { debounceMs: number; codeLens: boolean; workloadCids: boolean }

/** `script`: this server's own file, started again as its checker thread (checks run in-process without it). */
export function startServer(connection: Connection, script?: string): void {
  const documents = new TextDocuments(TextDocument);
  const ws = new Workspace();
  const settings: Settings = { debounceMs: 75, codeLens: true, workloadCids: true };
  let declarationSnippets = true;
  const timers = new Map<string, NodeJS.Timeout>();

  const log = (message: string) => connection.console.error(message);
  ws.log = log;

  /** Runs a request handler; a throw becomes an error response (a RenameError becomes a user-facing message). */
  function guard<P, R>(name: string, fn: (params: P, token: CancellationToken) => R | Promise<R>): (params: P, token: CancellationToken) => Promise<R> {
    return async (params: P, token: CancellationToken) => {
      try {
        return await fn(params, token);
      } catch (e) {
        if (e instanceof features.RenameError) throw new ResponseError(ErrorCodes.InvalidRequest, e.message);
        log(`${name} failed: ${(e as Error).stack ?? e}`);
        throw new ResponseError(ErrorCodes.InternalError, `PromiseGrid ${name} failed: ${(e as Error).message}`);
      }
    };
  }

  function safely(name: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      log(`${name} failed: ${(e as Error).stack ?? e}`);
    }
  }

  const at = (uri: string, position: { line: number; character: number }) => {
    const file = uriToPath(uri);
    return { file, offset: ws.lineIndex(file).offset(position) };
  };

  // The checker's first worker was started with the process (server/early-checker.ts).
  const checker = script ? new CheckerThread(script, log, 0, takeEarlyWorker) : undefined;
  // Simulations for inlay hints: their own thread (a long scenario never delays a check), stopped when the request is
  // cancelled or after SIMULATION_LIMIT_MS.
  const simulator = script ? new CheckerThread(script, log, SIMULATION_LIMIT_MS) : undefined;

  const openTexts = (): OpenText[] => documents.all().filter((d) => !tooLarge(d.getText()))
    .map((d) => ({ path: uriToPath(d.uri), version: d.version, text: () => d.getText() }));

  /** Resolves once the document's first diagnostics are out: what only decorates (semantic tokens, lenses, hints)
   * waits for them, so opening a file costs its parse and check first. */
  const warmed = new Set<string>();
  const firstPublished = new Map<string, { done: Promise<void>; resolve: () => void }>();
  const firstDiagnostics = (uri: string): Promise<void> => {
    let entry = firstPublished.get(uri);
    if (!entry) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      firstPublished.set(uri, (entry = { done, resolve }));
      if (!documents.get(uri)) resolve();
    }
    return entry.done;
  };

  /** Checks the document's current version (in the checker thread) and publishes the result, unless the document
   * has changed since: then a newer check is on its way, and a stale result is never sent. */
  async function publish(uri: string): Promise<void> {
    timers.delete(uri);
    const doc = documents.get(uri);
    if (!doc) return;
    const file = uriToPath(uri);
    const version = doc.version;
    const text = doc.getText();
    if (tooLarge(text)) {
      void connection.sendDiagnostics({ uri, version, diagnostics: [features.tooLargeDiagnostic(text)] });
      firstDiagnostics(uri);
      firstPublished.get(uri)?.resolve();
      return;
    }
    let diagnostics: Diagnostic[] | undefined;
    const openChars = () => documents.all().reduce((n, d) => n + d.getText().length, 0);
    if (!warmed.has(uri)) fitHeapGrowth(openChars(), true); // its first check (see server/idle-gc.ts)
    if (checker) {
      // Open documents win over the disk; the worker reads the rest itself.
      const res = await checker.check(file, openTexts()).finally(() => fitHeapGrowth(openChars()));
      if (!res) return; // superseded by a newer request for this file
      if ("diagnostics" in res) {
        diagnostics = res.diagnostics;
        ws.provideDiagnostics(file, version, text, diagnostics, res.files);
      }
    }
    if (documents.get(uri)?.version !== version) return;
    safely("diagnostics", () => {
      const lsp = diagnostics ? features.toLspDiagnostics(ws, file, diagnostics) : features.diagnostics(ws, file);
      if (documents.get(uri)?.version !== version) return;
      void connection.sendDiagnostics({ uri, version, diagnostics: lsp });
    });
    if (!checker) fitHeapGrowth(openChars()); // checked in this thread, above
    firstDiagnostics(uri);
    const first = firstPublished.get(uri);
    first?.resolve();
    // After the first diagnostics, the main thread's own analysis, so the first hover does not wait for it.
    if (first && !warmed.has(uri)) {
      warmed.add(uri);
      setImmediate(() => safely("analysis", () => { if (documents.get(uri)) void ws.analyze(file); }));
    }
    idle();
  }

  function schedule(uri: string, delay = settings.debounceMs): void {
    clearTimeout(timers.get(uri));
    timers.set(uri, setTimeout(() => void publish(uri).catch((e) => log(`diagnostics failed: ${(e as Error).stack ?? e}`)), delay));
  }

  function changed(uri: string): void {
    const file = uriToPath(uri);
    // Files that import this one see the change too.
    for (const dep of ws.dependents(file)) {
      const depDoc = documents.all().find((d) => uriToPath(d.uri) === dep);
      if (depDoc) schedule(depDoc.uri);
    }
    schedule(uri);
  }

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    const opts = (params.initializationOptions ?? {}) as { declarationSnippets?: boolean; debounceMs?: number };
    if (opts.declarationSnippets === false) declarationSnippets = false;
    if (typeof opts.debounceMs === "number") settings.debounceMs = opts.debounceMs;
    for (const folder of params.workspaceFolders ?? []) ws.addRoot(uriToPath(folder.uri));
    if (!params.workspaceFolders?.length && params.rootUri) ws.addRoot(uriToPath(params.rootUri));
    checker?.warm();
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: false },
        completionProvider: { triggerCharacters: ["(", " ", ">", "+", "-", ","] },
        hoverProvider: true,
        definitionProvider: true,
        referencesProvider: true,
        renameProvider: { prepareProvider: true },
        documentSymbolProvider: true,
        workspaceSymbolProvider: true,
        documentHighlightProvider: true,
        foldingRangeProvider: true,
        semanticTokensProvider: {
          legend: { tokenTypes: [...features.TOKEN_TYPES], tokenModifiers: [...features.TOKEN_MODIFIERS] },
          full: true,
          range: true,
        },
        documentFormattingProvider: true,
        documentRangeFormattingProvider: true,
        codeActionProvider: { codeActionKinds: ["quickfix"] },
        codeLensProvider: { resolveProvider: true },
        inlayHintProvider: true,
      },
      serverInfo: { name: "promisegrid", version: "0.1.0" },
    };
  });

  connection.onDidChangeConfiguration((change) => safely("configuration", () => {
    const s = (change.settings as { promisegrid?: { diagnostics?: { debounceMs?: number }; codeLens?: { enable?: boolean }; inlayHints?: { workloadCids?: boolean } } } | undefined)?.promisegrid;
    if (!s) return;
    if (typeof s.diagnostics?.debounceMs === "number") settings.debounceMs = Math.max(0, s.diagnostics.debounceMs);
    if (typeof s.codeLens?.enable === "boolean") settings.codeLens = s.codeLens.enable;
    if (typeof s.inlayHints?.workloadCids === "boolean") settings.workloadCids = s.inlayHints.workloadCids;
  }));

  connection.onDidChangeWatchedFiles((params) => safely("watched files", () => {
    if (checker) checker.generation++;
    for (const change of params.changes) {
      const file = uriToPath(change.uri);
      ws.forgetFile(file);
      if (change.type === 3) ws.files.delete(file); else if (file.endsWith(".pg")) ws.files.add(file);
      for (const dep of ws.dependents(file)) {
        const depDoc = documents.all().find((d) => uriToPath(d.uri) === dep);
        if (depDoc) schedule(depDoc.uri);
      }
    }
  }));

  documents.onDidOpen((e) => safely("open", () => {
    ws.open.set(uriToPath(e.document.uri), e.document);
    schedule(e.document.uri, 0);
  }));
  documents.onDidChangeContent((e) => safely("change", () => {
    ws.open.set(uriToPath(e.document.uri), e.document);
    changed(e.document.uri);
  }));
  documents.onDidClose((e) => safely("close", () => {
    clearTimeout(timers.get(e.document.uri));
    timers.delete(e.document.uri);
    firstPublished.get(e.document.uri)?.resolve();
    firstPublished.delete(e.document.uri);
    warmed.delete(e.document.uri);
    const file = uriToPath(e.document.uri);
    ws.close(file);
    checker?.closed(file);
    simulator?.closed(file);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
    for (const dep of ws.dependents(file)) {
      const depDoc = documents.all().find((d) => uriToPath(d.uri) === dep);
      if (depDoc) schedule(depDoc.uri);
    }
  }));

  connection.onCompletion(guard("completion", (p) => {
    const { file, offset } = at(p.textDocument.uri, p.position);
    return features.completion(ws, file, offset, declarationSnippets);
  }));
  connection.onHover(guard("hover", (p) => {
    const { file, offset } = at(p.textDocument.uri, p.position);
    return features.hover(ws, file, offset);
  }));
  connection.onDefinition(guard("definition", (p) => {
    const { file, offset } = at(p.textDocument.uri, p.position);
    return features.definition(ws, file, offset);
  }));
  connection.onReferences(guard("references", (p) => {
    const { file, offset } = at(p.textDocument.uri, p.position);
    return features.references(ws, file, offset, p.context.includeDeclaration);
  }));
  connection.onPrepareRename(guard("rename", (p) => {
    const { file, offset } = at(p.textDocument.uri, p.position);
    return features.prepareRename(ws, file, offset);
  }));
  connection.onRenameRequest(guard("rename", (p) => {
    const { file, offset } = at(p.textDocument.uri, p.position);
    return features.rename(ws, file, offset, p.newName);
  }));
  connection.onDocumentSymbol(guard("document symbols", (p) => features.documentSymbols(ws, uriToPath(p.textDocument.uri))));
  connection.onWorkspaceSymbol(guard("workspace symbols", (p) => features.workspaceSymbols(ws, p.query)));
  connection.onDocumentHighlight(guard("highlights", (p) => {
    const { file, offset } = at(p.textDocument.uri, p.position);
    return features.highlights(ws, file, offset);
  }));
  connection.onFoldingRanges(guard("folding", (p) => features.foldingRanges(ws, uriToPath(p.textDocument.uri))));
  connection.languages.semanticTokens.on(guard("semantic tokens", async (p) => {
    await firstDiagnostics(p.textDocument.uri);
    return { data: features.semanticTokens(ws, uriToPath(p.textDocument.uri)) };
  }));
  connection.languages.semanticTokens.onRange(guard("semantic tokens", async (p) => {
    await firstDiagnostics(p.textDocument.uri);
    return { data: features.semanticTokens(ws, uriToPath(p.textDocument.uri), p.range) };
  }));
  connection.onDocumentFormatting(guard("formatting", (p) => features.formatDocument(ws, uriToPath(p.textDocument.uri))));
  connection.onDocumentRangeFormatting(guard("range formatting", (p) => features.formatRange(ws, uriToPath(p.textDocument.uri), p.range)));
  connection.onCodeAction(guard("code actions", (p) => features.codeActions(ws, uriToPath(p.textDocument.uri), p.range)));
  connection.onCodeLens(guard("code lenses", async (p) => {
    if (!settings.codeLens) return [];
    await firstDiagnostics(p.textDocument.uri);
    return features.codeLenses(ws, uriToPath(p.textDocument.uri), p.textDocument.uri);
  }));
  connection.onCodeLensResolve(guard("code lens", async (lens) => {
    const uri = (lens.data as { compile?: string } | undefined)?.compile;
    return uri ? features.resolveCodeLens(ws, uriToPath(uri), lens) : lens;
  }));
  connection.languages.inlayHint.on(guard("inlay hints", async (p, token) => {
    if (!settings.workloadCids) return [];
    const uri = p.textDocument.uri, file = uriToPath(uri);
    await firstDiagnostics(uri);
    const hints = await features.workloadHints(ws, file, p.range);
    const wanted = features.wantsTimeline(ws, file, p.range);
    if (!wanted || !simulator || token.isCancellationRequested) return hints;
    const version = documents.get(uri)?.version;
    const res = await simulator.run({ kind: "timeline", entry: file, ...wanted }, openTexts(), `timeline:${uri}`, token);
    if (!res || "error" in res) {
      if (res) log(`inlay hints: simulation ${res.error.split("\n")[0]}`);
      return hints;
    }
    if (!("timelines" in res) || documents.get(uri)?.version !== version) return hints;
    return [...hints, ...features.revocationHints(ws, file, res.timelines)];
  }));

  // For tests and the client: which process serves (so a crash can be provoked and the restart observed).
  connection.onRequest("promisegrid/serverInfo", () => ({
    pid: process.pid, rss: process.memoryUsage().rss,
    checks: checker ? "thread" : "in-process", threadChecks: checker?.completed ?? 0, inProcessChecks: ws.inProcessChecks,
    checkerStartedEarly: checker?.startedEarly ?? false,
    simulationsCancelled: simulator?.cancelled ?? 0,
  }));

  registerScenarios(connection, ws, guard);

  connection.onShutdown(async () => { await checker?.dispose(); await simulator?.dispose(); });

  documents.listen(connection);
  connection.listen();
}

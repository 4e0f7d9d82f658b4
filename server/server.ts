// The language server: LSP requests and notifications wired to server/features.ts over a Workspace.
// Every handler is isolated: an internal error in one feature answers that request with an error and leaves
// the others working.
import {
  ErrorCodes, ResponseError, TextDocuments, TextDocumentSyncKind,
  type Connection, type InitializeParams, type InitializeResult,
} from "vscode-languageserver/node.js";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { Diagnostic } from "../language/index.ts";
import { CheckerThread } from "./checker-thread.ts";
import * as features from "./features.ts";
import { idle } from "./idle-gc.ts";
import { registerScenarios } from "./scenarios.ts";
import { uriToPath, Workspace } from "./workspace.ts";

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
  function guard<P, R>(name: string, fn: (params: P) => R | Promise<R>): (params: P) => Promise<R> {
    return async (params: P) => {
      try {
        return await fn(params);
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

  const checker = script ? new CheckerThread(script, log) : undefined;

  /** Checks the document's current version (in the checker thread) and publishes the result, unless the document
   * has changed since: then a newer check is on its way, and a stale result is never sent. */
  async function publish(uri: string): Promise<void> {
    timers.delete(uri);
    const doc = documents.get(uri);
    if (!doc) return;
    const file = uriToPath(uri);
    const version = doc.version;
    const text = doc.getText();
    let diagnostics: Diagnostic[] | undefined;
    if (checker) {
      // Open documents win over the disk; the worker reads the rest itself.
      const files: [string, string][] = documents.all().map((d) => [uriToPath(d.uri), d.getText()]);
      const res = await checker.check(file, files);
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
        },
        documentFormattingProvider: true,
        documentRangeFormattingProvider: true,
        codeActionProvider: { codeActionKinds: ["quickfix"] },
        codeLensProvider: { resolveProvider: false },
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
    const file = uriToPath(e.document.uri);
    ws.close(file);
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
  connection.languages.semanticTokens.on(guard("semantic tokens", (p) => ({ data: features.semanticTokens(ws, uriToPath(p.textDocument.uri)) })));
  connection.onDocumentFormatting(guard("formatting", (p) => features.formatDocument(ws, uriToPath(p.textDocument.uri))));
  connection.onDocumentRangeFormatting(guard("range formatting", (p) => features.formatRange(ws, uriToPath(p.textDocument.uri), p.range)));
  connection.onCodeAction(guard("code actions", (p) => features.codeActions(ws, uriToPath(p.textDocument.uri), p.range)));
  connection.onCodeLens(guard("code lenses", (p) => settings.codeLens ? features.codeLenses(ws, uriToPath(p.textDocument.uri), p.textDocument.uri) : []));
  connection.languages.inlayHint.on(guard("inlay hints", (p) => settings.workloadCids ? features.inlayHints(ws, uriToPath(p.textDocument.uri), p.range) : []));

  // For tests and the client: which process serves (so a crash can be provoked and the restart observed).
  connection.onRequest("promisegrid/serverInfo", () => ({
    pid: process.pid, rss: process.memoryUsage().rss,
    checks: checker ? "thread" : "in-process", threadChecks: checker?.completed ?? 0, inProcessChecks: ws.inProcessChecks,
  }));

  registerScenarios(connection, ws, guard);

  connection.onShutdown(() => checker?.dispose());

  documents.listen(connection);
  connection.listen();
}

import { TextDocuments, TextDocumentSyncKind, type Connection } from "vscode-languageserver/node.js";
import { TextDocument } from "vscode-languageserver-textdocument";

export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  connection.onInitialize(() => ({ capabilities: { textDocumentSync: TextDocumentSyncKind.Incremental } }));
  documents.listen(connection);
  connection.listen();
}

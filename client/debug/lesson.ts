// The food-trucks lesson behind the walkthrough (contributes.walkthroughs): opens
// a copy of the example, runs its scenario as a test, steps through it, and
// makes it a lesson deck (the language server renders the HTML).
import * as vscode from "vscode";
import { LESSON_REQUEST, type LessonAnswer, type ScenarioParams } from "../../server/scenario-protocol.ts";
// The example itself, bundled as text by esbuild (loader ".pg": "text"), so the lesson and examples/ never drift apart.
import FOOD_TRUCKS from "../../examples/food-trucks.pg";

export const LESSON_TITLE = "revocation reaches truck5 by gossip";

export function registerLesson(context: vscode.ExtensionContext, request: <R>(method: string, params: ScenarioParams) => Promise<R>): void {
  let deck: vscode.WebviewPanel | undefined;
  const lessonFolder = () => vscode.workspace.workspaceFolders?.[0]?.uri ?? context.globalStorageUri;
  /** The lesson file: in the first workspace folder if there is one, else in the extension's storage. */
  const lessonUri = async (): Promise<vscode.Uri> => {
    const folder = lessonFolder();
    await vscode.workspace.fs.createDirectory(folder);
    const uri = vscode.Uri.joinPath(folder, "food-trucks.pg");
    try {
      await vscode.workspace.fs.stat(uri);
    } catch {
      await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(FOOD_TRUCKS.trimStart()));
    }
    return uri;
  };
  context.subscriptions.push(
    vscode.commands.registerCommand("promisegrid.lesson.open", async () => {
      const uri = await lessonUri();
      await vscode.window.showTextDocument(uri);
      return uri.toString();
    }),
    vscode.commands.registerCommand("promisegrid.lesson.run", async () => {
      const uri = await lessonUri();
      await vscode.window.showTextDocument(uri);
      return vscode.commands.executeCommand("promisegrid.runScenario", uri.toString(), LESSON_TITLE);
    }),
    vscode.commands.registerCommand("promisegrid.lesson.step", async () => {
      const uri = await lessonUri();
      await vscode.window.showTextDocument(uri);
      return vscode.commands.executeCommand("promisegrid.stepScenario", uri.toString(), LESSON_TITLE);
    }),
    // The deck as `promisegrid lesson` writes it: saved beside the lesson file, shown in a panel, offered to a browser.
    vscode.commands.registerCommand("promisegrid.lesson.deck", async () => {
      const uri = await lessonUri();
      const answer = await request<LessonAnswer>(LESSON_REQUEST, { uri: uri.toString(), title: LESSON_TITLE });
      if ("error" in answer) {
        void vscode.window.showErrorMessage(`Lesson deck: ${answer.error.message}`);
        return undefined;
      }
      const out = vscode.Uri.joinPath(lessonFolder(), "food-trucks.lesson.html");
      await vscode.workspace.fs.writeFile(out, new TextEncoder().encode(answer.html));
      if (!deck) {
        deck = vscode.window.createWebviewPanel("promisegrid.lessonDeck", "Lesson: the food trucks", vscode.ViewColumn.Active, { enableScripts: true });
        deck.onDidDispose(() => { deck = undefined; });
      }
      deck.webview.html = answer.html;
      deck.reveal();
      void vscode.window.showInformationMessage(`Wrote ${vscode.workspace.asRelativePath(out)}: arrow keys move, and it prints one slide per page.`, "Open in Browser")
        .then((choice) => (choice ? vscode.env.openExternal(out) : undefined));
      return out.toString();
    }),
  );
}

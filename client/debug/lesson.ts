// The food-trucks lesson behind the walkthrough (contributes.walkthroughs): opens
// a copy of the example, runs its scenario as a test, and steps through it.
import * as vscode from "vscode";
// The example itself, bundled as text by esbuild (loader ".pg": "text"), so the lesson and examples/ never drift apart.
import FOOD_TRUCKS from "../../examples/food-trucks.pg";

export const LESSON_TITLE = "revocation reaches truck5 by gossip";

export function registerLesson(context: vscode.ExtensionContext): void {
  /** The lesson file: in the first workspace folder if there is one, else in the extension's storage. */
  const lessonUri = async (): Promise<vscode.Uri> => {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? context.globalStorageUri;
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
  );
}

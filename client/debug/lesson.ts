// The food-trucks lesson behind the walkthrough (contributes.walkthroughs): opens
// a copy of the example, runs its scenario as a test, and steps through it.
import * as vscode from "vscode";

export const LESSON_TITLE = "revocation reaches truck5 by gossip";

export const FOOD_TRUCKS = `
/// Food trucks that honour one another's lunch passes.
grid food_trucks { hash sha2-256 }

agent truck1 "Taco truck, east end"
agent truck5 "Taco truck, west end"
agent alice "A hungry customer"

currency taco issued by truck1 { supply 100 }

/// truck1 serves lunch to anyone who bears a lunch pass, for 3 taco.
promise truck1_lunch: truck1 -> * +serve(lunch) if holds(lunch_pass) { price 3 taco }
promise alice -> truck1, truck5 -serve(lunch)
/// truck5's promise is its own, conditioned on a token that truck1 issued.
promise truck5 -> * +serve(lunch) if holds(lunch_pass) { price 3 taco }

/// A pass that truck1 issues to alice.
capability lunch_pass from truck1 to alice { grants serve(lunch) expires after 10 steps }

scenario "revocation reaches truck5 by gossip" {
  link truck1 <-> truck5  // who gossips with whom (default: nobody)
  gossip every 1 step  // one hop per step (the default)
  balance alice 10 taco

  step 1: alice invokes lunch_pass at truck1 expect kept
  step 2: truck1 revokes lunch_pass
  step 2: alice invokes lunch_pass at truck5 expect kept  // truck5 has not heard yet
  step 4: alice invokes lunch_pass at truck5 expect refused
  expect truck5 knows revoked(lunch_pass) by step 3
  expect balance alice 4 taco
}
`;

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

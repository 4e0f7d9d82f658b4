// The checker thread's own entry point, bundled apart (dist/server-checker.cjs): a worker that loads only the grammar,
// the language and the check service starts sooner, and holds some 50 MB less, than one that loads the whole server.
import { serveChecks } from "./checker-thread.ts";

serveChecks();

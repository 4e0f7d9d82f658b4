// The server's first import: starts its checker thread before anything else loads (see server/early-checker.ts).
import { startEarlyWorker } from "./early-checker.ts";

startEarlyWorker();

// The server reads files through the one source host (language/host.ts): the open document's text when the
// editor has it open, else the disk's, read once and kept while the file's size and modification time stay the
// same. Its limit is smaller than the CLI's (a document is parsed again at every edit): files over
// MAX_DOCUMENT_BYTES are not read at all.
import { OverlayHost as SourceOverlay, overLimit } from "../language/host.ts";

/** Larger documents are neither parsed nor checked: the server says so in one diagnostic instead. */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

export function tooLarge(text: string): boolean {
  return overLimit(text, MAX_DOCUMENT_BYTES);
}

export class OverlayHost extends SourceOverlay {
  /** `open`: the text of an open document, or undefined for a file the editor does not have open. */
  constructor(open: (path: string) => string | undefined) {
    super(open, MAX_DOCUMENT_BYTES);
  }
}

;;; promisegrid-mode.el --- Major mode for PromiseGrid .pg files  -*- lexical-binding: t; -*-

;; Keywords: languages
;; Package-Requires: ((emacs "27.1"))

;;; Commentary:

;; Font-lock, comments and indentation for the `.pg' language, and the
;; entry that lets eglot start the PromiseGrid language server:
;;
;;   (add-to-list 'load-path "/path/to/promisegrid/editors/emacs")
;;   (require 'promisegrid-mode)
;;   (add-hook 'promisegrid-mode-hook #'eglot-ensure)
;;
;; The server is `node dist/server.cjs --stdio' from this repository (built by
;; `npm run build'); set `promisegrid-server-command' to use another one.

;;; Code:

(defgroup promisegrid nil
  "The PromiseGrid language."
  :group 'languages
  :prefix "promisegrid-")

;; The keyword lists are grammar/tokens.ts's DECLARATION_KEYWORDS and
;; OTHER_KEYWORDS, word for word (test/lsp/emacs.test.ts checks it).
(defconst promisegrid-declaration-keywords
  '("import" "grid" "agent" "currency" "promise" "capability" "delegate" "workload" "scenario")
  "Words that start a top-level declaration.")

(defconst promisegrid-other-keywords
  '("issued" "by" "if" "and" "or" "not" "holds" "kept" "from" "to" "grants" "delegable" "depth"
    "expires" "after" "of" "link" "gossip" "every" "balance" "step" "invokes" "at" "revokes"
    "breaks" "pays" "delegates" "leaves" "joins" "partition" "heal" "expect" "refused" "broken"
    "knows" "revoked" "for")
  "The other reserved words.")

(defconst promisegrid-keywords
  (append promisegrid-declaration-keywords promisegrid-other-keywords)
  "Every reserved word of the language.")

(defcustom promisegrid-indent-offset 2
  "Indentation of a line inside braces."
  :type 'integer)

(defcustom promisegrid-server-command
  (let ((server (expand-file-name "../../dist/server.cjs"
                                  (file-name-directory (or load-file-name buffer-file-name default-directory)))))
    (list "node" "--max-semi-space-size=2" server "--stdio"))
  "How eglot starts the language server: a program and its arguments."
  :type '(repeat string))

(defvar promisegrid-mode-syntax-table
  (let ((table (make-syntax-table)))
    ;; // line comments (/// doc comments among them) and /* block */ comments.
    (modify-syntax-entry ?/ ". 124b" table)
    (modify-syntax-entry ?* ". 23" table)
    (modify-syntax-entry ?\n "> b" table)
    (modify-syntax-entry ?\" "\"" table)
    (modify-syntax-entry ?\\ "\\" table)
    (modify-syntax-entry ?_ "_" table)
    (dolist (c '(?+ ?- ?| ?: ?, ?< ?>))
      (modify-syntax-entry c "." table))
    table)
  "Syntax table of `promisegrid-mode'.")

(defconst promisegrid-font-lock-keywords
  `((,(regexp-opt promisegrid-keywords 'symbols) . font-lock-keyword-face)
    ;; The name a declaration introduces.
    (,(concat (regexp-opt '("agent" "currency" "capability" "delegate" "workload" "grid") 'symbols)
              "[ \t]+\\([A-Za-z_][A-Za-z0-9_]*\\)")
     2 font-lock-function-name-face)
    ("\\_<promise[ \t]+\\([A-Za-z_][A-Za-z0-9_]*\\)[ \t]*:" 1 font-lock-function-name-face)
    ;; Polarity: +body gives, -body uses.
    ("\\([+-]\\)[A-Za-z_]" 1 font-lock-builtin-face)
    ("\\_<[0-9]+\\(?:\\.[0-9]+\\)?\\_>" . font-lock-constant-face))
  "Highlighting of `promisegrid-mode'.")

(defun promisegrid-indent-line ()
  "Indent the current line by the depth of braces around it."
  (interactive)
  (let* ((depth (save-excursion (car (syntax-ppss (line-beginning-position)))))
         (closing (save-excursion (back-to-indentation) (looking-at "}")))
         (column (* promisegrid-indent-offset (max 0 (if closing (1- depth) depth)))))
    (if (<= (current-column) (current-indentation))
        (indent-line-to column)
      (save-excursion (indent-line-to column)))))

;;;###autoload
(define-derived-mode promisegrid-mode prog-mode "PromiseGrid"
  "Major mode for PromiseGrid `.pg' files."
  (setq-local comment-start "// ")
  (setq-local comment-end "")
  (setq-local comment-start-skip "//+[ \t]*")
  (setq-local indent-line-function #'promisegrid-indent-line)
  (setq-local indent-tabs-mode nil)
  (setq-local font-lock-defaults '(promisegrid-font-lock-keywords)))

;;;###autoload
(add-to-list 'auto-mode-alist '("\\.pg\\'" . promisegrid-mode))

;; The language server for eglot (its language id, "promisegrid", comes from the mode's name).
(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs
               `(promisegrid-mode . ,(lambda (&optional _interactive) promisegrid-server-command))))

(provide 'promisegrid-mode)
;;; promisegrid-mode.el ends here

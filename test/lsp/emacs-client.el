;;; emacs-client.el --- A real eglot session in batch Emacs, for test/lsp/emacs.test.ts  -*- lexical-binding: t; -*-
;; Loads editors/emacs/promisegrid-mode.el, opens LSP_FILE (in a git repository: eglot's
;; project), starts the server through eglot and prints what it reports:
;;   KEYWORDS <the mode's keywords, as JSON>
;;   MODE <major mode> FACE <the face at KEYWORD_AT>
;;   DIAG {"line":..,"col":..,"type":..,"message":..}   one per flymake diagnostic
(require 'package)
(package-initialize)
(require 'json)
(require 'eglot)
(require 'flymake)
(require 'promisegrid-mode)

(defun pg-test-out (&rest parts) (princ (concat (apply #'concat parts) "\n")))

(pg-test-out "KEYWORDS " (json-encode (vconcat promisegrid-keywords)))
(find-file (getenv "LSP_FILE"))
(font-lock-ensure)
(goto-char (point-min))
(forward-char (string-to-number (getenv "KEYWORD_AT")))
(pg-test-out "MODE " (symbol-name major-mode) " FACE " (format "%s" (get-text-property (point) 'face)))
(let ((contact (eglot--guess-contact)))
  (apply #'eglot contact))
(let ((deadline (+ (float-time) 30)))
  (while (and (null (flymake-diagnostics)) (< (float-time) deadline))
    (flymake-start)
    (accept-process-output nil 0.1)))
(dolist (d (sort (flymake-diagnostics) (lambda (a b) (< (flymake-diagnostic-beg a) (flymake-diagnostic-beg b)))))
  (let ((beg (flymake-diagnostic-beg d)))
    (pg-test-out "DIAG " (json-encode `((line . ,(line-number-at-pos beg))
                                        (col . ,(save-excursion (goto-char beg) (current-column)))
                                        (type . ,(symbol-name (flymake-diagnostic-type d)))
                                        (message . ,(flymake-diagnostic-text d)))))))
(let ((server (eglot-current-server)))
  (when server (eglot-shutdown server)))
(kill-emacs 0)

-- Headless Neovim 0.7 as a third-party LSP client (vim.lsp.start_client): starts the server over stdio, opens
-- LSP_FILE, waits for its diagnostics, then asks for a hover at HOVER_LINE:HOVER_COL (0-based), and prints both
-- as JSON lines ("DIAG {...}", "HOVER {...}") for the test to check. Exits non-zero on a timeout.
local file = assert(vim.env.LSP_FILE, 'set LSP_FILE')
local cmd = vim.split(assert(vim.env.LSP_CMD, 'set LSP_CMD'), ' ', { trimempty = true })
local got
local client_id = vim.lsp.start_client({
  name = 'promisegrid', cmd = cmd, root_dir = vim.fn.fnamemodify(file, ':p:h'),
  handlers = {
    ['textDocument/publishDiagnostics'] = function(err, result, ctx, config)
      vim.lsp.diagnostic.on_publish_diagnostics(err, result, ctx, config)
      if #result.diagnostics > 0 then got = result end
    end,
  },
})
vim.cmd('edit ' .. vim.fn.fnameescape(file))
vim.bo.filetype = 'promisegrid'
vim.lsp.buf_attach_client(0, client_id)
if not vim.wait(20000, function() return got ~= nil end, 50) then
  io.stdout:write('TIMEOUT: no diagnostics\n')
  vim.cmd('cquit 1')
end
for _, d in ipairs(vim.diagnostic.get(0)) do
  io.stdout:write('DIAG ' .. vim.fn.json_encode({ line = d.lnum, col = d.col, end_line = d.end_lnum, end_col = d.end_col,
    severity = d.severity, code = d.code, message = d.message }) .. '\n')
end
local params = { textDocument = { uri = vim.uri_from_bufnr(0) },
  position = { line = tonumber(vim.env.HOVER_LINE), character = tonumber(vim.env.HOVER_COL) } }
local responses = vim.lsp.buf_request_sync(0, 'textDocument/hover', params, 10000)
if not responses then
  io.stdout:write('TIMEOUT: no hover\n')
  vim.cmd('cquit 1')
end
for _, r in pairs(responses) do
  io.stdout:write('HOVER ' .. vim.fn.json_encode(r.result or { error = r.err }) .. '\n')
end
vim.lsp.stop_client(client_id)
vim.cmd('qall!')

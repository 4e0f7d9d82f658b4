-- Headless Neovim 0.7 as a third-party LSP client, through the shipped editors/neovim files
-- (PLUGIN_DIR): ftdetect makes LSP_FILE a promisegrid buffer, ftplugin sets its comments,
-- require('promisegrid').setup() starts the server (LSP_CMD) and attaches it. Waits for the
-- diagnostics, asks for a hover at HOVER_LINE:HOVER_COL (0-based), then registers the
-- lspconfig entry with a stand-in for nvim-lspconfig (not installable here; it only records
-- what it is given). Prints JSON lines ("FILETYPE", "DIAG", "HOVER", "LSPCONFIG") for the
-- test to check. Exits non-zero on a timeout.
local file = assert(vim.env.LSP_FILE, 'set LSP_FILE')
local cmd = vim.split(assert(vim.env.LSP_CMD, 'set LSP_CMD'), ' ', { trimempty = true })
vim.opt.runtimepath:append(assert(vim.env.PLUGIN_DIR, 'set PLUGIN_DIR'))
vim.cmd('filetype plugin on')
local function out(tag, value) io.stdout:write(tag .. ' ' .. vim.fn.json_encode(value) .. '\n') end

local got
local promisegrid = require('promisegrid')
promisegrid.setup({
  cmd = cmd,
  handlers = {
    ['textDocument/publishDiagnostics'] = function(err, result, ctx, config)
      vim.lsp.diagnostic.on_publish_diagnostics(err, result, ctx, config)
      if #result.diagnostics > 0 then got = result end
    end,
  },
})
vim.cmd('edit ' .. vim.fn.fnameescape(file))
if not vim.wait(20000, function() return got ~= nil end, 50) then
  io.stdout:write('TIMEOUT: no diagnostics\n')
  vim.cmd('cquit 1')
end
out('FILETYPE', { filetype = vim.bo.filetype, commentstring = vim.bo.commentstring, clients = #vim.lsp.buf_get_clients(0) })
for _, d in ipairs(vim.diagnostic.get(0)) do
  out('DIAG', { line = d.lnum, col = d.col, end_line = d.end_lnum, end_col = d.end_col, severity = d.severity, code = d.code, message = d.message })
end
local params = { textDocument = { uri = vim.uri_from_bufnr(0) },
  position = { line = tonumber(vim.env.HOVER_LINE), character = tonumber(vim.env.HOVER_COL) } }
local responses = vim.lsp.buf_request_sync(0, 'textDocument/hover', params, 10000)
if not responses then
  io.stdout:write('TIMEOUT: no hover\n')
  vim.cmd('cquit 1')
end
for _, r in pairs(responses) do out('HOVER', r.result or { error = r.err }) end
vim.lsp.stop_client(vim.lsp.get_active_clients())

-- The stand-in for nvim-lspconfig: a configs table, and setup() recording its options.
local setups = {}
package.loaded['lspconfig.configs'] = {}
package.loaded['lspconfig'] = setmetatable({}, { __index = function(_, name)
  return { setup = function(o) table.insert(setups, { name = name, opts = o }) end }
end })
promisegrid.lspconfig({ autostart = false })
local entry = package.loaded['lspconfig.configs'].promisegrid.default_config
out('LSPCONFIG', { cmd = entry.cmd, filetypes = entry.filetypes, root = entry.root_dir(file), single = entry.single_file_support, setups = setups })
vim.cmd('qall!')

-- The PromiseGrid language server for Neovim: an nvim-lspconfig entry, and a
-- plain vim.lsp.start_client() setup for Neovim 0.7 without lspconfig.
--
--   vim.opt.runtimepath:append('/path/to/promisegrid/editors/neovim')
--   require('promisegrid').lspconfig()   -- with nvim-lspconfig
--   require('promisegrid').setup()       -- without it (Neovim 0.7+)
--
-- Both take { cmd = {...} } to run another server; the default is
-- `node dist/server.cjs --stdio` from this repository (built by `npm run build`).
local M = {}

-- This file is editors/neovim/lua/promisegrid/init.lua: the repository is five directories up.
local here = debug.getinfo(1, 'S').source:sub(2)
local repo = vim.fn.fnamemodify(here, ':p:h:h:h:h:h')

M.server = repo .. '/dist/server.cjs'

--- How the server is started: a program and its arguments.
function M.cmd()
  return { 'node', '--max-semi-space-size=2', M.server, '--stdio' }
end

--- The project of a file: the nearest directory above it with .git, else the file's own directory.
function M.root_dir(fname)
  local dir = vim.fn.fnamemodify(fname, ':p:h')
  local git = vim.fn.finddir('.git', dir .. ';')
  if git ~= '' then return vim.fn.fnamemodify(git, ':p:h:h') end
  return dir
end

--- The nvim-lspconfig entry: registers `promisegrid` with lspconfig and sets it up.
function M.lspconfig(opts)
  opts = opts or {}
  local configs = require('lspconfig.configs')
  if not configs.promisegrid then
    configs.promisegrid = {
      default_config = {
        cmd = opts.cmd or M.cmd(),
        filetypes = { 'promisegrid' },
        root_dir = M.root_dir,
        single_file_support = true,
      },
      docs = { description = 'PromiseGrid language server (.pg files)' },
    }
  end
  require('lspconfig').promisegrid.setup(opts)
end

--- Without lspconfig: one client per project root, attached to every promisegrid buffer.
function M.setup(opts)
  opts = opts or {}
  local clients = {}
  local function attach(buf)
    local root = M.root_dir(vim.api.nvim_buf_get_name(buf))
    if not clients[root] then
      clients[root] = vim.lsp.start_client({ name = 'promisegrid', cmd = opts.cmd or M.cmd(), root_dir = root, handlers = opts.handlers })
    end
    vim.lsp.buf_attach_client(buf, clients[root])
  end
  vim.api.nvim_create_autocmd('FileType', {
    pattern = 'promisegrid',
    group = vim.api.nvim_create_augroup('promisegrid_lsp', { clear = true }),
    callback = function(args) attach(args.buf) end,
  })
  -- Buffers already open when setup() runs.
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.bo[buf].filetype == 'promisegrid' then attach(buf) end
  end
end

return M

" PromiseGrid: .pg files are the promisegrid filetype.
autocmd BufRead,BufNewFile *.pg setfiletype promisegrid

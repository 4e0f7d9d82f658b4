" PromiseGrid: // line comments, two-space indentation inside braces.
if exists('b:did_ftplugin') | finish | endif
let b:did_ftplugin = 1
setlocal commentstring=//\ %s comments=:///,://,s1:/*,mb:*,ex:*/
setlocal shiftwidth=2 expandtab cindent
let b:undo_ftplugin = 'setlocal commentstring< comments< shiftwidth< expandtab< cindent<'

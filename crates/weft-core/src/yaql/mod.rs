//! YAQL (`<% %>`), the second expression language of Orquesta workflows.
// The parser is not called from outside this module yet.
#![allow(dead_code)]

mod ast;
mod lexer;
mod parser;

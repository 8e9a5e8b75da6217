//! Model families written once for graph frameworks, against [`builder::GraphBuilder`].

pub mod builder;

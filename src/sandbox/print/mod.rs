//! kubectl's printing, done server-side: the columns of each kind and the `Table` answers
//! `kubectl get` asks for.

pub mod columns;
pub mod printers;
pub mod table;

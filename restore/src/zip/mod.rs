//! Reading a zip straight from ranged GETs, entry by entry, inflating as bytes arrive.
//!
//! A zip's table of contents (the central directory) is at its end, so we fetch the tail
//! first, then stream each entry's compressed bytes with one ranged GET and inflate them
//! on the fly: the dump never touches the disk and memory stays at a few chunks.
//! Entry names are checked before anything is loaded (absolute or `..` paths refuse the
//! whole dump), and inflation is bounded by a size and a ratio limit against zip bombs.
//!
//! Modules: `source` (S3 object, local file), `directory` (central directory, entry names,
//! limits), `entry` (the inflating reader).

mod directory;
mod entry;
mod source;

pub use directory::{Entry, ZipLimits, read_entries, sql_entries};
pub use entry::EntryReader;
pub use source::{ByteChunks, LocalFile, RangeSource, S3Object};

//! Node names (`load A b0 m1 k0`, `layernorm rows 0..64`, `store C b0 m0 n1 to stream`),
//! kept as their parts and written out only when shown: in traces, dot graphs and error
//! messages. Formatting a string for every node took a tenth of a whole run's lowering;
//! a label's words are shared by the nodes of one loop (one reference count each).

use crate::config::design::Via;
use std::fmt;
use std::sync::Arc;

/// A node's name: shared words, then tile coordinates or a row range, then where an
/// on-chip transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    words: Arc<str>,
    at: At,
    place: Place,
}

/// The coordinates after a label's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Nothing,
    /// Up to four `letter index` pairs (`b0 m1 k0`), letters apart from indices so a label
    /// takes 48 bytes rather than 96 (a graph holds one per node); a zero letter ends the
    /// list.
    Tile([u8; 4], [u32; 4]),
    /// `rows A..B`.
    Rows(u64, u64),
}

/// Where a transfer moves its tile when not through HBM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Hbm,
    OnChip,
    To(Via),
}

impl Label {
    /// Just `words`.
    pub fn new(words: &Arc<str>) -> Self {
        Label {
            words: Arc::clone(words),
            at: At::Nothing,
            place: Place::Hbm,
        }
    }

    /// `words` and the tile's coordinates, each an axis letter (`b`, `m`, `n`, `k`) and an
    /// index; at most four.
    pub fn tile(words: &Arc<str>, coordinates: &[(char, u64)]) -> Self {
        assert!(
            coordinates.len() <= 4,
            "a tile has at most four coordinates"
        );
        let (mut letters, mut indices) = ([0u8; 4], [0u32; 4]);
        for (slot, &(letter, index)) in coordinates.iter().enumerate() {
            letters[slot] = letter as u8;
            // A tile index counts tiles, each a node: the size check bounds them far below.
            indices[slot] = u32::try_from(index).expect("tile indices are below the node limit");
        }
        Label {
            at: At::Tile(letters, indices),
            ..Label::new(words)
        }
    }

    /// `words rows A..B`.
    pub fn rows(words: &Arc<str>, (first, end): (u64, u64)) -> Self {
        Label {
            at: At::Rows(first, end),
            ..Label::new(words)
        }
    }

    /// The same name for the tile's transfer from an on-chip link (`... on chip`).
    pub fn on_chip(self) -> Self {
        Label {
            place: Place::OnChip,
            ..self
        }
    }

    /// The same name for the tile's transfer into an on-chip link (`... to stream`).
    pub fn to(self, via: Via) -> Self {
        Label {
            place: Place::To(via),
            ..self
        }
    }
}

impl From<&str> for Label {
    fn from(words: &str) -> Self {
        Label::new(&Arc::from(words))
    }
}

impl From<String> for Label {
    fn from(words: String) -> Self {
        Label::new(&Arc::from(words))
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words)?;
        match self.at {
            At::Nothing => {}
            At::Tile(letters, indices) => {
                for (letter, index) in letters.iter().zip(indices).take_while(|(l, _)| **l != 0) {
                    write!(f, " {}{index}", *letter as char)?;
                }
            }
            At::Rows(first, end) => write!(f, " rows {first}..{end}")?,
        }
        match self.place {
            Place::Hbm => Ok(()),
            Place::OnChip => f.write_str(" on chip"),
            Place::To(via) => write!(f, " to {}", via.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each form writes what the lowering's names used to be, word for word.
    #[test]
    fn labels_write_their_parts_in_order() {
        let load_a: Arc<str> = Arc::from("load A");
        let tile = Label::tile(&load_a, &[('b', 0), ('m', 12), ('k', 3)]);
        assert_eq!(tile.to_string(), "load A b0 m12 k3");
        assert_eq!(
            tile.clone().on_chip().to_string(),
            "load A b0 m12 k3 on chip"
        );
        let store: Arc<str> = Arc::from("store C");
        let streamed = Label::tile(&store, &[('b', 1), ('m', 0), ('n', 2)]).to(Via::Stream);
        assert_eq!(streamed.to_string(), "store C b1 m0 n2 to stream");
        let pass = Label::rows(&Arc::from("layernorm"), (64, 128));
        assert_eq!(pass.to_string(), "layernorm rows 64..128");
        assert_eq!(
            Label::from("load parameters").to_string(),
            "load parameters"
        );
        assert_ne!(tile, Label::tile(&load_a, &[('b', 0), ('m', 12), ('k', 4)]));
        assert_eq!(size_of::<Label>(), 48);
    }
}

//! Access maps: which elements of which tensor a block of a kernel's operand touches.
//!
//! Every activation a kernel reads or writes is a tensor of its own coordinates: rows are
//! tokens of instances stacked (`instance × tokens + token`), columns are features, heads
//! are slices of the features. A kernel's iteration space may see the tensor otherwise:
//! attention's GEMMs run one instance per (image, head), so their block of instance `b` is
//! rows of image `b / heads` and the columns of head `b % heads` (a key/value head serving
//! `group` query heads). A read's tensor is made of pieces of earlier kernels' outputs
//! (Q, K and V are column slices of one QKV projection; a key cache is the prefix's rows
//! followed by the new tokens' rows); parts no piece covers were in memory before the run
//! (a prefix cache, the model's inputs). From these maps the lowering derives, for any pair
//! of kernels, exactly the producer tiles a read overlaps.

/// A half-open interval of rows or columns.
pub type Span = (u64, u64);

/// A block of a matrix: rows × columns.
pub type Block = (Span, Span);

/// How a kernel's batch index splits a tensor's columns into heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Heads {
    /// Kernel instances per instance of the tensor (the query heads).
    pub per_instance: u64,
    /// Query heads sharing one head of this tensor (grouped-query K and V; 1 otherwise).
    pub group: u64,
    /// Columns of one head.
    pub width: u64,
}

/// A part of a tensor that an earlier kernel wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Piece {
    /// The producer: the kernel this many places earlier in the workload (relative, so
    /// that repeated layers stay identical).
    pub back: u64,
    /// Tokens of each instance of the tensor this piece holds.
    pub tokens: Span,
    /// The producer's rows per instance; the piece's first token is its row 0 of it.
    pub producer_tokens: u64,
    /// Columns of the tensor this piece holds.
    pub cols: Span,
    /// The producer's column the piece's first column is.
    pub producer_col: u64,
}

/// Where a tensor lies in memory: in a stored tensor of `width` columns (an earlier
/// kernel's whole output when the tensor is a column slice of it), from column
/// `col_offset` of it; rows as the tensor's. A tensor split into heads may be stored
/// head-major (a design's choice): `panel` is then (rows per instance, columns per head).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Storage {
    /// Columns of the stored tensor.
    pub width: u64,
    /// The stored column of the tensor's column 0.
    pub col_offset: u64,
    /// Head panels (rows per instance, columns per head), when stored split into heads.
    pub panel: Option<(u64, u64)>,
}

/// The access map of one operand (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Access {
    /// `None`: the kernel's batch index stacks whole matrices (instance `b`'s row `r` is the
    /// tensor's row `b × m + r`).
    pub heads: Option<Heads>,
    /// Rows per instance of the tensor (with `heads`; the row count otherwise).
    pub tokens: u64,
    /// Where the tensor comes from, in order; empty for parameters and inputs.
    pub pieces: Vec<Piece>,
    /// Where it lies when that is not a tensor of its own: a column slice or the whole of an
    /// earlier kernel's output, or an output that readers split into heads.
    pub storage: Option<Storage>,
}

fn overlap(a: Span, b: Span) -> Option<Span> {
    let span = (a.0.max(b.0), a.1.min(b.1));
    (span.0 < span.1).then_some(span)
}

impl Access {
    /// Where the tensor lies, when a block of it is `columns` wide without heads: its stored
    /// tensor, or a tensor of its own (its heads' columns side by side, stored head-major
    /// per instance).
    pub fn storage(&self, columns: u64) -> Storage {
        self.storage.unwrap_or(match self.heads {
            Some(heads) => Storage {
                width: heads.per_instance / heads.group.max(1) * heads.width,
                col_offset: 0,
                panel: Some((self.tokens, heads.width)),
            },
            None => Storage {
                width: columns,
                col_offset: 0,
                panel: None,
            },
        })
    }

    /// The whole `rows × cols` output of the kernel `back` places earlier.
    pub fn whole(back: u64, rows: u64, cols: u64) -> Access {
        Access::columns(back, rows, (0, cols), 0)
    }

    /// Columns `cols` of a `rows`-row tensor, which are the columns from `producer_col` on
    /// of the kernel `back` places earlier.
    pub fn columns(back: u64, rows: u64, cols: Span, producer_col: u64) -> Access {
        Access {
            heads: None,
            tokens: rows,
            pieces: vec![Piece {
                back,
                tokens: (0, rows),
                producer_tokens: rows,
                cols,
                producer_col,
            }],
            storage: None,
        }
    }

    /// The tensor block instance `batch` of the kernel touches at `block` (the kernel's rows
    /// and columns of that instance; `rows_per_batch` of them in each without heads).
    pub fn tensor_block(&self, batch: u64, rows_per_batch: u64, (rows, cols): Block) -> Block {
        match self.heads {
            None => {
                let base = batch * rows_per_batch;
                ((base + rows.0, base + rows.1), cols)
            }
            Some(heads) => {
                let base = batch / heads.per_instance * self.tokens;
                let column = (batch % heads.per_instance) / heads.group * heads.width;
                (
                    (base + rows.0, base + rows.1),
                    (column + cols.0, column + cols.1),
                )
            }
        }
    }

    /// Calls `found` with each piece a tensor block overlaps and the block of the piece's
    /// producer's output it covers there (one per instance the block spans).
    pub fn producer_blocks(&self, (rows, cols): Block, mut found: impl FnMut(&Piece, Block)) {
        let tokens = self.tokens.max(1);
        for piece in &self.pieces {
            let Some(cols) = overlap(cols, piece.cols) else {
                continue;
            };
            let producer_cols = (
                cols.0 - piece.cols.0 + piece.producer_col,
                cols.1 - piece.cols.0 + piece.producer_col,
            );
            let identity = piece.tokens == (0, tokens) && piece.producer_tokens == tokens;
            if identity {
                found(piece, (rows, producer_cols));
                continue;
            }
            if rows.0 >= rows.1 {
                continue;
            }
            for instance in rows.0 / tokens..=(rows.1 - 1) / tokens {
                let base = instance * tokens;
                let within = (rows.0.max(base) - base, rows.1.min(base + tokens) - base);
                let Some(held) = overlap(within, piece.tokens) else {
                    continue;
                };
                let producer_base = instance * piece.producer_tokens;
                let producer_rows = (
                    producer_base + held.0 - piece.tokens.0,
                    producer_base + held.1 - piece.tokens.0,
                );
                found(piece, (producer_rows, producer_cols));
            }
        }
    }
}

/// Says where every activation tensor lies (`Access::storage`). A kernel's output is a
/// tensor of its own, `n` columns wide (its heads side by side, when it has heads); a read
/// of one earlier kernel's rows as they are (a column slice, or the whole output) lies where
/// that output lies; anything else (a key cache: the prefix's rows then new ones; a model
/// input) is a tensor of its own. An output that a read splits into heads gets that read's
/// head panels, so a head-major design stores it as its head-split readers see it (the
/// first such read decides).
pub(super) fn assign_storage(kernels: &mut [super::Kernel]) {
    let direct = |access: &Access| match access.pieces.as_slice() {
        [piece] if piece.tokens == (0, access.tokens) && piece.producer_tokens == access.tokens => {
            Some(*piece)
        }
        _ => None,
    };
    let mut outputs: Vec<Storage> = kernels
        .iter()
        .map(|kernel| {
            let output = kernel
                .operands
                .iter()
                .find(|o| o.direction == super::Direction::Write);
            output.map_or(Access::default().storage(kernel.n), |o| {
                o.access.storage(kernel.n)
            })
        })
        .collect();
    for (index, kernel) in kernels.iter().enumerate() {
        for operand in &kernel.operands {
            let (Some(piece), Some(heads)) = (direct(&operand.access), operand.access.heads) else {
                continue;
            };
            if let Some(producer) = index.checked_sub(piece.back as usize) {
                let panel = &mut outputs[producer].panel;
                panel.get_or_insert((piece.producer_tokens, heads.width));
            }
        }
    }
    for (index, kernel) in kernels.iter_mut().enumerate() {
        for operand in &mut kernel.operands {
            if operand.direction == super::Direction::Write {
                operand.access.storage = Some(outputs[index]);
                continue;
            }
            let Some(piece) = direct(&operand.access) else {
                continue;
            };
            let producer = index.checked_sub(piece.back as usize);
            if let Some(stored) = producer.map(|producer| outputs[producer])
                && let Some(col_offset) =
                    (stored.col_offset + piece.producer_col).checked_sub(piece.cols.0)
            {
                operand.access.storage = Some(Storage {
                    col_offset,
                    ..stored
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_split_block_is_its_heads_columns_of_its_images_rows() {
        // 2 images of 10 tokens, 4 query heads over 2 key/value heads of width 8.
        let keys = Access {
            heads: Some(Heads {
                per_instance: 4,
                group: 2,
                width: 8,
            }),
            tokens: 10,
            pieces: vec![],
            storage: None,
        };
        // Instance 7 is image 1, query head 3, key/value head 1.
        assert_eq!(
            keys.tensor_block(7, 99, ((2, 5), (0, 8))),
            ((12, 15), (8, 16))
        );
        let stacked = Access::whole(1, 40, 8);
        assert_eq!(
            stacked.tensor_block(3, 10, ((2, 5), (1, 4))),
            ((32, 35), (1, 4))
        );
    }

    #[test]
    fn a_cache_piece_maps_new_tokens_to_the_producers_rows_per_instance() {
        // Keys of 2 instances: 6 cached tokens then 3 new ones, columns 4..8 of the
        // producer's output (K beside Q).
        let keys = Access {
            heads: None,
            tokens: 9,
            pieces: vec![Piece {
                back: 2,
                tokens: (6, 9),
                producer_tokens: 3,
                cols: (0, 4),
                producer_col: 4,
            }],
            storage: None,
        };
        let mut found = Vec::new();
        keys.producer_blocks(((5, 16), (1, 3)), |piece, block| {
            found.push((piece.back, block))
        });
        // Instance 0: tokens 6..9 are producer rows 0..3; instance 1: tokens 9..16 hold
        // 0..7 of it, of which 6..7 is producer row 3.
        assert_eq!(found, vec![(2, ((0, 3), (5, 7))), (2, ((3, 4), (5, 7)))]);
        let mut none = Vec::new();
        keys.producer_blocks(((0, 6), (0, 4)), |_, block| none.push(block));
        assert!(none.is_empty(), "the cached tokens have no producer");
    }
}

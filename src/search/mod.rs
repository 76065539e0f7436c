//! Design search: which point of a design space to simulate next.
//!
//! The space is a sweep file's axes, never listed whole (a search's space may hold far more
//! points than a sweep runs). The method, after Timeloop's mapper and the DSE tools that
//! prescreen analytically before they simulate: rank a random sample of the space with the
//! analytical model (the roofline at the tiled OI under the array model, or the pipeline
//! model for overlapping designs; points that do not validate or fit drop out here), let
//! the cycle-level simulation judge the best quarter of the budget, then improve by local
//! search: each round ranks the unsimulated neighbours (one axis moved one or two values)
//! of the best simulated designs analytically and simulates the best few. When every
//! neighbour is spent it restarts from the best unsimulated point of the ranked samples,
//! drawing more samples when those run out (up to 64 times the first sample: a search of a
//! space where almost nothing fits ends rather than rank all of it).
//!
//! Every choice depends only on the seed and on the figures the evaluator returns, never on
//! timing or thread count: the same seed gives the same search on any machine, and a resumed
//! search that is handed its earlier figures asks for exactly the points it asked before.

use std::collections::{BTreeMap, BTreeSet};

/// The most points a search's axes may span (not listed, so not bounded by a sweep's limit).
pub const MAX_SEARCH_POINTS: u64 = 1 << 50;

/// The most designs one search may simulate.
pub const MAX_BUDGET: u64 = 100_000;

/// Designs simulated per round: a constant, not the thread count, so that a seed gives the
/// same search on any machine.
const ROUND: usize = 4;

/// Simulated designs whose neighbourhoods a round explores.
const BEAM: usize = 3;

/// How far one move goes along an axis (in positions of its listed values).
const STEPS: [i64; 4] = [-2, -1, 1, 2];

/// What a search may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// Designs to simulate (the prescreen's analytical rankings are not counted).
    pub budget: u64,
    /// The sampling seed: the same seed finds the same designs.
    pub seed: u64,
}

impl Settings {
    /// Points ranked analytically before the first simulation.
    fn sample_size(&self) -> u64 {
        8 * self.budget + 32
    }

    /// The most points a search ranks: where few designs of a huge space fit, it stops
    /// looking rather than rank the whole space.
    fn max_ranked(&self) -> usize {
        (64 * self.sample_size()) as usize
    }
}

/// The figures a search asks for; lower is better. Results come back in the order asked.
pub trait Evaluator {
    /// The analytical figure of each point, `None` where it does not validate or fit.
    fn predict(&mut self, points: &[u64]) -> Vec<Option<f64>>;
    /// The simulated figure of each point, `None` where the simulation refused it.
    fn simulate(&mut self, points: &[u64]) -> Vec<Option<f64>>;
    /// Whether the search should stop now (an error, a Ctrl-C).
    fn stopped(&self) -> bool {
        false
    }
}

/// A space of points: one position along each axis, the last axis varying fastest (as a
/// sweep numbers its points).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    lengths: Vec<u64>,
}

impl Space {
    /// A space with axes of these lengths (each at least 1); `None` if it spans more than
    /// [`MAX_SEARCH_POINTS`].
    pub fn new(lengths: Vec<u64>) -> Option<Space> {
        let size = lengths.iter().try_fold(1u64, |size, &len| {
            (len > 0).then(|| size.checked_mul(len)).flatten()
        })?;
        (size <= MAX_SEARCH_POINTS).then_some(Space { lengths })
    }

    /// Designs in the space.
    pub fn size(&self) -> u64 {
        self.lengths.iter().product()
    }

    fn positions(&self, mut index: u64) -> Vec<u64> {
        let mut positions = vec![0; self.lengths.len()];
        for (slot, &len) in positions.iter_mut().zip(&self.lengths).rev() {
            *slot = index % len;
            index /= len;
        }
        positions
    }

    fn index(&self, positions: &[u64]) -> u64 {
        positions
            .iter()
            .zip(&self.lengths)
            .fold(0, |index, (&position, &len)| index * len + position)
    }

    /// Points one move away, with the axis moved: one axis moved by one of [`STEPS`], in
    /// axis then step order.
    fn neighbours(&self, index: u64) -> Vec<(usize, u64)> {
        let positions = self.positions(index);
        let mut out = Vec::new();
        for (axis, &len) in self.lengths.iter().enumerate() {
            for step in STEPS {
                let moved = positions[axis] as i64 + step;
                if (0..len as i64).contains(&moved) {
                    let mut next = positions.clone();
                    next[axis] = moved as u64;
                    out.push((axis, self.index(&next)));
                }
            }
        }
        out
    }
}

/// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014): a tiny generator whose stream is fixed
/// by its seed on every platform, which is all a reproducible search needs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform below `bound` (> 0), by rejection so no value is favoured.
    fn below(&mut self, bound: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % bound;
        loop {
            let value = self.next();
            if value < zone {
                return value % bound;
            }
        }
    }
}

/// What a search did: every simulated point with its figure, in the order simulated, and
/// how many points it ranked analytically.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Designs simulated, with their objective (`None`: skipped).
    pub simulated: Vec<(u64, Option<f64>)>,
    /// Designs ranked by the analytical model.
    pub predicted: usize,
}

impl Found {
    /// The best simulated point and its figure (ties: the lower index).
    pub fn best(&self) -> Option<(u64, f64)> {
        best_of(self.simulated.iter().copied(), 1)
            .into_iter()
            .next()
    }
}

/// The `count` best points with a figure, best first (ties: the lower index).
fn best_of(points: impl Iterator<Item = (u64, Option<f64>)>, count: usize) -> Vec<(u64, f64)> {
    let mut ranked: Vec<(u64, f64)> = points
        .filter_map(|(index, figure)| figure.map(|f| (index, f)))
        .collect();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    ranked.truncate(count);
    ranked
}

/// The search's memory: what was ranked and simulated.
struct State<'a, E: Evaluator> {
    space: &'a Space,
    evaluator: &'a mut E,
    rng: Rng,
    predicted: BTreeMap<u64, Option<f64>>,
    simulated: Vec<(u64, Option<f64>)>,
    simulated_set: BTreeSet<u64>,
}

impl<E: Evaluator> State<'_, E> {
    fn predict(&mut self, points: &[u64]) {
        let new: Vec<u64> = points
            .iter()
            .copied()
            .filter(|p| !self.predicted.contains_key(p))
            .collect();
        let figures = self.evaluator.predict(&new);
        self.predicted.extend(new.into_iter().zip(figures));
    }

    fn simulate(&mut self, points: &[u64]) {
        let figures = self.evaluator.simulate(points);
        self.simulated_set.extend(points);
        self.simulated.extend(points.iter().copied().zip(figures));
    }

    /// `count` points not yet ranked: every point in index order while the space is small,
    /// else uniform draws. Empty when the space is spent.
    fn draw(&mut self, count: u64) -> Vec<u64> {
        let size = self.space.size();
        let unranked = size - self.predicted.len() as u64;
        if unranked <= 2 * count {
            return (0..size)
                .filter(|p| !self.predicted.contains_key(p))
                .take(count as usize)
                .collect();
        }
        let mut drawn = BTreeSet::new();
        let mut order = Vec::new();
        while (order.len() as u64) < count {
            let point = self.rng.below(size);
            if !self.predicted.contains_key(&point) && drawn.insert(point) {
                order.push(point);
            }
        }
        order
    }

    /// The best ranked points not yet simulated.
    fn best_unsimulated(&self, among: impl Iterator<Item = u64>, count: usize) -> Vec<u64> {
        let candidates = among
            .filter(|p| !self.simulated_set.contains(p))
            .map(|p| (p, self.predicted.get(&p).copied().flatten()));
        best_of(candidates, count)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }
}

/// Searches `space` for the point of the lowest simulated figure within `settings.budget`
/// simulations.
pub fn search(space: &Space, settings: &Settings, evaluator: &mut impl Evaluator) -> Found {
    let mut state = State {
        space,
        evaluator,
        rng: Rng(settings.seed),
        predicted: BTreeMap::new(),
        simulated: Vec::new(),
        simulated_set: BTreeSet::new(),
    };
    let budget = settings.budget as usize;
    let sample = state.draw(settings.sample_size());
    state.predict(&sample);
    let first = state.best_unsimulated(sample.iter().copied(), budget.div_ceil(4));
    state.simulate(&first);
    let mut axis_turn = 0;
    while state.simulated.len() < budget && !state.evaluator.stopped() {
        let room = ROUND.min(budget - state.simulated.len());
        let beam = best_of(state.simulated.iter().copied(), BEAM);
        let neighbours: BTreeSet<u64> = beam
            .iter()
            .flat_map(|&(point, _)| space.neighbours(point))
            .map(|(_, p)| p)
            .filter(|p| !state.simulated_set.contains(p))
            .collect();
        let neighbours: Vec<u64> = neighbours.into_iter().collect();
        state.predict(&neighbours);
        // Half the round as the analytical model ranks the neighbours; the rest moves the
        // best design along its axes in turn, since the model may be blind to an axis (a knob
        // whose effect only the simulation sees).
        let mut next = state.best_unsimulated(neighbours.iter().copied(), room.div_ceil(2));
        if let Some(&(best, _)) = beam.first() {
            let moves = space.neighbours(best);
            for _ in 0..space.lengths.len() {
                if next.len() == room {
                    break;
                }
                let axis = axis_turn % space.lengths.len();
                axis_turn += 1;
                let along = moves
                    .iter()
                    .filter(|&&(a, p)| a == axis && !next.contains(&p))
                    .map(|&(_, p)| p);
                next.extend(state.best_unsimulated(along, 1));
            }
        }
        if next.is_empty() {
            // Every neighbour of the best is simulated or does not fit: restart from the best
            // ranked point not simulated, ranking more of the space when none is left.
            next = state.best_unsimulated(state.predicted.keys().copied(), room);
            if next.is_empty() {
                let more = state.draw(settings.sample_size() / 4);
                if more.is_empty() || state.predicted.len() >= settings.max_ranked() {
                    break;
                }
                state.predict(&more);
                next = state.best_unsimulated(more.into_iter(), room);
            }
        }
        if !next.is_empty() {
            state.simulate(&next);
        }
    }
    Found {
        simulated: state.simulated,
        predicted: state.predicted.len(),
    }
}

#[cfg(test)]
mod tests;

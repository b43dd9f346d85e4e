//! The trees of a tree ensemble, checked once and flattened for evaluation.
//!
//! Every operator of the family (TreeEnsembleRegressor, TreeEnsembleClassifier, TreeEnsemble)
//! describes its trees as [`Draft`] nodes; [`Forest::new`] refuses what would make evaluation
//! read out of bounds or never end (a child out of range, a cycle, a target out of range,
//! trees sharing nodes so that a row would cost more steps than the model has nodes), then
//! lays the reachable nodes out in one array of 16-byte (f32) nodes. A leaf points to itself
//! on both branches, so a walk can take a fixed number of branch-free steps. Rows go through
//! one tree at a time in blocks of [`BLOCK`], each step advancing every row of the block,
//! which keeps a tree's nodes in cache and lets the loads of different rows overlap; a few
//! rows go one at a time through [`LANES`] trees at once, for the same overlap.
//!
//! Comparisons and NaN follow onnxruntime: the true branch is taken when the comparison
//! holds or, on a node with `missing_value_tracks_true`, when the value is NaN.

use std::fmt::Debug;
use std::ops::{Add, Div, Neg, Sub};

/// The largest feature index a node may test.
pub(super) const MAX_FEATURE: usize = u32::MAX as usize;

/// The element types trees are stored and summed in: f32, or f64 when the model gives its
/// thresholds and weights as doubles.
pub(super) trait Real:
    Copy
    + Debug
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Neg<Output = Self>
    + Div<Output = Self>
    + Send
    + Sync
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    /// f64: wider than any input but f64.
    const WIDE: bool;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn from_usize(v: usize) -> Self;
    fn is_nan(self) -> bool;
    /// To a type at least as wide, exactly (f32 to f64, or to itself).
    fn widen<X: Real>(self) -> X {
        X::from_f64(self.to_f64())
    }
}

macro_rules! real {
    ($t:ty, $wide:expr) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const WIDE: bool = $wide;
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_usize(v: usize) -> Self {
                v as $t
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
real!(f32, false);
real!(f64, true);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub(super) enum Mode {
    Leq = 0,
    Lt = 1,
    Gte = 2,
    Gt = 3,
    Eq = 4,
    Neq = 5,
    Member = 6,
}

/// One node as an operator's attributes describe it. `next` indexes the same list of drafts:
/// the true branch, then the false one.
#[derive(Debug, Clone)]
pub(super) enum Draft<S> {
    Branch { feature: usize, mode: Mode, threshold: S, members: Vec<S>, missing_true: bool, next: [usize; 2] },
    Leaf { weights: Vec<(usize, S)> },
}

/// How messages name what they refuse: a draft ("node 4 of tree 2") and the attribute that
/// gives leaves their targets (`target_ids`, `class_ids`, `leaf_targetids`).
pub(super) struct Naming<'a> {
    pub node: &'a dyn Fn(usize) -> String,
    pub targets: &'static str,
}

/// Why the drafts do not make a forest: the attribute to blame and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Invalid {
    pub attribute: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// What the trees give each row: per target, the aggregate of the leaf weights reached, and
/// whether any leaf gave that target a weight at all (onnxruntime's `has_score`, which its
/// classifiers and its MIN and MAX aggregates depend on). Both are [rows, targets].
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Scores<S> {
    pub values: Vec<S>,
    pub has: Vec<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Node<S> {
    /// The threshold; in a leaf with one weight, that weight.
    value: S,
    feature: u32,
    /// True branch, false branch; a leaf's are itself.
    next: [u32; 2],
}

/// `flags` of a node: its mode (or LEAF) in the low bits, and missing_value_tracks_true.
const MODE_MASK: u8 = 7;
const LEAF: u8 = 7;
const MISSING_TRUE: u8 = 8;
/// A tree whose leaves do not all give one weight to one target.
const MANY_TARGETS: u32 = u32::MAX;
/// Rows walked together through one tree; below ROWS_TOGETHER rows, trees are walked
/// together instead (LANES at a time), so that a single row's walks overlap too.
const BLOCK: usize = 64;
const ROWS_TOGETHER: usize = 8;
const LANES: usize = 16;

/// Invariants: every `next` and every root indexes `nodes`, and so does every index of
/// `flags` and `leaf_start` but the last; walking `depths[t]` steps from `roots[t]` reaches
/// a leaf; `leaf_start` indexes `weights`, whose targets are below `targets`, as is every
/// `tree_target` but MANY_TARGETS; every branch's feature is at most `max_feature`;
/// `set_of` is empty or has one entry per node, indexing `sets` where the node is MEMBER.
#[derive(Debug, Clone)]
pub(super) struct Forest<S> {
    nodes: Vec<Node<S>>,
    flags: Vec<u8>,
    roots: Vec<u32>,
    depths: Vec<u32>,
    /// The one target all of a tree's leaves weigh, with one weight each (most GBDTs).
    tree_target: Vec<u32>,
    leaf_start: Vec<u32>,
    weights: Vec<(u32, S)>,
    sets: Vec<Vec<S>>,
    set_of: Vec<u32>,
    targets: usize,
    max_feature: Option<usize>,
    /// The one comparison every branch makes, when it is BRANCH_LEQ or BRANCH_LT (what
    /// scikit-learn, LightGBM and XGBoost write); others take the general path.
    uniform: Option<Mode>,
    /// Some branch sends NaN to its true branch.
    missing: bool,
}

impl<S: Real> Forest<S> {
    /// Checks and flattens `drafts`, one tree per root. Drafts no root reaches are dropped,
    /// as onnxruntime ignores them.
    pub fn new(drafts: Vec<Draft<S>>, roots: &[usize], targets: usize, naming: &Naming) -> Result<Forest<S>, Invalid> {
        let describe = naming.node;
        let invalid = |attribute, message| Invalid { attribute, message };
        if drafts.len() >= u32::MAX as usize / 2 {
            return Err(invalid(
                "nodes_featureids",
                format!("{} nodes is more than this runtime can hold", drafts.len()),
            ));
        }
        for (i, d) in drafts.iter().enumerate() {
            match d {
                Draft::Branch { feature, next, .. } => {
                    // Always false on wasm32, where usize is u32; natively it is the check.
                    #[allow(clippy::absurd_extreme_comparisons)]
                    if *feature > MAX_FEATURE {
                        return Err(invalid(
                            "nodes_featureids",
                            format!("{} tests feature {feature}, above the limit of {MAX_FEATURE}", describe(i)),
                        ));
                    }
                    for (k, &n) in next.iter().enumerate() {
                        let attribute = if k == 0 { "nodes_truenodeids" } else { "nodes_falsenodeids" };
                        if n >= drafts.len() {
                            return Err(invalid(
                                attribute,
                                format!("{} branches to node {n}, which does not exist", describe(i)),
                            ));
                        }
                        if n == i {
                            return Err(invalid(attribute, format!("{} branches to itself", describe(i))));
                        }
                    }
                }
                Draft::Leaf { weights } => {
                    if let Some((t, _)) = weights.iter().find(|(t, _)| *t >= targets) {
                        return Err(invalid(
                            naming.targets,
                            format!("{} gives a weight to target {t}, but there are {targets} targets", describe(i)),
                        ));
                    }
                }
            }
        }
        if let Some(&r) = roots.iter().find(|&&r| r >= drafts.len()) {
            return Err(invalid("tree_roots", format!("a tree starts at node {r}, which does not exist")));
        }
        let weights: usize =
            drafts.iter().map(|d| if let Draft::Leaf { weights } = d { weights.len() } else { 0 }).sum();
        if weights >= u32::MAX as usize {
            return Err(invalid(naming.targets, format!("{weights} leaf weights is more than this runtime can hold")));
        }
        let walked = walk_drafts(&drafts, roots).map_err(|(i, branch)| {
            let attribute = if branch == 0 { "nodes_truenodeids" } else { "nodes_falsenodeids" };
            invalid(attribute, format!("the branches of {} lead back to it: a tree must not have cycles", describe(i)))
        })?;
        // Trees that share their nodes (several roots on one subtree) would make a row cost
        // more steps than the model has nodes; disjoint trees never do.
        let steps: u64 = roots.iter().map(|&r| u64::from(walked.depth[r])).sum();
        if steps > drafts.len() as u64 {
            return Err(invalid(
                "tree_roots",
                format!(
                    "the {} trees share nodes: a row would take {steps} steps through {} nodes",
                    roots.len(),
                    drafts.len()
                ),
            ));
        }
        Ok(Self::flatten(&drafts, roots, &walked, targets))
    }

    /// Lays out the nodes reachable from the roots in depth-first order, each once.
    fn flatten(drafts: &[Draft<S>], roots: &[usize], walked: &Walked, targets: usize) -> Forest<S> {
        const UNSEEN: u32 = u32::MAX;
        let mut index = vec![UNSEEN; drafts.len()];
        let mut order = Vec::new();
        let mut stack = Vec::new();
        for &root in roots {
            stack.push(root);
            while let Some(i) = stack.pop() {
                if index[i] != UNSEEN {
                    continue;
                }
                index[i] = order.len() as u32;
                order.push(i);
                if let Draft::Branch { next, .. } = &drafts[i] {
                    stack.extend([next[1], next[0]]);
                }
            }
        }
        let any_member = order.iter().any(|&i| matches!(&drafts[i], Draft::Branch { mode: Mode::Member, .. }));
        let mut forest = Forest {
            nodes: Vec::with_capacity(order.len()),
            flags: Vec::with_capacity(order.len()),
            roots: roots.iter().map(|&r| index[r]).collect(),
            depths: roots.iter().map(|&r| walked.depth[r]).collect(),
            tree_target: roots.iter().map(|&r| walked.target[r]).collect(),
            leaf_start: Vec::with_capacity(order.len() + 1),
            weights: Vec::new(),
            sets: Vec::new(),
            set_of: Vec::new(),
            targets,
            max_feature: None,
            uniform: None,
            missing: false,
        };
        let mut modes = std::collections::BTreeSet::new();
        for (new, &i) in order.iter().enumerate() {
            forest.leaf_start.push(forest.weights.len() as u32);
            let me = new as u32;
            let (node, flags) = match &drafts[i] {
                Draft::Branch { feature, mode, threshold, members, missing_true, next } => {
                    modes.insert(*mode);
                    forest.missing |= *missing_true;
                    forest.max_feature = forest.max_feature.max(Some(*feature));
                    if any_member {
                        forest.set_of.push(forest.sets.len() as u32);
                        if *mode == Mode::Member {
                            forest.sets.push(members.clone());
                        }
                    }
                    let flags = *mode as u8 | if *missing_true { MISSING_TRUE } else { 0 };
                    (
                        Node { value: *threshold, feature: *feature as u32, next: [index[next[0]], index[next[1]]] },
                        flags,
                    )
                }
                Draft::Leaf { weights } => {
                    if any_member {
                        forest.set_of.push(0);
                    }
                    forest.weights.extend(weights.iter().map(|&(t, w)| (t as u32, w)));
                    let value = if let [(_, w)] = weights[..] { w } else { S::ZERO };
                    (Node { value, feature: 0, next: [me, me] }, LEAF)
                }
            };
            forest.nodes.push(node);
            forest.flags.push(flags);
        }
        forest.leaf_start.push(forest.weights.len() as u32);
        forest.uniform = match modes.iter().collect::<Vec<_>>()[..] {
            [&m] if m == Mode::Leq || m == Mode::Lt => Some(m),
            [] => Some(Mode::Leq),
            _ => None,
        };
        forest
    }

    pub fn trees(&self) -> usize {
        self.roots.len()
    }

    /// The same trees with thresholds and weights in `T` (exact from f32 to f64).
    pub fn widened<T: Real>(&self) -> Forest<T> {
        Forest {
            nodes: self
                .nodes
                .iter()
                .map(|n| Node { value: n.value.widen(), feature: n.feature, next: n.next })
                .collect(),
            flags: self.flags.clone(),
            roots: self.roots.clone(),
            depths: self.depths.clone(),
            tree_target: self.tree_target.clone(),
            leaf_start: self.leaf_start.clone(),
            weights: self.weights.iter().map(|&(t, w)| (t, w.widen())).collect(),
            sets: self.sets.iter().map(|set| set.iter().map(|v| v.widen()).collect()).collect(),
            set_of: self.set_of.clone(),
            targets: self.targets,
            max_feature: self.max_feature,
            uniform: self.uniform,
            missing: self.missing,
        }
    }

    /// The largest feature index any branch tests: inputs need more features than that.
    pub fn max_feature(&self) -> Option<usize> {
        self.max_feature
    }

    /// Aggregates, for each of `rows` rows of `x` (row-major, `stride` values a row, with
    /// `stride > max_feature`), the weights of the leaves the trees reach. Sums run over the
    /// trees in order, as onnxruntime's do; AVERAGE divides the sum by the number of trees.
    pub fn aggregate<X: Real>(&self, x: &[X], stride: usize, rows: usize, aggregate: Aggregate) -> Scores<S> {
        let mut scores = Scores { values: vec![S::ZERO; rows * self.targets], has: vec![false; rows * self.targets] };
        if self.max_feature.is_some_and(|f| f >= stride) || x.len() < rows * stride {
            // The caller's checks exclude this, and `walk` relies on it.
            return scores;
        }
        if rows < ROWS_TOGETHER {
            self.by_trees(x, stride, rows, aggregate, &mut scores);
        } else {
            self.by_rows(x, stride, rows, aggregate, &mut scores);
        }
        if aggregate == Aggregate::Average {
            let trees = S::from_usize(self.trees());
            scores.values.iter_mut().for_each(|v| *v = *v / trees);
        }
        scores
    }

    /// Each row on its own, its walks through LANES trees at a time interleaved.
    fn by_trees<X: Real>(&self, x: &[X], stride: usize, rows: usize, aggregate: Aggregate, scores: &mut Scores<S>) {
        let mut at = [0u32; LANES];
        let t = self.targets;
        for row in 0..rows {
            let nan = self.missing && x[row * stride..(row + 1) * stride].iter().any(|v| v.is_nan());
            let base = [row * stride; LANES];
            let (values, has) = (&mut scores.values[row * t..(row + 1) * t], &mut scores.has[row * t..(row + 1) * t]);
            for (chunk, roots) in self.roots.chunks(LANES).enumerate() {
                let first = chunk * LANES;
                let at = &mut at[..roots.len()];
                at.copy_from_slice(roots);
                let depth = self.depths[first..first + roots.len()].iter().copied().max().unwrap_or(0);
                self.walk_any(x, at, &base[..roots.len()], depth, nan);
                for (k, &leaf) in at.iter().enumerate() {
                    self.gather(first + k, leaf, aggregate, values, has);
                }
            }
        }
    }

    /// BLOCK rows at a time, their walks through each tree interleaved.
    fn by_rows<X: Real>(&self, x: &[X], stride: usize, rows: usize, aggregate: Aggregate, scores: &mut Scores<S>) {
        let mut at = [0u32; BLOCK];
        let mut base = [0usize; BLOCK];
        let t = self.targets;
        for first in (0..rows).step_by(BLOCK) {
            let n = BLOCK.min(rows - first);
            let nan = self.missing && x[first * stride..(first + n) * stride].iter().any(|v| v.is_nan());
            for (k, b) in base[..n].iter_mut().enumerate() {
                *b = (first + k) * stride;
            }
            let values = &mut scores.values[first * t..(first + n) * t];
            let has = &mut scores.has[first * t..(first + n) * t];
            for (tree, (&root, &depth)) in self.roots.iter().zip(&self.depths).enumerate() {
                let at = &mut at[..n];
                at.fill(root);
                self.walk_any(x, at, &base[..n], depth, nan);
                for (row, &leaf) in at.iter().enumerate() {
                    self.gather(
                        tree,
                        leaf,
                        aggregate,
                        &mut values[row * t..(row + 1) * t],
                        &mut has[row * t..(row + 1) * t],
                    );
                }
            }
        }
    }

    /// `walk` for this forest's comparisons; `nan` says whether the rows hold a NaN.
    fn walk_any<X: Real>(&self, x: &[X], at: &mut [u32], base: &[usize], depth: u32, nan: bool) {
        const LEQ: u32 = Mode::Leq as u32;
        const LT: u32 = Mode::Lt as u32;
        match (self.uniform, nan) {
            (Some(Mode::Leq), false) => self.walk::<X, LEQ, false>(x, at, base, depth),
            (Some(Mode::Leq), true) => self.walk::<X, LEQ, true>(x, at, base, depth),
            (Some(Mode::Lt), false) => self.walk::<X, LT, false>(x, at, base, depth),
            (Some(Mode::Lt), true) => self.walk::<X, LT, true>(x, at, base, depth),
            (_, false) => self.walk::<X, MIXED, false>(x, at, base, depth),
            (_, true) => self.walk::<X, MIXED, true>(x, at, base, depth),
        }
    }

    /// Advances every lane (node `at[k]`, its row at `base[k]` in `x`) one level at a
    /// time, branch-free, until all stand on leaves or `depth` steps are done.
    #[inline(always)]
    fn walk<X: Real, const MODE: u32, const MISSING: bool>(&self, x: &[X], at: &mut [u32], base: &[usize], depth: u32) {
        for _ in 0..depth {
            let mut moved = 0;
            for (i, &b) in at.iter_mut().zip(base) {
                // SAFETY: lanes start at roots and move along `next`, which index `nodes`
                // (checked in `new`); `b` is the start of a row of `stride` values in `x`
                // and a feature is at most `max_feature` < `stride` (checked in `aggregate`).
                let (node, v) = unsafe {
                    let node = self.nodes.get_unchecked(*i as usize);
                    (node, *x.get_unchecked(b + node.feature as usize))
                };
                let next = node.next[usize::from(!self.holds::<X, MODE, MISSING>(*i, node, v))];
                moved |= next ^ *i;
                *i = next;
            }
            if moved == 0 {
                break;
            }
        }
    }

    #[inline(always)]
    fn holds<X: Real, const MODE: u32, const MISSING: bool>(&self, i: u32, node: &Node<S>, v: X) -> bool {
        let t: X = node.value.widen();
        // SAFETY: `i` indexes `nodes`, and `flags` has one entry per node.
        let flags = if MODE == MIXED || MISSING { unsafe { *self.flags.get_unchecked(i as usize) } } else { 0 };
        let mode = if MODE == MIXED { u32::from(flags & MODE_MASK) } else { MODE };
        let holds = match mode {
            0 => v <= t,
            1 => v < t,
            2 => v >= t,
            3 => v > t,
            4 => v == t,
            5 => v != t,
            6 => self.member(i, v),
            _ => false,
        };
        holds | (MISSING && flags & MISSING_TRUE != 0 && v.is_nan())
    }

    fn member<X: Real>(&self, i: u32, v: X) -> bool {
        let set = self.set_of.get(i as usize).and_then(|&s| self.sets.get(s as usize));
        set.is_some_and(|set| set.iter().any(|&m| m.widen::<X>() == v))
    }

    /// Folds the weights of `leaf`, reached in `tree`, into one row's scores.
    #[inline(always)]
    fn gather(&self, tree: usize, leaf: u32, aggregate: Aggregate, values: &mut [S], has: &mut [bool]) {
        let target = self.tree_target[tree];
        if target != MANY_TARGETS {
            let t = target as usize;
            values[t] = fold(aggregate, values[t], has[t], self.nodes[leaf as usize].value);
            has[t] = true;
            return;
        }
        let (start, end) = (self.leaf_start[leaf as usize] as usize, self.leaf_start[leaf as usize + 1] as usize);
        for &(t, w) in &self.weights[start..end] {
            let t = t as usize;
            values[t] = fold(aggregate, values[t], has[t], w);
            has[t] = true;
        }
    }
}

const MIXED: u32 = 8;

#[inline(always)]
fn fold<S: Real>(aggregate: Aggregate, acc: S, has: bool, w: S) -> S {
    match aggregate {
        Aggregate::Sum | Aggregate::Average => acc + w,
        Aggregate::Min => {
            if !has || w < acc {
                w
            } else {
                acc
            }
        }
        Aggregate::Max => {
            if !has || w > acc {
                w
            } else {
                acc
            }
        }
    }
}

/// Per draft: its depth (a leaf's is 0) and the one target all its leaves weigh with one
/// weight each, else MANY_TARGETS.
struct Walked {
    depth: Vec<u32>,
    target: Vec<u32>,
}

/// Depth and target of every draft reachable from `roots`, or a draft a cycle passes
/// through and the branch (0 true, 1 false) that closes it. Iterative, and each draft is
/// finished once, so neither deep trees nor drafts shared by many paths cost more than the
/// size of the forest.
fn walk_drafts<S>(drafts: &[Draft<S>], roots: &[usize]) -> Result<Walked, (usize, usize)> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; drafts.len()];
    let mut walked = Walked { depth: vec![0; drafts.len()], target: vec![MANY_TARGETS; drafts.len()] };
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for &root in roots {
        if state[root] == DONE {
            continue;
        }
        state[root] = OPEN;
        stack.push((root, 0));
        while let Some((node, child)) = stack.last_mut() {
            let node = *node;
            match &drafts[node] {
                Draft::Branch { next, .. } if *child < 2 => {
                    let branch = *child;
                    let c = next[branch];
                    *child += 1;
                    match state[c] {
                        NEW => {
                            state[c] = OPEN;
                            stack.push((c, 0));
                        }
                        OPEN => return Err((node, branch)),
                        _ => {}
                    }
                }
                Draft::Branch { next, .. } => {
                    walked.depth[node] = 1 + walked.depth[next[0]].max(walked.depth[next[1]]);
                    let (a, b) = (walked.target[next[0]], walked.target[next[1]]);
                    walked.target[node] = if a == b { a } else { MANY_TARGETS };
                    state[node] = DONE;
                    stack.pop();
                }
                Draft::Leaf { weights } => {
                    if let [(t, _)] = weights[..] {
                        walked.target[node] = t as u32;
                    }
                    state[node] = DONE;
                    stack.pop();
                }
            }
        }
    }
    Ok(walked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(feature: usize, mode: Mode, threshold: f32, next: [usize; 2]) -> Draft<f32> {
        Draft::Branch { feature, mode, threshold, members: vec![], missing_true: false, next }
    }

    fn leaf(w: f32) -> Draft<f32> {
        Draft::Leaf { weights: vec![(0, w)] }
    }

    fn forest(drafts: Vec<Draft<f32>>, roots: &[usize]) -> Result<Forest<f32>, Invalid> {
        Forest::new(drafts, roots, 1, &Naming { node: &|i| format!("node {i}"), targets: "target_ids" })
    }

    /// x0 <= 1 ? (x1 <= 2 ? 10 : 20) : 30
    fn stump() -> Vec<Draft<f32>> {
        vec![branch(0, Mode::Leq, 1.0, [1, 4]), branch(1, Mode::Leq, 2.0, [2, 3]), leaf(10.0), leaf(20.0), leaf(30.0)]
    }

    fn sums(f: &Forest<f32>, x: &[f32], stride: usize, aggregate: Aggregate) -> Vec<f32> {
        f.aggregate(x, stride, x.len() / stride, aggregate).values
    }

    #[test]
    fn walks_each_row_to_its_leaf_in_any_block_position() {
        let f = forest(stump(), &[0]).unwrap();
        let rows: Vec<[f32; 2]> = (0..150).map(|i| [(i % 3) as f32, (i % 5) as f32]).collect();
        let x: Vec<f32> = rows.iter().flatten().copied().collect();
        let expected: Vec<f32> =
            rows.iter().map(|r| if r[0] <= 1.0 { if r[1] <= 2.0 { 10.0 } else { 20.0 } } else { 30.0 }).collect();
        assert_eq!(sums(&f, &x, 2, Aggregate::Sum), expected);
        // Below ROWS_TOGETHER rows the trees are walked together instead: the same answers.
        let one_by_one: Vec<f32> = x.chunks(2).flat_map(|row| sums(&f, row, 2, Aggregate::Sum)).collect();
        assert_eq!(one_by_one, expected);
    }

    #[test]
    fn trees_aggregate_by_sum_average_min_and_max() {
        let mut drafts = stump();
        drafts.extend([branch(0, Mode::Gt, 0.0, [6, 7]), leaf(1.0), leaf(-1.0)]);
        let f = forest(drafts, &[0, 5]).unwrap();
        let x = [0.5, 3.0, -1.0, 0.0];
        assert_eq!(sums(&f, &x, 2, Aggregate::Sum), [21.0, 9.0]);
        assert_eq!(sums(&f, &x, 2, Aggregate::Average), [10.5, 4.5]);
        assert_eq!(sums(&f, &x, 2, Aggregate::Min), [1.0, -1.0]);
        assert_eq!(sums(&f, &x, 2, Aggregate::Max), [20.0, 10.0]);
    }

    #[test]
    fn nan_takes_the_false_branch_unless_missing_tracks_true() {
        let mut drafts = stump();
        let f = forest(drafts.clone(), &[0]).unwrap();
        assert_eq!(sums(&f, &[f32::NAN, 0.0], 2, Aggregate::Sum), [30.0]);
        drafts[0] = Draft::Branch {
            feature: 0,
            mode: Mode::Leq,
            threshold: 1.0,
            members: vec![],
            missing_true: true,
            next: [1, 4],
        };
        let f = forest(drafts, &[0]).unwrap();
        assert_eq!(sums(&f, &[f32::NAN, 0.0], 2, Aggregate::Sum), [10.0]);
        assert_eq!(sums(&f, &[f32::NAN, f32::NAN], 2, Aggregate::Sum), [20.0]);
    }

    #[test]
    fn every_comparison_in_one_tree() {
        // A chain: each mode's true branch is its own leaf, its false branch the next test.
        let modes =
            [(Mode::Leq, 0.0), (Mode::Lt, 1.0), (Mode::Gte, 9.0), (Mode::Gt, 8.0), (Mode::Eq, 2.0), (Mode::Neq, 3.0)];
        let mut drafts = Vec::new();
        for (k, (mode, t)) in modes.iter().enumerate() {
            drafts.push(branch(0, *mode, *t, [2 * k + 1, 2 * k + 2]));
            drafts.push(leaf(k as f32));
        }
        drafts.push(leaf(100.0));
        let f = forest(drafts, &[0]).unwrap();
        assert_eq!(f.uniform, None);
        let x = [-1.0, 0.5, 9.5, 8.5, 2.0, 4.0, 3.0, f32::NAN];
        // NaN fails every comparison but !=.
        assert_eq!(sums(&f, &x, 1, Aggregate::Sum), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 100.0, 5.0]);
    }

    #[test]
    fn set_membership_and_missing_values() {
        let member = |missing_true| Draft::Branch {
            feature: 1,
            mode: Mode::Member,
            threshold: 0.0,
            members: vec![4.0, 5.0],
            missing_true,
            next: [1, 2],
        };
        for (missing_true, nan) in [(false, 200.0), (true, 100.0)] {
            let f = forest(vec![member(missing_true), leaf(100.0), leaf(200.0)], &[0]).unwrap();
            let x = [0.0, 4.0, 0.0, 5.0, 0.0, 4.5, 0.0, f32::NAN];
            assert_eq!(sums(&f, &x, 2, Aggregate::Sum), [100.0, 100.0, 200.0, nan]);
        }
    }

    #[test]
    fn several_targets_and_leaves_with_several_weights() {
        let drafts = vec![
            Draft::Branch {
                feature: 0,
                mode: Mode::Lt,
                threshold: 0.0,
                members: vec![],
                missing_true: false,
                next: [1, 2],
            },
            Draft::Leaf { weights: vec![(0, 1.0), (2, 2.0)] },
            Draft::Leaf { weights: vec![(1, 3.0)] },
        ];
        let f = Forest::new(drafts, &[0, 0], 3, &Naming { node: &|i| format!("{i}"), targets: "t" }).unwrap();
        let s = f.aggregate(&[-1.0f32, 1.0], 1, 2, Aggregate::Sum);
        assert_eq!(s.values, [2.0, 0.0, 4.0, 0.0, 6.0, 0.0]);
        assert_eq!(s.has, [true, false, true, false, true, false]);
    }

    #[test]
    fn wider_inputs_compare_against_widened_thresholds() {
        let f = forest(vec![branch(0, Mode::Leq, 0.1, [1, 2]), leaf(1.0), leaf(2.0)], &[0]).unwrap();
        // 0.1f32 is slightly above 0.1f64: the f64 input 0.1 is below it, as in onnxruntime.
        assert_eq!(f.aggregate(&[0.1f64, 0.1000001], 1, 2, Aggregate::Sum).values, [1.0, 2.0]);
    }

    #[test]
    fn shared_subtrees_are_laid_out_once_and_deep_chains_are_fine() {
        // Every node's two branches go to the next one: 2^40 paths, 41 nodes.
        let mut drafts: Vec<Draft<f32>> = (0..40).map(|i| branch(0, Mode::Leq, 0.0, [i + 1, i + 1])).collect();
        drafts.push(leaf(7.0));
        let f = forest(drafts, &[0]).unwrap();
        assert_eq!(f.nodes.len(), 41);
        assert_eq!(f.depths, [40]);
        assert_eq!(sums(&f, &[1.0], 1, Aggregate::Sum), [7.0]);
        let mut chain: Vec<Draft<f32>> = (0..100_000).map(|i| branch(0, Mode::Gt, 0.0, [i + 1, i + 1])).collect();
        chain.push(leaf(1.0));
        assert_eq!(sums(&forest(chain, &[0]).unwrap(), &[1.0], 1, Aggregate::Sum), [1.0]);
    }

    #[test]
    fn trees_sharing_nodes_beyond_the_model_size_are_refused() {
        let mut chain: Vec<Draft<f32>> = (0..100).map(|i| branch(0, Mode::Leq, 0.0, [i + 1, i + 1])).collect();
        chain.push(leaf(1.0));
        // The same 100-step chain as two trees: 200 steps a row through 101 nodes.
        let e = forest(chain.clone(), &[0, 0]).unwrap_err();
        assert_eq!(e.attribute, "tree_roots");
        assert!(e.message.contains("200 steps through 101 nodes"), "{}", e.message);
        assert!(forest(chain, &[0, 50]).is_err());
    }

    #[test]
    fn malformed_trees_are_refused_naming_the_attribute() {
        let mut cycle = stump();
        cycle[1] = branch(1, Mode::Leq, 2.0, [2, 0]);
        let e = forest(cycle, &[0]).unwrap_err();
        assert_eq!(e.attribute, "nodes_falsenodeids");
        assert!(e.message.contains("cycles"), "{}", e.message);
        let mut out_of_range = stump();
        out_of_range[1] = branch(1, Mode::Leq, 2.0, [2, 9]);
        let e = forest(out_of_range, &[0]).unwrap_err();
        assert_eq!(
            (e.attribute, e.message.as_str()),
            ("nodes_falsenodeids", "node 1 branches to node 9, which does not exist")
        );
        let mut to_itself = stump();
        to_itself[0] = branch(0, Mode::Leq, 1.0, [0, 4]);
        assert!(forest(to_itself, &[0]).unwrap_err().message.contains("itself"));
        let mut bad_target = stump();
        bad_target[2] = Draft::Leaf { weights: vec![(1, 1.0)] };
        assert_eq!(forest(bad_target, &[0]).unwrap_err().attribute, "target_ids");
        assert_eq!(forest(stump(), &[5]).unwrap_err().attribute, "tree_roots");
        let mut wide = stump();
        wide[0] = branch(MAX_FEATURE + 1, Mode::Leq, 1.0, [1, 4]);
        assert_eq!(forest(wide, &[0]).unwrap_err().attribute, "nodes_featureids");
    }

    #[test]
    fn a_stride_that_misses_a_feature_gives_no_answer_instead_of_a_panic() {
        let f = forest(stump(), &[0]).unwrap();
        assert_eq!(f.aggregate(&[0.0f32], 1, 1, Aggregate::Sum).has, [false]);
    }
}

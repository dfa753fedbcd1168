//! A layered ("Sugiyama") layout of a directed graph, top to bottom.
//!
//! 1. **Loops.** A depth-first walk from the first node finds the edges
//!    that go back along a loop; they are turned around for the layering
//!    and drawn as going back.
//! 2. **Layers.** Each node goes one layer below the lowest node it is
//!    reached from (longest path), so every edge points down.
//! 3. **Way points.** An edge that spans several layers gets a way point
//!    on each layer between, which takes part in ordering like a narrow
//!    node, so long edges keep out of the nodes' way.
//! 4. **Order.** Sweeps down and up the layers put each node at the mean
//!    position of its neighbours in the layer before (barycentres), and
//!    the order with the fewest crossings is kept; then neighbours in a
//!    row swap places wherever that removes crossings (rows of up to
//!    [`TRANSPOSE_ROW`] slots).
//! 5. **Positions.** Sweeps again move each node towards the mean of its
//!    neighbours' centres, as close as the order and the gaps allow: the
//!    exact least-squares answer for one layer, by pooling adjacent
//!    violators.
//!
//! Every step is linear or `n log n` in the nodes, edges and way points,
//! but for the sweeps, of which there is a fixed number; way points are
//! capped ([`MAX_WAY_POINTS`]), past which long edges are drawn straight.

use std::collections::VecDeque;

/// Gaps between what is drawn.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Spacing {
    /// Between neighbours in a layer. Default 28.
    pub node_gap: f64,
    /// Between one layer's bottom and the next one's top. Default 56.
    pub layer_gap: f64,
    /// Width a way point of a long edge takes in its layer. Default 12.
    pub way_point: f64,
    /// Around the whole drawing. Default 16.
    pub margin: f64,
}

impl Default for Spacing {
    fn default() -> Self {
        Spacing {
            node_gap: 28.0,
            layer_gap: 56.0,
            way_point: 12.0,
            margin: 16.0,
        }
    }
}

impl Spacing {
    /// The defaults.
    pub fn new() -> Spacing {
        Spacing::default()
    }
}

/// Where one node goes: its top-left corner, its size, its layer.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Placed {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// Its layer, from 0 at the top.
    pub layer: usize,
}

/// How one edge is drawn: through these points, in order from the node it
/// leaves to the node it reaches.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Route {
    /// The points, from the edge's start to its end (at least two).
    pub points: Vec<(f64, f64)>,
    /// The edge goes back up, along a loop.
    pub back: bool,
    /// The edge leaves and reaches the same node.
    pub self_loop: bool,
}

/// A layout: a [`Placed`] per node and a [`Route`] per edge, in the order
/// they were given, and the size of the whole.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Layout {
    /// Width of the drawing.
    pub width: f64,
    /// Height of the drawing.
    pub height: f64,
    /// Per node.
    pub nodes: Vec<Placed>,
    /// Per edge.
    pub edges: Vec<Route>,
}

/// Way points over all long edges, at most: past it, long edges are drawn
/// straight (a pathological graph would otherwise need a way point per
/// edge per layer).
pub(crate) const MAX_WAY_POINTS: usize = 200_000;

/// Sweeps of ordering (each down then up).
const ORDER_SWEEPS: usize = 6;

/// Rows longer than this are not improved by swapping neighbours (each
/// pass over a row costs its slots times their edges).
const TRANSPOSE_ROW: usize = 400;

/// Sweeps of positioning (each down then up).
const POSITION_SWEEPS: usize = 6;

/// The layout of nodes of `sizes` and `edges` (pairs of node indices).
pub(crate) fn layered(sizes: &[(f64, f64)], edges: &[(usize, usize)], spacing: &Spacing) -> Layout {
    let n = sizes.len();
    if n == 0 {
        return Layout {
            width: 2.0 * spacing.margin,
            height: 2.0 * spacing.margin,
            nodes: Vec::new(),
            edges: Vec::new(),
        };
    }
    let edges: Vec<(usize, usize)> = edges
        .iter()
        .map(|&(a, b)| (a.min(n - 1), b.min(n - 1)))
        .collect();
    let back = back_edges(n, &edges);
    // The graph the layers are made of: loops turned around, self-loops
    // and repeated pairs left out.
    let mut dag: Vec<(usize, usize)> = edges
        .iter()
        .zip(&back)
        .filter(|((a, b), _)| a != b)
        .map(|(&(a, b), &is_back)| if is_back { (b, a) } else { (a, b) })
        .collect();
    dag.sort_unstable();
    dag.dedup();
    let layer = layers(n, &dag);
    let mut g = Layered::new(sizes, &layer, &dag, spacing);
    g.order();
    g.position(spacing);
    g.finish(&edges, &back, spacing)
}

/// Marks the edges that close a loop, found by a depth-first walk from
/// node 0 and then from every node not yet reached, in index order.
fn back_edges(n: usize, edges: &[(usize, usize)]) -> Vec<bool> {
    let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, &(a, _)) in edges.iter().enumerate() {
        out_edges[a].push(i);
    }
    // 0 unseen, 1 on the walk's path, 2 done.
    let mut state = vec![0u8; n];
    let mut back = vec![false; edges.len()];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (v, next) = *top;
            if let Some(&e) = out_edges[v].get(next) {
                top.1 += 1;
                let w = edges[e].1;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => back[e] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    back
}

/// Longest-path layers of an acyclic graph: sources at 0.
fn layers(n: usize, dag: &[(usize, usize)]) -> Vec<usize> {
    let mut indegree = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in dag {
        indegree[b] += 1;
        out[a].push(b);
    }
    let mut layer = vec![0usize; n];
    let mut ready: VecDeque<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    while let Some(v) = ready.pop_front() {
        for &w in &out[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            indegree[w] -= 1;
            if indegree[w] == 0 {
                ready.push_back(w);
            }
        }
    }
    layer
}

/// The layered graph being laid out: the nodes and the way points of long
/// edges (together, "slots"), each layer's slots in order.
struct Layered {
    /// Nodes: the slots before the way points.
    nodes: usize,
    /// Per slot: its layer.
    layer: Vec<usize>,
    /// Per slot: its width and height.
    size: Vec<(f64, f64)>,
    /// Per slot: the slots it is joined to in the layer above and below.
    up: Vec<Vec<usize>>,
    down: Vec<Vec<usize>>,
    /// Per layer: its slots, in order.
    rows: Vec<Vec<usize>>,
    /// Per slot: its place in its row.
    pos: Vec<usize>,
    /// Per slot: the x of its centre.
    x: Vec<f64>,
    /// Per edge of the acyclic graph: the slots it goes through, top to
    /// bottom (both ends included).
    chains: Vec<((usize, usize), Vec<usize>)>,
}

impl Layered {
    fn new(
        sizes: &[(f64, f64)],
        layer: &[usize],
        dag: &[(usize, usize)],
        spacing: &Spacing,
    ) -> Layered {
        let n = sizes.len();
        let mut g = Layered {
            nodes: n,
            layer: layer.to_vec(),
            size: sizes.to_vec(),
            up: vec![Vec::new(); n],
            down: vec![Vec::new(); n],
            rows: Vec::new(),
            pos: Vec::new(),
            x: Vec::new(),
            chains: Vec::with_capacity(dag.len()),
        };
        let mut budget = MAX_WAY_POINTS;
        for &(a, b) in dag {
            let span = layer[b].saturating_sub(layer[a]);
            let mut chain = vec![a];
            if span > 1 && span - 1 <= budget {
                budget -= span - 1;
                for l in layer[a] + 1..layer[b] {
                    let w = g.layer.len();
                    g.layer.push(l);
                    g.size.push((spacing.way_point, 0.0));
                    g.up.push(Vec::new());
                    g.down.push(Vec::new());
                    chain.push(w);
                }
            }
            chain.push(b);
            for pair in chain.windows(2) {
                // A chain past the budget joins layers far apart: it takes
                // no part in ordering.
                if g.layer[pair[1]] == g.layer[pair[0]] + 1 {
                    g.down[pair[0]].push(pair[1]);
                    g.up[pair[1]].push(pair[0]);
                }
            }
            g.chains.push(((a, b), chain));
        }
        let depth = g.layer.iter().max().map_or(0, |m| m + 1);
        g.rows = vec![Vec::new(); depth];
        // First order: a breadth-first walk from the top, so that what is
        // reached together starts together.
        let slots = g.layer.len();
        let mut seen = vec![false; slots];
        let mut queue: VecDeque<usize> = VecDeque::new();
        for v in 0..slots {
            if g.up[v].is_empty() && !seen[v] {
                seen[v] = true;
                queue.push_back(v);
            }
            while let Some(s) = queue.pop_front() {
                g.rows[g.layer[s]].push(s);
                for &w in &g.down[s] {
                    if !seen[w] {
                        seen[w] = true;
                        queue.push_back(w);
                    }
                }
            }
        }
        for (v, _) in seen.iter().enumerate().filter(|(_, s)| !**s) {
            g.rows[g.layer[v]].push(v);
        }
        g.pos = vec![0; slots];
        g.renumber();
        g
    }

    fn renumber(&mut self) {
        for row in &self.rows {
            for (i, &s) in row.iter().enumerate() {
                self.pos[s] = i;
            }
        }
    }

    /// Barycentre sweeps; keeps the order with the fewest crossings.
    fn order(&mut self) {
        let mut best = self.rows.clone();
        let mut best_crossings = self.crossings();
        for _ in 0..ORDER_SWEEPS {
            if best_crossings == 0 {
                break;
            }
            for l in 1..self.rows.len() {
                self.sort_row(l, true);
            }
            for l in (0..self.rows.len().saturating_sub(1)).rev() {
                self.sort_row(l, false);
            }
            let c = self.crossings();
            if c < best_crossings {
                best_crossings = c;
                best = self.rows.clone();
            }
        }
        self.rows = best;
        self.renumber();
        self.transpose();
    }

    /// Swaps neighbours in a row while that removes crossings with the
    /// rows above and below.
    fn transpose(&mut self) {
        for _ in 0..4 {
            let mut improved = false;
            for l in 0..self.rows.len() {
                if self.rows[l].len() > TRANSPOSE_ROW {
                    continue;
                }
                for i in 0..self.rows[l].len().saturating_sub(1) {
                    let (u, v) = (self.rows[l][i], self.rows[l][i + 1]);
                    let (keep, swap) = self.pair_crossings(u, v);
                    if swap < keep {
                        self.rows[l].swap(i, i + 1);
                        self.pos[u] = i + 1;
                        self.pos[v] = i;
                        improved = true;
                    }
                }
            }
            if !improved {
                break;
            }
        }
    }

    /// Crossings among the edges of `u` and `v` (neighbours, `u` left),
    /// as they are and with the two swapped.
    fn pair_crossings(&self, u: usize, v: usize) -> (usize, usize) {
        let mut keep = 0;
        let mut swap = 0;
        for near in [(&self.up[u], &self.up[v]), (&self.down[u], &self.down[v])] {
            for &a in near.0 {
                for &b in near.1 {
                    let (pa, pb) = (self.pos[a], self.pos[b]);
                    keep += usize::from(pa > pb);
                    swap += usize::from(pb > pa);
                }
            }
        }
        (keep, swap)
    }

    /// The slots next to `s` in the row above (`from_above`) or below.
    fn neighbours(&self, s: usize, from_above: bool) -> &[usize] {
        if from_above {
            &self.up[s]
        } else {
            &self.down[s]
        }
    }

    /// Orders row `l` by the mean place of each slot's neighbours above
    /// (`from_above`) or below; a slot without any keeps its place.
    fn sort_row(&mut self, l: usize, from_above: bool) {
        let mut keyed: Vec<(f64, usize)> = self.rows[l]
            .iter()
            .map(|&s| {
                let near = self.neighbours(s, from_above);
                let key = if near.is_empty() {
                    self.pos[s] as f64
                } else {
                    near.iter().map(|&t| self.pos[t] as f64).sum::<f64>() / near.len() as f64
                };
                (key, s)
            })
            .collect();
        // Stable: ties keep their order.
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.rows[l] = keyed.into_iter().map(|(_, s)| s).collect();
        for (i, &s) in self.rows[l].iter().enumerate() {
            self.pos[s] = i;
        }
    }

    /// Edge crossings between every pair of neighbouring rows (counted
    /// with a Fenwick tree: `e log n` per pair of rows).
    fn crossings(&self) -> usize {
        let mut total = 0usize;
        for l in 0..self.rows.len().saturating_sub(1) {
            let below = self.rows[l + 1].len();
            let mut ends: Vec<(usize, usize)> = Vec::new();
            for &s in &self.rows[l] {
                for &t in &self.down[s] {
                    ends.push((self.pos[s], self.pos[t]));
                }
            }
            ends.sort_unstable();
            let mut tree = vec![0usize; below + 1];
            for (seen, &(_, t)) in ends.iter().enumerate() {
                // Edges seen so far that end right of `t` cross this one.
                let mut i = t + 1;
                let mut at_or_left = 0;
                while i > 0 {
                    at_or_left += tree[i];
                    i &= i - 1;
                }
                total += seen - at_or_left;
                let mut i = t + 1;
                while i <= below {
                    tree[i] += 1;
                    i += i & i.wrapping_neg();
                }
            }
        }
        total
    }

    /// x of each slot: packed rows first, then sweeps that pull each slot
    /// towards its neighbours' mean.
    fn position(&mut self, spacing: &Spacing) {
        self.x = vec![0.0; self.layer.len()];
        for row in &self.rows {
            let mut at = 0.0;
            for &s in row {
                let w = self.size[s].0;
                self.x[s] = at + w / 2.0;
                at += w + spacing.node_gap;
            }
        }
        for _ in 0..POSITION_SWEEPS {
            for l in 1..self.rows.len() {
                self.place_row(l, true, spacing);
            }
            for l in (0..self.rows.len().saturating_sub(1)).rev() {
                self.place_row(l, false, spacing);
            }
        }
    }

    /// Places row `l` as near as its order and gaps allow to where its
    /// neighbours above (or below) want it, in the least-squares sense.
    fn place_row(&mut self, l: usize, from_above: bool, spacing: &Spacing) {
        let row = &self.rows[l];
        if row.is_empty() {
            return;
        }
        // The i-th slot must be at least `offset[i]` right of the first;
        // with y = x - offset, the slots' y must not decrease.
        let mut offset = Vec::with_capacity(row.len());
        let mut acc = 0.0;
        for (i, &s) in row.iter().enumerate() {
            if i > 0 {
                let prev = row[i - 1];
                acc += (self.size[prev].0 + self.size[s].0) / 2.0 + spacing.node_gap;
            }
            offset.push(acc);
        }
        let want: Vec<f64> = row
            .iter()
            .map(|&s| {
                let near = self.neighbours(s, from_above);
                if near.is_empty() {
                    self.x[s]
                } else {
                    near.iter().map(|&t| self.x[t]).sum::<f64>() / near.len() as f64
                }
            })
            .collect();
        // Pool adjacent violators: blocks of (sum, count), merged while a
        // block's mean is below the one before.
        let mut blocks: Vec<(f64, usize)> = Vec::with_capacity(row.len());
        for (w, o) in want.iter().zip(&offset) {
            blocks.push((w - o, 1));
            while blocks.len() > 1 {
                let (s2, c2) = blocks[blocks.len() - 1];
                let (s1, c1) = blocks[blocks.len() - 2];
                if s1 / c1 as f64 > s2 / c2 as f64 {
                    blocks.pop();
                    let last = blocks.len() - 1;
                    blocks[last] = (s1 + s2, c1 + c2);
                } else {
                    break;
                }
            }
        }
        let mut i = 0;
        for (sum, count) in blocks {
            let y = sum / count as f64;
            for _ in 0..count {
                self.x[row[i]] = y + offset[i];
                i += 1;
            }
        }
    }

    /// The coordinates of nodes and the routes of `edges` (as given,
    /// before loops were turned around).
    fn finish(&self, edges: &[(usize, usize)], back: &[bool], spacing: &Spacing) -> Layout {
        let n_nodes = self.nodes;
        let left = (0..self.layer.len())
            .map(|s| self.x[s] - self.size[s].0 / 2.0)
            .fold(f64::INFINITY, f64::min);
        let shift = spacing.margin - if left.is_finite() { left } else { 0.0 };
        // Each layer's top, and its height (its tallest node).
        let mut heights = vec![0.0f64; self.rows.len()];
        for s in 0..self.layer.len() {
            heights[self.layer[s]] = heights[self.layer[s]].max(self.size[s].1);
        }
        let mut tops = Vec::with_capacity(heights.len());
        let mut at = spacing.margin;
        for h in &heights {
            tops.push(at);
            at += h + spacing.layer_gap;
        }
        let height = at - spacing.layer_gap + spacing.margin;
        let centre = |s: usize| -> (f64, f64) {
            let l = self.layer[s];
            (self.x[s] + shift, tops[l] + heights[l] / 2.0)
        };
        let nodes: Vec<Placed> = (0..n_nodes)
            .map(|v| {
                let (w, h) = self.size[v];
                let (cx, cy) = centre(v);
                Placed {
                    x: cx - w / 2.0,
                    y: cy - h / 2.0,
                    width: w,
                    height: h,
                    layer: self.layer[v],
                }
            })
            .collect();
        let width = nodes
            .iter()
            .map(|p| p.x + p.width)
            .chain((0..self.layer.len()).map(|s| centre(s).0))
            .fold(0.0f64, f64::max)
            + spacing.margin;
        let bottom = |v: usize| (centre(v).0, nodes[v].y + nodes[v].height);
        let top = |v: usize| (centre(v).0, nodes[v].y);
        let routes = edges
            .iter()
            .zip(back)
            .map(|(&(a, b), &is_back)| {
                if a == b {
                    let p = &nodes[a];
                    let (r, y0, y1) = (p.x + p.width, p.y + p.height * 0.3, p.y + p.height * 0.7);
                    return Route {
                        points: vec![(r, y0), (r + 18.0, y0 - 6.0), (r + 18.0, y1 + 6.0), (r, y1)],
                        back: false,
                        self_loop: true,
                    };
                }
                let (hi, lo) = if is_back { (b, a) } else { (a, b) };
                // Chains are in the order of the sorted, deduplicated pairs.
                let chain = self
                    .chains
                    .binary_search_by_key(&(hi, lo), |(pair, _)| *pair)
                    .ok()
                    .map(|i| self.chains[i].1.as_slice());
                let mut points = vec![bottom(hi)];
                if let Some(chain) = chain {
                    points.extend(chain[1..chain.len() - 1].iter().map(|&w| centre(w)));
                }
                points.push(top(lo));
                if is_back {
                    points.reverse();
                }
                Route {
                    points,
                    back: is_back,
                    self_loop: false,
                }
            })
            .collect();
        Layout {
            width,
            height,
            nodes,
            edges: routes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxes(n: usize) -> Vec<(f64, f64)> {
        vec![(60.0, 30.0); n]
    }

    fn overlaps(l: &Layout) -> bool {
        l.nodes.iter().enumerate().any(|(i, a)| {
            l.nodes.iter().skip(i + 1).any(|b| {
                a.x < b.x + b.width
                    && b.x < a.x + a.width
                    && a.y < b.y + b.height
                    && b.y < a.y + a.height
            })
        })
    }

    #[test]
    fn a_chain_goes_straight_down() {
        let l = layered(&boxes(4), &[(0, 1), (1, 2), (2, 3)], &Spacing::default());
        let xs: Vec<f64> = l.nodes.iter().map(|p| p.x).collect();
        assert!(xs.iter().all(|x| (x - xs[0]).abs() < 1e-9), "{xs:?}");
        assert!(l.nodes.windows(2).all(|w| w[1].y > w[0].y));
        assert_eq!(l.nodes[3].layer, 3);
    }

    #[test]
    fn a_diamond_is_centred_and_does_not_overlap() {
        let l = layered(
            &boxes(4),
            &[(0, 1), (0, 2), (1, 3), (2, 3)],
            &Spacing::default(),
        );
        assert!(!overlaps(&l));
        let centre = |i: usize| l.nodes[i].x + l.nodes[i].width / 2.0;
        assert!((centre(0) - centre(3)).abs() < 1e-6);
        assert!((centre(0) - (centre(1) + centre(2)) / 2.0).abs() < 1e-6);
        assert_eq!(l.nodes[1].y, l.nodes[2].y);
    }

    #[test]
    fn a_loop_goes_back_and_its_way_back_is_marked() {
        // 0 -> 1 -> 2 -> 1 (a loop), 2 -> 3.
        let edges = [(0, 1), (1, 2), (2, 1), (2, 3)];
        let l = layered(&boxes(4), &edges, &Spacing::default());
        assert_eq!([0, 1, 2, 3], [0, 1, 2, 3].map(|i| l.nodes[i].layer));
        assert!(l.edges[2].back && !l.edges[1].back);
        // Drawn from 2 (below) up to 1.
        let pts = &l.edges[2].points;
        assert!(pts[0].1 > pts[pts.len() - 1].1, "{pts:?}");
    }

    #[test]
    fn long_edges_pass_between_nodes() {
        let edges = [
            (0, 1),
            (1, 2),
            (2, 3),
            (0, 3),
            (0, 4),
            (4, 5),
            (5, 6),
            (1, 6),
        ];
        let l = layered(&boxes(7), &edges, &Spacing::default());
        assert!(!overlaps(&l));
        assert_eq!(
            l.edges[3].points.len(),
            4,
            "two way points: {:?}",
            l.edges[3]
        );
        // The way points sit on the layers between, clear of the nodes.
        for &(x, y) in &l.edges[3].points[1..3] {
            assert!(!l
                .nodes
                .iter()
                .any(|p| x > p.x && x < p.x + p.width && y > p.y && y < p.y + p.height));
        }
    }

    #[test]
    fn crossings_of_the_first_order_are_removed() {
        // The walk's first order puts 5 right of 3, under the edge 2 -> 3.
        let edges = [(0, 1), (0, 2), (1, 3), (1, 5), (2, 3), (2, 4)];
        let mut g = Layered::new(&boxes(6), &layers(6, &edges), &edges, &Spacing::default());
        assert_eq!(g.crossings(), 1);
        g.order();
        assert_eq!(g.crossings(), 0, "{:?}", g.rows);
    }

    #[test]
    fn self_loops_and_repeated_edges_are_drawn() {
        let l = layered(&boxes(2), &[(0, 1), (0, 1), (1, 1)], &Spacing::default());
        assert_eq!(l.edges.len(), 3);
        assert!(l.edges[2].self_loop);
        assert_eq!(l.edges[0], l.edges[1]);
    }

    #[test]
    fn ten_thousand_nodes_are_laid_out() {
        // A fan-out of 10,000 tasks that all join at the end.
        let n = 10_002;
        let mut edges = Vec::new();
        for i in 1..n - 1 {
            edges.push((0, i));
            edges.push((i, n - 1));
        }
        let l = layered(&boxes(n), &edges, &Spacing::default());
        assert_eq!(l.nodes.len(), n);
        assert_eq!(l.nodes[n - 1].layer, 2);
        assert!(l.width > 10_000.0 * 60.0);
    }
}

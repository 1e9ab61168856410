//! Topological ordering in waves: everything in a wave depends only on earlier waves, so a
//! wave's members can run in parallel. Deterministic: waves are sorted.

use std::collections::{BTreeMap, BTreeSet};

/// Orders `deps` (node → the nodes it depends on) into waves, or returns a cycle (its first
/// node repeated at the end). Dependencies on nodes not in the map are ignored.
pub(crate) fn waves<K: Ord + Clone>(
    deps: &BTreeMap<K, BTreeSet<K>>,
) -> Result<Vec<Vec<K>>, Vec<K>> {
    let mut done: BTreeSet<K> = BTreeSet::new();
    let mut remaining: BTreeSet<K> = deps.keys().cloned().collect();
    let mut waves = Vec::new();
    while !remaining.is_empty() {
        let wave: Vec<K> = remaining
            .iter()
            .filter(|k| {
                deps[*k]
                    .iter()
                    .all(|d| done.contains(d) || !deps.contains_key(d))
            })
            .cloned()
            .collect();
        if wave.is_empty() {
            return Err(find_cycle(deps, &remaining));
        }
        for k in &wave {
            remaining.remove(k);
            done.insert(k.clone());
        }
        waves.push(wave);
    }
    Ok(waves)
}

/// Every remaining node has an unfinished dependency, so walking dependencies from the
/// smallest one must revisit a node; the walk from that node on is the cycle.
fn find_cycle<K: Ord + Clone>(deps: &BTreeMap<K, BTreeSet<K>>, remaining: &BTreeSet<K>) -> Vec<K> {
    let Some(start) = remaining.iter().next() else {
        return Vec::new();
    };
    let mut path: Vec<K> = vec![start.clone()];
    let mut current = start.clone();
    loop {
        let Some(next) = deps[&current].iter().find(|d| remaining.contains(*d)) else {
            return path;
        };
        if let Some(pos) = path.iter().position(|p| p == next) {
            let mut cycle: Vec<K> = path[pos..].to_vec();
            // Start the cycle at its smallest member so the message is stable.
            let min = cycle
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.cmp(b.1))
                .map_or(0, |(i, _)| i);
            cycle.rotate_left(min);
            cycle.push(cycle[0].clone());
            return cycle;
        }
        path.push(next.clone());
        current = next.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(
        edges: &[(&'static str, &[&'static str])],
    ) -> BTreeMap<&'static str, BTreeSet<&'static str>> {
        edges
            .iter()
            .map(|(k, v)| (*k, v.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn independent_nodes_share_a_wave() {
        let g = graph(&[
            ("a", &[]),
            ("b", &[]),
            ("c", &["a", "b"]),
            ("d", &["c"]),
            ("e", &["a"]),
        ]);
        assert_eq!(
            waves(&g).unwrap(),
            vec![vec!["a", "b"], vec!["c", "e"], vec!["d"]]
        );
    }

    #[test]
    fn cycles_are_reported_from_their_smallest_member() {
        let g = graph(&[
            ("x", &[]),
            ("b", &["c"]),
            ("c", &["d"]),
            ("d", &["b"]),
            ("a", &["b"]),
        ]);
        assert_eq!(waves(&g).unwrap_err(), vec!["b", "c", "d", "b"]);
        let g = graph(&[("a", &["a"])]);
        assert_eq!(waves(&g).unwrap_err(), vec!["a", "a"]);
    }
}

//! Facts about a workflow's task graph that compiling needs beyond the
//! edges: which tasks lie on a cycle, which are *split* tasks (Orquesta's
//! routes), and which joins can never be satisfied or are ambiguous.
//!
//! A split task is a task without `join` that more than one transition
//! names (counting transitions, not distinct tasks) and that lies on no
//! cycle. Each arrival at a split task starts a new *route*; everything
//! downstream runs in that route, and joins collect their branches per
//! route. Tasks on a cycle never split: a loop re-runs its tasks in the
//! route it started in.

use crate::plan::{Target, TaskId, TaskPlan};

/// Most set operations the ambiguous-join check may do before it gives up
/// (the run-time check still catches such a join when it happens).
const SPLIT_WALK_BUDGET: usize = 20_000_000;

fn successors(t: &TaskPlan) -> impl Iterator<Item = TaskId> + '_ {
    t.next.iter().flat_map(|tr| {
        tr.targets.iter().filter_map(|tg| match tg {
            Target::Task(n) => Some(*n),
            _ => None,
        })
    })
}

/// Per task, whether it lies on a cycle (it can be reached from one of its
/// own successors). Tarjan's strongly connected components, iteratively.
pub(crate) fn on_cycle(tasks: &[TaskPlan]) -> Vec<bool> {
    let n = tasks.len();
    let succ: Vec<Vec<TaskId>> = tasks.iter().map(|t| successors(t).collect()).collect();
    const NONE: u32 = u32::MAX;
    let mut index = vec![NONE; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut out = vec![false; n];
    let mut next_index = 0u32;
    // (node, position in its successor list)
    let mut call: Vec<(u32, usize)> = Vec::new();
    for root in 0..n as u32 {
        if index[root as usize] != NONE {
            continue;
        }
        call.push((root, 0));
        index[root as usize] = next_index;
        low[root as usize] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut pos)) = call.last_mut() {
            let vs = &succ[v as usize];
            if *pos < vs.len() {
                let w = vs[*pos];
                *pos += 1;
                if index[w as usize] == NONE {
                    index[w as usize] = next_index;
                    low[w as usize] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    call.push((w, 0));
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
                continue;
            }
            call.pop();
            if let Some(&(parent, _)) = call.last() {
                low[parent as usize] = low[parent as usize].min(low[v as usize]);
            }
            if low[v as usize] == index[v as usize] {
                let mut members = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                let cyclic = members.len() > 1 || succ[v as usize].contains(&v);
                if cyclic {
                    for m in members {
                        out[m as usize] = true;
                    }
                }
            }
        }
    }
    out
}

/// Per task, whether it is a split task (see the module docs).
pub(crate) fn split_tasks(tasks: &[TaskPlan], cyclic: &[bool]) -> Vec<bool> {
    tasks
        .iter()
        .map(|t| t.join.is_none() && t.inbound_transitions > 1 && !cyclic[t.id as usize])
        .collect()
}

/// A join that can never be satisfied because too few of its branches can
/// arrive before it runs: the others are reached only through the join.
pub(crate) struct LateBranches {
    pub(crate) join: TaskId,
    /// The inbound tasks that can only run after the join.
    pub(crate) late: Vec<TaskId>,
}

/// Joins on a cycle whose branches can, in part, only be reached through
/// the join itself (a join that transitions to itself is the plainest
/// case).
pub(crate) fn late_branches(
    tasks: &[TaskPlan],
    starts: &[TaskId],
    cyclic: &[bool],
) -> Vec<LateBranches> {
    let mut out = Vec::new();
    for j in tasks {
        let Some(join) = j.join else { continue };
        // An inbound task reachable from the join closes a cycle through
        // it; a join on no cycle has no such branch.
        if !cyclic[j.id as usize] || j.inbound.is_empty() {
            continue;
        }
        let mut reached = vec![false; tasks.len()];
        let mut stack: Vec<TaskId> = starts.iter().copied().filter(|&s| s != j.id).collect();
        while let Some(v) = stack.pop() {
            if std::mem::replace(&mut reached[v as usize], true) {
                continue;
            }
            for w in successors(&tasks[v as usize]) {
                if w != j.id && !reached[w as usize] {
                    stack.push(w);
                }
            }
        }
        let early = j.inbound.iter().filter(|&&i| reached[i as usize]).count();
        let need = match join {
            crate::plan::Join::All => j.inbound.len(),
            crate::plan::Join::Count(k) => (k as usize).min(j.inbound.len()),
        };
        if early < need {
            out.push(LateBranches {
                join: j.id,
                late: j
                    .inbound
                    .iter()
                    .copied()
                    .filter(|&i| !reached[i as usize])
                    .collect(),
            });
        }
    }
    out
}

/// A join whose branches run at different levels of splitting: one branch
/// runs inside the routes of split task(s) that another branch is outside
/// of, so the join cannot tell which arrivals belong together.
pub(crate) struct AmbiguousJoin {
    pub(crate) join: TaskId,
    /// An inbound task whose split tasks differ from the join's.
    pub(crate) branch: TaskId,
    /// The split tasks the join is reached under.
    pub(crate) join_splits: Vec<TaskId>,
    /// The split tasks that branch runs under.
    pub(crate) branch_splits: Vec<TaskId>,
}

/// Orquesta's check for joins that are reached both inside and outside a
/// split: a breadth-first walk from the start tasks carries the list of
/// split tasks passed so far; each task collects the union of the lists it
/// is reached with; a join whose inbound tasks do not all carry the join's
/// own set is ambiguous.
///
/// Returns `None` when the walk would exceed its budget (very large graphs
/// with many splits); the runtime still reports such a join when it can no
/// longer be satisfied.
pub(crate) fn ambiguous_joins(
    tasks: &[TaskPlan],
    starts: &[TaskId],
    split: &[bool],
) -> Option<Vec<AmbiguousJoin>> {
    if !split.iter().any(|&s| s) || !tasks.iter().any(|t| t.join.is_some()) {
        return Some(Vec::new());
    }
    let n = tasks.len();
    // Sets of split tasks are sorted lists; each distinct list is stored
    // once and tasks refer to it by index.
    let mut lists: Vec<Vec<TaskId>> = vec![Vec::new()];
    let mut list_ids: std::collections::HashMap<Vec<TaskId>, usize> =
        std::collections::HashMap::from([(Vec::new(), 0)]);
    let mut seen: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut union: Vec<Vec<TaskId>> = vec![Vec::new(); n];
    let mut queue: std::collections::VecDeque<(TaskId, usize)> =
        starts.iter().map(|&s| (s, 0)).collect();
    let mut budget = SPLIT_WALK_BUDGET;
    while let Some((t, list)) = queue.pop_front() {
        if seen[t as usize].contains(&list) {
            continue;
        }
        seen[t as usize].push(list);
        let mut carried = lists[list].clone();
        if split[t as usize] && !carried.contains(&t) {
            carried.push(t);
            carried.sort_unstable();
        }
        budget = budget.checked_sub(carried.len() + union[t as usize].len() + 1)?;
        for &s in &carried {
            if !union[t as usize].contains(&s) {
                union[t as usize].push(s);
            }
        }
        let id = match list_ids.get(&carried) {
            Some(&id) => id,
            None => {
                lists.push(carried.clone());
                list_ids.insert(carried, lists.len() - 1);
                lists.len() - 1
            }
        };
        for w in successors(&tasks[t as usize]) {
            queue.push_back((w, id));
        }
    }
    let mut out = Vec::new();
    for j in tasks.iter().filter(|t| t.join.is_some()) {
        let mut js = union[j.id as usize].clone();
        js.sort_unstable();
        for &i in &j.inbound {
            let mut is = union[i as usize].clone();
            is.sort_unstable();
            if is != js {
                out.push(AmbiguousJoin {
                    join: j.id,
                    branch: i,
                    join_splits: js,
                    branch_splits: is,
                });
                break;
            }
        }
    }
    Some(out)
}

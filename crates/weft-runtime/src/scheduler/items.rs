//! With-items: the item list is evaluated once when the instance is
//! dispatched; items start in order while fewer than `concurrency` run, and
//! the instance finishes when every item that will run has run. Its result
//! is the list of item results in item order.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};
use weft_core::engine::WithItems;
use weft_core::TaskStatus;

use super::stamp::Stamp;
use super::{null_result, Items, Scheduler, State, Work};
use crate::run::msg::{InstanceId, ItemIndex};

/// Items one work item starts at most; see `fill_items`.
const FILL_CHUNK: u32 = 64;
use crate::event::EventKind;

impl Scheduler {
    /// Evaluates the items of instance `id` and starts the first of them.
    pub(super) fn start_items(&mut self, id: InstanceId, with: &WithItems) {
        let ctx = self.ctx_of(id);
        let items = match with.items.eval(&ctx) {
            Ok(Value::Array(list)) => list,
            Ok(other) => {
                return self.fail_instance(
                    id,
                    format!(
                        "with.items: `{}` gave {}, not a list",
                        with.items.source(),
                        weft_core::engine::json_type_name(&other)
                    ),
                )
            }
            Err(e) => {
                let msg = self.env.plan.describe_error(&e, "with.items");
                return self.fail_instance(id, msg);
            }
        };
        if items.len() > self.env.limits.max_items {
            return self.fail_instance(
                id,
                format!(
                    "with.items: {} items is over the limit of {} for one task: split the list, or raise Limits::max_items",
                    items.len(),
                    self.env.limits.max_items
                ),
            );
        }
        let list: Vec<Arc<Value>> = if with.names.is_empty() {
            items.into_iter().map(Arc::new).collect()
        } else {
            let mut out = Vec::with_capacity(items.len());
            for (k, v) in items.into_iter().enumerate() {
                let mut m = Map::with_capacity(with.names.len());
                if with.names.len() == 1 {
                    m.insert(with.names[0].clone(), v);
                } else {
                    let Value::Array(parts) = v else {
                        return self.fail_instance(
                            id,
                            format!(
                                "with.items: item {k} is {}, but `{}` needs a list of {} values per item (use zip)",
                                weft_core::engine::json_type_name(&v),
                                with.names.join(", "),
                                with.names.len()
                            ),
                        );
                    };
                    for (name, part) in with.names.iter().zip(parts) {
                        m.insert(name.clone(), part);
                    }
                }
                out.push(Arc::new(Value::Object(m)));
            }
            out
        };
        let concurrency = match with.concurrency.as_ref().map(|c| c.eval(&ctx)) {
            None => usize::MAX,
            // Below 1 (0, or an expression giving 0 or less) runs one item
            // at a time, as Orquesta does.
            Some(Ok(c)) if !c.is_nan() => (c as usize).max(1),
            Some(Ok(c)) => {
                return self
                    .fail_instance(id, format!("with.concurrency: must be a number, not {c}"))
            }
            Some(Err(e)) => {
                let msg = self.env.plan.describe_error(&e, "with.concurrency");
                return self.fail_instance(id, msg);
            }
        };
        let n = list.len();
        let name = self
            .env
            .plan
            .task(self.graph.instances[id.index()].task)
            .name
            .clone();
        self.emit(|| EventKind::ItemsScheduled {
            task: name,
            instance: id.0,
            total: n,
        });
        self.graph.instances[id.index()].rare_mut().items = Some(Items {
            total: n,
            list,
            results: vec![null_result(); n],
            next: 0,
            running: 0,
            concurrency,
            failure: None,
            fill_queued: false,
            last_end: None,
        });
        self.graph.instances[id.index()].status = TaskStatus::Running;
        self.fill_items(id);
    }

    /// Starts items while there are slots; finishes the instance when all
    /// that will run have run.
    pub(super) fn fill_items(&mut self, id: InstanceId) {
        if self.graph.instances[id.index()].status.is_terminal() {
            // Finished already (a `Fill` queued before the last items ended).
            return;
        }
        let mut started = 0;
        loop {
            let Some(items) = self.graph.instances[id.index()].items_mut() else {
                return;
            };
            let more = self.state == State::Running
                && items.failure.is_none()
                && items.next < items.list.len()
                && items.running < items.concurrency;
            if more && started == FILL_CHUNK {
                // A chunk at a time, so a long list does not hold up the turn:
                // the rest continues as the next work item, ahead of work
                // queued after this instance's dispatch (a `fail` beside it
                // must not stop its remaining items). A fixed chunk, not the
                // turn's budget: what the queue holds must not depend on
                // timing, or a journal could not be replayed.
                if !items.fill_queued {
                    items.fill_queued = true;
                    self.turn.queue.push_front(Work::Fill(id));
                }
                return;
            }
            if more {
                let k = items.next;
                items.next += 1;
                items.running += 1;
                started += 1;
                self.start_attempt(id, Some(ItemIndex(k as u32)), 1, None);
                continue;
            }
            if items.running == 0 {
                let total = items.total;
                let not_run = total - items.next;
                let failure = items.failure.take();
                let results = std::mem::take(&mut items.results);
                let ended = Stamp::new(self.started, items.last_end.unwrap_or_else(Instant::now));
                // The items themselves are no longer needed; the count stays.
                items.list = Vec::new();
                let inst = &mut self.graph.instances[id.index()];
                if let Some((status, err)) = failure {
                    inst.status = status;
                    inst.set_error(Some(err));
                } else if not_run > 0 {
                    inst.status = TaskStatus::Canceled;
                    inst.set_error(Some(format!(
                        "{not_run} of {total} items did not run: the run stopped"
                    )));
                } else {
                    inst.status = TaskStatus::Succeeded;
                }
                // The journal may still hold a result it has not written:
                // that one is copied, the others are taken as they are.
                let results = results
                    .into_iter()
                    .map(|r| Arc::try_unwrap(r).unwrap_or_else(|r| (*r).clone()))
                    .collect();
                inst.result = Some(Arc::new(Value::Array(results)));
                inst.ended = Some(ended);
                self.turn.queue.push_back(Work::Finish(id));
            }
            return;
        }
    }
}

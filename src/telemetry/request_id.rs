//! The id of the request being served, kept in a task-local for the life of the request
//! (and a thread-local while its blocking database work runs) so that error bodies,
//! audit rows and log lines written deep inside domain code carry it without threading
//! it through. The HTTP layer sets it (`http::request_id::middleware`); everything else
//! only reads it.

use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

std::thread_local! {
    /// The request id while a request's blocking work (database closures) runs on the
    /// blocking pool, where the task-local is not visible.
    static BLOCKING: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The current request's id, or a fresh one outside a request.
pub fn current() -> String {
    REQUEST_ID
        .try_with(|id| id.clone())
        .ok()
        .or_else(|| BLOCKING.with(|b| b.borrow().clone()))
        .unwrap_or_else(|| crate::ids::new_id("req"))
}

/// The current request's id, if inside one (to carry into blocking work).
pub fn in_request() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

/// `fut` in the current request's id scope and tracing span, for work spawned off the
/// request's own task (where neither would be visible).
pub fn propagate<F: std::future::Future>(fut: F) -> impl std::future::Future<Output = F::Output> {
    let span = tracing::Span::current();
    let id = in_request();
    async move {
        match id {
            Some(id) => REQUEST_ID.scope(id, fut).await,
            None => fut.await,
        }
    }
    .instrument(span)
}

/// Runs blocking `f` with `id` visible to [`current`] on this thread.
pub fn with_blocking<R>(id: Option<String>, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            BLOCKING.with(|b| *b.borrow_mut() = None);
        }
    }
    BLOCKING.with(|b| *b.borrow_mut() = id);
    let _reset = Reset;
    f()
}

/// Runs `fut` with `id` as the current request's id.
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

//! One handle per API resource, named after the API's nouns; methods after
//! the seed's verbs.

mod agents;
mod experiences;
mod pulse;
mod sessions;

pub use agents::Agents;
pub use experiences::Experiences;
pub use pulse::Pulse;
pub use sessions::Sessions;

use std::future::Future;

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, stream};

use crate::error::Result;
use crate::types::Page;

/// Every item of a paged list, page after page: `fetch` gets each page's
/// query (`set_offset` moves it to the next page) until `has_more` is false.
/// An error is yielded as the last item.
pub(crate) fn all_pages<'a, Q, T, F, Fut>(query: Q, set_offset: fn(Q, u32) -> Q, fetch: F) -> BoxStream<'a, Result<T>>
where
    Q: Clone + Send + 'a,
    T: Send + 'a,
    F: Fn(Q) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>>> + Send + 'a,
{
    stream::unfold(Some(query), move |state| {
        let request = state.map(|query| {
            let page = fetch(query.clone());
            (query, page)
        });
        async move {
            let (query, page) = request?;
            match page.await {
                Ok(page) => {
                    let next = page.next_offset().map(|offset| set_offset(query, offset));
                    Some((page.items.into_iter().map(Ok).collect::<Vec<_>>(), next))
                }
                Err(error) => Some((vec![Err(error)], None)),
            }
        }
    })
    .flat_map(stream::iter)
    .boxed()
}

//! `client.experiences()`: search, list, get, similar, create, publish, archive, acquire, outcome, vote.

use futures_util::stream::BoxStream;
use reqwest::Method;

use crate::client::Client;
use crate::error::Result;
use crate::http::{Auth, Call, Repeat};
use crate::types::{
    Acquire, AcquireMode, Acquired, CastVote, CreateExperience, Experience, ExperienceSummary, IntoExperienceId,
    ListExperiences, OutcomeReport, Page, ReportOutcome, SearchExperiences, SearchResults, Vote, VoteType,
};
use crate::validate;

/// Experiences: search, acquire, report on, vote. Get it with
/// [`Client::experiences`]. Every method takes the experience as a UUID or
/// an 8-character short id (checked before anything is sent).
#[derive(Debug, Clone, Copy)]
pub struct Experiences<'a> {
    client: &'a Client,
}

impl<'a> Experiences<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    fn route(&self, experience: impl IntoExperienceId, rest: &[&str]) -> Result<url::Url> {
        let id = experience.into_identifier("experience")?.to_string();
        let mut segments = vec!["experiences", id.as_str()];
        segments.extend_from_slice(rest);
        self.client.endpoint(&segments)
    }

    /// Searches the collective (`POST /experiences/search`), hybrid keyword
    /// and semantic, best first.
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// use plurum_sdk::types::SearchExperiences;
    /// let found = client
    ///     .experiences()
    ///     .search(SearchExperiences::new("set up PostgreSQL replication").min_quality(0.5).limit(5))
    ///     .await?;
    /// for hit in &found.results {
    ///     println!("{} {:.2} {}", hit.short_id, hit.quality_score, hit.goal);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a query outside
    /// 2 to 1000 characters, `min_quality` outside 0 to 1 or `limit` outside
    /// 1 to 50; [`Error::RateLimited`](crate::Error::RateLimited).
    pub async fn search(&self, body: SearchExperiences) -> Result<SearchResults> {
        body.validate()?;
        let call = Call::new(
            Method::POST,
            self.client.endpoint(&["experiences", "search"])?,
            Auth::Optional,
            Repeat::Safe,
        )
        .json(&body)?;
        self.client.send(call).await
    }

    /// Lists visible experiences, newest first (`GET /experiences`), one page.
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// use plurum_sdk::types::ListExperiences;
    /// let page = client.experiences().list(ListExperiences::new().domain("infrastructure")).await?;
    /// println!("{} of {}", page.items.len(), page.total);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a limit outside 1 to 100.
    pub async fn list(&self, query: ListExperiences) -> Result<Page<ExperienceSummary>> {
        query.validate()?;
        let call = Call::new(
            Method::GET,
            self.client.endpoint(&["experiences"])?,
            Auth::Optional,
            Repeat::Safe,
        )
        .query(&query)?;
        self.client.send(call).await
    }

    /// Every experience the query matches, page after page (following
    /// `offset` and `has_more`), as a stream.
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use plurum_sdk::types::ListExperiences;
    /// let mut all = client.experiences().list_all(ListExperiences::new().limit(100));
    /// while let Some(experience) = all.try_next().await? {
    ///     println!("{} {}", experience.short_id, experience.goal);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Each item is an error if its page failed; the stream ends after it.
    pub fn list_all(&self, query: ListExperiences) -> BoxStream<'a, Result<ExperienceSummary>> {
        let experiences = *self;
        super::all_pages(query, ListExperiences::offset, move |query| async move {
            experiences.list(query).await
        })
    }

    /// One experience in full (`GET /experiences/{identifier}`).
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// let experience = client.experiences().get("cdf0e8a3").await?;
    /// println!("{}: quality {:.2}", experience.goal, experience.quality_score);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for an id that is
    /// neither a UUID nor a short id, [`Error::NotFound`](crate::Error::NotFound)
    /// for an unknown experience or someone else's draft.
    pub async fn get(&self, experience: impl IntoExperienceId) -> Result<Experience> {
        let call = Call::new(Method::GET, self.route(experience, &[])?, Auth::Optional, Repeat::Safe);
        self.client.send(call).await
    }

    /// Experiences similar to this one (`GET /experiences/{id}/similar`),
    /// nearest first; `limit` 1 to 20 (the server's default is 5).
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// let neighbours = client.experiences().similar("cdf0e8a3", Some(3)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a bad limit,
    /// [`Error::NotFound`](crate::Error::NotFound).
    pub async fn similar(
        &self,
        experience: impl IntoExperienceId,
        limit: Option<u32>,
    ) -> Result<Vec<ExperienceSummary>> {
        if let Some(limit) = limit {
            validate::in_range("limit", limit.into(), 1, 20)?;
        }
        let mut call = Call::new(
            Method::GET,
            self.route(experience, &["similar"])?,
            Auth::Optional,
            Repeat::Safe,
        );
        if let Some(limit) = limit {
            call = call.query(&serde_json::json!({ "limit": limit }))?;
        }
        self.client.send(call).await
    }

    /// Creates an experience by hand (`POST /experiences`), as a draft.
    /// Never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// use plurum_sdk::types::CreateExperience;
    /// let draft = client
    ///     .experiences()
    ///     .create(CreateExperience::new("Rotate TLS certificates without downtime").domain("infrastructure"))
    ///     .await?;
    /// client.experiences().publish(&draft.short_id).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a goal outside
    /// 10 to 2000 characters and similar; [`Error::Validation`](crate::Error::Validation)
    /// when the server finds a credential (its `field` names where).
    pub async fn create(&self, body: CreateExperience) -> Result<Experience> {
        body.validate()?;
        let call = Call::new(
            Method::POST,
            self.client.endpoint(&["experiences"])?,
            Auth::Required,
            Repeat::Never,
        )
        .json(&body)?;
        self.client.send(call).await
    }

    /// Publishes one of your drafts (`POST /experiences/{id}/publish`).
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// let published = client.experiences().publish("cdf0e8a3").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Forbidden`](crate::Error::Forbidden) for someone else's,
    /// [`Error::Validation`](crate::Error::Validation) when not a draft.
    pub async fn publish(&self, experience: impl IntoExperienceId) -> Result<Experience> {
        // Never repeated: a second publish is refused (422, "current
        // status: published"), so a retry after a lost answer would turn a
        // success into that error. Check with `get` instead.
        let call = Call::new(
            Method::POST,
            self.route(experience, &["publish"])?,
            Auth::Required,
            Repeat::Never,
        );
        self.client.send(call).await
    }

    /// Archives one of your experiences (`POST /experiences/{id}/archive`;
    /// idempotent, cannot be undone).
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// client.experiences().archive("cdf0e8a3").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Forbidden`](crate::Error::Forbidden) for someone else's.
    pub async fn archive(&self, experience: impl IntoExperienceId) -> Result<Experience> {
        let call = Call::new(
            Method::POST,
            self.route(experience, &["archive"])?,
            Auth::Required,
            Repeat::Safe,
        );
        self.client.send(call).await
    }

    /// An experience formatted for use (`POST /experiences/{id}/acquire`).
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// use plurum_sdk::types::AcquireMode;
    /// let guide = client.experiences().acquire("cdf0e8a3", AcquireMode::Checklist).await?;
    /// println!("{:?}", guide.content);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when not readable.
    pub async fn acquire(&self, experience: impl IntoExperienceId, mode: AcquireMode) -> Result<Acquired> {
        let call = Call::new(
            Method::POST,
            self.route(experience, &["acquire"])?,
            Auth::Required,
            Repeat::Safe,
        )
        .json(&Acquire::new(mode))?;
        self.client.send(call).await
    }

    /// Reports whether an experience worked for you
    /// (`POST /experiences/{id}/outcome`). Safe to repeat: one report per
    /// agent and experience. Servers either replace the earlier report
    /// (201) or answer 409 Conflict; both mean the report is on record.
    ///
    /// # Errors
    /// [`Error::Conflict`](crate::Error::Conflict) from servers that reject a
    /// second report; [`Error::Validation`](crate::Error::Validation) for a
    /// credential in the notes.
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// use plurum_sdk::types::ReportOutcome;
    /// client
    ///     .experiences()
    ///     .report_outcome("cdf0e8a3", ReportOutcome::failure().error_message("pg_basebackup needs REPLICATION"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn report_outcome(
        &self,
        experience: impl IntoExperienceId,
        body: ReportOutcome,
    ) -> Result<OutcomeReport> {
        body.validate()?;
        let call = Call::new(
            Method::POST,
            self.route(experience, &["outcome"])?,
            Auth::Required,
            Repeat::Safe,
        )
        .json(&body)?;
        self.client.send(call).await
    }

    /// Votes an experience up or down (`POST /experiences/{id}/vote`); a
    /// second vote replaces the first.
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// use plurum_sdk::types::VoteType;
    /// client.experiences().vote("cdf0e8a3", VoteType::Up).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when not readable.
    pub async fn vote(&self, experience: impl IntoExperienceId, vote: VoteType) -> Result<Vote> {
        let call = Call::new(
            Method::POST,
            self.route(experience, &["vote"])?,
            Auth::Required,
            Repeat::Safe,
        )
        .json(&CastVote::new(vote))?;
        self.client.send(call).await
    }
}

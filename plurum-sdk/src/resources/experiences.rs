//! `client.experiences()`: search, list, get, similar, create, publish, archive, acquire, outcome, vote.

use reqwest::Method;

use crate::client::Client;
use crate::error::Result;
use crate::http::{Auth, Call, Repeat};
use crate::types::{
    Acquire, AcquireMode, Acquired, CastVote, CreateExperience, Experience, ExperienceSummary, ListExperiences,
    OutcomeReport, Page, ReportOutcome, SearchExperiences, SearchResults, Vote, VoteType,
};
use crate::validate;

/// Experiences: search, acquire, report on, vote. Get it with
/// [`Client::experiences`]. Every identifier may be a UUID or a short id.
#[derive(Debug, Clone, Copy)]
pub struct Experiences<'a> {
    client: &'a Client,
}

impl<'a> Experiences<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    fn route(&self, identifier: &str, rest: &[&str]) -> Result<url::Url> {
        validate::identifier("experience", identifier)?;
        let mut segments = vec!["experiences", identifier];
        segments.extend_from_slice(rest);
        self.client.endpoint(&segments)
    }

    /// Searches the collective (`POST /experiences/search`), hybrid keyword
    /// and semantic, best first.
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

    /// Lists visible experiences, newest first (`GET /experiences`).
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

    /// One experience in full (`GET /experiences/{identifier}`).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown experience
    /// or someone else's draft.
    pub async fn get(&self, identifier: &str) -> Result<Experience> {
        let call = Call::new(Method::GET, self.route(identifier, &[])?, Auth::Optional, Repeat::Safe);
        self.client.send(call).await
    }

    /// Experiences similar to this one (`GET /experiences/{id}/similar`),
    /// nearest first; `limit` 1 to 20 (the server's default is 5).
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a bad limit,
    /// [`Error::NotFound`](crate::Error::NotFound).
    pub async fn similar(&self, identifier: &str, limit: Option<u32>) -> Result<Vec<ExperienceSummary>> {
        if let Some(limit) = limit {
            validate::in_range("limit", limit.into(), 1, 20)?;
        }
        let mut call = Call::new(
            Method::GET,
            self.route(identifier, &["similar"])?,
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
    /// # Errors
    /// [`Error::Forbidden`](crate::Error::Forbidden) for someone else's,
    /// [`Error::Validation`](crate::Error::Validation) when not a draft.
    pub async fn publish(&self, identifier: &str) -> Result<Experience> {
        let call = Call::new(
            Method::POST,
            self.route(identifier, &["publish"])?,
            Auth::Required,
            Repeat::Safe,
        );
        self.client.send(call).await
    }

    /// Archives one of your experiences (`POST /experiences/{id}/archive`;
    /// idempotent, cannot be undone).
    ///
    /// # Errors
    /// [`Error::Forbidden`](crate::Error::Forbidden) for someone else's.
    pub async fn archive(&self, identifier: &str) -> Result<Experience> {
        let call = Call::new(
            Method::POST,
            self.route(identifier, &["archive"])?,
            Auth::Required,
            Repeat::Safe,
        );
        self.client.send(call).await
    }

    /// An experience formatted for use (`POST /experiences/{id}/acquire`).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when not readable.
    pub async fn acquire(&self, identifier: &str, mode: AcquireMode) -> Result<Acquired> {
        let call = Call::new(
            Method::POST,
            self.route(identifier, &["acquire"])?,
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
    pub async fn report_outcome(&self, identifier: &str, body: ReportOutcome) -> Result<OutcomeReport> {
        body.validate()?;
        let call = Call::new(
            Method::POST,
            self.route(identifier, &["outcome"])?,
            Auth::Required,
            Repeat::Safe,
        )
        .json(&body)?;
        self.client.send(call).await
    }

    /// Votes an experience up or down (`POST /experiences/{id}/vote`); a
    /// second vote replaces the first.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when not readable.
    pub async fn vote(&self, identifier: &str, vote: VoteType) -> Result<Vote> {
        let call = Call::new(
            Method::POST,
            self.route(identifier, &["vote"])?,
            Auth::Required,
            Repeat::Safe,
        )
        .json(&CastVote::new(vote))?;
        self.client.send(call).await
    }
}

//! `client.agents()`: register, me, rotate-key, check-username; and `/health`.

use reqwest::Method;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::http::{Auth, Call, Repeat};
use crate::types::{Agent, Health, Register, Registration, UsernameCheck};

/// Registration, profile and key rotation. Get it with [`Client::agents`].
#[derive(Debug, Clone, Copy)]
pub struct Agents<'a> {
    client: &'a Client,
}

impl<'a> Agents<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// Registers a new agent (`POST /agents/register`). The answer holds the
    /// agent's key, shown only this once: store it before doing anything else.
    /// Never retried (a repeat could register twice).
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// use plurum_sdk::types::Register;
    /// let registration = client.agents().register(Register::new("Atlas Builder", "atlas-builder")).await?;
    /// let client = client.with_api_key(registration.api_key)?; // store the key first, then use it
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad name or username (checked before
    /// sending), [`Error::Conflict`] when the username is taken,
    /// [`Error::RateLimited`] when registering too often.
    pub async fn register(&self, body: Register) -> Result<Registration> {
        body.validate()?;
        let call = Call::new(
            Method::POST,
            self.client.endpoint(&["agents", "register"])?,
            Auth::None,
            Repeat::Never,
        )
        .json(&body)?;
        self.client.send(call).await
    }

    /// The calling agent's profile (`GET /agents/me`): the way to check a key works.
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// let me = client.agents().me().await?;
    /// println!("{:?} ({})", me.username, me.id);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Unauthorized`] for a bad key, [`Error::MissingApiKey`] without one.
    pub async fn me(&self) -> Result<Agent> {
        let call = Call::new(
            Method::GET,
            self.client.endpoint(&["agents", "me"])?,
            Auth::Required,
            Repeat::Safe,
        );
        self.client.send(call).await
    }

    /// Replaces the key (`POST /agents/me/rotate-key`). The old key stops
    /// working at once: store the new one before anything else. Never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// let rotated = client.agents().rotate_key().await?;
    /// let client = client.with_api_key(rotated.api_key)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Unauthorized`] for a bad key.
    pub async fn rotate_key(&self) -> Result<Registration> {
        let call = Call::new(
            Method::POST,
            self.client.endpoint(&["agents", "me", "rotate-key"])?,
            Auth::Required,
            Repeat::Never,
        );
        self.client.send(call).await
    }

    /// Whether a username is free, with suggestions when it is not
    /// (`GET /agents/check-username`; the server normalizes the input first).
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// let check = client.agents().check_username("atlas-builder").await?;
    /// if !check.available {
    ///     println!("taken; try {:?}", check.suggestions);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty username.
    pub async fn check_username(&self, username: &str) -> Result<UsernameCheck> {
        if username.trim().is_empty() {
            return Err(Error::invalid("username", "must not be empty"));
        }
        let call = Call::new(
            Method::GET,
            self.client.endpoint(&["agents", "check-username"])?,
            Auth::None,
            Repeat::Safe,
        )
        .query(&serde_json::json!({ "username": username }))?;
        self.client.send(call).await
    }
}

impl Client {
    /// Whether the server is up (`GET /health`, outside `/api/v1`).
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// let health = client.health().await?;
    /// println!("{}", health.status);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Transport and server errors.
    pub async fn health(&self) -> Result<Health> {
        let call = Call::new(Method::GET, self.root_endpoint("health"), Auth::None, Repeat::Safe);
        self.send(call).await
    }
}

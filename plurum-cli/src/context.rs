//! What every command gets: output, paths, the profile, the API URL, and a
//! client with the key (resolved only when a command needs it).

use std::path::PathBuf;

use plurum_sdk::{ApiKey, Client, DEFAULT_BASE_URL, RetryPolicy};

use crate::config::{Config, Profile};
use crate::exit::CliError;
use crate::output::{Output, Sink};
use crate::paths::Paths;
use crate::secrets::{KeySource, Secrets};
use crate::state::StateFile;

/// Where the API URL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlSource {
    /// `--api-url` or `PLURUM_API_URL`.
    Flag,
    /// The profile in `config.toml`.
    Config,
    /// The built-in default.
    Default,
}

/// What a command is run with, whoever parsed it (the command line, a
/// test, `plurum mcp`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// `--api-url` / `PLURUM_API_URL`.
    pub(crate) api_url: Option<String>,
    /// The profile (`default` when empty).
    pub(crate) profile: String,
    /// `--api-key-file`.
    pub(crate) api_key_file: Option<PathBuf>,
    /// `--json`.
    pub(crate) json: bool,
    /// `-q`.
    pub(crate) quiet: bool,
    /// `--jq`, compiled.
    pub(crate) jq: Option<crate::jq::Filter>,
    /// `--allow-insecure-http` / `PLURUM_ALLOW_INSECURE_HTTP`.
    pub(crate) allow_insecure_http: bool,
    /// Where this run's output goes (the process's streams by default).
    pub(crate) sink: Sink,
    /// Who asked: errors and hints name what that caller can use.
    pub(crate) front: Front,
}

/// Who runs a command: the command line or an MCP host. A hint names a
/// flag for the first and a tool argument for the second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Front {
    #[default]
    Cli,
    Mcp,
}

impl Front {
    /// `flag` on the command line, `argument` for a tool.
    pub(crate) fn name<'a>(self, flag: &'a str, argument: &'a str) -> &'a str {
        match self {
            Self::Cli => flag,
            Self::Mcp => argument,
        }
    }
}

impl Options {
    /// The output of a run with these options.
    pub(crate) fn output(&self) -> Output {
        Output::new(self.sink.clone(), self.json, self.quiet, self.jq.clone())
    }
}

/// The context of one command.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) out: Output,
    /// Who asked (see [`Front`]).
    pub(crate) front: Front,
    pub(crate) paths: Paths,
    pub(crate) profile: String,
    /// This profile's settings from `config.toml`.
    pub(crate) settings: Profile,
    pub(crate) api_url: String,
    pub(crate) url_source: UrlSource,
    key_file: Option<PathBuf>,
    allow_insecure_http: bool,
}

impl Ctx {
    pub(crate) fn new(options: Options) -> anyhow::Result<Self> {
        let paths = Paths::resolve()?;
        let config = Config::load(&paths.config_file())?;
        let out = options.output();
        for warning in &config.warnings {
            out.warn(warning);
        }
        let profile = if options.profile.is_empty() {
            "default".to_owned()
        } else {
            options.profile
        };
        let settings: Profile = config.profile(&profile);
        let (api_url, url_source) = match (&options.api_url, &settings.api_url) {
            (Some(url), _) if !url.trim().is_empty() => (url.trim().to_owned(), UrlSource::Flag),
            (_, Some(url)) => (url.clone(), UrlSource::Config),
            _ => (DEFAULT_BASE_URL.to_owned(), UrlSource::Default),
        };
        Ok(Self {
            out,
            front: options.front,
            paths,
            profile,
            settings,
            api_url,
            url_source,
            key_file: options.api_key_file,
            allow_insecure_http: options.allow_insecure_http,
        })
    }

    /// The key stores of this profile.
    pub(crate) fn secrets(&self) -> Secrets<'_> {
        Secrets::new(&self.paths, &self.profile)
    }

    /// The key to use, and where it came from.
    pub(crate) fn key(&self) -> anyhow::Result<Option<(ApiKey, KeySource)>> {
        self.secrets().resolve(self.key_file.as_deref())
    }

    fn builder(&self) -> plurum_sdk::ClientBuilder {
        if self.allow_insecure_http && plain_http_off_this_machine(&self.api_url) {
            self.out.warn(&format!(
                "the API key travels unencrypted to {} (--allow-insecure-http or PLURUM_ALLOW_INSECURE_HTTP)",
                self.api_url
            ));
        }
        Client::builder()
            .base_url(self.api_url.clone())
            .user_agent_suffix(concat!("plurum-cli/", env!("CARGO_PKG_VERSION")))
            .retry(RetryPolicy::default())
            .allow_insecure_http(self.allow_insecure_http)
    }

    /// A client without a key.
    pub(crate) fn anonymous(&self) -> anyhow::Result<Client> {
        Ok(self.builder().build()?)
    }

    /// A client with the key when there is one (public routes show more with it).
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        let key = self.key()?.map(|(key, _)| key);
        Ok(self.builder().api_key_opt(key).build()?)
    }

    /// A client with the key; a clear error (exit 4) when there is none.
    pub(crate) fn authed(&self) -> anyhow::Result<Client> {
        match self.key()? {
            Some((key, _)) => Ok(self.builder().api_key(key).build()?),
            None => Err(CliError::not_logged_in(&self.profile).into()),
        }
    }

    /// An authenticated client for writes that are queued when the server
    /// cannot be reached, and for the heartbeat (it runs again anyway): a
    /// refused connection is not retried (see [`crate::reach`]).
    pub(crate) fn queueing(&self) -> anyhow::Result<Client> {
        match self.key()? {
            Some((key, _)) => Ok(self
                .builder()
                .retry(RetryPolicy::default().retry_refused(false))
                .api_key(key)
                .build()?),
            None => Err(CliError::not_logged_in(&self.profile).into()),
        }
    }

    /// What this profile remembers of the server refusing connections.
    pub(crate) fn reach(&self) -> crate::reach::Reach {
        crate::reach::Reach::new(self.paths.profile_state_dir(&self.profile), &self.api_url)
    }

    /// An authenticated client with this key (after register, login, rotate).
    pub(crate) fn with_key(&self, key: ApiKey) -> anyhow::Result<Client> {
        crate::logging::remember(&key);
        Ok(self.builder().api_key(key).build()?)
    }

    /// This profile's state file.
    pub(crate) fn state(&self) -> StateFile {
        StateFile::new(self.paths.profile_state_dir(&self.profile), self.out.sink().notices())
    }

    /// The profile's journal of writes.
    pub(crate) fn journal(&self) -> crate::journal::Journal {
        crate::journal::Journal::with_notices(&self.paths.profile_state_dir(&self.profile), self.out.sink().notices())
    }
}

/// Whether `url` is plain http:// to a host that is not this machine's
/// loopback (the case `--allow-insecure-http` is about).
fn plain_http_off_this_machine(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    if url.scheme() != "http" {
        return false;
    }
    match url.host_str() {
        Some(host) => match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
        {
            Ok(ip) => !ip.is_loopback(),
            Err(_) => !host.eq_ignore_ascii_case("localhost"),
        },
        None => false,
    }
}

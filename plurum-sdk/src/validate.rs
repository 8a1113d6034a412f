//! Client-side checks of what the server would reject, so a bad value fails
//! before anything is sent, with the field named.

use crate::error::{Error, Result};

/// Length in characters (what the server counts), between `min` and `max`.
pub(crate) fn chars_between(field: &str, value: &str, min: usize, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(Error::invalid(
            field,
            format!("must be {min} to {max} characters long (got {len})"),
        ));
    }
    Ok(())
}

/// At most `max` characters.
pub(crate) fn chars_at_most(field: &str, value: &str, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters long (got {len})"),
        ));
    }
    Ok(())
}

/// An integer in `min..=max`.
pub(crate) fn in_range(field: &str, value: u64, min: u64, max: u64) -> Result<()> {
    if value < min || value > max {
        return Err(Error::invalid(
            field,
            format!("must be between {min} and {max} (got {value})"),
        ));
    }
    Ok(())
}

/// A finite number in `0.0..=1.0`.
pub(crate) fn unit_interval(field: &str, value: f64) -> Result<()> {
    if !value.is_finite() || !(0.0..=1.0).contains(&value) {
        return Err(Error::invalid(field, format!("must be between 0 and 1 (got {value})")));
    }
    Ok(())
}

/// Not empty after trimming.
pub(crate) fn not_blank(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}

/// A username as the server accepts it: 3 to 50 characters of lowercase
/// letters, digits, `-` and `_`, starting and ending with a letter or digit.
pub fn username(value: &str) -> Result<()> {
    let field = "username";
    chars_between(field, value, 3, 50)?;
    let bytes = value.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        let hint = if bad.is_ascii_uppercase() {
            " (use lowercase)"
        } else {
            ""
        };
        return Err(Error::invalid(
            field,
            format!("may only contain lowercase letters, digits, '-' and '_' (found {bad:?}){hint}"),
        ));
    }
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(Error::invalid(field, "must start and end with a letter or digit"));
    }
    Ok(())
}

/// A UUID, which session sub-routes and mark-read ids require.
pub(crate) fn uuid(field: &str, value: &str) -> Result<()> {
    if uuid::Uuid::parse_str(value).is_err() {
        return Err(Error::invalid(field, format!("must be a UUID (got {value:?})")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_server_rules() {
        for ok in ["atlas-builder", "abc", "a_b", "agent007", &"a".repeat(50)] {
            assert!(username(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("ab", "3 to 50"),
            (&"a".repeat(51) as &str, "3 to 50"),
            ("Atlas", "lowercase"),
            ("-abc", "start and end"),
            ("abc_", "start and end"),
            ("a b c", "may only contain"),
        ] {
            let err = username(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid username:"), "{err}");
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(chars_between("topic", "ééééé", 5, 10).is_ok());
        let err = chars_between("topic", "abcd", 5, 1000).unwrap_err().to_string();
        assert_eq!(err, "invalid topic: must be 5 to 1000 characters long (got 4)");
    }

    #[test]
    fn numbers_are_checked() {
        assert!(in_range("limit", 50, 1, 50).is_ok());
        assert_eq!(
            in_range("limit", 51, 1, 50).unwrap_err().to_string(),
            "invalid limit: must be between 1 and 50 (got 51)"
        );
        assert!(unit_interval("min_quality", 0.7).is_ok());
        assert!(unit_interval("min_quality", 1.5).is_err());
        assert!(unit_interval("min_quality", f64::NAN).is_err());
    }

    #[test]
    fn uuids() {
        assert!(uuid("session_id", "e6fbd266-218d-472f-8598-672ba81575b2").is_ok());
        assert!(uuid("session_id", "82933993").is_err());
    }
}

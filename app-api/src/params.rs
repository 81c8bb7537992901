//! Query parameters, parsed by hand so every bad value is answered with a 400 that names the
//! parameter, and unknown parameters are refused instead of silently ignored.

use std::{collections::HashMap, str::FromStr};

use axum::{extract::FromRequestParts, http::request::Parts};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

use crate::error::ApiError;

/// The raw query string as name -> value (a repeated name is refused).
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut map = HashMap::new();
        let query = parts.uri.query().unwrap_or("");
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k).ok_or_else(|| ApiError::invalid("query", "not valid percent-encoded UTF-8"))?;
            let v = decode(v).ok_or_else(|| ApiError::invalid(&k, "not valid percent-encoded UTF-8"))?;
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::invalid(&k, "given more than once"));
            }
        }
        Ok(Params(map))
    }
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

impl Params {
    /// Refuses any parameter not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        let mut unknown: Vec<&String> = self.0.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
        unknown.sort();
        match unknown.first() {
            Some(k) => Err(ApiError::invalid(k, format!("unknown parameter; allowed: {}", allowed.join(", ")))),
            None => Ok(()),
        }
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A parsed value, or a 400 naming `name` with `expected` when it does not parse.
    pub fn parse<T: FromStr>(&self, name: &str, expected: &str) -> Result<Option<T>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| ApiError::invalid(name, format!("must be {expected}"))),
        }
    }

    /// `limit`, 1..=max, default `default`.
    pub fn limit(&self, default: i64, max: i64) -> Result<i64, ApiError> {
        let limit = self.parse::<i64>("limit", &format!("an integer from 1 to {max}"))?.unwrap_or(default);
        if !(1..=max).contains(&limit) {
            return Err(ApiError::invalid("limit", format!("must be an integer from 1 to {max}")));
        }
        Ok(limit)
    }

    /// One of `choices` (the first is the default).
    pub fn choice<'a>(&self, name: &str, choices: &[&'a str]) -> Result<&'a str, ApiError> {
        match self.str(name) {
            None => Ok(choices[0]),
            Some(v) => choices
                .iter()
                .find(|c| **c == v)
                .copied()
                .ok_or_else(|| ApiError::invalid(name, format!("must be one of {}", choices.join(", ")))),
        }
    }

    /// A decoded opaque cursor: its parts, split on '|', checked to have `parts` of them and the tag.
    pub fn cursor(&self, tag: &str, parts: usize) -> Result<Option<Vec<String>>, ApiError> {
        let Some(raw) = self.str("cursor") else { return Ok(None) };
        let bad = || ApiError::invalid("cursor", "not a cursor returned by this endpoint");
        let text = URL_SAFE_NO_PAD.decode(raw).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(bad)?;
        let mut fields: Vec<String> = text.split('|').map(str::to_string).collect();
        if fields.len() != parts + 1 || fields[0] != tag {
            return Err(bad());
        }
        fields.remove(0);
        Ok(Some(fields))
    }
}

/// Encodes a cursor for [`Params::cursor`].
pub fn cursor(tag: &str, parts: &[String]) -> String {
    let mut text = tag.to_string();
    for p in parts {
        text.push('|');
        text.push_str(p);
    }
    URL_SAFE_NO_PAD.encode(text)
}

//! The tenk API as the load generator calls it: one method per route, each
//! returning how the request ended (and the parsed body where the caller
//! needs it). Every body is read to the end, so the measured time covers the
//! whole response and the connection goes back to the pool.

use std::time::Duration;

use reqwest::{Client, RequestBuilder};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::stats::Status;

const USER_AGENT: &str = concat!("tenk-loadtest/", env!("CARGO_PKG_VERSION"));

/// What login and refresh hand back.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub session: SessionRef,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SessionRef {
    pub id: String,
}

/// The part of a created post the generator keeps.
#[derive(Debug, Clone, Deserialize)]
pub struct PostRef {
    pub id: String,
}

/// A client for one tenk (or peer) base URL, sharing one connection pool.
#[derive(Debug, Clone)]
pub struct Api {
    http: Client,
    base: String,
}

/// Turns a transport failure into a status.
fn failure(error: &reqwest::Error) -> Status {
    if error.is_timeout() {
        Status::Timeout
    } else {
        Status::Connection
    }
}

impl Api {
    /// A client for `base` (such as `http://127.0.0.1:8080`) whose requests
    /// give up after `timeout`.
    ///
    /// # Errors
    /// reqwest could not build its client.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = Client::builder()
            .user_agent(USER_AGENT)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .tcp_nodelay(true)
            // Only loopback is ever a target: never route through a proxy.
            .no_proxy()
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(format!("{}{path}", self.base))
    }

    /// Sends `request` and reads the body through; the status only.
    async fn status(request: RequestBuilder) -> Status {
        match request.send().await {
            Ok(response) => {
                let code = response.status().as_u16();
                match response.bytes().await {
                    Ok(_) => Status::Http(code),
                    Err(error) => failure(&error),
                }
            }
            Err(error) => failure(&error),
        }
    }

    /// Sends `request`; on a 2xx parses the body as `T`.
    async fn json<T: DeserializeOwned>(request: RequestBuilder) -> (Status, Option<T>) {
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return (failure(&error), None),
        };
        let code = response.status().as_u16();
        if !response.status().is_success() {
            let status = match response.bytes().await {
                Ok(_) => Status::Http(code),
                Err(error) => failure(&error),
            };
            return (status, None);
        }
        match response.json::<T>().await {
            Ok(body) => (Status::Http(code), Some(body)),
            Err(error) if error.is_decode() => (Status::BadBody, None),
            Err(error) => (failure(&error), None),
        }
    }

    /// `POST /api/auth/register`: 201 when created, 409 when the email is taken.
    pub async fn register(&self, email: &str, password: &str, name: &str) -> Status {
        let body = json!({ "email": email, "password": password, "name": name });
        Self::status(self.post("/api/auth/register").json(&body)).await
    }

    /// `POST /api/auth/login`
    pub async fn login(&self, email: &str, password: &str) -> (Status, Option<Tokens>) {
        let body = json!({ "email": email, "password": password });
        Self::json(self.post("/api/auth/login").json(&body)).await
    }

    /// `POST /api/auth/refresh`
    pub async fn refresh(&self, refresh_token: &str) -> (Status, Option<Tokens>) {
        let body = json!({ "refresh_token": refresh_token });
        Self::json(self.post("/api/auth/refresh").json(&body)).await
    }

    /// `GET /api/users/me`
    pub async fn profile(&self, token: &str) -> Status {
        Self::status(self.get("/api/users/me").bearer_auth(token)).await
    }

    /// `GET /api/auth/sessions`
    pub async fn sessions(&self, token: &str) -> Status {
        Self::status(self.get("/api/auth/sessions").bearer_auth(token)).await
    }

    /// `GET /api/posts` (the first page)
    pub async fn list_posts(&self, token: &str) -> Status {
        Self::status(self.get("/api/posts").bearer_auth(token)).await
    }

    /// `GET /api/posts/{id}`
    pub async fn read_post(&self, token: &str, id: &str) -> Status {
        Self::status(self.get(&format!("/api/posts/{id}")).bearer_auth(token)).await
    }

    /// `POST /api/posts`
    pub async fn create_post(
        &self,
        token: &str,
        title: &str,
        body: &str,
    ) -> (Status, Option<PostRef>) {
        let request = json!({ "title": title, "body": body });
        Self::json(self.post("/api/posts").bearer_auth(token).json(&request)).await
    }

    /// `PATCH /api/posts/{id}`: a new title.
    pub async fn update_post(&self, token: &str, id: &str, title: &str) -> Status {
        let request = json!({ "title": title });
        let url = format!("{}/api/posts/{id}", self.base);
        Self::status(self.http.patch(url).bearer_auth(token).json(&request)).await
    }

    /// `GET /api/health`
    pub async fn health(&self) -> Status {
        Self::status(self.get("/api/health")).await
    }

    /// `GET` any URL with an optional bearer token; the body as text on a 2xx.
    ///
    /// # Errors
    /// The request failed or the status was not 2xx (the status is in the error).
    pub async fn fetch_text(&self, url: &str, token: Option<&str>) -> Result<String, String> {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        response.text().await.map_err(|e| e.to_string())
    }
}

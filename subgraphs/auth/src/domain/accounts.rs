//! Account flows: sign-up, login with throttling, refresh rotation with reuse detection,
//! logout, and password reset. Every state change commits together with its event.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tessera_kit::cache::Counters;
use tessera_kit::db::{Db, Tx};
use tessera_kit::error::{ApiResult, ErrorCode};
use tessera_kit::events::{Envelope, Outbox};
use tessera_kit::mail::{Mail, Notifier};
use tessera_kit::{ApiError, db, opaque};
use uuid::Uuid;

use super::event_types;
use super::keys::KeyRing;
use super::password;
use super::session::{self, RefreshOutcome};
use crate::Settings;
use crate::store;

/// A signed-in session handed to the client.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub user_id: Uuid,
}

/// The account flows and what they need.
pub struct Accounts {
    pub pool: Db,
    pub keys: Arc<KeyRing>,
    pub outbox: Outbox,
    pub counters: Arc<dyn Counters>,
    pub notifier: Arc<dyn Notifier>,
    pub settings: Settings,
    pub issuer: String,
    pub audience: String,
}

fn event(kind: &str, subject: Uuid, data: serde_json::Value) -> Envelope {
    Envelope::new(
        crate::NAME,
        kind,
        subject.to_string(),
        Some(subject.to_string()),
        data,
    )
}

impl Accounts {
    /// Creates credentials and a first session. Identity projects the user from the
    /// `auth.signed_up` event written in the same transaction.
    pub async fn sign_up(
        &self,
        email: &str,
        password: String,
        display_name: &str,
    ) -> ApiResult<Issued> {
        let email = opaque::normalize_email(email)
            .ok_or_else(|| ApiError::bad_input("email is not a valid address"))?;
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 100 {
            return Err(ApiError::bad_input(
                "displayName must be 1 to 100 characters",
            ));
        }
        password::check_policy(&password)?;
        let hash = password::hash(password).await?;
        let user_id = Uuid::now_v7();
        let mut tx = self.pool.begin().await?;
        if let Err(err) = store::insert_credential(&mut tx, user_id, &email, &hash).await {
            return Err(match db::violated_constraint(&err) {
                Some("credentials_email_key") => ApiError::client(
                    ErrorCode::EmailTaken,
                    "an account with this email already exists",
                ),
                _ => err.into(),
            });
        }
        let signed_up = event(
            event_types::SIGNED_UP,
            user_id,
            serde_json::json!({ "userId": user_id, "email": email, "displayName": display_name }),
        );
        self.outbox.enqueue(&mut tx, &signed_up).await?;
        let issued = self.open_session(&mut tx, user_id, &email, None).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(issued)
    }

    /// Checks a password and opens a session. Failures are counted per account and per client
    /// address; past the configured limits, attempts are refused before the password is checked.
    pub async fn login(
        &self,
        email: &str,
        password: String,
        client: Option<IpAddr>,
    ) -> ApiResult<Issued> {
        let email = opaque::normalize_email(email).ok_or_else(invalid_credentials)?;
        if password.len() > password::MAX_BYTES {
            return Err(invalid_credentials());
        }
        let throttle = &self.settings.throttle;
        let account_key = format!("login:account:{email}");
        let address_key = client.map(|ip| format!("login:address:{ip}"));
        self.refuse_if_throttled(&account_key, throttle.max_failures_per_account)
            .await?;
        if let Some(key) = &address_key {
            self.refuse_if_throttled(key, throttle.max_failures_per_address)
                .await?;
        }

        let credential = store::credential_by_email(&self.pool, &email).await?;
        let ok = password::verify(
            password,
            credential.as_ref().map(|c| c.password_hash.clone()),
        )
        .await?;
        let credential = match (ok, credential) {
            (true, Some(credential)) => credential,
            (_, credential) => {
                let window = Duration::from_secs(throttle.window_secs);
                self.count_failure(&account_key, window).await;
                if let Some(key) = &address_key {
                    self.count_failure(key, window).await;
                }
                if let Some(c) = credential {
                    let mut tx = self.pool.begin().await?;
                    let failed = event(
                        event_types::LOGIN_FAILED,
                        c.user_id,
                        serde_json::json!({ "userId": c.user_id, "reason": "wrong_password" }),
                    );
                    self.outbox.enqueue(&mut tx, &failed).await?;
                    tx.commit().await?;
                    self.outbox.wake();
                }
                return Err(invalid_credentials());
            }
        };
        if let Err(err) = self.counters.clear(&account_key).await {
            tracing::warn!(
                error = format!("{err:#}"),
                "cannot reset the login failure counter"
            );
        }
        let mut tx = self.pool.begin().await?;
        let issued = self
            .open_session(&mut tx, credential.user_id, &credential.email, None)
            .await?;
        let succeeded = event(
            event_types::LOGIN_SUCCEEDED,
            credential.user_id,
            serde_json::json!({ "userId": credential.user_id }),
        );
        self.outbox.enqueue(&mut tx, &succeeded).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(issued)
    }

    /// Rotates a refresh token. A token presented twice revokes its whole family.
    pub async fn refresh(&self, token: &str) -> ApiResult<Issued> {
        let hash = opaque::hash(token.trim());
        let mut tx = self.pool.begin().await?;
        match store::spend_refresh_token(&mut tx, &hash).await? {
            RefreshOutcome::Invalid => Err(ApiError::client(
                ErrorCode::InvalidToken,
                "the refresh token is invalid or expired",
            )),
            RefreshOutcome::Reused { family_id, user_id } => {
                store::revoke_family(&mut tx, family_id, "reuse_detected").await?;
                let revoked = event(
                    event_types::TOKENS_REVOKED,
                    user_id,
                    serde_json::json!({ "userId": user_id, "familyId": family_id, "reason": "reuse_detected" }),
                );
                self.outbox.enqueue(&mut tx, &revoked).await?;
                tx.commit().await?;
                self.outbox.wake();
                tracing::warn!(%user_id, %family_id, "refresh token reuse detected; session revoked");
                Err(ApiError::client(
                    ErrorCode::TokenReused,
                    "the refresh token was already used; the session has been revoked",
                ))
            }
            RefreshOutcome::Rotate { family_id, user_id } => {
                let email = store::email_of(&mut tx, user_id).await?.unwrap_or_default();
                let issued = self
                    .open_session(&mut tx, user_id, &email, Some(family_id))
                    .await?;
                tx.commit().await?;
                Ok(issued)
            }
        }
    }

    /// Ends the session a refresh token belongs to; `false` when it was not live.
    pub async fn logout(&self, token: &str) -> ApiResult<bool> {
        let hash = opaque::hash(token.trim());
        let mut tx = self.pool.begin().await?;
        let Some((family_id, user_id)) = store::live_family_of(&mut tx, &hash).await? else {
            return Ok(false);
        };
        let revoked = store::revoke_family(&mut tx, family_id, "logout").await?;
        if revoked {
            let e = event(
                event_types::TOKENS_REVOKED,
                user_id,
                serde_json::json!({ "userId": user_id, "familyId": family_id, "reason": "logout" }),
            );
            self.outbox.enqueue(&mut tx, &e).await?;
        }
        tx.commit().await?;
        self.outbox.wake();
        Ok(revoked)
    }

    /// Ends every session of `user_id`; returns how many were live.
    pub async fn logout_all(&self, user_id: Uuid) -> ApiResult<u64> {
        let mut tx = self.pool.begin().await?;
        let n = store::revoke_all(&mut tx, user_id, "logout_all").await?;
        let e = event(
            event_types::TOKENS_REVOKED,
            user_id,
            serde_json::json!({ "userId": user_id, "reason": "logout_all", "sessions": n }),
        );
        self.outbox.enqueue(&mut tx, &e).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(n)
    }

    /// Mails a reset link when the address has an account. Answers the same either way, so the
    /// answer does not tell whether an account exists.
    pub async fn request_password_reset(&self, email: &str) -> ApiResult<()> {
        let Some(email) = opaque::normalize_email(email) else {
            return Err(ApiError::bad_input("email is not a valid address"));
        };
        let window = self
            .counters
            .hit(&format!("reset:{email}"), Duration::from_secs(3600))
            .await?;
        if window.count > self.settings.reset_requests_per_hour {
            return Err(ApiError::rate_limited(window.resets_in.as_secs().max(1)));
        }
        let Some(credential) = store::credential_by_email(&self.pool, &email).await? else {
            return Ok(());
        };
        let (token, hash) = opaque::generate();
        let expires = Utc::now() + chrono::Duration::minutes(self.settings.reset_ttl_minutes);
        let mut tx = self.pool.begin().await?;
        store::insert_reset(&mut tx, &hash, credential.user_id, expires).await?;
        tx.commit().await?;
        let link = format!(
            "{}/reset-password?token={token}",
            self.settings.mail.link_base_url
        );
        self.notifier
            .send(Mail {
                to: credential.email,
                subject: "Reset your password".to_owned(),
                body: format!(
                    "Someone asked to reset the password of your Tessera account.\n\n{link}\n\nToken: {token}\n\nThe link expires in {} minutes. If it was not you, ignore this mail.\n",
                    self.settings.reset_ttl_minutes
                ),
            })
            .await
            .map_err(|e| {
                tracing::warn!(error = format!("{e:#}"), "reset mail not sent");
                ApiError::client(ErrorCode::ServiceUnavailable, "the reset mail could not be sent; retry later")
            })
    }

    /// Sets a new password with a reset token and ends every session of the account.
    pub async fn reset_password(&self, token: &str, new_password: String) -> ApiResult<()> {
        password::check_policy(&new_password)?;
        let hash = password::hash(new_password).await?;
        let mut tx = self.pool.begin().await?;
        let user_id = store::spend_reset(&mut tx, &opaque::hash(token.trim()))
            .await?
            .ok_or_else(|| {
                ApiError::client(
                    ErrorCode::InvalidToken,
                    "the reset link is invalid, used or expired",
                )
            })?;
        store::set_password(&mut tx, user_id, &hash).await?;
        let sessions = store::revoke_all(&mut tx, user_id, "password_reset").await?;
        let reset = event(
            event_types::PASSWORD_RESET,
            user_id,
            serde_json::json!({ "userId": user_id }),
        );
        let revoked = event(
            event_types::TOKENS_REVOKED,
            user_id,
            serde_json::json!({ "userId": user_id, "reason": "password_reset", "sessions": sessions }),
        );
        self.outbox.enqueue(&mut tx, &reset).await?;
        self.outbox.enqueue(&mut tx, &revoked).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }

    /// Issues an access token and a refresh token in `family` (a new family when `None`).
    async fn open_session(
        &self,
        tx: &mut Tx,
        user_id: Uuid,
        email: &str,
        family: Option<Uuid>,
    ) -> ApiResult<Issued> {
        let mut scopes = store::granted_scopes(tx, user_id).await?;
        if self
            .settings
            .admin_emails
            .iter()
            .any(|a| a.eq_ignore_ascii_case(email))
        {
            scopes.extend(self.settings.admin_scopes.iter().cloned());
            scopes.sort();
            scopes.dedup();
        }
        let family_id = match family {
            Some(id) => id,
            None => store::insert_family(tx, user_id).await?,
        };
        let (refresh_token, refresh_hash) = opaque::generate();
        let expires = Utc::now() + chrono::Duration::days(self.settings.refresh_token_ttl_days);
        store::insert_refresh_token(tx, &refresh_hash, family_id, user_id, expires).await?;
        let ttl = self.settings.access_token_ttl_secs;
        let claims = session::access_claims(user_id, &scopes, &self.issuer, &self.audience, ttl);
        let access_token = self.keys.sign(&claims).await?;
        Ok(Issued {
            access_token,
            refresh_token,
            expires_in: ttl,
            user_id,
        })
    }

    async fn refuse_if_throttled(&self, key: &str, max: u64) -> ApiResult<()> {
        match self.counters.peek(key).await {
            Ok(window) if window.count >= max => {
                Err(ApiError::rate_limited(window.resets_in.as_secs().max(1)))
            }
            Ok(_) => Ok(()),
            // Throttling is a defence in depth; an outage of its store must not lock everyone out.
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "login throttle unavailable; allowing the attempt"
                );
                Ok(())
            }
        }
    }

    async fn count_failure(&self, key: &str, window: Duration) {
        if let Err(err) = self.counters.hit(key, window).await {
            tracing::warn!(error = format!("{err:#}"), "cannot count a failed login");
        }
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::client(
        ErrorCode::InvalidCredentials,
        "the email or password is wrong",
    )
}

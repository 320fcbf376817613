//! The signing key ring. Access tokens are signed with Ed25519 (EdDSA). The newest live key
//! signs; a rotated-out key stays in the JWKS until every token it signed has expired, so
//! rotation never invalidates a live token. Keys live in the database so every instance signs
//! with, and publishes, the same set; each instance reloads them periodically.

use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tessera_kit::db::Db;
use tokio::sync::RwLock;

/// One signing key as stored.
#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    private_pem: String,
    public_jwk: sqlx::types::Json<serde_json::Value>,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

struct Current {
    kid: String,
    key: EncodingKey,
    created_at: DateTime<Utc>,
}

struct Loaded {
    current: Current,
    published: Vec<serde_json::Value>,
}

/// The keys this service signs with and publishes.
pub struct KeyRing {
    pool: Db,
    /// How long a retired key stays published: the access-token lifetime plus clock leeway.
    publish_after_retire: Duration,
    loaded: RwLock<Loaded>,
}

/// Serialized as `{"keys": [...]}`, the JWKS document.
#[derive(Serialize)]
pub struct Jwks {
    pub keys: Vec<serde_json::Value>,
}

impl KeyRing {
    /// Loads the key ring, creating the first key if there is none.
    pub async fn load(pool: Db, publish_after_retire: Duration) -> anyhow::Result<Self> {
        let loaded = match read(&pool, publish_after_retire).await? {
            Some(loaded) => loaded,
            None => {
                insert_new_key(&pool, false).await?;
                read(&pool, publish_after_retire)
                    .await?
                    .context("no signing key after creating one")?
            }
        };
        Ok(Self {
            pool,
            publish_after_retire,
            loaded: RwLock::new(loaded),
        })
    }

    /// Re-reads the keys (picks up rotations made by other instances).
    pub async fn reload(&self) -> anyhow::Result<()> {
        if let Some(loaded) = read(&self.pool, self.publish_after_retire).await? {
            *self.loaded.write().await = loaded;
        }
        Ok(())
    }

    /// Makes a new key current and retires the previous ones.
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let kid = insert_new_key(&self.pool, true).await?;
        self.reload().await?;
        tracing::info!(%kid, "signing key rotated");
        Ok(kid)
    }

    /// Rotates when the current key is older than `every`.
    pub async fn rotate_if_due(&self, every: Duration) -> anyhow::Result<()> {
        let age = Utc::now() - self.loaded.read().await.current.created_at;
        if age.to_std().unwrap_or_default() >= every {
            self.rotate().await?;
        }
        Ok(())
    }

    /// Signs `claims` with the current key.
    pub async fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let loaded = self.loaded.read().await;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(loaded.current.kid.clone());
        jsonwebtoken::encode(&header, claims, &loaded.current.key).context("signing failed")
    }

    /// The current key id.
    pub async fn current_kid(&self) -> String {
        self.loaded.read().await.current.kid.clone()
    }

    /// The public keys to publish.
    pub async fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.loaded.read().await.published.clone(),
        }
    }
}

async fn read(pool: &Db, publish_after_retire: Duration) -> anyhow::Result<Option<Loaded>> {
    let rows: Vec<KeyRow> = sqlx::query_as(
        "SELECT kid, private_pem, public_jwk, created_at, retired_at FROM signing_keys \
         WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1) \
         ORDER BY created_at DESC",
    )
    .bind(publish_after_retire.as_secs_f64())
    .fetch_all(pool)
    .await?;
    let Some(current) = rows.iter().find(|r| r.retired_at.is_none()) else {
        return Ok(None);
    };
    let current = Current {
        kid: current.kid.clone(),
        key: EncodingKey::from_ed_pem(current.private_pem.as_bytes())
            .context("stored signing key is not a PKCS#8 Ed25519 PEM")?,
        created_at: current.created_at,
    };
    let published = rows.into_iter().map(|r| r.public_jwk.0).collect();
    Ok(Some(Loaded { current, published }))
}

/// Generates and stores a key. With `retire_others`, older live keys are retired in the same
/// transaction. An advisory lock keeps two instances from creating keys at once.
async fn insert_new_key(pool: &Db, retire_others: bool) -> anyhow::Result<String> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tessera.auth.signing_keys'))")
        .execute(&mut tx)
        .await?;
    if !retire_others {
        let live: i64 =
            sqlx::query_scalar("SELECT count(*) FROM signing_keys WHERE retired_at IS NULL")
                .fetch_one(&mut tx)
                .await?;
        if live > 0 {
            tx.commit().await?;
            return Ok(String::new());
        }
    }
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let public = signing.verifying_key().to_bytes();
    let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12]);
    let pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .context("cannot encode the new key")?;
    let jwk = serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(public),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    });
    if retire_others {
        sqlx::query("UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL")
            .execute(&mut tx)
            .await?;
    }
    sqlx::query("INSERT INTO signing_keys (kid, algorithm, private_pem, public_jwk) VALUES ($1, 'EdDSA', $2, $3)")
        .bind(&kid)
        .bind(pem.as_str())
        .bind(sqlx::types::Json(&jwk))
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(kid)
}

//! Verification keys: JWKS documents read into keys that each know which algorithms they may
//! verify, and the merged set a token's key is chosen from.

use std::str::FromStr as _;
use std::sync::Arc;

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

/// The smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// What a key is, which decides the algorithms it may verify: the token's `alg` never picks
/// the verification method on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
    Hmac,
}

impl KeyKind {
    fn allows(self, alg: Algorithm) -> bool {
        match self {
            KeyKind::Rsa => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            KeyKind::EcP256 => alg == Algorithm::ES256,
            KeyKind::EcP384 => alg == Algorithm::ES384,
            KeyKind::Ed25519 => alg == Algorithm::EdDSA,
            KeyKind::Hmac => matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512),
        }
    }

    /// An algorithm the key verifies, to check the key material once when it is loaded.
    fn probe_algorithm(self) -> Algorithm {
        match self {
            KeyKind::Rsa => Algorithm::RS256,
            KeyKind::EcP256 => Algorithm::ES256,
            KeyKind::EcP384 => Algorithm::ES384,
            KeyKind::Ed25519 => Algorithm::EdDSA,
            KeyKind::Hmac => Algorithm::HS256,
        }
    }
}

/// One verification key.
pub(super) struct Key {
    kid: Option<String>,
    kind: KeyKind,
    /// The JWK's own `alg`: when set, tokens must use exactly this algorithm.
    alg: Option<Algorithm>,
    decoding: DecodingKey,
}

impl Key {
    fn accepts(&self, alg: Algorithm) -> bool {
        self.kind.allows(alg) && self.alg.is_none_or(|own| own == alg)
    }

    /// Whether `signature` (base64url) signs `message` under this key with `alg`.
    pub(super) fn verifies(&self, message: &[u8], signature: &str, alg: Algorithm) -> bool {
        jsonwebtoken::crypto::verify(signature, message, &self.decoding, alg).unwrap_or(false)
    }
}

/// The keys of one JWKS document, with the document's key list to tell whether a new fetch
/// changed anything.
#[derive(Default)]
pub(super) struct SourceKeys {
    raw: Vec<Value>,
    keys: Vec<Arc<Key>>,
}

impl SourceKeys {
    /// Reads a JWKS document. Keys the router cannot use (encryption keys, unknown types or
    /// curves, HMAC keys when no `HS*` algorithm is accepted, weak RSA keys) are skipped with a
    /// warning; a document that is not a JWKS is an error.
    pub(super) fn parse(
        document: &[u8],
        origin: &str,
        allowed: &[Algorithm],
    ) -> anyhow::Result<Self> {
        #[derive(Deserialize)]
        struct Jwks {
            keys: Vec<Value>,
        }
        let jwks: Jwks = serde_json::from_slice(document).context("not a JWKS document")?;
        let hmac_allowed = allowed.iter().any(|alg| KeyKind::Hmac.allows(*alg));
        let keys = jwks
            .keys
            .iter()
            .enumerate()
            .filter_map(|(index, jwk)| match read_jwk(jwk, hmac_allowed) {
                Ok(key) => key.map(Arc::new),
                Err(err) => {
                    let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or("");
                    tracing::warn!(
                        source = origin,
                        index,
                        kid,
                        error = format!("{err:#}"),
                        "JWKS key skipped"
                    );
                    None
                }
            })
            .collect();
        Ok(Self {
            raw: jwks.keys,
            keys,
        })
    }

    /// Whether `other` holds the same key list.
    pub(super) fn same_as(&self, other: &SourceKeys) -> bool {
        self.raw == other.raw
    }

    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    k: Option<String>,
}

/// One JWK as a key; `Ok(None)` for an HMAC key while HMAC is not accepted (a shared secret
/// is not worth a warning on every load when the operator chose not to use it).
fn read_jwk(jwk: &Value, hmac_allowed: bool) -> anyhow::Result<Option<Key>> {
    let jwk = RawJwk::deserialize(jwk).context("not a JWK")?;
    if let Some(usage) = jwk.usage.as_deref() {
        ensure!(usage == "sig", "the key's use is {usage:?}, not \"sig\"");
    }
    if let Some(ops) = &jwk.key_ops {
        ensure!(
            ops.iter().any(|op| op == "verify"),
            "key_ops lacks \"verify\""
        );
    }
    let alg = jwk
        .alg
        .as_deref()
        .map(|alg| Algorithm::from_str(alg).with_context(|| format!("unsupported alg {alg:?}")))
        .transpose()?;
    let field = |value: &Option<String>, name: &str| {
        value
            .clone()
            .with_context(|| format!("{} key without {name:?}", jwk.kty))
    };
    let (kind, decoding) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => {
            let n = URL_SAFE_NO_PAD
                .decode(field(&jwk.n, "n")?)
                .context("n is not base64url")?;
            let e = URL_SAFE_NO_PAD
                .decode(field(&jwk.e, "e")?)
                .context("e is not base64url")?;
            let modulus_bytes = n.iter().skip_while(|byte| **byte == 0).count();
            ensure!(
                modulus_bytes >= MIN_RSA_MODULUS_BYTES,
                "RSA modulus shorter than 2048 bits"
            );
            ensure!(!e.is_empty() && e.len() <= 8, "RSA exponent out of range");
            (KeyKind::Rsa, DecodingKey::from_rsa_raw_components(&n, &e))
        }
        ("EC", Some(curve @ ("P-256" | "P-384"))) => {
            let kind = if curve == "P-256" {
                KeyKind::EcP256
            } else {
                KeyKind::EcP384
            };
            let key = DecodingKey::from_ec_components(&field(&jwk.x, "x")?, &field(&jwk.y, "y")?)
                .context("x or y is not base64url")?;
            (kind, key)
        }
        ("OKP", Some("Ed25519")) => {
            let x = field(&jwk.x, "x")?;
            let bytes = URL_SAFE_NO_PAD.decode(&x).context("x is not base64url")?;
            // The verifier reads exactly 32 bytes; anything else is not an Ed25519 key.
            ensure!(bytes.len() == 32, "Ed25519 key of {} bytes", bytes.len());
            (KeyKind::Ed25519, DecodingKey::from_ed_components(&x)?)
        }
        ("oct", _) if !hmac_allowed => return Ok(None),
        ("oct", _) => {
            let secret = URL_SAFE_NO_PAD
                .decode(field(&jwk.k, "k")?)
                .context("k is not base64url")?;
            ensure!(!secret.is_empty(), "empty HMAC secret");
            (KeyKind::Hmac, DecodingKey::from_secret(&secret))
        }
        (kty, crv) => bail!("unsupported key type {kty:?} (curve {crv:?})"),
    };
    if let Some(alg) = alg {
        ensure!(kind.allows(alg), "alg {alg:?} does not fit a {kind:?} key");
    }
    // Building a verifier checks the key material (a point on the curve) once, here, rather
    // than failing every token later.
    jsonwebtoken::crypto::verify("", b"", &decoding, kind.probe_algorithm())
        .context("invalid key material")?;
    Ok(Some(Key {
        kid: jwk.kid,
        kind,
        alg,
        decoding,
    }))
}

/// The merged keys of all sources. `generation` changes whenever the keys do, so verified
/// tokens remembered under older keys are not trusted any more.
#[derive(Default)]
pub(super) struct KeySet {
    pub(super) generation: u64,
    keys: Vec<Arc<Key>>,
}

/// The keys a token may be verified with.
pub(super) enum Selection {
    /// Keys that fit the token's `kid` and algorithm.
    Found(Vec<Arc<Key>>),
    /// The `kid` is known, but its key does not verify the token's algorithm.
    Incompatible,
    /// No key fits: the keys may have rotated.
    Unknown,
}

impl KeySet {
    pub(super) fn merge<'a>(
        generation: u64,
        sources: impl IntoIterator<Item = &'a SourceKeys>,
    ) -> Self {
        let keys = sources
            .into_iter()
            .flat_map(|source| source.keys.iter().cloned())
            .collect();
        Self { generation, keys }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The keys for a token. A token without `kid` is tried against every key that fits its
    /// algorithm: issuers with a single key often leave `kid` out, and a set holds few keys.
    pub(super) fn select(&self, kid: Option<&str>, alg: Algorithm) -> Selection {
        let mut named = self
            .keys
            .iter()
            .filter(|key| kid.is_none() || key.kid.as_deref() == kid)
            .peekable();
        if named.peek().is_none() {
            return Selection::Unknown;
        }
        let fitting: Vec<_> = named.filter(|key| key.accepts(alg)).cloned().collect();
        match (fitting.is_empty(), kid) {
            (false, _) => Selection::Found(fitting),
            (true, Some(_)) => Selection::Incompatible,
            (true, None) => Selection::Unknown,
        }
    }
}

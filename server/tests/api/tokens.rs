//! Section C of SECURITY.md, items 20-28: forged and malformed access tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tenk_server::config::DEV_JWT_SECRET;

use crate::helpers::{LoggedIn, TestApp, TestDb};

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// The claims of a genuine token, to tamper with.
fn claims_of(user: &LoggedIn) -> Value {
    let payload = user.token().split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(header: &Header, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
}

fn with(claims: &Value, key: &str, value: Value) -> Value {
    let mut claims = claims.clone();
    if value.is_null() {
        claims.as_object_mut().unwrap().remove(key);
    } else {
        claims[key] = value;
    }
    claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_malformed_tokens_are_all_refused_with_401() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("jwt").await;
    assert_eq!(app.me_status(user.token()).await, 200);
    let claims = claims_of(&user);
    let now = claims["iat"].as_u64().unwrap();
    let key = DEV_JWT_SECRET.as_bytes();
    let hs256 = Header::new(Algorithm::HS256);
    let [header, payload, signature]: [&str; 3] = user
        .token()
        .split('.')
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();

    let mut forged: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg":"none","typ":"JWT"})), payload),
        ),
        (
            "alg none, no dot",
            format!("{}.{}", b64(&json!({"alg":"none","typ":"JWT"})), payload),
        ),
        (
            "RS256 header",
            format!(
                "{}.{}.{}",
                b64(&json!({"alg":"RS256","typ":"JWT"})),
                payload,
                signature
            ),
        ),
        (
            "HS512 with our key",
            sign(&Header::new(Algorithm::HS512), &claims, key),
        ),
        ("stripped signature", format!("{header}.{payload}.")),
        (
            "wrong key",
            sign(&hs256, &claims, b"another-secret-0123456789-0123456789"),
        ),
        (
            "expired beyond leeway",
            sign(&hs256, &with(&claims, "exp", json!(now - 10)), key),
        ),
        (
            // Finding 4: a valid signature, nbf = now, iat an hour ahead.
            "iat in the future",
            sign(&hs256, &with(&claims, "iat", json!(now + 3600)), key),
        ),
        (
            "iat just past the leeway",
            sign(&hs256, &with(&claims, "iat", json!(now + 60)), key),
        ),
        (
            "nbf in the future",
            sign(&hs256, &with(&claims, "nbf", json!(now + 60)), key),
        ),
        (
            "exp as a string",
            sign(&hs256, &with(&claims, "exp", json!("99999999999")), key),
        ),
        (
            "nbf as a string",
            sign(&hs256, &with(&claims, "nbf", json!(now.to_string())), key),
        ),
        (
            "missing exp",
            sign(&hs256, &with(&claims, "exp", Value::Null), key),
        ),
        (
            "missing nbf",
            sign(&hs256, &with(&claims, "nbf", Value::Null), key),
        ),
        (
            "wrong aud",
            sign(&hs256, &with(&claims, "aud", json!("someone-else")), key),
        ),
        (
            "missing aud",
            sign(&hs256, &with(&claims, "aud", Value::Null), key),
        ),
        (
            "array aud without ours",
            sign(&hs256, &with(&claims, "aud", json!(["x", "y"])), key),
        ),
        (
            "wrong iss",
            sign(&hs256, &with(&claims, "iss", json!("evil")), key),
        ),
        (
            "refresh type",
            sign(&hs256, &with(&claims, "typ", json!("refresh")), key),
        ),
        (
            "refresh token as access token",
            user.tokens.refresh_token.clone(),
        ),
        ("garbage", "not-a-token".into()),
    ];
    // One flipped bit in the payload; padding added to the signature.
    let mut flipped = URL_SAFE_NO_PAD.decode(payload).unwrap();
    flipped[10] ^= 1;
    forged.push((
        "flipped payload bit",
        format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(flipped)),
    ));
    forged.push((
        "padded signature",
        format!("{header}.{payload}.{signature}=="),
    ));
    // Header tricks that would make a careless server pick an attacker's key.
    for header_fields in [
        json!({"alg":"HS256","kid":"../../dev/null"}),
        json!({"alg":"HS256","kid":"' OR 1=1--"}),
        json!({"alg":"HS256","jku":"http://127.0.0.1:1/jwks.json"}),
        json!({"alg":"HS256","jwk":{"kty":"oct","k":""}}),
    ] {
        let attacker_signed = {
            let header_part = b64(&header_fields);
            let signing_input = format!("{header_part}.{payload}");
            use hmac::Mac;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"").unwrap();
            mac.update(signing_input.as_bytes());
            format!(
                "{signing_input}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            )
        };
        forged.push(("header key trick", attacker_signed));
    }

    for (what, token) in &forged {
        assert_eq!(app.me_status(token).await, 401, "{what}");
    }
    // Within the documented 5 s leeway a just-expired token still passes.
    let within_leeway = sign(&hs256, &with(&claims, "exp", json!(now - 2)), key);
    assert_eq!(app.me_status(&within_leeway).await, 200);
}
